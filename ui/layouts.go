package ui

import (
	"math"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Layouts that keep every screen within a small window (900x600): rows
// that wrap instead of pushing the window wider, and lines that truncate.
// A screen whose minimum width grows past the window squeezes the
// navigation of the main window's split to a sliver.

// minWidthLayout gives its children at least a width, e.g. the
// navigation list, whose own minimum is only an icon wide.
type minWidthLayout struct{ width float32 }

func withMinWidth(width float32, o fyne.CanvasObject) *fyne.Container {
	return container.New(minWidthLayout{width}, o)
}

func (l minWidthLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	s := fyne.NewSize(l.width, 0)
	for _, o := range objs {
		s = s.Max(o.MinSize())
	}
	return s
}

func (l minWidthLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objs {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// flowLayout places its children at their minimum size left to right and
// starts a new row where the next one does not fit, like words in a
// paragraph: one row on a wide window, two or three on a narrow one.
// Its minimum width is its widest child; its minimum height is that of
// the rows at the width it was last given (the canvas lays the parent out
// again when it changes).
type flowLayout struct {
	width float32 // last width laid out at; 0 before the first layout
}

func newFlow(objs ...fyne.CanvasObject) *fyne.Container {
	return container.New(&flowLayout{}, objs...)
}

// rows splits the visible objects into rows that fit width.
func (f *flowLayout) rows(objs []fyne.CanvasObject, width float32) [][]fyne.CanvasObject {
	gap := theme.Padding()
	var rows [][]fyne.CanvasObject
	var row []fyne.CanvasObject
	x := float32(0)
	for _, o := range objs {
		if !o.Visible() {
			continue
		}
		w := o.MinSize().Width
		if len(row) > 0 && width > 0 && x+gap+w > width {
			rows = append(rows, row)
			row, x = nil, 0
		}
		if len(row) > 0 {
			x += gap
		}
		row = append(row, o)
		x += w
	}
	if len(row) > 0 {
		rows = append(rows, row)
	}
	return rows
}

func rowHeight(row []fyne.CanvasObject) float32 {
	h := float32(0)
	for _, o := range row {
		h = fyne.Max(h, o.MinSize().Height)
	}
	return h
}

func (f *flowLayout) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var s fyne.Size
	for _, o := range objs {
		if o.Visible() {
			s.Width = fyne.Max(s.Width, o.MinSize().Width)
		}
	}
	rows := f.rows(objs, f.width)
	for i, row := range rows {
		if i > 0 {
			s.Height += theme.Padding()
		}
		s.Height += rowHeight(row)
	}
	return s
}

func (f *flowLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	f.width = size.Width
	gap := theme.Padding()
	y := float32(0)
	for _, row := range f.rows(objs, size.Width) {
		h := rowHeight(row)
		x := float32(0)
		for _, o := range row {
			m := o.MinSize()
			w := fyne.Min(m.Width, size.Width-x)
			o.Move(fyne.NewPos(x, y+(h-m.Height)/2))
			o.Resize(fyne.NewSize(w, m.Height))
			x += w + gap
		}
		y += h + gap
	}
}

// textWidth is the width a label needs to show s in full.
func textWidth(s string, style fyne.TextStyle, size fyne.ThemeSizeName) float32 {
	if s == "" {
		return 0
	}
	if size == "" {
		size = theme.SizeNameText
	}
	// A label given exactly its text's width still shortens it (rounding):
	// one more pixel keeps it whole.
	w := fyne.MeasureText(s, theme.Size(size), style).Width + 2*theme.InnerPadding()
	return float32(math.Ceil(float64(w))) + 1
}

// truncLine is a one-line row of chips and one or two truncating
// labels: lead chips on the left, then the main label at the width of
// its text if there is room (shortened with "…" if not), then the rest
// label filling what remains, then the wanted trailing chips on the
// right. Trailing chips that do not fit are hidden and the overflow chip,
// when there is one, says how many ("+2").
type truncLine struct {
	lead     []fyne.CanvasObject
	main     *widget.Label
	rest     *widget.Label // may be nil
	trail    []fyne.CanvasObject
	want     []fyne.CanvasObject // the trailing chips to show, in order
	overflow *badge              // may be nil
	// minMain is the width the main label keeps before trailing chips
	// are dropped.
	minMain float32
}

func (l *truncLine) objects() []fyne.CanvasObject {
	objs := append([]fyne.CanvasObject{}, l.lead...)
	objs = append(objs, l.main)
	if l.rest != nil {
		objs = append(objs, l.rest)
	}
	objs = append(objs, l.trail...)
	if l.overflow != nil {
		objs = append(objs, l.overflow.box)
	}
	return objs
}

func (l *truncLine) MinSize([]fyne.CanvasObject) fyne.Size {
	gap := theme.Padding()
	w := l.minMain
	h := l.main.MinSize().Height
	for _, o := range l.lead {
		if o.Visible() {
			w += o.MinSize().Width + gap
			h = fyne.Max(h, o.MinSize().Height)
		}
	}
	for _, o := range l.want {
		h = fyne.Max(h, o.MinSize().Height)
	}
	return fyne.NewSize(w, h)
}

func (l *truncLine) Layout(_ []fyne.CanvasObject, size fyne.Size) {
	gap := theme.Padding()
	place := func(o fyne.CanvasObject, x, w float32) {
		h := fyne.Min(o.MinSize().Height, size.Height)
		o.Move(fyne.NewPos(x, (size.Height-h)/2))
		o.Resize(fyne.NewSize(w, h))
	}
	x := float32(0)
	for _, o := range l.lead {
		if o.Visible() {
			w := o.MinSize().Width
			place(o, x, w)
			x += w + gap
		}
	}
	left := size.Width - x
	keep := fyne.Min(l.minMain, textWidth(l.main.Text, l.main.TextStyle, l.main.SizeName))

	// Take trailing chips in order while the main label keeps its share;
	// unless every chip fits, keep room for the "+N" chip.
	chipW := func(o fyne.CanvasObject) float32 { return o.MinSize().Width + gap }
	ovW := float32(0)
	if l.overflow != nil {
		setText(l.overflow.label, "+"+itoa(len(l.want)))
		ovW = chipW(l.overflow.box)
	}
	total := float32(0)
	for _, o := range l.want {
		total += chipW(o)
	}
	n := len(l.want)
	if total > left-keep {
		used := ovW
		n = 0
		for _, o := range l.want {
			if used+chipW(o) > left-keep {
				break
			}
			used += chipW(o)
			n++
		}
	}
	shown := l.want[:n]
	for _, o := range l.trail {
		if contains2(shown, o) {
			o.Show()
		} else {
			o.Hide()
		}
	}
	right := size.Width
	if l.overflow != nil {
		if hidden := len(l.want) - n; hidden > 0 {
			setText(l.overflow.label, "+"+itoa(hidden))
			l.overflow.box.Show()
			w := l.overflow.box.MinSize().Width
			right -= w
			place(l.overflow.box, right, w)
			right -= gap
		} else {
			l.overflow.box.Hide()
		}
	}
	for i := n - 1; i >= 0; i-- {
		w := shown[i].MinSize().Width
		right -= w
		place(shown[i], right, w)
		right -= gap
	}
	room := fyne.Max(right-x, 0)
	if l.rest == nil {
		place(l.main, x, room)
		return
	}
	mw := fyne.Min(textWidth(l.main.Text, l.main.TextStyle, l.main.SizeName), room)
	place(l.main, x, mw)
	// A note with no room for a word would show only "…": leave it out.
	if restW := room - mw; restW >= fyne.Min(textWidth(l.rest.Text, l.rest.TextStyle, l.rest.SizeName), 20*theme.Padding()) {
		l.rest.Show()
		place(l.rest, x+mw, restW)
	} else {
		l.rest.Hide()
	}
}

func contains2(objs []fyne.CanvasObject, o fyne.CanvasObject) bool {
	for _, x := range objs {
		if x == o {
			return true
		}
	}
	return false
}

func itoa(n int) string { return strconv.Itoa(n) }

// dialogSize is want, made smaller to leave a margin around the dialog
// in a small window (Fyne clamps a dialog to the window edges otherwise,
// title bar included).
func dialogSize(win fyne.Window, want fyne.Size) fyne.Size {
	if win == nil || win.Canvas() == nil {
		return want
	}
	c := win.Canvas().Size()
	if c.Width <= 0 || c.Height <= 0 {
		return want
	}
	margin := 6 * theme.Padding()
	return fyne.NewSize(fyne.Min(want.Width, c.Width-2*margin), fyne.Min(want.Height, c.Height-2*margin))
}
