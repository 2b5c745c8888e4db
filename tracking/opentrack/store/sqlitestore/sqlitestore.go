// Package sqlitestore is the default tracker backend: one SQLite file opened
// through internal/sqlitedb, schema from embedded migrations (component
// "opentrack"), and a hit log beside it.
//
// Durability with speed: Record does not touch SQLite. It encodes its event
// into the open batch of the hit log (hitlog.go) and waits. A single log
// writer takes whatever batch is waiting, appends it to the log file with
// one write, makes it durable with one fdatasync and wakes all its callers
// at once (group commit: while one batch is synced the next one fills, so
// batches grow with the load and an idle store writes a lone event at
// once). An event is on disk, power loss included, before Record returns.
// Options.SyncEvery trades that for speed: Record copies its record into
// the segment itself (through a shared mapping: in the kernel's page cache,
// so it survives the process, not a power loss) and returns; a syncer
// fdatasyncs every SyncEvery.
//
// An ingester goroutine then moves logged events into SQLite in large
// transactions (synchronous=FULL), a few times a second or as soon as
// someone reads: Events and Purge first wait until every event logged
// before they were called is in SQLite, so a reader sees what Record
// returned. Log segments whose events are all in SQLite are deleted.
//
// IDs are the log's sequence numbers, handed out in log order and inserted
// explicitly, so SQLite holds a prefix of the log at every commit and a
// reader's cursor never skips an event. The ingest is idempotent: an event
// whose ID is not above the table's AUTOINCREMENT high-water mark
// (sqlite_sequence, which never goes down) is already in SQLite, or was
// purged, and is skipped. At Open the log is replayed: every intact record
// not yet in SQLite is ingested, a torn last record (the process died in
// the middle of a write; that hit was never answered) is dropped, and the
// log is deleted.
//
// One process owns a hit log at a time (a lock file). A store opened while
// another process owns it reads events from SQLite and records nothing
// until it can take the log over.
package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking/opentrack/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

const (
	// maxRows is the largest multi-row INSERT: 9 parameters a row keeps it
	// well under SQLite's variable limit, and bigger statements gain little.
	maxRows = 64
	// ingestChunk bounds one ingest transaction.
	ingestChunk = 8192
	// ingestDelay is how long logged events may wait for the ingester when
	// nobody reads them: long enough to make transactions large.
	ingestDelay = 100 * time.Millisecond
	// ingestHighWater starts an ingest at once when that many wait.
	ingestHighWater = 4096
	// maxQueued holds the log writer (and so the hits) back when the
	// ingester falls that far behind, which bounds memory.
	maxQueued = 100_000
	// segmentMax is the size of a log segment, made ahead and filled with
	// zeros; the log moves to the next one when a batch does not fit.
	segmentMax = 1 << 20
	// ingestRetry is the pause after a failed ingest.
	ingestRetry = time.Second
)

// Store implements store.Store on SQLite.
type Store struct {
	db    *sqlitedb.DB
	owned bool
	// lock is held while the store owns the hit log: one process at a
	// time. A store opened while another process owns it is a reader: it
	// reads events from SQLite and takes the log over at its first Record
	// once the other process is gone (nil until then; under mu).
	lock          *os.File
	preallocating bool   // the preallocator was started (under mu)
	prefix        string // log segment paths: prefix + 20-digit file number

	// With SyncEvery: Record writes the log itself (under mu) and the
	// syncer fdatasyncs it every syncEvery.
	syncEvery              time.Duration
	wbuf                   []byte       // Record's encoding space (under mu)
	dirty                  bool         // written since the last sync (under mu)
	mapped                 []byte       // the current segment, mapped (under mu; nil: use pwrite)
	retired                []retiredSeg // segments left behind, to sync and close (under mu)
	stopSyncer, syncerDone chan struct{}

	// Record and the log writer.
	mu       sync.Mutex
	cur      *logBatch // the batch new events join; nil when none is open
	nextSeq  int64
	closed   bool
	spareBuf []byte
	wake     chan struct{} // capacity 1: "there is a batch" for the writer

	// The log writer only (with SyncEvery: under mu): the segment being
	// written and where.
	f   *os.File
	off int

	// Segments made ahead by the preallocator.
	segNum       atomic.Int64 // the last file number given out
	spares       chan spare   // capacity 1
	stopPrealloc chan struct{}
	preallocDone chan struct{}

	segMu sync.Mutex
	segs  []segment // in use, oldest first; the last one is being written when f != nil

	// Ingest state.
	imu       sync.Mutex
	queue     []store.Event // durable in the log, not yet in SQLite, in ID order
	durable   int64         // highest ID in the log (synced, or written with SyncEvery)
	ingested  int64         // highest ID in SQLite (or skipped as already there)
	ingestErr error         // the last ingest's error, nil after a success
	progress  chan struct{} // closed and replaced whenever an ingest ends
	roomCond  *sync.Cond    // the queue shrank (on imu)
	stopping  bool          // the ingester makes its last drain; no more waiting for room

	urgent chan struct{} // capacity 1: ingest now
	note   chan struct{} // capacity 1: there is something to ingest, no hurry

	writerDone, ingestDone, stopIngest chan struct{}
	closeOnce                          sync.Once

	recovery Recovery

	// Counters for LogStats.
	batches, logged, ingests atomic.Int64
	// logErr is the last log write's error; nil after a success (Ping).
	logErr atomic.Pointer[error]

	// Ingester only: the writer connection the statements below were
	// prepared on, the INSERT of n rows for each n, and argument space.
	conn    rawConn
	inserts [maxRows + 1]driver.Stmt
	args    []driver.NamedValue
}

// Recovery says what Open found in the hit log.
type Recovery struct {
	Replayed int // events logged (and answered) but not yet in SQLite, now ingested
	Torn     int // segments that ended in a torn record (a write cut short), dropped
	Segments int // log segments read
}

// logBatch is one group commit of the log. Its callers wait on done; err
// is set before done is closed.
type logBatch struct {
	buf  []byte
	evs  []store.Event
	done chan struct{}
	err  error
}

var _ store.Store = (*Store)(nil)

var errLogInUse = errors.New("another process (a tracker, or recover) owns this database's hit log")

const lockSuffix = "-hitlog.lock"

// Options tune a Store; the zero value is the default.
type Options struct {
	// SyncEvery, when positive, trades power-loss safety for speed: Record
	// returns as soon as its event is in the hit log's pages in the
	// kernel's page cache (copied through a shared mapping of the segment,
	// or written with pwrite where there is no mmap: it survives the
	// tracker's crash or SIGKILL, not a power loss or a kernel crash), and
	// the log is fdatasync'ed every SyncEvery, so a power loss can take
	// the events of the last SyncEvery. Zero (the default) syncs before
	// Record returns.
	SyncEvery time.Duration
	// Reader opens the store without taking the hit log: it reads events
	// from SQLite and takes the log only through Own or a first Record.
	// A process that only reads (the app's command line) then never
	// stands in the way of the one that serves hits.
	Reader bool
}

// Open opens (creating and migrating) the database file at path, replaying
// the hit log ("<path>-hitlog.*") left by a process that did not close it.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenOptions(ctx, path, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, path string, opt Options) (*Store, error) {
	db, err := sqlitedb.Open(path, sqlitedb.Options{})
	if err != nil {
		return nil, err
	}
	s, err := newStore(ctx, db, true, opt)
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// New uses an already open database (the desktop app's, in built-in mode),
// migrating its opentrack tables; the hit log lives beside db.Path. Close
// does not close db.
func New(ctx context.Context, db *sqlitedb.DB) (*Store, error) {
	return newStore(ctx, db, false, Options{})
}

func newStore(ctx context.Context, db *sqlitedb.DB, owned bool, opt Options) (*Store, error) {
	if db.Path == "" || strings.HasPrefix(db.Path, ":memory:") || strings.HasPrefix(db.Path, "file:") {
		return nil, errors.New("sqlitestore: the database needs a plain file path (the hit log lives beside it)")
	}
	var lock *os.File
	var err error
	if !opt.Reader {
		lock, err = lockLog(db.Path + lockSuffix)
	}
	switch {
	case errors.Is(err, errLogInUse):
		lock = nil // a reader until it can take the log over (see Record)
	case err != nil:
		return nil, fmt.Errorf("sqlitestore: lock the hit log: %w", err)
	}
	if err := db.Migrate(ctx, "opentrack", migrations, "migrations"); err != nil {
		if lock != nil {
			lock.Close()
		}
		return nil, err
	}
	s := &Store{
		lock:       lock,
		db:         db,
		owned:      owned,
		syncEvery:  max(opt.SyncEvery, 0),
		syncerDone: make(chan struct{}),
		stopSyncer: make(chan struct{}),
		prefix:     db.Path + segSuffix,
		wake:       make(chan struct{}, 1),
		urgent:     make(chan struct{}, 1),
		note:       make(chan struct{}, 1),
		progress:   make(chan struct{}),
		writerDone: make(chan struct{}),
		ingestDone: make(chan struct{}),
		stopIngest: make(chan struct{}),

		spares:       make(chan spare, 1),
		stopPrealloc: make(chan struct{}),
		preallocDone: make(chan struct{}),
	}
	s.roomCond = sync.NewCond(&s.imu)
	if lock != nil {
		if err := s.replay(ctx); err != nil {
			s.closeStatements()
			lock.Close()
			return nil, err
		}
		s.preallocating = true
		go s.preallocLoop()
	}
	go s.writeLoop()
	go s.ingestLoop()
	if s.syncEvery > 0 {
		go s.syncLoop()
	} else {
		close(s.syncerDone)
	}
	return s, nil
}

// LogStats are counters since Open: events logged, the log syncs
// (group commits) that wrote them, and ingest transactions.
type LogStats struct{ Logged, Syncs, Ingests int64 }

// LogStats returns the counters.
func (s *Store) LogStats() LogStats {
	return LogStats{s.logged.Load(), s.batches.Load(), s.ingests.Load()}
}

// Recovered says what Open found in the hit log.
func (s *Store) Recovered() Recovery { return s.recovery }

// highWater is the largest ID SQLite ever gave out or was given: events
// with an ID up to it are in SQLite or were purged.
func (s *Store) highWater(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.W.QueryRowContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'opentrack_events'`).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

// replay ingests the intact log records that SQLite lacks, deletes the log
// and sets the next ID.
func (s *Store) replay(ctx context.Context) error {
	hw, err := s.highWater(ctx)
	if err != nil {
		return fmt.Errorf("sqlitestore: read ID high-water mark: %w", err)
	}
	segs, err := listSegments(s.prefix)
	if err != nil {
		return fmt.Errorf("sqlitestore: list hit log: %w", err)
	}
	// Files are made ahead and a failed one is left behind, so file
	// order is not quite record order: take every intact record, sort.
	var all []store.Event
	for _, seg := range segs {
		evs, torn, err := readSegment(seg.path)
		if err != nil {
			return fmt.Errorf("sqlitestore: read hit log: %w", err)
		}
		s.recovery.Segments++
		if torn {
			s.recovery.Torn++
		}
		all = append(all, evs...)
		s.segNum.Store(max(s.segNum.Load(), seg.num))
	}
	slices.SortFunc(all, func(a, b store.Event) int { return cmp.Compare(a.ID, b.ID) })
	last := hw
	todo := all[:0]
	for _, e := range all {
		if e.ID > last {
			todo = append(todo, e)
			last = e.ID
		}
	}
	for len(todo) > 0 {
		n := min(len(todo), ingestChunk)
		if err := s.insertEvents(todo[:n]); err != nil {
			return fmt.Errorf("sqlitestore: replay hit log: %w", err)
		}
		s.recovery.Replayed += n
		todo = todo[n:]
	}
	// Everything the log held is in SQLite now, synced (FULL).
	for _, seg := range segs {
		if err := os.Remove(seg.path); err != nil {
			return fmt.Errorf("sqlitestore: remove replayed hit log: %w", err)
		}
	}
	s.nextSeq = last + 1
	s.imu.Lock()
	s.durable, s.ingested = last, last
	s.imu.Unlock()
	return nil
}

// Record implements store.Store: the event is in the hit log, synced to
// disk, when it returns without error. Once the event has joined a batch
// the write happens whatever the caller's context does, so Record waits
// for it: the answer says whether the event is on disk.
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
	if s.lock == nil {
		if err := s.takeOver(ctx); err != nil {
			s.mu.Unlock()
			return e, err
		}
	}
	if s.syncEvery > 0 {
		return s.recordWritten(e)
	}
	b := s.cur
	if b == nil {
		b = &logBatch{buf: s.spareBuf[:0], done: make(chan struct{})}
		s.spareBuf = nil
		s.cur = b
	}
	e.ID = s.nextSeq
	s.nextSeq++
	b.buf = appendRecord(b.buf, &e)
	b.evs = append(b.evs, e)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // the writer already knows
	}
	<-b.done
	if b.err != nil {
		e.ID = 0
		return e, b.err
	}
	return e, nil
}

// takeOver makes a reader store the owner of the hit log, if the process
// that owned it is gone: lock, replay what it left, start making segments.
// Called with mu held. A reader has logged nothing, so the ingester and
// the writer are idle meanwhile.
func (s *Store) takeOver(ctx context.Context) error {
	lock, err := lockLog(s.db.Path + lockSuffix)
	if err != nil {
		return fmt.Errorf("sqlitestore: cannot record: %w", err)
	}
	if err := s.replay(ctx); err != nil {
		lock.Close()
		return err
	}
	s.lock = lock
	s.preallocating = true
	go s.preallocLoop()
	return nil
}

// Own takes the hit log now, as a reader's first Record would (locking it
// and replaying what an earlier owner left); an error says another process
// owns it. It does nothing for a store that owns the log already.
func (s *Store) Own(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if s.lock != nil {
		return nil
	}
	return s.takeOver(ctx)
}

// OwnsLog says whether this store owns the hit log (and so can record),
// false while another process does.
func (s *Store) OwnsLog() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lock != nil
}

// Events implements store.Store. It first waits until the events logged so
// far are in SQLite.
func (s *Store) Events(ctx context.Context, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		return nil, nil
	}
	if err := s.catchUp(ctx); err != nil {
		return nil, err
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
		e.At = unixMicroUTC(us)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Count returns how many events the store holds (after the ingester has
// caught up with the log).
func (s *Store) Count(ctx context.Context) (int64, error) {
	if err := s.catchUp(ctx); err != nil {
		return 0, err
	}
	var n int64
	err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM opentrack_events`).Scan(&n)
	return n, err
}

func unixMicroUTC(us int64) time.Time { return time.UnixMicro(us).UTC() }

// Purge implements store.Store. It first waits until the events logged so
// far are in SQLite, then deletes in chunks so that a large purge never
// holds the single writer for long.
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	if err := s.catchUp(ctx); err != nil {
		return 0, err
	}
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

// Ping implements store.Store: the database answers, the last write to the
// hit log succeeded, and the last ingest (or, with SyncEvery, sync), if one
// failed, has been retried with success.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return store.ErrClosed
	}
	if p := s.logErr.Load(); p != nil {
		return fmt.Errorf("sqlitestore: %w", *p)
	}
	s.imu.Lock()
	err := s.ingestErr
	s.imu.Unlock()
	if err != nil {
		return fmt.Errorf("sqlitestore: ingest hit log: %w", err)
	}
	return s.db.R.PingContext(ctx)
}

// Close refuses new events, lets the writer log those already waiting,
// ingests everything logged, deletes the log when all of it is in SQLite,
// and closes the database if Open opened it.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true // no takeOver after this
		preallocating := s.preallocating
		s.mu.Unlock()
		s.signal(s.wake)
		<-s.writerDone
		close(s.stopSyncer)
		<-s.syncerDone
		close(s.stopPrealloc)
		if preallocating {
			<-s.preallocDone
		}
		select {
		case sp := <-s.spares:
			if sp.f != nil {
				sp.f.Close()
				os.Remove(sp.seg.path)
			}
		default:
		}
		close(s.stopIngest)
		<-s.ingestDone
		s.imu.Lock()
		all := s.ingested >= s.durable
		err = s.ingestErr
		s.imu.Unlock()
		if all {
			s.segMu.Lock()
			for _, seg := range s.segs {
				os.Remove(seg.path)
			}
			s.segs = nil
			s.segMu.Unlock()
		}
		s.closeStatements()
		if s.owned {
			err = errors.Join(err, s.db.Close())
		}
		if s.lock != nil {
			s.lock.Close()
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
