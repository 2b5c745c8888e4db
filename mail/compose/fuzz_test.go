package compose

import (
	"bytes"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"
)

// FuzzBuild throws arbitrary user text at Build: it must never panic, and
// whatever it returns without error must pass the wire rules, parse back
// with go-message, hold no Bcc, and carry the user's text unchanged.
func FuzzBuild(f *testing.F) {
	f.Add("Invoice 42", "Alice", "Hello\n", "report.pdf", []byte("%PDF"), uint8(0))
	f.Add("Grüße – № 42 😀", "Jörg Müller", "# Title\n\n**bold** <script>x</script>", "Rechnung März.pdf", []byte{0, 1, 2, 255}, uint8(1))
	f.Add("Hello\r\nBcc: evil@example.com", "Bob\r\n", "a\r.\rb\n.\n", "a.txt\r\nX: y", []byte("x"), uint8(2))
	f.Add("=?utf-8?q?fake?=", "Doe, \"John\" <x>", strings.Repeat("long line ", 300), strings.Repeat("ü", 200), bytes.Repeat([]byte{'a'}, 1000), uint8(1))
	f.Add("\x00\x7f\t", "\t", "\x00\r\r\n\n", "", []byte(nil), uint8(3))
	f.Fuzz(func(t *testing.T, subject, name, body, attName string, attData []byte, format uint8) {
		d := baseDraft()
		d.Subject = subject
		d.From.Name = name
		d.Bcc = append(d.Bcc, baseDraft().From) // Bcc present, must not be written
		d.Bcc[0].Address = "hidden@example.net"
		d.Text = body
		switch format % 4 {
		case 1:
			d.Format = FormatMarkdown
		case 2:
			d.Format, d.HTML = FormatHTML, "<p>"+body+"</p>"
		case 3:
			d.Format, d.HTML = FormatHTML, body
		}
		if attName != "" || attData != nil {
			d.Attachments = []Attachment{{Name: attName, Data: attData}}
		}
		opt := CopyOptions{Rand: fixedRand(1)}
		if format&4 != 0 {
			opt.TrackingID = "t-1"
			opt.HTMLTransform = pixelTransform
		}
		b, err := Build(d, opt)
		if err != nil {
			if b != nil {
				t.Fatal("bytes returned with an error")
			}
			return
		}
		if err := CheckWire(b); err != nil {
			t.Fatal(err)
		}
		wireLines(t, b)
		// A resend rewrites the HTML of a stored copy: unchanged HTML must
		// give the very same bytes.
		if same, err := RewriteHTML(b, func(h []byte) ([]byte, error) { return h, nil }); err != nil || !bytes.Equal(same, b) {
			t.Fatalf("RewriteHTML without a change: %v\n%q\n%q", err, b, same)
		}
		if bytes.Contains(b, []byte("hidden@example.net")) {
			t.Fatal("Bcc address written")
		}
		p := parse(t, b)
		for _, n := range p.names {
			if strings.EqualFold(n, "Bcc") {
				t.Fatal("Bcc header")
			}
		}
		h := gomail.Header{Header: p.header}
		if s, err := h.Subject(); err != nil || norm(s) != norm(subject) {
			t.Fatalf("subject %q came back as %q (%v)", subject, s, err)
		}
		if from, err := h.AddressList("From"); err != nil || len(from) != 1 || norm(from[0].Name) != norm(name) {
			t.Fatalf("From name %q came back as %v (%v)", name, from, err)
		}
		if d.Format != FormatHTML {
			if got := p.leaf("text/plain").body; !bytes.Equal(got, canonicalText([]byte(body))) {
				t.Fatalf("text/plain %q came back as %q", body, got)
			}
		}
		for _, l := range p.leaves {
			if l.disp == "attachment" {
				if l.dispParams["filename"] != attName || !bytes.Equal(l.body, attData) {
					t.Fatalf("attachment %q came back as %q", attName, l.dispParams["filename"])
				}
			}
		}
	})
}

// norm collapses white space runs: go-message's reader unfolds a folded
// header line into a single space, whatever the original run was.
func norm(s string) string { return strings.Join(strings.Fields(s), " ") }
