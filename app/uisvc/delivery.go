package uisvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"mailroom/app"
	"mailroom/mail/compose"
	"mailroom/tracking"
	"mailroom/tracking/store"
	"mailroom/tracking/view"
	"mailroom/ui"
)

// Services wires every ui service over one opened App and returns the
// broadcast the app notifies on changes.
func Services(a *app.App) (ui.Services, *ui.Broadcast) {
	b := &ui.Broadcast{}
	a.OnChange = b.Notify
	return ui.Services{
		Accounts: &Accounts{App: a},
		Compose:  &Compose{App: a},
		Drafts:   &Drafts{App: a},
		Outbox:   &Outbox{App: a, Changed: b},
		Tracking: &Tracking{App: a, Changed: b},
		Settings: &Settings{App: a},
	}, b
}

// Compose implements ui.ComposeService.
type Compose struct{ App *app.App }

var _ ui.ComposeService = (*Compose)(nil)

func request(in ui.ComposeInput) app.SendRequest {
	req := app.SendRequest{Account: in.Account, To: []string{in.To}, Cc: []string{in.Cc}, Bcc: []string{in.Bcc},
		Subject: in.Subject, Text: in.Body, Format: compose.FormatPlain, TrackOpens: in.TrackOpens,
		TrackClicks: in.TrackClicks, ReadReceipt: in.ReadReceipt, At: in.At}
	if in.Format == ui.FormatMarkdown {
		req.Format = compose.FormatMarkdown
	}
	for _, at := range in.Attachments {
		req.Attachments = append(req.Attachments, at.Path)
	}
	return req
}

var fieldNames = map[string]string{"from": ui.FieldAccount, "to": ui.FieldTo, "cc": ui.FieldCc, "bcc": ui.FieldBcc,
	"subject": ui.FieldSubject, "text": ui.FieldBody, "html": ui.FieldBody, "attachments": ui.FieldAttachments}

func uiFields(fs []compose.FieldError) []ui.FieldError {
	var out []ui.FieldError
	for _, f := range fs {
		name, ok := fieldNames[f.Field]
		if !ok {
			name = ui.FieldBody
		}
		out = append(out, ui.FieldError{Field: name, Message: f.Message})
	}
	return out
}

// Validate checks the form without the network (the draft is built but
// not enqueued).
func (c *Compose) Validate(in ui.ComposeInput) []ui.FieldError {
	_, _, err := c.App.Draft(context.Background(), request(in))
	var se *app.SendError
	if errors.As(err, &se) {
		return uiFields(se.Fields)
	}
	return nil
}

func (c *Compose) Send(ctx context.Context, in ui.ComposeInput) (string, error) {
	id, err := c.App.Send(ctx, request(in))
	if err != nil {
		return "", err
	}
	if in.DraftID != "" {
		c.App.Drafts.Delete(ctx, in.DraftID)
	}
	return id, nil
}

func (c *Compose) Suppressed(ctx context.Context, addrs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range addrs {
		s, err := c.App.Store.IsSuppressed(ctx, a)
		if err != nil {
			return nil, err
		}
		if s != nil {
			out[a] = fmt.Sprintf("since %s, %s", s.AddedAt.Local().Format("2 Jan 2006"), s.Reason)
		}
	}
	return out, nil
}

// MaxSize is the SIZE the account's server announced on the last
// connection (0 before the first one).
func (c *Compose) MaxSize(ctx context.Context, account string) (int64, error) {
	return c.App.MaxSize(ctx, account)
}

// Outbox implements ui.OutboxService.
type Outbox struct {
	App     *app.App
	Changed *ui.Broadcast
}

var _ ui.OutboxService = (*Outbox)(nil)

func (o *Outbox) List(ctx context.Context) ([]ui.OutboxMessage, error) {
	msgs, err := o.App.Outbox.Unfinished(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ui.OutboxMessage, 0, len(msgs))
	for _, m := range msgs {
		um := ui.OutboxMessage{ID: m.ID, Account: m.Account, AccountPaused: m.AccountInfo.Paused(), Subject: m.Subject,
			Created: m.Created, NextAttempt: m.NextAttempt, Total: m.Progress.Total}
		if m.AccountInfo.BreakerOpen() {
			um.UnreachableSince, um.NextProbe = m.AccountInfo.UnreachableSince, m.AccountInfo.NextProbe
		}
		if m.Due.After(m.Created) {
			um.At = m.Due
		}
		for _, r := range m.Recipients {
			switch {
			case r.Status.HandedOver():
				um.Accepted++
			case r.Status.Final(): // rejected, expired, canceled
				um.NotSent++
			}
			um.Recipients = append(um.Recipients, ui.OutboxRecipient{Address: r.Address, Status: r.Status,
				Attempts: r.Attempts, NextAttempt: r.NextAttempt, LastReply: r.LastReply})
		}
		out = append(out, um)
	}
	return out, nil
}

func (o *Outbox) RetryNow(ctx context.Context, id string) error {
	_, err := o.App.Outbox.RetryNow(ctx, id)
	o.App.Outbox.Kick()
	return err
}

func (o *Outbox) Cancel(ctx context.Context, id string) error {
	_, err := o.App.Outbox.Cancel(ctx, id)
	return err
}

func (o *Outbox) Pause(ctx context.Context, account string) error {
	return o.App.Outbox.Pause(ctx, account, "paused by you")
}

func (o *Outbox) Resume(ctx context.Context, account string) error {
	err := o.App.Outbox.Resume(ctx, account)
	o.App.Outbox.Kick()
	return err
}

func (o *Outbox) Changes(ctx context.Context) <-chan struct{} { return o.Changed.Subscribe(ctx) }

// Tracking implements ui.TrackingService over tracking/view and the store.
type Tracking struct {
	App     *app.App
	Changed *ui.Broadcast
}

var _ ui.TrackingService = (*Tracking)(nil)

func viewQuery(q ui.Query) view.Query {
	return view.Query{Statuses: q.Statuses, Account: q.Account, From: q.From, To: q.To, HasBounces: q.HasBounces,
		Opened: q.Opened, Search: q.Search, Oldest: q.Sort == ui.OldestFirst, IDs: q.IDs}
}

func (t *Tracking) Page(ctx context.Context, q ui.Query, offset, limit int) ([]ui.MessageRow, error) {
	rows, err := t.App.View.Page(ctx, viewQuery(q), offset, limit)
	if err != nil {
		return nil, err
	}
	out := make([]ui.MessageRow, 0, len(rows))
	for _, r := range rows {
		row := ui.MessageRow{ID: r.ID, Account: r.Account, Subject: r.Subject, Created: r.Created, LastEvent: r.LastEvent,
			RecipientCount: r.RecipientCount, StatusCounts: r.StatusCounts}
		for _, rs := range r.Recipients {
			row.Recipients = append(row.Recipients, ui.RecipientStatus{Address: rs.Address, Status: rs.Status, Engagement: rs.Engagement})
		}
		out = append(out, row)
	}
	return out, nil
}

func (t *Tracking) Count(ctx context.Context, q ui.Query) (int, error) {
	return t.App.View.Count(ctx, viewQuery(q))
}

func (t *Tracking) Counts(ctx context.Context, q ui.Query) (map[tracking.Status]int, error) {
	return t.App.View.Counts(ctx, viewQuery(q))
}

func (t *Tracking) Detail(ctx context.Context, id string) (ui.MessageDetail, error) {
	ms, err := t.App.Store.Statuses(ctx, store.StatusFilter{ID: id})
	if err != nil {
		return ui.MessageDetail{}, err
	}
	if len(ms) == 0 {
		return ui.MessageDetail{}, fmt.Errorf("no message %q", id)
	}
	m := ms[0]
	d := ui.MessageDetail{ID: m.ID, MessageID: m.MessageID, Account: m.Account, Subject: m.Subject, Created: m.CreatedAt}
	t.App.DB.R.QueryRowContext(ctx, `SELECT from_addr, track_opens, track_clicks FROM messages WHERE id=?`, m.ID).
		Scan(&d.From, &d.TrackOpens, &d.TrackClicks)
	reports := map[int64]bool{}
	for _, r := range m.Recipients {
		evs, err := t.App.Store.Events(ctx, r.ID)
		if err != nil {
			return d, err
		}
		rd := ui.RecipientDetail{Address: r.Address, Status: r.Status, Events: evs, Suppressed: r.Suppressed,
			Engagement: tracking.Engagement{OpensTotal: r.Opens.Total, OpensHuman: r.Opens.Human, OpensMachine: r.Opens.Machine,
				Clicks: r.Clicks, Read: r.Read, Replied: r.Replied}}
		if r.NextAttemptAt != nil {
			rd.NextAttempt = *r.NextAttemptAt
		}
		for _, e := range evs {
			if e.Report != 0 {
				reports[e.Report] = true
			}
			if e.Kind == tracking.EvAccepted {
				var det struct {
					Server       string `json:"server"`
					DSNRequested *bool  `json:"dsn_requested"`
				}
				if json.Unmarshal([]byte(e.Detail), &det) == nil {
					rd.Server = det.Server
					if det.DSNRequested != nil {
						rd.DSN = ui.DSNNotOffered
						if *det.DSNRequested {
							rd.DSN = ui.DSNRequested
						}
					}
				}
			}
		}
		if r.Suppressed {
			if s, _ := t.App.Store.IsSuppressed(ctx, r.Address); s != nil {
				rd.SuppressedReason = s.Reason
			}
		}
		d.Recipients = append(d.Recipients, rd)
	}
	for id := range reports {
		st, raw, err := t.App.Reports.Get(ctx, id)
		if err != nil {
			continue
		}
		d.Reports = append(d.Reports, ui.RawReport{ID: id, Kind: st.Kind, Received: st.ReceivedAt, Text: plainText(raw)})
	}
	return d, nil
}

func (t *Tracking) Unmatched(ctx context.Context) ([]ui.UnmatchedReport, error) {
	list, err := t.App.Reports.Unmatched(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]ui.UnmatchedReport, 0, len(list))
	for _, r := range list {
		out = append(out, ui.UnmatchedReport{ID: r.ID, Kind: r.Kind, Received: r.ReceivedAt, Account: r.Account,
			Mailbox: r.Mailbox, Summary: r.Summary(), Note: r.Note})
	}
	return out, nil
}

func (t *Tracking) ReportText(ctx context.Context, id int64) (string, error) {
	_, raw, err := t.App.Reports.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if raw == nil {
		return "", fmt.Errorf("report %d was not kept as received (too large)", id)
	}
	return plainText(raw), nil
}

// plainText makes a raw report safe to show in a text widget: invalid
// UTF-8 replaced, bounded in length. It is never rendered as Markdown or
// HTML (a returned message may carry our own tracking pixel).
func plainText(raw []byte) string {
	const limit = 256 << 10
	if len(raw) > limit {
		raw = append(raw[:limit:limit], []byte("\n[… truncated]")...)
	}
	return strings.ReplaceAll(strings.ToValidUTF8(string(raw), "\uFFFD"), "\r\n", "\n")
}

func (t *Tracking) Funnel(ctx context.Context, from, to time.Time) (ui.Funnel, error) {
	f, err := t.App.View.Funnel(ctx, from, to)
	return ui.Funnel{From: f.From, To: f.To, Queued: f.Queued, Accepted: f.Accepted, Delivered: f.Delivered,
		Opened: f.Opened, Bounced: f.Bounced, Rejected: f.Rejected, Deferred: f.Deferred, Expired: f.Expired}, err
}

func (t *Tracking) Export(ctx context.Context, q ui.Query, format string, w io.Writer) error {
	return t.App.View.Export(ctx, t.App.Store, viewQuery(q), format, w)
}

func (t *Tracking) Unsuppress(ctx context.Context, address string) error {
	err := t.App.Store.Unsuppress(ctx, address)
	t.Changed.Notify()
	return err
}

func (t *Tracking) Resend(ctx context.Context, id, address string) (string, error) {
	return t.App.Resend(ctx, id, address)
}

func (t *Tracking) Changes(ctx context.Context) <-chan struct{} { return t.Changed.Subscribe(ctx) }
