package report

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeORCPT decodes an Original-Recipient value "type; address". For
// "rfc822" the address is xtext (RFC 3461 section 4); for the RFC 6533 types
// "utf-8" and "utf-8-addr-xtext"/"utf-8-addr-unitext" it may also hold
// \x{HHHH} escapes.
func decodeORCPT(v string) string {
	typ, addr := splitTyped(v)
	addr = decodeXtext(addr)
	switch strings.ToLower(typ) {
	case "utf-8", "utf-8-addr-xtext", "utf-8-addr-unitext":
		addr = decodeUnitext(addr)
	}
	return cleanAddress(addr)
}

// decodeXtext undoes xtext's "+HH" escapes (RFC 3461 section 4). Invalid
// escapes are kept as they are: the value came from someone else's server.
func decodeXtext(s string) string {
	if !strings.Contains(s, "+") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '+' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}

// decodeUnitext undoes the \x{HHHH} escapes of RFC 6533 section 3
// (utf-8-addr-unitext and utf-8-addr-xtext).
func decodeUnitext(s string) string {
	if !strings.Contains(s, `\x{`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], `\x{`) {
			if j := strings.IndexByte(s[i:], '}'); j > 3 && j <= 3+6 {
				if n, err := strconv.ParseUint(s[i+3:i+j], 16, 32); err == nil && utf8.ValidRune(rune(n)) {
					b.WriteRune(rune(n))
					i += j + 1
					continue
				}
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
