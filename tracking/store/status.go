package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"mailroom/tracking"
)

// StatusFilter narrows Statuses; the zero value means every message.
type StatusFilter struct {
	ID      string // our id or the Message-ID ("<...>")
	Account string
	Limit   int
}

// Statuses returns messages with every recipient and every event, newest
// first: the data of `mailroom status --json` and of the JSON export.
func (s *Store) Statuses(ctx context.Context, f StatusFilter) ([]tracking.MessageStatus, error) {
	out := []tracking.MessageStatus{}
	err := s.EachStatus(ctx, f, func(m tracking.MessageStatus) error {
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachStatus is Statuses one message at a time, for callers that write
// them out: only a few messages' recipients and events are in memory at
// once (all messages of a large database would take gigabytes).
func (s *Store) EachStatus(ctx context.Context, f StatusFilter, fn func(tracking.MessageStatus) error) error {
	where, args := []string{"1=1"}, []any{}
	if f.ID != "" {
		where = append(where, "(id=? OR message_id=?)")
		args = append(args, f.ID, f.ID)
	}
	if f.Account != "" {
		where = append(where, "account=?")
		args = append(args, f.Account)
	}
	q := `SELECT id, message_id, account, subject, created_at, due_at, held_reason,
		(SELECT count(*) FROM recipients r WHERE r.message=messages.id) FROM messages WHERE ` +
		strings.Join(where, " AND ") + ` ORDER BY created_at DESC, id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.DB.R.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	// The message rows first (small), so that no cursor stays open while
	// fn writes.
	var msgs []tracking.MessageStatus
	var counts []int // recipients per message
	for rows.Next() {
		var m tracking.MessageStatus
		var created, due int64
		var n int
		if err := rows.Scan(&m.ID, &m.MessageID, &m.Account, &m.Subject, &created, &due, &m.Held, &n); err != nil {
			rows.Close()
			return err
		}
		m.CreatedAt, m.DueAt = tracking.FromMillis(created), tracking.FromMillis(due)
		msgs, counts = append(msgs, m), append(counts, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	// Recipients and events are read for several messages at a time (11 s
	// for the 100,000-message seed with queries for each message and each
	// recipient), at most statusRecipients recipients of them unless one
	// message alone has more, so memory stays bounded as before.
	for len(msgs) > 0 {
		n, total := 0, 0
		for n < len(msgs) && n < statusBatch && (n == 0 || total+counts[n] <= statusRecipients) {
			total += counts[n]
			n++
		}
		part := msgs[:n]
		msgs, counts = msgs[n:], counts[n:]
		if err := s.fillRecipients(ctx, part); err != nil {
			return err
		}
		for i := range part {
			if err := fn(part[i]); err != nil {
				return err
			}
			part[i] = tracking.MessageStatus{} // written: let it go
		}
	}
	return nil
}

// EachStatus fills up to statusBatch messages, with up to
// statusRecipients recipients among them (more only for a message that
// has more alone), at a time; the events' query takes statusChunk
// recipients at a time (SQLite allows 32,766 parameters).
const (
	statusBatch      = 200
	statusRecipients = 2000
	statusChunk      = 500
)

// placeholders is "?,?,...,?" for n parameters.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// fillRecipients sets the recipients of msgs, each with its events,
// oldest first; a message or recipient without any gets an empty list.
func (s *Store) fillRecipients(ctx context.Context, msgs []tracking.MessageStatus) error {
	byMessage := make(map[string]int, len(msgs))
	args := make([]any, len(msgs))
	for i := range msgs {
		msgs[i].Recipients = []tracking.RecipientStatus{}
		byMessage[msgs[i].ID] = i
		args[i] = msgs[i].ID
	}
	rows, err := s.DB.R.QueryContext(ctx, `SELECT r.message, r.id, r.address, r.kind, r.status, r.opens_total, r.opens_human,
		r.opens_machine, r.clicks, r.read, r.replied, r.trackable, r.attempts, r.next_attempt_at, r.last_reply,
		EXISTS(SELECT 1 FROM suppressions s WHERE s.address=lower(r.address))
		FROM recipients r WHERE r.message IN (`+placeholders(len(args))+`) ORDER BY r.message, r.id`, args...)
	if err != nil {
		return err
	}
	type at struct{ msg, rcpt int }
	byRecipient := map[int64]at{}
	var rids []any
	for rows.Next() {
		var r tracking.RecipientStatus
		var message, status string
		var next int64
		if err := rows.Scan(&message, &r.ID, &r.Address, &r.Kind, &status, &r.Opens.Total, &r.Opens.Human, &r.Opens.Machine,
			&r.Clicks, &r.Read, &r.Replied, &r.Trackable, &r.Attempts, &next, &r.LastReply, &r.Suppressed); err != nil {
			rows.Close()
			return err
		}
		r.Status = tracking.Status(status)
		if next != 0 && !tracking.Status(status).Final() {
			t := tracking.FromMillis(next)
			r.NextAttemptAt = &t
		}
		r.Events = []tracking.EventStatus{}
		i := byMessage[message]
		byRecipient[r.ID] = at{i, len(msgs[i].Recipients)}
		rids = append(rids, r.ID)
		msgs[i].Recipients = append(msgs[i].Recipients, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for len(rids) > 0 {
		chunk := rids[:min(statusChunk, len(rids))]
		rids = rids[len(chunk):]
		rows, err = s.DB.R.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE recipient IN (`+
			placeholders(len(chunk))+`) ORDER BY recipient, at, id`, chunk...)
		if err != nil {
			return err
		}
		evs, err := scanEvents(rows)
		if err != nil {
			return err
		}
		for _, e := range evs {
			p := byRecipient[e.Recipient]
			r := &msgs[p.msg].Recipients[p.rcpt]
			r.Events = append(r.Events, EventJSON(e))
		}
	}
	return nil
}

// EventJSON converts an event to its JSON form; Detail is embedded as JSON.
func EventJSON(e tracking.Event) tracking.EventStatus {
	es := tracking.EventStatus{At: e.At, Kind: e.Kind, Source: e.Source, Command: e.Command, Code: e.Code,
		EnhancedCode: e.EnhancedCode, Text: e.Text, Match: e.Match}
	if e.Detail != "" && e.Detail != "{}" {
		var d any
		if json.Unmarshal([]byte(e.Detail), &d) == nil {
			es.Detail = d
		}
	}
	return es
}
