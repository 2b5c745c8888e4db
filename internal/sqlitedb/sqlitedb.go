// Package sqlitedb owns how Mailroom opens SQLite: one file, WAL journal,
// foreign keys on, a busy timeout, exactly one writer connection and a small
// pool of readers, plus numbered SQL migrations embedded per component and
// recorded in a version table.
//
// Invariants: every write goes through DB.W (a pool of size one), so writers
// never fight over the lock; readers use DB.R and never block the writer
// (WAL). Migrations run in one transaction per file, so a crash leaves the
// schema at a known version.
package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go, no cgo)
)

// DB is a SQLite database with one writer connection and a read pool.
type DB struct {
	W    *sql.DB // single connection: all writes and read-modify-write transactions
	R    *sql.DB // read-only pool
	Path string
}

// Options tune Open; the zero value is what the app uses.
type Options struct {
	BusyTimeout time.Duration // default 10s
	Readers     int           // default 4
}

// readerCacheKiB is the page cache of each read connection; the writer
// keeps SQLite's default (2 MB), which its transactions reuse.
const readerCacheKiB = 512

// walCheckpointPages is the writer's wal_autocheckpoint.
const walCheckpointPages = 4000

func dsn(file string, readOnly bool, busy time.Duration) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	// NORMAL is durable across application crashes in WAL mode; transactions
	// that must survive power loss too (enqueue) raise it to FULL themselves.
	q.Add("_pragma", "synchronous(NORMAL)")
	if readOnly {
		// Each connection has its own page cache (2 MB by default), kept
		// for the life of the connection: 8 MB over four readers, a tenth
		// of the desktop app's memory. The readers' queries (list pages,
		// counts, searches) either touch a few pages or scan far more
		// than 2 MB, which the OS's page cache serves either way; 512 KiB
		// keeps the upper levels of the B-trees. bench/view on 100,000
		// messages: every query within 5% of its time with 2 MB.
		q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -readerCacheKiB))
		q.Add("_pragma", "query_only(1)")
	} else {
		// The writer checkpoints the WAL after a commit once it holds
		// walCheckpointPages pages instead of SQLite's 1,000: a page
		// rewritten by many commits (the tail of a table or an index) is
		// copied into the database once per checkpoint, and each
		// checkpoint syncs the WAL and the database. bench/outbox: about
		// 10% more copies/s; the WAL file stays under ~16 MB.
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walCheckpointPages))
	}
	q.Add("_txlock", "immediate")
	return "file:" + file + "?" + q.Encode()
}

// Open opens (creating if needed) the database at file.
func Open(file string, opt Options) (*DB, error) {
	if opt.BusyTimeout == 0 {
		opt.BusyTimeout = 10 * time.Second
	}
	if opt.Readers == 0 {
		opt.Readers = 4
	}
	w, err := sql.Open("sqlite", dsn(file, false, opt.BusyTimeout))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	if err := w.Ping(); err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	r, err := sql.Open("sqlite", dsn(file, true, opt.BusyTimeout))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open database %s: %w", file, err)
	}
	r.SetMaxOpenConns(opt.Readers)
	r.SetMaxIdleConns(opt.Readers)
	return &DB{W: w, R: r, Path: file}, nil
}

// Close closes both pools.
func (db *DB) Close() error {
	return errors.Join(db.R.Close(), db.W.Close())
}

// IntegrityCheck runs PRAGMA integrity_check and returns its lines; a healthy
// database returns exactly ["ok"].
func (db *DB) IntegrityCheck(ctx context.Context) ([]string, error) {
	rows, err := db.W.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// WithTx runs fn in a write transaction (BEGIN IMMEDIATE) and commits it.
func (db *DB) WithTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.W.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// WithFullSyncTx is WithTx with synchronous=FULL for this transaction, for
// writes that must survive power loss (the outbox's enqueue).
func (db *DB) WithFullSyncTx(ctx context.Context, fn func(*sql.Tx) error) error {
	conn, err := db.W.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=FULL"); err != nil {
		return err
	}
	defer conn.ExecContext(context.Background(), "PRAGMA synchronous=NORMAL")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Migrate applies the numbered migrations of one component. Files in dir are
// named NNNN_description.sql and applied in order; each runs in its own
// transaction together with the version bump.
func (db *DB) Migrate(ctx context.Context, component string, fsys fs.FS, dir string) error {
	if _, err := db.W.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_versions(
		component TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	type mig struct {
		n    int
		name string
	}
	var migs []mig
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		num, _, ok := strings.Cut(e.Name(), "_")
		n, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("migrate %s: file %q is not named NNNN_name.sql", component, e.Name())
		}
		migs = append(migs, mig{n, e.Name()})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].n < migs[j].n })
	var current int
	err = db.W.QueryRowContext(ctx, `SELECT version FROM schema_versions WHERE component=?`, component).Scan(&current)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("migrate %s: %w", component, err)
	}
	for _, m := range migs {
		if m.n <= current {
			continue
		}
		body, err := fs.ReadFile(fsys, path.Join(dir, m.name))
		if err != nil {
			return err
		}
		err = db.WithTx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_versions(component, version, applied_at) VALUES(?,?,?)
				ON CONFLICT(component) DO UPDATE SET version=excluded.version, applied_at=excluded.applied_at`,
				component, m.n, time.Now().UTC().Format(time.RFC3339))
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s %s: %w", component, m.name, err)
		}
	}
	return nil
}
