package outbox

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"mailroom/mail"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

// job is one claimed attempt at one copy: the attempt row is committed and
// its recipients are "sending".
type job struct {
	attempt int64
	copyID  int64
	message string
	account string
	from    string
	envid   string
	size    int64  // of the whole body
	body    []byte // nil until loadBody when the copy is larger than eagerBodyMax
	started time.Time
	rcpts   []*jobRcpt
	// siblingOpen: an attempt at another copy of the message, claimed for
	// the same session, stays open after this one ends (the crash count
	// is then left as it is, which qCrashClear would do too).
	siblingOpen bool
	// logged: the acceptance is in the result log, handed to the applier;
	// the attempt stays open until the applier commits it.
	logged bool
}

type jobRcpt struct {
	id      int64
	address string
	number  int // this attempt's number for this recipient
	first   time.Time
	offline time.Duration
	next    time.Time // the retry time committed with the attempt
}

// eagerBodyMax is the largest body a claim reads: a claim takes up to
// claimAhead copies (and a session may hold a second claim while the
// first one's last copies go out), and 32 copies of a message with a
// 10 MB attachment would otherwise sit in memory at once, per session.
// Larger bodies are read one at a time, when their turn comes (loadBody).
const eagerBodyMax = 256 << 10

// loadBody reads the job's body if the claim left it out.
func (o *Outbox) loadBody(ctx context.Context, j *job) error {
	if j.body != nil || j.size == 0 {
		return nil
	}
	var prefix, middle, suffix []byte
	if err := o.Store.DB.R.QueryRowContext(ctx, qCopyBody, j.copyID).Scan(&prefix, &middle, &suffix); err != nil {
		return fmt.Errorf("copy %d: body: %w", j.copyID, err)
	}
	j.body = store.JoinBody(prefix, middle, suffix)
	if int64(len(j.body)) != j.size {
		return fmt.Errorf("copy %d: body of %d bytes, %d expected", j.copyID, len(j.body), j.size)
	}
	return nil
}

func (rc *jobRcpt) deadline(p Policy) time.Time { return rc.first.Add(p.Lifetime + rc.offline) }

// errPaused stops a worker: its account was paused meanwhile.
var errPaused = errors.New("account paused")

func detailJSON(kv ...any) string {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// claim commits an attempt at the due, unfinished recipients of one copy
// BEFORE any connection is made: the attempt row, each recipient's attempt
// number and next retry time, a "sending" event each, and the message's
// crash count (cleared when the attempt ends normally). It returns nil
// when nothing of the copy is due any more (accepted meanwhile, canceled,
// held). u is the jitter draw shared by the copy's recipients.
func (o *Outbox) claim(ctx context.Context, copyID int64, p Policy, u float64) (*job, error) {
	now := o.now()
	var c claimedMany
	err := o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = o.claimManyTx(ctx, tx, []int64{copyID}, p, u, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	o.changed(c.changed...)
	if c.paused {
		return nil, errPaused
	}
	if len(c.jobs) == 0 {
		return nil, nil
	}
	return c.jobs[0], nil
}

// claimManyTx is claim's work inside tx for the copies ids, in this
// order, with one statement per kind for all of them. tx may also carry the result of the
// previous copy sent on the same connection (recordAndClaim). A message
// whose crash count reached the limit is held; when a copy's account
// turns out to be paused, it and the copies after it are not claimed
// (paused is set). Copies of which nothing is due are left out.
func (o *Outbox) claimManyTx(ctx context.Context, tx *sql.Tx, ids []int64, p Policy, u float64, now time.Time) (claimedMany, error) {
	var res claimedMany
	if len(ids) == 0 {
		return res, nil
	}
	type copyRow struct {
		j       *job
		held    string
		crashes int
		paused  string
	}
	byID := make(map[int64]*copyRow, len(ids))
	err := o.rows(claimCopies).Query(ctx, tx, nil, anys(ids), func(rows *sql.Rows) error {
		cr := &copyRow{j: &job{started: now}}
		c := cr.j
		var prefix, suffix []byte
		if err := rows.Scan(&c.copyID, &c.message, &c.account, &c.from, &cr.held, &cr.crashes, &c.envid,
			&c.size, &prefix, &c.body, &suffix, &cr.paused); err != nil {
			return err
		}
		c.body = store.JoinBody(prefix, c.body, suffix) // nil above eagerBodyMax
		byID[c.copyID] = cr
		return nil
	})
	if err != nil {
		return res, err
	}
	var live []*job
	held := map[string]bool{}
	for _, id := range ids {
		cr := byID[id]
		if cr == nil || cr.held != "" || held[cr.j.message] {
			continue
		}
		if cr.paused != "" {
			res.paused = true
			break
		}
		if cr.crashes >= p.CrashLimit {
			held[cr.j.message] = true
			res.addChanged(cr.j.message)
			if err := holdTx(ctx, tx, cr.j.message, poisonReason(cr.crashes, ""), now); err != nil {
				return res, err
			}
			continue
		}
		live = append(live, cr.j)
	}
	if len(live) == 0 {
		return res, nil
	}
	liveIDs := make([]any, len(live))
	byCopy := make(map[int64]*job, len(live))
	for i, j := range live {
		liveIDs[i], byCopy[j.copyID] = j.copyID, j
	}
	type cancel struct {
		rid     int64
		message string
	}
	var cancels []cancel
	err = o.rows(claimRcptsOf).Query(ctx, tx, []any{store.Millis(now)}, liveIDs, func(rows *sql.Rows) error {
		rc := &jobRcpt{}
		var copyID, first, offline int64
		var canceled bool
		if err := rows.Scan(&copyID, &rc.id, &rc.address, &rc.number, &first, &offline, &canceled); err != nil {
			return err
		}
		j := byCopy[copyID]
		if canceled {
			cancels = append(cancels, cancel{rc.id, j.message})
			return nil
		}
		rc.number++
		rc.first, rc.offline = store.FromMillis(first), time.Duration(offline)*time.Millisecond
		if rc.first.IsZero() {
			rc.first = now
		}
		j.rcpts = append(j.rcpts, rc)
		return nil
	})
	if err != nil {
		return res, err
	}
	slices.SortFunc(cancels, func(a, b cancel) int { return cmp.Compare(a.rid, b.rid) })
	for _, k := range cancels {
		res.addChanged(k.message)
		if err := cancelTx(ctx, tx, k.rid, now); err != nil {
			return res, err
		}
	}
	var attempts []any
	var messages []string
	for _, j := range live {
		if len(j.rcpts) == 0 {
			continue
		}
		slices.SortFunc(j.rcpts, func(a, b *jobRcpt) int { return cmp.Compare(a.id, b.id) })
		number := 0
		for _, rc := range j.rcpts {
			// Retry time committed now: if we crash mid-attempt, this
			// is the cool-off. The last attempt falls on the deadline.
			rc.next = now.Add(p.Gap(rc.number, u))
			if dl := rc.deadline(p); rc.next.After(dl) {
				rc.next = maxTime(dl, now.Add(p.MinGap))
			}
			number = max(number, rc.number)
		}
		attempts = append(attempts, j.message, j.copyID, j.account, number, store.Millis(now), store.Millis(j.rcpts[0].next))
		if !slices.Contains(messages, j.message) {
			messages = append(messages, j.message)
		}
	}
	if len(attempts) == 0 {
		return res, nil
	}
	// A crash interrupts a message once: count it unless an attempt of
	// it is open already (before this commit's attempts exist).
	for _, m := range messages {
		if _, err := o.exec(ctx, tx, qCrashIncFirst, m, m); err != nil {
			return res, err
		}
	}
	err = o.rows(insertAttempts).Query(ctx, tx, nil, attempts, func(rows *sql.Rows) error {
		var id, copyID int64
		if err := rows.Scan(&id, &copyID); err != nil {
			return err
		}
		byCopy[copyID].attempt = id
		return nil
	})
	if err != nil {
		return res, err
	}
	var evs []tracking.Event
	var rcptCols []any
	for _, j := range live {
		if len(j.rcpts) == 0 {
			continue
		}
		if j.attempt == 0 {
			return res, fmt.Errorf("copy %d: no attempt id returned", j.copyID)
		}
		for _, rc := range j.rcpts {
			evs = append(evs, tracking.Event{Recipient: rc.id, At: now, Kind: tracking.EvSending,
				Source: tracking.SrcOutbox, Detail: sendingDetail(rc.number, rc.next)})
			rcptCols = append(rcptCols, int64(rc.number), store.Millis(rc.first), store.Millis(rc.next))
		}
		res.jobs = append(res.jobs, j)
		res.addChanged(j.message)
	}
	// Each recipient's attempt number and retry time go with its
	// "sending" event's refresh of its cache: one write of its row.
	return res, o.Store.AddEventsSetting(ctx, tx, evs, o.stmts.claimRcpts, rcptCols)
}

// anys is ids as query arguments.
func anys(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// sendingDetail is detailJSON("attempt", n, "next_attempt_at", ...) without
// a map and reflection: it is written for every attempt.
func sendingDetail(n int, next time.Time) string {
	b := make([]byte, 0, 64)
	b = append(b, `{"attempt":`...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `,"next_attempt_at":"`...)
	b = next.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	return string(b)
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// markBodySent records that the session has read the whole body: from
// here on a crash may leave a delivered message behind (uncertain). A
// Runner holding the sender lock writes a hand-over mark instead (see
// handOver); this commit serves an outbox without one (a database with no
// file, tests). It is one statement, committed on its own (autocommit: the
// same commit as a transaction around it, without BEGIN and COMMIT).
func (o *Outbox) markBodySent(ctx context.Context, attempt int64) error {
	_, err := o.stmts.w.Stmt(qBodySent).ExecContext(ctx, attempt)
	return err
}

// outcomeFor finds each recipient's result in a transaction's result.
func outcomeFor(part []*jobRcpt, res mail.SubmitResult, sendErr error) []mail.RcptResult {
	out := make([]mail.RcptResult, len(part))
	byAddr := map[string]mail.RcptResult{}
	for _, r := range res.Rcpts {
		byAddr[strings.ToLower(r.Address)] = r
	}
	fallback := mail.RcptResult{Outcome: mail.NotAttempted}
	var me *mail.Error
	if errors.As(sendErr, &me) {
		fallback.Reply = me.Reply
	} else if sendErr != nil {
		fallback.Reply = mail.Reply{Text: sendErr.Error()}
	}
	if res.BodySent && res.Final == nil {
		// The body went out and no reply came back: whoever the session
		// did not report on may have received it.
		fallback.Outcome = mail.Uncertain
	}
	for i, rc := range part {
		if i < len(res.Rcpts) && strings.EqualFold(res.Rcpts[i].Address, rc.address) {
			out[i] = res.Rcpts[i]
		} else if r, ok := byAddr[strings.ToLower(rc.address)]; ok {
			out[i] = r
		} else {
			out[i] = fallback
			out[i].Address = rc.address
		}
	}
	return out
}

// record commits what one transaction did for part of a job's recipients.
// With split, recipients the server did not take in this transaction (452
// too many recipients) are returned for another transaction on the same
// connection instead of being recorded. When nothing is left the attempt
// is closed and the message's crash count cleared, in the same commit.
func (o *Outbox) record(ctx context.Context, j *job, part []*jobRcpt, res mail.SubmitResult, sendErr error, split bool, p Policy) (rest []*jobRcpt, err error) {
	rest, _, err = o.recordAndClaim(ctx, j, part, res, sendErr, split, p, nil)
	return rest, err
}

// nextCopy hands recordAndClaim the copies to claim next on the same
// connection: take returns one copy at a time, ok false when there is
// none to take right now; release gives a taken copy back when the commit
// failed or nothing of it was due. max is how many copies one commit
// claims (at least 1).
type nextCopy struct {
	take    func() (copyID int64, ok bool)
	release func(copyID int64)
	u       float64
	max     int
}

// takeUpToMax takes up to max (at least one) of the lane's next copies.
func (n *nextCopy) takeUpToMax() []int64 {
	var taken []int64
	for len(taken) < max(n.max, 1) {
		id, ok := n.take()
		if !ok {
			break
		}
		taken = append(taken, id)
	}
	return taken
}

// releaseUnclaimed gives back the taken copies c did not claim (every one
// of them for a failed claim, c empty): nothing of them was due after all,
// or the account is paused.
func (n *nextCopy) releaseUnclaimed(taken []int64, c claimedMany) {
	for _, id := range taken {
		if !c.has(id) {
			n.release(id)
		}
	}
}

// claimNext commits the claim of up to next.max of the lane's next copies
// in a transaction of its own (after a result that went to the result
// log, or in the background while a session's last claimed copies go
// out), releasing what it did not claim.
func (o *Outbox) claimNext(ctx context.Context, next *nextCopy, p Policy) (claimedMany, error) {
	if next == nil {
		return claimedMany{}, nil
	}
	taken := next.takeUpToMax()
	if len(taken) == 0 {
		return claimedMany{}, nil
	}
	var c claimedMany
	err := o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		var err error
		c, err = o.claimManyTx(ctx, tx, taken, p, next.u, o.now())
		return err
	})
	if err != nil {
		next.releaseUnclaimed(taken, claimedMany{}) // rolled back: all of them
		return claimedMany{}, err
	}
	next.releaseUnclaimed(taken, c)
	o.changed(c.changed...)
	return c, nil
}

// recordAndClaim is record, and, when the attempt is over and next offers
// copies, the claim of up to next.max copies to send on the same
// connection, in ONE commit: the result is still committed before the
// next message goes on the wire, and the attempt row of every claimed
// copy is committed before any byte of it is sent. Claiming several
// copies at once spreads one commit over them (the pages a claim writes,
// the tail of events and of the attempts table, the message's row, are
// largely the same for the next copies).
func (o *Outbox) recordAndClaim(ctx context.Context, j *job, part []*jobRcpt, res mail.SubmitResult, sendErr error, split bool, p Policy, next *nextCopy) (rest []*jobRcpt, c claimedMany, err error) {
	now := o.now()
	results := outcomeFor(part, res, sendErr)
	// After a 452 the session stops at that recipient: it and those after
	// it (not attempted) go in the next transaction.
	var tooMany bool
	later := map[int]bool{}
	for i, r := range results {
		switch {
		case r.Outcome == mail.TooManyRecipients:
			tooMany, later[i] = true, true
		case r.Outcome == mail.NotAttempted && tooMany:
			later[i] = true
		}
	}
	// Split only when the server took someone: otherwise another
	// transaction would get the same answer.
	split = split && tooMany && len(later) < len(part)
	var taken []int64
	err = o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		rest, c = nil, claimedMany{}
		var hold, pause string
		for i, rc := range part {
			r := results[i]
			if split && later[i] {
				rest = append(rest, rc)
				continue
			}
			h, pa, err := o.recordRcpt(ctx, tx, j, rc, r, res, p, now)
			if err != nil {
				return err
			}
			hold, pause = cmpOr(hold, h), cmpOr(pause, pa)
		}
		if hold != "" {
			if err := holdTx(ctx, tx, j.message, hold, now); err != nil {
				return err
			}
		}
		if pause != "" {
			if err := pauseTx(ctx, tx, j.account, PausedByAuth, pause, now); err != nil {
				return err
			}
		}
		if len(rest) > 0 {
			// The next transaction's body is a new hand-over.
			_, err := o.exec(ctx, tx, qBodyReset, j.attempt)
			return err
		}
		errText := ""
		if sendErr != nil {
			errText = sendErr.Error()
		}
		if err := o.endAttemptTx(ctx, tx, j.attempt, j.message, "done", res.Server, res.DSNRequested, errText, now, j.siblingOpen); err != nil {
			return err
		}
		if next == nil || sendErr != nil || hold != "" || pause != "" {
			return nil
		}
		taken = next.takeUpToMax()
		var err error
		c, err = o.claimManyTx(ctx, tx, taken, p, next.u, now)
		return err
	})
	if err != nil {
		next.releaseUnclaimed(taken, claimedMany{}) // rolled back: all of them
		return nil, claimedMany{}, err
	}
	o.changed(j.message)
	o.changed(c.changed...)
	next.releaseUnclaimed(taken, c) // taken is empty when next is nil
	return rest, c, nil
}

// claimedMany is what the claims of one commit did.
type claimedMany struct {
	jobs    []*job
	changed []string
	paused  bool
}

func (c *claimedMany) addChanged(message string) {
	if !slices.Contains(c.changed, message) {
		c.changed = append(c.changed, message)
	}
}

func (c *claimedMany) has(copyID int64) bool {
	for _, j := range c.jobs {
		if j.copyID == copyID {
			return true
		}
	}
	return false
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// endAttemptTx closes an attempt that ended normally; the message's crash
// count is cleared unless another of its copies is still in flight (a
// crash now would interrupt that one). siblingOpen says the caller knows
// one is.
func (o *Outbox) endAttemptTx(ctx context.Context, tx *sql.Tx, attempt int64, message, outcome, server string, dsn bool, errText string, now time.Time, siblingOpen bool) error {
	if _, err := o.exec(ctx, tx, qEndAttempt,
		store.Millis(now), outcome, server, dsn, errText, attempt); err != nil {
		return err
	}
	if siblingOpen {
		return nil
	}
	_, err := o.exec(ctx, tx, qCrashClear,
		message, message)
	return err
}

const uncertainNote = "The connection broke after the message was sent and before the server answered: it may have arrived. " +
	"Sending it again (same Message-ID and ENVID) means it may have been sent twice."

// recordRcpt turns one recipient's result into events. It returns a hold
// reason (uncertain policy "hold") or a pause reason (535) for the caller.
func (o *Outbox) recordRcpt(ctx context.Context, tx *sql.Tx, j *job, rc *jobRcpt, r mail.RcptResult, res mail.SubmitResult, p Policy, now time.Time) (hold, pause string, err error) {
	words := Explain(r.Outcome, r.Reply)
	ev := replyEvent(rc.id, now, r.Reply)
	final := false
	switch r.Outcome {
	case mail.Accepted:
		ev.Kind, final = tracking.EvAccepted, true
		if ev.Detail, err = o.acceptedDetail(ctx, tx, j, rc, res, words); err != nil {
			return "", "", err
		}
	case mail.Rejected:
		ev.Kind, final = tracking.EvRejected, true
		ev.Detail = detailJSON("attempt", rc.number, "words", words)
	case mail.Uncertain:
		ev.Kind = tracking.EvUncertain
		kv := []any{"attempt", rc.number, "words", words, "may_have_been_sent_twice", true, "note", uncertainNote}
		if p.Uncertain == HoldUncertain {
			hold = "The connection broke after the message was sent: it may have arrived. It is held until you decide to send it again."
			kv = append(kv, "held", true)
		} else {
			kv = append(kv, "next_attempt_at", rfc3339(rc.next))
		}
		ev.Detail = detailJSON(kv...)
	default:
		// Deferred, NotAttempted, Unreachable, AuthFailed, and a 452 the
		// server repeats: try again at the committed retry time.
		ev.Kind = tracking.EvDeferred
		if r.Outcome == mail.AuthFailed {
			pause = authPause(r.Reply)
		}
		ev.Detail = detailJSON("attempt", rc.number, "next_attempt_at", rfc3339(rc.next), "words", words, "outcome", string(r.Outcome))
	}
	if !final && hold == "" && !now.Before(rc.deadline(p)) {
		ev = expiredEvent(rc, r.Reply, words, p, now, r.Outcome == mail.Uncertain)
	}
	if _, err := o.Store.AddEvent(ctx, tx, ev); err != nil {
		return "", "", err
	}
	if _, err := o.exec(ctx, tx, qLastReply, words, rc.id); err != nil {
		return "", "", err
	}
	return hold, pause, o.applyCancelTx(ctx, tx, rc.id, final || ev.Kind == tracking.EvExpired, now)
}

// replyEvent is the event of a server's reply to a recipient, its kind
// and detail left to the caller.
func replyEvent(rid int64, at time.Time, r mail.Reply) tracking.Event {
	return tracking.Event{Recipient: rid, At: at, Source: tracking.SrcSMTP, Command: r.Command,
		Code: r.Code, EnhancedCode: r.Enhanced, Text: r.Text}
}

// acceptedDetail is the detail of an "accepted" event: the attempt, the
// server, whether DSNs were asked for, and, after an uncertain attempt,
// that the message may have been sent twice.
func (o *Outbox) acceptedDetail(ctx context.Context, tx *sql.Tx, j *job, rc *jobRcpt, res mail.SubmitResult, words string) (string, error) {
	kv := []any{"attempt", rc.number, "envid", j.envid, "server", res.Server, "dsn_requested", res.DSNRequested, "words", words}
	var twice bool
	// Only a retry can follow an uncertain attempt.
	if rc.number > 1 {
		if err := o.queryRow(ctx, tx, qWasUncertain, rc.id).Scan(&twice); err != nil {
			return "", err
		}
	}
	if twice {
		kv = append(kv, "may_have_been_sent_twice", true,
			"note", "An earlier attempt broke off after the message was sent: it may have been sent twice.")
	}
	return detailJSON(kv...), nil
}

func expiredEvent(rc *jobRcpt, last mail.Reply, words string, p Policy, now time.Time, mayHaveArrived bool) tracking.Event {
	lastText := ""
	if last.Code != 0 || last.Text != "" {
		lastText = last.String()
	}
	kv := []any{"attempt", rc.number, "words", words, "last_reply", lastText, "lifetime", p.Lifetime.String()}
	if mayHaveArrived {
		kv = append(kv, "may_have_been_sent_twice", true, "note", "The last attempt broke off after the message was sent: it may have arrived.")
	}
	return tracking.Event{Recipient: rc.id, At: now, Kind: tracking.EvExpired, Source: tracking.SrcOutbox,
		EnhancedCode: "4.4.7", Text: expiredWords(p.Lifetime, lastText), Detail: detailJSON(kv...)}
}

// applyCancelTx applies a cancel asked for during the attempt: the
// recipient becomes canceled unless the attempt made it final.
func (o *Outbox) applyCancelTx(ctx context.Context, tx *sql.Tx, rid int64, final bool, now time.Time) error {
	res, err := o.exec(ctx, tx, qDeleteCancel, rid)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 || final {
		return nil
	}
	return cancelTx(ctx, tx, rid, now)
}

func cancelTx(ctx context.Context, tx *sql.Tx, rid int64, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox_cancels WHERE recipient=?`, rid); err != nil {
		return err
	}
	_, err := store.AddEvent(ctx, tx, tracking.Event{Recipient: rid, At: now, Kind: tracking.EvCanceled,
		Source: tracking.SrcUser, Text: "Canceled before the server accepted it."})
	return err
}

// holdTx holds a message: the runner leaves it alone until Release. Every
// unfinished recipient gets a "held" event with the reason.
func holdTx(ctx context.Context, tx *sql.Tx, message, reason string, now time.Time) error {
	res, err := tx.ExecContext(ctx, `UPDATE messages SET held_reason=? WHERE id=? AND held_reason=''`, reason, message)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	ids, err := unfinished(ctx, tx, `message=?`, message)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := store.AddEvent(ctx, tx, tracking.Event{Recipient: id, At: now, Kind: tracking.EvHeld,
			Source: tracking.SrcOutbox, Text: reason}); err != nil {
			return err
		}
	}
	return nil
}

// unfinished lists recipients whose outbox journey is not over.
func unfinished(ctx context.Context, tx *sql.Tx, where string, args ...any) ([]int64, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM recipients WHERE status IN ('queued','sending','deferred','uncertain') AND `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func poisonReason(crashes int, last string) string {
	s := fmt.Sprintf("Sending this message failed unexpectedly %d times in a row (the sender crashed or hit a bug); it is held so that the rest of the outbox can go on.", crashes)
	if last != "" {
		s += " Last failure: " + last
	}
	return s
}

// canceledAhead returns the jobs (copies claimed ahead, not sent yet) of
// which a recipient got a cancel since the claim: they are to be given
// back (unclaim applies the cancel) instead of being sent.
func (o *Outbox) canceledAhead(ctx context.Context, jobs []*job) (map[*job]bool, error) {
	var ids []any
	for _, j := range jobs {
		for _, rc := range j.rcpts {
			ids = append(ids, rc.id)
		}
	}
	canceled := map[int64]bool{}
	err := o.stmts.cancelWaiting.Query(ctx, nil, nil, ids, func(rows *sql.Rows) error {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		canceled[id] = true
		return nil
	})
	if err != nil || len(canceled) == 0 {
		return nil, err
	}
	out := map[*job]bool{}
	for _, j := range jobs {
		for _, rc := range j.rcpts {
			if canceled[rc.id] {
				out[j] = true
			}
		}
	}
	return out, nil
}

// The event texts of a copy claimed ahead on a connection and given back
// unsent.
const (
	skippedText       = "Not sent: sending stopped before this copy's turn; nothing of it was sent."
	skippedCancelText = "Not sent: a cancel was asked for before this copy's turn; nothing of it was sent."
)

// unclaim gives back copies claimed ahead for a connection that will not
// send them (shutdown, pause, a session that could not go on): nothing of
// them was sent, so each attempt is closed as "skipped", and its
// recipients are due again at once with their attempt count as before
// (a "deferred" event says so; a cancel asked for meanwhile is applied).
func (o *Outbox) unclaim(ctx context.Context, jobs []*job, text string) error {
	if len(jobs) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	now := o.now()
	err := o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		for _, j := range jobs {
			for _, rc := range j.rcpts {
				if _, err := o.Store.AddEvent(ctx, tx, tracking.Event{Recipient: rc.id, At: now, Kind: tracking.EvDeferred,
					Source: tracking.SrcOutbox, Text: text,
					Detail: detailJSON("attempt", rc.number, "skipped", true, "next_attempt_at", rfc3339(now))}); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE recipients SET attempts=?, next_attempt_at=?, last_reply=? WHERE id=?`,
					rc.number-1, store.Millis(now), text, rc.id); err != nil {
					return err
				}
				if err := o.applyCancelTx(ctx, tx, rc.id, false, now); err != nil {
					return err
				}
			}
			if err := o.endAttemptTx(ctx, tx, j.attempt, j.message, "skipped", "", false, "", now, false); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, j := range jobs {
		o.changed(j.message)
	}
	return nil
}
