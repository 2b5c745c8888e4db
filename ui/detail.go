package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"mailroom/tracking"
)

// detailScreen shows one sent message: per recipient a plain-language
// explanation and a timeline of every event with its evidence.
//
// Everything here that came from outside (server replies, reports,
// returned headers) is shown as plain text in Labels. Never RichText
// Markdown or HTML: Fyne's Markdown fetches remote images by itself,
// which would fire tracking pixels, ours included.
type detailScreen struct {
	e *env
	m *MainWindow

	root     *fyne.Container
	title    *widget.Label
	meta     *widget.Label
	status   *widget.Label
	recList  *widget.List
	pane     *fyne.Container
	split    *container.Split
	retry    *widget.Button
	cancel   *widget.Button
	cur      MessageDetail
	selected int
	// wantRecipient selects a recipient once the message loads.
	wantRecipient string
}

func newDetailScreen(e *env, m *MainWindow) *detailScreen {
	d := &detailScreen{e: e, m: m, selected: -1}
	d.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.title.Truncation = fyne.TextTruncateEllipsis
	d.meta = widget.NewLabel("")
	d.meta.Selectable = true
	d.meta.Wrapping = fyne.TextWrapWord
	d.status = widget.NewLabel("")
	d.status.Hide()

	d.recList = widget.NewList(
		func() int { return len(d.cur.Recipients) },
		func() fyne.CanvasObject { return newRecipientLine() },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			r := d.cur.Recipients[id]
			o.(*recipientLine).set(r.Status, r.Address, rowEngagement(r.Engagement))
		})
	d.recList.OnSelected = func(id widget.ListItemID) { d.showRecipient(id) }
	d.pane = container.NewStack()

	back := widget.NewButtonWithIcon("Sent", theme.NavigateBackIcon(), func() { m.ShowScreen(ScreenSent) })
	d.retry = widget.NewButtonWithIcon("Retry now", theme.MediaReplayIcon(), func() {
		d.outboxAction("Retry", func(id string) error {
			ctx, cancel := d.e.callCtx()
			defer cancel()
			return d.e.svc.Outbox.RetryNow(ctx, id)
		})
	})
	d.cancel = widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		dialog.ShowConfirm("Cancel message", "Cancel this message for every recipient not yet accepted?", func(ok bool) {
			if ok {
				d.outboxAction("Cancel", func(id string) error {
					ctx, cancel := d.e.callCtx()
					defer cancel()
					return d.e.svc.Outbox.Cancel(ctx, id)
				})
			}
		}, d.e.win)
	})
	exportCSV := widget.NewButtonWithIcon("CSV", theme.DownloadIcon(), func() {
		m.sent().export("csv", Query{IDs: []string{d.cur.ID}})
	})
	exportJSON := widget.NewButtonWithIcon("JSON", theme.DownloadIcon(), func() {
		m.sent().export("json", Query{IDs: []string{d.cur.ID}})
	})
	bar := container.NewBorder(nil, nil, back,
		container.NewHBox(d.retry, d.cancel, widget.NewLabel("Export:"), exportCSV, exportJSON), d.title)
	d.split = container.NewHSplit(container.NewBorder(widget.NewLabel("Recipients"), nil, nil, nil, d.recList), d.pane)
	d.split.SetOffset(0.32)
	d.root = container.NewBorder(container.NewVBox(bar, d.meta, d.status), nil, nil, nil, d.split)
	return d
}

func (d *detailScreen) view() fyne.CanvasObject { return d.root }

func (d *detailScreen) activate() {
	if d.cur.ID != "" {
		d.load(d.cur.ID)
	}
}

// load fetches a message off the UI goroutine and shows it.
func (d *detailScreen) load(id string) {
	if d.e.svc.Tracking == nil {
		return
	}
	if id != d.cur.ID {
		d.selected = -1
	}
	d.e.run(func() func() {
		ctx, cancel := d.e.callCtx()
		defer cancel()
		md, err := d.e.svc.Tracking.Detail(ctx, id)
		return func() {
			if err != nil {
				d.title.SetText("Could not open the message")
				d.meta.SetText(err.Error())
				return
			}
			d.set(md)
		}
	})
}

func (d *detailScreen) set(md MessageDetail) {
	d.cur = md
	subject := oneLine(md.Subject)
	if subject == "" {
		subject = "(no subject)"
	}
	d.title.SetText(subject)
	var meta []string
	meta = append(meta, "From "+md.From+" via account "+md.Account, "Created "+fmtFull(md.Created))
	if md.MessageID != "" {
		meta = append(meta, "Message-ID "+md.MessageID)
	}
	tracked := "Open tracking off"
	if md.TrackOpens {
		tracked = "Open tracking on"
	}
	if md.TrackClicks {
		tracked += ", click tracking on"
	}
	meta = append(meta, tracked)
	d.meta.SetText(strings.Join(meta, " · "))
	d.updateActions()
	d.recList.Refresh()

	want := 0
	if d.selected >= 0 && d.selected < len(md.Recipients) {
		want = d.selected
	}
	if d.wantRecipient != "" {
		for i, r := range md.Recipients {
			if strings.EqualFold(r.Address, d.wantRecipient) {
				want = i
			}
		}
		d.wantRecipient = ""
	}
	if len(md.Recipients) == 0 {
		d.pane.Objects = []fyne.CanvasObject{widget.NewLabel("This message has no recipients.")}
		d.pane.Refresh()
		return
	}
	d.recList.Select(want)
	d.showRecipient(want) // Select does not call back when already selected
}

// updateActions enables retry/cancel only while something is unfinished.
func (d *detailScreen) updateActions() {
	open := false
	for _, r := range d.cur.Recipients {
		switch r.Status {
		case tracking.Queued, tracking.Sending, tracking.Deferred, tracking.Uncertain:
			open = true
		}
	}
	if open && d.e.svc.Outbox != nil {
		d.retry.Enable()
		d.cancel.Enable()
	} else {
		d.retry.Disable()
		d.cancel.Disable()
	}
}

func (d *detailScreen) outboxAction(what string, f func(id string) error) {
	id := d.cur.ID
	d.e.run(func() func() {
		err := f(id)
		return func() {
			if err != nil {
				d.e.showError(what, err)
			}
			d.load(id)
		}
	})
}

// showRecipient builds the right-hand pane for recipient i.
func (d *detailScreen) showRecipient(i int) {
	if i < 0 || i >= len(d.cur.Recipients) {
		return
	}
	d.selected = i
	r := d.cur.Recipients[i]

	// Flows, not boxes: on a narrow window the chips and buttons take a
	// second row instead of widening the pane past the window.
	head := newFlow(statusBadge(r.Status, 1),
		widget.NewLabelWithStyle(r.Address, fyne.TextAlignLeading, fyne.TextStyle{Bold: true}))
	if eng := engagementText(r.Engagement); eng != "" {
		b := newBadge()
		b.setPlain(engagementColor, theme.VisibilityIcon(), eng)
		head.Add(b.box)
	}
	explain := widget.NewLabel(Explain(r))
	explain.Wrapping = fyne.TextWrapWord
	explain.Selectable = true

	actions := newFlow()
	resend := widget.NewButtonWithIcon("Resend to this recipient", theme.MailForwardIcon(), func() { d.resend(r) })
	if d.e.svc.Tracking == nil {
		resend.Disable()
	}
	actions.Add(resend)
	var suppressed fyne.CanvasObject = layout.NewSpacer()
	if r.Suppressed {
		note := "On the suppression list"
		if r.SuppressedReason != "" {
			note += ": " + r.SuppressedReason
		}
		l := widget.NewLabel(note + ".")
		l.Importance = widget.WarningImportance
		l.Wrapping = fyne.TextWrapWord
		suppressed = l
		actions.Add(widget.NewButtonWithIcon("Remove from suppression", theme.ContentRemoveIcon(), func() { d.unsuppress(r.Address) }))
	}
	actions.Add(widget.NewButtonWithIcon("Copy evidence", theme.ContentCopyIcon(), func() {
		d.e.app.Clipboard().SetContent(evidenceText(d.cur, r))
		d.flash("Evidence copied to the clipboard.")
	}))

	timeline := container.NewVBox()
	for k := len(r.Events) - 1; k >= 0; k-- { // newest first: the latest news is on top
		timeline.Add(d.eventView(r.Events[k]))
	}
	if len(r.Events) == 0 {
		timeline.Add(widget.NewLabel("No events yet."))
	}
	content := container.NewVBox(head, explain, suppressed, actions,
		widget.NewSeparator(), widget.NewLabelWithStyle("Timeline", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		timeline)
	d.pane.Objects = []fyne.CanvasObject{container.NewVScroll(container.NewPadded(content))}
	d.pane.Refresh()
}

func (d *detailScreen) flash(msg string) {
	d.status.SetText(msg)
	d.status.Show()
	d.root.Refresh()
}

// eventView is one event of the timeline with all its evidence.
func (d *detailScreen) eventView(ev tracking.Event) fyne.CanvasObject {
	icon, word := eventLook(ev.Kind)
	title := widget.NewLabelWithStyle(word, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	src := string(ev.Source)
	if src == "" {
		src = "unknown source"
	}
	when := widget.NewLabel(fmtFull(ev.At) + " · from " + src)
	lines := evidenceLines(ev)
	evidence := widget.NewLabelWithStyle(strings.Join(lines, "\n"), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	evidence.Wrapping = fyne.TextWrapWord
	evidence.Selectable = true
	box := container.NewVBox(container.NewHBox(widget.NewIcon(icon), title, when))
	if len(lines) > 0 {
		box.Add(container.NewPadded(evidence))
	}
	if ev.Report != 0 {
		if rep, ok := d.report(ev.Report); ok {
			box.Add(d.reportView(rep))
		}
	}
	return widget.NewCard("", "", box)
}

func (d *detailScreen) report(id int64) (RawReport, bool) {
	for _, r := range d.cur.Reports {
		if r.ID == id {
			return r, true
		}
	}
	return RawReport{}, false
}

// reportView shows a received report as plain text, behind a toggle.
func (d *detailScreen) reportView(rep RawReport) fyne.CanvasObject {
	raw := widget.NewLabelWithStyle(rep.Text, fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	raw.Selectable = true
	scroll := container.NewScroll(raw)
	scroll.SetMinSize(fyne.NewSize(200, 240))
	holder := container.NewStack(scroll)
	holder.Hide()
	var toggle *widget.Button
	toggle = widget.NewButtonWithIcon("Show the "+rep.Kind+" report as received", theme.DocumentIcon(), func() {
		if holder.Visible() {
			holder.Hide()
			toggle.SetText("Show the " + rep.Kind + " report as received")
		} else {
			holder.Show()
			toggle.SetText("Hide the report")
		}
		d.pane.Refresh()
	})
	cp := widget.NewButtonWithIcon("Copy report", theme.ContentCopyIcon(), func() {
		d.e.app.Clipboard().SetContent(rep.Text)
		d.flash("Report copied to the clipboard.")
	})
	return container.NewVBox(container.NewHBox(toggle, cp), holder)
}

func (d *detailScreen) resend(r RecipientDetail) {
	id, addr := d.cur.ID, r.Address
	question := "Queue a new copy of this message to " + addr + "?"
	if r.Suppressed {
		// The same warning compose gives: a resend to a dead address
		// bounces again and counts against the sender's reputation.
		question = suppressedLine(addr, r.SuppressedReason) + ": mail to it will most likely bounce again.\n\nQueue a new copy of this message to it anyway?"
	}
	dialog.ShowConfirm("Resend", question, func(ok bool) {
		if !ok {
			return
		}
		d.e.run(func() func() {
			ctx, cancel := d.e.callCtx()
			defer cancel()
			newID, err := d.e.svc.Tracking.Resend(ctx, id, addr)
			return func() {
				if err != nil {
					d.e.showError("Resend", err)
					return
				}
				d.flash(fmt.Sprintf("Queued a new copy to %s as %s.", addr, newID))
			}
		})
	}, d.e.win)
}

func (d *detailScreen) unsuppress(addr string) {
	id := d.cur.ID
	d.e.run(func() func() {
		ctx, cancel := d.e.callCtx()
		defer cancel()
		err := d.e.svc.Tracking.Unsuppress(ctx, addr)
		return func() {
			if err != nil {
				d.e.showError("Remove from suppression", err)
				return
			}
			d.flash(addr + " was removed from the suppression list.")
			d.load(id)
		}
	})
}

// eventLook is an event's icon and word.
func eventLook(k tracking.EventKind) (fyne.Resource, string) {
	switch k {
	case tracking.EvOpened:
		return theme.VisibilityIcon(), "opened"
	case tracking.EvClicked:
		return theme.NavigateNextIcon(), "clicked"
	case tracking.EvRead:
		return theme.DocumentIcon(), "read (receipt)"
	case tracking.EvReplied:
		return theme.MailReplyIcon(), "replied"
	case tracking.EvHeld:
		return theme.MediaPauseIcon(), "held"
	case tracking.EvReleased:
		return theme.MediaPlayIcon(), "released"
	}
	l := lookOf(tracking.Status(k))
	return l.icon, l.label
}

// dsnFieldNames shows JSON evidence keys as the report's own field names.
var dsnFieldNames = map[string]string{
	"reporting_mta":      "Reporting-MTA",
	"remote_mta":         "Remote-MTA",
	"action":             "Action",
	"status":             "Status",
	"diagnostic":         "Diagnostic-Code",
	"diagnostic_code":    "Diagnostic-Code",
	"will_retry_until":   "Will-Retry-Until",
	"final_recipient":    "Final-Recipient",
	"original_recipient": "Original-Recipient",
	"original_rcpt":      "Original-Recipient",
	"last_attempt":       "Last-Attempt-Date",
	"envelope_id":        "Original-Envelope-Id",
	"report_message_id":  "Report Message-ID",
	"class":              "Class",
	"reason":             "Reason",
	"user_agent":         "User agent",
	"source":             "Source",
	"disposition":        "Disposition",
	"reporting_ua":       "Reporting-UA",
	"server":             "Server",
	"dsn_requested":      "DSN requested",
}

// evidenceLines renders an event's evidence as plain text lines.
func evidenceLines(ev tracking.Event) []string {
	var lines []string
	if ev.Code != 0 || ev.Text != "" || ev.Command != "" {
		var p []string
		switch ev.Command {
		case "":
		case ".":
			p = append(p, "end of DATA →")
		default:
			p = append(p, ev.Command+" →")
		}
		if ev.Code != 0 {
			p = append(p, fmt.Sprint(ev.Code))
		}
		if ev.EnhancedCode != "" {
			p = append(p, ev.EnhancedCode)
		}
		if ev.Text != "" {
			p = append(p, ev.Text)
		}
		lines = append(lines, strings.Join(p, " "))
	}
	if ev.Kind == tracking.EvOpened || ev.Kind == tracking.EvClicked {
		if c := detailString(&ev, "class"); c != "" {
			lines = append(lines, "Classified: "+openClassWords(tracking.OpenClass(c)))
		}
	}
	if ev.Match != "" {
		lines = append(lines, "Matched by: "+matchWords(ev.Match))
	}
	fields := detailFields(&ev)
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := fields[k]
		if v == nil || v == "" {
			continue
		}
		if (ev.Kind == tracking.EvOpened || ev.Kind == tracking.EvClicked) && k == "class" {
			continue
		}
		name, ok := dsnFieldNames[k]
		if !ok {
			// "report_date" reads "Report date", like the names above.
			name = strings.ReplaceAll(k, "_", " ")
			if name != "" {
				name = strings.ToUpper(name[:1]) + name[1:]
			}
		}
		lines = append(lines, fmt.Sprintf("%s: %v", name, evidenceValue(v)))
	}
	return lines
}

// evidenceValue shows a stored time ("2026-11-24T01:47:23.577802756Z") as
// a reader would write it, in local time to the second; anything else as
// stored.
func evidenceValue(v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() {
		return v
	}
	return fmtFull(t)
}

func openClassWords(c tracking.OpenClass) string {
	switch c {
	case tracking.HumanLikely:
		return "likely a person"
	case tracking.MachineOrProxy:
		return "probably a machine or privacy proxy (Apple Mail Privacy Protection, Gmail image proxy, a scanner)"
	}
	return "cannot tell who opened it"
}

func matchWords(m string) string {
	switch m {
	case "envid":
		return "envelope id (ENVID): certain"
	case "orcpt":
		return "original recipient (ORCPT): certain"
	case "tracking-id":
		return "Mailroom's tracking header in the returned message: certain"
	case "message-id":
		return "Message-ID in the returned message: strong"
	case "address":
		return "recipient address near the report's date: probable"
	}
	return m
}

// evidenceText is the recipient's record as plain text for the clipboard.
func evidenceText(md MessageDetail, r RecipientDetail) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Message: %s\nMessage-ID: %s\nRecipient: %s\nStatus: %s\n\n%s\n\n",
		md.Subject, md.MessageID, r.Address, r.Status, Explain(r))
	for _, ev := range r.Events {
		_, word := eventLook(ev.Kind)
		fmt.Fprintf(&b, "%s  %s (%s)\n", ev.At.UTC().Format("2006-01-02T15:04:05Z"), word, ev.Source)
		for _, l := range evidenceLines(ev) {
			fmt.Fprintf(&b, "    %s\n", l)
		}
	}
	return b.String()
}
