package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"mailroom/mail"
)

func TestAccountDialogPresetTestAndSave(t *testing.T) {
	f := newFakes()
	f.accounts.report = ConnectionReport{
		SMTP: CheckResult{OK: true, Summary: "Signed in to smtp.fastmail.com; the server offers delivery reports (DSN)."},
		IMAP: CheckResult{OK: false, Summary: "The server refused the password.", Detail: "a1 NO [AUTHENTICATIONFAILED] Authentication failed."},
	}
	m := newTestWindow(t, f)
	m.ShowAccountDialog("")
	d := m.accounts.dlg
	if d == nil {
		t.Fatal("no dialog")
	}
	d.preset.SetSelected("Fastmail")
	if d.smtpHost.Text != "smtp.fastmail.com" || d.smtpPort.Text != "465" || secValue(d.smtpSec.Selected) != mail.ImplicitTLS ||
		d.imapHost.Text != "imap.fastmail.com" || d.imapPort.Text != "993" {
		t.Errorf("preset: %s:%s %s / %s:%s", d.smtpHost.Text, d.smtpPort.Text, d.smtpSec.Selected, d.imapHost.Text, d.imapPort.Text)
	}
	if !d.note.Visible() || !strings.Contains(d.note.Text, "app password") {
		t.Errorf("preset note %q", d.note.Text)
	}

	// Incomplete: the test does not run and says why.
	d.test()
	if !d.err.Visible() || !strings.Contains(d.err.Text, "short name") {
		t.Errorf("error %q", d.err.Text)
	}
	test.Type(d.name, "personal")
	test.Type(d.email, "alice@fastmail.com")
	test.Type(d.password, "app-password")
	if d.username.Text != "alice@fastmail.com" {
		t.Errorf("username follows the address: %q", d.username.Text)
	}
	d.test()
	if d.err.Visible() {
		t.Fatalf("error %q", d.err.Text)
	}
	if !strings.HasPrefix(d.smtpRes.Text, "✔ SMTP (sending): works.") || !strings.Contains(d.smtpRes.Text, "delivery reports") {
		t.Errorf("SMTP result %q", d.smtpRes.Text)
	}
	if !strings.HasPrefix(d.imapRes.Text, "✖ IMAP (delivery reports): failed.") || !strings.Contains(d.imapRes.Text, "AUTHENTICATIONFAILED") {
		t.Errorf("IMAP result %q", d.imapRes.Text)
	}

	d.save()
	if len(f.accounts.added) != 1 {
		t.Fatal("not added")
	}
	in := f.accounts.added[0]
	if in.Name != "personal" || in.Email != "alice@fastmail.com" || in.Password != "app-password" ||
		in.PasswordSource != PasswordKeyring || in.SMTPPort != 465 || in.IMAPSecurity != mail.ImplicitTLS {
		t.Errorf("added %+v", in)
	}
	if m.accounts.dlg != nil {
		t.Error("dialog still open")
	}
	requireText(t, content(m), "personal", "SMTP smtp.fastmail.com:465, TLS")
}

func TestAccountDialogEditAndAutoconfig(t *testing.T) {
	f := newFakes()
	f.accounts.auto = map[string]Account{"example.org": {SMTPHost: "mail.example.org", SMTPPort: 587, SMTPSecurity: mail.StartTLS,
		IMAPHost: "mail.example.org", IMAPPort: 993, IMAPSecurity: mail.ImplicitTLS}}
	m := newTestWindow(t, f)
	m.ShowAccountDialog("work")
	d := m.accounts.dlg
	if d.name.Text != "work" || d.smtpHost.Text != "smtp.example.com" {
		t.Fatalf("edit dialog not filled: %q %q", d.name.Text, d.smtpHost.Text)
	}
	d.email.SetText("alice@example.org")
	d.autoconfig()
	if d.smtpHost.Text != "mail.example.org" || d.smtpPort.Text != "587" || secValue(d.smtpSec.Selected) != mail.StartTLS {
		t.Errorf("autoconfig: %s:%s %s", d.smtpHost.Text, d.smtpPort.Text, d.smtpSec.Selected)
	}
	d.email.SetText("alice@nowhere.example")
	d.autoconfig()
	if !strings.Contains(d.note.Text, "No settings found") {
		t.Errorf("note %q", d.note.Text)
	}
	// Editing keeps the stored password when the field stays empty.
	d.save()
	if d.err.Visible() {
		t.Fatalf("error %q", d.err.Text)
	}
	if got := f.accounts.accounts[0]; got.Email != "alice@nowhere.example" {
		t.Errorf("updated %+v", got)
	}
}

func TestPresetsAreSecure(t *testing.T) {
	for _, p := range DefaultPresets() {
		if p.SMTPHost == "" || p.SMTPPort == 0 {
			t.Errorf("%s: no SMTP", p.Name)
		}
		if p.SMTPSecurity != mail.ImplicitTLS && p.SMTPSecurity != mail.StartTLS {
			t.Errorf("%s: SMTP security %q", p.Name, p.SMTPSecurity)
		}
		if (p.SMTPPort == 465) != (p.SMTPSecurity == mail.ImplicitTLS) {
			t.Errorf("%s: port %d with %s", p.Name, p.SMTPPort, p.SMTPSecurity)
		}
		if p.IMAPHost != "" && (p.IMAPPort != 993 || p.IMAPSecurity != mail.ImplicitTLS) {
			t.Errorf("%s: IMAP %d %s", p.Name, p.IMAPPort, p.IMAPSecurity)
		}
	}
}
