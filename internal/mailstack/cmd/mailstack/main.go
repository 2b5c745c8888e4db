// Command mailstack runs the test harness' Postfix + Dovecot stack outside of
// "go test", for benchmarks and manual runs. It must run as root.
//
//	mailstack start [-dir DIR] [-delay-warning 30s] [-queue-lifetime 2m] [-lmtp]
//	mailstack stop  [-dir DIR]    (default: $MAILSTACK_DIR)
//
// start leaves both daemons running in their own sessions and prints the
// stack as NAME=value lines (MAILSTACK_DIR, MAILSTACK_SMTPS, MAILSTACK_CA,
// ...), for example: set -a; eval "$(mailstack start)"; set +a.
// stop stops them by the PIDs recorded in DIR and removes DIR if start
// created it. Exit status: 0 ok, 1 failure, 2 usage.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"mailroom/internal/mailstack"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "start":
		fs := flag.NewFlagSet("start", flag.ExitOnError)
		dir := fs.String("dir", "", "directory for the stack (default: a new one under /tmp)")
		warn := fs.Duration("delay-warning", 30*time.Second, "Postfix delay_warning_time")
		life := fs.Duration("queue-lifetime", 2*time.Minute, "Postfix maximal_queue_lifetime")
		lmtp := fs.Bool("lmtp", false, "deliver through Dovecot LMTP instead of virtual(8)")
		fs.Parse(os.Args[2:])
		opts := []mailstack.Option{mailstack.Detached(), mailstack.WithDelayWarning(*warn), mailstack.WithQueueLifetime(*life)}
		if *dir != "" {
			opts = append(opts, mailstack.WithDir(*dir))
		}
		if *lmtp {
			opts = append(opts, mailstack.WithLMTPDelivery())
		}
		st, err := mailstack.Launch(opts...)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for _, line := range st.Env() {
			fmt.Println(line)
		}
	case "stop":
		fs := flag.NewFlagSet("stop", flag.ExitOnError)
		dir := fs.String("dir", os.Getenv("MAILSTACK_DIR"), "directory of the stack (default $MAILSTACK_DIR)")
		fs.Parse(os.Args[2:])
		if *dir == "" {
			usage()
		}
		if err := mailstack.StopDir(*dir); err != nil {
			fmt.Fprintln(os.Stderr, "mailstack stop:", err)
			os.Exit(1)
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mailstack start [-dir DIR] [-delay-warning D] [-queue-lifetime D] [-lmtp]\n       mailstack stop [-dir DIR]")
	os.Exit(2)
}
