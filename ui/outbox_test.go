package ui

import (
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"mailroom/mail"
	"mailroom/tracking"
)

func TestOutboxShowsProgressAndActs(t *testing.T) {
	f := newFakes()
	f.outbox.msgs = []OutboxMessage{{
		ID: "o1", Account: "work", Subject: "Newsletter", Created: testNow.Add(-time.Hour),
		NextAttempt: testNow.Add(5 * time.Minute), Total: 3, Accepted: 2,
		Recipients: []OutboxRecipient{
			{Address: "a@example.com", Status: tracking.Accepted, Attempts: 1,
				LastReply: &mail.Reply{Command: ".", Code: 250, Enhanced: "2.0.0", Text: "Ok"}},
			{Address: "b@example.com", Status: tracking.Accepted, Attempts: 1},
			{Address: "c@example.com", Status: tracking.Deferred, Attempts: 2, NextAttempt: testNow.Add(5 * time.Minute),
				LastReply: &mail.Reply{Command: "RCPT", Code: 451, Enhanced: "4.7.1", Text: "Greylisted, please try again"}},
		},
	}}
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenOutbox)
	requireText(t, content(m), "Newsletter", "Outbox — 1 message waiting",
		"Next attempt at", "(in 5 minutes)",
		"c@example.com", "2 attempts",
		"The server asked to wait (greylisting or a rate limit)", "RCPT: 451 4.7.1 Greylisted, please try again")
	requireText(t, content(m), "2 of 3 accepted")

	test.Tap(findButton(content(m), "Retry now"))
	if len(f.outbox.retried) != 1 || f.outbox.retried[0] != "o1" {
		t.Errorf("retried %v", f.outbox.retried)
	}
	test.Tap(findButton(content(m), "Pause work"))
	requireText(t, content(m), "Paused: the account work is paused", "Resume work")
}

func TestReplyPlain(t *testing.T) {
	for _, c := range []struct {
		r    mail.Reply
		want string
	}{
		{mail.Reply{Command: "CONNECT", Text: "dial tcp: connection refused"}, "No answer from the server"},
		{mail.Reply{Command: "AUTH", Code: 535, Enhanced: "5.7.8"}, "user name or password"},
		{mail.Reply{Command: "RCPT", Code: 550, Enhanced: "5.1.1"}, "does not exist"},
		{mail.Reply{Command: "RCPT", Code: 452, Enhanced: "4.5.3"}, "Too many recipients"},
		{mail.Reply{Command: "DATA", Code: 552, Enhanced: "5.3.4"}, "too large"},
		{mail.Reply{Command: "MAIL", Code: 421}, "busy or shutting down"},
		{mail.Reply{Command: "RCPT", Code: 450}, "temporary failure"},
		{mail.Reply{Command: "RCPT", Code: 554}, "permanent failure"},
	} {
		if got := replyPlain(c.r); !contains(got, c.want) {
			t.Errorf("replyPlain(%v) = %q, want %q", c.r, got, c.want)
		}
	}
}

// A refused recipient is done but not accepted: the card and the row say
// so instead of counting it among the accepted.
func TestOutboxCountsRefusedApart(t *testing.T) {
	f := newFakes()
	f.outbox.msgs = []OutboxMessage{{
		ID: "o1", Account: "work", Subject: "Quarterly numbers", Created: testNow.Add(-time.Minute),
		NextAttempt: testNow.Add(time.Minute), Total: 4, Accepted: 2, NotSent: 1,
		Recipients: []OutboxRecipient{
			{Address: "bob@example.test", Status: tracking.Delivered, Attempts: 1},
			{Address: "defer@example.test", Status: tracking.Accepted, Attempts: 1},
			{Address: "reject@example.test", Status: tracking.Rejected, Attempts: 1,
				LastReply: &mail.Reply{Command: "RCPT", Code: 550, Enhanced: "5.1.1", Text: "no such user"}},
			{Address: "tempfail@example.test", Status: tracking.Deferred, Attempts: 1, NextAttempt: testNow.Add(time.Minute)},
		},
	}}
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenOutbox)
	requireText(t, content(m), "2/4 accepted, 1 not sent · work")
	if got := progressText(f.outbox.msgs[0]); got != "2 of 4 accepted, 1 not sent" {
		t.Errorf("progress %q", got)
	}
}

// While the server cannot be reached the card says so and when the next
// probe goes out, not "Next attempt: now" from the recipients' past
// retry times.
func TestOutboxSaysWhenTheServerIsDown(t *testing.T) {
	f := newFakes()
	f.outbox.msgs = []OutboxMessage{{
		ID: "o1", Account: "work", Subject: "while down", Created: testNow.Add(-10 * time.Minute),
		NextAttempt: testNow.Add(-5 * time.Minute), Total: 1,
		UnreachableSince: testNow.Add(-9 * time.Minute), NextProbe: testNow.Add(2 * time.Minute),
		Recipients: []OutboxRecipient{{Address: "bob@example.test", Status: tracking.Deferred, Attempts: 1}},
	}}
	m := newTestWindow(t, f)
	m.ShowScreen(ScreenOutbox)
	requireText(t, content(m), "The server has not answered since", "the next at", "(in 2 minutes)", "server not answering")
	if hasText(content(m), "Next attempt: now") {
		t.Error("the card says the next attempt is now while the server is down")
	}
}
