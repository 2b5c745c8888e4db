package server

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/tracking/opentrack/store"
	"mailroom/tracking/opentrack/store/sqlitestore"
	"mailroom/tracking/opentrack/token"
)

const apiKey = "test-api-key-0123456789"

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type fixture struct {
	srv   *Server
	st    *sqlitestore.Store
	kr    *token.Keyring
	clock *clock
	logs  *bytes.Buffer
}

func keyring(t testing.TB, id string, fill byte) *token.Keyring {
	kr, err := token.NewKeyring([]string{id}, [][]byte{bytes.Repeat([]byte{fill}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	t.Helper()
	st, err := sqlitestore.Open(context.Background(), filepath.Join(t.TempDir(), "tracker.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{st: st, kr: keyring(t, "k1", 1), clock: &clock{t: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}, logs: &bytes.Buffer{}}
	cfg := Config{
		Keyring:   f.kr,
		Store:     st,
		APIKeys:   []string{apiKey},
		RatePerIP: -1,
		Now:       f.clock.Now,
		Logger:    slog.New(slog.NewJSONHandler(syncWriter{w: f.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	f.srv, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// syncWriter serialises log writes from concurrent handlers.
type syncWriter struct{ w io.Writer }

var logMu sync.Mutex

func (s syncWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return s.w.Write(p)
}

func (f *fixture) do(t *testing.T, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if ra, ok := hdr["RemoteAddr"]; ok {
		req.RemoteAddr = ra
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, req)
	return rec.Result()
}

func (f *fixture) events(t *testing.T) []store.Event {
	t.Helper()
	evs, err := f.st.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustCopy(t *testing.T) token.CopyID {
	id, err := token.NewCopyID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

func TestOpenSameResponseForInvalid(t *testing.T) {
	f := newFixture(t, nil)
	id := mustCopy(t)
	open, _ := f.kr.MintOpen(id)
	click, _ := f.kr.MintClick(id, "https://example.test/")
	foreign, _ := keyring(t, "k1", 2).MintOpen(id)

	valid := f.do(t, "GET", "/o/"+open+".gif", map[string]string{"User-Agent": chromeUA, "RemoteAddr": "198.51.100.77:4321"})
	validBody := body(t, valid)
	if valid.StatusCode != 200 || valid.Header.Get("Content-Type") != "image/gif" || len(validBody) != 43 || !strings.HasPrefix(validBody, "GIF89a") {
		t.Fatalf("valid pixel: %d %q %d bytes", valid.StatusCode, valid.Header.Get("Content-Type"), len(validBody))
	}
	for _, h := range []string{"Cache-Control", "Pragma", "Expires"} {
		if valid.Header.Get(h) == "" {
			t.Errorf("pixel lacks %s", h)
		}
	}
	if cc := valid.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") || !strings.Contains(cc, "no-cache") {
		t.Errorf("Cache-Control %q", cc)
	}

	evs := f.events(t)
	if len(evs) != 1 {
		t.Fatalf("%d events after one valid hit", len(evs))
	}
	e := evs[0]
	if e.Kind != "open" || e.CopyID != id.String() || e.KeyID != "k1" || e.UAClass != "browser" ||
		e.UserAgent != chromeUA || e.Source != "198.51.100.0/24" || !e.At.Equal(f.clock.Now()) || e.LinkHash != "" {
		t.Errorf("event %+v", e)
	}

	invalid := []string{
		"/o/" + open,                        // no .gif
		"/o/" + open[:len(open)-2] + ".gif", // truncated
		"/o/" + click + ".gif",              // click token
		"/o/" + foreign + ".gif",            // other key, same id
		"/o/garbage.gif",
		"/o/.gif",
		"/o/",
		"/o/a/b/c.gif",
		"/o/" + open + ".gif.gif",
	}
	for _, p := range invalid {
		r := f.do(t, "GET", p, map[string]string{"User-Agent": chromeUA})
		b := body(t, r)
		if r.StatusCode != valid.StatusCode || b != validBody {
			t.Errorf("%s: status %d, %d bytes; differs from a valid hit", p, r.StatusCode, len(b))
		}
		for k, v := range valid.Header {
			if got := r.Header[k]; strings.Join(got, ",") != strings.Join(v, ",") {
				t.Errorf("%s: header %s = %q, valid has %q", p, k, got, v)
			}
		}
		if len(r.Header) != len(valid.Header) {
			t.Errorf("%s: %d headers, valid has %d", p, len(r.Header), len(valid.Header))
		}
	}
	if n := len(f.events(t)); n != 1 {
		t.Fatalf("invalid hits recorded: %d events", n)
	}
	// HEAD is answered but not counted.
	if r := f.do(t, "HEAD", "/o/"+open+".gif", nil); r.StatusCode != 200 {
		t.Errorf("HEAD: %d", r.StatusCode)
	}
	if n := len(f.events(t)); n != 1 {
		t.Fatalf("HEAD recorded: %d events", n)
	}
	if s := f.srv.Stats(); s.Recorded != 1 || s.Invalid != int64(len(invalid)) {
		t.Errorf("stats %+v", s)
	}
}

func TestClick(t *testing.T) {
	f := newFixture(t, nil)
	id := mustCopy(t)
	dest := "https://example.test/pay?invoice=42&a=b#frag"
	click, _ := f.kr.MintClick(id, dest)
	open, _ := f.kr.MintOpen(id)
	jsTok, _ := f.kr.MintClick(id, "javascript:alert(1)") // a signed but non-http destination

	r := f.do(t, "GET", "/c/"+click+"?u="+url.QueryEscape(dest), map[string]string{"User-Agent": chromeUA})
	if r.StatusCode != http.StatusFound || r.Header.Get("Location") != dest {
		t.Fatalf("valid click: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Error("redirect leaks the tracker URL as Referer")
	}
	evs := f.events(t)
	if len(evs) != 1 || evs[0].Kind != "click" || evs[0].LinkHash == "" || evs[0].CopyID != id.String() {
		t.Fatalf("events %+v", evs)
	}
	lh := token.LinkHash(dest)
	if evs[0].LinkHash != hex.EncodeToString(lh[:]) {
		t.Errorf("link hash %s", evs[0].LinkHash)
	}

	bad := []string{
		"/c/" + click + "?u=" + url.QueryEscape("https://evil.test/"), // open-redirect attempt
		"/c/" + click + "?u=" + url.QueryEscape(dest+"x"),             // extended destination
		"/c/" + click, // no destination
		"/c/" + click + "?u=" + url.QueryEscape(dest) + "&u=https://e.test", // two destinations
		"/c/" + open + "?u=" + url.QueryEscape(dest),                        // open token
		"/c/" + jsTok + "?u=" + url.QueryEscape("javascript:alert(1)"),      // not http(s)
		"/c/garbage?u=" + url.QueryEscape(dest),
		"/c/?u=" + url.QueryEscape(dest),
	}
	for _, p := range bad {
		r := f.do(t, "GET", p, nil)
		b := body(t, r)
		if r.StatusCode != 404 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") || r.Header.Get("Location") != "" {
			t.Errorf("%s: %d %q Location %q", p, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Location"))
		}
		if strings.Contains(b, "evil") || strings.Contains(b, "<") {
			t.Errorf("%s: body reflects input: %q", p, b)
		}
	}
	if n := len(f.events(t)); n != 1 {
		t.Fatalf("invalid clicks recorded: %d events", n)
	}
}

func TestEventsAPI(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.APIKeys = []string{apiKey, "second-key-for-rotation"} })
	for i := 0; i < 5; i++ {
		tok, _ := f.kr.MintOpen(mustCopy(t))
		f.do(t, "GET", "/o/"+tok+".gif", nil)
	}
	auth := map[string]string{"Authorization": "Bearer " + apiKey}

	for name, hdr := range map[string]map[string]string{
		"missing":       nil,
		"wrong":         {"Authorization": "Bearer nope"},
		"prefix":        {"Authorization": "Bearer " + apiKey[:len(apiKey)-1]},
		"longer":        {"Authorization": "Bearer " + apiKey + "x"},
		"basic":         {"Authorization": "Basic " + apiKey},
		"no scheme":     {"Authorization": apiKey},
		"empty bearer":  {"Authorization": "Bearer "},
		"key in header": {"X-Api-Key": apiKey},
	} {
		r := f.do(t, "GET", "/v1/events", hdr)
		if r.StatusCode != 401 || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d", name, r.StatusCode)
		}
		if strings.Contains(body(t, r), "\"id\"") {
			t.Errorf("%s: events leaked", name)
		}
	}
	if r := f.do(t, "GET", "/v1/events", map[string]string{"Authorization": "bearer second-key-for-rotation"}); r.StatusCode != 200 {
		t.Errorf("second key: %d", r.StatusCode)
	}

	get := func(q string) EventsResponse {
		r := f.do(t, "GET", "/v1/events"+q, auth)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d", q, r.StatusCode)
		}
		var er EventsResponse
		if err := json.NewDecoder(r.Body).Decode(&er); err != nil {
			t.Fatal(err)
		}
		return er
	}
	page := get("?limit=2")
	if len(page.Events) != 2 || page.Next != "2" {
		t.Fatalf("page 1: %d events next %q", len(page.Events), page.Next)
	}
	page = get("?after=" + page.Next + "&limit=2")
	if len(page.Events) != 2 || page.Events[0].ID != 3 || page.Next != "4" {
		t.Fatalf("page 2: %+v", page)
	}
	page = get("?after=" + page.Next)
	if len(page.Events) != 1 || page.Next != "5" {
		t.Fatalf("page 3: %+v", page)
	}
	page = get("?after=5")
	if len(page.Events) != 0 || page.Next != "5" || page.Events == nil {
		t.Fatalf("empty page: %+v", page)
	}
	// The raw JSON has the documented field names and an empty list, not null.
	r := f.do(t, "GET", "/v1/events?after=5", auth)
	if b := body(t, r); !strings.Contains(b, `"events":[]`) || !strings.Contains(b, `"next":"5"`) {
		t.Errorf("empty page JSON %s", b)
	}
	r = f.do(t, "GET", "/v1/events?limit=1", auth)
	b := body(t, r)
	for _, field := range []string{`"id":1`, `"at":"2025-03-01T10:00:00Z"`, `"kind":"open"`, `"copy_id":"`, `"key_id":"k1"`, `"ua_class":"unknown"`, `"user_agent":`} {
		if !strings.Contains(b, field) {
			t.Errorf("JSON lacks %s: %s", field, b)
		}
	}
	for _, q := range []string{"?after=x", "?after=-1", "?limit=0", "?limit=abc"} {
		if r := f.do(t, "GET", "/v1/events"+q, auth); r.StatusCode != 400 {
			t.Errorf("%s: %d", q, r.StatusCode)
		}
	}
	if s := f.srv.Stats(); s.Unauthorized != 8 {
		t.Errorf("unauthorized count %d", s.Unauthorized)
	}

	noKeys := newFixture(t, func(c *Config) { c.APIKeys = nil })
	if r := noKeys.do(t, "GET", "/v1/events", map[string]string{"Authorization": "Bearer "}); r.StatusCode != 401 {
		t.Errorf("API without keys: %d", r.StatusCode)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFixture(t, func(c *Config) {
		c.RatePerIP = 1
		c.Burst = 3
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	tok, _ := f.kr.MintOpen(mustCopy(t))
	hit := func(remote, xff string) int {
		h := map[string]string{"RemoteAddr": remote}
		if xff != "" {
			h["X-Forwarded-For"] = xff
		}
		return f.do(t, "GET", "/o/"+tok+".gif", h).StatusCode
	}
	for i := 0; i < 3; i++ {
		if c := hit("198.51.100.1:1000", ""); c != 200 {
			t.Fatalf("hit %d within burst: %d", i, c)
		}
	}
	r := f.do(t, "GET", "/o/"+tok+".gif", map[string]string{"RemoteAddr": "198.51.100.1:1000"})
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("beyond burst: %d", r.StatusCode)
	}
	if c := hit("198.51.100.2:1000", ""); c != 200 {
		t.Errorf("another address limited: %d", c)
	}
	// The same IPv6 /64 shares a bucket; another /64 does not.
	for i := 0; i < 3; i++ {
		hit("[2001:db8:1:2::"+string(rune('a'+i))+"]:1", "")
	}
	if c := hit("[2001:db8:1:2::ff]:1", ""); c != 429 {
		t.Errorf("same /64: %d", c)
	}
	if c := hit("[2001:db8:1:3::1]:1", ""); c != 200 {
		t.Errorf("other /64: %d", c)
	}
	f.clock.Add(time.Second)
	if c := hit("198.51.100.1:1000", ""); c != 200 {
		t.Errorf("after refill: %d", c)
	}
	if c := hit("198.51.100.1:1000", ""); c != 429 {
		t.Errorf("refill gave more than rate: %d", c)
	}
	// Behind a trusted proxy, clients are told apart by X-Forwarded-For...
	for i := 0; i < 3; i++ {
		hit("127.0.0.1:5000", "203.0.113.9")
	}
	if c := hit("127.0.0.1:5000", "203.0.113.9"); c != 429 {
		t.Errorf("forwarded client not limited: %d", c)
	}
	if c := hit("127.0.0.1:5000", "203.0.113.10"); c != 200 {
		t.Errorf("other forwarded client limited: %d", c)
	}
	// ...but an untrusted peer cannot dodge its limit with a forged header.
	if c := hit("198.51.100.1:1000", "203.0.113.77"); c != 429 {
		t.Errorf("forged X-Forwarded-For evaded the limit: %d", c)
	}
	// A client-written prefix in X-Forwarded-For does not matter either.
	if c := hit("127.0.0.1:5000", "10.9.9.9, 203.0.113.9"); c != 429 {
		t.Errorf("spoofed left-hand XFF evaded the limit: %d", c)
	}
	// Health checks are never limited.
	for i := 0; i < 10; i++ {
		if r := f.do(t, "GET", "/healthz", map[string]string{"RemoteAddr": "198.51.100.1:1000"}); r.StatusCode != 200 {
			t.Fatalf("healthz limited: %d", r.StatusCode)
		}
	}
	if f.srv.Stats().Limited == 0 {
		t.Error("no limited count")
	}
	// Idle full buckets are forgotten.
	f.clock.Add(time.Hour)
	f.srv.limiter.sweep()
	if n := f.srv.limiter.size(); n != 0 {
		t.Errorf("%d buckets after sweep", n)
	}
}

func TestSourceFromTrustedProxyAndIPModeNone(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("::1/128")} })
	tok, _ := f.kr.MintOpen(mustCopy(t))
	f.do(t, "GET", "/o/"+tok+".gif", map[string]string{"RemoteAddr": "[::1]:80", "X-Forwarded-For": "2001:db8:aa:bb::7"})
	if evs := f.events(t); evs[0].Source != "2001:db8:aa::/48" {
		t.Errorf("source %q", evs[0].Source)
	}
	n := newFixture(t, func(c *Config) { c.IPMode = store.IPNone })
	tok, _ = n.kr.MintOpen(mustCopy(t))
	n.do(t, "GET", "/o/"+tok+".gif", nil)
	if evs := n.events(t); len(evs) != 1 || evs[0].Source != "" {
		t.Errorf("ip-mode none kept %+v", evs)
	}
	if _, err := New(Config{Keyring: n.kr, Store: n.st, IPMode: "full"}); err == nil {
		t.Error("unknown IP mode accepted")
	}
}

func TestRetentionPurge(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Retention = 90 * 24 * time.Hour })
	old, _ := f.kr.MintOpen(mustCopy(t))
	f.do(t, "GET", "/o/"+old+".gif", nil)
	f.clock.Add(60 * 24 * time.Hour)
	recent, _ := f.kr.MintOpen(mustCopy(t))
	f.do(t, "GET", "/o/"+recent+".gif", nil)
	f.clock.Add(31 * 24 * time.Hour) // the first is now 91 days old

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- f.srv.Run(ctx) }() // purges once at start
	deadline := time.Now().Add(5 * time.Second)
	for len(f.events(t)) != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	evs := f.events(t)
	if len(evs) != 1 || evs[0].ID != 2 {
		t.Fatalf("after purge: %+v", evs)
	}
	f.clock.Add(60 * 24 * time.Hour)
	if n, err := f.srv.PurgeNow(context.Background()); err != nil || n != 1 {
		t.Fatalf("PurgeNow = %d, %v", n, err)
	}
	keep := newFixture(t, nil) // no retention: keep forever
	if n, err := keep.srv.PurgeNow(context.Background()); n != 0 || err != nil {
		t.Fatalf("PurgeNow without retention = %d, %v", n, err)
	}
}

func TestStoreDown(t *testing.T) {
	f := newFixture(t, nil)
	id := mustCopy(t)
	open, _ := f.kr.MintOpen(id)
	dest := "https://example.test/"
	click, _ := f.kr.MintClick(id, dest)
	f.st.Close()
	r := f.do(t, "GET", "/o/"+open+".gif", nil)
	if r.StatusCode != 200 || len(body(t, r)) != 43 {
		t.Errorf("pixel with store down: %d", r.StatusCode)
	}
	if r := f.do(t, "GET", "/c/"+click+"?u="+url.QueryEscape(dest), nil); r.StatusCode != 302 {
		t.Errorf("click with store down: %d", r.StatusCode)
	}
	if r := f.do(t, "GET", "/healthz", nil); r.StatusCode != 503 {
		t.Errorf("healthz with store down: %d", r.StatusCode)
	}
	if s := f.srv.Stats(); s.Lost != 2 {
		t.Errorf("lost %d", s.Lost)
	}
}

func TestLogsCarryNoSecrets(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.RatePerIP = 1; c.Burst = 1 })
	id := mustCopy(t)
	open, _ := f.kr.MintOpen(id)
	dest := "https://example.test/secret-path"
	click, _ := f.kr.MintClick(id, dest)
	ra := map[string]string{"RemoteAddr": "198.51.100.77:999", "Authorization": "Bearer wrong-key-value"}
	f.do(t, "GET", "/o/"+open+".gif", ra)
	f.do(t, "GET", "/c/"+click+"?u="+url.QueryEscape(dest), ra)
	f.do(t, "GET", "/v1/events", map[string]string{"RemoteAddr": "198.51.100.78:1", "Authorization": "Bearer wrong-key-value"})
	f.st.Close()
	f.do(t, "GET", "/o/"+open+".gif", map[string]string{"RemoteAddr": "198.51.100.79:1"})
	logs := f.logs.String()
	if !strings.Contains(logs, `"route":"/o"`) || !strings.Contains(logs, "198.51.100.0/24") {
		t.Fatalf("expected request logs, got:\n%s", logs)
	}
	for _, secret := range []string{open, click, id.String(), "secret-path", "198.51.100.77", "198.51.100.78", "198.51.100.79", "wrong-key-value", apiKey} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q:\n%s", secret, logs)
		}
	}
}

func TestUnknownPaths(t *testing.T) {
	f := newFixture(t, nil)
	for _, p := range []string{"/", "/favicon.ico", "/v1/events/extra", "/admin"} {
		if r := f.do(t, "GET", p, nil); r.StatusCode != 404 {
			t.Errorf("%s: %d", p, r.StatusCode)
		}
	}
	if r := f.do(t, "POST", "/v1/events", nil); r.StatusCode != 405 && r.StatusCode != 404 {
		t.Errorf("POST events: %d", r.StatusCode)
	}
}

// BenchmarkOpenHit measures a valid pixel hit end to end in process:
// routing, verification, classification and a durable SQLite write (group
// commit). The wrk benchmark measures the same over the network.
func BenchmarkOpenHit(b *testing.B) {
	st, err := sqlitestore.Open(context.Background(), filepath.Join(b.TempDir(), "tracker.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	kr := keyring(b, "k1", 1)
	srv, err := New(Config{Keyring: kr, Store: st, RatePerIP: -1})
	if err != nil {
		b.Fatal(err)
	}
	var paths []string
	for i := 0; i < 1024; i++ {
		id, _ := token.NewCopyID()
		tok, _ := kr.MintOpen(id)
		paths = append(paths, "/o/"+tok+".gif")
	}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			req := httptest.NewRequest("GET", paths[i%len(paths)], nil)
			req.Header.Set("User-Agent", chromeUA)
			rec := httptest.NewRecorder()
			srv.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Errorf("status %d", rec.Code)
				return
			}
			i++
		}
	})
	b.StopTimer()
	if s := srv.Stats(); s.Lost != 0 {
		b.Fatalf("%d hits lost", s.Lost)
	}
}
