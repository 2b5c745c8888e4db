package sqlitestore

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"mailroom/tracking/opentrack/store"
)

// recordWritten is Record with SyncEvery: the event is written to the log
// before Record returns and synced by the syncer later. Called with mu
// held; unlocks it.
func (s *Store) recordWritten(e store.Event) (store.Event, error) {
	defer s.mu.Unlock()
	e.ID = s.nextSeq
	s.nextSeq++
	s.wbuf = appendRecord(s.wbuf[:0], &e)
	if err := s.writeLog(s.wbuf, e.ID); err != nil {
		e.ID = 0
		return e, err
	}
	s.dirty = true
	s.logged.Add(1)
	s.enqueue([]store.Event{e})
	return e, nil
}

// syncLoop fdatasyncs the log every syncEvery (with SyncEvery), and once
// more when the store closes.
func (s *Store) syncLoop() {
	defer close(s.syncerDone)
	t := time.NewTicker(s.syncEvery)
	defer t.Stop()
	for {
		stop := false
		select {
		case <-t.C:
		case <-s.stopSyncer:
			stop = true
		}
		s.mu.Lock()
		f, dirty, retired := s.f, s.dirty, s.retired
		s.dirty, s.retired = false, nil
		if stop && f != nil {
			// Closed below, after its last sync.
			retired = append(retired, retiredSeg{f, s.mapped})
			s.f, s.mapped, f = nil, nil, nil
		}
		s.mu.Unlock()
		// Only this goroutine closes files here, so f stays open
		// while it is synced, even if Record moves to a new segment.
		// (fdatasync also writes the pages dirtied through a mapping.)
		for _, r := range retired {
			if err := syncData(r.f); err != nil {
				s.syncErr(err)
			}
			if r.m != nil {
				unmapSegment(r.m)
			}
			r.f.Close()
		}
		if f != nil && dirty {
			if err := syncData(f); err != nil {
				s.syncErr(err)
			} else {
				s.batches.Add(1)
			}
		}
		if stop {
			return
		}
	}
}

// syncErr notes a failed periodic sync where Ping (so /healthz) sees it.
func (s *Store) syncErr(err error) {
	s.imu.Lock()
	if s.ingestErr == nil {
		s.ingestErr = fmt.Errorf("hit log sync: %w", err)
	}
	s.imu.Unlock()
}

// writeLoop is the log writer. After Close it writes what is still
// waiting (Close refuses new events, so that ends) and returns.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	for {
		s.mu.Lock()
		b, closed := s.cur, s.closed
		s.cur = nil
		s.mu.Unlock()
		if b == nil {
			if closed {
				if s.f != nil && s.syncEvery == 0 {
					s.f.Close()
					s.f = nil
				}
				return
			}
			<-s.wake
			continue
		}
		b.err = s.writeLog(b.buf, b.evs[0].ID)
		if b.err == nil {
			s.batches.Add(1)
			s.logged.Add(int64(len(b.evs)))
			// Before the callers wake: an Events call after Record
			// returned must find the event queued or ingested.
			s.enqueue(b.evs)
		}
		close(b.done)
		if cap(b.buf) <= 1<<20 {
			s.mu.Lock()
			s.spareBuf = b.buf[:0]
			s.mu.Unlock()
		}
	}
}

// writeLog writes buf (records from first on) after the last record of
// the current segment and syncs it. After a failure the segment is left as
// it is (its tail may be torn; replay stops there) and the next batch
// starts a new one.
func (s *Store) writeLog(buf []byte, first int64) error {
	err := s.writeLogOnce(buf, first)
	if err != nil {
		s.logErr.Store(&err)
	} else if s.logErr.Load() != nil {
		s.logErr.Store(nil)
	}
	return err
}

func (s *Store) writeLogOnce(buf []byte, first int64) error {
	if s.f != nil && s.off > 0 && s.off+len(buf) > segmentMax {
		s.closeSegment()
	}
	if s.f == nil {
		var sp spare
		select {
		case sp = <-s.spares:
			if sp.err != nil {
				return fmt.Errorf("hit log: %w", sp.err)
			}
		default:
			var err error
			if sp, err = s.makeSegment(); err != nil {
				return fmt.Errorf("hit log: %w", err)
			}
		}
		sp.seg.first = first
		s.segMu.Lock()
		s.segs = append(s.segs, sp.seg)
		s.segMu.Unlock()
		s.f, s.off = sp.f, 0
		if s.syncEvery > 0 {
			// Without a mapping (it failed, or no mmap here) pwrite is used.
			s.mapped, _ = mapSegment(s.f, segmentMax)
		}
	}
	if s.mapped != nil && s.off+len(buf) <= len(s.mapped) {
		copy(s.mapped[s.off:], buf)
		s.off += len(buf)
		return nil
	}
	_, err := s.f.WriteAt(buf, int64(s.off))
	if err == nil && s.syncEvery == 0 {
		err = syncData(s.f)
	}
	if err != nil {
		s.closeSegment()
		return fmt.Errorf("hit log: %w", err)
	}
	s.off += len(buf)
	return nil
}

// closeSegment stops writing the current segment: closes it, or with
// SyncEvery hands it to the syncer, which syncs and closes it.
func (s *Store) closeSegment() {
	if s.syncEvery > 0 {
		s.retired = append(s.retired, retiredSeg{s.f, s.mapped})
	} else {
		s.f.Close()
	}
	s.f, s.mapped = nil, nil
}

// retiredSeg is a segment no longer written, waiting for its last sync.
type retiredSeg struct {
	f *os.File
	m []byte // its mapping, or nil
}

// spare is a segment made ahead, or why it could not be made.
type spare struct {
	seg segment
	f   *os.File
	err error
}

// preallocLoop keeps a spare segment ready for the writer.
func (s *Store) preallocLoop() {
	defer close(s.preallocDone)
	for {
		sp, err := s.makeSegment()
		if err != nil {
			sp.err = err
		}
		select {
		case s.spares <- sp:
		case <-s.stopPrealloc:
			if sp.f != nil {
				sp.f.Close()
				os.Remove(sp.seg.path)
			}
			return
		}
		if err != nil {
			select {
			case <-time.After(ingestRetry):
			case <-s.stopPrealloc:
				return
			}
		}
	}
}

// makeSegment creates the next segment file, filled with zeros to
// segmentMax, durably (data and directory entry).
func (s *Store) makeSegment() (spare, error) {
	num := s.segNum.Add(1)
	path := segmentPath(s.prefix, num)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) // RDWR: mmap needs to read too
	if err != nil {
		return spare{}, err
	}
	fail := func(err error) (spare, error) {
		f.Close()
		os.Remove(path)
		return spare{}, err
	}
	zeros := make([]byte, 64<<10)
	for off := 0; off < segmentMax; off += len(zeros) {
		if _, err := f.Write(zeros); err != nil {
			return fail(err)
		}
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fail(err)
	}
	return spare{seg: segment{num: num, path: path}, f: f}, nil
}
