package submit_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/mail/submit"
)

// Short names for the table.
const (
	A  = mail.Accepted
	D  = mail.Deferred
	R  = mail.Rejected
	U  = mail.Uncertain
	AF = mail.AuthFailed
	UR = mail.Unreachable
	TM = mail.TooManyRecipients
	NA = mail.NotAttempted
)

var rcpts = []string{"a@example.test", "b@example.test", "c@example.test"}

type faultCase struct {
	name     string
	cfg      smtptest.Config
	only     mail.Security // run in this mode only ("" both)
	want     []mail.Outcome
	err      mail.Outcome // outcome of the returned error; "" for none
	cmd      string       // the command whose reply must be in the evidence
	code     int          // its code (0: a lost connection)
	body     func() io.Reader
	bodySent *bool
	// wantPipelined replaces want when the server offers PIPELINING: every
	// RCPT then has a reply of its own, even after a 452.
	wantPipelined []mail.Outcome
	check         func(t *testing.T, srv *smtptest.Server, res mail.SubmitResult, pipelined bool)
}

func yes() *bool { b := true; return &b }
func no() *bool  { b := false; return &b }

func all(o mail.Outcome) []mail.Outcome { return []mail.Outcome{o, o, o} }

// perCommand builds command × {4xx, 5xx, 421, disconnect}.
func perCommand() []faultCase {
	type exp struct {
		c4, c5 int
		w4, w5 []mail.Outcome
		e4, e5 mail.Outcome
		w421   []mail.Outcome
		e421   mail.Outcome
		wDrop  []mail.Outcome
		eDrop  mail.Outcome
		nth    int
		only   mail.Security
	}
	table := map[string]exp{
		// Before the session: the dial error's outcome for everyone.
		"CONNECT":  {c4: 451, c5: 554, w4: all(D), e4: D, w5: all(UR), e5: UR, w421: all(D), e421: D, wDrop: all(UR), eDrop: UR},
		"EHLO":     {c4: 451, c5: 554, w4: all(D), e4: D, w5: all(UR), e5: UR, w421: all(D), e421: D, wDrop: all(D), eDrop: D},
		"STARTTLS": {c4: 454, c5: 554, w4: all(UR), e4: UR, w5: all(UR), e5: UR, w421: all(D), e421: D, wDrop: all(D), eDrop: D, only: mail.StartTLS},
		"AUTH":     {c4: 454, c5: 535, w4: all(D), e4: D, w5: all(AF), e5: AF, w421: all(D), e421: D, wDrop: all(D), eDrop: D},
		// The transaction.
		"MAIL": {c4: 451, c5: 550, w4: all(D), w5: all(R), w421: all(D), e421: D, wDrop: all(D), eDrop: D},
		// RCPT 2 of 3 fails; a 421 or a drop defers the others too.
		"RCPT": {c4: 450, c5: 550, nth: 2, w4: []mail.Outcome{A, D, A}, w5: []mail.Outcome{A, R, A}, w421: all(D), e421: D, wDrop: all(D), eDrop: D},
		"DATA": {c4: 451, c5: 554, w4: all(D), w5: all(R), w421: all(D), e421: D, wDrop: all(D), eDrop: D},
		// After ".": a lost reply is Uncertain, never Deferred.
		".": {c4: 451, c5: 554, w4: all(D), w5: all(R), w421: all(D), e421: D, wDrop: all(U), eDrop: U},
	}
	var out []faultCase
	for _, cmd := range []string{"CONNECT", "EHLO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "."} {
		e := table[cmd]
		mk := func(kind string, f smtptest.Fault, want []mail.Outcome, err mail.Outcome, code int) faultCase {
			f.Command, f.Nth = cmd, e.nth
			c := faultCase{name: cmd + " " + kind, cfg: smtptest.Config{Faults: []smtptest.Fault{f}},
				only: e.only, want: want, err: err, cmd: cmd, code: code}
			if cmd == "." {
				c.bodySent = yes()
			}
			if cmd == "." && kind == "drop" {
				c.check = func(t *testing.T, srv *smtptest.Server, res mail.SubmitResult, _ bool) {
					if got := srv.Received(); len(got) != 1 || !got[0].ReplyLost {
						t.Errorf("server should hold the message whose reply was lost: %+v", got)
					}
				}
			}
			return c
		}
		out = append(out,
			mk("4xx", smtptest.Fault{Code: e.c4}, e.w4, e.e4, e.c4),
			mk("5xx", smtptest.Fault{Code: e.c5}, e.w5, e.e5, e.c5),
			mk("421", smtptest.Fault{Code: 421}, e.w421, e.e421, 421),
			mk("drop", smtptest.Fault{Disconnect: true}, e.wDrop, e.eDrop, 0),
		)
	}
	return out
}

func bigBody(n int) []byte {
	line := strings.Repeat("x", 74) + "\r\n"
	return bytes.Repeat([]byte(line), n/len(line)+1)
}

func otherCases() []faultCase {
	big := bigBody(5000)
	return []faultCase{
		{name: "stall during body", cfg: smtptest.Config{StallBody: 10 * time.Second},
			body: func() io.Reader { return io.MultiReader(bytes.NewReader(bigBody(12 << 20))) },
			want: all(D), err: D, cmd: "DATA", bodySent: no()},
		{name: "slow reply after dot", cfg: smtptest.Config{FinalReplyDelay: 3 * time.Second},
			want: all(U), err: U, cmd: ".", bodySent: yes()},
		{name: "SIZE exceeded at MAIL", cfg: smtptest.Config{MaxSize: 1000},
			body: func() io.Reader { return bytes.NewReader(big) },
			want: all(R), cmd: "MAIL", code: 552},
		{name: "SIZE exceeded after dot", cfg: smtptest.Config{MaxSize: 1000},
			body: func() io.Reader { return io.MultiReader(bytes.NewReader(big)) }, // not seekable: no SIZE=
			want: all(R), cmd: ".", code: 552, bodySent: yes()},
		{name: "452 on RCPT 2", cfg: smtptest.Config{Faults: []smtptest.Fault{{Command: "RCPT", Nth: 2, Code: 452, Enhanced: "4.5.3"}}},
			want: []mail.Outcome{A, TM, NA}, wantPipelined: []mail.Outcome{A, TM, A}, cmd: "RCPT", code: 452},
		{name: "server recipient limit", cfg: smtptest.Config{MaxRecipients: 1},
			want: []mail.Outcome{A, TM, NA}, wantPipelined: []mail.Outcome{A, TM, TM}, cmd: "RCPT", code: 452},
		{name: "451 4.5.3 on RCPT 3", cfg: smtptest.Config{Faults: []smtptest.Fault{{Command: "RCPT", Nth: 3, Code: 451, Enhanced: "4.5.3"}}},
			want: []mail.Outcome{A, A, TM}, cmd: "RCPT", code: 451},
		{name: "partial: per-address replies", cfg: smtptest.Config{Faults: []smtptest.Fault{
			{Command: "RCPT", Address: "B@example.test", Code: 550, Enhanced: "5.1.1", Text: "no such user"},
			{Command: "RCPT", Address: "c@example.test", Code: 450, Enhanced: "4.2.1", Text: "mailbox busy"}}},
			want: []mail.Outcome{A, R, D}, cmd: "RCPT", code: 550,
			check: func(t *testing.T, srv *smtptest.Server, res mail.SubmitResult, _ bool) {
				if r := res.Rcpts[1].Reply; r.Enhanced != "5.1.1" || r.Text != "no such user" {
					t.Errorf("evidence %+v", r)
				}
				if got := srv.Received(); len(got) != 1 || len(got[0].Rcpts) != 1 {
					t.Errorf("received %+v", got)
				}
			}},
		{name: "partial: 421 at RCPT 3", cfg: smtptest.Config{Faults: []smtptest.Fault{{Command: "RCPT", Nth: 3, Code: 421}}},
			want: all(D), err: D, cmd: "RCPT", code: 421},
		// One at a time, DATA waits for an accepted RCPT; pipelined it goes
		// with the RCPTs, and the server refuses it (RFC 2920 3.1).
		{name: "all RCPT refused: no message", cfg: smtptest.Config{Faults: []smtptest.Fault{{Command: "RCPT", Code: 550}}},
			want: all(R), cmd: "RCPT", code: 550,
			check: func(t *testing.T, srv *smtptest.Server, res mail.SubmitResult, pipelined bool) {
				if sent := bytes.Contains(srv.ClientBytes(), []byte("DATA\r\n")); sent != pipelined {
					t.Errorf("DATA sent: %v, pipelined: %v", sent, pipelined)
				}
				if len(srv.Received()) != 0 || res.BodySent {
					t.Errorf("a message went out with no accepted recipient: %+v", srv.Received())
				}
			}},
		{name: "MAIL 5xx then close stays Rejected", cfg: smtptest.Config{Faults: []smtptest.Fault{{Command: "MAIL", Code: 554, Close: true}}},
			want: all(R), cmd: "MAIL", code: 554},
		{name: "DATA 5xx then close stays Rejected", cfg: smtptest.Config{Faults: []smtptest.Fault{{Command: ".", Code: 554, Close: true}}},
			want: all(R), cmd: ".", code: 554, bodySent: yes()},
		{name: "530 at MAIL", cfg: smtptest.Config{Faults: []smtptest.Fault{{Command: "MAIL", Code: 530, Enhanced: "5.7.0"}}},
			want: all(AF), cmd: "MAIL", code: 530},
		{name: "slow but in time", cfg: smtptest.Config{Faults: []smtptest.Fault{{Command: "RCPT", Delay: 100 * time.Millisecond}}, FinalReplyDelay: 100 * time.Millisecond},
			want: all(A), cmd: ".", code: 250},
		{name: "command timeout at MAIL", cfg: smtptest.Config{Faults: []smtptest.Fault{{Command: "MAIL", Delay: 3 * time.Second}}},
			want: all(D), err: D, cmd: "MAIL"},
	}
}

// TestFaultTable runs every case against a server with PIPELINING (the
// commands up to DATA in one write) and one without (a command at a time),
// over implicit TLS and STARTTLS.
func TestFaultTable(t *testing.T) {
	cases := append(perCommand(), otherCases()...)
	n := 0
	for _, c := range cases {
		for _, sec := range []mail.Security{mail.ImplicitTLS, mail.StartTLS} {
			if c.only != "" && c.only != sec {
				continue
			}
			for _, pipelined := range []bool{true, false} {
				n++
				mode := "pipelined"
				if !pipelined {
					mode = "lockstep"
				}
				t.Run(string(sec)+"/"+mode+"/"+c.name, func(t *testing.T) {
					t.Parallel()
					runFaultCase(t, c, sec, pipelined)
				})
			}
		}
	}
	t.Logf("fault table: %d cases (%d scenarios × security modes × pipelining)", n, len(cases))
}

func runFaultCase(t *testing.T, c faultCase, sec mail.Security, pipelined bool) {
	cfg := c.cfg
	cfg.Security = sec
	cfg.NoPipelining = !pipelined
	want := c.want
	if pipelined && c.wantPipelined != nil {
		want = c.wantPipelined
	}
	srv := smtptest.Start(t, cfg)
	o := opts(srv)
	o.CommandTimeout, o.WriteTimeout, o.FinalReplyTimeout = time.Second, 300*time.Millisecond, 500*time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	body := io.Reader(strings.NewReader(msg))
	if c.body != nil {
		body = c.body()
	}
	start := time.Now()
	res, err := submit.Submit(ctx, o, mail.Envelope{From: "s@example.test", Recipients: rcpts}, body)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if ctx.Err() != nil {
		t.Fatalf("hit the per-case deadline: %v", err)
	}
	switch {
	case c.err == "" && err != nil:
		t.Errorf("unexpected error %v", err)
	case c.err != "" && mail.OutcomeOf(err) != c.err:
		t.Errorf("error %v: outcome %s, want %s", err, mail.OutcomeOf(err), c.err)
	}
	if len(res.Rcpts) != len(rcpts) {
		t.Fatalf("rcpts %+v", res.Rcpts)
	}
	found := false
	for i, r := range res.Rcpts {
		if r.Outcome != want[i] {
			t.Errorf("%s: outcome %s, want %s (reply %v)", r.Address, r.Outcome, want[i], r.Reply)
		}
		if r.Reply.Command == c.cmd && (c.code == 0 || r.Reply.Code == c.code) {
			found = true
		}
	}
	if !found {
		t.Errorf("no recipient carries the %s %d reply: %+v", c.cmd, c.code, res.Rcpts)
	}
	if c.bodySent != nil && res.BodySent != *c.bodySent {
		t.Errorf("BodySent %v, want %v", res.BodySent, *c.bodySent)
	}
	if c.check != nil {
		c.check(t, srv, res, pipelined)
	}
}
