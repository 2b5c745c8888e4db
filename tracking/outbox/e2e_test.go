package outbox

import (
	"context"
	"testing"
	"time"

	"mailroom/internal/mailstack"
	"mailroom/mail"
	"mailroom/mail/submit"
	"mailroom/tracking"
)

// End to end with the real Postfix submission service: bob is accepted
// and delivered once; tempfail (450 4.2.0 at RCPT) is deferred and retried
// on a shortened schedule, alone, so bob never gets a second copy.
func TestEndToEndPostfix(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Postfix and Dovecot (internal/mailstack)")
	}
	st := mailstack.Start(t)
	host, port, err := mail.ParseHostPort(st.SubmissionAddr)
	if err != nil {
		t.Fatal(err)
	}
	alice := st.Account("alice")
	ep := mail.Endpoint{Host: host, Port: port, Security: mail.StartTLS, Username: alice.Address,
		Password: func(context.Context) (string, error) { return alice.Password, nil }}
	dial := DialerFunc(func(ctx context.Context, _ string) (mail.Session, error) {
		return submit.Dial(ctx, submit.Options{Endpoint: ep, RootCAs: st.CAPool(), HeloName: "mailroom.test"})
	})
	p := fastPolicy()
	p.Schedule = []time.Duration{200 * time.Millisecond, 400 * time.Millisecond}
	p.RetryEvery = 400 * time.Millisecond
	p.MinGap = 200 * time.Millisecond
	e := newEnv(t, SystemClock{}, p)
	r := &Runner{Outbox: e.ob, Dialer: dial, Logf: t.Logf}
	m := message("bob@example.test", mailstack.TempFailAddr)
	m.From = alice.Address
	id := e.enqueue(m)
	deadline := time.Now().Add(30 * time.Second)
	var tf RecipientState
	for time.Now().Before(deadline) {
		e.runOnce(r)
		for _, rs := range e.message(id).Recipients {
			if rs.Address == mailstack.TempFailAddr {
				tf = rs
			}
		}
		if tf.Attempts >= 3 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	got := e.statuses(id)
	if got["bob@example.test"] != tracking.Accepted {
		t.Errorf("bob is %s", got["bob@example.test"])
	}
	if tf.Status != tracking.Deferred || tf.Attempts < 3 || tf.LastReply == nil || tf.LastReply.Code != 450 || tf.LastReply.Enhanced != "4.2.0" {
		t.Fatalf("tempfail: %+v reply %+v", tf, tf.LastReply)
	}
	t.Logf("tempfail after %d attempts: %s (%s)", tf.Attempts, tf.LastWords, tf.LastReply)
	st.WaitMessages(t, "bob", 1, 10*time.Second)
	time.Sleep(500 * time.Millisecond) // a second copy would have arrived by now
	if files, _ := st.Messages("bob"); len(files) != 1 {
		t.Errorf("bob's mailbox holds %d messages, want 1", len(files))
	}
	evs := e.events(id, "bob@example.test")
	acc := evs[len(evs)-1]
	if det := decodeDetail(t, acc); acc.Code != 250 || det["dsn_requested"] != true {
		t.Errorf("bob's accepted event %+v", acc)
	}
}
