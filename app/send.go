package app

import (
	"context"
	cryptorand "crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mailroom/mail"
	"mailroom/mail/compose"
	"mailroom/tracking/opentrack"
	"mailroom/tracking/outbox"
)

// SendRequest is one message as the user wrote it, from the compose window
// or `mailroom send`.
type SendRequest struct {
	Account     string
	To, Cc, Bcc []string // each entry may hold a comma-separated list
	Subject     string
	Text        string         // plain text, or Markdown source
	Format      compose.Format // plain (default), markdown or html
	HTML        string         // with FormatHTML
	Attachments []string       // file paths, read at enqueue
	TrackOpens  bool
	TrackClicks bool
	// ReadReceipt asks the recipients' programs for a read receipt
	// (RFC 8098 Disposition-Notification-To, to the account's address);
	// the report sync turns the MDNs that come back into "read" events.
	ReadReceipt bool
	At          time.Time // zero: now
}

// SendError carries per-field problems so the compose window can show each
// under its field; Error() joins them for the CLI.
type SendError struct {
	Fields []compose.FieldError
}

func (e *SendError) Error() string {
	var parts []string
	for _, f := range e.Fields {
		parts = append(parts, f.Error())
	}
	return strings.Join(parts, "; ")
}

func parseList(field string, entries []string) ([]mail.Address, *compose.FieldError) {
	var out []mail.Address
	for _, e := range entries {
		l, err := mail.ParseAddressList(e)
		if err != nil {
			return nil, &compose.FieldError{Field: field, Message: err.Error()}
		}
		out = append(out, l...)
	}
	return out, nil
}

// Draft turns a request into a compose draft with a fresh Date and
// Message-ID; the error lists every field problem.
func (a *App) Draft(ctx context.Context, req SendRequest) (compose.Draft, *Account, error) {
	var fields []compose.FieldError
	acct, err := a.Accounts.Get(ctx, req.Account)
	if err != nil {
		return compose.Draft{}, nil, err
	}
	if acct == nil {
		fields = append(fields, compose.FieldError{Field: "from", Message: fmt.Sprintf("no account named %q", req.Account)})
	}
	d := compose.Draft{Subject: req.Subject, Text: req.Text, Format: req.Format, HTML: req.HTML, Date: time.Now()}
	for _, l := range []struct {
		field string
		in    []string
		out   *[]mail.Address
	}{{"to", req.To, &d.To}, {"cc", req.Cc, &d.Cc}, {"bcc", req.Bcc, &d.Bcc}} {
		list, fe := parseList(l.field, l.in)
		if fe != nil {
			fields = append(fields, *fe)
		}
		*l.out = list
	}
	for _, p := range req.Attachments {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() {
			fields = append(fields, compose.FieldError{Field: "attachments", Message: fmt.Sprintf("%s is not a readable file", p)})
			continue
		}
		path := p
		d.Attachments = append(d.Attachments, compose.Attachment{Name: filepath.Base(p), Size: st.Size(),
			ContentType: mime.TypeByExtension(filepath.Ext(p)),
			Open:        func() (io.ReadCloser, error) { return os.Open(path) }})
	}
	if acct != nil {
		d.From = mail.Address{Name: acct.DisplayName, Address: acct.Email}
		if req.ReadReceipt {
			d.Headers = append(d.Headers, compose.HeaderField{Name: "Disposition-Notification-To", Value: "<" + acct.Email + ">"})
		}
		_, domain, _ := strings.Cut(acct.Email, "@")
		d.MessageID = compose.NewMessageID(domain)
		fields = append(fields, compose.Validate(d)...)
	}
	if len(fields) > 0 {
		return d, acct, &SendError{Fields: fields}
	}
	return d, acct, nil
}

// Send builds the copies and enqueues them durably; it returns the new
// message's id. Tracking personalizes: with opens or clicks tracked (and a
// tracker configured) and an HTML body, every recipient gets a copy of
// their own with its pixel; a plain-text message cannot carry one, so its
// recipients are "not trackable" and share one copy.
func (a *App) Send(ctx context.Context, req SendRequest) (string, error) {
	d, acct, err := a.Draft(ctx, req)
	if err != nil {
		return "", err
	}
	var links *opentrack.Links
	wantTracking := req.TrackOpens || req.TrackClicks
	if wantTracking {
		if links, err = a.TrackingLinks(ctx); err != nil {
			return "", err
		}
		if links == nil {
			return "", errors.New("open tracking is off: choose a tracker in Settings (mailroom config set tracking.mode builtin|remote) or send without tracking")
		}
	}
	hasHTML := d.Format == compose.FormatMarkdown || d.Format == compose.FormatHTML
	personalized := wantTracking && hasHTML
	msg := outbox.Message{Account: acct.Name, From: acct.Email, Subject: d.Subject, MessageID: d.MessageID,
		DueAt: req.At, TrackOpens: req.TrackOpens, TrackClicks: req.TrackClicks}
	kinds := recipientKinds(d)
	// Every copy gets the same MIME boundaries, so that copies differ only
	// where their recipient's tracking is and each after the first is
	// stored as the bytes around that (outbox.Copy.Share): attachments are
	// kept once, not once per recipient.
	var boundarySeed [32]byte
	if _, err := cryptorand.Read(boundarySeed[:]); err != nil {
		return "", err
	}
	for _, plan := range compose.Plan(d, personalized) {
		cid, err := opentrack.NewCopyID()
		if err != nil {
			return "", err
		}
		opt := compose.CopyOptions{TrackingID: cid.String(), Rand: rand.NewChaCha8(boundarySeed)}
		if personalized {
			opt.HTMLTransform = func(html []byte) ([]byte, error) {
				return links.Apply(html, cid, req.TrackOpens, req.TrackClicks)
			}
		}
		body, err := compose.Build(d, opt)
		if err != nil {
			return "", err
		}
		c := outbox.Copy{EnvID: "mr." + cid.String(), TrackingID: cid.String(), Body: body}
		for _, r := range plan.Recipients {
			addr := r.Address
			if ascii, err := r.ASCIIDomain(); err == nil && !compose.NeedsSMTPUTF8(d) {
				addr = ascii
			}
			c.Recipients = append(c.Recipients, outbox.Recipient{Address: addr, Kind: kinds[strings.ToLower(r.Address)],
				Trackable: personalized && plan.Personal})
		}
		if len(msg.Copies) > 0 {
			c.Share(msg.Copies[0].Body)
		}
		msg.Copies = append(msg.Copies, c)
	}
	var sent []byte
	if acct.IMAP.Host != "" && !acct.SavesSent {
		// Built before enqueueing so a failure here queues nothing.
		if sent, err = compose.SentCopy(d, compose.CopyOptions{}); err != nil {
			return "", err
		}
	}
	if sent != nil {
		// The Sent copy commits with the message: a crash cannot leave a
		// queued message whose copy for the Sent folder is lost.
		msg.Also = func(ctx context.Context, tx *sql.Tx, id string) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO sent_copies(message, body) VALUES(?,?)`, id, sent)
			return err
		}
	}
	id, err := a.Outbox.Enqueue(ctx, msg)
	if err != nil {
		return "", err
	}
	a.Outbox.Kick()
	a.notify()
	return id, nil
}

func recipientKinds(d compose.Draft) map[string]string {
	kinds := map[string]string{}
	for _, l := range []struct {
		kind string
		list []mail.Address
	}{{outbox.KindBcc, d.Bcc}, {outbox.KindCc, d.Cc}, {outbox.KindTo, d.To}} {
		for _, a := range l.list {
			kinds[strings.ToLower(a.Address)] = l.kind // To wins over Cc over Bcc, as Plan keeps the first place
		}
	}
	return kinds
}
