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
	d := m.accounts().dlg
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
	if m.accounts().dlg != nil {
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
	d := m.accounts().dlg
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

// queueRunner holds service results until drain, like a slow service:
// what the UI shows before the results arrive is what a person sees at
// start-up.
type queueRunner struct{ pending []func() }

func (q *queueRunner) run(work func() func()) {
	q.pending = append(q.pending, func() {
		if apply := work(); apply != nil {
			apply()
		}
	})
}

func (q *queueRunner) drain() {
	for len(q.pending) > 0 {
		f := q.pending[0]
		q.pending = q.pending[1:]
		f()
	}
}

// ShowAccountDialog("work") opens the edit dialog of "work", filled in,
// even though the Accounts screen's list has not arrived when it is called
// (MAILROOM_OPEN=account:work at start-up).
func TestShowAccountDialogEditsBeforeTheListArrives(t *testing.T) {
	f := newFakes()
	f.accounts.accounts[0].IMAPHost, f.accounts.accounts[0].IMAPPort = "imap.example.com", 993
	f.accounts.accounts[0].IMAPSecurity = mail.ImplicitTLS
	f.accounts.accounts[0].PasswordSource = PasswordCommand
	q := &queueRunner{}
	m := newMainWindow(test.NewTempApp(t), f.services(), options{sync: true, run: q.run})
	m.Show()
	m.ShowAccountDialog("work")
	if len(m.accounts().accounts) != 0 {
		t.Fatal("the list arrived early: the test no longer tests the start-up order")
	}
	q.drain()
	d := m.accounts().dlg
	if d == nil {
		t.Fatal("no dialog")
	}
	if d.editing != "work" {
		t.Fatalf("opened the add dialog (editing %q), want the edit dialog of work", d.editing)
	}
	for _, c := range []struct{ got, want string }{
		{d.name.Text, "work"}, {d.display.Text, "Alice"}, {d.email.Text, "alice@example.com"},
		{d.username.Text, "alice@example.com"}, {d.smtpHost.Text, "smtp.example.com"}, {d.smtpPort.Text, "465"},
		{d.imapHost.Text, "imap.example.com"}, {d.imapPort.Text, "993"}, {d.pwSource.Selected, pwCommand},
	} {
		if c.got != c.want {
			t.Errorf("field shows %q, want %q", c.got, c.want)
		}
	}
	// Saving updates the account rather than adding a second one.
	d.save()
	q.drain()
	if len(f.accounts.added) != 0 || len(f.accounts.accounts) != 1 {
		t.Errorf("added %d, have %d accounts", len(f.accounts.added), len(f.accounts.accounts))
	}

	// An unknown name opens no dialog (an error says why).
	m.ShowAccountDialog("nope")
	q.drain()
	if m.accounts().dlg != nil {
		t.Errorf("a dialog opened for an unknown account (editing %q)", m.accounts().dlg.editing)
	}
}

func TestAccountCardEditOpensFilledDialog(t *testing.T) {
	f := newFakes()
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenAccounts)
	b := findButton(content(m), "Edit")
	if b == nil {
		t.Fatal("no Edit button")
	}
	test.Tap(b)
	if d := m.accounts().dlg; d == nil || d.editing != "work" || d.smtpHost.Text != "smtp.example.com" {
		t.Fatalf("edit dialog not filled: %+v", d)
	}
}

// The account dialog shows and saves the account's tracking defaults;
// the card says when they differ from the global setting.
func TestAccountDialogTrackingDefaults(t *testing.T) {
	f := newFakes()
	m := newTestWindow(t, f)
	m.ShowAccountDialog("")
	d := m.accounts().dlg
	if d.trackOpens.Selected != trackUseGlobal || d.trackClicks.Selected != trackUseGlobal {
		t.Fatalf("new account starts with %q / %q, want %q", d.trackOpens.Selected, d.trackClicks.Selected, trackUseGlobal)
	}
	requireText(t, d.content, "Track opens", "Track clicks", trackUseGlobal, "Tracking needs a tracker")
	test.Type(d.name, "news")
	test.Type(d.email, "news@example.com")
	test.Type(d.smtpHost, "smtp.example.com")
	test.Type(d.password, "pw")
	d.trackOpens.SetSelected(trackOnLabel)
	d.save()
	if len(f.accounts.added) != 1 {
		t.Fatalf("not added: %q", d.err.Text)
	}
	if in := f.accounts.added[0]; in.TrackOpens != TrackOn || in.TrackClicks != TrackGlobal {
		t.Errorf("added with opens %q, clicks %q; want on, global", in.TrackOpens, in.TrackClicks)
	}
	requireText(t, content(m), "New messages: Track opens on, Track clicks as in Settings")
	if hasText(content(m), "New messages: Track opens as in Settings") {
		t.Error("the card of an account that follows the global settings mentions them")
	}

	m.ShowAccountDialog("news")
	d = m.accounts().dlg
	if d.trackOpens.Selected != trackOnLabel || d.trackClicks.Selected != trackUseGlobal {
		t.Fatalf("edit dialog shows %q / %q, want On / %s", d.trackOpens.Selected, d.trackClicks.Selected, trackUseGlobal)
	}
	d.trackOpens.SetSelected(trackUseGlobal)
	d.trackClicks.SetSelected(trackOffLabel)
	d.save()
	if got := f.accounts.accounts[1]; got.Name != "news" || got.TrackOpens != TrackGlobal || got.TrackClicks != TrackOff {
		t.Errorf("updated %+v", got)
	}
	requireText(t, content(m), "New messages: Track opens as in Settings, Track clicks off")
}
