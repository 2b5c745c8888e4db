package ui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
)

func TestNotifierThrottlesAndCoalesces(t *testing.T) {
	var mu sync.Mutex
	var sent []*fyne.Notification
	now := time.Date(2026, 5, 3, 10, 0, 0, 0, time.UTC)
	n := &Notifier{gap: time.Hour, now: func() time.Time { return now }, send: func(x *fyne.Notification) {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, x)
	}}
	n.Notify("Bounced", "bob@example.net: 5.1.1")
	n.Notify("Bounced", "carol@example.net: 5.1.1")
	n.Notify("Expired", "Invoice 42 to dan@example.com")
	mu.Lock()
	if len(sent) != 1 || sent[0].Title != "Bounced" {
		t.Fatalf("sent %d at once", len(sent))
	}
	mu.Unlock()
	n.Flush()
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 2 {
		t.Fatalf("sent %d after flush", len(sent))
	}
	if s := sent[1]; s.Title != "Mailroom: 2 delivery updates" || !strings.Contains(s.Content, "carol@example.net") ||
		!strings.Contains(s.Content, "Invoice 42") {
		t.Errorf("coalesced %q / %q", s.Title, s.Content)
	}
	if n.timer != nil {
		t.Error("timer left running")
	}
}

func TestBroadcast(t *testing.T) {
	var b Broadcast
	ctx, cancel := context.WithCancel(context.Background())
	one, two := b.Subscribe(ctx), b.Subscribe(ctx)
	b.Notify()
	b.Notify() // coalesced, never blocks
	for _, ch := range []<-chan struct{}{one, two} {
		select {
		case <-ch:
		default:
			t.Fatal("subscriber not woken")
		}
		select {
		case <-ch:
			t.Fatal("burst not coalesced")
		default:
		}
	}
	cancel()
	if _, ok := <-one; ok {
		t.Error("channel not closed when ctx ended")
	}
}

func TestTrayUsable(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	for _, c := range []struct {
		env  func(string) string
		goos string
		want bool
	}{
		{env(), "linux", false},
		{env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/run/user/1000/bus"), "linux", true},
		{env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/x", "MAILROOM_NO_TRAY", "1"), "linux", false},
		{env(), "darwin", true},
		{env(), "windows", true},
		{env("MAILROOM_NO_TRAY", "1"), "windows", false},
	} {
		if got := trayUsable(c.env, c.goos); got != c.want {
			t.Errorf("trayUsable(%s) = %v", c.goos, got)
		}
	}
}
