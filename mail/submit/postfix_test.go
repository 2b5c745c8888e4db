package submit_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"mailroom/internal/mailstack"
	"mailroom/mail"
	"mailroom/mail/submit"
)

// TestPostfixE2E submits to a real Postfix (internal/mailstack) on 465 and
// 587: bob@ is accepted with Postfix's own 250 text and lands in his
// Maildir; reject@ gets 550 at RCPT; the session is reused once.
func TestPostfixE2E(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Postfix and Dovecot (internal/mailstack)")
	}
	st := mailstack.Start(t)
	alice, bob := st.Account("alice"), st.Account("bob")
	for _, c := range []struct {
		addr string
		sec  mail.Security
	}{{st.SMTPSAddr, mail.ImplicitTLS}, {st.SubmissionAddr, mail.StartTLS}} {
		t.Run(string(c.sec), func(t *testing.T) {
			host, port, err := mail.ParseHostPort(c.addr)
			if err != nil {
				t.Fatal(err)
			}
			opt := submit.Options{
				Endpoint: mail.Endpoint{Host: host, Port: port, Security: c.sec, Username: alice.Address,
					CAFile:   st.CAFile,
					Password: func(context.Context) (string, error) { return alice.Password, nil }},
				CommandTimeout: 30 * time.Second, FinalReplyTimeout: 30 * time.Second,
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := submit.Dial(ctx, opt)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()

			bad := opt
			bad.Endpoint.Password = func(context.Context) (string, error) { return "wrong", nil }
			if _, err := submit.Dial(ctx, bad); mail.OutcomeOf(err) != mail.AuthFailed {
				t.Errorf("wrong password: %v", err)
			} else {
				t.Logf("wrong password: %v", err)
			}

			before, _ := st.Messages("bob")
			for i := range 2 { // two transactions on one session
				marker := fmt.Sprintf("e2e-%s-%d-%d", c.sec, i, time.Now().UnixNano())
				body := "From: " + alice.Address + "\r\nTo: " + bob.Address + "\r\nSubject: " + marker +
					"\r\nMessage-ID: <" + marker + "@example.test>\r\n\r\nHello from the e2e test.\r\n"
				env := mail.Envelope{From: alice.Address, EnvID: marker, RequestDSN: true,
					Recipients: []string{bob.Address, mailstack.RejectAddr, mailstack.TempFailAddr}}
				res, err := s.Send(ctx, env, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				ok, rej, tmp := res.Rcpts[0], res.Rcpts[1], res.Rcpts[2]
				if tmp.Outcome != mail.Deferred || tmp.Reply.Code != 450 {
					t.Errorf("tempfail: %+v", tmp)
				}
				if ok.Outcome != mail.Accepted || ok.Reply.Code != 250 || !strings.Contains(ok.Reply.Text, "queued as") {
					t.Errorf("bob: %+v", ok)
				}
				if rej.Outcome != mail.Rejected || rej.Reply.Command != "RCPT" || rej.Reply.Code != 550 || rej.Reply.Enhanced != "5.1.1" {
					t.Errorf("reject: %+v", rej)
				}
				if !res.DSNRequested || !res.BodySent {
					t.Errorf("result %+v", res)
				}
				t.Logf("bob: %v; reject: %v", ok.Reply, rej.Reply)
				files := st.WaitMessages(t, "bob", len(before)+i+1, 20*time.Second)
				found := false
				for _, f := range files {
					b, _ := os.ReadFile(f)
					found = found || strings.Contains(string(b), "Subject: "+marker)
				}
				if !found {
					t.Errorf("message %s not in bob's Maildir", marker)
				}
			}
		})
	}
}
