// Package sqlitestore is the default tracker backend: one SQLite file opened
// through internal/sqlitedb, schema from embedded migrations (component
// "opentrack").
//
// Durability with speed: Record hands its event to a single committer
// goroutine that writes whatever events are waiting in one transaction with
// synchronous=FULL (group commit), then answers every caller. An event is on
// disk before Record returns, and a burst of hits costs one fsync, not one
// each. IDs come from AUTOINCREMENT on the single writer connection, so they
// increase in commit order and a reader's cursor never skips one.
package sqlitestore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"sync"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking/opentrack/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxBatch bounds one group commit, so a flood cannot hold the writer long.
const maxBatch = 256

// Store implements store.Store on SQLite.
type Store struct {
	db    *sqlitedb.DB
	owned bool

	reqs      chan *recordReq
	quit      chan struct{}
	loopDone  chan struct{}
	closeOnce sync.Once
}

type recordReq struct {
	e    store.Event
	done chan error
}

var _ store.Store = (*Store)(nil)

// Open opens (creating and migrating) the database file at path.
func Open(ctx context.Context, path string) (*Store, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{})
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, db)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// New uses an already open database (the desktop app's, in built-in mode),
// migrating its opentrack tables. Close does not close db.
func New(ctx context.Context, db *sqlitedb.DB) (*Store, error) {
	if err := db.Migrate(ctx, "opentrack", migrations, "migrations"); err != nil {
		return nil, err
	}
	s := &Store{
		db:       db,
		reqs:     make(chan *recordReq),
		quit:     make(chan struct{}),
		loopDone: make(chan struct{}),
	}
	go s.commitLoop()
	return s, nil
}

// Record implements store.Store.
func (s *Store) Record(ctx context.Context, e store.Event) (store.Event, error) {
	if err := e.Validate(); err != nil {
		return e, err
	}
	r := &recordReq{e: e, done: make(chan error, 1)}
	select {
	case s.reqs <- r:
	case <-s.quit:
		return e, store.ErrClosed
	case <-ctx.Done():
		return e, ctx.Err()
	}
	// Once handed over the write happens whatever the caller does, so wait
	// for it: the answer says whether the event is on disk.
	err := <-r.done
	return r.e, err
}

func (s *Store) commitLoop() {
	defer close(s.loopDone)
	batch := make([]*recordReq, 0, maxBatch)
	for {
		select {
		case <-s.quit:
			return
		case r := <-s.reqs:
			batch = append(batch[:0], r)
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		err := s.writeBatch(batch)
		for _, r := range batch {
			r.done <- err
		}
	}
}

func (s *Store) writeBatch(batch []*recordReq) error {
	// Not the callers' contexts: one canceled caller must not undo the others.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.db.WithFullSyncTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `INSERT INTO opentrack_events
			(at_us, kind, copy_id, key_id, link_hash, ua_class, user_agent, source)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, r := range batch {
			e := &r.e
			e.At = e.At.UTC().Truncate(time.Microsecond)
			res, err := st.ExecContext(ctx, e.At.UnixMicro(), e.Kind, e.CopyID, e.KeyID, e.LinkHash, e.UAClass, e.UserAgent, e.Source)
			if err != nil {
				return fmt.Errorf("record event: %w", err)
			}
			if e.ID, err = res.LastInsertId(); err != nil {
				return err
			}
		}
		return nil
	})
}

// Events implements store.Store.
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, at_us, kind, copy_id, key_id, link_hash, ua_class, user_agent, source
		FROM opentrack_events WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var us int64
		if err := rows.Scan(&e.ID, &us, &e.Kind, &e.CopyID, &e.KeyID, &e.LinkHash, &e.UAClass, &e.UserAgent, &e.Source); err != nil {
			return nil, err
		}
		e.At = time.UnixMicro(us).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Purge implements store.Store. It deletes in chunks so that a large purge
// never holds the single writer for long.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.db.WithTx(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM opentrack_events WHERE id IN
				(SELECT id FROM opentrack_events WHERE at_us < ? ORDER BY id LIMIT 5000)`, before.UnixMicro())
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	select {
	case <-s.quit:
		return store.ErrClosed
	default:
	}
	return s.db.R.PingContext(ctx)
}

// Close stops the committer (after the batch in flight) and closes the
// database if Open opened it.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.quit)
		<-s.loopDone
		if s.owned {
			err = s.db.Close()
		}
	})
	return err
}
