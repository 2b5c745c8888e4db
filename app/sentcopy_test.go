package app

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mailroom/mail"
	"mailroom/mail/imapsource"
	"mailroom/mail/imapsource/imaptest"
	"mailroom/mail/smtptest"
)

// While the workers run, a message's Sent copy reaches the \Sent mailbox
// seconds after the server accepted it, not at the appender's next
// once-a-minute look (a user watching the Sent folder in webmail would
// think it lost).
func TestSentCopyFollowsTheAcceptance(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	imapSrv := imaptest.NewServer(t, imaptest.Options{})
	smtpSrv := smtptest.Start(t, smtptest.Config{Security: mail.ImplicitTLS, Username: imaptest.User, Password: imaptest.Password})
	ca, err := os.ReadFile(imapSrv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, append(ca, smtpSrv.CAPEM()...), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := Open(ctx, Options{DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ie := imapSrv.Endpoint()
	acct := Account{Name: "work", Email: "alice@example.test", CAFile: caFile, PasswordSource: "command",
		PasswordCommand: "echo " + imaptest.Password,
		SMTP:            mail.Endpoint{Host: "127.0.0.1", Port: smtpSrv.Port(), Security: mail.ImplicitTLS, Username: imaptest.User},
		IMAP:            mail.Endpoint{Host: ie.Host, Port: ie.Port, Security: mail.ImplicitTLS, Username: imaptest.User}}
	if err := a.Accounts.Add(ctx, acct, ""); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	// After the appender's first look at start, so only a kick can bring
	// the copy before the next minute.
	time.Sleep(500 * time.Millisecond)
	if _, err := a.Send(ctx, SendRequest{Account: "work", To: []string{"bob@example.test"}, Subject: "to the Sent folder", Text: "hi"}); err != nil {
		t.Fatal(err)
	}
	a.Outbox.Kick()

	src, err := imapsource.Dial(ctx, ie, imapsource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, next, err := src.Select(ctx, "Sent")
		if err != nil {
			t.Fatal(err)
		}
		if next > 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Sent copy 20 s after sending (SMTP peer received %d)", len(smtpSrv.Received()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
