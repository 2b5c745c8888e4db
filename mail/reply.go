package mail

import (
	"errors"
	"fmt"
	"strings"
)

// Reply is one SMTP reply, kept as evidence: which command it answered, the
// basic code, the RFC 3463 enhanced code when present, and the server's words.
type Reply struct {
	Command  string `json:"command"`                 // "CONNECT", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "." ... or CmdPassword
	Code     int    `json:"code"`                    // 250, 451, 550 ...; 0 when the connection broke before a reply
	Enhanced string `json:"enhanced_code,omitempty"` // "2.0.0", "5.1.1"
	Text     string `json:"text"`                    // the server's words, or the local error when Code is 0
}

// CmdPassword is the Command of a Reply for the local step before AUTH:
// reading the account's password (its command, the keyring). Code is 0:
// no server was asked, so the failure is not a refused password.
const CmdPassword = "PASSWORD"

func (r Reply) String() string {
	if r.Code == 0 {
		return fmt.Sprintf("%s: %s", r.Command, r.Text)
	}
	if r.Enhanced != "" {
		return fmt.Sprintf("%s: %d %s %s", r.Command, r.Code, r.Enhanced, r.Text)
	}
	return fmt.Sprintf("%s: %d %s", r.Command, r.Code, r.Text)
}

// Temporary reports a 4xx reply.
func (r Reply) Temporary() bool { return r.Code >= 400 && r.Code < 500 }

// Permanent reports a 5xx reply.
func (r Reply) Permanent() bool { return r.Code >= 500 && r.Code < 600 }

// Outcome classifies what one submission attempt means for one recipient,
// as in DESIGN.md section 2 and its reliability notes.
type Outcome string

const (
	Accepted Outcome = "accepted" // 250 after DATA: the server took responsibility
	// Deferred is a temporary failure (4xx, network error before "."): retry later.
	Deferred Outcome = "deferred"
	// Rejected is a permanent refusal (5xx at MAIL/RCPT/DATA): never retried.
	Rejected Outcome = "rejected"
	// Uncertain means the connection broke after "." and before the reply:
	// the server may or may not have accepted the message.
	Uncertain Outcome = "uncertain"
	// AuthFailed (535 and friends) pauses the whole account: retrying with
	// the same password would only lock the account.
	AuthFailed Outcome = "auth-failed"
	// Unreachable means no SMTP conversation happened (DNS, connect, TLS
	// handshake): the account's circuit breaker counts these.
	Unreachable Outcome = "unreachable"
	// TooManyRecipients (452 4.5.3 at RCPT) is not a failure of the
	// recipient: the outbox sends the rest in another transaction.
	TooManyRecipients Outcome = "too-many-recipients"
	// NotAttempted means the attempt ended before this recipient was tried.
	NotAttempted Outcome = "not-attempted"
)

// Final reports whether the outcome ends the recipient's time in the outbox.
func (o Outcome) Final() bool { return o == Accepted || o == Rejected }

// ParseEnhanced pulls an RFC 3463 enhanced status code from the start of
// text ("5.1.1 User unknown"); it returns "" and text unchanged when absent.
func ParseEnhanced(text string) (code, rest string) {
	f, r, _ := strings.Cut(text, " ")
	if IsEnhancedCode(f) {
		return f, r
	}
	return "", text
}

// IsEnhancedCode reports whether s looks like class.subject.detail with
// class 2, 4 or 5 (RFC 3463 section 2).
func IsEnhancedCode(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || !strings.ContainsAny(parts[0], "245") {
		return false
	}
	for _, p := range parts[1:] {
		if len(p) == 0 || len(p) > 3 {
			return false
		}
		for _, c := range p {
			if c < '0' || c > '9' {
				return false
			}
		}
	}
	return true
}

// Error is a failure of a whole session or transaction with its
// classification, so the outbox can decide without parsing strings.
type Error struct {
	Outcome Outcome
	Reply   Reply // the reply that ended it; Code 0 for local/network errors
	Err     error // underlying cause, if any
}

func (e *Error) Error() string {
	if e.Err != nil && e.Reply.Code == 0 {
		return fmt.Sprintf("%s (%s): %v", e.Reply.Command, e.Outcome, e.Err)
	}
	return fmt.Sprintf("%s (%s)", e.Reply, e.Outcome)
}

func (e *Error) Unwrap() error { return e.Err }

// OutcomeOf classifies any error from the submit layer: a *Error says
// itself; anything else (a bug, a context error) counts as Deferred, the
// safe choice that retries later instead of losing the message.
func OutcomeOf(err error) Outcome {
	var e *Error
	if errors.As(err, &e) {
		return e.Outcome
	}
	return Deferred
}
