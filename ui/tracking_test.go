package ui

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"mailroom/tracking"
)

// seedList makes n messages, one a minute back from testNow; every
// seventh bounced, every fifth opened, subjects "Invoice <i>".
func seedList(f *fakes, n int) {
	for i := 0; i < n; i++ {
		st := tracking.Accepted
		if i%7 == 0 {
			st = tracking.Bounced
		}
		r := RecipientDetail{Address: fmt.Sprintf("user%d@example.com", i), Status: st}
		if i%5 == 0 {
			r.Engagement.OpensTotal = 1
		}
		other := RecipientDetail{Address: "carol@example.org", Status: tracking.Delivered}
		f.tracking.msgs = append(f.tracking.msgs,
			seedMessage(fmt.Sprintf("id%03d", i), fmt.Sprintf("Invoice %d", i), testNow.Add(-time.Duration(i)*time.Minute), r, other))
	}
}

func visibleRows(t *testing.T, s *trackingScreen) []*messageRowView {
	t.Helper()
	var rows []*messageRowView
	walk(s.list, func(o fyne.CanvasObject) {
		if r, ok := o.(*messageRowView); ok {
			rows = append(rows, r)
		}
	})
	return rows
}

func TestTrackingListPagesAndRenders(t *testing.T) {
	f := newFakes()
	seedList(f, 230)
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenSent)
	s := m.sent()
	if s.cache.count != 230 {
		t.Fatalf("count %d", s.cache.count)
	}
	requireText(t, content(m), "230 messages", "Invoice 0", "To: user0@example.com, carol@example.org", "bounced", "delivered")
	// Only the visible page was fetched: never the whole table.
	for _, off := range f.tracking.pages {
		if off != 0 {
			t.Errorf("fetched offset %d for the first screen", off)
		}
	}
	if len(s.cache.pages) != 1 {
		t.Errorf("%d pages cached", len(s.cache.pages))
	}
	rows := visibleRows(t, s)
	if len(rows) == 0 {
		t.Fatal("no rows rendered")
	}
	// Scrolling far fetches that page by offset.
	s.list.ScrollTo(200)
	found := false
	for _, off := range f.tracking.pages {
		found = found || off == 200
	}
	if !found {
		t.Errorf("page at 200 not fetched; offsets %v", f.tracking.pages)
	}
	requireText(t, s.list, "Invoice 200")
}

func TestTrackingListFiltersAndSearch(t *testing.T) {
	f := newFakes()
	seedList(f, 60)
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenSent)
	s := m.sent()

	s.statusSel.SetSelected(string(tracking.Bounced))
	q := f.tracking.lastQuery()
	if !reflect.DeepEqual(q.Statuses, []tracking.Status{tracking.Bounced}) {
		t.Fatalf("query statuses %v", q.Statuses)
	}
	if s.cache.count != 9 { // 0,7,...,56
		t.Errorf("bounced count %d, want 9", s.cache.count)
	}
	requireText(t, s.list, "Invoice 7")
	if hasText(s.list, "Invoice 1\n") {
		t.Error("unfiltered row shown")
	}

	test.Type(s.search, "invoice 14")
	q = f.tracking.lastQuery()
	if q.Search != "invoice 14" || len(q.Statuses) != 1 {
		t.Errorf("query %+v", q)
	}
	if s.cache.count != 1 {
		t.Errorf("search count %d", s.cache.count)
	}
	requireText(t, s.list, "Invoice 14")

	s.setQuery(Query{})
	s.opened.SetChecked(true)
	if q := f.tracking.lastQuery(); !q.Opened || q.Search != "" || len(q.Statuses) != 0 {
		t.Errorf("opened filter query %+v", q)
	}
	s.sortSel.SetSelected(sortOldest)
	if q := f.tracking.lastQuery(); q.Sort != OldestFirst || !q.Opened {
		t.Errorf("sort query %+v", q)
	}
	requireText(t, s.list, "Invoice 55")

	s.setQuery(Query{})
	s.accSel.SetSelected("work")
	if q := f.tracking.lastQuery(); q.Account != "work" {
		t.Errorf("account query %+v", q)
	}
	from := testNow.Add(-48 * time.Hour)
	s.fromDate.SetDate(&from)
	if q := f.tracking.lastQuery(); !q.From.Equal(dayStart(from)) {
		t.Errorf("from %v", q.From)
	}
}

func TestTrackingCountsAndEmpty(t *testing.T) {
	f := newFakes()
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenSent)
	requireText(t, content(m), "No sent messages yet")

	seedList(f, 14)
	m.sent().reload()
	requireText(t, content(m), "accepted 12", "bounced 2", "delivered 14")

	m.sent().search.SetText("nothing matches this")
	requireText(t, content(m), "No messages match these filters")
	test.Tap(findButton(content(m), "Clear filters"))
	if m.sent().search.Text != "" || m.sent().cache.count != 14 {
		t.Errorf("clear filters: search %q count %d", m.sent().search.Text, m.sent().cache.count)
	}
}

func TestTrackingRowOpensDetail(t *testing.T) {
	f := newFakes()
	seedList(f, 3)
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenSent)
	m.sent().list.Select(1)
	if m.CurrentScreen() != "detail" || m.detail().cur.ID != "id001" {
		t.Errorf("screen %q detail %q", m.CurrentScreen(), m.detail().cur.ID)
	}
}

func TestPageCacheEvictsFarPages(t *testing.T) {
	c := newPageCache(10)
	g := c.invalidate()
	for p := 0; p < maxPages+5; p++ {
		if !c.startLoad(p) {
			t.Fatalf("page %d not loaded", p)
		}
		c.finishLoad(p, g, make([]MessageRow, 10), nil)
	}
	if len(c.pages) != maxPages {
		t.Fatalf("%d pages kept", len(c.pages))
	}
	if _, ok := c.pages[0]; ok {
		t.Error("the farthest page was kept")
	}
	if c.startLoad(maxPages + 4) {
		t.Error("a fresh page is fetched again")
	}
	// A new generation keeps rows displayable but refetches.
	c.invalidate()
	if _, ok := c.row((maxPages + 4) * 10); !ok {
		t.Error("stale rows dropped")
	}
	if !c.startLoad(maxPages + 4) {
		t.Error("a stale page is not refetched")
	}
	if c.startLoad(maxPages + 4) {
		t.Error("a page in flight is fetched twice")
	}
	// A load from an older generation is discarded.
	old := c.gen
	c.invalidate()
	c.finishLoad(3, old, make([]MessageRow, 1), nil)
	if c.fresh(3) {
		t.Error("stale load stored as fresh")
	}
}

// A count chip filters the list by its status, keeping the other filters.
func TestTrackingCountChipFilters(t *testing.T) {
	f := newFakes()
	seedList(f, 14)
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenSent)
	m.sent().opened.SetChecked(true)
	var chip *countChip
	walk(m.sent().counts, func(o fyne.CanvasObject) {
		if c, ok := o.(*countChip); ok && c.status == tracking.Bounced {
			chip = c
		}
	})
	if chip == nil {
		t.Fatal("no bounced chip")
	}
	test.Tap(chip)
	q := f.tracking.lastQuery()
	if !reflect.DeepEqual(q.Statuses, []tracking.Status{tracking.Bounced}) || !q.Opened {
		t.Errorf("query %+v", q)
	}
	if m.sent().statusSel.Selected != string(tracking.Bounced) {
		t.Errorf("status select shows %q", m.sent().statusSel.Selected)
	}
}
