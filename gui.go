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
// up, three quarters of it Fyne's parsed fonts (Noto Sans regular and bold
// and the system's fallback face for each). With the default GOGC=100 the
// heap grows to twice that before a collection, and the pages the start-up
// garbage used stay mapped: ~31 MB of RSS for 11 MB of data.
//
// A soft memory limit keeps the Go runtime's total near guiMemoryLimit.
// The cost is CPU: as the heap nears the limit the collector runs more
// often (each run marks ~11 MB, a few ms). The risk is a live heap above
// the limit (a large export, a long raw report on screen), where the
// collector would run back to back (the runtime caps it at about half of
// the CPU); tuneMemoryLimit raises the limit with the live heap so the app
// then behaves as with GOGC=50 instead. The limit is set as the window
// starts: set later, start-up's larger heap left ~3 MB more RSS behind. A
// GOMEMLIMIT set by the user wins.
const guiMemoryLimit = 20 << 20

// workersGrace is how long after the window starts the background workers
// wait: the first screen and its first page of rows take ~0.3 s to draw
// on two cores.
const workersGrace = time.Second

// tuneMemoryLimit applies the limit, returns the start-up garbage to the
// OS, and keeps the limit at least 1.5 times the live heap until ctx ends.
func tuneMemoryLimit(ctx context.Context) {
	if os.Getenv("GOMEMLIMIT") != "" {
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
