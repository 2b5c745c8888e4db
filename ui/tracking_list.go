package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"mailroom/tracking"
)

// Filter labels of the status select.
const (
	allStatuses = "All statuses"
	allAccounts = "All accounts"
	sortNewest  = "Newest first"
	sortOldest  = "Oldest first"
)

// statusGroups are the status select's entries beyond single statuses;
// the funnel's bars open the list with these.
var statusGroups = []struct {
	label    string
	statuses []tracking.Status
}{
	{"Left the server (accepted or later)", acceptedOrLater},
	{"Still trying (deferred, uncertain)", []tracking.Status{tracking.Deferred, tracking.Uncertain}},
}

// acceptedOrLater are the statuses of recipients the submission server
// took: whatever a report said afterwards, the message left.
var acceptedOrLater = func() (ss []tracking.Status) {
	for _, s := range tracking.AllStatuses {
		if s.HandedOver() {
			ss = append(ss, s)
		}
	}
	return ss
}()

// trackingScreen is the Sent / Tracking list: a virtualized list fed page
// by page from TrackingService.Page, with filters, search, sort and
// per-status counts, following the service's Changes live.
type trackingScreen struct {
	e *env
	m *MainWindow

	root      *fyne.Container
	body      *fyne.Container
	statusSel *widget.Select
	accSel    *widget.Select
	fromDate  *widget.DateEntry
	toDate    *widget.DateEntry
	bounces   *widget.Check
	opened    *widget.Check
	search    *widget.Entry
	sortSel   *widget.Select
	counts    *fyne.Container
	info      *widget.Label
	list      *widget.List

	q     Query
	cache *pageCache
	// lastPage is the page of the row drawn last: a reload fetches it
	// with the count, so the rows on screen come back in one round.
	lastPage int
	// stopReload cancels the queries of the reload in flight.
	stopReload context.CancelFunc
	searchDeb  debouncer
	// setting is true while widgets are set from a Query, so their
	// callbacks do not each start a reload.
	setting  bool
	accounts []string
}

func newTrackingScreen(e *env, m *MainWindow) *trackingScreen {
	t := &trackingScreen{e: e, m: m, cache: newPageCache(pageSize)}
	t.searchDeb.d = e.debounce / 3
	t.q.Sort = NewestFirst
	t.setting = true // widgets are being built: no reloads yet

	opts := []string{allStatuses}
	for _, s := range tracking.AllStatuses {
		opts = append(opts, string(s))
	}
	for _, g := range statusGroups {
		opts = append(opts, g.label)
	}
	t.statusSel = widget.NewSelect(opts, func(string) { t.filtersChanged() })
	t.statusSel.SetSelected(allStatuses)
	t.accSel = widget.NewSelect([]string{allAccounts}, func(string) { t.filtersChanged() })
	t.accSel.SetSelected(allAccounts)
	t.fromDate = widget.NewDateEntry()
	t.fromDate.SetPlaceHolder("from date")
	t.fromDate.OnChanged = func(*time.Time) { t.filtersChanged() }
	t.toDate = widget.NewDateEntry()
	t.toDate.SetPlaceHolder("to date")
	t.toDate.OnChanged = func(*time.Time) { t.filtersChanged() }
	t.bounces = widget.NewCheck("Has bounces", func(bool) { t.filtersChanged() })
	t.opened = widget.NewCheck("Opened", func(bool) { t.filtersChanged() })
	t.search = widget.NewEntry()
	t.search.SetPlaceHolder("Search address or subject")
	t.search.ActionItem = widget.NewIcon(theme.SearchIcon())
	t.search.OnChanged = func(string) {
		if !t.setting {
			t.searchDeb.trigger(t.filtersChanged)
		}
	}
	t.sortSel = widget.NewSelect([]string{sortNewest, sortOldest}, func(string) { t.filtersChanged() })
	t.sortSel.SetSelected(sortNewest)
	t.counts = newFlow()
	t.info = widget.NewLabel("")

	t.list = widget.NewList(
		func() int { return t.cache.count },
		func() fyne.CanvasObject { return newMessageRowView(t) },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			page := id / t.cache.size
			t.lastPage = page
			if !t.cache.fresh(page) {
				t.loadPage(page)
			}
			row, ok := t.cache.row(id)
			o.(*messageRowView).set(row, ok)
		})
	t.list.OnSelected = func(id widget.ListItemID) {
		t.list.UnselectAll()
		if row, ok := t.cache.row(id); ok {
			m.OpenMessage(row.ID)
		}
	}

	exportBtn := widget.NewButtonWithIcon("Export…", theme.DownloadIcon(), func() { t.askExport(t.query()) })
	clear := widget.NewButtonWithIcon("Clear", theme.ContentClearIcon(), func() { t.setQuery(Query{}) })
	// Wide enough for a full date beside the entry's validity mark and
	// calendar button (at 140 px "10/25/2026" was cut).
	dateSize := fyne.NewSize(176, t.fromDate.MinSize().Height)
	// The filters flow: one row on a wide window, more on a narrow one,
	// never wider than the window.
	filters := container.NewVBox(
		container.NewBorder(nil, nil, nil, container.NewHBox(t.sortSel, exportBtn), t.search),
		newFlow(t.statusSel, t.accSel, container.NewGridWrap(dateSize, t.fromDate), container.NewGridWrap(dateSize, t.toDate),
			t.bounces, t.opened, clear),
		container.NewBorder(nil, nil, nil, t.info, t.counts),
	)
	t.body = container.NewStack(t.list)
	t.root = container.NewBorder(filters, nil, nil, nil, t.body)
	t.setting = false
	if e.svc.Tracking != nil {
		// One subscription serves every tracking view: the list, the
		// open message and the funnel follow new events live.
		e.watch(e.svc.Tracking.Changes, func() {
			switch m.current {
			case ScreenSent:
				t.reload()
			case "detail":
				m.detail().activate()
			case ScreenOverview:
				m.overview().reload()
			}
		})
	}
	return t
}

func (t *trackingScreen) view() fyne.CanvasObject { return t.root }

func (t *trackingScreen) activate() {
	t.loadAccounts()
	t.reload()
}

// query is the filter as the user set it.
func (t *trackingScreen) query() Query { return t.q }

// filtersChanged rebuilds the Query from the widgets and reloads.
func (t *trackingScreen) filtersChanged() {
	if t.setting {
		return
	}
	q := Query{Sort: NewestFirst}
	switch sel := t.statusSel.Selected; sel {
	case allStatuses, "":
	default:
		q.Statuses = []tracking.Status{tracking.Status(sel)}
		for _, g := range statusGroups {
			if g.label == sel {
				q.Statuses = append([]tracking.Status(nil), g.statuses...)
			}
		}
		if strings.HasPrefix(sel, "Custom: ") {
			q.Statuses = t.q.Statuses
		}
	}
	if a := t.accSel.Selected; a != allAccounts && a != "" {
		q.Account = a
	}
	if d := t.fromDate.Date; d != nil {
		q.From = dayStart(*d)
	}
	if d := t.toDate.Date; d != nil {
		q.To = dayStart(*d).AddDate(0, 0, 1) // the "to" day is included
	}
	q.HasBounces = t.bounces.Checked
	q.Opened = t.opened.Checked
	q.Search = strings.TrimSpace(t.search.Text)
	if t.sortSel.Selected == sortOldest {
		q.Sort = OldestFirst
	}
	t.q = q
	t.reload()
}

func dayStart(d time.Time) time.Time {
	d = d.Local()
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.Local)
}

// setQuery shows the list filtered by q (e.g. from a funnel bar).
func (t *trackingScreen) setQuery(q Query) {
	if q.Sort == "" {
		q.Sort = NewestFirst
	}
	t.setting = true
	defer func() { t.setting = false }()
	t.statusSel.SetSelected(statusLabel(q.Statuses, t.statusSel))
	if q.Account == "" {
		t.accSel.SetSelected(allAccounts)
	} else {
		t.accSel.SetSelected(q.Account)
	}
	setDate := func(de *widget.DateEntry, tm time.Time) {
		if tm.IsZero() {
			de.SetDate(nil)
			de.SetText("")
		} else {
			de.SetDate(&tm)
		}
	}
	setDate(t.fromDate, q.From)
	to := q.To
	if !to.IsZero() {
		to = to.AddDate(0, 0, -1) // shown inclusive
	}
	setDate(t.toDate, to)
	t.bounces.SetChecked(q.HasBounces)
	t.opened.SetChecked(q.Opened)
	t.search.SetText(q.Search)
	if q.Sort == OldestFirst {
		t.sortSel.SetSelected(sortOldest)
	} else {
		t.sortSel.SetSelected(sortNewest)
	}
	t.q = q
	t.reload()
}

// statusLabel finds (or adds) the status select entry for a status set.
func statusLabel(ss []tracking.Status, sel *widget.Select) string {
	switch len(ss) {
	case 0:
		return allStatuses
	case 1:
		return string(ss[0])
	}
	for _, g := range statusGroups {
		if sameStatuses(g.statuses, ss) {
			return g.label
		}
	}
	words := make([]string, len(ss))
	for i, s := range ss {
		words[i] = string(s)
	}
	label := "Custom: " + strings.Join(words, ", ")
	found := false
	for _, o := range sel.Options {
		found = found || o == label
	}
	if !found {
		sel.Options = append(sel.Options, label)
	}
	return label
}

func sameStatuses(a, b []tracking.Status) bool {
	if len(a) != len(b) {
		return false
	}
	in := map[tracking.Status]bool{}
	for _, s := range a {
		in[s] = true
	}
	for _, s := range b {
		if !in[s] {
			return false
		}
	}
	return true
}

func (t *trackingScreen) loadAccounts() {
	if t.e.svc.Accounts == nil {
		return
	}
	t.e.run(func() func() {
		ctx, cancel := t.e.callCtx()
		defer cancel()
		list, err := t.e.svc.Accounts.List(ctx)
		return func() {
			if err != nil {
				return
			}
			t.accounts = t.accounts[:0]
			opts := []string{allAccounts}
			for _, a := range list {
				opts = append(opts, a.Name)
				t.accounts = append(t.accounts, a.Name)
			}
			t.accSel.Options = opts
			t.accSel.Refresh()
		}
	})
}

// reload recounts and invalidates the cached pages. Pages stay visible
// until their fresh copy arrives, so live updates do not flicker.
//
// The count and the page on screen come back together, so the rows show
// as soon as the list does (one query each, a few milliseconds); the
// per-status counts, which read every recipient, follow in a second step
// and never hold the rows back. A newer reload cancels the queries of the
// one it replaces instead of letting them compete for the CPU and the
// read connections (at start the window and the first change from the
// workers each reload).
func (t *trackingScreen) reload() {
	if t.e.svc.Tracking == nil {
		t.showEmpty()
		return
	}
	gen := t.cache.invalidate()
	if t.stopReload != nil {
		t.stopReload()
	}
	ctx, cancel := t.e.callCtx()
	t.stopReload = cancel
	q, size, page := t.q, t.cache.size, t.lastPage
	t.cache.startLoad(page)
	t.e.run(func() func() {
		n, err := t.e.svc.Tracking.Count(ctx, q)
		var rows []MessageRow
		fetched := err == nil && page*size < n
		if fetched {
			rows, err = t.e.svc.Tracking.Page(ctx, q, page*size, size)
		}
		return func() {
			if fetched {
				t.cache.finishLoad(page, gen, rows, err)
			} else {
				t.cache.abandonLoad(page, gen)
			}
			if gen != t.cache.gen {
				return // a newer reload is on its way
			}
			if err != nil {
				cancel()
				t.info.SetText("Could not load: " + err.Error())
				return
			}
			t.cache.count = n
			t.info.SetText(plural(n, "message", "messages"))
			if n == 0 {
				t.showEmpty()
			} else {
				t.body.Objects = []fyne.CanvasObject{t.list}
				t.body.Refresh()
				t.list.Refresh()
			}
			// The counts ignore the status filter: beside an empty
			// status they still show where the messages are.
			t.loadCounts(ctx, cancel, gen, q)
		}
	})
}

// loadCounts fetches the per-status counts of reload gen and shows them
// unless a newer reload started.
func (t *trackingScreen) loadCounts(ctx context.Context, cancel context.CancelFunc, gen int, q Query) {
	t.e.run(func() func() {
		defer cancel()
		counts, err := t.e.svc.Tracking.Counts(ctx, q)
		return func() {
			if gen != t.cache.gen {
				return
			}
			if err != nil {
				t.info.SetText("Could not load: " + err.Error())
				return
			}
			t.showCounts(counts)
		}
	})
}

func (t *trackingScreen) showEmpty() {
	var empty fyne.CanvasObject
	if isZeroQuery(t.q) {
		write := widget.NewButtonWithIcon("Write a message", theme.MailComposeIcon(), t.m.NewMessage)
		empty = emptyState(theme.MailSendIcon(), "No sent messages yet",
			"Every message you send appears here with what happened to each recipient.", write)
	} else {
		clear := widget.NewButtonWithIcon("Clear filters", theme.ContentClearIcon(), func() { t.setQuery(Query{}) })
		empty = emptyState(theme.SearchIcon(), "No messages match these filters", "Try a wider date range or another status.", clear)
	}
	t.body.Objects = []fyne.CanvasObject{empty}
	t.body.Refresh()
}

func isZeroQuery(q Query) bool {
	return len(q.IDs) == 0 && len(q.Statuses) == 0 && q.Account == "" && q.From.IsZero() && q.To.IsZero() &&
		!q.HasBounces && !q.Opened && q.Search == ""
}

// showCounts draws one tappable chip per status present, at body text
// size so the numbers read easily; they wrap on a narrow window.
func (t *trackingScreen) showCounts(counts map[tracking.Status]int) {
	t.counts.RemoveAll()
	t.counts.Add(widget.NewLabel("Recipients:"))
	n := 0
	for _, s := range tracking.AllStatuses {
		c := counts[s]
		if c == 0 {
			continue
		}
		n++
		s := s
		t.counts.Add(newCountChip(s, c, func() {
			q := t.q
			q.Statuses = []tracking.Status{s}
			t.setQuery(q)
		}))
	}
	if n == 0 {
		t.counts.Add(widget.NewLabel("none"))
	}
	t.root.Refresh()
}

// loadPage fetches one page unless it is already on its way.
func (t *trackingScreen) loadPage(page int) {
	if !t.cache.startLoad(page) {
		return
	}
	gen, q, size := t.cache.gen, t.q, t.cache.size
	t.e.run(func() func() {
		ctx, cancel := t.e.callCtx()
		defer cancel()
		rows, err := t.e.svc.Tracking.Page(ctx, q, page*size, size)
		return func() {
			t.cache.finishLoad(page, gen, rows, err)
			if err != nil {
				t.info.SetText("Could not load: " + err.Error())
				return
			}
			if gen == t.cache.gen {
				// Refresh redraws only the rows on screen, whichever
				// page they are from.
				t.list.Refresh()
			}
		}
	})
}

// ---- export ----

// askExport asks for a format, then a file.
func (t *trackingScreen) askExport(q Query) {
	format := widget.NewRadioGroup([]string{"CSV (one row per event)", "JSON (status --json shape)"}, nil)
	format.SetSelected("CSV (one row per event)")
	dialog.ShowCustomConfirm("Export delivery evidence", "Choose file…", "Cancel", format, func(ok bool) {
		if !ok {
			return
		}
		f := "csv"
		if strings.HasPrefix(format.Selected, "JSON") {
			f = "json"
		}
		t.export(f, q)
	}, t.e.win)
}

// export writes the matching messages to a file the user chooses.
func (t *trackingScreen) export(format string, q Query) {
	if t.e.svc.Tracking == nil {
		return
	}
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil {
			t.e.showError("Export", err)
			return
		}
		if w == nil {
			return
		}
		t.e.run(func() func() {
			ctx, cancel := t.e.callCtx()
			defer cancel()
			err := t.e.svc.Tracking.Export(ctx, q, format, w)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return func() {
				if err != nil {
					t.e.showError("Export", err)
					return
				}
				dialog.ShowInformation("Export", "Saved "+w.URI().Name()+".", t.e.win)
			}
		})
	}, t.e.win)
	d.SetFileName("mailroom-export." + format)
	d.Show()
}

// ---- rows ----

// messageRowView is one line of the list: subject and time, then the
// recipients and a chip per status present (colour, icon and word). The
// recipients shorten with "…" and the chips that do not fit become "+N",
// so a row never runs past the window; the time always shows.
type messageRowView struct {
	widget.BaseWidget
	t       *trackingScreen
	subject *widget.Label
	when    *widget.Label
	who     *widget.Label
	badges  []*badge
	eng     *badge
	more    *badge
	line    *truncLine
	outer   *fyne.Container
}

func newMessageRowView(t *trackingScreen) *messageRowView {
	r := &messageRowView{t: t,
		subject: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		when:    widget.NewLabel(""), who: widget.NewLabel(""), eng: newBadge(), more: newBadge()}
	r.subject.Truncation = fyne.TextTruncateEllipsis
	r.who.Truncation = fyne.TextTruncateEllipsis
	var chips []fyne.CanvasObject
	for range tracking.AllStatuses {
		b := newBadge()
		b.box.Hide()
		r.badges = append(r.badges, b)
		chips = append(chips, b.box)
	}
	r.eng.box.Hide()
	chips = append(chips, r.eng.box)
	r.more.icon.SetResource(theme.MoreHorizontalIcon())
	r.more.box.Hide()
	r.line = &truncLine{main: r.who, trail: chips, overflow: r.more, minMain: 180}
	top := container.NewBorder(nil, nil, nil, r.when, r.subject)
	r.outer = container.NewVBox(top, container.New(r.line, r.line.objects()...))
	r.ExtendBaseWidget(r)
	return r
}

func (r *messageRowView) set(row MessageRow, loaded bool) {
	r.line.want = r.line.want[:0]
	if !loaded {
		setText(r.subject, "Loading…")
		setText(r.who, "")
		setText(r.when, "")
		r.outer.Refresh()
		return
	}
	s := oneLine(row.Subject)
	if s == "" {
		s = "(no subject)"
	}
	setText(r.subject, s)
	setText(r.when, fmtTime(row.LastEvent, r.t.e.now()))
	setText(r.who, recipientSummary(row))
	i := 0
	for _, st := range tracking.AllStatuses {
		n := row.StatusCounts[st]
		if n == 0 && len(row.StatusCounts) == 0 {
			n = countIn(row.Recipients, st)
		}
		if n == 0 {
			continue
		}
		r.badges[i].setStatus(st, n)
		r.line.want = append(r.line.want, r.badges[i].box)
		i++
	}
	var eng tracking.Engagement
	for _, rc := range row.Recipients {
		eng.OpensTotal += rc.Engagement.OpensTotal
		eng.Read = eng.Read || rc.Engagement.Read
		eng.Replied = eng.Replied || rc.Engagement.Replied
	}
	if txt := rowEngagement(eng); txt != "" {
		r.eng.setPlain(engagementColor, theme.VisibilityIcon(), txt)
		r.line.want = append(r.line.want, r.eng.box)
	}
	r.outer.Refresh() // chips came and went: lay the row out again
}

func countIn(rs []RecipientStatus, s tracking.Status) int {
	n := 0
	for _, r := range rs {
		if r.Status == s {
			n++
		}
	}
	return n
}

func rowEngagement(e tracking.Engagement) string {
	var p []string
	if e.OpensTotal > 0 {
		p = append(p, plural(e.OpensTotal, "open", "opens"))
	}
	if e.Read {
		p = append(p, "read")
	}
	if e.Replied {
		p = append(p, "replied")
	}
	return strings.Join(p, ", ")
}

// recipientSummary is "bob@example.com, carol@example.org and 48 more".
func recipientSummary(row MessageRow) string {
	n := row.RecipientCount
	if n < len(row.Recipients) {
		n = len(row.Recipients)
	}
	var names []string
	for i, r := range row.Recipients {
		if i == 2 {
			break
		}
		names = append(names, r.Address)
	}
	s := "To: " + strings.Join(names, ", ")
	if more := n - len(names); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

func (r *messageRowView) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(r.outer)
}
