package app

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"

	"mailroom/mail/compose"
	"mailroom/tracking/opentrack"
	"mailroom/tracking/opentrack/token"
	"mailroom/tracking/outbox"
	"mailroom/tracking/store"
)

// Resend enqueues a new message for one recipient of an earlier one: the
// same content as that recipient's copy, with a new Date, Message-ID,
// ENVID and tracking id, so its journey is tracked apart from the first.
func (a *App) Resend(ctx context.Context, id, address string) (string, error) {
	var account, from, subject string
	var prefix, body, suffix []byte
	var trackOpens, trackClicks bool
	var oldCopy string
	err := a.DB.R.QueryRowContext(ctx, `SELECT m.account, m.from_addr, m.subject, m.track_opens, m.track_clicks, c.tracking_id, `+store.CopyBodyColumns+`
		FROM messages m JOIN recipients r ON r.message=m.id JOIN copies c ON c.id=r.copy`+store.CopyBaseJoin+`
		WHERE (m.id=? OR m.message_id=?) AND lower(r.address)=lower(?) LIMIT 1`, id, id, address).
		Scan(&account, &from, &subject, &trackOpens, &trackClicks, &oldCopy, &prefix, &body, &suffix)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("message %s has no recipient %s", id, address)
	}
	if err != nil {
		return "", err
	}
	body = store.JoinBody(prefix, body, suffix)
	_, domain, _ := strings.Cut(from, "@")
	msgID := compose.NewMessageID(domain)
	cid, err := opentrack.NewCopyID()
	if err != nil {
		return "", err
	}
	trackable, err := a.retrack(ctx, &body, oldCopy, cid, trackOpens || trackClicks)
	if err != nil {
		return "", fmt.Errorf("resend: %w", err)
	}
	nb, err := rewriteHeaders(body, map[string]string{
		"Message-Id":           msgID,
		"Date":                 time.Now().Format(time.RFC1123Z),
		compose.TrackingHeader: cid.String(),
	})
	if err != nil {
		return "", fmt.Errorf("resend: %w", err)
	}
	newID, err := a.Outbox.Enqueue(ctx, outbox.Message{Account: account, From: from, Subject: subject, MessageID: msgID,
		TrackOpens: trackOpens, TrackClicks: trackClicks,
		Copies: []outbox.Copy{{EnvID: "mr." + cid.String(), TrackingID: cid.String(), Body: nb,
			Recipients: []outbox.Recipient{{Address: address, Trackable: trackable}}}}})
	if err != nil {
		return "", err
	}
	a.Outbox.Kick()
	a.notify()
	return newID, nil
}

// retrack moves the pixel and tracked links of copy oldCopy in *body to
// copy id, so that opens and clicks of the resend count for the resend and
// not for the copy it came from. It says whether the resend carries a
// pixel of its own. With tracking off now, or a copy without tracking,
// the body is left as it is.
func (a *App) retrack(ctx context.Context, body *[]byte, oldCopy string, id token.CopyID, tracked bool) (bool, error) {
	old, err := token.ParseCopyID(oldCopy)
	if !tracked || err != nil {
		return false, nil
	}
	links, err := a.TrackingLinks(ctx)
	if err != nil || links == nil {
		return false, err
	}
	pixels := 0
	nb, err := compose.RewriteHTML(*body, func(html []byte) ([]byte, error) {
		out, n, err := links.Reissue(html, old, id)
		pixels += n
		return out, err
	})
	if err != nil {
		return false, err
	}
	if err := compose.CheckWire(nb); err != nil {
		return false, err
	}
	*body = nb
	return pixels > 0, nil
}

// rewriteHeaders replaces (or adds) header fields of a stored message,
// keeping the body byte for byte. go-message's textproto parses and
// re-folds the header, so values stay on legal lines.
func rewriteHeaders(msg []byte, set map[string]string) ([]byte, error) {
	br := bufio.NewReader(bytes.NewReader(msg))
	h, err := textproto.ReadHeader(br)
	if err != nil {
		return nil, err
	}
	for k, v := range set {
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("header %s: line break in value", k)
		}
		h.Set(k, v)
	}
	var out bytes.Buffer
	if err := textproto.WriteHeader(&out, h); err != nil {
		return nil, err
	}
	if _, err := br.WriteTo(&out); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
