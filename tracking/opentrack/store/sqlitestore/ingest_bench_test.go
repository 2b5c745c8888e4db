package sqlitestore

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"mailroom/tracking/opentrack/store"
	"mailroom/tracking/opentrack/store/storetest"
)

// BenchmarkIngest measures moving logged events into SQLite, per event, in
// transactions of 3000 (what the ingester does at ~30,000 hits a second).
func BenchmarkIngest(b *testing.B) {
	s, err := Open(context.Background(), filepath.Join(b.TempDir(), "tracker.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const chunk = 3000
	evs := make([]store.Event, chunk)
	var uas [50]string
	for i := range uas {
		uas[i] = fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/%d Safari/537.36", i)
	}
	at := time.Now()
	id := int64(1000)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		b.StopTimer()
		for i := range evs {
			id++
			e := storetest.NewEvent(int(id), at)
			e.ID = id
			e.UserAgent = uas[id%50]
			evs[i] = e
		}
		b.StartTimer()
		if err := s.insertEvents(evs); err != nil {
			b.Fatal(err)
		}
	}
}
