package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

// Notes that appear after the first layout must get room on screen, not
// only become "visible" at size zero.
func TestInlineNotesAreLaidOut(t *testing.T) {
	f := newFakes()
	f.compose.suppressed["bob@example.com"] = "bounced"
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenCompose)
	test.RenderToMarkup(m.Canvas()) // first layout
	c := m.compose
	test.Type(c.to, "bob@example.com, x@")
	if s := c.toErr.Size(); s.Height == 0 || s.Width == 0 {
		t.Errorf("To error has size %v", s)
	}
	c.to.SetText("bob@example.com")
	if s := c.suppressed.Size(); s.Height == 0 {
		t.Errorf("suppression warning has size %v", s)
	}
	test.Tap(c.trackOpens)
	if s := c.trackNote.Size(); s.Height == 0 {
		t.Errorf("tracking note has size %v", s)
	}
}
