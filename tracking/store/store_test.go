package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking"
)

// openTestStore opens a migrated store on a fresh database file.
func openTestStore(t *testing.T) *Store {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "t.db"), sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := OpenStore(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seedRecipient inserts one message with one copy and one recipient.
func seedRecipient(t *testing.T, s *Store) int64 {
	t.Helper()
	ctx := context.Background()
	var rid int64
	err := s.DB.WithTx(ctx, func(tx *sql.Tx) error {
		now := tracking.Millis(time.Now())
		if _, err := tx.Exec(`INSERT INTO messages(id, account, from_addr, subject, message_id, created_at, due_at) VALUES('m1','acct','a@example.test','Hi','<m1@example.test>',?,?)`, now, now); err != nil {
			return err
		}
		res, err := tx.Exec(`INSERT INTO copies(message, envid, body) VALUES('m1','env1',x'00')`)
		if err != nil {
			return err
		}
		cid, _ := res.LastInsertId()
		res, err = tx.Exec(`INSERT INTO recipients(message, copy, address, status) VALUES('m1',?,'bob@example.test','queued')`, cid)
		if err != nil {
			return err
		}
		rid, _ = res.LastInsertId()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rid
}

func TestAddEventRefreshAndDedup(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	db := s.DB
	rid := seedRecipient(t, s)
	t0 := time.Now()
	add := func(e tracking.Event) bool {
		var added bool
		if err := db.WithTx(ctx, func(tx *sql.Tx) error {
			var err error
			added, err = AddEvent(ctx, tx, e)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return added
	}
	add(tracking.Event{Recipient: rid, At: t0, Kind: tracking.EvAccepted, Source: tracking.SrcSMTP, Code: 250})
	dsn := tracking.Event{Recipient: rid, At: t0.Add(time.Minute), Kind: tracking.EvBounced, Source: tracking.SrcDSN, DedupKey: "report-1/bob"}
	if !add(dsn) || add(dsn) {
		t.Fatal("dedup key did not make the second add a no-op")
	}
	var status string
	db.R.QueryRow(`SELECT status FROM recipients WHERE id=?`, rid).Scan(&status)
	if status != "bounced" {
		t.Fatalf("status = %q, want bounced", status)
	}
	evs, err := s.Events(ctx, rid)
	if err != nil || len(evs) != 2 {
		t.Fatalf("events = %v, %v", evs, err)
	}
}
