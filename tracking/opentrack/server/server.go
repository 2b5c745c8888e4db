// Package server owns the tracker's HTTP face: the pixel (GET /o/{token}.gif),
// the click redirect (GET /c/{token}?u=DEST), the events API for the app
// (GET /v1/events), /healthz, per-IP rate limiting and the retention purge.
//
// Invariants:
//   - an invalid or unknown open token gets exactly the response a valid one
//     gets (same bytes, same headers), and nothing is recorded;
//   - a click redirects only to the destination its signed token is bound
//     to; anything else is a plain 404;
//   - a valid hit is written to the store before the response is sent;
//   - logs never contain tokens, keys, destinations or full client addresses.
package server

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"mailroom/tracking/opentrack/classify"
	"mailroom/tracking/opentrack/htmlrw"
	"mailroom/tracking/opentrack/store"
	"mailroom/tracking/opentrack/token"
)

//go:embed pixel.gif
var pixelGIF []byte

// Config configures a Server. Keyring and Store are required.
type Config struct {
	Keyring *token.Keyring
	Store   store.Store
	// APIKeys are the bearer keys accepted by /v1/events (several, for
	// rotation). With none, the API answers 401 to everyone.
	APIKeys []string
	// IPMode says how much of the client address events keep; default truncate.
	IPMode store.IPMode
	// Retention deletes events older than this; zero keeps them forever.
	Retention time.Duration
	// PurgeEvery is how often Run purges; default min(Retention/10, 1h),
	// at least one minute.
	PurgeEvery time.Duration
	// RatePerIP is the sustained requests per second allowed per client
	// address (IPv4 address, IPv6 /64); zero means DefaultRate, negative
	// disables limiting. Burst defaults to max(2*rate, 20).
	RatePerIP float64
	Burst     int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed (e.g. 127.0.0.1/32 behind Caddy on the same host).
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// DefaultRate is the default per-address request rate. Mail providers'
// image proxies fetch for many users from few addresses, so it is generous.
const DefaultRate = 50

// Stats are counters since start, for logs and tests.
type Stats struct {
	Recorded, Invalid, Limited, Lost, Unauthorized int64
}

// Server is an http.Handler; Run does its background work.
type Server struct {
	cfg     Config
	mux     *http.ServeMux
	limiter *limiter
	apiKeys [][sha256.Size]byte
	log     *slog.Logger

	recorded, invalid, limited, lost, unauthorized atomic.Int64
}

// New checks cfg and builds the handler.
func New(cfg Config) (*Server, error) {
	if cfg.Keyring == nil || cfg.Store == nil {
		return nil, errors.New("server: Keyring and Store are required")
	}
	switch cfg.IPMode {
	case "":
		cfg.IPMode = store.IPTruncate
	case store.IPTruncate, store.IPNone:
	default:
		return nil, errors.New("server: IPMode must be truncate or none")
	}
	if cfg.Retention < 0 {
		return nil, errors.New("server: negative retention")
	}
	if cfg.PurgeEvery <= 0 {
		cfg.PurgeEvery = min(cfg.Retention/10, time.Hour)
	}
	cfg.PurgeEvery = max(cfg.PurgeEvery, time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger}
	for _, k := range cfg.APIKeys {
		if k == "" {
			return nil, errors.New("server: empty API key")
		}
		s.apiKeys = append(s.apiKeys, sha256.Sum256([]byte(k)))
	}
	rate := cfg.RatePerIP
	if rate == 0 {
		rate = DefaultRate
	}
	if rate > 0 {
		burst := cfg.Burst
		if burst <= 0 {
			burst = max(int(2*rate), 20)
		}
		s.limiter = newLimiter(rate, burst, cfg.Now)
	}
	s.mux.HandleFunc("GET /o/{token...}", s.limit(s.handleOpen))
	s.mux.HandleFunc("GET /c/{token}", s.limit(s.handleClick))
	s.mux.HandleFunc("GET /v1/events", s.limit(s.handleEvents))
	s.mux.HandleFunc("GET /healthz", s.handleHealth)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { notFound(w) })
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.route(w, r)
		return
	}
	start := s.cfg.Now()
	rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.route(rec, r)
	// The route, never the path: the path carries the token.
	s.log.Debug("request", "method", r.Method, "route", route(r.URL.Path), "status", rec.status,
		"duration", s.cfg.Now().Sub(start), "source", store.CoarseSource(s.clientIP(r), store.IPTruncate))
}

// route sends the pixel, nearly every request, straight to its handler and
// the rest through the mux. The shortcut takes only paths the mux would
// route to the same handler unchanged: GET or HEAD of /o/ followed by
// characters of the token alphabet and dots (no '/', so nothing to clean).
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if tok, ok := strings.CutPrefix(r.URL.Path, "/o/"); ok && plainSegment(tok) {
			if s.allow(w, r) {
				s.open(w, r, tok)
			}
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

func plainSegment(p string) bool {
	if p == "" {
		return false
	}
	for i := 0; i < len(p); i++ {
		if !segmentByte[p[i]] {
			return false
		}
	}
	return true
}

// segmentByte is plainSegment's alphabet: the token's (URL-safe base64)
// and the dot. A table: this runs on every byte of every pixel path.
var segmentByte = func() (t [256]bool) {
	for b := range 256 {
		t[b] = b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.'
	}
	return t
}()

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{s.recorded.Load(), s.invalid.Load(), s.limited.Load(), s.lost.Load(), s.unauthorized.Load()}
}

// Run purges expired events every PurgeEvery (once at start) and forgets idle
// rate-limit buckets, until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(min(s.cfg.PurgeEvery, time.Minute))
	defer t.Stop()
	var lastPurge time.Time
	for {
		now := s.cfg.Now()
		if s.cfg.Retention > 0 && (lastPurge.IsZero() || now.Sub(lastPurge) >= s.cfg.PurgeEvery) {
			lastPurge = now
			if _, err := s.PurgeNow(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("purge failed", "err", err)
			}
		}
		if s.limiter != nil {
			s.limiter.sweep()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PurgeNow deletes events older than the retention (no-op without one).
func (s *Server) PurgeNow(ctx context.Context) (int64, error) {
	if s.cfg.Retention <= 0 {
		return 0, nil
	}
	n, err := s.cfg.Store.Purge(ctx, s.cfg.Now().Add(-s.cfg.Retention))
	if n > 0 {
		s.log.Info("purged expired events", "count", n, "retention", s.cfg.Retention.String())
	}
	return n, err
}

func (s *Server) handleOpen(w http.ResponseWriter, r *http.Request) {
	s.open(w, r, r.PathValue("token"))
}

func (s *Server) open(w http.ResponseWriter, r *http.Request, path string) {
	tok, isGIF := strings.CutSuffix(path, ".gif")
	if isGIF {
		if c, err := s.cfg.Keyring.VerifyOpen(tok); err == nil {
			// HEAD (link checkers) is answered but not counted as an open.
			if r.Method == http.MethodGet {
				s.record(r, c, store.KindOpen)
			}
			writePixel(w)
			return
		}
	}
	s.invalid.Add(1)
	writePixel(w)
}

func (s *Server) handleClick(w http.ResponseWriter, r *http.Request) {
	dests := r.URL.Query()["u"]
	if len(dests) != 1 || !htmlrw.IsHTTPURL(dests[0]) {
		s.invalid.Add(1)
		notFound(w)
		return
	}
	c, err := s.cfg.Keyring.VerifyClick(r.PathValue("token"), dests[0])
	if err != nil {
		s.invalid.Add(1)
		notFound(w)
		return
	}
	if r.Method == http.MethodGet {
		s.record(r, c, store.KindClick)
	}
	h := w.Header()
	h.Set("Location", dests[0])
	h.Set("Cache-Control", "no-store")
	// The destination must not learn the tracker URL (with its token).
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusFound)
}

// record writes the event before the response. A store failure loses the
// hit but still answers normally: answering differently would tell a
// prober which tokens are valid, and the recipient's click must work.
func (s *Server) record(r *http.Request, c token.Claims, kind string) {
	ua := r.UserAgent()
	e := store.Event{
		At:        s.cfg.Now().UTC().Truncate(time.Microsecond),
		Kind:      kind,
		CopyID:    c.CopyID.String(),
		KeyID:     c.KeyID,
		UAClass:   string(classify.ClassifyUA(ua)),
		UserAgent: store.TruncateUA(ua),
		Source:    store.CoarseSource(s.clientIP(r), s.cfg.IPMode),
	}
	if kind == store.KindClick {
		e.LinkHash = hex.EncodeToString(c.LinkHash[:])
	}
	// A client hanging up must not cancel the write. No deadline here
	// either: a timer for every hit costs, and a backend that can hang
	// bounds its own wait (pgstore); sqlitestore waits only for its log.
	if _, err := s.cfg.Store.Record(context.WithoutCancel(r.Context()), e); err != nil {
		s.lost.Add(1)
		s.log.Error("event not recorded", "kind", kind, "err", err)
		return
	}
	s.recorded.Add(1)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := s.cfg.Store.Ping(ctx); err != nil {
		s.log.Warn("health check: store unavailable", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("store unavailable\n"))
		return
	}
	w.Write([]byte("ok\n"))
}

func (s *Server) limit(h http.HandlerFunc) http.HandlerFunc {
	if s.limiter == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if s.allow(w, r) {
			h(w, r)
		}
	}
}

// allow applies the rate limit; when the client is over it, it answers 429
// and returns false.
func (s *Server) allow(w http.ResponseWriter, r *http.Request) bool {
	if s.limiter == nil || s.limiter.allow(s.clientIP(r)) {
		return true
	}
	s.limited.Add(1)
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusTooManyRequests)
	w.Write([]byte("too many requests\n"))
	return false
}

// The pixel's header values, built once: Header.Set would canonicalize each
// name and allocate each value again on every hit. The slices are full
// (len == cap), so an append elsewhere could never write into them.
var (
	hdrGIF        = []string{"image/gif"}
	hdrPixelLen   = []string{strconv.Itoa(len(pixelGIF))}
	hdrNoCache    = []string{"no-cache, no-store, must-revalidate, private, max-age=0"}
	hdrPragma     = []string{"no-cache"}
	hdrExpires    = []string{"Thu, 01 Jan 1970 00:00:00 GMT"}
	hdrNoSniff    = []string{"nosniff"}
	hdrNoReferrer = []string{"no-referrer"}
)

func writePixel(w http.ResponseWriter) {
	h := w.Header()
	h["Content-Type"] = hdrGIF
	h["Content-Length"] = hdrPixelLen
	h["Cache-Control"] = hdrNoCache
	h["Pragma"] = hdrPragma
	h["Expires"] = hdrExpires
	h["X-Content-Type-Options"] = hdrNoSniff
	h["Referrer-Policy"] = hdrNoReferrer
	w.WriteHeader(http.StatusOK)
	w.Write(pixelGIF)
}

func notFound(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	w.Write([]byte("not found\n"))
}

func route(p string) string {
	switch {
	case strings.HasPrefix(p, "/o/"):
		return "/o"
	case strings.HasPrefix(p, "/c/"):
		return "/c"
	case p == "/v1/events", p == "/healthz":
		return p
	}
	return "other"
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
