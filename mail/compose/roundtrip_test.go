package compose

import (
	"bytes"
	"strings"
	"testing"

	gomail "github.com/emersion/go-message/mail"

	"mailroom/mail"
)

// TestRoundTrip parses every golden case back with go-message and checks
// the header field set, the structure, the decoded bodies and the wire rules.
func TestRoundTrip(t *testing.T) {
	for i, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			b := c.build(t, byte(i))
			wireLines(t, b)
			if err := CheckWire(b); err != nil {
				t.Fatal(err)
			}
			p := parse(t, b)
			if fmtNames(p.names) != fmtNames(c.names) {
				t.Errorf("header fields\n got %v\nwant %v", p.names, c.names)
			}
			for _, n := range p.names {
				if strings.EqualFold(n, "Bcc") {
					t.Error("a Bcc header was written")
				}
			}
			if p.structure != c.shape {
				t.Errorf("structure\n got %s\nwant %s", p.structure, c.shape)
			}

			d := c.draft()
			h := gomail.Header{Header: p.header}
			if s, err := h.Subject(); err != nil || s != d.Subject {
				t.Errorf("subject = %q, %v; want %q", s, err, d.Subject)
			}
			if id, _ := h.MessageID(); "<"+id+">" != d.MessageID {
				t.Errorf("Message-ID = %q", id)
			}
			if date, err := h.Date(); err != nil || !date.Equal(d.Date) {
				t.Errorf("Date = %v, %v", date, err)
			}
			from, err := h.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Name != d.From.Name {
				t.Errorf("From = %v, %v", from, err)
			}
			to, err := h.AddressList("To")
			if err != nil || len(to) != len(d.To) {
				t.Fatalf("To = %v, %v", to, err)
			}
			for i, a := range to {
				want, _ := d.To[i].ASCIIDomain()
				if a.Name != d.To[i].Name || a.Address != want {
					t.Errorf("To[%d] = %q <%s>; want %q <%s>", i, a.Name, a.Address, d.To[i].Name, want)
				}
			}
			for _, x := range d.Headers {
				if v, _ := h.Text(x.Name); v != x.Value {
					t.Errorf("%s = %q; want %q", x.Name, v, x.Value)
				}
			}
			tracked := !c.sent && c.opt.TrackingID != ""
			if got := h.Get(TrackingHeader); tracked != (got != "") || (tracked && got != c.opt.TrackingID) {
				t.Errorf("%s = %q (tracked copy: %v)", TrackingHeader, got, tracked)
			}

			// Bodies decode back to the (canonicalized) input.
			text, html, err := bodies(d)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.leaf("text/plain").body; !bytes.Equal(got, text) {
				t.Errorf("text/plain\n got %q\nwant %q", got, text)
			}
			if html != nil {
				if tracked {
					html, _ = pixelTransform(html)
				}
				if got := p.leaf("text/html").body; !bytes.Equal(got, html) {
					t.Errorf("text/html\n got %q\nwant %q", got, html)
				}
				hasPixel := bytes.Contains(p.leaf("text/html").body, []byte("t.example.net/o/"))
				if hasPixel != tracked {
					t.Errorf("pixel present = %v in a copy tracked = %v", hasPixel, tracked)
				}
			}
			atts := 0
			for _, l := range p.leaves {
				if l.disp == "" {
					continue
				}
				a := d.Attachments[atts]
				atts++
				if l.dispParams["filename"] != a.Name || l.params["name"] != a.Name {
					t.Errorf("file name: disposition %q, type %q; want %q", l.dispParams["filename"], l.params["name"], a.Name)
				}
				if !bytes.Equal(l.body, a.Data) {
					t.Errorf("attachment %q: body differs", a.Name)
				}
				if l.cte != "base64" {
					t.Errorf("attachment %q: encoding %q", a.Name, l.cte)
				}
				if a.Inline && l.cid != "<"+a.ContentID+">" {
					t.Errorf("attachment %q: Content-ID %q", a.Name, l.cid)
				}
			}
			if atts != len(d.Attachments) {
				t.Errorf("%d attachments came back, want %d", atts, len(d.Attachments))
			}
		})
	}
}

func TestTransferEncodingChoice(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"plain ascii\nshort lines\n", "7bit"},
		{"", "7bit"},
		{"tab\tis fine\n", "7bit"},
		{strings.Repeat("x", 78) + "\n", "7bit"},
		{strings.Repeat("x", 79) + "\n", "quoted-printable"},
		{strings.Repeat("word ", 400), "quoted-printable"}, // one 2000-octet line
		{"café\n", "quoted-printable"},
		{"nul \x00 inside\n", "quoted-printable"},
		{"escape \x1b[0m\n", "quoted-printable"},
	} {
		d := baseDraft()
		d.Text = c.text
		b := mustBuild(t, d, CopyOptions{})
		wireLines(t, b)
		p := parse(t, b)
		l := p.leaf("text/plain")
		if l.cte != c.want {
			t.Errorf("%.30q: encoding %q, want %q", c.text, l.cte, c.want)
		}
		if string(l.body) != crlf(c.text) {
			t.Errorf("%.30q: body does not round-trip: %q", c.text, l.body)
		}
	}
}

// TestCanonicalLineEnds: bare CR, bare LF and CRLF all become CRLF, and the
// lone-dot lines used in SMTP smuggling survive only as ordinary lines.
func TestCanonicalLineEnds(t *testing.T) {
	in := "a\rb\nc\r\nd\n.\nsmuggled\r.\rend\r\n.\r\n"
	want := "a\r\nb\r\nc\r\nd\r\n.\r\nsmuggled\r\n.\r\nend\r\n.\r\n"
	if got := string(canonicalText([]byte(in))); got != want {
		t.Fatalf("canonicalText = %q", got)
	}
	for _, f := range []Format{FormatPlain, FormatMarkdown} {
		d := baseDraft()
		d.Format = f
		d.Text = in
		b := mustBuild(t, d, CopyOptions{})
		wireLines(t, b)
		if got := parse(t, b).leaf("text/plain").body; string(got) != want {
			t.Errorf("%s: text/plain = %q", f, got)
		}
	}
}

func TestRFC2231FileName(t *testing.T) {
	for _, name := range []string{
		"report.pdf",
		`quote " and back\slash.txt`,
		"Übersicht.xlsx",
		"日本語のファイル名.txt",
		strings.Repeat("ü", 120) + ".bin",
		"100%;=*'.txt",
	} {
		d := baseDraft()
		d.Attachments = []Attachment{{Name: name, Data: []byte{1, 2, 3}}}
		b := mustBuild(t, d, CopyOptions{})
		wireLines(t, b)
		var l leaf
		for _, x := range parse(t, b).leaves {
			if x.disp == "attachment" {
				l = x
			}
		}
		if l.dispParams["filename"] != name {
			t.Errorf("filename %q came back as %q", name, l.dispParams["filename"])
		}
		if l.params["name"] != name {
			t.Errorf("name %q came back as %q", name, l.params["name"])
		}
		ascii := true
		for i := 0; i < len(name); i++ {
			ascii = ascii && name[i] < 0x80
		}
		if !ascii && !bytes.Contains(b, []byte("filename*")) {
			t.Errorf("%q: not RFC 2231-encoded:\n%s", name, b)
		}
	}
}

func TestHTMLToText(t *testing.T) {
	got := htmlToText(`<html><head><title>T</title><style>p{}</style></head><body>
<h1>Hi</h1><p>See <a href="https://example.com/x">the page</a>
and   <b>more</b>.</p><ul><li>one</li><li>two</li></ul><script>evil()</script>
<pre>  keep
  this</pre></body></html>`)
	want := "Hi\nSee the page <https://example.com/x> and more.\n- one\n- two\n  keep\n  this\n"
	if got != want {
		t.Errorf("htmlToText =\n%q\nwant\n%q", got, want)
	}
}

func TestMarkdownIsSafe(t *testing.T) {
	h, err := renderMarkdown("<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1)) <b>bold</b>")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"<img", "javascript:", "<b>", "onerror"} {
		if bytes.Contains(h, []byte(bad)) {
			t.Errorf("rendered HTML holds %q:\n%s", bad, h)
		}
	}
}

// TestEncodedWordLines: RFC 2047 section 2 limits any header line holding
// an encoded word to 76 characters.
func TestEncodedWordLines(t *testing.T) {
	d := baseDraft()
	d.Subject = strings.Repeat("Grüße aus Köln ", 20) + strings.Repeat("日本語", 30)
	d.From.Name = strings.Repeat("Jörg ", 30)
	d.To = []mail.Address{{Name: "Zoë, «quoted» " + strings.Repeat("é", 60), Address: "zoe@example.org"}}
	d.Headers = []HeaderField{{"X-Note", strings.Repeat("ça ", 100)}}
	d.Attachments = []Attachment{{Name: strings.Repeat("Übersicht ", 20) + ".pdf", Data: []byte("x")}}
	b := mustBuild(t, d, CopyOptions{})
	wireLines(t, b)
	for _, l := range strings.Split(string(b), "\r\n") {
		if strings.Contains(l, "=?") && len(l) > 76 {
			t.Errorf("%d characters: %s", len(l), l)
		}
	}
	p := parse(t, b)
	h := gomail.Header{Header: p.header}
	if s, _ := h.Subject(); s != d.Subject {
		t.Errorf("subject = %q", s)
	}
	to, err := h.AddressList("To")
	if err != nil || len(to) != 1 || to[0].Name != d.To[0].Name {
		t.Errorf("To = %v, %v", to, err)
	}
}

// TestInlineWithoutHTML: a plain-text message has no HTML to reference an
// inline image, so it travels as an ordinary attachment.
func TestInlineWithoutHTML(t *testing.T) {
	d := baseDraft()
	d.Attachments = []Attachment{{Name: "logo.png", Data: pngPixel, Inline: true, ContentID: "logo@x"}}
	p := parse(t, mustBuild(t, d, CopyOptions{}))
	if p.structure != "multipart/mixed(text/plain,image/png)" {
		t.Fatal(p.structure)
	}
	if l := p.leaf("image/png"); l.disp != "attachment" || l.cid != "" {
		t.Errorf("disposition %q, Content-ID %q", l.disp, l.cid)
	}
}

// TestAttachmentCharset: an attachment's declared charset is kept as is
// (go-message's own writer would refuse anything but UTF-8), and its bytes
// travel untouched, line ends included.
func TestAttachmentCharset(t *testing.T) {
	d := baseDraft()
	data := []byte("Stra\xdfe;Gr\xf6\xdfe\r\nbare\nlf\rcr")
	d.Attachments = []Attachment{{Name: "liste.csv", ContentType: "text/csv; charset=windows-1252", Data: data}}
	p := parse(t, mustBuild(t, d, CopyOptions{}))
	var l leaf
	for _, x := range p.leaves {
		if x.disp == "attachment" {
			l = x
		}
	}
	if l.params["charset"] != "windows-1252" || l.dispParams["filename"] != "liste.csv" {
		t.Errorf("params %v / %v", l.params, l.dispParams)
	}
	if !bytes.Equal(l.body, data) {
		t.Errorf("body %q", l.body)
	}
	if got := guessType("Notes.TXT"); got != "text/plain" {
		t.Errorf("guessType = %q", got)
	}
}
