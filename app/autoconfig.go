package app

import (
	"context"

	"mailroom/mail"
	"mailroom/mail/autoconfig"
)

// Autoconfig suggests an account's servers for an email address (provider
// autoconfig, then DNS SRV). Only server fields and the username are set.
func (a *App) Autoconfig(ctx context.Context, email string) (Account, error) {
	cfg, err := autoconfig.Lookup(ctx, email, autoconfig.Options{})
	if err != nil {
		return Account{}, err
	}
	acct := Account{Email: email}
	if s := cfg.SMTP; s != nil {
		acct.SMTP = mail.Endpoint{Host: s.Host, Port: s.Port, Security: s.Security, Username: s.Username}
	}
	if s := cfg.IMAP; s != nil {
		acct.IMAP = mail.Endpoint{Host: s.Host, Port: s.Port, Security: s.Security, Username: s.Username}
		if acct.SMTP.Username == "" {
			acct.SMTP.Username = s.Username
		}
	}
	return acct, nil
}
