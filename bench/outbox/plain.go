package outbox

import (
	"context"
	"io"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"mailroom/mail"
	"mailroom/mail/submit"
)

// plainDialer connects to a plain-SMTP sink without TLS or AUTH.
//
// BENCHMARK ONLY: smtp-sink speaks neither TLS nor AUTH, and the app's
// submit client refuses to talk without TLS by design. Nothing outside
// this benchmark uses it.
type plainDialer struct{ addr string }

func (d plainDialer) Dial(ctx context.Context, _ string) (mail.Session, error) {
	var nd net.Dialer
	conn, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, &mail.Error{Outcome: mail.Unreachable, Reply: mail.Reply{Command: "CONNECT", Text: err.Error()}, Err: err}
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = 30 * time.Second
	c.SubmissionTimeout = 30 * time.Second
	if err := c.Hello("bench.example.test"); err != nil {
		c.Close()
		return nil, &mail.Error{Outcome: mail.Deferred, Reply: submit.ReplyOf("EHLO", err), Err: err}
	}
	return &plainSession{c: c}, nil
}

// plainSession is a minimal mail.Session over go-smtp's client: enough
// classification for a sink that accepts everything.
type plainSession struct {
	c *smtp.Client
	// inTxn: MAIL was accepted and no reply to "." ended the transaction,
	// so the next one starts with RSET (as mail/submit does: after a final
	// reply the server is ready for MAIL, and go-smtp's Reset costs RSET
	// and a new EHLO).
	inTxn bool
}

func outcome(r mail.Reply) mail.Outcome {
	switch {
	case r.Permanent():
		return mail.Rejected
	default:
		return mail.Deferred
	}
}

func (s *plainSession) Send(ctx context.Context, env mail.Envelope, body io.Reader) (mail.SubmitResult, error) {
	res := mail.SubmitResult{Rcpts: make([]mail.RcptResult, len(env.Recipients))}
	for i, a := range env.Recipients {
		res.Rcpts[i] = mail.RcptResult{Address: a, Outcome: mail.NotAttempted}
	}
	broken := func(cmd string, err error) (mail.SubmitResult, error) {
		r := submit.ReplyOf(cmd, err)
		for i := range res.Rcpts {
			if res.Rcpts[i].Outcome == mail.NotAttempted || res.Rcpts[i].Outcome == mail.Accepted {
				res.Rcpts[i].Outcome, res.Rcpts[i].Reply = mail.Deferred, r
			}
		}
		return res, &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
	}
	if s.inTxn {
		if err := s.c.Reset(); err != nil {
			return broken("RSET", err)
		}
	}
	s.inTxn = false
	if err := s.c.Mail(env.From, nil); err != nil {
		return broken("MAIL", err)
	}
	s.inTxn = true
	var ok []int
	for i, a := range env.Recipients {
		if err := s.c.Rcpt(a, nil); err != nil {
			r := submit.ReplyOf("RCPT", err)
			res.Rcpts[i].Outcome, res.Rcpts[i].Reply = outcome(r), r
			continue
		}
		res.Rcpts[i].Outcome = mail.Accepted
		ok = append(ok, i)
	}
	if len(ok) == 0 {
		return res, nil
	}
	w, err := s.c.Data()
	if err != nil {
		return broken("DATA", err)
	}
	if _, err := io.Copy(w, body); err != nil {
		return broken("DATA", err)
	}
	res.BodySent = true
	resp, err := w.CloseWithResponse()
	if err != nil {
		r := submit.ReplyOf(".", err)
		s.inTxn = r.Code == 0 // a final reply ends the transaction
		if r.Code == 0 {
			for _, i := range ok {
				res.Rcpts[i].Outcome, res.Rcpts[i].Reply = mail.Uncertain, r
			}
			return res, &mail.Error{Outcome: mail.Uncertain, Reply: r, Err: err}
		}
		res.Final = &r
		for _, i := range ok {
			res.Rcpts[i].Outcome, res.Rcpts[i].Reply = outcome(r), r
		}
		return res, nil
	}
	s.inTxn = false
	final := mail.Reply{Command: ".", Code: 250, Text: resp.StatusText}
	res.Final = &final
	for _, i := range ok {
		res.Rcpts[i].Reply = final
	}
	return res, nil
}

func (s *plainSession) MaxSize() int64 { return 0 }

func (s *plainSession) Close() error { return s.c.Quit() }
