package app

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"mailroom/mail"
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
