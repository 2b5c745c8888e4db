package submit

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"sync"
	"time"

	"github.com/emersion/go-smtp"

	"mailroom/mail"
)

// session is one authenticated TLS connection; it implements mail.Session.
type session struct {
	opt Options
	dc  *deadlineConn // TCP, under TLS
	tc  *tls.Conn     // TLS over dc, set once the handshake completed
	c   *smtp.Client  // go-smtp over tc: EHLO and AUTH

	text     *textproto.Reader // before go-smtp takes over
	plainExt map[string]bool   // EHLO keywords before STARTTLS
	server   string            // first word of the greeting
	maxSize  int64

	// The transactions are spoken here, over conn (tc), once AUTH is done:
	// see transactions.
	conn       net.Conn
	limit      *replyLimitReader // under r
	r          *textproto.Reader
	w          *bufio.Writer
	pipelining bool   // the server offers PIPELINING (RFC 2920)
	copyBuf    []byte // the body's way to w, kept for the next message
	// plaintext: the benchmark build's session to smtp-sink, which speaks
	// no TLS (plaintext_bench.go). False in every other build.
	plaintext bool

	mu sync.Mutex
	// inTxn: MAIL was accepted and no reply to "." has ended that
	// transaction yet, so the next one starts with RSET. After a final
	// reply (RFC 5321 4.1.1.4) the server is back where EHLO left it, and
	// MAIL follows at once: an RSET there would cost a round trip.
	inTxn  bool
	reused bool        // a transaction was tried on this connection before
	broken *mail.Error // set once the connection cannot be used again
}

func (s *session) MaxSize() int64 { return s.maxSize }

// has reports whether the server's EHLO offered the keyword.
func (s *session) has(keyword string) bool {
	ok, _ := s.c.Extension(keyword)
	return ok
}

// maxReplyLine bounds one reply line (RFC 5321 4.5.3.1.5 allows 512
// octets) and maxReply a whole reply, so a hostile server cannot make us
// buffer without end.
const (
	maxReplyLine = 4096
	maxReply     = 1 << 20
)

// transactions takes the connection over from go-smtp after AUTH. go-smtp
// has read every reply to what it sent, so its buffer holds nothing.
func (s *session) transactions(conn net.Conn) {
	s.conn = conn
	s.limit = &replyLimitReader{r: conn, maxLine: maxReplyLine, maxReply: maxReply}
	s.r = textproto.NewReader(bufio.NewReader(s.limit))
	s.w = bufio.NewWriterSize(conn, 32<<10)
	s.pipelining = s.has("PIPELINING")
}

// send writes command lines and flushes them together.
func (s *session) send(lines ...string) error {
	for _, l := range lines {
		s.w.WriteString(l)
		s.w.WriteString("\r\n")
	}
	return s.w.Flush()
}

// reply reads one reply within timeout. An error means no reply came (the
// connection failed or the server did not speak SMTP); the Reply then
// holds the local error as its text.
func (s *session) reply(cmd string, timeout time.Duration) (mail.Reply, error) {
	s.conn.SetReadDeadline(time.Now().Add(timeout))
	s.limit.reset()
	code, msg, err := s.r.ReadResponse(0)
	if err != nil {
		return mail.Reply{Command: cmd, Text: err.Error()}, err
	}
	enh, text := mail.ParseEnhanced(msg)
	return mail.Reply{Command: cmd, Code: code, Enhanced: enh, Text: text}, nil
}

// Close says QUIT (briefly) when the session is healthy, then closes the
// connection. There is nothing a caller could do about a failed QUIT, so
// Close reports no error.
func (s *session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.broken == nil {
		s.broken = fail(mail.Deferred, "QUIT", errors.New("session closed"))
		if s.w != nil && s.send("QUIT") == nil {
			s.reply("QUIT", min(s.opt.CommandTimeout, 10*time.Second))
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
// the body and ".". With PIPELINING everything up to DATA goes in one
// write (groups of up to maxGroup commands) and the replies are read after
// it; without, one command at a time.
// See the package documentation for the outcomes; the error is non-nil
// only when the session cannot be used again.
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
