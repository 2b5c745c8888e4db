package outbox

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailroom/tracking"
	"mailroom/tracking/store"
)

// Kinds of Recipient.Kind.
const (
	KindTo  = "to"
	KindCc  = "cc"
	KindBcc = "bcc"
)

// Message is one message to send: its envelope sender, its identity
// (Message-ID, fixed here and reused by every attempt) and its wire copies.
type Message struct {
	ID          string // optional; a new short id when empty
	Account     string
	From        string // MAIL FROM (the account's address)
	Subject     string // for the outbox list only; the header is in Body
	MessageID   string // "<...@...>", as in the body's Message-ID header
	DueAt       time.Time
	TrackOpens  bool
	TrackClicks bool
	Copies      []Copy
	// Also, when set, runs inside the enqueue transaction once the
	// message's rows are written, for rows of other components that must
	// exist exactly when the message does (the app's Sent copy).
	Also func(ctx context.Context, tx *sql.Tx, id string) error `json:"-"`
}

// Copy is one wire copy: the whole message for everyone, or one per
// recipient when personalized (tracking pixel). EnvID is its ENVID
// (RFC 3461), unique per copy and fixed at enqueue.
type Copy struct {
	EnvID      string // a new one when empty
	TrackingID string
	Body       []byte // the complete RFC 5322 message, CRLF line endings
	Recipients []Recipient
	// SharedPrefix and SharedSuffix, when not zero, say that Body holds
	// only the middle of this copy: the whole is the first SharedPrefix
	// bytes of the message's first copy, Body, then that copy's last
	// SharedSuffix bytes. Share sets them.
	SharedPrefix, SharedSuffix int
}

// Share stores c as a copy sharing its start and end with first, the
// whole body of the message's first copy, when they have at least
// store.MinShared bytes in common: Body keeps only the bytes in between.
// Enqueue does this for every whole copy after the first; a caller that
// builds many large copies calls it as each one is built, so that they
// are never all in memory at once.
func (c *Copy) Share(first []byte) {
	if c.SharedPrefix != 0 || c.SharedSuffix != 0 {
		return
	}
	prefix, suffix := store.Shared(first, c.Body)
	if prefix+suffix < store.MinShared {
		return
	}
	c.Body = bytes.Clone(c.Body[prefix : len(c.Body)-suffix])
	c.SharedPrefix, c.SharedSuffix = prefix, suffix
}

// size is the length of the whole copy.
func (c *Copy) size() int { return c.SharedPrefix + len(c.Body) + c.SharedSuffix }

// Recipient is one RCPT TO of a copy.
type Recipient struct {
	Address   string
	Kind      string // to|cc|bcc; "" is to
	Trackable bool   // this copy carries a pixel for this recipient
}

// ErrDuplicate is returned (wrapped), together with the existing id, when
// a message with the same Message-ID was enqueued already, so a caller
// that retries after an unclear failure does not queue it twice.
var ErrDuplicate = errors.New("a message with this Message-ID is already in the outbox")

func (m *Message) check() error {
	var errs []error
	if strings.TrimSpace(m.Account) == "" {
		errs = append(errs, errors.New("no account"))
	}
	if err := checkPath("from", m.From); err != nil {
		errs = append(errs, err)
	}
	if !strings.HasPrefix(m.MessageID, "<") || !strings.HasSuffix(m.MessageID, ">") || strings.ContainsAny(m.MessageID, "\r\n ") {
		errs = append(errs, fmt.Errorf("Message-ID %q must look like <id@host>", m.MessageID))
	}
	if len(m.Copies) == 0 {
		errs = append(errs, errors.New("no copies"))
	}
	envids := map[string]bool{}
	for i, c := range m.Copies {
		if c.size() == 0 {
			errs = append(errs, fmt.Errorf("copy %d: empty body", i+1))
		}
		if shared := c.SharedPrefix + c.SharedSuffix; shared != 0 {
			switch {
			case i == 0:
				errs = append(errs, errors.New("copy 1: the first copy must be whole (it is the others' base)"))
			case c.SharedPrefix < 0 || c.SharedSuffix < 0 || shared > len(m.Copies[0].Body):
				errs = append(errs, fmt.Errorf("copy %d: shares %d+%d bytes of a %d-byte first copy", i+1,
					c.SharedPrefix, c.SharedSuffix, len(m.Copies[0].Body)))
			}
		}
		if c.EnvID != "" {
			if envids[c.EnvID] {
				errs = append(errs, fmt.Errorf("copy %d: ENVID %q used twice", i+1, c.EnvID))
			}
			envids[c.EnvID] = true
			for _, r := range c.EnvID {
				// RFC 3461 ENVID is xtext of printable ASCII; keep it simple.
				if r <= ' ' || r > '~' || r == '+' || r == '=' {
					errs = append(errs, fmt.Errorf("copy %d: ENVID %q must be printable ASCII without space, + or =", i+1, c.EnvID))
					break
				}
			}
		}
		if len(c.Recipients) == 0 {
			errs = append(errs, fmt.Errorf("copy %d: no recipients", i+1))
		}
		seen := map[string]bool{}
		for _, r := range c.Recipients {
			if err := checkPath("recipient", r.Address); err != nil {
				errs = append(errs, fmt.Errorf("copy %d: %w", i+1, err))
			}
			switch r.Kind {
			case "", KindTo, KindCc, KindBcc:
			default:
				errs = append(errs, fmt.Errorf("copy %d: recipient %s: kind %q must be to, cc or bcc", i+1, r.Address, r.Kind))
			}
			k := strings.ToLower(r.Address)
			if seen[k] {
				errs = append(errs, fmt.Errorf("copy %d: %s appears twice", i+1, r.Address))
			}
			seen[k] = true
		}
	}
	return errors.Join(errs...)
}

// checkPath checks an SMTP path as it will go on the wire: an addr-spec,
// no brackets, spaces or control characters (the submit layer checks
// again; this keeps garbage out of the durable queue).
func checkPath(what, a string) error {
	if a == "" || strings.ContainsAny(a, "<> \t\r\n\x00") || strings.Count(a, "@") < 1 ||
		strings.HasPrefix(a, "@") || strings.HasSuffix(a, "@") {
		return fmt.Errorf("%s %q is not an address", what, a)
	}
	return nil
}

// Enqueue commits a message to the outbox: its bytes, envelope, every
// recipient and a "queued" event per recipient in one transaction with
// synchronous=FULL. When it returns nil the message survives a crash or a
// power loss. It wakes a running Runner.
func (o *Outbox) Enqueue(ctx context.Context, m Message) (string, error) {
	if err := m.check(); err != nil {
		return "", fmt.Errorf("enqueue: %w", err)
	}
	now := o.now()
	if m.ID == "" {
		m.ID = store.NewID()
	}
	due := now
	if m.DueAt.After(now) {
		due = m.DueAt
	}
	size := 0
	for i := range m.Copies {
		if i > 0 {
			m.Copies[i].Share(m.Copies[0].Body)
		}
		size += m.Copies[i].size()
	}
	detail := "{}"
	if due.After(now) {
		b, _ := json.Marshal(map[string]string{"due_at": due.UTC().Format(time.RFC3339)})
		detail = string(b)
	}
	var existing string
	err := o.Store.DB.WithFullSyncTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT id FROM messages WHERE message_id=?`, m.MessageID).Scan(&existing)
		if err == nil {
			return fmt.Errorf("%w (id %s)", ErrDuplicate, existing)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO messages(id, account, from_addr, subject, message_id, created_at, due_at,
			track_opens, track_clicks, size) VALUES(?,?,?,?,?,?,?,?,?,?)`,
			m.ID, m.Account, m.From, m.Subject, m.MessageID, store.Millis(now), store.Millis(due),
			m.TrackOpens, m.TrackClicks, size); err != nil {
			return err
		}
		insCopy, err := tx.PrepareContext(ctx, `INSERT INTO copies(message, envid, tracking_id, body, base, base_prefix, base_suffix)
			VALUES(?,?,?,?,?,?,?)`)
		if err != nil {
			return err
		}
		defer insCopy.Close()
		var rcpts []newRcpt
		var firstID int64
		for i, c := range m.Copies {
			envid := c.EnvID
			if envid == "" {
				envid = m.ID + "." + store.NewID()
			}
			var base any
			if c.SharedPrefix+c.SharedSuffix > 0 {
				base = firstID
			}
			res, err := insCopy.ExecContext(ctx, m.ID, envid, c.TrackingID, c.Body, base, c.SharedPrefix, c.SharedSuffix)
			if err != nil {
				return fmt.Errorf("copy %s: %w", envid, err)
			}
			cid, _ := res.LastInsertId()
			if i == 0 {
				firstID = cid
			}
			for _, r := range c.Recipients {
				kind := r.Kind
				if kind == "" {
					kind = KindTo
				}
				rcpts = append(rcpts, newRcpt{copyID: cid, address: r.Address, kind: kind, trackable: r.Trackable})
			}
		}
		if err := o.insertRecipients(ctx, tx, m.ID, store.Millis(due), rcpts); err != nil {
			return err
		}
		evs := make([]tracking.Event, len(rcpts))
		for i, r := range rcpts {
			evs[i] = tracking.Event{Recipient: r.id, At: now, Kind: tracking.EvQueued, Source: tracking.SrcOutbox, Detail: detail}
		}
		if err := o.Store.AddEvents(ctx, tx, evs); err != nil {
			return err
		}
		if m.Also != nil {
			return m.Also(ctx, tx, m.ID)
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrDuplicate) {
			return existing, err
		}
		return "", fmt.Errorf("enqueue: %w", err)
	}
	o.changed(m.ID)
	o.Kick()
	return m.ID, nil
}

// newRcpt is a recipient row Enqueue inserts; id is set by the insert.
type newRcpt struct {
	copyID    int64
	address   string
	kind      string
	trackable bool
	id        int64
}

// rcptBatch is how many recipients one INSERT carries. Each statement that
// inserts recipients makes the search index (tracking/view's trigram FTS
// trigger) flush its pending terms to disk, so a statement per recipient
// made a bulk enqueue pay that flush thousands of times.
const rcptBatch = 200

// qInsertRcpts is the insert of a whole batch of recipients, prepared by
// Open: parsing its 200 rows took ~0.3 ms.
var qInsertRcpts = insertRcptsText(rcptBatch)

// insertRcptsText is the insert of n recipients. RETURNING's row order is
// unspecified: insertRecipients matches rows by copy and address (unique
// within a copy, checked by Message.check).
func insertRcptsText(n int) string {
	var q strings.Builder
	q.WriteString(`INSERT INTO recipients(message, copy, address, kind, status, next_attempt_at, trackable) VALUES `)
	for i := range n {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString(`(?,?,?,?,'queued',?,?)`)
	}
	q.WriteString(` RETURNING id, copy, address`)
	return q.String()
}

// insertRecipients inserts the recipients rcptBatch rows per statement and
// sets their ids.
func (o *Outbox) insertRecipients(ctx context.Context, tx *sql.Tx, message string, due int64, rcpts []newRcpt) error {
	type key struct {
		copyID  int64
		address string
	}
	for start := 0; start < len(rcpts); start += rcptBatch {
		part := rcpts[start:min(start+rcptBatch, len(rcpts))]
		args := make([]any, 0, 6*len(part))
		for _, r := range part {
			args = append(args, message, r.copyID, r.address, r.kind, due, r.trackable)
		}
		q := qInsertRcpts
		if len(part) < rcptBatch {
			q = insertRcptsText(len(part))
		}
		rows, err := o.query(ctx, tx, q, args...)
		if err != nil {
			return err
		}
		ids := make(map[key]int64, len(part))
		for rows.Next() {
			var id int64
			var k key
			if err := rows.Scan(&id, &k.copyID, &k.address); err != nil {
				rows.Close()
				return err
			}
			ids[k] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range part {
			id, ok := ids[key{part[i].copyID, part[i].address}]
			if !ok {
				return fmt.Errorf("recipient %s: no id returned", part[i].address)
			}
			part[i].id = id
		}
	}
	return nil
}
