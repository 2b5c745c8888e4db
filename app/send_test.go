package app

import (
	"bytes"
	"context"
	"io"
	gomail "net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-message"

	"mailroom/mail"
	"mailroom/mail/compose"
	"mailroom/tracking/store"
)

func testApp(t *testing.T) *App {
	t.Helper()
	a, err := Open(context.Background(), Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	acct := Account{Name: "work", Email: "alice@example.test", PasswordSource: "command", PasswordCommand: "echo x",
		SMTP: mail.Endpoint{Host: "smtp.example.test", Port: 465, Security: mail.ImplicitTLS, Username: "alice"}}
	if err := a.Accounts.Add(context.Background(), acct, ""); err != nil {
		t.Fatal(err)
	}
	return a
}

// TestFullDiskLosesNothing: when the disk fills (SQLite's page limit stands
// in for it), a send fails with a clear error and leaves no half-queued
// message; what was queued before is intact.
func TestFullDiskLosesNothing(t *testing.T) {
	ctx := context.Background()
	a := testApp(t)
	first, err := a.Send(ctx, SendRequest{Account: "work", To: []string{"bob@example.test, carol@example.test"}, Subject: "before", Text: "hi"})
	if err != nil {
		t.Fatal(err)
	}
	var pages int
	a.DB.W.QueryRow(`PRAGMA page_count`).Scan(&pages)
	if _, err := a.DB.W.Exec(`PRAGMA max_page_count=` + strconv.Itoa(pages+2)); err != nil {
		t.Fatal(err)
	}
	_, err = a.Send(ctx, SendRequest{Account: "work", To: []string{"dave@example.test"}, Subject: "too big",
		Text: strings.Repeat("x", 2<<20)})
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("send on a full disk: err = %v, want a clear 'full' error", err)
	}
	a.DB.W.Exec(`PRAGMA max_page_count=1073741823`)
	msgs, err := a.Store.Statuses(ctx, store.StatusFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 || msgs[0].ID != first || len(msgs[0].Recipients) != 2 {
		t.Fatalf("after the failed send: %d messages (want only %s with its 2 recipients)", len(msgs), first)
	}
	for _, r := range msgs[0].Recipients {
		if r.Status != "queued" || len(r.Events) != 1 {
			t.Fatalf("recipient %s: %s with %d events", r.Address, r.Status, len(r.Events))
		}
	}
	if res, err := a.DB.IntegrityCheck(ctx); err != nil || len(res) != 1 || res[0] != "ok" {
		t.Fatalf("integrity: %v %v", res, err)
	}
	// And the disk freed, sending works again.
	if _, err := a.Send(ctx, SendRequest{Account: "work", To: []string{"dave@example.test"}, Subject: "after", Text: "ok"}); err != nil {
		t.Fatal(err)
	}
}

func TestSendRejectsBadInputWithFieldErrors(t *testing.T) {
	a := testApp(t)
	_, err := a.Send(context.Background(), SendRequest{Account: "work", To: []string{"not an address"}, Cc: []string{"x@bad domain"},
		Subject: "a\r\nBcc: evil@example.test"})
	se, ok := err.(*SendError)
	if !ok {
		t.Fatalf("err = %v, want *SendError", err)
	}
	fields := map[string]bool{}
	for _, f := range se.Fields {
		fields[f.Field] = true
	}
	for _, f := range []string{"to", "cc", "subject"} {
		if !fields[f] {
			t.Errorf("no error for field %s in %v", f, se.Fields)
		}
	}
	msgs, _ := a.Store.Statuses(context.Background(), store.StatusFilter{})
	if len(msgs) != 0 {
		t.Fatal("a rejected draft was queued")
	}
}

// A read receipt request is a Disposition-Notification-To field naming
// the account's address, in every copy; without the request, none.
func TestSendAsksForReadReceipt(t *testing.T) {
	ctx := context.Background()
	a := testApp(t)
	for _, want := range []bool{true, false} {
		id, err := a.Send(ctx, SendRequest{Account: "work", To: []string{"bob@example.test, carol@example.test"}, Subject: "receipt", Text: "hi", ReadReceipt: want})
		if err != nil {
			t.Fatal(err)
		}
		rows, err := a.DB.R.Query(`SELECT body FROM copies WHERE message=?`, id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rows.Next() {
			var body []byte
			rows.Scan(&body)
			n++
			if got := strings.Contains(string(body), "Disposition-Notification-To: <alice@example.test>\r\n"); got != want {
				t.Errorf("read receipt %v: header present %v in\n%s", want, got, body)
			}
		}
		rows.Close()
		if n == 0 {
			t.Fatal("no copy")
		}
	}
}

// A tracked send with an attachment keeps the attachment once, whatever
// the number of recipients: each copy after the first is stored as the
// bytes around its own tracking header and pixel. Every copy reads back
// whole, with its own pixel, and a resend of one is whole too.
func TestTrackedSendStoresAttachmentOnce(t *testing.T) {
	ctx := context.Background()
	a := testApp(t)
	if err := a.SetSetting(ctx, "tracking.mode", "builtin"); err != nil {
		t.Fatal(err)
	}
	att := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(att, bytes.Repeat([]byte("%PDF-1.7 not really\n"), 20_000), 0o600); err != nil {
		t.Fatal(err)
	}
	rcpts := []string{"bob@example.test", "carol@example.test", "dave@example.test", "erin@example.test"}
	id, err := a.Send(ctx, SendRequest{Account: "work", To: rcpts[:2], Bcc: rcpts[2:], Subject: "report",
		Format: compose.FormatHTML, HTML: "<p>The report is attached.</p>", Attachments: []string{att}, TrackOpens: true})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := a.DB.R.Query(`SELECT length(c.body), `+store.CopyBodyColumns+` FROM copies c`+store.CopyBaseJoin+`
		WHERE c.message=? ORDER BY c.id`, id)
	if err != nil {
		t.Fatal(err)
	}
	var stored int
	var bodies [][]byte
	for rows.Next() {
		var n int
		var prefix, middle, suffix []byte
		if err := rows.Scan(&n, &prefix, &middle, &suffix); err != nil {
			t.Fatal(err)
		}
		stored += n
		bodies = append(bodies, store.JoinBody(prefix, middle, suffix))
	}
	rows.Close()
	if len(bodies) != len(rcpts) {
		t.Fatalf("%d copies for %d recipients", len(bodies), len(rcpts))
	}
	one := len(bodies[0])
	if stored > one+(len(rcpts)-1)*4096 {
		t.Errorf("%d copies of %d bytes stored in %d bytes: the attachment is kept more than once", len(rcpts), one, stored)
	}
	pixels := map[string]bool{}
	for i, b := range bodies {
		if err := compose.CheckWire(b); err != nil {
			t.Errorf("copy %d: %v", i, err)
		}
		m, err := gomail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("copy %d: %v", i, err)
		}
		pixels[m.Header.Get(compose.TrackingHeader)] = true
		if len(b) < 400_000 {
			t.Errorf("copy %d is %d bytes: no attachment", i, len(b))
		}
	}
	if len(pixels) != len(rcpts) {
		t.Errorf("tracking ids %v: want one per copy", pixels)
	}
	newID, err := a.Resend(ctx, id, "dave@example.test")
	if err != nil {
		t.Fatal(err)
	}
	var resent []byte
	if err := a.DB.R.QueryRow(`SELECT body FROM copies WHERE message=?`, newID).Scan(&resent); err != nil {
		t.Fatal(err)
	}
	if len(resent) < 400_000 || !bytes.Contains(resent, []byte("The report is attached.")) {
		t.Errorf("resent copy is %d bytes and lacks the text or the attachment", len(resent))
	}
}

// A resend's pixel and tracked links name the resend's own copy: its opens
// and clicks count for it, not for the copy it came from; everything else
// in the copy is unchanged.
func TestResendTracksTheResend(t *testing.T) {
	ctx := context.Background()
	a := testApp(t)
	if err := a.SetSetting(ctx, "tracking.mode", "builtin"); err != nil {
		t.Fatal(err)
	}
	id, err := a.Send(ctx, SendRequest{Account: "work", To: []string{"bob@example.test", "carol@example.test"}, Subject: "offer",
		Format: compose.FormatHTML, HTML: `<p>See <a href="https://shop.example/offer?x=1">the offer</a>.</p>`,
		TrackOpens: true, TrackClicks: true})
	if err != nil {
		t.Fatal(err)
	}
	newID, err := a.Resend(ctx, id, "bob@example.test")
	if err != nil {
		t.Fatal(err)
	}
	copyOf := func(msg, addr string) (trackingID string, body []byte, trackable bool) {
		err := a.DB.R.QueryRow(`SELECT c.tracking_id, `+store.CopyBodyColumns+`, r.trackable FROM copies c`+store.CopyBaseJoin+`
			JOIN recipients r ON r.copy=c.id WHERE c.message=? AND r.address=?`, msg, addr).
			Scan(&trackingID, new([]byte), &body, new([]byte), &trackable)
		if err != nil {
			t.Fatal(err)
		}
		return trackingID, body, trackable
	}
	oldTID, _, _ := copyOf(id, "bob@example.test")
	newTID, body, trackable := copyOf(newID, "bob@example.test")
	if !trackable || newTID == oldTID {
		t.Fatalf("resend: trackable %v, tracking id %s (the first copy's %s)", trackable, newTID, oldTID)
	}
	if err := compose.CheckWire(body); err != nil {
		t.Fatal(err)
	}
	links, err := a.TrackingLinks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var html []byte
	e, err := message.Read(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	e.Walk(func(_ []int, p *message.Entity, _ error) error {
		if mt, _, _ := p.Header.ContentType(); mt == "text/html" {
			html, _ = io.ReadAll(p.Body)
		}
		return nil
	})
	pixel := regexp.MustCompile(`/o/([A-Za-z0-9_-]+)\.gif`).FindSubmatch(html)
	click := regexp.MustCompile(`/c/([A-Za-z0-9_-]+)\?u=([^"&]+)`).FindSubmatch(html)
	if pixel == nil || click == nil {
		t.Fatalf("no pixel or tracked link in the resend's HTML:\n%s", html)
	}
	if c, err := links.Keyring.VerifyOpen(string(pixel[1])); err != nil || c.CopyID.String() != newTID {
		t.Errorf("the resend's pixel is for copy %s (%v), want %s", c.CopyID, err, newTID)
	}
	dest, _ := url.QueryUnescape(string(click[2]))
	if c, err := links.Keyring.VerifyClick(string(click[1]), dest); err != nil || c.CopyID.String() != newTID || dest != "https://shop.example/offer?x=1" {
		t.Errorf("the resend's link to %q is for copy %s (%v), want %s", dest, c.CopyID, err, newTID)
	}
}
