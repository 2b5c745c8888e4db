package submit_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/mail/submit"
)

// opts are client options for a peer, with short test timeouts.
func opts(srv *smtptest.Server) submit.Options {
	return submit.Options{
		Endpoint:          srv.Endpoint(),
		RootCAs:           srv.CAPool(),
		DialTimeout:       2 * time.Second,
		CommandTimeout:    2 * time.Second,
		WriteTimeout:      2 * time.Second,
		FinalReplyTimeout: 2 * time.Second,
	}
}

const msg = "From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nHello.\r\n"

func TestSubmitHappyPath(t *testing.T) {
	for _, sec := range []mail.Security{mail.ImplicitTLS, mail.StartTLS} {
		t.Run(string(sec), func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Config{Security: sec, DSN: true})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			env := mail.Envelope{From: "a@example.test", EnvID: "env-1", Recipients: []string{"b@example.test", "c@example.test"}, RequestDSN: true}
			res, err := submit.Submit(ctx, opts(srv), env, strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			if !res.DSNRequested || !res.BodySent || res.Final == nil || res.Final.Code != 250 {
				t.Fatalf("result %+v", res)
			}
			for _, r := range res.Rcpts {
				if r.Outcome != mail.Accepted || r.Reply.Command != "." || r.Reply.Enhanced != "2.0.0" {
					t.Errorf("rcpt %+v", r)
				}
			}
			got := srv.Received()
			if len(got) != 1 || !bytes.Equal(got[0].Data, []byte(msg)) {
				t.Fatalf("received %+v", got)
			}
			m := got[0]
			if m.EnvID != "env-1" || m.Ret != "HDRS" || len(m.Rcpts) != 2 || m.Rcpts[0].ORCPT != "b@example.test" ||
				strings.Join(m.Rcpts[0].Notify, ",") != "SUCCESS,FAILURE,DELAY" || m.Size != int64(len(msg)) {
				t.Errorf("envelope %+v", m)
			}
			if a := srv.Auths(); len(a) != 1 || !a[0].OK || a[0].Mechanism != "PLAIN" {
				t.Errorf("auths %+v", a)
			}
			t.Logf("final reply: %v", res.Final)
		})
	}
}
