package opentrack_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"mailroom/tracking/opentrack"
	"mailroom/tracking/opentrack/classify"
	"mailroom/tracking/opentrack/store"
	"mailroom/tracking/opentrack/store/pgstore"
	"mailroom/tracking/opentrack/store/pgstore/pgtest"
	"mailroom/tracking/opentrack/store/sqlitestore"
	"mailroom/tracking/opentrack/token"
)

const apiKey = "app-api-key-for-tests"

func ring(t testing.TB) *token.Keyring {
	kr, err := token.NewKeyring([]string{"k1"}, [][]byte{bytes.Repeat([]byte{7}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// serve runs the tracker on a real 127.0.0.1 listener and returns its base URL
// and a function that shuts it down gracefully.
func serve(t *testing.T, st store.Store, kr *token.Keyring) (string, func()) {
	t.Helper()
	srv, err := opentrack.NewServer(opentrack.Config{Keyring: kr, Store: st, APIKeys: []string{apiKey}, RatePerIP: -1})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(l) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}
	t.Cleanup(stop)
	return "http://" + l.Addr().String(), stop
}

var noRedirect = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

func get(t *testing.T, u, ua string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("User-Agent", ua)
	r, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	return r
}

// trackedURLs pulls the pixel and link URLs out of prepared HTML.
func trackedURLs(t *testing.T, out []byte) (pixel string, links []string) {
	doc, err := html.Parse(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				switch {
				case n.Data == "img" && a.Key == "src":
					pixel = a.Val
				case n.Data == "a" && a.Key == "href":
					links = append(links, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return pixel, links
}

func TestEndToEndWithRestart(t *testing.T) {
	ctx := context.Background()
	kr := ring(t)
	dbPath := filepath.Join(t.TempDir(), "tracker.db")
	st, err := sqlitestore.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	base, stop := serve(t, st, kr)

	id, _ := opentrack.NewCopyID()
	links := opentrack.Links{BaseURL: base + "/", Keyring: kr}
	out, err := links.Apply([]byte(`<p>Pay <a href="https://example.test/pay?id=42&amp;x=1">here</a> or
		<a href="mailto:billing@example.test">write</a>.</p>`), id, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "billing@example.test") == false {
		t.Fatal("mailto link lost")
	}
	pixel, hrefs := trackedURLs(t, out)
	if !strings.HasPrefix(pixel, base+"/o/") || !strings.HasSuffix(pixel, ".gif") {
		t.Fatalf("pixel %q", pixel)
	}
	if len(hrefs) != 2 || !strings.HasPrefix(hrefs[0], base+"/c/") || hrefs[1] != "mailto:billing@example.test" {
		t.Fatalf("links %q", hrefs)
	}
	// No recipient data in any tracking URL.
	for _, u := range []string{pixel, hrefs[0]} {
		if strings.Contains(u, "billing") || strings.Contains(u, id.String()) {
			t.Errorf("tracking URL carries personal data or the raw copy id: %s", u)
		}
	}

	if r := get(t, pixel, "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0"); r.StatusCode != 200 {
		t.Fatalf("pixel: %d", r.StatusCode)
	}
	r := get(t, hrefs[0], "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")
	if r.StatusCode != 302 || r.Header.Get("Location") != "https://example.test/pay?id=42&x=1" {
		t.Fatalf("click: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	// Open-redirect attempt: same token, other destination.
	u, _ := url.Parse(hrefs[0])
	u.RawQuery = "u=" + url.QueryEscape("https://evil.test/")
	if r := get(t, u.String(), "x"); r.StatusCode != 404 {
		t.Fatalf("swapped destination: %d", r.StatusCode)
	}

	c := &opentrack.Client{BaseURL: base, APIKey: apiKey}
	evs, next, err := c.Events(ctx, "")
	if err != nil || len(evs) != 2 {
		t.Fatalf("Events: %v %v", evs, err)
	}
	if evs[0].Kind != "open" || evs[1].Kind != "click" || evs[0].CopyID != id.String() || evs[0].Source != "127.0.0.0/24" {
		t.Fatalf("events %+v", evs)
	}
	lh := token.LinkHash("https://example.test/pay?id=42&x=1")
	if evs[1].LinkHash != hex.EncodeToString(lh[:]) {
		t.Fatalf("link hash %q", evs[1].LinkHash)
	}
	// The click proves the open; the app classifies with what it knows.
	cls, reason := opentrack.Classify(evs[0], classify.CopyContext{AcceptedAt: evs[0].At.Add(-time.Hour), HumanClick: true})
	if cls != classify.HumanLikely || reason == "" {
		t.Errorf("classify: %s %q", cls, reason)
	}
	if _, _, err := (&opentrack.Client{BaseURL: base, APIKey: "wrong"}).Events(ctx, ""); !errors.Is(err, opentrack.ErrUnauthorized) {
		t.Errorf("wrong key: %v", err)
	}

	// Restart: stop the server, close and reopen the database.
	stop()
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = sqlitestore.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	base2, _ := serve(t, st, kr)
	c.BaseURL = base2
	all, _, err := c.Events(ctx, "")
	if err != nil || len(all) != 2 {
		t.Fatalf("after restart: %d events, %v", len(all), err)
	}
	get(t, strings.Replace(pixel, base, base2, 1), "Mozilla/5.0")
	more, next2, err := c.Events(ctx, next)
	if err != nil || len(more) != 1 || more[0].ID <= evs[1].ID || more[0].UAClass != "apple-mpp-like" {
		t.Fatalf("after restart, from cursor %s: %+v next %s, %v", next, more, next2, err)
	}
	empty, next3, err := c.Events(ctx, next2)
	if err != nil || len(empty) != 0 || next3 != next2 {
		t.Fatalf("caught up: %v %q %v", empty, next3, err)
	}
}

func TestLinksRejectsBadBase(t *testing.T) {
	id, _ := opentrack.NewCopyID()
	for _, b := range []string{"", "t.example.com", "ftp://t.example.com", "https://t.example.com/?q=1"} {
		if _, err := (opentrack.Links{BaseURL: b, Keyring: ring(t)}).PixelURL(id); err == nil {
			t.Errorf("base %q accepted", b)
		}
	}
	if _, err := (opentrack.Links{BaseURL: "https://t.example.com"}).PixelURL(id); err == nil {
		t.Error("nil keyring accepted")
	}
	l := opentrack.Links{BaseURL: "https://t.example.com/track/", Keyring: ring(t)}
	if u, _ := l.PixelURL(id); !strings.HasPrefix(u, "https://t.example.com/track/o/") {
		t.Errorf("prefix lost: %s", u)
	}
	if _, err := l.ClickURL(id, "mailto:a@example.test"); err == nil {
		t.Error("mailto click URL minted")
	}
	urls, err := opentrack.MintURLs(l, "click", 3, "https://example.test/")
	if err != nil || len(urls) != 3 || urls[0] == urls[1] {
		t.Errorf("MintURLs: %v %v", urls, err)
	}
}

// TestSeveralInstancesBehindLoadBalancer runs two trackers on one real
// PostgreSQL; hits alternate between them, and the app's client reads all of
// them from either.
func TestSeveralInstancesBehindLoadBalancer(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	dsn := pg.NewDatabase(t)
	kr := ring(t)
	var bases []string
	for i := 0; i < 2; i++ {
		st, err := pgstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		b, _ := serve(t, st, kr)
		bases = append(bases, b)
	}
	l := opentrack.Links{BaseURL: "https://t.example.test", Keyring: kr}
	urls, err := opentrack.MintURLs(l, "open", 40, "")
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range urls {
		get(t, strings.Replace(u, "https://t.example.test", bases[i%2], 1), "Mozilla/5.0")
	}
	for _, b := range bases {
		c := &opentrack.Client{BaseURL: b, APIKey: apiKey, Limit: 7}
		var all []opentrack.Event
		cursor := ""
		for {
			evs, next, err := c.Events(ctx, cursor)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) == 0 {
				break
			}
			all = append(all, evs...)
			cursor = next
		}
		if len(all) != 40 {
			t.Fatalf("via %s: %d events, want 40", b, len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i].ID <= all[i-1].ID {
				t.Fatalf("IDs not increasing: %d then %d", all[i-1].ID, all[i].ID)
			}
		}
	}
}
