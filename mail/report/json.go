package report

import (
	"encoding/json"
	"time"
)

// InspectView is the JSON form of a Report printed by `mailroom inspect
// --json` (docs: DESIGN.md section 5). Field names are a stable contract:
// fields may be added, never renamed.
type InspectView struct {
	Kind              Kind            `json:"kind"`
	EnvelopeID        string          `json:"envelope_id"`
	ReturnedMessageID string          `json:"returned_message_id"`
	TrackingID        string          `json:"tracking_id"`
	ReportingMTA      string          `json:"reporting_mta,omitempty"`
	ArrivalDate       *time.Time      `json:"arrival_date,omitempty"`
	Subject           string          `json:"subject,omitempty"`
	From              string          `json:"from,omitempty"`
	Date              *time.Time      `json:"date,omitempty"`
	InReplyTo         string          `json:"in_reply_to,omitempty"`
	References        []string        `json:"references,omitempty"`
	Recipients        []RecipientView `json:"recipients"`
	MDN               *MDNView        `json:"mdn,omitempty"`
	AutoReply         bool            `json:"auto_reply,omitempty"`
	Truncated         bool            `json:"truncated,omitempty"`
}

// RecipientView is one recipient in InspectView.
type RecipientView struct {
	Address           string     `json:"address"`
	Action            string     `json:"action"`
	Status            string     `json:"status"`
	ReplyCode         int        `json:"reply_code"`
	Diagnostic        string     `json:"diagnostic"`
	RemoteMTA         string     `json:"remote_mta"`
	Class             Class      `json:"class"`
	OriginalRecipient string     `json:"original_recipient,omitempty"`
	DiagnosticType    string     `json:"diagnostic_type,omitempty"`
	LastAttemptDate   *time.Time `json:"last_attempt_date,omitempty"`
	WillRetryUntil    *time.Time `json:"will_retry_until,omitempty"`
}

// MDNView is the disposition part of InspectView.
type MDNView struct {
	Disposition       string `json:"disposition"`
	DispositionType   string `json:"disposition_type"`
	OriginalMessageID string `json:"original_message_id"`
	FinalRecipient    string `json:"final_recipient"`
	OriginalRecipient string `json:"original_recipient,omitempty"`
	ReportingUA       string `json:"reporting_ua,omitempty"`
}

// View returns the JSON view of r.
func (r *Report) View() InspectView {
	v := InspectView{
		Kind:              r.Kind,
		EnvelopeID:        r.EnvelopeID,
		ReturnedMessageID: r.ReturnedMessageID,
		TrackingID:        r.TrackingID,
		ReportingMTA:      r.ReportingMTA,
		ArrivalDate:       timePtr(r.ArrivalDate),
		Subject:           r.Subject,
		From:              r.From,
		Date:              timePtr(r.Date),
		InReplyTo:         r.InReplyTo,
		References:        r.References,
		Recipients:        make([]RecipientView, 0, len(r.Recipients)),
		AutoReply:         r.AutoReply,
		Truncated:         r.Truncated,
	}
	for _, rc := range r.Recipients {
		v.Recipients = append(v.Recipients, RecipientView{
			Address:           rc.Address,
			Action:            rc.Action,
			Status:            rc.Status,
			ReplyCode:         rc.ReplyCode,
			Diagnostic:        rc.Diagnostic,
			RemoteMTA:         rc.RemoteMTA,
			Class:             rc.Class,
			OriginalRecipient: rc.OriginalRecipient,
			DiagnosticType:    rc.DiagnosticType,
			LastAttemptDate:   timePtr(rc.LastAttemptDate),
			WillRetryUntil:    timePtr(rc.WillRetryUntil),
		})
	}
	if r.MDN != nil {
		v.MDN = &MDNView{
			Disposition:       r.MDN.Disposition,
			DispositionType:   r.MDN.DispositionType,
			OriginalMessageID: r.MDN.OriginalMessageID,
			FinalRecipient:    r.MDN.FinalRecipient,
			OriginalRecipient: r.MDN.OriginalRecipient,
			ReportingUA:       r.MDN.ReportingUA,
		}
	}
	return v
}

// InspectJSON returns the indented JSON printed by `mailroom inspect --json`.
func (r *Report) InspectJSON() ([]byte, error) {
	return json.MarshalIndent(r.View(), "", "  ")
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
