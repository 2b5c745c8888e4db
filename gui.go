package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"mailroom/app"
	"mailroom/app/uisvc"
	"mailroom/assets"
	"mailroom/ui"
)

// appID must match FyneApp.toml: Fyne keys preferences and the
// notification sender by it.
const appID = "app.mailroom.desktop"

// runGUI opens the data directory, starts the background workers and
// shows the main window until it is closed.
func runGUI(ctx context.Context, dataFlag string) error {
	if os.Getenv("GOGC") == "" {
		// Start-up allocates ~30 MB, most of it garbage from parsing fonts,
		// while the live heap grows from nothing to ~11 MB: with GOGC=100
		// the collector ran about five times before the first frame.
		// tuneMemoryLimit sets the steady GOGC with the limit.
		debug.SetGCPercent(startupGCPercent)
	}
	dir, err := app.DataDir(dataFlag)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	core, err := app.Open(ctx, app.Options{DataDir: dir, Log: log})
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer core.Close()

	fa := fyneapp.NewWithID(appID)
	fa.SetIcon(fyne.NewStaticResource("icon.png", assets.IconPNG))
	services, changes := uisvc.Services(core)
	win := ui.NewMainWindow(fa, services)
	if v := os.Getenv("MAILROOM_OPEN"); v != "" {
		openView(win, v)
	}
	if pid, busy := core.Outbox.SenderBusy(); busy {
		win.ShowSenderBusy(pid)
	}

	workers, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan struct{})
	// The workers (crash recovery, the first sends, IMAP logins) wait until
	// the window has drawn its first screen: on two cores the outbox's
	// first due scan (~60 ms of CPU on 100,000 messages) delayed the list's
	// first rows by a third. Nothing they do is urgent to the millisecond.
	var startOnce sync.Once
	fa.Lifecycle().SetOnStarted(func() {
		go tuneMemoryLimit(workers)
		if os.Getenv("MAILROOM_NO_WORKERS") == "1" {
			// Screenshots and demos: the window only, no sending, no
			// IMAP, no DNS lookups of the example accounts' hosts, and
			// the same picture every run.
			log.Info("MAILROOM_NO_WORKERS=1: not sending or syncing")
			return
		}
		time.AfterFunc(workersGrace, func() {
			startOnce.Do(func() {
				go func() {
					defer close(done)
					if err := core.Run(workers); err != nil && workers.Err() == nil {
						log.Error("background workers stopped", "err", err)
					}
				}()
				go uisvc.Notify(workers, core, changes.Subscribe(workers), ui.NewNotifier(fa, 0).Notify)
			})
		})
	})
	go func() {
		// SIGTERM or Ctrl+C in the terminal closes the window cleanly.
		<-ctx.Done()
		fyne.Do(fa.Quit)
	}()
	win.ShowAndRun()
	stop()
	startOnce.Do(func() { close(done) }) // never started: nothing to wait for
	<-done
	return nil
}

// openView shows one view at start (MAILROOM_OPEN): a screen name,
// "message:ID", or "account:NAME" (the account dialog). The screenshot
// script uses it; it is harmless for users.
func openView(win *ui.MainWindow, v string) {
	kind, arg, _ := strings.Cut(v, ":")
	switch kind {
	case "message":
		win.OpenMessage(arg)
	case "account":
		win.ShowAccountDialog(arg)
	case "new":
		win.NewMessage()
	default:
		if win.CurrentScreen() == kind {
			// Already shown (the window opens on Sent): selecting it
			// again would load the list a second time.
			return
		}
		if err := win.ShowScreen(kind); err != nil {
			fmt.Fprintf(os.Stderr, "mailroom: MAILROOM_OPEN: %v\n", err)
		}
	}
}

// The desktop app's Go heap holds ~11 MB of live data once the window is
// up (14 MB while the list scrolls), three quarters of it Fyne's parsed
// fonts (Noto Sans regular and bold and the system's fallback face for
// each). With the default GOGC=100 the heap grows to twice that before a
// collection, and the pages the start-up garbage used stay mapped.
//
// Once the window is up the app runs with GOGC=50 (steadyGCPercent) and a
// soft memory limit as a backstop, and returns start-up's garbage to the
// OS. A tighter limit saves a few MB more and is a trap: at 20 MiB the
// runtime's own overhead (~6 MB) left a heap goal equal to the live heap,
// and scrolling the list end to end ran the collector 373 times in 5 s
// (39 times with these settings, for ~4.5 MB more RSS). tuneMemoryLimit
// keeps the limit at least 1.5 times the live heap, so a large export or
// a long raw report on screen never meets it. GOGC and GOMEMLIMIT set by
// the user win.
const (
	guiMemoryLimit  = 32 << 20
	steadyGCPercent = 50
)

// startupGCPercent is GOGC until the window is up (bench/gui: first frame
// 116-126 ms against 128-135 ms with 100, alternating runs; ~1.5 MB more
// RSS once scrolled).
const startupGCPercent = 400

// workersGrace is how long after the window starts the background workers
// wait: the first screen and its first page of rows take ~0.3 s to draw
// on two cores.
const workersGrace = time.Second

// tuneMemoryLimit applies the limit, returns the start-up garbage to the
// OS, and keeps the limit at least 1.5 times the live heap until ctx ends.
func tuneMemoryLimit(ctx context.Context) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(steadyGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		debug.FreeOSMemory()
		return
	}
	debug.SetMemoryLimit(guiMemoryLimit)
	debug.FreeOSMemory()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			live := int64(sample[0].Value.Uint64())
			debug.SetMemoryLimit(max(guiMemoryLimit, live+live/2))
		}
	}
}
