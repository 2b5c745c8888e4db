package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
)

// A RowsStmt runs every row of a list once, whatever chunks the list
// falls into, prepared or not, with the fixed parameters in each chunk.
func TestRowsStmtChunks(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	if _, err := s.DB.W.Exec(`CREATE TABLE rows_t(id INTEGER PRIMARY KEY, tag TEXT NOT NULL, v BLOB, k INTEGER)`); err != nil {
		t.Fatal(err)
	}
	insert := NewRowsStmt(3, func(list string) string {
		return `WITH f(k) AS (SELECT ?1), v(id, tag, v) AS (VALUES ` + list + `) INSERT INTO rows_t SELECT id, tag, v, k FROM v, f`
	})
	query := NewRowsStmt(1, func(list string) string {
		return `SELECT id, tag, v, k, ?1 FROM rows_t WHERE id IN (` + list + `)`
	})
	prepared := func(b *RowsStmt) *RowsStmt {
		p, err := b.Prepare(ctx, s.DB.W)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	next := int64(1)
	for _, prep := range []bool{false, true} {
		ins, q := insert, query
		if prep {
			ins, q = prepared(insert), prepared(query)
		}
		for _, n := range []int{0, 1, 3, 4, 5, 15, 16, 17, 63, 64, 65, 200} {
			var rows, ids []any
			var want []string
			for range n {
				tag := fmt.Sprintf("r%d\xff", next)
				rows = append(rows, next, tag, []byte{byte(next), 0})
				ids = append(ids, next)
				want = append(want, fmt.Sprintf("%d %q [%d 0] %d %d", next, tag, byte(next), n, -n))
				next++
			}
			var got []string
			err := s.DB.WithTx(ctx, func(tx *sql.Tx) error {
				changed, err := ins.Exec(ctx, tx, []any{n}, rows)
				if err != nil {
					return err
				}
				if changed != int64(n) {
					return fmt.Errorf("%d rows inserted, %d given", changed, n)
				}
				return q.Query(ctx, tx, []any{-n}, ids, func(r *sql.Rows) error {
					var id, k, m int64
					var tag string
					var v []byte
					if err := r.Scan(&id, &tag, &v, &k, &m); err != nil {
						return err
					}
					got = append(got, fmt.Sprintf("%d %q %d %d %d", id, tag, v, k, m))
					return nil
				})
			})
			if err != nil {
				t.Fatalf("prepared %v, %d rows: %v", prep, n, err)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("prepared %v, %d rows: got\n%q\nwant\n%q", prep, n, got, want)
			}
		}
	}
}
