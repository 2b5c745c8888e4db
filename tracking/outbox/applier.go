package outbox

import (
	"context"
	"database/sql"
	"slices"
	"time"
	"unicode/utf8"

	"mailroom/mail"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

// pendingResult is a clean acceptance in the result log, on its way to
// the database.
type pendingResult struct {
	slot int
	seq  uint64
	rec  resultRec
}

// maxApplyBatch bounds one applier transaction: large enough to spread a
// commit over many copies, small enough that a claim waiting for the
// writer is not held up for long.
const maxApplyBatch = 200

// applyWait is the longest a record waits for others to share its commit.
const applyWait = 20 * time.Millisecond

// cleanResult returns the record of a transaction every recipient of
// which was accepted, or false when the result must be committed at once
// (anything else: a refusal, a deferral, a broken session, a 452 split).
func cleanResult(j *job, part []*jobRcpt, res mail.SubmitResult, sendErr error, at time.Time) (resultRec, bool) {
	if sendErr != nil || len(part) != len(j.rcpts) || res.Final == nil {
		return resultRec{}, false
	}
	rec := resultRec{Attempt: j.attempt, Message: j.message, EnvID: j.envid, Server: res.Server, DSN: res.DSNRequested,
		At: store.Millis(at)}
	if !utf8.ValidString(res.Server) {
		return resultRec{}, false
	}
	for i, r := range outcomeFor(part, res, nil) {
		// JSON would not carry bytes that are not UTF-8 as they came.
		if r.Outcome != mail.Accepted || !utf8.ValidString(r.Reply.Text) || !utf8.ValidString(r.Reply.Enhanced) {
			return resultRec{}, false
		}
		rec.Rcpts = append(rec.Rcpts, resultRcp{ID: part[i].id, Number: part[i].number, Command: r.Reply.Command,
			Code: r.Reply.Code, Enhanced: r.Reply.Enhanced, Text: r.Reply.Text})
	}
	return rec, true
}

// applier folds the result log's records into the database in large
// transactions until in is closed and drained. A database error stops
// the writers (they would otherwise fill their rings and wait) and the
// run; the records stay in the file for the next start to replay.
func (r *Runner) applier(ctx context.Context, in <-chan pendingResult, done chan<- struct{}) {
	defer close(done)
	ctx = context.WithoutCancel(ctx)
	log := r.Outbox.results
	var failed error
	batch := make([]pendingResult, 0, maxApplyBatch)
	for first := range in {
		batch = append(batch[:0], first)
		// Wait a little for more: applied as they come, records of a bulk
		// send would go in twos and threes, each commit costing nearly
		// what a commit per copy did.
		deadline := time.NewTimer(applyWait)
	fill:
		for len(batch) < maxApplyBatch {
			select {
			case p, ok := <-in:
				if !ok {
					break fill
				}
				batch = append(batch, p)
			case <-deadline.C:
				break fill
			}
		}
		deadline.Stop()
		if failed != nil {
			continue // drain, so that no writer blocks on the channel
		}
		recs := make([]resultRec, len(batch))
		for i, p := range batch {
			recs[i] = p.rec
		}
		var msgs []string
		var err error
		if r.applyFault != nil {
			err = r.applyFault()
		}
		if err == nil {
			msgs, err = r.Outbox.applyResults(ctx, recs)
		}
		if err != nil {
			failed = err
			log.fail(err)
			r.fail(err)
			continue
		}
		r.Outbox.changed(msgs...)
		for _, p := range batch {
			log.markApplied(p.slot, p.seq+1)
		}
	}
}

// applyResults commits clean acceptances in one transaction, with what
// recordAndClaim would have committed for each (an "accepted" event and
// the last reply per recipient, a cancel asked for meanwhile dropped, the
// attempt ended, the crash count cleared), a statement per kind for the
// whole batch. It returns the messages changed. A record whose attempt is
// already closed (replayed after it was applied) is skipped.
func (o *Outbox) applyResults(ctx context.Context, recs []resultRec) ([]string, error) {
	var msgs []string
	err := o.Store.DB.WithTx(ctx, func(tx *sql.Tx) error {
		msgs = msgs[:0]
		var evs []tracking.Event
		var replies, ends, rids []any
		open, err := o.openAttempts(ctx, tx, recs)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if !open[rec.Attempt] {
				continue
			}
			at := time.UnixMilli(rec.At)
			j := &job{attempt: rec.Attempt, message: rec.Message, envid: rec.EnvID}
			res := mail.SubmitResult{Server: rec.Server, DSNRequested: rec.DSN}
			for _, rr := range rec.Rcpts {
				reply := mail.Reply{Command: rr.Command, Code: rr.Code, Enhanced: rr.Enhanced, Text: rr.Text}
				words := Explain(mail.Accepted, reply)
				detail, err := o.acceptedDetail(ctx, tx, j, &jobRcpt{id: rr.ID, number: rr.Number}, res, words)
				if err != nil {
					return err
				}
				ev := replyEvent(rr.ID, at, reply)
				ev.Kind, ev.Detail = tracking.EvAccepted, detail
				evs = append(evs, ev)
				replies = append(replies, words)
				rids = append(rids, rr.ID)
			}
			ends = append(ends, rec.Attempt, rec.At, rec.Server, rec.DSN)
			if !slices.Contains(msgs, rec.Message) {
				msgs = append(msgs, rec.Message)
			}
		}
		if len(ends) == 0 {
			return nil
		}
		if err := o.Store.AddEventsSetting(ctx, tx, evs, o.stmts.lastReply, replies); err != nil {
			return err
		}
		for _, st := range []struct {
			s    *store.RowsStmt
			rows []any
		}{{bulkDeleteCancels, rids}, {bulkEndAttempts, ends}} {
			if _, err := o.rows(st.s).Exec(ctx, tx, nil, st.rows); err != nil {
				return err
			}
		}
		for _, m := range msgs {
			if _, err := o.exec(ctx, tx, qCrashClear, m, m); err != nil {
				return err
			}
		}
		return nil
	})
	return msgs, err
}

// openAttempts says which of the records' attempts are still open: a
// record replayed after it was applied finds its attempt closed.
func (o *Outbox) openAttempts(ctx context.Context, tx *sql.Tx, recs []resultRec) (map[int64]bool, error) {
	ids := make([]any, len(recs))
	for i, rec := range recs {
		ids[i] = rec.Attempt
	}
	open := make(map[int64]bool, len(recs))
	err := o.rows(openAttemptsOf).Query(ctx, tx, nil, ids, func(rows *sql.Rows) error {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return err
		}
		open[id] = true
		return nil
	})
	return open, err
}
