package outbox

import (
	"context"
	"database/sql"

	"mailroom/tracking/store"
)

// The statements run for every copy, prepared once by Open.
const (
	// qCrashIncFirst: a crash interrupts a message once, however many of
	// its copies are in flight: count it when the first one starts (run
	// before the new attempts are inserted) ...
	qCrashIncFirst = `UPDATE messages SET crash_count=crash_count+1 WHERE id=?
			AND NOT EXISTS(SELECT 1 FROM outbox_attempts WHERE message=? AND ended_at=0)`
	qBodySent   = `UPDATE outbox_attempts SET body_sent=1 WHERE id=?`
	qBodyReset  = `UPDATE outbox_attempts SET body_sent=0, parts_done=parts_done+1 WHERE id=?`
	qEndAttempt = `UPDATE outbox_attempts SET ended_at=?, outcome=?, server=?, dsn_requested=?, error=? WHERE id=?`
	// ... and clear it when the last one ends normally.
	qCrashClear = `UPDATE messages SET crash_count=0 WHERE id=?
			AND NOT EXISTS(SELECT 1 FROM outbox_attempts WHERE message=? AND ended_at=0)`
	qWasUncertain = `SELECT EXISTS(SELECT 1 FROM events WHERE recipient=? AND kind='uncertain')`
	qLastReply    = `UPDATE recipients SET last_reply=? WHERE id=?`
	qDeleteCancel = `DELETE FROM outbox_cancels WHERE recipient=?`

	// The claim of one or several copies in one commit (claimManyTx): one
	// statement per kind for all of them, the copies and rows passed as a
	// JSON array.
	// A copy's body is read with its claim only up to eagerBodyMax bytes
	// (?2; the parts are NULL above it: the body is read when its turn
	// comes). length() reads a blob's size without its bytes.
	qClaimCopies = `WITH c AS (SELECT id, message, envid, base, base_prefix, base_suffix, body,
				base_prefix + length(body) + base_suffix AS whole
			FROM copies WHERE id IN (SELECT value FROM json_each(?1)))
		SELECT c.id, m.id, m.account, m.from_addr, m.held_reason, m.crash_count, c.envid, c.whole,
			iif(c.whole <= ?2, substr(b.body, 1, c.base_prefix), NULL), iif(c.whole <= ?2, c.body, NULL),
			iif(c.whole <= ?2 AND c.base_suffix > 0, substr(b.body, -c.base_suffix), NULL),
			coalesce((SELECT a.paused_reason FROM outbox_accounts a WHERE a.account=m.account), '')
		FROM c JOIN messages m ON m.id=c.message` + store.CopyBaseJoin
	// qCopyBody reads one copy's body (on a reader) when its turn comes.
	qCopyBody = `SELECT ` + store.CopyBodyColumns + ` FROM copies c` + store.CopyBaseJoin + ` WHERE c.id=?`
	// CROSS JOIN keeps the copy's index (outbox_copy_rcpts) in use.
	qClaimRcptsOf = `SELECT r.copy, r.id, r.address, r.attempts, r.first_attempt_at, r.offline_ms,
			EXISTS(SELECT 1 FROM outbox_cancels k WHERE k.recipient=r.id)
			FROM json_each(?) AS j CROSS JOIN recipients r
			WHERE r.copy=j.value AND r.status IN ('queued','deferred','uncertain') AND r.next_attempt_at <= ?`
	// Rows: [message, copy, account, number, started_at, next_at].
	qInsertAttempts = `INSERT INTO outbox_attempts(message, copy, account, number, started_at, next_at)
			SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5 FROM json_each(?)
			RETURNING id, copy`
	// Rows: [id, attempts, first_attempt_at, next_attempt_at].
	qClaimRcptsSet = `UPDATE recipients SET attempts=j.value->>1, first_attempt_at=j.value->>2, next_attempt_at=j.value->>3
			FROM json_each(?) AS j WHERE recipients.id=j.value->>0`
)

// qCancelWaiting: the recipients among these with a cancel waiting. Read
// (on a reader) before copies claimed ahead go out.
const qCancelWaiting = `SELECT recipient FROM outbox_cancels WHERE recipient IN (SELECT value FROM json_each(?))`

var hotQueries = []string{qClaimCopies, qClaimRcptsOf, qInsertAttempts, qClaimRcptsSet, qCrashIncFirst,
	qBodySent, qBodyReset, qEndAttempt, qCrashClear, qWasUncertain, qLastReply, qDeleteCancel}

// stmts caches prepared statements on the writer connection: the outbox
// runs the same dozen statements for every copy, and parsing them again
// each time costs more than running them.
type stmts struct {
	m             map[string]*sql.Stmt // read-only after Open
	cancelWaiting *sql.Stmt            // qCancelWaiting on the readers
}

// prepare prepares the hot statements on the writer connection. It must
// run outside any transaction: the writer pool has one connection.
func (o *Outbox) prepare(ctx context.Context) error {
	o.stmts.m = map[string]*sql.Stmt{}
	for _, q := range hotQueries {
		s, err := o.Store.DB.W.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		o.stmts.m[q] = s
	}
	s, err := o.Store.DB.R.PrepareContext(ctx, qCancelWaiting)
	if err != nil {
		return err
	}
	o.stmts.cancelWaiting = s
	return nil
}

// exec runs a statement inside tx, prepared when it is a hot one.
func (o *Outbox) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if s := o.stmts.m[query]; s != nil {
		return tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// query runs a query inside tx, prepared when it is a hot one.
func (o *Outbox) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if s := o.stmts.m[query]; s != nil {
		return tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}

// queryRow runs a single-row query inside tx, prepared when it is a hot one.
func (o *Outbox) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if s := o.stmts.m[query]; s != nil {
		return tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}
