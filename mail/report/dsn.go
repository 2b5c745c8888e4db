package report

import (
	"bytes"
	"strings"
)

// field is one "Name: value" line of a report body, unfolded.
type field struct {
	name  string // lower-case
	value string
	group int // index of the blank-line separated group it came from
}

// parseFields reads the header-like body of a message/delivery-status or
// message/disposition-notification part (RFC 3464 section 2.1): groups of
// fields separated by blank lines, with folded continuation lines. Lines
// that are not fields are skipped.
func parseFields(body []byte) []field {
	var out []field
	group := 0
	inGroup := false
	for _, raw := range bytes.Split(body, []byte("\n")) {
		line := strings.TrimRight(string(raw), "\r")
		if strings.TrimSpace(line) == "" {
			if inGroup {
				group++
				inGroup = false
			}
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 && out[len(out)-1].group == group && inGroup {
			out[len(out)-1].value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || !validFieldName(name) {
			continue
		}
		inGroup = true
		out = append(out, field{name: strings.ToLower(name), value: strings.TrimSpace(value), group: group})
	}
	return out
}

// parseDSN fills the report from its delivery-status parts (RFC 3464
// section 2.2 per-message and 2.3 per-recipient fields; RFC 6533 for the
// global form).
func parseDSN(rep *Report, m *message) {
	rep.Kind = KindDSN
	for _, body := range m.dsn {
		rep.Recipients = append(rep.Recipients, dsnRecipients(rep, parseFields(body))...)
	}
	if len(rep.Recipients) > maxRecipients {
		rep.Recipients = rep.Recipients[:maxRecipients]
	}
	if len(rep.Recipients) == 0 {
		// A report part without recipient fields: the text part may still
		// say who failed.
		nonStandardRecipients(rep, m)
	}
	// Some reporters leave Diagnostic-Code out and write the remote reply
	// only in the human-readable part; others write there which SMTP
	// command failed ("in reply to end of DATA command").
	texts := textBlocks(m)
	for i := range rep.Recipients {
		rc := &rep.Recipients[i]
		text := texts[strings.ToLower(rc.Address)]
		if rc.Diagnostic == "" || isBareStatusText(rc.Diagnostic) {
			rc.Diagnostic = strings.TrimSpace(rc.Diagnostic + " " + text)
		}
		if rc.Command = smtpCommand(rc.Diagnostic); rc.Command == "" {
			rc.Command = smtpCommand(text)
		}
	}
}

// dsnRecipients walks the fields in order. A new recipient starts at a
// group boundary or when a recipient field repeats within a group (some
// reporters omit the blank lines).
func dsnRecipients(rep *Report, fields []field) []Recipient {
	var out []Recipient
	var cur *Recipient
	curGroup := -1
	has := map[string]bool{}
	start := func(g int) {
		out = append(out, Recipient{})
		cur = &out[len(out)-1]
		curGroup = g
		has = map[string]bool{}
	}
	for _, f := range fields {
		switch f.name {
		case "reporting-mta":
			if rep.ReportingMTA == "" {
				rep.ReportingMTA = cleanText(typedValue(f.value), 255)
			}
			continue
		case "original-envelope-id":
			if rep.EnvelopeID == "" {
				rep.EnvelopeID = cleanText(decodeXtext(f.value), 255)
			}
			continue
		case "arrival-date":
			if rep.ArrivalDate.IsZero() {
				rep.ArrivalDate = parseDate(f.value)
			}
			continue
		case "original-recipient", "final-recipient", "action", "status", "remote-mta",
			"diagnostic-code", "last-attempt-date", "will-retry-until", "x-actual-recipient":
		default:
			continue
		}
		repeat := has[f.name] && (f.name == "final-recipient" || f.name == "original-recipient" || f.name == "action" || f.name == "status")
		if cur == nil || f.group != curGroup || repeat {
			start(f.group)
		}
		has[f.name] = true
		switch f.name {
		case "final-recipient":
			cur.Address = recipientAddress(f.value)
		case "x-actual-recipient":
			if cur.Address == "" {
				cur.Address = recipientAddress(f.value)
			}
		case "original-recipient":
			cur.OriginalRecipient = decodeORCPT(f.value)
		case "action":
			cur.Action = strings.ToLower(strings.Fields(f.value + " x")[0])
		case "status":
			cur.Status = findStatus(f.value)
			if cur.Status == "" {
				cur.Status = looseStatus(f.value)
			}
		case "remote-mta":
			cur.RemoteMTA = cleanText(typedValue(f.value), 255)
		case "diagnostic-code":
			typ, text := splitTyped(f.value)
			cur.DiagnosticType = strings.ToLower(cleanText(typ, 40))
			cur.Diagnostic = text
		case "last-attempt-date":
			cur.LastAttemptDate = parseDate(f.value)
		case "will-retry-until":
			cur.WillRetryUntil = parseDate(f.value)
		}
	}
	// Drop groups that carried no recipient at all (stray fields).
	kept := out[:0]
	for _, rc := range out {
		if rc.Address == "" && rc.OriginalRecipient != "" {
			rc.Address = rc.OriginalRecipient
		}
		if rc.Address == "" && rc.Action == "" && rc.Status == "" {
			continue
		}
		if rc.Action == "" && rc.Status == "" {
			// A recipient listed in a delivery report with nothing else
			// said about it did not get its message.
			rc.Action = "failed"
		}
		kept = append(kept, rc)
	}
	return kept
}

// splitTyped splits "type; value" (RFC 3464 typed fields).
func splitTyped(v string) (typ, text string) {
	t, rest, ok := strings.Cut(v, ";")
	if !ok || strings.ContainsAny(strings.TrimSpace(t), " <>@") {
		return "", strings.TrimSpace(v)
	}
	return strings.TrimSpace(t), strings.TrimSpace(rest)
}

func typedValue(v string) string {
	_, text := splitTyped(v)
	return text
}

// recipientAddress returns the address of a Final-Recipient style field:
// "rfc822; bob@example.test", "utf-8; bob@example.test", or the bare
// address that some reporters write.
func recipientAddress(v string) string {
	typ, text := splitTyped(v)
	if strings.EqualFold(typ, "utf-8") {
		text = decodeUnitext(text)
	}
	return cleanAddress(text)
}

// cleanAddress strips the decoration around an address: angle brackets,
// quotes, a trailing dot or comment.
func cleanAddress(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			s = s[i+1 : i+j]
		}
	}
	if f := strings.Fields(s); len(f) > 0 {
		s = f[0]
	}
	s = strings.Trim(s, `<>"'().,;:[]`)
	if strings.HasPrefix(strings.ToLower(s), "mailto:") {
		s = s[len("mailto:"):]
	}
	return cleanText(s, 320)
}

// isBareStatusText reports diagnostics that say nothing beyond a code.
func isBareStatusText(s string) bool {
	s = strings.TrimSpace(s)
	return len(s) < 12 && findStatus(s) != "" || s == ""
}
