package outbox

import (
	"context"
	"database/sql"
	"time"

	"mailroom/tracking/store"
)

// Who paused an account (AccountState.PausedBy).
const (
	PausedByUser   = "user"
	PausedByAuth   = "auth"   // 535: the server refused the password
	PausedByServer = "server" // a permanent refusal of the session itself
)

// AccountState is an account's persisted outbox state.
type AccountState struct {
	Account     string
	PauseReason string // non-empty: paused
	PausedBy    string
	PausedAt    time.Time
	// UnreachableSince is set while the circuit breaker is open because
	// the server could not be reached; this time is not charged to the
	// give-up clock.
	UnreachableSince time.Time
	// NextProbe is when the breaker allows the next connection attempt;
	// zero when the breaker is closed.
	NextProbe time.Time
	Probes    int    // failed probes since the breaker opened
	LastError string // plain words and raw text of the last connection failure
}

// Paused reports whether the account's queue is paused.
func (a AccountState) Paused() bool { return a.PauseReason != "" }

// BreakerOpen reports whether connection attempts are being rationed.
func (a AccountState) BreakerOpen() bool { return !a.NextProbe.IsZero() }

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const accountColumns = `account, paused_reason, paused_by, paused_at, unreachable_since, next_probe_at, probes, last_error`

func scanAccount(sc interface{ Scan(...any) error }) (AccountState, error) {
	var a AccountState
	var pausedAt, since, probe int64
	err := sc.Scan(&a.Account, &a.PauseReason, &a.PausedBy, &pausedAt, &since, &probe, &a.Probes, &a.LastError)
	a.PausedAt, a.UnreachableSince, a.NextProbe = store.FromMillis(pausedAt), store.FromMillis(since), store.FromMillis(probe)
	return a, err
}

func accountState(ctx context.Context, q queryRower, account string) (AccountState, error) {
	a, err := scanAccount(q.QueryRowContext(ctx, `SELECT `+accountColumns+` FROM outbox_accounts WHERE account=?`, account))
	if err == sql.ErrNoRows {
		return AccountState{Account: account}, nil
	}
	return a, err
}

// Accounts returns the state of every account the outbox knows of.
func (o *Outbox) Accounts(ctx context.Context) (map[string]AccountState, error) {
	rows, err := o.Store.DB.R.QueryContext(ctx, `SELECT `+accountColumns+` FROM outbox_accounts`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]AccountState{}
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out[a.Account] = a
	}
	return out, rows.Err()
}

func ensureAccount(ctx context.Context, tx *sql.Tx, account string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO outbox_accounts(account) VALUES(?) ON CONFLICT(account) DO NOTHING`, account)
	return err
}

// pauseTx pauses an account inside tx; an existing pause keeps its reason.
func pauseTx(ctx context.Context, tx *sql.Tx, account, by, reason string, now time.Time) error {
	if err := ensureAccount(ctx, tx, account); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE outbox_accounts SET paused_reason=?, paused_by=?, paused_at=?
		WHERE account=? AND paused_reason=''`, reason, by, store.Millis(now), account)
	return err
}

// openBreakerTx records a failed connection: the next one is allowed at
// next. unreachable marks time not charged to the give-up clock.
func openBreakerTx(ctx context.Context, tx *sql.Tx, account string, unreachable bool, now, next time.Time, lastErr string) error {
	if err := ensureAccount(ctx, tx, account); err != nil {
		return err
	}
	since := int64(0)
	if unreachable {
		since = store.Millis(now)
	}
	_, err := tx.ExecContext(ctx, `UPDATE outbox_accounts SET
		unreachable_since=CASE WHEN unreachable_since=0 THEN ? ELSE unreachable_since END,
		next_probe_at=?, probes=probes+1, last_error=? WHERE account=?`,
		since, store.Millis(next), lastErr, account)
	return err
}

// closeBreakerTx closes the breaker after a successful connection and
// credits the unreachable time to every unfinished recipient of the
// account, so that an outage does not expire their messages.
func closeBreakerTx(ctx context.Context, tx *sql.Tx, account string, now time.Time) error {
	st, err := accountState(ctx, tx, account)
	if err != nil || !st.BreakerOpen() {
		return err
	}
	if !st.UnreachableSince.IsZero() {
		since := store.Millis(st.UnreachableSince)
		if _, err := tx.ExecContext(ctx, `UPDATE recipients SET offline_ms = offline_ms +
			max(0, ? - max(?, (SELECT created_at FROM messages m WHERE m.id=recipients.message)))
			WHERE status IN ('queued','deferred','uncertain','sending')
			AND message IN (SELECT id FROM messages WHERE account=?)`, store.Millis(now), since, account); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE outbox_accounts SET unreachable_since=0, next_probe_at=0, probes=0 WHERE account=?`, account)
	return err
}
