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
