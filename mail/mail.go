// Package mail is the shared vocabulary of Mailroom's protocol code: server
// endpoints, SMTP replies with the command they answered, the envelope of one
// submission and its per-recipient outcome, and address checks. It holds no
// network code; the subpackages do the work (compose: MIME, submit: SMTP,
// report: DSN/MDN/bounce parsing, imapsource: fetching reports over IMAP).
//
// Nothing here imports tracking, ui, app or Fyne.
package mail

import (
	"context"
	"fmt"
	"net"
	"strconv"
)

// Security is how a connection is protected. There is deliberately no
// plaintext option: Mailroom never sends credentials or mail in clear.
type Security string

const (
	ImplicitTLS Security = "tls"      // TLS from the first byte (465, 993)
	StartTLS    Security = "starttls" // STARTTLS required before anything else (587, 143)
)

// ParseSecurity accepts "tls" or "starttls".
func ParseSecurity(s string) (Security, error) {
	switch Security(s) {
	case ImplicitTLS, StartTLS:
		return Security(s), nil
	}
	return "", fmt.Errorf("security must be tls or starttls, not %q", s)
}

// Endpoint is one server of an account (SMTP submission or IMAP).
type Endpoint struct {
	Host     string
	Port     int
	Security Security
	Username string
	CAFile   string // optional PEM bundle trusted in addition to nothing else: when set, only it is trusted
	// Password returns the secret at the moment of use, from the OS keyring
	// or a password command; it is never stored in the Endpoint.
	Password func(ctx context.Context) (string, error) `json:"-"`
}

// Addr is host:port.
func (e Endpoint) Addr() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// ParseHostPort splits "host:port" with a numeric port.
func ParseHostPort(s string) (string, int, error) {
	host, p, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not HOST:PORT: %w", s, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port must be 1-65535", s)
	}
	if host == "" {
		return "", 0, fmt.Errorf("%q: host is empty", s)
	}
	return host, port, nil
}
