package report

import (
	"regexp"
	"strings"
)

// Non-standard bounces: plain-text notices in the many layouts that mail
// systems use instead of (or beside) RFC 3464. The approach is structural:
//
//  1. decide from headers and wording that the message is a bounce;
//  2. cut off the returned copy of the original message;
//  3. find "anchor" lines that name a failed recipient (the address alone
//     on a line, "<addr>:", "addr... reason", "550 5.1.1 <addr>...",
//     "addr on <date>", "Recipient: addr", X-Failed-Recipients);
//  4. take the text after each anchor, up to the next one, as that
//     recipient's diagnostic and read the codes and words in it.

// bounceSubjects are subject fragments of delivery failure notices.
var bounceSubjects = []string{
	"undeliver", "undelivered", "delivery status notification", "failure notice", "mail delivery failed",
	"returned mail", "delivery failure", "delivery failed", "could not be delivered", "nondeliverable",
	"non-deliverable", "non-delivery", "non delivery", "delivery has failed", "returned to sender",
	"delivery notification", "could not send message", "delayed mail", "mail delivery system",
	"delivery problem", "not delivered", "mail system error", "rejected", "bounce", "unzustellbar",
	"delivery report", "failed delivery", "mail failure", "error sending", "message delayed",
	"delivery delayed", "permanent error", "returned message", "warning: message", "delivery error",
	"no se pudo entregar", "non remis", "failed mail", "message not delivered", "delivery notice",
}

// daemonLocalParts are the usual senders of bounces.
var daemonLocalParts = []string{"mailer-daemon", "mailer_daemon", "maildaemon", "mail-daemon", "postmaster", "mdaemon", "bounce", "mail.delivery", "mailerdaemon", "post_master", "nobody"}

// bounceBodyPhrases are unambiguous sentences of bounce texts. Lower case.
var bounceBodyPhrases = []string{
	"this is the qmail-send program", "could not be delivered", "delivery to the following recipient",
	"transcript of session follows", "this message was created automatically by mail delivery software",
	"delivery has failed to these recipients", "was not delivered to", "failed permanently",
	"the following addresses had permanent fatal errors", "the following recipient(s) could not be reached",
	"did not reach the following recipient", "unable to deliver", "undeliverable", "could not deliver",
	"permanent error", "i'm afraid i wasn't able to deliver", "message could not be delivered",
	"delivery failed", "mail delivery failed", "your message to", "couldn't be delivered",
	"wasn't delivered", "not be delivered", "has not been delivered", "could not be sent",
	"delivery to the following recipients failed", "the following message to", "failed to deliver",
	"giving up on", "delivery attempts will continue", "message delivery has been delayed",
	"remote host said", "smtp error from remote mail server", "diagnostic information for administrators",
	"remote server returned", "mailbox unavailable", "user unknown", "no such user",
}

// looksLikeBounce decides from structure and wording whether a message that
// has no RFC 3464 part is a delivery failure notice.
func looksLikeBounce(m *message) bool {
	h := m.header
	if m.contentType == "multipart/report" && !strings.Contains(m.reportType, "disposition") && !strings.Contains(m.reportType, "feedback") {
		return true
	}
	if h.Get("X-Failed-Recipients") != "" {
		return true
	}
	score := 0
	subject := strings.ToLower(h.Get("Subject"))
	if containsAny(subject, bounceSubjects) {
		score += 2
	}
	from := strings.ToLower(h.Get("From"))
	if containsAny(from, daemonLocalParts) || strings.Contains(from, "mail delivery") || strings.Contains(from, "delivery subsystem") {
		score += 2
	}
	if rp := strings.TrimSpace(h.Get("Return-Path")); rp == "<>" {
		score++
	}
	if as := strings.ToLower(h.Get("Auto-Submitted")); strings.HasPrefix(as, "auto-") {
		score++
	}
	body := strings.ToLower(strings.Join(m.texts, "\n"))
	if containsAny(body, bounceBodyPhrases) {
		score += 2
	}
	if h.Get("In-Reply-To") != "" && score < 4 {
		return false // a person's reply that quotes bounce words
	}
	return score >= 3
}

// parseNonStandard fills a bounce Report from the text.
func parseNonStandard(rep *Report, m *message) {
	rep.Kind = KindBounce
	nonStandardRecipients(rep, m)
}

// nonStandardRecipients finds the recipients of a text bounce.
func nonStandardRecipients(rep *Report, m *message) {
	notice, original := splitOriginal(strings.Join(m.texts, "\n"))
	if rep.ReturnedMessageID == "" || rep.TrackingID == "" {
		quotedKeys(rep, original)
	}
	action := "failed"
	if isDelayNotice(m.header.Get("Subject"), notice) {
		action = "delayed"
	}
	excluded := excludedAddresses(m)

	// A DSN written into the text part (no message/delivery-status part).
	if strings.Contains(strings.ToLower(notice), "final-recipient:") {
		tmp := &Report{}
		rcs := dsnRecipients(tmp, parseFields([]byte(notice)))
		if len(rcs) > 0 {
			if rep.EnvelopeID == "" {
				rep.EnvelopeID = tmp.EnvelopeID
			}
			if rep.ReportingMTA == "" {
				rep.ReportingMTA = tmp.ReportingMTA
			}
			if len(rcs) > maxRecipients {
				rcs = rcs[:maxRecipients]
			}
			blocks := map[string]string{}
			for _, b := range anchorBlocks(notice, excluded) {
				blocks[strings.ToLower(b.addr)] = strings.TrimSpace(b.text)
			}
			for i := range rcs {
				if rcs[i].Action == "" {
					rcs[i].Action = action
				}
				if rcs[i].Diagnostic == "" {
					rcs[i].Diagnostic = blocks[strings.ToLower(rcs[i].Address)]
				}
			}
			rep.Recipients = append(rep.Recipients, rcs...)
			return
		}
	}

	blocks := anchorBlocks(notice, excluded)
	if len(blocks) == 0 {
		// Bounces of a message sent to oneself name the bounce's own
		// recipient: try again excluding only senders.
		blocks = anchorBlocks(notice, senderAddresses(m))
	}
	// X-Failed-Recipients (Exim) lists every failed address: add those
	// the text did not name.
	named := map[string]bool{}
	for _, b := range blocks {
		named[strings.ToLower(b.addr)] = true
	}
	for _, a := range findAddresses(m.header.Get("X-Failed-Recipients")) {
		if k := strings.ToLower(a); !named[k] && len(blocks) < maxRecipients {
			named[k] = true
			blocks = append(blocks, block{addr: a})
		}
	}
	if len(blocks) == 0 {
		// Last resort: the returned message had a single recipient.
		for _, rh := range m.returned {
			if to := findAddresses(rh.Get("To") + "," + rh.Get("Cc")); len(to) == 1 {
				blocks = append(blocks, block{addr: to[0]})
				break
			}
		}
	}
	single := len(blocks) == 1
	for _, b := range blocks {
		diag := strings.TrimSpace(b.text)
		if single && findStatus(diag) == "" && findReplyCode(diag, 0) == 0 {
			// The codes are elsewhere in the notice (Gmail, Exchange).
			if whole := strings.TrimSpace(notice); whole != "" {
				diag = strings.TrimSpace(diag + "\n" + whole)
			}
		}
		rep.Recipients = append(rep.Recipients, Recipient{
			Address:    b.addr,
			Action:     action,
			Diagnostic: diag,
		})
	}
}

// originalMarkers start the returned copy of the original message.
var originalMarkerRe = regexp.MustCompile(`(?im)^[ \t>|-]*(?:-{2,}|={2,}|_{2,})?[ \t]*(?:this is a copy of the message|below this line is a copy of the message|original message follows|original message headers?|-+ ?original message ?-+|unsent message follows|message header follows|undelivered message follows|the original message headers? (?:are|is) (?:included|following|follows)|headers of the original message|copy of the original message|the original message was:|original message:|returned message follows|message headers follow|header of the original message|a copy of your message|your original message)`)

// originalMarkerWords: every alternative of originalMarkerRe contains one
// of these, so a text without any is not scanned with it.
var originalMarkerWords = []string{"copy of the message", "original message", "unsent message follows",
	"message header follows", "undelivered message follows", "returned message follows", "message headers follow",
	"copy of your message"}

// splitOriginal separates the notice from the returned original message.
func splitOriginal(text string) (notice, original string) {
	if lower, fold := foldForPrefilter(text); !fold || containsAny(lower, originalMarkerWords) {
		if loc := originalMarkerRe.FindStringIndex(text); loc != nil {
			return text[:loc[0]], text[loc[0]:]
		}
	}
	// An inline original without a marker line: a header block that
	// starts with Received/Return-Path after a blank line.
	// The pattern needs one of these field names, written as it spells
	// them (it is case-sensitive): do not scan a text without them.
	if strings.Contains(text, "Received:") || strings.Contains(text, "Return-Path:") || strings.Contains(text, "DKIM-Signature:") {
		if loc := inlineHeaderRe.FindStringIndex(text); loc != nil {
			return text[:loc[0]], text[loc[0]:]
		}
	}
	return text, ""
}

var inlineHeaderRe = regexp.MustCompile(`(?m)^\n?(?:Return-Path|Received|DKIM-Signature|X-Received):[^\n]*\n(?:[ \t][^\n]*\n)*[A-Za-z-]+:`)

var (
	quotedMsgIDRe    = regexp.MustCompile(`(?im)^[ \t>]*Message-ID:[ \t]*(<[^<>\s]+>)`)
	quotedTrackingRe = regexp.MustCompile(`(?im)^[ \t>]*` + regexp.QuoteMeta(TrackingHeader) + `:[ \t]*([^\r\n]+)`)
)

// quotedKeys reads Message-ID and our tracking header from a quoted copy.
func quotedKeys(rep *Report, original string) {
	if rep.ReturnedMessageID == "" {
		if m := quotedMsgIDRe.FindStringSubmatch(original); m != nil {
			rep.ReturnedMessageID = m[1]
		}
	}
	if rep.TrackingID == "" {
		if m := quotedTrackingRe.FindStringSubmatch(original); m != nil {
			rep.TrackingID = cleanText(m[1], 200)
		}
	}
}

// isDelayNotice reports a warning that delivery is still being retried.
func isDelayNotice(subject, notice string) bool {
	s := strings.ToLower(subject)
	if containsAny(s, []string{"delayed mail", "delivery delayed", "message delayed", "warning: could not send", "delivery status notification (delay)", "still being retried"}) {
		return true
	}
	n := strings.ToLower(notice)
	return containsAny(n, []string{"this is a warning message only", "will continue trying", "will keep trying", "will keep on trying",
		"delivery attempts will continue", "still trying to deliver", "no action is required on your part", "message delivery has been delayed",
		"has been delayed", "not yet been delivered"})
}

// senderAddresses are the addresses that sent the bounce or the original.
func senderAddresses(m *message) map[string]bool {
	ex := map[string]bool{}
	for _, a := range findAddresses(m.header.Get("From") + "," + m.header.Get("Sender")) {
		ex[strings.ToLower(a)] = true
	}
	for _, rh := range m.returned {
		for _, a := range findAddresses(rh.Get("From") + "," + rh.Get("Sender")) {
			ex[strings.ToLower(a)] = true
		}
	}
	return ex
}

// excludedAddresses are the addresses a bounce mentions that are not
// failed recipients: the bounce's own sender and recipient, and the
// original's sender.
func excludedAddresses(m *message) map[string]bool {
	ex := map[string]bool{}
	for _, k := range []string{"To", "Cc", "From", "Return-Path", "Reply-To", "Sender", "Delivered-To"} {
		for _, a := range findAddresses(m.header.Get(k)) {
			ex[strings.ToLower(a)] = true
		}
	}
	for _, rh := range m.returned {
		for _, k := range []string{"From", "Return-Path", "Sender", "Reply-To"} {
			for _, a := range findAddresses(rh.Get(k)) {
				ex[strings.ToLower(a)] = true
			}
		}
	}
	return ex
}

var addrRe = regexp.MustCompile(`[\p{L}\p{N}.!#$%&'*+/=?^_{|}~-]+@[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?(?:\.[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?)*`)

// findAddresses returns the addresses in s, in order.
func findAddresses(s string) []string {
	var out []string
	for _, a := range addrRe.FindAllString(s, 100) {
		a = strings.Trim(a, ".'")
		if strings.Count(a, "@") == 1 && !strings.HasPrefix(a, "@") {
			out = append(out, a)
		}
	}
	return out
}

func isDaemonAddress(a string) bool {
	local := strings.ToLower(a)
	if i := strings.IndexByte(local, '@'); i >= 0 {
		local = local[:i]
	}
	return local == "mailer-daemon" || local == "postmaster" || local == "mail-daemon" || local == "mailerdaemon"
}

// block is one recipient's part of a text bounce.
type block struct {
	addr string
	text string
}

// headerLineRe matches quoted header lines whose addresses are not failed
// recipients.
var headerLineRe = regexp.MustCompile(`(?i)^[ \t>]*(to|from|cc|bcc|subject|sent|date|reply-to|return-path|delivered-to|sender|received|x-[a-z0-9-]+|message-id|in-reply-to|references|envelope-to|by|for)[ \t]*:`)

// anchorRe finds an address that opens a recipient block: the line starts
// with it (optionally after a reply code, a status code, "<<<", a list
// marker or a label ending in ":"), and it is followed by the end of the
// line, ":", "...", a separator or a blank.
var anchorRe = regexp.MustCompile(`(?i)^[ \t>*\-•]*(?:<<<[ \t]*|>>>[ \t]*)?(?:[245]\d\d[ \t-]+)?(?:#?[245]\.\d{1,3}\.\d{1,3}[ \t]+)?(?:(?:original |final |failed |invalid |bad |unknown )?(?:recipient|recipients|address|addressed to|rcpt to|user|mailbox|e-mail|email)(?:\(s\))?(?: address(?:es)?)?[ \t]*[:=][ \t]*)?(?:rfc822;[ \t]*)?["'<(\[]*([^\s"'<>()\[\]:,;]+@[^\s"'<>()\[\]:,;]+?)[>"')\]]*[ \t]*(:|\.\.\.|,|;|$|[ \t])`)

// rcptToRe finds the address of a transcript's RCPT TO command anywhere in
// a line (">>> RCPT TO:<addr>", "In: RCPT TO:<addr>", "after RCPT TO:<addr>").
var rcptToRe = regexp.MustCompile(`(?i)\bRCPT TO:[ \t]*<([^\s<>@]+@[^\s<>]+)>`)

// tailAnchorRe finds an address that ends a line after a colon or after
// "to"/"for": "Mailbox exceeds allowed size: addr", "undeliverable to addr".
var tailAnchorRe = regexp.MustCompile(`(?i)(?::|\bto|\bfor)[ \t]*["'<]*([^\s"'<>()\[\]:,;]+@[^\s"'<>()\[\]:,;]+?)[>"']*[ \t.:]*$`)

// labelAnchorRe finds an address after a label anywhere in a line:
// "Address: <addr>", "Invalid final delivery userid: addr".
var labelAnchorRe = regexp.MustCompile(`(?i)\b(?:address|recipient|recipients|userid|user id|user|mailbox|rcpt)(?:\(s\))?[ \t]*:[ \t]*["'<]*([^\s"'<>()\[\]:,;]+@[^\s"'<>()\[\]:,;]+)`)

// anchorBlocks splits the notice into per-recipient blocks.
func anchorBlocks(notice string, excluded map[string]bool) []block {
	lines := strings.Split(strings.ReplaceAll(notice, "\r\n", "\n"), "\n")
	type anchor struct {
		line int
		addr string
		rest string
	}
	var anchors []anchor
	for i, l := range lines {
		// Every anchor pattern captures an address: a line without "@"
		// cannot hold one, and is not worth four regexps.
		if !strings.Contains(l, "@") || headerLineRe.MatchString(l) {
			continue
		}
		addr, rest := "", ""
		if m := anchorRe.FindStringSubmatchIndex(l); m != nil {
			addr, rest = l[m[2]:m[3]], l[m[3]:]
		} else if m := rcptToRe.FindStringSubmatchIndex(l); m != nil {
			addr, rest = l[m[2]:m[3]], l[m[1]:]
		} else if m := labelAnchorRe.FindStringSubmatchIndex(l); m != nil {
			addr, rest = l[m[2]:m[3]], l[:m[0]]+" "+l[m[1]:]
		} else if m := tailAnchorRe.FindStringSubmatchIndex(l); m != nil {
			addr, rest = l[m[2]:m[3]], l[:m[0]]
		} else {
			continue
		}
		addr = strings.Trim(addr, ".")
		if !strings.Contains(addr, "@") || strings.HasPrefix(addr, "@") || strings.HasSuffix(addr, "@") {
			continue
		}
		k := strings.ToLower(addr)
		if excluded[k] {
			continue
		}
		// postmaster@ is a recipient only when it stands alone on its
		// line (a list of failed addresses), not in "contact postmaster@".
		if isDaemonAddress(addr) && strings.TrimSpace(strings.Trim(strings.TrimSpace(rest), ">:")) != "" {
			continue
		}
		anchors = append(anchors, anchor{line: i, addr: addr, rest: rest})
	}
	var blocks []block
	var texts []*strings.Builder
	index := map[string]int{}
	for ai, a := range anchors {
		end := len(lines)
		if ai+1 < len(anchors) {
			end = anchors[ai+1].line
		}
		k := strings.ToLower(a.addr)
		j, seen := index[k]
		if !seen {
			if len(blocks) >= maxRecipients {
				continue
			}
			j = len(blocks)
			index[k] = j
			blocks = append(blocks, block{addr: a.addr})
			texts = append(texts, &strings.Builder{})
		}
		// The same address may be named again (a transcript after the
		// summary): its text joins the first block, up to a bound.
		b := texts[j]
		if b.Len() > 4*maxDiagnostic {
			continue
		}
		if seen {
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimLeft(a.rest, ">:.]) \t"))
		for _, l := range lines[a.line+1 : end] {
			if b.Len() > 4*maxDiagnostic {
				break
			}
			b.WriteByte('\n')
			b.WriteString(l)
		}
	}
	for i := range blocks {
		blocks[i].text = texts[i].String()
	}
	return blocks
}

// textBlocks maps each address named in the human-readable parts of m to
// the text about it.
func textBlocks(m *message) map[string]string {
	notice, _ := splitOriginal(strings.Join(m.texts, "\n"))
	out := map[string]string{}
	for _, b := range anchorBlocks(notice, excludedAddresses(m)) {
		out[strings.ToLower(b.addr)] = strings.TrimSpace(b.text)
	}
	return out
}
