package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"mailroom/mail/report"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

// Match keys, strongest first (DESIGN.md section 2), as stored in
// events.match.
const (
	KeyEnvID      = "envid"
	KeyORCPT      = "orcpt"
	KeyTrackingID = "tracking-id"
	KeyMessageID  = "message-id"
	KeyAddress    = "address"
)

// neverLeft are statuses a report cannot be about: the message never left
// (or has not left yet), so matching by address must not pick them.
const neverLeft = `('queued','sending','rejected','canceled')`

// clockSkew tolerates a reporting host whose clock is ahead of ours.
const clockSkew = time.Hour

// rcpt is one candidate recipient row.
type rcpt struct {
	id      int64
	address string
	kind    string // to|cc|bcc
}

// matcher runs inside the ingest transaction.
type matcher struct {
	ctx     context.Context
	tx      *ptx
	store   *store.Store // its AddEvent runs statements prepared once
	account string
	window  time.Duration
	// autoSubmitted is the report's Auto-Submitted header (RFC 3834):
	// an out-of-office answer is not a reply from a person.
	autoSubmitted string
}

func normAddr(a string) string {
	a = strings.TrimSpace(a)
	a = strings.TrimPrefix(strings.TrimPrefix(a, "rfc822;"), "RFC822;")
	return strings.ToLower(strings.Trim(strings.TrimSpace(a), "<>"))
}

func normMsgID(id string) string {
	id = strings.TrimSpace(id)
	if id == "" {
		return ""
	}
	if !strings.HasPrefix(id, "<") {
		id = "<" + id + ">"
	}
	return id
}

// reportTime is when the report was made (its Date), unless that is
// missing or in the future, then when we received it.
func reportTime(rep *report.Report, meta Meta, now time.Time) time.Time {
	if !rep.Date.IsZero() && rep.Date.Before(now.Add(clockSkew)) {
		return rep.Date
	}
	return meta.ReceivedAt
}

func (m *matcher) apply(rep *report.Report, meta Meta, reportID int64, res *Result) error {
	at := reportTime(rep, meta, meta.ReceivedAt)
	switch rep.Kind {
	case report.KindDSN, report.KindBounce:
		return m.delivery(rep, at, reportID, res)
	case report.KindMDN:
		return m.engagement(rep, at, reportID, res)
	case report.KindReply:
		return m.engagement(rep, at, reportID, res)
	default:
		res.Note = "not a report"
		return nil
	}
}

// scope is the set of recipients a strong key narrowed the report to.
type scope struct {
	key   string
	rcpts []rcpt
}

// lazyScope computes a scope on first use: most reports match by ENVID
// and never need the weaker keys' queries.
type lazyScope struct {
	key   string
	value string
	where string
	done  bool
	s     *scope
}

func (l *lazyScope) get(m *matcher) (*scope, error) {
	if l.done || l.value == "" {
		return l.s, nil
	}
	l.done = true
	rs, err := m.rcptsWhere(l.where, l.value)
	if err != nil {
		return nil, err
	}
	if len(rs) > 0 {
		l.s = &scope{l.key, rs}
	}
	return l.s, nil
}

// Scopes of the strong keys. Each narrows by r.message first, so that
// the lookup uses the core index recipients(message) and not a scan of
// every recipient: the index on recipients(copy) belongs to the outbox and
// is not there when only the core and reports migrations ran. The partial
// index on copies(tracking_id) needs the tracking_id<>” term. A test
// checks the plans (TestMatchQueriesUseIndexes).
const (
	whereEnvID      = `r.message=(SELECT message FROM copies WHERE envid=?1) AND r.copy=(SELECT id FROM copies WHERE envid=?1)`
	whereTrackingID = `r.message IN (SELECT message FROM copies WHERE tracking_id=?1 AND tracking_id<>'')
		AND r.copy IN (SELECT id FROM copies WHERE tracking_id=?1 AND tracking_id<>'')`
	whereMessageID = `r.message=(SELECT id FROM messages WHERE message_id=?)`
)

// delivery matches each recipient a DSN or bounce names and records its
// outcome.
func (m *matcher) delivery(rep *report.Report, at time.Time, reportID int64, res *Result) error {
	env := &lazyScope{key: KeyEnvID, value: rep.EnvelopeID, where: whereEnvID}
	track := &lazyScope{key: KeyTrackingID, value: rep.TrackingID, where: whereTrackingID}
	msg := &lazyScope{key: KeyMessageID, value: normMsgID(rep.ReturnedMessageID), where: whereMessageID}
	if len(rep.Recipients) == 0 {
		res.Note = "the report names no recipient"
	}
	for _, rr := range rep.Recipients {
		mt := Match{Address: rr.Address}
		r, key, note, err := m.resolve(rr, at, env, track, msg)
		if err != nil {
			return err
		}
		mt.Note = note
		if r != nil {
			mt.Recipient, mt.Key = r.id, key
			ev := deliveryEvent(rep, rr, at, key, note)
			if ev.At, err = m.afterAcceptance(r.id, at); err != nil {
				return err
			}
			ev.Recipient, ev.Report = r.id, reportID
			ev.DedupKey = dedupKey(reportID, r.id, ev.Kind)
			mt.Event = ev.Kind
			added, err := m.store.AddEvent(m.ctx, m.tx.Tx, ev)
			if err != nil {
				return err
			}
			mt.Added = added
			if ev.Kind == tracking.EvBounced && rr.Class == report.ClassPermanentAddress {
				if err := m.suppress(r.address, ev, at); err != nil {
					return err
				}
				res.Suppressed = append(res.Suppressed, r.address)
			}
		}
		res.Matches = append(res.Matches, mt)
	}
	return nil
}

// resolve applies the matching order to one named recipient.
func (m *matcher) resolve(rr report.Recipient, at time.Time, envL, trackL, msgL *lazyScope) (*rcpt, string, string, error) {
	addr, orcpt := normAddr(rr.Address), normAddr(rr.OriginalRecipient)
	// 1. ENVID: the copy is certain; pick the recipient inside it.
	env, err := envL.get(m)
	if err != nil {
		return nil, "", "", err
	}
	if env != nil {
		if r, how := pick(env.rcpts, addr, orcpt); r != nil {
			return r, KeyEnvID, how, nil
		}
	}
	// 2. ORCPT: exactly one recipient of this account was sent to it.
	if orcpt != "" && env == nil {
		rs, err := m.rcptsWhere(`lower(r.address)=? AND m.account=? AND r.status NOT IN `+neverLeft+`
			AND `+sentAt+` <= ? LIMIT 2`, orcpt, m.account, store.Millis(at.Add(clockSkew)))
		if err != nil {
			return nil, "", "", err
		}
		if len(rs) == 1 {
			return &rs[0], KeyORCPT, "the only message sent to this original recipient", nil
		}
	}
	// 3. Our tracking header, then the returned Message-ID.
	found := env != nil
	for _, l := range []*lazyScope{trackL, msgL} {
		s, err := l.get(m)
		if err != nil {
			return nil, "", "", err
		}
		if s == nil {
			continue
		}
		found = true
		if r, how := pick(s.rcpts, addr, orcpt); r != nil {
			return r, s.key, how, nil
		}
	}
	// 4. The address alone, among messages sent to it shortly before.
	for _, a := range []string{addr, orcpt} {
		if a == "" {
			continue
		}
		rs, err := m.rcptsWhere(`lower(r.address)=? AND m.account=? AND r.status NOT IN `+neverLeft+`
			AND `+sentAt+` BETWEEN ? AND ? ORDER BY `+sentAt+` DESC, r.id DESC LIMIT 2`,
			a, m.account, store.Millis(at.Add(-m.window)), store.Millis(at.Add(clockSkew)))
		if err != nil {
			return nil, "", "", err
		}
		if len(rs) > 0 {
			how := "the only message sent to this address in the window"
			if len(rs) > 1 {
				how = "the most recent of several messages sent to this address in the window"
			}
			return &rs[0], KeyAddress, how, nil
		}
	}
	if found {
		return nil, "", "the report is about one of our messages, but not about this address", nil
	}
	return nil, "", "no message of this account matches the report's keys", nil
}

// afterAcceptance places a report's event no earlier than the latest
// acceptance of the recipient's copy. A report cannot precede it, but its
// Date has whole seconds and another machine's clock: a DSN written in
// the same second as the 250 would otherwise sort before "accepted" and
// the timeline would tell the story backwards. The report's own dates
// stay in the event's evidence (and in the stored report).
func (m *matcher) afterAcceptance(recipient int64, at time.Time) (time.Time, error) {
	var acc sql.NullInt64
	if err := m.tx.scanRow(qLastAccepted, []any{recipient}, &acc); err != nil {
		return at, err
	}
	if acc.Valid && store.FromMillis(acc.Int64).After(at) {
		return store.FromMillis(acc.Int64), nil
	}
	return at, nil
}

// qLastAccepted reads the recipient's events through events(recipient, at).
const qLastAccepted = `SELECT max(at) FROM events WHERE recipient=? AND kind='accepted'`

// sentAt is when a recipient's copy was first attempted, else when the
// message was queued.
const sentAt = `(CASE WHEN r.first_attempt_at>0 THEN r.first_attempt_at ELSE m.created_at END)`

// pick chooses the recipient inside a scope: the final address, then the
// original recipient, then the only recipient of a one-recipient scope
// (an alias or forward rewrote the address on the way).
func pick(rs []rcpt, addr, orcpt string) (*rcpt, string) {
	for _, a := range []string{addr, orcpt} {
		if a == "" {
			continue
		}
		for i := range rs {
			if strings.EqualFold(rs[i].address, a) {
				if a == addr {
					return &rs[i], ""
				}
				return &rs[i], "by original recipient"
			}
		}
	}
	if len(rs) == 1 {
		return &rs[0], "the only recipient of that copy (the report names another address)"
	}
	return nil, ""
}

func (m *matcher) rcptsWhere(where string, args ...any) ([]rcpt, error) {
	rows, err := m.tx.query(`SELECT r.id, r.address, r.kind FROM recipients r
		JOIN messages m ON m.id=r.message WHERE `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []rcpt
	for rows.Next() {
		var r rcpt
		if err := rows.Scan(&r.id, &r.address, &r.kind); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func dedupKey(reportID, recipient int64, kind tracking.EventKind) string {
	return fmt.Sprintf("report:%d:%d:%s", reportID, recipient, kind)
}

// suppress adds a permanently bad address with its bounce as evidence.
func (m *matcher) suppress(address string, ev tracking.Event, at time.Time) error {
	var eventID int64
	err := m.tx.scanRow(`SELECT id FROM events WHERE dedup_key=?`, []any{ev.DedupKey}, &eventID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	reason := "bounced: " + strings.TrimSpace(ev.EnhancedCode+" "+ev.Text)
	return store.Suppress(m.ctx, m.tx.Tx, address, reason, eventID, at)
}

// engagement handles replies and MDNs: find the message they answer, pick
// the recipient, record replied or read.
func (m *matcher) engagement(rep *report.Report, at time.Time, reportID int64, res *Result) error {
	var ids []string
	if rep.MDN != nil {
		ids = append(ids, rep.MDN.OriginalMessageID)
	}
	ids = append(ids, rep.InReplyTo)
	for i := len(rep.References) - 1; i >= 0; i-- { // the nearest ancestor first
		ids = append(ids, rep.References[i])
	}
	var rs []rcpt
	for _, id := range ids {
		if id = normMsgID(id); id == "" {
			continue
		}
		got, err := m.rcptsWhere(`r.message=(SELECT id FROM messages WHERE message_id=?) ORDER BY r.id`, id)
		if err != nil {
			return err
		}
		if len(got) > 0 {
			rs = got
			break
		}
	}
	who := []string{normAddr(rep.From)}
	if rep.MDN != nil {
		who = append([]string{normAddr(rep.MDN.FinalRecipient), normAddr(rep.MDN.OriginalRecipient)}, who...)
	}
	mt := Match{Address: rep.From}
	if len(rs) == 0 {
		mt.Note = "it answers no message sent by Mailroom"
		res.Matches = append(res.Matches, mt)
		return nil
	}
	r, how := pickEngaged(rs, who)
	mt.Recipient, mt.Key, mt.Note = r.id, KeyMessageID, how

	evAt, err := m.afterAcceptance(r.id, at)
	if err != nil {
		return err
	}
	ev := tracking.Event{Recipient: r.id, At: evAt, Match: KeyMessageID, Report: reportID}
	switch {
	case rep.Kind == report.KindMDN:
		disp := ""
		if rep.MDN != nil {
			disp = strings.ToLower(rep.MDN.DispositionType)
		}
		if disp != "" && disp != "displayed" {
			// "deleted", "dispatched", "processed": not read by a person.
			mt.Note = strings.TrimSpace("disposition " + disp + "; no read event. " + how)
			res.Matches = append(res.Matches, mt)
			return nil
		}
		ev.Kind, ev.Source, ev.Text = tracking.EvRead, tracking.SrcMDN, "read receipt from "+rep.From
		ev.Detail = jsonDetail(map[string]any{"disposition": mdnField(rep, func(d *report.MDN) string { return d.Disposition }),
			"reporting_ua": mdnField(rep, func(d *report.MDN) string { return d.ReportingUA }), "from": rep.From, "chosen_by": how})
	case m.autoSubmitted != "" && !strings.EqualFold(m.autoSubmitted, "no"):
		mt.Note = "automatic reply (Auto-Submitted: " + m.autoSubmitted + "); not counted as replied. " + how
		res.Matches = append(res.Matches, mt)
		return nil
	default:
		ev.Kind, ev.Source, ev.Text = tracking.EvReplied, tracking.SrcReply, "reply from "+rep.From
		ev.Detail = jsonDetail(map[string]any{"from": rep.From, "subject": rep.Subject, "message_id": rep.MessageID, "chosen_by": how})
	}
	ev.DedupKey = dedupKey(reportID, r.id, ev.Kind)
	added, err := m.store.AddEvent(m.ctx, m.tx.Tx, ev)
	if err != nil {
		return err
	}
	mt.Event, mt.Added = ev.Kind, added
	res.Matches = append(res.Matches, mt)
	return nil
}

func mdnField(rep *report.Report, f func(*report.MDN) string) string {
	if rep.MDN == nil {
		return ""
	}
	return f(rep.MDN)
}

// pickEngaged chooses who replied or read: the recipient whose address is
// the sender of the reply (or the MDN's final recipient); when none is,
// the first To recipient, then the first recipient at all. The choice is
// recorded in the event's detail ("chosen_by").
func pickEngaged(rs []rcpt, who []string) (rcpt, string) {
	for _, w := range who {
		if w == "" {
			continue
		}
		for _, r := range rs {
			if strings.EqualFold(r.address, w) {
				return r, "sender is this recipient"
			}
		}
	}
	for _, r := range rs {
		if r.kind == "to" {
			return r, "sender is not a recipient: first To recipient"
		}
	}
	return rs[0], "sender is not a recipient: first recipient"
}
