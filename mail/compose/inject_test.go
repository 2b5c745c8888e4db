package compose

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"mailroom/mail"
)

// TestHeaderInjection: user text that would start a new header line (or
// truncate one) is refused with an error naming the field; nothing is
// built, so nothing reaches the wire.
func TestHeaderInjection(t *testing.T) {
	cases := []struct {
		name  string
		field string
		edit  func(d *Draft)
	}{
		{"subject CRLF Bcc", "subject", func(d *Draft) { d.Subject = "Hello\r\nBcc: evil@example.com" }},
		{"subject bare LF", "subject", func(d *Draft) { d.Subject = "Hello\nBcc: evil@example.com" }},
		{"subject bare CR", "subject", func(d *Draft) { d.Subject = "Hello\rBcc: evil@example.com" }},
		{"subject NUL", "subject", func(d *Draft) { d.Subject = "Hello\x00world" }},
		{"subject ESC", "subject", func(d *Draft) { d.Subject = "Hello\x1b[31m" }},
		{"subject DEL", "subject", func(d *Draft) { d.Subject = "Hello\x7f" }},
		{"subject invalid UTF-8", "subject", func(d *Draft) { d.Subject = "Hello \xff" }},
		{"from name CRLF", "from", func(d *Draft) { d.From.Name = "Alice\r\nBcc: evil@example.com" }},
		{"to name CRLF", "to", func(d *Draft) { d.To[0].Name = "Bob\r\nX-Evil: 1" }},
		{"cc name NUL", "cc", func(d *Draft) { d.Cc = []mail.Address{{Name: "Carol\x00", Address: "carol@example.org"}} }},
		{"bcc name LF", "bcc", func(d *Draft) { d.Bcc = []mail.Address{{Name: "x\ny", Address: "x@example.org"}} }},
		{"to address CRLF", "to", func(d *Draft) { d.To[0].Address = "bob@example.org\r\nBcc: evil@example.com" }},
		{"to address list smuggled", "to", func(d *Draft) { d.To[0].Address = "bob@example.org, evil@example.com" }},
		{"to name in address", "to", func(d *Draft) { d.To[0].Address = "Eve <evil@example.com>" }},
		{"extra header value CRLF", "headers", func(d *Draft) { d.Headers = []HeaderField{{"X-Note", "a\r\nBcc: evil@example.com"}} }},
		{"extra header name colon", "headers", func(d *Draft) { d.Headers = []HeaderField{{"X-Note: a\r\nBcc", "evil"}} }},
		{"extra header Bcc", "headers", func(d *Draft) { d.Headers = []HeaderField{{"bcc", "evil@example.com"}} }},
		{"extra header Content-Type", "headers", func(d *Draft) { d.Headers = []HeaderField{{"Content-Type", "text/html"}} }},
		{"in-reply-to CRLF", "in-reply-to", func(d *Draft) { d.InReplyTo = "<a@b>\r\nBcc: evil@example.com" }},
		{"references junk", "references", func(d *Draft) { d.References = []string{"<a@b> <c@d>"} }},
		{"attachment name CRLF", "attachments", func(d *Draft) {
			d.Attachments = []Attachment{{Name: "a.txt\r\nBcc: evil@example.com", Data: []byte("x")}}
		}},
		{"attachment type CRLF", "attachments", func(d *Draft) {
			d.Attachments = []Attachment{{Name: "a.txt", ContentType: "text/plain\r\nBcc: evil@example.com", Data: []byte("x")}}
		}},
		{"content id CRLF", "attachments", func(d *Draft) {
			d.Format, d.HTML = FormatHTML, "<p>x</p>"
			d.Attachments = []Attachment{{Name: "a.png", Data: []byte("x"), Inline: true, ContentID: "a@b>\r\nBcc: <evil@example.com"}}
		}},
		{"message-id CRLF", "message-id", func(d *Draft) { d.MessageID = "<a@b>\r\nBcc: evil@example.com" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := baseDraft()
			c.edit(&d)
			b, err := Build(d, CopyOptions{})
			if err == nil {
				t.Fatalf("Build accepted it:\n%s", b)
			}
			var fe FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("error %v; want a FieldError for %q", err, c.field)
			}
			if c.field != "message-id" {
				found := false
				for _, fe := range Validate(d) {
					found = found || fe.Field == c.field
				}
				if !found {
					t.Errorf("Validate does not report %q: %v", c.field, Validate(d))
				}
			}
		})
	}
}

func TestCopyOptionInjection(t *testing.T) {
	for _, opt := range []CopyOptions{
		{TrackingID: "abc\r\nBcc: evil@example.com"},
		{TrackingID: "abc def"},
		{ExtraHeaders: []HeaderField{{"X-Campaign", "a\nb"}}},
		{ExtraHeaders: []HeaderField{{TrackingHeader, "forged"}}},
	} {
		if b, err := Build(baseDraft(), opt); err == nil {
			t.Errorf("Build(%+v) accepted:\n%s", opt, b)
		}
	}
}

// TestBccNeverWritten: Bcc addresses appear in no copy's bytes at all.
func TestBccNeverWritten(t *testing.T) {
	d := trackedDraft()
	d.Bcc = append(d.Bcc, mail.Address{Name: "Hidden Person", Address: "hidden@example.net"})
	for _, f := range []func() ([]byte, error){
		func() ([]byte, error) { return Build(d, CopyOptions{}) },
		func() ([]byte, error) { return Build(d, CopyOptions{TrackingID: "t1", HTMLTransform: pixelTransform}) },
		func() ([]byte, error) { return SentCopy(d, CopyOptions{TrackingID: "t1"}) },
	} {
		b, err := f()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"audit@example.com", "hidden@example.net", "Hidden Person", "Bcc:"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("output contains %q", s)
			}
		}
	}
}

// TestSmugglingInBody: SMTP smuggling relies on a lone LF or CR around a
// dot; after canonicalization the body holds only CRLF line ends.
func TestSmugglingInBody(t *testing.T) {
	for _, body := range []string{
		"hi\n.\nMAIL FROM:<evil@example.com>\n",
		"hi\r.\rMAIL FROM:<evil@example.com>\r",
		"hi\r\n.\nRCPT TO:<evil@example.com>",
		"hi\n.\r\nDATA\r\n",
	} {
		for _, f := range []Format{FormatPlain, FormatMarkdown} {
			d := baseDraft()
			d.Text, d.Format = body, f
			b := mustBuild(t, d, CopyOptions{})
			wireLines(t, b)
			if strings.Contains(string(b), "\n.\n") || strings.Contains(string(b), "\r.\r") {
				t.Errorf("%q: lone-dot sequence survived", body)
			}
		}
	}
}

func TestHTMLTransformOutputCanonicalized(t *testing.T) {
	d := trackedDraft()
	b := mustBuild(t, d, CopyOptions{HTMLTransform: func(h []byte) ([]byte, error) {
		return append(h, "<p>bare\nLF and\rCR</p>"...), nil
	}})
	wireLines(t, b)
	if _, err := Build(d, CopyOptions{HTMLTransform: func([]byte) ([]byte, error) { return nil, errors.New("boom") }}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("transform error lost: %v", err)
	}
}
