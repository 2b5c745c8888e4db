package imapsource

import (
	"context"
	"crypto/x509"
	"time"
)

// MailboxInfo is one mailbox from LIST, with its attributes as sent by the
// server (e.g. `\Junk`, `\Sent`, `\Noselect`; RFC 6154 SPECIAL-USE).
//
// It is an alias of an unnamed struct on purpose: tracking/reports, which
// must not import this package, declares the identical type, so a Source is
// usable there without an adapter. Keep the two declarations equal (a test
// in tracking/reports checks that a Source satisfies its interface).
type MailboxInfo = struct {
	Name  string
	Attrs []string
}

// Candidate is a message the server's SEARCH picked as a possible report,
// described without downloading its body: its size, its top-level media type
// and report-type (from its Content-Type; from BODYSTRUCTURE too when only
// that can show a report part nested inside), the few header fields matching
// needs before deciding to download, and why it was picked.
//
// An alias of an unnamed struct, like MailboxInfo.
type Candidate = struct {
	UID        uint32
	Size       int64    // RFC822.SIZE in bytes
	Reasons    []string // see the Reason* constants
	MediaType  string   // top-level type, e.g. "multipart/report"
	ReportType string   // report-type parameter, e.g. "delivery-status"
	From       string   // raw header values, unfolded
	MessageID  string
	InReplyTo  string
	References string
	Date       time.Time // Date header; zero when absent or unparsable
}

// Reasons a message became a candidate (Candidate.Reasons).
const (
	ReasonReportType    = "content-type-report" // multipart/report (DSN, MDN, ARF)
	ReasonReportPart    = "report-part"         // a message/delivery-status or disposition-notification part
	ReasonAutoSubmitted = "auto-submitted"      // Auto-Submitted: auto-replied / auto-generated
	ReasonMailerDaemon  = "from-mailer-daemon"  // From: MAILER-DAEMON
	ReasonPostmaster    = "from-postmaster"     // From: postmaster
	ReasonFailedRcpts   = "x-failed-recipients" // Exim's X-Failed-Recipients
	ReasonInReplyTo     = "in-reply-to"         // a reply (maybe to us: the caller checks the id)
	ReasonReferences    = "references"          // References without In-Reply-To
	ReasonSubject       = "bounce-subject"      // "Undeliverable", "Returned mail", ...
	ReasonOther         = "search"              // the server matched; the headers did not say why
)

// Source is one authenticated IMAP connection, reduced to what report
// fetching and the Sent copy need. It is not safe for concurrent use by
// several goroutines doing different things; calls are serialized.
type Source interface {
	// Mailboxes lists all mailboxes with their attributes (SPECIAL-USE
	// attributes are asked for when the server offers them).
	Mailboxes(ctx context.Context) ([]MailboxInfo, error)
	// Select opens mailbox read-only (EXAMINE) and returns its UIDVALIDITY
	// and UIDNEXT (RFC 3501 section 2.3.1.1).
	Select(ctx context.Context, mailbox string) (uidValidity, uidNext uint32, err error)
	// Candidates returns the messages with UID >= sinceUID that may be
	// reports, chosen by the server (one UID SEARCH), described by one UID
	// FETCH of size and a few header fields (and one of BODYSTRUCTURE for
	// the multipart ones other than multipart/report). No body is fetched.
	Candidates(ctx context.Context, mailbox string, sinceUID uint32) ([]Candidate, error)
	// CandidatesIn is Candidates for the UIDs from..to (inclusive; to 0
	// means no upper bound), so that a large mailbox can be searched in
	// slices, possibly on several connections at once. A non-zero
	// notBefore also leaves out messages the server received before that
	// day (SEARCH SINCE, by internal date; the day as seen in UTC): the
	// server skips them without reading their header.
	CandidatesIn(ctx context.Context, mailbox string, from, to uint32, notBefore time.Time) ([]Candidate, error)
	// Fetch returns the whole message (BODY.PEEK[], never setting \Seen).
	// It transfers at most maxBytes+1 bytes; a longer message yields
	// ErrTooLarge. A message that no longer exists yields ErrNotFound.
	Fetch(ctx context.Context, mailbox string, uid uint32, maxBytes int64) ([]byte, error)
	// FetchMany fetches several messages with one UID FETCH, so the server
	// streams them back to back instead of one round trip each, and calls
	// fn for each as it arrives (in the server's order, normally by UID).
	// err is per message: ErrTooLarge past maxBytes (at most maxBytes+1
	// bytes were transferred), ErrNotFound for a UID the server did not
	// return. fn runs while the response is being read: it should be quick
	// (hand the body to another goroutine) and must not call the Source.
	// An error returned by fn stops the fetch and breaks the connection.
	FetchMany(ctx context.Context, mailbox string, uids []uint32, maxBytes int64, fn func(uid uint32, body []byte, err error) error) error
	// Append stores body in mailbox with the given flags (e.g. `\Seen`) and
	// internal date; it returns the new UID when the server says it
	// (UIDPLUS), else 0.
	Append(ctx context.Context, mailbox string, flags []string, date time.Time, body []byte) (uint32, error)
	// Move moves one message to dest (MOVE, or UID COPY + UID EXPUNGE with
	// UIDPLUS; without either it returns ErrUnsupported rather than expunge
	// the user's other deleted messages).
	Move(ctx context.Context, mailbox string, uid uint32, dest string) error
	// WaitForChange returns when mailbox may have new messages, after at
	// most maxIdle, or when ctx ends (with ctx's error). It uses IDLE when
	// offered, else polls with NOOP.
	WaitForChange(ctx context.Context, mailbox string, maxIdle time.Duration) error
	// Close logs out and closes the connection.
	Close() error
}

// Options tune Dial. The zero value is what the app uses.
type Options struct {
	// RootCAs, when set, is the only trust anchor (overrides the
	// Endpoint's CAFile and the system roots). Tests pass their own CA.
	RootCAs *x509.CertPool
	// DialTimeout bounds TCP connect + TLS handshake + greeting + login
	// (default 30 s).
	DialTimeout time.Duration
	// CommandTimeout bounds each command including its data transfer
	// (default 2 min; a fetch is at most the caller's cap).
	CommandTimeout time.Duration
	// PollInterval is how often WaitForChange polls a server without
	// IDLE (default 2 min, never above maxIdle).
	PollInterval time.Duration
}

func (o Options) withDefaults() Options {
	if o.DialTimeout <= 0 {
		o.DialTimeout = 30 * time.Second
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 2 * time.Minute
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Minute
	}
	return o
}

// MaxIdle is the longest one IDLE may run before it is re-issued: RFC 2177
// asks clients to end IDLE within 29 minutes so that servers do not drop
// them as inactive.
const MaxIdle = 29 * time.Minute

// Error is one of the package's sentinel errors. Callers that may not
// import this package (tracking/reports) test its behaviour instead of its
// identity, through the methods below and errors.As with an interface.
type Error struct {
	msg        string
	perMessage bool
	authFailed bool
}

func (e *Error) Error() string { return e.msg }

// PerMessage is true when the error concerns one message and the
// connection stays usable.
func (e *Error) PerMessage() bool { return e.perMessage }

// AuthFailed is true when the server refused the credentials.
func (e *Error) AuthFailed() bool { return e.authFailed }

// Errors callers act on.
var (
	// ErrTooLarge: the message is longer than the fetch cap.
	ErrTooLarge = &Error{msg: "imap: message larger than the size cap", perMessage: true}
	// ErrNotFound: the message is gone (expunged meanwhile).
	ErrNotFound = &Error{msg: "imap: no such message", perMessage: true}
	// ErrRefused: the server answered NO/BAD to a fetch of one message.
	ErrRefused = &Error{msg: "imap: server refused to return the message", perMessage: true}
	// ErrAuthFailed: the server refused the credentials. Retrying with the
	// same password only risks locking the account.
	ErrAuthFailed = &Error{msg: "imap: authentication failed", authFailed: true}
	// ErrUnsupported: the server lacks an extension the call needs.
	ErrUnsupported = &Error{msg: "imap: not supported by this server"}
	// ErrBroken: the connection failed earlier and must be redialed.
	ErrBroken = &Error{msg: "imap: connection is broken"}
)

// Stats counts what went over the wire on one connection (TCP payload,
// so TLS overhead included) and how many bodies were fetched.
type Stats struct {
	BytesRead     int64
	BytesWritten  int64
	BodiesFetched int
	BodyBytes     int64 // bytes of fetched bodies (literal contents)
}
