package cli

import (
	"context"
	"fmt"
	"os"
	"text/tabwriter"

	"mailroom/mail/report"
)

func runInspect(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "inspect")
	asJSON := fs.Bool("json", false, "print the documented JSON object")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("inspect needs exactly one FILE.eml (use - for standard input)")
	}
	in := env.Stdin
	if pos[0] != "-" {
		f, err := os.Open(pos[0])
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	r, err := report.Parse(in)
	if err != nil {
		return fmt.Errorf("%s: %w", pos[0], err)
	}
	if *asJSON {
		b, err := r.InspectJSON()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "kind:\t%s\n", r.Kind)
	for _, kv := range [][2]string{{"envelope id", r.EnvelopeID}, {"reporting MTA", r.ReportingMTA},
		{"returned Message-ID", r.ReturnedMessageID}, {"tracking id", r.TrackingID}, {"in reply to", r.InReplyTo}} {
		if kv[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
		}
	}
	if r.MDN != nil {
		fmt.Fprintf(tw, "disposition:\t%s\n", r.MDN.Disposition)
	}
	for _, rc := range r.Recipients {
		fmt.Fprintf(tw, "recipient:\t%s\n", rc.Address)
		fmt.Fprintf(tw, "  action / status:\t%s %s (%s)\n", rc.Action, rc.Status, rc.Class)
		if rc.ReplyCode != 0 || rc.Diagnostic != "" {
			fmt.Fprintf(tw, "  diagnostic:\t%d %s\n", rc.ReplyCode, rc.Diagnostic)
		}
		if rc.RemoteMTA != "" {
			fmt.Fprintf(tw, "  remote MTA:\t%s\n", rc.RemoteMTA)
		}
	}
	return tw.Flush()
}
