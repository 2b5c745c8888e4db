package outbox

import (
	"strings"
	"testing"
	"time"

	"mailroom/mail/smtptest"
	"mailroom/tracking"
)

// RCPT 1 accepted, RCPT 2 deferred (451), RCPT 3 rejected (550): only
// recipient 2 is retried, in a transaction of its own, and nobody gets a
// second copy.
func TestPerRecipientProgress(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, clock, nil) // default policy: 1 min first gap
	srv := smtptest.Start(t, smtptest.Config{DSN: true, Faults: []smtptest.Fault{
		{Command: "RCPT", Address: "bob@example.test", Code: 451, Enhanced: "4.3.0", Text: "try again later"},
		{Command: "RCPT", Address: "carol@example.test", Code: 550, Enhanced: "5.1.1", Text: "no such user"},
	}})
	d := newPeerDialer(srv)
	r := e.runner(d)
	id := e.enqueue(message("alice@example.test", "bob@example.test", "carol@example.test"))

	e.runOnce(r)
	got := e.statuses(id)
	want := map[string]tracking.Status{"alice@example.test": tracking.Accepted, "bob@example.test": tracking.Deferred, "carol@example.test": tracking.Rejected}
	for a, s := range want {
		if got[a] != s {
			t.Errorf("after attempt 1: %s is %s, want %s", a, got[a], s)
		}
	}
	m := e.message(id)
	var bob RecipientState
	for _, rs := range m.Recipients {
		if rs.Address == "bob@example.test" {
			bob = rs
		}
	}
	gap := bob.NextAttempt.Sub(clock.Now())
	if gap < 54*time.Second || gap > 66*time.Second {
		t.Errorf("next attempt in %v, want 1 min ±10%%", gap)
	}
	if bob.LastReply == nil || bob.LastReply.Code != 451 || !strings.Contains(bob.LastWords, "try again later") {
		t.Errorf("bob's last reply %+v / %q", bob.LastReply, bob.LastWords)
	}

	// Nothing is due before the gap has passed.
	clock.Advance(30 * time.Second)
	e.runOnce(r)
	if n := len(srv.Received()); n != 1 {
		t.Fatalf("%d messages at the peer after an early run, want 1", n)
	}

	// The server recovers: only bob is sent again.
	srv2 := smtptest.Start(t, smtptest.Config{DSN: true})
	d.set(srv2)
	clock.Set(bob.NextAttempt)
	e.runOnce(r)
	rec := srv2.Received()
	if len(rec) != 1 || len(rec[0].Rcpts) != 1 || rec[0].Rcpts[0].Addr != "bob@example.test" {
		t.Fatalf("retry transaction %+v, want bob alone", rec)
	}
	if rec[0].EnvID != srv.Received()[0].EnvID {
		t.Errorf("ENVID changed between attempts: %q vs %q", rec[0].EnvID, srv.Received()[0].EnvID)
	}
	for a, n := range delivered(srv, srv2) {
		if n != 1 {
			t.Errorf("%s delivered %d times", a, n)
		}
	}
	got = e.statuses(id)
	if got["bob@example.test"] != tracking.Accepted || got["carol@example.test"] != tracking.Rejected {
		t.Errorf("final statuses %v", got)
	}
	if k := kinds(e.events(id, "bob@example.test")); k != "queued,sending,deferred,sending,accepted" {
		t.Errorf("bob's timeline %s", k)
	}
	if k := kinds(e.events(id, "alice@example.test")); k != "queued,sending,accepted" {
		t.Errorf("alice's timeline %s", k)
	}
	un, err := e.ob.Unfinished(e.ctx)
	if err != nil || len(un) != 0 {
		t.Errorf("unfinished %v %v", un, err)
	}
}

// sendingDetail is written for every attempt without encoding/json; it
// must say exactly what detailJSON says.
func TestSendingDetailIsDetailJSON(t *testing.T) {
	at := time.Date(2026, 11, 1, 9, 0, 0, 123456789, time.FixedZone("x", 3600))
	for _, n := range []int{1, 7, 12345} {
		if got, want := sendingDetail(n, at), detailJSON("attempt", n, "next_attempt_at", rfc3339(at)); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}
