package reports

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

// The corpus reports were made on this day (testdata/postfix-dsn).
var corpusDay = time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)

type env struct {
	t   *testing.T
	ctx context.Context
	st  *store.Store
	rep *Reports
	n   int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "t.db"), sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := store.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, ctx: ctx, st: st, rep: r}
}

// sent describes one message as the outbox would have recorded it.
type sent struct {
	account   string // default "main"
	messageID string
	at        time.Time // created and accepted
	copies    []sentCopy
}

type sentCopy struct {
	envid, trackingID string
	rcpts             []string // "addr" or "cc:addr"
}

// send inserts a message with its copies and recipients, each with an
// "accepted" event, and returns the recipient ids by address.
func (e *env) send(m sent) map[string]int64 {
	e.t.Helper()
	e.n++
	if m.account == "" {
		m.account = "main"
	}
	if m.messageID == "" {
		m.messageID = fmt.Sprintf("<msg-%d@mailroom.test>", e.n)
	}
	ids := map[string]int64{}
	id := fmt.Sprintf("m%d", e.n)
	err := e.st.DB.WithTx(e.ctx, func(tx *sql.Tx) error {
		at := store.Millis(m.at)
		if _, err := tx.Exec(`INSERT INTO messages(id, account, from_addr, subject, message_id, created_at, due_at)
			VALUES(?,?,?,?,?,?,?)`, id, m.account, "alice@example.test", "test", m.messageID, at, at); err != nil {
			return err
		}
		for ci, c := range m.copies {
			if c.envid == "" {
				c.envid = fmt.Sprintf("env-%s-%d", id, ci)
			}
			res, err := tx.Exec(`INSERT INTO copies(message, envid, tracking_id, body) VALUES(?,?,?,x'00')`, id, c.envid, c.trackingID)
			if err != nil {
				return err
			}
			cid, _ := res.LastInsertId()
			for _, a := range c.rcpts {
				kind := "to"
				if k, addr, ok := strings.Cut(a, ":"); ok {
					kind, a = k, addr
				}
				res, err := tx.Exec(`INSERT INTO recipients(message, copy, address, kind, status, first_attempt_at)
					VALUES(?,?,?,?,'queued',?)`, id, cid, a, kind, at)
				if err != nil {
					return err
				}
				rid, _ := res.LastInsertId()
				ids[a] = rid
				if _, err := store.AddEvent(e.ctx, tx, tracking.Event{Recipient: rid, At: m.at, Kind: tracking.EvAccepted,
					Source: tracking.SrcSMTP, Code: 250}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return ids
}

func (e *env) ingest(raw []byte, uid uint32) Result {
	e.t.Helper()
	res, err := e.rep.Ingest(e.ctx, raw, Meta{Account: "main", Mailbox: "INBOX", UIDValidity: 1, UID: uid, ReceivedAt: corpusDay.Add(time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) status(rid int64) tracking.Status {
	e.t.Helper()
	var s string
	if err := e.st.DB.R.QueryRow(`SELECT status FROM recipients WHERE id=?`, rid).Scan(&s); err != nil {
		e.t.Fatal(err)
	}
	return tracking.Status(s)
}

// reportEvents returns the events of rid that came from reports.
func (e *env) reportEvents(rid int64) []tracking.Event {
	e.t.Helper()
	evs, err := e.st.Events(e.ctx, rid)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []tracking.Event
	for _, ev := range evs {
		if ev.Report != 0 {
			out = append(out, ev)
		}
	}
	return out
}

func (e *env) countEvents() int {
	var n int
	e.st.DB.R.QueryRow(`SELECT count(*) FROM events`).Scan(&n)
	return n
}

func corpus(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "postfix-dsn", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// crlf turns a readable fixture into wire form.
func crlf(s string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimPrefix(s, "\n"), "\n", "\r\n"))
}

// dsn builds an RFC 3464 report: per-message fields, one block per
// recipient, and the returned headers.
func dsn(messageID, perMessage string, perRecipient []string, returned string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: alice@example.test
Subject: Delivery Status Notification
Date: Mon, 23 Nov 2026 19:30:00 +0000
Message-ID: %s
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BB"

--BB
Content-Type: text/plain

Your message could not be delivered to some recipients.

--BB
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
%s
`, messageID, strings.TrimSpace(perMessage))
	for _, r := range perRecipient {
		b.WriteString("\n" + strings.TrimSpace(r) + "\n")
	}
	b.WriteString("\n--BB\nContent-Type: text/rfc822-headers\n\n" + strings.TrimSpace(returned) + "\n\n--BB--\n")
	return crlf(b.String())
}
