package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func mustParse(t *testing.T, msg string) *Report {
	t.Helper()
	rep, err := Parse(strings.NewReader(msg))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return rep
}

// rfc3464Example follows the examples of RFC 3464 appendix B: one
// per-message group and two per-recipient groups, ORCPT in xtext.
const rfc3464Example = `From: Mail Delivery Subsystem <MAILER-DAEMON@CS.UTK.EDU>
To: <owner-info-mime@cs.utk.edu>
Subject: Returned mail: Cannot send message for 5 days
Date: Thu, 7 Jul 1994 17:16:05 -0400
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
    boundary="RAA14128.773615765/CS.UTK.EDU"

--RAA14128.773615765/CS.UTK.EDU

The original message was received at Sat, 2 Jul 1994 17:10:28 -0400
from root@localhost

    ----- The following addresses had delivery problems -----
<louisl@larry.slip.umd.edu>  (unrecoverable error)

--RAA14128.773615765/CS.UTK.EDU
content-type: message/delivery-status

Reporting-MTA: dns; cs.utk.edu
Original-Envelope-Id: env+2B42
Arrival-Date: Sat, 2 Jul 1994 17:10:28 -0400

Original-Recipient: rfc822;louisl+2Bx@larry.slip.umd.edu
Final-Recipient: rfc822;louisl@larry.slip.umd.edu
Action: failed
Status: 4.0.0
Diagnostic-Code: smtp; 426 connection timed out
Last-Attempt-Date: Thu, 7 Jul 1994 17:15:49 -0400

Final-Recipient: RFC822; arathib@vnet.ibm.com
Action: failed
Status: 5.0.0 (permanent failure)
Remote-MTA: DNS; vnet.ibm.com
Diagnostic-Code: SMTP; 550 'arathib@vnet.IBM.COM' is not a
    registered gateway user

--RAA14128.773615765/CS.UTK.EDU
content-type: text/rfc822-headers

Message-ID: <sent-1@cs.utk.edu>
X-Mailroom-Tracking-Id: trk-123
Subject: test

--RAA14128.773615765/CS.UTK.EDU--
`

func TestRFC3464Example(t *testing.T) {
	rep := mustParse(t, rfc3464Example)
	if rep.Kind != KindDSN || rep.EnvelopeID != "env+42" || rep.ReportingMTA != "cs.utk.edu" {
		t.Fatalf("got kind=%q envid=%q mta=%q", rep.Kind, rep.EnvelopeID, rep.ReportingMTA)
	}
	if rep.ReturnedMessageID != "<sent-1@cs.utk.edu>" || rep.TrackingID != "trk-123" {
		t.Errorf("returned id %q tracking %q", rep.ReturnedMessageID, rep.TrackingID)
	}
	if len(rep.Recipients) != 2 {
		t.Fatalf("got %d recipients", len(rep.Recipients))
	}
	r0, r1 := rep.Recipients[0], rep.Recipients[1]
	if r0.Address != "louisl@larry.slip.umd.edu" || r0.OriginalRecipient != "louisl+x@larry.slip.umd.edu" {
		t.Errorf("r0 address %q orcpt %q", r0.Address, r0.OriginalRecipient)
	}
	// Gave up after a temporary error: final, but not the address's fault.
	if r0.Status != "4.0.0" || r0.ReplyCode != 426 || r0.Class != ClassPermanentOther || r0.LastAttemptDate.IsZero() {
		t.Errorf("r0 = %+v", r0)
	}
	if r1.Status != "5.0.0" || r1.ReplyCode != 550 || r1.RemoteMTA != "vnet.ibm.com" ||
		r1.Diagnostic != "550 'arathib@vnet.IBM.COM' is not a registered gateway user" {
		t.Errorf("r1 = %+v", r1)
	}
}

// A global DSN (RFC 6533) with a UTF-8 address and unitext ORCPT.
func TestGlobalDSN(t *testing.T) {
	msg := "From: MAILER-DAEMON@example.test\r\nSubject: Undelivered\r\nContent-Type: multipart/report; report-type=global-delivery-status; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n" +
		"--b\r\nContent-Type: message/global-delivery-status\r\n\r\nReporting-MTA: dns; mx.example.test\r\n\r\n" +
		"Original-Recipient: utf-8; j\\x{00F6}rg@example.test\r\nFinal-Recipient: utf-8; jörg@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n" +
		"--b\r\nContent-Type: message/global-headers\r\n\r\nMessage-ID: <g@example.test>\r\n\r\n--b--\r\n"
	rep := mustParse(t, msg)
	if rep.Kind != KindDSN || len(rep.Recipients) != 1 {
		t.Fatalf("kind %q, %d recipients", rep.Kind, len(rep.Recipients))
	}
	rc := rep.Recipients[0]
	if rc.Address != "jörg@example.test" || rc.OriginalRecipient != "jörg@example.test" || rc.Class != ClassPermanentAddress {
		t.Errorf("got %+v", rc)
	}
	if rep.ReturnedMessageID != "<g@example.test>" {
		t.Errorf("returned id %q", rep.ReturnedMessageID)
	}
}

func TestMDN(t *testing.T) {
	// RFC 8098 section 9 example, shortened.
	msg := `Date: Wed, 20 Sep 1995 00:19:00 (EDT) -0400
From: Joe Recipient <Joe_Recipient@example.com>
Message-Id: <199509200019.12345@example.com>
Subject: Disposition notification
To: Jane Sender <Jane_Sender@example.org>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification;
    boundary="RAA14128.773615765/example.com"

--RAA14128.773615765/example.com

The message sent on 1995 Sep 19 at 13:30:00 (EDT) -0400 to Joe
Recipient <Joe_Recipient@example.com> with subject "First draft of
report" has been displayed.

--RAA14128.773615765/example.com
content-type: message/disposition-notification

Reporting-UA: joes-pc.cs.example.com; Foomail 97.1
Original-Recipient: rfc822;Joe_Recipient@example.com
Final-Recipient: rfc822;Joe_Recipient@example.com
Original-Message-ID: <199509192301.23456@example.org>
Disposition: manual-action/MDN-sent-manually; displayed

--RAA14128.773615765/example.com--
`
	rep := mustParse(t, msg)
	if rep.Kind != KindMDN || rep.MDN == nil {
		t.Fatalf("kind %q mdn %v", rep.Kind, rep.MDN)
	}
	want := MDN{
		ReportingUA:       "joes-pc.cs.example.com; Foomail 97.1",
		OriginalRecipient: "Joe_Recipient@example.com",
		FinalRecipient:    "Joe_Recipient@example.com",
		OriginalMessageID: "<199509192301.23456@example.org>",
		Disposition:       "manual-action/MDN-sent-manually; displayed",
		DispositionType:   "displayed",
	}
	if *rep.MDN != want {
		t.Errorf("MDN = %+v", *rep.MDN)
	}
	if rep.ReturnedMessageID != want.OriginalMessageID {
		t.Errorf("ReturnedMessageID = %q", rep.ReturnedMessageID)
	}
}

func TestReplyAndNotAReport(t *testing.T) {
	reply := mustParse(t, "From: Bob <bob@example.test>\nTo: alice@example.test\nSubject: Re: invoice\nIn-Reply-To: <m1@example.test>\nReferences: <m0@example.test> <m1@example.test>\n\nThanks, got it.\n")
	if reply.Kind != KindReply || reply.InReplyTo != "<m1@example.test>" || len(reply.References) != 2 {
		t.Errorf("reply = %+v", reply)
	}
	plain := mustParse(t, "From: carol@example.test\nSubject: hello\n\nhi\n")
	if plain.Kind != KindNotAReport || len(plain.Recipients) != 0 {
		t.Errorf("plain = %+v", plain)
	}
	if _, err := Parse(strings.NewReader(" \r\n")); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty input: err = %v", err)
	}
}

// Text bounces in the common non-standard layouts.
func TestNonStandardBounces(t *testing.T) {
	tests := []struct {
		name, msg    string
		addr, status string
		reply        int
		class        Class
	}{
		{"qmail", "From: MAILER-DAEMON@mx.example.test\nTo: alice@example.test\nSubject: failure notice\n\n" +
			"Hi. This is the qmail-send program at mx.example.test.\nI'm afraid I wasn't able to deliver your message to the following addresses.\nThis is a permanent error; I've given up. Sorry it didn't work out.\n\n" +
			"<bob@example.net>:\n192.0.2.1 does not like recipient.\nRemote host said: 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown\nGiving up on 192.0.2.1.\n\n" +
			"--- Below this line is a copy of the message.\n\nMessage-ID: <orig-1@example.test>\nX-Mailroom-Tracking-Id: t-9\nFrom: alice@example.test\nTo: bob@example.net\n\nhello\n",
			"bob@example.net", "5.1.1", 550, ClassPermanentAddress},
		{"exim", "From: Mail Delivery System <Mailer-Daemon@mx.example.test>\nTo: alice@example.test\nSubject: Mail delivery failed: returning message to sender\nX-Failed-Recipients: carol@example.org\nAuto-Submitted: auto-replied\n\n" +
			"This message was created automatically by mail delivery software.\n\nA message that you sent could not be delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) failed:\n\n" +
			"  carol@example.org\n    host mx.example.org [192.0.2.7]\n    SMTP error from remote mail server after end of data:\n    550 5.7.1 Message rejected as spam\n\n" +
			"------ This is a copy of the message, including all the headers. ------\n\nMessage-ID: <orig-2@example.test>\n\nbody\n",
			"carol@example.org", "5.7.1", 550, ClassPermanentOther},
		{"gmail", "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\nTo: alice@example.test\nSubject: Delivery Status Notification (Failure)\n\n" +
			"Delivery to the following recipient failed permanently:\n\n     dave@example.net\n\nTechnical details of permanent failure:\nGoogle tried to deliver your message, but it was rejected by the server for the recipient domain example.net.\n\n" +
			"The error that the other server returned was:\n550 5.1.1 <dave@example.net>... User Unknown\n\n----- Original message -----\n\nMessage-ID: <orig-3@example.test>\n",
			"dave@example.net", "5.1.1", 550, ClassPermanentAddress},
		{"exchange", "From: postmaster@corp.example.net\nTo: alice@example.test\nSubject: Undeliverable: report\n\n" +
			"Delivery has failed to these recipients or groups:\n\nerin@corp.example.net\nThe e-mail address you entered couldn't be found.\n\n" +
			"Diagnostic information for administrators:\n\nGenerating server: corp.example.net\n\nerin@corp.example.net\nRemote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup'\n",
			"erin@corp.example.net", "5.1.10", 550, ClassPermanentAddress},
		{"sendmail", "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.test>\nTo: alice@example.test\nSubject: Returned mail: see transcript for details\n\n" +
			"The original message was received at Mon, 1 Jan 2024 10:00:00 +0000\n\n   ----- The following addresses had permanent fatal errors -----\n<frank@example.net>\n    (reason: 552 5.2.2 Mailbox full)\n\n" +
			"   ----- Transcript of session follows -----\n... while talking to mx.example.net.:\n>>> RCPT To:<frank@example.net>\n<<< 552 5.2.2 Mailbox full\n",
			"frank@example.net", "5.2.2", 552, ClassPermanentOther},
		{"delayed", "From: MAILER-DAEMON@mx.example.test\nTo: alice@example.test\nSubject: Delayed Mail (still being retried)\n\n" +
			"This is a warning message only.\n\n<gina@example.net>: connect to mx.example.net[192.0.2.9]:25: Connection timed out\n",
			"gina@example.net", "4.0.0", 0, ClassTransient},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := mustParse(t, tc.msg)
			if rep.Kind != KindBounce {
				t.Fatalf("Kind = %q", rep.Kind)
			}
			if len(rep.Recipients) != 1 {
				t.Fatalf("recipients = %+v", rep.Recipients)
			}
			rc := rep.Recipients[0]
			if rc.Address != tc.addr || rc.Status != tc.status || rc.ReplyCode != tc.reply || rc.Class != tc.class {
				t.Errorf("got %s %s %d %s (%q), want %s %s %d %s", rc.Address, rc.Status, rc.ReplyCode, rc.Class, rc.Diagnostic,
					tc.addr, tc.status, tc.reply, tc.class)
			}
		})
	}
	rep := mustParse(t, tests[0].msg)
	if rep.ReturnedMessageID != "<orig-1@example.test>" || rep.TrackingID != "t-9" {
		t.Errorf("quoted original keys: %q %q", rep.ReturnedMessageID, rep.TrackingID)
	}
}

func TestInspectJSONFields(t *testing.T) {
	rep := mustParse(t, rfc3464Example)
	b, err := rep.InspectJSON()
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "envelope_id", "returned_message_id", "tracking_id", "recipients"} {
		if _, ok := v[k]; !ok {
			t.Errorf("missing %q in %s", k, b)
		}
	}
	rc := v["recipients"].([]any)[1].(map[string]any)
	for _, k := range []string{"address", "action", "status", "reply_code", "diagnostic", "remote_mta", "class"} {
		if _, ok := rc[k]; !ok {
			t.Errorf("recipient missing %q", k)
		}
	}
	if rc["reply_code"].(float64) != 550 || rc["class"] != "permanent-other" {
		t.Errorf("recipient = %v", rc)
	}
}

func TestTruncated(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("From: a@example.test\nSubject: big\n\n")
	line := strings.Repeat("x", 1000) + "\n"
	for b.Len() <= MaxSize {
		b.WriteString(line)
	}
	rep, err := Parse(&b)
	if err != nil || !rep.Truncated || rep.Kind != KindNotAReport {
		t.Fatalf("rep=%+v err=%v", rep, err)
	}
}

func TestStatusAndReplyScan(t *testing.T) {
	for in, want := range map[string]string{
		"550 5.1.1 user unknown":         "5.1.1",
		"relay 192.5.1.1 said 550":       "",
		"(#5.5.0)":                       "5.5.0",
		"250 2.1.5 ok; 550 5.7.1 denied": "5.7.1",
		"version 5.1.10.3":               "",
		"5.1.10 null MX":                 "5.1.10",
	} {
		if got := findStatus(in); got != want {
			t.Errorf("findStatus(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]int{
		"host said: 550-5.7.1 blocked": 550,
		"at 12:45:00 +0000":            0,
		"port 2525 refused":            0,
		"<<< 452 4.2.2 over quota":     452,
	} {
		if got := findReplyCode(in, 0); got != want {
			t.Errorf("findReplyCode(%q) = %d, want %d", in, got, want)
		}
	}
	if got := decodeXtext("a+2Bb+3Dc+zz"); got != "a+b=c+zz" {
		t.Errorf("decodeXtext = %q", got)
	}
}
