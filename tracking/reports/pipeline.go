package reports

import (
	"cmp"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"mailroom/mail/report"
)

// The sync's pipeline: new UIDs cut into slices, each searched on one of
// up to connections() sessions while earlier slices' report bodies are
// fetched, parsed on every core and stored in batches (download), and the
// sync position advanced only past slices that are wholly stored.

// sliceSize is how many UIDs one slice's SEARCH covers.
func (s *Syncer) sliceSize() uint32 {
	if s.sliceUIDs > 0 {
		return uint32(s.sliceUIDs)
	}
	return sliceUIDs
}

func (s *Syncer) connections() int {
	if s.Connections > 0 {
		return s.Connections
	}
	return 2
}

// slices cuts from..uidNext-1 into SEARCH ranges. Without UIDNEXT (the
// server did not say) it is one open range from..*.
func (s *Syncer) slices(from, uidNext uint32) []*slice {
	from = max(from, 1)
	if uidNext == 0 {
		return []*slice{{lo: from}}
	}
	var out []*slice
	for lo := from; lo < uidNext; {
		hi := uidNext - 1
		if hi-lo >= s.sliceSize() {
			hi = lo + s.sliceSize() - 1
		}
		out = append(out, &slice{lo: lo, hi: hi})
		lo = hi + 1
	}
	return out
}

// slice is one SEARCH range and, once searched, its candidates.
type slice struct {
	lo, hi   uint32 // hi 0: "*"
	searched bool
	cands    []Candidate // by UID
	next     int         // cands[:next] are done
}

// progress tracks which candidates are finished, possibly out of order
// (several slices and connections at once): the saved last UID is the
// highest one below which every slice is searched and every candidate is
// done, so a crash or a broken connection resumes exactly. Safe for
// concurrent use.
type progress struct {
	account, mailbox string
	uidValidity      uint32
	notBefore        time.Time // mail received before this day is not looked at (Reports.lookSince)

	mu     sync.Mutex
	slices []*slice // by UID
	done   map[uint32]bool
	saved  uint32
}

// searched records a slice's candidates; finished ones (not ours) are
// marked done at once.
func (p *progress) searched(sl *slice, cands []Candidate, finished []uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sl.cands, sl.searched = cands, true
	for _, u := range finished {
		p.done[u] = true
	}
}

func (p *progress) finish(uids ...uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, u := range uids {
		p.done[u] = true
	}
}

// advance returns the new position to save, or ok false when it has not
// moved.
func (p *progress) advance() (last uint32, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	last = p.saved
scan:
	for _, sl := range p.slices {
		if !sl.searched {
			last = max(last, sl.lo-1)
			break
		}
		for sl.next < len(sl.cands) && p.done[sl.cands[sl.next].UID] {
			sl.next++
		}
		switch {
		case sl.next < len(sl.cands):
			last = max(last, sl.cands[sl.next].UID-1)
			break scan
		case sl.hi != 0:
			last = max(last, sl.hi)
		case len(sl.cands) > 0:
			last = max(last, sl.cands[len(sl.cands)-1].UID)
		}
	}
	if last <= p.saved {
		return p.saved, false
	}
	p.saved = last
	return last, true
}

func (p *progress) maxCandidate() uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var m uint32
	for _, sl := range p.slices {
		if n := len(sl.cands); n > 0 {
			m = max(m, sl.cands[n-1].UID)
		}
	}
	return m
}

type toFile struct {
	uid      uint32
	reportID int64
}

// budget is a byte allowance shared by the fetching and the storing
// goroutines.
type budget struct {
	mu   sync.Mutex
	cond *sync.Cond
	used int64
}

func newBudget(ctx context.Context) *budget {
	b := &budget{}
	b.cond = sync.NewCond(&b.mu)
	context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	return b
}

// take waits until n bytes fit (a single larger body always fits alone).
func (b *budget) take(ctx context.Context, n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.used > 0 && b.used+n > inFlightBytes && ctx.Err() == nil {
		b.cond.Wait()
	}
	b.used += n
	return ctx.Err()
}

func (b *budget) give(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.cond.Broadcast()
	b.mu.Unlock()
}

// item is one message on its way through the pipeline: a body to parse
// and store, or the trace of a message that was not downloaded.
type item struct {
	uid  uint32
	body []byte // nil for a skipped message
	prep prepared
}

// download runs the pipeline for p's slices: IMAP workers (src, plus up to
// Connections-1 extra connections when there are several slices) search a
// slice, pick its reports and fetch their bodies; parse workers (one per
// core) parse them; this goroutine stores them in batches, each with the
// sync position it completes, in one transaction. The stages overlap, so
// the server searches the next slice while the previous one is parsed and
// stored. Nothing is lost on an error: what was not committed with its
// position is fetched again by the next attempt.
func (s *Syncer) download(ctx context.Context, src Source, p *progress, st *SyncStats, file bool) ([]toFile, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	fail := func(err error) {
		if err != nil {
			cancel(err)
		}
	}
	var stMu sync.Mutex // st is shared by the stages
	count := func(f func(*SyncStats)) {
		stMu.Lock()
		f(st)
		stMu.Unlock()
	}
	mem := newBudget(ctx)
	parseCh := make(chan item, 2*ingestBatch)
	storeCh := make(chan item, 2*ingestBatch)
	send := func(ch chan<- item, it item) error {
		select {
		case ch <- it:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}

	queue := make(chan *slice, len(p.slices))
	for _, sl := range p.slices {
		queue <- sl
	}
	close(queue)
	work := func(src Source) {
		for sl := range queue {
			if ctx.Err() != nil {
				return
			}
			if err := s.fetchSlice(ctx, src, p, sl, count, mem, func(it item) error {
				if it.body == nil {
					return send(storeCh, it)
				}
				return send(parseCh, it)
			}); err != nil {
				fail(err)
				return
			}
		}
	}
	var fetchers sync.WaitGroup
	fetchers.Go(func() { work(src) })
	for range min(s.connections(), len(p.slices)) - 1 {
		fetchers.Go(func() {
			extra, err := s.extraConn(ctx, p)
			if err != nil {
				if ctx.Err() == nil {
					s.logf("reports: %s: extra connection: %v (going on with fewer)", p.account, err)
				}
				return
			}
			defer extra.Close()
			work(extra)
		})
	}
	go func() {
		fetchers.Wait()
		close(parseCh)
	}()

	var parsers sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		parsers.Go(func() {
			for it := range parseCh {
				if ctx.Err() != nil {
					mem.give(int64(len(it.body)))
					continue // drain so the fetchers can finish
				}
				it.prep = s.Reports.prepare(Fetched{Raw: it.body, Meta: Meta{Account: p.account, Mailbox: p.mailbox,
					UIDValidity: p.uidValidity, UID: it.uid, ReceivedAt: time.Now()}})
				if send(storeCh, it) != nil {
					mem.give(int64(len(it.body)))
				}
			}
		})
	}
	go func() {
		parsers.Wait()
		close(storeCh)
	}()

	var filed []toFile
	var pending []item
	flush := func() error {
		preps := make([]prepared, len(pending))
		for i, it := range pending {
			preps[i] = it.prep
		}
		results, err := s.Reports.storeBatch(ctx, preps, func(tx *ptx) error {
			// The position commits with the reports it covers.
			for _, it := range pending {
				p.finish(it.uid)
			}
			last, ok := p.advance()
			if !ok {
				return nil
			}
			return saveSyncStateTx(tx, p.account, p.mailbox, p.uidValidity, last)
		})
		for _, it := range pending {
			mem.give(int64(len(it.body)))
		}
		if err != nil {
			pending = pending[:0]
			return err
		}
		count(func(st *SyncStats) {
			for i, res := range results {
				if pending[i].body == nil {
					continue // counted as skipped by the fetcher
				}
				if res.Duplicate {
					st.Duplicates++
				} else {
					st.Ingested++
				}
				if res.Matched() > 0 {
					st.Matched++
				} else if res.Kind != report.KindNotAReport {
					st.Unmatched++
				}
				if file && fileable(res.Kind) {
					filed = append(filed, toFile{pending[i].uid, res.ReportID})
				}
			}
		})
		pending = pending[:0]
		return nil
	}
	// A batch is stored when it is full, when its bodies hold a quarter
	// of the memory allowance (the fetchers may be waiting for it), or
	// storeLinger after its first item: one transaction per report that
	// happens to arrive alone would cost more than the reports.
	var linger <-chan time.Time
	var pendingBytes int64
	batch := ingestBatch
	if s.batch > 0 {
		batch = s.batch
	}
	for open := true; open; {
		select {
		case it, ok := <-storeCh:
			if !ok {
				open = false
				break
			}
			if ctx.Err() != nil {
				mem.give(int64(len(it.body)))
				continue // drain so the other stages can finish
			}
			pending = append(pending, it)
			pendingBytes += int64(len(it.body))
			if len(pending) == 1 {
				linger = time.After(storeLinger)
			}
			if len(pending) >= batch || pendingBytes >= inFlightBytes/4 {
				fail(flush())
				linger, pendingBytes = nil, 0
			}
		case <-linger:
			fail(flush())
			linger, pendingBytes = nil, 0
		}
	}
	if ctx.Err() == nil && len(pending) > 0 {
		fail(flush())
	}
	if ctx.Err() == nil {
		// Slices without reports may have moved the position.
		if last, ok := p.advance(); ok {
			fail(s.Reports.saveSyncState(ctx, p.account, p.mailbox, p.uidValidity, last))
		}
	}
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	slices.SortFunc(filed, func(a, b toFile) int { return cmp.Compare(a.uid, b.uid) })
	return filed, nil
}

// extraConn dials another connection for the same mailbox, usable only if
// the mailbox still has the same UIDVALIDITY.
func (s *Syncer) extraConn(ctx context.Context, p *progress) (Source, error) {
	src, err := s.Dial(ctx, p.account)
	if err != nil {
		return nil, err
	}
	v, _, err := src.Select(ctx, p.mailbox)
	if err == nil && v != p.uidValidity {
		err = fmt.Errorf("UIDVALIDITY is %d there, %d on the first connection", v, p.uidValidity)
	}
	if err != nil {
		src.Close()
		return nil, err
	}
	return src, nil
}

// fetchSlice searches one slice, decides which candidates to download and
// fetches them, handing every body (and every skipped message) to out.
func (s *Syncer) fetchSlice(ctx context.Context, src Source, p *progress, sl *slice,
	count func(func(*SyncStats)), mem *budget, out func(item) error) error {
	cands, err := src.CandidatesIn(ctx, p.mailbox, sl.lo, sl.hi, p.notBefore)
	if err != nil {
		return err
	}
	slices.SortFunc(cands, func(a, b Candidate) int { return cmp.Compare(a.UID, b.UID) })
	ours, err := s.Reports.answersOurs(ctx, cands)
	if err != nil {
		return err
	}
	var toFetch, tooLarge []Candidate
	var notOurs []uint32
	for _, c := range cands {
		bounceLike := slices.ContainsFunc(c.Reasons, func(r string) bool { return slices.Contains(bounceReasons, r) })
		switch {
		case !bounceLike && !ours[c.UID]:
			// Someone else's thread or an automatic notice: left
			// undownloaded (and unread).
			notOurs = append(notOurs, c.UID)
		case c.Size > s.maxBytes():
			tooLarge = append(tooLarge, c)
		default:
			toFetch = append(toFetch, c)
		}
	}
	p.searched(sl, cands, notOurs)
	count(func(st *SyncStats) {
		st.Candidates += len(cands)
		st.NotOurs += len(notOurs)
		st.Skipped += len(tooLarge)
	})
	skip := func(uid uint32, size int64, note string) error {
		return out(item{uid: uid, prep: prepared{skipped: true, row: reportRow{
			meta: Meta{Account: p.account, Mailbox: p.mailbox, UIDValidity: p.uidValidity, UID: uid, ReceivedAt: time.Now()},
			kind: KindSkipped, size: size, note: note}}})
	}
	for _, c := range tooLarge {
		if err := skip(c.UID, c.Size, fmt.Sprintf("not downloaded: %d bytes is over the %d-byte cap (%s)",
			c.Size, s.maxBytes(), strings.Join(c.Reasons, ", "))); err != nil {
			return err
		}
	}
	sizes := make(map[uint32]int64, len(toFetch))
	for _, c := range toFetch {
		sizes[c.UID] = c.Size
	}
	for i := 0; i < len(toFetch); {
		var uids []uint32
		var size int64
		for ; i < len(toFetch) && len(uids) < fetchBatch && (len(uids) == 0 || size+toFetch[i].Size <= fetchBatchBytes); i++ {
			uids = append(uids, toFetch[i].UID)
			size += toFetch[i].Size
		}
		err := src.FetchMany(ctx, p.mailbox, uids, s.maxBytes(), func(uid uint32, body []byte, err error) error {
			if err != nil {
				if !isPerMessage(err) {
					return err
				}
				// Gone, refused or grown past the cap since SEARCH:
				// keep a trace and go on with the others.
				count(func(st *SyncStats) { st.Skipped++ })
				return skip(uid, sizes[uid], "not downloaded: "+err.Error())
			}
			if err := mem.take(ctx, int64(len(body))); err != nil {
				return err
			}
			count(func(st *SyncStats) { st.Fetched++ })
			if err := out(item{uid: uid, body: body}); err != nil {
				mem.give(int64(len(body)))
				return err
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// fileable: delivery reports and receipts are moved out of the way; a
// reply is a person's mail and stays where the user expects it.
func fileable(k report.Kind) bool {
	return k == report.KindDSN || k == report.KindBounce || k == report.KindMDN
}
