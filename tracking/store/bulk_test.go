package store

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"mailroom/tracking"
)

// AddEvents leaves the database exactly as AddEvent one by one does:
// the same events, the same recipient caches (equal to Derive), the same
// message times. Random batches mix the bulk path's case with every
// reason to leave it: a dedup key (repeated), a recipient twice, an event
// from the past, text that is not UTF-8, an unknown recipient.
func TestAddEventsEqualsAddEventOneByOne(t *testing.T) {
	ctx := context.Background()
	bulk, each := openTestStore(t), openTestStore(t)
	var rids []int64
	for _, s := range []*Store{bulk, each} {
		rids = seedRecipients(t, s, 3, 4)
	}
	kinds := []tracking.EventKind{tracking.EvQueued, tracking.EvSending, tracking.EvDeferred, tracking.EvUncertain,
		tracking.EvAccepted, tracking.EvDelivered, tracking.EvBounced, tracking.EvOpened, tracking.EvClicked, tracking.EvRead}
	dump := func(s *Store) (events, caches []string) {
		rows, err := s.DB.R.Query(`SELECT recipient, at, kind, source, code, text, detail, coalesce(dedup_key,'') FROM events`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var rid, at, code int64
			var kind, source, text, detail, dedup string
			rows.Scan(&rid, &at, &kind, &source, &code, &text, &detail, &dedup)
			events = append(events, fmt.Sprintf("%d %d %s %s %d %q %s %s", rid, at, kind, source, code, text, detail, dedup))
		}
		rows.Close()
		slices.Sort(events)
		rows, err = s.DB.R.Query(`SELECT r.id, r.status, r.opens_total, r.opens_human, r.opens_machine, r.clicks, r.read, r.replied,
			r.last_event_at, m.last_event_at FROM recipients r JOIN messages m ON m.id=r.message ORDER BY r.id`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			v := make([]any, 10)
			for i := range v {
				v[i] = new(any)
			}
			rows.Scan(v...)
			line := ""
			for _, x := range v {
				line += fmt.Sprint(*(x.(*any))) + " "
			}
			caches = append(caches, line)
		}
		rows.Close()
		return events, caches
	}
	r := rand.New(rand.NewPCG(7, 8))
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	latest := t0
	for round := 0; round < 80; round++ {
		var evs []tracking.Event
		for range 1 + r.IntN(12) {
			at := latest.Add(time.Duration(r.IntN(3)) * time.Second)
			if r.IntN(6) == 0 {
				at = t0.Add(time.Duration(r.IntN(200)) * time.Second)
			}
			latest = maxT(latest, at)
			e := tracking.Event{Recipient: rids[r.IntN(len(rids))], At: at, Kind: kinds[r.IntN(len(kinds))],
				Source: tracking.SrcOutbox, Code: 250, Text: fmt.Sprintf("reply %d", r.IntN(100)), Detail: `{"k":1}`}
			switch r.IntN(10) {
			case 0:
				e.DedupKey = fmt.Sprintf("d%d", r.IntN(20))
			case 1:
				e.Text = "bad \xff bytes"
			case 2:
				e.Detail = ""
			}
			evs = append(evs, e)
		}
		for _, st := range []struct {
			s    *Store
			bulk bool
		}{{bulk, true}, {each, false}} {
			err := st.s.DB.WithTx(ctx, func(tx *sql.Tx) error {
				if st.bulk {
					return st.s.AddEvents(ctx, tx, evs)
				}
				return st.s.addEach(ctx, tx, evs)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		be, bc := dump(bulk)
		ee, ec := dump(each)
		if !slices.Equal(be, ee) || !slices.Equal(bc, ec) {
			t.Fatalf("round %d: the stores differ:\nbulk %q\n%q\neach %q\n%q", round, bc, be, ec, ee)
		}
	}
	// An unknown recipient is AddEvent's error in both.
	err := bulk.DB.WithTx(ctx, func(tx *sql.Tx) error {
		evs := make([]tracking.Event, 5)
		for i := range evs {
			evs[i] = tracking.Event{Recipient: rids[i] + 1000, At: latest, Kind: tracking.EvQueued}
		}
		return bulk.AddEvents(ctx, tx, evs)
	})
	if err == nil {
		t.Error("events for unknown recipients were added")
	}

	be, bc := dump(bulk)
	ee, ec := dump(each)
	if !slices.Equal(be, ee) {
		t.Errorf("events differ: %d in bulk, %d one by one", len(be), len(ee))
	}
	if !slices.Equal(bc, ec) {
		t.Errorf("caches differ:\nbulk %q\neach %q", bc, ec)
	}
	for _, rid := range rids {
		evs, err := bulk.Events(ctx, rid)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := tracking.Derive(evs)
		var got string
		bulk.DB.R.QueryRow(`SELECT status FROM recipients WHERE id=?`, rid).Scan(&got)
		if tracking.Status(got) != want {
			t.Errorf("recipient %d: cache %s, Derive %s", rid, got, want)
		}
	}
}

// seedRecipients inserts messages with a copy and recipients each, the
// same ids in every store it is given.
func seedRecipients(t *testing.T, s *Store, messages, perMessage int) []int64 {
	t.Helper()
	var rids []int64
	err := s.DB.WithTx(context.Background(), func(tx *sql.Tx) error {
		now := tracking.Millis(time.Now())
		for m := range messages {
			id := fmt.Sprintf("m%d", m)
			if _, err := tx.Exec(`INSERT INTO messages(id, account, from_addr, subject, message_id, created_at, due_at) VALUES(?,'acct','a@example.test','Hi',?,?,?)`,
				id, "<"+id+"@example.test>", now, now); err != nil {
				return err
			}
			res, err := tx.Exec(`INSERT INTO copies(message, envid, body) VALUES(?,?,x'00')`, id, "env-"+id)
			if err != nil {
				return err
			}
			cid, _ := res.LastInsertId()
			for k := range perMessage {
				res, err := tx.Exec(`INSERT INTO recipients(message, copy, address, status) VALUES(?,?,?,'queued')`,
					id, cid, fmt.Sprintf("r%d-%d@example.test", m, k))
				if err != nil {
					return err
				}
				rid, _ := res.LastInsertId()
				rids = append(rids, rid)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rids
}
