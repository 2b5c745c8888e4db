// Package pgstore is the tracker backend for several tracker instances
// behind a load balancer: they all write to one PostgreSQL database through
// github.com/jackc/pgx/v5.
//
// The cursor problem and how it is solved: IDs come from an identity
// sequence, which hands them out in order, but concurrent transactions may
// commit out of order (ID 8 visible while ID 7 is still in flight). A reader
// that saw 8 and moved its cursor past it would never see 7. So Events first
// takes LOCK TABLE ... IN SHARE MODE: that waits until every transaction
// holding ROW EXCLUSIVE (every in-flight INSERT, which takes it before the
// sequence is read) has ended, and keeps new ones out while the SELECT runs.
// Every allocated ID below the newest visible one is then either committed
// or rolled back for good. Writers only wait for the duration of one indexed
// SELECT, and readers (the app polling) are few.
//
// Migrations are embedded and applied in one transaction under an advisory
// lock, so instances starting together do not race.
package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"mailroom/tracking/opentrack/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the pg_advisory_xact_lock key for schema changes
// ("mroomotk" as an int64), arbitrary but fixed.
const migrationLock int64 = 0x6d726f6f6d6f746b

// recordTimeout bounds one Record.
const recordTimeout = 10 * time.Second

// Store implements store.Store on PostgreSQL.
type Store struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open connects with a libpq-style DSN or URL and migrates the schema.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors can echo the DSN, password included.
		return nil, errors.New("pgstore: cannot parse the PostgreSQL connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return &Store{pool: pool}, nil
}

func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	entries, err := fs.ReadDir(migrations, "migrations")
	if err != nil {
		return err
	}
	type mig struct {
		n    int
		name string
	}
	var migs []mig
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		n, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("pgstore: migration %q is not named NNNN_name.sql", e.Name())
		}
		migs = append(migs, mig{n, e.Name()})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].n < migs[j].n })

	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return fmt.Errorf("pgstore: migration lock: %w", err)
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS opentrack_schema_version(
			version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`); err != nil {
			return fmt.Errorf("pgstore: migrate: %w", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM opentrack_schema_version`).Scan(&current); err != nil {
			return fmt.Errorf("pgstore: migrate: %w", err)
		}
		for _, m := range migs {
			if m.n <= current {
				continue
			}
			body, err := fs.ReadFile(migrations, "migrations/"+m.name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return fmt.Errorf("pgstore: migrate %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO opentrack_schema_version(version) VALUES ($1)`, m.n); err != nil {
				return fmt.Errorf("pgstore: migrate %s: %w", m.name, err)
			}
		}
		return nil
	})
}

// Record implements store.Store. The INSERT commits on its own (synchronous
// commit is PostgreSQL's default), so the event is durable when it returns.
func (s *Store) Record(ctx context.Context, e store.Event) (store.Event, error) {
	if s.closed.Load() {
		return e, store.ErrClosed
	}
	if err := e.Validate(); err != nil {
		return e, err
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	// The server passes a context that never ends (a client hanging up
	// must not cancel the write); bound the wait for the database here.
	ctx, cancel := context.WithTimeout(ctx, recordTimeout)
	defer cancel()
	err := s.pool.QueryRow(ctx, `INSERT INTO opentrack_events
		(at, kind, copy_id, key_id, link_hash, ua_class, user_agent, source)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		e.At, e.Kind, e.CopyID, e.KeyID, e.LinkHash, e.UAClass, e.UserAgent, e.Source).Scan(&e.ID)
	if err != nil {
		return e, fmt.Errorf("pgstore: record event: %w", err)
	}
	return e, nil
}

// Events implements store.Store; see the package comment for the lock.
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	if s.closed.Load() {
		return nil, store.ErrClosed
	}
	if limit <= 0 {
		return nil, nil
	}
	var out []store.Event
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Bounded wait: a stuck writer must not hang the API forever.
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '10s'`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE opentrack_events IN SHARE MODE`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id, at, kind, copy_id, key_id, link_hash, ua_class, user_agent, source
			FROM opentrack_events WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var e store.Event
			if err := rows.Scan(&e.ID, &e.At, &e.Kind, &e.CopyID, &e.KeyID, &e.LinkHash, &e.UAClass, &e.UserAgent, &e.Source); err != nil {
				return err
			}
			e.At = e.At.UTC()
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: events: %w", err)
	}
	return out, nil
}

// Purge implements store.Store, in chunks so no statement runs long. Several
// instances purging at once is harmless: the deletes are idempotent.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if s.closed.Load() {
		return 0, store.ErrClosed
	}
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM opentrack_events WHERE id IN
			(SELECT id FROM opentrack_events WHERE at < $1 ORDER BY id LIMIT 5000)`, before)
		if err != nil {
			return total, fmt.Errorf("pgstore: purge: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() == 0 {
			return total, nil
		}
	}
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return s.pool.Ping(ctx)
}

// Close closes the pool.
func (s *Store) Close() error {
	if s.closed.CompareAndSwap(false, true) {
		s.pool.Close()
	}
	return nil
}
