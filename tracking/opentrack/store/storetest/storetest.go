// Package storetest owns the conformance tests every store.Store backend
// must pass: field round trip, increasing IDs that survive purges, paging
// with cursors, and no event skipped by a reader while writers run
// concurrently.
package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"mailroom/tracking/opentrack/store"
)

// Opener returns a fresh, empty store; Cleanup is the caller's business.
type Opener func(t *testing.T) store.Store

// NewEvent returns a valid event with the given copy id suffix and time.
func NewEvent(i int, at time.Time) store.Event {
	return store.Event{
		At:        at.UTC().Truncate(time.Microsecond),
		Kind:      store.KindOpen,
		CopyID:    fmt.Sprintf("%032x", i),
		KeyID:     "k1",
		UAClass:   "browser",
		UserAgent: "Mozilla/5.0 test",
		Source:    "198.51.100.0/24",
	}
}

// Run runs the conformance suite against fresh stores from open.
func Run(t *testing.T, open Opener) {
	t.Run("RoundTrip", func(t *testing.T) { roundTrip(t, open(t)) })
	t.Run("Paging", func(t *testing.T) { paging(t, open(t)) })
	t.Run("PurgeKeepsIDsIncreasing", func(t *testing.T) { purge(t, open(t)) })
	t.Run("ConcurrentWritersReaderSkipsNothing", func(t *testing.T) {
		s := open(t)
		ConcurrentNoSkip(t, []store.Store{s}, s, 4, 200)
	})
	t.Run("Closed", func(t *testing.T) {
		s := open(t)
		s.Close()
		if _, err := s.Record(context.Background(), NewEvent(1, time.Now())); err == nil {
			t.Fatal("Record on a closed store succeeded")
		}
	})
}

func roundTrip(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 12, 30, 45, 123456789, time.UTC)
	in := store.Event{
		At: at.Truncate(time.Microsecond), Kind: store.KindClick, CopyID: "00112233445566778899aabbccddeeff",
		KeyID: "2025-a", LinkHash: "ab" + fmt.Sprintf("%062x", 7), UAClass: "google-image-proxy",
		UserAgent: "Mozilla/5.0 (via ggpht.com GoogleImageProxy) “quotes” 'single'", Source: "2001:db8:1::/48",
	}
	got, err := s.Record(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID <= 0 {
		t.Fatalf("ID %d", got.ID)
	}
	evs, err := s.Events(ctx, 0, 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("Events: %v %v", evs, err)
	}
	in.ID = got.ID
	if !evs[0].At.Equal(in.At) {
		t.Errorf("At = %v, want %v", evs[0].At, in.At)
	}
	evs[0].At = in.At
	if evs[0] != in {
		t.Errorf("round trip:\n got %+v\nwant %+v", evs[0], in)
	}
	if _, err := s.Record(ctx, store.Event{Kind: "view"}); err == nil {
		t.Error("invalid event accepted")
	}
	if err := s.Ping(ctx); err != nil {
		t.Error(err)
	}
}

func paging(t *testing.T, s store.Store) {
	ctx := context.Background()
	now := time.Now()
	var ids []int64
	for i := 0; i < 25; i++ {
		e, err := s.Record(ctx, NewEvent(i, now))
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > 0 && e.ID <= ids[len(ids)-1] {
			t.Fatalf("ID %d after %d", e.ID, ids[len(ids)-1])
		}
		ids = append(ids, e.ID)
	}
	var seen []int64
	cursor := int64(0)
	for {
		evs, err := s.Events(ctx, cursor, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) > 7 {
			t.Fatalf("limit 7 returned %d", len(evs))
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			seen = append(seen, e.ID)
		}
		cursor = evs[len(evs)-1].ID
	}
	if fmt.Sprint(seen) != fmt.Sprint(ids) {
		t.Fatalf("paged %v, recorded %v", seen, ids)
	}
}

func purge(t *testing.T, s store.Store) {
	ctx := context.Background()
	old := time.Now().Add(-100 * 24 * time.Hour)
	recent := time.Now()
	var last int64
	for i := 0; i < 10; i++ {
		at := old
		if i%2 == 1 {
			at = recent
		}
		e, err := s.Record(ctx, NewEvent(i, at))
		if err != nil {
			t.Fatal(err)
		}
		last = e.ID
	}
	n, err := s.Purge(ctx, time.Now().Add(-90*24*time.Hour))
	if err != nil || n != 5 {
		t.Fatalf("Purge = %d, %v; want 5", n, err)
	}
	evs, _ := s.Events(ctx, 0, 100)
	if len(evs) != 5 {
		t.Fatalf("%d events left, want 5", len(evs))
	}
	// Remove everything, including the newest row: the next ID must still
	// be above every ID handed out before, or a reader's cursor would skip it.
	if n, err := s.Purge(ctx, time.Now().Add(time.Hour)); err != nil || n != 5 {
		t.Fatalf("Purge all = %d, %v", n, err)
	}
	e, err := s.Record(ctx, NewEvent(99, recent))
	if err != nil {
		t.Fatal(err)
	}
	if e.ID <= last {
		t.Fatalf("ID %d reused after purge (last was %d)", e.ID, last)
	}
}

// ConcurrentNoSkip runs writers goroutines per writer store, each recording
// perWriter events, while a reader pages through reader with a cursor the
// whole time. The reader must end up with every recorded event exactly once,
// in increasing ID order: the cursor contract under concurrency (several
// writer stores model several tracker instances sharing one database).
func ConcurrentNoSkip(t *testing.T, writers []store.Store, reader store.Store, goroutines, perWriter int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	var mu sync.Mutex
	recorded := map[int64]bool{}
	errc := make(chan error, len(writers)*goroutines)
	for wi, w := range writers {
		for g := 0; g < goroutines; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < perWriter; i++ {
					e, err := w.Record(ctx, NewEvent(wi*1_000_000+g*10_000+i, time.Now()))
					if err != nil {
						errc <- err
						return
					}
					mu.Lock()
					recorded[e.ID] = true
					mu.Unlock()
				}
			}()
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	seen := map[int64]bool{}
	cursor := int64(0)
	finished := false
	for {
		evs, err := reader.Events(ctx, cursor, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.ID <= cursor {
				t.Fatalf("event %d returned after cursor %d", e.ID, cursor)
			}
			if seen[e.ID] {
				t.Fatalf("event %d returned twice", e.ID)
			}
			seen[e.ID] = true
			cursor = e.ID
		}
		if finished && len(evs) == 0 {
			break
		}
		select {
		case <-done:
			finished = true
		default:
		}
	}
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if len(seen) != len(recorded) {
		missing := 0
		for id := range recorded {
			if !seen[id] {
				missing++
			}
		}
		t.Fatalf("reader saw %d events, writers recorded %d (%d skipped)", len(seen), len(recorded), missing)
	}
}
