package store

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"mailroom/tracking"
)

// The outbox adds one event per recipient for a whole batch at a time (the
// "queued" events of a bulk message, the "sending" events of 32 claimed
// copies, the "accepted" events the result applier commits). One by one,
// AddEvent runs four statements per event; AddEvents runs one of each
// kind per chunk of up to 64 rows (RowsStmt), with the same result. The
// rows go as bound parameters: passed as JSON, every column of every row
// was parsed again from the text, which cost more than the writes.
var (
	bulkInsertEvents = NewRowsStmt(10, func(list string) string {
		return `INSERT INTO events(recipient, at, kind, source, command, code, enhanced_code, text, match, detail) VALUES ` + list
	})
	bulkRecipientCache = NewRowsStmt(1, func(list string) string {
		return `SELECT id, message, status, opens_total, opens_human, opens_machine, clicks, read, replied, last_event_at
			FROM recipients WHERE id IN (` + list + `)`
	})
	// Rows: (id, status, opens_total, opens_human, opens_machine, clicks, read, replied, last_event_at).
	bulkWriteCache = NewRowsStmt(9, writeCacheText(true, nil))
	// The same rows; the status column is left alone (see refreshWith).
	bulkWriteCacheKeepStatus = NewRowsStmt(9, writeCacheText(false, nil))
	// Rows: (message, at).
	bulkMessageLast = NewRowsStmt(2, func(list string) string {
		return `WITH v(id, at) AS (VALUES ` + list + `)
			UPDATE messages SET last_event_at=v.at FROM v WHERE messages.id=v.id AND messages.last_event_at < v.at`
	})
	bulkStmts = []*RowsStmt{bulkInsertEvents, bulkRecipientCache, bulkWriteCache, bulkWriteCacheKeepStatus, bulkMessageLast}
)

// writeCacheText is the text of a bulk write of recipients' caches, with
// the status column or without, and cols set to the values after the
// cache's in each row.
func writeCacheText(status bool, cols []string) func(list string) string {
	var names, sets strings.Builder
	for i, c := range cols {
		fmt.Fprintf(&names, ", x%d", i)
		fmt.Fprintf(&sets, ", %s=v.x%d", c, i)
	}
	set := ""
	if status {
		set = "status=v.status, "
	}
	return func(list string) string {
		return `WITH v(id, status, ot, oh, om, cl, rd, rp, last` + names.String() + `) AS (VALUES ` + list + `)
			UPDATE recipients SET ` + set + `opens_total=v.ot, opens_human=v.oh, opens_machine=v.om,
			clicks=v.cl, read=v.rd, replied=v.rp, last_event_at=v.last` + sets.String() + ` FROM v WHERE recipients.id=v.id`
	}
}

// RecipientSet names recipients columns (not the cache's) that
// AddEventsSetting writes in the statement that writes the cache of each
// event's recipient: one write of each row instead of two, each of which
// rewrote the row and the entries of the indexes on its columns.
type RecipientSet struct {
	n            int
	change, keep *RowsStmt // bulkWriteCache and bulkWriteCacheKeepStatus, with the columns
	one          string    // the columns alone, for an event AddEvent adds
	oneStmt      *sql.Stmt
}

// NewRecipientSet returns the set of the columns cols.
func NewRecipientSet(cols ...string) *RecipientSet {
	one := `UPDATE recipients SET ` + strings.Join(cols, "=?, ") + `=? WHERE id=?`
	return &RecipientSet{n: len(cols), change: NewRowsStmt(9+len(cols), writeCacheText(true, cols)),
		keep: NewRowsStmt(9+len(cols), writeCacheText(false, cols)), one: one}
}

// Prepare returns rs with its statements prepared on w (DB.W, outside any
// transaction).
func (rs *RecipientSet) Prepare(ctx context.Context, w *sql.DB) (*RecipientSet, error) {
	p := &RecipientSet{n: rs.n, one: rs.one}
	var err error
	if p.change, err = rs.change.Prepare(ctx, w); err != nil {
		return nil, err
	}
	if p.keep, err = rs.keep.Prepare(ctx, w); err != nil {
		p.change.Close()
		return nil, err
	}
	if p.oneStmt, err = w.PrepareContext(ctx, rs.one); err != nil {
		p.change.Close()
		p.keep.Close()
		return nil, err
	}
	return p, nil
}

// minBulk is the smallest batch worth the bulk statements: below it
// AddEvents adds the events one by one.
const minBulk = 4

// AddEvents records events inside tx (a DB.W transaction) and refreshes
// their recipients' caches, as AddEvent would one after the other. The
// batch path takes events without a DedupKey or Report, each for a
// different recipient and not older than that recipient's last event;
// any other event goes through AddEvent.
func (s *Store) AddEvents(ctx context.Context, tx *sql.Tx, evs []tracking.Event) error {
	return s.AddEventsSetting(ctx, tx, evs, nil, nil)
}

// AddEventsSetting is AddEvents that also sets the columns of rs in the
// row of each event's recipient, for evs[i] to the values vals[i*n:][:n]
// (n columns), as an UPDATE of them after each AddEvent would.
func (s *Store) AddEventsSetting(ctx context.Context, tx *sql.Tx, evs []tracking.Event, rs *RecipientSet, vals []any) error {
	n := 0
	if rs != nil {
		n = rs.n
	}
	if len(vals) != n*len(evs) {
		return fmt.Errorf("AddEventsSetting: %d values for %d events of %d columns", len(vals), len(evs), n)
	}
	var slow []setEvent
	if len(evs) < minBulk {
		for i, e := range evs {
			slow = append(slow, setEvent{e, vals[i*n:][:n], i})
		}
		return s.addEach(ctx, tx, rs, slow)
	}
	seen := make(map[int64]bool, len(evs))
	ids := make([]any, 0, len(evs))
	bulk := make([]setEvent, 0, len(evs))
	for i, e := range evs {
		e := setEvent{withDefaults(e), vals[i*n:][:n], i}
		// A recipient's later events follow its first one.
		if seen[e.Recipient] || e.DedupKey != "" || e.Report != 0 {
			seen[e.Recipient] = true
			slow = append(slow, e)
			continue
		}
		seen[e.Recipient] = true
		ids = append(ids, e.Recipient)
		bulk = append(bulk, e)
	}
	type cached struct {
		message string
		status  tracking.Status
		eng     tracking.Engagement
		last    int64
	}
	caches := make(map[int64]*cached, len(ids))
	err := s.hot.Rows(bulkRecipientCache).Query(ctx, tx, nil, ids, func(rows *sql.Rows) error {
		var id int64
		c := &cached{}
		var status string
		if err := rows.Scan(&id, &c.message, &status, &c.eng.OpensTotal, &c.eng.OpensHuman, &c.eng.OpensMachine,
			&c.eng.Clicks, &c.eng.Read, &c.eng.Replied, &c.last); err != nil {
			return err
		}
		c.status = tracking.Status(status)
		caches[id] = c
		return nil
	})
	if err != nil {
		return err
	}
	inserts := make([]any, 0, 10*len(bulk))
	var changed, kept []any
	msgLast := map[string]int64{}
	for _, e := range bulk {
		at := tracking.Millis(e.At)
		c := caches[e.Recipient]
		if c == nil || at < c.last {
			// Unknown recipient (AddEvent says so) or an event from the
			// past (derived again from all events).
			slow = append(slow, e)
			continue
		}
		inserts = append(inserts, e.Recipient, at, string(e.Kind), string(e.Source), e.Command, e.Code,
			e.EnhancedCode, e.Text, e.Match, e.Detail)
		st, eng := tracking.StateOf(c.status, c.eng).Apply(e.Event).Result()
		row := append([]any{e.Recipient, string(st), eng.OpensTotal, eng.OpensHuman, eng.OpensMachine, eng.Clicks,
			eng.Read, eng.Replied, at}, e.set...)
		if st == c.status {
			kept = append(kept, row...)
		} else {
			changed = append(changed, row...)
		}
		msgLast[c.message] = max(msgLast[c.message], at)
	}
	var last []any
	for m, at := range msgLast {
		last = append(last, m, at)
	}
	change, keep := bulkWriteCache, bulkWriteCacheKeepStatus
	if rs != nil {
		change, keep = rs.change, rs.keep
	}
	for _, st := range []struct {
		s    *RowsStmt
		rows []any
	}{{s.hot.Rows(bulkInsertEvents), inserts}, {s.hot.Rows(change), changed}, {s.hot.Rows(keep), kept},
		{s.hot.Rows(bulkMessageLast), last}} {
		if _, err := st.s.Exec(ctx, tx, nil, st.rows); err != nil {
			return err
		}
	}
	// In the caller's order: the columns of a recipient's last event win.
	slices.SortFunc(slow, func(a, b setEvent) int { return cmp.Compare(a.i, b.i) })
	return s.addEach(ctx, tx, rs, slow)
}

// setEvent is an event with the values of a RecipientSet's columns for
// its recipient.
type setEvent struct {
	tracking.Event
	set []any
	i   int // in the caller's order
}

// addEach adds the events one by one, each followed by its columns of rs.
func (s *Store) addEach(ctx context.Context, tx *sql.Tx, rs *RecipientSet, evs []setEvent) error {
	for _, e := range evs {
		if _, err := s.AddEvent(ctx, tx, e.Event); err != nil {
			return err
		}
		if rs == nil {
			continue
		}
		args := append(e.set[:len(e.set):len(e.set)], e.Recipient)
		var err error
		if rs.oneStmt != nil {
			_, err = tx.StmtContext(ctx, rs.oneStmt).ExecContext(ctx, args...)
		} else {
			_, err = tx.ExecContext(ctx, rs.one, args...)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
