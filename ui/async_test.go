package ui

import (
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
)

// asyncRunner runs service calls on their own goroutines, as the app
// does, and applies their results one at a time under a lock that stands
// for the UI goroutine (the test driver's fyne.Do runs in place, so it
// cannot serialize them itself). Under -race this finds work that reads
// widgets off the UI goroutine.
type asyncRunner struct {
	wg sync.WaitGroup
	ui sync.Mutex
}

func (r *asyncRunner) run(work func() func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if apply := work(); apply != nil {
			r.ui.Lock()
			defer r.ui.Unlock()
			apply()
		}
	}()
}

// do runs f as the UI goroutine, then waits for the work it started.
func (r *asyncRunner) do(f func()) {
	r.ui.Lock()
	f()
	r.ui.Unlock()
	r.wg.Wait()
}

func TestScreensWithServiceCallsOnGoroutines(t *testing.T) {
	f := crowdedFakes()
	r := &asyncRunner{}
	var m *MainWindow
	r.do(func() {
		m = newMainWindow(test.NewTempApp(t), f.services(), options{sync: true, run: r.run, now: func() time.Time { return testNow }})
		m.Show()
	})
	// Each step starts its work twice, so one call's work runs while the
	// other's result is being applied, as it does on a busy window.
	twice := func(f func()) { r.do(func() { f(); f() }) }
	for _, it := range m.items {
		twice(func() { m.ShowScreen(it.name) })
	}
	twice(func() { m.ShowScreen(ScreenSent) })
	twice(func() { m.sent().search.SetText(m.sent().search.Text + "1") })
	r.do(func() { m.sent().list.ScrollTo(5) })
	twice(func() { m.OpenMessage("msg1") })
	twice(func() { m.ShowScreen(ScreenOverview) })
	r.do(func() { m.OpenMessage("msg1") })
	r.do(func() { m.ShowAccountDialog("work") })
	r.do(func() {
		if m.accounts().dlg == nil || m.accounts().dlg.editing != "work" {
			t.Error("no edit dialog for work")
			return
		}
		m.accounts().dlg.save()
	})
	twice(func() { m.ShowScreen(ScreenOutbox) })
	twice(func() { test.Tap(findButton(content(m), "Retry now")) })
	twice(func() { m.ShowScreen(ScreenSettings) })
	r.do(func() { m.settings().fields["outbox.lifetime"].entry.SetText("4d") })
	twice(func() { m.settings().save() })
	r.do(func() { m.NewMessage() })
	r.do(func() {
		test.Type(m.compose().to, "bob@example.com")
		test.Type(m.compose().subject, "Hello")
	})
	r.do(func() { m.compose().send() })
	r.do(func() {
		if len(f.compose.sent) != 1 {
			t.Errorf("sent %d", len(f.compose.sent))
		}
	})
}
