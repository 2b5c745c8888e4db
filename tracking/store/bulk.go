package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"unicode/utf8"

	"mailroom/tracking"
)

// The outbox adds one event per recipient for a whole batch at a time (the
// "queued" events of a bulk message, the "sending" events of 32 claimed
// copies, the "accepted" events the result applier commits). One by one,
// AddEvent runs four statements per event; AddEvents runs four for the
// batch, with the same result.
const (
	qBulkInsertEvents = `INSERT INTO events(recipient, at, kind, source, command, code, enhanced_code, text, match, detail)
		SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8, value->>9
		FROM json_each(?)`
	qBulkRecipientCache = `SELECT r.id, r.message, r.status, r.opens_total, r.opens_human, r.opens_machine, r.clicks, r.read, r.replied,
		r.last_event_at FROM json_each(?) AS j CROSS JOIN recipients r ON r.id=j.value`
	// Rows: [id, status, opens_total, opens_human, opens_machine, clicks, read, replied, last_event_at].
	qBulkWriteCache = `UPDATE recipients SET status=j.value->>1, opens_total=j.value->>2, opens_human=j.value->>3,
		opens_machine=j.value->>4, clicks=j.value->>5, read=j.value->>6, replied=j.value->>7, last_event_at=j.value->>8
		FROM json_each(?) AS j WHERE recipients.id=j.value->>0`
	// The same without the status column (see refreshWith).
	qBulkWriteCacheKeepStatus = `UPDATE recipients SET opens_total=j.value->>2, opens_human=j.value->>3,
		opens_machine=j.value->>4, clicks=j.value->>5, read=j.value->>6, replied=j.value->>7, last_event_at=j.value->>8
		FROM json_each(?) AS j WHERE recipients.id=j.value->>0`
	// Rows: [message, at].
	qBulkMessageLast = `UPDATE messages SET last_event_at=j.value->>1
		FROM json_each(?) AS j WHERE messages.id=j.value->>0 AND messages.last_event_at < j.value->>1`
)

// minBulk is the smallest batch worth the JSON: below it AddEvents adds
// the events one by one.
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
	ids := make([]int64, 0, len(evs))
	var slow []tracking.Event
	var bulk []tracking.Event
	for _, e := range evs {
		e = withDefaults(e)
		// A recipient's later events follow its first one; text that JSON
		// would not carry byte for byte (invalid UTF-8) goes as a parameter.
		if seen[e.Recipient] || e.DedupKey != "" || e.Report != 0 || !jsonSafe(e) {
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
	if len(bulk) > 0 {
		idsJSON, _ := json.Marshal(ids)
		rows, err := tx.QueryContext(ctx, qBulkRecipientCache, string(idsJSON))
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			c := &cached{}
			var status string
			if err := rows.Scan(&id, &c.message, &status, &c.eng.OpensTotal, &c.eng.OpensHuman, &c.eng.OpensMachine,
				&c.eng.Clicks, &c.eng.Read, &c.eng.Replied, &c.last); err != nil {
				rows.Close()
				return err
			}
			c.status = tracking.Status(status)
			caches[id] = c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	var inserts, changed, kept [][]any
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
		inserts = append(inserts, []any{e.Recipient, at, string(e.Kind), string(e.Source), e.Command, e.Code,
			e.EnhancedCode, e.Text, e.Match, e.Detail})
		st, eng := tracking.StateOf(c.status, c.eng).Apply(e).Result()
		row := []any{e.Recipient, string(st), eng.OpensTotal, eng.OpensHuman, eng.OpensMachine, eng.Clicks, eng.Read, eng.Replied, at}
		if st == c.status {
			kept = append(kept, row)
		} else {
			changed = append(changed, row)
		}
		msgLast[c.message] = max(msgLast[c.message], at)
	}
	if len(inserts) > 0 {
		var last [][]any
		for m, at := range msgLast {
			last = append(last, []any{m, at})
		}
		for _, st := range []struct {
			q    string
			rows [][]any
		}{{qBulkInsertEvents, inserts}, {qBulkWriteCache, changed}, {qBulkWriteCacheKeepStatus, kept}, {qBulkMessageLast, last}} {
			if len(st.rows) == 0 {
				continue
			}
			b, err := json.Marshal(st.rows)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, st.q, string(b)); err != nil {
				return err
			}
		}
	}
	return s.addEach(ctx, tx, slow)
}

func jsonSafe(e tracking.Event) bool {
	for _, v := range []string{e.Command, e.EnhancedCode, e.Text, e.Match, e.Detail, string(e.Kind), string(e.Source)} {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

func (s *Store) addEach(ctx context.Context, tx *sql.Tx, evs []tracking.Event) error {
	for _, e := range evs {
		if _, err := s.AddEvent(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}
