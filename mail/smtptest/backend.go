package smtptest

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// backend is the recording go-smtp backend.
type backend struct{ s *Server }

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	b.s.mu.Lock()
	st := b.s.conns[c.Conn()]
	b.s.mu.Unlock()
	if st == nil {
		st = &connState{}
	}
	return &session{s: b.s, st: st}, nil
}

type session struct {
	s   *Server
	st  *connState
	cur *Message
}

func (ss *session) AuthMechanisms() []string {
	m := []string{sasl.Plain, sasl.Login}
	if ss.s.cfg.XOAUTH2Token != "" {
		m = append(m, "XOAUTH2")
	}
	return m
}

func (ss *session) Auth(mech string) (sasl.Server, error) {
	cfg := ss.s.cfg
	check := func(user, secret string) error {
		ok := user == cfg.Username && secret == cfg.Password
		if mech == "XOAUTH2" {
			ok = user == cfg.Username && secret == cfg.XOAUTH2Token
		}
		ss.s.mu.Lock()
		ss.s.auths = append(ss.s.auths, AuthAttempt{Conn: ss.st.id, Mechanism: mech, Username: user, OK: ok})
		ss.s.mu.Unlock()
		if !ok {
			return smtp.ErrAuthFailed
		}
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	case "XOAUTH2":
		if cfg.XOAUTH2Token != "" {
			return &xoauth2Server{check: check}, nil
		}
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	ss.cur = &Message{Conn: ss.st.id, From: from}
	if opts != nil {
		ss.cur.EnvID, ss.cur.Ret, ss.cur.Body = opts.EnvelopeID, string(opts.Return), string(opts.Body)
		ss.cur.UTF8, ss.cur.Size = opts.UTF8, opts.Size
	}
	return nil
}

func (ss *session) Rcpt(to string, opts *smtp.RcptOptions) error {
	r := Rcpt{Addr: to}
	if opts != nil {
		for _, n := range opts.Notify {
			r.Notify = append(r.Notify, string(n))
		}
		r.ORCPT, r.ORCPTType = opts.OriginalRecipient, string(opts.OriginalRecipientType)
	}
	ss.cur.Rcpts = append(ss.cur.Rcpts, r)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	var buf bytes.Buffer
	if d := ss.s.cfg.StallBody; d > 0 {
		if _, err := io.CopyN(&buf, r, 64<<10); err != nil {
			return err
		}
		select { // stop reading: the client's writes back up
		case <-time.After(d):
		case <-ss.s.done:
			return errClosed
		}
	}
	if _, err := io.Copy(&buf, r); err != nil {
		return err // 552 when over SIZE
	}
	f := ss.st.takeDot()
	if f != nil && f.Code != 0 && !f.Disconnect {
		return &smtp.SMTPError{Code: f.Code, EnhancedCode: enhanced(f), Message: faultText(f, ".")}
	}
	m := *ss.cur
	m.Data = buf.Bytes()
	m.ReplyLost = f != nil && f.Disconnect
	ss.s.mu.Lock()
	ss.s.received = append(ss.s.received, m)
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Reset() { ss.cur = nil }

func (ss *session) Logout() error { return nil }

func enhanced(f *Fault) smtp.EnhancedCode {
	e := smtp.EnhancedCode{f.Code / 100, 0, 0}
	if parts := strings.Split(f.Enhanced, "."); len(parts) == 3 {
		for i, p := range parts {
			e[i], _ = strconv.Atoi(p)
		}
	}
	return e
}

func faultText(f *Fault, verb string) string {
	if f.Text != "" {
		return f.Text
	}
	return "smtptest fault at " + verb
}

// loginServer is the obsolete but common LOGIN mechanism (go-sasl has only
// the client): "Username:" then "Password:", accepting the user name as
// an initial response.
type loginServer struct {
	check func(user, pass string) error
	step  int
	user  string
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		if resp == nil {
			l.step = 1
			return []byte("Username:"), false, nil
		}
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

// xoauth2Server accepts "user=U^Aauth=Bearer T^A^A"; on failure it sends
// the JSON challenge and fails after the client's empty response.
type xoauth2Server struct {
	check  func(user, token string) error
	failed bool
}

func (x *xoauth2Server) Next(resp []byte) ([]byte, bool, error) {
	if x.failed {
		return nil, true, smtp.ErrAuthFailed
	}
	if resp == nil {
		return []byte{}, false, nil
	}
	var user, token string
	for _, kv := range strings.Split(string(resp), "\x01") {
		if v, ok := strings.CutPrefix(kv, "user="); ok {
			user = v
		}
		if v, ok := strings.CutPrefix(kv, "auth=Bearer "); ok {
			token = v
		}
	}
	if err := x.check(user, token); err != nil {
		x.failed = true
		return []byte(`{"status":"401","schemes":"bearer"}`), false, nil
	}
	return nil, true, nil
}
