package store

import (
	"context"
	"database/sql"

	"mailroom/tracking"
)

// The outbox adds one event per recipient for a whole batch at a time (the
// "queued" events of a bulk message, the "sending" events of 32 claimed
// copies, the "accepted" events the result applier commits). One by one,
// AddEvent runs four statements per event; AddEvents runs four for each
// chunk of rows (RowsStmt), with the same result. The rows go as bound
// parameters: passed as JSON, every column of every row was parsed again
// from the text, which cost more than the writes.
var (
	bulkInsertEvents = NewRowsStmt(10, func(list string) string {
		return `INSERT INTO events(recipient, at, kind, source, command, code, enhanced_code, text, match, detail) VALUES ` + list
	})
	bulkRecipientCache = NewRowsStmt(1, func(list string) string {
		return `SELECT id, message, status, opens_total, opens_human, opens_machine, clicks, read, replied, last_event_at
			FROM recipients WHERE id IN (` + list + `)`
	})
	// Rows: (id, status, opens_total, opens_human, opens_machine, clicks, read, replied, last_event_at).
	bulkWriteCache = NewRowsStmt(9, func(list string) string {
		return `WITH v(id, status, ot, oh, om, cl, rd, rp, last) AS (VALUES ` + list + `)
			UPDATE recipients SET status=v.status, opens_total=v.ot, opens_human=v.oh, opens_machine=v.om,
			clicks=v.cl, read=v.rd, replied=v.rp, last_event_at=v.last FROM v WHERE recipients.id=v.id`
	})
	// The same rows; the status column is left alone (see refreshWith).
	bulkWriteCacheKeepStatus = NewRowsStmt(9, func(list string) string {
		return `WITH v(id, status, ot, oh, om, cl, rd, rp, last) AS (VALUES ` + list + `)
			UPDATE recipients SET opens_total=v.ot, opens_human=v.oh, opens_machine=v.om,
			clicks=v.cl, read=v.rd, replied=v.rp, last_event_at=v.last FROM v WHERE recipients.id=v.id`
	})
	// Rows: (message, at).
	bulkMessageLast = NewRowsStmt(2, func(list string) string {
		return `WITH v(id, at) AS (VALUES ` + list + `)
			UPDATE messages SET last_event_at=v.at FROM v WHERE messages.id=v.id AND messages.last_event_at < v.at`
	})
	bulkStmts = []*RowsStmt{bulkInsertEvents, bulkRecipientCache, bulkWriteCache, bulkWriteCacheKeepStatus, bulkMessageLast}
)

// minBulk is the smallest batch worth the bulk statements: below it
// AddEvents adds the events one by one.
const minBulk = 4

// AddEvents records events inside tx (a DB.W transaction) and refreshes
// their recipients' caches, as AddEvent would one after the other. The
// batch path takes events without a DedupKey or Report, each for a
// different recipient and not older than that recipient's last event;
// any other event goes through AddEvent.
func (s *Store) AddEvents(ctx context.Context, tx *sql.Tx, evs []tracking.Event) error {
	if len(evs) < minBulk {
		return s.addEach(ctx, tx, evs)
	}
	seen := make(map[int64]bool, len(evs))
	ids := make([]any, 0, len(evs))
	var slow []tracking.Event
	bulk := make([]tracking.Event, 0, len(evs))
	for _, e := range evs {
		e = withDefaults(e)
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
	err := s.hot.rows(bulkRecipientCache).Query(ctx, tx, nil, ids, func(rows *sql.Rows) error {
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
		st, eng := tracking.StateOf(c.status, c.eng).Apply(e).Result()
		row := []any{e.Recipient, string(st), eng.OpensTotal, eng.OpensHuman, eng.OpensMachine, eng.Clicks, eng.Read, eng.Replied, at}
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
	for _, st := range []struct {
		s    *RowsStmt
		rows []any
	}{{bulkInsertEvents, inserts}, {bulkWriteCache, changed}, {bulkWriteCacheKeepStatus, kept}, {bulkMessageLast, last}} {
		if _, err := s.hot.rows(st.s).Exec(ctx, tx, nil, st.rows); err != nil {
			return err
		}
	}
	return s.addEach(ctx, tx, slow)
}

func (s *Store) addEach(ctx context.Context, tx *sql.Tx, evs []tracking.Event) error {
	for _, e := range evs {
		if _, err := s.AddEvent(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}
