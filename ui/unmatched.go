package ui

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// unmatchedRow sits under the overview's funnel: how many received reports
// matched none of the sent messages, and a button that lists them. Such a
// report is usually a bounce of mail sent by another program; Mailroom
// keeps it rather than drop it, and this is where the desktop user sees it
// (`mailroom reports` is the command line's view).
type unmatchedRow struct {
	e    *env
	root *fyne.Container
	text *widget.Label
	show *widget.Button
	list []UnmatchedReport
}

func newUnmatchedRow(e *env) *unmatchedRow {
	u := &unmatchedRow{e: e, text: widget.NewLabel("")}
	u.text.Wrapping = fyne.TextWrapWord
	u.show = widget.NewButtonWithIcon("Show them", theme.DocumentIcon(), u.showDialog)
	u.root = container.NewBorder(nil, nil, nil, u.show, u.text)
	u.root.Hide()
	return u
}

// reload asks for the list off the UI goroutine.
func (u *unmatchedRow) reload() {
	u.e.run(func() func() {
		ctx, cancel := u.e.callCtx()
		defer cancel()
		list, err := u.e.svc.Tracking.Unmatched(ctx)
		return func() {
			if err != nil {
				u.text.SetText("Could not list the reports that matched no message: " + err.Error())
				u.show.Hide() // there is nothing to show
				u.root.Show()
				return
			}
			u.set(list)
		}
	})
}

func (u *unmatchedRow) set(list []UnmatchedReport) {
	u.list = list
	if len(list) == 0 {
		u.root.Hide()
		return
	}
	u.show.Show()
	u.text.SetText(fmt.Sprintf("%s matched none of your messages (often a bounce of mail sent from another program). "+
		"Mailroom keeps them so that nothing is lost.", plural(len(list), "received report", "received reports")))
	u.root.Show()
}

// showDialog lists the reports; choosing one shows it as received, as
// plain text only (a returned message may carry a tracking pixel).
func (u *unmatchedRow) showDialog() {
	list := u.list
	now := u.e.now()
	raw := widget.NewLabelWithStyle("Choose a report to read it as received.", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	raw.Wrapping = fyne.TextWrapWord
	raw.Selectable = true
	reports := widget.NewList(
		func() int { return len(list) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.ListItemID, o fyne.CanvasObject) {
			r := list[id]
			line := fmt.Sprintf("%s · %s · %s/%s", fmtTime(r.Received, now), r.Kind, r.Account, r.Mailbox)
			for _, s := range []string{r.Summary, r.Note} {
				if s != "" {
					line += " · " + s
				}
			}
			setText(o.(*widget.Label), line)
		})
	selected := 0 // the latest selection: a slower earlier answer is dropped
	reports.OnSelected = func(id widget.ListItemID) {
		rid := list[id].ID
		selected++
		seq := selected
		raw.SetText("Loading…")
		u.e.run(func() func() {
			ctx, cancel := u.e.callCtx()
			defer cancel()
			text, err := u.e.svc.Tracking.ReportText(ctx, rid)
			return func() {
				if seq != selected {
					return
				}
				if err != nil {
					text = "Could not read the report: " + err.Error()
				}
				raw.SetText(text)
			}
		})
	}
	split := container.NewVSplit(reports, container.NewVScroll(raw))
	split.Offset = 0.35
	d := dialog.NewCustom(plural(len(list), "report that matched no message", "reports that matched no message"), "Close", split, u.e.win)
	d.Resize(dialogSize(u.e.win, fyne.NewSize(900, 600)))
	d.Show()
}
