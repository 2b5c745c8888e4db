package ui

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

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
