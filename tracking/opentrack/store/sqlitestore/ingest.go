package sqlitestore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"mailroom/tracking/opentrack/store"
)

// enqueue hands durable events to the ingester, waiting while it is too
// far behind.
func (s *Store) enqueue(evs []store.Event) {
	s.imu.Lock()
	for len(s.queue) >= maxQueued && !s.stopping {
		s.signal(s.urgent)
		s.roomCond.Wait()
	}
	was := len(s.queue)
	s.queue = append(s.queue, evs...)
	s.durable = evs[len(evs)-1].ID
	n := len(s.queue)
	s.imu.Unlock()
	// Only on the way up: the ingester drains until the queue is empty,
	// so it needs a word only when the queue starts to fill and when it
	// grows long.
	switch {
	case was < ingestHighWater && n >= ingestHighWater:
		s.signal(s.urgent)
	case was == 0:
		s.signal(s.note)
	}
}

func (s *Store) signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// ingestLoop moves queued events into SQLite: ingestDelay after the first
// one arrives, or at once when asked (a reader, a long queue). After
// stopIngest is closed it drains the queue once more and returns.
func (s *Store) ingestLoop() {
	defer close(s.ingestDone)
	var retry <-chan time.Time
	for {
		select {
		case <-s.urgent:
		case <-retry:
		case <-s.note:
			t := time.NewTimer(ingestDelay)
			select {
			case <-t.C:
			case <-s.urgent:
			case <-s.stopIngest:
			}
			t.Stop()
		case <-s.stopIngest:
			s.imu.Lock()
			s.stopping = true
			s.roomCond.Broadcast()
			s.imu.Unlock()
			s.drain()
			return
		}
		retry = nil
		if s.drain() != nil {
			retry = time.After(ingestRetry)
		}
	}
}

// drain ingests the queue, in chunks, until it is empty or an ingest fails.
func (s *Store) drain() error {
	for {
		s.imu.Lock()
		n := min(len(s.queue), ingestChunk)
		evs := s.queue[:n:n]
		s.imu.Unlock()
		if n == 0 {
			return nil
		}
		err := s.insertEvents(evs)
		s.ingests.Add(1)
		s.imu.Lock()
		s.ingestErr = err
		if err == nil {
			s.ingested = evs[n-1].ID
			clear(s.queue[:n])
			s.queue = s.queue[n:]
			if len(s.queue) == 0 {
				s.queue = nil
			}
			s.roomCond.Broadcast()
		}
		close(s.progress)
		s.progress = make(chan struct{})
		ingested := s.ingested
		s.imu.Unlock()
		if err != nil {
			return err
		}
		s.dropSegments(ingested)
	}
}

// dropSegments deletes the finished log segments whose events are all in
// SQLite. A deletion that is lost in a crash is harmless: replay skips
// events SQLite already has.
func (s *Store) dropSegments(ingested int64) {
	s.segMu.Lock()
	defer s.segMu.Unlock()
	for len(s.segs) > 1 && s.segs[1].first-1 <= ingested {
		os.Remove(s.segs[0].path)
		s.segs = s.segs[1:]
	}
}

// catchUp waits until every event durable in the log when it was called is
// in SQLite.
func (s *Store) catchUp(ctx context.Context) error {
	s.imu.Lock()
	target := s.durable
	s.imu.Unlock()
	for {
		s.imu.Lock()
		done := s.ingested >= target
		ch := s.progress
		s.imu.Unlock()
		if done {
			return nil
		}
		s.signal(s.urgent)
		select {
		case <-ch:
		case <-s.ingestDone:
			return store.ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
		s.imu.Lock()
		done, err := s.ingested >= target, s.ingestErr
		s.imu.Unlock()
		if done {
			return nil
		}
		if err != nil {
			return fmt.Errorf("sqlitestore: ingest hit log: %w", err)
		}
	}
}

// insertEvents inserts evs, in ID order, in one transaction synced to disk
// at commit (synchronous=FULL), skipping those SQLite has already had. It
// talks to the driver connection directly: database/sql would convert
// every argument and wrap every statement again for each batch.
func (s *Store) insertEvents(evs []store.Event) error {
	// No deadline: a context that can end makes the driver start a
	// watcher goroutine for every statement.
	ctx := context.Background()
	conn, err := s.db.W.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error { return s.insertRaw(ctx, dc, evs) })
}

// rawConn is what the ingester needs from the driver's connection.
type rawConn interface {
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
}

func (s *Store) insertRaw(ctx context.Context, dc any, evs []store.Event) error {
	c, ok := dc.(rawConn)
	if !ok {
		return fmt.Errorf("sqlitestore: driver connection %T lacks prepare, begin, exec or query", dc)
	}
	if c != s.conn {
		// A new writer connection (the first, or database/sql replaced
		// it): statements and settings belong to the old one.
		s.conn, s.inserts = nil, [maxRows + 1]driver.Stmt{}
		if s.owned {
			// The writer is ours alone: FULL once, for every commit.
			if _, err := c.ExecContext(ctx, "PRAGMA synchronous=FULL", nil); err != nil {
				return err
			}
		}
		s.conn = c
	}
	if !s.owned {
		// The app's writer: FULL for this transaction only, as
		// sqlitedb.WithFullSyncTx does.
		if _, err := c.ExecContext(ctx, "PRAGMA synchronous=FULL", nil); err != nil {
			return err
		}
		defer c.ExecContext(ctx, "PRAGMA synchronous=NORMAL", nil)
	}
	tx, err := c.BeginTx(ctx, driver.TxOptions{})
	if err != nil {
		return err
	}
	hw, err := rawHighWater(ctx, c)
	if err != nil {
		tx.Rollback()
		return err
	}
	for len(evs) > 0 && evs[0].ID <= hw {
		evs = evs[1:] // already in SQLite (or purged): idempotent replay
	}
	for rest := evs; len(rest) > 0; {
		n := min(len(rest), maxRows)
		if err := s.insertRows(ctx, c, rest[:n]); err != nil {
			tx.Rollback()
			return fmt.Errorf("record events: %w", err)
		}
		rest = rest[n:]
	}
	return tx.Commit()
}

func rawHighWater(ctx context.Context, c rawConn) (int64, error) {
	rows, err := c.QueryContext(ctx, `SELECT seq FROM sqlite_sequence WHERE name = 'opentrack_events'`, nil)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	v := make([]driver.Value, 1)
	switch err := rows.Next(v); {
	case errors.Is(err, io.EOF):
		return 0, nil
	case err != nil:
		return 0, err
	}
	n, ok := v[0].(int64)
	if !ok {
		return 0, fmt.Errorf("sqlitestore: sqlite_sequence holds %T", v[0])
	}
	return n, nil
}

// insertRows runs the len(evs)-row INSERT, prepared on first use and kept
// for every later batch on the same connection.
func (s *Store) insertRows(ctx context.Context, c rawConn, evs []store.Event) error {
	n := len(evs)
	st := s.inserts[n]
	if st == nil {
		var q strings.Builder
		q.WriteString(`INSERT INTO opentrack_events (id, at_us, kind, copy_id, key_id, link_hash, ua_class, user_agent, source) VALUES `)
		for i := range n {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString("(?,?,?,?,?,?,?,?,?)")
		}
		var err error
		if st, err = c.PrepareContext(ctx, q.String()); err != nil {
			return err
		}
		s.inserts[n] = st
	}
	ex, ok := st.(driver.StmtExecContext)
	if !ok {
		return fmt.Errorf("sqlitestore: driver statement %T lacks ExecContext", st)
	}
	args := s.args[:0]
	for i := range evs {
		e := &evs[i]
		for _, v := range [9]driver.Value{e.ID, e.At.UnixMicro(), e.Kind, e.CopyID, e.KeyID, e.LinkHash, e.UAClass, e.UserAgent, e.Source} {
			args = append(args, driver.NamedValue{Ordinal: len(args) + 1, Value: v})
		}
	}
	s.args = args
	_, err := ex.ExecContext(ctx, args)
	clear(args) // do not keep the events' strings alive
	return err
}
