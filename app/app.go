// Package app is Mailroom's composition root: it resolves the data
// directory, opens SQLite and runs every component's migrations, reaches
// credentials, builds the services (accounts, outbox, report sync, open
// tracking, tracking queries), starts and stops the background workers, and
// hands the UI and the CLI what they need.
//
// It is the only package that knows every other one; nothing imports it
// except main, the CLI and the UI adapters (app/uisvc).
package app

import (
	"context"
	"crypto/x509"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking/opentrack/store/sqlitestore"
	"mailroom/tracking/outbox"
	"mailroom/tracking/reports"
	"mailroom/tracking/store"
	"mailroom/tracking/view"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Version is the release version, set at build time with
// -ldflags "-X mailroom/app.Version=..."; FyneApp.toml carries the same.
var Version = "0.1.0"

// App holds the opened data directory and its services.
type App struct {
	Dir      string
	DB       *sqlitedb.DB
	Store    *store.Store
	View     *view.View
	Outbox   *outbox.Outbox
	Reports  *reports.Reports
	Accounts *Accounts
	Drafts   *Drafts
	Log      *slog.Logger

	// OnChange is called (without blocking) after the delivery record
	// changed: the GUI hangs its refresh broadcast here.
	OnChange func()

	rootCAs *x509.CertPool // tests: trust this pool instead of the accounts' CA files
	mu      sync.Mutex
	tracker *sqlitestore.Store
	// sentKick wakes the Sent-copy appender after the outbox changed, so a
	// copy reaches the Sent mailbox seconds after its acceptance rather
	// than at the next minute's look.
	sentKick chan struct{}
}

// Options configure Open.
type Options struct {
	DataDir string // resolved directory (see DataDir)
	Creds   Credentials
	Log     *slog.Logger // nil: discard
	// RootCAs overrides certificate trust for every server (tests only).
	RootCAs *x509.CertPool
}

// Open creates the data directory if needed, opens the database and brings
// every component's schema up to date.
func Open(ctx context.Context, opt Options) (*App, error) {
	if err := os.MkdirAll(opt.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	db, err := sqlitedb.Open(filepath.Join(opt.DataDir, "mailroom.db"), sqlitedb.Options{})
	if err != nil {
		return nil, err
	}
	a := &App{Dir: opt.DataDir, DB: db, Log: opt.Log, rootCAs: opt.RootCAs}
	if a.Log == nil {
		a.Log = discardLogger()
	}
	if err := a.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	a.Accounts = &Accounts{DB: db, Creds: opt.Creds}
	a.Drafts = &Drafts{DB: db}
	return a, nil
}

func (a *App) migrate(ctx context.Context) error {
	if err := a.DB.Migrate(ctx, "accounts", migrations, "migrations"); err != nil {
		return err
	}
	var err error
	if a.Store, err = store.OpenStore(ctx, a.DB); err != nil {
		return err
	}
	if a.View, err = view.Open(ctx, a.Store); err != nil {
		return err
	}
	if a.Outbox, err = outbox.Open(ctx, a.Store, nil); err != nil {
		return err
	}
	a.sentKick = make(chan struct{}, 1)
	a.Outbox.OnChange = func(string) {
		a.notify()
		select {
		case a.sentKick <- struct{}{}:
		default:
		}
	}
	a.Reports, err = reports.Open(ctx, a.Store)
	return err
}

func (a *App) notify() {
	if a.OnChange != nil {
		a.OnChange()
	}
}

// Close releases the database.
func (a *App) Close() error {
	var errs []error
	a.mu.Lock()
	if a.tracker != nil {
		errs = append(errs, a.tracker.Close())
	}
	a.mu.Unlock()
	return errors.Join(append(errs, a.DB.Close())...)
}

// AccountPaused reports whether the outbox holds an account's mail.
func (a *App) AccountPaused(ctx context.Context, name string) bool {
	states, err := a.Outbox.Accounts(ctx)
	if err != nil {
		return false
	}
	return states[name].Paused()
}
