package outbox

import (
	"fmt"
	"strings"
	"time"

	"mailroom/mail"
)

// authPause is why an account pauses after a failed sign-in: the server's
// refusal (535), or no password to offer at all (no reply: the password
// command or the keyring failed, and no server was asked).
func authPause(r mail.Reply) string {
	if r.Command == mail.CmdPassword {
		return "Mailroom could not get the password: " + r.Text
	}
	return "the server refused the password"
}

// Explain says in plain words what a reply means for the recipient. The
// server's own words stay beside it as evidence (events.text); this is the
// line the Outbox screen shows first.
func Explain(o mail.Outcome, r mail.Reply) string {
	switch o {
	case mail.Accepted:
		return "The server accepted the message for delivery."
	case mail.Uncertain:
		return "The connection broke after the message was sent and before the server answered: it may have arrived."
	case mail.AuthFailed:
		if r.Command == mail.CmdPassword {
			return "Mailroom could not get the password (the password command or the keyring failed), so it did not sign in; the account is paused until you fix it and resume it."
		}
		return "The server refused the password; the account is paused until you resume it."
	case mail.Unreachable:
		return "The server could not be reached (no network, or the server is down)."
	case mail.TooManyRecipients:
		return "The server takes fewer recipients per message; the rest go in another transaction."
	case mail.NotAttempted:
		if r.Text != "" || r.Code != 0 {
			return "Not tried: the session ended before this recipient (" + firstSentence(Explain(mail.Deferred, r)) + ")."
		}
		return "Not tried: the session ended before this recipient."
	}
	if w := enhancedWords(r.Enhanced); w != "" {
		if r.Permanent() {
			return "The server refused it: " + w + "."
		}
		if r.Temporary() {
			return "The server asked to try again later: " + w + "."
		}
	}
	switch {
	case r.Code == 421:
		return "The server is closing the connection for now (busy or shutting down); it will be tried again."
	case r.Code == 450 || r.Code == 451:
		return "The server asked to try again later (a temporary problem on its side)."
	case r.Code == 452:
		return "The server is temporarily out of space or over a limit; it will be tried again."
	case r.Code == 550 || r.Code == 551 || r.Code == 553:
		return "The server refused the recipient (the address may not exist or is not allowed)."
	case r.Code == 552:
		return "The server refused it: the message is too large or the mailbox is full."
	case r.Code == 554:
		return "The server refused the message (policy or content)."
	case r.Temporary():
		return "The server asked to try again later."
	case r.Permanent():
		return "The server refused it permanently."
	case r.Code == 0 && r.Text != "":
		return "The connection failed: " + r.Text
	}
	return "Temporary failure; it will be tried again."
}

func firstSentence(s string) string {
	s, _, _ = strings.Cut(s, ".")
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// enhancedWords names the RFC 3463 subject.detail of an enhanced code.
func enhancedWords(code string) string {
	if code == "" {
		return ""
	}
	_, sd, ok := strings.Cut(code, ".")
	if !ok {
		return ""
	}
	switch sd {
	case "1.1":
		return "the mailbox does not exist"
	case "1.2":
		return "the recipient's domain does not exist or does not take mail"
	case "1.3":
		return "the address is malformed"
	case "1.6":
		return "the mailbox has moved"
	case "1.8", "1.7":
		return "the sender address is not accepted"
	case "2.1":
		return "the mailbox is disabled"
	case "2.2":
		return "the mailbox is full"
	case "2.3", "3.4":
		return "the message is too large"
	case "3.1":
		return "the server's mail system is full"
	case "4.1", "4.2":
		return "the next server did not answer or dropped the connection"
	case "4.7":
		return "the delivery time expired"
	case "5.3":
		return "too many recipients in one message"
	case "7.1":
		return "delivery is not authorized (policy)"
	case "7.8":
		return "the credentials were refused"
	}
	if strings.HasPrefix(sd, "7.") {
		return "a security or policy rule"
	}
	return ""
}

// expiredWords is the text of an "expired" event.
func expiredWords(lifetime time.Duration, last string) string {
	s := fmt.Sprintf("Mailroom gave up after trying for %s.", humanDuration(lifetime))
	if last != "" {
		s += " The last answer was: " + last
	}
	return s
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= 2*time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%d hours", d/time.Hour)
	case d >= 2*time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", d/time.Minute)
	}
	return d.String()
}
