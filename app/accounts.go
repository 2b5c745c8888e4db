package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/mail"
)

// Account is one sending identity with its servers. It holds no secret.
type Account struct {
	Name            string        `json:"name"`
	DisplayName     string        `json:"display_name"`
	Email           string        `json:"email"`
	SMTP            mail.Endpoint `json:"-"`
	IMAP            mail.Endpoint `json:"-"`
	CAFile          string        `json:"ca_file,omitempty"`
	PasswordSource  string        `json:"password_source"` // keyring | command
	PasswordCommand string        `json:"password_command,omitempty"`
	SavesSent       bool          `json:"saves_sent"`
	// TrackOpens and TrackClicks are the account's defaults for "Track
	// opens" and "Track clicks" on new messages; TrackGlobal (or empty)
	// follows the settings tracking.default_opens and default_clicks.
	TrackOpens  TrackDefault `json:"track_opens"`
	TrackClicks TrackDefault `json:"track_clicks"`
}

// TrackDefault is an account's default for one kind of tracking.
type TrackDefault string

// Values of TrackDefault, as stored and as the CLI takes them.
const (
	TrackGlobal TrackDefault = "global" // follow the global setting
	TrackOn     TrackDefault = "on"
	TrackOff    TrackDefault = "off"
)

// ParseTrackDefault reads "global", "on" or "off".
func ParseTrackDefault(s string) (TrackDefault, error) {
	switch d := TrackDefault(strings.ToLower(strings.TrimSpace(s))); d {
	case TrackGlobal, TrackOn, TrackOff:
		return d, nil
	}
	return "", fmt.Errorf("%q: use global (follow the global setting), on or off", s)
}

// resolve is the default in force given the global setting's value.
func (d TrackDefault) resolve(global bool) bool {
	switch d {
	case TrackOn:
		return true
	case TrackOff:
		return false
	}
	return global
}

// Accounts is the one account service used by the CLI and the GUI.
type Accounts struct {
	DB    *sqlitedb.DB
	Creds Credentials
}

var accountName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// Validate checks an account before it is stored.
func (a *Account) Validate() error {
	if !accountName.MatchString(a.Name) {
		return fmt.Errorf("account name %q: use 1-64 letters, digits, dot, dash or underscore", a.Name)
	}
	addr, err := mail.ParseAddress(a.Email)
	if err != nil {
		return fmt.Errorf("email: %w", err)
	}
	a.Email = addr.Address
	if strings.ContainsAny(a.DisplayName, "\r\n\x00") {
		return errors.New("display name: control characters are not allowed")
	}
	if a.SMTP.Host == "" || a.SMTP.Port == 0 {
		return errors.New("SMTP server: HOST:PORT is required")
	}
	if _, err := mail.ParseSecurity(string(a.SMTP.Security)); err != nil {
		return fmt.Errorf("SMTP %w", err)
	}
	if a.IMAP.Host != "" {
		if _, err := mail.ParseSecurity(string(a.IMAP.Security)); err != nil {
			return fmt.Errorf("IMAP %w", err)
		}
	}
	if a.SMTP.Username == "" {
		return errors.New("username is required")
	}
	switch a.PasswordSource {
	case "keyring":
	case "command":
		if strings.TrimSpace(a.PasswordCommand) == "" {
			return errors.New("password command is empty")
		}
	default:
		return errors.New("choose a password source: the keyring (--password-stdin) or a command (--password-command)")
	}
	for _, d := range []*TrackDefault{&a.TrackOpens, &a.TrackClicks} {
		if *d == "" {
			*d = TrackGlobal
		}
		v, err := ParseTrackDefault(string(*d))
		if err != nil {
			return fmt.Errorf("tracking default %w", err)
		}
		*d = v
	}
	return nil
}

// Add stores a new account; secret (when the source is the keyring) goes to
// the keyring first, so a keyring failure leaves no half-made account.
func (s *Accounts) Add(ctx context.Context, a Account, secret string) error {
	a.IMAP.Username = a.SMTP.Username
	if err := a.Validate(); err != nil {
		return err
	}
	if existing, _ := s.Get(ctx, a.Name); existing != nil {
		return fmt.Errorf("account %q exists already", a.Name)
	}
	if a.PasswordSource == "keyring" {
		if err := s.Creds.Store(a.Name, secret); err != nil {
			return err
		}
	}
	_, err := s.DB.W.ExecContext(ctx, `INSERT INTO accounts(name, display_name, email, smtp_host, smtp_port, smtp_security,
		imap_host, imap_port, imap_security, username, ca_file, password_source, password_command, saves_sent,
		track_opens, track_clicks, created_at)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		a.Name, a.DisplayName, a.Email, a.SMTP.Host, a.SMTP.Port, string(a.SMTP.Security),
		a.IMAP.Host, a.IMAP.Port, imapSecurity(a), a.SMTP.Username, a.CAFile, a.PasswordSource, a.PasswordCommand,
		a.SavesSent, string(a.TrackOpens), string(a.TrackClicks), time.Now().UnixMilli())
	if err != nil {
		return fmt.Errorf("save account: %w", err)
	}
	return nil
}

func imapSecurity(a Account) string {
	if a.IMAP.Security == "" {
		return string(mail.ImplicitTLS)
	}
	return string(a.IMAP.Security)
}

// Update replaces an account's settings; secret, when non-empty, replaces
// the keyring entry.
func (s *Accounts) Update(ctx context.Context, a Account, secret string) error {
	a.IMAP.Username = a.SMTP.Username
	if err := a.Validate(); err != nil {
		return err
	}
	if a.PasswordSource == "keyring" && secret != "" {
		if err := s.Creds.Store(a.Name, secret); err != nil {
			return err
		}
	}
	res, err := s.DB.W.ExecContext(ctx, `UPDATE accounts SET display_name=?, email=?, smtp_host=?, smtp_port=?, smtp_security=?,
		imap_host=?, imap_port=?, imap_security=?, username=?, ca_file=?, password_source=?, password_command=?, saves_sent=?,
		track_opens=?, track_clicks=?
		WHERE name=?`,
		a.DisplayName, a.Email, a.SMTP.Host, a.SMTP.Port, string(a.SMTP.Security), a.IMAP.Host, a.IMAP.Port, imapSecurity(a),
		a.SMTP.Username, a.CAFile, a.PasswordSource, a.PasswordCommand, a.SavesSent,
		string(a.TrackOpens), string(a.TrackClicks), a.Name)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("no account named %q", a.Name)
	}
	return nil
}

// Remove deletes an account and its keyring secret. Messages sent from it
// stay in the tracking history.
func (s *Accounts) Remove(ctx context.Context, name string) error {
	a, err := s.Get(ctx, name)
	if err != nil {
		return err
	}
	if a == nil {
		return fmt.Errorf("no account named %q", name)
	}
	if _, err := s.DB.W.ExecContext(ctx, `DELETE FROM accounts WHERE name=?`, name); err != nil {
		return err
	}
	if a.PasswordSource == "keyring" {
		if err := s.Creds.Forget(name); err != nil {
			return fmt.Errorf("account removed, but its keyring entry could not be deleted: %w", err)
		}
	}
	return nil
}

const accountCols = `name, display_name, email, smtp_host, smtp_port, smtp_security, imap_host, imap_port, imap_security,
	username, ca_file, password_source, password_command, saves_sent, track_opens, track_clicks`

func scanAccount(sc interface{ Scan(...any) error }) (*Account, error) {
	var a Account
	var smtpSec, imapSec string
	err := sc.Scan(&a.Name, &a.DisplayName, &a.Email, &a.SMTP.Host, &a.SMTP.Port, &smtpSec, &a.IMAP.Host, &a.IMAP.Port,
		&imapSec, &a.SMTP.Username, &a.CAFile, &a.PasswordSource, &a.PasswordCommand, &a.SavesSent,
		&a.TrackOpens, &a.TrackClicks)
	if err != nil {
		return nil, err
	}
	a.SMTP.Security, a.IMAP.Security = mail.Security(smtpSec), mail.Security(imapSec)
	a.IMAP.Username = a.SMTP.Username
	a.SMTP.CAFile, a.IMAP.CAFile = a.CAFile, a.CAFile
	return &a, nil
}

// Get returns the named account, or nil when there is none.
func (s *Accounts) Get(ctx context.Context, name string) (*Account, error) {
	a, err := scanAccount(s.DB.R.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE name=?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return a, err
}

// List returns every account, by name.
func (s *Accounts) List(ctx context.Context) ([]Account, error) {
	rows, err := s.DB.R.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// WithSecrets returns the account's endpoints with Password functions that
// fetch the secret at the moment of use.
func (s *Accounts) WithSecrets(a Account) Account {
	pw := func(ctx context.Context) (string, error) { return s.Creds.Password(ctx, a) }
	a.SMTP.Password, a.IMAP.Password = pw, pw
	return a
}

// TrackingDefaults says whether a new message from the named account
// starts with opens and clicks tracked: the account's own choice, else the
// global settings (tracking.default_opens, tracking.default_clicks). Both
// are false while tracking.mode is off: nothing could track them, and a
// default must never make a send fail.
func (a *App) TrackingDefaults(ctx context.Context, account string) (opens, clicks bool, err error) {
	mode, err := a.GetSetting(ctx, "tracking.mode")
	if err != nil || mode == TrackingOff {
		return false, false, err
	}
	acct, err := a.Accounts.Get(ctx, account)
	if err != nil {
		return false, false, err
	}
	if acct == nil {
		return false, false, fmt.Errorf("no account named %q", account)
	}
	global := func(key string) (bool, error) {
		v, err := a.GetSetting(ctx, key)
		if err != nil {
			return false, err
		}
		b, _ := strconv.ParseBool(v) // SetSetting only stores valid booleans
		return b, nil
	}
	gOpens, err := global("tracking.default_opens")
	if err != nil {
		return false, false, err
	}
	gClicks, err := global("tracking.default_clicks")
	if err != nil {
		return false, false, err
	}
	return acct.TrackOpens.resolve(gOpens), acct.TrackClicks.resolve(gClicks), nil
}
