package ui

import (
	"fmt"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"mailroom/mail"
	"mailroom/tracking"
)

// Notes that appear after the first layout must get room on screen, not
// only become "visible" at size zero.
func TestInlineNotesAreLaidOut(t *testing.T) {
	f := newFakes()
	f.compose.suppressed["bob@example.com"] = "bounced"
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenCompose)
	test.RenderToMarkup(m.Canvas()) // first layout
	c := m.compose()
	test.Type(c.to, "bob@example.com, x@")
	if s := c.toErr.Size(); s.Height == 0 || s.Width == 0 {
		t.Errorf("To error has size %v", s)
	}
	c.to.SetText("bob@example.com")
	if s := c.suppressed.Size(); s.Height == 0 {
		t.Errorf("suppression warning has size %v", s)
	}
	test.Tap(c.trackOpens)
	if s := c.trackNote.Size(); s.Height == 0 {
		t.Errorf("tracking note has size %v", s)
	}
}

// crowdedFakes has what makes screens wide: many statuses on one
// message, long addresses and subjects, an outbox with many messages.
func crowdedFakes() *fakes {
	f := newFakes()
	seedList(f, 40)
	f.tracking.msgs = append(f.tracking.msgs, bounceWithOpen())
	var rs []RecipientDetail
	for i, st := range []tracking.Status{tracking.Queued, tracking.Deferred, tracking.Rejected, tracking.Accepted,
		tracking.Relayed, tracking.Delayed, tracking.Delivered, tracking.Bounced, tracking.Expired} {
		r := RecipientDetail{Address: fmt.Sprintf("a-rather-long-mailbox-name-%d@subdomain.example-corporation.example", i), Status: st}
		r.Engagement.OpensTotal = i
		rs = append(rs, r)
	}
	f.tracking.msgs = append(f.tracking.msgs, seedMessage("crowded",
		"Quarterly report for every department, with the appendices and the long title nobody reads", testNow.Add(time.Minute), rs...))
	for i := 0; i < 300; i++ {
		f.outbox.msgs = append(f.outbox.msgs, OutboxMessage{ID: fmt.Sprintf("o%d", i), Account: "work",
			Subject: "A subject long enough to need shortening in a narrow list, number " + fmt.Sprint(i), Total: 2,
			Recipients: []OutboxRecipient{
				{Address: "someone-with-a-long-address@subdomain.example-corporation.example", Status: tracking.Deferred, Attempts: 3,
					LastReply: &mail.Reply{Command: "RCPT", Code: 451, Enhanced: "4.7.1", Text: "Greylisted, please try again in a few minutes"}},
				{Address: "b@example.com", Status: tracking.Queued},
			}})
	}
	return f
}

// Every screen fits a 900x600 window: a minimum wider than the window
// squeezes the navigation to a sliver and pushes content off the edge.
func TestScreensFitASmallWindow(t *testing.T) {
	m := newTestWindow(t, crowdedFakes())
	m.Resize(fyne.NewSize(900, 600))
	limit := fyne.NewSize(900, 600-30) // the real window's menu bar takes about 30
	check := func(what string, o fyne.CanvasObject) {
		t.Helper()
		if min := o.MinSize(); min.Width > limit.Width || min.Height > limit.Height {
			t.Errorf("%s needs %v, more than %v", what, min, limit)
		}
	}
	for _, it := range m.items {
		m.ShowScreen(it.name)
		check(it.name, m.Canvas().Content())
	}
	m.OpenMessageRecipient("crowded", "a-rather-long-mailbox-name-8@subdomain.example-corporation.example")
	check("detail", m.Canvas().Content())
	m.ShowAccountDialog("work")
	if m.accounts().dlg == nil {
		t.Fatal("no account dialog")
	}
	check("account dialog", m.accounts().dlg.content)
}

// The tracking list keeps the navigation at its width and each row
// inside the window: recipients shorten, chips beyond the room become
// "+N", the time stays.
func TestTrackingRowsFitTheWindow(t *testing.T) {
	f := crowdedFakes()
	for _, size := range []fyne.Size{{Width: 1200, Height: 760}, {Width: 900, Height: 600}} {
		m := newTestWindow(t, f)
		m.Resize(size)
		m.ShowScreen(ScreenSent)
		test.RenderToMarkup(m.Canvas())
		if w := m.nav.Size().Width; w < m.navWidth()-1 {
			t.Errorf("%v: navigation %v wide, want %v", size, w, m.navWidth())
		}
		rows := visibleRows(t, m.sent())
		if len(rows) < 3 {
			t.Fatalf("%v: %d rows", size, len(rows))
		}
		listW := m.sent().list.Size().Width
		overflowed := false
		for _, r := range rows {
			line := r.outer.Objects[1]
			lineW := line.Size().Width
			if lineW > listW+0.5 || lineW <= 0 {
				t.Errorf("%v: row %q is %v wide in a list of %v", size, r.subject.Text, lineW, listW)
			}
			whoEnd := r.who.Position().X + r.who.Size().Width
			shown := 0
			for _, o := range append(r.line.trail, r.more.box) {
				if !o.Visible() {
					continue
				}
				shown++
				if o.Position().X < whoEnd-0.5 || o.Position().X+o.Size().Width > lineW+0.5 {
					t.Errorf("%v: row %q has a chip at %v+%v outside %v..%v", size, r.subject.Text,
						o.Position().X, o.Size().Width, whoEnd, lineW)
				}
			}
			if len(r.line.want) > 0 && shown == 0 {
				t.Errorf("%v: row %q shows no chip", size, r.subject.Text)
			}
			if r.more.box.Visible() {
				overflowed = true
			}
			if r.when.Text != "" && r.when.Size().Width < r.when.MinSize().Width-0.5 {
				t.Errorf("%v: row %q cuts its time", size, r.subject.Text)
			}
		}
		if size.Width == 900 && !overflowed {
			t.Errorf("%v: the crowded row shows all its chips", size)
		}
	}
}

// The outbox lists a bulk send's hundreds of messages in a virtualized
// list: rows for the screenful only, and one card, the selected one's.
func TestOutboxIsVirtualized(t *testing.T) {
	m := newTestWindow(t, crowdedFakes())
	m.Resize(fyne.NewSize(1200, 760))
	m.ShowScreen(ScreenOutbox)
	rows, cards := 0, 0
	walk(content(m), func(o fyne.CanvasObject) {
		switch o.(type) {
		case *outboxRow:
			rows++
		case *widget.ProgressBar:
			cards++
		}
	})
	if rows == 0 || rows > 40 {
		t.Errorf("%d rows built for 300 messages", rows)
	}
	if cards != 1 {
		t.Errorf("%d cards", cards)
	}
	requireText(t, content(m), "Outbox — 300 messages waiting", "number 0", "Greylisted")
	m.outbox().list.Select(5)
	requireText(t, m.outbox().pane, "number 5")
	// A live refresh keeps the message being read.
	m.outbox().reload()
	if m.outbox().selected != "o5" {
		t.Errorf("selection moved to %q", m.outbox().selected)
	}
}

// Outbox rows start their subjects at one x, whatever their badges say
// ("queued", "2 deferred", "7 uncertain"): a ragged column of titles is
// hard to scan.
func TestOutboxRowsAlignTheirSubjects(t *testing.T) {
	f := newFakes()
	for i, c := range []struct {
		st tracking.Status
		n  int
	}{{tracking.Queued, 1}, {tracking.Deferred, 2}, {tracking.Uncertain, 7}, {tracking.Sending, 1}} {
		msg := OutboxMessage{ID: "o" + itoa(i), Account: "work", Subject: "Message " + itoa(i), Created: testNow, Total: c.n}
		for j := 0; j < c.n; j++ {
			msg.Recipients = append(msg.Recipients, OutboxRecipient{Address: "r" + itoa(j) + "@example.com", Status: c.st})
		}
		f.outbox.msgs = append(f.outbox.msgs, msg)
	}
	m := newTestWindow(t, f)
	m.Resize(fyne.NewSize(1200, 760))
	m.ShowScreen(ScreenOutbox)
	d := fyne.CurrentApp().Driver()
	xs := map[float32][]string{}
	walk(content(m), func(o fyne.CanvasObject) {
		if r, ok := o.(*outboxRow); ok && r.Visible() && r.subject.Text != "" {
			r.outer.(*fyne.Container).Refresh() // lays the row out for its badge now
			x := d.AbsolutePositionForObject(r.subject).X
			xs[x] = append(xs[x], r.subject.Text+" ("+r.b.label.Text+")")
		}
	})
	if len(xs) != 1 {
		t.Errorf("subjects start at %d different x positions: %v", len(xs), xs)
	}
}
