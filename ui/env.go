package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// env is what every screen shares: the app, its window, the services, a
// context that ends with the window, and the way work leaves and comes
// back to the UI goroutine.
type env struct {
	app fyne.App
	win fyne.Window
	svc Services
	ctx context.Context
	now func() time.Time

	// run executes work off the UI goroutine and then applies the function
	// it returns on the UI goroutine (inside fyne.Do). Tests replace it
	// with a synchronous runner so they stay deterministic and race-free.
	run func(work func() (apply func()))
	// debounce is how long typing must pause before a draft is saved.
	debounce time.Duration
	// live says whether screens subscribe to the services' Changes; tests
	// drive refreshes by hand instead.
	live bool
}

// goRunner is the production runner: a goroutine per piece of work, the
// result applied with fyne.Do.
func goRunner(work func() (apply func())) {
	go func() {
		if apply := work(); apply != nil {
			fyne.Do(apply)
		}
	}()
}

// syncRunner runs work and applies its result at once, on the caller's
// goroutine (tests only: it would block the UI in production).
func syncRunner(work func() (apply func())) {
	if apply := work(); apply != nil {
		apply()
	}
}

// callCtx bounds one service call: the UI never waits forever.
func (e *env) callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(e.ctx, 30*time.Second)
}

// watch subscribes to a Changes channel and calls refresh on the UI
// goroutine after each change, coalescing bursts.
func (e *env) watch(subscribe func(context.Context) <-chan struct{}, refresh func()) {
	if !e.live || subscribe == nil {
		return
	}
	ch := subscribe(e.ctx)
	if ch == nil {
		return
	}
	go func() {
		for {
			select {
			case <-e.ctx.Done():
				return
			case _, ok := <-ch:
				if !ok {
					return
				}
				// A short pause lets a burst of changes (a bulk send)
				// collapse into one refresh.
				select {
				case <-time.After(250 * time.Millisecond):
				case <-e.ctx.Done():
					return
				}
				fyne.Do(refresh)
			}
		}
	}()
}

// showError reports a failed action in a dialog (UI goroutine only).
func (e *env) showError(action string, err error) {
	if err == nil || e.win == nil {
		return
	}
	dialog.ShowError(fmt.Errorf("%s: %w", action, err), e.win)
}

// fmtTime shows a time compactly: the clock for today, day and month for
// this year, the full date otherwise; "—" for none.
func fmtTime(t, now time.Time) string {
	if t.IsZero() {
		return "—"
	}
	t = t.Local()
	now = now.Local()
	switch {
	case t.Year() == now.Year() && t.YearDay() == now.YearDay():
		return t.Format("15:04")
	case t.Year() == now.Year():
		return t.Format("2 Jan 15:04")
	}
	return t.Format("2 Jan 2006 15:04")
}

// fmtFull is an unambiguous timestamp for evidence.
func fmtFull(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.Local().Format("Mon 2 Jan 2006 15:04:05 MST")
}

// fmtSize shows a byte count in units a person reads.
func fmtSize(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d B", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KB", float64(n)/1024)
	case n < 1024*1024*1024:
		return fmt.Sprintf("%.1f MB", float64(n)/(1024*1024))
	}
	return fmt.Sprintf("%.2f GB", float64(n)/(1024*1024*1024))
}

// plural picks the singular or plural noun for n.
func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// oneLine flattens text for a single-line label.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// debouncer runs fn once activity has paused for d. With d == 0 it runs
// fn at once (tests), which keeps behaviour identical minus the wait.
type debouncer struct {
	d     time.Duration
	timer *time.Timer
}

// trigger (UI goroutine) restarts the wait; fn then runs on the UI
// goroutine.
func (b *debouncer) trigger(fn func()) {
	if b.d <= 0 {
		fn()
		return
	}
	if b.timer != nil {
		b.timer.Stop()
	}
	b.timer = time.AfterFunc(b.d, func() { fyne.Do(fn) })
}

// stop cancels a pending run; it reports whether one was pending.
func (b *debouncer) stop() bool {
	return b.timer != nil && b.timer.Stop()
}

// emptyState is the friendly screen shown when there is nothing to show:
// an icon, a sentence, a hint and optionally one action.
func emptyState(icon fyne.Resource, title, hint string, action *widget.Button) fyne.CanvasObject {
	t := widget.NewLabelWithStyle(title, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	h := widget.NewLabelWithStyle(hint, fyne.TextAlignCenter, fyne.TextStyle{})
	ic := widget.NewIcon(icon)
	box := container.NewVBox(container.NewCenter(container.NewGridWrap(fyne.NewSize(64, 64), ic)), t, h)
	if action != nil {
		box.Add(container.NewCenter(action))
	}
	return container.NewCenter(box)
}

// errorLabel is the inline message under a field; hidden when empty.
func newErrorLabel() *widget.Label {
	l := widget.NewLabel("")
	l.Importance = widget.DangerImportance
	l.Wrapping = fyne.TextWrapWord
	l.Hide()
	return l
}

func setErrorLabel(l *widget.Label, msg string) {
	if msg == "" {
		l.SetText("")
		l.Hide()
		return
	}
	l.SetText(msg)
	l.Show()
}
