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

	"mailroom/mail"
	"mailroom/tracking"
)

// outboxInline is how many recipients a card lists before "show all".
const outboxInline = 5

// outboxScreen shows every unfinished message with per-recipient state,
// and lets the user retry, cancel, pause or resume. It follows the
// service's Changes live.
type outboxScreen struct {
	e    *env
	m    *MainWindow
	root *fyne.Container
	msgs []OutboxMessage
	// shown is true while the screen is visible; hidden screens skip
	// rebuilding their cards on every change.
	shown bool
}

func newOutboxScreen(e *env, m *MainWindow) *outboxScreen {
	o := &outboxScreen{e: e, m: m, root: container.NewStack()}
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
		o.root.Objects = []fyne.CanvasObject{emptyState(theme.UploadIcon(), "Nothing in the outbox",
			"Messages waiting to be sent or retried appear here.", nil)}
		o.root.Refresh()
		return
	}
	cards := container.NewVBox()
	for _, msg := range list {
		cards.Add(o.card(msg))
	}
	title := widget.NewLabelWithStyle(fmt.Sprintf("Outbox — %s waiting", plural(len(list), "message", "messages")),
		fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	o.root.Objects = []fyne.CanvasObject{container.NewBorder(
		container.NewVBox(title, o.accountBar(list)), nil, nil, nil, container.NewVScroll(cards))}
	o.root.Refresh()
}

// accountBar offers pause/resume per account that has mail waiting.
func (o *outboxScreen) accountBar(list []OutboxMessage) fyne.CanvasObject {
	paused := map[string]bool{}
	for _, m := range list {
		paused[m.Account] = paused[m.Account] || m.AccountPaused
	}
	names := make([]string, 0, len(paused))
	for n := range paused {
		names = append(names, n)
	}
	sort.Strings(names)
	bar := container.NewHBox()
	for _, n := range names {
		bar.Add(o.pauseButton(n, paused[n]))
	}
	return bar
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
	head.Truncation = fyne.TextTruncateEllipsis
	meta := widget.NewLabel(fmt.Sprintf("from %s · queued %s", msg.Account, fmtTime(msg.Created, now)))

	progress := widget.NewProgressBar()
	if msg.Total > 0 {
		progress.SetValue(float64(msg.Accepted) / float64(msg.Total))
	}
	progress.TextFormatter = func() string {
		return fmt.Sprintf("%d of %d accepted", msg.Accepted, msg.Total)
	}

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
	actions := container.NewHBox(retry, cancelBtn, o.pauseButton(msg.Account, msg.AccountPaused), layout.NewSpacer(), details)

	return widget.NewCard("", "", container.NewVBox(
		container.NewBorder(nil, nil, nil, meta, head), progress, next, recips, actions))
}

// whenText says when the message moves next, in words.
func (o *outboxScreen) whenText(msg OutboxMessage, now time.Time) string {
	switch {
	case msg.AccountPaused:
		return "Paused: the account " + msg.Account + " is paused; nothing is sent until you resume it."
	case !msg.At.IsZero() && msg.At.After(now):
		return "Scheduled to send " + at(msg.At) + "."
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
	line := container.NewHBox(statusBadge(r.Status, 1), addr, widget.NewLabel(strings.Join(info, " · ")))
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
	d.Resize(fyne.NewSize(760, 520))
	d.Show()
}

// recipientLine is a badge, an address and a note, reused by lists.
type recipientLine struct {
	widget.BaseWidget
	b     *badge
	addr  *widget.Label
	extra *widget.Label
	outer *fyne.Container
}

func newRecipientLine() *recipientLine {
	r := &recipientLine{b: newBadge(), addr: widget.NewLabel(""), extra: widget.NewLabel("")}
	r.extra.Truncation = fyne.TextTruncateEllipsis
	r.outer = container.NewBorder(nil, nil, container.NewHBox(r.b.box, r.addr), nil, r.extra)
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
