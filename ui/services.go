// Package ui owns Mailroom's Fyne screens: the main window shell, compose,
// drafts, outbox, the tracking list and message timeline, the delivery
// funnel, accounts, settings, notifications and the tray menu.
//
// The UI consumes the small interfaces declared in this file and the plain
// data types they return; the composition root (package app) implements
// them. The UI never touches SQL, SMTP or IMAP itself (an import test
// enforces it) and never does network or disk work on the UI goroutine:
// every service call runs in a goroutine and its result is applied to the
// widgets inside fyne.Do.
package ui

import (
	"context"
	"io"
	"time"

	"mailroom/mail"
	"mailroom/tracking"
)

// Services is everything the UI needs, handed over by the composition root.
// A nil service makes its screen show an explanatory empty state instead of
// crashing, so the app can be wired piece by piece.
type Services struct {
	Accounts AccountService
	Compose  ComposeService
	Drafts   DraftService
	Outbox   OutboxService
	Tracking TrackingService
	Settings SettingsService
}

// ---- accounts ----

// AccountService manages sending accounts. Secrets go in with AccountInput
// and never come back out.
type AccountService interface {
	List(ctx context.Context) ([]Account, error)
	Add(ctx context.Context, in AccountInput) error
	// Update replaces the account called name (in.Name may rename it). An
	// empty in.Password and in.PasswordCommand keep the stored secret.
	Update(ctx context.Context, name string, in AccountInput) error
	Remove(ctx context.Context, name string) error
	// Test connects to SMTP and IMAP with the given settings (not yet saved)
	// and reports each separately in plain words. The error is for failures
	// of the test itself; a server that refuses is reported in the result.
	Test(ctx context.Context, in AccountInput) (ConnectionReport, error)
	// Presets are well-known providers; DefaultPresets is a ready list.
	Presets() []Preset
	// Autoconfig guesses server settings from an e-mail address's domain
	// (provider autoconfig, well-known names). Only server fields are set.
	Autoconfig(ctx context.Context, email string) (Account, error)
	// TrackingDefaults says whether a new message from account starts with
	// "Track opens" and "Track clicks" ticked: the account's own choice,
	// else the tracking.default_* settings; never while tracking.mode is
	// off.
	TrackingDefaults(ctx context.Context, account string) (opens, clicks bool, err error)
}

// Password sources of Account.PasswordSource.
const (
	PasswordKeyring = "keyring" // stored in the OS keyring
	PasswordCommand = "command" // printed by a command at the moment of use
)

// Account is one sending account as the UI shows it; it holds no secret.
type Account struct {
	Name         string // unique, used by the CLI (--account NAME)
	DisplayName  string // "Alice Example" in From
	Email        string
	SMTPHost     string
	SMTPPort     int
	SMTPSecurity mail.Security
	IMAPHost     string // empty: no report fetching for this account
	IMAPPort     int
	IMAPSecurity mail.Security
	Username     string
	CAFile       string // optional PEM file trusted instead of the system roots
	// PasswordSource is PasswordKeyring or PasswordCommand.
	PasswordSource string
	Paused         bool // the outbox holds this account's mail (user or 535)
	// TrackOpens and TrackClicks are the account's defaults for "Track
	// opens" and "Track clicks" on new messages: TrackGlobal (also when
	// empty), TrackOn or TrackOff.
	TrackOpens  string
	TrackClicks string
}

// Per-account tracking defaults of Account.TrackOpens and TrackClicks.
const (
	TrackGlobal = "global" // follow the settings tracking.default_opens / default_clicks
	TrackOn     = "on"
	TrackOff    = "off"
)

// AccountInput is what the account dialog submits: the account plus, at
// most, one secret.
type AccountInput struct {
	Account
	Password        string // for PasswordKeyring; empty on Update keeps it
	PasswordCommand string // for PasswordCommand
}

// ConnectionReport is the result of AccountService.Test.
type ConnectionReport struct {
	SMTP CheckResult
	IMAP CheckResult
}

// CheckResult is one server's test result.
type CheckResult struct {
	OK      bool
	Skipped bool   // e.g. no IMAP server configured
	Summary string // plain words: "Signed in to smtp.example.com; the server offers delivery reports (DSN)."
	Detail  string // raw evidence (the failing reply or error), shown as plain text
}

// Preset is a well-known provider's server settings.
type Preset struct {
	Name         string
	SMTPHost     string
	SMTPPort     int
	SMTPSecurity mail.Security
	IMAPHost     string
	IMAPPort     int
	IMAPSecurity mail.Security
	Note         string // e.g. "Use an app password"
}

// ---- compose and drafts ----

// Body formats of ComposeInput.Format.
const (
	FormatPlain    = "plain"
	FormatMarkdown = "markdown"
)

// ComposeInput is a message as the user typed it. Address fields hold the
// raw comma-separated text so a half-typed draft survives unchanged; the
// service parses them with mail.ParseAddressList.
type ComposeInput struct {
	Account     string // Account.Name
	To, Cc, Bcc string
	Subject     string
	Body        string
	Format      string // FormatPlain or FormatMarkdown
	Attachments []Attachment
	TrackOpens  bool
	TrackClicks bool
	ReadReceipt bool      // ask for a read receipt (RFC 8098)
	At          time.Time // zero: send now; otherwise "send later"
	DraftID     string    // the draft this came from, deleted once queued
}

// Attachment is a file to attach, read by the service at send time.
type Attachment struct {
	Path string
	Name string
	Size int64
}

// FieldError is a problem with one compose field, shown under that field.
// Field is one of the Field* names.
type FieldError struct {
	Field   string
	Message string
}

// Compose field names used by FieldError.
const (
	FieldAccount     = "account"
	FieldTo          = "to"
	FieldCc          = "cc"
	FieldBcc         = "bcc"
	FieldSubject     = "subject"
	FieldBody        = "body"
	FieldAttachments = "attachments"
	FieldAt          = "at"
)

// ComposeService checks and enqueues messages.
type ComposeService interface {
	// Validate checks what only the service can know (the account exists,
	// attachments are readable...). Must be cheap: no network.
	Validate(in ComposeInput) []FieldError
	// Send enqueues the message (durably) and returns its id; it does not
	// wait for the SMTP conversation.
	Send(ctx context.Context, in ComposeInput) (id string, err error)
	// Suppressed returns, for the addresses on the suppression list, the
	// reason they are there ("bounced 5.1.1 on 2 May"). Others are absent.
	Suppressed(ctx context.Context, addrs []string) (map[string]string, error)
	// MaxSize is the account's submission server SIZE limit in bytes, 0 if
	// unknown or unlimited (may be cached from the last connection).
	MaxSize(ctx context.Context, account string) (int64, error)
}

// Draft is a saved, unsent message.
type Draft struct {
	ID      string // empty on first Save
	Updated time.Time
	Input   ComposeInput
}

// DraftService stores drafts; the compose screen saves while typing.
type DraftService interface {
	Save(ctx context.Context, d Draft) (id string, err error)
	List(ctx context.Context) ([]Draft, error) // newest first
	Load(ctx context.Context, id string) (Draft, error)
	Delete(ctx context.Context, id string) error
}

// ---- outbox ----

// OutboxService shows and steers unfinished messages.
type OutboxService interface {
	List(ctx context.Context) ([]OutboxMessage, error)
	RetryNow(ctx context.Context, id string) error
	Cancel(ctx context.Context, id string) error // recipients not yet accepted
	Pause(ctx context.Context, account string) error
	Resume(ctx context.Context, account string) error
	// Changes returns a new subscription that receives a value after
	// changes (coalesced: buffer 1, sends never block) and is closed when
	// ctx ends. Broadcast implements this.
	Changes(ctx context.Context) <-chan struct{}
}

// OutboxMessage is one message with at least one recipient not final.
type OutboxMessage struct {
	ID            string
	Account       string
	AccountPaused bool
	Subject       string
	Created       time.Time
	At            time.Time // "send later" time, zero when sent at once
	NextAttempt   time.Time // earliest next attempt over its recipients
	// UnreachableSince and NextProbe are set while the account's server
	// cannot be reached: the outbox then tries one connection per
	// interval (the next at NextProbe), whatever the recipients' times.
	UnreachableSince time.Time
	NextProbe        time.Time
	Total            int // recipients
	Accepted         int // recipients the server accepted (or further: delivered, bounced ...)
	NotSent          int // recipients done without acceptance: rejected, expired, canceled
	Recipients       []OutboxRecipient
}

// OutboxRecipient is one recipient's state in the outbox.
type OutboxRecipient struct {
	Address     string
	Status      tracking.Status
	Attempts    int
	NextAttempt time.Time
	LastReply   *mail.Reply // nil before the first attempt
}

// ---- tracking ----

// Sort orders of Query.Sort.
const (
	NewestFirst = "newest"
	OldestFirst = "oldest"
)

// Query selects sent messages. A message matches when it matches every
// set field; status-like fields match when any recipient matches.
type Query struct {
	IDs        []string          // only these messages (export of one message); empty: all
	Statuses   []tracking.Status // any recipient in one of these; empty: all
	Account    string            // empty: all accounts
	From, To   time.Time         // created in [From, To); zero: open
	HasBounces bool              // at least one recipient bounced
	Opened     bool              // at least one open recorded
	Search     string            // substring of a recipient address or the subject, case-insensitive
	Sort       string            // NewestFirst (default) or OldestFirst
}

// TrackingService reads the delivery record. The list screen pages through
// it and never loads the whole table.
type TrackingService interface {
	Page(ctx context.Context, q Query, offset, limit int) ([]MessageRow, error)
	Count(ctx context.Context, q Query) (int, error)
	// Counts counts recipients per status over the messages matching q,
	// ignoring q.Statuses so the counts beside the filter stay meaningful.
	Counts(ctx context.Context, q Query) (map[tracking.Status]int, error)
	Detail(ctx context.Context, id string) (MessageDetail, error)
	// Funnel counts recipients of messages created in [from, to);
	// FunnelFromCounts shows the intended meaning of each stage.
	Funnel(ctx context.Context, from, to time.Time) (Funnel, error)
	// Export writes the matching messages with every event as "csv" or
	// "json" (the status --json shape).
	Export(ctx context.Context, q Query, format string, w io.Writer) error
	Unsuppress(ctx context.Context, address string) error
	// Resend enqueues a new copy of message id for one recipient.
	Resend(ctx context.Context, id, address string) (newID string, err error)
	// Unmatched lists the received reports that matched no sent message,
	// newest first; ReportText returns one report as received (plain
	// text, bounded).
	Unmatched(ctx context.Context) ([]UnmatchedReport, error)
	ReportText(ctx context.Context, id int64) (string, error)
	Changes(ctx context.Context) <-chan struct{}
}

// MessageRow is one line of the tracking list.
type MessageRow struct {
	ID             string
	Account        string
	Subject        string
	Created        time.Time
	LastEvent      time.Time
	RecipientCount int
	// Recipients may be only the first few (at least one) of a bulk send;
	// StatusCounts covers all of them.
	Recipients   []RecipientStatus
	StatusCounts map[tracking.Status]int
}

// RecipientStatus is one recipient's status and engagement.
type RecipientStatus struct {
	Address    string
	Status     tracking.Status
	Engagement tracking.Engagement
}

// MessageDetail is a message with every recipient's events.
type MessageDetail struct {
	ID          string
	MessageID   string // "<...@...>"
	Account     string
	From        string
	Subject     string
	Created     time.Time
	TrackOpens  bool
	TrackClicks bool
	Recipients  []RecipientDetail
	Reports     []RawReport // referenced by Event.Report
}

// DSN request states of RecipientDetail.DSN.
const (
	DSNUnknown    = ""            // not attempted yet
	DSNRequested  = "requested"   // NOTIFY was sent: the server offers DSN
	DSNNotOffered = "not-offered" // the server did not advertise DSN
)

// RecipientDetail is one recipient with its whole timeline.
type RecipientDetail struct {
	Address          string
	Status           tracking.Status
	Engagement       tracking.Engagement
	Events           []tracking.Event // oldest first
	Server           string           // the submission server that answered (greeting host)
	DSN              string           // DSNUnknown, DSNRequested or DSNNotOffered
	NextAttempt      time.Time        // for queued/deferred
	Suppressed       bool
	SuppressedReason string
}

// RawReport is a received report (DSN, MDN, bounce, reply) as received.
// The UI shows Text only as plain text, never as Markdown or HTML.
type RawReport struct {
	ID       int64
	Kind     string // dsn|mdn|bounce|reply
	Received time.Time
	Text     string
}

// UnmatchedReport is a received report that matched none of the sent
// messages (a bounce of mail sent by another program, a report forwarded
// from elsewhere): kept and shown, never dropped.
type UnmatchedReport struct {
	ID       int64
	Kind     string // dsn|mdn|bounce|reply
	Received time.Time
	Account  string
	Mailbox  string
	Summary  string // whom it is about and what it says: "nobody@example.net 5.1.1"
	Note     string // why it matched nothing, when the store knows
}

// Funnel is the delivery funnel of a period (recipients counted).
type Funnel struct {
	From, To  time.Time
	Queued    int // every recipient enqueued in the period
	Accepted  int // left the submission server: accepted, relayed, delayed, delivered, bounced
	Delivered int // a DSN confirmed the mailbox
	Opened    int // at least one open, whatever the status
	Bounced   int
	Rejected  int
	Deferred  int // deferred or uncertain, still in the outbox
	Expired   int
}

// ---- settings ----

// SettingsService reads and writes the settings of `mailroom config`.
type SettingsService interface {
	Get(ctx context.Context, key string) (string, error)
	// Set validates and stores; the error is shown beside the field.
	Set(ctx context.Context, key, value string) error
	// Keys describes the settings; DefaultSettingKeys is the UI's list.
	Keys() []SettingKey
}

// Kinds of SettingKey.Kind.
const (
	KindText   = "text"
	KindBool   = "bool"   // "true" / "false"
	KindChoice = "choice" // one of Choices
)

// SettingKey describes one setting for the settings screen.
type SettingKey struct {
	Key     string // "tracking.mode"
	Section string // "Tracking"
	Label   string
	Help    string
	Kind    string
	Choices []string
	Default string
}
