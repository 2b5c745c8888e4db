package submit

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"mailroom/mail"
	"mailroom/mail/wire"
)

// plan is the envelope as it will be spoken to this server: addresses in
// the form the server can take (A-label domains without SMTPUTF8), the
// MAIL and RCPT command lines, and the body positioned at its start.
type plan struct {
	mail    string        // the MAIL command line
	dsn     bool          // DSN parameters really go on the wire
	rcpts   []string      // RCPT command lines ("" where rcptErr is set)
	rcptErr []*mail.Reply // a recipient refused locally (never sent)
	body    io.Reader
}

// plan checks the envelope and the body before any command is sent. An
// error means the whole message can never be sent (Rejected).
func (t *txn) plan(body io.Reader) (*plan, *mail.Error) {
	has, env := t.s.has, t.env
	p := &plan{body: body}

	if env.EnvID != "" && !printableASCII(env.EnvID, 100) {
		return nil, fail(mail.Rejected, "MAIL", fmt.Errorf("ENVID %q must be 1-100 printable ASCII characters (RFC 3461 4.4)", env.EnvID))
	}

	needUTF8 := !isASCII(env.From)
	for _, a := range env.Recipients {
		needUTF8 = needUTF8 || !isASCII(a)
	}
	utf8OK := has("SMTPUTF8")
	useUTF8 := needUTF8 && utf8OK

	from, err := wireAddress(env.From, useUTF8)
	if err != nil {
		return nil, fail(mail.Rejected, "MAIL", fmt.Errorf("sender: %w", err))
	}
	p.dsn = env.RequestDSN && has("DSN")

	p.rcpts = make([]string, len(env.Recipients))
	p.rcptErr = make([]*mail.Reply, len(env.Recipients))
	for i, a := range env.Recipients {
		addr, err := wireAddress(a, useUTF8)
		if err != nil {
			p.rcptErr[i] = &mail.Reply{Command: "RCPT", Text: err.Error()}
			continue
		}
		p.rcpts[i] = rcptLine(addr, a, p.dsn, utf8OK)
	}

	// A body we can rewind is checked whole before MAIL, so a bad line is
	// refused without opening a transaction, and its size can be declared
	// (RFC 1870) so an oversized message is refused at MAIL.
	var size int64
	if sk, ok := body.(io.Seeker); ok {
		start, err := sk.Seek(0, io.SeekCurrent)
		if err == nil {
			n, err := io.Copy(io.Discard, wire.Reader(body))
			if _, serr := sk.Seek(start, io.SeekStart); serr != nil && err == nil {
				err = serr
			}
			var tooLong *wire.LineTooLongError
			switch {
			case errors.As(err, &tooLong): // the message can never be sent
				return nil, fail(mail.Rejected, "DATA", err)
			case err != nil: // reading our own copy failed: try again later
				return nil, fail(mail.Deferred, "DATA", fmt.Errorf("reading the message: %w", err))
			}
			size = n
		}
	}
	p.mail = mailLine(from, size, useUTF8, p.dsn, env.EnvID, has)
	return p, nil
}

// wireAddress checks one envelope address and, when the server cannot take
// UTF-8, converts its domain to A-labels. A non-ASCII local part cannot be
// expressed without SMTPUTF8.
func wireAddress(a string, utf8 bool) (string, error) {
	if strings.ContainsAny(a, "\r\n\x00<>") {
		return "", fmt.Errorf("%q contains characters not allowed in an address", a)
	}
	if a == "" || utf8 || isASCII(a) {
		return a, nil
	}
	ascii, err := mail.Address{Address: a}.ASCIIDomain()
	if err != nil {
		return "", err
	}
	if !isASCII(ascii) {
		return "", errors.New("the address " + a + " has a non-ASCII local part and the server does not offer SMTPUTF8")
	}
	return ascii, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func printableASCII(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}
