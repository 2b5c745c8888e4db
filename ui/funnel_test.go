package ui

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"mailroom/tracking"
)

func TestFunnelBarsMatchData(t *testing.T) {
	f := newFakes()
	// 10 recipients in the last 30 days, one old message outside it.
	statuses := []tracking.Status{
		tracking.Delivered, tracking.Delivered, tracking.Delivered, tracking.Accepted, tracking.Relayed,
		tracking.Bounced, tracking.Rejected, tracking.Deferred, tracking.Uncertain, tracking.Expired,
	}
	for i, s := range statuses {
		r := RecipientDetail{Address: fmt.Sprintf("r%d@example.com", i), Status: s}
		if i < 2 || s == tracking.Bounced {
			r.Engagement.OpensTotal = 2
		}
		f.tracking.msgs = append(f.tracking.msgs, seedMessage(fmt.Sprintf("f%d", i), "x", testNow.Add(-time.Duration(i)*time.Hour), r))
	}
	f.tracking.msgs = append(f.tracking.msgs, seedMessage("old", "old", testNow.AddDate(0, -3, 0),
		RecipientDetail{Address: "old@example.com", Status: tracking.Delivered}))

	m := newTestWindow(t, f)
	m.ShowScreen(ScreenOverview)
	want := map[string]int{
		stageQueued: 10, stageAccepted: 6, stageDelivered: 3, stageOpened: 3,
		stageBounced: 1, stageRejected: 1, stageDeferred: 2, stageExpired: 1,
	}
	for name, n := range want {
		b := m.overview().bars[name]
		if b.count != n {
			t.Errorf("%s bar: %d, want %d", name, b.count, n)
		}
		if b.max != 10 || b.of != 10 {
			t.Errorf("%s bar scaled to max %d of %d", name, b.max, b.of)
		}
	}
	requireText(t, content(m), "Queued: 10", "Accepted by the server: 6 (60%)", "Delivered to the mailbox: 3 (30%)", "Opened: 3 (30%)")

	m.overview().period.SetSelected("All time")
	if b := m.overview().bars[stageDelivered]; b.count != 4 {
		t.Errorf("all time delivered %d", b.count)
	}

	// A bar opens the list filtered to it.
	m.overview().period.SetSelected("Last 30 days")
	test.Tap(m.overview().bars[stageAccepted])
	if m.CurrentScreen() != ScreenSent {
		t.Fatalf("bar led to %q", m.CurrentScreen())
	}
	q := f.tracking.lastQuery()
	if !reflect.DeepEqual(q.Statuses, acceptedOrLater) || !q.From.Equal(testNow.Add(-30*24*time.Hour)) {
		t.Errorf("query %+v", q)
	}
	if m.sent().cache.count != 6 {
		t.Errorf("list shows %d messages, bar said 6", m.sent().cache.count)
	}
	if m.sent().statusSel.Selected != statusGroups[0].label {
		t.Errorf("status filter shows %q", m.sent().statusSel.Selected)
	}

	m.ShowScreen(ScreenOverview)
	test.Tap(m.overview().bars[stageOpened])
	if q := f.tracking.lastQuery(); !q.Opened || len(q.Statuses) != 0 {
		t.Errorf("opened bar query %+v", q)
	}
	if m.sent().cache.count != 3 {
		t.Errorf("opened list %d", m.sent().cache.count)
	}
}

func TestFunnelFromCounts(t *testing.T) {
	got := FunnelFromCounts(map[tracking.Status]int{
		tracking.Queued: 1, tracking.Accepted: 2, tracking.Delivered: 3, tracking.Bounced: 1,
		tracking.Deferred: 1, tracking.Uncertain: 1, tracking.Canceled: 1,
	}, 2)
	want := Funnel{Queued: 10, Accepted: 6, Delivered: 3, Opened: 2, Bounced: 1, Deferred: 2}
	if got != want {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

// Reports that matched no message are told of under the funnel and listed
// in a dialog, each readable as received in plain text only.
func TestOverviewShowsUnmatchedReports(t *testing.T) {
	f := newFakes()
	f.tracking.unmatched = []UnmatchedReport{
		{ID: 7, Kind: "bounce", Received: testNow.Add(-time.Hour), Account: "work", Mailbox: "INBOX", Note: "no message of this account matches the report's keys"},
		{ID: 8, Kind: "dsn", Received: testNow.Add(-2 * time.Hour), Account: "work", Mailbox: "Junk", Note: "the report names no recipient"},
	}
	f.tracking.reportTexts = map[int64]string{7: "From: MAILER-DAEMON\n\n![x](https://tracker.example/o/t.gif) **bold**"}
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenOverview)
	requireText(t, content(m), "2 received reports matched none of your messages")
	test.Tap(findButton(content(m), "Show them"))
	top := m.env.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no dialog")
	}
	requireText(t, top, "2 reports that matched no message", "bounce · work/INBOX · no message of this account matches")
	var list *widget.List
	walk(top, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.List); ok {
			list = l
		}
	})
	if list == nil {
		t.Fatal("no list in the dialog")
	}
	list.Select(0)
	requireText(t, top, "![x](https://tracker.example/o/t.gif) **bold**")
	walk(top, func(o fyne.CanvasObject) {
		if rt, ok := o.(*widget.RichText); ok {
			for _, seg := range rt.Segments {
				if _, ok := seg.(*widget.TextSegment); !ok {
					t.Errorf("non-text segment %T in the report dialog", seg)
				}
			}
		}
	})

	// Nothing unmatched: nothing said.
	f.tracking.unmatched = nil
	m.overview().reload()
	if hasText(content(m), "matched none of your messages") {
		t.Error("the row stays without unmatched reports")
	}
}
