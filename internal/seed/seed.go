// Package seed fills a Mailroom database with generated sent mail: a
// realistic mix of statuses, reports and opens, for the tracking view's
// benchmark, for screenshots and for trying the app. The first messages
// are fixed showcase cases (a bounce, opens, a delayed report) so a
// screenshot always has something to show.
package seed

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking"
)

// Options shape the generated data.
type Options struct {
	Messages int
	// RecipientsPerMessage averages about 3; EventsPerRecipient about 1.7
	// beyond "queued" (the benchmark's 100k / 300k / 500k).
	Now  time.Time
	Seed uint64
}

type ev struct {
	kind   tracking.EventKind
	source tracking.Source
	code   int
	enh    string
	cmd    string
	text   string
	detail any
	after  time.Duration
}

var subjects = []string{"Invoice #%d", "Your order %d has shipped", "Password reset for account %d", "Quarterly report %d",
	"Meeting notes %d", "Contract renewal %d", "Welcome aboard, member %d", "Receipt %d"}
var domains = []string{"example.com", "example.org", "example.net", "mail.example", "corp.example"}

// journey returns a recipient's events, by a weighted draw.
func journey(r *rand.Rand, i int) []ev {
	// Generated history starts at the first answer (no "queued" event
	// except for mail still waiting), which keeps about 1.6 events per
	// recipient: the benchmark's 300,000 recipients and ~500,000 events.
	queued := ev{kind: tracking.EvQueued, source: tracking.SrcOutbox}
	accepted := ev{kind: tracking.EvAccepted, source: tracking.SrcSMTP, code: 250, enh: "2.0.0", cmd: ".",
		text: fmt.Sprintf("Ok: queued as %X", r.Uint32()), after: 2 * time.Second}
	x := r.IntN(100)
	switch {
	case x < 28:
		return []ev{accepted}
	case x < 62: // delivered: the commonest outcome with DSNs
		return []ev{accepted, {kind: tracking.EvDelivered, source: tracking.SrcDSN, enh: "2.0.0",
			text: "delivered to mailbox", after: time.Minute, detail: map[string]string{"action": "delivered", "reporting_mta": "mx.example.net"}}}
	case x < 72:
		return []ev{accepted, {kind: tracking.EvOpened, source: tracking.SrcPixel, after: time.Hour,
			detail: tracking.OpenDetail{Class: tracking.HumanLikely, Reason: "a mail client fetched the image an hour after delivery", UserAgent: "Thunderbird"}}}
	case x < 80:
		return []ev{accepted, {kind: tracking.EvBounced, source: tracking.SrcDSN, code: 550, enh: "5.1.1",
			text: "550 5.1.1 <user> User unknown in virtual mailbox table", after: 2 * time.Minute, detail: map[string]string{"action": "failed", "class": "permanent-address"}}}
	case x < 86:
		return []ev{{kind: tracking.EvDeferred, source: tracking.SrcSMTP, code: 451, enh: "4.3.0", cmd: "DATA", text: "Temporary lookup failure", after: time.Second}}
	case x < 90:
		return []ev{accepted, {kind: tracking.EvDelayed, source: tracking.SrcDSN, enh: "4.4.1", text: "connect to mx.example.net: Connection timed out", after: 4 * time.Hour}}
	case x < 94:
		return []ev{{kind: tracking.EvRejected, source: tracking.SrcSMTP, code: 550, enh: "5.7.1", cmd: "RCPT", text: "Relay access denied", after: time.Second}}
	case x < 96:
		return []ev{{kind: tracking.EvExpired, source: tracking.SrcOutbox, enh: "4.4.7", text: "gave up after 5 days of temporary failures", after: 120 * time.Hour}}
	case x < 98:
		return []ev{queued} // still waiting: its only event
	}
	return []ev{accepted, {kind: tracking.EvRelayed, source: tracking.SrcDSN, enh: "2.0.0", text: "relayed to a system that does not report", after: time.Minute}}
}

// showcase is the first message: one bounce, one human open and a proxy
// open, one accepted without reports.
func showcase() (string, []string, [][]ev) {
	q := ev{kind: tracking.EvQueued, source: tracking.SrcOutbox}
	acc := ev{kind: tracking.EvAccepted, source: tracking.SrcSMTP, code: 250, enh: "2.0.0", cmd: ".", text: "Ok: queued as 4F2A1C0D3E", after: 2 * time.Second}
	return "Invoice #1042 for November", []string{"billing@customer.example", "old.address@customer.example", "cfo@customer.example"},
		[][]ev{
			{q, acc,
				{kind: tracking.EvDelivered, source: tracking.SrcDSN, enh: "2.0.0", text: "delivered to mailbox", after: 40 * time.Second,
					detail: map[string]string{"action": "delivered", "reporting_mta": "mail.customer.example"}},
				{kind: tracking.EvOpened, source: tracking.SrcPixel, after: 45 * time.Second,
					detail: tracking.OpenDetail{Class: tracking.MachineOrProxy, Reason: "Google's image proxy fetched it (GoogleImageProxy): says nothing about a person", UserAgent: "GoogleImageProxy"}},
				{kind: tracking.EvOpened, source: tracking.SrcPixel, after: 3 * time.Hour,
					detail: tracking.OpenDetail{Class: tracking.HumanLikely, Reason: "a desktop mail client fetched the image hours after delivery", UserAgent: "Thunderbird/128.0"}},
				{kind: tracking.EvReplied, source: tracking.SrcReply, text: "Re: Invoice #1042 for November", after: 4 * time.Hour}},
			{q, acc,
				{kind: tracking.EvBounced, source: tracking.SrcDSN, code: 550, enh: "5.1.1", after: 20 * time.Second,
					text:   "host mail.customer.example said: 550 5.1.1 <old.address@customer.example>: Recipient address rejected: User unknown",
					detail: map[string]string{"action": "failed", "status": "5.1.1", "remote_mta": "mail.customer.example", "reporting_mta": "smtp.mailroom.example", "class": "permanent-address"}}},
			{q, acc},
		}
}

// Run writes opt.Messages messages into db (whose migrations must have
// run) and returns the counts written.
func Run(ctx context.Context, db *sqlitedb.DB, opt Options) (msgs, rcpts, events int, err error) {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	r := rand.New(rand.NewPCG(opt.Seed, 42))
	const batch = 2000
	for start := 0; start < opt.Messages; start += batch {
		err = db.WithTx(ctx, func(tx *sql.Tx) error {
			insM, err := tx.PrepareContext(ctx, `INSERT INTO messages(id, account, from_addr, subject, message_id, created_at, due_at, size, last_event_at, track_opens) VALUES(?,?,?,?,?,?,?,?,?,?)`)
			if err != nil {
				return err
			}
			insC, _ := tx.PrepareContext(ctx, `INSERT INTO copies(message, envid, body) VALUES(?,?,x'')`)
			insR, _ := tx.PrepareContext(ctx, `INSERT INTO recipients(message, copy, address, status, attempts, opens_total, opens_human, opens_machine, clicks, read, replied, last_event_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)`)
			insE, _ := tx.PrepareContext(ctx, `INSERT INTO events(recipient, at, kind, source, command, code, enhanced_code, text, detail) VALUES(?,?,?,?,?,?,?,?,?)`)
			for i := start; i < min(start+batch, opt.Messages); i++ {
				// Spread over the last 365 days, newest first in id order
				// (the step first: i * 365 days in nanoseconds overflows).
				created := opt.Now.Add(-time.Duration(i) * (365 * 24 * time.Hour / time.Duration(max(opt.Messages, 1))))
				id := fmt.Sprintf("%016x", uint64(i)+1)
				subject := fmt.Sprintf(subjects[i%len(subjects)], 1000+i)
				var addrs []string
				var journeys [][]ev
				if i == 0 {
					created = opt.Now.Add(-5 * time.Hour) // its reply came 4 h after sending
					subject, addrs, journeys = showcase()
				} else {
					n := 1 + r.IntN(5) // 1..5, mean 3
					for k := 0; k < n; k++ {
						addrs = append(addrs, fmt.Sprintf("user%d.%d@%s", i, k, domains[r.IntN(len(domains))]))
						journeys = append(journeys, journey(r, i))
					}
				}
				account := "work"
				if i%5 == 4 {
					account = "newsletter"
				}
				last := created
				tracked := false
				for _, j := range journeys {
					for _, e := range j {
						tracked = tracked || e.kind == tracking.EvOpened
					}
					t := created
					for _, e := range j {
						t = t.Add(e.after)
					}
					last = maxTime(last, minTime(t, opt.Now))
				}
				if _, err := insM.ExecContext(ctx, id, account, "sender@mailroom.example", subject, "<"+id+"@mailroom.example>",
					tracking.Millis(created), tracking.Millis(created), 4800, tracking.Millis(last), tracked); err != nil {
					return err
				}
				res, err := insC.ExecContext(ctx, id, "env-"+id)
				if err != nil {
					return err
				}
				copyID, _ := res.LastInsertId()
				for k, addr := range addrs {
					evs := make([]tracking.Event, 0, len(journeys[k]))
					at := created
					for n, e := range journeys[k] {
						// Nothing happens after now: a journey that would
						// end in the future ends now.
						at = at.Add(e.after)
						if at.After(opt.Now) {
							at = opt.Now
						}
						d := "{}"
						if e.detail != nil {
							b, _ := json.Marshal(e.detail)
							d = string(b)
						}
						evs = append(evs, tracking.Event{ID: int64(n), At: at, Kind: e.kind, Source: e.source, Command: e.cmd,
							Code: e.code, EnhancedCode: e.enh, Text: e.text, Detail: d})
					}
					status, eng := tracking.Derive(evs)
					res, err := insR.ExecContext(ctx, id, copyID, addr, string(status), 1, eng.OpensTotal, eng.OpensHuman, eng.OpensMachine,
						eng.Clicks, eng.Read, eng.Replied, tracking.Millis(at))
					if err != nil {
						return err
					}
					rid, _ := res.LastInsertId()
					for _, e := range evs {
						if _, err := insE.ExecContext(ctx, rid, tracking.Millis(e.At), string(e.Kind), string(e.Source), e.Command, e.Code,
							e.EnhancedCode, e.Text, e.Detail); err != nil {
							return err
						}
						events++
					}
					rcpts++
				}
				msgs++
			}
			return nil
		})
		if err != nil {
			return msgs, rcpts, events, err
		}
	}
	return msgs, rcpts, events, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
