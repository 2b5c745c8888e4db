package report

import (
	"net/mail"
	"regexp"
	"strings"
	"time"

	gomessage "github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// TrackingHeader is the header Mailroom puts on every copy it sends; when a
// report returns the original headers, its value ties the report to the
// copy even without ENVID.
const TrackingHeader = "X-Mailroom-Tracking-Id"

// fillHeaderFields copies what the report message's own header says.
func fillHeaderFields(rep *Report, h textproto.Header) {
	mh := gomail.Header{Header: gomessage.Header{Header: h}}
	if s, err := mh.Subject(); err == nil {
		rep.Subject = cleanText(s, 998)
	} else {
		rep.Subject = cleanText(h.Get("Subject"), 998)
	}
	rep.From = firstAddress(h, "From")
	rep.Date = parseDate(h.Get("Date"))
	rep.MessageID = firstMsgID(h.Get("Message-Id"))
	rep.InReplyTo = firstMsgID(h.Get("In-Reply-To"))
	rep.References = msgIDs(h.Get("References"))
	as := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted")))
	rep.AutoReply = as != "" && !strings.HasPrefix(as, "no") || h.Get("X-Autoreply") != "" || h.Get("X-Autorespond") != ""
}

// fillReturned takes the returned message's keys from the first returned
// header block that has them.
func fillReturned(rep *Report, m *message) {
	for _, rh := range m.returned {
		if rep.ReturnedMessageID == "" {
			rep.ReturnedMessageID = firstMsgID(rh.Get("Message-Id"))
		}
		if rep.TrackingID == "" {
			rep.TrackingID = cleanText(rh.Get(TrackingHeader), 200)
		}
	}
}

// firstAddress returns the bare address of the first mailbox in a header
// field, parsing leniently.
func firstAddress(h textproto.Header, key string) string {
	mh := gomail.Header{Header: gomessage.Header{Header: h}}
	if l, err := mh.AddressList(key); err == nil && len(l) > 0 {
		return l[0].Address
	}
	if a := findAddresses(h.Get(key)); len(a) > 0 {
		return a[0]
	}
	return ""
}

var msgIDRe = regexp.MustCompile(`<[^<>\s]+>`)

// firstMsgID returns the first <msg-id> of a field, or the trimmed value
// when it has no angle brackets (some mailers drop them).
func firstMsgID(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if m := msgIDRe.FindString(v); m != "" {
		return m
	}
	if f := strings.Fields(v); len(f) > 0 && strings.Contains(f[0], "@") && len(f[0]) < 250 {
		return "<" + f[0] + ">"
	}
	return ""
}

func msgIDs(v string) []string {
	ids := msgIDRe.FindAllString(v, 50)
	if len(ids) == 0 {
		return nil
	}
	return ids
}

var parenCommentRe = regexp.MustCompile(`\([^()]*\)`)

// parseDate parses RFC 5322 dates and the sloppier forms seen in reports.
func parseDate(v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	// The usual form first: mail.ParseDate tries its layouts in turn, and
	// each miss allocates an error.
	if t, err := time.Parse(time.RFC1123Z, v); err == nil {
		return t
	}
	if t, err := mail.ParseDate(v); err == nil {
		return t
	}
	s := strings.TrimSpace(parenCommentRe.ReplaceAllString(v, ""))
	if t, err := mail.ParseDate(s); err == nil {
		return t
	}
	for _, layout := range []string{
		"Mon, 2 Jan 2006 15:04:05 -0700 MST",
		"Mon, 2 Jan 2006 15:04:05 MST",
		"Mon, 2 Jan 2006 15:04:05",
		"2 Jan 2006 15:04:05 -0700",
		"Mon Jan 2 15:04:05 2006",
		"Mon Jan 2 15:04:05 MST 2006",
		time.RFC3339,
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// cleanText unfolds and trims a header or diagnostic value: line breaks
// and runs of blanks become one space; control characters are dropped.
func cleanText(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case r == ' ' || r == '\t' || r == '\r' || r == '\n':
			space = true
			continue
		case r < 0x20 || r == 0x7f:
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
		if b.Len() >= max {
			break
		}
	}
	out := b.String()
	if len(out) > max {
		out = strings.ToValidUTF8(out[:max], "")
	}
	return out
}
