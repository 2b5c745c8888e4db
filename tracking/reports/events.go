package reports

import (
	"encoding/json"
	"strings"
	"time"

	"mailroom/mail/report"
	"mailroom/tracking"
)

// DSNDetail is the Detail JSON of an event made from a DSN or a
// non-standard bounce: the report's fields as evidence (DESIGN.md section 2).
type DSNDetail struct {
	ReportKind        string     `json:"report_kind"` // dsn|bounce
	ReportingMTA      string     `json:"reporting_mta"`
	RemoteMTA         string     `json:"remote_mta"`
	Action            string     `json:"action"`
	Status            string     `json:"status"`
	ReplyCode         int        `json:"reply_code,omitempty"`
	Diagnostic        string     `json:"diagnostic"`
	DiagnosticType    string     `json:"diagnostic_type,omitempty"`
	WillRetryUntil    *time.Time `json:"will_retry_until"`
	LastAttempt       *time.Time `json:"last_attempt,omitempty"`
	Class             string     `json:"class"`
	FinalRecipient    string     `json:"final_recipient"`
	OriginalRecipient string     `json:"original_recipient,omitempty"`
	EnvelopeID        string     `json:"envelope_id,omitempty"`
	ReportMessageID   string     `json:"report_message_id,omitempty"`
	ReportDate        *time.Time `json:"report_date,omitempty"` // its Date: the event is placed no earlier than the acceptance
	MatchNote         string     `json:"match_note,omitempty"`
}

// kindOf maps a DSN Action (RFC 3464 section 2.3.3) to an event kind. The
// Action decides, not the status class: Postfix reports a message it gave
// up on as "Action: failed" with "Status: 4.4.1", and that is a bounce. A
// non-standard bounce without an Action is judged by its class.
func kindOf(rr report.Recipient) tracking.EventKind {
	switch strings.ToLower(rr.Action) {
	case "failed":
		return tracking.EvBounced
	case "delayed":
		return tracking.EvDelayed
	case "delivered":
		return tracking.EvDelivered
	case "relayed", "expanded":
		return tracking.EvRelayed
	}
	switch rr.Class {
	case report.ClassTransient:
		return tracking.EvDelayed
	case report.ClassSuccess:
		return tracking.EvDelivered
	}
	return tracking.EvBounced
}

func deliveryEvent(rep *report.Report, rr report.Recipient, at time.Time, key, note string) tracking.Event {
	d := DSNDetail{
		ReportKind:        string(rep.Kind),
		ReportingMTA:      rep.ReportingMTA,
		RemoteMTA:         rr.RemoteMTA,
		Action:            rr.Action,
		Status:            rr.Status,
		ReplyCode:         rr.ReplyCode,
		Diagnostic:        rr.Diagnostic,
		DiagnosticType:    rr.DiagnosticType,
		WillRetryUntil:    timePtr(rr.WillRetryUntil),
		LastAttempt:       timePtr(rr.LastAttemptDate),
		Class:             string(rr.Class),
		FinalRecipient:    rr.Address,
		OriginalRecipient: rr.OriginalRecipient,
		EnvelopeID:        rep.EnvelopeID,
		ReportMessageID:   rep.MessageID,
		ReportDate:        timePtr(rep.Date),
		MatchNote:         note,
	}
	return tracking.Event{
		At:           at,
		Kind:         kindOf(rr),
		Source:       tracking.SrcDSN, // standard or not, the evidence is a delivery report
		Command:      rr.Command,
		Code:         rr.ReplyCode,
		EnhancedCode: rr.Status,
		Text:         rr.Diagnostic,
		Match:        key,
		Detail:       jsonDetail(d),
	}
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func jsonDetail(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}
