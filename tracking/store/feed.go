package store

import (
	"context"

	"mailroom/tracking"
)

// FeedItem is one event with the words a notification needs.
type FeedItem struct {
	Event   tracking.Event
	Message string // messages.id
	Subject string
	Address string
}

// LastEventID is the newest event's id (0 when there is none): where a
// feed starts so that history is not announced again.
func (s *Store) LastEventID(ctx context.Context) (int64, error) {
	var id int64
	err := s.DB.R.QueryRowContext(ctx, `SELECT coalesce(max(id),0) FROM events`).Scan(&id)
	return id, err
}

// Feed returns events of the given kinds with id > after, oldest first, at
// most limit.
func (s *Store) Feed(ctx context.Context, after int64, kinds []tracking.EventKind, limit int) ([]FeedItem, error) {
	args := []any{after}
	for _, k := range kinds {
		args = append(args, string(k))
	}
	args = append(args, limit)
	rows, err := s.DB.R.QueryContext(ctx, `SELECT e.id, e.recipient, e.at, e.kind, e.source, e.command, e.code, e.enhanced_code,
		e.text, e.match, e.detail, coalesce(e.report,0), coalesce(e.dedup_key,''), m.id, m.subject, r.address
		FROM events e JOIN recipients r ON r.id=e.recipient JOIN messages m ON m.id=r.message
		WHERE e.id>? AND e.kind IN (`+placeholders(len(kinds))+`) ORDER BY e.id LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []FeedItem
	for rows.Next() {
		var f FeedItem
		var at int64
		var kind, source string
		e := &f.Event
		if err := rows.Scan(&e.ID, &e.Recipient, &at, &kind, &source, &e.Command, &e.Code, &e.EnhancedCode, &e.Text,
			&e.Match, &e.Detail, &e.Report, &e.DedupKey, &f.Message, &f.Subject, &f.Address); err != nil {
			return nil, err
		}
		e.At, e.Kind, e.Source = tracking.FromMillis(at), tracking.EventKind(kind), tracking.Source(source)
		out = append(out, f)
	}
	return out, rows.Err()
}
