// Package cli is Mailroom's command line (DESIGN.md section 5): a stable
// contract that tests drive. It parses arguments, opens the data directory
// through app, and prints results; exit codes are 0 ok, 1 runtime error,
// 2 usage error. main calls Run for every invocation that names a command.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"mailroom/app"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitRuntime = 1
	ExitUsage   = 2
)

// Env is what a command sees of the outside world.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	DataDir        string // from --data-dir, "" for the default
	Creds          app.Credentials
}

// usageError marks errors that exit 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

type command struct {
	name, args, help string
	run              func(ctx context.Context, env *Env, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"account", "add|edit|list|test|remove ...", "manage sending accounts", runAccount},
		{"send", "--account NAME --to A ...", "queue a message; print its id", runSend},
		{"run", "[--once]", "run outbox, report sync and open sync", runRun},
		{"status", "[MESSAGE-ID] [--json]", "per-recipient status with evidence", runStatus},
		{"inspect", "FILE.eml [--json]", "parse one report (DSN/MDN/bounce) offline", runInspect},
		{"export", "--format csv|json", "export tracking data", runExport},
		{"reports", "[--raw ID]", "reports that matched no sent message", runReports},
		{"config", "get|set KEY [VALUE]", "read or change settings (docs/CONFIG.md)", runConfig},
		{"doctor", "", "integrity and configuration checks", runDoctor},
		{"version", "", "print the version", runVersion},
	}
}

// Usage prints the top-level help.
func Usage(w io.Writer) {
	fmt.Fprintf(w, `Mailroom %s: email with per-recipient delivery tracking.

Usage:
  mailroom [--data-dir DIR]                 start the desktop app
  mailroom [--data-dir DIR] COMMAND [ARGS]

Commands:
`, app.Version)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %-32s %s\n", c.name, c.args, c.help)
	}
	fmt.Fprint(w, `
Global options:
  --data-dir DIR   where the database lives (default: $MAILROOM_HOME, else the OS data directory)
  -h, --help       this help

Exit codes: 0 ok, 1 runtime error, 2 usage error.
`)
}

// SplitGlobal pulls the global options out of args and returns the data
// dir, the remaining args (command first), whether help was asked, and a
// usage error.
func SplitGlobal(args []string) (dataDir string, rest []string, help bool, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--data-dir" || a == "-data-dir":
			if i+1 >= len(args) {
				return "", nil, false, usagef("--data-dir needs a directory")
			}
			dataDir = args[i+1]
			i++
		case strings.HasPrefix(a, "--data-dir="):
			dataDir = strings.TrimPrefix(a, "--data-dir=")
		case a == "-h" || a == "--help" || a == "-help" || a == "help":
			return dataDir, nil, true, nil
		case strings.HasPrefix(a, "-"):
			return "", nil, false, usagef("unknown option %s (options after the command belong to it)", a)
		default:
			return dataDir, args[i:], false, nil
		}
	}
	return dataDir, nil, false, nil
}

// Run executes one command line (without the program name) and returns the
// exit code.
func Run(ctx context.Context, env *Env, args []string) int {
	if len(args) == 0 {
		Usage(env.Stderr)
		return ExitUsage
	}
	for _, c := range commands {
		if c.name == args[0] {
			err := c.run(ctx, env, args[1:])
			return exitCode(env, c.name, err)
		}
	}
	fmt.Fprintf(env.Stderr, "mailroom: unknown command %q\nRun 'mailroom --help' for the list.\n", args[0])
	return ExitUsage
}

func exitCode(env *Env, name string, err error) int {
	if err == nil {
		return ExitOK
	}
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(env.Stderr, "mailroom %s: %v\n", name, err)
		}
		return ExitUsage
	}
	fmt.Fprintf(env.Stderr, "mailroom %s: %v\n", name, err)
	return ExitRuntime
}

// open opens the data directory.
func (env *Env) open(ctx context.Context) (*app.App, error) {
	dir, err := app.DataDir(env.DataDir)
	if err != nil {
		return nil, err
	}
	return app.Open(ctx, app.Options{DataDir: dir, Creds: env.Creds})
}

// newFlags returns a FlagSet whose errors become usage errors.
func newFlags(env *Env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("mailroom "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parse parses flags allowing positional arguments anywhere (Go's flag
// package stops at the first positional one).
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runVersion(ctx context.Context, env *Env, args []string) error {
	if len(args) > 0 {
		return usagef("version takes no arguments")
	}
	fmt.Fprintf(env.Stdout, "mailroom %s\n", app.Version)
	return nil
}

// stringList is a repeatable string flag (--to A --to B).
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

var _ = os.Stdin
