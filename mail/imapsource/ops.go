package imapsource

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// Mailboxes lists every mailbox. With SPECIAL-USE and LIST-EXTENDED it asks
// for the special-use attributes explicitly (RFC 6154 section 2); servers
// with SPECIAL-USE alone send them in plain LIST anyway.
func (c *conn) Mailboxes(ctx context.Context) (out []MailboxInfo, err error) {
	_, end, err := c.begin(ctx, c.opt.CommandTimeout)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	caps := c.client.Caps()
	var lo *imap.ListOptions
	if caps.Has(imap.CapSpecialUse) && caps.Has(imap.CapListExtended) {
		lo = &imap.ListOptions{ReturnSpecialUse: true}
	}
	list, err := c.client.List("", "*", lo).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap: LIST: %w", err)
	}
	for _, l := range list {
		mi := MailboxInfo{Name: l.Mailbox}
		for _, a := range l.Attrs {
			mi.Attrs = append(mi.Attrs, string(a))
		}
		out = append(out, mi)
	}
	return out, nil
}

// ensure selects mailbox unless it is selected already in a suitable mode.
// Reading never needs write access: EXAMINE guarantees that nothing we do
// while reading changes flags.
func (c *conn) ensure(mailbox string, write bool) (*imap.SelectData, error) {
	if c.selected == mailbox && (!write || !c.readOnly) {
		return nil, nil
	}
	data, err := c.client.Select(mailbox, &imap.SelectOptions{ReadOnly: !write}).Wait()
	if err != nil {
		c.selected = ""
		return nil, fmt.Errorf("imap: select %q: %w", mailbox, err)
	}
	c.selected, c.readOnly = mailbox, !write
	return data, nil
}

// Select re-opens mailbox read-only to learn its current UIDVALIDITY and
// UIDNEXT.
func (c *conn) Select(ctx context.Context, mailbox string) (uidValidity, uidNext uint32, err error) {
	_, end, err := c.begin(ctx, c.opt.CommandTimeout)
	if err != nil {
		return 0, 0, err
	}
	defer end(&err)
	c.selected = "" // force a fresh SELECT
	data, err := c.ensure(mailbox, false)
	if err != nil {
		return 0, 0, err
	}
	return data.UIDValidity, uint32(data.UIDNext), nil
}

// candidateBatch bounds the UIDs per FETCH so that command lines stay far
// below server limits (Dovecot: 64 KiB) even for scattered UIDs.
const candidateBatch = 500

// Candidates runs one UID SEARCH for report-like messages at or above
// sinceUID, then describes them per batch (see describe). No body is
// transferred.
func (c *conn) Candidates(ctx context.Context, mailbox string, sinceUID uint32) ([]Candidate, error) {
	return c.CandidatesIn(ctx, mailbox, sinceUID, 0, time.Time{})
}

// CandidatesIn is Candidates for the UIDs from..to only (to 0: no upper
// bound), and with notBefore, only for messages received since that day.
func (c *conn) CandidatesIn(ctx context.Context, mailbox string, from, to uint32, notBefore time.Time) (out []Candidate, err error) {
	_, end, err := c.begin(ctx, c.opt.CommandTimeout)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	if _, err := c.ensure(mailbox, false); err != nil {
		return nil, err
	}
	from = max(from, 1)
	if to != 0 && to < from {
		return nil, nil
	}
	sd, err := c.client.UIDSearch(searchCriteria(from, to, notBefore), nil).Wait()
	if err != nil {
		return nil, fmt.Errorf("imap: UID SEARCH: %w", err)
	}
	var uids []imap.UID
	for _, u := range sd.AllUIDs() {
		// "n:*" always includes the highest UID, even when it is below
		// n (RFC 3501 section 6.4.8): drop what we have seen already.
		if uint32(u) >= from && (to == 0 || uint32(u) <= to) {
			uids = append(uids, u)
		}
	}
	for len(uids) > 0 {
		n := min(len(uids), candidateBatch)
		batch := uids[:n]
		uids = uids[n:]
		got, err := c.describe(batch)
		if err != nil {
			return nil, err
		}
		out = append(out, got...)
	}
	return out, nil
}

// describe fetches the size and a few header fields of each candidate,
// then the BODYSTRUCTURE of only those whose Content-Type may hide a
// nested report part: for the others (text/plain replies, multipart/report
// itself) it tells nothing more, and the server would have to read and
// parse the whole message to build it.
func (c *conn) describe(uids []imap.UID) ([]Candidate, error) {
	var set imap.UIDSet
	set.AddNum(uids...)
	hdr := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: candidateHeaders, Peek: true}
	bufs, err := c.client.Fetch(set, &imap.FetchOptions{
		UID:         true,
		RFC822Size:  true,
		BodySection: []*imap.FetchItemBodySection{hdr},
	}).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap: UID FETCH (candidates): %w", err)
	}
	out := make([]Candidate, 0, len(bufs))
	var structure imap.UIDSet
	for _, b := range bufs {
		if b.UID == 0 {
			continue // an unsolicited FETCH (flag change) for another message
		}
		cd, need := describeCandidate(b, hdr)
		out = append(out, cd)
		if need {
			structure.AddNum(b.UID)
		}
	}
	sortCandidates(out)
	if len(structure) == 0 {
		return out, nil
	}
	bufs, err = c.client.Fetch(structure, &imap.FetchOptions{UID: true, BodyStructure: &imap.FetchItemBodyStructure{}}).Collect()
	if err != nil {
		return nil, fmt.Errorf("imap: UID FETCH (candidates' structure): %w", err)
	}
	for _, b := range bufs {
		if b.UID == 0 || b.BodyStructure == nil {
			continue
		}
		i, ok := slices.BinarySearchFunc(out, uint32(b.UID), func(c Candidate, u uint32) int { return cmp.Compare(c.UID, u) })
		if ok {
			addStructure(&out[i], b.BodyStructure)
		}
	}
	return out, nil
}

// Fetch downloads one message, at most maxBytes+1 bytes of it.
func (c *conn) Fetch(ctx context.Context, mailbox string, uid uint32, maxBytes int64) (body []byte, err error) {
	_, end, err := c.begin(ctx, c.opt.CommandTimeout)
	if err != nil {
		return nil, err
	}
	defer end(&err)
	if _, err := c.ensure(mailbox, false); err != nil {
		return nil, err
	}
	if maxBytes <= 0 || maxBytes >= 1<<32-2 {
		return nil, fmt.Errorf("imap: fetch cap %d out of range", maxBytes)
	}
	sec := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: maxBytes + 1}}
	cmd := c.client.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{
		UID:         true,
		BodySection: []*imap.FetchItemBodySection{sec},
	})
	found := false
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		for item := msg.Next(); item != nil; item = msg.Next() {
			bs, ok := item.(imapclient.FetchItemDataBodySection)
			if !ok || bs.Literal == nil || found {
				continue
			}
			found = true
			body, err = io.ReadAll(io.LimitReader(bs.Literal, maxBytes+1))
			if err != nil {
				c.raw.Close() // see abandon in FetchMany
				cmd.Close()
				return nil, fmt.Errorf("imap: fetch UID %d: %w", uid, err)
			}
		}
	}
	if err := cmd.Close(); err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) {
			return nil, fmt.Errorf("%w: UID %d: %w", ErrRefused, uid, err)
		}
		return nil, fmt.Errorf("imap: fetch UID %d: %w", uid, err)
	}
	if !found {
		return nil, fmt.Errorf("%w: UID %d in %q", ErrNotFound, uid, mailbox)
	}
	c.bodies.Add(1)
	c.bodyBytes.Add(int64(len(body)))
	if int64(len(body)) > maxBytes {
		return nil, fmt.Errorf("%w: UID %d in %q is over %d bytes", ErrTooLarge, uid, mailbox, maxBytes)
	}
	return body, nil
}

// FetchMany streams several messages from one UID FETCH.
func (c *conn) FetchMany(ctx context.Context, mailbox string, uids []uint32, maxBytes int64, fn func(uid uint32, body []byte, err error) error) (err error) {
	if len(uids) == 0 {
		return nil
	}
	_, end, err := c.begin(ctx, c.opt.CommandTimeout)
	if err != nil {
		return err
	}
	defer end(&err)
	if _, err := c.ensure(mailbox, false); err != nil {
		return err
	}
	if maxBytes <= 0 || maxBytes >= 1<<32-2 {
		return fmt.Errorf("imap: fetch cap %d out of range", maxBytes)
	}
	// abandon gives up a FETCH without reading the rest of the response:
	// the socket is closed first (the connection is lost anyway), then
	// the command is closed so go-imap's reader, which waits for us to
	// take each message, runs into the closed socket and ends.
	abandon := func(cmd *imapclient.FetchCommand) {
		c.raw.Close()
		cmd.Close()
	}
	var set imap.UIDSet
	want := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		set.AddNum(imap.UID(u))
		want[u] = true
	}
	sec := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 0, Size: maxBytes + 1}}
	cmd := c.client.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{sec}})
	for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
		var uid uint32
		var body []byte
		got := false
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch it := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(it.UID)
			case imapclient.FetchItemDataBodySection:
				if it.Literal == nil || got {
					continue
				}
				got = true
				if body, err = io.ReadAll(io.LimitReader(it.Literal, maxBytes+1)); err != nil {
					abandon(cmd)
					return fmt.Errorf("imap: fetch: %w", err)
				}
			}
		}
		if !got || !want[uid] {
			continue // a flag update for some other message
		}
		delete(want, uid)
		c.bodies.Add(1)
		c.bodyBytes.Add(int64(len(body)))
		var merr error
		if int64(len(body)) > maxBytes {
			body, merr = nil, fmt.Errorf("%w: UID %d in %q is over %d bytes", ErrTooLarge, uid, mailbox, maxBytes)
		}
		if err := fn(uid, body, merr); err != nil {
			abandon(cmd)
			return err
		}
	}
	if err := cmd.Close(); err != nil {
		return fmt.Errorf("imap: fetch: %w", err)
	}
	missing := make([]uint32, 0, len(want))
	for u := range want {
		missing = append(missing, u)
	}
	slices.Sort(missing)
	for _, u := range missing {
		if err := fn(u, nil, fmt.Errorf("%w: UID %d in %q", ErrNotFound, u, mailbox)); err != nil {
			return err
		}
	}
	return nil
}

// Append stores a message (the Sent copy).
func (c *conn) Append(ctx context.Context, mailbox string, flags []string, date time.Time, body []byte) (uid uint32, err error) {
	_, end, err := c.begin(ctx, c.opt.CommandTimeout)
	if err != nil {
		return 0, err
	}
	defer end(&err)
	opts := &imap.AppendOptions{Time: date}
	for _, f := range flags {
		opts.Flags = append(opts.Flags, imap.Flag(f))
	}
	cmd := c.client.Append(mailbox, int64(len(body)), opts)
	if _, err := cmd.Write(body); err != nil {
		cmd.Close()
		return 0, fmt.Errorf("imap: append to %q: %w", mailbox, err)
	}
	if err := cmd.Close(); err != nil {
		return 0, fmt.Errorf("imap: append to %q: %w", mailbox, err)
	}
	data, err := cmd.Wait()
	if err != nil {
		return 0, fmt.Errorf("imap: append to %q: %w", mailbox, err)
	}
	return uint32(data.UID), nil
}

// Move files one message into dest.
func (c *conn) Move(ctx context.Context, mailbox string, uid uint32, dest string) (err error) {
	_, end, err := c.begin(ctx, c.opt.CommandTimeout)
	if err != nil {
		return err
	}
	defer end(&err)
	caps := c.client.Caps()
	if !caps.Has(imap.CapMove) && !caps.Has(imap.CapUIDPlus) {
		// go-imap's fallback would be COPY + STORE \Deleted + EXPUNGE of
		// the whole mailbox, which also removes the user's own deleted
		// messages. Refuse instead.
		return fmt.Errorf("%w: MOVE (no MOVE or UIDPLUS)", ErrUnsupported)
	}
	if _, err := c.ensure(mailbox, true); err != nil {
		return err
	}
	if _, err := c.client.Move(imap.UIDSetNum(imap.UID(uid)), dest).Wait(); err != nil {
		return fmt.Errorf("imap: move UID %d from %q to %q: %w", uid, mailbox, dest, err)
	}
	return nil
}

// WaitForChange waits for new mail in mailbox with IDLE (RFC 2177) when the
// server offers it, else by NOOP every PollInterval.
func (c *conn) WaitForChange(ctx context.Context, mailbox string, maxIdle time.Duration) (err error) {
	if maxIdle <= 0 || maxIdle > MaxIdle {
		maxIdle = MaxIdle
	}
	// Only ctx bounds the wait itself; each command inside has its own
	// timeout through the socket deadlines of go-imap.
	_, end, err := c.begin(ctx, 0)
	if err != nil {
		return err
	}
	defer end(&err)
	if _, err := c.ensure(mailbox, false); err != nil {
		return err
	}
	// A signal pending from before this call (new mail during the
	// caller's sync) ends the wait at once: a spurious wake costs one
	// SEARCH, a dropped one would delay a report by maxIdle.
	timer := time.NewTimer(maxIdle)
	defer timer.Stop()

	if c.client.Caps().Has(imap.CapIdle) {
		idle, err := c.client.Idle()
		if err != nil {
			return fmt.Errorf("imap: IDLE: %w", err)
		}
		var waitErr error
		select {
		case <-c.changed:
		case <-timer.C:
		case <-ctx.Done():
			waitErr = ctx.Err()
		case <-c.client.Closed():
			waitErr = fmt.Errorf("imap: connection closed during IDLE")
		}
		if err := idle.Close(); err != nil && waitErr == nil {
			waitErr = fmt.Errorf("imap: end IDLE: %w", err)
		}
		if waitErr == nil {
			done := make(chan error, 1)
			go func() { done <- idle.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					waitErr = fmt.Errorf("imap: end IDLE: %w", err)
				}
			case <-time.After(c.opt.CommandTimeout):
				waitErr = fmt.Errorf("imap: end IDLE: no answer within %v", c.opt.CommandTimeout)
			}
		}
		return waitErr
	}

	poll := time.NewTicker(min(c.opt.PollInterval, maxIdle))
	defer poll.Stop()
	for {
		select {
		case <-c.changed:
			return nil
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
			// EXISTS/EXPUNGE in the NOOP response arrive through the
			// unilateral handler and signal c.changed.
			if err := c.client.Noop().Wait(); err != nil {
				return fmt.Errorf("imap: NOOP: %w", err)
			}
		}
	}
}
