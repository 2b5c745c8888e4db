package report_test

import (
	"fmt"
	"strings"

	"mailroom/mail/report"
)

// A Postfix bounce: the report says which copy it is about (ENVID), who
// failed, the remote server's words, and whether the address should be
// suppressed.
func ExampleParse() {
	msg := `From: MAILER-DAEMON@mail.example.test
Subject: Undelivered Mail Returned to Sender
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mail.example.test
Original-Envelope-Id: env-42

Final-Recipient: rfc822; bob@example.net
Original-Recipient: rfc822;bob@example.net
Action: failed
Status: 5.1.1
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.1.1 <bob@example.net>: Recipient address
    rejected: User unknown

--b
Content-Type: text/rfc822-headers

Message-ID: <invoice-7@example.test>

--b--
`
	rep, err := report.Parse(strings.NewReader(msg))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep.Kind, rep.EnvelopeID, rep.ReturnedMessageID)
	for _, rc := range rep.Recipients {
		fmt.Println(rc.Address, rc.Action, rc.Status, rc.ReplyCode, rc.Class)
		fmt.Println(rc.Diagnostic)
	}
	// Output:
	// dsn env-42 <invoice-7@example.test>
	// bob@example.net failed 5.1.1 550 permanent-address
	// 550 5.1.1 <bob@example.net>: Recipient address rejected: User unknown
}
