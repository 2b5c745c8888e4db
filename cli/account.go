package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"mailroom/app"
	"mailroom/mail"
)

func runAccount(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("account needs a subcommand: add, edit, list, test or remove")
	}
	switch args[0] {
	case "add":
		return accountAdd(ctx, env, args[1:])
	case "edit":
		return accountEdit(ctx, env, args[1:])
	case "list":
		return accountList(ctx, env, args[1:])
	case "remove":
		return accountRemove(ctx, env, args[1:])
	case "test":
		return accountTest(ctx, env, args[1:])
	}
	return usagef("unknown account subcommand %q (add, edit, list, test, remove)", args[0])
}

const trackUsage = "global (follow the tracking.default_%s setting), on or off"

// trackFlag is --track-opens / --track-clicks of account add and edit: the
// account's default for new messages.
func trackFlag(fs *flag.FlagSet, kind, def string) *string {
	return fs.String("track-"+kind, def,
		"default for tracking "+kind+" in new messages from this account: "+fmt.Sprintf(trackUsage, kind))
}

func parseTrackFlag(kind, v string) (app.TrackDefault, error) {
	d, err := app.ParseTrackDefault(v)
	if err != nil {
		return "", usagef("--track-%s: %q: use "+trackUsage, kind, v, kind)
	}
	return d, nil
}

// accountFlags are the settings account add and account edit share.
type accountFlags struct {
	fs                                                                           *flag.FlagSet
	email, display, smtp, smtpSec, imap, imapSec, user, pwcmd, ca, opens, clicks *string
	stdin, savesSent                                                             *bool
}

// newAccountFlags defines them. For edit every default is empty: only the
// flags given change anything.
func newAccountFlags(env *Env, cmd string, edit bool) *accountFlags {
	fs := newFlags(env, cmd)
	def := func(forAdd string) string {
		if edit {
			return ""
		}
		return forAdd
	}
	return &accountFlags{fs: fs,
		email:     fs.String("email", "", "the address mail is sent from"),
		display:   fs.String("name", "", "display name shown to recipients"),
		smtp:      fs.String("smtp", "", "submission server HOST:PORT (465 for tls, 587 for starttls)"),
		smtpSec:   fs.String("smtp-security", "", "tls (implicit, port 465) or starttls (required, port 587)"),
		imap:      fs.String("imap", "", "IMAP server HOST:PORT for reports (993 for tls; empty: read no reports)"),
		imapSec:   fs.String("imap-security", def("tls"), "tls or starttls"),
		user:      fs.String("username", "", "login name (often the email address)"),
		stdin:     fs.Bool("password-stdin", false, "read the password from standard input and keep it in the OS keyring"),
		pwcmd:     fs.String("password-command", "", "command printing the password (run at each use; nothing is stored but the command)"),
		ca:        fs.String("ca-file", "", "PEM file of the CA to trust for this account's servers (empty: the system's)"),
		savesSent: fs.Bool("provider-saves-sent", false, "the provider files sent mail itself (skip the IMAP copy)"),
		opens:     trackFlag(fs, "opens", def(string(app.TrackGlobal))),
		clicks:    trackFlag(fs, "clicks", def(string(app.TrackGlobal))),
	}
}

// apply writes into a the settings whose flags given reports.
func (f *accountFlags) apply(a *app.Account, given func(flag string) bool) error {
	var err error
	if given("email") {
		a.Email = *f.email
	}
	if given("name") {
		a.DisplayName = *f.display
	}
	if given("smtp") {
		if a.SMTP.Host, a.SMTP.Port, err = mail.ParseHostPort(*f.smtp); err != nil {
			return usagef("--smtp: %v", err)
		}
	}
	if given("smtp-security") {
		if a.SMTP.Security, err = mail.ParseSecurity(*f.smtpSec); err != nil {
			return usagef("--smtp-security: %v", err)
		}
	}
	if given("imap") {
		a.IMAP.Host, a.IMAP.Port = "", 0
		if *f.imap != "" {
			if a.IMAP.Host, a.IMAP.Port, err = mail.ParseHostPort(*f.imap); err != nil {
				return usagef("--imap: %v", err)
			}
		}
	}
	if given("imap-security") {
		if a.IMAP.Security, err = mail.ParseSecurity(*f.imapSec); err != nil {
			return usagef("--imap-security: %v", err)
		}
	}
	if given("username") {
		a.SMTP.Username = *f.user
	}
	if given("ca-file") {
		a.CAFile = *f.ca
	}
	if given("provider-saves-sent") {
		a.SavesSent = *f.savesSent
	}
	if given("track-opens") {
		if a.TrackOpens, err = parseTrackFlag("opens", *f.opens); err != nil {
			return err
		}
	}
	if given("track-clicks") {
		if a.TrackClicks, err = parseTrackFlag("clicks", *f.clicks); err != nil {
			return err
		}
	}
	return nil
}

// password applies --password-stdin (returning the secret it read) or a
// given --password-command to a.
func (f *accountFlags) password(env *Env, a *app.Account, given func(flag string) bool) (string, error) {
	if *f.stdin {
		a.PasswordSource, a.PasswordCommand = "keyring", ""
		b, err := io.ReadAll(io.LimitReader(env.Stdin, 64<<10))
		if err != nil {
			return "", fmt.Errorf("read password: %w", err)
		}
		secret := strings.TrimRight(string(b), "\r\n")
		if secret == "" {
			return "", usagef("--password-stdin: standard input was empty")
		}
		return secret, nil
	}
	if given("password-command") {
		a.PasswordSource, a.PasswordCommand = "command", *f.pwcmd
	}
	return "", nil
}

func accountAdd(ctx context.Context, env *Env, args []string) error {
	f := newAccountFlags(env, "account add", false)
	pos, err := parse(f.fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("account add needs exactly one NAME")
	}
	if *f.email == "" || *f.smtp == "" || *f.smtpSec == "" || *f.user == "" {
		return usagef("account add needs --email, --smtp, --smtp-security and --username")
	}
	if *f.stdin == (*f.pwcmd != "") {
		return usagef("give exactly one of --password-stdin or --password-command")
	}
	all := func(string) bool { return true }
	a := app.Account{Name: pos[0]}
	if err := f.apply(&a, all); err != nil {
		return err
	}
	secret, err := f.password(env, &a, all)
	if err != nil {
		return err
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	if err := ap.Accounts.Add(ctx, a, secret); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "account %s added (%s via %s)\n", a.Name, a.Email, a.SMTP.Addr())
	return nil
}

type accountJSON struct {
	Name           string `json:"name"`
	DisplayName    string `json:"display_name"`
	Email          string `json:"email"`
	SMTP           string `json:"smtp"`
	SMTPSecurity   string `json:"smtp_security"`
	IMAP           string `json:"imap,omitempty"`
	IMAPSecurity   string `json:"imap_security,omitempty"`
	Username       string `json:"username"`
	CAFile         string `json:"ca_file,omitempty"`
	PasswordSource string `json:"password_source"`
	SavesSent      bool   `json:"provider_saves_sent"`
	TrackOpens     string `json:"track_opens"`  // global, on or off
	TrackClicks    string `json:"track_clicks"` // global, on or off
}

func accountList(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "account list")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("account list takes no arguments")
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	list, err := ap.Accounts.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		out := []accountJSON{}
		for _, a := range list {
			j := accountJSON{Name: a.Name, DisplayName: a.DisplayName, Email: a.Email, SMTP: a.SMTP.Addr(),
				SMTPSecurity: string(a.SMTP.Security), Username: a.SMTP.Username, CAFile: a.CAFile, PasswordSource: a.PasswordSource,
				SavesSent: a.SavesSent, TrackOpens: string(a.TrackOpens), TrackClicks: string(a.TrackClicks)}
			if a.IMAP.Host != "" {
				j.IMAP, j.IMAPSecurity = a.IMAP.Addr(), string(a.IMAP.Security)
			}
			out = append(out, j)
		}
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	if len(list) == 0 {
		fmt.Fprintln(env.Stdout, "No accounts. Add one with: mailroom account add NAME --email ... (see --help)")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tEMAIL\tSMTP\tIMAP\tPASSWORD\tTRACK OPENS\tTRACK CLICKS")
	for _, a := range list {
		imap := "-"
		if a.IMAP.Host != "" {
			imap = a.IMAP.Addr() + " " + string(a.IMAP.Security)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s %s\t%s\t%s\t%s\t%s\n", a.Name, a.Email, a.SMTP.Addr(), a.SMTP.Security, imap, a.PasswordSource,
			a.TrackOpens, a.TrackClicks)
	}
	return tw.Flush()
}

func accountRemove(ctx context.Context, env *Env, args []string) error {
	if len(args) != 1 {
		return usagef("account remove needs exactly one NAME")
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	if err := ap.Accounts.Remove(ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "account %s removed\n", args[0])
	return nil
}

// accountEdit changes the given settings of an account and keeps the rest.
func accountEdit(ctx context.Context, env *Env, args []string) error {
	f := newAccountFlags(env, "account edit", true)
	pos, err := parse(f.fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("account edit needs exactly one NAME, then the settings to change")
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if len(set) == 0 {
		return usagef("account edit: nothing to change (see mailroom account edit --help)")
	}
	if *f.stdin && set["password-command"] {
		return usagef("give at most one of --password-stdin or --password-command")
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	old, err := ap.Accounts.Get(ctx, pos[0])
	if err != nil {
		return err
	}
	if old == nil {
		return fmt.Errorf("no account named %q", pos[0])
	}
	a := *old
	given := func(name string) bool { return set[name] }
	if err := f.apply(&a, given); err != nil {
		return err
	}
	secret, err := f.password(env, &a, given)
	if err != nil {
		return err
	}
	if err := ap.Accounts.Update(ctx, a, secret); err != nil {
		return err
	}
	if old.PasswordSource == "keyring" && a.PasswordSource != "keyring" {
		if err := ap.Accounts.Creds.Forget(a.Name); err != nil {
			fmt.Fprintf(env.Stderr, "warning: the old password could not be deleted from the keyring: %v\n", err)
		}
	}
	fmt.Fprintf(env.Stdout, "account %s changed\n", a.Name)
	return nil
}
