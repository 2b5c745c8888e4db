package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"mailroom/mail"
	"mailroom/mail/imapsource"
	"mailroom/mail/submit"
	"mailroom/tracking/outbox"
	"mailroom/tracking/reports"
)

// dialSMTP opens an authenticated submission session for an account.
func (a *App) dialSMTP(ctx context.Context, name string) (mail.Session, error) {
	acct, err := a.Accounts.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if acct == nil {
		// Not Unreachable: a removed account must not trip the breaker
		// forever; it pauses like a refused password, with a clear reason.
		return nil, &mail.Error{Outcome: mail.AuthFailed, Reply: mail.Reply{Command: "CONNECT",
			Text: fmt.Sprintf("account %q no longer exists", name)}}
	}
	withSecrets := a.Accounts.WithSecrets(*acct)
	sess, err := submit.Dial(ctx, submit.Options{Endpoint: withSecrets.SMTP, RootCAs: a.rootCAs})
	if err == nil {
		a.rememberMaxSize(ctx, name, sess.MaxSize())
	}
	return sess, err
}

// maxSizeKey is where the server's last announced SIZE is kept (an internal
// key beside the settings; not a user setting).
func maxSizeKey(account string) string { return "smtp.max_size." + account }

// rememberMaxSize keeps the submission server's SIZE limit so the compose
// window can warn before a message is too large.
func (a *App) rememberMaxSize(ctx context.Context, account string, n int64) {
	if err := a.Store.SetSetting(ctx, maxSizeKey(account), strconv.FormatInt(n, 10)); err != nil {
		a.Log.Warn("remember SIZE", "account", account, "err", err)
	}
}

// MaxSize is the account's submission server SIZE limit as last announced
// (0: unknown or unlimited).
func (a *App) MaxSize(ctx context.Context, account string) (int64, error) {
	v, err := a.Store.Setting(ctx, maxSizeKey(account), "0")
	if err != nil {
		return 0, err
	}
	n, _ := strconv.ParseInt(v, 10, 64)
	return n, nil
}

// dialIMAP opens an IMAP connection for an account's reports.
func (a *App) dialIMAP(ctx context.Context, name string) (reports.Source, error) {
	return a.openIMAP(ctx, name)
}

// openIMAP opens an authenticated IMAP connection for an account.
func (a *App) openIMAP(ctx context.Context, name string) (imapsource.Source, error) {
	acct, err := a.Accounts.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if acct == nil || acct.IMAP.Host == "" {
		return nil, fmt.Errorf("account %q has no IMAP server", name)
	}
	withSecrets := a.Accounts.WithSecrets(*acct)
	return imapsource.Dial(ctx, withSecrets.IMAP, imapsource.Options{RootCAs: a.rootCAs})
}

func (a *App) runner() *outbox.Runner {
	return &outbox.Runner{Outbox: a.Outbox, Dialer: outbox.DialerFunc(a.dialSMTP),
		Logf: func(format string, args ...any) { a.Log.Info(fmt.Sprintf(format, args...), "component", "outbox") }}
}

func (a *App) syncer() *reports.Syncer {
	return &reports.Syncer{Reports: a.Reports, Dial: a.dialIMAP,
		Logf: func(format string, args ...any) { a.Log.Info(fmt.Sprintf(format, args...), "component", "reports") }}
}

// RunOnce sends everything due now, then reads every account's new
// reports and tracker events once: `mailroom run --once`.
func (a *App) RunOnce(ctx context.Context) error {
	var errs []error
	if err := a.runner().RunOnce(ctx); err != nil {
		errs = append(errs, fmt.Errorf("outbox: %w", err))
	}
	if err := a.AppendSent(ctx); err != nil {
		errs = append(errs, err)
	}
	accts, err := a.Accounts.List(ctx)
	if err != nil {
		return err
	}
	sy := a.syncer()
	for _, acct := range accts {
		if acct.IMAP.Host == "" {
			continue
		}
		if _, err := sy.SyncOnce(ctx, acct.Name); err != nil {
			errs = append(errs, fmt.Errorf("reports for %s: %w", acct.Name, err))
		}
	}
	if err := a.SyncOpens(ctx); err != nil {
		errs = append(errs, fmt.Errorf("opens: %w", err))
	}
	a.notify()
	return errors.Join(errs...)
}

// Run runs every background worker until ctx ends: the outbox runner,
// one report syncer per account with IMAP (started and stopped as accounts
// come and go), the open-tracking sync and the Sent-copy appender. A worker
// that fails is restarted after a pause; the others go on.
func (a *App) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	keep := func(ctx context.Context, name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				err := f(ctx)
				if ctx.Err() != nil {
					return
				}
				a.Log.Warn("worker stopped; restarting in 30 s", "worker", name, "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(30 * time.Second):
				}
			}
		}()
	}
	every := func(d time.Duration, f func(context.Context)) func(context.Context) error {
		return func(ctx context.Context) error {
			for {
				f(ctx)
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(d):
				}
			}
		}
	}
	keep(ctx, "outbox", a.runner().Run)
	keep(ctx, "opens", a.runOpens)
	keep(ctx, "sent-copies", a.appendSentLoop)
	// Report syncers follow the account list: one per account with IMAP,
	// restarted when its servers change, stopped when it is removed.
	sy := a.syncer()
	running := map[string]context.CancelFunc{}
	keep(ctx, "accounts", every(15*time.Second, func(ctx context.Context) {
		accts, err := a.Accounts.List(ctx)
		if err != nil {
			a.Log.Warn("list accounts", "err", err)
			return
		}
		want := map[string]bool{}
		for _, acct := range accts {
			if acct.IMAP.Host != "" {
				want[acct.Name+"\x00"+acct.IMAP.Addr()+"\x00"+acct.SMTP.Username] = true
			}
		}
		for key, stop := range running {
			if !want[key] {
				stop()
				delete(running, key)
			}
		}
		for key := range want {
			if running[key] == nil {
				name, _, _ := strings.Cut(key, "\x00")
				sctx, stop := context.WithCancel(ctx)
				running[key] = stop
				keep(sctx, "reports:"+name, func(ctx context.Context) error { return sy.Run(ctx, name) })
			}
		}
	}))
	wg.Wait()
	return ctx.Err()
}

// discardLogger drops everything (the CLI's default: it prints results,
// not logs).
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
