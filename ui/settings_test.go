package ui

import (
	"strings"
	"testing"
)

func TestSettingsEditAndPersist(t *testing.T) {
	f := newFakes()
	f.settings.vals = map[string]string{"tracking.mode": "off", "notify.first_open": "true"}
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenSettings)
	s := m.settings()
	requireText(t, content(m), "Retry policy", "Give up after", "Open tracking", "Notifications", "Delivery reports", "Other", "experimental.flag")

	if !s.fields["notify.first_open"].check.Checked {
		t.Error("stored value not shown")
	}
	if !s.fields["tracking.listen"].entry.Disabled() {
		t.Error("listen address editable with tracking off")
	}
	s.fields["tracking.mode"].sel.SetSelected(choiceWords["builtin"])
	if s.fields["tracking.listen"].entry.Disabled() || !s.fields["tracking.remote_url"].entry.Disabled() {
		t.Error("built-in mode did not enable its fields only")
	}
	s.fields["tracking.base_url"].entry.SetText("t.example.com")
	s.fields["outbox.lifetime"].entry.SetText("3d")
	s.save()
	if f.settings.sets["tracking.mode"] != "builtin" || f.settings.sets["outbox.lifetime"] != "3d" {
		t.Errorf("sets %v", f.settings.sets)
	}
	if _, ok := f.settings.sets["notify.bounce"]; ok {
		t.Error("unchanged key written")
	}
	if e := s.fields["tracking.base_url"].err; !e.Visible() || !strings.Contains(e.Text, "http") {
		t.Errorf("invalid URL error %q", e.Text)
	}
	if !strings.Contains(s.status.Text, "1 of 3 changes not saved") {
		t.Errorf("status %q", s.status.Text)
	}

	// Reopening shows what was persisted.
	m.ShowScreen(ScreenSent)
	m.ShowScreen(ScreenSettings)
	if got := m.settings().fields["outbox.lifetime"].get(); got != "3d" {
		t.Errorf("lifetime after reopen %q", got)
	}
	if got := m.settings().fields["tracking.mode"].get(); got != "builtin" {
		t.Errorf("mode after reopen %q", got)
	}
}
