package reports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
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
	CandidatesIn(ctx context.Context, mailbox string, from, to uint32, notBefore time.Time) ([]Candidate, error)
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
	notBefore, err := s.Reports.lookSince(ctx, time.Now())
	if err != nil {
		return st, err
	}
	p := &progress{account: account, mailbox: mailbox, uidValidity: uidValidity, saved: lastUID, notBefore: notBefore,
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

// lookBack is how far before Mailroom's first message a sync looks. IMAP's
// SINCE compares whole days of the internal date, in a time zone the
// server chooses, and a server's clock may be off; two days cover both.
const lookBack = 48 * time.Hour

// lookSince is the day from which mail can be about something Mailroom
// sent: two days before its first message (of any account: a bounce or
// reply may reach another account's mailbox), or two days before now when
// it has sent nothing yet. Everything a report, receipt or reply can refer
// to was created after it, so the server skips older mail unread; on a
// mailbox with years of history the first sync then costs what the mail
// since then costs, and old bounces of other programs' mail do not flood
// the unmatched list.
func (r *Reports) lookSince(ctx context.Context, now time.Time) (time.Time, error) {
	var first sql.NullInt64
	if err := r.Store.DB.R.QueryRowContext(ctx, `SELECT MIN(created_at) FROM messages`).Scan(&first); err != nil {
		return time.Time{}, fmt.Errorf("reports: first message: %w", err)
	}
	from := now
	if first.Valid && store.FromMillis(first.Int64).Before(now) {
		from = store.FromMillis(first.Int64)
	}
	return from.Add(-lookBack), nil
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
