package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"mailroom/mail"
	"mailroom/tracking"
)

// outboxInline is how many recipients a card lists before "show all".
const outboxInline = 5

// outboxScreen shows every unfinished message with per-recipient state,
// and lets the user retry, cancel, pause or resume. It follows the
// service's Changes live. Messages are a virtualized list (a bulk send
// leaves hundreds waiting); the selected one's card, with its recipients
// and the servers' replies, is beside it.
type outboxScreen struct {
	e     *env
	m     *MainWindow
	root  *fyne.Container
	msgs  []OutboxMessage
	list  *widget.List
	pane  *fyne.Container
	title *widget.Label
	bar   *fyne.Container
	body  fyne.CanvasObject
	empty fyne.CanvasObject
	// selected is the id of the message whose card is shown.
	selected string
	badgeW   float32 // the rows' badge column (badgeWidth)
	scroll   *container.Scroll
}

func newOutboxScreen(e *env, m *MainWindow) *outboxScreen {
	o := &outboxScreen{e: e, m: m, root: container.NewStack(), pane: container.NewStack()}
	o.list = widget.NewList(
		func() int { return len(o.msgs) },
		func() fyne.CanvasObject { return newOutboxRow(o) },
		func(id widget.ListItemID, obj fyne.CanvasObject) {
			if id < len(o.msgs) {
				obj.(*outboxRow).set(o.msgs[id])
			}
		})
	o.list.OnSelected = func(id widget.ListItemID) { o.showMessage(id) }
	o.title = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	o.bar = newFlow()
	split := container.NewHSplit(o.list, o.pane)
	split.SetOffset(0.38)
	o.body = container.NewBorder(container.NewBorder(nil, nil, o.title, nil, o.bar), nil, nil, nil, split)
	o.empty = emptyState(theme.UploadIcon(), "Nothing in the outbox",
		"Messages waiting to be sent or retried appear here.", nil)
	if e.svc.Outbox != nil {
		e.watch(e.svc.Outbox.Changes, func() {
			if m.current == ScreenOutbox {
				o.reload()
			}
		})
	}
	return o
}

func (o *outboxScreen) view() fyne.CanvasObject { return o.root }

func (o *outboxScreen) activate() { o.reload() }

func (o *outboxScreen) reload() {
	if o.e.svc.Outbox == nil {
		o.setMessages(nil)
		return
	}
	o.e.run(func() func() {
		ctx, cancel := o.e.callCtx()
		defer cancel()
		list, err := o.e.svc.Outbox.List(ctx)
		return func() {
			if err != nil {
				o.root.Objects = []fyne.CanvasObject{widget.NewLabel("Could not read the outbox: " + err.Error())}
				o.root.Refresh()
				return
			}
			o.setMessages(list)
		}
	})
}

func (o *outboxScreen) setMessages(list []OutboxMessage) {
	o.msgs = list
	if o.m.tray != nil {
		o.m.tray.setOutboxCount(len(list))
	}
	if len(list) == 0 {
		o.selected = ""
		o.root.Objects = []fyne.CanvasObject{o.empty}
		o.root.Refresh()
		return
	}
	o.title.SetText(fmt.Sprintf("Outbox — %s waiting", plural(len(list), "message", "messages")))
	o.setAccountBar(list)
	if len(o.root.Objects) != 1 || o.root.Objects[0] != o.body {
		o.root.Objects = []fyne.CanvasObject{o.body}
		o.root.Refresh()
	}
	o.list.Refresh()
	// Keep the message the user was reading; the first one otherwise.
	idx := 0
	for i, msg := range list {
		if msg.ID == o.selected {
			idx = i
		}
	}
	o.list.Select(idx)
	o.showMessage(idx) // Select does not call back when already selected
}

// setAccountBar offers pause/resume per account that has mail waiting.
func (o *outboxScreen) setAccountBar(list []OutboxMessage) {
	paused := map[string]bool{}
	for _, m := range list {
		paused[m.Account] = paused[m.Account] || m.AccountPaused
	}
	names := make([]string, 0, len(paused))
	for n := range paused {
		names = append(names, n)
	}
	sort.Strings(names)
	o.bar.RemoveAll()
	for _, n := range names {
		o.bar.Add(o.pauseButton(n, paused[n]))
	}
	o.bar.Refresh()
}

// showMessage puts message i's card beside the list. The same message
// shown again (a live refresh) keeps its scroll position.
func (o *outboxScreen) showMessage(i int) {
	if i < 0 || i >= len(o.msgs) {
		return
	}
	msg := o.msgs[i]
	var offset fyne.Position
	if msg.ID == o.selected && o.scroll != nil {
		offset = o.scroll.Offset
	}
	o.selected = msg.ID
	o.scroll = container.NewVScroll(o.card(msg))
	o.scroll.Offset = offset
	o.pane.Objects = []fyne.CanvasObject{o.scroll}
	o.pane.Refresh()
}

func (o *outboxScreen) pauseButton(account string, paused bool) *widget.Button {
	if paused {
		return widget.NewButtonWithIcon("Resume "+account, theme.MediaPlayIcon(), func() {
			o.act("Resume account", func() error {
				ctx, cancel := o.e.callCtx()
				defer cancel()
				return o.e.svc.Outbox.Resume(ctx, account)
			})
		})
	}
	return widget.NewButtonWithIcon("Pause "+account, theme.MediaPauseIcon(), func() {
		o.act("Pause account", func() error {
			ctx, cancel := o.e.callCtx()
			defer cancel()
			return o.e.svc.Outbox.Pause(ctx, account)
		})
	})
}

// act runs an outbox action off the UI goroutine and reloads.
func (o *outboxScreen) act(what string, f func() error) {
	o.e.run(func() func() {
		err := f()
		return func() {
			if err != nil {
				o.e.showError(what, err)
			}
			o.reload()
		}
	})
}

func (o *outboxScreen) card(msg OutboxMessage) fyne.CanvasObject {
	now := o.e.now()
	subject := msg.Subject
	if subject == "" {
		subject = "(no subject)"
	}
	head := widget.NewLabelWithStyle(oneLine(subject), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.Wrapping = fyne.TextWrapWord
	meta := widget.NewLabel(fmt.Sprintf("from %s · queued %s", msg.Account, fmtTime(msg.Created, now)))
	meta.Truncation = fyne.TextTruncateEllipsis

	progress := widget.NewProgressBar()
	if msg.Total > 0 {
		progress.SetValue(float64(msg.Accepted+msg.NotSent) / float64(msg.Total)) // done either way
	}
	progress.TextFormatter = func() string { return progressText(msg) }

	next := widget.NewLabel(o.whenText(msg, now))
	next.Wrapping = fyne.TextWrapWord

	recips := container.NewVBox()
	for i, r := range unfinishedFirst(msg.Recipients) {
		if i == outboxInline {
			all := msg
			recips.Add(widget.NewButton(fmt.Sprintf("Show all %d recipients", len(msg.Recipients)), func() { o.showAll(all) }))
			break
		}
		recips.Add(o.recipientRow(r, now))
	}

	id := msg.ID
	retry := widget.NewButtonWithIcon("Retry now", theme.MediaReplayIcon(), func() {
		o.act("Retry", func() error {
			ctx, cancel := o.e.callCtx()
			defer cancel()
			return o.e.svc.Outbox.RetryNow(ctx, id)
		})
	})
	cancelBtn := widget.NewButtonWithIcon("Cancel", theme.CancelIcon(), func() {
		dialog.ShowConfirm("Cancel message",
			"Cancel “"+oneLine(subject)+"” for every recipient not yet accepted? Accepted recipients cannot be recalled.",
			func(ok bool) {
				if ok {
					o.act("Cancel", func() error {
						ctx, cancel := o.e.callCtx()
						defer cancel()
						return o.e.svc.Outbox.Cancel(ctx, id)
					})
				}
			}, o.e.win)
	})
	details := widget.NewButtonWithIcon("Details", theme.InfoIcon(), func() { o.m.OpenMessage(id) })
	actions := newFlow(retry, cancelBtn, o.pauseButton(msg.Account, msg.AccountPaused), details)

	return container.NewPadded(container.NewVBox(head, meta, progress, next, actions, widget.NewSeparator(), recips))
}

// outboxRow is one message of the outbox list: its most pressing
// recipient status, the subject, progress and when it moves next.
type outboxRow struct {
	widget.BaseWidget
	o       *outboxScreen
	b       *badge
	subject *widget.Label
	meta    *widget.Label
	outer   fyne.CanvasObject
}

func newOutboxRow(o *outboxScreen) *outboxRow {
	r := &outboxRow{o: o, b: newBadge(),
		subject: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		meta:    widget.NewLabel("")}
	r.subject.Truncation = fyne.TextTruncateEllipsis
	r.meta.Truncation = fyne.TextTruncateEllipsis
	// The badge column has one width for every row, so that the subjects
	// start at the same x whatever each row's badge says.
	r.outer = container.NewBorder(nil, nil, o.badgeColumn(container.NewCenter(r.b.box)), nil, container.NewVBox(r.subject, r.meta))
	r.ExtendBaseWidget(r)
	return r
}

// badgeColumn holds a badge at its own size in a column as wide as the
// widest usual badge, so that what follows it lines up row after row.
func (o *outboxScreen) badgeColumn(badge fyne.CanvasObject) fyne.CanvasObject {
	return withMinWidth(o.badgeWidth(), container.NewHBox(badge))
}

// badgeWidth is the width of the widest badge a row usually shows: a
// pressing status with a one-digit count ("3 uncertain"), or any other
// status alone (a longer count widens its own row only). Measured once
// per screen.
func (o *outboxScreen) badgeWidth() float32 {
	if o.badgeW == 0 {
		b := newBadge()
		for _, s := range tracking.AllStatuses {
			n := 1
			if s == tracking.Uncertain || s == tracking.Deferred || s == tracking.Sending || s == tracking.Queued {
				n = 8
			}
			b.setStatus(s, n)
			o.badgeW = max(o.badgeW, b.box.MinSize().Width)
		}
	}
	return o.badgeW
}

func (r *outboxRow) set(msg OutboxMessage) {
	s := oneLine(msg.Subject)
	if s == "" {
		s = "(no subject)"
	}
	setText(r.subject, s)
	now := r.o.e.now()
	when := "next try soon" // short: the row truncates what does not fit
	switch {
	case msg.AccountPaused:
		when = "paused"
	case !msg.At.IsZero() && msg.At.After(now):
		when = "scheduled " + fmtTime(msg.At, now)
	case !msg.NextProbe.IsZero():
		when = "server not answering"
	case msg.NextAttempt.After(now):
		when = "next try " + fmtTime(msg.NextAttempt, now)
	}
	setText(r.meta, fmt.Sprintf("%d/%d accepted%s · %s · %s", msg.Accepted, msg.Total, notSentText(msg), msg.Account, when))
	st, n := pressingStatus(msg.Recipients)
	r.b.setStatus(st, n)
}

func (r *outboxRow) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(r.outer)
}

// progressText is the card's progress: "2 of 4 accepted, 1 not sent". A
// rejected recipient is done but was never accepted; counting it as
// accepted would tell the user a refused address got through.
func progressText(msg OutboxMessage) string {
	return fmt.Sprintf("%d of %d accepted%s", msg.Accepted, msg.Total, notSentText(msg))
}

// notSentText is ", N not sent" after an accepted count, or nothing.
func notSentText(msg OutboxMessage) string {
	if msg.NotSent == 0 {
		return ""
	}
	return fmt.Sprintf(", %d not sent", msg.NotSent)
}

// pressingStatus is the status a message waits on, with how many
// recipients have it: an uncertain send or a deferral says more than a
// queue position.
func pressingStatus(rs []OutboxRecipient) (tracking.Status, int) {
	for _, s := range []tracking.Status{tracking.Uncertain, tracking.Deferred, tracking.Sending, tracking.Queued} {
		if n := countOutbox(rs, s); n > 0 {
			return s, n
		}
	}
	if len(rs) > 0 {
		return rs[0].Status, 1
	}
	return tracking.Queued, 0
}

func countOutbox(rs []OutboxRecipient, s tracking.Status) int {
	n := 0
	for _, r := range rs {
		if r.Status == s {
			n++
		}
	}
	return n
}

// whenText says when the message moves next, in words.
func (o *outboxScreen) whenText(msg OutboxMessage, now time.Time) string {
	switch {
	case msg.AccountPaused:
		return "Paused: the account " + msg.Account + " is paused; nothing is sent until you resume it."
	case !msg.At.IsZero() && msg.At.After(now):
		return "Scheduled to send " + at(msg.At) + "."
	case !msg.NextProbe.IsZero():
		// The breaker decides, not the recipients' retry times: "now"
		// would be wrong while the server is down.
		next := "the next one now"
		if msg.NextProbe.After(now) {
			next = fmt.Sprintf("the next at %s (in %s)", fmtTime(msg.NextProbe, now), roughDuration(msg.NextProbe.Sub(now)))
		}
		return fmt.Sprintf("The server has not answered since %s. Mailroom tries one connection at a time until it does: %s.",
			fmtTime(msg.UnreachableSince, now), next)
	case msg.NextAttempt.IsZero():
		return "Waiting for the next attempt."
	case !msg.NextAttempt.After(now):
		return "Next attempt: now."
	}
	return fmt.Sprintf("Next attempt %s (in %s).", at(msg.NextAttempt), roughDuration(msg.NextAttempt.Sub(now)))
}

func (o *outboxScreen) recipientRow(r OutboxRecipient, now time.Time) fyne.CanvasObject {
	addr := widget.NewLabel(r.Address)
	info := []string{}
	if r.Attempts > 0 {
		info = append(info, plural(r.Attempts, "attempt", "attempts"))
	}
	if !r.NextAttempt.IsZero() && r.NextAttempt.After(now) {
		info = append(info, "next "+fmtTime(r.NextAttempt, now))
	}
	line := newFlow(o.badgeColumn(statusBadge(r.Status, 1)), addr, widget.NewLabel(strings.Join(info, " · ")))
	if r.LastReply == nil {
		return line
	}
	plain := widget.NewLabel(replyPlain(*r.LastReply))
	plain.Wrapping = fyne.TextWrapWord
	raw := widget.NewLabelWithStyle(rawReply(*r.LastReply), fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	raw.Wrapping = fyne.TextWrapWord
	raw.Selectable = true
	return container.NewVBox(line, container.NewPadded(container.NewVBox(plain, raw)))
}

func (o *outboxScreen) showAll(msg OutboxMessage) {
	now := o.e.now()
	list := widget.NewList(
		func() int { return len(msg.Recipients) },
		func() fyne.CanvasObject { return newRecipientLine() },
		func(id widget.ListItemID, obj fyne.CanvasObject) {
			r := msg.Recipients[id]
			extra := ""
			if r.LastReply != nil {
				extra = replyPlain(*r.LastReply) + " — " + rawReply(*r.LastReply)
			} else if !r.NextAttempt.IsZero() {
				extra = "next " + fmtTime(r.NextAttempt, now)
			}
			obj.(*recipientLine).set(r.Status, r.Address, extra)
		})
	d := dialog.NewCustom(fmt.Sprintf("%s — %d recipients", oneLine(msg.Subject), len(msg.Recipients)), "Close", list, o.e.win)
	d.Resize(dialogSize(o.e.win, fyne.NewSize(760, 520)))
	d.Show()
}

// recipientLine is a badge, an address and a note, reused by lists. The
// address keeps its full width while there is room, then both shorten
// with "…": a long address never widens the list.
type recipientLine struct {
	widget.BaseWidget
	b     *badge
	addr  *widget.Label
	extra *widget.Label
	outer *fyne.Container
}

func newRecipientLine() *recipientLine {
	r := &recipientLine{b: newBadge(), addr: widget.NewLabel(""), extra: widget.NewLabel("")}
	r.addr.Truncation = fyne.TextTruncateEllipsis
	r.extra.Truncation = fyne.TextTruncateEllipsis
	line := &truncLine{lead: []fyne.CanvasObject{r.b.box}, main: r.addr, rest: r.extra, minMain: 60}
	r.outer = container.New(line, line.objects()...)
	r.ExtendBaseWidget(r)
	return r
}

func (r *recipientLine) set(s tracking.Status, addr, extra string) {
	r.b.setStatus(s, 1)
	setText(r.addr, addr)
	setText(r.extra, extra)
	r.outer.Refresh() // the badge and address widths changed
}

func (r *recipientLine) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(r.outer)
}

// unfinishedFirst orders recipients so those still waiting come first:
// in a bulk send they are the ones worth looking at.
func unfinishedFirst(rs []OutboxRecipient) []OutboxRecipient {
	out := make([]OutboxRecipient, 0, len(rs))
	for _, r := range rs {
		if !doneInOutbox(r.Status) {
			out = append(out, r)
		}
	}
	for _, r := range rs {
		if doneInOutbox(r.Status) {
			out = append(out, r)
		}
	}
	return out
}

func doneInOutbox(s tracking.Status) bool {
	switch s {
	case tracking.Queued, tracking.Sending, tracking.Deferred, tracking.Uncertain:
		return false
	}
	return true
}

// rawReply is the reply as the server sent it, naming the end of DATA
// (the "." line) in words.
func rawReply(r mail.Reply) string {
	if r.Command == "." {
		r.Command = "end of DATA"
	}
	return r.String()
}

// replyPlain says what an SMTP reply means, in words a person reads.
// The raw reply is always shown beside it.
func replyPlain(r mail.Reply) string {
	enh := r.Enhanced
	switch {
	case r.Code == 0:
		return "No answer from the server (" + r.Command + "): the connection failed or broke. Mailroom will try again."
	case r.Code == 535 || enh == "5.7.8":
		return "The server refused the user name or password. The account is paused until you fix it."
	case enh == "4.2.2" || enh == "5.2.2":
		return "The recipient's mailbox is full."
	case enh == "5.1.1" || enh == "5.1.0":
		return "The address does not exist."
	case enh == "5.1.2" || enh == "5.1.10":
		return "The recipient's domain does not accept mail."
	case strings.HasPrefix(enh, "4.7."):
		return "The server asked to wait (greylisting or a rate limit). Mailroom will try again."
	case strings.HasPrefix(enh, "5.7."):
		return "Refused by policy (authentication, sender reputation or content)."
	case enh == "4.5.3" || r.Code == 452:
		return "Too many recipients or not enough room right now; the rest go in another attempt."
	case enh == "5.3.4" || r.Code == 552:
		return "The message is too large for the server."
	case r.Code == 421:
		return "The server is busy or shutting down and closed the connection. Mailroom will try again."
	case r.Code >= 200 && r.Code < 300:
		return "Accepted."
	case r.Temporary():
		return "A temporary failure: the server asked to try again later."
	case r.Permanent():
		return "A permanent failure: the server refused and will not take it on a retry."
	}
	return "The server answered."
}

// roughDuration is "3 min", "2 h", "4 days".
func roughDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "less than a minute"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute", "minutes")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour", "hours")
	}
	return plural(int(d/(24*time.Hour)), "day", "days")
}
