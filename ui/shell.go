package ui

import (
	"context"
	"fmt"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Screen names accepted by MainWindow.ShowScreen (and used by the
// screenshot script).
const (
	ScreenCompose  = "compose"
	ScreenOutbox   = "outbox"
	ScreenSent     = "sent"
	ScreenOverview = "overview"
	ScreenDrafts   = "drafts"
	ScreenAccounts = "accounts"
	ScreenSettings = "settings"
)

// screen is one page of the main window.
type screen interface {
	view() fyne.CanvasObject
	// activate runs (on the UI goroutine) each time the screen is shown;
	// screens reload their data here, off the UI goroutine.
	activate()
}

type navItem struct {
	name  string
	title string
	icon  fyne.Resource
	s     func() screen // builds the screen on first use
}

// MainWindow is Mailroom's main window: a navigation list on the left and
// the selected screen on the right. It embeds the fyne.Window, so
// ShowAndRun and friends work directly.
type MainWindow struct {
	fyne.Window
	env    *env
	cancel context.CancelFunc

	nav     *widget.List
	items   []navItem
	content *fyne.Container
	current string
	closing bool

	// built holds the screens built so far. Only the screen shown first
	// is built before the window shows; the others are built on first
	// use, through the accessors below (on the UI goroutine), which
	// keeps them out of the first frame.
	built struct {
		compose  *composeScreen
		outbox   *outboxScreen
		sent     *trackingScreen
		detail   *detailScreen
		overview *funnelScreen
		drafts   *draftsScreen
		accounts *accountsScreen
		settings *settingsScreen
	}
	tray *tray
}

// The screens, each built on first use.

func (m *MainWindow) compose() *composeScreen {
	return lazyScreen(&m.built.compose, m, newComposeScreen)
}

func (m *MainWindow) outbox() *outboxScreen { return lazyScreen(&m.built.outbox, m, newOutboxScreen) }

func (m *MainWindow) sent() *trackingScreen { return lazyScreen(&m.built.sent, m, newTrackingScreen) }

func (m *MainWindow) detail() *detailScreen { return lazyScreen(&m.built.detail, m, newDetailScreen) }

func (m *MainWindow) overview() *funnelScreen {
	return lazyScreen(&m.built.overview, m, newFunnelScreen)
}

func (m *MainWindow) drafts() *draftsScreen { return lazyScreen(&m.built.drafts, m, newDraftsScreen) }

func (m *MainWindow) accounts() *accountsScreen {
	return lazyScreen(&m.built.accounts, m, newAccountsScreen)
}

func (m *MainWindow) settings() *settingsScreen {
	return lazyScreen(&m.built.settings, m, newSettingsScreen)
}

// NewMainWindow builds the main window over the services. It does not
// show it. Closing it saves the draft being written first.
func NewMainWindow(a fyne.App, s Services) *MainWindow {
	return newMainWindow(a, s, options{})
}

// options are the test seams of the window.
type options struct {
	sync     bool             // run service calls synchronously (tests)
	now      func() time.Time // clock for "today" formatting
	debounce time.Duration    // draft/search debounce; 0 in tests
	// run replaces the runner of service calls (tests that let results
	// arrive late, or on other goroutines).
	run func(work func() (apply func()))
}

func newMainWindow(a fyne.App, s Services, o options) *MainWindow {
	ctx, cancel := context.WithCancel(context.Background())
	w := a.NewWindow("Mailroom")
	e := &env{app: a, win: w, svc: s, ctx: ctx, now: time.Now, run: goRunner,
		debounce: time.Second, live: true}
	if o.sync {
		e.run = syncRunner
		e.debounce = 0
		e.live = false
	}
	if o.run != nil {
		e.run = o.run
	}
	if o.now != nil {
		e.now = o.now
	}
	if o.debounce > 0 {
		e.debounce = o.debounce
	}
	m := &MainWindow{Window: w, env: e, cancel: cancel}

	// The Sent / Tracking screen is built first: the window opens on it,
	// and its subscription to tracking changes also refreshes the
	// message detail and the overview.
	m.sent()
	m.items = []navItem{
		{ScreenCompose, "Compose", theme.MailComposeIcon(), func() screen { return m.compose() }},
		{ScreenOutbox, "Outbox", theme.UploadIcon(), func() screen { return m.outbox() }},
		{ScreenSent, "Sent / Tracking", theme.MailSendIcon(), func() screen { return m.sent() }},
		{ScreenOverview, "Overview", theme.GridIcon(), func() screen { return m.overview() }},
		{ScreenDrafts, "Drafts", theme.DocumentIcon(), func() screen { return m.drafts() }},
		{ScreenAccounts, "Accounts", theme.AccountIcon(), func() screen { return m.accounts() }},
		{ScreenSettings, "Settings", theme.SettingsIcon(), func() screen { return m.settings() }},
	}

	m.nav = widget.NewList(
		func() int { return len(m.items) },
		func() fyne.CanvasObject { return newIconLabel() },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			o.(*iconLabel).set(m.items[id].icon, m.items[id].title)
		})
	m.nav.OnSelected = func(id widget.ListItemID) { m.show(m.items[id].name) }

	m.content = container.NewStack()
	// The list's own minimum is an icon wide; keep every title readable
	// whatever the screen beside it asks for.
	split := container.NewHSplit(withMinWidth(m.navWidth(), m.nav), m.content)
	split.SetOffset(0.17)
	w.SetContent(split)
	w.Resize(fyne.NewSize(1100, 720))
	w.SetMainMenu(m.mainMenu())
	m.addShortcuts()
	w.SetMaster()
	w.SetCloseIntercept(m.Close)
	w.SetOnClosed(cancel)
	m.tray = setupTray(e, m)
	m.ShowScreen(ScreenSent)
	return m
}

// Close saves the draft being written, then closes the window (and,
// as the master window, the app). The window's close button comes here.
func (m *MainWindow) Close() {
	if m.closing {
		return
	}
	m.closing = true
	if m.built.compose == nil {
		m.Window.Close() // Compose was never opened: no draft to save
		return
	}
	m.compose().flush(func() { m.Window.Close() })
}

// ShowSenderBusy tells the user that another process sends from this data
// directory (a second window, or `mailroom run`): this window shows the
// same mail and queues what is written in it, and the other process sends
// it. Without the notice a second window would not send while the other
// process runs (its runner tries again every 30 s), and say nothing.
func (m *MainWindow) ShowSenderBusy(pid int) {
	who := "Another Mailroom process"
	if pid > 0 {
		who = fmt.Sprintf("Another Mailroom process (pid %d)", pid)
	}
	dialog.ShowInformation("Mailroom is already sending",
		who+" sends from this data directory: a window opened before, or `mailroom run`.\n\n"+
			"This window shows the same mail and queues what you write here; that process sends it. "+
			"Close one of them to keep a single window.", m.Window)
}

// ShowScreen selects a screen by name (see the Screen* constants).
func (m *MainWindow) ShowScreen(name string) error {
	if a := m.built.accounts; a != nil && a.dlg != nil && a.dlg.d != nil {
		a.dlg.d.Hide() // a script moved on; a person cannot, the dialog is modal
		a.dlg = nil
	}
	for i, it := range m.items {
		if it.name == name {
			if m.current == name {
				m.show(name) // re-selecting still reloads
			}
			m.nav.Select(i)
			return nil
		}
	}
	return fmt.Errorf("no screen %q", name)
}

// CurrentScreen is the name of the screen shown ("detail" for a message).
func (m *MainWindow) CurrentScreen() string { return m.current }

func (m *MainWindow) show(name string) {
	for _, it := range m.items {
		if it.name == name {
			m.current = name
			s := it.s()
			m.content.Objects = []fyne.CanvasObject{s.view()}
			m.content.Refresh()
			s.activate()
			return
		}
	}
}

// OpenMessage shows one sent message's detail and per-recipient timeline.
func (m *MainWindow) OpenMessage(id string) {
	m.current = "detail"
	m.nav.UnselectAll()
	m.content.Objects = []fyne.CanvasObject{m.detail().view()}
	m.content.Refresh()
	m.detail().load(id)
}

// OpenMessageRecipient shows a message with one recipient's timeline
// selected.
func (m *MainWindow) OpenMessageRecipient(id, address string) {
	m.detail().wantRecipient = address
	m.OpenMessage(id)
}

// ShowSent shows the tracking list filtered by q.
func (m *MainWindow) ShowSent(q Query) {
	m.sent().setQuery(q)
	m.ShowScreen(ScreenSent)
}

// navWidth is the width the navigation needs for its longest title.
func (m *MainWindow) navWidth() float32 {
	w := float32(0)
	for _, it := range m.items {
		il := newIconLabel()
		il.set(it.icon, it.title)
		w = fyne.Max(w, il.MinSize().Width)
	}
	return w + 4*theme.Padding()
}

// ShowAccountDialog opens the add (name "") or edit dialog of an account.
// The account is read from the service first (off the UI goroutine), so
// the edit dialog opens filled in even before the Accounts screen has
// loaded its list.
func (m *MainWindow) ShowAccountDialog(name string) {
	m.ShowScreen(ScreenAccounts)
	if name == "" {
		m.accounts().openDialog(nil)
		return
	}
	m.accounts().openByName(name)
}

// OpenDraft loads a saved draft into Compose.
func (m *MainWindow) OpenDraft(id string) { m.drafts().open(id) }

// NewMessage shows an empty compose form (saving the current draft).
func (m *MainWindow) NewMessage() {
	m.compose().flush(func() {
		m.compose().reset()
		m.ShowScreen(ScreenCompose)
	})
}

func (m *MainWindow) mainMenu() *fyne.MainMenu {
	newMsg := fyne.NewMenuItem("New message", m.NewMessage)
	newMsg.Shortcut = shortcutNew
	newMsg.Icon = theme.MailComposeIcon()
	send := fyne.NewMenuItem("Send", func() {
		if m.current == ScreenCompose {
			m.compose().send()
		}
	})
	send.Shortcut = shortcutSend
	exportCSV := fyne.NewMenuItem("Export as CSV…", func() { m.sent().export("csv", m.sent().query()) })
	exportJSON := fyne.NewMenuItem("Export as JSON…", func() { m.sent().export("json", m.sent().query()) })
	quit := fyne.NewMenuItem("Quit", m.Close)
	quit.IsQuit = true
	file := fyne.NewMenu("File", newMsg, send, fyne.NewMenuItemSeparator(), exportCSV, exportJSON,
		fyne.NewMenuItemSeparator(), quit)

	var views []*fyne.MenuItem
	for i, it := range m.items {
		it := it
		mi := fyne.NewMenuItem(it.title, func() { m.ShowScreen(it.name) })
		mi.Icon = it.icon
		if i < 9 {
			mi.Shortcut = &desktop.CustomShortcut{KeyName: fyne.KeyName(fmt.Sprint(i + 1)), Modifier: fyne.KeyModifierShortcutDefault}
		}
		views = append(views, mi)
	}
	view := fyne.NewMenu("View", views...)
	help := fyne.NewMenu("Help", fyne.NewMenuItem("About Mailroom", m.showAbout))
	return fyne.NewMainMenu(file, view, help)
}

var (
	shortcutNew  = &desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault}
	shortcutSend = &desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault}
)

// addShortcuts registers the keyboard shortcuts on the canvas too: the
// main menu handles them on desktop drivers, the canvas when no menu bar
// exists (and in tests).
func (m *MainWindow) addShortcuts() {
	c := m.Canvas()
	c.AddShortcut(shortcutNew, func(fyne.Shortcut) { m.NewMessage() })
	c.AddShortcut(shortcutSend, func(fyne.Shortcut) {
		if m.current == ScreenCompose {
			m.compose().send()
		}
	})
	enter := &desktop.CustomShortcut{KeyName: fyne.KeyEnter, Modifier: fyne.KeyModifierShortcutDefault}
	c.AddShortcut(enter, func(fyne.Shortcut) {
		if m.current == ScreenCompose {
			m.compose().send()
		}
	})
}

func (m *MainWindow) showAbout() {
	meta := m.env.app.Metadata()
	v := meta.Version
	if v == "" {
		v = "development build"
	}
	msg := fmt.Sprintf("Mailroom %s\n\nAn email client that shows what happened to every message:\n"+
		"accepted by the server, delivered to the mailbox, bounced, opened, read, replied,\n"+
		"each backed by the evidence that proves it.", v)
	dialog.ShowInformation("About Mailroom", msg, m.Window)
}

// lazyScreen returns the screen in slot, building it on first use (on the UI
// goroutine), so only the screen shown first costs start-up time.
func lazyScreen[T any](slot **T, m *MainWindow, build func(*env, *MainWindow) *T) *T {
	if *slot == nil {
		*slot = build(m.env, m)
	}
	return *slot
}
