package outbox

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/tracking"
)

// The connection drops after "." (the server kept the message): under the
// default policy the recipient is uncertain, retried with the same
// Message-ID and ENVID, and the events say "may have been sent twice".
func TestUncertainRetry(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, clock, nil)
	srv := smtptest.Start(t, smtptest.Config{DSN: true, Faults: []smtptest.Fault{smtptest.Drop(".")}})
	d := newPeerDialer(srv)
	r := e.runner(d)
	id := e.enqueue(message("bob@example.test"))
	e.runOnce(r)
	m := e.message(id)
	rs := m.Recipients[0]
	if rs.Status != tracking.Uncertain {
		t.Fatalf("status %s, want uncertain", rs.Status)
	}
	evs := e.events(id, "bob@example.test")
	unc := evs[len(evs)-1]
	if det := decodeDetail(t, unc); det["may_have_been_sent_twice"] != true || !strings.Contains(det["note"].(string), "may have been sent twice") {
		t.Errorf("uncertain detail %s", unc.Detail)
	}
	srv2 := smtptest.Start(t, smtptest.Config{DSN: true})
	d.set(srv2)
	clock.Set(rs.NextAttempt)
	e.runOnce(r)
	if s := e.statuses(id)["bob@example.test"]; s != tracking.Accepted {
		t.Fatalf("status %s after retry", s)
	}
	a, b := srv.Received(), srv2.Received()
	if len(a) != 1 || !a[0].ReplyLost || len(b) != 1 || a[0].EnvID != b[0].EnvID || !strings.Contains(string(b[0].Data), m.MessageID) {
		t.Fatalf("deliveries %+v / %+v", a, b)
	}
	evs = e.events(id, "bob@example.test")
	acc := evs[len(evs)-1]
	if det := decodeDetail(t, acc); acc.Kind != tracking.EvAccepted || det["may_have_been_sent_twice"] != true {
		t.Errorf("accepted event %s %s", acc.Kind, acc.Detail)
	}
}

// With uncertain_policy=hold the message waits for the user; Release sends
// it again.
func TestUncertainHold(t *testing.T) {
	clock := newFakeClock()
	p := DefaultPolicy()
	p.Uncertain = HoldUncertain
	e := newEnv(t, clock, &p)
	srv := smtptest.Start(t, smtptest.Config{Faults: []smtptest.Fault{smtptest.Drop(".")}})
	d := newPeerDialer(srv)
	r := e.runner(d)
	id := e.enqueue(message("bob@example.test"))
	e.runOnce(r)
	m := e.message(id)
	if m.Held == "" || m.Recipients[0].Status != tracking.Uncertain {
		t.Fatalf("held %q status %s", m.Held, m.Recipients[0].Status)
	}
	clock.Advance(24 * time.Hour)
	e.runOnce(r)
	if n := d.dials.Load(); n != 1 {
		t.Fatalf("a held message was tried again (%d dials)", n)
	}
	srv2 := smtptest.Start(t, smtptest.Config{})
	d.set(srv2)
	if err := e.ob.Release(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	e.runOnce(r)
	if s := e.statuses(id)["bob@example.test"]; s != tracking.Accepted || len(srv2.Received()) != 1 {
		t.Fatalf("after release: %s, %d received", s, len(srv2.Received()))
	}
	if k := kinds(e.events(id, "bob@example.test")); k != "queued,sending,uncertain,held,released,sending,accepted" {
		t.Errorf("timeline %s", k)
	}
}

// A server that takes 2 recipients per transaction (452 4.5.3): the rest
// go in further transactions on the same connection.
func TestTooManyRecipientsSplit(t *testing.T) {
	e := newEnv(t, newFakeClock(), nil)
	srv := smtptest.Start(t, smtptest.Config{MaxRecipients: 2})
	r := e.runner(newPeerDialer(srv))
	rcpts := []string{"a@example.test", "b@example.test", "c@example.test", "d@example.test", "e@example.test"}
	id := e.enqueue(message(rcpts...))
	e.runOnce(r)
	for a, s := range e.statuses(id) {
		if s != tracking.Accepted {
			t.Errorf("%s is %s", a, s)
		}
	}
	rec := srv.Received()
	if len(rec) != 3 || len(rec[0].Rcpts) != 2 || len(rec[2].Rcpts) != 1 || srv.Conns() != 1 {
		t.Fatalf("%d transactions on %d connections: %+v", len(rec), srv.Conns(), rec)
	}
	for k, n := range delivered(srv) {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	if a := e.message(id).Recipients[0].Attempts; a != 1 {
		t.Errorf("split counted as %d attempts", a)
	}
}

// panicSession panics in Send for one ENVID.
type panicSession struct {
	mail.Session
	envid string
	n     *atomic.Int64
}

func (s panicSession) Send(ctx context.Context, env mail.Envelope, body io.Reader) (mail.SubmitResult, error) {
	if env.EnvID == s.envid {
		s.n.Add(1)
		panic("poison message")
	}
	return s.Session.Send(ctx, env, body)
}

// A message whose processing panics is held after 3 attempts, with a
// "held" event, and the others drain.
func TestPoisonMessageHeld(t *testing.T) {
	e := newEnv(t, SystemClock{}, fastPolicy())
	srv := smtptest.Start(t, smtptest.Config{})
	d := newPeerDialer(srv)
	poison := message("bob@example.test")
	var panics atomic.Int64
	d.wrap = func(s mail.Session) mail.Session {
		return panicSession{Session: s, envid: poison.Copies[0].EnvID, n: &panics}
	}
	r := e.runner(d)
	r.Logf = nil
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, e.enqueue(message("carol@example.test")))
	}
	pid := e.enqueue(poison)
	for i := 0; i < 5; i++ {
		ids = append(ids, e.enqueue(message("dave@example.test")))
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.runOnce(r)
		un, err := e.ob.Unfinished(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(un) == 1 && un[0].Held != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(15 * time.Millisecond)
	}
	m := e.message(pid)
	if m.Held == "" || !strings.Contains(m.Held, "3 times") {
		t.Fatalf("poison message not held: %+v", m)
	}
	if n := panics.Load(); n != 3 {
		t.Errorf("%d panics, want 3", n)
	}
	if k := kinds(e.events(pid, "bob@example.test")); !strings.HasSuffix(k, "held") {
		t.Errorf("timeline %s", k)
	}
	for _, id := range ids {
		for a, s := range e.statuses(id) {
			if s != tracking.Accepted {
				t.Errorf("%s %s is %s", id, a, s)
			}
		}
	}
}

// cancelDuring cancels a message while its transaction is in flight.
type cancelDuring struct {
	mail.Session
	fn func()
}

func (s cancelDuring) Send(ctx context.Context, env mail.Envelope, body io.Reader) (mail.SubmitResult, error) {
	s.fn()
	return s.Session.Send(ctx, env, body)
}

func TestCancel(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, clock, nil)
	srv := smtptest.Start(t, smtptest.Config{Faults: []smtptest.Fault{
		{Command: "RCPT", Address: "bob@example.test", Code: 451}}})
	d := newPeerDialer(srv)
	r := e.runner(d)

	// Queued: canceled at once, never sent.
	id1 := e.enqueue(message("carol@example.test"))
	res, err := e.ob.Cancel(e.ctx, id1)
	if err != nil || res.Canceled != 1 {
		t.Fatalf("cancel %+v %v", res, err)
	}
	// In flight: bob is deferred by the server, so the pending cancel
	// applies; alice is accepted first, so it stays accepted.
	m2 := message("alice@example.test", "bob@example.test")
	var res2 CancelResult
	d.wrap = func(s mail.Session) mail.Session {
		return cancelDuring{Session: s, fn: func() {
			if res2.Pending == 0 {
				res2, err = e.ob.Cancel(e.ctx, m2.MessageID)
			}
		}}
	}
	id2 := e.enqueue(m2)
	e.runOnce(r)
	if err != nil || res2.Pending != 2 {
		t.Fatalf("cancel in flight %+v %v", res2, err)
	}
	if got := e.statuses(id1)["carol@example.test"]; got != tracking.Canceled {
		t.Errorf("queued message: %s", got)
	}
	got := e.statuses(id2)
	if got["alice@example.test"] != tracking.Accepted || got["bob@example.test"] != tracking.Canceled {
		t.Errorf("in-flight cancel: %v", got)
	}
	for _, m := range srv.Received() {
		for _, rc := range m.Rcpts {
			if rc.Addr == "carol@example.test" {
				t.Errorf("a canceled message was sent")
			}
		}
	}
	clock.Advance(time.Hour)
	e.runOnce(r)
	if len(srv.Received()) != 1 {
		t.Errorf("%d deliveries, want 1", len(srv.Received()))
	}
}

// Send later, RetryNow (within the floor), pause and resume.
func TestScheduleControls(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, clock, nil)
	srv := smtptest.Start(t, smtptest.Config{Faults: []smtptest.Fault{
		{Command: "RCPT", Address: "bob@example.test", Code: 451}}})
	d := newPeerDialer(srv)
	r := e.runner(d)
	later := message("carol@example.test")
	later.DueAt = clock.Now().Add(time.Hour)
	idLater := e.enqueue(later)
	e.runOnce(r)
	if d.dials.Load() != 0 {
		t.Fatalf("a message due in an hour was sent now")
	}
	if m := e.message(idLater); !m.NextAttempt.Equal(later.DueAt) || m.Recipients[0].Status != tracking.Queued {
		t.Errorf("send-later state %+v", m)
	}
	clock.Advance(time.Hour)
	e.runOnce(r)
	if s := e.statuses(idLater)["carol@example.test"]; s != tracking.Accepted {
		t.Fatalf("send later: %s", s)
	}

	id := e.enqueue(message("bob@example.test"))
	e.runOnce(r)
	// RetryNow right away is held back by the one-minute floor.
	clock.Advance(10 * time.Second)
	at, err := e.ob.RetryNow(e.ctx, id)
	if err != nil || !at.Equal(clock.Now().Add(50*time.Second)) {
		t.Fatalf("RetryNow at %v (now %v) %v", at, clock.Now(), err)
	}
	srv2 := smtptest.Start(t, smtptest.Config{})
	d.set(srv2)
	clock.Set(at)
	if err := e.ob.Pause(e.ctx, "acct", ""); err != nil {
		t.Fatal(err)
	}
	e.runOnce(r)
	if len(srv2.Received()) != 0 {
		t.Fatalf("sent while paused")
	}
	if st, _ := e.ob.Accounts(e.ctx); st["acct"].PausedBy != PausedByUser {
		t.Errorf("pause %+v", st["acct"])
	}
	if err := e.ob.Resume(e.ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	e.runOnce(r)
	if s := e.statuses(id)["bob@example.test"]; s != tracking.Accepted {
		t.Fatalf("after resume: %s", s)
	}
}

// A message over the server's announced SIZE limit is refused before any
// byte of it is sent, in plain words.
func TestOverSizeLimit(t *testing.T) {
	e := newEnv(t, newFakeClock(), nil)
	srv := smtptest.Start(t, smtptest.Config{MaxSize: 2000})
	r := e.runner(newPeerDialer(srv))
	big := message("bob@example.test")
	big.Copies[0].Body = body(big.Subject, 5000)
	id := e.enqueue(big)
	small := e.enqueue(message("carol@example.test"))
	e.runOnce(r)
	rs := e.message(id).Recipients[0]
	if rs.Status != tracking.Rejected || rs.LastReply == nil || rs.LastReply.Enhanced != "5.3.4" || !strings.Contains(rs.LastWords, "too large") {
		t.Errorf("over-size message: %+v %+v", rs, rs.LastReply)
	}
	if s := e.statuses(small)["carol@example.test"]; s != tracking.Accepted {
		t.Errorf("small message: %s", s)
	}
	if n := len(srv.Received()); n != 1 || strings.Contains(string(srv.ClientBytes()), big.Subject) {
		t.Errorf("the big message went on the wire")
	}
}
