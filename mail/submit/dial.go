package submit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"mailroom/mail"
)

// Dial connects to opt.Endpoint, completes TLS (implicit, or STARTTLS that
// must be offered and must succeed), says EHLO and authenticates. Errors
// are *mail.Error with an Outcome:
//
//   - Unreachable: connect, DNS, TLS handshake or certificate failure,
//     STARTTLS missing or refused, a 5xx greeting/EHLO, no greeting at all;
//   - Deferred: a 4xx (or 421) greeting/EHLO, 4xx to AUTH, a connection
//     lost after the greeting, or ctx ended;
//   - AuthFailed: 5xx to AUTH (535, 534, 530 ...), no usable mechanism,
//     or no password available.
func Dial(ctx context.Context, opt Options) (mail.Session, error) {
	opt = opt.withDefaults()
	ep := opt.Endpoint
	if ep.Security != mail.ImplicitTLS && ep.Security != mail.StartTLS {
		return nil, fail(mail.Unreachable, "CONNECT", fmt.Errorf("security must be %q or %q, not %q", mail.ImplicitTLS, mail.StartTLS, ep.Security))
	}
	if !validHeloName(opt.HeloName) {
		return nil, fail(mail.Unreachable, "EHLO", fmt.Errorf("invalid HELO name %q", opt.HeloName))
	}
	tlsCfg, err := opt.tlsConfig()
	if err != nil {
		return nil, fail(mail.Unreachable, "CONNECT", err)
	}

	d := net.Dialer{Timeout: opt.DialTimeout}
	raw, err := d.DialContext(ctx, "tcp", ep.Addr())
	if err != nil {
		return nil, withCtx(ctx, fail(mail.Unreachable, "CONNECT", err))
	}
	dc := &deadlineConn{Conn: raw, writeTimeout: opt.WriteTimeout}
	// Closing the connection is the one interruption that works at every
	// step (go-smtp resets deadlines on each command).
	stop := context.AfterFunc(ctx, func() { dc.Close() })
	defer stop()

	s := &session{opt: opt, dc: dc}
	if err := s.open(ctx, tlsCfg); err != nil {
		dc.Close()
		return nil, withCtx(ctx, err)
	}
	s.transactions(s.tc)
	return s, nil
}

// open runs everything from the greeting to a successful AUTH.
func (s *session) open(ctx context.Context, tlsCfg *tls.Config) error {
	opt := s.opt
	var greeting []byte
	var err error
	switch opt.Endpoint.Security {
	case mail.ImplicitTLS:
		if s.tc, err = s.handshake(ctx, s.dc, tlsCfg); err != nil {
			return err
		}
		if greeting, err = s.greet(s.tc); err != nil {
			return err
		}
	case mail.StartTLS:
		if greeting, err = s.greet(s.dc); err != nil {
			return err
		}
		if err := s.startTLS(); err != nil {
			return err
		}
		if s.tc, err = s.handshake(ctx, s.dc, tlsCfg); err != nil {
			return err
		}
	}

	// From here on go-smtp speaks, over TLS only.
	if err := s.hello(s.tc, greeting); err != nil {
		return err
	}
	if opt.Endpoint.Username == "" {
		return nil
	}
	return s.auth(ctx)
}

// hello hands conn to go-smtp, which reads the greeting again from
// greeting and says EHLO; it keeps the server's SIZE limit.
func (s *session) hello(conn net.Conn, greeting []byte) error {
	s.c = smtp.NewClient(&replayConn{Conn: conn, pre: bytes.NewReader(greeting)})
	s.c.CommandTimeout = s.opt.CommandTimeout
	if err := s.c.Hello(s.opt.HeloName); err != nil {
		return classifySetup("EHLO", err)
	}
	if size, ok := s.c.MaxMessageSize(); ok {
		s.maxSize = int64(size)
	}
	return nil
}

func (s *session) auth(ctx context.Context) error {
	ep := s.opt.Endpoint
	_, offered := s.c.Extension("AUTH")
	mech, err := chooseMechanism(s.opt.Auth, offered)
	if err != nil {
		return fail(mail.AuthFailed, "AUTH", err)
	}
	if ep.Password == nil {
		return fail(mail.AuthFailed, mail.CmdPassword, errors.New("no password source configured"))
	}
	secret, err := ep.Password(ctx)
	if err != nil {
		return fail(mail.AuthFailed, mail.CmdPassword, fmt.Errorf("getting the password: %w", err))
	}
	err = authenticate(s.c, s.tc, newSASLClient(mech, ep.Username, secret))
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNoTLS):
		return fail(mail.Unreachable, "AUTH", err)
	}
	r := replyOf("AUTH", err)
	switch {
	case r.Code == 0:
		return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
	case r.Temporary():
		return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
	default: // 535, 534, 530, 538, 504 ...: the account needs the user
		return &mail.Error{Outcome: mail.AuthFailed, Reply: r, Err: err}
	}
}

// handshake runs the TLS client handshake over conn within DialTimeout.
func (s *session) handshake(ctx context.Context, conn net.Conn, cfg *tls.Config) (*tls.Conn, error) {
	tc := tls.Client(conn, cfg)
	conn.SetDeadline(time.Now().Add(s.opt.DialTimeout))
	defer conn.SetDeadline(time.Time{})
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fail(mail.Unreachable, "TLS", fmt.Errorf("TLS handshake with %s failed: %w", s.opt.Endpoint.Host, err))
	}
	return tc, nil
}

// greet reads the 220 greeting byte by byte (see oneByteReader) and returns
// its raw bytes for replay to go-smtp.
func (s *session) greet(conn net.Conn) ([]byte, error) {
	var raw bytes.Buffer
	// maxPlain bounds what a hostile server can make us buffer before TLS.
	const maxPlain = 64 << 10
	s.text = textproto.NewReader(bufio.NewReader(io.TeeReader(io.LimitReader(oneByteReader{conn}, maxPlain), &raw)))
	conn.SetDeadline(time.Now().Add(s.opt.CommandTimeout))
	defer conn.SetDeadline(time.Time{})
	code, msg, err := s.text.ReadResponse(220)
	if err != nil {
		var te *textproto.Error
		if errors.As(err, &te) {
			return nil, classifySetup("CONNECT", err)
		}
		// No greeting at all: no SMTP conversation happened.
		return nil, fail(mail.Unreachable, "CONNECT", fmt.Errorf("no greeting from the server: %w", err))
	}
	_ = code
	s.server, _, _ = strings.Cut(msg, " ")
	return bytes.Clone(raw.Bytes()), nil
}

// startTLS says EHLO and STARTTLS in clear, by hand, and refuses to go on
// unless the server offers STARTTLS and answers 220. Nothing else is ever
// sent before TLS.
func (s *session) startTLS() error {
	if err := s.plainCmd("EHLO", "EHLO "+s.opt.HeloName, 250); err != nil {
		return err
	}
	if !s.plainExt["STARTTLS"] {
		return fail(mail.Unreachable, "EHLO", errors.New("the server does not offer STARTTLS: refusing to continue without TLS (no credentials or mail were sent)"))
	}
	if err := s.plainCmd("STARTTLS", "STARTTLS", 220); err != nil {
		var me *mail.Error
		if errors.As(err, &me) && me.Reply.Code != 0 && me.Reply.Code != 421 {
			me.Outcome = mail.Unreachable
			me.Err = fmt.Errorf("the server refused STARTTLS (%d %s): refusing to continue without TLS (no credentials or mail were sent)", me.Reply.Code, me.Reply.Text)
		}
		return err
	}
	return nil
}

// plainCmd sends one command before TLS and reads its reply.
func (s *session) plainCmd(cmd, line string, expect int) error {
	s.dc.SetDeadline(time.Now().Add(s.opt.CommandTimeout))
	defer s.dc.SetDeadline(time.Time{})
	if _, err := io.WriteString(s.dc, line+"\r\n"); err != nil {
		return fail(mail.Deferred, cmd, err)
	}
	_, msg, err := s.text.ReadResponse(expect)
	if err != nil {
		return classifySetup(cmd, err)
	}
	if cmd == "EHLO" {
		s.plainExt = map[string]bool{}
		lines := strings.Split(msg, "\n")
		for _, l := range lines[1:] {
			kw, _, _ := strings.Cut(l, " ")
			s.plainExt[strings.ToUpper(kw)] = true
		}
	}
	return nil
}

// classifySetup classifies a failure before the session is established:
// a 4xx reply means "later" (Deferred), a 5xx means this server will not
// talk to us (Unreachable, counted by the circuit breaker), a lost
// connection after the greeting is Deferred.
func classifySetup(cmd string, err error) error {
	r := replyOf(cmd, err)
	switch {
	case r.Code == 0:
		return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
	case r.Temporary():
		return &mail.Error{Outcome: mail.Deferred, Reply: r, Err: err}
	default:
		return &mail.Error{Outcome: mail.Unreachable, Reply: r, Err: err}
	}
}

// fail builds a *mail.Error for a local or network failure (no reply).
func fail(o mail.Outcome, cmd string, err error) *mail.Error {
	return &mail.Error{Outcome: o, Reply: mail.Reply{Command: cmd, Text: err.Error()}, Err: err}
}

// withCtx turns any failure into Deferred when our own context ended it:
// the server did nothing wrong.
func withCtx(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	var me *mail.Error
	if errors.As(err, &me) {
		me.Outcome = mail.Deferred
		me.Err = fmt.Errorf("%w (%v)", ctx.Err(), me.Err)
		me.Reply.Text = me.Err.Error()
		return me
	}
	return &mail.Error{Outcome: mail.Deferred, Err: fmt.Errorf("%w (%v)", ctx.Err(), err)}
}

// replyOf turns a go-smtp or textproto error into the evidence we keep:
// the server's code, enhanced status and text, or the local error.
func replyOf(cmd string, err error) mail.Reply {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		r := mail.Reply{Command: cmd, Code: se.Code, Text: se.Message}
		if ec := se.EnhancedCode; ec != (smtp.EnhancedCode{}) && ec != smtp.NoEnhancedCode {
			r.Enhanced = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
		}
		return r
	}
	var te *textproto.Error
	if errors.As(err, &te) {
		enh, text := mail.ParseEnhanced(te.Msg)
		return mail.Reply{Command: cmd, Code: te.Code, Enhanced: enh, Text: text}
	}
	return mail.Reply{Command: cmd, Text: err.Error()}
}

// validHeloName accepts a host name or an address literal: the name is
// written into a command line, so nothing else may pass.
func validHeloName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '[', c == ']', c == ':', c == '_':
		default:
			return false
		}
	}
	return true
}
