package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"mailroom/app"
	"mailroom/mail/compose"
	"mailroom/tracking"
	"mailroom/tracking/view"
)

func runSend(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "send")
	var to, cc, bcc, attach stringList
	account := fs.String("account", "", "account NAME to send from")
	fs.Var(&to, "to", "recipient (repeatable)")
	fs.Var(&cc, "cc", "copy recipient (repeatable)")
	fs.Var(&bcc, "bcc", "hidden recipient (repeatable; never in a header)")
	subject := fs.String("subject", "", "subject")
	readReceipt := fs.Bool("read-receipt", false, "ask the recipients' programs for a read receipt (RFC 8098); the ones that come back show as \"read\"")
	textFile := fs.String("text-file", "", "plain-text body file (- reads standard input)")
	mdFile := fs.String("markdown-file", "", "Markdown body file, sent as text + HTML (- reads standard input)")
	htmlFile := fs.String("html-file", "", "HTML body file (- reads standard input)")
	fs.Var(&attach, "attach", "file to attach (repeatable)")
	opens := fs.Bool("track-opens", false, "put an open-tracking pixel in each recipient's copy (HTML only); "+
		"without --track-opens or --no-track-opens the account's default applies")
	noOpens := fs.Bool("no-track-opens", false, "no open-tracking pixel, whatever the account's default")
	clicks := fs.Bool("track-clicks", false, "route links through the tracker; "+
		"without --track-clicks or --no-track-clicks the account's default applies")
	noClicks := fs.Bool("no-track-clicks", false, "leave links alone, whatever the account's default")
	at := fs.String("at", "", "send later, at this RFC 3339 time")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("send takes no positional arguments (got %q)", pos[0])
	}
	if *account == "" || len(to)+len(cc)+len(bcc) == 0 {
		return usagef("send needs --account and at least one --to, --cc or --bcc")
	}
	if *mdFile != "" && (*htmlFile != "" || *textFile != "") {
		return usagef("--markdown-file replaces --text-file and --html-file")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *opens && *noOpens {
		return usagef("give --track-opens or --no-track-opens, not both")
	}
	if *clicks && *noClicks {
		return usagef("give --track-clicks or --no-track-clicks, not both")
	}
	req := app.SendRequest{Account: *account, To: to, Cc: cc, Bcc: bcc, Subject: *subject,
		Attachments: attach, TrackOpens: *opens, TrackClicks: *clicks, ReadReceipt: *readReceipt, Format: compose.FormatPlain}
	stdinUsed := false
	read := func(p string) (string, error) {
		if p == "-" { // the body from a pipe: ... | mailroom send --text-file - ...
			if stdinUsed {
				return "", usagef("only one body file can be - (standard input)")
			}
			stdinUsed = true
			b, err := io.ReadAll(env.Stdin)
			return string(b), err
		}
		b, err := os.ReadFile(p)
		return string(b), err
	}
	if *textFile != "" {
		if req.Text, err = read(*textFile); err != nil {
			return err
		}
	}
	if *mdFile != "" {
		req.Format = compose.FormatMarkdown
		if req.Text, err = read(*mdFile); err != nil {
			return err
		}
	}
	if *htmlFile != "" {
		req.Format = compose.FormatHTML
		if req.HTML, err = read(*htmlFile); err != nil {
			return err
		}
	}
	if *at != "" {
		if req.At, err = time.Parse(time.RFC3339, *at); err != nil {
			return usagef("--at: %q is not an RFC 3339 time (e.g. 2026-12-01T09:00:00+01:00)", *at)
		}
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	// An explicit flag wins; otherwise the account's default (its own, or
	// the global setting) applies, and only while a tracker is configured.
	openSet, clickSet := set["track-opens"] || set["no-track-opens"], set["track-clicks"] || set["no-track-clicks"]
	if !openSet || !clickSet {
		if acct, _ := ap.Accounts.Get(ctx, *account); acct != nil { // an unknown account is reported by Send
			defOpens, defClicks, err := ap.TrackingDefaults(ctx, *account)
			if err != nil {
				return err
			}
			var from []string
			if !openSet && defOpens {
				req.TrackOpens = true
				from = append(from, "opens")
			}
			if !clickSet && defClicks {
				req.TrackClicks = true
				from = append(from, "clicks")
			}
			if len(from) > 0 {
				fmt.Fprintf(env.Stderr, "tracking %s: the default for account %s (--no-track-%s to send without)\n",
					strings.Join(from, " and "), *account, strings.Join(from, " / --no-track-"))
			}
		}
	}
	id, err := ap.Send(ctx, req)
	var se *app.SendError
	if errors.As(err, &se) {
		return usageError{se.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, id)
	// Queued anyway (the user asked for it), but say that the address
	// bounced before: sending again to a bad address hurts the sender's
	// reputation.
	for _, list := range [][]string{to, cc, bcc} {
		for _, a := range list {
			for _, addr := range strings.Split(a, ",") {
				addr = strings.TrimSpace(addr)
				if s, _ := ap.Store.IsSuppressed(ctx, bareAddress(addr)); s != nil {
					fmt.Fprintf(env.Stderr, "warning: %s is on the suppression list (%s); remove it with the app if it works again\n", addr, s.Reason)
				}
			}
		}
	}
	return nil
}

// bareAddress returns the addr-spec of "Name <a@b>" or the input.
func bareAddress(s string) string {
	if i, j := strings.LastIndex(s, "<"), strings.LastIndex(s, ">"); i >= 0 && j > i {
		return s[i+1 : j]
	}
	return s
}

func runRun(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "run")
	once := fs.Bool("once", false, "work until nothing is due now, then exit")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("run takes no arguments")
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	if *once {
		return ap.RunOnce(ctx)
	}
	err = ap.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func runExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "export")
	format := fs.String("format", "", "csv or json")
	account := fs.String("account", "", "only this account")
	status := fs.String("status", "", "only messages with a recipient in one of these statuses (comma-separated)")
	search := fs.String("search", "", "substring of an address or subject")
	out := fs.String("o", "", "write to this file instead of standard output")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("export takes no positional arguments")
	}
	if *format != "csv" && *format != "json" {
		return usagef("--format must be csv or json")
	}
	q := view.Query{Account: *account, Search: *search}
	if *status != "" {
		for _, s := range strings.Split(*status, ",") {
			q.Statuses = append(q.Statuses, tracking.Status(strings.TrimSpace(s)))
		}
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	w := env.Stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	return ap.View.Export(ctx, ap.Store, q, *format, w)
}

func accountTest(ctx context.Context, env *Env, args []string) error {
	if len(args) != 1 {
		return usagef("account test needs exactly one NAME")
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	acct, err := ap.Accounts.Get(ctx, args[0])
	if err != nil {
		return err
	}
	if acct == nil {
		return fmt.Errorf("no account named %q", args[0])
	}
	rep := ap.CheckAccount(ctx, *acct, "")
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for _, r := range []struct {
		name string
		res  app.CheckResult
	}{{"SMTP", rep.SMTP}, {"IMAP", rep.IMAP}} {
		state := "ok"
		if r.res.Skipped {
			state = "skipped"
		} else if !r.res.OK {
			state = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.name, state, r.res.Summary)
		if r.res.Detail != "" && !r.res.OK {
			fmt.Fprintf(tw, "\t\t%s\n", r.res.Detail)
		}
	}
	tw.Flush()
	if !rep.SMTP.OK || (!rep.IMAP.OK && !rep.IMAP.Skipped) {
		return errors.New("the connection test failed")
	}
	return nil
}
