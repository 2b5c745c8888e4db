package opensync

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking"
	"mailroom/tracking/opentrack"
	"mailroom/tracking/opentrack/store/sqlitestore"
	"mailroom/tracking/store"
)

// seed makes one message with two personal tracked copies, accepted at t0.
func seed(t *testing.T, st *store.Store, t0 time.Time) (rids [2]int64) {
	t.Helper()
	ctx := context.Background()
	err := st.DB.WithTx(ctx, func(tx *sql.Tx) error {
		tx.Exec(`INSERT INTO messages(id, account, from_addr, message_id, created_at, due_at) VALUES('m','a','s@example.test','<m@x>',?,?)`,
			tracking.Millis(t0), tracking.Millis(t0))
		for i, tid := range []string{"aaaa", "bbbb"} {
			res, err := tx.Exec(`INSERT INTO copies(message, envid, tracking_id, body) VALUES('m',?,?,x'00')`, "env-"+tid, tid)
			if err != nil {
				return err
			}
			cid, _ := res.LastInsertId()
			res, _ = tx.Exec(`INSERT INTO recipients(message, copy, address, status, trackable) VALUES('m',?,?,'queued',1)`, cid, tid+"@example.test")
			rids[i], _ = res.LastInsertId()
			if _, err := store.AddEvent(ctx, tx, tracking.Event{Recipient: rids[i], At: t0, Kind: tracking.EvAccepted, Source: tracking.SrcSMTP, Code: 250}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rids
}

func TestSyncClassifiesAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlitedb.Open(filepath.Join(dir, "app.db"), sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := store.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	rids := seed(t, st, t0)
	tr, err := sqlitestore.Open(ctx, filepath.Join(dir, "tracker.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	hit := func(copyID, kind, ua string, at time.Time) {
		if _, err := tr.Record(ctx, opentrack.Event{At: at, Kind: kind, CopyID: copyID, KeyID: "k1", UserAgent: ua, UAClass: "", LinkHash: "ab"}); err != nil {
			t.Fatal(err)
		}
	}
	hit("aaaa", "open", "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", t0.Add(10*time.Minute))
	hit("aaaa", "open", "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.0", t0.Add(3*time.Hour))
	hit("bbbb", "click", "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15", t0.Add(2*time.Hour))
	hit("zzzz", "open", "Mozilla/5.0", t0.Add(time.Hour)) // not our copy
	sy := &Syncer{Store: st, Source: StoreSource{Store: tr}, Name: "builtin"}
	stats, err := sy.SyncOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Fetched != 4 || stats.Recorded != 3 || stats.UnknownCopy != 1 {
		t.Fatalf("stats %+v", stats)
	}
	again, err := (&Syncer{Store: st, Source: StoreSource{Store: tr}, Name: "builtin"}).SyncOnce(ctx)
	if err != nil || again.Fetched != 0 {
		t.Fatalf("second sync fetched %+v, %v: the cursor was not kept", again, err)
	}
	st.SetSetting(ctx, "opensync.cursor.builtin", "") // replay everything: must add nothing
	if _, err := sy.SyncOnce(ctx); err != nil {
		t.Fatal(err)
	}
	msgs, _ := st.Statuses(ctx, store.StatusFilter{ID: "m"})
	a, b := msgs[0].Recipients[0], msgs[0].Recipients[1]
	if a.Opens.Total != 2 || a.Opens.Machine != 1 || a.Opens.Human != 1 {
		t.Errorf("copy a opens = %+v, want 2 (1 machine via Google's proxy, 1 human)", a.Opens)
	}
	if b.Clicks != 1 || b.Opens.Human != 1 {
		t.Errorf("copy b: clicks %d opens %+v; a human click must prove an open", b.Clicks, b.Opens)
	}
	if a.Status != tracking.Accepted || b.Status != tracking.Accepted {
		t.Errorf("opens changed the delivery status: %s %s", a.Status, b.Status)
	}
	_ = rids
}
