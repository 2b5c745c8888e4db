package reports

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"mailroom/mail/report"
	"mailroom/tracking/store"
)

// MailboxInfo and Candidate repeat mail/imapsource's declarations (aliases
// of identical unnamed structs), so that an imapsource.Source satisfies
// Source without this package importing imapsource or go-imap.
type MailboxInfo = struct {
	Name  string
	Attrs []string
}

// Candidate: see mail/imapsource.Candidate.
type Candidate = struct {
	UID        uint32
	Size       int64
	Reasons    []string
	MediaType  string
	ReportType string
	From       string
	MessageID  string
	InReplyTo  string
	References string
	Date       time.Time
}

// Source is the IMAP connection the sync loop needs (app passes a
// mail/imapsource.Source). See that package for the contract of each call.
type Source interface {
	Mailboxes(ctx context.Context) ([]MailboxInfo, error)
	Select(ctx context.Context, mailbox string) (uidValidity, uidNext uint32, err error)
	Candidates(ctx context.Context, mailbox string, sinceUID uint32) ([]Candidate, error)
	CandidatesIn(ctx context.Context, mailbox string, from, to uint32) ([]Candidate, error)
	FetchMany(ctx context.Context, mailbox string, uids []uint32, maxBytes int64, fn func(uid uint32, body []byte, err error) error) error
	Move(ctx context.Context, mailbox string, uid uint32, dest string) error
	WaitForChange(ctx context.Context, mailbox string, maxIdle time.Duration) error
	Close() error
}

// Errors from a Source are told apart by behaviour (the source's package
// is not imported here).
type (
	perMessageError interface{ PerMessage() bool }
	authError       interface{ AuthFailed() bool }
)

func isPerMessage(err error) bool {
	var pm perMessageError
	return errors.As(err, &pm) && pm.PerMessage()
}

func isAuthFailure(err error) bool {
	var ae authError
	return errors.As(err, &ae) && ae.AuthFailed()
}

// Settings read at the start of every sync (docs/CONFIG.md).
const (
	SettingJunk     = "reports.junk"      // "true": also watch the \Junk mailbox
	SettingFileInto = "reports.file_into" // non-empty: move processed reports into this folder
)

// Syncer fetches reports from the accounts' mailboxes and ingests them.
type Syncer struct {
	Reports *Reports
	// Dial opens an authenticated connection for an account.
	Dial func(ctx context.Context, account string) (Source, error)
	// MaxBytes is the download cap per message (default report.MaxSize):
	// larger candidates are recorded as skipped, not downloaded.
	MaxBytes int64
	// MaxIdle bounds one wait for new mail in Run (default 10 min, so the
	// Junk mailbox, which IDLE does not watch, is looked at that often).
	MaxIdle time.Duration
	// MinBackoff and MaxBackoff bound the reconnect delay (defaults 1 s
	// and 5 min); an authentication failure waits MaxBackoff at once.
	MinBackoff, MaxBackoff time.Duration
	// Attempts is how many connections SyncOnce uses before giving up
	// (default 4).
	Attempts int
	// Connections is the most IMAP connections one large sync uses at
	// once (default 2): a mailbox with more than one slice of new UIDs to
	// search is searched and fetched on Dial'ed extra connections too,
	// closed when the sync ends. 1 uses the caller's connection only.
	Connections int
	// sliceUIDs and batch override sliceUIDs and ingestBatch (tests).
	sliceUIDs, batch int
	// Logf receives one line per notable event; nil discards.
	Logf func(format string, args ...any)
}

func (s *Syncer) maxBytes() int64 {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return report.MaxSize
}

func (s *Syncer) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// SyncStats counts one sync pass.
type SyncStats struct {
	Mailboxes  int
	Rescans    int // UIDVALIDITY changed: rescanned from UID 1
	Candidates int // picked by the server's SEARCH
	NotOurs    int // replies/auto-replies to messages we did not send: not downloaded
	Skipped    int // larger than MaxBytes: recorded, not downloaded
	Fetched    int // bodies downloaded
	Ingested   int // new report rows
	Duplicates int // already stored
	Matched    int // reports that matched at least one recipient
	Unmatched  int // reports kept as unmatched
	Filed      int // moved into reports.file_into
	Reconnects int
}

func (a *SyncStats) add(b SyncStats) {
	a.Mailboxes += b.Mailboxes
	a.Rescans += b.Rescans
	a.Candidates += b.Candidates
	a.NotOurs += b.NotOurs
	a.Skipped += b.Skipped
	a.Fetched += b.Fetched
	a.Ingested += b.Ingested
	a.Duplicates += b.Duplicates
	a.Matched += b.Matched
	a.Unmatched += b.Unmatched
	a.Filed += b.Filed
}

// SyncOnce brings one account up to date and returns (mailroom run --once).
// A broken connection is redialed with backoff, up to Attempts times;
// progress is saved after every message, so each attempt resumes.
func (s *Syncer) SyncOnce(ctx context.Context, account string) (SyncStats, error) {
	attempts := s.Attempts
	if attempts <= 0 {
		attempts = 4
	}
	var total SyncStats
	var err error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			total.Reconnects++
			if err := sleep(ctx, s.backoff(i)); err != nil {
				return total, err
			}
		}
		var src Source
		src, err = s.Dial(ctx, account)
		if err != nil {
			if isAuthFailure(err) || ctx.Err() != nil {
				return total, err
			}
			s.logf("reports: %s: connect: %v", account, err)
			continue
		}
		var st SyncStats
		st, err = s.syncAll(ctx, src, account)
		src.Close()
		total.add(st)
		if err == nil || ctx.Err() != nil {
			return total, err
		}
		s.logf("reports: %s: sync interrupted: %v", account, err)
	}
	return total, fmt.Errorf("reports: %s: giving up after %d attempts: %w", account, attempts, err)
}

// Run syncs one account until ctx ends: a full pass, then a wait for new
// mail in INBOX (IDLE, or polling), then another pass. Connection failures
// are retried forever with exponential backoff and jitter; an
// authentication failure waits MaxBackoff before trying again, so a wrong
// password cannot lock the account.
func (s *Syncer) Run(ctx context.Context, account string) error {
	maxIdle := s.MaxIdle
	if maxIdle <= 0 {
		maxIdle = 10 * time.Minute
	}
	failures, authFailed := 0, false
	for ctx.Err() == nil {
		if failures > 0 {
			d := s.backoff(failures)
			if authFailed {
				d = s.maxBackoff()
			}
			if sleep(ctx, d) != nil {
				break
			}
		}
		src, err := s.Dial(ctx, account)
		if err != nil {
			failures++
			authFailed = isAuthFailure(err)
			s.logf("reports: %s: connect: %v", account, err)
			continue
		}
		authFailed = false
		for ctx.Err() == nil {
			if _, err = s.syncAll(ctx, src, account); err != nil {
				break
			}
			failures = 0
			if err = src.WaitForChange(ctx, "INBOX", maxIdle); err != nil {
				break
			}
		}
		src.Close()
		if ctx.Err() == nil {
			failures++
			s.logf("reports: %s: %v; reconnecting", account, err)
		}
	}
	return ctx.Err()
}

func (s *Syncer) maxBackoff() time.Duration {
	if s.MaxBackoff > 0 {
		return s.MaxBackoff
	}
	return 5 * time.Minute
}

// backoff is the delay before attempt n (n >= 1): MinBackoff doubling up
// to MaxBackoff, with +-25% jitter so that many clients do not retry in
// step.
func (s *Syncer) backoff(n int) time.Duration {
	d := s.MinBackoff
	if d <= 0 {
		d = time.Second
	}
	for i := 1; i < n && d < s.maxBackoff(); i++ {
		d *= 2
	}
	d = min(d, s.maxBackoff())
	return d - d/4 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// syncAll syncs INBOX and, when configured, the Junk mailbox.
func (s *Syncer) syncAll(ctx context.Context, src Source, account string) (SyncStats, error) {
	st := s.Reports.Store
	junk, err := st.Setting(ctx, SettingJunk, "false")
	if err != nil {
		return SyncStats{}, err
	}
	fileInto, err := st.Setting(ctx, SettingFileInto, "")
	if err != nil {
		return SyncStats{}, err
	}
	boxes := []string{"INBOX"}
	if junk == "true" {
		list, err := src.Mailboxes(ctx)
		if err != nil {
			return SyncStats{}, err
		}
		if j := junkMailbox(list); j != "" {
			boxes = append(boxes, j)
		} else {
			s.logf("reports: %s: reports.junk is set but the server names no \\Junk mailbox", account)
		}
	}
	var total SyncStats
	for _, mb := range boxes {
		got, err := s.syncMailbox(ctx, src, account, mb, fileInto)
		total.add(got)
		if err != nil {
			return total, fmt.Errorf("%s: %w", mb, err)
		}
	}
	return total, nil
}

// junkMailbox finds the mailbox with the SPECIAL-USE \Junk attribute
// (RFC 6154), or, on servers without SPECIAL-USE, one commonly named so.
func junkMailbox(list []MailboxInfo) string {
	for _, mb := range list {
		for _, a := range mb.Attrs {
			if strings.EqualFold(a, `\Junk`) {
				return mb.Name
			}
		}
	}
	for _, mb := range list {
		switch strings.ToLower(mb.Name) {
		case "junk", "spam", "junk e-mail", "inbox.junk", "inbox.spam", "[gmail]/spam":
			return mb.Name
		}
	}
	return ""
}

// bounceReasons are candidate reasons that point at a delivery report;
// the others (a reply, an auto-submitted message) only matter when they
// answer a message we sent.
var bounceReasons = []string{"content-type-report", "report-part", "from-mailer-daemon", "from-postmaster",
	"x-failed-recipients", "bounce-subject"}

func (s *Syncer) syncMailbox(ctx context.Context, src Source, account, mailbox, fileInto string) (SyncStats, error) {
	st := SyncStats{Mailboxes: 1}
	uidValidity, uidNext, err := src.Select(ctx, mailbox)
	if err != nil {
		return st, err
	}
	prevValidity, lastUID, err := s.Reports.syncState(ctx, account, mailbox)
	if err != nil {
		return st, err
	}
	if prevValidity != uidValidity {
		if prevValidity != 0 {
			// RFC 3501 2.3.1.1: the old UIDs mean nothing now. Rescan;
			// stored reports are recognised again by Message-ID or
			// content, so no event is recorded twice.
			st.Rescans++
			s.logf("reports: %s/%s: UIDVALIDITY changed (%d -> %d): rescanning", account, mailbox, prevValidity, uidValidity)
		}
		lastUID = 0
		if err := s.Reports.saveSyncState(ctx, account, mailbox, uidValidity, 0); err != nil {
			return st, err
		}
	}
	if uidNext != 0 && lastUID+1 >= uidNext {
		return st, nil // nothing new since last time
	}
	p := &progress{account: account, mailbox: mailbox, uidValidity: uidValidity, saved: lastUID,
		slices: s.slices(lastUID+1, uidNext), done: map[uint32]bool{}}
	filed, err := s.download(ctx, src, p, &st, fileInto != "" && fileInto != mailbox)
	if err != nil {
		return st, err
	}
	for _, f := range filed {
		if err := src.Move(ctx, mailbox, f.uid, fileInto); err != nil {
			if isPerMessage(err) {
				s.logf("reports: file UID %d into %s: %v", f.uid, fileInto, err)
				continue
			}
			return st, err
		}
		st.Filed++
		if err := s.Reports.MarkFiled(ctx, f.reportID, fileInto); err != nil {
			return st, err
		}
	}
	// Everything below UIDNEXT has now been looked at, candidates or not.
	if uidNext > 0 {
		last := max(uidNext-1, p.maxCandidate())
		if err := s.Reports.saveSyncState(ctx, account, mailbox, uidValidity, last); err != nil {
			return st, err
		}
	}
	return st, nil
}

// Sizes of the download pipeline.
const (
	// sliceUIDs is how many UIDs one SEARCH covers in a large sync: the
	// reports of a slice are fetched, parsed and stored while the server
	// searches the next one.
	sliceUIDs = 2500
	// fetchBatch and fetchBatchBytes bound one UID FETCH of bodies.
	fetchBatch      = 200
	fetchBatchBytes = 32 << 20
	// ingestBatch is the most reports stored in one transaction, and
	// storeLinger the longest a report waits for others to share it.
	ingestBatch = 250
	storeLinger = 25 * time.Millisecond
	// inFlightBytes bounds the bodies downloaded but not yet stored, so a
	// run of large reports cannot pile up in memory behind a slow disk.
	inFlightBytes = 64 << 20
)

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
	cands, err := src.CandidatesIn(ctx, p.mailbox, sl.lo, sl.hi)
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

// answersOurs tells which candidates reply to (In-Reply-To or References)
// a message Mailroom sent, from the header fields SEARCH already fetched:
// one query per few hundred Message-IDs, not one per ID.
func (r *Reports) answersOurs(ctx context.Context, cands []Candidate) (map[uint32]bool, error) {
	idsOf := func(c Candidate) []string {
		var out []string
		for _, id := range strings.Fields(strings.ReplaceAll(c.InReplyTo+" "+c.References, ">", "> ")) {
			if id = normMsgID(strings.Trim(id, ",")); strings.Contains(id, "@") {
				out = append(out, id)
			}
		}
		return out
	}
	var all []string
	seen := map[string]bool{}
	for _, c := range cands {
		for _, id := range idsOf(c) {
			if !seen[id] {
				seen[id] = true
				all = append(all, id)
			}
		}
	}
	sent := map[string]bool{}
	const chunk = 500 // well below SQLite's limit on bound parameters
	for len(all) > 0 {
		n := min(len(all), chunk)
		args := make([]any, n)
		for i, id := range all[:n] {
			args[i] = id
		}
		all = all[n:]
		rows, err := r.Store.DB.R.QueryContext(ctx, `SELECT message_id FROM messages WHERE message_id IN (?`+strings.Repeat(",?", n-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			sent[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := map[uint32]bool{}
	for _, c := range cands {
		if slices.ContainsFunc(idsOf(c), func(id string) bool { return sent[id] }) {
			out[c.UID] = true
		}
	}
	return out, nil
}

func (r *Reports) syncState(ctx context.Context, account, mailbox string) (uidValidity, lastUID uint32, err error) {
	err = r.Store.DB.R.QueryRowContext(ctx, `SELECT uid_validity, last_uid FROM imap_sync WHERE account=? AND mailbox=?`,
		account, mailbox).Scan(&uidValidity, &lastUID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	return uidValidity, lastUID, err
}

// saveSyncState records progress; last_uid never moves backwards within one
// UIDVALIDITY.
func (r *Reports) saveSyncState(ctx context.Context, account, mailbox string, uidValidity, lastUID uint32) error {
	_, err := r.Store.DB.W.ExecContext(ctx, qSaveSyncState, account, mailbox, uidValidity, lastUID, store.Millis(time.Now()))
	return err
}

// saveSyncStateTx is saveSyncState inside a batch transaction.
func saveSyncStateTx(tx *ptx, account, mailbox string, uidValidity, lastUID uint32) error {
	_, err := tx.exec(qSaveSyncState, account, mailbox, uidValidity, lastUID, store.Millis(time.Now()))
	return err
}

const qSaveSyncState = `INSERT INTO imap_sync(account, mailbox, uid_validity, last_uid, synced_at)
		VALUES(?,?,?,?,?) ON CONFLICT(account, mailbox) DO UPDATE SET
		last_uid=CASE WHEN uid_validity=excluded.uid_validity THEN max(last_uid, excluded.last_uid) ELSE excluded.last_uid END,
		uid_validity=excluded.uid_validity, synced_at=excluded.synced_at`

// SyncState is the saved position of one mailbox.
type SyncState struct {
	Account, Mailbox string
	UIDValidity      uint32
	LastUID          uint32
	SyncedAt         time.Time
}

// SyncStates lists the saved positions (for `mailroom doctor` and tests).
func (r *Reports) SyncStates(ctx context.Context) ([]SyncState, error) {
	rows, err := r.Store.DB.R.QueryContext(ctx, `SELECT account, mailbox, uid_validity, last_uid, synced_at FROM imap_sync ORDER BY account, mailbox`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SyncState
	for rows.Next() {
		var s SyncState
		var at int64
		if err := rows.Scan(&s.Account, &s.Mailbox, &s.UIDValidity, &s.LastUID, &at); err != nil {
			return nil, err
		}
		s.SyncedAt = store.FromMillis(at)
		out = append(out, s)
	}
	return out, rows.Err()
}
