// Package wire owns the byte-level safety rules for message text that goes
// onto an SMTP connection (RFC 5321 section 2.3.8 and 4.5.3.1.6): CR and LF
// appear only as the pair CRLF, and no line is longer than 998 octets.
//
// Both the MIME builder (mail/compose) and the submitter (mail/submit) run
// message bytes through these readers, so a bare CR or bare LF can never
// reach the server and be read differently by two SMTP implementations
// ("SMTP smuggling"). Dot-stuffing is not done here: it belongs to the
// DATA writer (go-smtp's textproto DotWriter), which escapes a leading "."
// on every line and writes the single terminating ".".
//
// The package has no dependencies beyond the standard library.
package wire

import (
	"bufio"
	"fmt"
	"io"
)

// MaxLineLength is the longest line SMTP allows, in octets, without the
// CRLF (RFC 5321 section 4.5.3.1.6).
const MaxLineLength = 998

// CanonicalizeCRLF returns a reader that yields r's bytes with every bare
// CR and every bare LF turned into CRLF. An existing CRLF stays one CRLF;
// "\r\r\n" becomes two line breaks. Every other byte, NUL included, passes
// through unchanged.
func CanonicalizeCRLF(r io.Reader) io.Reader {
	return &crlfReader{r: bufio.NewReader(r)}
}

type crlfReader struct {
	r       *bufio.Reader
	sawCR   bool   // a CR was read; its LF (or the lack of one) is not known yet
	pending []byte // output produced but not yet returned (at most "\r\n")
	err     error
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(c.pending) > 0 {
			k := copy(p[n:], c.pending)
			c.pending = c.pending[k:]
			n += k
			continue
		}
		if c.err != nil {
			break
		}
		b, err := c.r.ReadByte()
		if err != nil {
			c.err = err
			if c.sawCR { // a CR at the very end is a bare CR
				c.sawCR = false
				c.pending = crlf[:]
			}
			continue
		}
		switch {
		case c.sawCR && b == '\n':
			c.sawCR = false
			c.pending = crlf[:]
		case c.sawCR: // bare CR: close it as a line, then look at b again
			c.sawCR = false
			c.pending = crlf[:]
			_ = c.r.UnreadByte()
		case b == '\r':
			c.sawCR = true
		case b == '\n':
			c.pending = crlf[:]
		default:
			p[n] = b
			n++
		}
	}
	if n == 0 && c.err != nil {
		return 0, c.err
	}
	return n, nil
}

var crlf = [2]byte{'\r', '\n'}

// LineTooLongError reports a line over the SMTP limit.
type LineTooLongError struct {
	Line   int // 1-based line number
	Length int // octets seen so far on that line, without CRLF (at least Max+1)
	Max    int
}

func (e *LineTooLongError) Error() string {
	return fmt.Sprintf("line %d is longer than %d octets: SMTP cannot carry it (encode the part as quoted-printable or base64)", e.Line, e.Max)
}

// LimitLineLength returns a reader that passes r through and fails with a
// *LineTooLongError as soon as a line (counted up to its LF, without the
// CRLF) exceeds max octets. Use it on canonical (CRLF) input.
func LimitLineLength(r io.Reader, max int) io.Reader {
	return &lineLimiter{r: r, max: max, line: 1}
}

type lineLimiter struct {
	r    io.Reader
	max  int
	line int
	cur  int // octets on the current line, CR included
	err  error
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	for i, b := range p[:n] {
		if b == '\n' {
			l.line++
			l.cur = 0
			continue
		}
		l.cur++
		// cur counts the CR of CRLF too, so allow one extra octet while a
		// CR may still be followed by its LF.
		if l.cur > l.max+1 || (l.cur == l.max+1 && b != '\r') {
			l.err = &LineTooLongError{Line: l.line, Length: l.cur, Max: l.max}
			return i, l.err
		}
	}
	return n, err
}

// Reader is what the submitter writes into DATA: r canonicalized to CRLF
// and checked against MaxLineLength.
func Reader(r io.Reader) io.Reader {
	return LimitLineLength(CanonicalizeCRLF(r), MaxLineLength)
}
