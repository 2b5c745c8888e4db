package compose

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"mailroom/mail"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.eml from the current output")

// pngPixel is a real 1x1 PNG, so the inline image golden is a valid image.
var pngPixel = []byte{
	0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
	0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0,
	0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99, 0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
	0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
}

// pixelTransform stands in for tracking/opentrack's injector: it is only
// the hook's contract (HTML in, HTML out) that matters here.
func pixelTransform(html []byte) ([]byte, error) {
	pixel := []byte(`<img src="https://t.example.net/o/AAAAtoken" width="1" height="1" alt="">` + "\r\n</body>")
	return bytes.Replace(html, []byte("</body>"), pixel, 1), nil
}

type goldenCase struct {
	name  string
	draft func() Draft
	opt   CopyOptions
	sent  bool // build with SentCopy
	// header field names expected at the top, in order
	names []string
	shape string
}

func goldenCases() []goldenCase {
	return []goldenCase{
		{
			name:  "plain",
			draft: baseDraft,
			names: []string{"Date", "Message-Id", "From", "To", "Subject", "Mime-Version", "Content-Type", "Content-Transfer-Encoding"},
			shape: "text/plain",
		},
		{
			name: "markdown_alternative",
			draft: func() Draft {
				d := baseDraft()
				d.Cc = []mail.Address{{Address: "carol@example.net"}}
				d.Bcc = []mail.Address{{Address: "hidden@example.net"}}
				d.Format = FormatMarkdown
				d.Text = "# Invoice 42\n\nHello **Bob**,\n\n- item one\n- item two\n\nSee [the portal](https://portal.example.com/i/42).\n<script>alert(1)</script>\nThanks,\nAlice"
				d.InReplyTo = "<q1@example.org>"
				d.References = []string{"<q0@example.org>", "<q1@example.org>"}
				return d
			},
			names: []string{"Date", "Message-Id", "From", "To", "Cc", "Subject", "In-Reply-To", "References", "Mime-Version", "Content-Type"},
			shape: "multipart/alternative(text/plain,text/html)",
		},
		{
			name: "mixed_attachment",
			draft: func() Draft {
				d := baseDraft()
				d.Attachments = []Attachment{{
					Name:        "Rechnung März 2026 – Müller & Söhne GmbH, Abschlussrechnung.pdf",
					ContentType: "application/pdf",
					Data:        []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"),
				}, {
					Name: "notes.txt",
					Data: []byte("line one\nline two without CR\n"),
				}}
				return d
			},
			names: []string{"Date", "Message-Id", "From", "To", "Subject", "Mime-Version", "Content-Type"},
			shape: "multipart/mixed(text/plain,application/pdf,text/plain)",
		},
		{
			name: "inline_related",
			draft: func() Draft {
				d := baseDraft()
				d.Format = FormatHTML
				d.HTML = "<!DOCTYPE html>\n<html><body>\n<p>Our logo: <img src=\"cid:logo@mailroom\" alt=\"logo\"></p>\n<p>Visit <a href=\"https://example.com/\">our site</a>.</p>\n</body></html>\n"
				d.Text = ""
				d.Attachments = []Attachment{
					{Name: "logo.png", ContentType: "image/png", Data: pngPixel, Inline: true, ContentID: "logo@mailroom"},
					{Name: "terms.pdf", Data: []byte("%PDF-1.4 terms")},
				}
				return d
			},
			names: []string{"Date", "Message-Id", "From", "To", "Subject", "Mime-Version", "Content-Type"},
			shape: "multipart/mixed(multipart/alternative(text/plain,multipart/related(text/html,image/png)),application/pdf)",
		},
		{
			name: "nonascii_headers",
			draft: func() Draft {
				d := baseDraft()
				d.From = mail.Address{Name: "Jörg Müller", Address: "joerg@bücher.example"}
				d.To = []mail.Address{{Name: "Zoë «Ünal» Çelik", Address: "zoe@example.org"}, {Name: "Doe, John", Address: "john@example.org"}}
				d.Subject = "Grüße aus Köln – Rechnung № 42 für März 😀 and a long tail of ASCII words to force folding"
				d.Text = "Grüße,\nJörg\n" + "A long line: " + string(bytes.Repeat([]byte("abcdefghij"), 12)) + "\n"
				d.Headers = []HeaderField{{Name: "X-Campaign", Value: "Frühling"}}
				return d
			},
			names: []string{"Date", "Message-Id", "From", "To", "Subject", "X-Campaign", "Mime-Version", "Content-Type", "Content-Transfer-Encoding"},
			shape: "text/plain",
		},
		{
			name:  "tracked_copy",
			draft: trackedDraft,
			opt:   CopyOptions{TrackingID: "t-7f3a9c0d2b", HTMLTransform: pixelTransform},
			names: []string{"Date", "Message-Id", "From", "To", "Subject", "X-Mailroom-Tracking-Id", "Mime-Version", "Content-Type"},
			shape: "multipart/alternative(text/plain,text/html)",
		},
		{
			name:  "sent_copy",
			draft: trackedDraft,
			opt:   CopyOptions{TrackingID: "t-7f3a9c0d2b", HTMLTransform: pixelTransform},
			sent:  true,
			names: []string{"Date", "Message-Id", "From", "To", "Subject", "Mime-Version", "Content-Type"},
			shape: "multipart/alternative(text/plain,text/html)",
		},
	}
}

func trackedDraft() Draft {
	d := baseDraft()
	d.To = []mail.Address{{Name: "Bob", Address: "bob@example.org"}, {Address: "dave@example.org"}}
	d.Bcc = []mail.Address{{Address: "audit@example.com"}}
	d.Format = FormatMarkdown
	d.Text = "Hello,\n\nthe **report** is ready."
	return d
}

func (c goldenCase) build(t *testing.T, seed byte) []byte {
	t.Helper()
	opt := c.opt
	opt.Rand = fixedRand(seed)
	if c.sent {
		b, err := SentCopy(c.draft(), opt)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return mustBuild(t, c.draft(), opt)
}

func TestGolden(t *testing.T) {
	for i, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			got := c.build(t, byte(i))
			path := filepath.Join("testdata", "golden", c.name+".eml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run with -update after checking the diff)\n--- got ---\n%s", path, got)
			}
			// Same seed, same bytes: the output depends on nothing else.
			if again := c.build(t, byte(i)); !bytes.Equal(got, again) {
				t.Error("two builds with the same seed differ")
			}
		})
	}
}
