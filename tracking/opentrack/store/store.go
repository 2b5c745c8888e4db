// Package store owns the tracker's event record: the Event type the events
// API returns, the Store interface its backends implement, and the coarse
// source address kept with each event.
//
// Invariants every backend keeps (checked by package storetest):
//   - Record is durable when it returns: the event survives a crash;
//   - IDs are assigned by the backend, strictly increasing, never reused
//     (not even after Purge removed the newest rows);
//   - Events(after) never skips an event: once a reader has seen ID n, no
//     event with an ID below n becomes visible later. A cursor is the last
//     ID seen.
package store

import (
	"context"
	"errors"
	"net/netip"
	"time"
	"unicode/utf8"

	"mailroom/tracking/opentrack/classify"
)

// Event is one recorded hit, as stored and as returned by GET /v1/events.
// JSON names are a public contract: add fields, never rename them.
type Event struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`                  // UTC, microsecond precision
	Kind      string    `json:"kind"`                // "open" or "click"
	CopyID    string    `json:"copy_id"`             // hex of the token's 128-bit copy id
	KeyID     string    `json:"key_id"`              // which HMAC key signed the token
	LinkHash  string    `json:"link_hash,omitempty"` // clicks: hex SHA-256 of the destination URL
	UAClass   string    `json:"ua_class"`            // a classify.UAClass value
	UserAgent string    `json:"user_agent"`          // raw, truncated to MaxUserAgent bytes
	Source    string    `json:"source,omitempty"`    // "198.51.100.0/24", "2001:db8:1::/48" or absent
}

// MaxUserAgent bounds the stored User-Agent; longer ones are cut at a UTF-8
// boundary.
const MaxUserAgent = 256

// Event kinds.
const (
	KindOpen  = "open"
	KindClick = "click"
)

// Hit converts an event into the input of classify.Classify.
func (e Event) Hit() classify.Hit {
	h := classify.Hit{
		Kind:      classify.HitKind(e.Kind),
		At:        e.At,
		UserAgent: e.UserAgent,
		UAClass:   classify.UAClass(e.UAClass),
	}
	if p, err := netip.ParsePrefix(e.Source); err == nil {
		h.Source = p
	}
	return h
}

// Validate checks what a backend relies on before storing.
func (e Event) Validate() error {
	if e.Kind != KindOpen && e.Kind != KindClick {
		return errors.New("store: event kind must be open or click")
	}
	if e.CopyID == "" || e.KeyID == "" || e.At.IsZero() {
		return errors.New("store: event lacks copy id, key id or time")
	}
	if len(e.UserAgent) > MaxUserAgent {
		return errors.New("store: user agent not truncated")
	}
	return nil
}

// Store is where the tracker records events. Implementations are safe for
// concurrent use.
type Store interface {
	// Record stores e (its ID is ignored) durably and returns it with the
	// assigned ID.
	Record(ctx context.Context, e Event) (Event, error)
	// Events returns up to limit events with ID > after, in ID order.
	Events(ctx context.Context, after int64, limit int) ([]Event, error)
	// Purge deletes events older than before and says how many.
	Purge(ctx context.Context, before time.Time) (int64, error)
	// Ping checks that the backend answers (for /healthz).
	Ping(ctx context.Context) error
	Close() error
}

// ErrClosed is returned by a closed store.
var ErrClosed = errors.New("store: closed")

// IPMode says how much of a client's address is kept.
type IPMode string

const (
	// IPTruncate keeps the IPv4 /24 or IPv6 /48 network, enough to tell a
	// mail provider's proxy from a home connection, not enough to find a person.
	IPTruncate IPMode = "truncate"
	// IPNone keeps no address at all.
	IPNone IPMode = "none"
)

// CoarseSource returns the network kept for addr under mode, or "".
func CoarseSource(addr netip.Addr, mode IPMode) string {
	if mode != IPTruncate || !addr.IsValid() {
		return ""
	}
	addr = addr.Unmap()
	bits := 48
	if addr.Is4() {
		bits = 24
	}
	p, err := addr.WithZone("").Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

// TruncateUA cuts s to at most MaxUserAgent bytes without splitting a UTF-8
// sequence, and replaces control characters so logs and UIs stay sane.
func TruncateUA(s string) string {
	if len(s) <= MaxUserAgent && printableASCII(s) {
		return s // the usual case, nothing to change or copy
	}
	b := make([]byte, 0, min(len(s), MaxUserAgent))
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			r = ' '
		}
		if len(b)+utf8.RuneLen(r) > MaxUserAgent {
			break
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
