package mailstack_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"mailroom/internal/mailstack"
)

func TestHarnessLogins(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Postfix and Dovecot (internal/mailstack)")
	}
	t.Parallel()
	st := mailstack.Start(t)
	alice, bob := st.Account("alice"), st.Account("bob")

	t.Run("imaps", func(t *testing.T) {
		c, err := imapclient.DialTLS(st.IMAPSAddr, &imapclient.Options{TLSConfig: st.TLSConfig()})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(alice.Address, alice.Password).Wait(); err != nil {
			t.Fatalf("login: %v", err)
		}
		boxes, err := c.List("", "*", nil).Collect()
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		var names []string
		for _, b := range boxes {
			names = append(names, b.Mailbox)
		}
		if !contains(names, "INBOX") {
			t.Fatalf("LIST = %v, want INBOX", names)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatalf("select: %v", err)
		}
		if err := c.Logout().Wait(); err != nil {
			t.Fatalf("logout: %v", err)
		}
	})

	t.Run("smtps-delivers", func(t *testing.T) {
		c, err := smtp.DialTLS(st.SMTPSAddr, st.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		send(t, c, alice, bob.Address, "via smtps")
		files := st.WaitMessages(t, "bob", 1, 15*time.Second)
		body, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(body), "Subject: via smtps") {
			t.Fatalf("bob's message lacks the subject:\n%s", body)
		}
	})

	t.Run("submission-starttls", func(t *testing.T) {
		c, err := smtp.DialStartTLS(st.SubmissionAddr, st.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		send(t, c, alice, bob.Address, "via submission")
		st.WaitMessages(t, "bob", 2, 15*time.Second)

		// Synchronous answers at RCPT.
		wantRcptCode(t, c, alice.Address, mailstack.RejectAddr, 550)
		wantRcptCode(t, c, alice.Address, mailstack.TempFailAddr, 450)
	})

	t.Run("submission-auth-before-starttls", func(t *testing.T) {
		c, err := smtp.Dial(st.SubmissionAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = c.Auth(sasl.NewPlainClient("", alice.Address, alice.Password))
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 530 {
			t.Fatalf("AUTH before STARTTLS: %v, want 530", err)
		}
	})

	t.Run("bounce-dsn", func(t *testing.T) {
		c, err := smtp.DialTLS(st.SMTPSAddr, st.TLSConfig())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		before, _ := st.Messages("alice")
		send(t, c, alice, mailstack.BounceAddr, "bounce me")
		files := st.WaitMessages(t, "alice", len(before)+1, 15*time.Second)
		body, err := os.ReadFile(files[len(files)-1])
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"report-type=delivery-status", "Action: failed", "Status: 5.1.1"} {
			if !strings.Contains(string(body), want) {
				t.Fatalf("DSN lacks %q:\n%s", want, body)
			}
		}
	})
}

func send(t *testing.T, c *smtp.Client, from mailstack.Account, to, subject string) {
	t.Helper()
	if err := c.Auth(sasl.NewPlainClient("", from.Address, from.Password)); err != nil {
		t.Fatalf("auth: %v", err)
	}
	msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d.harness@example.test>\r\n\r\nhello\r\n",
		from.Address, to, subject, time.Now().Format(time.RFC1123Z), time.Now().UnixNano())
	if err := c.SendMail(from.Address, []string{to}, strings.NewReader(msg)); err != nil {
		t.Fatalf("send to %s: %v", to, err)
	}
}

func wantRcptCode(t *testing.T, c *smtp.Client, from, to string, code int) {
	t.Helper()
	if err := c.Mail(from, nil); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	err := c.Rcpt(to, nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != code {
		t.Fatalf("RCPT %s: %v, want %d", to, err, code)
	}
	if err := c.Reset(); err != nil {
		t.Fatalf("RSET: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
