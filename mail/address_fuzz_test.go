package mail

import (
	"strings"
	"testing"
)

// FuzzParseAddress: an accepted address never carries a line break or NUL
// (header injection) and has a domain with an A-label form.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"bob@example.com", "Bob <bob@example.com>", "jörg@bücher.example", "a@b\r\nBcc: x@y.z", `"x" <@>`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseAddress(s)
		if err != nil {
			return
		}
		if strings.ContainsAny(a.Address+a.Name, "\r\n\x00") {
			t.Fatalf("accepted %q with a control character", s)
		}
		if _, err := a.ASCIIDomain(); err != nil {
			t.Fatalf("accepted %q but its domain has no A-label: %v", s, err)
		}
	})
}
