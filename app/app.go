// Package app is Mailroom's composition root: it resolves the data
// directory, opens SQLite and runs every component's migrations, reaches
// credentials, builds the services (accounts, outbox, report sync, open
// tracking, tracking queries), starts and stops the background workers, and
// hands the UI and the CLI what they need.
//
// It is the only package that knows every other one; nothing imports it
// except main and the CLI.
package app

import (
	"context"
	"embed"
	"fmt"
	"os"
	"path/filepath"

	"mailroom/internal/sqlitedb"
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
	Accounts *Accounts
	Drafts   *Drafts
}

// Options configure Open.
type Options struct {
	DataDir string // resolved directory (see DataDir)
	Creds   Credentials
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
	a := &App{Dir: opt.DataDir, DB: db}
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
	st, err := store.OpenStore(ctx, a.DB)
	if err != nil {
		return err
	}
	a.Store = st
	a.View, err = view.Open(ctx, st)
	return err
}

// Close releases the database.
func (a *App) Close() error { return a.DB.Close() }
