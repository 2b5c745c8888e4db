package uisvc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"mailroom/app"
	"mailroom/app/uisvc"
	"mailroom/internal/seed"
	"mailroom/tracking"
	"mailroom/tracking/reports"
	"mailroom/ui"
)

// openSeeded opens a real data dir with generated mail (the first message
// is the showcase: a delivered+opened+replied recipient and a 5.1.1 bounce).
func openSeeded(t *testing.T) (*app.App, ui.Services) {
	t.Helper()
	ctx := context.Background()
	a, err := app.Open(ctx, app.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if _, _, _, err := seed.Run(ctx, a.DB, seed.Options{Messages: 120, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	s, _ := uisvc.Services(a)
	return a, s
}

func TestTrackingServiceOverRealData(t *testing.T) {
	ctx := context.Background()
	_, s := openSeeded(t)
	n, err := s.Tracking.Count(ctx, ui.Query{})
	if err != nil || n != 120 {
		t.Fatalf("count = %d, %v", n, err)
	}
	rows, err := s.Tracking.Page(ctx, ui.Query{HasBounces: true}, 0, 10)
	if err != nil || len(rows) == 0 {
		t.Fatalf("bounced page: %v, %v", rows, err)
	}
	d, err := s.Tracking.Detail(ctx, "0000000000000001")
	if err != nil {
		t.Fatal(err)
	}
	var bounced *ui.RecipientDetail
	for i := range d.Recipients {
		if d.Recipients[i].Status == tracking.Bounced {
			bounced = &d.Recipients[i]
		}
	}
	if bounced == nil || bounced.Address != "old.address@customer.example" || len(bounced.Events) < 3 {
		t.Fatalf("detail recipients: %+v", d.Recipients)
	}
	if !strings.Contains(ui.Explain(*bounced), "5.1.1") {
		t.Errorf("explanation lacks the evidence: %q", ui.Explain(*bounced))
	}
	var buf bytes.Buffer
	if err := s.Tracking.Export(ctx, ui.Query{IDs: []string{d.ID}}, "json", &buf); err != nil {
		t.Fatal(err)
	}
	var msgs []tracking.MessageStatus
	if err := json.Unmarshal(buf.Bytes(), &msgs); err != nil || len(msgs) != 1 || msgs[0].ID != d.ID {
		t.Fatalf("export of one message = %d messages, %v", len(msgs), err)
	}
	f, err := s.Tracking.Funnel(ctx, time.Time{}, time.Time{})
	if err != nil || f.Queued == 0 || f.Bounced == 0 {
		t.Fatalf("funnel %+v, %v", f, err)
	}
}

// The account dialog's tracking defaults reach the database and come
// back; an edit from the dialog keeps what only the CLI sets (SavesSent).
func TestAccountServiceKeepsTrackingDefaults(t *testing.T) {
	ctx := context.Background()
	a, err := app.Open(ctx, app.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	s, _ := uisvc.Services(a)
	in := ui.AccountInput{Account: ui.Account{Name: "work", Email: "alice@example.test", SMTPHost: "smtp.example.test",
		SMTPPort: 465, SMTPSecurity: "tls", Username: "alice", PasswordSource: ui.PasswordCommand, TrackOpens: ui.TrackOn},
		PasswordCommand: "echo x"}
	if err := s.Accounts.Add(ctx, in); err != nil {
		t.Fatal(err)
	}
	acct, _ := a.Accounts.Get(ctx, "work")
	acct.SavesSent = true
	if err := a.Accounts.Update(ctx, *acct, ""); err != nil {
		t.Fatal(err)
	}
	list, err := s.Accounts.List(ctx)
	if err != nil || len(list) != 1 || list[0].TrackOpens != ui.TrackOn || list[0].TrackClicks != ui.TrackGlobal {
		t.Fatalf("list after add: %+v, %v", list, err)
	}
	in = ui.AccountInput{Account: list[0]}
	in.TrackOpens, in.TrackClicks = ui.TrackGlobal, ui.TrackOff
	if err := s.Accounts.Update(ctx, "work", in); err != nil {
		t.Fatal(err)
	}
	got, _ := a.Accounts.Get(ctx, "work")
	if got.TrackOpens != app.TrackGlobal || got.TrackClicks != app.TrackOff || !got.SavesSent || got.PasswordCommand != "echo x" {
		t.Fatalf("after the dialog's edit: %+v", got)
	}
}

// The outbox's progress counts a rejected, expired or canceled recipient
// as done but not accepted.
func TestOutboxProgressCountsRefusedApart(t *testing.T) {
	_, s := openSeeded(t)
	msgs, err := s.Outbox.List(context.Background())
	if err != nil || len(msgs) == 0 {
		t.Fatalf("outbox: %d messages, %v", len(msgs), err)
	}
	sawNotSent := false
	for _, m := range msgs {
		accepted, notSent := 0, 0
		for _, r := range m.Recipients {
			switch r.Status {
			case tracking.Accepted, tracking.Relayed, tracking.Delayed, tracking.Delivered, tracking.Bounced:
				accepted++
			case tracking.Rejected, tracking.Expired, tracking.Canceled:
				notSent++
			}
		}
		if m.Accepted != accepted || m.NotSent != notSent {
			t.Errorf("%s: accepted %d, not sent %d; want %d and %d", m.ID, m.Accepted, m.NotSent, accepted, notSent)
		}
		sawNotSent = sawNotSent || notSent > 0
	}
	if !sawNotSent {
		t.Fatal("the seeded outbox has no refused recipient: the test checks nothing")
	}
}

// A report that matches no sent message is listed by Unmatched and
// readable, as received, through ReportText.
func TestUnmatchedReportsOverRealData(t *testing.T) {
	ctx := context.Background()
	a, s := openSeeded(t)
	raw := []byte("From: Mail Delivery System <MAILER-DAEMON@mx.elsewhere.example>\r\n" +
		"To: alice@example.test\r\nSubject: Undelivered Mail Returned to Sender\r\n" +
		"Date: Mon, 23 Nov 2026 19:30:00 +0000\r\nMessage-ID: <unmatched-1@mx.elsewhere.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"BB\"\r\n\r\n" +
		"--BB\r\nContent-Type: text/plain\r\n\r\nThis message was sent by another program.\r\n\r\n" +
		"--BB\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.elsewhere.example\r\n" +
		"Original-Envelope-Id: not-ours-at-all\r\n\r\nFinal-Recipient: rfc822; nobody@elsewhere.example\r\n" +
		"Action: failed\r\nStatus: 5.1.1\r\n\r\n--BB--\r\n")
	if _, err := a.Reports.Ingest(ctx, raw, reports.Meta{Account: "main", Mailbox: "INBOX", UIDValidity: 1, UID: 99,
		ReceivedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	list, err := s.Tracking.Unmatched(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got *ui.UnmatchedReport
	for i := range list {
		if list[i].Mailbox == "INBOX" && list[i].Account == "main" {
			got = &list[i]
		}
	}
	if got == nil || got.Summary != "nobody@elsewhere.example 5.1.1" {
		t.Fatalf("unmatched: %+v", list)
	}
	text, err := s.Tracking.ReportText(ctx, got.ID)
	if err != nil || !strings.Contains(text, "This message was sent by another program.") || strings.Contains(text, "\r") {
		t.Fatalf("report text %q, %v", text, err)
	}
}
