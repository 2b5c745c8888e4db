package submit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"mailroom/mail"
	"mailroom/mail/wire"
)

// session is one authenticated TLS connection; it implements mail.Session.
type session struct {
	opt Options
	dc  *deadlineConn // TCP, under TLS
	tc  *tls.Conn     // TLS over dc, set once the handshake completed
	c   *smtp.Client  // go-smtp over tc

	text     *textproto.Reader // before go-smtp takes over
	plainExt map[string]bool   // EHLO keywords before STARTTLS
	server   string            // first word of the greeting
	maxSize  int64

	mu sync.Mutex
	// inTxn: MAIL was accepted and no reply to "." has ended that
	// transaction yet, so the next one starts with RSET. After a final
	// reply (RFC 5321 4.1.1.4) the server is back where EHLO left it, and
	// MAIL follows at once: an RSET there would cost a round trip, and
	// go-smtp's Reset another (it says EHLO again).
	inTxn  bool
	reused bool        // a transaction was tried on this connection before
	broken *mail.Error // set once the connection cannot be used again
}

func (s *session) MaxSize() int64 { return s.maxSize }

// Close says QUIT (briefly) when the session is healthy, then closes the
// connection. There is nothing a caller could do about a failed QUIT, so
// Close reports no error.
func (s *session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		s.broken = fail(mail.Deferred, "QUIT", errors.New("session closed"))
		if s.c != nil {
			s.c.CommandTimeout = min(s.opt.CommandTimeout, 10*time.Second)
			s.c.Quit()
		}
	}
	s.dc.Close()
	return nil
}

// markBroken records that the connection is unusable and closes it.
func (s *session) markBroken(e *mail.Error) *mail.Error {
	if s.broken == nil {
		s.broken = e
	}
	s.dc.Close()
	return e
}

// Send runs one transaction: [RSET] MAIL, RCPT for each recipient, DATA,
// the body and ".". See the package documentation for the outcomes; the
// error is non-nil only when the session cannot be used again.
func (s *session) Send(ctx context.Context, env mail.Envelope, body io.Reader) (mail.SubmitResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	t := &txn{s: s, env: env, res: mail.SubmitResult{Server: s.server}}
	t.res.Rcpts = make([]mail.RcptResult, len(env.Recipients))
	for i, a := range env.Recipients {
		t.res.Rcpts[i] = mail.RcptResult{Address: a, Outcome: mail.NotAttempted}
	}
	if s.broken != nil {
		return t.res, &mail.Error{Outcome: mail.Deferred, Reply: s.broken.Reply,
			Err: fmt.Errorf("session unusable: %w", s.broken)}
	}
	if len(env.Recipients) == 0 {
		return t.res, nil
	}
	// When ctx ends the connection is closed: the only interruption that
	// works at every step, and the session is unusable afterwards.
	stop := context.AfterFunc(ctx, func() { s.dc.Close() })
	defer stop()

	err := t.run(body)
	if err != nil {
		if ctx.Err() != nil {
			err.Err = fmt.Errorf("%w (%v)", ctx.Err(), err.Err)
		}
		return t.res, s.markBroken(err)
	}
	return t.res, nil
}

// txn is the state of one Send.
type txn struct {
	s        *session
	env      mail.Envelope
	res      mail.SubmitResult
	accepted []int // indexes of recipients that got 250 to RCPT
}

// setAll gives the same outcome and reply to the recipients in idx.
func (t *txn) setAll(idx []int, o mail.Outcome, r mail.Reply) {
	for _, i := range idx {
		t.res.Rcpts[i].Outcome = o
		t.res.Rcpts[i].Reply = r
	}
}

func (t *txn) all() []int {
	idx := make([]int, len(t.res.Rcpts))
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// pending is every recipient not yet settled by a reply of its own:
// accepted at RCPT, or not yet tried.
func (t *txn) pending() []int {
	var idx []int
	for i, r := range t.res.Rcpts {
		if r.Outcome == mail.NotAttempted || r.Outcome == mail.Accepted {
			idx = append(idx, i)
		}
	}
	return idx
}

// lost ends the transaction on a connection failure or a 421 before ".":
// every recipient not settled is Deferred with that evidence.
func (t *txn) lost(r mail.Reply, err error) *mail.Error {
	t.setAll(t.pending(), mail.Deferred, r)
	return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
}

// is421 reports "service not available, closing transmission channel".
func is421(r mail.Reply) bool { return r.Code == 421 }

func (t *txn) run(body io.Reader) *mail.Error {
	s, c := t.s, t.s.c
	if err := requireTLS(s.tc); err != nil { // never MAIL in clear
		return fail(mail.Unreachable, "MAIL", err)
	}
	plan, perr := t.plan(body)
	if perr != nil {
		t.setAll(t.all(), perr.Outcome, perr.Reply)
		return nil // nothing was sent; the session is fine
	}

	if s.inTxn {
		if err := c.Reset(); err != nil {
			r := ReplyOf("RSET", err)
			// The recipients were never reached; the next session can try.
			return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
		}
	}
	s.inTxn = false
	reused := s.reused
	s.reused = true

	// MAIL FROM. go-smtp drops RET/ENVID silently without DSN; plan knows.
	t.res.DSNRequested = plan.dsn
	if err := c.Mail(plan.from, plan.mailOpts); err != nil {
		r := ReplyOf("MAIL", err)
		switch {
		case reused && (r.Code == 0 || is421(r)):
			// The connection died while idle between transactions (a
			// server's idle timeout): nobody was reached; the next
			// session can try.
			return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
		case r.Code == 0 || is421(r):
			return t.lost(r, err)
		case r.Temporary():
			t.setAll(t.all(), mail.Deferred, r)
		case r.Code == 530: // authentication required: our AUTH did not take
			t.setAll(t.all(), mail.AuthFailed, r)
		default:
			t.setAll(t.all(), mail.Rejected, r)
		}
		return nil
	}
	s.inTxn = true

	// RCPT TO, one by one; each reply settles only its recipient.
rcpts:
	for i, addr := range plan.rcpts {
		if plan.rcptErr[i] != nil {
			t.res.Rcpts[i].Outcome, t.res.Rcpts[i].Reply = mail.Rejected, *plan.rcptErr[i]
			continue
		}
		err := c.Rcpt(addr, plan.rcptOpts[i])
		if err == nil {
			t.accepted = append(t.accepted, i)
			t.res.Rcpts[i].Outcome = mail.Accepted // provisional: until "."
			t.res.Rcpts[i].Reply = mail.Reply{Command: "RCPT", Code: 250}
			continue
		}
		r := ReplyOf("RCPT", err)
		switch {
		case r.Code == 0 || is421(r):
			t.res.Rcpts[i].Outcome, t.res.Rcpts[i].Reply = mail.Deferred, r
			return t.lost(r, err)
		case r.Code == 452 || r.Enhanced == "4.5.3":
			// Too many recipients (RFC 5321 4.5.3.1.10): deliver to those
			// accepted so far; the caller sends the rest in another
			// transaction. Those after this one stay NotAttempted.
			t.res.Rcpts[i].Outcome, t.res.Rcpts[i].Reply = mail.TooManyRecipients, r
			break rcpts
		case r.Temporary():
			t.res.Rcpts[i].Outcome, t.res.Rcpts[i].Reply = mail.Deferred, r
		default:
			t.res.Rcpts[i].Outcome, t.res.Rcpts[i].Reply = mail.Rejected, r
		}
	}
	if len(t.accepted) == 0 {
		return nil // no DATA without a recipient; RSET comes with the next Send
	}
	return t.data(plan.body)
}

// data sends DATA, the body and ".", and settles the accepted recipients.
func (t *txn) data(body io.Reader) *mail.Error {
	s, c := t.s, t.s.c
	w, err := c.Data()
	if err != nil {
		r := ReplyOf("DATA", err)
		switch {
		case r.Code == 0 || is421(r):
			return t.lost(r, err)
		case r.Temporary():
			t.setAll(t.accepted, mail.Deferred, r)
		default:
			t.setAll(t.accepted, mail.Rejected, r)
		}
		return nil
	}

	s.dc.resetWriteFailed()
	src := &srcReader{r: wire.Reader(body)}
	if _, err := io.Copy(w, src); err != nil {
		// We cannot abort DATA politely: closing without "." is the only
		// way to make sure the server discards the partial message.
		r := mail.Reply{Command: "DATA", Text: err.Error()}
		if src.err != nil {
			var tooLong *wire.LineTooLongError
			if errors.As(src.err, &tooLong) {
				// The message itself is unsendable: retrying cannot help.
				t.setAll(t.accepted, mail.Rejected, r)
				return &mail.Error{Outcome: mail.Rejected, Reply: r, Err: src.err}
			}
			t.setAll(t.accepted, mail.Deferred, r)
			return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: fmt.Errorf("reading the message: %w", src.err)}
		}
		return t.lost(r, err)
	}

	resp, err := w.CloseWithResponse()
	if err == nil {
		enh, text := mail.ParseEnhanced(resp.StatusText)
		final := mail.Reply{Command: ".", Code: 250, Enhanced: enh, Text: text}
		t.res.Final, t.res.BodySent = &final, true
		t.setAll(t.accepted, mail.Accepted, final)
		s.inTxn = false
		return nil
	}
	r := ReplyOf(".", err)
	if r.Code != 0 {
		t.res.Final, t.res.BodySent = &r, true
		s.inTxn = false
		switch {
		case r.Temporary():
			t.setAll(t.accepted, mail.Deferred, r)
			if is421(r) {
				return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
			}
		default:
			t.setAll(t.accepted, mail.Rejected, r)
		}
		return nil
	}
	if s.dc.failed() {
		// The "." never fully left: the server cannot have accepted it.
		return t.lost(r, err)
	}
	// "." was written and no reply came: the server may have the message.
	t.res.BodySent = true
	t.setAll(t.accepted, mail.Uncertain, r)
	return &mail.Error{Outcome: mail.Uncertain, Reply: r, Err: err}
}

// srcReader remembers an error of the message source, so a failure to
// read the message is told apart from a failure to write it.
type srcReader struct {
	r   io.Reader
	err error
}

func (s *srcReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}
