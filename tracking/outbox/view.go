package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mailroom/mail"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

// MessageState is one message as the Outbox screen and `mailroom status`
// show it.
type MessageState struct {
	ID          string
	Account     string
	AccountInfo AccountState // pause and breaker state of the account
	From        string
	Subject     string
	MessageID   string
	Created     time.Time
	Due         time.Time // "send later" time (equal to Created otherwise)
	Held        string    // non-empty: held, with the reason in plain words
	CrashCount  int
	NextAttempt time.Time // earliest next attempt over waiting recipients; zero if none
	Progress    Progress
	Recipients  []RecipientState
}

// RecipientState is one recipient's place in the outbox.
type RecipientState struct {
	ID           int64
	Address      string
	Kind         string // to|cc|bcc
	Status       tracking.Status
	Attempts     int
	NextAttempt  time.Time // zero when not waiting for a retry
	FirstAttempt time.Time
	// GiveUpAt is when the outbox will give up (first attempt + lifetime
	// + time the account was unreachable or paused); zero before the first
	// attempt.
	GiveUpAt time.Time
	// LastReply is the last answer (raw evidence), nil before any;
	// LastWords says it in plain words.
	LastReply     *mail.Reply
	LastWords     string
	LastAt        time.Time
	CancelPending bool
}

// Progress counts a message's recipients per status (bulk sends).
type Progress struct {
	Total    int
	ByStatus map[tracking.Status]int
	// Done counts recipients whose outbox journey is over (accepted or
	// beyond, rejected, expired, canceled).
	Done int
}

func waiting(s tracking.Status) bool {
	return s == tracking.Queued || s == tracking.Sending || s == tracking.Deferred || s == tracking.Uncertain
}

// Unfinished lists messages with a recipient still in the outbox (or
// held), oldest first, with every recipient.
func (o *Outbox) Unfinished(ctx context.Context) ([]MessageState, error) {
	rows, err := o.Store.DB.R.QueryContext(ctx, `SELECT id FROM messages m WHERE held_reason<>'' OR EXISTS(
		SELECT 1 FROM recipients r WHERE r.message=m.id AND r.status IN ('queued','sending','deferred','uncertain'))
		ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	p, err := o.policy(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MessageState, 0, len(ids))
	for _, id := range ids {
		m, err := o.message(ctx, id, p)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// Message returns one message's outbox state (short id or Message-ID).
func (o *Outbox) Message(ctx context.Context, id string) (MessageState, error) {
	p, err := o.policy(ctx)
	if err != nil {
		return MessageState{}, err
	}
	return o.message(ctx, id, p)
}

func (o *Outbox) message(ctx context.Context, id string, p Policy) (MessageState, error) {
	db := o.Store.DB.R
	msg, err := resolve(ctx, db, id)
	if err != nil {
		return MessageState{}, err
	}
	var m MessageState
	var created, due int64
	err = db.QueryRowContext(ctx, `SELECT id, account, from_addr, subject, message_id, created_at, due_at, held_reason, crash_count
		FROM messages WHERE id=?`, msg).Scan(&m.ID, &m.Account, &m.From, &m.Subject, &m.MessageID, &created, &due, &m.Held, &m.CrashCount)
	if errors.Is(err, sql.ErrNoRows) {
		return MessageState{}, fmt.Errorf("message %s: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return MessageState{}, err
	}
	m.Created, m.Due = store.FromMillis(created), store.FromMillis(due)
	if m.AccountInfo, err = accountState(ctx, db, m.Account); err != nil {
		return MessageState{}, err
	}
	rows, err := db.QueryContext(ctx, `SELECT r.id, r.address, r.kind, r.status, r.attempts, r.next_attempt_at, r.first_attempt_at,
		r.offline_ms, r.last_reply, EXISTS(SELECT 1 FROM outbox_cancels k WHERE k.recipient=r.id)
		FROM recipients r WHERE r.message=? ORDER BY r.id`, msg)
	if err != nil {
		return MessageState{}, err
	}
	m.Progress.ByStatus = map[tracking.Status]int{}
	index := map[int64]int{}
	for rows.Next() {
		var r RecipientState
		var status string
		var next, first, offline int64
		if err := rows.Scan(&r.ID, &r.Address, &r.Kind, &status, &r.Attempts, &next, &first, &offline, &r.LastWords, &r.CancelPending); err != nil {
			rows.Close()
			return MessageState{}, err
		}
		r.Status = tracking.Status(status)
		r.FirstAttempt = store.FromMillis(first)
		if !r.FirstAttempt.IsZero() {
			r.GiveUpAt = r.FirstAttempt.Add(p.Lifetime + time.Duration(offline)*time.Millisecond)
		}
		if waiting(r.Status) && r.Status != tracking.Sending {
			r.NextAttempt = store.FromMillis(next)
			if m.Held == "" && (m.NextAttempt.IsZero() || r.NextAttempt.Before(m.NextAttempt)) {
				m.NextAttempt = r.NextAttempt
			}
		}
		m.Progress.Total++
		m.Progress.ByStatus[r.Status]++
		if !waiting(r.Status) {
			m.Progress.Done++
		}
		index[r.ID] = len(m.Recipients)
		m.Recipients = append(m.Recipients, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return MessageState{}, err
	}
	// The last answer per recipient, from the events (the evidence).
	erows, err := db.QueryContext(ctx, `SELECT e.recipient, e.command, e.code, e.enhanced_code, e.text, e.at FROM events e
		WHERE e.id IN (SELECT max(id) FROM events WHERE recipient IN (SELECT id FROM recipients WHERE message=?)
			AND kind IN ('deferred','uncertain','rejected','accepted','expired') GROUP BY recipient)`, msg)
	if err != nil {
		return MessageState{}, err
	}
	defer erows.Close()
	for erows.Next() {
		var rid, at int64
		var rep mail.Reply
		if err := erows.Scan(&rid, &rep.Command, &rep.Code, &rep.Enhanced, &rep.Text, &at); err != nil {
			return MessageState{}, err
		}
		if i, ok := index[rid]; ok {
			m.Recipients[i].LastReply = &rep
			m.Recipients[i].LastAt = store.FromMillis(at)
		}
	}
	return m, erows.Err()
}

// Progress counts one message's recipients per status, cheaply (no
// events), for a bulk send's progress bar.
func (o *Outbox) Progress(ctx context.Context, id string) (Progress, error) {
	db := o.Store.DB.R
	msg, err := resolve(ctx, db, id)
	if err != nil {
		return Progress{}, err
	}
	rows, err := db.QueryContext(ctx, `SELECT status, count(*) FROM recipients WHERE message=? GROUP BY status`, msg)
	if err != nil {
		return Progress{}, err
	}
	defer rows.Close()
	pr := Progress{ByStatus: map[tracking.Status]int{}}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return Progress{}, err
		}
		pr.ByStatus[tracking.Status(s)] = n
		pr.Total += n
		if !waiting(tracking.Status(s)) {
			pr.Done += n
		}
	}
	return pr, rows.Err()
}
