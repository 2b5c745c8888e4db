package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"mailroom/mail"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

// Recover closes every attempt left in flight by a previous process (a
// crash, kill -9, power loss) and returns its recipients to the queue:
// "uncertain" when the body had been handed over (it may have arrived),
// "deferred" otherwise. The retry time is the one committed with the
// attempt, so nothing is retried hot. The message's crash count is not
// incremented here (the attempt did that when it started); a message that
// reached the crash limit is held. The Runner calls Recover once before it
// sends anything; it must not run while another process is sending from
// the same database.
func (o *Outbox) Recover(ctx context.Context, p Policy) (int, error) {
	now := o.now()
	var msgs []string
	var n int
	err := o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		msgs, n = nil, 0
		rows, err := tx.QueryContext(ctx, `SELECT id FROM outbox_attempts WHERE ended_at=0 ORDER BY id`)
		if err != nil {
			return err
		}
		var open []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			open = append(open, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range open {
			m, err := o.interruptTx(ctx, tx, id, "crashed", "Mailroom stopped during this attempt", p, now)
			if err != nil {
				return err
			}
			msgs = append(msgs, m)
			n++
		}
		// A recipient still "sending" without an open attempt cannot come
		// from this package's commits; return it to the queue all the same.
		stray, err := unfinished(ctx, tx, `status='sending'`)
		if err != nil {
			return err
		}
		for _, rid := range stray {
			if _, err := store.AddEvent(ctx, tx, tracking.Event{Recipient: rid, At: now, Kind: tracking.EvDeferred,
				Source: tracking.SrcOutbox, Text: "Mailroom stopped during an attempt."}); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("outbox recovery: %w", err)
	}
	o.changed(msgs...)
	return n, nil
}

// interruptTx closes one attempt that did not end normally (a crash found
// at start, or a panic caught in this process) and returns the message id.
// The crash count stays as the attempt left it; at the limit the message
// is held (poison) so that the rest of the outbox drains.
func (o *Outbox) interruptTx(ctx context.Context, tx *sql.Tx, attempt int64, outcome, why string, p Policy, now time.Time) (string, error) {
	var message string
	var copyID int64
	var bodySent bool
	var partsDone int32
	if err := tx.QueryRowContext(ctx, `SELECT message, copy, body_sent, parts_done FROM outbox_attempts WHERE id=?`, attempt).
		Scan(&message, &copyID, &bodySent, &partsDone); err != nil {
		return "", err
	}
	if !bodySent && o.handover != nil {
		bodySent = o.handover.handedOver(attempt, partsDone)
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, attempts, first_attempt_at, offline_ms, next_attempt_at FROM recipients
		WHERE copy=? AND status='sending' ORDER BY id`, copyID)
	if err != nil {
		return "", err
	}
	var rcpts []*jobRcpt
	for rows.Next() {
		rc := &jobRcpt{}
		var first, offline, next int64
		if err := rows.Scan(&rc.id, &rc.number, &first, &offline, &next); err != nil {
			rows.Close()
			return "", err
		}
		rc.first, rc.offline, rc.next = store.FromMillis(first), time.Duration(offline)*time.Millisecond, store.FromMillis(next)
		rcpts = append(rcpts, rc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	var hold string
	for _, rc := range rcpts {
		ev := tracking.Event{Recipient: rc.id, At: now, Source: tracking.SrcOutbox}
		if bodySent {
			ev.Kind = tracking.EvUncertain
			ev.Text = why + " after the message was handed to the server and before its answer was recorded: it may have arrived."
			kv := []any{"attempt", rc.number, "interrupted", outcome, "may_have_been_sent_twice", true, "note", uncertainNote}
			if p.Uncertain == HoldUncertain {
				hold = "Mailroom stopped after handing the message to the server: it may have arrived. It is held until you decide to send it again."
				kv = append(kv, "held", true)
			} else {
				kv = append(kv, "next_attempt_at", rfc3339(rc.next))
			}
			ev.Detail = detailJSON(kv...)
		} else {
			ev.Kind = tracking.EvDeferred
			ev.Text = why + " before the message was handed to the server; nothing was sent."
			ev.Detail = detailJSON("attempt", rc.number, "interrupted", outcome, "next_attempt_at", rfc3339(rc.next))
		}
		if hold == "" && !now.Before(rc.deadline(p)) {
			ev = expiredEvent(rc, mail.Reply{Text: ev.Text}, ev.Text, p, now, bodySent)
		}
		if _, err := store.AddEvent(ctx, tx, ev); err != nil {
			return "", err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE recipients SET last_reply=? WHERE id=?`, ev.Text, rc.id); err != nil {
			return "", err
		}
		if err := o.applyCancelTx(ctx, tx, rc.id, ev.Kind == tracking.EvExpired, now); err != nil {
			return "", err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE outbox_attempts SET ended_at=?, outcome=?, error=? WHERE id=?`,
		store.Millis(now), outcome, why, attempt); err != nil {
		return "", err
	}
	if hold != "" {
		if err := holdTx(ctx, tx, message, hold, now); err != nil {
			return "", err
		}
	}
	var crashes int
	if err := tx.QueryRowContext(ctx, `SELECT crash_count FROM messages WHERE id=?`, message).Scan(&crashes); err != nil {
		return "", err
	}
	if crashes >= p.CrashLimit {
		if err := holdTx(ctx, tx, message, poisonReason(crashes, why), now); err != nil {
			return "", err
		}
	}
	return message, nil
}
