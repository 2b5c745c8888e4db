package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailroom/tracking"
	"mailroom/tracking/store"
)

// resolve finds a message by its short id or by its Message-ID ("<...>").
func resolve(ctx context.Context, q queryRower, id string) (string, error) {
	var out string
	var err error
	if strings.HasPrefix(id, "<") {
		err = q.QueryRowContext(ctx, `SELECT id FROM messages WHERE message_id=?`, id).Scan(&out)
	} else {
		err = q.QueryRowContext(ctx, `SELECT id FROM messages WHERE id=?`, id).Scan(&out)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("message %s: %w", id, store.ErrNotFound)
	}
	return out, err
}

// CancelResult says what a cancel did.
type CancelResult struct {
	Canceled int // canceled now
	// Pending are in flight right now: they become canceled when the
	// attempt ends, unless the server accepts them first.
	Pending int
	Final   int // already accepted, rejected, expired or canceled: untouched
}

// Cancel cancels every recipient of a message (short id or Message-ID)
// that the server has not accepted yet.
func (o *Outbox) Cancel(ctx context.Context, id string) (CancelResult, error) {
	return o.cancel(ctx, id, 0)
}

// CancelRecipient cancels one recipient (recipients.id).
func (o *Outbox) CancelRecipient(ctx context.Context, recipient int64) (CancelResult, error) {
	return o.cancel(ctx, "", recipient)
}

func (o *Outbox) cancel(ctx context.Context, id string, recipient int64) (CancelResult, error) {
	now := o.now()
	var res CancelResult
	var msg string
	err := o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		res = CancelResult{}
		var rows *sql.Rows
		var err error
		if recipient != 0 {
			if err := tx.QueryRowContext(ctx, `SELECT message FROM recipients WHERE id=?`, recipient).Scan(&msg); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("recipient %d: %w", recipient, store.ErrNotFound)
				}
				return err
			}
			rows, err = tx.QueryContext(ctx, `SELECT id, status FROM recipients WHERE id=?`, recipient)
		} else {
			if msg, err = resolve(ctx, tx, id); err != nil {
				return err
			}
			rows, err = tx.QueryContext(ctx, `SELECT id, status FROM recipients WHERE message=? ORDER BY id`, msg)
		}
		if err != nil {
			return err
		}
		type rs struct {
			id     int64
			status tracking.Status
		}
		var all []rs
		for rows.Next() {
			var r rs
			if err := rows.Scan(&r.id, &r.status); err != nil {
				rows.Close()
				return err
			}
			all = append(all, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range all {
			switch r.status {
			case tracking.Queued, tracking.Deferred, tracking.Uncertain:
				if err := cancelTx(ctx, tx, r.id, now); err != nil {
					return err
				}
				res.Canceled++
			case tracking.Sending:
				if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_cancels(recipient, requested_at) VALUES(?,?)
					ON CONFLICT(recipient) DO NOTHING`, r.id, store.Millis(now)); err != nil {
					return err
				}
				res.Pending++
			default:
				res.Final++
			}
		}
		return nil
	})
	if err != nil {
		return CancelResult{}, err
	}
	o.changed(msg)
	return res, nil
}

// floorSQL is the earliest time the min-gap floor allows for a recipient:
// its copy's last attempt start plus min gap, and not before now.
const floorSQL = `max(?, coalesce((SELECT max(a.started_at) FROM outbox_attempts a WHERE a.copy=recipients.copy), 0) + ?)`

// RetryNow makes a message's waiting recipients due now, within the floor
// (never two attempts at a copy closer than Policy.MinGap). It returns the
// earliest time one of them will be tried.
func (o *Outbox) RetryNow(ctx context.Context, id string) (time.Time, error) {
	p, err := o.policy(ctx)
	if err != nil {
		return time.Time{}, err
	}
	now := o.now()
	var msg string
	var at int64
	err = o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		if msg, err = resolve(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE recipients SET next_attempt_at=`+floorSQL+`
			WHERE message=? AND status IN ('queued','deferred','uncertain')`,
			store.Millis(now), p.MinGap.Milliseconds(), msg); err != nil {
			return err
		}
		// "Retry now" is the user's word that the network or the server
		// is back: while the account's server is unreachable, its next
		// probe (one connection, as any probe) comes now too, instead of
		// holding the retry until the breaker's own time.
		if _, err := tx.ExecContext(ctx, `UPDATE outbox_accounts SET next_probe_at=?
			WHERE account=(SELECT account FROM messages WHERE id=?) AND next_probe_at>?`,
			store.Millis(now), msg, store.Millis(now)); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT coalesce(min(next_attempt_at),0) FROM recipients
			WHERE message=? AND status IN ('queued','deferred','uncertain')`, msg).Scan(&at)
	})
	if err != nil {
		return time.Time{}, err
	}
	o.changed(msg)
	o.Kick()
	return store.FromMillis(at), nil
}

// Pause stops sending from an account until Resume (persisted).
func (o *Outbox) Pause(ctx context.Context, account, reason string) error {
	if reason == "" {
		reason = "paused by you"
	}
	now := o.now()
	return o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		return pauseTx(ctx, tx, account, PausedByUser, reason, now)
	})
}

// Resume lifts a pause (the user's, or the one after 535 once the password
// is fixed). The paused time is not charged to the give-up clock, and the
// account's waiting recipients become due now, within the floor.
func (o *Outbox) Resume(ctx context.Context, account string) error {
	p, err := o.policy(ctx)
	if err != nil {
		return err
	}
	now := o.now()
	err = o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		st, err := accountState(ctx, tx, account)
		if err != nil || !st.Paused() {
			return err
		}
		pausedAt := store.Millis(st.PausedAt)
		if !st.UnreachableSince.IsZero() && !st.UnreachableSince.After(st.PausedAt) {
			// The breaker was already open: closing it credits the whole
			// outage, the pause included.
			pausedAt = store.Millis(now)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE recipients SET offline_ms = offline_ms +
			max(0, ? - max(?, (SELECT created_at FROM messages m WHERE m.id=recipients.message))),
			next_attempt_at=`+floorSQL+`
			WHERE status IN ('queued','deferred','uncertain') AND message IN (SELECT id FROM messages WHERE account=?)`,
			store.Millis(now), pausedAt, store.Millis(now), p.MinGap.Milliseconds(), account); err != nil {
			return err
		}
		// A breaker opened before the pause should probe right away.
		_, err = tx.ExecContext(ctx, `UPDATE outbox_accounts SET paused_reason='', paused_by='', paused_at=0,
			next_probe_at=CASE WHEN next_probe_at=0 THEN 0 ELSE ? END WHERE account=?`, store.Millis(now), account)
		return err
	})
	if err != nil {
		return err
	}
	o.Kick()
	return nil
}

// Release lets a held message (poison, or uncertain under the "hold"
// policy) go again: its waiting recipients are queued and due now.
func (o *Outbox) Release(ctx context.Context, id string) error {
	now := o.now()
	var msg string
	err := o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		var err error
		if msg, err = resolve(ctx, tx, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE messages SET held_reason='', crash_count=0 WHERE id=? AND held_reason<>''`, msg)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM recipients WHERE message=? AND status IN ('queued','deferred','uncertain')`, msg)
		if err != nil {
			return err
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		for _, rid := range ids {
			if _, err := store.AddEvent(ctx, tx, tracking.Event{Recipient: rid, At: now, Kind: tracking.EvReleased,
				Source: tracking.SrcUser, Text: "Released by you: it will be sent again."}); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE recipients SET next_attempt_at=? WHERE id=?`, store.Millis(now), rid); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	o.changed(msg)
	o.Kick()
	return nil
}
