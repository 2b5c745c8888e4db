package report

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestPostfixDSN asserts every field of the reports a real Postfix wrote
// (testdata/postfix-dsn, see its README).
func TestPostfixDSN(t *testing.T) {
	arrival := func(h, m int) time.Time { return time.Date(2026, 11, 23, h, m, 0, 0, time.UTC) }
	retry := time.Date(2026, 11, 23, 19, 12, 0, 0, time.UTC)
	tests := []struct {
		file     string
		envID    string
		arrival  time.Time
		returned string
		rcpt     Recipient
	}{
		{"03-failed-error-transport.eml", "env-bounce-1", arrival(19, 9), "<smtpbench-1795460940443419567-0@example.test>",
			Recipient{Address: "bounce@example.test", OriginalRecipient: "bounce@example.test", Action: "failed", Status: "5.1.1",
				Diagnostic: "simulated bounce after accept (mailstack)", DiagnosticType: "x-postfix", Class: ClassPermanentAddress}},
		{"04-failed-outbound-disabled-ret-full.eml", "", arrival(19, 9), "<smtpbench-1795460940621693181-0@example.test>",
			Recipient{Address: "someone@elsewhere.test", OriginalRecipient: "someone@elsewhere.test", Action: "failed", Status: "5.7.1",
				Diagnostic: "outbound delivery disabled in mailstack test environment", DiagnosticType: "x-postfix", Class: ClassPermanentOther}},
		{"05-delayed-closed-port.eml", "env-deadhost-1", arrival(19, 9), "<smtpbench-1795460940563579303-0@example.test>",
			Recipient{Address: "someone@deadhost.test", OriginalRecipient: "someone@deadhost.test", Action: "delayed", Status: "4.4.1",
				Diagnostic: "connect to 127.0.0.1[127.0.0.1]:9: Connection refused", DiagnosticType: "x-postfix",
				WillRetryUntil: retry, Class: ClassTransient}},
		{"06-delayed-retry-transport.eml", "env-defer-1", arrival(19, 9), "<smtpbench-1795460940507358891-0@example.test>",
			Recipient{Address: "defer@example.test", OriginalRecipient: "defer@example.test", Action: "delayed", Status: "4.4.1",
				Diagnostic: "simulated deferral (mailstack)", DiagnosticType: "x-postfix", WillRetryUntil: retry, Class: ClassTransient}},
		// Queue lifetime expired: Action failed with a 4.x.x status is a
		// final failure, not a transient one.
		{"07-failed-expired-retry-transport.eml", "env-defer-1", arrival(19, 9), "<smtpbench-1795460940507358891-0@example.test>",
			Recipient{Address: "defer@example.test", OriginalRecipient: "defer@example.test", Action: "failed", Status: "4.4.1",
				Diagnostic: "simulated deferral (mailstack)", DiagnosticType: "x-postfix", Class: ClassPermanentOther}},
		{"08-failed-expired-closed-port.eml", "env-deadhost-1", arrival(19, 9), "<smtpbench-1795460940563579303-0@example.test>",
			Recipient{Address: "someone@deadhost.test", OriginalRecipient: "someone@deadhost.test", Action: "failed", Status: "4.4.1",
				Diagnostic: "connect to 127.0.0.1[127.0.0.1]:9: Connection refused", DiagnosticType: "x-postfix", Class: ClassPermanentOther}},
		{"09-success-delivered-virtual.eml", "env-success-2", time.Date(2026, 11, 23, 19, 12, 49, 0, time.UTC), "<smtpbench-1795461169803525666-0@example.test>",
			Recipient{Address: "bob@example.test", OriginalRecipient: "bob@example.test", Action: "delivered", Status: "2.0.0",
				Diagnostic: "delivery via virtual: delivered to maildir", DiagnosticType: "x-postfix", Class: ClassSuccess}},
		{"10-failed-unknown-user-virtual.eml", "", time.Date(2026, 11, 23, 19, 12, 47, 0, time.UTC), "<20261123191247.010230@vm>",
			Recipient{Address: "unknown@example.test", OriginalRecipient: "unknown@example.test", Action: "failed", Status: "5.1.1",
				Diagnostic: `unknown user: "unknown@example.test"`, DiagnosticType: "x-postfix", Class: ClassPermanentAddress}},
		{"lmtp-01-failed-unknown-user.eml", "", time.Date(2026, 11, 23, 19, 8, 49, 0, time.UTC), "<20261123190849.007492@vm>",
			Recipient{Address: "unknown@example.test", OriginalRecipient: "unknown@example.test", Action: "failed", Status: "5.1.1",
				ReplyCode: 550, Diagnostic: "550 5.1.1 <unknown@example.test> User doesn't exist: unknown@example.test",
				DiagnosticType: "smtp", RemoteMTA: "mail.example.test", Command: cmdRcpt, Class: ClassPermanentAddress}},
		{"lmtp-02-success-relayed.eml", "env-success-1", arrival(19, 9), "<smtpbench-1795460940384232095-0@example.test>",
			Recipient{Address: "bob@example.test", OriginalRecipient: "bob@example.test", Action: "relayed", Status: "2.0.0",
				ReplyCode: 250, Diagnostic: "250 2.0.0 <bob@example.test> +HwPF0yPBGtDHQAAg+zDdQ Saved",
				DiagnosticType: "smtp", RemoteMTA: "mail.example.test", Class: ClassSuccess}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			rep := parseFile(t, filepath.Join("testdata", "postfix-dsn", tc.file))
			if rep.Kind != KindDSN {
				t.Errorf("Kind = %q, want dsn", rep.Kind)
			}
			if rep.EnvelopeID != tc.envID {
				t.Errorf("EnvelopeID = %q, want %q", rep.EnvelopeID, tc.envID)
			}
			if rep.ReportingMTA != "mail.example.test" {
				t.Errorf("ReportingMTA = %q", rep.ReportingMTA)
			}
			if !rep.ArrivalDate.Equal(tc.arrival) {
				t.Errorf("ArrivalDate = %v, want %v", rep.ArrivalDate, tc.arrival)
			}
			if rep.ReturnedMessageID != tc.returned {
				t.Errorf("ReturnedMessageID = %q, want %q", rep.ReturnedMessageID, tc.returned)
			}
			if rep.TrackingID != "" {
				t.Errorf("TrackingID = %q, want none", rep.TrackingID)
			}
			if rep.From != "MAILER-DAEMON@example.test" {
				t.Errorf("From = %q", rep.From)
			}
			if len(rep.Recipients) != 1 {
				t.Fatalf("got %d recipients, want 1: %+v", len(rep.Recipients), rep.Recipients)
			}
			got := rep.Recipients[0]
			if !got.WillRetryUntil.Equal(tc.rcpt.WillRetryUntil) {
				t.Errorf("WillRetryUntil = %v, want %v", got.WillRetryUntil, tc.rcpt.WillRetryUntil)
			}
			got.WillRetryUntil, tc.rcpt.WillRetryUntil = time.Time{}, time.Time{}
			if got != tc.rcpt {
				t.Errorf("recipient:\n got %+v\nwant %+v", got, tc.rcpt)
			}
		})
	}
}

func parseFile(t *testing.T, path string) *Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := Parse(f)
	if err != nil {
		t.Fatalf("Parse(%s): %v", path, err)
	}
	return rep
}
