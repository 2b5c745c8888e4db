package outbox

import (
	"context"
	"database/sql"
	"strconv"

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

	// qCopyBody reads one copy's body (on a reader) when its turn comes.
	qCopyBody = `SELECT ` + store.CopyBodyColumns + ` FROM copies c` + store.CopyBaseJoin + ` WHERE c.id=?`
)

var hotQueries = []string{qCrashIncFirst, qBodySent, qBodyReset, qEndAttempt, qCrashClear, qWasUncertain, qLastReply, qDeleteCancel,
	qInsertRcpts}

// The claim of one or several copies in one commit (claimManyTx) and the
// applier's commit of many results (applyResults) run one statement per
// kind for all their rows, passed as bound parameters (store.RowsStmt).
var (
	// A copy's body is read with its claim only up to eagerBodyMax bytes
	// (the parts are NULL above it: the body is read when its turn comes).
	// length() reads a blob's size without its bytes.
	claimCopies = store.NewRowsStmt(1, func(list string) string {
		eager := `c.whole <= ` + strconv.Itoa(eagerBodyMax)
		return `WITH c AS (SELECT id, message, envid, base, base_prefix, base_suffix, body,
				base_prefix + length(body) + base_suffix AS whole
			FROM copies WHERE id IN (` + list + `))
		SELECT c.id, m.id, m.account, m.from_addr, m.held_reason, m.crash_count, c.envid, c.whole,
			iif(` + eager + `, substr(b.body, 1, c.base_prefix), NULL), iif(` + eager + `, c.body, NULL),
			iif(` + eager + ` AND c.base_suffix > 0, substr(b.body, -c.base_suffix), NULL),
			coalesce((SELECT a.paused_reason FROM outbox_accounts a WHERE a.account=m.account), '')
		FROM c JOIN messages m ON m.id=c.message` + store.CopyBaseJoin
	})
	// The due recipients of the copies, ?1 being now. The unary + keep
	// SQLite on the copy's index (outbox_copy_rcpts): by status or by due
	// time it would go through every due recipient of a bulk message.
	claimRcptsOf = store.NewRowsStmt(1, func(list string) string {
		return `SELECT r.copy, r.id, r.address, r.attempts, r.first_attempt_at, r.offline_ms,
			EXISTS(SELECT 1 FROM outbox_cancels k WHERE k.recipient=r.id)
			FROM recipients r
			WHERE +r.next_attempt_at <= ?1 AND r.copy IN (` + list + `) AND +r.status IN ('queued','deferred','uncertain')`
	})
	// Rows: (message, copy, account, number, started_at, next_at).
	insertAttempts = store.NewRowsStmt(6, func(list string) string {
		return `INSERT INTO outbox_attempts(message, copy, account, number, started_at, next_at) VALUES ` + list + `
			RETURNING id, copy`
	})

	// The attempts among these still open.
	openAttemptsOf = store.NewRowsStmt(1, func(list string) string {
		return `SELECT id FROM outbox_attempts WHERE ended_at=0 AND id IN (` + list + `)`
	})
	// A cancel asked for while the copy was accepted comes too late.
	bulkDeleteCancels = store.NewRowsStmt(1, func(list string) string {
		return `DELETE FROM outbox_cancels WHERE recipient IN (` + list + `)`
	})
	// Rows: (attempt, ended_at, server, dsn_requested).
	bulkEndAttempts = store.NewRowsStmt(4, func(list string) string {
		return `WITH v(id, ended, server, dsn) AS (VALUES ` + list + `)
			UPDATE outbox_attempts SET ended_at=v.ended, outcome='done', server=v.server, dsn_requested=v.dsn, error=''
			FROM v WHERE outbox_attempts.id=v.id`
	})

	hotRows = []*store.RowsStmt{claimCopies, claimRcptsOf, insertAttempts, openAttemptsOf, bulkDeleteCancels, bulkEndAttempts}
)

// The recipients' columns the claim and the applier write with the cache
// their events refresh (store.AddEventsSetting): the attempt's number and
// retry time, the last reply in words.
var (
	claimRcptsSet = store.NewRecipientSet("attempts", "first_attempt_at", "next_attempt_at")
	lastReplySet  = store.NewRecipientSet("last_reply")
)

// cancelWaiting: the recipients among these with a cancel waiting. Read
// (on a reader) before copies claimed ahead go out.
var cancelWaiting = store.NewRowsStmt(1, func(list string) string {
	return `SELECT recipient FROM outbox_cancels WHERE recipient IN (` + list + `)`
})

// stmts holds the outbox's prepared statements: the outbox runs the same
// dozen statements for every copy, and parsing them again each time costs
// more than running them.
type stmts struct {
	w             *store.Prepared     // hotQueries and hotRows, on the writer
	claimRcpts    *store.RecipientSet // claimRcptsSet prepared
	lastReply     *store.RecipientSet // lastReplySet prepared
	cancelWaiting *store.RowsStmt     // prepared on the readers
}

// prepare prepares the hot statements. It must run outside any
// transaction: the writer pool has one connection.
func (o *Outbox) prepare(ctx context.Context) error {
	var err error
	if o.stmts.w, err = store.Prepare(ctx, o.Store.DB.W, hotQueries, hotRows); err != nil {
		return err
	}
	if o.stmts.claimRcpts, err = claimRcptsSet.Prepare(ctx, o.Store.DB.W); err != nil {
		return err
	}
	if o.stmts.lastReply, err = lastReplySet.Prepare(ctx, o.Store.DB.W); err != nil {
		return err
	}
	o.stmts.cancelWaiting, err = cancelWaiting.Prepare(ctx, o.Store.DB.R)
	return err
}

// rows returns b prepared on the writer connection.
func (o *Outbox) rows(b *store.RowsStmt) *store.RowsStmt { return o.stmts.w.Rows(b) }

// exec, query and queryRow run a statement inside tx, prepared when it is
// a hot one.
func (o *Outbox) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	return o.stmts.w.Exec(ctx, tx, query, args...)
}

func (o *Outbox) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	return o.stmts.w.Query(ctx, tx, query, args...)
}

func (o *Outbox) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	return o.stmts.w.QueryRow(ctx, tx, query, args...)
}
