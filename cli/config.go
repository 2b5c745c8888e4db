package cli

import (
	"context"
	"fmt"
	"text/tabwriter"

	"mailroom/app"
)

func runConfig(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return usagef("config needs get KEY, set KEY VALUE, or list")
	}
	switch {
	case args[0] == "list" && len(args) == 1:
		ap, err := env.open(ctx)
		if err != nil {
			return err
		}
		defer ap.Close()
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		for _, s := range app.SettingKeys {
			v, err := ap.GetSetting(ctx, s.Key)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", s.Key, v, s.Help)
		}
		return tw.Flush()
	case args[0] == "get" && len(args) == 2:
		if _, ok := app.LookupSetting(args[1]); !ok {
			return usagef("unknown setting %q (mailroom config list shows them)", args[1])
		}
		ap, err := env.open(ctx)
		if err != nil {
			return err
		}
		defer ap.Close()
		v, err := ap.GetSetting(ctx, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, v)
		return nil
	case args[0] == "set" && len(args) == 3:
		s, ok := app.LookupSetting(args[1])
		if !ok {
			return usagef("unknown setting %q (mailroom config list shows them)", args[1])
		}
		if err := s.Check(args[2]); err != nil {
			return usagef("%s: %v", args[1], err)
		}
		ap, err := env.open(ctx)
		if err != nil {
			return err
		}
		defer ap.Close()
		return ap.SetSetting(ctx, args[1], args[2])
	}
	return usagef("usage: mailroom config get KEY | set KEY VALUE | list")
}
