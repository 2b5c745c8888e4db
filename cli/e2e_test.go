package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"mailroom/internal/mailstack"
	"mailroom/tracking"
)

// TestEndToEndThroughPostfixAndDovecot drives the command line the way a
// user does, against the project's real Postfix + Dovecot: add accounts
// (implicit TLS and STARTTLS), test them, send to a deliverable, an
// unknown and a temporarily failing address, run the outbox, and read the
// DSNs back over IMAPS until each recipient shows what really happened.
func TestEndToEndThroughPostfixAndDovecot(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Postfix and Dovecot")
	}
	st := mailstack.Start(t)
	dir := t.TempDir()
	host := func(addr string) string { _, p, _ := strings.Cut(addr, ":"); return "localhost:" + p }
	add := func(name, smtp, sec string) {
		code, _, errs := runCLI(t, dir, "", "account", "add", name, "--email", "alice@example.test", "--name", "Alice",
			"--smtp", host(smtp), "--smtp-security", sec, "--imap", host(st.IMAPSAddr), "--imap-security", "tls",
			"--username", "alice", "--password-command", "echo alicepass", "--ca-file", st.CAFile)
		if code != 0 {
			t.Fatalf("account add %s: %s", name, errs)
		}
		code, out, errs := runCLI(t, dir, "", "account", "test", name)
		if code != 0 {
			t.Fatalf("account test %s: %s %s", name, out, errs)
		}
	}
	add("implicit", st.SMTPSAddr, "tls")
	{
		env := &Env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, DataDir: dir}
		ap, err := env.open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		// The harness's Postfix announces SIZE 52428800 (message_size_limit).
		if n, _ := ap.MaxSize(context.Background(), "implicit"); n != 52428800 {
			t.Errorf("remembered SIZE = %d, want the server's 52428800", n)
		}
		ap.Close()
	}
	add("starttls", st.SubmissionAddr, "starttls")

	code, out, errs := runCLI(t, dir, "", "send", "--account", "implicit", "--to", "bob@example.test",
		"--to", "unknown@example.test", "--cc", mailstack.TempFailAddr, "--subject", "Invoice 7")
	if code != 0 {
		t.Fatalf("send: %s", errs)
	}
	id := strings.TrimSpace(out)
	code, _, errs = runCLI(t, dir, "", "send", "--account", "starttls", "--to", mailstack.RejectAddr, "--subject", "Over 587")
	if code != 0 {
		t.Fatalf("send 587: %s", errs)
	}
	if code, _, errs = runCLI(t, dir, "", "run", "--once"); code != 0 {
		t.Logf("run --once (first): %s", errs) // a report sync may fail on an empty INBOX race; statuses decide
	}
	status := func() map[string]tracking.RecipientStatus {
		_, out, _ := runCLI(t, dir, "", "status", "--json")
		var msgs []tracking.MessageStatus
		if err := json.Unmarshal([]byte(out), &msgs); err != nil {
			t.Fatalf("status --json: %v\n%s", err, out)
		}
		m := map[string]tracking.RecipientStatus{}
		for _, msg := range msgs {
			for _, r := range msg.Recipients {
				m[r.Address] = r
			}
		}
		return m
	}
	s := status()
	if s["bob@example.test"].Status != tracking.Accepted && s["bob@example.test"].Status != tracking.Delivered {
		t.Fatalf("bob: %s", s["bob@example.test"].Status)
	}
	if got := s[mailstack.TempFailAddr]; got.Status != tracking.Deferred || got.NextAttemptAt == nil {
		t.Fatalf("tempfail: %+v", got)
	}
	if got := s[mailstack.RejectAddr]; got.Status != tracking.Rejected || got.Events[len(got.Events)-1].Code != 550 {
		t.Fatalf("reject over 587: %+v", got)
	}
	var accepted *tracking.EventStatus
	for i, e := range s["bob@example.test"].Events {
		if e.Kind == tracking.EvAccepted {
			accepted = &s["bob@example.test"].Events[i]
		}
	}
	if accepted == nil || accepted.Code != 250 || accepted.Text == "" || accepted.Command == "" {
		t.Fatalf("the 250 reply was not recorded with the server's words: %+v", s["bob@example.test"].Events)
	}
	// The DSNs: unknown@ bounces (5.1.1), bob@ is delivered (NOTIFY=SUCCESS).
	deadline := time.Now().Add(90 * time.Second)
	for {
		runCLI(t, dir, "", "run", "--once")
		s = status()
		if s["unknown@example.test"].Status == tracking.Bounced && s["bob@example.test"].Status == tracking.Delivered {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reports not applied in time: unknown=%s bob=%s", s["unknown@example.test"].Status, s["bob@example.test"].Status)
		}
		st.Flush()
		time.Sleep(time.Second)
	}
	var bounce tracking.EventStatus
	for _, e := range s["unknown@example.test"].Events {
		if e.Kind == tracking.EvBounced {
			bounce = e
		}
	}
	if bounce.EnhancedCode != "5.1.1" || bounce.Match != "envid" || bounce.Source != tracking.SrcDSN {
		t.Fatalf("bounce evidence: %+v", bounce)
	}
	if !s["unknown@example.test"].Suppressed {
		t.Fatal("a 5.1.1 bounce must put the address on the suppression list")
	}
	code, out, _ = runCLI(t, dir, "", "status", id)
	if code != 0 || !strings.Contains(out, "bounced") {
		t.Fatalf("status %s:\n%s", id, out)
	}
	// Bob's copy arrived once, with the headers Mailroom wrote.
	msgs, _ := st.Messages("bob")
	if len(msgs) != 1 {
		t.Fatalf("bob has %d messages", len(msgs))
	}
	f, err := os.Open(msgs[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h, err := textproto.ReadHeader(bufio.NewReader(f))
	if err != nil {
		t.Fatal(err)
	}
	var statusMsgs []tracking.MessageStatus
	_, out, _ = runCLI(t, dir, "", "status", id, "--json")
	json.Unmarshal([]byte(out), &statusMsgs)
	for field, want := range map[string]string{
		"From": "Alice <alice@example.test>", "To": "<bob@example.test>, <unknown@example.test>",
		"Cc": "<" + mailstack.TempFailAddr + ">", "Subject": "Invoice 7", "Message-Id": statusMsgs[0].MessageID, "Mime-Version": "1.0",
	} {
		got := h.Get(field)
		if field == "From" {
			got = strings.ReplaceAll(got, `"`, "") // a quoted display name is the same name
		}
		if got != want {
			t.Errorf("delivered %s = %q, want %q", field, h.Get(field), want)
		}
	}
	if h.Get("X-Mailroom-Tracking-Id") == "" || h.Has("Bcc") {
		t.Errorf("delivered copy: tracking header %q, Bcc present %v", h.Get("X-Mailroom-Tracking-Id"), h.Has("Bcc"))
	}
	// The Sent copy was appended to alice's \Sent mailbox, untracked.
	sent, _ := filepath.Glob(filepath.Join(st.MaildirPath("alice"), ".Sent", "cur", "*"))
	if len(sent) != 1 {
		t.Fatalf("alice's Sent has %d messages, want 1 (the rejected message never left)", len(sent))
	}
	for _, f := range sent {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, []byte("X-Mailroom-Tracking-Id")) {
			t.Fatalf("the Sent copy carries the tracking header:\n%s", b)
		}
	}
}
