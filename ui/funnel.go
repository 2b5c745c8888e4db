package ui

import (
	"fmt"
	"image/color"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"mailroom/tracking"
)

// FunnelFromCounts builds a Funnel from per-status recipient counts and
// the number of recipients with at least one open; it defines what each
// stage means, so a TrackingService may implement Funnel with Counts.
func FunnelFromCounts(counts map[tracking.Status]int, opened int) Funnel {
	var f Funnel
	for _, n := range counts {
		f.Queued += n
	}
	for _, s := range acceptedOrLater {
		f.Accepted += counts[s]
	}
	f.Delivered = counts[tracking.Delivered]
	f.Opened = opened
	f.Bounced = counts[tracking.Bounced]
	f.Rejected = counts[tracking.Rejected]
	f.Deferred = counts[tracking.Deferred] + counts[tracking.Uncertain]
	f.Expired = counts[tracking.Expired]
	return f
}

// periods of the funnel; zero means all time.
var funnelPeriods = []struct {
	label string
	d     time.Duration
}{
	{"Last 24 hours", 24 * time.Hour},
	{"Last 7 days", 7 * 24 * time.Hour},
	{"Last 30 days", 30 * 24 * time.Hour},
	{"Last 90 days", 90 * 24 * time.Hour},
	{"All time", 0},
}

// funnelScreen draws the delivery funnel of a period with canvas bars;
// each bar opens the tracking list filtered to it.
type funnelScreen struct {
	e      *env
	m      *MainWindow
	root   *fyne.Container
	period *widget.Select
	note   *widget.Label
	bars   map[string]*funnelBar
	f      Funnel
	// unmatched tells of reports that matched no message, under the bars.
	unmatched *unmatchedRow
}

// Funnel stage names (bar keys).
const (
	stageQueued    = "Queued"
	stageAccepted  = "Accepted by the server"
	stageDelivered = "Delivered to the mailbox"
	stageOpened    = "Opened"
	stageBounced   = "Bounced"
	stageRejected  = "Rejected"
	stageDeferred  = "Deferred"
	stageExpired   = "Expired"
)

func newFunnelScreen(e *env, m *MainWindow) *funnelScreen {
	f := &funnelScreen{e: e, m: m, bars: map[string]*funnelBar{}, unmatched: newUnmatchedRow(e)}
	labels := make([]string, len(funnelPeriods))
	for i, p := range funnelPeriods {
		labels[i] = p.label
	}
	f.period = widget.NewSelect(labels, func(string) { f.reload() })
	f.period.Selected = "Last 30 days" // no callback: the bars do not exist yet
	f.note = widget.NewLabel("")
	f.note.Wrapping = fyne.TextWrapWord

	main := container.NewVBox()
	for _, st := range []struct {
		name string
		c    color.NRGBA
		q    func(Query) Query
	}{
		{stageQueued, grey, func(q Query) Query { return q }},
		{stageAccepted, teal, func(q Query) Query { q.Statuses = acceptedOrLater; return q }},
		{stageDelivered, green, func(q Query) Query { q.Statuses = []tracking.Status{tracking.Delivered}; return q }},
		{stageOpened, purple, func(q Query) Query { q.Opened = true; return q }},
	} {
		main.Add(f.addBar(st.name, st.c, st.q))
	}
	side := container.NewVBox()
	for _, st := range []struct {
		name string
		c    color.NRGBA
		ss   []tracking.Status
	}{
		{stageBounced, red, []tracking.Status{tracking.Bounced}},
		{stageRejected, red, []tracking.Status{tracking.Rejected}},
		{stageDeferred, amber, []tracking.Status{tracking.Deferred, tracking.Uncertain}},
		{stageExpired, red, []tracking.Status{tracking.Expired}},
	} {
		ss := st.ss
		side.Add(f.addBar(st.name, st.c, func(q Query) Query { q.Statuses = ss; return q }))
	}
	heading := func(s string) fyne.CanvasObject {
		return widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	grid := container.NewGridWithColumns(2,
		container.NewVBox(heading("The journey (recipients)"), main),
		container.NewVBox(heading("Beside the journey"), side))
	top := container.NewHBox(widget.NewLabelWithStyle("Delivery overview", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), f.period)
	f.root = container.NewBorder(top, f.note, nil, nil, container.NewVScroll(container.NewVBox(grid, f.unmatched.root)))
	return f
}

func (f *funnelScreen) addBar(name string, c color.NRGBA, q func(Query) Query) fyne.CanvasObject {
	b := newFunnelBar(name, c, func() {
		from, to := f.window()
		f.m.ShowSent(q(Query{From: from, To: to}))
	})
	f.bars[name] = b
	return b
}

func (f *funnelScreen) view() fyne.CanvasObject { return f.root }

func (f *funnelScreen) activate() { f.reload() }

// window is the chosen period: [now-d, open end), or all time.
func (f *funnelScreen) window() (time.Time, time.Time) {
	for _, p := range funnelPeriods {
		if p.label == f.period.Selected && p.d > 0 {
			return f.e.now().Add(-p.d), time.Time{}
		}
	}
	return time.Time{}, time.Time{}
}

func (f *funnelScreen) reload() {
	if f.e.svc.Tracking == nil {
		return
	}
	from, to := f.window()
	f.unmatched.reload()
	f.e.run(func() func() {
		ctx, cancel := f.e.callCtx()
		defer cancel()
		fn, err := f.e.svc.Tracking.Funnel(ctx, from, to)
		return func() {
			if err != nil {
				f.note.SetText("Could not compute the funnel: " + err.Error())
				return
			}
			f.setFunnel(fn)
		}
	})
}

func (f *funnelScreen) setFunnel(fn Funnel) {
	f.f = fn
	max := fn.Queued
	for _, n := range []int{fn.Accepted, fn.Delivered, fn.Opened, fn.Bounced, fn.Rejected, fn.Deferred, fn.Expired} {
		if n > max {
			max = n
		}
	}
	set := func(name string, n int) { f.bars[name].setCount(n, max, fn.Queued) }
	set(stageQueued, fn.Queued)
	set(stageAccepted, fn.Accepted)
	set(stageDelivered, fn.Delivered)
	set(stageOpened, fn.Opened)
	set(stageBounced, fn.Bounced)
	set(stageRejected, fn.Rejected)
	set(stageDeferred, fn.Deferred)
	set(stageExpired, fn.Expired)
	f.note.SetText("Counts are recipients of messages created in the period. \"Delivered\" counts only deliveries a report confirmed, " +
		"and many servers never send one; \"Opened\" counts pixel loads, which privacy proxies trigger too: read both as indications, " +
		"not exact totals. Tap a bar to see its messages.")
}

// funnelBar is a tappable horizontal bar drawn with canvas rectangles: a
// track, a fill proportional to the count, and the stage's words.
type funnelBar struct {
	widget.BaseWidget
	name  string
	color color.NRGBA
	onTap func()
	count int
	max   int
	of    int
}

func newFunnelBar(name string, c color.NRGBA, onTap func()) *funnelBar {
	b := &funnelBar{name: name, color: c, onTap: onTap}
	b.ExtendBaseWidget(b)
	return b
}

func (b *funnelBar) setCount(n, max, of int) {
	b.count, b.max, b.of = n, max, of
	b.Refresh()
}

// text is what the bar says, e.g. "Delivered to the mailbox: 12 (40%)".
func (b *funnelBar) text() string {
	s := fmt.Sprintf("%s: %d", b.name, b.count)
	if b.of > 0 && b.name != stageQueued {
		s += fmt.Sprintf(" (%d%%)", b.count*100/b.of)
	}
	return s
}

func (b *funnelBar) Tapped(*fyne.PointEvent) {
	if b.onTap != nil {
		b.onTap()
	}
}

// Cursor shows a hand: the bar is a link into the list.
func (b *funnelBar) Cursor() desktop.Cursor { return desktop.PointerCursor }

func (b *funnelBar) CreateRenderer() fyne.WidgetRenderer {
	track := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	track.CornerRadius = theme.InputRadiusSize()
	fill := canvas.NewRectangle(b.color)
	fill.CornerRadius = theme.InputRadiusSize()
	label := canvas.NewText(b.text(), theme.Color(theme.ColorNameForeground))
	return &funnelBarRenderer{b: b, track: track, fill: fill, label: label}
}

type funnelBarRenderer struct {
	b     *funnelBar
	track *canvas.Rectangle
	fill  *canvas.Rectangle
	label *canvas.Text
}

func (r *funnelBarRenderer) Layout(size fyne.Size) {
	r.track.Resize(size)
	w := float32(0)
	if r.b.max > 0 {
		w = size.Width * float32(r.b.count) / float32(r.b.max)
	}
	if r.b.count > 0 && w < 4 {
		w = 4 // a non-zero count stays visible
	}
	r.fill.Resize(fyne.NewSize(w, size.Height))
	ls := r.label.MinSize()
	r.label.Move(fyne.NewPos(theme.Padding()*2, (size.Height-ls.Height)/2))
	r.label.Resize(ls)
}

func (r *funnelBarRenderer) MinSize() fyne.Size {
	ls := r.label.MinSize()
	return fyne.NewSize(ls.Width+theme.Padding()*4, ls.Height+theme.Padding()*6)
}

func (r *funnelBarRenderer) Refresh() {
	r.track.FillColor = theme.Color(theme.ColorNameInputBackground)
	r.fill.FillColor = r.b.color
	r.label.Text = r.b.text()
	r.label.Color = theme.Color(theme.ColorNameForeground)
	r.Layout(r.b.Size())
	canvas.Refresh(r.b)
}

func (r *funnelBarRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.track, r.fill, r.label}
}

func (r *funnelBarRenderer) Destroy() {}
