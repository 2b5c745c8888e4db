// Package tracking is Mailroom's delivery vocabulary and its pure domain
// logic: the per-recipient statuses and event kinds of DESIGN.md section 2,
// events with their evidence, engagement, and Derive, which computes a
// recipient's status from its events by a precedence table.
//
// It imports no SQL, network or UI code, so every layer (ui included) can
// share these words. Subpackages do the work: store (SQLite event store),
// outbox (queue and retry policy), reports (ingestion and matching) and
// opentrack (tokens, tracker server, open classification).
package tracking

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Status is a recipient's delivery status, a word from DESIGN.md section 2.
type Status string

const (
	Queued    Status = "queued"
	Sending   Status = "sending"
	Deferred  Status = "deferred"
	Uncertain Status = "uncertain"
	Rejected  Status = "rejected"
	Accepted  Status = "accepted"
	Relayed   Status = "relayed"
	Delayed   Status = "delayed"
	Delivered Status = "delivered"
	Bounced   Status = "bounced"
	Expired   Status = "expired"
	Canceled  Status = "canceled"
)

// AllStatuses lists every status in journey order, for filters and counts.
var AllStatuses = []Status{Queued, Sending, Deferred, Uncertain, Rejected, Accepted, Relayed, Delayed, Delivered, Bounced, Expired, Canceled}

// EventKind names what happened. Status-bearing kinds share their Status's
// word; engagement kinds (opened, clicked, read, replied) never change the
// status. Held/released are outbox bookkeeping shown in the timeline.
type EventKind string

const (
	EvQueued    EventKind = "queued"
	EvSending   EventKind = "sending"
	EvDeferred  EventKind = "deferred"
	EvUncertain EventKind = "uncertain"
	EvRejected  EventKind = "rejected"
	EvAccepted  EventKind = "accepted"
	EvRelayed   EventKind = "relayed"
	EvDelayed   EventKind = "delayed"
	EvDelivered EventKind = "delivered"
	EvBounced   EventKind = "bounced"
	EvExpired   EventKind = "expired"
	EvCanceled  EventKind = "canceled"
	EvHeld      EventKind = "held"
	EvReleased  EventKind = "released"
	EvOpened    EventKind = "opened"
	EvClicked   EventKind = "clicked"
	EvRead      EventKind = "read"
	EvReplied   EventKind = "replied"
)

// Source says where an event's evidence came from (status --json "source").
type Source string

const (
	SrcSMTP  Source = "smtp"
	SrcDSN   Source = "dsn"
	SrcMDN   Source = "mdn"
	SrcPixel Source = "pixel"
	SrcClick Source = "click"
	SrcReply Source = "reply"
	SrcUser  Source = "user"
	// SrcOutbox marks the queue's own decisions (queued, expired, held).
	SrcOutbox Source = "outbox"
)

// OpenClass labels an open honestly (DESIGN.md section 2).
type OpenClass string

const (
	HumanLikely    OpenClass = "human-likely"
	MachineOrProxy OpenClass = "machine-or-proxy"
	UnknownOpen    OpenClass = "unknown"
)

// Event is one fact about one recipient with its evidence.
type Event struct {
	ID           int64
	Recipient    int64
	At           time.Time
	Kind         EventKind
	Source       Source
	Command      string // SMTP command the reply answered
	Code         int    // SMTP reply code (or the DSN's Diagnostic-Code reply code)
	EnhancedCode string
	Text         string // the server's words / the diagnostic
	Match        string // which key matched a report: envid|orcpt|tracking-id|message-id|address
	// Detail holds the rest of the evidence as JSON (DSN fields, open class
	// and reason, "may have been sent twice", ...).
	Detail string
	Report int64 // reports.id, 0 when none
	// DedupKey makes AddEvent idempotent; empty means always add.
	DedupKey string
}

// Engagement is what the recipient did with the message, kept beside the
// status and never replacing it.
type Engagement struct {
	OpensTotal   int
	OpensHuman   int
	OpensMachine int
	Clicks       int
	Read         bool
	Replied      bool
}

// Millis converts a time to the stored form.
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMillis converts the stored form back; 0 is the zero time.
func FromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// NewID returns a short random identifier (16 hex digits) for messages.
func NewID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
