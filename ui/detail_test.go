package ui

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"mailroom/tracking"
)

// bounceWithOpen is a message whose first recipient was accepted, opened
// by a proxy and then bounced, and whose second was delivered.
func bounceWithOpen() MessageDetail {
	t0 := testNow.Add(-2 * time.Hour)
	ev := func(id int64, kind tracking.EventKind, min int, src tracking.Source) tracking.Event {
		return tracking.Event{ID: id, Kind: kind, At: t0.Add(time.Duration(min) * time.Minute), Source: src}
	}
	queued := ev(1, tracking.EvQueued, 0, tracking.SrcOutbox)
	acc := ev(2, tracking.EvAccepted, 1, tracking.SrcSMTP)
	acc.Command, acc.Code, acc.EnhancedCode, acc.Text = ".", 250, "2.0.0", "Ok: queued as 4ZxV1"
	open := ev(3, tracking.EvOpened, 5, tracking.SrcPixel)
	open.Detail = `{"class":"machine-or-proxy","reason":"Google image proxy user agent","user_agent":"GoogleImageProxy"}`
	bounce := ev(4, tracking.EvBounced, 9, tracking.SrcDSN)
	bounce.Code, bounce.EnhancedCode, bounce.Text, bounce.Match = 550, "5.1.1", "<bob@example.net>: Recipient address rejected: User unknown", "envid"
	bounce.Detail = `{"reporting_mta":"mx.example.net","remote_mta":"mx2.example.net","action":"failed","status":"5.1.1","class":"permanent-address"}`
	bounce.Report = 77
	delivered := ev(5, tracking.EvDelivered, 3, tracking.SrcDSN)
	delivered.Detail = `{"reporting_mta":"mx.example.org","action":"delivered","status":"2.0.0"}`
	md := seedMessage("msg1", "Invoice 42", t0,
		RecipientDetail{Address: "bob@example.net", Status: tracking.Bounced, Server: "smtp.example.com", DSN: DSNRequested,
			Engagement: tracking.Engagement{OpensTotal: 1, OpensMachine: 1}, Suppressed: true, SuppressedReason: "bounced 5.1.1",
			Events: []tracking.Event{queued, acc, open, bounce}},
		RecipientDetail{Address: "carol@example.org", Status: tracking.Delivered, Server: "smtp.example.com", DSN: DSNRequested,
			Events: []tracking.Event{queued, acc, delivered}},
	)
	md.TrackOpens = true
	// The raw report carries Markdown and an image link on purpose: it must
	// stay inert text.
	md.Reports = []RawReport{{ID: 77, Kind: "dsn", Received: t0.Add(9 * time.Minute),
		Text: "Reporting-MTA: dns; mx.example.net\nAction: failed\nStatus: 5.1.1\n\n![x](https://tracker.example/pixel.gif) **bold**"}}
	return md
}

func TestDetailShowsEventsAsPlainText(t *testing.T) {
	f := newFakes()
	f.tracking.msgs = []MessageDetail{bounceWithOpen()}
	m := newTestWindow(t, f)
	m.OpenMessageRecipient("msg1", "bob@example.net")
	if m.CurrentScreen() != "detail" {
		t.Fatalf("screen %q", m.CurrentScreen())
	}
	pane := m.detail().pane
	requireText(t, content(m), "Invoice 42", "Message-ID <msg1@example.com>", "Open tracking on")
	requireText(t, pane,
		"bob@example.net",
		"bounced", "opened", "accepted", "queued",
		"Bounced: a report from mx.example.net",       // Explain
		"The bounce still stands",                     // open after... never proves delivery
		"end of DATA → 250 2.0.0 Ok: queued as 4ZxV1", // SMTP evidence
		"550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown",
		"Reporting-MTA: mx.example.net", "Remote-MTA: mx2.example.net", "Action: failed", "Status: 5.1.1",
		"Matched by: envelope id (ENVID): certain",
		"Classified: probably a machine or privacy proxy",
		"Reason: Google image proxy user agent",
		"On the suppression list: bounced 5.1.1",
		"Remove from suppression", "Resend to this recipient", "Copy evidence",
	)
	if hasText(pane, "Reporting-MTA: dns; mx.example.net") {
		t.Error("raw report shown before asked for")
	}
	test.Tap(findButton(pane, "Show the dsn report"))
	requireText(t, pane, "![x](https://tracker.example/pixel.gif) **bold**")

	// Nothing under the detail may be Markdown/HTML-capable content:
	// every RichText (Labels use one inside) holds only text segments.
	richTexts := 0
	walk(content(m), func(o fyne.CanvasObject) {
		rt, ok := o.(*widget.RichText)
		if !ok {
			return
		}
		richTexts++
		for _, seg := range rt.Segments {
			if _, ok := seg.(*widget.TextSegment); !ok {
				t.Errorf("non-text segment %T in the detail", seg)
			}
		}
	})

	if richTexts == 0 {
		t.Fatal("the walk found no RichText at all: the check is vacuous")
	}

	test.Tap(findButton(pane, "Copy report"))
	if got := m.env.app.Clipboard().Content(); !strings.HasPrefix(got, "Reporting-MTA: dns; mx.example.net") {
		t.Errorf("clipboard %q", got)
	}
	test.Tap(findButton(pane, "Copy evidence"))
	if got := m.env.app.Clipboard().Content(); !strings.Contains(got, "Recipient: bob@example.net") || !strings.Contains(got, "550 5.1.1") {
		t.Errorf("evidence copy %q", got)
	}

	test.Tap(findButton(pane, "Remove from suppression"))
	if len(f.tracking.unsuppress) != 1 || f.tracking.unsuppress[0] != "bob@example.net" {
		t.Errorf("unsuppress %v", f.tracking.unsuppress)
	}
	if hasText(m.detail().pane, "On the suppression list") {
		t.Error("still shown as suppressed after removal")
	}

	// The other recipient.
	m.detail().recList.Select(1)
	requireText(t, m.detail().pane, "carol@example.org", "Delivered to the recipient's mailbox", "Action: delivered")
}

func TestDetailActionsFollowStatus(t *testing.T) {
	f := newFakes()
	md := seedMessage("q1", "Waiting", testNow, RecipientDetail{Address: "dan@example.com", Status: tracking.Deferred})
	f.tracking.msgs = []MessageDetail{md, bounceWithOpen()}
	m := newTestWindow(t, f)
	m.OpenMessage("q1")
	if m.detail().retry.Disabled() {
		t.Fatal("retry disabled for a deferred message")
	}
	test.Tap(m.detail().retry)
	if len(f.outbox.retried) != 1 || f.outbox.retried[0] != "q1" {
		t.Errorf("retried %v", f.outbox.retried)
	}
	m.OpenMessage("msg1")
	if !m.detail().retry.Disabled() || !m.detail().cancel.Disabled() {
		t.Error("retry/cancel enabled for a finished message")
	}
}

// A delivery report's evidence reads as the report's own field names, each
// capitalized, never as raw JSON keys ("original_recipient").
func TestEvidenceUsesReportFieldNames(t *testing.T) {
	ev := tracking.Event{Kind: tracking.EvDelivered, Source: tracking.SrcDSN, EnhancedCode: "2.0.0",
		Detail: `{"action":"delivered","status":"2.0.0","class":"success","final_recipient":"bob@example.test",` +
			`"original_recipient":"bob@example.test","envelope_id":"mr.1","report_date":"2026-11-24T01:52:14Z",` +
			`"report_kind":"dsn","report_message_id":"<r@mx>","last_attempt":"2026-11-24T01:52:13Z"}`}
	text := strings.Join(evidenceLines(ev), "\n")
	reportDate := time.Date(2026, 11, 24, 1, 52, 14, 0, time.UTC).Local().Format("Mon 2 Jan 2006 15:04:05 MST")
	for _, want := range []string{"Original-Recipient: bob@example.test", "Original-Envelope-Id: mr.1", "Class: success",
		"Report date: " + reportDate, "Report kind: dsn", "Report Message-ID: <r@mx>", "Last-Attempt-Date: "} {
		if !strings.Contains(text, want) {
			t.Errorf("evidence lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "T01:52:14Z") {
		t.Errorf("a stored time shown raw:\n%s", text)
	}
	for _, line := range evidenceLines(ev) {
		if strings.Contains(line, "_") || (line != "" && strings.ToLower(line[:1]) == line[:1] && line[0] >= 'a' && line[0] <= 'z') {
			t.Errorf("raw key in %q", line)
		}
	}
}

// Resending to a suppressed address asks with the suppression in words,
// as compose warns about it.
func TestResendToSuppressedWarns(t *testing.T) {
	f := newFakes()
	f.tracking.msgs = []MessageDetail{bounceWithOpen()}
	m := newTestWindow(t, f)
	m.OpenMessageRecipient("msg1", "bob@example.net")
	test.Tap(findButton(m.detail().pane, "Resend to this recipient"))
	top := m.env.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no confirmation")
	}
	requireText(t, top, "bob@example.net is on the suppression list (bounced 5.1.1", "will most likely bounce again", "anyway?")
}
