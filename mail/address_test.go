package mail

import "testing"

func TestParseAddress(t *testing.T) {
	good := map[string]string{
		"bob@example.com":             "bob@example.com",
		"Bob <bob@example.com>":       "bob@example.com",
		"\"B, ob\" <bob@example.com>": "bob@example.com",
		"jörg@bücher.example":         "jörg@bücher.example",
	}
	for in, want := range good {
		a, err := ParseAddress(in)
		if err != nil || a.Address != want {
			t.Errorf("ParseAddress(%q) = %v, %v; want %s", in, a, err, want)
		}
	}
	for _, in := range []string{"", "bob", "bob@", "@example.com", "bob@example.com\r\nBcc: x@y.z", "bob@exa mple.com", "bob@nodot"} {
		if _, err := ParseAddress(in); err == nil {
			t.Errorf("ParseAddress(%q) accepted", in)
		}
	}
	a, _ := ParseAddress("x@bücher.example")
	if s, err := a.ASCIIDomain(); err != nil || s != "x@xn--bcher-kva.example" {
		t.Errorf("ASCIIDomain = %q, %v", s, err)
	}
	l, err := ParseAddressList("a@example.com, B <b@example.org>")
	if err != nil || len(l) != 2 {
		t.Fatalf("list = %v, %v", l, err)
	}
	if _, err := ParseAddressList("a@example.com, nope"); err == nil {
		t.Fatal("bad list accepted")
	}
}

func TestEnhanced(t *testing.T) {
	c, rest := ParseEnhanced("5.1.1 <x@y> User unknown")
	if c != "5.1.1" || rest != "<x@y> User unknown" {
		t.Fatalf("%q %q", c, rest)
	}
	if c, _ := ParseEnhanced("Ok queued"); c != "" {
		t.Fatal(c)
	}
}
