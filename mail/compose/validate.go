package compose

import (
	"errors"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"mailroom/mail"
)

// Limits on user-supplied header text. They keep every header line under
// the 998-octet limit without relying on folding tricks, and are far above
// anything a person types.
const (
	maxSubject     = 900 // octets, before RFC 2047 encoding
	maxDisplayName = 200
	maxHeaderValue = 900
	maxFileName    = 255
	maxContentType = 200
	maxHeaderName  = 76
	maxMsgID       = 250
)

// FieldError is one problem with one field of a draft, worded for the
// compose window. Field is one of: from, to, cc, bcc, subject, text, html,
// format, attachments, headers, in-reply-to, references, date, message-id,
// tracking-id.
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate checks what the user typed, field by field, and returns every
// problem found (nil when the draft can be sent). It does not check Date or
// MessageID, which are set at enqueue; Build does.
func Validate(d Draft) []FieldError {
	var errs []FieldError
	add := func(field, format string, args ...any) {
		errs = append(errs, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	if d.From.Address == "" {
		add("from", "choose the sender address")
	} else if err := checkAddress(d.From); err != nil {
		add("from", "%v", err)
	}
	lists := []struct {
		field string
		addrs []mail.Address
	}{{"to", d.To}, {"cc", d.Cc}, {"bcc", d.Bcc}}
	n := 0
	for _, l := range lists {
		for _, a := range l.addrs {
			n++
			if err := checkAddress(a); err != nil {
				add(l.field, "%v", err)
			}
		}
	}
	if n == 0 {
		add("to", "add at least one recipient (To, Cc or Bcc)")
	}

	if err := checkHeaderText(d.Subject, maxSubject); err != nil {
		add("subject", "%v", err)
	}

	if !utf8.ValidString(d.Text) {
		add("text", "the text is not valid UTF-8; save it as UTF-8 and try again")
	}
	switch d.Format {
	case "", FormatPlain, FormatMarkdown:
		if d.HTML != "" {
			add("html", "an HTML body is sent only when the format is html")
		}
	case FormatHTML:
		if strings.TrimSpace(d.HTML) == "" {
			add("html", "the HTML body is empty")
		} else if !utf8.ValidString(d.HTML) {
			add("html", "the HTML body is not valid UTF-8")
		}
	default:
		add("format", "unknown format %q (plain, markdown or html)", d.Format)
	}

	cids := map[string]bool{}
	for i, a := range d.Attachments {
		if err := checkAttachment(a); err != nil {
			add("attachments", "attachment %d (%q): %v", i+1, printable(a.Name), err)
			continue
		}
		if a.Inline {
			cid := trimCID(a.ContentID)
			if cids[cid] {
				add("attachments", "attachment %d (%q): content ID %q is used twice", i+1, a.Name, cid)
			}
			cids[cid] = true
		}
	}

	if d.InReplyTo != "" {
		if err := checkMsgID(d.InReplyTo); err != nil {
			add("in-reply-to", "%v", err)
		}
	}
	for _, r := range d.References {
		if err := checkMsgID(r); err != nil {
			add("references", "%v", err)
		}
	}
	for _, h := range d.Headers {
		if err := checkExtraHeader(h); err != nil {
			add("headers", "%v", err)
		}
	}
	return errs
}

// validateForBuild adds what Build needs beyond Validate and folds all
// problems into one error.
func validateForBuild(d Draft, opt CopyOptions) error {
	fes := Validate(d)
	if d.Date.IsZero() {
		fes = append(fes, FieldError{"date", "the Date is not set (it is fixed at enqueue)"})
	}
	if d.MessageID == "" {
		fes = append(fes, FieldError{"message-id", "the Message-ID is not set (it is fixed at enqueue, see NewMessageID)"})
	} else if err := checkMsgID(d.MessageID); err != nil {
		fes = append(fes, FieldError{"message-id", err.Error()})
	}
	if opt.TrackingID != "" {
		if err := checkToken(opt.TrackingID, maxMsgID); err != nil {
			fes = append(fes, FieldError{"tracking-id", err.Error()})
		}
	}
	for _, h := range opt.ExtraHeaders {
		if err := checkExtraHeader(h); err != nil {
			fes = append(fes, FieldError{"headers", err.Error()})
		}
	}
	if len(fes) == 0 {
		return nil
	}
	errs := make([]error, len(fes))
	for i, fe := range fes {
		errs[i] = fe
	}
	return errors.Join(errs...)
}

// checkHeaderText refuses what must never reach a header: C0 control
// characters other than tab (CR and LF would start a new header line, NUL
// truncates in C-based software), DEL, invalid UTF-8, and excessive length.
func checkHeaderText(s string, max int) error {
	if !utf8.ValidString(s) {
		return errors.New("is not valid UTF-8")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return fmt.Errorf("contains a control character (%s at byte %d); line breaks and other control characters are not allowed here", controlName(c), i)
		}
	}
	if len(s) > max {
		return fmt.Errorf("is too long (%d bytes, at most %d)", len(s), max)
	}
	return nil
}

func controlName(c byte) string {
	switch c {
	case '\r':
		return "CR"
	case '\n':
		return "LF"
	case 0:
		return "NUL"
	case 0x7f:
		return "DEL"
	}
	return fmt.Sprintf("0x%02X", c)
}

// checkAddress validates an Address that may have been built by hand
// rather than by mail.ParseAddress.
func checkAddress(a mail.Address) error {
	if err := checkHeaderText(a.Name, maxDisplayName); err != nil {
		return fmt.Errorf("the name of %q %v", printable(a.Address), err)
	}
	if err := checkHeaderText(a.Address, 254); err != nil {
		return fmt.Errorf("the address %q %v", printable(a.Address), err)
	}
	if _, err := normalizeAddress(a); err != nil {
		return err
	}
	return nil
}

// normalizeAddress re-parses the addr-spec (so "a@b, c@d" smuggled into one
// Address is refused) and returns the address to put in headers.
func normalizeAddress(a mail.Address) (mail.Address, error) {
	p, err := mail.ParseAddress(a.Address)
	if err != nil {
		return mail.Address{}, err
	}
	if p.Name != "" {
		// "Name <addr>" typed into the address itself: keep both apart.
		return mail.Address{}, fmt.Errorf("%q: put the name in the name, not the address", a.Address)
	}
	return mail.Address{Name: a.Name, Address: p.Address}, nil
}

func checkAttachment(a Attachment) error {
	if a.Name == "" {
		return errors.New("has no file name")
	}
	if err := checkHeaderText(a.Name, maxFileName); err != nil {
		return fmt.Errorf("the file name %v", err)
	}
	if a.ContentType != "" {
		if err := checkHeaderText(a.ContentType, maxContentType); err != nil {
			return fmt.Errorf("the content type %v", err)
		}
		if needsEncoding(a.ContentType) {
			return fmt.Errorf("content type %q must be plain ASCII", a.ContentType)
		}
		mt, _, err := mime.ParseMediaType(a.ContentType)
		if err != nil {
			return fmt.Errorf("content type %q: %v", a.ContentType, err)
		}
		if strings.HasPrefix(mt, "multipart/") || strings.HasPrefix(mt, "message/") {
			return fmt.Errorf("content type %q cannot be attached as a file", mt)
		}
	}
	switch {
	case a.Data == nil && a.Open == nil:
		return errors.New("has no content (neither Data nor Open)")
	case a.Data != nil && a.Open != nil:
		return errors.New("has both Data and Open")
	}
	if a.Inline {
		if a.ContentID == "" {
			return errors.New("is inline but has no content ID to reference it by")
		}
		if err := checkToken(trimCID(a.ContentID), maxMsgID); err != nil {
			return fmt.Errorf("content ID %v", err)
		}
	}
	return nil
}

func trimCID(s string) string { return strings.TrimSuffix(strings.TrimPrefix(s, "<"), ">") }

// checkToken accepts printable ASCII without spaces or the characters that
// delimit msg-ids and quoted strings: enough for tracking IDs and
// Content-IDs, which are machine-made.
func checkToken(s string, max int) error {
	if s == "" {
		return errors.New("is empty")
	}
	if len(s) > max {
		return fmt.Errorf("is too long (%d bytes, at most %d)", len(s), max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`<>"\()[],;:`, c) >= 0 {
			return fmt.Errorf("%q has a character that is not allowed (%q)", printable(s), c)
		}
	}
	return nil
}

// checkMsgID accepts "<left@right>" with dot-atom-text halves (RFC 5322
// section 3.6.4), the form every Message-ID Mailroom makes has.
func checkMsgID(s string) error {
	if len(s) > maxMsgID {
		return fmt.Errorf("%q is too long", printable(s))
	}
	if len(s) < 5 || s[0] != '<' || s[len(s)-1] != '>' {
		return fmt.Errorf("%q is not a message ID of the form <id@host>", printable(s))
	}
	left, right, ok := strings.Cut(s[1:len(s)-1], "@")
	if !ok || !isDotAtom(left) || !isDotAtom(right) {
		return fmt.Errorf("%q is not a message ID of the form <id@host>", printable(s))
	}
	return nil
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// ownedHeaders are written by Build from Draft fields; accepting them as
// extra headers would duplicate or contradict those (and Bcc must never be
// written at all).
var ownedHeaders = map[string]bool{
	"date": true, "message-id": true, "from": true, "to": true, "cc": true,
	"bcc": true, "subject": true, "mime-version": true, "in-reply-to": true,
	"references": true, strings.ToLower(TrackingHeader): true,
	"return-path": true, "received": true,
}

func checkExtraHeader(h HeaderField) error {
	if h.Name == "" || len(h.Name) > maxHeaderName {
		return fmt.Errorf("header name %q must be 1 to %d characters", printable(h.Name), maxHeaderName)
	}
	for i := 0; i < len(h.Name); i++ {
		// RFC 5322 section 2.2: printable US-ASCII except colon.
		if c := h.Name[i]; c < '!' || c > '~' || c == ':' {
			return fmt.Errorf("header name %q has a character that is not allowed", printable(h.Name))
		}
	}
	lower := strings.ToLower(h.Name)
	if ownedHeaders[lower] || strings.HasPrefix(lower, "content-") || strings.HasPrefix(lower, "resent-") {
		return fmt.Errorf("header %s is set by Mailroom itself and cannot be added", h.Name)
	}
	if err := checkHeaderText(h.Value, maxHeaderValue); err != nil {
		return fmt.Errorf("the value of header %s %v", h.Name, err)
	}
	return nil
}

// printable makes a user string safe to quote in an error message.
func printable(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
