package reports

// These tests drive the sync loop against go-imap's in-memory server over
// TLS on 127.0.0.1. Only the tests import mail/imapsource (to dial); the
// package itself sees IMAP through the Source interface.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/mail/imapsource"
	"mailroom/mail/imapsource/imaptest"
	"mailroom/tracking"
)

// A Source from imapsource is a Source here, without an adapter.
var _ Source = imapsource.Source(nil)

type syncEnv struct {
	*env
	srv   *imaptest.Server
	s     *Syncer
	dials atomic.Int64
}

func newSyncEnv(t *testing.T) *syncEnv {
	t.Helper()
	se := &syncEnv{env: newEnv(t), srv: imaptest.NewServer(t, imaptest.Options{})}
	se.s = &Syncer{
		Reports: se.rep,
		Dial: func(ctx context.Context, account string) (Source, error) {
			se.dials.Add(1)
			src, err := imapsource.Dial(ctx, se.srv.Endpoint(), imapsource.Options{CommandTimeout: 20 * time.Second})
			if err != nil {
				return nil, err
			}
			return src, nil
		},
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		Logf:       t.Logf,
	}
	return se
}

func (se *syncEnv) syncOnce() SyncStats {
	se.t.Helper()
	st, err := se.s.SyncOnce(se.ctx, "main")
	if err != nil {
		se.t.Fatal(err)
	}
	return st
}

// bounceFor is a small DSN for one ENVID and address, with a unique
// Message-ID; pad adds a returned body of that many bytes.
func bounceFor(envid, addr string, pad int) []byte {
	returned := "From: alice@example.test\nTo: " + addr + "\nSubject: test"
	raw := dsn("<r-"+envid+"@mx.example.net>", "Original-Envelope-Id: "+envid,
		[]string{"Final-Recipient: rfc822; " + addr + "\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user"}, returned)
	if pad > 0 {
		raw = append(raw[:len(raw)-len("--BB--\r\n")], []byte("--BB\r\nContent-Type: text/plain\r\n\r\n"+strings.Repeat("returned body line\r\n", pad/20)+"--BB--\r\n")...)
	}
	return raw
}

func plain(i int) []byte {
	return crlf(fmt.Sprintf("\nFrom: friend%d@example.org\nTo: alice@example.test\nSubject: hello %d\nMessage-ID: <p%d@example.org>\n\nhi\n", i, i, i))
}

func TestSyncIncremental(t *testing.T) {
	se := newSyncEnv(t)
	a := se.send(sent{at: time.Now().Add(-time.Hour), copies: []sentCopy{{envid: "env-a", rcpts: []string{"a@example.net"}}}})
	b := se.send(sent{at: time.Now().Add(-time.Hour), copies: []sentCopy{{envid: "env-b", rcpts: []string{"b@example.net"}}}})
	u1 := se.srv.Add(t, "INBOX", bounceFor("env-a", "a@example.net", 0))
	se.srv.Add(t, "INBOX", plain(1))

	st := se.syncOnce()
	if st.Fetched != 1 || st.Matched != 1 || se.status(a["a@example.net"]) != tracking.Bounced {
		t.Fatalf("first sync: %+v", st)
	}
	u3 := se.srv.Add(t, "INBOX", plain(2))
	u4 := se.srv.Add(t, "INBOX", bounceFor("env-b", "b@example.net", 0))
	st = se.syncOnce()
	if st.Fetched != 1 || st.Candidates != 1 || se.status(b["b@example.net"]) != tracking.Bounced {
		t.Fatalf("second sync: %+v", st)
	}
	f := se.srv.BodyFetches("INBOX")
	if len(f) != 2 || f[u1] != 1 || f[u4] != 1 {
		t.Fatalf("bodies fetched: %v (want UIDs %d and %d once each)", f, u1, u4)
	}
	states, _ := se.rep.SyncStates(se.ctx)
	if len(states) != 1 || states[0].LastUID != u4 || u4 <= u3 {
		t.Fatalf("sync state = %+v", states)
	}
	if st := se.syncOnce(); st.Candidates != 0 || st.Fetched != 0 {
		t.Fatalf("third sync (nothing new): %+v", st)
	}
}

func TestSyncUIDValidityChangeRescansWithoutDuplicates(t *testing.T) {
	se := newSyncEnv(t)
	ids := se.send(sent{at: time.Now().Add(-time.Hour), copies: []sentCopy{{envid: "env-a", rcpts: []string{"a@example.net"}}}})
	raw := bounceFor("env-a", "a@example.net", 0)
	se.srv.Add(t, "INBOX", raw)
	se.syncOnce()
	events := se.countEvents()
	before, _ := se.rep.SyncStates(se.ctx)

	// The server lost its index: same messages, new UIDVALIDITY, UIDs from 1.
	se.srv.Recreate(t, "INBOX")
	se.srv.Add(t, "INBOX", plain(1))
	se.srv.Add(t, "INBOX", raw)
	st := se.syncOnce()
	if st.Rescans != 1 || st.Duplicates != 1 || st.Ingested != 0 {
		t.Fatalf("rescan: %+v", st)
	}
	if n := se.countEvents(); n != events {
		t.Fatalf("events %d -> %d after the rescan", events, n)
	}
	if n := len(se.reportEvents(ids["a@example.net"])); n != 1 {
		t.Fatalf("%d report events", n)
	}
	after, _ := se.rep.SyncStates(se.ctx)
	if after[0].UIDValidity == before[0].UIDValidity || after[0].LastUID != 2 {
		t.Fatalf("state %+v -> %+v", before, after)
	}
}

func TestSyncSkipsOversizedWithoutDownloading(t *testing.T) {
	se := newSyncEnv(t)
	se.send(sent{at: time.Now().Add(-time.Hour), copies: []sentCopy{{envid: "env-big", rcpts: []string{"big@example.net"}}}})
	const size = 50 << 20
	big := bounceFor("env-big", "big@example.net", size)
	uid := se.srv.Add(t, "INBOX", big)
	sentBefore := se.srv.BytesSent()
	st := se.syncOnce()
	if st.Skipped != 1 || st.Fetched != 0 {
		t.Fatalf("sync: %+v", st)
	}
	if n := se.srv.BytesSent() - sentBefore; n > 256<<10 {
		t.Fatalf("the server sent %d bytes for a skipped %d-byte message", n, len(big))
	}
	if f := se.srv.BodyFetches("INBOX"); f[uid] != 0 {
		t.Fatalf("body requested: %v", f)
	}
	un, err := se.rep.Unmatched(se.ctx)
	if err != nil || len(un) != 1 || un[0].Kind != KindSkipped || un[0].Size != int64(len(big)) || !strings.Contains(un[0].Note, "cap") {
		t.Fatalf("unmatched = %+v, %v", un, err)
	}
	if st := se.syncOnce(); st.Skipped != 0 {
		t.Fatalf("skipped again: %+v", st)
	}
}

func TestSyncReconnectsAfterDropMidFetch(t *testing.T) {
	se := newSyncEnv(t)
	var ids []map[string]int64
	for i := range 3 {
		envid, addr := fmt.Sprintf("env-%d", i), fmt.Sprintf("r%d@example.net", i)
		ids = append(ids, se.send(sent{at: time.Now().Add(-time.Hour), copies: []sentCopy{{envid: envid, rcpts: []string{addr}}}}))
		se.srv.Add(t, "INBOX", bounceFor(envid, addr, 200<<10))
	}
	se.srv.DropNextBodyFetch(16 << 10) // the first body is cut after 16 KiB
	st := se.syncOnce()
	if st.Reconnects < 1 || st.Matched != 3 {
		t.Fatalf("sync: %+v", st)
	}
	if se.srv.Logins() < 2 {
		t.Fatalf("%d logins: no reconnect", se.srv.Logins())
	}
	for i, m := range ids {
		addr := fmt.Sprintf("r%d@example.net", i)
		if n := len(se.reportEvents(m[addr])); n != 1 || se.status(m[addr]) != tracking.Bounced {
			t.Fatalf("%s: %d events, %s", addr, n, se.status(m[addr]))
		}
	}
}

func TestSyncDownloadsNoOrdinaryMail(t *testing.T) {
	se := newSyncEnv(t)
	ids := se.send(sent{at: time.Now().Add(-time.Hour), messageID: "<ours-1@mailroom.test>",
		copies: []sentCopy{{envid: "env-ours", rcpts: []string{"bob@example.test"}}}})
	want := map[uint32]bool{}
	for i := range 40 {
		se.srv.Add(t, "INBOX", plain(i))
	}
	for i := range 5 { // automatic notices and other people's threads
		se.srv.Add(t, "INBOX", crlf(fmt.Sprintf("\nFrom: ci@example.org\nTo: alice@example.test\nSubject: build %d\nAuto-Submitted: auto-generated\n\nok\n", i)))
		se.srv.Add(t, "INBOX", crlf(fmt.Sprintf("\nFrom: x@example.org\nTo: alice@example.test\nSubject: Re: lunch\nIn-Reply-To: <lunch-%d@example.org>\nReferences: <lunch-%d@example.org>\n\nok\n", i, i)))
	}
	want[se.srv.Add(t, "INBOX", crlf("\nFrom: Bob <bob@example.test>\nTo: alice@example.test\nSubject: Re: invoice\nMessage-ID: <bobre@example.test>\nIn-Reply-To: <ours-1@mailroom.test>\n\nthanks\n"))] = true
	want[se.srv.Add(t, "INBOX", bounceFor("env-ours", "bob@example.test", 0))] = true
	st := se.syncOnce()
	if st.Fetched != 2 || st.NotOurs != 10 {
		t.Fatalf("sync: %+v", st)
	}
	f := se.srv.BodyFetches("INBOX")
	for uid := range f {
		if !want[uid] {
			t.Fatalf("downloaded the body of non-report UID %d (fetched: %v)", uid, f)
		}
	}
	evs := se.reportEvents(ids["bob@example.test"])
	if len(evs) != 2 {
		t.Fatalf("events = %+v", evs)
	}
}

// Mail received before Mailroom's first message (less two days) cannot be
// about anything it sent: the server leaves it out of the SEARCH, so the
// first sync of a mailbox with years of history neither reads nor lists
// the old bounces and replies there.
func TestSyncLooksOnlySinceTheFirstMessage(t *testing.T) {
	se := newSyncEnv(t)
	first := time.Now().Add(-30 * 24 * time.Hour)
	ids := se.send(sent{at: first, copies: []sentCopy{{envid: "env-new", rcpts: []string{"new@example.net"}}}})
	old := first.Add(-5 * 24 * time.Hour)
	for i := range 3 {
		se.srv.AddReceived(t, "INBOX", bounceFor(fmt.Sprintf("env-old-%d", i), "old@example.net", 0), old)
	}
	se.srv.AddReceived(t, "INBOX", crlf("\nFrom: x@example.org\nTo: alice@example.test\nSubject: Re: lunch\nIn-Reply-To: <lunch@example.org>\n\nok\n"), old)
	// A day before the first message is within the margin: kept.
	margin := se.srv.AddReceived(t, "INBOX", bounceFor("env-margin", "margin@example.net", 0), first.Add(-24*time.Hour))
	recent := se.srv.Add(t, "INBOX", bounceFor("env-new", "new@example.net", 0))

	st := se.syncOnce()
	if st.Candidates != 2 || st.Fetched != 2 || st.Matched != 1 || st.Unmatched != 1 {
		t.Fatalf("sync: %+v, want the recent bounce matched and the one within the margin unmatched, nothing older", st)
	}
	if f := se.srv.BodyFetches("INBOX"); len(f) != 2 || f[recent] != 1 || f[margin] != 1 {
		t.Fatalf("downloaded %v, want UIDs %d and %d only", f, recent, margin)
	}
	if s := se.status(ids["new@example.net"]); s != tracking.Bounced {
		t.Fatalf("status %s, want bounced", s)
	}
	// The sync position still covers the skipped mail: the next sync has
	// nothing to do.
	if st := se.syncOnce(); st.Candidates != 0 || st.Fetched != 0 {
		t.Fatalf("second sync: %+v", st)
	}
}

func TestSyncJunkAndFiling(t *testing.T) {
	se := newSyncEnv(t)
	a := se.send(sent{at: time.Now().Add(-time.Hour), messageID: "<ours-2@mailroom.test>", copies: []sentCopy{{envid: "env-a", rcpts: []string{"a@example.net"}}}})
	j := se.send(sent{at: time.Now().Add(-time.Hour), copies: []sentCopy{{envid: "env-j", rcpts: []string{"j@example.net"}}}})
	se.srv.Add(t, "INBOX", bounceFor("env-a", "a@example.net", 0))
	se.srv.Add(t, "INBOX", crlf("\nFrom: a@example.net\nTo: alice@example.test\nSubject: Re: x\nMessage-ID: <are@example.net>\nIn-Reply-To: <ours-2@mailroom.test>\n\nok\n"))
	se.srv.Add(t, "Junk", bounceFor("env-j", "j@example.net", 0))

	se.syncOnce() // defaults: INBOX only, nothing filed
	if se.status(j["j@example.net"]) != tracking.Accepted {
		t.Fatal("Junk was read without reports.junk")
	}
	if err := se.st.SetSetting(se.ctx, SettingJunk, "true"); err != nil {
		t.Fatal(err)
	}
	if err := se.st.SetSetting(se.ctx, SettingFileInto, "Processed"); err != nil {
		t.Fatal(err)
	}
	st := se.syncOnce()
	if st.Mailboxes != 2 || st.Filed != 1 || se.status(j["j@example.net"]) != tracking.Bounced {
		t.Fatalf("with junk and filing: %+v", st)
	}
	if se.status(a["a@example.net"]) != tracking.Bounced {
		t.Fatal("INBOX report lost")
	}
	// The reports already processed in INBOX stay (they were synced before
	// filing was switched on); new ones are filed; the reply stays.
	uid := se.srv.Add(t, "INBOX", bounceFor("env-a2", "a2@example.net", 0))
	if st := se.syncOnce(); st.Filed != 1 {
		t.Fatalf("filing: %+v", st)
	}
	c := dialRaw(t, se.srv)
	cands, err := c.Candidates(se.ctx, "Processed", 1)
	if err != nil || len(cands) != 2 {
		t.Fatalf("Processed holds %+v, %v", cands, err)
	}
	inbox, _ := c.Candidates(se.ctx, "INBOX", 1)
	for _, cd := range inbox {
		if cd.UID == uid {
			t.Fatal("filed report still in INBOX")
		}
	}
}

func dialRaw(t *testing.T, srv *imaptest.Server) imapsource.Source {
	t.Helper()
	c, err := imapsource.Dial(context.Background(), srv.Endpoint(), imapsource.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestSyncAuthFailureDoesNotRetry(t *testing.T) {
	se := newSyncEnv(t)
	se.s.Dial = func(ctx context.Context, account string) (Source, error) {
		se.dials.Add(1)
		ep := se.srv.Endpoint()
		ep.Password = func(context.Context) (string, error) { return "wrong", nil }
		src, err := imapsource.Dial(ctx, ep, imapsource.Options{})
		if err != nil {
			return nil, err
		}
		return src, nil
	}
	_, err := se.s.SyncOnce(se.ctx, "main")
	if !errors.Is(err, imapsource.ErrAuthFailed) || se.dials.Load() != 1 {
		t.Fatalf("SyncOnce = %v after %d dials", err, se.dials.Load())
	}
}

func TestRunWakesOnNewMailAndReconnects(t *testing.T) {
	se := newSyncEnv(t)
	se.s.MaxIdle = 10 * time.Second
	ctx, cancel := context.WithCancel(se.ctx)
	done := make(chan error, 1)
	go func() { done <- se.s.Run(ctx, "main") }()
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("Run did not stop")
		}
	}()
	waitStatus := func(rid int64, want tracking.Status) {
		t.Helper()
		deadline := time.Now().Add(8 * time.Second)
		for se.status(rid) != want {
			if time.Now().After(deadline) {
				t.Fatalf("recipient %d still %s, want %s", rid, se.status(rid), want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	a := se.send(sent{at: time.Now().Add(-time.Hour), copies: []sentCopy{{envid: "env-a", rcpts: []string{"a@example.net"}}}})
	b := se.send(sent{at: time.Now().Add(-time.Hour), copies: []sentCopy{{envid: "env-b", rcpts: []string{"b@example.net"}}}})
	time.Sleep(100 * time.Millisecond) // Run is idle now
	se.srv.Add(t, "INBOX", bounceFor("env-a", "a@example.net", 0))
	waitStatus(a["a@example.net"], tracking.Bounced) // IDLE woke it, well before MaxIdle

	se.srv.DropAll()
	time.Sleep(50 * time.Millisecond)
	se.srv.Add(t, "INBOX", bounceFor("env-b", "b@example.net", 0))
	waitStatus(b["b@example.net"], tracking.Bounced)
	if se.dials.Load() < 2 {
		t.Fatalf("%d dials: no reconnect", se.dials.Load())
	}
}
