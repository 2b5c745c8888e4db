package uisvc_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mailroom/app"
	"mailroom/app/uisvc"
	"mailroom/internal/peers"
	"mailroom/mail"
	"mailroom/ui"
)

// "Test connection" in the edit dialog, with the password command field
// left empty ("keep the current command"), signs in with the saved
// command, like Save does; a command that prints nothing is reported as
// a password that could not be read, not as a server refusing it.
func TestAccountTestUsesTheSavedPasswordCommand(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := peers.Start(t, dir)
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(peers.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(ctx, app.Options{DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	s, _ := uisvc.Services(a)
	se, ie := p.SMTPEndpoint(), p.IMAPEndpoint()
	in := ui.AccountInput{Account: ui.Account{Name: "work", Email: "alice@example.test",
		SMTPHost: se.Host, SMTPPort: se.Port, SMTPSecurity: mail.ImplicitTLS,
		IMAPHost: ie.Host, IMAPPort: ie.Port, IMAPSecurity: mail.ImplicitTLS,
		Username: peers.User, CAFile: p.CAFile, PasswordSource: ui.PasswordCommand},
		PasswordCommand: "cat " + pwFile}
	if err := s.Accounts.Add(ctx, in); err != nil {
		t.Fatal(err)
	}

	in.PasswordCommand = "" // the edit dialog's empty field
	rep, err := s.Accounts.Test(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.SMTP.OK || !rep.IMAP.OK {
		t.Fatalf("test with the saved command: %+v", rep)
	}

	in.PasswordCommand = "true" // prints nothing
	rep, err = s.Accounts.Test(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []ui.CheckResult{rep.SMTP, rep.IMAP} {
		if r.OK || !strings.Contains(r.Summary, "could not get the password") || strings.Contains(r.Summary, "wrong user name") {
			t.Errorf("a command printing nothing: %+v", r)
		}
	}
}
