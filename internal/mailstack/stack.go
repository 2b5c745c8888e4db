package mailstack

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Domain is the mail domain served by every stack.
const Domain = "example.test"

// ServerName is the name clients should verify; the server certificate also
// covers mail.example.test, 127.0.0.1 and ::1.
const ServerName = "localhost"

// Addresses with a fixed outcome (see the package documentation).
const (
	TempFailAddr = "tempfail@" + Domain
	RejectAddr   = "reject@" + Domain
	BounceAddr   = "bounce@" + Domain
	DeferAddr    = "defer@" + Domain
	// DeadHostDomain is a "remote" domain whose server refuses connections.
	DeadHostDomain = "deadhost.test"
)

// Users lists the mailbox owners that can log in.
var Users = []string{"alice", "bob", "postmaster", "perf", "bulk"}

// Account is one login of the stack.
type Account struct {
	Name     string // "alice"
	Address  string // "alice@example.test"; also the login name (a bare name works too)
	Password string
}

// Stack is one running Postfix + Dovecot pair. The fields are fixed once
// Start returns; treat them as read-only.
type Stack struct {
	Dir            string // private root directory of this stack
	Domain         string // always Domain
	SMTPAddr       string // plain "MX" port: no AUTH, optional STARTTLS
	SubmissionAddr string // 587 style: STARTTLS required, AUTH required
	SMTPSAddr      string // 465 style: implicit TLS, AUTH required
	IMAPAddr       string // IMAP with STARTTLS
	IMAPSAddr      string // IMAP over implicit TLS
	CAFile         string // PEM of the CA that signed the server certificate

	cfg    config
	l      layout
	caPool *x509.CertPool
	procs  []*proc

	ownsDir  bool
	watchdog *os.File // write end of the watchdog's pipe; nil when detached
	stopOnce sync.Once
	stopErr  error
}

// Account returns the credentials of one of [Users]; unknown names get a
// zero Account.
func (s *Stack) Account(name string) Account {
	for _, u := range Users {
		if u == name {
			return Account{Name: u, Address: u + "@" + Domain, Password: u + "pass"}
		}
	}
	return Account{}
}

// CAPool returns a pool holding only the stack's CA.
func (s *Stack) CAPool() *x509.CertPool { return s.caPool }

// TLSConfig returns a client configuration that verifies the stack's
// certificate: its CA only, ServerName "localhost", TLS 1.2 or later.
func (s *Stack) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.caPool, ServerName: ServerName, MinVersion: tls.VersionTLS12}
}

// PostfixLog is the path of Postfix's log (maillog_file).
func (s *Stack) PostfixLog() string { return s.l.PostfixLog }

// DovecotLog is the path of Dovecot's log.
func (s *Stack) DovecotLog() string { return s.l.DovecotLog }

// MaildirPath is the Maildir of user ("bob" or "bob@example.test"); it
// exists from the start for every name in [Users].
func (s *Stack) MaildirPath(user string) string {
	user, _, _ = strings.Cut(user, "@")
	return filepath.Join(s.l.MailDir, Domain, user, "Maildir")
}

// Messages lists the files delivered to user's INBOX, in new/ and cur/
// (Dovecot moves a message to cur/ once an IMAP client has seen it), oldest
// first by name, which starts with the delivery time.
func (s *Stack) Messages(user string) ([]string, error) {
	dir := s.MaildirPath(user)
	var out []string
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		for _, e := range ents {
			if e.Type().IsRegular() {
				out = append(out, filepath.Join(dir, sub, e.Name()))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return filepath.Base(out[i]) < filepath.Base(out[j]) })
	return out, nil
}

// WaitMessages waits until user's INBOX holds at least n messages and returns
// their paths; it fails the test after timeout, showing the Postfix log tail.
func (s *Stack) WaitMessages(t testing.TB, user string, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		files, err := s.Messages(user)
		if err != nil {
			t.Fatalf("mailstack: list Maildir of %s: %v", user, err)
		}
		if len(files) >= n {
			return files
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailstack: %s has %d message(s) after %v, want %d\n%s",
				user, len(files), timeout, n, tail(s.l.PostfixLog, 20))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// Flush asks Postfix to attempt delivery of all queued mail now
// (postqueue -f), so that deferred mail does not wait for the next queue run.
func (s *Stack) Flush() error {
	return s.postqueue("-f")
}

// Queue returns Postfix's queue listing (postqueue -p).
func (s *Stack) Queue() (string, error) {
	out, err := exec.Command(s.cfg.bin.postqueue, "-c", s.l.PostfixDir, "-p").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("postqueue -p: %v: %s", err, out)
	}
	return string(out), nil
}

func (s *Stack) postqueue(arg string) error {
	out, err := exec.Command(s.cfg.bin.postqueue, "-c", s.l.PostfixDir, arg).CombinedOutput()
	if err != nil {
		return fmt.Errorf("postqueue %s: %v: %s", arg, err, out)
	}
	return nil
}

// Env describes the stack as NAME=value lines, for shells and benchmarks.
func (s *Stack) Env() []string {
	return []string{
		"MAILSTACK_DIR=" + s.Dir,
		"MAILSTACK_DOMAIN=" + s.Domain,
		"MAILSTACK_SMTP=" + s.SMTPAddr,
		"MAILSTACK_SUBMISSION=" + s.SubmissionAddr,
		"MAILSTACK_SMTPS=" + s.SMTPSAddr,
		"MAILSTACK_IMAP=" + s.IMAPAddr,
		"MAILSTACK_IMAPS=" + s.IMAPSAddr,
		"MAILSTACK_CA=" + s.CAFile,
		"MAILSTACK_SERVER_NAME=" + ServerName,
		"MAILSTACK_POSTFIX_LOG=" + s.l.PostfixLog,
		"MAILSTACK_DOVECOT_LOG=" + s.l.DovecotLog,
	}
}

// tail returns the last n lines of a log file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- " + path + " (tail)\n" + strings.Join(lines, "\n")
}
