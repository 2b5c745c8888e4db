//go:build unix

package outbox

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/mail/submit"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

// The crash tests run the runner in a separate process: this test binary,
// re-executed with MAILROOM_OUTBOX_HELPER set, which TestMain sends to
// helperMain instead of the tests. The parent kills it with SIGKILL (or it
// kills itself at a named point), restarts it, and checks what the peer
// received against what the database says.
const (
	envHelper     = "MAILROOM_OUTBOX_HELPER"       // "drain"
	envDB         = "MAILROOM_OUTBOX_DB"           // database file
	envPeer       = "MAILROOM_OUTBOX_PEER"         // smtptest address host:port
	envCA         = "MAILROOM_OUTBOX_CA"           // the peer's CA (PEM file)
	envMarkers    = "MAILROOM_OUTBOX_MARKERS"      // marker file (B/R/C lines per ENVID)
	envKillAt     = "MAILROOM_OUTBOX_KILL_AT"      // hook point at which the helper SIGKILLs itself
	envEnqueue    = "MAILROOM_OUTBOX_ENQUEUE"      // JSON Message to enqueue first
	envUnsafe     = "MAILROOM_OUTBOX_UNSAFE_ORDER" // "1": commit "accepted" before sending (negative control)
	envCrashLimit = "MAILROOM_OUTBOX_CRASH_LIMIT"
)

// hookEnqueued is the helper's own kill point right after Enqueue returned.
const hookEnqueued = "enqueued"

func TestMain(m *testing.M) {
	if os.Getenv(envHelper) != "" {
		os.Exit(helperMain())
	}
	os.Exit(m.Run())
}

func killSelf() {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// helperMain is the child process: open the database, optionally enqueue,
// then run until nothing is left (exit 0), only held messages are left
// (exit 3), or an error (exit 1).
func helperMain() int {
	ctx := context.Background()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	db, err := sqlitedb.Open(os.Getenv(envDB), sqlitedb.Options{})
	if err != nil {
		return fail(err)
	}
	defer db.Close()
	st, err := store.OpenStore(ctx, db)
	if err != nil {
		return fail(err)
	}
	ob, err := Open(ctx, st, nil)
	if err != nil {
		return fail(err)
	}
	p := fastPolicy()
	if v := os.Getenv(envCrashLimit); v != "" {
		p.CrashLimit, _ = strconv.Atoi(v)
	}
	ob.Policy = p
	killAt := os.Getenv(envKillAt)
	if f := os.Getenv(envEnqueue); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return fail(err)
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			return fail(err)
		}
		if _, err := ob.Enqueue(ctx, m); err != nil {
			return fail(err)
		}
		if killAt == hookEnqueued {
			killSelf()
		}
	}
	pem, err := os.ReadFile(os.Getenv(envCA))
	if err != nil {
		return fail(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	host, port, err := mail.ParseHostPort(os.Getenv(envPeer))
	if err != nil {
		return fail(err)
	}
	ep := mail.Endpoint{Host: host, Port: port, Security: mail.StartTLS, Username: "user",
		Password: func(context.Context) (string, error) { return "secret", nil }}
	dial := DialerFunc(func(ctx context.Context, _ string) (mail.Session, error) {
		return submit.Dial(ctx, submit.Options{Endpoint: ep, RootCAs: pool, DialTimeout: 5 * time.Second,
			CommandTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, FinalReplyTimeout: 5 * time.Second})
	})
	r := &Runner{Outbox: ob, Dialer: dial}
	r.unsafeOrder = os.Getenv(envUnsafe) == "1"
	var markers *os.File
	if f := os.Getenv(envMarkers); f != "" {
		// O_APPEND writes land in the page cache at once: a SIGKILL
		// right after cannot lose them.
		if markers, err = os.OpenFile(f, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err != nil {
			return fail(err)
		}
		fmt.Fprintf(markers, "S %d\n", os.Getpid())
	}
	r.hook = func(h hookInfo) {
		if markers != nil {
			switch h.Point {
			case hookAttempt:
				fmt.Fprintf(markers, "A %s\n", h.EnvID)
			case hookBodyRead: // "." goes out next: from here a kill may duplicate
				fmt.Fprintf(markers, "B %s\n", h.EnvID)
			case hookReplied:
				fmt.Fprintf(markers, "R %s %s\n", h.EnvID, strings.Join(h.Accepted, ","))
			case hookRecorded:
				fmt.Fprintf(markers, "C %s\n", h.EnvID)
			}
		}
		if h.Point == killAt {
			killSelf()
		}
	}
	for {
		if err := r.RunOnce(ctx); err != nil {
			return fail(err)
		}
		var left, held int
		if err := db.R.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(m.held_reason<>''),0) FROM recipients r
			JOIN messages m ON m.id=r.message WHERE r.status IN ('queued','sending','deferred','uncertain')`).Scan(&left, &held); err != nil {
			return fail(err)
		}
		switch {
		case left == 0:
			return 0
		case left == held:
			return 3
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// child is one helper process.
type child struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	out  bytes.Buffer
}

func startChild(t testing.TB, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envHelper+"=drain")
	cmd.Env = append(cmd.Env, env...)
	dieWithParent(cmd)
	c := &child{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = &c.out, &c.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c
}

func (c *child) kill() {
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// killed reports whether the child died of SIGKILL.
func (c *child) killed() bool {
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func (c *child) wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(d):
		c.kill()
		t.Fatalf("helper did not finish in %v; output:\n%s", d, c.out.String())
	}
	var ee *exec.ExitError
	if errors.As(c.err, &ee) {
		return ee.ExitCode()
	}
	if c.err != nil {
		t.Fatal(c.err)
	}
	return 0
}

func peerEnv(t testing.TB, srv *smtptest.Server, dbPath string) []string {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, srv.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{envDB + "=" + dbPath, envPeer + "=" + srv.Addr(), envCA + "=" + ca}
}

func integrityOK(t testing.TB, path string) {
	t.Helper()
	db, err := sqlitedb.Open(path, sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.IntegrityCheck(context.Background())
	if err != nil || len(res) != 1 || res[0] != "ok" {
		t.Fatalf("integrity_check: %v %v", res, err)
	}
}

// killCase is one named point at which the sender dies.
type killCase struct {
	name    string
	hook    string          // the child kills itself at this hook point ...
	stall   *smtptest.Fault // ... or the peer stalls this command
	until   func(*smtptest.Server) bool
	inChild bool // the child enqueues (kill right after the enqueue commit)
	twice   bool // delivered twice: the known window after "."
	flagged bool // the events say "may have been sent twice"
}

func sentCount(cmd string) func(*smtptest.Server) bool {
	want := 1
	if n, c, ok := strings.Cut(cmd, "*"); ok {
		want, _ = strconv.Atoi(n)
		cmd = c
	}
	return func(s *smtptest.Server) bool {
		return bytes.Count(s.ClientBytes(), []byte(cmd)) >= want
	}
}

func killCases() []killCase {
	stall := func(cmd string, nth int) *smtptest.Fault {
		return &smtptest.Fault{Command: cmd, Nth: nth, Delay: time.Minute}
	}
	return []killCase{
		{name: "after enqueue commit", hook: hookEnqueued, inChild: true},
		{name: "after attempt commit", hook: hookAttempt},
		{name: "after connect", stall: stall("EHLO", 0), until: sentCount("EHLO")},
		{name: "after AUTH", stall: stall("MAIL", 0), until: sentCount("MAIL FROM")},
		{name: "after MAIL", stall: stall("RCPT", 1), until: sentCount("RCPT TO")},
		{name: "after RCPT 1", stall: stall("RCPT", 2), until: sentCount("2*RCPT TO")},
		{name: "after RCPT 2", stall: stall("RCPT", 3), until: sentCount("3*RCPT TO")},
		{name: "after RCPT 3", stall: stall("DATA", 0), until: sentCount("DATA\r\n")},
		{name: "after 354", hook: hookBodyStart},
		{name: "mid-body", hook: hookMidBody},
		{name: "body read, before \".\"", hook: hookBodyRead, flagged: true},
		{name: "after \".\"", stall: stall(".", 0), until: func(s *smtptest.Server) bool { return len(s.Received()) > 0 },
			twice: true, flagged: true},
		{name: "after 250, before commit", hook: hookReplied, twice: true, flagged: true},
		{name: "after commit", hook: hookRecorded},
	}
}

// The sender dies at each named point of an attempt and restarts: the
// outcome per point is as the table says: delivered once, except in the
// known window after "." (delivered twice, and the events say so).
func TestKillAtNamedPoints(t *testing.T) {
	var table []string
	for _, kc := range killCases() {
		t.Run(kc.name, func(t *testing.T) {
			cfg := smtptest.Config{DSN: true}
			if kc.stall != nil {
				cfg.Faults = []smtptest.Fault{*kc.stall}
			}
			srv := smtptest.Start(t, cfg)
			dir := t.TempDir()
			dbPath := filepath.Join(dir, "mailroom.db")
			e := openEnv(t, dbPath, nil, fastPolicy())
			rcpts := []string{"a@example.test", "b@example.test", "c@example.test"}
			m := message(rcpts...)
			m.Copies[0].Body = body(m.Subject, 256<<10)
			env := peerEnv(t, srv, dbPath)
			if kc.inChild {
				f := filepath.Join(dir, "msg.json")
				b, err := json.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f, b, 0o600); err != nil {
					t.Fatal(err)
				}
				env = append(env, envEnqueue+"="+f)
			} else {
				e.enqueue(m)
			}
			if kc.hook != "" {
				env = append(env, envKillAt+"="+kc.hook)
			}
			c := startChild(t, env...)
			if kc.until != nil {
				deadline := time.Now().Add(20 * time.Second)
				for !kc.until(srv) {
					if time.Now().After(deadline) {
						c.kill()
						t.Fatalf("the peer never reached the point; helper output:\n%s", c.out.String())
					}
					time.Sleep(2 * time.Millisecond)
				}
				c.kill()
			}
			c.wait(t, 20*time.Second)
			if !c.killed() {
				t.Fatalf("helper was not killed (%v); output:\n%s", c.err, c.out.String())
			}
			integrityOK(t, dbPath)
			// Restart against the same peer (a fresh one when it stalls).
			srv2 := srv
			if kc.stall != nil {
				srv2 = smtptest.Start(t, smtptest.Config{DSN: true})
			}
			c2 := startChild(t, peerEnv(t, srv2, dbPath)...)
			if code := c2.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("restart exited %d:\n%s", code, c2.out.String())
			}
			integrityOK(t, dbPath)
			peers := []*smtptest.Server{srv}
			if srv2 != srv {
				peers = append(peers, srv2)
			}
			got := delivered(peers...)
			want := 1
			if kc.twice {
				want = 2
			}
			for _, a := range rcpts {
				if n := got[m.Copies[0].EnvID+" "+a]; n != want {
					t.Errorf("%s delivered %d times, want %d", a, n, want)
				}
			}
			flagged := false
			id := ""
			e.db.R.QueryRow(`SELECT id FROM messages WHERE message_id=?`, m.MessageID).Scan(&id)
			for _, a := range rcpts {
				evs := e.events(id, a)
				last := evs[len(evs)-1]
				if last.Kind != tracking.EvAccepted {
					t.Errorf("%s ends %s: %s", a, last.Kind, kinds(evs))
				}
				if strings.Contains(last.Detail, "may have been sent twice") {
					flagged = true
				}
			}
			if flagged != kc.flagged {
				t.Errorf("\"may have been sent twice\" = %v, want %v; timeline %s", flagged, kc.flagged, kinds(e.events(id, rcpts[0])))
			}
			table = append(table, fmt.Sprintf("%-26s delivered %dx  flagged=%-5v  %s", kc.name, got[m.Copies[0].EnvID+" "+rcpts[0]], flagged, kinds(e.events(id, rcpts[0]))))
		})
	}
	t.Logf("outcome per kill point:\n%s", strings.Join(table, "\n"))
}

// SenderBusy sees the lock another sender holds (here another open file
// description of this process, which flock treats alike) and its pid, and
// takes nothing: the holder keeps it, and after it is released a Runner's
// lock succeeds.
func TestSenderBusy(t *testing.T) {
	e := newEnv(t, SystemClock{}, nil)
	if pid, busy := e.ob.SenderBusy(); busy {
		t.Fatalf("busy (pid %d) before anyone sent", pid)
	}
	l, err := lockSender(e.db.Path + "-sender.lock")
	if err != nil {
		t.Fatal(err)
	}
	if pid, busy := e.ob.SenderBusy(); !busy || pid != os.Getpid() {
		t.Fatalf("SenderBusy = %d, %v; want %d, true", pid, busy, os.Getpid())
	}
	if pid, busy := e.ob.SenderBusy(); !busy || pid != os.Getpid() {
		t.Fatalf("a second look changed the lock: %d, %v", pid, busy)
	}
	l.Close()
	if _, busy := e.ob.SenderBusy(); busy {
		t.Fatal("busy after the holder released the lock")
	}
	l2, err := lockSender(e.db.Path + "-sender.lock")
	if err != nil {
		t.Fatalf("lock after SenderBusy looked: %v", err)
	}
	l2.Close()
}
