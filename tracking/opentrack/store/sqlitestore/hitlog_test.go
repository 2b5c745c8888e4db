package sqlitestore

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"mailroom/tracking/opentrack/store"
	"mailroom/tracking/opentrack/store/storetest"
)

// logged returns event i as the log holds it: ID i, a click for odd i.
func logged(i int) store.Event {
	e := storetest.NewEvent(i, time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC))
	e.ID = int64(i)
	if i%2 == 1 {
		e.Kind = store.KindClick
		e.LinkHash = strings.Repeat("ab", 32)
	}
	return e
}

func records(from, to int) []byte {
	var b []byte
	for i := from; i <= to; i++ {
		e := logged(i)
		b = appendRecord(b, &e)
	}
	return b
}

func TestRecordRoundTrip(t *testing.T) {
	e := logged(7)
	e.UserAgent = "Mozilla/5.0 “quotes”"
	e.Source = ""
	b := appendRecord(nil, &e)
	got, n, err := decodeRecord(b)
	if err != nil || n != len(b) {
		t.Fatalf("decode: %v, %d of %d bytes", err, n, len(b))
	}
	if !got.At.Equal(e.At) {
		t.Fatalf("At %v, want %v", got.At, e.At)
	}
	got.At = e.At
	if got != e {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
	}
}

// TestTornTailAtEveryByte cuts the last of three records at every byte, as
// a process killed in the middle of its write (or a disk that kept only
// part of it) would leave it, with the rest of the preallocated file still
// zeros: the first two records are always kept, the torn one never, and
// the tear is reported.
func TestTornTailAtEveryByte(t *testing.T) {
	whole := records(1, 3)
	two := len(records(1, 2))
	path := filepath.Join(t.TempDir(), "seg")
	for cut := two + 1; cut < len(whole); cut++ {
		b := append(bytes.Clone(whole[:cut]), make([]byte, 512)...)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		evs, torn, err := readSegment(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 || evs[0].ID != 1 || evs[1].ID != 2 || !torn {
			t.Fatalf("cut at %d: %d records, torn %v", cut, len(evs), torn)
		}
	}
	// A flipped bit inside the last record: dropped as well.
	b := bytes.Clone(whole)
	b[len(b)-3] ^= 0x10
	os.WriteFile(path, b, 0o600)
	if evs, torn, _ := readSegment(path); len(evs) != 2 || !torn {
		t.Fatalf("corrupt last record: %d records, torn %v", len(evs), torn)
	}
	// Whole records followed by zeros: nothing torn.
	os.WriteFile(path, append(bytes.Clone(whole), make([]byte, 4096)...), 0o600)
	if evs, torn, _ := readSegment(path); len(evs) != 3 || torn {
		t.Fatalf("intact log: %d records, torn %v", len(evs), torn)
	}
}

// writeSegment puts a log segment beside the database, as a killed
// tracker leaves it (preallocated: zeros after the records).
func writeSegment(t *testing.T, db string, num int64, b []byte) {
	t.Helper()
	b = append(b, make([]byte, 1024)...)
	if err := os.WriteFile(segmentPath(db+segSuffix, num), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func logFiles(t *testing.T, db string) []string {
	segs, err := listSegments(db + segSuffix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range segs {
		out = append(out, s.path)
	}
	return out
}

// TestReplayAfterKill: a tracker died with hits in its log that SQLite did
// not have yet, the last one torn. Open ingests the intact ones, drops the
// torn one, removes the log, and the next ID follows the last intact one.
func TestReplayAfterKill(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "tracker.db")
	s, err := Open(ctx, db) // an empty, migrated database
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	writeSegment(t, db, 1, records(1, 4))
	// A second segment (made ahead, then used): records 5 and 6, then 7 cut short.
	b := records(5, 7)
	writeSegment(t, db, 2, b[:len(b)-5])
	writeSegment(t, db, 3, nil) // a spare made ahead and never used

	s, err = Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r := s.Recovered(); r.Replayed != 6 || r.Torn != 1 || r.Segments != 3 {
		t.Fatalf("recovery %+v, want 6 replayed, 1 torn, 3 segments", r)
	}
	for n := range int64(3) {
		if _, err := os.Stat(segmentPath(db+segSuffix, n+1)); !os.IsNotExist(err) {
			t.Fatalf("replayed segment %d left: %v", n+1, err)
		}
	}
	evs, err := s.Events(ctx, 0, 100)
	if err != nil || len(evs) != 6 {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	for i, e := range evs {
		want := logged(i + 1)
		if !e.At.Equal(want.At) {
			t.Fatalf("event %d at %v", i+1, e.At)
		}
		e.At = want.At
		if e != want {
			t.Fatalf("event %d:\n got %+v\nwant %+v", i+1, e, want)
		}
	}
	e, err := s.Record(ctx, storetest.NewEvent(100, time.Now()))
	if err != nil || e.ID != 7 {
		t.Fatalf("next ID %d, %v; want 7", e.ID, err)
	}
}

// TestReplayIsIdempotent: events already ingested (the log was not deleted
// before the crash, or a deletion was lost) are not stored again, not even
// after a purge deleted them, and replaying the same log twice adds
// nothing the second time.
func TestReplayIsIdempotent(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "tracker.db")
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	writeSegment(t, db, 1, records(1, 3))
	s, err = Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	// Purge event 1, so that only the ID high-water mark remembers it.
	if n, err := s.Purge(ctx, time.Date(2026, 1, 2, 3, 4, 5, 7000, time.UTC)); err != nil || n != 3 {
		t.Fatalf("purge: %d, %v", n, err)
	}
	if _, err := s.Record(ctx, logged(2)); err != nil { // gets ID 4
		t.Fatal(err)
	}
	s.Close()

	for range 2 {
		b := records(1, 3)
		e := logged(4)
		e.CopyID = "ffff" // not what the database holds under ID 4
		b = appendRecord(b, &e)
		writeSegment(t, db, 1, append(b, records(5, 5)...))
		s, err = Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		r := s.Recovered()
		evs, err := s.Events(ctx, 0, 100)
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, e := range evs {
			ids = append(ids, e.ID)
		}
		// 1-3 were purged, 4 is the event recorded after the purge
		// (logged(2) again), 5 is new.
		if len(evs) != 2 || evs[0].ID != 4 || evs[0].CopyID != logged(2).CopyID || evs[1].ID != 5 || evs[1].CopyID != logged(5).CopyID {
			t.Fatalf("after replay (%+v): IDs %v, want [4 5]", r, ids)
		}
	}
}

// TestCrashImage takes the files of a running store right after Record
// returned, before the ingester moved the events (what a SIGKILL leaves),
// and opens them: every recorded event is there, once, with its ID.
func TestCrashImage(t *testing.T) {
	t.Run("fsync always", func(t *testing.T) { testCrashImage(t, Options{}) })
	// A kill is not a power loss: written is enough.
	t.Run("SyncEvery", func(t *testing.T) { testCrashImage(t, Options{SyncEvery: time.Hour}) })
}

func testCrashImage(t *testing.T, opt Options) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenOptions(ctx, filepath.Join(dir, "tracker.db"), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var ids []int64
	for i := range 20 {
		e, err := s.Record(ctx, storetest.NewEvent(i, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	img := t.TempDir()
	ents, _ := os.ReadDir(dir)
	for _, de := range ents {
		b, err := os.ReadFile(filepath.Join(dir, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(img, de.Name()), b, 0o600)
	}
	c, err := Open(ctx, filepath.Join(img, "tracker.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	evs, err := c.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != len(ids) {
		t.Fatalf("crash image holds %d events, %d were recorded (recovery %+v)", len(evs), len(ids), c.Recovered())
	}
	for i, e := range evs {
		if e.ID != ids[i] || e.CopyID != storetest.NewEvent(i, time.Now()).CopyID {
			t.Fatalf("event %d: ID %d copy %s", i, e.ID, e.CopyID)
		}
	}
}

// TestLogRotatesAndShrinks records enough to fill several segments and
// checks that ingested segments are deleted while the store runs, and the
// whole log at Close.
func TestLogRotatesAndShrinks(t *testing.T) {
	t.Run("fsync always", func(t *testing.T) { testLogRotates(t, Options{}) })
	t.Run("SyncEvery", func(t *testing.T) { testLogRotates(t, Options{SyncEvery: 5 * time.Millisecond}) })
}

func testLogRotates(t *testing.T, opt Options) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "tracker.db")
	s, err := OpenOptions(ctx, db, opt)
	if err != nil {
		t.Fatal(err)
	}
	e := storetest.NewEvent(0, time.Now())
	e.UserAgent = strings.Repeat("x", store.MaxUserAgent)
	n := 3*segmentMax/len(appendRecord(nil, &e)) + 10
	for i := range n {
		e.CopyID = storetest.NewEvent(i, time.Now()).CopyID
		if _, err := s.Record(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := s.Count(ctx); err != nil || c != int64(n) {
		t.Fatalf("count %d, %v; want %d", c, err, n)
	}
	if st := s.LogStats(); st.Logged != int64(n) {
		t.Fatalf("stats %+v", st)
	}
	// The ingester deletes segments right after it wakes the readers:
	// give it a moment. Left: the one in use and up to two made ahead.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		f := logFiles(t, db)
		if len(f) <= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingested segments not deleted: %v", f)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if f := logFiles(t, db); len(f) != 0 {
		t.Fatalf("log left after Close: %v", f)
	}
}

// TestSegmentsAreMapped: with SyncEvery, records go through the mapping on
// Linux (a file opened write-only cannot be mapped; pwrite would be used
// silently).
func TestSegmentsAreMapped(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("mmap is used on Linux only")
	}
	ctx := context.Background()
	s, err := OpenOptions(ctx, filepath.Join(t.TempDir(), "tracker.db"), Options{SyncEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Record(ctx, storetest.NewEvent(1, time.Now())); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	mapped := s.mapped != nil
	s.mu.Unlock()
	if !mapped {
		t.Fatal("the segment in use is not mapped")
	}
}

// TestOneProcessPerLog: a second store on the same database (another
// process: the app's command line beside its window, recover beside a
// running tracker) does not touch the hit log the first one writes: it
// reads events from SQLite and refuses to record, until the first one is
// gone; then its first Record takes the log over.
func TestOneProcessPerLog(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "tracker.db")
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, storetest.NewEvent(1, time.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Count(ctx); err != nil { // in SQLite now
		t.Fatal(err)
	}
	r, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !s.OwnsLog() || r.OwnsLog() {
		t.Fatalf("owners: first %v, second %v", s.OwnsLog(), r.OwnsLog())
	}
	if evs, err := r.Events(ctx, 0, 10); err != nil || len(evs) != 1 {
		t.Fatalf("reader sees %d events, %v", len(evs), err)
	}
	if _, err := r.Record(ctx, storetest.NewEvent(2, time.Now())); err == nil {
		t.Fatal("a reader recorded into a hit log another store owns")
	}
	if _, err := s.Record(ctx, storetest.NewEvent(3, time.Now())); err != nil {
		t.Fatal(err)
	}
	s.Close()
	e, err := r.Record(ctx, storetest.NewEvent(4, time.Now()))
	if err != nil || !r.OwnsLog() {
		t.Fatalf("no take-over after the owner closed: %v", err)
	}
	evs, err := r.Events(ctx, 0, 10)
	if err != nil || len(evs) != 3 || evs[2].ID != e.ID || e.ID <= evs[1].ID {
		t.Fatalf("after take-over: %v, %v (new ID %d)", evs, err, e.ID)
	}
}

// TestReaderNeverTakesTheLog: a store opened with Reader, even first and
// alone, leaves the hit log to the store opened after it; Own reports the
// other owner, and takes the log (with what it holds) once it is gone.
func TestReaderNeverTakesTheLog(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no flock")
	}
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "tracker.db")
	r, err := OpenOptions(ctx, db, Options{Reader: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if r.OwnsLog() || !s.OwnsLog() {
		t.Fatalf("owners: reader %v, server %v", r.OwnsLog(), s.OwnsLog())
	}
	if _, err := s.Record(ctx, storetest.NewEvent(1, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := r.Own(ctx); err == nil {
		t.Fatal("the reader took a hit log another store owns")
	}
	s.Close()
	if err := r.Own(ctx); err != nil || !r.OwnsLog() {
		t.Fatalf("Own after the owner closed: %v", err)
	}
	if err := r.Own(ctx); err != nil {
		t.Fatalf("Own again: %v", err)
	}
	if evs, err := r.Events(ctx, 0, 10); err != nil || len(evs) != 1 {
		t.Fatalf("after Own: %d events, %v", len(evs), err)
	}
}

// TestLogWriteFailure: when the hit log cannot be written (here: no new
// segment can be made, as on a full disk), Record fails (the server counts
// the hit as lost) and Ping reports it, so /healthz turns 503; once
// writing works again, so do both.
func TestLogWriteFailure(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "tracker.db")
	// SyncEvery: Record writes the log itself, under mu, so the test can
	// set the write offset under mu too.
	s, err := OpenOptions(ctx, db, Options{SyncEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Record(ctx, storetest.NewEvent(1, time.Now())); err != nil {
		t.Fatal(err)
	}
	// Block the next segment names with directories, throw away the
	// segments made ahead, and fill the one in use.
	next := s.segNum.Load()
	var blocked []string
	for n := next + 1; n <= next+20; n++ {
		p := segmentPath(db+segSuffix, n)
		if os.Mkdir(p, 0o700) == nil {
			blocked = append(blocked, p)
		}
	}
	for deadline := time.After(300 * time.Millisecond); ; {
		select {
		case sp := <-s.spares:
			if sp.f != nil {
				sp.f.Close()
			}
			continue
		case <-deadline:
		}
		break
	}
	s.mu.Lock()
	s.off = segmentMax
	s.mu.Unlock()
	if _, err := s.Record(ctx, storetest.NewEvent(2, time.Now())); err == nil {
		t.Fatal("Record succeeded without a segment to write")
	}
	if err := s.Ping(ctx); err == nil {
		t.Fatal("Ping is fine while the hit log cannot be written")
	}
	for _, p := range blocked {
		os.Remove(p)
	}
	if _, err := s.Record(ctx, storetest.NewEvent(3, time.Now())); err != nil {
		t.Fatalf("Record after the log works again: %v", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("Ping after the log works again: %v", err)
	}
	if n, err := s.Count(ctx); err != nil || n != 2 {
		t.Fatalf("count %d, %v; want 2 (the failed one is not recorded)", n, err)
	}
}
