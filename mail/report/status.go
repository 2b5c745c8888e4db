package report

import (
	"strconv"
	"strings"
)

// Status codes and SMTP reply codes found in free text.
//
// RFC 3463 section 2: status-code = class "." subject "." detail, with class
// 2, 4 or 5, subject 0-7 (defined so far) and detail 0-999.

// statusAt reports whether an enhanced status code starts at s[i] and
// returns it with its length. The code must stand alone: not part of an IP
// address, a version number or a longer digit run.
func statusAt(s string, i int) (string, int) {
	if i > 0 {
		p := s[i-1]
		if p == '.' || isDigit(p) || isAlpha(p) {
			return "", 0
		}
	}
	if i+5 > len(s) || (s[i] != '2' && s[i] != '4' && s[i] != '5') || s[i+1] != '.' {
		return "", 0
	}
	j := i + 2
	k := j
	for k < len(s) && isDigit(s[k]) && k-j < 3 {
		k++
	}
	if k == j || k >= len(s) || s[k] != '.' {
		return "", 0
	}
	subject, _ := strconv.Atoi(s[j:k])
	if subject > 7 {
		return "", 0
	}
	d := k + 1
	e := d
	for e < len(s) && isDigit(s[e]) && e-d < 4 {
		e++
	}
	if e == d || e-d > 3 {
		return "", 0
	}
	// Reject "5.1.1.2" and "5.1.10x" style continuations.
	if e < len(s) {
		n := s[e]
		if isDigit(n) || isAlpha(n) || n == '.' && e+1 < len(s) && isDigit(s[e+1]) {
			return "", 0
		}
	}
	code := s[i:j] + strconv.Itoa(subject) + "." + strings.TrimLeft(s[d:e], "0")
	if strings.HasSuffix(code, ".") {
		code += "0"
	}
	return code, e - i
}

// findStatuses returns the enhanced status codes in s, in order.
func findStatuses(s string, max int) []string {
	var out []string
	for i := 0; i+5 <= len(s) && len(out) < max; i++ {
		if s[i] != '2' && s[i] != '4' && s[i] != '5' {
			continue
		}
		if c, n := statusAt(s, i); n > 0 {
			out = append(out, c)
			i += n - 1
		}
	}
	return out
}

// findStatus returns the first failure code (4.x.x or 5.x.x) in s, or the
// first success code when there is no failure code.
func findStatus(s string) string {
	all := findStatuses(s, 20)
	for _, c := range all {
		if c[0] != '2' {
			return c
		}
	}
	if len(all) > 0 {
		return all[0]
	}
	return ""
}

// looseStatus accepts a Status field value that is not a well-formed code
// but still says its class ("5.0", "550", "5").
func looseStatus(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	switch v[0] {
	case '2', '4', '5':
		return v[:1] + ".0.0"
	}
	return ""
}

// replyAt reports whether an SMTP reply code (RFC 5321 section 4.2) starts
// at s[i]: three digits, the first 2, 4 or 5, the second 0-5, standing alone
// and followed by a space, a hyphen, a bracket or the end.
func replyAt(s string, i int) int {
	if i+3 > len(s) {
		return 0
	}
	if i > 0 {
		p := s[i-1]
		if isDigit(p) || isAlpha(p) || p == '.' || p == '#' || p == '/' || p == '-' || p == '+' || p == '=' || p == '_' || p == '%' || p == '$' {
			return 0
		}
		if p == ':' && i > 1 && isDigit(s[i-2]) {
			return 0 // a time such as 12:550
		}
	}
	a, b, c := s[i], s[i+1], s[i+2]
	if (a != '2' && a != '4' && a != '5') || b < '0' || b > '5' || !isDigit(c) {
		return 0
	}
	if i+3 < len(s) {
		n := s[i+3]
		if !(n == ' ' || n == '-' || n == '\t' || n == '\r' || n == '\n' || n == ')' || n == ']' || n == '"' || n == '\'' || n == ',') {
			return 0
		}
		// "550-" must be followed by text, not a date like 550-12-01.
		if n == '-' && i+4 < len(s) && isDigit(s[i+4]) && !(i+5 < len(s) && s[i+5] == '.') {
			return 0
		}
	}
	return int(a-'0')*100 + int(b-'0')*10 + int(c-'0')
}

// findReplyCode returns the first failure reply code in s (4xx or 5xx),
// or, when class is given ('2', '4' or '5'), the first code of that class.
func findReplyCode(s string, class byte) int {
	first := 0
	for i := 0; i+3 <= len(s); i++ {
		if s[i] != '2' && s[i] != '4' && s[i] != '5' {
			continue
		}
		code := replyAt(s, i)
		if code == 0 {
			continue
		}
		// A reply code followed by a year-like or tiny number is likely
		// something else ("in 450 days"); require text or a status after.
		if class != 0 {
			if byte('0'+code/100) == class {
				return code
			}
			continue
		}
		if code >= 400 {
			return code
		}
		if first == 0 {
			first = code
		}
		i += 2
	}
	if class == '2' {
		return first
	}
	return 0
}

// classDigit returns the class digit of a status code, or 0.
func classDigit(status string) byte {
	if status == "" {
		return 0
	}
	return status[0]
}

// preferStatus chooses between the Status field and the code quoted in the
// diagnostic. The field is what the reporting MTA decided; the quoted code
// is what the remote server said, and is more specific when the field is a
// generic X.0.0 or X.Y.0, or when only the quoted code agrees with the
// reply code's class.
func preferStatus(field, inText string, reply int) string {
	if field == "" {
		return inText
	}
	if inText == "" || field == inText {
		return field
	}
	if reply > 0 {
		rc := byte('0' + reply/100)
		if field[0] != rc && inText[0] == rc {
			return inText
		}
		if field[0] == rc && inText[0] != rc {
			return field
		}
	}
	if field[0] != inText[0] {
		return field
	}
	fs, ts := specificity(field), specificity(inText)
	switch {
	case ts > fs:
		return inText
	case fs > ts:
		return field
	case field[1:] == ".4.7" || field[2:] == "4.7":
		// "delivery time expired" says only that retrying stopped; the
		// remote reply says why.
		return inText
	case strings.HasPrefix(field[1:], ".1.1") && strings.HasPrefix(inText[1:], ".7."):
		// A reporter mapping every 550 to X.1.1 while the remote server
		// said it was a policy rejection.
		return inText
	}
	return field
}

// specificity ranks X.0.0 below X.Y.0 below X.Y.Z.
func specificity(code string) int {
	switch {
	case strings.HasSuffix(code, ".0.0"):
		return 0
	case strings.HasSuffix(code, ".0"):
		return 1
	}
	return 2
}

// statusFromText gives a class-level status when neither a Status field
// nor a quoted code is known: from the reply code, or from the action.
func statusFromText(action string, reply int, diag string) string {
	switch {
	case reply >= 500:
		return "5.0.0"
	case reply >= 400:
		return "4.0.0"
	case reply >= 200 && reply < 300:
		return "2.0.0"
	}
	switch action {
	case "delivered", "relayed", "expanded":
		return "2.0.0"
	case "delayed":
		return "4.0.0"
	case "failed":
		if soundsTemporary(diag) {
			return "4.0.0"
		}
		return "5.0.0"
	}
	return ""
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
