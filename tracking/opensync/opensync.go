// Package opensync attaches the tracker's recorded hits to recipients: it
// pulls events after a persisted cursor from a tracker (remote, over its
// events API, or the built-in one), finds the copy by its tracking id,
// classifies each hit honestly (human-likely, machine-or-proxy, unknown,
// with the reason kept) and records "opened" / "clicked" events.
//
// Invariants: ingestion is idempotent (each tracker event has a dedup key,
// so a crash between recording and saving the cursor only repeats work);
// a hit for a copy we do not know is counted and dropped, never guessed;
// a human-likely click proves an open, so it adds one when none was seen.
package opensync

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"mailroom/tracking"
	"mailroom/tracking/opentrack"
	"mailroom/tracking/opentrack/classify"
	"mailroom/tracking/store"
)

// Source yields tracker events after a cursor ("" for the beginning).
// *opentrack.Client implements it; so does the built-in tracker's store.
type Source interface {
	Events(ctx context.Context, after string) ([]opentrack.Event, string, error)
}

// Syncer copies events from one tracker into the event store.
type Syncer struct {
	Store  *store.Store
	Source Source
	// Name distinguishes trackers in cursors and dedup keys ("builtin",
	// "remote"), so switching modes never confuses event ids.
	Name string
}

// Stats counts one sync.
type Stats struct {
	Fetched, Recorded, UnknownCopy int
}

func (s *Syncer) cursorKey() string { return "opensync.cursor." + s.Name }

// SyncOnce pulls every event available now.
func (s *Syncer) SyncOnce(ctx context.Context) (Stats, error) {
	var st Stats
	cursor, err := s.Store.Setting(ctx, s.cursorKey(), "")
	if err != nil {
		return st, err
	}
	for {
		evs, next, err := s.Source.Events(ctx, cursor)
		if err != nil {
			return st, err
		}
		if len(evs) == 0 {
			return st, nil
		}
		st.Fetched += len(evs)
		for _, e := range evs {
			ok, err := s.record(ctx, e)
			if err != nil {
				return st, fmt.Errorf("record tracker event %d: %w", e.ID, err)
			}
			if ok {
				st.Recorded++
			} else {
				st.UnknownCopy++
			}
		}
		if err := s.Store.SetSetting(ctx, s.cursorKey(), next); err != nil {
			return st, err
		}
		if next == cursor {
			return st, nil
		}
		cursor = next
	}
}

// record attaches one hit; false when its copy is not ours.
func (s *Syncer) record(ctx context.Context, e opentrack.Event) (bool, error) {
	var found bool
	err := s.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		var copyID int64
		var message string
		err := tx.QueryRowContext(ctx, `SELECT id, message FROM copies WHERE tracking_id=?`, e.CopyID).Scan(&copyID, &message)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		found = true
		rows, err := tx.QueryContext(ctx, `SELECT id FROM recipients WHERE copy=?`, copyID)
		if err != nil {
			return err
		}
		var rcpts []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			rcpts = append(rcpts, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		cc, err := copyContext(ctx, tx, message, copyID, e.Kind)
		if err != nil {
			return err
		}
		for _, rid := range rcpts {
			if err := s.recordFor(ctx, tx, rid, e, cc); err != nil {
				return err
			}
		}
		return nil
	})
	return found, err
}

func (s *Syncer) recordFor(ctx context.Context, tx *sql.Tx, rid int64, e opentrack.Event, cc classify.CopyContext) error {
	var acceptedAt int64
	tx.QueryRowContext(ctx, `SELECT coalesce(min(at),0) FROM events WHERE recipient=? AND kind='accepted'`, rid).Scan(&acceptedAt)
	cc.AcceptedAt = tracking.FromMillis(acceptedAt)
	var humanClicks int
	tx.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE recipient=? AND kind='clicked' AND json_extract(detail,'$.class')!='machine-or-proxy'`, rid).Scan(&humanClicks)
	cc.HumanClick = humanClicks > 0
	class, reason := opentrack.Classify(e, cc)
	detail, _ := json.Marshal(tracking.OpenDetail{Class: tracking.OpenClass(class), Reason: reason, UserAgent: e.UserAgent, Source: e.Source})
	kind, src := tracking.EvOpened, tracking.SrcPixel
	if e.Kind == "click" {
		kind, src = tracking.EvClicked, tracking.SrcClick
	}
	key := fmt.Sprintf("track:%s:%d:%d", s.Name, e.ID, rid)
	added, err := store.AddEvent(ctx, tx, tracking.Event{Recipient: rid, At: e.At, Kind: kind, Source: src,
		Detail: string(detail), DedupKey: key})
	if err != nil || !added || kind != tracking.EvClicked || class == classify.MachineOrProxy {
		return err
	}
	// A person clicked a link in this copy: it was opened, even if images
	// stayed blocked. Record that proof once.
	var humanOpens int
	tx.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE recipient=? AND kind='opened' AND json_extract(detail,'$.class')='human-likely'`, rid).Scan(&humanOpens)
	if humanOpens > 0 {
		return nil
	}
	od, _ := json.Marshal(tracking.OpenDetail{Class: tracking.HumanLikely,
		Reason: "a link in this copy was clicked, which proves it was opened", UserAgent: e.UserAgent, Source: e.Source})
	_, err = store.AddEvent(ctx, tx, tracking.Event{Recipient: rid, At: e.At, Kind: tracking.EvOpened, Source: tracking.SrcClick,
		Detail: string(od), DedupKey: key + ":open"})
	return err
}

// copyContext gathers what the classifier needs about the other copies of
// the same message: how many carry tracking, and when each was first hit.
func copyContext(ctx context.Context, tx *sql.Tx, message string, copyID int64, kind string) (classify.CopyContext, error) {
	var cc classify.CopyContext
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM copies WHERE message=? AND id<>? AND tracking_id<>''`, message, copyID).
		Scan(&cc.SiblingCopies); err != nil {
		return cc, err
	}
	evKind := string(tracking.EvOpened)
	if kind == "click" {
		evKind = string(tracking.EvClicked)
	}
	rows, err := tx.QueryContext(ctx, `SELECT min(e.at) FROM events e JOIN recipients r ON r.id=e.recipient
		WHERE r.message=? AND r.copy<>? AND e.kind=? AND e.source IN ('pixel','click') GROUP BY r.copy`, message, copyID, evKind)
	if err != nil {
		return cc, err
	}
	defer rows.Close()
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return cc, err
		}
		cc.SiblingHits = append(cc.SiblingHits, time.UnixMilli(at).UTC())
	}
	return cc, rows.Err()
}
