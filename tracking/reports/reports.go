package reports

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	netmail "net/mail"
	"runtime"
	"strings"
	"sync"
	"time"

	"mailroom/mail/report"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Reports ingests reports into the event store. Safe for concurrent use
// (SQLite's single writer serializes the transactions).
type Reports struct {
	Store *store.Store
	// Now is the clock (tests set it); nil means time.Now.
	Now func() time.Time
	// AddressWindow is how far before a report's date a message may have
	// been sent to be matched by address alone (key 4). Default 7 days.
	AddressWindow time.Duration
}

// Open applies the "reports" migrations (the core tracking migrations must
// have run: st comes from store.OpenStore) and returns the service.
func Open(ctx context.Context, st *store.Store) (*Reports, error) {
	if err := st.DB.Migrate(ctx, "reports", migrations, "migrations"); err != nil {
		return nil, err
	}
	return &Reports{Store: st}, nil
}

func (r *Reports) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reports) window() time.Duration {
	if r.AddressWindow > 0 {
		return r.AddressWindow
	}
	return 7 * 24 * time.Hour
}

// Meta says where a report came from.
type Meta struct {
	Account     string // account name (messages.account)
	Mailbox     string
	UIDValidity uint32
	UID         uint32 // 0 when not from IMAP
	ReceivedAt  time.Time
}

// Match is what happened to one recipient named by a report.
type Match struct {
	Address   string             // as the report names it
	Recipient int64              // recipients.id; 0 when unmatched
	Key       string             // envid|orcpt|tracking-id|message-id|address; "" when unmatched
	Event     tracking.EventKind // the event recorded ("" when none)
	Added     bool               // false when the event existed already (duplicate report)
	Note      string             // why unmatched, or how the recipient was chosen
}

// Result is the outcome of one Ingest.
type Result struct {
	ReportID   int64
	Kind       report.Kind
	Duplicate  bool // the report was stored already (same location, Message-ID or content)
	Matches    []Match
	Suppressed []string // addresses added to the suppression list
	Note       string
}

// Matched counts the recipients that were matched.
func (res Result) Matched() int {
	n := 0
	for _, m := range res.Matches {
		if m.Recipient != 0 {
			n++
		}
	}
	return n
}

// Ingest parses one fetched message, stores it and turns it into events for
// the recipients it is about, in one transaction. Ingesting the same report
// again (same mailbox location, same Message-ID or same bytes) adds
// nothing: the stored row is found and every event carries a dedup key made
// of the report's id and the recipient's.
//
// Nothing here renders or follows anything in the report: a returned
// message carrying a tracking pixel can never register an open.
func (r *Reports) Ingest(ctx context.Context, raw []byte, meta Meta) (Result, error) {
	res, err := r.IngestBatch(ctx, []Fetched{{Raw: raw, Meta: meta}})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// Fetched is one downloaded message and where it came from.
type Fetched struct {
	Raw  []byte
	Meta Meta
}

// IngestBatch is Ingest for several messages in one transaction (the sync
// loop's path: one commit per batch instead of one per report). Results are
// in the order of items. On error nothing of the batch is stored.
func (r *Reports) IngestBatch(ctx context.Context, items []Fetched) ([]Result, error) {
	// Parsing is pure CPU and independent per message: spread it over the
	// cores before the (serial) transaction.
	preps := make([]prepared, len(items))
	workers := min(runtime.GOMAXPROCS(0), len(items))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(items); i += workers {
				preps[i] = r.prepare(items[i])
			}
		})
	}
	wg.Wait()
	return r.storeBatch(ctx, preps, nil)
}

// prepared is one message parsed and ready to store, or (skipped) the
// trace of one that was not downloaded.
type prepared struct {
	rep     *report.Report
	row     reportRow
	auto    string
	skipped bool
}

// storeBatch stores prepared messages and matches them in one
// transaction; before the commit it runs also (nil: nothing), so that the
// caller's bookkeeping (the sync position) commits with the reports it
// describes. A skipped item's Result has only ReportID and Duplicate.
func (r *Reports) storeBatch(ctx context.Context, preps []prepared, also func(*ptx) error) ([]Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// A batch is bounded work (at most a few hundred small reports):
	// once begun it runs to its commit without watching ctx. With a
	// cancellable context, modernc.org/sqlite starts a watcher goroutine
	// and installs a progress handler around every statement, which cost
	// as much as the statements of a first sync (a dozen per report).
	ctx = context.WithoutCancel(ctx)
	var out []Result
	err := r.Store.DB.WithTx(ctx, func(sqltx *sql.Tx) error {
		tx := newPtx(ctx, sqltx)
		out = make([]Result, 0, len(preps))
		for _, p := range preps {
			if p.skipped {
				id, dup, err := upsertReport(tx, p.row)
				if err != nil {
					return err
				}
				out = append(out, Result{ReportID: id, Duplicate: dup, Note: p.row.note})
				continue
			}
			res := Result{Kind: p.rep.Kind}
			id, dup, err := upsertReport(tx, p.row)
			if err != nil {
				return err
			}
			res.ReportID, res.Duplicate = id, dup
			m := matcher{tx: tx, ctx: ctx, store: r.Store, account: p.row.meta.Account, window: r.window(), autoSubmitted: p.auto}
			if err := m.apply(p.rep, p.row.meta, id, &res); err != nil {
				return err
			}
			matched := res.Matched()
			if _, err = tx.exec(`UPDATE reports SET matched=?, unmatched=?, note=? WHERE id=?`,
				matched, len(res.Matches)-matched, res.Note, id); err != nil {
				return err
			}
			out = append(out, res)
		}
		if also != nil {
			if err := also(tx); err != nil {
				return err
			}
		}
		if testHookBeforeCommit != nil {
			if err := testHookBeforeCommit(preps); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ingest reports: %w", err)
	}
	return out, nil
}

// testHookBeforeCommit, when set by a test, runs at the end of every
// batch transaction; an error rolls the batch back.
var testHookBeforeCommit func([]prepared) error

// prepare parses one message and builds its row. It cannot fail: an empty
// message is stored as not a report (Parse only fails on an empty input or
// a failing reader, and a byte slice does not fail).
func (r *Reports) prepare(it Fetched) prepared {
	rep, err := report.Parse(bytes.NewReader(it.Raw))
	if err != nil {
		rep = &report.Report{Kind: report.KindNotAReport}
	}
	meta := it.Meta
	if meta.ReceivedAt.IsZero() {
		meta.ReceivedAt = r.now()
	}
	sum := sha256.Sum256(it.Raw)
	row := reportRow{
		meta: meta, messageID: rep.MessageID, sha: hex.EncodeToString(sum[:]), kind: string(rep.Kind),
		size: int64(len(it.Raw)), reportDate: rep.Date,
	}
	if rep.Kind != report.KindNotAReport {
		// Ordinary mail that looked like a report is not kept: it is the
		// user's correspondence, not evidence.
		row.raw = it.Raw
	}
	if v, err := json.Marshal(rep.View()); err == nil {
		row.parsed = string(v)
	}
	return prepared{rep: rep, row: row, auto: autoSubmitted(it.Raw)}
}

// autoSubmitted reads the Auto-Submitted header of a message.
func autoSubmitted(raw []byte) string {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return ""
	}
	v, _, _ := strings.Cut(msg.Header.Get("Auto-Submitted"), ";")
	return strings.TrimSpace(v)
}

// ptx is a transaction that prepares each distinct statement once: a batch
// runs the same few statements a hundred times, and with SQLite preparing
// costs as much as running. Statements close with the transaction.
type ptx struct {
	*sql.Tx
	ctx   context.Context
	stmts map[string]*sql.Stmt
}

func newPtx(ctx context.Context, tx *sql.Tx) *ptx {
	return &ptx{Tx: tx, ctx: ctx, stmts: map[string]*sql.Stmt{}}
}

func (p *ptx) stmt(q string) (*sql.Stmt, error) {
	if st, ok := p.stmts[q]; ok {
		return st, nil
	}
	st, err := p.Tx.PrepareContext(p.ctx, q)
	if err != nil {
		return nil, err
	}
	p.stmts[q] = st
	return st, nil
}

func (p *ptx) exec(q string, args ...any) (sql.Result, error) {
	st, err := p.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(p.ctx, args...)
}

func (p *ptx) query(q string, args ...any) (*sql.Rows, error) {
	st, err := p.stmt(q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(p.ctx, args...)
}

func (p *ptx) scanRow(q string, args []any, dest ...any) error {
	st, err := p.stmt(q)
	if err != nil {
		return err
	}
	return st.QueryRowContext(p.ctx, args...).Scan(dest...)
}

type reportRow struct {
	meta       Meta
	messageID  string
	sha        string
	kind       string
	size       int64
	reportDate time.Time
	raw        []byte
	parsed     string
	note       string
}

// upsertReport finds the stored row for this report (by location, then
// Message-ID, then content hash) or inserts it. A found row is moved to the
// new location (after a UIDVALIDITY change, or a copy into another folder).
func upsertReport(tx *ptx, row reportRow) (int64, bool, error) {
	// Most reports are new: try the insert first. It does nothing when
	// the location, the Message-ID or the hash is taken (the unique
	// indexes), and only then is the stored row looked for.
	var raw any
	if row.raw != nil {
		raw = row.raw
	}
	if row.parsed == "" {
		row.parsed = "{}"
	}
	res, err := tx.exec(`INSERT INTO reports(account, mailbox, uid_validity, uid, message_id, sha256,
		received_at, report_date, kind, size, raw, parsed, note) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT DO NOTHING`,
		row.meta.Account, row.meta.Mailbox, row.meta.UIDValidity, row.meta.UID, row.messageID, row.sha,
		store.Millis(row.meta.ReceivedAt), store.Millis(row.reportDate), row.kind, row.size, raw, row.parsed, row.note)
	if err != nil {
		return 0, false, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, false, err
	} else if n == 1 {
		id, err := res.LastInsertId()
		return id, false, err
	}
	// Three indexed lookups, not one OR: SQLite would scan the table.
	var id int64
	err = sql.ErrNoRows
	if row.meta.UID != 0 {
		err = tx.scanRow(`SELECT id FROM reports WHERE account=? AND mailbox=? AND uid_validity=? AND uid=? AND uid<>0`,
			[]any{row.meta.Account, row.meta.Mailbox, row.meta.UIDValidity, row.meta.UID}, &id)
	}
	if errors.Is(err, sql.ErrNoRows) && row.messageID != "" {
		err = tx.scanRow(`SELECT id FROM reports WHERE message_id=? AND message_id<>''`, []any{row.messageID}, &id)
	}
	if errors.Is(err, sql.ErrNoRows) && row.sha != "" {
		err = tx.scanRow(`SELECT id FROM reports WHERE sha256=? AND sha256<>''`, []any{row.sha}, &id)
	}
	if err == nil {
		if row.meta.UID != 0 {
			// Best effort: another row may hold that location already
			// (two copies of one report); the first row stays canonical.
			tx.exec(`UPDATE OR IGNORE reports SET account=?, mailbox=?, uid_validity=?, uid=? WHERE id=?`,
				row.meta.Account, row.meta.Mailbox, row.meta.UIDValidity, row.meta.UID, id)
		}
		return id, true, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		// The insert conflicted, yet no row holds any of the keys.
		err = fmt.Errorf("report UID %d: insert conflicted but no stored row matches", row.meta.UID)
	}
	return 0, false, err
}

// KindSkipped marks a report row that was not downloaded (too large).
const KindSkipped = "skipped"

// RecordSkipped keeps a trace of a message that looked like a report but was
// not downloaded (larger than the cap), so the user can see it among the
// unmatched reports. Recording the same location twice is a no-op.
func (r *Reports) RecordSkipped(ctx context.Context, meta Meta, size int64, note string) (int64, error) {
	if meta.ReceivedAt.IsZero() {
		meta.ReceivedAt = r.now()
	}
	var id int64
	err := r.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		var err error
		id, _, err = upsertReport(newPtx(ctx, tx), reportRow{meta: meta, kind: KindSkipped, size: size, note: note})
		return err
	})
	return id, err
}

// MarkFiled records that the report was moved into the filing folder.
func (r *Reports) MarkFiled(ctx context.Context, id int64, mailbox string) error {
	_, err := r.Store.DB.W.ExecContext(ctx, `UPDATE reports SET filed=1, mailbox=?, uid=0 WHERE id=?`, mailbox, id)
	return err
}

// Stored is one row of the reports table, without the raw bytes.
type Stored struct {
	ID          int64
	Account     string
	Mailbox     string
	UIDValidity uint32
	UID         uint32
	MessageID   string
	Kind        string
	Size        int64
	ReceivedAt  time.Time
	ReportDate  time.Time
	Parsed      string // report.InspectView JSON
	Matched     int
	Unmatched   int
	Note        string
	Filed       bool
}

// Summary says whom a stored report is about and what it says, from its
// parsed fields: "nobody@example.net 5.1.1, ...", or its subject.
func (s Stored) Summary() string {
	var v report.InspectView
	if json.Unmarshal([]byte(s.Parsed), &v) != nil {
		return ""
	}
	var parts []string
	for _, r := range v.Recipients {
		parts = append(parts, strings.TrimSpace(r.Address+" "+r.Status))
	}
	if len(parts) > 0 {
		if len(parts) > 3 {
			parts = append(parts[:3], fmt.Sprintf("and %d more", len(parts)-3))
		}
		return strings.Join(parts, ", ")
	}
	return v.Subject
}

const storedColumns = `id, account, mailbox, uid_validity, uid, message_id, kind, size, received_at, report_date,
	parsed, matched, unmatched, note, filed`

func scanStored(rows *sql.Rows) ([]Stored, error) {
	defer rows.Close()
	var out []Stored
	for rows.Next() {
		var s Stored
		var recv, date int64
		if err := rows.Scan(&s.ID, &s.Account, &s.Mailbox, &s.UIDValidity, &s.UID, &s.MessageID, &s.Kind, &s.Size,
			&recv, &date, &s.Parsed, &s.Matched, &s.Unmatched, &s.Note, &s.Filed); err != nil {
			return nil, err
		}
		s.ReceivedAt, s.ReportDate = store.FromMillis(recv), store.FromMillis(date)
		out = append(out, s)
	}
	return out, rows.Err()
}

// Unmatched lists the reports that matched no recipient (and the ones not
// downloaded because of their size), newest first. Ordinary mail that only
// looked like a report is not listed.
func (r *Reports) Unmatched(ctx context.Context) ([]Stored, error) {
	rows, err := r.Store.DB.R.QueryContext(ctx, `SELECT `+storedColumns+` FROM reports
		WHERE matched=0 AND kind<>? ORDER BY received_at DESC, id DESC`, string(report.KindNotAReport))
	if err != nil {
		return nil, err
	}
	return scanStored(rows)
}

// Get returns one stored report and its raw bytes (nil when not kept).
func (r *Reports) Get(ctx context.Context, id int64) (*Stored, []byte, error) {
	rows, err := r.Store.DB.R.QueryContext(ctx, `SELECT `+storedColumns+` FROM reports WHERE id=?`, id)
	if err != nil {
		return nil, nil, err
	}
	got, err := scanStored(rows)
	if err != nil {
		return nil, nil, err
	}
	if len(got) == 0 {
		return nil, nil, store.ErrNotFound
	}
	var raw []byte
	if err := r.Store.DB.R.QueryRowContext(ctx, `SELECT raw FROM reports WHERE id=?`, id).Scan(&raw); err != nil {
		return nil, nil, err
	}
	return &got[0], raw, nil
}

// Rematch runs matching again for every unmatched report that was kept
// raw (after messages were imported, or after a matching fix). Events carry
// the same dedup keys, so nothing is ever recorded twice.
func (r *Reports) Rematch(ctx context.Context) (int, error) {
	rows, err := r.Store.DB.R.QueryContext(ctx, `SELECT id, account, mailbox, uid_validity, uid, received_at FROM reports
		WHERE matched=0 AND raw IS NOT NULL ORDER BY id`)
	if err != nil {
		return 0, err
	}
	type item struct {
		id   int64
		meta Meta
	}
	var items []item
	for rows.Next() {
		var it item
		var recv int64
		if err := rows.Scan(&it.id, &it.meta.Account, &it.meta.Mailbox, &it.meta.UIDValidity, &it.meta.UID, &recv); err != nil {
			rows.Close()
			return 0, err
		}
		it.meta.ReceivedAt = store.FromMillis(recv)
		items = append(items, it)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, it := range items {
		_, raw, err := r.Get(ctx, it.id)
		if err != nil {
			return n, err
		}
		res, err := r.Ingest(ctx, raw, it.meta)
		if err != nil {
			return n, err
		}
		if res.Matched() > 0 {
			n++
		}
	}
	return n, nil
}
