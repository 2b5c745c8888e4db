// Package sqlitestore is the default tracker backend: one SQLite file opened
// through internal/sqlitedb, schema from embedded migrations (component
// "opentrack").
//
// Durability with speed (group commit): Record appends its event to the
// open batch and waits on that batch's done channel. A single committer
// goroutine takes whatever batch is waiting, writes it with multi-row
// INSERTs prepared once, commits it with synchronous=FULL (one fsync for
// the whole batch) and closes the channel, waking all its callers at once.
// While one batch is written the next one fills, so batches grow with the
// load, and an idle store writes a lone event at once, without any delay.
// An event is on disk before Record returns. IDs come from AUTOINCREMENT on
// the single writer connection, so they increase in commit order and a
// reader's cursor never skips one.
package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"fmt"
	"strings"
	"sync"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking/opentrack/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// maxBatch bounds one group commit, so a flood cannot hold the writer
	// long; beyond it events queue up in the next batch.
	maxBatch = 1024
	// maxRows is the largest multi-row INSERT: 8 parameters a row keeps it
	// well under SQLite's variable limit, and bigger statements gain little.
	maxRows = 64
)

// Store implements store.Store on SQLite.
type Store struct {
	db    *sqlitedb.DB
	owned bool

	mu     sync.Mutex
	cur    *batch   // the batch new events join; nil when none is open
	ready  []*batch // full batches, oldest first
	closed bool
	spare  []store.Event // a finished batch's slice, reused by the next one

	wake      chan struct{} // capacity 1: "there is work" for the committer
	loopDone  chan struct{} // closed when the committer is gone
	closeOnce sync.Once

	// Committer only: the writer connection the statements below were
	// prepared on, the INSERT of n rows for each n, and argument space.
	conn    rawConn
	inserts [maxRows + 1]driver.Stmt
	args    []driver.NamedValue
}

// batch is one group commit. Its callers wait on done; err and the IDs are
// set before done is closed and never change after.
type batch struct {
	evs     []store.Event
	done    chan struct{}
	err     error
	firstID int64 // ID of evs[0]; the others follow one by one
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
		wake:     make(chan struct{}, 1),
		loopDone: make(chan struct{}),
	}
	go s.run()
	return s, nil
}

// Record implements store.Store. Once the event has joined a batch the
// write happens whatever the caller's context does, so Record waits for it:
// the answer says whether the event is on disk.
func (s *Store) Record(ctx context.Context, e store.Event) (store.Event, error) {
	if err := e.Validate(); err != nil {
		return e, err
	}
	if err := ctx.Err(); err != nil {
		return e, err
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return e, store.ErrClosed
	}
	b := s.cur
	if b == nil || len(b.evs) >= maxBatch {
		if b != nil {
			s.ready = append(s.ready, b)
		}
		b = &batch{evs: s.spare[:0], done: make(chan struct{})}
		s.spare = nil
		s.cur = b
	}
	i := len(b.evs)
	b.evs = append(b.evs, e)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // the committer already knows
	}
	<-b.done
	if b.err != nil {
		return e, b.err
	}
	e.ID = b.firstID + int64(i)
	return e, nil
}

// next takes the oldest waiting batch, or nil; closed says Close was called.
func (s *Store) next() (b *batch, closed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case len(s.ready) > 0:
		b = s.ready[0]
		s.ready[0] = nil
		s.ready = s.ready[1:]
	case s.cur != nil:
		b, s.cur = s.cur, nil
	}
	return b, s.closed
}

// run is the committer. After Close it writes what is still waiting (Close
// refuses new events, so that ends) and returns.
func (s *Store) run() {
	defer close(s.loopDone)
	for {
		b, closed := s.next()
		if b == nil {
			if closed {
				return
			}
			<-s.wake
			continue
		}
		b.firstID, b.err = s.writeBatch(b.evs)
		s.finish(b)
	}
}

// finish acknowledges a batch whose rows are on disk (or failed).
func (s *Store) finish(b *batch) {
	close(b.done)
	// Nobody reads evs once done is closed: keep the slice for the next
	// batch instead of growing a new one.
	evs := b.evs
	clear(evs)
	s.mu.Lock()
	if cap(evs) <= maxBatch {
		s.spare = evs[:0]
	}
	s.mu.Unlock()
}

// writeBatch inserts evs in one transaction, synced to disk at commit
// (synchronous=FULL), and returns the ID given to evs[0]. It talks to the
// driver connection directly: database/sql would convert every argument
// and wrap every statement again for each batch.
func (s *Store) writeBatch(evs []store.Event) (int64, error) {
	// Not the callers' contexts: one canceled caller must not undo the
	// others. No deadline either: a context that can end makes the driver
	// start a watcher goroutine for every statement.
	ctx := context.Background()
	conn, err := s.db.W.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var first int64
	err = conn.Raw(func(dc any) error {
		var err error
		first, err = s.writeRaw(ctx, dc, evs)
		return err
	})
	return first, err
}

// rawConn is what the committer needs from the driver's connection.
type rawConn interface {
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
}

func (s *Store) writeRaw(ctx context.Context, dc any, evs []store.Event) (int64, error) {
	c, ok := dc.(rawConn)
	if !ok {
		return 0, fmt.Errorf("sqlitestore: driver connection %T lacks prepare, begin or exec", dc)
	}
	if c != s.conn {
		// A new writer connection (the first, or database/sql replaced
		// it): statements and settings belong to the old one.
		s.conn, s.inserts = nil, [maxRows + 1]driver.Stmt{}
		if s.owned {
			// The writer is ours alone: FULL once, for every commit.
			if _, err := c.ExecContext(ctx, "PRAGMA synchronous=FULL", nil); err != nil {
				return 0, err
			}
		}
		s.conn = c
	}
	if !s.owned {
		// The app's writer: FULL for this transaction only, as
		// sqlitedb.WithFullSyncTx does.
		if _, err := c.ExecContext(ctx, "PRAGMA synchronous=FULL", nil); err != nil {
			return 0, err
		}
		defer c.ExecContext(ctx, "PRAGMA synchronous=NORMAL", nil)
	}
	tx, err := c.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return 0, err
	}
	var first int64
	for rest := evs; len(rest) > 0; {
		n := min(len(rest), maxRows)
		last, err := s.insertRows(ctx, c, rest[:n])
		if err != nil {
			tx.Rollback()
			return 0, fmt.Errorf("record events: %w", err)
		}
		// One statement on the only writer: its rows got consecutive IDs
		// ending at last.
		if first == 0 {
			first = last - int64(n) + 1
		}
		rest = rest[n:]
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return first, nil
}

// insertRows runs the len(evs)-row INSERT, prepared on first use and kept
// for every later batch on the same connection, and returns the last ID.
func (s *Store) insertRows(ctx context.Context, c rawConn, evs []store.Event) (int64, error) {
	n := len(evs)
	st := s.inserts[n]
	if st == nil {
		var q strings.Builder
		q.WriteString(`INSERT INTO opentrack_events (at_us, kind, copy_id, key_id, link_hash, ua_class, user_agent, source) VALUES `)
		for i := range n {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,?,?)")
		}
		var err error
		if st, err = c.PrepareContext(ctx, q.String()); err != nil {
			return 0, err
		}
		s.inserts[n] = st
	}
	ex, ok := st.(driver.StmtExecContext)
	if !ok {
		return 0, fmt.Errorf("sqlitestore: driver statement %T lacks ExecContext", st)
	}
	args := s.args[:0]
	for i := range evs {
		e := &evs[i]
		for _, v := range [8]driver.Value{e.At.UnixMicro(), e.Kind, e.CopyID, e.KeyID, e.LinkHash, e.UAClass, e.UserAgent, e.Source} {
			args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
		}
	}
	s.args = args
	res, err := ex.ExecContext(ctx, args)
	clear(args) // do not keep the events' strings alive
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
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
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return store.ErrClosed
	}
	return s.db.R.PingContext(ctx)
}

// Close refuses new events, lets the committer write those already waiting, stops it and closes the database if Open opened it.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
		<-s.loopDone
		s.closeStatements()
		if s.owned {
			err = s.db.Close()
		}
	})
	return err
}

// closeStatements finalizes the prepared INSERTs on the writer connection
// (the app's keeps running after Close in built-in mode).
func (s *Store) closeStatements() {
	conn, err := s.db.W.Conn(context.Background())
	if err != nil {
		return
	}
	defer conn.Close()
	conn.Raw(func(dc any) error {
		if c, ok := dc.(rawConn); ok && c == s.conn {
			for _, st := range s.inserts {
				if st != nil {
					st.Close()
				}
			}
		}
		return nil
	})
	s.conn, s.inserts = nil, [maxRows + 1]driver.Stmt{}
}
