package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/mail/smtptest"
	"mailroom/tracking"
)

// Run wakes on Kick after Enqueue (not on its poll), sends, and reports
// changes so the UI can refresh live.
func TestRunWakesOnEnqueueAndNotifies(t *testing.T) {
	e := newEnv(t, SystemClock{}, fastPolicy())
	var mu sync.Mutex
	changed := map[string]int{}
	e.ob.OnChange = func(id string) {
		mu.Lock()
		changed[id]++
		mu.Unlock()
	}
	srv := smtptest.Start(t, smtptest.Config{})
	r := e.runner(newPeerDialer(srv))
	r.Poll = time.Hour // only Kick can wake it
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	time.Sleep(50 * time.Millisecond) // Run is asleep
	start := time.Now()
	id := e.enqueue(message("bob@example.test"))
	for e.statuses(id)["bob@example.test"] != tracking.Accepted {
		if time.Since(start) > 5*time.Second {
			t.Fatal("Run did not wake on enqueue")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("accepted %v after enqueue", time.Since(start).Round(time.Millisecond))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if changed[id] < 3 { // enqueue, attempt, result
		t.Errorf("%d change notifications, want at least 3", changed[id])
	}
}

// 20 due messages, max_connections 2: at most two sessions, each reused
// for many transactions; one connection first (slow start).
func TestConnectionLimitAndReuse(t *testing.T) {
	e := newEnv(t, newFakeClock(), nil)
	srv := smtptest.Start(t, smtptest.Config{})
	d := newPeerDialer(srv)
	r := e.runner(d)
	for i := 0; i < 20; i++ {
		e.enqueue(message("bob@example.test"))
	}
	e.runOnce(r)
	if n := len(srv.Received()); n != 20 {
		t.Fatalf("%d delivered", n)
	}
	if c := srv.Conns(); c < 1 || c > 2 {
		t.Errorf("%d connections for 20 messages, want 1-2", c)
	}
	perConn := map[int]int{}
	for _, m := range srv.Received() {
		perConn[m.Conn]++
	}
	t.Logf("transactions per connection: %v", perConn)
	for _, tr := range srv.Transcripts() {
		if q := strings.Count(string(tr.Plain), "QUIT"); q != 1 {
			t.Errorf("connection %d: %d QUIT", tr.Conn, q)
		}
	}
}

// rate_per_minute paces transactions per account.
func TestRateLimit(t *testing.T) {
	p := fastPolicy()
	p.RatePerMinute = 600 // one per 100 ms
	e := newEnv(t, SystemClock{}, p)
	srv := smtptest.Start(t, smtptest.Config{})
	r := e.runner(newPeerDialer(srv))
	for i := 0; i < 5; i++ {
		e.enqueue(message("bob@example.test"))
	}
	start := time.Now()
	e.runOnce(r)
	if el := time.Since(start); el < 380*time.Millisecond {
		t.Errorf("5 messages at 600/min took %v, want ≥ 400 ms", el)
	}
	if n := len(srv.Received()); n != 5 {
		t.Errorf("%d delivered", n)
	}
}

// Recovery after a crash: an attempt found in flight comes back deferred
// (nothing handed over) or uncertain (body handed over), at the retry time
// committed with the attempt, never hot; the crash count stays.
func TestRecoverInFlight(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, clock, nil)
	p := DefaultPolicy()
	id1 := e.enqueue(message("bob@example.test"))
	id2 := e.enqueue(message("carol@example.test"))
	claimAll := func() []*job {
		var jobs []*job
		cids, err := e.ob.dueCopies(e.ctx, "acct", clock.Now(), 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cids {
			j, err := e.ob.claim(e.ctx, c, p, 0.5)
			if err != nil || j == nil {
				t.Fatal(j, err)
			}
			jobs = append(jobs, j)
		}
		return jobs
	}
	jobs := claimAll()
	if s := e.statuses(id1)["bob@example.test"]; s != tracking.Sending {
		t.Fatalf("claimed recipient is %s", s)
	}
	if err := e.ob.markBodySent(e.ctx, jobs[1].attempt); err != nil {
		t.Fatal(err)
	}
	// "Crash": a new outbox on the same database recovers.
	clock.Advance(time.Second)
	n, err := e.ob.Recover(e.ctx, p)
	if err != nil || n != 2 {
		t.Fatalf("recovered %d, %v", n, err)
	}
	m1, m2 := e.message(id1), e.message(id2)
	if m1.Recipients[0].Status != tracking.Deferred || m2.Recipients[0].Status != tracking.Uncertain {
		t.Errorf("after recovery: %s / %s", m1.Recipients[0].Status, m2.Recipients[0].Status)
	}
	if want := jobs[0].started.Add(time.Minute); !m1.Recipients[0].NextAttempt.Equal(want) {
		t.Errorf("retry at %v, want the committed %v", m1.Recipients[0].NextAttempt, want)
	}
	if m1.CrashCount != 1 {
		t.Errorf("crash count %d", m1.CrashCount)
	}
	evs := e.events(id2, "carol@example.test")
	if d := decodeDetail(t, evs[len(evs)-1]); d["may_have_been_sent_twice"] != true {
		t.Errorf("uncertain after recovery: %s", evs[len(evs)-1].Detail)
	}
	// Two more crashes of the same message: held as poison.
	for i := 0; i < 2; i++ {
		clock.Advance(time.Hour)
		claimAll()
		if _, err := e.ob.Recover(e.ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if m := e.message(id1); m.Held == "" || m.CrashCount != 3 {
		t.Errorf("after 3 crashes: held %q count %d", m.Held, m.CrashCount)
	}
}

func TestPolicyFromSettings(t *testing.T) {
	p, err := PolicyFromSettings(map[string]string{
		"outbox.retry_schedule": "10s, 30s,2m", "outbox.retry_every": "1h", "outbox.jitter": "0.2",
		"outbox.lifetime": "3d", "outbox.min_gap": "5s", "outbox.uncertain_policy": "hold",
		"outbox.max_connections": "4", "outbox.rate_per_minute": "30",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Schedule) != 3 || p.Schedule[2] != 2*time.Minute || p.RetryEvery != time.Hour || p.Jitter != 0.2 ||
		p.Lifetime != 72*time.Hour || p.MinGap != 5*time.Second || p.Uncertain != HoldUncertain ||
		p.MaxConnections != 4 || p.RatePerMinute != 30 {
		t.Errorf("policy %+v", p)
	}
	for _, bad := range []map[string]string{
		{"outbox.retry_schedule": "5m,1m"},
		{"outbox.jitter": "0.9"},
		{"outbox.uncertain_policy": "maybe"},
		{"outbox.max_connections": "0"},
		{"outbox.lifetime": "soon"},
		{"outbox.retry_every": "1m"}, // shorter than the last scheduled gap
	} {
		if _, err := PolicyFromSettings(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// Stored settings are read by LoadPolicy.
	e := newEnv(t, nil, nil)
	if err := e.st.SetSetting(e.ctx, "outbox.retry_schedule", "2m,4m"); err != nil {
		t.Fatal(err)
	}
	lp, err := LoadPolicy(e.ctx, e.st)
	if err != nil || len(lp.Schedule) != 2 || lp.RetryEvery != 4*time.Hour {
		t.Errorf("loaded %+v %v", lp, err)
	}
}

// Enqueue commits everything or nothing, refuses nonsense and is
// idempotent per Message-ID.
func TestEnqueue(t *testing.T) {
	e := newEnv(t, newFakeClock(), nil)
	m := message("bob@example.test", "carol@example.test")
	m.Copies[0].Recipients[1].Kind = KindBcc
	id := e.enqueue(m)
	again, err := e.ob.Enqueue(e.ctx, m)
	if !errors.Is(err, ErrDuplicate) || again != id {
		t.Errorf("second enqueue: %q %v", again, err)
	}
	for _, bad := range []func(*Message){
		func(m *Message) { m.Account = "" },
		func(m *Message) { m.MessageID = "no-brackets" },
		func(m *Message) { m.Copies = nil },
		func(m *Message) {
			m.Copies[0].Recipients = append(m.Copies[0].Recipients, Recipient{Address: "BOB@example.test"})
		},
		func(m *Message) { m.Copies[0].Recipients[0].Address = "bob@example.test\r\nRCPT TO:<x@y>" },
		func(m *Message) { m.Copies[0].EnvID = "has space" },
		func(m *Message) { m.Copies[0].Body = nil },
	} {
		mm := message("bob@example.test")
		bad(&mm)
		if _, err := e.ob.Enqueue(e.ctx, mm); err == nil {
			t.Errorf("accepted %+v", mm)
		}
	}
	var n int
	e.db.R.QueryRow(`SELECT count(*) FROM messages`).Scan(&n)
	if n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}
	ms := e.message(id)
	if ms.Recipients[1].Kind != KindBcc || ms.Progress.Total != 2 || ms.Progress.ByStatus[tracking.Queued] != 2 {
		t.Errorf("state %+v", ms)
	}
	evs := e.events(id, "bob@example.test")
	if len(evs) != 1 || evs[0].Kind != tracking.EvQueued {
		t.Errorf("events %v", evs)
	}
	var envid string
	e.db.R.QueryRow(`SELECT envid FROM copies`).Scan(&envid)
	if envid != m.Copies[0].EnvID {
		t.Errorf("envid %q", envid)
	}
}

// A second sender on the same database is refused while the first runs,
// and may start once it has stopped.
func TestOneSenderPerDatabase(t *testing.T) {
	e := newEnv(t, SystemClock{}, fastPolicy())
	srv := smtptest.Start(t, smtptest.Config{})
	r1, r2 := e.runner(newPeerDialer(srv)), e.runner(newPeerDialer(srv))
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan error, 1)
	started := make(chan struct{})
	r1.hook = func(h hookInfo) {
		if h.Point == hookRecovered {
			close(started)
		}
	}
	go func() { done <- r1.Run(ctx) }()
	<-started
	if err := r2.RunOnce(e.ctx); !errors.Is(err, ErrBusy) {
		t.Fatalf("second runner: %v, want ErrBusy", err)
	}
	cancel()
	<-done
	e.enqueue(message("bob@example.test"))
	e.runOnce(r2)
	if n := len(srv.Received()); n != 1 {
		t.Errorf("%d delivered", n)
	}
}

// Enqueue inserts recipients many per statement: every recipient of a
// message larger than one batch, shared and personalized copies mixed,
// gets its own row on its own copy and its own "queued" event.
func TestEnqueueManyRecipients(t *testing.T) {
	e := newEnv(t, newFakeClock(), nil)
	m := message()
	m.Copies = nil
	var shared Copy
	shared.EnvID, shared.Body = "shared-1", body(m.Subject, 100)
	n := 0
	for i := 0; i < rcptBatch+37; i++ {
		a := fmt.Sprintf("u%d@example.test", i)
		if i%3 == 0 {
			shared.Recipients = append(shared.Recipients, Recipient{Address: a, Kind: KindCc})
		} else {
			m.Copies = append(m.Copies, Copy{EnvID: fmt.Sprintf("p-%d", i), Body: body(a, 100), Recipients: []Recipient{{Address: a, Trackable: true}}})
		}
		n++
	}
	m.Copies = append(m.Copies, shared)
	id := e.enqueue(m)
	rows, err := e.db.R.Query(`SELECT r.address, r.kind, r.trackable, c.envid, r.status,
		(SELECT count(*) FROM events v WHERE v.recipient=r.id AND v.kind='queued') FROM recipients r JOIN copies c ON c.id=r.copy WHERE r.message=?`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var a, kind, envid, status string
		var trackable bool
		var queued int
		if err := rows.Scan(&a, &kind, &trackable, &envid, &status, &queued); err != nil {
			t.Fatal(err)
		}
		var i int
		fmt.Sscanf(a, "u%d@", &i)
		wantEnv, wantKind := fmt.Sprintf("p-%d", i), KindTo
		if i%3 == 0 {
			wantEnv, wantKind = "shared-1", KindCc
		}
		if envid != wantEnv || kind != wantKind || trackable != (i%3 != 0) || status != "queued" || queued != 1 {
			t.Errorf("%s: copy %s kind %s trackable %v status %s queued events %d", a, envid, kind, trackable, status, queued)
		}
		got++
	}
	if got != n {
		t.Fatalf("%d recipients stored, want %d", got, n)
	}
}

// TestEnqueueAlsoCommitsWithTheMessage: what Message.Also writes commits
// with the message, and its error queues nothing at all.
func TestEnqueueAlsoCommitsWithTheMessage(t *testing.T) {
	e := newEnv(t, newFakeClock(), nil)
	if _, err := e.db.W.Exec(`CREATE TABLE side(message TEXT)`); err != nil {
		t.Fatal(err)
	}
	side := func(ctx context.Context, tx *sql.Tx, id string) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO side(message) VALUES(?)`, id)
		return err
	}
	m := message("bob@example.test")
	m.Also = side
	id := e.enqueue(m)

	bad := message("carol@example.test")
	bad.Also = func(ctx context.Context, tx *sql.Tx, id string) error {
		if err := side(ctx, tx, id); err != nil {
			return err
		}
		return errors.New("disk full")
	}
	if _, err := e.ob.Enqueue(e.ctx, bad); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("enqueue with a failing Also: %v", err)
	}
	var msgs, sides int
	var got string
	e.db.R.QueryRow(`SELECT count(*) FROM messages`).Scan(&msgs)
	e.db.R.QueryRow(`SELECT count(*), max(message) FROM side`).Scan(&sides, &got)
	if msgs != 1 || sides != 1 || got != id {
		t.Errorf("messages %d, side rows %d (%q), want 1, 1 (%q)", msgs, sides, got, id)
	}
}
