package outbox

import (
	"context"
	"sync"
	"testing"
	"time"

	"mailroom/mail/smtptest"
	"mailroom/tracking"
)

// A result's commit claims up to claimAhead copies for the same session.
// When the worker stops before their turn (here: the run is canceled right
// after the first result is recorded), they are given back unsent: the
// attempt is closed as "skipped", the recipients are deferred, due at
// once, with their attempt count as before; the next run sends each
// exactly once.
func TestClaimedAheadGivenBackOnStop(t *testing.T) {
	e, srv, ids, _ := oneSession(t, smtptest.Config{DSN: true}, 2*claimAhead)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	r := e.runner(newPeerDialer(srv))
	var once sync.Once
	r.hook = func(h hookInfo) {
		if h.Point == hookRecorded {
			once.Do(cancel)
		}
	}
	if err := r.Run(ctx); err != context.Canceled {
		t.Fatalf("run: %v", err)
	}
	if n := len(srv.Received()); n != 1 {
		t.Fatalf("%d delivered before the stop, want 1", n)
	}
	var skipped, open int
	e.db.R.QueryRow(`SELECT count(*) FILTER (WHERE outcome='skipped'), count(*) FILTER (WHERE ended_at=0) FROM outbox_attempts`).Scan(&skipped, &open)
	if skipped != claimAhead || open != 0 {
		t.Errorf("attempts: %d skipped (want %d), %d open (want 0)", skipped, claimAhead, open)
	}
	now := e.ob.now()
	var deferred int
	for _, id := range ids {
		for _, rc := range e.message(id).Recipients {
			evs, err := e.st.Events(e.ctx, rc.ID)
			if err != nil {
				t.Fatal(err)
			}
			switch rc.Status {
			case tracking.Accepted, tracking.Queued:
			case tracking.Deferred:
				deferred++
				var attempts int
				var next int64
				e.db.R.QueryRow(`SELECT attempts, next_attempt_at FROM recipients WHERE id=?`, rc.ID).Scan(&attempts, &next)
				if attempts != 0 || time.UnixMilli(next).After(now) {
					t.Errorf("%s: given back with attempts=%d, next %v (now %v)", id, attempts, time.UnixMilli(next), now)
				}
				if last := evs[len(evs)-1]; last.Text != skippedText {
					t.Errorf("%s: last event %s %q", id, last.Kind, last.Text)
				}
			default:
				t.Errorf("%s: %s after the stop (%s)", id, rc.Status, kinds(evs))
			}
		}
	}
	if deferred != claimAhead {
		t.Errorf("%d recipients given back, want %d", deferred, claimAhead)
	}
	e.runOnce(e.runner(newPeerDialer(srv)))
	sentOnceEach(t, srv, len(ids))
	for _, id := range ids {
		if st := e.statuses(id)["bob@example.test"]; st != tracking.Accepted {
			t.Errorf("%s: %s", id, st)
		}
	}
}

// A cancel asked for while a copy claimed ahead waits its turn is applied
// before the copy goes out: it is not sent, and ends canceled.
func TestClaimedAheadCanceledBeforeItsTurn(t *testing.T) {
	e, srv, ids, envids := oneSession(t, smtptest.Config{DSN: true}, 2*claimAhead)
	r := e.runner(newPeerDialer(srv))
	var once sync.Once
	var res CancelResult
	var cerr error
	r.hook = func(h hookInfo) {
		if h.Point == hookRecorded {
			// The first result's commit claimed the next copies.
			once.Do(func() { res, cerr = e.ob.Cancel(e.ctx, ids[3]) })
		}
	}
	e.runOnce(r)
	if cerr != nil || res.Pending != 1 {
		t.Fatalf("cancel of a copy claimed ahead: %+v, %v (want 1 pending)", res, cerr)
	}
	got := delivered(srv)
	for i, id := range ids {
		want, st := 1, tracking.Accepted
		if i == 3 {
			want, st = 0, tracking.Canceled
		}
		if n := got[envids[i]+" bob@example.test"]; n != want {
			t.Errorf("%s delivered %d times, want %d", id, n, want)
		}
		if s := e.statuses(id)["bob@example.test"]; s != st {
			t.Errorf("%s: %s, want %s (%s)", id, s, st, kinds(e.events(id, "bob@example.test")))
		}
	}
	t.Logf("canceled copy: %s", kinds(e.events(ids[3], "bob@example.test")))
}

// A session that breaks (421 at the third MAIL of each connection) while
// copies claimed for it wait their turn: those copies go out on a new
// session; everything is delivered once and no attempt stays open.
func TestClaimedAheadSurvivesABrokenSession(t *testing.T) {
	e, srv, ids, envids := oneSession(t, smtptest.Config{DSN: true, Faults: []smtptest.Fault{{Command: "MAIL", Nth: 3, Code: 421}}}, 3*claimAhead)
	// A copy deferred by the fault is due again 10 ms later; RunOnce
	// stops when nothing is due, so run until nothing is left.
	for round := 0; round < 20; round++ {
		e.runOnce(e.runner(newPeerDialer(srv)))
		var left int
		e.db.R.QueryRow(`SELECT count(*) FROM recipients WHERE status NOT IN ('accepted','rejected','canceled','expired')`).Scan(&left)
		if left == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	got := delivered(srv)
	for i, id := range ids {
		if n := got[envids[i]+" bob@example.test"]; n != 1 {
			t.Errorf("%s delivered %d times", id, n)
		}
		if s := e.statuses(id)["bob@example.test"]; s != tracking.Accepted {
			t.Errorf("%s: %s (%s)", id, s, kinds(e.events(id, "bob@example.test")))
		}
	}
	var open int
	e.db.R.QueryRow(`SELECT count(*) FROM outbox_attempts WHERE ended_at=0`).Scan(&open)
	if open != 0 {
		t.Errorf("%d attempts left open", open)
	}
	if c := srv.Conns(); c < claimAhead {
		t.Errorf("%d connections; the fault should have broken one every two messages", c)
	}
}

// While the last prefetchAt copies of a claim go out, the next claim is
// committed in the background. A stop at that point gives both back
// unsent (nothing stays open), and the next run sends each copy once.
func TestPrefetchedClaimGivenBackOnStop(t *testing.T) {
	e, srv, ids, _ := oneSession(t, smtptest.Config{DSN: true}, 3*claimAhead)
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	r := e.runner(newPeerDialer(srv))
	// The first copy, then claimAhead-prefetchAt+4 of its claim: the
	// prefetch started 4 copies ago.
	stopAt := 1 + claimAhead - prefetchAt + 4
	recorded := 0
	r.hook = func(h hookInfo) {
		if h.Point == hookRecorded {
			if recorded++; recorded == stopAt {
				cancel()
			}
		}
	}
	if err := r.Run(ctx); err != context.Canceled {
		t.Fatalf("run: %v", err)
	}
	if n := len(srv.Received()); n != stopAt {
		t.Fatalf("%d delivered before the stop, want %d", n, stopAt)
	}
	var skipped, open int
	e.db.R.QueryRow(`SELECT count(*) FILTER (WHERE outcome='skipped'), count(*) FILTER (WHERE ended_at=0) FROM outbox_attempts`).Scan(&skipped, &open)
	if open != 0 || skipped < claimAhead-(stopAt-1) {
		t.Errorf("attempts: %d skipped (want at least %d), %d open (want 0)", skipped, claimAhead-(stopAt-1), open)
	}
	e.runOnce(e.runner(newPeerDialer(srv)))
	sentOnceEach(t, srv, len(ids))
}

// oneSession is an outbox with one connection to a fresh peer and n
// single-recipient messages queued: their ids and envelope ids.
func oneSession(t *testing.T, cfg smtptest.Config, n int) (e *env, srv *smtptest.Server, ids, envids []string) {
	e = newEnv(t, nil, fastPolicy())
	e.ob.Policy.MaxConnections = 1
	srv = smtptest.Start(t, cfg)
	for i := 0; i < n; i++ {
		m := message("bob@example.test")
		envids = append(envids, m.Copies[0].EnvID)
		ids = append(ids, e.enqueue(m))
	}
	return e, srv, ids, envids
}

// sentOnceEach checks that the peer received each of the n copies once.
func sentOnceEach(t *testing.T, srv *smtptest.Server, n int) {
	t.Helper()
	got := delivered(srv)
	if len(got) != n {
		t.Errorf("%d copies delivered, want %d", len(got), n)
	}
	for k, c := range got {
		if c != 1 {
			t.Errorf("%s delivered %d times", k, c)
		}
	}
}
