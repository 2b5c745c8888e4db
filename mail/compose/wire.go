package compose

import (
	"bytes"
	"fmt"
	"strings"
)

// maxLine is the RFC 5322 section 2.1.1 limit on a line, without its CRLF.
const maxLine = 998

// shortLine is the RFC 5322 "SHOULD" limit; text whose lines all fit (and
// is plain printable ASCII) goes out as 7bit, readable in any tool.
const shortLine = 78

// canonicalText turns CRLF, bare CR and bare LF into CRLF (RFC 5322: CR and
// LF occur only together) and ends non-empty text with CRLF, so the part's
// last line is a whole line. This is the step that defeats SMTP smuggling
// through user text: no lone "\n.\n" or "\r.\r" can reach the wire.
func canonicalText(s []byte) []byte {
	if len(s) == 0 {
		return nil
	}
	out := make([]byte, 0, len(s)+len(s)/32+2)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				i++
			}
			out = append(out, '\r', '\n')
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, c)
		}
	}
	if !bytes.HasSuffix(out, []byte("\r\n")) {
		out = append(out, '\r', '\n')
	}
	return out
}

// textEncoding picks the Content-Transfer-Encoding of canonical text:
// 7bit when every byte is printable ASCII (or tab) and every line is short,
// quoted-printable otherwise (non-ASCII, control characters, long lines).
// 8bit is never used: it depends on the server's 8BITMIME and on every hop
// after it.
func textEncoding(canon []byte) string {
	lineLen := 0
	for i := 0; i < len(canon); i++ {
		c := canon[i]
		switch {
		case c == '\r' && i+1 < len(canon) && canon[i+1] == '\n':
			i++
			lineLen = 0
			continue
		case c == '\t' || (c >= 0x20 && c < 0x7f):
			lineLen++
		default:
			return "quoted-printable"
		}
		if lineLen > shortLine {
			return "quoted-printable"
		}
	}
	return "7bit"
}

// CheckWire verifies the transport invariants of a built message: every
// line ends in CRLF, no CR or LF appears alone, no line exceeds 998 octets,
// and no NUL is present. Build runs it on its own output; the submit layer
// may run it again on bytes read back from the outbox.
func CheckWire(b []byte) error {
	line, start := 1, 0
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case 0:
			return fmt.Errorf("line %d: NUL byte", line)
		case '\n':
			return fmt.Errorf("line %d: bare LF", line)
		case '\r':
			if i+1 >= len(b) || b[i+1] != '\n' {
				return fmt.Errorf("line %d: bare CR", line)
			}
			if n := i - start; n > maxLine {
				return fmt.Errorf("line %d: %d octets, more than %d", line, n, maxLine)
			}
			i++
			line++
			start = i + 1
		}
	}
	if start != len(b) {
		if n := len(b) - start; n > maxLine {
			return fmt.Errorf("line %d: %d octets, more than %d", line, n, maxLine)
		}
		return fmt.Errorf("line %d: the message does not end with CRLF", line)
	}
	return nil
}

// rfc2231Value formats one MIME parameter with RFC 2231 extended notation
// and continuations (name*0*=utf-8'-'...; name*1*=..., with the language
// part left empty), each segment short
// enough to fold on its own line. Go's mime.FormatMediaType emits a single
// unbounded segment, and go-message's own SetFilename uses RFC 2047 inside
// a quoted string, which RFC 2047 section 5 forbids; this is what RFC 2231
// and RFC 6266 readers (every current client) expect.
func rfc2231Value(name, value string) string {
	const seg = 50 // with "filename*0*=utf-8''" a segment stays within 76 columns
	var enc strings.Builder
	for i := 0; i < len(value); i++ {
		c := value[i]
		if isAttrChar(c) {
			enc.WriteByte(c)
		} else {
			fmt.Fprintf(&enc, "%%%02X", c)
		}
	}
	e := enc.String()
	var segs []string
	for len(e) > 0 {
		cut := min(seg, len(e))
		// Never split a %XX triplet.
		if i := strings.LastIndexByte(e[:cut], '%'); i > 0 && i > cut-3 {
			cut = i
		}
		segs = append(segs, e[:cut])
		e = e[cut:]
	}
	if len(segs) <= 1 {
		return name + "*=utf-8''" + strings.Join(segs, "")
	}
	var b strings.Builder
	for n, s := range segs {
		if n > 0 {
			b.WriteString("; ")
		}
		charset := ""
		if n == 0 {
			charset = "utf-8''"
		}
		fmt.Fprintf(&b, "%s*%d*=%s%s", name, n, charset, s)
	}
	return b.String()
}

// isAttrChar is RFC 2231 attribute-char: a token character that needs no
// percent-encoding (RFC 5987 section 3.2.1 attr-char).
func isAttrChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$&+-.^_`|~", c) >= 0
}

// isPlainParam reports whether a parameter value can be written as a short
// quoted-string that every reader understands.
func isPlainParam(s string) bool {
	if len(s) > 60 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
