package submit

import (
	"fmt"
	"strconv"
	"strings"
)

// The MAIL and RCPT command lines, with the parameters of the extensions
// Mailroom uses: 8BITMIME, SIZE (RFC 1870), SMTPUTF8 (RFC 6531) and DSN
// (RFC 3461, RFC 6533). They are written here rather than by go-smtp's
// Client because that client sends each command only after the previous
// reply: it cannot pipeline (RFC 2920). The formats are those go-smtp
// v0.25.1 writes, byte for byte (TestCommandLinesMatchGoSMTP).

// mailLine is "MAIL FROM:<from>" and its parameters. has reports whether
// the server offers an EHLO keyword.
func mailLine(from string, size int64, utf8, dsn bool, envID string, has func(string) bool) string {
	var b strings.Builder
	b.WriteString("MAIL FROM:<")
	b.WriteString(from)
	b.WriteByte('>')
	if has("8BITMIME") {
		b.WriteString(" BODY=8BITMIME")
	}
	if size > 0 && has("SIZE") {
		b.WriteString(" SIZE=")
		b.WriteString(strconv.FormatInt(size, 10))
	}
	if utf8 {
		b.WriteString(" SMTPUTF8")
	}
	if dsn {
		b.WriteString(" RET=HDRS")
		if envID != "" {
			b.WriteString(" ENVID=")
			b.WriteString(xtext(envID))
		}
	}
	return b.String()
}

// rcptLine is "RCPT TO:<to>", with NOTIFY and ORCPT when dsn is set.
// original is the address as the user wrote it (before any A-label
// conversion); utf8 says whether the server takes UTF-8 (SMTPUTF8).
func rcptLine(to, original string, dsn, utf8 bool) string {
	var b strings.Builder
	b.WriteString("RCPT TO:<")
	b.WriteString(to)
	b.WriteByte('>')
	if dsn {
		b.WriteString(" NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=")
		if isASCII(original) {
			b.WriteString("RFC822;")
			b.WriteString(xtext(original))
		} else {
			b.WriteString("UTF-8;")
			b.WriteString(utf8Addr(original, utf8))
		}
	}
	return b.String()
}

// xchar is a character xtext (RFC 3461 section 4) carries as itself.
func xchar(r rune) bool { return r >= '!' && r <= '~' && r != '+' && r != '=' }

// xtext encodes s as RFC 3461 xtext: "+" and two upper-case hex digits
// for everything but xchar (s is ASCII: ENVID is checked printable, and
// an ORCPT goes as xtext only when ASCII).
func xtext(s string) string {
	var b strings.Builder
	for _, r := range s {
		if xchar(r) {
			b.WriteRune(r)
			continue
		}
		fmt.Fprintf(&b, "+%02X", r)
	}
	return b.String()
}

// utf8Addr is RFC 6533's utf-8-addr-xtext: "\x{HEX}" for every
// character that is not an xchar; with unitext (a server that takes
// UTF-8), utf-8-addr-unitext: non-ASCII characters stay as they are.
func utf8Addr(s string, unitext bool) string {
	var b strings.Builder
	for _, r := range s {
		if xchar(r) || unitext && r > 0x7f {
			b.WriteRune(r)
			continue
		}
		b.WriteString(`\x{`)
		b.WriteString(strings.ToUpper(strconv.FormatInt(int64(r), 16)))
		b.WriteByte('}')
	}
	return b.String()
}
