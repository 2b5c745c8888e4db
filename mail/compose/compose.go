// Package compose owns the MIME form of an outgoing message: it turns a
// Draft (what the compose window or `mailroom send` collected) into the exact
// bytes handed to the submission server, and plans how many copies a send
// needs (one for everybody, or one per recipient when a copy carries
// per-recipient content such as an open-tracking pixel).
//
// Invariants of every Build:
//   - Bcc never appears in any header: Bcc recipients exist only in the
//     SMTP envelope (see Plan).
//   - The output has CR and LF only as CRLF, and no line longer than 998
//     octets (RFC 5322 section 2.1.1); user text is canonicalized, attachments
//     are base64. CheckWire verifies this on the finished bytes before Build
//     returns, so a bug here fails loudly instead of smuggling SMTP commands.
//   - Header values that come from users (subject, display names, extra
//     headers, file names) are checked for control characters and rejected;
//     they are formatted by go-message (RFC 2047) and never concatenated into
//     raw header lines.
//   - Message-ID and Date are fixed at enqueue (NewMessageID) and only copied
//     here, so every retry of a copy sends the same bytes.
//
// Header field names are written in go-message's canonical form
// (Message-Id, Mime-Version, Content-Id); field names are case-insensitive
// (RFC 5322 section 1.2.2), and readers, DKIM included, treat them so.
//
// The package is pure: no network, no disk (except an Attachment's Open).
// It imports neither tracking nor any UI code; open tracking reaches in only
// through CopyOptions.HTMLTransform.
package compose

import (
	"io"
	"time"

	"mailroom/mail"
)

// Format says how Draft.Text is to be read.
type Format string

const (
	// FormatPlain sends Text alone as text/plain.
	FormatPlain Format = "plain"
	// FormatMarkdown renders Text to HTML with goldmark (raw HTML in the
	// Markdown is dropped) and sends both as multipart/alternative; the
	// text/plain part is the Markdown source itself, which reads well as is.
	FormatMarkdown Format = "markdown"
	// FormatHTML sends Draft.HTML as the text/html part and Text as the
	// text/plain alternative; when Text is empty a plain version is derived
	// from the HTML, because HTML-only mail reads badly and scores as spam.
	FormatHTML Format = "html"
)

// TrackingHeader names the per-copy header that lets a returned message or
// a bounce be matched to the copy (and so the recipient) it came from.
const TrackingHeader = "X-Mailroom-Tracking-Id"

// Draft is one message as the user composed it.
type Draft struct {
	From    mail.Address
	To      []mail.Address
	Cc      []mail.Address
	Bcc     []mail.Address // envelope only, never in a header
	Subject string

	Text   string // plain text, or Markdown source when Format is FormatMarkdown
	Format Format // "" means FormatPlain
	HTML   string // the HTML body; used only with FormatHTML

	Attachments []Attachment

	// Date and MessageID are fixed at enqueue and required by Build.
	Date      time.Time
	MessageID string // "<random@domain>", see NewMessageID

	InReplyTo  string   // "<id@host>" of the message answered, optional
	References []string // "<id@host>" each, oldest first, optional

	// Headers are extra header fields (e.g. Reply-To, List-Unsubscribe,
	// Disposition-Notification-To). Fields Build owns are refused.
	Headers []HeaderField
}

// HeaderField is one extra header field. Value is unstructured text: it is
// RFC 2047-encoded when not ASCII.
type HeaderField struct {
	Name  string
	Value string
}

// Attachment is one file. Either Data or Open supplies the bytes; Open is
// called once per Build (so a large file is streamed, never held twice).
type Attachment struct {
	Name        string // file name as the recipient sees it; may be non-ASCII
	ContentType string // e.g. "application/pdf"; "" guesses from Name
	Data        []byte
	Open        func() (io.ReadCloser, error)
	Size        int64 // byte size when Data is nil, for EstimateSize; 0 = unknown

	// Inline marks an image referenced from the HTML as "cid:<ContentID>".
	// Inline parts go into multipart/related beside the HTML; in a plain
	// text message there is nothing to reference them, so they are sent as
	// ordinary attachments.
	Inline    bool
	ContentID string // without angle brackets, e.g. "logo@mailroom"; required when Inline
}

// CopyOptions says what is particular to one copy of a message.
type CopyOptions struct {
	// TrackingID, when not empty, is written as the X-Mailroom-Tracking-Id
	// header of this copy. Printable ASCII, no spaces.
	TrackingID string
	// ExtraHeaders are added after Draft.Headers, with the same rules.
	ExtraHeaders []HeaderField
	// HTMLTransform rewrites the HTML body of this copy (the open-tracking
	// pixel, rewritten links). It is not called for plain-text messages.
	HTMLTransform func(html []byte) ([]byte, error)
	// Rand supplies the randomness of MIME boundaries; nil means
	// crypto/rand. Tests set a fixed stream to get byte-identical output.
	Rand io.Reader
}

// Build returns the wire form of one copy of d: CRLF line ends, every line
// at most 998 octets, ready for SMTP DATA (the submit layer dot-stuffs).
// A draft that Validate rejects, a missing Date or Message-ID, or a bad
// CopyOptions field is an error naming the field.
func Build(d Draft, opt CopyOptions) ([]byte, error) {
	return build(d, opt, false)
}

// SentCopy builds the copy saved to the Sent folder: the same message
// without anything per-recipient (no tracking header, no HTMLTransform, so
// no pixel). Bcc is left out here too, as in every copy: the list of hidden
// recipients stays in Mailroom's own records, and a Sent copy that is later
// forwarded or synced to another client cannot disclose it.
func SentCopy(d Draft, opt CopyOptions) ([]byte, error) {
	opt.TrackingID = ""
	opt.HTMLTransform = nil
	return build(d, opt, false)
}
