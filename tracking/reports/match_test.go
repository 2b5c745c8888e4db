package reports

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mailroom/tracking"
)

// before is when the corpus messages were sent: shortly before the reports.
var before = corpusDay.Add(5 * time.Minute)

func TestMatchKeys(t *testing.T) {
	t.Run("envid", func(t *testing.T) {
		e := newEnv(t)
		// A decoy sent to the same address the same day: ENVID must win.
		decoy := e.send(sent{at: before, copies: []sentCopy{{rcpts: []string{"bounce@example.test"}}}})
		ids := e.send(sent{at: before, copies: []sentCopy{{envid: "env-bounce-1", rcpts: []string{"bounce@example.test"}}}})
		res := e.ingest(corpus(t, "03-failed-error-transport.eml"), 1)
		rid := ids["bounce@example.test"]
		if len(res.Matches) != 1 || res.Matches[0].Recipient != rid || res.Matches[0].Key != KeyEnvID {
			t.Fatalf("matches = %+v", res.Matches)
		}
		if s := e.status(rid); s != tracking.Bounced {
			t.Fatalf("status = %s", s)
		}
		if s := e.status(decoy["bounce@example.test"]); s != tracking.Accepted {
			t.Fatalf("decoy status = %s", s)
		}
		ev := e.reportEvents(rid)[0]
		var d DSNDetail
		if err := json.Unmarshal([]byte(ev.Detail), &d); err != nil {
			t.Fatal(err)
		}
		if ev.Source != tracking.SrcDSN || ev.Match != KeyEnvID || ev.EnhancedCode != "5.1.1" ||
			d.ReportingMTA != "mail.example.test" || d.Action != "failed" || d.Class != "permanent-address" ||
			!strings.Contains(d.Diagnostic, "simulated bounce") {
			t.Fatalf("event = %+v, detail = %+v", ev, d)
		}
	})
	t.Run("envid, address rewritten on the way", func(t *testing.T) {
		e := newEnv(t)
		ids := e.send(sent{at: before, copies: []sentCopy{{envid: "env-bounce-1", rcpts: []string{"alias@example.test"}}}})
		res := e.ingest(corpus(t, "03-failed-error-transport.eml"), 1)
		if m := res.Matches[0]; m.Recipient != ids["alias@example.test"] || m.Key != KeyEnvID {
			t.Fatalf("match = %+v", m)
		}
	})
	t.Run("orcpt", func(t *testing.T) {
		e := newEnv(t)
		// No ENVID in this report and its returned Message-ID is not ours.
		ids := e.send(sent{at: before, copies: []sentCopy{{rcpts: []string{"unknown@example.test"}}}})
		res := e.ingest(corpus(t, "10-failed-unknown-user-virtual.eml"), 1)
		if m := res.Matches[0]; m.Recipient != ids["unknown@example.test"] || m.Key != KeyORCPT {
			t.Fatalf("match = %+v", m)
		}
	})
	t.Run("tracking-id", func(t *testing.T) {
		e := newEnv(t)
		ids := e.send(sent{at: before, copies: []sentCopy{
			{trackingID: "trk-one", rcpts: []string{"ann@example.net"}},
			{trackingID: "trk-two", rcpts: []string{"ben@example.net"}},
		}})
		raw := dsn("<r-trk@mx.example.net>", "", []string{"Final-Recipient: rfc822; ben@example.net\nAction: failed\nStatus: 5.2.2\nDiagnostic-Code: smtp; 552 5.2.2 mailbox full"},
			"From: alice@example.test\nTo: ann@example.net, ben@example.net\nSubject: test\nX-Mailroom-Tracking-Id: trk-two")
		res := e.ingest(raw, 1)
		if m := res.Matches[0]; m.Recipient != ids["ben@example.net"] || m.Key != KeyTrackingID {
			t.Fatalf("match = %+v", m)
		}
		if len(res.Suppressed) != 0 {
			t.Fatalf("mailbox full suppressed %v", res.Suppressed)
		}
	})
	t.Run("message-id", func(t *testing.T) {
		e := newEnv(t)
		// Two messages to the same address: ORCPT is not unique, the
		// returned Message-ID decides.
		e.send(sent{at: before, copies: []sentCopy{{rcpts: []string{"someone@elsewhere.test"}}}})
		ids := e.send(sent{at: before, messageID: "<smtpbench-1795460940621693181-0@example.test>",
			copies: []sentCopy{{rcpts: []string{"someone@elsewhere.test"}}}})
		res := e.ingest(corpus(t, "04-failed-outbound-disabled-ret-full.eml"), 1)
		m := res.Matches[0]
		if m.Recipient != ids["someone@elsewhere.test"] || m.Key != KeyMessageID {
			t.Fatalf("match = %+v", m)
		}
		// 5.7.1 is a policy failure: bounced, but the address is fine.
		if len(res.Suppressed) != 0 {
			t.Fatalf("suppressed %v for 5.7.1", res.Suppressed)
		}
	})
	t.Run("address near date", func(t *testing.T) {
		e := newEnv(t)
		rdate := time.Date(2026, 11, 23, 19, 30, 0, 0, time.UTC)
		old := e.send(sent{at: rdate.Add(-10 * 24 * time.Hour), copies: []sentCopy{{rcpts: []string{"x@example.org"}}}})
		near := e.send(sent{at: rdate.Add(-3 * 24 * time.Hour), copies: []sentCopy{{rcpts: []string{"x@example.org"}}}})
		e.send(sent{at: rdate.Add(2 * time.Hour), copies: []sentCopy{{rcpts: []string{"x@example.org"}}}}) // after the report
		other := e.send(sent{account: "other", at: rdate.Add(-time.Hour), copies: []sentCopy{{rcpts: []string{"x@example.org"}}}})
		raw := crlf(`
From: Mail Delivery System <Mailer-Daemon@mx.example.org>
To: alice@example.test
Subject: Mail delivery failed: returning message to sender
Date: Mon, 23 Nov 2026 19:30:00 +0000
Message-ID: <exim-1@mx.example.org>
X-Failed-Recipients: x@example.org
Auto-Submitted: auto-replied

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  x@example.org
    SMTP error from remote mail server after RCPT TO:<x@example.org>:
    550 5.1.1 <x@example.org>: Recipient address rejected: User unknown
`)
		res := e.ingest(raw, 1)
		if len(res.Matches) != 1 {
			t.Fatalf("matches = %+v (kind %s)", res.Matches, res.Kind)
		}
		if m := res.Matches[0]; m.Recipient != near["x@example.org"] || m.Key != KeyAddress {
			t.Fatalf("match = %+v; want the message 3 days before, by address", m)
		}
		if s := e.status(old["x@example.org"]); s != tracking.Accepted {
			t.Fatalf("10-day-old message became %s", s)
		}
		if s := e.status(other["x@example.org"]); s != tracking.Accepted {
			t.Fatalf("another account's message became %s", s)
		}
		if s := e.status(near["x@example.org"]); s != tracking.Bounced {
			t.Fatalf("status = %s", s)
		}
	})
}

func TestUnmatchedIsKept(t *testing.T) {
	e := newEnv(t)
	e.send(sent{at: before, copies: []sentCopy{{rcpts: []string{"bob@example.test"}}}})
	res := e.ingest(corpus(t, "03-failed-error-transport.eml"), 7)
	if res.Matched() != 0 || len(res.Matches) != 1 || res.Matches[0].Note == "" {
		t.Fatalf("result = %+v", res)
	}
	un, err := e.rep.Unmatched(e.ctx)
	if err != nil || len(un) != 1 || un[0].ID != res.ReportID || un[0].Kind != "dsn" || un[0].UID != 7 {
		t.Fatalf("Unmatched = %+v, %v", un, err)
	}
	_, raw, err := e.rep.Get(e.ctx, res.ReportID)
	if err != nil || len(raw) == 0 {
		t.Fatalf("raw not kept: %d bytes, %v", len(raw), err)
	}
	if !strings.Contains(un[0].Parsed, `"envelope_id":"env-bounce-1"`) {
		t.Fatalf("parsed = %s", un[0].Parsed)
	}
	// The message is enqueued later (an import): Rematch finds it.
	ids := e.send(sent{at: before, copies: []sentCopy{{envid: "env-bounce-1", rcpts: []string{"bounce@example.test"}}}})
	if n, err := e.rep.Rematch(e.ctx); err != nil || n != 1 {
		t.Fatalf("Rematch = %d, %v", n, err)
	}
	if s := e.status(ids["bounce@example.test"]); s != tracking.Bounced {
		t.Fatalf("after Rematch: %s", s)
	}
	if un, _ := e.rep.Unmatched(e.ctx); len(un) != 0 {
		t.Fatalf("still unmatched: %+v", un)
	}
}

func TestMultiRecipientReport(t *testing.T) {
	e := newEnv(t)
	ids := e.send(sent{at: before, copies: []sentCopy{{envid: "env-multi", rcpts: []string{"a@example.net", "b@example.net", "c@example.net"}}}})
	raw := dsn("<r-multi@mx.example.net>", "Original-Envelope-Id: env-multi", []string{
		"Final-Recipient: rfc822; a@example.net\nAction: failed\nStatus: 5.1.1\nDiagnostic-Code: smtp; 550 5.1.1 no such user",
		"Final-Recipient: rfc822; b@example.net\nAction: delivered\nStatus: 2.0.0",
		"Final-Recipient: rfc822; c@example.net\nAction: delayed\nStatus: 4.2.0\nWill-Retry-Until: Tue, 24 Nov 2026 19:00:00 +0000",
	}, "From: alice@example.test\nSubject: all")
	res := e.ingest(raw, 1)
	want := map[string]tracking.Status{"a@example.net": tracking.Bounced, "b@example.net": tracking.Delivered, "c@example.net": tracking.Delayed}
	if res.Matched() != 3 {
		t.Fatalf("matches = %+v", res.Matches)
	}
	for a, s := range want {
		if got := e.status(ids[a]); got != s {
			t.Errorf("%s: %s, want %s", a, got, s)
		}
	}
	ev := e.reportEvents(ids["c@example.net"])[0]
	var d DSNDetail
	json.Unmarshal([]byte(ev.Detail), &d)
	if d.WillRetryUntil == nil || !d.WillRetryUntil.Equal(time.Date(2026, 11, 24, 19, 0, 0, 0, time.UTC)) {
		t.Fatalf("will_retry_until = %v", d.WillRetryUntil)
	}
	if res.Suppressed == nil || res.Suppressed[0] != "a@example.net" || len(res.Suppressed) != 1 {
		t.Fatalf("suppressed = %v", res.Suppressed)
	}
}

func TestDuplicateIngestionIsIdempotent(t *testing.T) {
	e := newEnv(t)
	ids := e.send(sent{at: before, copies: []sentCopy{{envid: "env-bounce-1", rcpts: []string{"bounce@example.test"}}}})
	raw := corpus(t, "03-failed-error-transport.eml")
	first := e.ingest(raw, 1)
	n := e.countEvents()
	again := e.ingest(raw, 1) // same location
	// Same report after a UIDVALIDITY change, and a copy in another folder.
	rescan, err := e.rep.Ingest(e.ctx, raw, Meta{Account: "main", Mailbox: "INBOX", UIDValidity: 2, UID: 40})
	if err != nil {
		t.Fatal(err)
	}
	copied, err := e.rep.Ingest(e.ctx, raw, Meta{Account: "main", Mailbox: "Archive", UIDValidity: 9, UID: 3})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Result{again, rescan, copied} {
		if !r.Duplicate || r.ReportID != first.ReportID || r.Matches[0].Added {
			t.Fatalf("duplicate result = %+v (first %+v)", r, first)
		}
	}
	if got := e.countEvents(); got != n {
		t.Fatalf("events %d -> %d", n, got)
	}
	if evs := e.reportEvents(ids["bounce@example.test"]); len(evs) != 1 {
		t.Fatalf("report events = %d", len(evs))
	}
	var rows int
	e.st.DB.R.QueryRow(`SELECT count(*) FROM reports`).Scan(&rows)
	if rows != 1 {
		t.Fatalf("%d report rows", rows)
	}
}

func TestPostfixDSNCorpus(t *testing.T) {
	cases := []struct {
		file, envid, addr string
		want              tracking.Status
		suppressed        bool
	}{
		{"03-failed-error-transport.eml", "env-bounce-1", "bounce@example.test", tracking.Bounced, true},
		{"05-delayed-closed-port.eml", "env-deadhost-1", "someone@deadhost.test", tracking.Delayed, false},
		{"06-delayed-retry-transport.eml", "env-defer-1", "defer@example.test", tracking.Delayed, false},
		// Action: failed with Status: 4.4.1 is Postfix giving up: bounced,
		// not deferred, and the address is not to blame.
		{"07-failed-expired-retry-transport.eml", "env-defer-1", "defer@example.test", tracking.Bounced, false},
		{"08-failed-expired-closed-port.eml", "env-deadhost-1", "someone@deadhost.test", tracking.Bounced, false},
		{"09-success-delivered-virtual.eml", "env-success-2", "bob@example.test", tracking.Delivered, false},
		{"lmtp-02-success-relayed.eml", "env-success-1", "bob@example.test", tracking.Relayed, false},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			e := newEnv(t)
			ids := e.send(sent{at: before, copies: []sentCopy{{envid: c.envid, rcpts: []string{c.addr}}}})
			res := e.ingest(corpus(t, c.file), 1)
			if res.Matched() != 1 || res.Matches[0].Key != KeyEnvID {
				t.Fatalf("matches = %+v", res.Matches)
			}
			if s := e.status(ids[c.addr]); s != c.want {
				t.Fatalf("status = %s, want %s", s, c.want)
			}
			sup, _ := e.st.IsSuppressed(e.ctx, c.addr)
			if (sup != nil) != c.suppressed {
				t.Fatalf("suppressed = %+v, want %v", sup, c.suppressed)
			}
		})
	}
	t.Run("delayed then failed", func(t *testing.T) {
		e := newEnv(t)
		ids := e.send(sent{at: before, copies: []sentCopy{{envid: "env-defer-1", rcpts: []string{"defer@example.test"}}}})
		// Fetched in the wrong order: the later report still wins.
		e.ingest(corpus(t, "07-failed-expired-retry-transport.eml"), 2)
		e.ingest(corpus(t, "06-delayed-retry-transport.eml"), 1)
		if s := e.status(ids["defer@example.test"]); s != tracking.Bounced {
			t.Fatalf("status = %s", s)
		}
		if n := len(e.reportEvents(ids["defer@example.test"])); n != 2 {
			t.Fatalf("%d report events", n)
		}
	})
}

func TestPermanentAddressFailureSuppresses(t *testing.T) {
	e := newEnv(t)
	ids := e.send(sent{at: before, copies: []sentCopy{{envid: "env-bounce-1", rcpts: []string{"Bounce@Example.test"}}}})
	res := e.ingest(corpus(t, "03-failed-error-transport.eml"), 1)
	sup, err := e.st.IsSuppressed(e.ctx, "bounce@example.test")
	if err != nil || sup == nil {
		t.Fatalf("not suppressed: %v", err)
	}
	ev := e.reportEvents(ids["Bounce@Example.test"])[0]
	if sup.Event != ev.ID || !strings.Contains(sup.Reason, "5.1.1") || len(res.Suppressed) != 1 {
		t.Fatalf("suppression = %+v, event %d", sup, ev.ID)
	}
}

func TestReplyAndMDN(t *testing.T) {
	e := newEnv(t)
	ids := e.send(sent{at: before, messageID: "<inv-7@mailroom.test>", copies: []sentCopy{{rcpts: []string{"bob@example.test", "cc:carol@example.test"}}}})
	reply := func(from, id string, extra string) []byte {
		return crlf(`
From: ` + from + `
To: alice@example.test
Subject: Re: invoice
Date: Mon, 23 Nov 2026 20:00:00 +0000
Message-ID: ` + id + `
In-Reply-To: <inv-7@mailroom.test>
References: <inv-7@mailroom.test>
` + extra + `

Thanks, paid.
`)
	}
	t.Run("reply from a recipient", func(t *testing.T) {
		res := e.ingest(reply("Carol <carol@example.test>", "<re-1@example.test>", ""), 10)
		if m := res.Matches[0]; res.Kind != "reply" || m.Recipient != ids["carol@example.test"] || m.Event != tracking.EvReplied || m.Key != KeyMessageID {
			t.Fatalf("result = %+v", res)
		}
		ev := e.reportEvents(ids["carol@example.test"])[0]
		if ev.Source != tracking.SrcReply {
			t.Fatalf("event = %+v", ev)
		}
	})
	t.Run("reply from someone else goes to the first To", func(t *testing.T) {
		res := e.ingest(reply("Dave <dave@example.org>", "<re-2@example.org>", ""), 11)
		if m := res.Matches[0]; m.Recipient != ids["bob@example.test"] || !strings.Contains(m.Note, "first To") {
			t.Fatalf("match = %+v", m)
		}
	})
	t.Run("out-of-office is not a reply", func(t *testing.T) {
		before := len(e.reportEvents(ids["bob@example.test"]))
		res := e.ingest(reply("Bob <bob@example.test>", "<ooo-1@example.test>", "Auto-Submitted: auto-replied"), 12)
		if m := res.Matches[0]; m.Event != "" || !strings.Contains(m.Note, "automatic") {
			t.Fatalf("match = %+v", m)
		}
		if n := len(e.reportEvents(ids["bob@example.test"])); n != before {
			t.Fatal("out-of-office recorded an event")
		}
	})
	t.Run("mdn", func(t *testing.T) {
		raw := crlf(`
From: Carol <carol@example.test>
To: alice@example.test
Subject: Read: invoice
Date: Mon, 23 Nov 2026 20:05:00 +0000
Message-ID: <mdn-1@example.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification; boundary="MM"

--MM
Content-Type: text/plain

Your message was displayed.

--MM
Content-Type: message/disposition-notification

Reporting-UA: mua.example.test; Mailer 1.0
Final-Recipient: rfc822; carol@example.test
Original-Message-ID: <inv-7@mailroom.test>
Disposition: manual-action/MDN-sent-manually; displayed

--MM--
`)
		res := e.ingest(raw, 13)
		if m := res.Matches[0]; res.Kind != "mdn" || m.Recipient != ids["carol@example.test"] || m.Event != tracking.EvRead {
			t.Fatalf("result = %+v", res)
		}
		var read int
		e.st.DB.R.QueryRow(`SELECT read FROM recipients WHERE id=?`, ids["carol@example.test"]).Scan(&read)
		if read != 1 {
			t.Fatal("recipient not marked read")
		}
		if s := e.status(ids["carol@example.test"]); s != tracking.Accepted {
			t.Fatalf("engagement changed the status to %s", s)
		}
	})
	t.Run("reply to a message we did not send", func(t *testing.T) {
		raw := crlf("\nFrom: bob@example.test\nTo: alice@example.test\nSubject: Re: lunch\nMessage-ID: <x-9@example.test>\nIn-Reply-To: <not-ours@example.test>\n\nyes\n")
		res := e.ingest(raw, 14)
		if res.Matched() != 0 {
			t.Fatalf("matched %+v", res.Matches)
		}
	})
}

// A bounce that returns the full message, pixel included, is read as text:
// nothing fetches the pixel, so no open is recorded.
func TestReturnedPixelNeverOpens(t *testing.T) {
	var hits atomic.Int64
	pixel := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer pixel.Close()
	e := newEnv(t)
	ids := e.send(sent{at: before, copies: []sentCopy{{envid: "env-px", trackingID: "trk-px", rcpts: []string{"gone@example.net"}}}})
	raw := crlf(`
From: MAILER-DAEMON@mx.example.net
To: alice@example.test
Subject: Undelivered Mail Returned to Sender
Date: Mon, 23 Nov 2026 19:30:00 +0000
Message-ID: <r-px@mx.example.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="PP"

--PP
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Original-Envelope-Id: env-px

Final-Recipient: rfc822; gone@example.net
Action: failed
Status: 5.1.1

--PP
Content-Type: message/rfc822

From: alice@example.test
To: gone@example.net
Subject: news
X-Mailroom-Tracking-Id: trk-px
MIME-Version: 1.0
Content-Type: text/html

<p>Hello</p><img src="` + pixel.URL + `/o/AAAA.gif" width="1" height="1">

--PP--
`)
	res := e.ingest(raw, 1)
	if res.Matched() != 1 {
		t.Fatalf("matches = %+v", res.Matches)
	}
	time.Sleep(50 * time.Millisecond)
	if hits.Load() != 0 {
		t.Fatal("the pixel was fetched")
	}
	var opens int
	e.st.DB.R.QueryRow(`SELECT opens_total FROM recipients WHERE id=?`, ids["gone@example.net"]).Scan(&opens)
	for _, ev := range e.reportEvents(ids["gone@example.net"]) {
		if ev.Kind == tracking.EvOpened {
			opens++
		}
	}
	if opens != 0 {
		t.Fatal("a returned pixel registered an open")
	}
}

// A report dated before the acceptance it reports on (its Date has whole
// seconds and a remote clock: here 19:30:00 against a 250 at 19:30:00.700)
// is placed at the acceptance, so the timeline never shows "bounced" before
// "accepted"; a report dated later keeps its own time.
func TestReportEventsFollowTheAcceptance(t *testing.T) {
	e := newEnv(t)
	accepted := time.Date(2026, 11, 23, 19, 30, 0, 700e6, time.UTC)
	ids := e.send(sent{at: accepted, copies: []sentCopy{{envid: "env-same-second", rcpts: []string{"x@example.net"}}}})
	e.ingest(dsn("<r1@mx.example.net>", "Original-Envelope-Id: env-same-second",
		[]string{"Final-Recipient: rfc822; x@example.net\nAction: failed\nStatus: 5.1.1"}, "Subject: test"), 1)
	evs := e.reportEvents(ids["x@example.net"])
	if len(evs) != 1 || !evs[0].At.Equal(accepted) {
		t.Fatalf("report events %+v, want one at the acceptance %v", evs, accepted)
	}
	if !strings.Contains(evs[0].Detail, `"report_date":"2026-11-23T19:30:00Z"`) {
		t.Errorf("the report's own date is not in the evidence: %s", evs[0].Detail)
	}
	if s := e.status(ids["x@example.net"]); s != tracking.Bounced {
		t.Fatalf("status %s", s)
	}

	earlier := time.Date(2026, 11, 23, 19, 0, 0, 0, time.UTC)
	ids = e.send(sent{at: earlier, copies: []sentCopy{{envid: "env-earlier", rcpts: []string{"y@example.net"}}}})
	e.ingest(dsn("<r2@mx.example.net>", "Original-Envelope-Id: env-earlier",
		[]string{"Final-Recipient: rfc822; y@example.net\nAction: failed\nStatus: 5.1.1"}, "Subject: test"), 2)
	if evs := e.reportEvents(ids["y@example.net"]); len(evs) != 1 || !evs[0].At.Equal(time.Date(2026, 11, 23, 19, 30, 0, 0, time.UTC)) {
		t.Fatalf("report events %+v, want the report's own date", evs)
	}
}
