package ui

import (
	"os"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

var testNow = time.Date(2026, 5, 3, 12, 0, 0, 0, time.Local)

// newTestWindow builds the main window over fakes with synchronous
// service calls, on a fresh test app.
func newTestWindow(t *testing.T, f *fakes) *MainWindow {
	t.Helper()
	a := test.NewTempApp(t)
	return newTestWindowOn(a, f)
}

func newTestWindowOn(a fyne.App, f *fakes) *MainWindow {
	m := newMainWindow(a, f.services(), options{sync: true, now: func() time.Time { return testNow }})
	m.Show()
	return m
}

// walk visits every visible object under o, descending into containers
// and widget renderers.
func walk(o fyne.CanvasObject, visit func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	visit(o)
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			walk(c, visit)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			walk(c, visit)
		}
	}
}

// texts collects what a person reads under o.
func texts(o fyne.CanvasObject) []string {
	var out []string
	walk(o, func(o fyne.CanvasObject) {
		switch x := o.(type) {
		case *widget.Label:
			out = append(out, x.Text)
		case *widget.Button:
			out = append(out, x.Text)
		case *canvas.Text:
			out = append(out, x.Text)
		}
	})
	return out
}

func hasText(o fyne.CanvasObject, sub string) bool {
	for _, s := range texts(o) {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func requireText(t *testing.T, o fyne.CanvasObject, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !hasText(o, sub) {
			t.Errorf("no visible text contains %q; have:\n%s", sub, strings.Join(texts(o), "\n"))
		}
	}
}

func findButton(o fyne.CanvasObject, text string) *widget.Button {
	var found *widget.Button
	walk(o, func(o fyne.CanvasObject) {
		if b, ok := o.(*widget.Button); ok && found == nil && strings.Contains(b.Text, text) {
			found = b
		}
	})
	return found
}

func content(m *MainWindow) fyne.CanvasObject { return m.content }

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }
