package submit

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"mailroom/mail"
	"mailroom/mail/wire"
)

// txn is the state of one Send.
type txn struct {
	s        *session
	env      mail.Envelope
	res      mail.SubmitResult
	accepted []int // indexes of recipients that got 250 to RCPT
	reused   bool  // a transaction was tried on this connection before
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

// replyError is the error for a reply that ends the session.
func replyError(r mail.Reply) error {
	return fmt.Errorf("%s: %d %s", r.Command, r.Code, r.Text)
}

// command is one command line of a transaction and, for RCPT, the index
// of its recipient.
type command struct {
	verb string
	line string
	rcpt int
}

// commands is the transaction up to DATA: RSET when a transaction was
// left open, MAIL, one RCPT per recipient not refused locally, and, when
// pipelining with some RCPT to send, DATA (RFC 2920: the last command of
// a group).
func (t *txn) commands(p *plan) []command {
	var cmds []command
	if t.s.inTxn {
		cmds = append(cmds, command{verb: "RSET", line: "RSET"})
	}
	cmds = append(cmds, command{verb: "MAIL", line: p.mail})
	rcpts := 0
	for i, line := range p.rcpts {
		if p.rcptErr[i] != nil {
			t.res.Rcpts[i].Outcome, t.res.Rcpts[i].Reply = mail.Rejected, *p.rcptErr[i]
			continue
		}
		cmds = append(cmds, command{verb: "RCPT", line: line, rcpt: i})
		rcpts++
	}
	if t.s.pipelining && rcpts > 0 {
		cmds = append(cmds, command{verb: "DATA", line: "DATA"})
	}
	return cmds
}

// maxGroup bounds the commands written before their replies are read.
// Writing without end while the server's replies fill the other direction
// could leave both sides blocked in write (RFC 2920 section 3.1); 100
// RCPT lines are at most ~60 KB, under any TCP buffer the replies and
// commands share.
const maxGroup = 100

// noReply settles a command that got no reply, or 421: the connection is
// gone.
func (t *txn) noReply(c command, r mail.Reply, err error) *mail.Error {
	if err == nil {
		err = replyError(r)
	}
	switch c.verb {
	case "RSET":
		// The recipients were never reached; the next session can try.
		return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
	case "MAIL":
		if t.reused {
			// The connection died while idle between transactions (a
			// server's idle timeout): nobody was reached; the next
			// session can try.
			return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
		}
	case "RCPT":
		t.res.Rcpts[c.rcpt].Outcome, t.res.Rcpts[c.rcpt].Reply = mail.Deferred, r
	}
	return t.lost(r, err)
}

func (t *txn) run(body io.Reader) *mail.Error {
	s := t.s
	if !(plaintextAllowed && s.plaintext) {
		if err := requireTLS(s.tc); err != nil { // never MAIL in clear
			return fail(mail.Unreachable, "MAIL", err)
		}
	}
	plan, perr := t.plan(body)
	if perr != nil {
		t.setAll(t.all(), perr.Outcome, perr.Reply)
		return nil // nothing was sent; the session is fine
	}
	t.reused, s.reused = s.reused, true
	t.res.DSNRequested = plan.dsn

	cmds := t.commands(plan)
	written := 0         // cmds[:written] are on the wire
	var data *mail.Reply // the reply to a pipelined DATA
	for k, c := range cmds {
		if k == written {
			n := 1
			if s.pipelining {
				n = min(maxGroup, len(cmds)-k)
			}
			lines := make([]string, n)
			for i := range lines {
				lines[i] = cmds[k+i].line
			}
			if err := s.send(lines...); err != nil {
				return t.noReply(c, mail.Reply{Command: c.verb, Text: err.Error()}, err)
			}
			written = k + n
		}
		r, err := s.reply(c.verb, s.opt.CommandTimeout)
		if err != nil || is421(r) {
			return t.noReply(c, r, err)
		}
		switch c.verb {
		case "RSET":
			if r.Code/100 != 2 {
				return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: replyError(r)}
			}
			s.inTxn = false
		case "MAIL":
			if r.Code/100 == 2 {
				s.inTxn = true
				continue
			}
			// Recipients refused locally keep their own evidence.
			switch all := t.pending(); {
			case r.Temporary():
				t.setAll(all, mail.Deferred, r)
			case r.Code == 530: // authentication required: our AUTH did not take
				t.setAll(all, mail.AuthFailed, r)
			default:
				t.setAll(all, mail.Rejected, r)
			}
			return t.drain(cmds[k+1 : written])
		case "RCPT":
			// Each reply settles only its recipient.
			i := c.rcpt
			switch {
			case r.Code/100 == 2:
				t.accepted = append(t.accepted, i)
				t.res.Rcpts[i].Outcome, t.res.Rcpts[i].Reply = mail.Accepted, r // provisional: until "."
			case r.Code == 452 || r.Enhanced == "4.5.3":
				// Too many recipients (RFC 5321 4.5.3.1.10): deliver to
				// those accepted; the caller sends the rest in another
				// transaction. One at a time, those after this one are
				// not tried (NotAttempted); pipelined, each has its reply.
				t.res.Rcpts[i].Outcome, t.res.Rcpts[i].Reply = mail.TooManyRecipients, r
				if !s.pipelining {
					return t.data(nil, plan.body)
				}
			case r.Temporary():
				t.res.Rcpts[i].Outcome, t.res.Rcpts[i].Reply = mail.Deferred, r
			default:
				t.res.Rcpts[i].Outcome, t.res.Rcpts[i].Reply = mail.Rejected, r
			}
		case "DATA":
			data = &r
		}
	}
	// Pipelined, data is nil only when no RCPT was sent, so nobody was
	// accepted and t.data sends nothing.
	return t.data(data, plan.body)
}

// drain reads the replies to the pipelined commands after a refused MAIL
// (the server answers them, 503 mostly), so the next transaction reads its
// own replies. Nothing is outstanding one command at a time.
func (t *txn) drain(rest []command) *mail.Error {
	s := t.s
	if !s.pipelining {
		return nil
	}
	for _, c := range rest {
		r, err := s.reply(c.verb, s.opt.CommandTimeout)
		if err != nil || is421(r) {
			// Every recipient has its outcome; only the connection is
			// gone, which the next Send reports with this evidence.
			if err == nil {
				err = replyError(r)
			}
			s.markBroken(&mail.Error{Outcome: mail.Deferred, Reply: r, Err: err})
			return nil
		}
		if c.verb == "DATA" && r.Code == 354 {
			return t.emptyData()
		}
	}
	return nil
}

// emptyData ends a DATA the server accepted with no recipient to deliver
// to (RFC 2920 3.1: the client sends a single dot). The reply changes
// nothing: every recipient is settled already.
func (t *txn) emptyData() *mail.Error {
	s := t.s
	if err := s.send("."); err != nil {
		return &mail.Error{Outcome: mail.Deferred, Reply: mail.Reply{Command: ".", Text: err.Error()}, Err: err}
	}
	r, err := s.reply(".", s.opt.FinalReplyTimeout)
	if err != nil || is421(r) {
		if err == nil {
			err = replyError(r)
		}
		return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
	}
	s.inTxn = false
	return nil
}

// data settles DATA (given: its pipelined reply; nil: send it now), then
// sends the body and "." and settles the accepted recipients.
func (t *txn) data(given *mail.Reply, body io.Reader) *mail.Error {
	s := t.s
	if given == nil {
		if len(t.accepted) == 0 {
			return nil // no DATA without a recipient; RSET comes with the next Send
		}
		if err := s.send("DATA"); err != nil {
			return t.lost(mail.Reply{Command: "DATA", Text: err.Error()}, err)
		}
		r, err := s.reply("DATA", s.opt.CommandTimeout)
		if err != nil || is421(r) {
			return t.noReply(command{verb: "DATA"}, r, err)
		}
		given = &r
	}
	r := *given
	if r.Code != 354 {
		switch {
		case len(t.accepted) == 0:
			// The 503/554 a server gives DATA after refusing every RCPT.
		case r.Temporary():
			t.setAll(t.accepted, mail.Deferred, r)
		default:
			t.setAll(t.accepted, mail.Rejected, r)
		}
		return nil
	}
	if len(t.accepted) == 0 {
		return t.emptyData()
	}
	return t.body(body)
}

// body sends the message and "." and settles the accepted recipients.
func (t *txn) body(body io.Reader) *mail.Error {
	s := t.s
	src := &srcReader{r: wire.Reader(body)}
	dw := wire.NewDotWriter(s.w)
	if s.copyBuf == nil {
		s.copyBuf = make([]byte, 32<<10)
	}
	if _, err := io.CopyBuffer(dw, src, s.copyBuf); err != nil {
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
	err := dw.Close()
	if err == nil {
		err = s.w.Flush()
	}
	if err != nil {
		// The "." never fully left: the server cannot have accepted it.
		return t.lost(mail.Reply{Command: ".", Text: err.Error()}, err)
	}

	r, err := s.reply(".", s.opt.FinalReplyTimeout)
	if err != nil {
		// "." was written whole and no reply came: the server may have
		// the message.
		t.res.BodySent = true
		t.setAll(t.accepted, mail.Uncertain, r)
		return &mail.Error{Outcome: mail.Uncertain, Reply: r, Err: err}
	}
	t.res.Final, t.res.BodySent = &r, true
	s.inTxn = false
	switch {
	case r.Code/100 == 2:
		t.setAll(t.accepted, mail.Accepted, r)
	case r.Temporary():
		t.setAll(t.accepted, mail.Deferred, r)
		if is421(r) {
			return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: replyError(r)}
		}
	default:
		t.setAll(t.accepted, mail.Rejected, r)
	}
	return nil
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

// replyLimitReader fails once a line from the server grows past maxLine
// octets, or once more than maxReply octets came since the last reset (a
// reply of endless continuation lines would otherwise be held whole).
type replyLimitReader struct {
	r        io.Reader
	maxLine  int
	maxReply int
	line     int // octets since the last LF
	total    int // octets since reset
}

// reset starts counting a new reply.
func (l *replyLimitReader) reset() { l.total = 0 }

func (l *replyLimitReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.total += n
	if l.total > l.maxReply {
		return 0, fmt.Errorf("the server sent a reply longer than %d octets", l.maxReply)
	}
	for b := p[:n]; len(b) > 0; {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.line += len(b)
			break
		}
		l.line += i
		if l.line > l.maxLine {
			return 0, l.lineTooLong()
		}
		l.line = 0
		b = b[i+1:]
	}
	if l.line > l.maxLine {
		return 0, l.lineTooLong()
	}
	return n, err
}

func (l *replyLimitReader) lineTooLong() error {
	return fmt.Errorf("the server sent a reply line longer than %d octets", l.maxLine)
}
