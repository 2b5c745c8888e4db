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
// them out: only one message's recipients and events are in memory at
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
	q := `SELECT id, message_id, account, subject, created_at, due_at, held_reason FROM messages WHERE ` +
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
	for rows.Next() {
		var m tracking.MessageStatus
		var created, due int64
		if err := rows.Scan(&m.ID, &m.MessageID, &m.Account, &m.Subject, &created, &due, &m.Held); err != nil {
			rows.Close()
			return err
		}
		m.CreatedAt, m.DueAt = tracking.FromMillis(created), tracking.FromMillis(due)
		msgs = append(msgs, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range msgs {
		if m.Recipients, err = s.recipientStatuses(ctx, m.ID); err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) recipientStatuses(ctx context.Context, message string) ([]tracking.RecipientStatus, error) {
	rows, err := s.DB.R.QueryContext(ctx, `SELECT r.id, r.address, r.kind, r.status, r.opens_total, r.opens_human, r.opens_machine,
		r.clicks, r.read, r.replied, r.trackable, r.attempts, r.next_attempt_at, r.last_reply,
		EXISTS(SELECT 1 FROM suppressions s WHERE s.address=lower(r.address))
		FROM recipients r WHERE r.message=? ORDER BY r.id`, message)
	if err != nil {
		return nil, err
	}
	out := []tracking.RecipientStatus{}
	for rows.Next() {
		var r tracking.RecipientStatus
		var status string
		var next int64
		if err := rows.Scan(&r.ID, &r.Address, &r.Kind, &status, &r.Opens.Total, &r.Opens.Human, &r.Opens.Machine,
			&r.Clicks, &r.Read, &r.Replied, &r.Trackable, &r.Attempts, &next, &r.LastReply, &r.Suppressed); err != nil {
			rows.Close()
			return nil, err
		}
		r.Status = tracking.Status(status)
		if next != 0 && !tracking.Status(status).Final() {
			t := tracking.FromMillis(next)
			r.NextAttemptAt = &t
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		evs, err := s.Events(ctx, out[i].ID)
		if err != nil {
			return nil, err
		}
		out[i].Events = make([]tracking.EventStatus, 0, len(evs))
		for _, e := range evs {
			out[i].Events = append(out[i].Events, EventJSON(e))
		}
	}
	return out, nil
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
