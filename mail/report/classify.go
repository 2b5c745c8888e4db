package report

import (
	"regexp"
	"strings"
)

// classify judges one recipient's outcome from its Action, Status, reply
// code and the remote server's words, together:
//
//   - delivered / relayed / expanded (or a 2.x.x status): success.
//   - delayed, or a 4.x.x status with no Action: transient.
//   - failed: final. An address failure (RFC 3463 X.1.1 bad mailbox, X.1.2
//     bad system, X.1.3 bad syntax, X.1.6 moved, X.1.10 null MX, or the
//     same in words) is permanent-address; everything else, including a
//     4.x.x status that the reporter gave up on (Postfix writes
//     "Action: failed" with "Status: 4.4.1" when the queue lifetime ran
//     out), is permanent-other.
func classify(action, status string, reply int, diag, command string) Class {
	switch action {
	case "delivered", "relayed", "expanded":
		return ClassSuccess
	case "delayed":
		return ClassTransient
	}
	c := classDigit(status)
	if c == 0 && reply > 0 {
		c = byte('0' + reply/100)
	}
	if action == "" {
		switch c {
		case '2':
			return ClassSuccess
		case '4':
			return ClassTransient
		}
	}
	if c == '2' && action != "failed" {
		return ClassSuccess
	}
	if isAddressFailure(status, reply, diag, command) && !(c == '4' && action != "failed") {
		return ClassPermanentAddress
	}
	return ClassPermanentOther
}

// addressCodes are the RFC 3463 codes that blame the address itself.
var addressCodes = map[string]bool{
	"1.1":  true, // bad destination mailbox address
	"1.2":  true, // bad destination system address
	"1.3":  true, // bad destination mailbox address syntax
	"1.6":  true, // destination mailbox has moved, no forwarding address
	"1.10": true, // recipient address has null MX (RFC 7505)
}

// nonAddressSubjects are status subjects that name another cause, so that
// the words cannot turn them into an address failure.
var nonAddressSubjects = []string{"1.7", "1.8", "2.2", "2.3", "3.4", "6.", "7."}

// isAddressFailure reports a permanent failure of the address itself: a
// 5.x.x status (or an unknown one) whose code or words say the mailbox or
// domain does not exist.
func isAddressFailure(status string, reply int, diag, command string) bool {
	d := strings.ToLower(diag)
	if status != "" && status[0] == '4' || status == "" && reply >= 400 && reply < 500 {
		// A temporary code on a final failure blames the address only
		// when its subject does (Postfix's "450 4.1.1 ... User unknown"
		// that it gave up on).
		return status != "" && addressCodes[status[2:]] && saysAddressUnknown(d) && !otherCause(d)
	}
	if status != "" {
		sub := status[2:]
		if addressCodes[sub] {
			return !otherCause(d)
		}
		for _, p := range nonAddressSubjects {
			if strings.HasPrefix(sub, p) {
				return false
			}
		}
	}
	// Words alone are trusted only where a recipient is judged: at RCPT TO
	// (or when the stage is not told). After DATA, "user unknown" is often
	// a content filter's disguise, and suppressing the address would be
	// wrong.
	if command == cmdData || command == cmdMail {
		return false
	}
	return saysAddressUnknown(d) && !otherCause(d)
}

// addressPhrases are how servers say "this address does not exist" when
// they give no (or only a generic) status code. Lower case.
var addressPhrases = []string{
	"user unknown", "unknown user", "unknown recipient", "recipient unknown",
	"no such user", "no such mailbox", "no such recipient", "no such address",
	"no such person", "no such account", "no mailbox here", "no mailbox by that name",
	"no mailbox found", "mailbox not found", "mailbox does not exist", "mailbox unavailable",
	"mailbox is unavailable", "mailbox not present", "mailbox invalid", "invalid mailbox",
	"not a valid mailbox", "is not a valid user", "not a known user", "unknown mailbox",
	"user not found", "recipient not found", "user doesn't exist", "user does not exist",
	"user not exist", "recipient does not exist", "recipient not exist", "address does not exist",
	"address unknown", "unknown address", "invalid recipient", "invalid address", "bad address",
	"not a valid recipient", "recipient address rejected: unknown", "recipient address rejected: user",
	"recipient address rejected: invalid", "address rejected", "unknown local part", "unknown local-part",
	"account does not exist", "account that you tried to reach does not exist", "does not exist",
	"doesn't exist", "not our customer", "the recipient name is not recognized", "no account by that name",
	"destination addresses were unknown", "not listed in", "recipient rejected", "bad recipient",
	"invalid-recipient", "unknown e-mail address", "unknown email address", "not have an account",
	"this user doesn't have a", "no longer valid", "no longer exists", "unrouteable address",
	"unroutable address", "host unknown", "unknown host", "domain does not exist", "no such domain",
	"host or domain name not found", "domain not found", "unknown domain", "name or service not known",
	"domain is not reachable", "does not accept mail", "no mx record", "null mx", "nullmx",
	"has been replaced by", "has moved", "badrcptto", "not in my validrcptto", "rcpthosts",
	"utilisateur inconnu", "not a local address", "recipient is not local",
	"mailbox name not allowed", "mailbox unavaiable", "recipient address rejected: access denied",
	"not listed in", "couldn't find a mail exchanger", "illegal host", "indicated no smtp service",
	"invalid final delivery", "unknown user",
}

// otherCausePhrases name a cause that is not the address: a full mailbox,
// a block, a policy, a size limit, a temporary condition. Lower case.
var otherCausePhrases = []string{
	"mailbox full", "mailbox is full", "quota", "over the limit", "insufficient", "exceeded storage",
	"storage limit", "too large", "message size", "size limit", "exceeds", "full mailbox",
	"spam", "blocked", "blacklist", "blocklist", "block list", "black list", "denylist", "rbl",
	"reputation", "policy", "spf", "dkim", "dmarc", "authentication", "not authorized",
	"relay access denied", "relaying denied", "relay not permitted", "relaying", "rate limit",
	"too many", "virus", "content", "sender address rejected",
	"sender rejected", "sender address", "suspended", "disabled", "deactivated", "locked",
}

func saysAddressUnknown(d string) bool {
	return containsAny(d, addressPhrases)
}

func otherCause(d string) bool {
	return containsAny(d, otherCausePhrases)
}

// soundsTemporary reports words of a temporary failure.
func soundsTemporary(d string) bool {
	d = strings.ToLower(d)
	return containsAny(d, []string{"temporar", "try again later", "will retry", "will be retried", "persistent", "deferred", "delayed", "still trying", "retry timeout exceeded", "retry time not reached"})
}

func containsAny(s string, list []string) bool {
	for _, p := range list {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// SMTP commands a rejection can answer, as far as the text tells.
const (
	cmdUnknown = ""
	cmdConnect = "CONNECT"
	cmdMail    = "MAIL"
	cmdRcpt    = "RCPT"
	cmdData    = "DATA"
)

var (
	inReplyToRe    = regexp.MustCompile(`(?i)(?:in reply to|after|response to|command was|smtp command|while sending|after sending)[ \t:]*(?:end of )?(rcpt|mail|data|ehlo|helo|connect|greeting)\b`)
	transcriptRe   = regexp.MustCompile(`(?im)^[ \t>]*>>>[ \t]*(rcpt|mail|data|ehlo|helo|\.)\b`)
	rcptResponseRe = regexp.MustCompile(`(?i)\b(rcpt to|rcpt)\b[ \t]*(?:response|command|<)`)
)

// smtpCommand tells which SMTP command the failure answered, when the
// diagnostic says so ("in reply to RCPT TO command", "after end of data",
// a ">>> DATA" transcript line).
func smtpCommand(diag string) string {
	norm := func(c string) string {
		switch strings.ToLower(c) {
		case "rcpt":
			return cmdRcpt
		case "mail":
			return cmdMail
		case "data", ".":
			return cmdData
		default:
			return cmdConnect
		}
	}
	// Each pattern is tried only when the words it needs are there: the
	// regexps have no literal prefix, and running them over every
	// diagnostic was a tenth of the parsing time of a first sync.
	lower, fold := foldForPrefilter(diag)
	if strings.Contains(diag, ">>>") {
		if m := transcriptRe.FindAllStringSubmatch(diag, -1); len(m) > 0 {
			return norm(m[len(m)-1][1])
		}
	}
	if !fold || containsAny(lower, inReplyToWords) {
		if m := inReplyToRe.FindStringSubmatch(diag); m != nil {
			return norm(m[1])
		}
	}
	if (!fold || strings.Contains(lower, "rcpt")) && rcptResponseRe.MatchString(diag) {
		return cmdRcpt
	}
	return cmdUnknown
}

// inReplyToWords: inReplyToRe cannot match a text without one of these.
var inReplyToWords = []string{"in reply to", "after", "response to", "command was", "smtp command", "while sending"}

// foldForPrefilter lower-cases s for a substring test ahead of a (?i)
// regexp. It returns fold false for non-ASCII text, where (?i)'s Unicode
// folding (e.g. the Kelvin sign for k) could match what the lower-cased
// text does not contain: the caller then runs the regexp anyway.
func foldForPrefilter(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return "", false
		}
	}
	return strings.ToLower(s), true
}
