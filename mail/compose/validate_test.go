package compose

import (
	"strings"
	"testing"
	"time"

	"mailroom/mail"
)

func fieldsOf(fes []FieldError) string {
	var s []string
	for _, fe := range fes {
		s = append(s, fe.Field)
	}
	return strings.Join(s, ",")
}

func TestValidate(t *testing.T) {
	if fes := Validate(baseDraft()); fes != nil {
		t.Fatalf("good draft: %v", fes)
	}
	cases := []struct {
		name string
		edit func(d *Draft)
		want string // fields, in order
		msg  string // part of the first message
	}{
		{"no recipients", func(d *Draft) { d.To = nil }, "to", "at least one recipient"},
		{"only bcc is enough", func(d *Draft) { d.To, d.Bcc = nil, []mail.Address{{Address: "b@example.org"}} }, "", ""},
		{"no from", func(d *Draft) { d.From = mail.Address{} }, "from", "sender"},
		{"bad to", func(d *Draft) { d.To = append(d.To, mail.Address{Address: "bob@"}) }, "to", "bob@"},
		{"bad cc and bcc", func(d *Draft) {
			d.Cc = []mail.Address{{Address: "nodot@localdomain"}}
			d.Bcc = []mail.Address{{Address: "x y@example.org"}}
		}, "cc,bcc", "nodot"},
		{"IDN accepted", func(d *Draft) {
			d.To = []mail.Address{{Address: "jörg@bücher.example"}, {Address: "user@xn--bcher-kva.example"}, {Address: "a@例え.テスト"}}
		}, "", ""},
		{"long subject", func(d *Draft) { d.Subject = strings.Repeat("a", 901) }, "subject", "too long"},
		{"subject with tab is fine", func(d *Draft) { d.Subject = "a\tb" }, "", ""},
		{"html without html format", func(d *Draft) { d.HTML = "<p>x</p>" }, "html", "format is html"},
		{"empty html", func(d *Draft) { d.Format = FormatHTML }, "html", "empty"},
		{"unknown format", func(d *Draft) { d.Format = "rtf" }, "format", "rtf"},
		{"text not UTF-8", func(d *Draft) { d.Text = "caf\xe9" }, "text", "UTF-8"},
		{"inline without cid", func(d *Draft) {
			d.Attachments = []Attachment{{Name: "a.png", Data: []byte{1}, Inline: true}}
		}, "attachments", "content ID"},
		{"duplicate cid", func(d *Draft) {
			d.Attachments = []Attachment{
				{Name: "a.png", Data: []byte{1}, Inline: true, ContentID: "x@y"},
				{Name: "b.png", Data: []byte{1}, Inline: true, ContentID: "<x@y>"},
			}
		}, "attachments", "twice"},
		{"attachment without content", func(d *Draft) { d.Attachments = []Attachment{{Name: "a"}} }, "attachments", "no content"},
		{"attachment without name", func(d *Draft) { d.Attachments = []Attachment{{Data: []byte{}}} }, "attachments", "no file name"},
		{"multipart attachment", func(d *Draft) {
			d.Attachments = []Attachment{{Name: "a", ContentType: "multipart/mixed", Data: []byte{}}}
		}, "attachments", "cannot be attached"},
		{"bad in-reply-to", func(d *Draft) { d.InReplyTo = "not-an-id" }, "in-reply-to", "<id@host>"},
		{"owned header", func(d *Draft) { d.Headers = []HeaderField{{"Subject", "x"}} }, "headers", "set by Mailroom"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := baseDraft()
			c.edit(&d)
			fes := Validate(d)
			if got := fieldsOf(fes); got != c.want {
				t.Fatalf("fields %q, want %q: %v", got, c.want, fes)
			}
			if c.msg != "" && !strings.Contains(fes[0].Error(), c.msg) {
				t.Errorf("message %q does not mention %q", fes[0].Error(), c.msg)
			}
		})
	}
}

func TestBuildNeedsEnqueueFields(t *testing.T) {
	d := baseDraft()
	d.MessageID = ""
	if _, err := Build(d, CopyOptions{}); err == nil || !strings.Contains(err.Error(), "message-id") {
		t.Errorf("missing Message-ID: %v", err)
	}
	d = baseDraft()
	d.Date = time.Time{}
	if _, err := Build(d, CopyOptions{}); err == nil || !strings.Contains(err.Error(), "date") {
		t.Errorf("missing Date: %v", err)
	}
}
