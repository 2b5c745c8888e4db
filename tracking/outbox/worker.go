package outbox

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"time"

	"mailroom/mail"
	"mailroom/tracking/store"
)

// worker is one session's loop: take a due copy, attempt it, repeat while
// anything of the account is due; then close the session.
func (r *Runner) worker(ctx context.Context, ln *lane) {
	var sess mail.Session
	slot := -1 // this session's hand-over slot, when marks go to the file
	if h := r.Outbox.handover; h != nil {
		slot = h.acquire()
		defer h.release(slot)
	}
	defer func() {
		closeSession(sess)
		r.mu.Lock()
		ln.workers--
		r.active--
		r.mu.Unlock()
		r.wg.Done()
		r.poke()
	}()
	// queue holds copies already claimed for this session (their attempts
	// are committed) by the commit that recorded the previous result, by
	// the claim after a logged acceptance, or by the background claim (pf):
	// they are sent in order; when the worker stops before their turn,
	// they are given back unsent (unclaim).
	var queue []*job
	var checked time.Time // the last look for cancels of queued copies
	defer func() {
		if len(queue) == 0 {
			return
		}
		if err := r.Outbox.unclaim(ctx, queue, skippedText); err != nil {
			r.fail(err)
		}
		for _, j := range queue {
			r.done(ln, j.copyID)
		}
	}()
	// pf: the claim of the next copies, committed in the background while
	// the last ones of the queue go out. Its copies join the queue when it
	// runs dry (or are given back with it on the way out).
	var pf *prefetch
	defer func() {
		if pf != nil {
			c, err := pf.wait()
			if err != nil && ctx.Err() == nil {
				r.fail(err)
			}
			queue = append(queue, c.jobs...)
		}
	}()
	for ctx.Err() == nil {
		p := r.policy()
		var cid int64
		var pending *job
		if len(queue) == 0 && pf != nil {
			c, err := pf.wait()
			pf = nil
			if err != nil {
				if ctx.Err() == nil {
					r.fail(err)
				}
				return
			}
			queue = c.jobs
			if c.paused {
				r.stopLane(ln)
				return
			}
		}
		if len(queue) > 0 && time.Since(checked) >= cancelCheckEvery {
			// Cancels asked for while copies waited their turn: those
			// copies are given back (the cancel applies), not sent.
			checked = time.Now()
			canceled, err := r.Outbox.canceledAhead(ctx, queue)
			if err == nil && len(canceled) > 0 {
				var drop []*job
				queue = slices.DeleteFunc(queue, func(j *job) bool {
					if canceled[j] {
						drop = append(drop, j)
					}
					return canceled[j]
				})
				if err = r.Outbox.unclaim(ctx, drop, skippedCancelText); err == nil {
					for _, j := range drop {
						r.done(ln, j.copyID)
					}
				} else {
					queue = append(queue, drop...) // given back on the way out
				}
			}
			if err != nil {
				if ctx.Err() == nil {
					r.fail(err)
				}
				return
			}
		}
		if len(queue) > 0 {
			pending, queue = queue[0], queue[1:]
			cid = pending.copyID
			// Another attempt of the same message stays open after this
			// one: ending it need not look at the crash count.
			pending.siblingOpen = slices.ContainsFunc(queue, func(q *job) bool { return q.message == pending.message })
		} else {
			r.mu.Lock()
			probe := ln.probe && sess == nil
			r.mu.Unlock()
			if probe {
				s, ok := r.probe(ctx, ln, p)
				if !ok {
					return
				}
				sess = s
			}
			var ok bool
			if cid, ok = r.next(ctx, ln); !ok {
				return
			}
			if !r.waitRate(ctx, ln, p) {
				r.done(ln, cid)
				return
			}
		}
		cont, more := r.process(ctx, ln, cid, &sess, p, pending, len(queue) == 0 && pf == nil, slot)
		queue = append(queue, more...)
		r.done(ln, cid)
		if !cont {
			return
		}
		if pf == nil && len(queue) > 0 && len(queue) <= prefetchAt {
			pf = r.startPrefetch(ctx, ln, p)
		}
	}
}

// prefetchAt is the queue length at which a worker claims its next
// copies in the background: a claim of claimAhead copies takes ~1.5 ms on
// the writer, the time of 5-6 sends, and the session no longer waits for
// it between two of them.
const prefetchAt = claimAhead / 2

// prefetch is a claim running beside the worker's sends.
type prefetch struct {
	done chan struct{}
	c    claimedMany
	err  error
}

// startPrefetch starts claiming the session's next copies, when more may
// go out at once on it (nextOnSession); nil otherwise.
func (r *Runner) startPrefetch(ctx context.Context, ln *lane, p Policy) *prefetch {
	nx := r.nextOnSession(ctx, ln, p, claimAhead)
	if nx == nil {
		return nil
	}
	pf := &prefetch{done: make(chan struct{})}
	go func() {
		defer close(pf.done)
		pf.c, pf.err = r.Outbox.claimNext(context.WithoutCancel(ctx), nx, p)
	}()
	return pf
}

// wait returns the claim's result once it is committed (or failed).
func (pf *prefetch) wait() (claimedMany, error) {
	<-pf.done
	return pf.c, pf.err
}

// next hands out the account's next due copy, refilling the lane's buffer
// from the database when it runs dry.
func (r *Runner) next(ctx context.Context, ln *lane) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ln.stop || ctx.Err() != nil {
		return 0, false
	}
	if len(ln.buf) == 0 {
		// Each refill scans and sorts every due recipient of the account:
		// take enough to make that rare in a bulk send (a copy no longer
		// due when its turn comes is skipped by its claim).
		ids, err := r.Outbox.dueCopies(ctx, ln.account, r.now(), 1024+len(ln.inflight))
		if err != nil {
			if ctx.Err() == nil {
				go r.fail(err)
			}
			return 0, false
		}
		for _, id := range ids {
			if !ln.inflight[id] {
				ln.buf = append(ln.buf, id)
			}
		}
	}
	if len(ln.buf) == 0 {
		return 0, false
	}
	id := ln.buf[0]
	ln.buf = ln.buf[1:]
	ln.inflight[id] = true
	return id, true
}

func (r *Runner) done(ln *lane, cid int64) {
	r.mu.Lock()
	delete(ln.inflight, cid)
	r.mu.Unlock()
}

func (r *Runner) stopLane(ln *lane) {
	r.mu.Lock()
	ln.stop, ln.healthy, ln.buf = true, false, nil
	r.mu.Unlock()
}

// waitRate paces transactions per account (Policy.RatePerMinute).
func (r *Runner) waitRate(ctx context.Context, ln *lane, p Policy) bool {
	if p.RatePerMinute <= 0 {
		return true
	}
	interval := time.Minute / time.Duration(p.RatePerMinute)
	r.mu.Lock()
	now := r.now()
	slot := maxTime(now, ln.nextSlot)
	ln.nextSlot = slot.Add(interval)
	r.mu.Unlock()
	if d := slot.Sub(now); d > 0 {
		select {
		case <-r.Outbox.Clock.After(d):
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func closeSession(s mail.Session) {
	if s == nil {
		return
	}
	defer func() { recover() }() // a broken session must not take the worker down
	s.Close()
}

// process attempts one copy: claim (committed before connecting; already
// done when claimed is set), dial if needed, send, record. A panic
// anywhere in it is recovered here and counted against the message
// (poison isolation), unless the server's acceptance is already in the
// result log. It returns false when the worker should stop, and the
// copies claimed with or after the result (only when mayClaim).
func (r *Runner) process(ctx context.Context, ln *lane, cid int64, sessp *mail.Session, p Policy, claimed *job, mayClaim bool, slot int) (cont bool, next []*job) {
	j := claimed
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		closeSession(*sessp)
		*sessp = nil
		why := fmt.Sprintf("panic: %v", v)
		r.logf("outbox: %s\n%s", why, debug.Stack())
		if len(next) > 0 {
			// Claimed by a commit that went through, nothing of them
			// sent: give them back.
			if err := r.Outbox.unclaim(ctx, next, skippedText); err != nil {
				r.fail(err)
			}
			for _, j := range next {
				r.done(ln, j.copyID)
			}
			next = nil
		}
		if j == nil {
			r.fail(fmt.Errorf("outbox: %s", why))
			cont = false
			return
		}
		if j.logged {
			// The server accepted the copy and the applier commits that:
			// interrupting the still open attempt would defer it, the
			// applier would then skip the record, and the copy would go
			// out again.
			cont = true
			return
		}
		if err := r.Outbox.interrupt(ctx, j, "panic", why, p); err != nil {
			r.fail(err)
			cont = false
			return
		}
		cont = true
	}()
	if j == nil {
		var err error
		j, err = r.Outbox.claim(ctx, cid, p, r.rand())
		if errors.Is(err, errPaused) {
			r.stopLane(ln)
			return false, nil
		}
		if err != nil {
			if ctx.Err() == nil {
				r.fail(err)
			}
			return false, nil
		}
		if j == nil {
			return true, nil
		}
	}
	r.callHook(hookInfo{Point: hookAttempt, EnvID: j.envid})
	if *sessp == nil {
		s, err := r.Dialer.Dial(ctx, j.account)
		if err != nil {
			r.dialFailed(ctx, ln, j, err, p)
			return false, nil
		}
		*sessp = s
		r.connected(ln)
	}
	r.callHook(hookInfo{Point: hookDialed, EnvID: j.envid})
	ahead := 0
	if mayClaim {
		ahead = claimAhead
	}
	serr, next, paused, err := r.send(ctx, ln, *sessp, j, p, ahead, slot)
	if err != nil {
		r.fail(err)
		return false, next
	}
	if serr != nil {
		closeSession(*sessp)
		*sessp = nil
		if oc := mail.OutcomeOf(serr); oc == mail.AuthFailed {
			r.stopLane(ln)
			return false, next
		}
	}
	if paused {
		r.stopLane(ln)
		return false, next
	}
	return true, next
}

// cancelCheckEvery is how often (wall time) a worker looks for cancels
// asked for while its copies claimed ahead wait their turn: a cancel
// stops such a copy if it came this long before the copy's turn.
const cancelCheckEvery = 20 * time.Millisecond

// claimAhead is how many copies one claim takes for the same session
// when more are due (in the commit of a result, or in one of its own
// after a logged acceptance; each is still committed before any of its
// bytes is sent): one commit spread over several copies writes fewer
// pages per copy (bench/outbox: 32 gave ~10% more copies/s than 8). A
// copy claimed ahead waits at most claimAhead+prefetchAt-1 sends (~15 ms
// in a bulk send); when the worker stops first, it is given back unsent
// (unclaim).
const claimAhead = 32

// nextOnSession offers a claim (recordAndClaim, claimNext) the lane's
// next copies when they may go out at once on the same session: no rate
// limit to wait for, not stopping.
func (r *Runner) nextOnSession(ctx context.Context, ln *lane, p Policy, n int) *nextCopy {
	if p.RatePerMinute > 0 || r.unsafeOrder || n <= 0 {
		return nil
	}
	return &nextCopy{
		take: func() (int64, bool) {
			if ctx.Err() != nil {
				return 0, false
			}
			return r.next(ctx, ln)
		},
		release: func(id int64) { r.done(ln, id) },
		u:       r.rand(),
		max:     n,
	}
}

// send runs the copy's transactions on one session: normally one; more
// when the server limits recipients per transaction (452). It returns the
// session error (the session is unusable), the next copies claimed with
// or after the result (up to ahead of them; none when ahead is 0),
// whether that claim found the account paused, and a database error.
func (r *Runner) send(ctx context.Context, ln *lane, sess mail.Session, j *job, p Policy, ahead, slot int) (sessErr error, next []*job, paused bool, dbErr error) {
	// The transaction must not be cut short by shutdown: cutting it
	// after "." would turn a clean send into an uncertain one. The submit
	// layer's own timeouts bound it.
	sctx := context.WithoutCancel(ctx)
	// Sent (or given up): a large body is not kept while the worker goes
	// on with the next copies.
	defer func() { j.body = nil }()
	part := j.rcpts
	if limit := sess.MaxSize(); limit > 0 && j.size > limit {
		// The server announced its limit (RFC 1870): it would refuse the
		// message after receiving all of it. This is final for this server.
		rep := mail.Reply{Command: "SIZE", Code: 552, Enhanced: "5.3.4",
			Text: fmt.Sprintf("the message is %d bytes; the server announced a limit of %d bytes", j.size, limit)}
		res := mail.SubmitResult{}
		for _, rc := range part {
			res.Rcpts = append(res.Rcpts, mail.RcptResult{Address: rc.address, Outcome: mail.Rejected, Reply: rep})
		}
		_, err := r.Outbox.record(sctx, j, part, res, nil, false, p)
		return nil, nil, false, err
	}
	if err := r.Outbox.loadBody(sctx, j); err != nil {
		return nil, nil, false, err
	}
	if r.unsafeOrder {
		// Negative control for the crash soak: "accepted" committed
		// before anything is sent. Never used outside tests.
		fake := mail.SubmitResult{}
		for _, rc := range part {
			fake.Rcpts = append(fake.Rcpts, mail.RcptResult{Address: rc.address, Outcome: mail.Accepted,
				Reply: mail.Reply{Command: ".", Code: 250, Text: "recorded before sending (unsafe test order)"}})
		}
		if _, err := r.Outbox.record(sctx, j, part, fake, nil, false, p); err != nil {
			return nil, nil, false, err
		}
		env := mail.Envelope{From: j.from, EnvID: j.envid, RequestDSN: p.RequestDSN}
		for _, rc := range part {
			env.Recipients = append(env.Recipients, rc.address)
		}
		_, serr := sess.Send(sctx, env, bytes.NewReader(j.body))
		return serr, nil, false, nil
	}
	h := r.Outbox.handover
	for partNo := int32(0); len(part) > 0; partNo++ {
		env := mail.Envelope{From: j.from, EnvID: j.envid, RequestDSN: p.RequestDSN}
		for _, rc := range part {
			env.Recipients = append(env.Recipients, rc.address)
		}
		body := &bodyReader{r: bytes.NewReader(j.body), onEOF: func() error {
			var err error
			if h != nil && slot >= 0 {
				err = h.mark(slot, j.attempt, partNo)
			} else {
				err = r.Outbox.markBodySent(sctx, j.attempt)
			}
			if err != nil {
				return err
			}
			r.callHook(hookInfo{Point: hookBodyRead, EnvID: j.envid})
			return nil
		}}
		if r.hook != nil {
			body.progress = func(point string) { r.callHook(hookInfo{Point: point, EnvID: j.envid}) }
		}
		res, serr := sess.Send(sctx, env, body)
		if body.err != nil {
			return serr, nil, false, body.err
		}
		if r.hook != nil {
			var acc []string
			for _, rr := range res.Rcpts {
				if rr.Outcome == mail.Accepted {
					acc = append(acc, rr.Address)
				}
			}
			r.callHook(hookInfo{Point: hookReplied, EnvID: j.envid, Accepted: acc})
		}
		if logged, c, err := r.logAcceptance(ctx, ln, j, part, res, serr, p, ahead, slot); logged {
			if err != nil {
				return serr, nil, false, err
			}
			// As after recordAndClaim's one commit: the result is
			// recorded and the next copies are claimed.
			r.callHook(hookInfo{Point: hookRecorded, EnvID: j.envid})
			return nil, c.jobs, c.paused, nil
		}
		var nx *nextCopy
		if serr == nil {
			nx = r.nextOnSession(ctx, ln, p, ahead)
		}
		rest, c, err := r.Outbox.recordAndClaim(sctx, j, part, res, serr, serr == nil, p, nx)
		if err != nil {
			return serr, nil, false, err
		}
		if h != nil {
			h.recorded(j.attempt)
		}
		r.callHook(hookInfo{Point: hookRecorded, EnvID: j.envid})
		if serr != nil || len(rest) == 0 {
			return serr, c.jobs, c.paused, nil
		}
		part = rest
	}
	return nil, nil, false, nil
}

// logAcceptance records a clean acceptance in the session's ring of the
// result log, hands it to the applier and claims the session's next
// copies (up to ahead) in a commit of their own: the next message may go
// out, and the applier commits this result with others. It reports false
// when the result is not for the log (no log, not clean, too big for a
// slot): the caller commits it at once.
func (r *Runner) logAcceptance(ctx context.Context, ln *lane, j *job, part []*jobRcpt, res mail.SubmitResult, serr error,
	p Policy, ahead, slot int) (logged bool, c claimedMany, err error) {
	ch := r.applyChan()
	if ch == nil {
		return false, c, nil
	}
	rec, ok := cleanResult(j, part, res, serr, r.Outbox.now())
	if !ok {
		return false, c, nil
	}
	seq, err := r.Outbox.results.write(slot, &rec)
	if errors.Is(err, errNotForLog) {
		return false, c, nil
	}
	if err != nil {
		return true, c, err
	}
	if h := r.Outbox.handover; h != nil {
		h.recorded(j.attempt)
	}
	ch <- pendingResult{slot: slot, seq: seq, rec: rec}
	j.logged = true
	c, err = r.Outbox.claimNext(context.WithoutCancel(ctx), r.nextOnSession(ctx, ln, p, ahead), p)
	return true, c, err
}

func (r *Runner) applyChan() chan pendingResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.applyCh
}

// bodyReader tells the outbox when the session has read the whole body:
// the next thing on the wire is the final ".".
type bodyReader struct {
	r     *bytes.Reader
	onEOF func() error
	fired bool
	err   error
	// progress (tests only) hears "body-start" at the first read (the
	// server has answered 354) and "mid-body" at the half.
	progress func(point string)
	started  bool
	half     bool
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.progress != nil {
		if !b.started {
			b.started = true
			b.progress(hookBodyStart)
		}
		if !b.half && b.r.Len() <= int(b.r.Size())/2 {
			b.half = true
			b.progress(hookMidBody)
		}
	}
	n, err := b.r.Read(p)
	if err == io.EOF && !b.fired {
		b.fired = true
		if b.err = b.onEOF(); b.err != nil {
			// Failing the read aborts the transaction before ".".
			return n, b.err
		}
	}
	return n, err
}

// connected marks the lane healthy after a session came up, so dispatch
// may open the other connections.
func (r *Runner) connected(ln *lane) {
	r.mu.Lock()
	ln.healthy, ln.probe = true, false
	r.mu.Unlock()
	r.poke()
}

func replyOf(err error) mail.Reply {
	var me *mail.Error
	if errors.As(err, &me) {
		r := me.Reply
		if r.Code == 0 && r.Text == "" && me.Err != nil {
			r.Text = me.Err.Error()
		}
		return r
	}
	return mail.Reply{Command: "CONNECT", Text: err.Error()}
}

// dialFailed records a failed connection for the claimed copy (its
// recipients are deferred; the attempt counts) and steers the account:
// 535 pauses it, a permanent refusal of the session pauses it with the
// server's words, anything else opens the circuit breaker.
func (r *Runner) dialFailed(ctx context.Context, ln *lane, j *job, err error, p Policy) {
	oc := mail.OutcomeOf(err)
	reply := replyOf(err)
	words := Explain(oc, reply)
	r.logf("outbox: account %s: cannot connect: %v", j.account, err)
	recOutcome := oc
	if oc != mail.AuthFailed && oc != mail.Unreachable {
		recOutcome = mail.Deferred // a session-level refusal says nothing about the recipients
	}
	res := mail.SubmitResult{}
	for _, rc := range j.rcpts {
		res.Rcpts = append(res.Rcpts, mail.RcptResult{Address: rc.address, Outcome: recOutcome, Reply: reply})
	}
	if _, err := r.Outbox.record(ctx, j, j.rcpts, res, err, false, p); err != nil {
		r.fail(err)
		return
	}
	r.stopLane(ln)
	if oc == mail.AuthFailed {
		return // record paused the account
	}
	if err := r.Outbox.connectionFailed(ctx, j.account, oc, reply, words, p); err != nil {
		r.fail(err)
	}
}

// connectionFailed opens the breaker (or pauses on a permanent refusal).
func (o *Outbox) connectionFailed(ctx context.Context, account string, oc mail.Outcome, reply mail.Reply, words string, p Policy) error {
	now := o.now()
	last := words
	if reply.Code != 0 || reply.Text != "" {
		last += " (" + reply.String() + ")"
	}
	return o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		switch oc {
		case mail.AuthFailed:
			return pauseTx(ctx, tx, account, PausedByAuth, authPause(reply), now)
		case mail.Rejected:
			return pauseTx(ctx, tx, account, PausedByServer, "the server refused the connection: "+last, now)
		}
		return openBreakerTx(ctx, tx, account, oc == mail.Unreachable, now, now.Add(p.ProbeInterval), last)
	})
}

// probe is the circuit breaker's single connection attempt per interval.
// The next probe time is committed first, so a crash while dialing does
// not turn into a dial storm on restart.
func (r *Runner) probe(ctx context.Context, ln *lane, p Policy) (s mail.Session, ok bool) {
	now := r.now()
	err := r.Outbox.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE outbox_accounts SET next_probe_at=? WHERE account=?`,
			store.Millis(now.Add(p.ProbeInterval)), ln.account)
		return err
	})
	if err != nil {
		r.fail(err)
		return nil, false
	}
	func() {
		defer func() {
			if v := recover(); v != nil {
				err = fmt.Errorf("panic while connecting: %v", v)
			}
		}()
		s, err = r.Dialer.Dial(ctx, ln.account)
	}()
	if err != nil {
		r.stopLane(ln)
		if ctx.Err() != nil {
			return nil, false
		}
		r.logf("outbox: account %s: probe failed: %v", ln.account, err)
		oc := mail.OutcomeOf(err)
		reply := replyOf(err)
		if err := r.Outbox.connectionFailed(ctx, ln.account, oc, reply, Explain(oc, reply), p); err != nil {
			r.fail(err)
		}
		return nil, false
	}
	err = r.Outbox.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		return closeBreakerTx(ctx, tx, ln.account, r.now())
	})
	if err != nil {
		closeSession(s)
		r.fail(err)
		return nil, false
	}
	r.logf("outbox: account %s: server reachable again", ln.account)
	r.connected(ln)
	return s, true
}

// interrupt closes an attempt whose processing panicked, like recovery
// after a crash does.
func (o *Outbox) interrupt(ctx context.Context, j *job, outcome, why string, p Policy) error {
	now := o.now()
	ctx = context.WithoutCancel(ctx)
	err := o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := o.interruptTx(ctx, tx, j.attempt, outcome, "Sending failed unexpectedly ("+why+")", p, now)
		return err
	})
	if err == nil {
		if o.handover != nil {
			o.handover.recorded(j.attempt)
		}
		o.changed(j.message)
	}
	return err
}
