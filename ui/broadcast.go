package ui

import (
	"context"
	"sync"
)

// Broadcast fans one stream of "something changed" signals out to many
// subscribers, the way OutboxService.Changes and TrackingService.Changes
// promise: each subscriber has a buffer of one, so a burst of changes
// becomes one wake-up and a slow screen never blocks the notifier.
// The zero value is ready to use.
type Broadcast struct {
	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

// Subscribe returns a channel that receives after each Notify and is
// closed when ctx ends.
func (b *Broadcast) Subscribe(ctx context.Context) <-chan struct{} {
	ch := make(chan struct{}, 1)
	b.mu.Lock()
	if b.subs == nil {
		b.subs = make(map[chan struct{}]struct{})
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		delete(b.subs, ch)
		b.mu.Unlock()
		close(ch)
	}()
	return ch
}

// Notify wakes every subscriber without blocking.
func (b *Broadcast) Notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
