package reports

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkIngestBatch measures parse + match + store per report, in
// batches of ingestBatch as the sync loop does, each DSN matching by ENVID.
func BenchmarkIngestBatch(b *testing.B) {
	e := newEnv(&testing.T{})
	at := time.Now().Add(-time.Hour)
	const n = 1000
	for i := range n {
		e.send(sent{at: at, copies: []sentCopy{{envid: fmt.Sprintf("bench-%d", i), rcpts: []string{fmt.Sprintf("u%d@remote.test", i)}}}})
	}
	raws := make([][]byte, n)
	for i := range n {
		raws[i] = bounceFor(fmt.Sprintf("bench-%d", i), fmt.Sprintf("u%d@remote.test", i), 0)
	}
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		batch := make([]Fetched, 0, ingestBatch)
		for i, raw := range raws {
			batch = append(batch, Fetched{Raw: raw, Meta: Meta{Account: "main", Mailbox: "INBOX", UIDValidity: uint32(it + 1), UID: uint32(i + 1)}})
			if len(batch) == ingestBatch {
				if _, err := e.rep.IngestBatch(e.ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/report")
}

// BenchmarkIngestFirst is BenchmarkIngestBatch into a fresh database each
// time (a first sync: every report new, every recipient bounced once),
// with a cancellable context as the sync loop has.
func BenchmarkIngestFirst(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	at := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC) // before the reports' Date
	const n = 1000
	raws := make([][]byte, n)
	for i := range n {
		raws[i] = bounceFor(fmt.Sprintf("bench-%d", i), fmt.Sprintf("u%d@remote.test", i), 0)
	}
	var spent, cpu time.Duration
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		e := newEnv(&testing.T{})
		for i := range n {
			e.send(sent{at: at, copies: []sentCopy{{envid: fmt.Sprintf("bench-%d", i), rcpts: []string{fmt.Sprintf("u%d@remote.test", i)}}}})
		}
		b.StartTimer()
		t0, c0 := time.Now(), cpuTime()
		batch := make([]Fetched, 0, ingestBatch)
		for i, raw := range raws {
			batch = append(batch, Fetched{Raw: raw, Meta: Meta{Account: "main", Mailbox: "INBOX", UIDValidity: 1, UID: uint32(i + 1)}})
			if len(batch) == ingestBatch || i == n-1 {
				res, err := e.rep.IngestBatch(ctx, batch)
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range res {
					if r.Matched() != 1 {
						b.Fatalf("not matched: %+v", r)
					}
				}
				batch = batch[:0]
			}
		}
		spent += time.Since(t0)
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(spent.Microseconds())/float64(b.N*n), "µs/report")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*n), "cpu-µs/report")
}
