package report

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
)

// MaxSize bounds how much of a message Parse reads. Reports put their
// machine-readable parts first and the returned message last, so a longer
// message is parsed from its first MaxSize bytes (Report.Truncated is set).
const MaxSize = 8 << 20

// Kind says what sort of message a Report was parsed from.
type Kind string

// Kinds of messages.
const (
	KindDSN        Kind = "dsn"          // RFC 3464 delivery status notification
	KindMDN        Kind = "mdn"          // RFC 8098 message disposition notification
	KindBounce     Kind = "bounce"       // a non-standard (plain text) bounce
	KindReply      Kind = "reply"        // a reply to a message we sent
	KindNotAReport Kind = "not-a-report" // nothing we recognise
)

// Class is the outcome class of one recipient's delivery.
type Class string

// Outcome classes, following RFC 3463's class digit and the subject of the
// status code (see classify.go for the rules).
const (
	// ClassPermanentAddress: the address itself is bad (X.1.1, X.1.2, X.1.3,
	// X.1.6, X.1.10 and their textual equivalents). Suppress it.
	ClassPermanentAddress Class = "permanent-address"
	// ClassPermanentOther: a final failure that is not the address's fault
	// (policy, content, size, mailbox full, or retries given up).
	ClassPermanentOther Class = "permanent-other"
	// ClassTransient: the remote side is still trying.
	ClassTransient Class = "transient"
	// ClassSuccess: delivered, relayed or expanded.
	ClassSuccess Class = "success"
)

// Report is what one inbound message says about messages we sent.
type Report struct {
	Kind Kind

	// Per-message DSN fields (RFC 3464 section 2.2).
	EnvelopeID   string    // Original-Envelope-Id: our ENVID, the strongest matching key
	ReportingMTA string    // Reporting-MTA, without its "dns;" type
	ArrivalDate  time.Time // Arrival-Date

	// Keys found in the returned message (headers part, attached message,
	// or the quoted original in a text bounce).
	ReturnedMessageID string // with angle brackets, as in the header
	TrackingID        string // our X-Mailroom-Tracking-Id header

	// Headers of the report message itself.
	Subject    string
	From       string // the address only
	Date       time.Time
	MessageID  string
	InReplyTo  string   // for replies (and MDNs, which may carry it)
	References []string // message ids, with angle brackets

	Recipients []Recipient

	// MDN is set when Kind is KindMDN.
	MDN *MDN

	// AutoReply is set when the message says it was sent by a machine
	// (Auto-Submitted other than "no", RFC 3834; X-Autoreply): a
	// vacation notice is KindReply with AutoReply set, not a person's reply.
	AutoReply bool

	// Truncated is set when the message was longer than MaxSize.
	Truncated bool
}

// Recipient is one recipient's outcome as the report tells it.
type Recipient struct {
	// Address is Final-Recipient, or Original-Recipient when the final one
	// is missing, or the address found in a text bounce.
	Address string
	// OriginalRecipient is the ORCPT value (Original-Recipient), decoded
	// from xtext (RFC 3461) or utf-8-addr-xtext/unitext (RFC 6533).
	OriginalRecipient string
	Action            string // failed, delayed, delivered, relayed, expanded
	Status            string // RFC 3463 code such as "5.1.1"
	ReplyCode         int    // SMTP reply code such as 550, 0 when unknown
	Diagnostic        string // the remote server's words, unfolded
	DiagnosticType    string // "smtp", "x-postfix", ... (Diagnostic-Code type)
	RemoteMTA         string
	// Command is the SMTP command the failure answered ("RCPT", "DATA",
	// "MAIL", "CONNECT") when the report says so, else "".
	Command         string
	LastAttemptDate time.Time
	WillRetryUntil  time.Time
	Class           Class
}

// MDN holds the fields of an RFC 8098 disposition notification.
type MDN struct {
	ReportingUA       string
	OriginalRecipient string
	FinalRecipient    string
	OriginalMessageID string
	// Disposition is the whole field, e.g.
	// "manual-action/MDN-sent-manually; displayed".
	Disposition string
	// DispositionType is the part after ";", e.g. "displayed" or "deleted".
	DispositionType string
}

// ErrEmpty is returned by Parse for an empty input.
var ErrEmpty = errors.New("report: empty message")

// Parse reads one message (at most MaxSize bytes of it) and tells what it
// reports. It returns an error only when the input cannot be read or is
// empty; anything readable yields a Report, with Kind KindNotAReport when
// nothing in it is recognised.
func Parse(r io.Reader) (*Report, error) {
	var data []byte
	var err error
	if br, ok := r.(*bytes.Reader); ok {
		// One allocation of the right size instead of ReadAll's growing
		// copies (the sync loop parses from a bytes.Reader).
		data = make([]byte, min(br.Len(), MaxSize+1))
		var n int
		n, err = io.ReadFull(r, data)
		data = data[:n]
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			err = nil
		}
	} else {
		data, err = io.ReadAll(io.LimitReader(r, MaxSize+1))
	}
	if err != nil {
		return nil, fmt.Errorf("report: read: %w", err)
	}
	truncated := false
	if len(data) > MaxSize {
		data = data[:MaxSize]
		truncated = true
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmpty
	}
	rep := parseBytes(data)
	rep.Truncated = truncated
	return rep, nil
}

// parseBytes is Parse without the reading. A recovered panic would be a bug
// in this package; it is turned into a not-a-report result so that one odd
// message cannot stop a sync loop.
func parseBytes(data []byte) (rep *Report) {
	defer func() {
		if p := recover(); p != nil {
			rep = &Report{Kind: KindNotAReport}
		}
	}()
	return parseUnrecovered(data)
}

// parseUnrecovered is parseBytes without the safety net, for the fuzz
// target, which must see panics.
func parseUnrecovered(data []byte) *Report {
	return analyse(readMessage(data), 0)
}

// analyse decides the kind of message and fills the Report. depth counts
// forwarded reports already unwrapped.
func analyse(m *message, depth int) *Report {
	rep := &Report{Kind: KindNotAReport}
	fillHeaderFields(rep, m.header)
	fillReturned(rep, m)

	switch {
	case len(m.dsn) > 0:
		parseDSN(rep, m)
	case len(m.mdn) > 0:
		parseMDN(rep, m)
	}
	if rep.Kind == KindNotAReport && looksLikeBounce(m) {
		parseNonStandard(rep, m)
	}
	if (rep.Kind == KindNotAReport || rep.Kind == KindBounce && len(rep.Recipients) == 0) && depth < 2 {
		// A report forwarded by a person or a mailbox rule: inline after
		// an mbox "From " line, or attached as message/rfc822.
		if inner := forwardedReport(m, depth); inner != nil {
			return inner
		}
	}
	if rep.Kind == KindNotAReport && (rep.InReplyTo != "" || len(rep.References) > 0) {
		rep.Kind = KindReply
	}
	if (rep.Kind == KindDSN || rep.Kind == KindBounce) && (rep.ReturnedMessageID == "" || rep.TrackingID == "") {
		// The original may be quoted in the text part only.
		_, original := splitOriginal(strings.Join(m.texts, "\n"))
		quotedKeys(rep, original)
	}
	for i := range rep.Recipients {
		finishRecipient(&rep.Recipients[i])
	}
	return rep
}

// forwardedReport parses a report carried inside m, if there is one.
func forwardedReport(m *message, depth int) *Report {
	var candidates [][]byte
	for _, t := range m.texts {
		if loc := embeddedMessageRe.FindStringIndex(t); loc != nil {
			candidates = append(candidates, []byte(t[loc[0]:]))
		}
	}
	candidates = append(candidates, m.attached...)
	for _, c := range candidates {
		inner := analyse(readMessage(c), depth+1)
		switch inner.Kind {
		case KindDSN, KindMDN, KindBounce:
			if len(inner.Recipients) > 0 || inner.Kind == KindMDN {
				return inner
			}
		}
	}
	return nil
}

// embeddedMessageRe finds the start of a message quoted whole in a text
// part: an mbox separator line or a bounce's empty Return-Path.
var embeddedMessageRe = regexp.MustCompile(`(?m)^(?:From [^ \n]+ +[A-Z][a-z]{2} [A-Z][a-z]{2} [^\n]*\d{4}\r?$|Return-Path: <>\r?$)`)

// finishRecipient derives what can be derived once all fields are known:
// the reply code from the diagnostic, the status when only a reply code is
// known, and the class.
func finishRecipient(rc *Recipient) {
	rc.Diagnostic = cleanText(rc.Diagnostic, maxDiagnostic)
	rc.Action = normalizeAction(rc.Action)
	if rc.ReplyCode == 0 {
		rc.ReplyCode = findReplyCode(rc.Diagnostic, classDigit(rc.Status))
	}
	rc.Status = preferStatus(rc.Status, findStatus(rc.Diagnostic), rc.ReplyCode)
	if rc.Status == "" {
		rc.Status = statusFromText(rc.Action, rc.ReplyCode, rc.Diagnostic)
	}
	if rc.Command == "" {
		rc.Command = smtpCommand(rc.Diagnostic)
	}
	rc.Class = classify(rc.Action, rc.Status, rc.ReplyCode, rc.Diagnostic, rc.Command)
	if rc.Class == ClassPermanentAddress && strings.HasPrefix(rc.DiagnosticType, "x-unix") {
		// A local delivery program failed (RFC 3464 "X-Unix" diagnostic):
		// its exit status is mapped to a code, but the mailer is at fault,
		// not the address.
		rc.Class = ClassPermanentOther
	}
}

const maxDiagnostic = 2000

// maxRecipients bounds the recipients taken from one report.
const maxRecipients = 1000

// normalizeAction maps the Action values seen in the wild onto RFC 3464's
// five (section 2.3.3).
func normalizeAction(a string) string {
	a = strings.ToLower(strings.TrimSpace(a))
	switch a {
	case "expired", "failure", "bounced", "bounce", "undeliverable", "rejected", "fail":
		return "failed"
	case "deliverable", "success", "sent":
		return "delivered"
	case "delay", "deferred", "retry", "transient":
		return "delayed"
	}
	return a
}
