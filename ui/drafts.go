package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// draftsScreen lists saved drafts; tapping one reopens it in Compose.
type draftsScreen struct {
	e      *env
	m      *MainWindow
	root   *fyne.Container
	list   *widget.List
	drafts []Draft
	empty  fyne.CanvasObject
}

func newDraftsScreen(e *env, m *MainWindow) *draftsScreen {
	d := &draftsScreen{e: e, m: m}
	d.list = widget.NewList(
		func() int { return len(d.drafts) },
		func() fyne.CanvasObject { return newDraftRow(d) },
		func(id widget.ListItemID, o fyne.CanvasObject) { o.(*draftRow).set(d.drafts[id]) })
	d.list.OnSelected = func(id widget.ListItemID) {
		d.list.UnselectAll()
		d.open(d.drafts[id].ID)
	}
	newBtn := widget.NewButtonWithIcon("New message", theme.MailComposeIcon(), m.NewMessage)
	d.empty = emptyState(theme.DocumentIcon(), "No drafts", "Messages you start are saved here as you type.", newBtn)
	d.root = container.NewStack(d.empty)
	return d
}

func (d *draftsScreen) view() fyne.CanvasObject { return d.root }

func (d *draftsScreen) activate() { d.reload() }

func (d *draftsScreen) reload() {
	if d.e.svc.Drafts == nil {
		return
	}
	d.e.run(func() func() {
		ctx, cancel := d.e.callCtx()
		defer cancel()
		list, err := d.e.svc.Drafts.List(ctx)
		return func() {
			if err != nil {
				d.e.showError("List drafts", err)
				return
			}
			d.drafts = list
			if len(list) == 0 {
				d.root.Objects = []fyne.CanvasObject{d.empty}
			} else {
				title := widget.NewLabelWithStyle("Drafts", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
				d.root.Objects = []fyne.CanvasObject{container.NewBorder(title, nil, nil, nil, d.list)}
			}
			d.root.Refresh()
			d.list.Refresh()
		}
	})
}

// open loads a draft into Compose (after saving the one being written).
func (d *draftsScreen) open(id string) {
	d.m.compose().flush(func() {
		d.e.run(func() func() {
			ctx, cancel := d.e.callCtx()
			defer cancel()
			dr, err := d.e.svc.Drafts.Load(ctx, id)
			return func() {
				if err != nil {
					d.e.showError("Open draft", err)
					return
				}
				d.m.compose().load(dr)
				d.m.ShowScreen(ScreenCompose)
			}
		})
	})
}

func (d *draftsScreen) remove(dr Draft) {
	dialog.ShowConfirm("Delete draft", "Delete the draft “"+draftTitle(dr)+"”?", func(ok bool) {
		if !ok {
			return
		}
		d.e.run(func() func() {
			ctx, cancel := d.e.callCtx()
			defer cancel()
			err := d.e.svc.Drafts.Delete(ctx, dr.ID)
			return func() {
				if err != nil {
					d.e.showError("Delete draft", err)
				}
				d.reload()
			}
		})
	}, d.e.win)
}

func draftTitle(dr Draft) string {
	if dr.Input.Subject != "" {
		return oneLine(dr.Input.Subject)
	}
	return "(no subject)"
}

// draftRow is one line of the drafts list.
type draftRow struct {
	widget.BaseWidget
	d       *draftsScreen
	title   *widget.Label
	to      *widget.Label
	when    *widget.Label
	del     *widget.Button
	current Draft
}

func newDraftRow(d *draftsScreen) *draftRow {
	r := &draftRow{d: d, title: widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		to: widget.NewLabel(""), when: widget.NewLabel("")}
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.to.Truncation = fyne.TextTruncateEllipsis
	r.del = widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { d.remove(r.current) })
	r.ExtendBaseWidget(r)
	return r
}

func (r *draftRow) set(dr Draft) {
	r.current = dr
	r.title.SetText(draftTitle(dr))
	to := oneLine(dr.Input.To)
	if to == "" {
		to = "no recipients yet"
	}
	r.to.SetText("To: " + to)
	r.when.SetText("saved " + fmtTime(dr.Updated, r.d.e.now()))
}

func (r *draftRow) CreateRenderer() fyne.WidgetRenderer {
	return widget.NewSimpleRenderer(container.NewBorder(nil, nil, widget.NewIcon(theme.DocumentIcon()),
		container.NewHBox(r.when, r.del), container.NewVBox(r.title, r.to)))
}
