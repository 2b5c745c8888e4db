// Package peers starts, for tests, an in-process SMTP submission server
// (mail/smtptest) and IMAP server (mail/imapsource/imaptest) that accept
// the same user and password over implicit TLS, and writes one CA file
// trusting both: what an account needs to send and to read reports, on
// 127.0.0.1, in milliseconds.
package peers

import (
	"os"
	"path/filepath"
	"testing"

	"mailroom/mail"
	"mailroom/mail/imapsource/imaptest"
	"mailroom/mail/smtptest"
)

// Peers is a running pair and the file an account's CAFile can name.
type Peers struct {
	SMTP   *smtptest.Server
	IMAP   *imaptest.Server
	CAFile string
}

// User and Password sign in to both.
const (
	User     = imaptest.User
	Password = imaptest.Password
)

// Start starts both servers (stopped when the test ends) and writes the
// CA file into dir.
func Start(t testing.TB, dir string) *Peers {
	t.Helper()
	p := &Peers{IMAP: imaptest.NewServer(t, imaptest.Options{}),
		SMTP: smtptest.Start(t, smtptest.Config{Security: mail.ImplicitTLS, Username: User, Password: Password})}
	ca, err := os.ReadFile(p.IMAP.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	p.CAFile = filepath.Join(dir, "peers-ca.pem")
	if err := os.WriteFile(p.CAFile, append(ca, p.SMTP.CAPEM()...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// SMTPEndpoint and IMAPEndpoint are the servers' addresses and security,
// without credentials (the account supplies them).
func (p *Peers) SMTPEndpoint() mail.Endpoint {
	return mail.Endpoint{Host: "127.0.0.1", Port: p.SMTP.Port(), Security: mail.ImplicitTLS, Username: User}
}

func (p *Peers) IMAPEndpoint() mail.Endpoint {
	e := p.IMAP.Endpoint()
	return mail.Endpoint{Host: e.Host, Port: e.Port, Security: mail.ImplicitTLS, Username: User}
}
