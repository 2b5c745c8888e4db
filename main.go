// Command mailroom is the desktop app and its command line. With no
// command it opens the window; with one (account, send, run, status, ...)
// it runs headless. This is the only package that imports
// fyne.io/fyne/v2/app.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"mailroom/app"
	"mailroom/cli"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	dataDir, rest, help, err := cli.SplitGlobal(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "mailroom: %v\n", err)
		return cli.ExitUsage
	}
	if help {
		cli.Usage(os.Stdout)
		return cli.ExitOK
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(rest) > 0 {
		env := &cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, DataDir: dataDir}
		return cli.Run(ctx, env, rest)
	}
	if err := runGUI(ctx, dataDir); err != nil {
		fmt.Fprintf(os.Stderr, "mailroom: %v\n", err)
		return cli.ExitRuntime
	}
	return cli.ExitOK
}

var _ = app.Version
