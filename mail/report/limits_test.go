package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestHostileInputs feeds the shapes that once cost more than linear time
// or could recurse: nested multiparts reusing one boundary, thousands of
// repeated and distinct recipient lines, an unterminated multipart. They
// must parse (bounded recipients, no panic).
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("large inputs")
	}
	build := func(head, unit string, size int) string {
		var b strings.Builder
		b.WriteString(head)
		for i := 0; b.Len() < size; i++ {
			b.WriteString(strings.ReplaceAll(unit, "#", strings.Repeat("x", i%97)))
		}
		return b.String()
	}
	const size = 1 << 20
	inputs := map[string]string{
		"nested-boundary": build("Content-Type: multipart/mixed; boundary=B\n\n",
			"--B\nContent-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: text/plain\n\n<a@b.example>: 550 5.1.1\n", size),
		"same-recipient":  build("From: MAILER-DAEMON@x.example\nSubject: failure notice\n\n", "<user@b.example>: 550 5.1.1 unknown\n", size),
		"many-recipients": build("From: MAILER-DAEMON@x.example\nSubject: failure notice\n\n", "<user#@b.example>: 550 5.1.1 unknown\n", size),
		"dsn-fields": build("Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\nContent-Type: message/delivery-status\n\n",
			"Final-Recipient: rfc822; u#@b.example\nAction: failed\nStatus: 5.1.1\n\n", size),
		"unterminated": "Content-Type: multipart/report; boundary=B\n\n--B\nContent-Type: message/delivery-status\n\nFinal-Recipient: rfc822; a@b.example\n",
	}
	for name, in := range inputs {
		rep, err := Parse(strings.NewReader(in))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(rep.Recipients) > maxRecipients {
			t.Errorf("%s: %d recipients", name, len(rep.Recipients))
		}
	}
}

// BenchmarkParsePostfixDSN measures parsing of a typical bounce.
func BenchmarkParsePostfixDSN(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "postfix-dsn", "lmtp-01-failed-unknown-user.eml"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(strings.NewReader(string(data))); err != nil {
			b.Fatal(err)
		}
	}
}
