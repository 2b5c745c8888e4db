// Command mailroom-tracker is the standalone open/click tracking server: the
// pixel, the click redirect and the events API of package
// mailroom/tracking/opentrack/server, on SQLite (one instance) or
// PostgreSQL (several instances behind a load balancer). Pure Go: it builds
// with CGO_ENABLED=0 and has no GUI dependency.
//
//	mailroom-tracker --listen ADDR (--db PATH | --postgres DSN) --key-file F [flags]
//	mailroom-tracker mint --key-file F --base-url URL [--kind open|click] [--n N]
//	mailroom-tracker genkey [--id ID] | genkey --api
//
// See docs/tracker.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	os.Exit(code)
}
