package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailroom/tracking/opensync"
	"mailroom/tracking/opentrack"
	"mailroom/tracking/opentrack/store/sqlitestore"
	"mailroom/tracking/opentrack/token"
)

// Open tracking modes (setting tracking.mode).
const (
	TrackingOff     = "off"
	TrackingBuiltin = "builtin"
	TrackingRemote  = "remote"
)

// trackerDir holds the built-in tracker's key file and event database.
// The key file is a secret: it lives beside the database with mode 0600,
// never inside it.
func (a *App) trackerDir() string { return filepath.Join(a.Dir, "tracker") }

// loadKeyring reads the HMAC key file of the mode in force, creating the
// built-in tracker's on first use.
func (a *App) loadKeyring(ctx context.Context, mode string) (*token.Keyring, error) {
	path := filepath.Join(a.trackerDir(), "keys")
	if mode == TrackingRemote {
		p, err := a.GetSetting(ctx, "tracking.key_file")
		if err != nil {
			return nil, err
		}
		if p == "" {
			return nil, errors.New("remote tracking needs tracking.key_file: the tracker's key file, copied from the server")
		}
		path = p
	} else if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(a.trackerDir(), 0o700); err != nil {
			return nil, err
		}
		line, err := token.GenerateKeyLine("k1")
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(line+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("write tracker key file: %w", err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tracker key file: %w", err)
	}
	defer f.Close()
	return token.ParseKeyring(f)
}

// TrackingLinks returns how to make pixel and click URLs, or nil when
// tracking is off.
func (a *App) TrackingLinks(ctx context.Context) (*opentrack.Links, error) {
	mode, err := a.GetSetting(ctx, "tracking.mode")
	if err != nil || mode == TrackingOff {
		return nil, err
	}
	base, err := a.GetSetting(ctx, "tracking.base_url")
	if err != nil {
		return nil, err
	}
	if mode == TrackingBuiltin && base == "" {
		listen, _ := a.GetSetting(ctx, "tracking.listen")
		base = "http://" + listen
	}
	if err := opentrack.CheckBaseURL(base); err != nil {
		return nil, fmt.Errorf("tracking.base_url: %w", err)
	}
	kr, err := a.loadKeyring(ctx, mode)
	if err != nil {
		return nil, err
	}
	return &opentrack.Links{BaseURL: base, Keyring: kr}, nil
}

// openSource returns where tracker events come from in the mode in force.
func (a *App) openSource(ctx context.Context) (opensync.Source, string, func(), error) {
	mode, err := a.GetSetting(ctx, "tracking.mode")
	if err != nil || mode == TrackingOff {
		return nil, "", nil, err
	}
	if mode == TrackingRemote {
		u, _ := a.GetSetting(ctx, "tracking.remote_url")
		kf, _ := a.GetSetting(ctx, "tracking.api_key_file")
		if u == "" || kf == "" {
			return nil, "", nil, errors.New("remote tracking needs tracking.remote_url and tracking.api_key_file")
		}
		key, err := os.ReadFile(kf)
		if err != nil {
			return nil, "", nil, fmt.Errorf("tracker API key file: %w", err)
		}
		return &opentrack.Client{BaseURL: u, APIKey: strings.TrimSpace(string(key))}, "remote", func() {}, nil
	}
	st, err := a.trackerStore(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	return opensync.StoreSource{Store: st}, "builtin", func() {}, nil
}

// trackerStore opens the built-in tracker's event database once.
func (a *App) trackerStore(ctx context.Context) (*sqlitestore.Store, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tracker != nil {
		return a.tracker, nil
	}
	if err := os.MkdirAll(a.trackerDir(), 0o700); err != nil {
		return nil, err
	}
	// A reader until serveBuiltinTracker owns it: a command run beside the
	// window must not take the hit log the window's tracker writes.
	st, err := sqlitestore.OpenOptions(ctx, filepath.Join(a.trackerDir(), "tracker.db"), sqlitestore.Options{Reader: true})
	if err != nil {
		return nil, err
	}
	a.tracker = st
	return st, nil
}

// SyncOpens pulls new tracker hits once (no-op when tracking is off).
func (a *App) SyncOpens(ctx context.Context) error {
	src, name, done, err := a.openSource(ctx)
	if err != nil || src == nil {
		return err
	}
	defer done()
	_, err = (&opensync.Syncer{Store: a.Store, Source: src, Name: name}).SyncOnce(ctx)
	return err
}

// runOpens serves the built-in tracker (in builtin mode) and syncs hits
// every 30 seconds until ctx ends.
func (a *App) runOpens(ctx context.Context) error {
	mode, err := a.GetSetting(ctx, "tracking.mode")
	if err != nil {
		return err
	}
	if mode == TrackingBuiltin {
		stop, err := a.serveBuiltinTracker(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	for {
		if err := a.SyncOpens(ctx); err != nil {
			a.Log.Warn("open tracking sync failed", "err", err)
		} else {
			a.notify()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(30 * time.Second):
		}
	}
}

// serveBuiltinTracker listens on tracking.listen with the in-process
// tracker; recipients reach it through tracking.base_url.
func (a *App) serveBuiltinTracker(ctx context.Context) (func(), error) {
	listen, err := a.GetSetting(ctx, "tracking.listen")
	if err != nil {
		return nil, err
	}
	kr, err := a.loadKeyring(ctx, TrackingBuiltin)
	if err != nil {
		return nil, err
	}
	st, err := a.trackerStore(ctx)
	if err != nil {
		return nil, err
	}
	if err := st.Own(ctx); err != nil {
		return nil, fmt.Errorf("built-in tracker: another Mailroom process is serving it (close it, or run only one of the window and `mailroom run`): %w", err)
	}
	retention, _ := a.GetSetting(ctx, "tracking.retention")
	keep, _ := ParseDuration(retention)
	srv, err := opentrack.NewServer(opentrack.Config{Keyring: kr, Store: st, Retention: keep, Logger: a.Log})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("built-in tracker: %w", err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	bg, cancel := context.WithCancel(ctx)
	go srv.Run(bg)
	go hs.Serve(l)
	a.Log.Info("built-in tracker listening", "addr", l.Addr().String())
	return func() {
		cancel()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		hs.Shutdown(sctx)
	}, nil
}
