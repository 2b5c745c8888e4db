package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"mailroom/app"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

func runStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "status")
	asJSON := fs.Bool("json", false, "print the documented JSON (docs/STATUS_JSON.md)")
	account := fs.String("account", "", "only this account's messages")
	limit := fs.Int("limit", 0, "at most this many messages (newest first); 0 = all")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("status takes at most one MESSAGE-ID")
	}
	f := store.StatusFilter{Account: *account, Limit: *limit}
	if len(pos) == 1 {
		f.ID = pos[0]
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	// Both forms go out one message at a time: every message of a large
	// database at once would take gigabytes. tabwriter keeps the text
	// until Flush to align it, so the table's columns are aligned over
	// runs of statusBlock messages (the 100,000-message seed at once took
	// 248 MB).
	var write func(m tracking.MessageStatus, n int) error
	var finish func(n int) error
	if *asJSON {
		jw := store.NewStatusJSON(env.Stdout)
		write = func(m tracking.MessageStatus, _ int) error { return jw.Write(m) }
		finish = func(int) error { return jw.Close() }
	} else {
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		write = func(m tracking.MessageStatus, n int) error {
			writeStatusLines(tw, m)
			if n%statusBlock == 0 {
				return tw.Flush()
			}
			return nil
		}
		finish = func(n int) error {
			if n == 0 {
				_, err := fmt.Fprintln(env.Stdout, "No messages yet.")
				return err
			}
			return tw.Flush()
		}
	}
	n := 0
	err = ap.Store.EachStatus(ctx, f, func(m tracking.MessageStatus) error {
		n++
		return write(m, n)
	})
	if err != nil {
		return err
	}
	if f.ID != "" && n == 0 {
		return fmt.Errorf("no message %q", f.ID)
	}
	return finish(n)
}

// statusBlock is how many messages' lines `mailroom status` aligns
// together.
const statusBlock = 500

// writeStatusLines writes a message's line and one per recipient.
func writeStatusLines(tw *tabwriter.Writer, m tracking.MessageStatus) {
	fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.ID, m.CreatedAt.Local().Format("2006-01-02 15:04"), m.Account, m.Subject)
	for _, r := range m.Recipients {
		extra := []string{}
		if r.Opens.Total > 0 {
			extra = append(extra, fmt.Sprintf("opened %d (%d human-likely)", r.Opens.Total, r.Opens.Human))
		}
		if r.Read {
			extra = append(extra, "read")
		}
		if r.Replied {
			extra = append(extra, "replied")
		}
		if r.Suppressed {
			extra = append(extra, "suppressed")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.Address, r.Status, strings.Join(extra, ", "), statusEvidence(r))
	}
}

// statusEvidence is the line beside a recipient's status: when a delivery
// report set the status (delivered, delayed, relayed, bounced), the
// report's status code and words; for a cancel, its own words; otherwise
// the outbox's last words about the server's reply. (The outbox's words
// alone would say "accepted for delivery" beside "bounced", or "the server
// could not be reached" beside "canceled".)
func statusEvidence(r tracking.RecipientStatus) string {
	// The event that set the status is the latest of its kind.
	for i := len(r.Events) - 1; i >= 0; i-- {
		e := r.Events[i]
		if string(e.Kind) != string(r.Status) {
			continue
		}
		if e.Source == tracking.SrcDSN {
			return "report: " + strings.TrimSpace(e.EnhancedCode+" "+e.Text)
		}
		if r.Status == tracking.Canceled && e.Text != "" {
			return e.Text // "Canceled before the server accepted it."
		}
		return r.LastReply
	}
	return r.LastReply
}

func runDoctor(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		return usagef("doctor takes no arguments")
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	fmt.Fprintf(env.Stdout, "data directory: %s\n", ap.Dir)
	res, err := ap.DB.IntegrityCheck(ctx)
	if err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(res) != 1 || res[0] != "ok" {
		return fmt.Errorf("database integrity check failed:\n%s", strings.Join(res, "\n"))
	}
	fmt.Fprintln(env.Stdout, "database: integrity ok")
	problems := ap.Doctor(ctx)
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for _, p := range problems {
		fmt.Fprintf(tw, "%s:\t%s\n", p.Subject, p.Message)
	}
	tw.Flush()
	if n := countErrors(problems); n > 0 {
		return fmt.Errorf("%d configuration problem(s)", n)
	}
	fmt.Fprintln(env.Stdout, "configuration: ok")
	return nil
}

func countErrors(fs []app.Finding) int {
	n := 0
	for _, f := range fs {
		if f.Error {
			n++
		}
	}
	return n
}
