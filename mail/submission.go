package mail

import (
	"context"
	"io"
)

// Envelope is the SMTP envelope of one copy: MAIL FROM, RCPT TO and the
// DSN parameters Mailroom asks for (RFC 3461).
type Envelope struct {
	From       string   // reverse path (the account's address)
	EnvID      string   // ENVID, fixed at enqueue, unique per copy
	Recipients []string // forward paths, in order
	// RequestDSN asks for RET=HDRS, NOTIFY=SUCCESS,FAILURE,DELAY and ORCPT
	// when the server advertises DSN.
	RequestDSN bool
}

// RcptResult is what happened to one recipient in one attempt.
type RcptResult struct {
	Address string  `json:"address"`
	Outcome Outcome `json:"outcome"`
	Reply   Reply   `json:"reply"` // the RCPT reply, or the DATA/"." reply for accepted recipients
}

// SubmitResult is the full record of one transaction.
type SubmitResult struct {
	Server       string       `json:"server"`        // host name from the greeting
	DSNRequested bool         `json:"dsn_requested"` // false when the server did not advertise DSN
	Rcpts        []RcptResult `json:"rcpts"`
	Final        *Reply       `json:"final,omitempty"` // reply to "." (nil if never reached)
	// BodySent is true once the terminating "." has been written: from
	// then on a broken connection means Uncertain, never Deferred.
	BodySent bool `json:"body_sent"`
}

// Session is one authenticated connection to a submission server that can
// carry several transactions (RSET between them).
type Session interface {
	// Send runs one transaction. The error is non-nil only when the session
	// itself is unusable afterwards; per-recipient outcomes are in the result
	// even then.
	Send(ctx context.Context, env Envelope, body io.Reader) (SubmitResult, error)
	// MaxSize is the server's SIZE limit in bytes, 0 if none announced.
	MaxSize() int64
	Close() error
}
