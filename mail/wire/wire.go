// Package wire owns the byte-level safety rules for message text that goes
// onto an SMTP connection (RFC 5321 section 2.3.8 and 4.5.3.1.6): CR and LF
// appear only as the pair CRLF, and no line is longer than 998 octets.
//
// Both the MIME builder (mail/compose) and the submitter (mail/submit) run
// message bytes through these readers, so a bare CR or bare LF can never
// reach the server and be read differently by two SMTP implementations
// ("SMTP smuggling"). DotWriter then writes such text as DATA content:
// a leading "." doubled on every line, and the single terminating ".".
//
// The package has no dependencies beyond the standard library.
package wire

import (
	"bytes"
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
	return &crlfReader{r: r}
}

type crlfReader struct {
	r       io.Reader
	buf     [8192]byte
	in      []byte // read from r, not yet processed
	sawCR   bool   // a CR was consumed; whether its LF follows is not known yet
	pending []byte // output produced but not yet returned (at most "\r\n")
	err     error  // r's error, returned once the input is drained
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
		if len(c.in) == 0 {
			switch {
			case c.err != nil && c.sawCR: // a CR at the very end is a bare CR
				c.sawCR = false
				c.pending = crlf[:]
				continue
			case c.err != nil || n > 0: // done, or return what we have before blocking
			default:
				m, err := c.r.Read(c.buf[:])
				c.in, c.err = c.buf[:m], err
				continue
			}
			break
		}
		if c.sawCR { // CRLF or a bare CR: either way one CRLF
			c.sawCR = false
			c.pending = crlf[:]
			if c.in[0] == '\n' {
				c.in = c.in[1:]
			}
			continue
		}
		// Copy the run of ordinary bytes, then handle the CR or LF after it.
		i := bytes.IndexByte(c.in, '\n')
		if i < 0 {
			i = len(c.in)
		}
		if j := bytes.IndexByte(c.in[:i], '\r'); j >= 0 {
			i = j
		}
		k := copy(p[n:], c.in[:i])
		n += k
		c.in = c.in[k:]
		if k < i || len(c.in) == 0 {
			continue
		}
		if c.in[0] == '\r' {
			c.sawCR = true
		} else {
			c.pending = crlf[:]
		}
		c.in = c.in[1:]
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
	cur  int // octets seen on the current line, a trailing CR included
	err  error
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(p)
	b := p[:n]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		l.cur += len(seg)
		// cur counts a CR before the LF too: a line ending here is too long
		// only if its content (without that CR) is; a line still open is
		// too long once it cannot be saved by a closing CRLF.
		length, open := l.cur, i < 0
		if len(seg) > 0 && seg[len(seg)-1] == '\r' {
			length--
		}
		if length > l.max || (open && l.cur > l.max && seg[len(seg)-1] != '\r') {
			l.err = &LineTooLongError{Line: l.line, Length: length, Max: l.max}
			return 0, l.err
		}
		if open {
			break
		}
		l.line++
		l.cur = 0
		b = b[i+1:]
	}
	return n, err
}

// Reader is what the submitter writes into DATA: r canonicalized to CRLF
// and checked against MaxLineLength.
func Reader(r io.Reader) io.Reader {
	return LimitLineLength(CanonicalizeCRLF(r), MaxLineLength)
}
