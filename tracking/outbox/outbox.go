// Package outbox owns Mailroom's durable outbox: the queue of messages not
// yet handed over, the retry policy, and the runner that submits them
// through a Dialer (package app wires it to mail/submit) and records what
// each server said, per recipient, as events in the event store.
//
// Invariants (DESIGN.md section 3):
//   - Never lost: Enqueue commits the message bytes, envelope, every
//     recipient and a "queued" event per recipient in one transaction with
//     synchronous=FULL.
//   - Attempt first: an attempt (start, number, next retry time, the
//     message's crash count) is committed before connecting, so after a
//     crash nothing is retried hot: the committed retry time is the cool-off.
//     On a session that goes on, the next copies (up to claimAhead) are
//     claimed with the result's commit, or in a commit of their own after
//     a logged acceptance, and while the last prefetchAt of
//     them go out the following ones are claimed in the background; each
//     attempt is committed before any byte of its copy is sent. Copies
//     claimed ahead and not sent when the worker stops, or canceled
//     meanwhile, are given back ("skipped").
//   - Result before the next message: a transaction's result is recorded
//     before the session sends anything else. A clean acceptance (every
//     recipient accepted, see resultLog) is a record in the result log,
//     which an applier commits with others and a start replays; anything
//     else is committed at once. The next copies are then claimed in a
//     commit of their own.
//   - Per-recipient progress: only recipients not yet final are retried; an
//     attempt carries only the due, unfinished recipients of one copy.
//   - Duplicates only in the known window: an attempt records that the
//     session has read the whole body (just before "."; a hand-over mark,
//     see handOver, or body_sent); a crash after that point makes the
//     recipient uncertain ("may have been sent twice"), before it plainly
//     deferred.
//   - Events are the truth: every state change is a store.AddEvent; the
//     recipients.status column is the cache store.Refresh keeps.
//   - One sender per database: recovery treats every in-flight attempt it
//     finds at start as interrupted by a crash, so a Runner first takes an
//     exclusive lock beside the database (flock, released by the kernel
//     when the process dies).
package outbox

import (
	"context"
	"embed"
	"fmt"
	"sync"
	"time"

	"mailroom/mail"
	"mailroom/tracking/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Dialer opens an authenticated submission session for an account. The app
// wires it to mail/submit; tests dial in-process peers. The error should be
// a *mail.Error so the outbox can tell an unreachable server (circuit
// breaker) from a refused password (pause).
type Dialer interface {
	Dial(ctx context.Context, account string) (mail.Session, error)
}

// DialerFunc adapts a function to Dialer.
type DialerFunc func(ctx context.Context, account string) (mail.Session, error)

// Dial calls f.
func (f DialerFunc) Dial(ctx context.Context, account string) (mail.Session, error) {
	return f(ctx, account)
}

// Clock is the outbox's source of time, injected so tests control it.
type Clock interface {
	Now() time.Time
	// After is time.After on this clock.
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Outbox is the queue: enqueue, control (cancel, retry now, pause, resume,
// release) and the read API for the Outbox screen and the CLI. The Runner
// does the sending.
type Outbox struct {
	Store *store.Store
	Clock Clock
	// Policy, when nil, is read from the settings table whenever it is
	// needed, so `mailroom config set outbox.*` applies without a restart.
	Policy *Policy
	// OnChange, when set, is called after every commit that changed a
	// message, with its id, so the UI can refresh live. It must not block
	// (the UI's Broadcast coalesces).
	OnChange func(messageID string)

	kick  chan struct{}
	stmts stmts
	// handover holds the hand-over marks while a Runner of this process
	// holds the sender lock (set before its workers start, cleared after
	// they stop); nil otherwise, and body_sent is committed instead.
	handover *handOver
	// results is the result log (results.go), held like handover.
	results *resultLog

	mu   sync.Mutex
	last time.Time // monotonic guard for event times
}

// Open applies the outbox migrations (after the core ones, which
// store.OpenStore applied) and returns the outbox.
func Open(ctx context.Context, st *store.Store, clock Clock) (*Outbox, error) {
	if err := st.DB.Migrate(ctx, "outbox", migrations, "migrations"); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if clock == nil {
		clock = SystemClock{}
	}
	o := &Outbox{Store: st, Clock: clock, kick: make(chan struct{}, 1)}
	if err := o.prepare(ctx); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	return o, nil
}

// now is Clock.Now, never earlier than a time it returned before in this
// process: tracking.Derive orders events by time, so a clock stepped back
// must not reorder a recipient's timeline.
func (o *Outbox) now() time.Time {
	t := o.Clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if t.Before(o.last) {
		t = o.last
	}
	o.last = t
	return t
}

// policy returns the policy in force.
func (o *Outbox) policy(ctx context.Context) (Policy, error) {
	if o.Policy != nil {
		p := *o.Policy
		if err := p.Validate(); err != nil {
			return Policy{}, fmt.Errorf("outbox policy: %w", err)
		}
		return p, nil
	}
	return LoadPolicy(ctx, o.Store)
}

// Kick wakes a running Runner (after Enqueue, RetryNow, Resume ...).
func (o *Outbox) Kick() {
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// Kicks is the channel a Runner waits on.
func (o *Outbox) Kicks() <-chan struct{} { return o.kick }

func (o *Outbox) changed(ids ...string) {
	if o.OnChange == nil {
		return
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			o.OnChange(id)
		}
	}
}
