// Package store is the SQLite side of the delivery domain: the core tables
// (messages, copies, recipients, events, suppressions, settings), adding
// events with their evidence, and refreshing each recipient's cached status
// from its events with tracking.Derive in the same transaction.
//
// Invariant: events are the source of truth; recipients.status and the
// engagement counters are a cache that only Refresh writes.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the event store and the owner of the core tables.
type Store struct {
	DB *sqlitedb.DB
	// hot holds AddEvent's statements prepared on DB.W (nil for a Store
	// built without OpenStore: AddEvent then prepares them each time).
	hot *Prepared
}

// OpenStore applies the core migrations, prepares the event statements on
// the writer connection and returns the store.
func OpenStore(ctx context.Context, db *sqlitedb.DB) (*Store, error) {
	if err := db.Migrate(ctx, "tracking", migrations, "migrations"); err != nil {
		return nil, err
	}
	hot, err := Prepare(ctx, db.W, hotQueries, bulkStmts)
	if err != nil {
		return nil, fmt.Errorf("prepare event statements: %w", err)
	}
	return &Store{DB: db, hot: hot}, nil
}

// NewID is tracking.NewID.
func NewID() string { return tracking.NewID() }

// ErrNotFound is returned when a message or recipient does not exist.
var ErrNotFound = errors.New("not found")

// AddEvent records one event inside tx and refreshes the recipient's cached
// status and engagement. It returns false (and no error) when an event with
// the same DedupKey exists already, which makes report ingestion idempotent.
func AddEvent(ctx context.Context, tx *sql.Tx, e tracking.Event) (bool, error) {
	return addEvent(ctx, tx, nil, e)
}

// AddEvent is the package's AddEvent with the statements this Store
// prepared on the writer connection (tx must be a DB.W transaction): the
// outbox adds several events per copy it sends.
func (s *Store) AddEvent(ctx context.Context, tx *sql.Tx, e tracking.Event) (bool, error) {
	return addEvent(ctx, tx, s.hot, e)
}

// withDefaults fills what an event may leave out: an empty detail object,
// and now for a zero time.
func withDefaults(e tracking.Event) tracking.Event {
	if e.Detail == "" {
		e.Detail = "{}"
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	return e
}

func addEvent(ctx context.Context, tx *sql.Tx, hot *Prepared, e tracking.Event) (bool, error) {
	e = withDefaults(e)
	var dedup any
	if e.DedupKey != "" {
		dedup = e.DedupKey
	}
	var report any
	if e.Report != 0 {
		report = e.Report
	}
	at := tracking.Millis(e.At)
	res, err := hot.Exec(ctx, tx, qInsertEvent,
		e.Recipient, at, string(e.Kind), string(e.Source), e.Command, e.Code, e.EnhancedCode,
		e.Text, e.Match, e.Detail, report, dedup)
	if err != nil {
		return false, fmt.Errorf("add %s event: %w", e.Kind, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	return true, refreshWith(ctx, tx, hot, e, at)
}

// refreshWith refreshes the recipient's cache after e was inserted. The
// common case, an event at or after all the recipient's others (the new
// row has the highest id, so it sorts last on a tie), applies e to the
// cached result with tracking's own rules (StateOf/Apply), which equals
// Derive over every event without reading them. An event from the past
// (a report dated before later events) derives again from all of them.
func refreshWith(ctx context.Context, tx *sql.Tx, hot *Prepared, e tracking.Event, at int64) error {
	var message, status string
	var eng tracking.Engagement
	var last, msgLast int64
	err := hot.QueryRow(ctx, tx, qRecipientCache, e.Recipient).Scan(&message, &status,
		&eng.OpensTotal, &eng.OpensHuman, &eng.OpensMachine, &eng.Clicks, &eng.Read, &eng.Replied, &last, &msgLast)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("recipient %d: %w", e.Recipient, ErrNotFound)
	}
	if err != nil {
		return err
	}
	if at < last {
		return Refresh(ctx, tx, e.Recipient)
	}
	st, eng := tracking.StateOf(tracking.Status(status), eng).Apply(e).Result()
	if string(st) == status {
		// Leave the status column alone: writing it, even unchanged,
		// rewrites the entries of every index on it.
		if _, err := hot.Exec(ctx, tx, qWriteCacheKeepStatus,
			eng.OpensTotal, eng.OpensHuman, eng.OpensMachine, eng.Clicks, eng.Read, eng.Replied, at, e.Recipient); err != nil {
			return err
		}
	} else if _, err := hot.Exec(ctx, tx, qWriteCache,
		string(st), eng.OpensTotal, eng.OpensHuman, eng.OpensMachine, eng.Clicks, eng.Read, eng.Replied, at, e.Recipient); err != nil {
		return err
	}
	if at <= msgLast {
		return nil // the message's time is not older: nothing to raise
	}
	_, err = hot.Exec(ctx, tx, qMessageLast, at, message, at)
	return err
}

// Refresh recomputes the cached status and engagement of one recipient from
// all its events.
func Refresh(ctx context.Context, tx *sql.Tx, recipient int64) error {
	evs, err := eventsOf(ctx, tx, recipient)
	if err != nil {
		return err
	}
	status, eng := tracking.Derive(evs)
	var last int64
	for _, e := range evs {
		last = max(last, tracking.Millis(e.At))
	}
	var message string
	if err := tx.QueryRowContext(ctx, `SELECT message FROM recipients WHERE id=?`, recipient).Scan(&message); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil // nothing to refresh
		}
		return err
	}
	return writeCache(ctx, tx, nil, recipient, message, status, eng, last)
}

func writeCache(ctx context.Context, tx *sql.Tx, hot *Prepared, recipient int64, message string, status tracking.Status, eng tracking.Engagement, last int64) error {
	if _, err := hot.Exec(ctx, tx, qWriteCache,
		string(status), eng.OpensTotal, eng.OpensHuman, eng.OpensMachine, eng.Clicks, eng.Read, eng.Replied, last, recipient); err != nil {
		return err
	}
	_, err := hot.Exec(ctx, tx, qMessageLast, last, message, last)
	return err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const eventColumns = `id, recipient, at, kind, source, command, code, enhanced_code, text, match, detail, coalesce(report,0), coalesce(dedup_key,'')`

func scanEvents(rows *sql.Rows) ([]tracking.Event, error) {
	defer rows.Close()
	var out []tracking.Event
	for rows.Next() {
		var e tracking.Event
		var at int64
		var kind, source string
		if err := rows.Scan(&e.ID, &e.Recipient, &at, &kind, &source, &e.Command, &e.Code, &e.EnhancedCode,
			&e.Text, &e.Match, &e.Detail, &e.Report, &e.DedupKey); err != nil {
			return nil, err
		}
		e.At, e.Kind, e.Source = tracking.FromMillis(at), tracking.EventKind(kind), tracking.Source(source)
		out = append(out, e)
	}
	return out, rows.Err()
}

func eventsOf(ctx context.Context, q querier, recipient int64) ([]tracking.Event, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE recipient=? ORDER BY at, id`, recipient)
	if err != nil {
		return nil, err
	}
	return scanEvents(rows)
}

// Events returns the timeline of one recipient, oldest first.
func (s *Store) Events(ctx context.Context, recipient int64) ([]tracking.Event, error) {
	return eventsOf(ctx, s.DB.R, recipient)
}

// Suppress adds an address to the suppression list (idempotent).
func Suppress(ctx context.Context, tx *sql.Tx, address, reason string, event int64, at time.Time) error {
	var ev any
	if event != 0 {
		ev = event
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO suppressions(address, reason, added_at, event) VALUES(?,?,?,?)
		ON CONFLICT(address) DO NOTHING`, strings.ToLower(address), reason, tracking.Millis(at), ev)
	return err
}

// Suppression is one entry of the suppression list.
type Suppression struct {
	Address string
	Reason  string
	AddedAt time.Time
	Event   int64
}

// IsSuppressed reports the entry for address, if any.
func (s *Store) IsSuppressed(ctx context.Context, address string) (*Suppression, error) {
	var e Suppression
	var at int64
	err := s.DB.R.QueryRowContext(ctx, `SELECT address, reason, added_at, coalesce(event,0) FROM suppressions WHERE address=?`,
		strings.ToLower(address)).Scan(&e.Address, &e.Reason, &at, &e.Event)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	e.AddedAt = tracking.FromMillis(at)
	return &e, nil
}

// Unsuppress removes an address from the list; removing an absent address
// is not an error.
func (s *Store) Unsuppress(ctx context.Context, address string) error {
	_, err := s.DB.W.ExecContext(ctx, `DELETE FROM suppressions WHERE address=?`, strings.ToLower(address))
	return err
}

// Suppressions lists the whole suppression list, newest first.
func (s *Store) Suppressions(ctx context.Context) ([]Suppression, error) {
	rows, err := s.DB.R.QueryContext(ctx, `SELECT address, reason, added_at, coalesce(event,0) FROM suppressions ORDER BY added_at DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Suppression
	for rows.Next() {
		var e Suppression
		var at int64
		if err := rows.Scan(&e.Address, &e.Reason, &at, &e.Event); err != nil {
			return nil, err
		}
		e.AddedAt = tracking.FromMillis(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Setting reads one setting; def when absent.
func (s *Store) Setting(ctx context.Context, key, def string) (string, error) {
	var v string
	err := s.DB.R.QueryRowContext(ctx, `SELECT value FROM settings WHERE key=?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return def, nil
	}
	return v, err
}

// SetSetting writes one setting.
func (s *Store) SetSetting(ctx context.Context, key, value string) error {
	_, err := s.DB.W.ExecContext(ctx, `INSERT INTO settings(key, value) VALUES(?,?)
		ON CONFLICT(key) DO UPDATE SET value=excluded.value`, key, value)
	return err
}

// Millis and FromMillis are tracking.Millis and tracking.FromMillis, kept
// here because SQL code reaches for them beside the queries.
func Millis(t time.Time) int64 { return tracking.Millis(t) }

// FromMillis converts the stored form back; 0 is the zero time.
func FromMillis(ms int64) time.Time { return tracking.FromMillis(ms) }
