package ui

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"mailroom/tracking"
)

// Explain says in plain words what a recipient's status means, which
// event proves it, and what cannot be known. It is the sentence at the top
// of each recipient in the message detail.
func Explain(r RecipientDetail) string {
	var b strings.Builder
	b.WriteString(explainStatus(r))
	if s := explainEngagement(r); s != "" {
		b.WriteString(" ")
		b.WriteString(s)
	}
	return b.String()
}

func explainStatus(r RecipientDetail) string {
	evs := r.Events
	accepted := lastOf(evs, tracking.EvAccepted)
	acceptedBy := func() string {
		if accepted == nil {
			return "Accepted by " + serverName(r, nil)
		}
		return fmt.Sprintf("Accepted by %s %s", serverName(r, accepted), at(accepted.At))
	}
	switch r.Status {
	case tracking.Queued:
		if held := lastOf(evs, tracking.EvHeld); held != nil && lastOf(evs, tracking.EvReleased) == nil {
			return fmt.Sprintf("Held in the outbox %s%s; it will not be sent until you release it or resume the account.", at(held.At), because(held))
		}
		if !r.NextAttempt.IsZero() {
			return fmt.Sprintf("Waiting in the outbox; the next attempt is due %s.", at(r.NextAttempt))
		}
		return "Waiting in the outbox to be sent."
	case tracking.Sending:
		return fmt.Sprintf("An attempt to hand the message to %s is in progress.", serverName(r, nil))
	case tracking.Deferred:
		d := lastOf(evs, tracking.EvDeferred)
		s := fmt.Sprintf("%s could not take the message yet", serverName(r, d))
		if d != nil {
			s += fmt.Sprintf(" (%s): %s", at(d.At), replyWords(d))
		}
		s += "."
		if !r.NextAttempt.IsZero() {
			s += fmt.Sprintf(" The outbox will try again %s and keeps trying until the retry lifetime ends.", at(r.NextAttempt))
		} else {
			s += " The outbox will try again and keeps trying until the retry lifetime ends."
		}
		return s
	case tracking.Uncertain:
		u := lastOf(evs, tracking.EvUncertain)
		when := ""
		if u != nil {
			when = " " + at(u.At)
		}
		return fmt.Sprintf("The connection to %s broke%s after the whole message was sent and before the server answered. "+
			"It may or may not have been accepted; sending it again could deliver a second copy.", serverName(r, u), when)
	case tracking.Rejected:
		rej := lastOf(evs, tracking.EvRejected)
		if rej == nil {
			return fmt.Sprintf("%s refused the message. It never left and will not be retried.", serverName(r, nil))
		}
		s := fmt.Sprintf("%s refused the message %s", serverName(r, rej), at(rej.At))
		if rej.Command != "" {
			s += fmt.Sprintf(" at %s", rej.Command)
		}
		s += fmt.Sprintf(": %s. It never left and will not be retried.", replyWords(rej))
		if h := classHint(rej); h != "" {
			s += " " + h
		}
		return s
	case tracking.Accepted:
		s := acceptedBy() + "."
		switch r.DSN {
		case DSNRequested:
			s += " Delivery reports were requested, so the remote side should report when the message reaches the mailbox or fails; none has arrived yet. Some servers only report failures."
		case DSNNotOffered:
			s += " The server does not offer delivery reports, so delivery to the mailbox cannot be confirmed."
		default:
			s += " Whether the server offers delivery reports is not known, so delivery to the mailbox may never be confirmed."
		}
		return s
	case tracking.Relayed:
		rel := lastOf(evs, tracking.EvRelayed)
		s := acceptedBy() + "."
		if rel != nil {
			s += fmt.Sprintf(" %s reported %s that it passed the message on to a system that does not send delivery reports", reporter(rel), at(rel.At))
		} else {
			s += " It was passed on to a system that does not send delivery reports"
		}
		return s + ", so delivery to the mailbox cannot be confirmed."
	case tracking.Delayed:
		del := lastOf(evs, tracking.EvDelayed)
		s := acceptedBy() + "."
		if del == nil {
			return s + " A report says delivery is delayed: the remote side is still retrying."
		}
		s += fmt.Sprintf(" A report from %s %s says delivery is delayed: the remote side is still retrying", reporter(del), at(del.At))
		if w := replyWords(del); w != "" {
			s += " (" + w + ")"
		}
		s += "."
		if until := detailTime(del, "will_retry_until"); !until.IsZero() {
			s += fmt.Sprintf(" It will keep trying until %s.", until.Local().Format("15:04 on 2 Jan 2006"))
		}
		return s
	case tracking.Delivered:
		d := lastOf(evs, tracking.EvDelivered)
		if d == nil {
			return "Delivered to the recipient's mailbox, as a delivery report confirms."
		}
		return fmt.Sprintf("Delivered to the recipient's mailbox: a delivery report from %s %s confirms it. Whether a person read it is a separate question.", reporter(d), at(d.At))
	case tracking.Bounced:
		bo := lastOf(evs, tracking.EvBounced)
		if bo == nil {
			return "Bounced: a report says delivery failed."
		}
		s := fmt.Sprintf("Bounced: a report from %s %s says delivery failed", reporter(bo), at(bo.At))
		if w := replyWords(bo); w != "" {
			s += ": " + w
		}
		s += "."
		if h := classHint(bo); h != "" {
			s += " " + h
		}
		if r.Suppressed {
			s += " The address is on the suppression list, so new messages to it are flagged before sending."
		}
		return s
	case tracking.Expired:
		ex := lastOf(evs, tracking.EvExpired)
		s := "The outbox gave up"
		if ex != nil {
			s += " " + at(ex.At)
		}
		s += " after retrying for the whole retry lifetime; the message was never accepted."
		if last := lastOf(evs, tracking.EvDeferred); last != nil {
			s += fmt.Sprintf(" The last answer was: %s.", replyWords(last))
		}
		return s
	case tracking.Canceled:
		c := lastOf(evs, tracking.EvCanceled)
		if c == nil {
			return "Canceled before the server accepted it; it was not sent."
		}
		return fmt.Sprintf("Canceled %s before the server accepted it; it was not sent.", at(c.At))
	}
	return fmt.Sprintf("Status %q.", string(r.Status))
}

func explainEngagement(r RecipientDetail) string {
	e := r.Engagement
	var parts []string
	if e.OpensTotal > 0 {
		s := fmt.Sprintf("Opened %s", plural(e.OpensTotal, "time", "times"))
		if e.OpensMachine > 0 || e.OpensHuman > 0 {
			s += fmt.Sprintf(" (%d likely by a person, %d by a machine or privacy proxy)", e.OpensHuman, e.OpensMachine)
		}
		s += "; an open is a hint, not proof that a person read it."
		if r.Status == tracking.Bounced {
			s += " The bounce still stands: an open never proves delivery."
		}
		parts = append(parts, s)
	}
	if e.Clicks > 0 {
		parts = append(parts, fmt.Sprintf("Links were clicked %s.", plural(e.Clicks, "time", "times")))
	}
	if e.Read {
		parts = append(parts, "The recipient's program returned a read receipt (MDN).")
	}
	if e.Replied {
		parts = append(parts, "The recipient replied.")
	}
	return strings.Join(parts, " ")
}

// lastOf is the latest event of one kind, or nil.
func lastOf(evs []tracking.Event, kind tracking.EventKind) *tracking.Event {
	var best *tracking.Event
	for i := range evs {
		e := &evs[i]
		if e.Kind != kind {
			continue
		}
		if best == nil || !e.At.Before(best.At) {
			best = e
		}
	}
	return best
}

// at is "at 10:02 on 3 May 2026" in local time.
func at(t time.Time) string {
	return "at " + t.Local().Format("15:04 on 2 Jan 2006")
}

// because adds an event's reason text, if any.
func because(e *tracking.Event) string {
	if e == nil || e.Text == "" {
		return ""
	}
	return " (" + oneLine(e.Text) + ")"
}

// serverName names the submission server: the one that answered, from the
// recipient or the event's evidence, or a generic phrase.
func serverName(r RecipientDetail, e *tracking.Event) string {
	if e != nil {
		if s := detailString(e, "server"); s != "" {
			return s
		}
	}
	if r.Server != "" {
		return r.Server
	}
	return "the submission server"
}

// reporter names who sent a report: the Reporting-MTA, else the
// Remote-MTA, else a generic phrase.
func reporter(e *tracking.Event) string {
	for _, k := range []string{"reporting_mta", "remote_mta"} {
		if s := detailString(e, k); s != "" {
			return s
		}
	}
	return "the remote mail system"
}

// replyWords is the evidence as the server said it: `550 5.1.1 "User
// unknown"`, falling back to the DSN fields.
func replyWords(e *tracking.Event) string {
	if e == nil {
		return ""
	}
	var p []string
	if e.Code != 0 {
		p = append(p, fmt.Sprint(e.Code))
	}
	enh := e.EnhancedCode
	if enh == "" {
		enh = detailString(e, "status")
	}
	if enh != "" {
		p = append(p, enh)
	}
	text := e.Text
	if text == "" {
		text = detailString(e, "diagnostic")
	}
	if text != "" {
		p = append(p, fmt.Sprintf("%q", oneLine(text)))
	}
	return strings.Join(p, " ")
}

// classHint tells the user what to do about a failure, by the bounce
// class in the evidence or, failing that, the enhanced status code.
func classHint(e *tracking.Event) string {
	class := detailString(e, "class")
	code := e.EnhancedCode
	if code == "" {
		code = detailString(e, "status")
	}
	if class == "" {
		switch {
		case strings.HasPrefix(code, "4."):
			class = "transient"
		case isAddressFailure(code):
			class = "permanent-address"
		case strings.HasPrefix(code, "5."):
			class = "permanent-other"
		}
	}
	switch class {
	case "permanent-address":
		return "The address does not exist or cannot receive mail; check it for typos."
	case "permanent-other":
		return "This is a refusal of policy, content or authentication, not a bad address: check the sending setup (SPF, DKIM, reputation, size) rather than the address."
	case "transient":
		return "The remote side gave up after temporary failures; sending again later may work."
	}
	return ""
}

// isAddressFailure reports the RFC 3463 codes that mean the mailbox
// itself is bad (X.1.1 bad mailbox, X.1.2 bad system, X.1.3 bad syntax,
// X.1.6 moved, X.1.10 null MX).
func isAddressFailure(code string) bool {
	if !strings.HasPrefix(code, "5.") {
		return false
	}
	switch code[2:] {
	case "1.1", "1.2", "1.3", "1.6", "1.10":
		return true
	}
	return false
}

// detailFields decodes an event's Detail JSON; nil when absent or invalid.
func detailFields(e *tracking.Event) map[string]any {
	if e == nil || e.Detail == "" {
		return nil
	}
	var m map[string]any
	if json.Unmarshal([]byte(e.Detail), &m) != nil {
		return nil
	}
	return m
}

func detailString(e *tracking.Event, key string) string {
	v, ok := detailFields(e)[key]
	if !ok || v == nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case float64, bool:
		return fmt.Sprint(v)
	}
	return ""
}

func detailTime(e *tracking.Event, key string) time.Time {
	t, err := time.Parse(time.RFC3339, detailString(e, key))
	if err != nil {
		return time.Time{}
	}
	return t
}
