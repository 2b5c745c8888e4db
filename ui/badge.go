package ui

import (
	"fmt"
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"mailroom/tracking"
)

// statusLook is how a status is drawn: a colour for those who see it, and
// an icon and a word for those who do not (never colour alone).
type statusLook struct {
	color color.NRGBA
	icon  fyne.Resource
	label string
}

// Translucent fills keep the theme's text colour readable in both light
// and dark variants.
var (
	grey   = color.NRGBA{R: 0x80, G: 0x80, B: 0x80, A: 0x50}
	blue   = color.NRGBA{R: 0x21, G: 0x96, B: 0xf3, A: 0x60}
	teal   = color.NRGBA{R: 0x00, G: 0x96, B: 0x88, A: 0x60}
	green  = color.NRGBA{R: 0x4c, G: 0xaf, B: 0x50, A: 0x70}
	amber  = color.NRGBA{R: 0xff, G: 0xa0, B: 0x00, A: 0x70}
	red    = color.NRGBA{R: 0xf4, G: 0x43, B: 0x36, A: 0x70}
	purple = color.NRGBA{R: 0x9c, G: 0x27, B: 0xb0, A: 0x60}
)

func lookOf(s tracking.Status) statusLook {
	switch s {
	case tracking.Queued:
		return statusLook{grey, theme.MoreHorizontalIcon(), "queued"}
	case tracking.Sending:
		return statusLook{blue, theme.MailSendIcon(), "sending"}
	case tracking.Deferred:
		return statusLook{amber, theme.MediaReplayIcon(), "deferred"}
	case tracking.Uncertain:
		return statusLook{amber, theme.QuestionIcon(), "uncertain"}
	case tracking.Rejected:
		return statusLook{red, theme.CancelIcon(), "rejected"}
	case tracking.Accepted:
		return statusLook{teal, theme.ConfirmIcon(), "accepted"}
	case tracking.Relayed:
		return statusLook{teal, theme.MailForwardIcon(), "relayed"}
	case tracking.Delayed:
		return statusLook{amber, theme.HistoryIcon(), "delayed"}
	case tracking.Delivered:
		return statusLook{green, theme.CheckButtonCheckedIcon(), "delivered"}
	case tracking.Bounced:
		return statusLook{red, theme.ErrorIcon(), "bounced"}
	case tracking.Expired:
		return statusLook{red, theme.MediaStopIcon(), "expired"}
	case tracking.Canceled:
		return statusLook{grey, theme.ContentRemoveIcon(), "canceled"}
	}
	return statusLook{grey, theme.QuestionIcon(), string(s)}
}

// badge is a rounded, coloured chip with an icon and a word. It is a
// plain struct over canvas objects so list rows can reuse it.
type badge struct {
	bg    *canvas.Rectangle
	icon  *widget.Icon
	label *widget.Label
	box   *fyne.Container
}

func newBadge() *badge {
	b := &badge{
		bg:    canvas.NewRectangle(grey),
		icon:  widget.NewIcon(nil),
		label: widget.NewLabel(""),
	}
	b.bg.CornerRadius = theme.InputRadiusSize() * 2
	b.label.SizeName = theme.SizeNameCaptionText
	inner := container.NewHBox(b.icon, b.label)
	// Fyne pads generously; the chip is tighter than a button.
	b.box = container.NewStack(b.bg, container.New(&tightLayout{}, inner))
	return b
}

// setStatus shows one status; n > 1 prefixes a count ("3 bounced").
func (b *badge) setStatus(s tracking.Status, n int) {
	l := lookOf(s)
	if b.bg.FillColor != color.Color(l.color) {
		b.bg.FillColor = l.color
		b.bg.Refresh()
	}
	if b.icon.Resource != l.icon {
		b.icon.SetResource(l.icon)
	}
	if n > 1 {
		setText(b.label, fmt.Sprintf("%d %s", n, l.label))
	} else {
		setText(b.label, l.label)
	}
	b.box.Show()
}

// setPlain shows an engagement chip (opens, read, replied).
func (b *badge) setPlain(c color.NRGBA, icon fyne.Resource, text string) {
	b.bg.FillColor = c
	b.bg.Refresh()
	b.icon.SetResource(icon)
	b.label.SetText(text)
	b.box.Show()
}

func statusBadge(s tracking.Status, n int) fyne.CanvasObject {
	b := newBadge()
	b.setStatus(s, n)
	return b.box
}

// tightLayout lays its single child out with a small inset, so badges are
// compact chips rather than button-sized boxes.
type tightLayout struct{}

func (tightLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	if len(objs) == 0 {
		return fyne.Size{}
	}
	m := objs[0].MinSize()
	return fyne.NewSize(m.Width+4, m.Height-6)
}

func (tightLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		m := o.MinSize()
		o.Resize(fyne.NewSize(size.Width-4, m.Height))
		o.Move(fyne.NewPos(2, (size.Height-m.Height)/2))
	}
}

// engagementText says what the recipient did, in words, or "".
func engagementText(e tracking.Engagement) string {
	s := ""
	if e.OpensTotal > 0 {
		s = plural(e.OpensTotal, "open", "opens")
		if e.OpensHuman > 0 || e.OpensMachine > 0 {
			s += fmt.Sprintf(" (%d human-likely, %d machine or proxy)", e.OpensHuman, e.OpensMachine)
		}
	}
	add := func(w string) {
		if s != "" {
			s += ", "
		}
		s += w
	}
	if e.Clicks > 0 {
		add(plural(e.Clicks, "click", "clicks"))
	}
	if e.Read {
		add("read receipt")
	}
	if e.Replied {
		add("replied")
	}
	return s
}

var engagementColor = purple

// countChip is a status and its recipient count, tappable to filter the
// list by that status. It draws its text directly rather than through a
// Label, whose padding would make nine chips too wide for one row; the
// text is body-sized so the numbers read easily.
type countChip struct {
	widget.BaseWidget
	status tracking.Status
	text   string
	onTap  func()
}

func newCountChip(s tracking.Status, n int, onTap func()) *countChip {
	c := &countChip{status: s, text: fmt.Sprintf("%s %d", lookOf(s).label, n), onTap: onTap}
	c.ExtendBaseWidget(c)
	return c
}

func (c *countChip) Tapped(*fyne.PointEvent) {
	if c.onTap != nil {
		c.onTap()
	}
}

// Cursor shows a hand: the chip filters the list.
func (c *countChip) Cursor() desktop.Cursor { return desktop.PointerCursor }

func (c *countChip) CreateRenderer() fyne.WidgetRenderer {
	l := lookOf(c.status)
	bg := canvas.NewRectangle(l.color)
	bg.CornerRadius = theme.InputRadiusSize() * 2
	icon := widget.NewIcon(l.icon)
	text := canvas.NewText(c.text, theme.Color(theme.ColorNameForeground))
	return &countChipRenderer{c: c, bg: bg, icon: icon, text: text}
}

type countChipRenderer struct {
	c    *countChip
	bg   *canvas.Rectangle
	icon *widget.Icon
	text *canvas.Text
}

func (r *countChipRenderer) iconSize() float32 { return theme.IconInlineSize() * 0.8 }

func (r *countChipRenderer) MinSize() fyne.Size {
	p := theme.Padding()
	t := r.text.MinSize()
	return fyne.NewSize(2*p+r.iconSize()+p+t.Width+2*p, t.Height+2*p)
}

func (r *countChipRenderer) Layout(size fyne.Size) {
	p := theme.Padding()
	r.bg.Resize(size)
	is := r.iconSize()
	r.icon.Resize(fyne.NewSquareSize(is))
	r.icon.Move(fyne.NewPos(2*p, (size.Height-is)/2))
	t := r.text.MinSize()
	r.text.Resize(t)
	r.text.Move(fyne.NewPos(2*p+is+p, (size.Height-t.Height)/2))
}

func (r *countChipRenderer) Refresh() {
	r.bg.FillColor = lookOf(r.c.status).color
	r.text.Text = r.c.text
	r.text.Color = theme.Color(theme.ColorNameForeground) // follows a theme switch
	r.bg.Refresh()
	r.text.Refresh()
	r.icon.Refresh()
}

func (r *countChipRenderer) Objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{r.bg, r.icon, r.text}
}

func (r *countChipRenderer) Destroy() {}
