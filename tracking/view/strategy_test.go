package view

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"mailroom/internal/seed"
	"mailroom/internal/sqlitedb"
	"mailroom/tracking/store"
)

// Both search strategies (trigram index, ordered scan) must return the
// same pages; Page picks one by how common the term is.
func TestSearchStrategiesAgree(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "s.db"), sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, _ := store.OpenStore(ctx, db)
	v, err := Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	seed.Run(ctx, db, seed.Options{Messages: 400, Seed: 9, Now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)})
	for _, term := range []string{"Receipt", "user12.", "EXAMPLE.NET", "order 10", `say "hi"`, "%_x"} {
		for _, q := range []Query{{Search: term}, {Search: term, Oldest: true}, {Search: term, HasBounces: true}} {
			var byIndex, byScan []string
			for off := 0; ; off += 37 {
				a, err := v.page(ctx, q, off, 37, false)
				if err != nil {
					t.Fatal(err)
				}
				b, err := v.page(ctx, q, off, 37, true)
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range a {
					byIndex = append(byIndex, r.ID)
				}
				for _, r := range b {
					byScan = append(byScan, r.ID)
				}
				if len(a) < 37 && len(b) < 37 {
					break
				}
			}
			if !slices.Equal(byIndex, byScan) {
				t.Errorf("%+v: index found %d, scan %d", q, len(byIndex), len(byScan))
			}
		}
	}
}
