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
// reason to leave it: a dedup key (repeated), a report, a recipient
// twice, an event from the past, an unknown recipient. Text that is not
// UTF-8 stays on the bulk path and must come back byte for byte.
func TestAddEventsEqualsAddEventOneByOne(t *testing.T) {
	ctx := context.Background()
	bulk, each, rids := twinStores(t, 3, 4)
	g := newEventGen(rids)
	for round := 0; round < 80; round++ {
		evs := g.batch(1+g.r.IntN(12), false)
		if err := addBoth(ctx, bulk, each, evs); err != nil {
			t.Fatal(err)
		}
		be, bc := dumpEvents(t, bulk)
		ee, ec := dumpEvents(t, each)
		if !slices.Equal(be, ee) || !slices.Equal(bc, ec) {
			t.Fatalf("round %d: the stores differ:\nbulk %q\n%q\neach %q\n%q", round, bc, be, ec, ee)
		}
	}
	// An unknown recipient is AddEvent's error in both.
	err := bulk.DB.WithTx(ctx, func(tx *sql.Tx) error {
		evs := make([]tracking.Event, 5)
		for i := range evs {
			evs[i] = tracking.Event{Recipient: rids[i] + 1000, At: g.latest, Kind: tracking.EvQueued}
		}
		return bulk.AddEvents(ctx, tx, evs)
	})
	if err == nil {
		t.Error("events for unknown recipients were added")
	}

	be, bc := dumpEvents(t, bulk)
	ee, ec := dumpEvents(t, each)
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

// Batches across the chunk sizes of the bulk statements (64, 16, 4, 1
// rows): one short of a chunk, exactly one, one over, several.
func TestAddEventsChunkBoundaries(t *testing.T) {
	ctx := context.Background()
	bulk, each, rids := twinStores(t, 5, 50)
	g := newEventGen(rids)
	for _, n := range []int{1, 3, 4, 5, 15, 16, 17, 63, 64, 65, 200, 3, 64, 200} {
		for _, mixed := range []bool{false, true} {
			evs := g.batch(n, !mixed)
			if err := addBoth(ctx, bulk, each, evs); err != nil {
				t.Fatal(err)
			}
			be, bc := dumpEvents(t, bulk)
			ee, ec := dumpEvents(t, each)
			if !slices.Equal(be, ee) || !slices.Equal(bc, ec) {
				for i := range min(len(be), len(ee)) {
					if be[i] != ee[i] {
						t.Fatalf("%d events (mixed %v): first difference in events:\nbulk %s\neach %s", n, mixed, be[i], ee[i])
					}
				}
				for i := range min(len(bc), len(ec)) {
					if bc[i] != ec[i] {
						t.Fatalf("%d events (mixed %v): first difference in caches:\nbulk %s\neach %s", n, mixed, bc[i], ec[i])
					}
				}
				t.Fatalf("%d events (mixed %v): %d/%d events, %d/%d caches", n, mixed, len(be), len(ee), len(bc), len(ec))
			}
		}
	}
}

// AddEventsSetting leaves the database as AddEvent and an UPDATE of the
// columns after each event do, prepared or not, on the bulk path and off.
func TestAddEventsSettingEqualsOneByOne(t *testing.T) {
	ctx := context.Background()
	bulk, each, rids := twinStores(t, 5, 50)
	cols := []string{"attempts", "first_attempt_at", "next_attempt_at", "last_reply"}
	rs := NewRecipientSet(cols...)
	prepared, err := rs.Prepare(ctx, bulk.DB.W)
	if err != nil {
		t.Fatal(err)
	}
	g := newEventGen(rids)
	for i, n := range []int{1, 3, 4, 5, 17, 64, 65, 200, 12, 12, 12, 12} {
		evs := g.batch(n, i%2 == 0)
		var vals []any
		for range evs {
			vals = append(vals, g.r.IntN(5), g.r.Int64N(1e12), g.r.Int64N(1e12), fmt.Sprintf("words %d \xff", g.r.IntN(9)))
		}
		set := []*RecipientSet{rs, prepared}[i%2]
		err := bulk.DB.WithTx(ctx, func(tx *sql.Tx) error { return bulk.AddEventsSetting(ctx, tx, evs, set, vals) })
		if err != nil {
			t.Fatal(err)
		}
		err = each.DB.WithTx(ctx, func(tx *sql.Tx) error {
			for k, e := range evs {
				if _, err := each.AddEvent(ctx, tx, e); err != nil {
					return err
				}
				if _, err := tx.Exec(`UPDATE recipients SET attempts=?, first_attempt_at=?, next_attempt_at=?, last_reply=? WHERE id=?`,
					append(vals[k*4:][:4:4], e.Recipient)...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		be, bc := dumpEvents(t, bulk)
		ee, ec := dumpEvents(t, each)
		if !slices.Equal(be, ee) || !slices.Equal(bc, ec) {
			t.Fatalf("batch %d of %d events: the stores differ", i, n)
		}
	}
	err = bulk.DB.WithTx(ctx, func(tx *sql.Tx) error {
		return bulk.AddEventsSetting(ctx, tx, g.batch(5, true), rs, []any{1, 2, 3})
	})
	if err == nil {
		t.Error("AddEventsSetting took 3 values for 5 events of 4 columns")
	}
}

// eventGen makes random batches of events for the recipients rids.
type eventGen struct {
	r          *rand.Rand
	rids       []int64
	t0, latest time.Time
}

func newEventGen(rids []int64) *eventGen {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	return &eventGen{r: rand.New(rand.NewPCG(7, 8)), rids: rids, t0: t0, latest: t0}
}

var genKinds = []tracking.EventKind{tracking.EvQueued, tracking.EvSending, tracking.EvDeferred, tracking.EvUncertain,
	tracking.EvAccepted, tracking.EvDelivered, tracking.EvBounced, tracking.EvOpened, tracking.EvClicked, tracking.EvRead}

// batch returns n events. With bulkOnly each is for another recipient
// (n at most len(rids)) and nothing sends it down AddEvent's path but
// bytes that are not UTF-8; otherwise every reason to leave the bulk
// path comes up.
func (g *eventGen) batch(n int, bulkOnly bool) []tracking.Event {
	r := g.r
	perm := r.Perm(len(g.rids))
	var evs []tracking.Event
	for i := range n {
		at := g.latest.Add(time.Duration(r.IntN(3)) * time.Second)
		if !bulkOnly && r.IntN(6) == 0 {
			at = g.t0.Add(time.Duration(r.IntN(200)) * time.Second)
		}
		g.latest = maxT(g.latest, at)
		rid := g.rids[perm[i%len(perm)]]
		if !bulkOnly {
			rid = g.rids[r.IntN(len(g.rids))]
		}
		e := tracking.Event{Recipient: rid, At: at, Kind: genKinds[r.IntN(len(genKinds))],
			Source: []tracking.Source{tracking.SrcOutbox, tracking.SrcSMTP}[r.IntN(2)], Command: []string{"", "RCPT", "."}[r.IntN(3)],
			Code: []int{0, 250, 451, 550}[r.IntN(4)], EnhancedCode: []string{"", "2.0.0", "4.4.7"}[r.IntN(3)],
			Text: fmt.Sprintf("reply %d", r.IntN(100)), Match: []string{"", "envid", "orcpt"}[r.IntN(3)],
			Detail: fmt.Sprintf(`{"k":%d}`, r.IntN(9))}
		if e.Kind == tracking.EvOpened {
			e.Detail = fmt.Sprintf(`{"class":%q}`, []tracking.OpenClass{tracking.HumanLikely, tracking.MachineOrProxy,
				tracking.HumanLikely, tracking.UnknownOpen}[r.IntN(4)])
		}
		switch r.IntN(12) {
		case 0:
			e.Text = "bad \xff bytes"
		case 1:
			e.Command, e.EnhancedCode, e.Match = "\xc3(", "2.\xff", "\xfe"
		case 2:
			e.Detail = ""
		case 3:
			e.Detail = `{"w":"\xff"}`
		case 4:
			if !bulkOnly {
				e.DedupKey = fmt.Sprintf("d%d", r.IntN(20))
			}
		case 5:
			if !bulkOnly {
				e.Report = int64(1 + r.IntN(5))
			}
		}
		evs = append(evs, e)
	}
	return evs
}

// addBoth adds evs to bulk with AddEvents and to each one by one, a
// transaction each.
func addBoth(ctx context.Context, bulk, each *Store, evs []tracking.Event) error {
	err := bulk.DB.WithTx(ctx, func(tx *sql.Tx) error { return bulk.AddEvents(ctx, tx, evs) })
	if err != nil {
		return err
	}
	return each.DB.WithTx(ctx, func(tx *sql.Tx) error {
		for _, e := range evs {
			if _, err := each.AddEvent(ctx, tx, e); err != nil {
				return err
			}
		}
		return nil
	})
}

// dumpEvents lists every column of the events (but their ids, which the
// two paths assign in another order) and of the recipients' caches with
// their messages' times, sorted.
func dumpEvents(t *testing.T, s *Store) (events, caches []string) {
	t.Helper()
	line := func(q string, n int) []string {
		rows, err := s.DB.R.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			v := make([]any, n)
			for i := range v {
				v[i] = new(any)
			}
			if err := rows.Scan(v...); err != nil {
				t.Fatal(err)
			}
			l := ""
			for _, x := range v {
				l += fmt.Sprintf("%T %q|", *(x.(*any)), fmt.Sprint(*(x.(*any))))
			}
			out = append(out, l)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		slices.Sort(out)
		return out
	}
	events = line(`SELECT recipient, at, kind, source, command, code, enhanced_code, text, match, detail, report, dedup_key FROM events`, 12)
	caches = line(`SELECT r.id, r.status, r.opens_total, r.opens_human, r.opens_machine, r.clicks, r.read, r.replied,
		r.last_event_at, m.last_event_at, r.attempts, r.first_attempt_at, r.next_attempt_at, r.last_reply
		FROM recipients r JOIN messages m ON m.id=r.message`, 14)
	return events, caches
}

// seedRecipients inserts messages with a copy and recipients each, the
// same ids in every store it is given.
func seedRecipients(t *testing.T, s *Store, messages, perMessage int) []int64 {
	now := tracking.Millis(time.Now())
	return seedMessages(t, s, messages, func(int) int { return perMessage }, func(int) int64 { return now })
}

// seedMessages inserts messages m0, m1 ... with count(m) queued
// recipients each, created at createdAt(m), and returns the recipients'
// ids in order.
func seedMessages(t *testing.T, s *Store, messages int, count func(m int) int, createdAt func(m int) int64) []int64 {
	t.Helper()
	var rids []int64
	err := s.DB.WithTx(context.Background(), func(tx *sql.Tx) error {
		for m := range messages {
			id := fmt.Sprintf("m%d", m)
			if _, err := tx.Exec(`INSERT INTO messages(id, account, from_addr, subject, message_id, created_at, due_at) VALUES(?,'acct','a@example.test','Hi',?,?,?)`,
				id, "<"+id+"@example.test>", createdAt(m), createdAt(m)); err != nil {
				return err
			}
			res, err := tx.Exec(`INSERT INTO copies(message, envid, body) VALUES(?,?,x'00')`, id, "env-"+id)
			if err != nil {
				return err
			}
			cid, _ := res.LastInsertId()
			for k := range count(m) {
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

// twinStores opens two stores seeded alike (messages × perMessage),
// one for the bulk path and one for AddEvent one by one.
func twinStores(t *testing.T, messages, perMessage int) (bulk, each *Store, rids []int64) {
	bulk, each = openTestStore(t), openTestStore(t)
	for _, s := range []*Store{bulk, each} {
		rids = seedRecipients(t, s, messages, perMessage)
	}
	return bulk, each, rids
}
