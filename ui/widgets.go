package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// iconLabel is a reusable icon + text row for lists, updated through its
// own method instead of casts into a container's children.
type iconLabel struct {
	widget.BaseWidget
	icon  *widget.Icon
	label *widget.Label
}

func newIconLabel() *iconLabel {
	il := &iconLabel{icon: widget.NewIcon(nil), label: widget.NewLabel("")}
	il.ExtendBaseWidget(il)
	return il
}

func (il *iconLabel) set(icon fyne.Resource, text string) {
	il.icon.SetResource(icon)
	il.label.SetText(text)
}

func (il *iconLabel) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewHBox(il.icon, il.label))
}

// setText changes a label only when its text differs: SetText always
// re-shapes the text, which dominates the cost of redrawing list rows.
func setText(l *widget.Label, s string) {
	if l.Text != s {
		l.SetText(s)
	}
}
