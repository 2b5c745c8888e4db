// Command seedcmd fills a Mailroom data directory with generated sent
// mail (`make seed N=100000 DIR=/tmp/seed`).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"mailroom/app"
	"mailroom/internal/seed"
)

func main() {
	n := flag.Int("n", 1000, "messages to generate")
	dir := flag.String("dir", "", "data directory (created)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "seed: -dir is required")
		os.Exit(2)
	}
	ctx := context.Background()
	a, err := app.Open(ctx, app.Options{DataDir: *dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
	defer a.Close()
	start := time.Now()
	m, r, e, err := seed.Run(ctx, a.DB, seed.Options{Messages: *n, Seed: 1})
	if err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
	fmt.Printf("seeded %s: %d messages, %d recipients, %d events in %s\n", *dir, m, r, e, time.Since(start).Round(time.Millisecond))
}
