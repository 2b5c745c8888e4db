package compose

import (
	netmail "net/mail"
	"strings"
	"unicode/utf8"
)

// Encoded words are kept to 62 octets: with a field name such as
// "Subject: " in front, every line that holds one stays within the 76
// characters RFC 2047 section 2 allows such lines. (mime.QEncoding, which
// go-message uses, writes words of up to 75 octets; after the field name
// those overflow, and go-message then falls back to lines of up to 998.)
const (
	wordPrefix  = "=?utf-8?q?"
	wordSuffix  = "?="
	wordPayload = 62 - len(wordPrefix) - len(wordSuffix)
)

// encodeText formats unstructured header text (Subject, extra headers):
// ASCII words stay readable, runs of words that need it become RFC 2047
// encoded words. A word that merely looks like an encoded word ("=?...")
// is encoded too, so a recipient's client shows what the user typed.
func encodeText(s string) string {
	if !needsEncoding(s) {
		return s
	}
	var out strings.Builder
	tokens := splitSpace(s) // word, space, word, space, ...
	for i := 0; i < len(tokens); {
		t := tokens[i]
		if isSpaceToken(t) || !needsEncoding(t) {
			out.WriteString(t)
			i++
			continue
		}
		// Gather this word and any following words needing encoding,
		// with the spaces between them: white space between two encoded
		// words is dropped by decoders, so it must travel inside them.
		run := t
		j := i + 1
		for j+1 < len(tokens) && needsEncoding(tokens[j+1]) {
			run += tokens[j] + tokens[j+1]
			j += 2
		}
		out.WriteString(encodeWords(run))
		i = j
	}
	return out.String()
}

// encodeWords encodes all of s as Q encoded words, separated by a space
// (which decoders drop), none splitting a UTF-8 sequence. Only characters
// allowed unencoded in a phrase (RFC 2047 section 5 rule 3) stay literal, so
// the result is safe in Subject, display names and quoted parameters alike.
func encodeWords(s string) string {
	var out, word strings.Builder
	flush := func() {
		if word.Len() == 0 {
			return
		}
		if out.Len() > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(wordPrefix + word.String() + wordSuffix)
		word.Reset()
	}
	for _, r := range s {
		var enc strings.Builder
		var buf [utf8.UTFMax]byte
		for _, c := range buf[:utf8.EncodeRune(buf[:], r)] {
			switch {
			case c == ' ':
				enc.WriteByte('_')
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("!*+-/", c) >= 0:
				enc.WriteByte(c)
			default:
				enc.WriteByte('=')
				enc.WriteByte("0123456789ABCDEF"[c>>4])
				enc.WriteByte("0123456789ABCDEF"[c&15])
			}
		}
		if word.Len()+enc.Len() > wordPayload {
			flush()
		}
		word.WriteString(enc.String())
	}
	flush()
	return out.String()
}

// needsEncoding: anything but printable ASCII and white space, or text that
// a decoder would take for an encoded word.
func needsEncoding(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c > '~' {
			return true
		}
	}
	return strings.Contains(s, "=?")
}

func splitSpace(s string) []string {
	var tokens []string
	for len(s) > 0 {
		sp := s[0] == ' ' || s[0] == '\t'
		i := 1
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') == sp {
			i++
		}
		tokens = append(tokens, s[:i])
		s = s[i:]
	}
	return tokens
}

func isSpaceToken(t string) bool { return t != "" && (t[0] == ' ' || t[0] == '\t') }

// formatAddress writes one mailbox. Names in plain ASCII are quoted by
// net/mail as needed; others become encoded words as a whole, so a comma or
// angle bracket inside a name can never split the address list.
func formatAddress(name, addr string) string {
	if name == "" || !needsEncoding(name) {
		return (&netmail.Address{Name: name, Address: addr}).String()
	}
	return encodeWords(name) + " " + (&netmail.Address{Address: addr}).String()
}
