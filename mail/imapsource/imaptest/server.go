package imaptest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"

	"mailroom/mail"
)

// The one user of every test server.
const (
	User     = "alice"
	Password = "alicepass"
)

// Mailboxes created for User, with the special-use attribute LIST reports.
var Mailboxes = map[string]string{"INBOX": "", "Junk": `\Junk`, "Sent": `\Sent`, "Processed": ""}

// Options change how the server runs.
type Options struct {
	// StartTLS serves plain TCP that must be upgraded with STARTTLS;
	// otherwise the listener speaks TLS from the first byte.
	StartTLS bool
	// NoTLS serves plain TCP with no STARTTLS at all and plaintext login
	// allowed: a server a client must refuse to talk to.
	NoTLS bool
}

// Server is a running in-memory IMAP server.
type Server struct {
	Addr   string
	CA     *CA
	CAFile string // CA.PEM written to a file

	srv  *imapserver.Server
	user *imapmemserver.User
	opt  Options

	mu        sync.Mutex
	conns     map[net.Conn]*rawConn // by the conn imapserver sees
	fetches   map[string]map[uint32]int
	dropArmed int64 // >0: cut the next whole-body fetch after this many bytes
	logins    int

	sent atomic.Int64 // bytes written to clients, all connections
}

// NewServer starts a server on 127.0.0.1 and stops it in t.Cleanup.
func NewServer(t testing.TB, opt Options) *Server {
	t.Helper()
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{CA: ca, opt: opt, conns: map[net.Conn]*rawConn{}, fetches: map[string]map[uint32]int{}}
	s.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(s.CAFile, ca.PEM, 0o644); err != nil {
		t.Fatal(err)
	}
	s.user = imapmemserver.NewUser(User, Password)
	for name := range Mailboxes {
		if err := s.user.Create(name, nil); err != nil {
			t.Fatal(err)
		}
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{ca.Server}, MinVersion: tls.VersionTLS12}
	so := &imapserver.Options{
		NewSession: s.newSession,
		Caps:       imap.CapSet{imap.CapIMAP4rev1: {}, imap.CapIMAP4rev2: {}, imap.CapSpecialUse: {}},
		Logger:     log.New(io.Discard, "", 0),
	}
	if opt.StartTLS {
		so.TLSConfig = tlsCfg
	}
	if opt.NoTLS {
		so.InsecureAuth = true
	}
	s.srv = imapserver.New(so)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	var implicit *tls.Config
	if !opt.StartTLS && !opt.NoTLS {
		implicit = tlsCfg
	}
	go s.srv.Serve(&listener{Listener: ln, s: s, tls: implicit})
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Endpoint returns the account's IMAP endpoint for User (the CA is trusted
// through CAFile; tests may instead pass CA.Pool as Options.RootCAs).
func (s *Server) Endpoint() mail.Endpoint {
	host, port, _ := mail.ParseHostPort(s.Addr)
	sec := mail.ImplicitTLS
	if s.opt.StartTLS || s.opt.NoTLS {
		sec = mail.StartTLS
	}
	return mail.Endpoint{Host: host, Port: port, Security: sec, Username: User, CAFile: s.CAFile,
		Password: func(context.Context) (string, error) { return Password, nil }}
}

// Add appends a message to mailbox as the mail system would deliver it and
// returns its UID.
func (s *Server) Add(t testing.TB, mailbox string, raw []byte) uint32 {
	t.Helper()
	return s.AddReceived(t, mailbox, raw, time.Now())
}

// AddReceived is Add with the message's internal date (when the server
// received it) set to at: mail from before Mailroom existed.
func (s *Server) AddReceived(t testing.TB, mailbox string, raw []byte, at time.Time) uint32 {
	t.Helper()
	data, err := s.user.Append(mailbox, literal{bytes.NewReader(raw)}, &imap.AppendOptions{Time: at})
	if err != nil {
		t.Fatal(err)
	}
	return uint32(data.UID)
}

// Recreate deletes and re-creates mailbox, empty, with a new UIDVALIDITY:
// what a server restore or migration does to clients.
func (s *Server) Recreate(t testing.TB, mailbox string) {
	t.Helper()
	if err := s.user.Delete(mailbox); err != nil {
		t.Fatal(err)
	}
	if err := s.user.Create(mailbox, nil); err != nil {
		t.Fatal(err)
	}
}

// BytesSent is what the server has written to all clients so far.
func (s *Server) BytesSent() int64 { return s.sent.Load() }

// BodyFetches returns, for mailbox, how often each UID's whole body (BODY[]
// or BODY.PEEK[], partial or not) was requested.
func (s *Server) BodyFetches(mailbox string) map[uint32]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[uint32]int{}
	for k, v := range s.fetches[mailbox] {
		out[k] = v
	}
	return out
}

// Logins counts successful logins (one per connection).
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// DropNextBodyFetch makes the next whole-body fetch cut its connection
// after afterBytes more bytes have gone out: a network failure in the
// middle of a literal.
func (s *Server) DropNextBodyFetch(afterBytes int64) {
	s.mu.Lock()
	s.dropArmed = max(afterBytes, 1)
	s.mu.Unlock()
}

// DropAll closes every open connection.
func (s *Server) DropAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rc := range s.conns {
		rc.Close()
	}
}

type literal struct{ *bytes.Reader }

func (l literal) Size() int64 { return l.Reader.Size() }

// listener wraps accepted connections to count and cut them below TLS.
type listener struct {
	net.Listener
	s   *Server
	tls *tls.Config
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	rc := &rawConn{Conn: c, sent: &l.s.sent}
	var seen net.Conn = rc
	if l.tls != nil {
		seen = tls.Server(rc, l.tls)
	}
	l.s.mu.Lock()
	l.s.conns[seen] = rc
	l.s.mu.Unlock()
	return seen, nil
}

// rawConn is the TCP connection under TLS.
type rawConn struct {
	net.Conn
	sent   *atomic.Int64
	mu     sync.Mutex
	cutAt  int64 // >0: close once this many more bytes are written
	cutted bool
}

func (rc *rawConn) Write(p []byte) (int, error) {
	rc.mu.Lock()
	if rc.cutted {
		rc.mu.Unlock()
		return 0, net.ErrClosed
	}
	if rc.cutAt > 0 && int64(len(p)) >= rc.cutAt {
		part := p[:rc.cutAt]
		rc.cutted = true
		rc.mu.Unlock()
		n, _ := rc.Conn.Write(part)
		rc.sent.Add(int64(n))
		rc.Conn.Close()
		return n, errors.New("imaptest: connection cut")
	}
	if rc.cutAt > 0 {
		rc.cutAt -= int64(len(p))
	}
	rc.mu.Unlock()
	n, err := rc.Conn.Write(p)
	rc.sent.Add(int64(n))
	return n, err
}

func (rc *rawConn) cutAfter(n int64) {
	rc.mu.Lock()
	rc.cutAt = n
	rc.mu.Unlock()
}

// session is the memory backend's session plus bookkeeping.
type session struct {
	*imapmemserver.UserSession
	s       *Server
	raw     *rawConn
	mailbox string
}

func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	s.mu.Lock()
	raw := s.conns[c.NetConn()]
	s.mu.Unlock()
	return &session{s: s, raw: raw}, nil, nil
}

func (ss *session) Login(username, password string) error {
	if err := ss.s.user.Login(username, password); err != nil {
		return err
	}
	ss.UserSession = imapmemserver.NewUserSession(ss.s.user)
	ss.s.mu.Lock()
	ss.s.logins++
	ss.s.mu.Unlock()
	return nil
}

func (ss *session) Close() error {
	if ss.UserSession == nil {
		return nil
	}
	return ss.UserSession.Close()
}

func (ss *session) Select(name string, options *imap.SelectOptions) (*imap.SelectData, error) {
	data, err := ss.UserSession.Select(name, options)
	if err == nil {
		ss.mailbox = name
	}
	return data, err
}

// List reports the special-use attributes, which the memory backend has no
// way to set.
func (ss *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	for name, attr := range Mailboxes {
		match := false
		for _, p := range patterns {
			match = match || imapserver.MatchList(name, '/', ref, p)
		}
		if !match {
			continue
		}
		d := &imap.ListData{Mailbox: name, Delim: '/'}
		if attr != "" {
			d.Attrs = append(d.Attrs, imap.MailboxAttr(attr))
		}
		if err := w.WriteList(d); err != nil {
			return err
		}
	}
	return nil
}

func (ss *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, options *imap.FetchOptions) error {
	whole := false
	for _, bs := range options.BodySection {
		if bs.Specifier == imap.PartSpecifierNone && len(bs.Part) == 0 && len(bs.HeaderFields) == 0 {
			whole = true
		}
	}
	if whole {
		ss.s.mu.Lock()
		if uids, ok := numSet.(imap.UIDSet); ok {
			if nums, ok := uids.Nums(); ok {
				m := ss.s.fetches[ss.mailbox]
				if m == nil {
					m = map[uint32]int{}
					ss.s.fetches[ss.mailbox] = m
				}
				for _, u := range nums {
					m[uint32(u)]++
				}
			}
		}
		cut := ss.s.dropArmed
		ss.s.dropArmed = 0
		ss.s.mu.Unlock()
		if cut > 0 && ss.raw != nil {
			ss.raw.cutAfter(cut)
		}
	}
	return ss.UserSession.Fetch(w, numSet, options)
}
