package ui

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
)

func TestShellNavigatesToEveryScreen(t *testing.T) {
	f := newFakes()
	m := newTestWindow(t, f)
	if m.CurrentScreen() != ScreenSent {
		t.Fatalf("starts on %q, want %q", m.CurrentScreen(), ScreenSent)
	}
	want := map[string]string{
		ScreenCompose:  "Subject",
		ScreenOutbox:   "Nothing in the outbox",
		ScreenSent:     "No sent messages yet",
		ScreenOverview: "Delivery overview",
		ScreenDrafts:   "No drafts",
		ScreenAccounts: "work",
		ScreenSettings: "Open tracking",
	}
	for _, it := range m.items {
		if err := m.ShowScreen(it.name); err != nil {
			t.Fatal(err)
		}
		if m.CurrentScreen() != it.name {
			t.Errorf("ShowScreen(%q): current %q", it.name, m.CurrentScreen())
		}
		requireText(t, content(m), want[it.name])
	}
	if err := m.ShowScreen("nope"); err == nil {
		t.Error("unknown screen accepted")
	}
}

func TestShellNavListSelects(t *testing.T) {
	m := newTestWindow(t, newFakes())
	for i, it := range m.items {
		m.nav.Select(i)
		if m.CurrentScreen() != it.name {
			t.Errorf("nav %d: current %q, want %q", i, m.CurrentScreen(), it.name)
		}
	}
}

func TestEmptyStatesWithoutAccount(t *testing.T) {
	f := newFakes()
	f.accounts.accounts = nil
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenCompose)
	requireText(t, content(m), "Add an account to start")
	b := findButton(content(m), "Add an account")
	if b == nil {
		t.Fatal("no button to Accounts")
	}
	test.Tap(b)
	if m.CurrentScreen() != ScreenAccounts {
		t.Errorf("button led to %q", m.CurrentScreen())
	}
	if d := m.accounts().dlg; d == nil || d.editing != "" {
		t.Errorf("the add dialog is not open (%+v)", d)
	}
	requireText(t, content(m), "Add an account to start", "Add account")
}

func TestShortcutsNewAndSend(t *testing.T) {
	f := newFakes()
	m := newTestWindow(t, f)
	sc, ok := m.Canvas().(fyne.Shortcutable)
	if !ok {
		t.Skip("test canvas does not take shortcuts")
	}
	sc.TypedShortcut(shortcutNew)
	if m.CurrentScreen() != ScreenCompose {
		t.Fatalf("Ctrl+N led to %q", m.CurrentScreen())
	}
	test.Type(m.compose().to, "bob@example.com")
	sc.TypedShortcut(shortcutSend)
	if len(f.compose.sent) != 1 {
		t.Errorf("Ctrl+Enter sent %d", len(f.compose.sent))
	}
}

func TestMainMenu(t *testing.T) {
	m := newTestWindow(t, newFakes())
	var names []string
	for _, menu := range m.MainMenu().Items {
		names = append(names, menu.Label)
	}
	if strings.Join(names, ",") != "File,View,Help" {
		t.Errorf("menus %v", names)
	}
	file := m.MainMenu().Items[0]
	var items []string
	for _, it := range file.Items {
		items = append(items, it.Label)
	}
	for _, want := range []string{"New message", "Export as CSV…", "Export as JSON…", "Quit"} {
		if !strings.Contains(strings.Join(items, "|"), want) {
			t.Errorf("File menu lacks %q: %v", want, items)
		}
	}
}

// A window over no services at all (the app wiring them one by one)
// shows every screen without crashing.
func TestShellWithoutServices(t *testing.T) {
	a := test.NewTempApp(t)
	m := newMainWindow(a, Services{}, options{sync: true})
	for _, it := range m.items {
		if err := m.ShowScreen(it.name); err != nil {
			t.Fatal(err)
		}
	}
	m.OpenMessage("x")
	m.ShowAccountDialog("")
	m.NewMessage()
	m.compose().send()
	m.Close()
}

// The window builds only the screen it opens on; the others are built
// when first used, and closing before Compose was ever opened closes.
func TestShellBuildsScreensOnFirstUse(t *testing.T) {
	f := newFakes()
	m := newTestWindow(t, f)
	b := m.built
	if b.sent == nil {
		t.Fatal("the Sent screen was not built")
	}
	if b.compose != nil || b.outbox != nil || b.detail != nil || b.overview != nil ||
		b.drafts != nil || b.accounts != nil || b.settings != nil {
		t.Errorf("hidden screens built before use: %+v", b)
	}
	if err := m.ShowScreen(ScreenOutbox); err != nil {
		t.Fatal(err)
	}
	if m.built.outbox == nil || m.CurrentScreen() != ScreenOutbox {
		t.Errorf("Outbox not built and shown: %q", m.CurrentScreen())
	}
	if m.built.compose != nil {
		t.Error("Compose built without being used")
	}
	closed := false
	m.SetOnClosed(func() { closed = true })
	m.Close()
	if !closed {
		t.Error("Close did not close the window")
	}
	if m.built.compose != nil {
		t.Error("Close built Compose")
	}
}

func TestSenderBusyNotice(t *testing.T) {
	m := newTestWindow(t, newFakes())
	m.ShowSenderBusy(4242)
	top := m.env.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("no notice")
	}
	requireText(t, top, "Mailroom is already sending", "(pid 4242)", "that process sends it")
}
