package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

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
	// The workers (crash recovery, the first sends, IMAP logins) start once
	// the window is up, so they do not delay the first frame.
	var startOnce sync.Once
	fa.Lifecycle().SetOnStarted(func() {
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
