package ui

import (
	"strings"
	"testing"
	"time"

	"mailroom/tracking"
)

func TestExplainEveryStatus(t *testing.T) {
	t0 := time.Date(2026, 5, 3, 10, 2, 0, 0, time.Local)
	ev := func(kind tracking.EventKind, min int, mod func(*tracking.Event)) tracking.Event {
		e := tracking.Event{Kind: kind, At: t0.Add(time.Duration(min) * time.Minute)}
		if mod != nil {
			mod(&e)
		}
		return e
	}
	accepted := ev(tracking.EvAccepted, 0, func(e *tracking.Event) { e.Code = 250; e.Command = "." })
	cases := []struct {
		name string
		r    RecipientDetail
		want []string
		not  []string
	}{
		{"queued", RecipientDetail{Status: tracking.Queued}, []string{"Waiting in the outbox"}, nil},
		{"queued scheduled", RecipientDetail{Status: tracking.Queued, NextAttempt: t0.Add(time.Hour)},
			[]string{"next attempt is due at 11:02 on 3 May 2026"}, nil},
		{"queued held", RecipientDetail{Status: tracking.Queued, Events: []tracking.Event{
			ev(tracking.EvHeld, 0, func(e *tracking.Event) { e.Text = "535 authentication failed" })}},
			[]string{"Held in the outbox", "535 authentication failed"}, nil},
		{"sending", RecipientDetail{Status: tracking.Sending, Server: "smtp.example.com"},
			[]string{"in progress", "smtp.example.com"}, nil},
		{"deferred", RecipientDetail{Status: tracking.Deferred, Server: "smtp.example.com", NextAttempt: t0.Add(5 * time.Minute),
			Events: []tracking.Event{ev(tracking.EvDeferred, 0, func(e *tracking.Event) {
				e.Code, e.EnhancedCode, e.Text = 451, "4.7.1", "Greylisted, try later"
			})}},
			[]string{"smtp.example.com could not take the message yet", `451 4.7.1 "Greylisted, try later"`, "try again at 10:07"}, nil},
		{"uncertain", RecipientDetail{Status: tracking.Uncertain, Server: "smtp.example.com",
			Events: []tracking.Event{ev(tracking.EvUncertain, 0, nil)}},
			[]string{"may or may not have been accepted", "second copy"}, nil},
		{"rejected address", RecipientDetail{Status: tracking.Rejected, Server: "smtp.example.com",
			Events: []tracking.Event{ev(tracking.EvRejected, 0, func(e *tracking.Event) {
				e.Command, e.Code, e.EnhancedCode, e.Text = "RCPT", 550, "5.1.1", "No such user"
			})}},
			[]string{"smtp.example.com refused the message at 10:02", "at RCPT", `550 5.1.1 "No such user"`, "never left", "does not exist"}, nil},
		{"accepted without DSN", RecipientDetail{Status: tracking.Accepted, Server: "smtp.example.com", DSN: DSNNotOffered,
			Events: []tracking.Event{accepted}},
			[]string{"Accepted by smtp.example.com at 10:02", "does not offer delivery reports", "cannot be confirmed"}, nil},
		{"accepted with DSN", RecipientDetail{Status: tracking.Accepted, Server: "smtp.example.com", DSN: DSNRequested,
			Events: []tracking.Event{accepted}},
			[]string{"Accepted by smtp.example.com", "Delivery reports were requested"}, []string{"cannot be confirmed"}},
		{"accepted unknown DSN", RecipientDetail{Status: tracking.Accepted, Events: []tracking.Event{accepted}},
			[]string{"Accepted by the submission server", "not known"}, nil},
		{"relayed", RecipientDetail{Status: tracking.Relayed, Server: "smtp.example.com", Events: []tracking.Event{accepted,
			ev(tracking.EvRelayed, 3, func(e *tracking.Event) { e.Detail = `{"reporting_mta":"mx.example.net"}` })}},
			[]string{"mx.example.net reported at 10:05", "does not send delivery reports"}, nil},
		{"delayed", RecipientDetail{Status: tracking.Delayed, Server: "smtp.example.com", Events: []tracking.Event{accepted,
			ev(tracking.EvDelayed, 60, func(e *tracking.Event) {
				e.EnhancedCode = "4.4.1"
				e.Detail = `{"reporting_mta":"mx.example.net","diagnostic":"connect timed out","will_retry_until":"2026-05-08T10:02:00Z"}`
			})}},
			[]string{"delayed", "mx.example.net", "4.4.1", "connect timed out", "keep trying until"}, nil},
		{"delivered", RecipientDetail{Status: tracking.Delivered, Events: []tracking.Event{accepted,
			ev(tracking.EvDelivered, 1, func(e *tracking.Event) { e.Detail = `{"reporting_mta":"mx.example.net","action":"delivered"}` })}},
			[]string{"Delivered to the recipient's mailbox", "mx.example.net at 10:03"}, nil},
		{"bounced address", RecipientDetail{Status: tracking.Bounced, Suppressed: true,
			Engagement: tracking.Engagement{OpensTotal: 1, OpensMachine: 1},
			Events: []tracking.Event{accepted, ev(tracking.EvBounced, 2, func(e *tracking.Event) {
				e.Code, e.EnhancedCode, e.Text = 550, "5.1.1", "user unknown"
				e.Detail = `{"reporting_mta":"mx.example.net","class":"permanent-address"}`
			})}},
			[]string{"Bounced", "mx.example.net", `550 5.1.1 "user unknown"`, "does not exist", "suppression list", "bounce still stands"}, nil},
		{"bounced policy", RecipientDetail{Status: tracking.Bounced, Events: []tracking.Event{accepted,
			ev(tracking.EvBounced, 2, func(e *tracking.Event) { e.Code, e.EnhancedCode = 550, "5.7.1" })}},
			[]string{"policy", "sending setup"}, []string{"does not exist"}},
		{"bounced gave up", RecipientDetail{Status: tracking.Bounced, Events: []tracking.Event{accepted,
			ev(tracking.EvBounced, 2, func(e *tracking.Event) { e.EnhancedCode = "4.4.1" })}},
			[]string{"gave up after temporary failures"}, nil},
		{"expired", RecipientDetail{Status: tracking.Expired, Events: []tracking.Event{
			ev(tracking.EvDeferred, 0, func(e *tracking.Event) { e.Code, e.Text = 421, "Service not available" }),
			ev(tracking.EvExpired, 7200, nil)}},
			[]string{"gave up", "never accepted", `421 "Service not available"`}, nil},
		{"canceled", RecipientDetail{Status: tracking.Canceled, Events: []tracking.Event{ev(tracking.EvCanceled, 0, nil)}},
			[]string{"Canceled at 10:02", "not sent"}, nil},
		{"engagement", RecipientDetail{Status: tracking.Delivered, Engagement: tracking.Engagement{OpensTotal: 3, OpensHuman: 1, OpensMachine: 2, Read: true, Replied: true}},
			[]string{"Opened 3 times", "1 likely by a person", "2 by a machine", "read receipt", "replied"}, []string{"bounce"}},
	}
	seen := map[tracking.Status]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Explain(c.r)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("Explain = %q\nmissing %q", got, w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(got, w) {
					t.Errorf("Explain = %q\nshould not contain %q", got, w)
				}
			}
		})
		seen[c.r.Status] = true
	}
	for _, s := range tracking.AllStatuses {
		if !seen[s] {
			t.Errorf("no case for status %s", s)
		}
		if got := Explain(RecipientDetail{Status: s}); got == "" || strings.Contains(got, "Status \"") {
			t.Errorf("status %s without events has no explanation: %q", s, got)
		}
	}
}
