package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
)

// runReports lists the reports that matched no sent message: kept, never
// dropped, so the user can see a bounce Mailroom could not place.
func runReports(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "reports")
	raw := fs.Int64("raw", 0, "print the raw text of report ID")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("reports takes no positional arguments")
	}
	ap, err := env.open(ctx)
	if err != nil {
		return err
	}
	defer ap.Close()
	if *raw != 0 {
		_, body, err := ap.Reports.Get(ctx, *raw)
		if err != nil {
			return err
		}
		if body == nil {
			return fmt.Errorf("report %d was not kept raw (too large, or not a report)", *raw)
		}
		_, err = env.Stdout.Write(body)
		return err
	}
	list, err := ap.Reports.Unmatched(ctx)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		fmt.Fprintln(env.Stdout, "Every report was matched to a sent message.")
		return nil
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRECEIVED\tACCOUNT\tMAILBOX\tKIND\tABOUT\tNOTE")
	for _, r := range list {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.ReceivedAt.Local().Format("2006-01-02 15:04"), r.Account, r.Mailbox, r.Kind, r.Summary(), r.Note)
	}
	return tw.Flush()
}
