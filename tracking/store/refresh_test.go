package store

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"testing"
	"time"

	"mailroom/tracking"
)

// AddEvent refreshes the cache incrementally when the event is the latest
// and derives again otherwise: either way the cached row must equal
// Derive over every stored event. Random histories, with ties in time and
// events from the past (late reports), through both the prepared
// (Store.AddEvent) and the plain (AddEvent) path.
func TestAddEventCacheEqualsDerive(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	db := s.DB
	rid := seedRecipient(t, s)
	kinds := []tracking.EventKind{tracking.EvQueued, tracking.EvSending, tracking.EvDeferred, tracking.EvUncertain,
		tracking.EvRejected, tracking.EvAccepted, tracking.EvRelayed, tracking.EvDelayed, tracking.EvDelivered,
		tracking.EvBounced, tracking.EvExpired, tracking.EvCanceled, tracking.EvHeld, tracking.EvReleased,
		tracking.EvOpened, tracking.EvClicked, tracking.EvRead, tracking.EvReplied}
	details := []string{`{"class":"human-likely"}`, `{"class":"machine-or-proxy"}`, `{}`}
	r := rand.New(rand.NewPCG(5, 6))
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for round := 0; round < 60; round++ {
		if _, err := db.W.Exec(`DELETE FROM events WHERE recipient=?`, rid); err != nil {
			t.Fatal(err)
		}
		if _, err := db.W.Exec(`UPDATE recipients SET status='queued', opens_total=0, opens_human=0, opens_machine=0,
			clicks=0, read=0, replied=0, last_event_at=0 WHERE id=?`, rid); err != nil {
			t.Fatal(err)
		}
		latest := t0
		for j := 0; j < 1+r.IntN(12); j++ {
			at := latest.Add(time.Duration(r.IntN(3)) * time.Minute) // ties a third of the time
			if r.IntN(5) == 0 {
				at = t0.Add(time.Duration(r.IntN(20)) * time.Minute) // from the past, or not
			}
			latest = maxT(latest, at)
			e := tracking.Event{Recipient: rid, At: at, Kind: kinds[r.IntN(len(kinds))], Source: tracking.SrcOutbox}
			if e.Kind == tracking.EvOpened {
				e.Detail = details[r.IntN(len(details))]
			}
			plain := r.IntN(2) == 0
			if err := db.WithTx(ctx, func(tx *sql.Tx) error {
				if plain {
					_, err := AddEvent(ctx, tx, e)
					return err
				}
				_, err := s.AddEvent(ctx, tx, e)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			evs, err := s.Events(ctx, rid)
			if err != nil {
				t.Fatal(err)
			}
			want, wantEng := tracking.Derive(evs)
			var got tracking.Engagement
			var status string
			var last, msgLast int64
			if err := db.R.QueryRow(`SELECT r.status, r.opens_total, r.opens_human, r.opens_machine, r.clicks, r.read, r.replied,
				r.last_event_at, m.last_event_at FROM recipients r JOIN messages m ON m.id=r.message WHERE r.id=?`, rid).
				Scan(&status, &got.OpensTotal, &got.OpensHuman, &got.OpensMachine, &got.Clicks, &got.Read, &got.Replied, &last, &msgLast); err != nil {
				t.Fatal(err)
			}
			if tracking.Status(status) != want || got != wantEng || last != tracking.Millis(latest) || msgLast < last {
				t.Fatalf("round %d after %d events: cache %s %+v last %d (message %d), Derive %s %+v last %d",
					round, len(evs), status, got, last, msgLast, want, wantEng, tracking.Millis(latest))
			}
		}
	}
}

func maxT(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
