package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"mailroom/mail"
	"mailroom/mail/imapsource"
	"mailroom/mail/submit"
)

// CheckResult is one server's "Test connection" result in plain words.
type CheckResult struct {
	OK      bool
	Skipped bool
	Summary string
	Detail  string // the raw error or reply
}

// CheckReport holds SMTP and IMAP separately: one can work while the other
// does not.
type CheckReport struct {
	SMTP, IMAP CheckResult
}

const checkTimeout = 20 * time.Second

// CheckAccount signs in to the account's SMTP and IMAP servers (nothing is
// sent) and explains failures in words. secret, when non-empty, is used
// instead of the stored password (the dialog tests before saving).
func (a *App) CheckAccount(ctx context.Context, acct Account, secret string) CheckReport {
	pw := func(ctx context.Context) (string, error) {
		if secret != "" {
			return secret, nil
		}
		return a.Accounts.Creds.Password(ctx, acct)
	}
	acct.SMTP.Password, acct.IMAP.Password = pw, pw
	acct.SMTP.CAFile, acct.IMAP.CAFile = acct.CAFile, acct.CAFile
	var rep CheckReport
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	sess, err := submit.Dial(ctx, submit.Options{Endpoint: acct.SMTP, DialTimeout: checkTimeout, CommandTimeout: checkTimeout})
	if err != nil {
		rep.SMTP = CheckResult{Summary: ExplainConnError("SMTP", acct.SMTP, err), Detail: err.Error()}
	} else {
		size := ""
		if acct.Name != "" {
			a.rememberMaxSize(ctx, acct.Name, sess.MaxSize())
		}
		if n := sess.MaxSize(); n > 0 {
			size = fmt.Sprintf(" Messages up to %.1f MB are accepted.", float64(n)/1e6)
		}
		sess.Close()
		rep.SMTP = CheckResult{OK: true, Summary: fmt.Sprintf("Signed in to %s over TLS.%s", acct.SMTP.Host, size)}
	}
	if acct.IMAP.Host == "" {
		rep.IMAP = CheckResult{Skipped: true, Summary: "No IMAP server: bounces and delivery reports will not be read."}
		return rep
	}
	src, err := imapsource.Dial(ctx, acct.IMAP, imapsource.Options{DialTimeout: checkTimeout, CommandTimeout: checkTimeout})
	if err != nil {
		rep.IMAP = CheckResult{Summary: ExplainConnError("IMAP", acct.IMAP, err), Detail: err.Error()}
		return rep
	}
	defer src.Close()
	if _, _, err := src.Select(ctx, "INBOX"); err != nil {
		rep.IMAP = CheckResult{Summary: "Signed in, but the INBOX could not be opened.", Detail: err.Error()}
		return rep
	}
	rep.IMAP = CheckResult{OK: true, Summary: fmt.Sprintf("Signed in to %s over TLS and opened the INBOX.", acct.IMAP.Host)}
	return rep
}

// ExplainConnError turns a connection failure into words a user can act on.
func ExplainConnError(proto string, ep mail.Endpoint, err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var authIMAP interface{ AuthFailed() bool }
	var pwErr *PasswordError
	msg := strings.ToLower(err.Error())
	switch {
	case errors.As(err, &pwErr):
		return fmt.Sprintf("%s: Mailroom could not get the password (%v), so it did not try to sign in. Check the password command, or store the password again.", proto, pwErr.Err)
	case mail.OutcomeOf(err) == mail.AuthFailed, errors.As(err, &authIMAP) && authIMAP.AuthFailed():
		return fmt.Sprintf("%s: wrong user name or password (the server refused to sign in). Many providers need an app password.", proto)
	case errors.As(err, &unknownCA):
		return fmt.Sprintf("%s: the certificate of %s is not trusted (unknown authority). If your company uses its own CA, set its CA file.", proto, ep.Host)
	case errors.As(err, &hostErr):
		return fmt.Sprintf("%s: the certificate is not valid for %s: check the server name.", proto, ep.Host)
	case errors.As(err, &invalid):
		return fmt.Sprintf("%s: the certificate of %s is invalid (expired or not yet valid).", proto, ep.Host)
	case strings.Contains(msg, "starttls"):
		return fmt.Sprintf("%s: %s does not offer STARTTLS, and Mailroom never signs in without encryption. Try implicit TLS (port 465 for SMTP, 993 for IMAP).", proto, ep.Addr())
	case strings.Contains(msg, "tls") && (strings.Contains(msg, "first record") || strings.Contains(msg, "handshake")):
		return fmt.Sprintf("%s: TLS failed with %s: the port may expect STARTTLS instead of implicit TLS (or the reverse).", proto, ep.Addr())
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("%s: the host name %s cannot be found.", proto, ep.Host)
	}
	if mail.OutcomeOf(err) == mail.Unreachable || isNetErr(err) {
		return fmt.Sprintf("%s: %s cannot be reached (connection refused or timed out). Check the host, the port and your network.", proto, ep.Addr())
	}
	return fmt.Sprintf("%s: the connection to %s failed.", proto, ep.Addr())
}

func isNetErr(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, context.DeadlineExceeded)
}
