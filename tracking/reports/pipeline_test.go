package reports

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/tracking"
)

// pipelineEnv fills INBOX with n bounces (every third message; the others
// are ordinary mail or other people's threads) and returns the recipient of
// each bounce and the UIDs of the bounces.
func pipelineEnv(t *testing.T, n int) (*syncEnv, []int64, map[uint32]bool) {
	se := newSyncEnv(t)
	var rids []int64
	reports := map[uint32]bool{}
	for i := range n {
		envid, addr := fmt.Sprintf("env-%d", i), fmt.Sprintf("r%d@example.net", i)
		rids = append(rids, se.send(sent{at: time.Now().Add(-time.Hour), copies: []sentCopy{{envid: envid, rcpts: []string{addr}}}})[addr])
		se.srv.Add(t, "INBOX", plain(i))
		reports[se.srv.Add(t, "INBOX", bounceFor(envid, addr, 0))] = true
		se.srv.Add(t, "INBOX", crlf(fmt.Sprintf("\nFrom: x@example.org\nTo: alice@example.test\nSubject: Re: lunch\nIn-Reply-To: <lunch-%d@example.org>\n\nok\n", i)))
	}
	return se, rids, reports
}

// checkAll verifies that every bounce was stored and matched exactly once,
// that no ordinary mail was downloaded and that the position is at the end.
func checkAll(t *testing.T, se *syncEnv, rids []int64, reports map[uint32]bool) {
	t.Helper()
	for i, rid := range rids {
		if n := len(se.reportEvents(rid)); n != 1 || se.status(rid) != tracking.Bounced {
			t.Fatalf("recipient %d: %d report events, %s", i, n, se.status(rid))
		}
	}
	var stored int
	se.st.DB.R.QueryRow(`SELECT count(*) FROM reports`).Scan(&stored)
	if stored != len(rids) {
		t.Fatalf("%d report rows for %d reports", stored, len(rids))
	}
	for uid := range se.srv.BodyFetches("INBOX") {
		if !reports[uid] {
			t.Fatalf("downloaded the body of non-report UID %d", uid)
		}
	}
	states, _ := se.rep.SyncStates(se.ctx)
	if len(states) != 1 || states[0].LastUID != uint32(3*len(rids)) {
		t.Fatalf("sync state = %+v", states)
	}
}

func TestSyncSlicesOnSeveralConnections(t *testing.T) {
	se, rids, reports := pipelineEnv(t, 40)
	se.s.sliceUIDs, se.s.Connections = 7, 3
	st := se.syncOnce()
	if st.Matched != 40 || st.Fetched != 40 || st.NotOurs != 40 || st.Candidates != 80 || st.Reconnects != 0 {
		t.Fatalf("sync: %+v", st)
	}
	if d := se.dials.Load(); d != 3 {
		t.Fatalf("%d dials, want the caller's connection and 2 extra ones", d)
	}
	checkAll(t, se, rids, reports)
	for uid, n := range se.srv.BodyFetches("INBOX") {
		if n != 1 {
			t.Fatalf("UID %d fetched %d times", uid, n)
		}
	}
	// Nothing new: no search, no extra connection.
	if st := se.syncOnce(); st.Candidates != 0 || se.dials.Load() != 4 {
		t.Fatalf("second sync: %+v after %d dials", st, se.dials.Load())
	}
}

func TestSyncSlicesDropMidFetchLosesNothing(t *testing.T) {
	se, rids, reports := pipelineEnv(t, 30)
	se.s.sliceUIDs, se.s.Connections = 10, 2
	// The first body fetch to start is cut after 2 KiB, in the middle of
	// its second or third body, on whichever connection it runs.
	se.srv.DropNextBodyFetch(2 << 10)
	st, err := se.s.SyncOnce(se.ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if st.Reconnects < 1 {
		t.Fatalf("no reconnect: %+v", st)
	}
	checkAll(t, se, rids, reports)
}

func TestSyncBatchFailureRollsBackAndRetries(t *testing.T) {
	se, rids, reports := pipelineEnv(t, 20)
	// Batches of at most 4 reports; Dial only runs between attempts.
	se.s.sliceUIDs, se.s.batch, se.s.Connections = 15, 4, 1
	var batches atomic.Int64
	var failed []uint32
	testHookBeforeCommit = func(items []prepared) error {
		if len(items) == 0 || batches.Add(1) != 2 {
			return nil
		}
		for _, it := range items {
			failed = append(failed, it.row.meta.UID)
		}
		return errors.New("disk full (test)") // the second batch of reports fails, once
	}
	t.Cleanup(func() { testHookBeforeCommit = nil })
	dial := se.s.Dial
	var checked bool
	se.s.Dial = func(ctx context.Context, account string) (Source, error) {
		if len(failed) > 0 && !checked {
			// Before the retry: nothing of the failed batch is stored
			// and the saved position is below all of it.
			checked = true
			for _, uid := range failed {
				var n int
				se.st.DB.R.QueryRow(`SELECT count(*) FROM reports WHERE uid=?`, uid).Scan(&n)
				if n != 0 {
					t.Errorf("UID %d of the failed batch is stored", uid)
				}
			}
			states, _ := se.rep.SyncStates(se.ctx)
			if len(states) == 1 && states[0].LastUID >= slices.Min(failed) {
				t.Errorf("position %d saved past the failed batch %v", states[0].LastUID, failed)
			}
		}
		return dial(ctx, account)
	}
	st, err := se.s.SyncOnce(se.ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if st.Reconnects != 1 || !checked {
		t.Fatalf("sync: %+v (failed batch %v)", st, failed)
	}
	checkAll(t, se, rids, reports)
}

func TestProgressOutOfOrder(t *testing.T) {
	p := &progress{saved: 0, done: map[uint32]bool{},
		slices: []*slice{{lo: 1, hi: 10}, {lo: 11, hi: 20}, {lo: 21, hi: 30}}}
	c := func(uids ...uint32) []Candidate {
		var out []Candidate
		for _, u := range uids {
			out = append(out, Candidate{UID: u})
		}
		return out
	}
	if _, ok := p.advance(); ok {
		t.Fatal("moved before any search")
	}
	p.searched(p.slices[1], c(12, 15), nil) // the second slice first
	p.finish(12, 15)
	if _, ok := p.advance(); ok {
		t.Fatal("moved past an unsearched slice")
	}
	p.searched(p.slices[0], c(3, 7), []uint32{3}) // 3 is not ours
	if last, _ := p.advance(); last != 6 {
		t.Fatalf("last = %d, want 6 (7 is not done)", last)
	}
	p.finish(7)
	if last, _ := p.advance(); last != 20 {
		t.Fatalf("last = %d, want 20", last)
	}
	p.searched(p.slices[2], nil, nil)
	if last, _ := p.advance(); last != 30 {
		t.Fatalf("last = %d, want 30", last)
	}
}

func TestAnswersOurs(t *testing.T) {
	e := newEnv(t)
	e.send(sent{at: time.Now(), messageID: "<ours-1@mailroom.test>"})
	e.send(sent{at: time.Now(), messageID: "<ours-2@mailroom.test>"})
	var refs []string // more IDs than one query takes
	for i := range 1200 {
		refs = append(refs, fmt.Sprintf("<other-%d@example.org>", i))
	}
	cands := []Candidate{
		{UID: 1, InReplyTo: "<ours-1@mailroom.test>"},
		{UID: 2, InReplyTo: "<x@example.org>", References: strings.Join(refs, " ") + " <ours-2@mailroom.test>"},
		{UID: 3, InReplyTo: "<x@example.org>", References: strings.Join(refs, "\r\n ")},
		{UID: 4, References: "<a@example.org>,<ours-1@mailroom.test>"},
		{UID: 5, InReplyTo: "ours-2@mailroom.test"}, // without brackets
		{UID: 6},
	}
	got, err := e.rep.answersOurs(e.ctx, cands)
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]bool{1: true, 2: true, 4: true, 5: true}
	if !maps.Equal(got, want) {
		t.Fatalf("answersOurs = %v, want %v", got, want)
	}
}

// otherValidity is a connection that sees another UIDVALIDITY (the
// mailbox was recreated between two logins).
type otherValidity struct {
	Source
	closed, used *atomic.Bool
}

func (o otherValidity) CandidatesIn(ctx context.Context, mailbox string, from, to uint32, notBefore time.Time) ([]Candidate, error) {
	o.used.Store(true)
	return o.Source.CandidatesIn(ctx, mailbox, from, to, notBefore)
}

func (o otherValidity) Select(ctx context.Context, mailbox string) (uint32, uint32, error) {
	v, next, err := o.Source.Select(ctx, mailbox)
	return v + 1, next, err
}

func (o otherValidity) Close() error {
	o.closed.Store(true)
	return o.Source.Close()
}

func TestSyncExtraConnectionWithOtherUIDValidityIsNotUsed(t *testing.T) {
	se, rids, reports := pipelineEnv(t, 12)
	se.s.sliceUIDs, se.s.Connections = 5, 2
	dial := se.s.Dial
	var closed, used atomic.Bool
	se.s.Dial = func(ctx context.Context, account string) (Source, error) {
		src, err := dial(ctx, account)
		if err != nil || se.dials.Load() == 1 {
			return src, err
		}
		return otherValidity{src, &closed, &used}, nil
	}
	st := se.syncOnce()
	if st.Matched != 12 || st.Reconnects != 0 || se.dials.Load() != 2 || !closed.Load() || used.Load() {
		t.Fatalf("sync: %+v after %d dials (extra closed: %v, used: %v)", st, se.dials.Load(), closed.Load(), used.Load())
	}
	checkAll(t, se, rids, reports)
}
