package sqlitestore

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking/opentrack/store"
	"mailroom/tracking/opentrack/store/storetest"
)

func open(t *testing.T) store.Store {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "tracker.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) { storetest.Run(t, open) }

// TestConformanceSyncEvery runs the suite with the log synced every 20 ms
// instead of before each Record returns.
func TestConformanceSyncEvery(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := OpenOptions(context.Background(), filepath.Join(t.TempDir(), "tracker.db"), Options{SyncEvery: 20 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestReopenKeepsEventsAndIDs(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tracker.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for i := 0; i < 3; i++ {
		e, err := s.Record(ctx, storetest.NewEvent(i, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		last = e.ID
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, path) // migrations are idempotent
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs, err := s.Events(ctx, 0, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("after reopen: %d events, %v", len(evs), err)
	}
	e, err := s.Record(ctx, storetest.NewEvent(9, time.Now()))
	if err != nil || e.ID <= last {
		t.Fatalf("ID after reopen %d (last %d), %v", e.ID, last, err)
	}
}

func TestSharedDatabase(t *testing.T) {
	// Built-in mode: the app passes its own database; Close leaves it open.
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "app.db"), sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Record(ctx, storetest.NewEvent(1, time.Now())); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := db.W.PingContext(ctx); err != nil {
		t.Fatalf("app database closed by the store: %v", err)
	}
}

// TestBigBatchesGetTheirOwnIDs records many events at once, so that batches
// span several multi-row INSERTs, and checks that the ID each caller got is
// the row holding its event.
func TestBigBatchesGetTheirOwnIDs(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	const n = 600
	ids := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := s.Record(ctx, storetest.NewEvent(i, time.Now()))
			if err != nil {
				t.Error(err)
			}
			ids[i] = e.ID
		}()
	}
	wg.Wait()
	evs, err := s.Events(ctx, 0, 1000)
	if err != nil || len(evs) != n {
		t.Fatalf("%d events, %v", len(evs), err)
	}
	byID := map[int64]string{}
	for _, e := range evs {
		byID[e.ID] = e.CopyID
	}
	for i, id := range ids {
		if want := storetest.NewEvent(i, time.Now()).CopyID; byID[id] != want {
			t.Fatalf("event %d got ID %d, which holds copy %q", i, id, byID[id])
		}
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "tracker.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := s.Record(context.Background(), storetest.NewEvent(i, time.Now())); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
