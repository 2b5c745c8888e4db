package submit_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/mail/submit"
)

// TestReuse: three transactions on one session. Each ended with its reply
// to ".", so the next starts with MAIL: no RSET, no second EHLO.
func TestReuse(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{Security: mail.StartTLS})
	s, err := submit.Dial(context.Background(), opts(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, to := range []string{"b@example.test", "c@example.test", "d@example.test"} {
		res, err := s.Send(context.Background(), mail.Envelope{From: "s@example.test", Recipients: []string{to}}, strings.NewReader(msg))
		if err != nil || res.Rcpts[0].Outcome != mail.Accepted {
			t.Fatalf("send %d: %+v %v", i, res, err)
		}
	}
	got := srv.Received()
	if len(got) != 3 || got[1].Rcpts[0].Addr != "c@example.test" || srv.Conns() != 1 {
		t.Fatalf("received %d on %d connections", len(got), srv.Conns())
	}
	if n := bytes.Count(srv.ClientBytes(), []byte("\r\nRSET\r\n")); n != 0 {
		t.Errorf("RSET seen %d times, want 0", n)
	}
	if n := bytes.Count(srv.ClientBytes(), []byte("EHLO ")); n != 2 { // before and after STARTTLS
		t.Errorf("EHLO seen %d times, want 2", n)
	}
	if a := srv.Auths(); len(a) != 1 {
		t.Errorf("auths %+v", a)
	}
}

// TestPipelining: with PIPELINING, MAIL and every RCPT reach the server
// before their replies are read (RFC 2920), and the messages arrive as
// they would one command at a time; without it, no command is sent before
// the previous reply.
func TestPipelining(t *testing.T) {
	to := []string{"b@example.test", "c@example.test", "d@example.test"}
	for _, pipelined := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			srv := smtptest.Start(t, smtptest.Config{NoPipelining: !pipelined})
			s, err := submit.Dial(context.Background(), opts(srv))
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for i := range 2 {
				res, err := s.Send(context.Background(), mail.Envelope{From: "s@example.test", Recipients: to}, strings.NewReader(msg))
				if err != nil || res.Final == nil || res.Final.Code != 250 {
					t.Fatalf("send %d: %+v %v", i, res, err)
				}
				for _, r := range res.Rcpts {
					if r.Outcome != mail.Accepted {
						t.Fatalf("send %d: %+v", i, res)
					}
				}
			}
			got := srv.Received()
			if len(got) != 2 || len(got[1].Rcpts) != 3 || string(got[1].Data) != msg {
				t.Fatalf("received %+v", got)
			}
			// Per transaction, MAIL and three RCPTs were followed by more.
			n := srv.Transcripts()[0].Pipelined
			if want := 8; pipelined && n < want || !pipelined && n != 0 {
				t.Errorf("commands read with more waiting: %d (pipelined: %v)", n, pipelined)
			}
		})
	}
}

// TestPipelinedGroups: more recipients than one pipelined group holds
// (maxGroup) are sent in several groups, and every reply still settles its
// own recipient.
func TestPipelinedGroups(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{Faults: []smtptest.Fault{{Command: "RCPT", Nth: 150, Code: 550, Enhanced: "5.1.1"}}})
	var to []string
	for i := range 250 {
		to = append(to, fmt.Sprintf("r%d@example.test", i))
	}
	res, err := submit.Submit(context.Background(), opts(srv), mail.Envelope{From: "s@example.test", Recipients: to}, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res.Rcpts {
		want := mail.Accepted
		if i == 149 {
			want = mail.Rejected
		}
		if r.Outcome != want || r.Address != to[i] {
			t.Fatalf("recipient %d: %+v, want %s", i, r, want)
		}
	}
	if got := srv.Received(); len(got) != 1 || len(got[0].Rcpts) != 249 {
		t.Fatalf("received %+v", got)
	}
}

// TestReuseAfterFailures: a refused transaction leaves the session usable;
// a 5xx followed by a close is still Rejected, and the next Send reports
// the session unusable with its recipients NotAttempted.
func TestReuseAfterFailures(t *testing.T) {
	for _, pipelined := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) { reuseAfterFailures(t, pipelined) })
	}
}

func reuseAfterFailures(t *testing.T, pipelined bool) {
	srv := smtptest.Start(t, smtptest.Config{NoPipelining: !pipelined, Faults: []smtptest.Fault{
		{Command: "RCPT", Address: "nobody@example.test", Code: 550, Enhanced: "5.1.1"},
		{Command: "MAIL", Address: "closer@example.test", Code: 554, Close: true},
	}})
	s, err := submit.Dial(context.Background(), opts(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	send := func(from string, to ...string) (mail.SubmitResult, error) {
		return s.Send(context.Background(), mail.Envelope{From: from, Recipients: to}, strings.NewReader(msg))
	}
	res, err := send("s@example.test", "nobody@example.test")
	if err != nil || res.Rcpts[0].Outcome != mail.Rejected || res.Final != nil {
		t.Fatalf("1: %+v %v", res, err)
	}
	res, err = send("s@example.test", "b@example.test")
	if err != nil || res.Rcpts[0].Outcome != mail.Accepted {
		t.Fatalf("2: %+v %v", res, err)
	}
	res, err = send("closer@example.test", "b@example.test")
	if err != nil || res.Rcpts[0].Outcome != mail.Rejected || res.Rcpts[0].Reply.Code != 554 {
		t.Fatalf("3: %+v %v", res, err)
	}
	res, err = send("s@example.test", "b@example.test")
	if err == nil || mail.OutcomeOf(err) != mail.Deferred || res.Rcpts[0].Outcome != mail.NotAttempted {
		t.Fatalf("4: %+v %v", res, err)
	}
	res, err = send("s@example.test", "b@example.test")
	if err == nil || !strings.Contains(err.Error(), "unusable") {
		t.Fatalf("5: %+v %v", res, err)
	}
	if len(srv.Received()) != 1 {
		t.Errorf("received %d", len(srv.Received()))
	}
	// Only the first transaction (MAIL taken, every RCPT refused, no DATA)
	// was left open: one RSET, before the second.
	if n := bytes.Count(srv.ClientBytes(), []byte("\r\nRSET\r\n")); n != 1 {
		t.Errorf("RSET seen %d times, want 1", n)
	}
}

// TestAuthMechanisms: PLAIN, LOGIN and XOAUTH2 succeed; a wrong secret is
// AuthFailed with the server's 535 as evidence.
func TestAuthMechanisms(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{XOAUTH2Token: "tok-123"})
	for _, c := range []struct {
		auth, secret string
		ok           bool
	}{
		{"", "secret", true}, {"plain", "secret", true}, {"login", "secret", true}, {"xoauth2", "tok-123", true},
		{"plain", "wrong", false}, {"login", "wrong", false}, {"xoauth2", "wrong", false},
	} {
		o := opts(srv)
		o.Auth = c.auth
		o.Endpoint.Password = func(context.Context) (string, error) { return c.secret, nil }
		s, err := submit.Dial(context.Background(), o)
		if c.ok {
			if err != nil {
				t.Errorf("%s: %v", c.auth, err)
				continue
			}
			s.Close()
			continue
		}
		var me *mail.Error
		if !errors.As(err, &me) || me.Outcome != mail.AuthFailed || me.Reply.Code != 535 || me.Reply.Command != "AUTH" {
			t.Errorf("%s wrong secret: %#v", c.auth, err)
		}
	}
	want := []string{"PLAIN/true", "PLAIN/true", "LOGIN/true", "XOAUTH2/true", "PLAIN/false", "LOGIN/false", "XOAUTH2/false"}
	var got []string
	for _, a := range srv.Auths() {
		got = append(got, a.Mechanism+"/"+map[bool]string{true: "true", false: "false"}[a.OK])
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("auths %v, want %v", got, want)
	}

	o := opts(srv)
	o.Endpoint.Password = func(context.Context) (string, error) { return "", errors.New("keyring locked") }
	if _, err := submit.Dial(context.Background(), o); mail.OutcomeOf(err) != mail.AuthFailed || !strings.Contains(err.Error(), "keyring locked") {
		t.Errorf("password source failure: %v", err)
	}
}

// TestDSNNotAdvertised: the request is recorded as not made, and no DSN
// parameter goes on the wire.
func TestDSNNotAdvertised(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{DSN: false})
	env := mail.Envelope{From: "s@example.test", EnvID: "e1", Recipients: []string{"b@example.test"}, RequestDSN: true}
	res, err := submit.Submit(context.Background(), opts(srv), env, strings.NewReader(msg))
	if err != nil || res.DSNRequested || res.Rcpts[0].Outcome != mail.Accepted {
		t.Fatalf("%+v %v", res, err)
	}
	sent := srv.ClientBytes()
	for _, w := range []string{"ENVID", "RET=", "NOTIFY", "ORCPT"} {
		if bytes.Contains(sent, []byte(w)) {
			t.Errorf("%s sent to a server without DSN", w)
		}
	}
	// And with DSN but RequestDSN false: nothing either.
	srv2 := smtptest.Start(t, smtptest.Config{DSN: true})
	env.RequestDSN = false
	res, _ = submit.Submit(context.Background(), opts(srv2), env, strings.NewReader(msg))
	if res.DSNRequested || bytes.Contains(srv2.ClientBytes(), []byte("NOTIFY")) {
		t.Error("DSN requested though not asked")
	}
}

// TestInternationalAddresses: IDN domains become A-labels when the server
// lacks SMTPUTF8; with SMTPUTF8 they go as UTF-8 with the SMTPUTF8
// parameter; a non-ASCII local part without SMTPUTF8 is refused locally.
func TestInternationalAddresses(t *testing.T) {
	env := mail.Envelope{From: "s@example.test", EnvID: "e2", RequestDSN: true,
		Recipients: []string{"x@bücher.example", "jörg@example.test", "b@example.test"}}

	srv := smtptest.Start(t, smtptest.Config{DSN: true})
	res, err := submit.Submit(context.Background(), opts(srv), env, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	if o := []mail.Outcome{res.Rcpts[0].Outcome, res.Rcpts[1].Outcome, res.Rcpts[2].Outcome}; o[0] != mail.Accepted || o[1] != mail.Rejected || o[2] != mail.Accepted {
		t.Fatalf("outcomes %v (%+v)", o, res.Rcpts)
	}
	if !strings.Contains(res.Rcpts[1].Reply.Text, "SMTPUTF8") {
		t.Errorf("local refusal: %+v", res.Rcpts[1].Reply)
	}
	m := srv.Received()[0]
	if m.UTF8 || m.Rcpts[0].Addr != "x@xn--bcher-kva.example" || m.Rcpts[0].ORCPTType != "UTF-8" || m.Rcpts[0].ORCPT != "x@bücher.example" {
		t.Errorf("without SMTPUTF8: %+v", m)
	}

	srv = smtptest.Start(t, smtptest.Config{SMTPUTF8: true, DSN: true})
	res, err = submit.Submit(context.Background(), opts(srv), env, strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rcpts {
		if r.Outcome != mail.Accepted {
			t.Errorf("with SMTPUTF8: %+v", r)
		}
	}
	m = srv.Received()[0]
	if !m.UTF8 || m.Rcpts[0].Addr != "x@bücher.example" || m.Rcpts[1].Addr != "jörg@example.test" || m.Rcpts[1].ORCPT != "jörg@example.test" {
		t.Errorf("with SMTPUTF8: %+v", m)
	}
	if m.Body != "8BITMIME" {
		t.Errorf("BODY=%q", m.Body)
	}
}

// TestContextCancel: canceling the context interrupts a stalled body at
// once; before "." that is Deferred, never Uncertain.
func TestContextCancel(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{StallBody: time.Minute})
	o := opts(srv)
	o.WriteTimeout = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := submit.Submit(ctx, o, mail.Envelope{From: "s@example.test", Recipients: []string{"b@example.test"}},
		io.MultiReader(bytes.NewReader(bigBody(12<<20))))
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("took %v", d)
	}
	if mail.OutcomeOf(err) != mail.Deferred || res.Rcpts[0].Outcome != mail.Deferred || res.BodySent {
		t.Fatalf("%+v %v", res, err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error does not say why: %v", err)
	}
}

func TestMaxSize(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{MaxSize: 12345})
	s, err := submit.Dial(context.Background(), opts(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.MaxSize() != 12345 {
		t.Errorf("MaxSize %d", s.MaxSize())
	}
}

// TestHeloNameInjection: the EHLO name is written into a command line, so
// one carrying CR/LF is refused before connecting.
func TestHeloNameInjection(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{})
	o := opts(srv)
	o.HeloName = "evil\r\nAUTH PLAIN AHVzZXIAc2VjcmV0"
	if _, err := submit.Dial(context.Background(), o); err == nil || !strings.Contains(err.Error(), "invalid HELO name") {
		t.Fatalf("err = %v", err)
	}
	if srv.Conns() != 0 {
		t.Fatal("connected anyway")
	}
}
