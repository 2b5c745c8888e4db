package outbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"mailroom/tracking/store"
)

// Runner sends what is due (with the Outbox's Clock and Policy): per
// account up to Policy.MaxConnections
// sessions, each reused for as many due copies as there are, paced by the
// rate limit, guarded by the circuit breaker and the pause.
//
// One sender per database: each run holds an exclusive lock beside the
// database file (ErrBusy when another process holds it). Run and RunOnce
// of one Runner must not overlap.
type Runner struct {
	Outbox *Outbox
	Dialer Dialer
	// Poll is the longest Run sleeps without looking at the database (a
	// CLI process may have enqueued without kicking). Default 5 s.
	Poll time.Duration
	// Logf, when set, receives one line per notable event (dial failures,
	// panics, recovery).
	Logf func(format string, args ...any)
	// Rand returns uniform numbers in [0, 1) for jitter; default math/rand.
	Rand func() float64

	// Test-only switches (set from tests in this package, never by the
	// app): hook is called at named points of an attempt; unsafeOrder
	// commits "accepted" before sending, the deliberately wrong order the
	// crash soak must catch.
	hook        func(hookInfo)
	unsafeOrder bool
	// applyFault, when set, is asked before each applier batch and fails
	// it with the error it returns: a database that stops taking writes.
	applyFault func() error

	lock io.Closer // the sender lock, held while a run is in progress
	// applyCh feeds the applier the result log's records (nil without a
	// result log); set before the workers start, cleared after they stop.
	applyCh chan pendingResult
	mu      sync.Mutex
	lanes   map[string]*lane
	active  int
	wg      sync.WaitGroup
	wake    chan struct{}
	pol     Policy
	fatal   error
	cancel  context.CancelCauseFunc
}

// lane is one account's sending state in this process (guarded by
// Runner.mu).
type lane struct {
	account  string
	workers  int
	healthy  bool // a session came up since the lane started or the breaker closed
	probe    bool // breaker open: the next worker dials before claiming anything
	stop     bool // stop taking work (paused, breaker opened)
	buf      []int64
	inflight map[int64]bool
	nextSlot time.Time // rate limit
}

// hookInfo is what a test hook sees.
type hookInfo struct {
	Point    string
	EnvID    string
	Accepted []string // at "replied": recipients the server accepted, not yet recorded
}

// Hook points.
const (
	hookAttempt   = "attempt-committed" // claim committed, before dialing
	hookDialed    = "dialed"            // session established
	hookBodyStart = "body-start"        // 354 received, first body read
	hookMidBody   = "mid-body"          // half the body read
	hookBodyRead  = "body-read"         // body_sent committed, "." about to go out
	hookReplied   = "replied"           // Send returned, result not yet committed
	hookRecorded  = "recorded"          // result committed
	hookRecovered = "recovered"         // startup recovery committed
)

func (r *Runner) callHook(h hookInfo) {
	if r.hook != nil {
		r.hook(h)
	}
}

func (r *Runner) logf(format string, args ...any) {
	if r.Logf != nil {
		r.Logf(format, args...)
	}
}

func (r *Runner) now() time.Time { return r.Outbox.now() }

func (r *Runner) rand() float64 {
	if r.Rand != nil {
		return r.Rand()
	}
	return rand.Float64()
}

func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *Runner) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fatal == nil {
		r.fatal = err
	}
	if r.cancel != nil {
		r.cancel(err)
	}
}

// Run sends until ctx ends: it wakes at the next due time, on Kick (after
// Enqueue, RetryNow, Resume) and at least every Poll. It returns ctx's
// error, or the first database error (the caller may restart it; recovery
// then returns any in-flight work to the queue).
func (r *Runner) Run(ctx context.Context) error { return r.run(ctx, false) }

// RunOnce sends until nothing is due now (including retries that become
// due while it runs), then returns. `mailroom run --once` uses it.
func (r *Runner) RunOnce(ctx context.Context) error { return r.run(ctx, true) }

// ErrBusy means another process is sending from the same database: two
// senders would each take the other's in-flight work for a crash.
var ErrBusy = errors.New("another Mailroom process is sending from this database")

// SenderBusy reports whether another process (a second window, or
// `mailroom run`) holds this database's sender lock, with its pid when
// known: a Runner started here would then refuse with ErrBusy. It only
// looks and takes nothing.
func (o *Outbox) SenderBusy() (pid int, busy bool) {
	if o.Store.DB.Path == "" {
		return 0, false
	}
	return senderHeld(o.Store.DB.Path + "-sender.lock")
}

// start takes the sender lock and recovers what a crashed sender left in
// flight. Every run does both: between runs this Runner has nothing in
// flight, and another process may have sent (and crashed) meanwhile.
func (r *Runner) start(ctx context.Context) error {
	if r.Outbox == nil || r.Dialer == nil {
		return errors.New("outbox runner: Outbox and Dialer are required")
	}
	r.mu.Lock()
	if r.wake == nil {
		r.wake = make(chan struct{}, 1)
		r.lanes = map[string]*lane{}
	}
	r.fatal = nil
	r.mu.Unlock()
	if path := r.Outbox.Store.DB.Path; path != "" {
		l, err := lockSender(path + "-sender.lock")
		if err != nil {
			return fmt.Errorf("outbox runner: %w", err)
		}
		r.lock = l
		h, err := openHandOver(path + "-sending")
		if err != nil {
			r.unlock()
			return err
		}
		r.Outbox.handover = h
		rl, err := openResultLog(path + "-results")
		if err != nil {
			r.unlock()
			return err
		}
		r.Outbox.results = rl
	}
	p, err := r.loadPolicy(ctx)
	if l := r.Outbox.results; err == nil && l != nil && len(l.found) > 0 {
		// Acceptances a previous run logged and did not apply: they
		// close their attempts before Recover takes the rest for crashed.
		var msgs []string
		if msgs, err = r.Outbox.applyResults(ctx, l.found); err == nil && len(msgs) > 0 {
			r.logf("outbox: applied the acceptances a previous run logged for %d messages", len(msgs))
			r.Outbox.changed(msgs...)
		}
	}
	if err == nil {
		var n int
		if n, err = r.Outbox.Recover(ctx, p); n > 0 {
			r.logf("outbox: recovered %d recipients left in flight by a previous run", n)
		}
	}
	if err == nil && r.Outbox.handover != nil {
		// The marks and records belonged to attempts now closed.
		err = r.Outbox.handover.clear()
	}
	if l := r.Outbox.results; err == nil && l != nil {
		if err = l.clear(); err == nil {
			l.reset()
		}
	}
	if err != nil {
		r.unlock()
		return err
	}
	r.callHook(hookInfo{Point: hookRecovered})
	return nil
}

func (r *Runner) unlock() {
	if h := r.Outbox.handover; h != nil {
		h.Close()
		r.Outbox.handover = nil
	}
	if l := r.Outbox.results; l != nil {
		l.Close()
		r.Outbox.results = nil
	}
	if r.lock != nil {
		r.lock.Close()
		r.lock = nil
	}
}

func (r *Runner) loadPolicy(ctx context.Context) (Policy, error) {
	p, err := r.Outbox.policy(ctx)
	if err != nil {
		return Policy{}, err
	}
	r.mu.Lock()
	r.pol = p
	r.mu.Unlock()
	return p, nil
}

func (r *Runner) policy() Policy {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pol
}

func (r *Runner) run(parent context.Context, once bool) error {
	if err := r.start(parent); err != nil {
		return err
	}
	defer r.unlock()
	// drainApplier applies every logged acceptance, once the workers have
	// stopped; an error it meets is the run's (r.fatal).
	drainApplier := func() {}
	if r.Outbox.results != nil {
		ch, done := make(chan pendingResult, 4*maxApplyBatch), make(chan struct{})
		r.mu.Lock()
		r.applyCh = ch
		r.mu.Unlock()
		go r.applier(parent, ch, done)
		var once sync.Once
		drainApplier = func() {
			once.Do(func() {
				r.mu.Lock()
				r.applyCh = nil
				r.mu.Unlock()
				close(ch)
				<-done
			})
		}
		// After the workers have stopped (the deferred call below runs
		// first), on every way out.
		defer drainApplier()
	}
	ctx, cancel := context.WithCancelCause(parent)
	r.mu.Lock()
	r.cancel = cancel
	r.mu.Unlock()
	defer func() {
		cancel(nil)
		r.wg.Wait()
		r.mu.Lock()
		r.cancel = nil
		r.mu.Unlock()
	}()
	poll := r.Poll
	if poll <= 0 {
		poll = 5 * time.Second
	}
	for {
		if ctx.Err() != nil {
			break
		}
		started, wake, err := r.dispatch(ctx)
		if err != nil {
			r.fail(err)
			break
		}
		r.mu.Lock()
		active := r.active
		r.mu.Unlock()
		if once && active == 0 && started == 0 {
			break
		}
		var timer <-chan time.Time
		if !once {
			d := poll
			if !wake.IsZero() {
				d = min(d, max(wake.Sub(r.now()), 0))
			}
			timer = r.Outbox.Clock.After(d)
		}
		select {
		case <-ctx.Done():
		case <-r.wake:
		case <-r.Outbox.kick:
		case <-timer:
		}
	}
	cancel(nil)
	r.wg.Wait()
	drainApplier()
	r.mu.Lock()
	err := r.fatal
	r.mu.Unlock()
	if err != nil {
		return err
	}
	if !once {
		return parent.Err()
	}
	return nil
}

// dispatch starts workers for accounts with due work and returns the
// earliest future time something becomes due (zero: nothing scheduled).
func (r *Runner) dispatch(ctx context.Context) (started int, wake time.Time, err error) {
	p, err := r.loadPolicy(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	now := r.now()
	due, err := r.Outbox.dueSummary(ctx, now)
	if err != nil {
		return 0, time.Time{}, err
	}
	states, err := r.Outbox.Accounts(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	earliest := func(t time.Time) {
		if wake.IsZero() || t.Before(wake) {
			wake = t
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range due {
		st := states[d.account]
		ln := r.lanes[d.account]
		if ln == nil {
			ln = &lane{account: d.account, inflight: map[int64]bool{}}
			r.lanes[d.account] = ln
		}
		if ln.workers == 0 {
			ln.stop, ln.buf = false, nil
		}
		if st.Paused() || ln.stop {
			continue
		}
		want := 0
		switch {
		case st.BreakerOpen():
			ln.healthy = false
			if st.NextProbe.After(now) {
				earliest(st.NextProbe)
				continue
			}
			if ln.workers == 0 {
				ln.probe, want = true, 1
			}
		case d.dueNow > 0:
			want = min(p.MaxConnections, d.dueNow)
			if !ln.healthy {
				// Slow start: one connection until one works, so that a
				// dead server costs one dial, not one per message.
				want = 1
			}
		default:
			earliest(d.next)
			continue
		}
		for ln.workers < want {
			ln.workers++
			r.active++
			started++
			r.wg.Add(1)
			go r.worker(ctx, ln)
		}
	}
	return started, wake, nil
}

type accountDue struct {
	account string
	dueNow  int       // unfinished recipients due now
	next    time.Time // earliest next attempt
}

// dueSummary groups the unfinished, unheld recipients by account.
func (o *Outbox) dueSummary(ctx context.Context, now time.Time) ([]accountDue, error) {
	rows, err := o.Store.DB.R.QueryContext(ctx, `SELECT m.account, sum(r.next_attempt_at <= ?), min(r.next_attempt_at)
		FROM recipients r JOIN messages m ON m.id=r.message
		WHERE r.status IN ('queued','deferred','uncertain') AND m.held_reason=''
		GROUP BY m.account`, store.Millis(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []accountDue
	for rows.Next() {
		var d accountDue
		var next int64
		if err := rows.Scan(&d.account, &d.dueNow, &next); err != nil {
			return nil, err
		}
		d.next = store.FromMillis(next)
		out = append(out, d)
	}
	return out, rows.Err()
}

// dueCopies lists copies of an account with a recipient due now, earliest
// first.
func (o *Outbox) dueCopies(ctx context.Context, account string, now time.Time, limit int) ([]int64, error) {
	rows, err := o.Store.DB.R.QueryContext(ctx, `SELECT r.copy FROM recipients r JOIN messages m ON m.id=r.message
		WHERE r.status IN ('queued','deferred','uncertain') AND r.next_attempt_at <= ? AND m.account=? AND m.held_reason=''
		GROUP BY r.copy ORDER BY min(r.next_attempt_at), r.copy LIMIT ?`, store.Millis(now), account, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
