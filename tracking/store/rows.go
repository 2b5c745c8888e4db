package store

import (
	"context"
	"database/sql"
	"strings"
)

// rowChunks are the row counts a RowsStmt is prepared for, largest first:
// a list of rows runs as the fewest statements of these sizes. A statement
// per row would pay database/sql's and the driver's overhead for each; one
// text per list length would be parsed again for almost every batch.
var rowChunks = [...]int{64, 16, 4, 1}

// RowsStmt is a statement over a list of rows passed as bound parameters
// (a multi-row VALUES or an IN list), prepared once per chunk size.
// Parameters bind as they are, byte for byte (text that is not UTF-8
// included).
type RowsStmt struct {
	width int
	texts [len(rowChunks)]string
	stmts [len(rowChunks)]*sql.Stmt // nil: not prepared, the text runs
}

// NewRowsStmt builds the statement text(list) for each chunk size. list
// is the rows' placeholders: "(?,?),(?,?)" for rows of width 2, or "?,?"
// for width 1 (an IN list). Parameters the same for every chunk (Exec's
// and Query's fixed) are written ?1..?N in text, each at least once
// before list, whose anonymous ? SQLite numbers after the highest seen.
// The rows' own are anonymous because the driver looks up every
// parameter's name, and with numbered ones each lookup searches all the
// names: a 64-row chunk spent more binding than running.
func NewRowsStmt(width int, text func(list string) string) *RowsStmt {
	s := &RowsStmt{width: width}
	for i, n := range rowChunks {
		var b strings.Builder
		for r := range n {
			if r > 0 {
				b.WriteByte(',')
			}
			if width > 1 {
				b.WriteByte('(')
			}
			for c := range width {
				if c > 0 {
					b.WriteByte(',')
				}
				b.WriteByte('?')
			}
			if width > 1 {
				b.WriteByte(')')
			}
		}
		s.texts[i] = text(b.String())
	}
	return s
}

// Prepare returns s with every chunk's statement prepared on db. For a
// statement run in DB.W transactions db must be DB.W, and Prepare must
// run outside any transaction (the writer pool has one connection).
func (s *RowsStmt) Prepare(ctx context.Context, db *sql.DB) (*RowsStmt, error) {
	p := &RowsStmt{width: s.width, texts: s.texts}
	for i, q := range s.texts {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			p.Close()
			return nil, err
		}
		p.stmts[i] = st
	}
	return p, nil
}

// Close closes the prepared statements.
func (s *RowsStmt) Close() {
	for i, st := range s.stmts {
		if st != nil {
			st.Close()
			s.stmts[i] = nil
		}
	}
}

// chunks calls fn for each chunk of rows (len(rows) a multiple of width),
// with that chunk's statement (tx's when tx is not nil) or text and args.
func (s *RowsStmt) chunks(ctx context.Context, tx *sql.Tx, fixed, rows []any, fn func(st *sql.Stmt, q string, args []any) error) error {
	args := make([]any, 0, len(fixed)+min(len(rows), rowChunks[0]*s.width))
	for len(rows) > 0 {
		i := 0
		for rowChunks[i]*s.width > len(rows) {
			i++
		}
		n := rowChunks[i] * s.width
		args = append(append(args[:0], fixed...), rows[:n]...)
		rows = rows[n:]
		st := s.stmts[i]
		if st != nil && tx != nil {
			st = tx.StmtContext(ctx, st)
		}
		if err := fn(st, s.texts[i], args); err != nil {
			return err
		}
	}
	return nil
}

// Exec runs the statement inside tx over rows, fixed's values first, and
// returns the rows it changed.
func (s *RowsStmt) Exec(ctx context.Context, tx *sql.Tx, fixed, rows []any) (int64, error) {
	var changed int64
	err := s.chunks(ctx, tx, fixed, rows, func(st *sql.Stmt, q string, args []any) error {
		var res sql.Result
		var err error
		if st != nil {
			res, err = st.ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, q, args...)
		}
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		changed += n
		return nil
	})
	return changed, err
}

// Query runs the query over rows, fixed's values first, and calls scan
// for each row of its result. tx nil runs it on the prepared statements
// (of the pool Prepare was given) outside a transaction.
func (s *RowsStmt) Query(ctx context.Context, tx *sql.Tx, fixed, rows []any, scan func(*sql.Rows) error) error {
	return s.chunks(ctx, tx, fixed, rows, func(st *sql.Stmt, q string, args []any) error {
		var rs *sql.Rows
		var err error
		if st != nil {
			rs, err = st.QueryContext(ctx, args...)
		} else {
			rs, err = tx.QueryContext(ctx, q, args...)
		}
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			if err := scan(rs); err != nil {
				return err
			}
		}
		return rs.Err()
	})
}
