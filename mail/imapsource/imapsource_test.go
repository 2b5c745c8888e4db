package imapsource

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"mailroom/mail"
	"mailroom/mail/imapsource/imaptest"
)

func msg(headers string, body string) []byte {
	return []byte(strings.ReplaceAll(headers, "\n", "\r\n") + "\r\n" + strings.ReplaceAll(body, "\n", "\r\n"))
}

var (
	plainMail = msg("From: Carol <carol@example.net>\nTo: alice@example.test\nSubject: lunch?\nMessage-ID: <c1@example.net>\nDate: Mon, 23 Nov 2026 10:00:00 +0000\n", "see you at noon\n")
	dsnMail   = msg("From: Mail Delivery System <MAILER-DAEMON@example.test>\nTo: alice@example.test\nSubject: Undelivered Mail Returned to Sender\nAuto-Submitted: auto-replied\nMessage-ID: <d1@example.test>\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\n",
		"--B\nContent-Type: text/plain\n\nfailed\n--B\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mail.example.test\nOriginal-Envelope-Id: env-1\n\nFinal-Recipient: rfc822; unknown@example.test\nAction: failed\nStatus: 5.1.1\n--B--\n")
	eximMail = msg("From: root@example.org\nTo: alice@example.test\nSubject: Mail failure\nX-Failed-Recipients: x@example.org\nMessage-ID: <e1@example.org>\n", "A message that you sent could not be delivered\n")
	// A colleague forwards a bounce as an attachment, in reply to a
	// thread: only its BODYSTRUCTURE shows the report part inside.
	forwardMail = msg("From: Dave <dave@example.net>\nTo: alice@example.test\nSubject: Fwd: this bounced\nIn-Reply-To: <t1@example.net>\nMessage-ID: <f1@example.net>\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"F\"\n",
		"--F\nContent-Type: text/plain\n\nsee below\n--F\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.net\n\nFinal-Recipient: rfc822; x@example.net\nAction: failed\nStatus: 5.1.1\n--F--\n")
	replyMail = msg("From: Bob <bob@example.test>\nTo: alice@example.test\nSubject: Re: invoice\nIn-Reply-To: <m1@example.test>\nReferences: <m1@example.test>\nMessage-ID: <r1@example.test>\n", "thanks\n")
)

func dialT(t *testing.T, srv *imaptest.Server) *conn {
	t.Helper()
	src, err := Dial(context.Background(), srv.Endpoint(), Options{CommandTimeout: 10 * time.Second, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src.(*conn)
}

func TestDialTLSAndCandidates(t *testing.T) {
	ctx := context.Background()
	srv := imaptest.NewServer(t, imaptest.Options{})
	uPlain := srv.Add(t, "INBOX", plainMail)
	uDSN := srv.Add(t, "INBOX", dsnMail)
	uExim := srv.Add(t, "INBOX", eximMail)
	uReply := srv.Add(t, "INBOX", replyMail)
	uFwd := srv.Add(t, "INBOX", forwardMail)

	c := dialT(t, srv)
	boxes, err := c.Mailboxes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var junk string
	for _, b := range boxes {
		if slices.Contains(b.Attrs, `\Junk`) {
			junk = b.Name
		}
	}
	if junk != "Junk" {
		t.Fatalf("no \\Junk mailbox in %v", boxes)
	}
	uv, next, err := c.Select(ctx, "INBOX")
	if err != nil || uv == 0 || next != uFwd+1 {
		t.Fatalf("Select = %d, %d, %v", uv, next, err)
	}
	cands, err := c.Candidates(ctx, "INBOX", 1)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]Candidate{}
	for _, cd := range cands {
		got[cd.UID] = cd
	}
	if _, ok := got[uPlain]; ok || len(got) != 4 {
		t.Fatalf("candidates = %+v, want DSN, Exim bounce, reply and forwarded bounce only", cands)
	}
	d := got[uDSN]
	if d.MediaType != "multipart/report" || d.ReportType != "delivery-status" || d.Size != int64(len(dsnMail)) ||
		!slices.Contains(d.Reasons, ReasonReportType) || !slices.Contains(d.Reasons, ReasonMailerDaemon) {
		t.Errorf("DSN candidate = %+v", d)
	}
	if f := got[uFwd]; f.MediaType != "multipart/mixed" || !slices.Contains(f.Reasons, ReasonReportPart) || !slices.Contains(f.Reasons, ReasonInReplyTo) {
		t.Errorf("forwarded bounce candidate = %+v", f)
	}
	if r := got[uReply]; r.MediaType != "text/plain" || len(r.Reasons) != 1 {
		t.Errorf("reply candidate = %+v", r)
	}
	if !slices.Contains(got[uExim].Reasons, ReasonFailedRcpts) {
		t.Errorf("Exim candidate = %+v", got[uExim])
	}
	if r := got[uReply]; !slices.Contains(r.Reasons, ReasonInReplyTo) || r.InReplyTo != "<m1@example.test>" {
		t.Errorf("reply candidate = %+v", r)
	}
	if fetched := srv.BodyFetches("INBOX"); len(fetched) != 0 {
		t.Fatalf("Candidates downloaded bodies: %v", fetched)
	}

	// Incremental: nothing at or above UIDNEXT, even though "n:*" always
	// matches the highest UID on the server.
	if again, err := c.Candidates(ctx, "INBOX", next); err != nil || len(again) != 0 {
		t.Fatalf("Candidates(since UIDNEXT) = %v, %v", again, err)
	}
	// A slice holds only its own UIDs.
	if in, err := c.CandidatesIn(ctx, "INBOX", uDSN, uExim, time.Time{}); err != nil || len(in) != 2 || in[0].UID != uDSN || in[1].UID != uExim {
		t.Fatalf("CandidatesIn(%d, %d) = %+v, %v", uDSN, uExim, in, err)
	}
	if in, err := c.CandidatesIn(ctx, "INBOX", uPlain, uPlain, time.Time{}); err != nil || len(in) != 0 {
		t.Fatalf("CandidatesIn(plain) = %+v, %v", in, err)
	}
	// notBefore leaves out what the server received before that day, even
	// a report: a bounce from 2019 is older than anything Mailroom sent.
	uOld := srv.AddReceived(t, "INBOX", dsnMail, time.Date(2019, 3, 4, 23, 0, 0, 0, time.UTC))
	if _, _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
	if in, err := c.CandidatesIn(ctx, "INBOX", 1, 0, time.Time{}); err != nil || len(in) != 5 || in[4].UID != uOld {
		t.Fatalf("CandidatesIn(everything) = %+v, %v: want the old bounce too", in, err)
	}
	for _, since := range []time.Time{time.Date(2019, 3, 5, 0, 0, 0, 0, time.UTC), time.Now().Add(-time.Hour)} {
		in, err := c.CandidatesIn(ctx, "INBOX", 1, 0, since)
		if err != nil || len(in) != 4 || slices.ContainsFunc(in, func(c Candidate) bool { return c.UID == uOld }) {
			t.Fatalf("CandidatesIn(since %v) = %+v, %v: want the four recent candidates only", since, in, err)
		}
	}
	if in, err := c.CandidatesIn(ctx, "INBOX", 1, 0, time.Date(2019, 3, 4, 12, 0, 0, 0, time.UTC)); err != nil || len(in) != 5 {
		t.Fatalf("CandidatesIn(since the old bounce's day) = %+v, %v: want it too", in, err)
	}

	body, err := c.Fetch(ctx, "INBOX", uDSN, 1<<20)
	if err != nil || !bytes.Equal(body, dsnMail) {
		t.Fatalf("Fetch = %d bytes, %v", len(body), err)
	}
	if f := srv.BodyFetches("INBOX"); len(f) != 1 || f[uDSN] != 1 {
		t.Fatalf("body fetches = %v", f)
	}
	// BODY.PEEK never sets \Seen.
	flags := rawFlags(t, c, uDSN)
	if slices.Contains(flags, imap.FlagSeen) {
		t.Fatalf("fetch set \\Seen: %v", flags)
	}
	if _, err := c.Fetch(ctx, "INBOX", 999, 1<<20); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Fetch(missing) = %v, want ErrNotFound", err)
	}
	if c.Broken() {
		t.Fatal("a missing message broke the connection")
	}
}

func rawFlags(t *testing.T, c *conn, uid uint32) []imap.Flag {
	t.Helper()
	bufs, err := c.client.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{Flags: true, UID: true}).Collect()
	if err != nil || len(bufs) != 1 {
		t.Fatalf("fetch flags: %v %v", bufs, err)
	}
	return bufs[0].Flags
}

func TestFetchCapTransfersAtMostCap(t *testing.T) {
	ctx := context.Background()
	srv := imaptest.NewServer(t, imaptest.Options{})
	big := msg("From: MAILER-DAEMON@example.test\nSubject: big\n", strings.Repeat("x", 4<<20))
	uid := srv.Add(t, "INBOX", big)
	c := dialT(t, srv)
	before := srv.BytesSent()
	_, err := c.Fetch(ctx, "INBOX", uid, 64<<10)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Fetch = %v, want ErrTooLarge", err)
	}
	if sent := srv.BytesSent() - before; sent > 80<<10 {
		t.Fatalf("server sent %d bytes for a 64 KiB cap", sent)
	}
	if c.Broken() {
		t.Fatal("ErrTooLarge broke the connection")
	}
	if _, _, err := c.Select(ctx, "INBOX"); err != nil {
		t.Fatal(err)
	}
}

func TestStartTLSAndCAFile(t *testing.T) {
	srv := imaptest.NewServer(t, imaptest.Options{StartTLS: true})
	srv.Add(t, "INBOX", dsnMail)
	c := dialT(t, srv) // trusts the CA through Endpoint.CAFile only
	if c.Stats().BytesRead == 0 {
		t.Fatal("no traffic counted")
	}
	if n, err := c.Candidates(context.Background(), "INBOX", 1); err != nil || len(n) != 1 {
		t.Fatalf("Candidates = %v, %v", n, err)
	}
}

func TestRefusesUnverifiedOrPlaintext(t *testing.T) {
	ctx := context.Background()
	t.Run("unknown CA", func(t *testing.T) {
		srv := imaptest.NewServer(t, imaptest.Options{})
		ep := srv.Endpoint()
		ep.CAFile = "" // system roots do not know the test CA
		if _, err := Dial(ctx, ep, Options{}); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("Dial = %v, want a certificate error", err)
		}
		if srv.Logins() != 0 {
			t.Fatal("logged in over an unverified connection")
		}
	})
	t.Run("wrong host name", func(t *testing.T) {
		srv := imaptest.NewServer(t, imaptest.Options{})
		ep := srv.Endpoint()
		ep.Host = "127.0.0.2" // not in the certificate (and not listening: either way no login)
		if _, err := Dial(ctx, ep, Options{DialTimeout: 2 * time.Second}); err == nil {
			t.Fatal("Dial succeeded")
		}
		if srv.Logins() != 0 {
			t.Fatal("logged in")
		}
	})
	t.Run("no STARTTLS", func(t *testing.T) {
		srv := imaptest.NewServer(t, imaptest.Options{NoTLS: true})
		if _, err := Dial(ctx, srv.Endpoint(), Options{}); err == nil {
			t.Fatal("Dial succeeded without TLS")
		}
		if srv.Logins() != 0 {
			t.Fatal("sent credentials in clear")
		}
	})
	t.Run("implicit TLS to a plaintext server", func(t *testing.T) {
		srv := imaptest.NewServer(t, imaptest.Options{NoTLS: true})
		ep := srv.Endpoint()
		ep.Security = mail.ImplicitTLS
		if _, err := Dial(ctx, ep, Options{DialTimeout: 2 * time.Second}); err == nil {
			t.Fatal("Dial succeeded")
		}
		if srv.Logins() != 0 {
			t.Fatal("logged in")
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		srv := imaptest.NewServer(t, imaptest.Options{})
		ep := srv.Endpoint()
		ep.Password = func(context.Context) (string, error) { return "nope", nil }
		if _, err := Dial(ctx, ep, Options{}); !errors.Is(err, ErrAuthFailed) {
			t.Fatalf("Dial = %v, want ErrAuthFailed", err)
		}
	})
}

func TestAppendAndMove(t *testing.T) {
	ctx := context.Background()
	srv := imaptest.NewServer(t, imaptest.Options{})
	c := dialT(t, srv)
	uid, err := c.Append(ctx, "Sent", []string{`\Seen`}, time.Now(), plainMail)
	if err != nil || uid == 0 {
		t.Fatalf("Append = %d, %v", uid, err)
	}
	d := srv.Add(t, "INBOX", dsnMail)
	if err := c.Move(ctx, "INBOX", d, "Processed"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := c.Candidates(ctx, "INBOX", 1); len(cs) != 0 {
		t.Fatalf("INBOX still has %v", cs)
	}
	if cs, _ := c.Candidates(ctx, "Processed", 1); len(cs) != 1 {
		t.Fatalf("Processed has %v", cs)
	}
}

func TestWaitForChange(t *testing.T) {
	ctx := context.Background()
	srv := imaptest.NewServer(t, imaptest.Options{})
	c := dialT(t, srv)
	start := time.Now()
	if err := c.WaitForChange(ctx, "INBOX", 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("returned after %v without a change", d)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		srv.Add(t, "INBOX", dsnMail)
	}()
	start = time.Now()
	if err := c.WaitForChange(ctx, "INBOX", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("IDLE missed new mail (%v)", d)
	}
	if cs, err := c.Candidates(ctx, "INBOX", 1); err != nil || len(cs) != 1 {
		t.Fatalf("after IDLE: %v, %v", cs, err)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := c.WaitForChange(cctx, "INBOX", time.Minute); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForChange(canceled) = %v", err)
	}
}

func TestDropMidFetchBreaksConnection(t *testing.T) {
	ctx := context.Background()
	srv := imaptest.NewServer(t, imaptest.Options{})
	uid := srv.Add(t, "INBOX", msg("From: MAILER-DAEMON@example.test\n", strings.Repeat("y", 256<<10)))
	c := dialT(t, srv)
	srv.DropNextBodyFetch(10 << 10)
	if _, err := c.Fetch(ctx, "INBOX", uid, 1<<20); err == nil {
		t.Fatal("Fetch succeeded over a cut connection")
	}
	if !c.Broken() {
		t.Fatal("not marked broken")
	}
	if _, err := c.Candidates(ctx, "INBOX", 1); !errors.Is(err, ErrBroken) {
		t.Fatalf("after the cut: %v, want ErrBroken", err)
	}
	c2 := dialT(t, srv)
	if b, err := c2.Fetch(ctx, "INBOX", uid, 1<<20); err != nil || len(b) < 256<<10 {
		t.Fatalf("refetch = %d, %v", len(b), err)
	}
}

func TestFetchMany(t *testing.T) {
	ctx := context.Background()
	srv := imaptest.NewServer(t, imaptest.Options{})
	u1 := srv.Add(t, "INBOX", dsnMail)
	u2 := srv.Add(t, "INBOX", eximMail)
	big := srv.Add(t, "INBOX", msg("From: MAILER-DAEMON@example.test\n", strings.Repeat("z", 200<<10)))
	c := dialT(t, srv)
	got := map[uint32]error{}
	bodies := map[uint32][]byte{}
	before := srv.BytesSent()
	err := c.FetchMany(ctx, "INBOX", []uint32{u1, u2, big, 77}, 64<<10, func(uid uint32, body []byte, err error) error {
		got[uid], bodies[uid] = err, body
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[u1] != nil || !bytes.Equal(bodies[u1], dsnMail) || got[u2] != nil || !bytes.Equal(bodies[u2], eximMail) {
		t.Fatalf("bodies: %v", got)
	}
	if !errors.Is(got[big], ErrTooLarge) || !errors.Is(got[77], ErrNotFound) || len(got) != 4 {
		t.Fatalf("per-message errors: %v", got)
	}
	if n := srv.BytesSent() - before; n > 100<<10 {
		t.Fatalf("sent %d bytes with a 64 KiB cap", n)
	}
	if c.Broken() {
		t.Fatal("broken")
	}
	// An error from fn stops the fetch and gives up the connection.
	stop := errors.New("stop")
	if err := c.FetchMany(ctx, "INBOX", []uint32{u1, u2}, 1<<20, func(uint32, []byte, error) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("FetchMany = %v", err)
	}
	if !c.Broken() {
		t.Fatal("connection kept after an abandoned FETCH")
	}
}

func TestParseDate(t *testing.T) {
	want := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("", 3600))
	for _, v := range []string{"Mon, 23 Nov 2026 10:00:00 +0100", "23 Nov 2026 10:00:00 +0100", "Mon, 23 Nov 2026 10:00 +0100",
		"Mon, 23 Nov 2026 10:00:00 +0100 (CET)"} {
		if got := parseDate(v); !got.Equal(want) {
			t.Errorf("parseDate(%q) = %v", v, got)
		}
	}
	if !parseDate("").IsZero() || !parseDate("yesterday").IsZero() {
		t.Error("no date expected")
	}
}
