package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net"
	"strings"
	"testing"
	"time"

	"mailroom/mail/smtptest"
	"mailroom/tracking"
)

// A recipient that is always deferred follows the schedule (1, 5, 15, 30,
// 60, 120 min, then every 4 h, ±10%), its gaps never shrink, and it
// expires at the lifetime with 4.4.7.
func TestRetryScheduleAndExpiry(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, clock, nil)
	p := DefaultPolicy()
	srv := smtptest.Start(t, smtptest.Config{Faults: []smtptest.Fault{
		{Command: "RCPT", Code: 451, Enhanced: "4.2.0", Text: "greylisted"}}})
	r := e.runner(newPeerDialer(srv))
	r.Rand = rand.New(rand.NewPCG(1, 2)).Float64
	id := e.enqueue(message("bob@example.test"))
	start := clock.Now()
	for i := 0; i < 100; i++ {
		e.runOnce(r)
		m := e.message(id)
		rs := m.Recipients[0]
		if rs.Status == tracking.Expired {
			break
		}
		if rs.Status != tracking.Deferred {
			t.Fatalf("status %s after attempt %d", rs.Status, rs.Attempts)
		}
		// An early run must not attempt anything.
		clock.Set(rs.NextAttempt.Add(-time.Second))
		e.runOnce(r)
		if got := e.message(id).Recipients[0].Attempts; got != rs.Attempts {
			t.Fatalf("attempt %d ran a second early", got)
		}
		clock.Set(rs.NextAttempt)
	}
	evs := e.events(id, "bob@example.test")
	var attempts []time.Time
	var expired *tracking.Event
	for i, ev := range evs {
		switch ev.Kind {
		case tracking.EvSending:
			attempts = append(attempts, ev.At)
		case tracking.EvExpired:
			expired = &evs[i]
		}
	}
	if expired == nil {
		t.Fatalf("never expired: %s", kinds(evs))
	}
	deadline := start.Add(p.Lifetime)
	if !expired.At.Equal(deadline) || expired.EnhancedCode != "4.4.7" ||
		!strings.Contains(expired.Text, "gave up after trying for 5 days") || !strings.Contains(expired.Text, "greylisted") {
		t.Errorf("expired event at %v (deadline %v): %s %q", expired.At, deadline, expired.EnhancedCode, expired.Text)
	}
	if last := attempts[len(attempts)-1]; !last.Equal(deadline) {
		t.Errorf("last attempt at %v, want the deadline %v", last, deadline)
	}
	var gaps []time.Duration
	for i := 1; i < len(attempts); i++ {
		gaps = append(gaps, attempts[i].Sub(attempts[i-1]))
	}
	t.Logf("%d attempts; gaps %v", len(attempts), gaps)
	for i, g := range gaps[:len(gaps)-1] { // the last gap ends at the deadline
		base := p.BaseGap(i + 1)
		lo, hi := time.Duration(float64(base)*(1-p.Jitter)), time.Duration(float64(base)*(1+p.Jitter))
		if g < lo || g > hi {
			t.Errorf("gap %d = %v, want %v ±10%%", i+1, g, base)
		}
		if g < p.MinGap {
			t.Errorf("gap %d = %v below the floor", i+1, g)
		}
		if i > 0 && g < time.Duration(float64(p.BaseGap(i))*(1-p.Jitter)) {
			t.Errorf("gap %d = %v shrank below the previous gap's range", i+1, g)
		}
	}
	if len(attempts) < 30 || len(attempts) > 40 {
		t.Errorf("%d attempts in 5 days, want about 36", len(attempts))
	}
	// No attempt after the give-up.
	clock.Advance(24 * time.Hour)
	e.runOnce(r)
	if n := strings.Count(kinds(e.events(id, "bob@example.test")), "sending"); n != len(attempts) {
		t.Errorf("attempted after expiry")
	}
}

func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// 200 messages, the server unreachable for an hour: one connection
// attempt per probe interval, not one per message; the hour is not
// charged to the give-up clock (lifetime 30 min here); when the server
// comes back everything drains over at most two connections.
func TestCircuitBreaker(t *testing.T) {
	clock := newFakeClock()
	p := DefaultPolicy()
	p.Lifetime = 30 * time.Minute
	e := newEnv(t, clock, &p)
	srv := smtptest.Start(t, smtptest.Config{})
	d := newPeerDialer(srv)
	ep := srv.Endpoint()
	ep.Port = closedPort(t) // the network is down
	d.ep = ep
	r := e.runner(d)
	var ids []string
	for i := 0; i < 200; i++ {
		ids = append(ids, e.enqueue(message("bob@example.test")))
	}
	start := clock.Now()
	e.runOnce(r)
	if n := d.dials.Load(); n != 1 {
		t.Fatalf("%d dials for 200 due messages, want 1", n)
	}
	st, err := e.ob.Accounts(e.ctx)
	if err != nil || !st["acct"].BreakerOpen() || st["acct"].UnreachableSince.IsZero() {
		t.Fatalf("breaker not open: %+v %v", st["acct"], err)
	}
	for clock.Now().Sub(start) < time.Hour {
		clock.Advance(20 * time.Second)
		e.runOnce(r)
		elapsed := clock.Now().Sub(start)
		if max := 1 + int64(elapsed/p.ProbeInterval); d.dials.Load() > max {
			t.Fatalf("%d dials after %v, at most %d allowed", d.dials.Load(), elapsed, max)
		}
	}
	t.Logf("%d dials during a one-hour outage", d.dials.Load())
	if d.dials.Load() < 50 {
		t.Errorf("only %d probes in an hour at one per minute", d.dials.Load())
	}
	// The network comes back.
	d.set(srv)
	clock.Advance(p.ProbeInterval)
	e.runOnce(r)
	for _, id := range ids {
		if s := e.statuses(id)["bob@example.test"]; s != tracking.Accepted {
			t.Fatalf("message %s is %s after the outage, want accepted", id, s)
		}
	}
	if c := srv.Conns(); c > 2 {
		t.Errorf("%d connections to drain, want at most 2", c)
	}
	m := e.message(ids[0])
	if off := m.Recipients[0].GiveUpAt.Sub(m.Recipients[0].FirstAttempt); off < p.Lifetime+time.Hour {
		t.Errorf("give-up clock charged for the outage: give up %v after the first attempt", off)
	}
	st, _ = e.ob.Accounts(e.ctx)
	if st["acct"].BreakerOpen() {
		t.Errorf("breaker still open: %+v", st["acct"])
	}
}

// 535 pauses the account (persisted, with the reason); nothing is tried
// while paused, however long; Resume (password fixed) sends.
func TestAuthFailurePauses(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, clock, nil)
	srv := smtptest.Start(t, smtptest.Config{})
	d := newPeerDialer(srv)
	ep := srv.Endpoint()
	ep.Password = func(context.Context) (string, error) { return "wrong", nil }
	d.ep = ep
	r := e.runner(d)
	id1 := e.enqueue(message("bob@example.test"))
	id2 := e.enqueue(message("carol@example.test"))
	e.runOnce(r)
	st, _ := e.ob.Accounts(e.ctx)
	if a := st["acct"]; !a.Paused() || a.PausedBy != PausedByAuth || a.PauseReason != "the server refused the password" {
		t.Fatalf("account state %+v", a)
	}
	if n := d.dials.Load(); n != 1 {
		t.Fatalf("%d dials, want 1", n)
	}
	m := e.message(id1)
	if !m.AccountInfo.Paused() || m.Recipients[0].Status != tracking.Deferred {
		t.Errorf("message state %+v", m)
	}
	for i := 0; i < 10; i++ {
		clock.Advance(time.Hour)
		e.runOnce(r)
	}
	if n := d.dials.Load(); n != 1 {
		t.Fatalf("%d dials while paused, want 1", n)
	}
	// A restart keeps the pause.
	r2 := e.runner(d)
	e.runOnce(r2)
	if n := d.dials.Load(); n != 1 {
		t.Fatalf("a new runner dialed a paused account")
	}
	d.set(srv) // the user fixed the password
	if err := e.ob.Resume(e.ctx, "acct"); err != nil {
		t.Fatal(err)
	}
	e.runOnce(r2)
	for _, id := range []string{id1, id2} {
		for a, s := range e.statuses(id) {
			if s != tracking.Accepted {
				t.Errorf("%s: %s is %s", id, a, s)
			}
		}
	}
	m = e.message(id1)
	if off := m.Recipients[0].GiveUpAt.Sub(m.Recipients[0].FirstAttempt); off < DefaultPolicy().Lifetime+10*time.Hour {
		t.Errorf("paused time charged to the give-up clock: %v", off)
	}
}

func decodeDetail(t *testing.T, ev tracking.Event) map[string]any {
	t.Helper()
	m := map[string]any{}
	if err := json.Unmarshal([]byte(ev.Detail), &m); err != nil {
		t.Fatalf("detail %q: %v", ev.Detail, err)
	}
	return m
}

// A password that cannot be read (the command fails, the keyring is
// locked) pauses the account too, but says so: no server refused it.
func TestUnreadablePasswordPausesAndSaysWhy(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, clock, nil)
	srv := smtptest.Start(t, smtptest.Config{})
	d := newPeerDialer(srv)
	ep := srv.Endpoint()
	ep.Password = func(context.Context) (string, error) { return "", errors.New("password command printed nothing") }
	d.ep = ep
	r := e.runner(d)
	id := e.enqueue(message("bob@example.test"))
	e.runOnce(r)
	st, _ := e.ob.Accounts(e.ctx)
	if a := st["acct"]; !a.Paused() || a.PausedBy != PausedByAuth ||
		a.PauseReason != "Mailroom could not get the password: getting the password: password command printed nothing" {
		t.Fatalf("account state %+v", a)
	}
	m := e.message(id)
	if w := m.Recipients[0].LastWords; !strings.Contains(w, "could not get the password") || strings.Contains(w, "refused") {
		t.Errorf("words %q", w)
	}
	if len(srv.Auths()) != 0 {
		t.Errorf("the server was asked: %+v", srv.Auths())
	}
}

// "Retry now" while the server is unreachable probes at once (one
// connection), instead of waiting for the breaker's next probe.
func TestRetryNowProbesAnUnreachableServer(t *testing.T) {
	clock := newFakeClock()
	p := DefaultPolicy()
	p.ProbeInterval = 10 * time.Minute // longer than the one-minute floor per message
	e := newEnv(t, clock, &p)
	srv := smtptest.Start(t, smtptest.Config{})
	d := newPeerDialer(srv)
	ep := srv.Endpoint()
	ep.Port = closedPort(t)
	d.ep = ep
	r := e.runner(d)
	id := e.enqueue(message("bob@example.test"))
	e.runOnce(r)
	if st, _ := e.ob.Accounts(e.ctx); !st["acct"].BreakerOpen() {
		t.Fatal("breaker not open")
	}
	d.set(srv) // the network is back; the user knows it before the breaker does
	clock.Advance(70 * time.Second)
	e.runOnce(r)
	if s := e.statuses(id)["bob@example.test"]; s == tracking.Accepted {
		t.Fatal("sent before the probe time without Retry now: the test proves nothing")
	}
	if _, err := e.ob.RetryNow(e.ctx, id); err != nil {
		t.Fatal(err)
	}
	e.runOnce(r)
	if s := e.statuses(id)["bob@example.test"]; s != tracking.Accepted {
		t.Fatalf("after Retry now: %s, want accepted", s)
	}
	if n := d.dials.Load(); n != 2 {
		t.Errorf("%d dials, want 2 (the failed one and the one Retry now asked for)", n)
	}
}
