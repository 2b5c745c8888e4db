package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"mailroom/mail/imapsource"
)

// sentNames are the usual names of a Sent mailbox, tried when the server
// marks none with the RFC 6154 \Sent attribute.
var sentNames = []string{"Sent", "Sent Items", "Sent Messages", "INBOX.Sent", "INBOX/Sent"}

// maxSentAttempts bounds retries of one append (a mailbox that refuses it
// must not be retried forever); the error stays visible in doctor.
const maxSentAttempts = 5

// AppendSent appends the Sent copy of every message the server accepted
// for at least one recipient, per account, on one IMAP connection each.
func (a *App) AppendSent(ctx context.Context) error {
	rows, err := a.DB.R.QueryContext(ctx, `SELECT s.message, m.account, m.created_at FROM sent_copies s JOIN messages m ON m.id=s.message
		WHERE s.appended_at=0 AND s.attempts<? AND EXISTS(SELECT 1 FROM recipients r WHERE r.message=m.id
			AND r.status IN ('accepted','relayed','delayed','delivered','bounced'))
		ORDER BY m.account, m.created_at`, maxSentAttempts)
	if err != nil {
		return err
	}
	type job struct {
		id      string
		created int64
	}
	byAccount := map[string][]job{}
	for rows.Next() {
		var j job
		var acct string
		if err := rows.Scan(&j.id, &acct, &j.created); err != nil {
			rows.Close()
			return err
		}
		byAccount[acct] = append(byAccount[acct], j)
	}
	rows.Close()
	var errs []error
	for acct, jobs := range byAccount {
		src, err := a.openIMAP(ctx, acct)
		if err != nil {
			errs = append(errs, fmt.Errorf("sent copies for %s: %w", acct, err))
			continue
		}
		box, err := findSent(ctx, src)
		for _, j := range jobs {
			if err == nil {
				var body []byte
				if err2 := a.DB.R.QueryRowContext(ctx, `SELECT body FROM sent_copies WHERE message=?`, j.id).Scan(&body); err2 != nil {
					errs = append(errs, err2)
					continue
				}
				_, err2 := src.Append(ctx, box, []string{`\Seen`}, time.UnixMilli(j.created), body)
				a.recordSent(ctx, j.id, err2)
				if err2 != nil {
					errs = append(errs, err2)
				}
				continue
			}
			a.recordSent(ctx, j.id, err)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sent copies for %s: %w", acct, err))
		}
		src.Close()
	}
	return errors.Join(errs...)
}

// sentSettle is how long the appender waits after the outbox changed
// before it looks: a bulk send changes the outbox hundreds of times a
// second, and one look (one IMAP connection) covers all of them.
const sentSettle = 2 * time.Second

// appendSentLoop appends Sent copies at start, shortly after the outbox
// changes (an acceptance), and once a minute (copies whose append failed
// before are tried again, up to maxSentAttempts).
func (a *App) appendSentLoop(ctx context.Context) error {
	for {
		kick := a.sentKick
		if err := a.AppendSent(ctx); err != nil {
			a.Log.Warn("sent copies", "err", err)
			// A failed look (a login refused, a server down) waits for the
			// minute: a busy outbox must not repeat it every few seconds.
			kick = nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Minute):
		case <-kick:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(sentSettle):
			}
			select { // the changes meanwhile are covered by this look
			case <-a.sentKick:
			default:
			}
		}
	}
}

func (a *App) recordSent(ctx context.Context, id string, err error) {
	if err == nil {
		a.DB.W.ExecContext(ctx, `UPDATE sent_copies SET appended_at=?, error='' WHERE message=?`, time.Now().UnixMilli(), id)
		return
	}
	a.DB.W.ExecContext(ctx, `UPDATE sent_copies SET attempts=attempts+1, error=? WHERE message=?`, err.Error(), id)
}

// findSent picks the mailbox marked \Sent, else a usual name.
func findSent(ctx context.Context, src imapsource.Source) (string, error) {
	boxes, err := src.Mailboxes(ctx)
	if err != nil {
		return "", err
	}
	for _, b := range boxes {
		if slices.ContainsFunc(b.Attrs, func(s string) bool { return strings.EqualFold(s, `\Sent`) }) {
			return b.Name, nil
		}
	}
	for _, name := range sentNames {
		for _, b := range boxes {
			if strings.EqualFold(b.Name, name) {
				return b.Name, nil
			}
		}
	}
	return "", errors.New("the server has no Sent mailbox (none marked \\Sent, none named Sent)")
}
