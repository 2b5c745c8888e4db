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
	err := a.DB.R.QueryRowContext(ctx, `SELECT m.account, m.from_addr, m.subject, m.track_opens, m.track_clicks, `+store.CopyBodyColumns+`
		FROM messages m JOIN recipients r ON r.message=m.id JOIN copies c ON c.id=r.copy`+store.CopyBaseJoin+`
		WHERE (m.id=? OR m.message_id=?) AND lower(r.address)=lower(?) LIMIT 1`, id, id, address).
		Scan(&account, &from, &subject, &trackOpens, &trackClicks, &prefix, &body, &suffix)
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
			Recipients: []outbox.Recipient{{Address: address}}}}})
	if err != nil {
		return "", err
	}
	a.Outbox.Kick()
	a.notify()
	return newID, nil
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
