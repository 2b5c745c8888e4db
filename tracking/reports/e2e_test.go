package reports

// End to end with a real Postfix and Dovecot (internal/mailstack): mail is
// submitted with ENVID and NOTIFY, Postfix writes the DSNs into alice's
// INBOX, the syncer fetches them over IMAPS and matches them by ENVID.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailroom/internal/mailstack"
	"mailroom/mail"
	"mailroom/mail/imapsource"
	"mailroom/tracking"
)

func TestEndToEndPostfixDSN(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Postfix and Dovecot (internal/mailstack)")
	}
	// Short queue timings so that the DELAY DSN comes within seconds.
	st := mailstack.Start(t, mailstack.WithDelayWarning(5*time.Second), mailstack.WithRetry(2*time.Second, 4*time.Second))
	alice := st.Account("alice")
	e := newEnv(t)
	ctx := context.Background()

	suffix := make([]byte, 6)
	rand.Read(suffix)
	tag := hex.EncodeToString(suffix)
	type outgoing struct {
		to     string
		notify []smtp.DSNNotify
		ids    map[string]int64
		envid  string
	}
	outs := []*outgoing{
		{to: "unknown@example.test", notify: []smtp.DSNNotify{smtp.DSNNotifyFailure, smtp.DSNNotifyDelayed}},
		{to: "bob@example.test", notify: []smtp.DSNNotify{smtp.DSNNotifySuccess, smtp.DSNNotifyFailure}},
		{to: "defer@example.test", notify: []smtp.DSNNotify{smtp.DSNNotifyDelayed, smtp.DSNNotifyFailure}},
	}
	c, err := smtp.DialTLS(st.SMTPSAddr, st.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", alice.Address, alice.Password)); err != nil {
		t.Fatal(err)
	}
	for i, o := range outs {
		o.envid = fmt.Sprintf("e2e-%s-%d", tag, i)
		msgID := fmt.Sprintf("<e2e-%s-%d@example.test>", tag, i)
		o.ids = e.send(sent{account: "alice", at: time.Now(), messageID: msgID, copies: []sentCopy{{envid: o.envid, rcpts: []string{o.to}}}})
		if err := c.Mail(alice.Address, &smtp.MailOptions{EnvelopeID: o.envid, Return: smtp.DSNReturnHeaders}); err != nil {
			t.Fatal(err)
		}
		if err := c.Rcpt(o.to, &smtp.RcptOptions{Notify: o.notify, OriginalRecipientType: smtp.DSNAddressTypeRFC822, OriginalRecipient: o.to}); err != nil {
			t.Fatal(err)
		}
		w, err := c.Data()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(w, "From: %s\r\nTo: %s\r\nSubject: e2e %d\r\nMessage-ID: %s\r\nDate: %s\r\n\r\nhello\r\n",
			alice.Address, o.to, i, msgID, time.Now().Format(time.RFC1123Z))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	c.Quit()
	submitted := time.Now()

	host, port, _ := mail.ParseHostPort(st.IMAPSAddr)
	ep := mail.Endpoint{Host: host, Port: port, Security: mail.ImplicitTLS, Username: alice.Address, CAFile: st.CAFile,
		Password: func(context.Context) (string, error) { return alice.Password, nil }}
	s := &Syncer{Reports: e.rep, Logf: t.Logf, Dial: func(ctx context.Context, account string) (Source, error) {
		src, err := imapsource.Dial(ctx, ep, imapsource.Options{})
		if err != nil {
			return nil, err
		}
		return src, nil
	}}
	// waitFor syncs until o has status want; it returns the time since
	// submission.
	waitFor := func(o *outgoing, want tracking.Status, timeout time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		for {
			if _, err := s.SyncOnce(ctx, "alice"); err != nil {
				t.Fatal(err)
			}
			if got := e.status(o.ids[o.to]); got == want {
				return time.Since(submitted)
			}
			if time.Since(start) > timeout {
				q, _ := st.Queue()
				t.Fatalf("%s is %s after %v, want %s\nqueue:\n%s", o.to, e.status(o.ids[o.to]), timeout, want, q)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}

	t.Run("unknown user bounces, matched by ENVID", func(t *testing.T) {
		o := outs[0]
		d := waitFor(o, tracking.Bounced, 30*time.Second)
		evs := e.reportEvents(o.ids[o.to])
		if len(evs) != 1 {
			t.Fatalf("events = %+v", evs)
		}
		ev := evs[0]
		var det DSNDetail
		json.Unmarshal([]byte(ev.Detail), &det)
		if ev.Match != KeyEnvID || ev.EnhancedCode != "5.1.1" || det.EnvelopeID != o.envid || det.Class != "permanent-address" {
			t.Fatalf("event = %+v", ev)
		}
		if sup, _ := e.st.IsSuppressed(ctx, o.to); sup == nil || sup.Event != ev.ID {
			t.Fatalf("suppression = %+v", sup)
		}
		t.Logf("bounce matched %v after submission", d.Round(time.Millisecond))
	})
	t.Run("NOTIFY=SUCCESS to bob is delivered", func(t *testing.T) {
		o := outs[1]
		waitFor(o, tracking.Delivered, 30*time.Second)
		if ev := e.reportEvents(o.ids[o.to])[0]; ev.Match != KeyEnvID || !strings.HasPrefix(ev.EnhancedCode, "2.") {
			t.Fatalf("event = %+v", ev)
		}
	})
	t.Run("defer is delayed", func(t *testing.T) {
		o := outs[2]
		d := waitFor(o, tracking.Delayed, 90*time.Second)
		ev := e.reportEvents(o.ids[o.to])[0]
		var det DSNDetail
		json.Unmarshal([]byte(ev.Detail), &det)
		if ev.Match != KeyEnvID || det.Action != "delayed" || det.WillRetryUntil == nil {
			t.Fatalf("event = %+v", ev)
		}
		t.Logf("DELAY DSN matched %v after submission", d.Round(time.Millisecond))
	})
	un, _ := e.rep.Unmatched(ctx)
	for _, u := range un {
		t.Errorf("unmatched report: %+v", u)
	}
}
