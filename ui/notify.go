package ui

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"

	"mailroom/assets"
)

// Notifier sends desktop notifications for delivery events (a bounce,
// an expiry, a first human open), throttled: at most one notification per
// gap; what arrives in between is coalesced into one summary, so a bulk
// send that bounces a hundred times does not flood the desktop. The app
// calls Notify from any goroutine, after checking the notify.* settings.
type Notifier struct {
	send func(*fyne.Notification)
	gap  time.Duration

	mu      sync.Mutex
	last    time.Time
	pending []*fyne.Notification
	timer   *time.Timer
	now     func() time.Time
}

// NewNotifier sends through a's notifications, at most one per gap
// (10 seconds when gap is 0).
func NewNotifier(a fyne.App, gap time.Duration) *Notifier {
	if gap <= 0 {
		gap = 10 * time.Second
	}
	// Notify is called from the app's goroutines and Flush from a timer:
	// the notification itself goes out on the UI goroutine, like every
	// other Fyne call (the app runs with fyneDo migrated).
	send := func(n *fyne.Notification) { fyne.Do(func() { a.SendNotification(n) }) }
	return &Notifier{send: send, gap: gap, now: time.Now}
}

// Notify shows title/body now, or later merged with others if a
// notification was shown less than the gap ago.
func (n *Notifier) Notify(title, body string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	note := fyne.NewNotification(title, body)
	now := n.now()
	if len(n.pending) == 0 && now.Sub(n.last) >= n.gap {
		n.last = now
		n.send(note)
		return
	}
	n.pending = append(n.pending, note)
	if n.timer == nil {
		wait := n.gap - now.Sub(n.last)
		if wait < 0 {
			wait = 0
		}
		n.timer = time.AfterFunc(wait, n.Flush)
	}
}

// Flush sends what is pending now, as one notification.
func (n *Notifier) Flush() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.timer != nil {
		n.timer.Stop()
		n.timer = nil
	}
	if len(n.pending) == 0 {
		return
	}
	note := coalesce(n.pending)
	n.pending = nil
	n.last = n.now()
	n.send(note)
}

// coalesce merges notifications: one is itself; several become a count
// with the first few titles.
func coalesce(ns []*fyne.Notification) *fyne.Notification {
	if len(ns) == 1 {
		return ns[0]
	}
	var lines []string
	for i, x := range ns {
		if i == 3 {
			lines = append(lines, fmt.Sprintf("and %d more", len(ns)-3))
			break
		}
		lines = append(lines, x.Title+": "+x.Content)
	}
	return fyne.NewNotification(fmt.Sprintf("Mailroom: %d delivery updates", len(ns)), strings.Join(lines, "\n"))
}

// tray is the system tray menu, where the driver has one.
type tray struct {
	d     desktop.App
	menu  *fyne.Menu
	count *fyne.MenuItem
}

// setupTray installs the tray menu when the app supports it: the outbox
// count, "Open Mailroom" and "New message" (Quit is added by Fyne).
func setupTray(e *env, m *MainWindow) *tray {
	d, ok := e.app.(desktop.App)
	if !ok || !trayUsable(os.Getenv, runtime.GOOS) {
		return nil
	}
	t := &tray{d: d}
	t.count = fyne.NewMenuItem("Outbox: empty", func() {
		m.Show()
		m.RequestFocus()
		m.ShowScreen(ScreenOutbox)
	})
	open := fyne.NewMenuItem("Open Mailroom", func() {
		m.Show()
		m.RequestFocus()
	})
	newMsg := fyne.NewMenuItem("New message", func() {
		m.Show()
		m.RequestFocus()
		m.NewMessage()
	})
	t.menu = fyne.NewMenu("Mailroom", open, newMsg, fyne.NewMenuItemSeparator(), t.count)
	d.SetSystemTrayIcon(fyne.NewStaticResource("mailroom.png", assets.IconPNG))
	d.SetSystemTrayMenu(t.menu)
	d.SetSystemTrayWindow(m.Window)
	if e.svc.Outbox != nil {
		refresh := func() {
			e.run(func() func() {
				ctx, cancel := e.callCtx()
				defer cancel()
				list, err := e.svc.Outbox.List(ctx)
				return func() {
					if err == nil {
						t.setOutboxCount(len(list))
					}
				}
			})
		}
		e.watch(e.svc.Outbox.Changes, refresh)
		refresh()
	}
	return t
}

// trayUsable guards against a Fyne crash: on Linux and the BSDs the tray
// talks D-Bus, and without a session bus Fyne's systray fails to connect
// and then panics on Quit (fyne-io/fyne#6403). MAILROOM_NO_TRAY=1 turns
// the tray off for desktops whose tray host misbehaves.
func trayUsable(getenv func(string) string, goos string) bool {
	if getenv("MAILROOM_NO_TRAY") != "" {
		return false
	}
	switch goos {
	case "windows", "darwin":
		return true
	}
	return getenv("DBUS_SESSION_BUS_ADDRESS") != ""
}

func (t *tray) setOutboxCount(n int) {
	if t == nil {
		return
	}
	label := "Outbox: empty"
	if n > 0 {
		label = "Outbox: " + plural(n, "message", "messages") + " waiting"
	}
	if t.count.Label == label {
		return
	}
	t.count.Label = label
	t.menu.Refresh()
	t.d.SetSystemTrayMenu(t.menu)
}
