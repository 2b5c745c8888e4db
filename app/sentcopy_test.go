package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"mailroom/internal/peers"
	"mailroom/mail/imapsource"
)

// While the workers run, a message's Sent copy reaches the \Sent mailbox
// seconds after the server accepted it, not at the appender's next
// once-a-minute look (a user watching the Sent folder in webmail would
// think it lost).
func TestSentCopyFollowsTheAcceptance(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	p := peers.Start(t, dir)
	a, err := Open(ctx, Options{DataDir: filepath.Join(dir, "data")})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	acct := Account{Name: "work", Email: "alice@example.test", CAFile: p.CAFile, PasswordSource: "command",
		PasswordCommand: "echo " + peers.Password, SMTP: p.SMTPEndpoint(), IMAP: p.IMAPEndpoint()}
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

	ie := p.IMAP.Endpoint() // with the credentials
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
			t.Fatalf("no Sent copy 20 s after sending (SMTP peer received %d)", len(p.SMTP.Received()))
		}
		time.Sleep(200 * time.Millisecond)
	}
}
