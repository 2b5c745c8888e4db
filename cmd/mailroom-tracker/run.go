package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"mailroom/tracking/opentrack"
	"mailroom/tracking/opentrack/server"
	"mailroom/tracking/opentrack/store"
	"mailroom/tracking/opentrack/store/pgstore"
	"mailroom/tracking/opentrack/store/sqlitestore"
	"mailroom/tracking/opentrack/token"
)

const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// errUsage marks errors that are the caller's (exit status 2).
type errUsage struct{ msg string }

func (e errUsage) Error() string { return e.msg }

func usagef(format string, a ...any) error { return errUsage{fmt.Sprintf(format, a...)} }

// run is main without the process: tests call it with their own context,
// output and a hook that learns the listening address.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, onListen func(addr string)) int {
	var err error
	switch {
	case len(args) > 0 && args[0] == "mint":
		err = runMint(args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "genkey":
		err = runGenkey(args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "recover":
		err = runRecover(ctx, args[1:], stdout, stderr)
	default:
		err = runServe(ctx, args, stderr, onListen)
	}
	var u errUsage
	switch {
	case err == nil || errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "mailroom-tracker: %v\n", err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "mailroom-tracker: %v\n", err)
		return exitError
	}
}

// defaultFsync is --fsync's default. A hit answered under it survives a
// kill or crash of the tracker (its record is in the kernel's page cache
// before the answer); only a power loss or kernel crash within the last
// 100 ms can lose hits. "always" closes that window at about half the
// throughput (docs/tracker.md, Durability): the same trade as PostgreSQL's
// synchronous_commit=off, made here because a hit is a signal the next
// open repeats, not a message.
const defaultFsync = "100ms"

type serveFlags struct {
	listen, db, postgres, baseURL, keyFile, apiKeyFile string
	retention, ipMode, rate, trustProxy, fsync         string
	burst                                              int
	logLevel, logFormat                                string
}

func parseServe(args []string, stderr io.Writer) (*serveFlags, error) {
	f := &serveFlags{}
	fs := flag.NewFlagSet("mailroom-tracker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:8787", "address to listen on (put TLS in front: see docs/tracker.md)")
	fs.StringVar(&f.db, "db", "", "SQLite database file (one instance)")
	fs.StringVar(&f.postgres, "postgres", "", "PostgreSQL DSN for several instances (or set MAILROOM_TRACKER_POSTGRES to keep a password out of the process list)")
	fs.StringVar(&f.baseURL, "base-url", "", "public URL of this tracker, as put in messages (logged; used by mint)")
	fs.StringVar(&f.keyFile, "key-file", "", "HMAC keys, one id:base64key per line, first one signs (required)")
	fs.StringVar(&f.apiKeyFile, "api-key-file", "", "bearer keys for /v1/events, one per line (without it the API refuses everyone)")
	fs.StringVar(&f.fsync, "fsync", defaultFsync, "SQLite hit log: a duration D (answer once written to the log; fdatasync every D; survives a crash or kill of the tracker, a power loss can take the last D) or always (fdatasync before answering; survives a power loss too, about half the hits per second)")
	fs.StringVar(&f.retention, "retention", "90d", "delete events older than this (e.g. 90d, 36h; 0 keeps them forever)")
	fs.StringVar(&f.ipMode, "ip-mode", "truncate", "client address kept with events: truncate (IPv4 /24, IPv6 /48) or none")
	fs.StringVar(&f.rate, "rate", strconv.Itoa(server.DefaultRate), "requests per second per client address (N, N/s or N/m; 0 disables)")
	fs.IntVar(&f.burst, "burst", 0, "burst per client address (default max(2*rate, 20))")
	fs.StringVar(&f.trustProxy, "trust-proxy", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug (one line per request), info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "json", "json or text")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage{err.Error()}
	}
	if fs.NArg() > 0 {
		return nil, usagef("unexpected argument %q", fs.Arg(0))
	}
	if f.postgres == "" && f.db == "" {
		f.postgres = os.Getenv("MAILROOM_TRACKER_POSTGRES")
	}
	if (f.db == "") == (f.postgres == "") {
		return nil, usagef("give exactly one of --db PATH or --postgres DSN")
	}
	fsyncSet := false
	fs.Visit(func(fl *flag.Flag) { fsyncSet = fsyncSet || fl.Name == "fsync" })
	if f.postgres != "" && fsyncSet {
		return nil, usagef("--fsync applies to --db (SQLite) only")
	}
	if f.keyFile == "" {
		return nil, usagef("--key-file is required (create one with: mailroom-tracker genkey > keys)")
	}
	return f, nil
}

func runServe(ctx context.Context, args []string, stderr io.Writer, onListen func(string)) error {
	f, err := parseServe(args, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		// The live heap is a few MB (hits are small and leave as soon as
		// they are in SQLite), so the default GOGC=100 collects every few
		// MB of per-request garbage: at tens of thousands of hits a
		// second that is a visible share of the CPU. A bigger ratio
		// costs some MB of memory. GOGC in the environment wins.
		debug.SetGCPercent(400)
	}
	cfg := server.Config{Logger: log, Burst: f.burst, IPMode: store.IPMode(f.ipMode)}
	if cfg.IPMode != store.IPTruncate && cfg.IPMode != store.IPNone {
		return usagef("--ip-mode must be truncate or none")
	}
	if cfg.Retention, err = parseRetention(f.retention); err != nil {
		return err
	}
	if cfg.RatePerIP, err = parseRate(f.rate); err != nil {
		return err
	}
	if cfg.RatePerIP == 0 {
		cfg.RatePerIP = -1 // the flag's 0 means off; the Config's 0 means default
	}
	if cfg.TrustedProxies, err = parseCIDRs(f.trustProxy); err != nil {
		return err
	}
	if f.baseURL != "" {
		if err := opentrack.CheckBaseURL(f.baseURL); err != nil {
			return usagef("--base-url: %v", err)
		}
	}
	if cfg.Keyring, err = loadKeyring(f.keyFile, log); err != nil {
		return err
	}
	if f.apiKeyFile != "" {
		if cfg.APIKeys, err = loadAPIKeys(f.apiKeyFile, log); err != nil {
			return err
		}
	} else {
		log.Warn("no --api-key-file: the events API refuses every request")
	}

	openCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var st store.Store
	backend := "sqlite"
	if f.db != "" {
		var opt sqlitestore.Options
		if opt.SyncEvery, err = parseFsync(f.fsync); err != nil {
			return err
		}
		var ss *sqlitestore.Store
		if ss, err = sqlitestore.OpenOptions(openCtx, f.db, opt); err == nil && !ss.OwnsLog() {
			ss.Close()
			err = fmt.Errorf("%s: another mailroom-tracker (or recover) is using this database", f.db)
		}
		if err == nil {
			st = ss
			if r := ss.Recovered(); r.Replayed > 0 || r.Torn > 0 {
				log.Warn("replayed the hit log of a tracker that did not stop cleanly", "events", r.Replayed, "segments", r.Segments, "torn_records_dropped", r.Torn)
			}
		}
	} else {
		backend = "postgres"
		st, err = pgstore.Open(openCtx, f.postgres)
	}
	if err != nil {
		return err
	}
	defer st.Close()
	cfg.Store = st

	srv, err := server.New(cfg)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	bgCtx, stopBG := context.WithCancel(context.Background())
	bgDone := make(chan struct{})
	go func() { srv.Run(bgCtx); close(bgDone) }()

	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(l) }()
	log.Info("listening", "addr", l.Addr().String(), "backend", backend, "fsync", f.fsync, "base_url", f.baseURL,
		"active_key_id", cfg.Keyring.ActiveKeyID(), "keys", len(cfg.Keyring.KeyIDs()), "api_keys", len(cfg.APIKeys),
		"retention", cfg.Retention.String(), "ip_mode", string(cfg.IPMode), "rate_per_ip", cfg.RatePerIP)
	if onListen != nil {
		onListen(l.Addr().String())
	}

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
		shCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		// Shutdown stops accepting and waits for in-flight hits, which
		// record before they answer: nothing accepted is lost.
		if err := hs.Shutdown(shCtx); err != nil {
			runErr = fmt.Errorf("shutdown: %w", err)
		}
		<-serveErr
	case err := <-serveErr:
		runErr = err
	}
	stopBG()
	<-bgDone
	s := srv.Stats()
	attrs := []any{"recorded", s.Recorded, "invalid", s.Invalid, "rate_limited", s.Limited, "lost", s.Lost, "unauthorized", s.Unauthorized}
	if ls, ok := st.(*sqlitestore.Store); ok {
		l := ls.LogStats()
		attrs = append(attrs, "log_syncs", l.Syncs, "ingests", l.Ingests)
	}
	log.Info("stopped", attrs...)
	return runErr
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	}
	return nil, usagef("--log-format %q: want json or text", format)
}

// readSecretFile reads a key file, warning (without content) when others
// may read it.
func readSecretFile(path, what string, log *slog.Logger) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if fi.Mode().Perm()&0o077 != 0 && log != nil {
		log.Warn("secret file is readable by group or others; chmod 600 it", "file", path, "what", what)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}

func loadKeyring(path string, log *slog.Logger) (*token.Keyring, error) {
	b, err := readSecretFile(path, "key file", log)
	if err != nil {
		return nil, err
	}
	kr, err := token.ParseKeyring(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return kr, nil
}

func loadAPIKeys(path string, log *slog.Logger) ([]string, error) {
	b, err := readSecretFile(path, "API key file", log)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if len(line) < 16 {
			return nil, fmt.Errorf("%s: an API key is shorter than 16 characters", path)
		}
		keys = append(keys, line)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: no API keys", path)
	}
	return keys, nil
}

// parseRetention accepts Go durations plus a days suffix ("90d").
func parseRetention(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" || s == "" {
		return 0, nil
	}
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 || n > 100*365 {
			return 0, usagef("--retention %q: want e.g. 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, usagef("--retention %q: want e.g. 90d or 36h", s)
	}
	return d, nil
}

// parseFsync reads --fsync: "always" (0) or a duration between 1ms and 10s.
func parseFsync(s string) (time.Duration, error) {
	if s == "always" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Millisecond || d > 10*time.Second {
		return 0, usagef("--fsync %q: want always or a duration from 1ms to 10s", s)
	}
	return d, nil
}

// parseRate accepts "N", "N/s" or "N/m" and returns requests per second.
func parseRate(s string) (float64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, usagef("--rate %q: want N, N/s or N/m", s)
	}
	switch unit {
	case "", "s":
		return n, nil
	case "m":
		return n / 60, nil
	}
	return 0, usagef("--rate %q: want N, N/s or N/m", s)
}

func parseCIDRs(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil {
				return nil, usagef("--trust-proxy %q: not a CIDR or address", part)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func runMint(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mailroom-tracker mint", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key-file", "", "HMAC key file of the running tracker")
	base := fs.String("base-url", "", "the tracker's URL, e.g. http://127.0.0.1:8787")
	kind := fs.String("kind", "open", "open or click")
	n := fs.Int("n", 1000, "how many URLs (each for a fresh random copy)")
	dest := fs.String("dest", "https://example.com/", "click destination")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage{err.Error()}
	}
	if *keyFile == "" || *base == "" || *n < 1 {
		return usagef("mint needs --key-file, --base-url and --n >= 1")
	}
	kr, err := loadKeyring(*keyFile, nil)
	if err != nil {
		return err
	}
	urls, err := opentrack.MintURLs(opentrack.Links{BaseURL: *base, Keyring: kr}, *kind, *n, *dest)
	if err != nil {
		return usagef("%v", err)
	}
	_, err = io.WriteString(stdout, strings.Join(urls, "\n")+"\n")
	return err
}

func runGenkey(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mailroom-tracker genkey", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", time.Now().UTC().Format("20060102"), "key id (1-16 of A-Z a-z 0-9 - _ .)")
	api := fs.Bool("api", false, "print a random API key instead of an HMAC key line")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage{err.Error()}
	}
	if *api {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return err
		}
		_, err := fmt.Fprintln(stdout, base64.RawURLEncoding.EncodeToString(b))
		return err
	}
	line, err := token.GenerateKeyLine(*id)
	if err != nil {
		return usagef("%v", err)
	}
	_, err = fmt.Fprintln(stdout, line)
	return err
}

// runRecover opens a SQLite database as the server would, which replays
// the hit log left by a tracker that did not stop cleanly (a crash, a
// SIGKILL) into it, and reports what it found and how many events the
// database holds.
func runRecover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mailroom-tracker recover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "SQLite database file of a stopped tracker")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage{err.Error()}
	}
	if *db == "" || fs.NArg() > 0 {
		return usagef("recover needs --db PATH (and nothing else)")
	}
	if _, err := os.Stat(*db); err != nil {
		return err
	}
	st, err := sqlitestore.Open(ctx, *db)
	if err != nil {
		return err
	}
	if !st.OwnsLog() {
		st.Close()
		return fmt.Errorf("%s: a running mailroom-tracker is using this database; stop it first (a start replays the log too)", *db)
	}
	r := st.Recovered()
	n, err := st.Count(ctx)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "replayed %d events from %d hit log segments (%d ended in a torn record, dropped); %d events in the database\n",
		r.Replayed, r.Segments, r.Torn, n)
	return err
}
