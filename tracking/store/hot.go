package store

import (
	"context"
	"database/sql"
)

// AddEvent's statements: the outbox runs them several times per copy it
// sends, and parsing them each time costs more than running them.
const (
	qInsertEvent = `INSERT INTO events(recipient, at, kind, source, command, code, enhanced_code, text, match, detail, report, dedup_key)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(dedup_key) DO NOTHING`
	qRecipientCache = `SELECT r.message, r.status, r.opens_total, r.opens_human, r.opens_machine, r.clicks, r.read, r.replied,
		r.last_event_at, m.last_event_at FROM recipients r JOIN messages m ON m.id=r.message WHERE r.id=?`
	qWriteCache = `UPDATE recipients SET status=?, opens_total=?, opens_human=?, opens_machine=?,
		clicks=?, read=?, replied=?, last_event_at=? WHERE id=?`
	qWriteCacheKeepStatus = `UPDATE recipients SET opens_total=?, opens_human=?, opens_machine=?,
		clicks=?, read=?, replied=?, last_event_at=? WHERE id=?`
	// The row is left alone (no page written) when its time is not older.
	qMessageLast = `UPDATE messages SET last_event_at=? WHERE id=? AND last_event_at<?`
)

// hotStmts are statements prepared on the writer connection; a nil
// *hotStmts runs the text instead.
type hotStmts struct {
	m    map[string]*sql.Stmt    // read-only after prepareHot
	bulk map[*RowsStmt]*RowsStmt // AddEvents' statements, prepared copies
}

// prepareHot prepares the statements on w (the single writer connection).
// It must run outside any transaction.
func prepareHot(ctx context.Context, w *sql.DB) (*hotStmts, error) {
	h := &hotStmts{m: map[string]*sql.Stmt{}, bulk: map[*RowsStmt]*RowsStmt{}}
	fail := func(err error) (*hotStmts, error) {
		for _, s := range h.m {
			s.Close()
		}
		for _, s := range h.bulk {
			s.Close()
		}
		return nil, err
	}
	for _, q := range []string{qInsertEvent, qRecipientCache, qWriteCache, qWriteCacheKeepStatus, qMessageLast} {
		s, err := w.PrepareContext(ctx, q)
		if err != nil {
			return fail(err)
		}
		h.m[q] = s
	}
	for _, b := range bulkStmts {
		p, err := b.Prepare(ctx, w)
		if err != nil {
			return fail(err)
		}
		h.bulk[b] = p
	}
	return h, nil
}

// rows returns b prepared, or b itself (its text runs) when it is not.
func (h *hotStmts) rows(b *RowsStmt) *RowsStmt {
	if h != nil {
		if p := h.bulk[b]; p != nil {
			return p
		}
	}
	return b
}

func (h *hotStmts) exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if h != nil {
		if s := h.m[q]; s != nil {
			return tx.StmtContext(ctx, s).ExecContext(ctx, args...)
		}
	}
	return tx.ExecContext(ctx, q, args...)
}

func (h *hotStmts) queryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if h != nil {
		if s := h.m[q]; s != nil {
			return tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
		}
	}
	return tx.QueryRowContext(ctx, q, args...)
}
