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

// hotQueries and bulkStmts are prepared by OpenStore on the writer.
var hotQueries = []string{qInsertEvent, qRecipientCache, qWriteCache, qWriteCacheKeepStatus, qMessageLast}

// Prepared holds statements prepared once on one pool (the writer, for
// statements run in its transactions): text statements by their text, and
// RowsStmts. The store and the outbox run the same statements for every
// event and every copy, and parsing them again each time costs more than
// running them. A nil *Prepared, or a statement not in it, runs its text.
type Prepared struct {
	texts map[string]*sql.Stmt    // read-only after Prepare
	rows  map[*RowsStmt]*RowsStmt // their prepared copies
}

// Prepare prepares texts and rows on db. It must run outside any
// transaction when db is the writer (its pool has one connection).
func Prepare(ctx context.Context, db *sql.DB, texts []string, rows []*RowsStmt) (*Prepared, error) {
	p := &Prepared{texts: map[string]*sql.Stmt{}, rows: map[*RowsStmt]*RowsStmt{}}
	for _, q := range texts {
		s, err := db.PrepareContext(ctx, q)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.texts[q] = s
	}
	for _, b := range rows {
		r, err := b.Prepare(ctx, db)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.rows[b] = r
	}
	return p, nil
}

// Close closes the prepared statements.
func (p *Prepared) Close() {
	if p == nil {
		return
	}
	for _, s := range p.texts {
		s.Close()
	}
	for _, r := range p.rows {
		r.Close()
	}
}

// Rows returns b prepared, or b itself (its text runs) when it is not.
func (p *Prepared) Rows(b *RowsStmt) *RowsStmt {
	if p != nil {
		if r := p.rows[b]; r != nil {
			return r
		}
	}
	return b
}

func (p *Prepared) stmt(q string) *sql.Stmt {
	if p == nil {
		return nil
	}
	return p.texts[q]
}

// Exec runs q inside tx, prepared when it is in p.
func (p *Prepared) Exec(ctx context.Context, tx *sql.Tx, q string, args ...any) (sql.Result, error) {
	if s := p.stmt(q); s != nil {
		return tx.StmtContext(ctx, s).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, q, args...)
}

// Query runs q inside tx, prepared when it is in p.
func (p *Prepared) Query(ctx context.Context, tx *sql.Tx, q string, args ...any) (*sql.Rows, error) {
	if s := p.stmt(q); s != nil {
		return tx.StmtContext(ctx, s).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, q, args...)
}

// QueryRow runs a single-row q inside tx, prepared when it is in p.
func (p *Prepared) QueryRow(ctx context.Context, tx *sql.Tx, q string, args ...any) *sql.Row {
	if s := p.stmt(q); s != nil {
		return tx.StmtContext(ctx, s).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, q, args...)
}

// Stmt is q's prepared statement, or nil when it is not in p.
func (p *Prepared) Stmt(q string) *sql.Stmt { return p.stmt(q) }
