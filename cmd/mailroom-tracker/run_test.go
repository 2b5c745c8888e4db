package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mailroom/tracking/opentrack"
	"mailroom/tracking/opentrack/store/pgstore/pgtest"
)

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "0": 0, "36h": 36 * time.Hour, "1d": 24 * time.Hour, "90m": 90 * time.Minute} {
		if got, err := parseRetention(in); err != nil || got != want {
			t.Errorf("parseRetention(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"x", "-1d", "d", "-5h", "1.5d"} {
		if _, err := parseRetention(bad); err == nil {
			t.Errorf("parseRetention(%q) accepted", bad)
		}
	}
}

func TestParseRate(t *testing.T) {
	for in, want := range map[string]float64{"50": 50, "20/s": 20, "600/m": 10, "0": 0, "0.5": 0.5} {
		if got, err := parseRate(in); err != nil || got != want {
			t.Errorf("parseRate(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "x", "-1", "5/h"} {
		if _, err := parseRate(bad); err == nil {
			t.Errorf("parseRate(%q) accepted", bad)
		}
	}
	ps, err := parseCIDRs("127.0.0.1, 10.0.0.0/8,::1")
	if err != nil || len(ps) != 3 || ps[0].Bits() != 32 || ps[2].Bits() != 128 {
		t.Errorf("parseCIDRs: %v %v", ps, err)
	}
	if _, err := parseCIDRs("nope"); err == nil {
		t.Error("bad CIDR accepted")
	}
}

// files writes a key file and an API key file made by the genkey command.
func files(t *testing.T) (keyFile, apiFile, apiKey string, keyBytes string) {
	dir := t.TempDir()
	var k1, k2, api bytes.Buffer
	if code := run(context.Background(), []string{"genkey", "--id", "new"}, &k1, io.Discard, nil); code != 0 {
		t.Fatalf("genkey: %d", code)
	}
	run(context.Background(), []string{"genkey", "--id", "old"}, &k2, io.Discard, nil)
	run(context.Background(), []string{"genkey", "--api"}, &api, io.Discard, nil)
	keyFile = filepath.Join(dir, "keys")
	apiFile = filepath.Join(dir, "api-keys")
	if err := os.WriteFile(keyFile, []byte("# active first\n"+k1.String()+k2.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(apiFile, api.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	_, secret, _ := strings.Cut(strings.TrimSpace(k1.String()), ":")
	return keyFile, apiFile, strings.TrimSpace(api.String()), secret
}

// The default --fsync is the 100 ms timer: a SQLite tracker started
// without the flag must not wait for fdatasync per hit, and a PostgreSQL
// one must not be refused for a flag it was never given.
func TestFsyncDefault(t *testing.T) {
	f, err := parseServe([]string{"--db", "t.db", "--key-file", "k"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := parseFsync(f.fsync); err != nil || d != 100*time.Millisecond {
		t.Errorf("default --fsync %q = %v, %v; want 100ms", f.fsync, d, err)
	}
	if _, err := parseServe([]string{"--postgres", "postgres://x", "--key-file", "k"}, io.Discard); err != nil {
		t.Errorf("--postgres without --fsync: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	keyFile, _, _, _ := files(t)
	db := filepath.Join(t.TempDir(), "t.db")
	for name, c := range map[string]struct {
		args []string
		code int
	}{
		"no backend":       {[]string{"--key-file", keyFile}, exitUsage},
		"two backends":     {[]string{"--db", db, "--postgres", "postgres://x", "--key-file", keyFile}, exitUsage},
		"no key file":      {[]string{"--db", db}, exitUsage},
		"bad ip mode":      {[]string{"--db", db, "--key-file", keyFile, "--ip-mode", "full"}, exitUsage},
		"bad retention":    {[]string{"--db", db, "--key-file", keyFile, "--retention", "soon"}, exitUsage},
		"bad rate":         {[]string{"--db", db, "--key-file", keyFile, "--rate", "fast"}, exitUsage},
		"bad base url":     {[]string{"--db", db, "--key-file", keyFile, "--base-url", "t.example.com"}, exitUsage},
		"unknown flag":     {[]string{"--frobnicate"}, exitUsage},
		"stray argument":   {[]string{"--db", db, "--key-file", keyFile, "serve"}, exitUsage},
		"missing key file": {[]string{"--db", db, "--key-file", keyFile + ".missing"}, exitError},
		"mint without key": {[]string{"mint", "--base-url", "http://127.0.0.1:1"}, exitUsage},
		"genkey bad id":    {[]string{"genkey", "--id", "has space"}, exitUsage},
		"bad fsync":        {[]string{"--db", db, "--key-file", keyFile, "--fsync", "sometimes"}, exitUsage},
		"fsync on pg":      {[]string{"--postgres", "postgres://x", "--key-file", keyFile, "--fsync", "10ms"}, exitUsage},
		"always on pg":     {[]string{"--postgres", "postgres://x", "--key-file", keyFile, "--fsync", "always"}, exitUsage},
		"recover no db":    {[]string{"recover"}, exitUsage},
		"help":             {[]string{"--help"}, exitOK},
	} {
		var stderr bytes.Buffer
		if got := run(context.Background(), c.args, io.Discard, &stderr, nil); got != c.code {
			t.Errorf("%s: exit %d, want %d (%s)", name, got, c.code, stderr.String())
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for the server's concurrent logging.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func mint(t *testing.T, keyFile, base, kind string, n int) []string {
	var out bytes.Buffer
	if code := run(context.Background(), []string{"mint", "--key-file", keyFile, "--base-url", base, "--kind", kind, "--n", strconv.Itoa(n)}, &out, io.Discard, nil); code != 0 {
		t.Fatalf("mint: exit %d", code)
	}
	return strings.Fields(out.String())
}

func TestServeInProcess(t *testing.T) {
	keyFile, apiFile, apiKey, secret := files(t)
	db := filepath.Join(t.TempDir(), "tracker.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--db", db, "--key-file", keyFile, "--api-key-file", apiFile,
			"--retention", "30d", "--rate", "100", "--log-level", "debug", "--base-url", "https://t.example.test"},
			io.Discard, &stderr, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case code := <-done:
		t.Fatalf("exited %d: %s", code, stderr.String())
	}
	urls := mint(t, keyFile, base, "open", 5)
	urls = append(urls, mint(t, keyFile, base, "click", 2)...)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, u := range urls {
		r, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 && r.StatusCode != 302 {
			t.Fatalf("%d for a minted URL", r.StatusCode)
		}
	}
	evs, _, err := (&opentrack.Client{BaseURL: base, APIKey: apiKey}).Events(ctx, "")
	if err != nil || len(evs) != 7 {
		t.Fatalf("events: %d, %v", len(evs), err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no graceful shutdown")
	}
	logs := stderr.String()
	for _, want := range []string{`"msg":"listening"`, `"msg":"stopped"`, `"recorded":7`, `"active_key_id":"new"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	for _, leak := range []string{secret, apiKey, strings.TrimPrefix(urls[0], base+"/o/")[:20]} {
		if strings.Contains(logs, leak) {
			t.Errorf("logs leak %q", leak)
		}
	}
}

// TestBinarySIGTERM builds the real binary without cgo, stops it with
// SIGTERM, and starts it again on the same database.
// buildTracker builds the binary as shipped (no cgo).
func buildTracker(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary; skipped under -short")
	}
	bin := filepath.Join(t.TempDir(), "mailroom-tracker")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}
	return bin
}

// startTracker starts bin serving db on a free loopback port and returns
// its base URL and its log lines once it listens.
func startTracker(t *testing.T, bin, db, keyFile, apiFile string, extra ...string) (*exec.Cmd, string, <-chan string) {
	t.Helper()
	args := append([]string{"--listen", "127.0.0.1:0", "--db", db, "--key-file", keyFile, "--api-key-file", apiFile, "--rate", "0"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("tracker exited before listening")
			}
			var m struct{ Msg, Addr string }
			if json.Unmarshal([]byte(l), &m) == nil && m.Msg == "listening" {
				return cmd, "http://" + m.Addr, lines
			}
		case <-deadline:
			cmd.Process.Kill()
			t.Fatal("tracker did not start")
		}
	}
}

func TestBinarySIGTERM(t *testing.T) {
	bin := buildTracker(t)
	keyFile, apiFile, apiKey, _ := files(t)
	db := filepath.Join(t.TempDir(), "tracker.db")
	start := func() (*exec.Cmd, string, <-chan string) { return startTracker(t, bin, db, keyFile, apiFile) }
	stop := func(cmd *exec.Cmd, lines <-chan string) []string {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		var rest []string
		for l := range lines {
			rest = append(rest, l)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, strings.Join(rest, "\n"))
		}
		return rest
	}

	cmd, base, lines := start()
	for _, u := range mint(t, keyFile, base, "open", 3) {
		r, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
	}
	rest := stop(cmd, lines)
	if !strings.Contains(strings.Join(rest, "\n"), `"recorded":3`) {
		t.Errorf("final stats missing: %s", rest)
	}

	cmd, base, lines = start()
	defer stop(cmd, lines)
	evs, _, err := (&opentrack.Client{BaseURL: base, APIKey: apiKey}).Events(context.Background(), "")
	if err != nil || len(evs) != 3 {
		t.Fatalf("after restart: %d events, %v", len(evs), err)
	}
}

// TestServePostgres runs the command on a real PostgreSQL, with the DSN
// taken from the environment as docs/tracker.md recommends.
func TestServePostgres(t *testing.T) {
	pg := pgtest.Start(t)
	t.Setenv("MAILROOM_TRACKER_POSTGRES", pg.NewDatabase(t))
	keyFile, apiFile, apiKey, _ := files(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	var stderr lockedBuffer
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--key-file", keyFile, "--api-key-file", apiFile, "--ip-mode", "none"},
			io.Discard, &stderr, func(a string) { addrc <- a })
	}()
	var base string
	select {
	case a := <-addrc:
		base = "http://" + a
	case code := <-done:
		t.Fatalf("exited %d: %s", code, stderr.String())
	}
	for _, u := range mint(t, keyFile, base, "open", 4) {
		r, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
	}
	evs, _, err := (&opentrack.Client{BaseURL: base, APIKey: apiKey}).Events(ctx, "")
	if err != nil || len(evs) != 4 || evs[0].Source != "" {
		t.Fatalf("events: %+v, %v", evs, err)
	}
	if !strings.Contains(stderr.String(), `"backend":"postgres"`) {
		t.Errorf("backend not logged: %s", stderr.String())
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// TestBinarySIGKILL kills the tracker while clients hit it: every hit that
// was answered 200 before the kill must be an event after a restart (the
// hit log is replayed), and nothing may be counted twice. Both --fsync
// modes: a kill is not a power loss, so a hit written to the log but not
// yet synced survives it too.
func TestBinarySIGKILL(t *testing.T) {
	bin := buildTracker(t)
	for _, mode := range []string{"always", "50ms"} {
		t.Run("fsync="+mode, func(t *testing.T) { testSIGKILL(t, bin, mode) })
	}
}

func testSIGKILL(t *testing.T, bin, fsync string) {
	keyFile, apiFile, apiKey, _ := files(t)
	db := filepath.Join(t.TempDir(), "tracker.db")
	cmd, base, lines := startTracker(t, bin, db, keyFile, apiFile, "--fsync", fsync)
	go func() {
		for range lines {
		}
	}()
	urls := mint(t, keyFile, base, "open", 2000)
	const clients = 8
	var answered, inFlight sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	next := make(chan string)
	client := &http.Client{Timeout: 5 * time.Second}
	for range clients {
		answered.Add(1)
		go func() {
			defer answered.Done()
			for u := range next {
				r, err := client.Get(u)
				if err != nil {
					continue // killed in flight: may or may not be recorded
				}
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode == 200 {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		}()
	}
	inFlight.Add(1)
	go func() {
		defer inFlight.Done()
		for i, u := range urls {
			if i == 600 {
				// Kill with hits in flight: the rest of the URLs fail.
				go cmd.Process.Signal(syscall.SIGKILL)
			}
			next <- u
		}
		close(next)
	}()
	inFlight.Wait()
	answered.Wait()
	cmd.Wait()
	if ok < 600-clients {
		t.Fatalf("only %d hits answered before the kill", ok)
	}

	var out bytes.Buffer
	rec := exec.Command(bin, "recover", "--db", db)
	rec.Stdout = &out
	if err := rec.Run(); err != nil {
		t.Fatalf("recover: %v", err)
	}
	if !strings.Contains(out.String(), " events in the database") {
		t.Fatalf("recover printed %q", out.String())
	}

	cmd, base, lines = startTracker(t, bin, db, keyFile, apiFile)
	// A second tracker, or recover, on the database in use is refused.
	if out, err := exec.Command(bin, "recover", "--db", db).CombinedOutput(); err == nil {
		t.Errorf("recover on a running tracker's database succeeded: %s", out)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		for range lines {
		}
		cmd.Wait()
	}()
	c := &opentrack.Client{BaseURL: base, APIKey: apiKey}
	seen := map[string]bool{}
	cursor := ""
	for {
		evs, next, err := c.Events(context.Background(), cursor)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if seen[e.CopyID] {
				t.Fatalf("copy %s recorded twice", e.CopyID)
			}
			seen[e.CopyID] = true
		}
		if len(evs) == 0 {
			break
		}
		cursor = next
	}
	// Hits in flight at the kill may have been recorded without an answer
	// (at most one per client).
	if len(seen) < ok || len(seen) > ok+clients {
		t.Fatalf("%d events after the kill and restart, %d hits answered 200 (%s)", len(seen), ok, strings.TrimSpace(out.String()))
	}
	t.Logf("%d answered, %d recorded; recover: %s", ok, len(seen), strings.TrimSpace(out.String()))
}
