package opensync

import (
	"context"
	"strconv"

	"mailroom/tracking/opentrack"
)

// EventStore is the read side of a tracker's event store (the built-in
// tracker's SQLite store implements it).
type EventStore interface {
	Events(ctx context.Context, after int64, limit int) ([]opentrack.Event, error)
}

// StoreSource reads the built-in tracker's store directly: same process,
// no HTTP, the cursor is the last event id.
type StoreSource struct {
	Store EventStore
}

// Events implements Source.
func (s StoreSource) Events(ctx context.Context, after string) ([]opentrack.Event, string, error) {
	var n int64
	if after != "" {
		var err error
		if n, err = strconv.ParseInt(after, 10, 64); err != nil {
			n = 0 // a cursor from another tracker: start over (dedup keeps it idempotent)
		}
	}
	evs, err := s.Store.Events(ctx, n, 500)
	if err != nil || len(evs) == 0 {
		return evs, after, err
	}
	return evs, strconv.FormatInt(evs[len(evs)-1].ID, 10), nil
}
