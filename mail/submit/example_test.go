package submit_test

import (
	"context"
	"fmt"
	"strings"

	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/mail/submit"
)

// One message to two recipients, one of whom the server refuses.
func ExampleSubmit() {
	srv, err := smtptest.New(smtptest.Config{Security: mail.StartTLS, DSN: true, Faults: []smtptest.Fault{
		{Command: "RCPT", Address: "nobody@example.test", Code: 550, Enhanced: "5.1.1", Text: "no such user"},
	}})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	opt := submit.Options{Endpoint: srv.Endpoint(), RootCAs: srv.CAPool()}
	env := mail.Envelope{
		From:       "alice@example.test",
		EnvID:      "q1.4f2a",
		Recipients: []string{"bob@example.test", "nobody@example.test"},
		RequestDSN: true,
	}
	body := "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: Invoice\r\n\r\nHello.\r\n"
	res, err := submit.Submit(context.Background(), opt, env, strings.NewReader(body))
	if err != nil {
		fmt.Println("session failed:", mail.OutcomeOf(err))
	}
	fmt.Println("DSN requested:", res.DSNRequested)
	for _, r := range res.Rcpts {
		fmt.Printf("%s: %s (%v)\n", r.Address, r.Outcome, r.Reply)
	}
	// Output:
	// DSN requested: true
	// bob@example.test: accepted (.: 250 2.0.0 OK: queued)
	// nobody@example.test: rejected (RCPT: 550 5.1.1 no such user)
}
