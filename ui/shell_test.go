package ui

import (
	"testing"

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
	requireText(t, content(m), "Add an account to start", "Add account")
}
