package outbox

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/mail/submit"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

// fakeClock is a Clock tests move by hand.
type fakeClock struct {
	mu      sync.Mutex
	t       time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.t
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{c.t.Add(d), ch})
	return ch
}

// Set moves the clock to t (never back) and fires due timers.
func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.t) {
			w.ch <- c.t
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

func (c *fakeClock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// env is one test's database, outbox and clock.
type env struct {
	t     testing.TB
	ctx   context.Context
	db    *sqlitedb.DB
	st    *store.Store
	ob    *Outbox
	clock Clock
}

func openEnv(t testing.TB, path string, clock Clock, p *Policy) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitedb.Open(path, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := store.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := Open(ctx, st, clock)
	if err != nil {
		t.Fatal(err)
	}
	ob.Policy = p
	return &env{t: t, ctx: ctx, db: db, st: st, ob: ob, clock: ob.Clock}
}

func newEnv(t testing.TB, clock Clock, p *Policy) *env {
	return openEnv(t, filepath.Join(t.TempDir(), "mailroom.db"), clock, p)
}

// fastPolicy retries every 10 ms: for tests on the wall clock.
func fastPolicy() *Policy {
	p := DefaultPolicy()
	p.Schedule = []time.Duration{10 * time.Millisecond}
	p.RetryEvery = 10 * time.Millisecond
	p.MinGap = 10 * time.Millisecond
	p.ProbeInterval = 10 * time.Millisecond
	p.Jitter = 0
	return &p
}

var msgSeq atomic.Int64

// body builds a small RFC 5322 message.
func body(subject string, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: alice@example.test\r\nTo: undisclosed-recipients:;\r\nSubject: %s\r\nMessage-ID: <%s@example.test>\r\n\r\n", subject, subject)
	line := strings.Repeat("x", 70) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return []byte(b.String())
}

// message is a one-copy message to rcpts on account "acct".
func message(rcpts ...string) Message {
	n := msgSeq.Add(1)
	subj := fmt.Sprintf("m%d-%d", time.Now().UnixNano(), n)
	c := Copy{EnvID: "env-" + subj, Body: body(subj, 300)}
	for _, r := range rcpts {
		c.Recipients = append(c.Recipients, Recipient{Address: r})
	}
	return Message{Account: "acct", From: "alice@example.test", Subject: subj,
		MessageID: "<" + subj + "@example.test>", Copies: []Copy{c}}
}

func (e *env) enqueue(m Message) string {
	e.t.Helper()
	id, err := e.ob.Enqueue(e.ctx, m)
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) message(id string) MessageState {
	e.t.Helper()
	m, err := e.ob.Message(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// statuses maps address to status for one message.
func (e *env) statuses(id string) map[string]tracking.Status {
	out := map[string]tracking.Status{}
	for _, r := range e.message(id).Recipients {
		out[r.Address] = r.Status
	}
	return out
}

func (e *env) events(id, addr string) []tracking.Event {
	e.t.Helper()
	for _, r := range e.message(id).Recipients {
		if r.Address == addr {
			evs, err := e.st.Events(e.ctx, r.ID)
			if err != nil {
				e.t.Fatal(err)
			}
			return evs
		}
	}
	e.t.Fatalf("no recipient %s in %s", addr, id)
	return nil
}

func kinds(evs []tracking.Event) string {
	var k []string
	for _, e := range evs {
		k = append(k, string(e.Kind))
	}
	return strings.Join(k, ",")
}

// peerDialer dials an smtptest peer through the real submit client. The
// peer can be swapped (a server that recovers) with set.
type peerDialer struct {
	mu    sync.Mutex
	srv   *smtptest.Server
	ep    mail.Endpoint
	dials atomic.Int64
	wrap  func(mail.Session) mail.Session
}

func newPeerDialer(srv *smtptest.Server) *peerDialer {
	d := &peerDialer{}
	d.set(srv)
	return d
}

func (d *peerDialer) set(srv *smtptest.Server) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.srv, d.ep = srv, srv.Endpoint()
}

func (d *peerDialer) Dial(ctx context.Context, account string) (mail.Session, error) {
	d.dials.Add(1)
	d.mu.Lock()
	srv, ep, wrap := d.srv, d.ep, d.wrap
	d.mu.Unlock()
	s, err := submit.Dial(ctx, submit.Options{Endpoint: ep, RootCAs: srv.CAPool(),
		DialTimeout: 2 * time.Second, CommandTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, FinalReplyTimeout: 5 * time.Second})
	if err != nil || wrap == nil {
		return s, err
	}
	return wrap(s), nil
}

// delivered counts deliveries per "envid rcpt" at a peer.
func delivered(srvs ...*smtptest.Server) map[string]int {
	out := map[string]int{}
	for _, s := range srvs {
		for _, m := range s.Received() {
			for _, r := range m.Rcpts {
				out[m.EnvID+" "+strings.ToLower(r.Addr)]++
			}
		}
	}
	return out
}

func (e *env) runner(d Dialer) *Runner {
	return &Runner{Outbox: e.ob, Dialer: d, Logf: e.t.Logf}
}

func (e *env) runOnce(r *Runner) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	if err := r.RunOnce(ctx); err != nil {
		e.t.Fatal(err)
	}
}
