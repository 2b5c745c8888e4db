// Package smtptest owns an in-process SMTP submission peer for tests: a real
// go-smtp server (its Backend/Session interfaces) on 127.0.0.1:0 with TLS
// from a throwaway ECDSA test CA, AUTH PLAIN/LOGIN/XOAUTH2 with fixed
// credentials, optional DSN/SMTPUTF8/SIZE, a recording backend, and fault
// injection in the manner of Postfix's smtp-sink.
//
// Every connection passes through a small line-level proxy in front of
// go-smtp (connection.go). The proxy owns TLS (implicit, or STARTTLS with
// a hand-written plaintext phase), records what the client sent (raw TCP
// bytes and the decrypted SMTP stream) and injects faults that go-smtp's
// server API cannot express: a failed greeting, 454 to STARTTLS, a reply to
// DATA other than 354, 421 followed by a close, a silent disconnect after
// any command (after "." included), slow replies. The go-smtp server behind
// it parses commands and parameters, enforces SIZE, reads and dot-unstuffs
// the body and runs SASL.
//
// Usage:
//
//	srv := smtptest.Start(t, smtptest.Config{Security: mail.StartTLS, DSN: true})
//	opt := submit.Options{Endpoint: srv.Endpoint(), RootCAs: srv.CAPool()}
//	... srv.Received(), srv.Auths(), srv.Transcripts()
package smtptest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"mailroom/mail"
)

// Config describes the peer. The zero value is a well-behaved STARTTLS
// submission server with AUTH PLAIN and LOGIN for user/secret.
type Config struct {
	Security mail.Security // mail.ImplicitTLS or mail.StartTLS (default)
	Username string        // default "user"
	Password string        // default "secret"
	// XOAUTH2Token, when set, offers XOAUTH2 and accepts this bearer token.
	XOAUTH2Token string

	DSN           bool  // advertise DSN (RFC 3461)
	SMTPUTF8      bool  // advertise SMTPUTF8 (RFC 6531)
	MaxSize       int64 // SIZE limit in bytes; 0 advertises SIZE without a limit
	MaxRecipients int   // answer 452 4.5.3 beyond this many RCPTs per transaction
	// NoPipelining leaves PIPELINING (RFC 2920) out of the EHLO reply, so
	// a client speaks one command at a time.
	NoPipelining bool

	Cert          CertKind // which certificate to present
	TLSMaxVersion uint16   // e.g. tls.VersionTLS10: an old server that speaks only that
	// NoSTARTTLS (STARTTLS mode) leaves STARTTLS out of the EHLO reply
	// and, as a trap, offers AUTH in clear.
	NoSTARTTLS bool

	Faults []Fault

	// StallBody makes the server stop reading the body after its first
	// 64 KiB, for this long (or until Close).
	StallBody time.Duration
	// FinalReplyDelay holds the reply after "." back this long.
	FinalReplyDelay time.Duration
	// IdleTimeout closes a connection whose client says nothing; default 30s.
	IdleTimeout time.Duration
}

// Fault changes the server's answer to one command. The first matching
// fault in Config.Faults applies.
type Fault struct {
	// Command is "CONNECT" (the greeting), "EHLO", "STARTTLS", "AUTH",
	// "MAIL", "RCPT", "DATA", "." (the reply after the body), "RSET" ...
	Command string
	// Address restricts a MAIL or RCPT fault to one path (case-insensitive).
	Address string
	// Nth fires on the Nth matching command of a connection (1-based; for
	// RCPT, of a transaction). 0 means every one.
	Nth int
	// Every fires on every Every-th matching command counted over the
	// whole server (deterministic "1 DATA in 7").
	Every int

	Code     int    // the reply code; 421 also closes the connection
	Enhanced string // default "C.0.0" from the code's class
	Text     string // default "smtptest fault at <command>"
	// Close closes the connection after the reply (421 always does).
	Close bool
	// Disconnect closes the connection without any reply. At "." the
	// server has taken the message (it is in Received with ReplyLost).
	Disconnect bool
	// Delay waits before answering; alone, it is a slow but normal reply.
	Delay time.Duration
}

// Reply is a fault answering code (with default enhanced code and text).
func Reply(command string, code int) Fault { return Fault{Command: command, Code: code} }

// Drop is a fault closing the connection without a reply to command.
func Drop(command string) Fault { return Fault{Command: command, Disconnect: true} }

func (f *Fault) line(verb string) string {
	enh := f.Enhanced
	if enh == "" {
		enh = fmt.Sprintf("%d.0.0", f.Code/100)
	}
	text := f.Text
	if text == "" {
		text = "smtptest fault at " + verb
	}
	return fmt.Sprintf("%d %s %s\r\n", f.Code, enh, text)
}

// Message is one message the backend took (250 after "." or a reply lost).
type Message struct {
	Conn      int    // connection number, from 1
	From      string // reverse path as received
	EnvID     string // ENVID, "" when absent
	Ret       string // RET: "HDRS", "FULL" or ""
	Body      string // BODY: "8BITMIME", "7BIT" or ""
	UTF8      bool   // SMTPUTF8 given
	Size      int64  // SIZE declared, 0 when absent
	Rcpts     []Rcpt
	Data      []byte // the body as the server stored it (dot-unstuffed)
	ReplyLost bool   // a Disconnect fault at "." swallowed the 250
}

// Rcpt is one accepted RCPT with its DSN parameters.
type Rcpt struct {
	Addr      string
	Notify    []string // NOTIFY values, nil when absent
	ORCPT     string   // ORCPT address, "" when absent
	ORCPTType string   // "RFC822" or "UTF-8"
}

// AuthAttempt is one AUTH the server saw.
type AuthAttempt struct {
	Conn      int
	Mechanism string
	Username  string
	OK        bool
	InClear   bool // sent before TLS (only possible with NoSTARTTLS)
}

// Transcript is what the client sent on one connection.
type Transcript struct {
	Conn int
	// Raw is every byte read from the TCP connection, TLS records included.
	Raw []byte
	// Plain is the SMTP stream the client sent as the server read it:
	// clear text before TLS, decrypted after.
	Plain []byte
	// Replies is the SMTP stream the server sent, in clear.
	Replies      []byte
	TLS          bool   // a TLS handshake completed
	HandshakeErr string // the server's view of a failed handshake
	// Pipelined counts the commands read while more of the client's
	// bytes were already waiting: sent before this command's reply.
	Pipelined int
}

// Server is a running peer. Start registers its Close with t.Cleanup.
type Server struct {
	cfg  Config
	ca   *testCA
	tls  *tls.Config
	ln   net.Listener
	smtp *smtp.Server
	pipe *chanListener
	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	nconn    int
	conns    map[net.Conn]*connState // go-smtp's end of each pipe
	open     map[net.Conn]struct{}   // client TCP connections, closed on Close
	tr       []*Transcript
	received []Message
	auths    []AuthAttempt
	every    map[int]int // Fault index -> server-wide matching count
	closed   bool
}

// Start runs a peer on 127.0.0.1:0 and stops it when the test ends.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("smtptest: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// New runs a peer without a testing.TB (benchmarks, other harnesses); the
// caller must Close it.
func New(cfg Config) (*Server, error) {
	if cfg.Security == "" {
		cfg.Security = mail.StartTLS
	}
	if cfg.Security != mail.StartTLS && cfg.Security != mail.ImplicitTLS {
		return nil, fmt.Errorf("security %q", cfg.Security)
	}
	if cfg.Username == "" {
		cfg.Username = "user"
	}
	if cfg.Password == "" {
		cfg.Password = "secret"
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Second
	}
	ca, err := newCA("smtptest CA")
	if err != nil {
		return nil, err
	}
	tcfg, err := serverTLS(ca, cfg.Cert, cfg.TLSMaxVersion)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, ca: ca, tls: tcfg, ln: ln,
		done:  make(chan struct{}),
		conns: map[net.Conn]*connState{},
		open:  map[net.Conn]struct{}{},
		every: map[int]int{},
	}
	s.pipe = &chanListener{ch: make(chan net.Conn), done: s.done}

	srv := smtp.NewServer(&backend{s: s})
	srv.Domain = "localhost"
	// The proxy in front guarantees TLS before go-smtp sees a byte; go-smtp
	// only sees a pipe, so it must be told AUTH is fine there.
	srv.AllowInsecureAuth = true
	srv.EnableDSN = cfg.DSN
	srv.EnableSMTPUTF8 = cfg.SMTPUTF8
	srv.MaxMessageBytes = cfg.MaxSize
	srv.MaxRecipients = cfg.MaxRecipients
	srv.ErrorLog = log.New(io.Discard, "", 0)
	s.smtp = srv

	s.wg.Add(2)
	go func() { defer s.wg.Done(); srv.Serve(s.pipe) }()
	go func() { defer s.wg.Done(); s.acceptLoop() }()
	return s, nil
}

func (s *Server) acceptLoop() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.nconn++
		id := s.nconn
		tr := &Transcript{Conn: id}
		s.tr = append(s.tr, tr)
		s.open[c] = struct{}{}
		s.mu.Unlock()
		if s.cfg.StallBody > 0 {
			// A small receive window makes a stalled reader visible to
			// the client after a few MB instead of tens.
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(16 << 10)
			}
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(id, tr, c)
			s.mu.Lock()
			delete(s.open, c)
			s.mu.Unlock()
			c.Close()
		}()
	}
}

// Close stops the server and every connection, and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	for c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	s.smtp.Close()
	s.wg.Wait()
}

// Addr is "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port is the listening port.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Endpoint describes the server as an account endpoint: 127.0.0.1 (the
// certificate names it), its security mode and the configured credentials.
func (s *Server) Endpoint() mail.Endpoint {
	pw := s.cfg.Password
	return mail.Endpoint{
		Host: "127.0.0.1", Port: s.Port(), Security: s.cfg.Security,
		Username: s.cfg.Username,
		Password: func(context.Context) (string, error) { return pw, nil },
	}
}

// CAPool trusts the test CA (the client's Options.RootCAs).
func (s *Server) CAPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.ca.cert)
	return p
}

// CAPEM is the test CA in PEM, for an Endpoint.CAFile.
func (s *Server) CAPEM() []byte { return append([]byte(nil), s.ca.pem...) }

// Received lists the messages taken so far.
func (s *Server) Received() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.received...)
}

// Auths lists the AUTH attempts so far.
func (s *Server) Auths() []AuthAttempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]AuthAttempt(nil), s.auths...)
}

// Transcripts returns a copy of every connection's transcript so far.
func (s *Server) Transcripts() []Transcript {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Transcript, len(s.tr))
	for i, t := range s.tr {
		out[i] = *t
		out[i].Raw = append([]byte(nil), t.Raw...)
		out[i].Plain = append([]byte(nil), t.Plain...)
		out[i].Replies = append([]byte(nil), t.Replies...)
	}
	return out
}

// ClientBytes is the clear-text stream of every connection, concatenated.
func (s *Server) ClientBytes() []byte {
	var b []byte
	for _, t := range s.Transcripts() {
		b = append(b, t.Plain...)
	}
	return b
}

// Conns is the number of connections accepted so far.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nconn
}

// match finds the fault for a command, counting occurrences. count is the
// per-connection (RCPT: per-transaction) number of this command.
func (s *Server) match(verb, arg string, count int) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.cfg.Faults {
		f := &s.cfg.Faults[i]
		if !strings.EqualFold(f.Command, verb) {
			continue
		}
		if f.Address != "" && !strings.EqualFold(pathOf(arg), f.Address) {
			continue
		}
		if f.Nth > 0 && count != f.Nth {
			continue
		}
		if f.Every > 0 {
			s.every[i]++
			if s.every[i]%f.Every != 0 {
				continue
			}
		}
		return f
	}
	return nil
}

// pathOf extracts the address between < and > of a MAIL or RCPT argument.
func pathOf(arg string) string {
	_, rest, ok := strings.Cut(arg, "<")
	if !ok {
		return ""
	}
	p, _, _ := strings.Cut(rest, ">")
	return p
}

// chanListener feeds go-smtp the server ends of the proxy's pipes.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error { return nil }

func (l *chanListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "smtptest-pipe" }

var errClosed = errors.New("smtptest: server closed")
