package smtptest_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/mail/submit"
)

func clientOpts(srv *smtptest.Server) submit.Options {
	return submit.Options{Endpoint: srv.Endpoint(), RootCAs: srv.CAPool(),
		DialTimeout: 2 * time.Second, CommandTimeout: 2 * time.Second, FinalReplyTimeout: 2 * time.Second}
}

// TestEveryNth: the soak-test switches are deterministic counters over the
// whole server: 451 to one "." in 7, 550 to one RCPT in 50.
func TestEveryNth(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{Faults: []smtptest.Fault{
		{Command: ".", Every: 7, Code: 451},
		{Command: "RCPT", Every: 50, Code: 550},
	}})
	s, err := submit.Dial(context.Background(), clientOpts(srv))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	count := map[mail.Outcome]int{}
	for i := 0; i < 100; i++ {
		res, err := s.Send(context.Background(), mail.Envelope{From: "s@example.test", Recipients: []string{"b@example.test"}},
			strings.NewReader("Subject: n\r\n\r\nx\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		count[res.Rcpts[0].Outcome]++
	}
	// RCPT 50 and 100 are refused; 98 messages reach ".", 14 of them get 451.
	if count[mail.Rejected] != 2 || count[mail.Deferred] != 14 || count[mail.Accepted] != 84 || len(srv.Received()) != 84 {
		t.Fatalf("outcomes %v, received %d", count, len(srv.Received()))
	}
}

// dialRaw opens a TLS connection to an implicit-TLS peer and returns a
// textproto conn for hand-written conversations.
func dialRaw(t *testing.T, srv *smtptest.Server) *textproto.Conn {
	t.Helper()
	c, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: srv.CAPool(), ServerName: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	tp := textproto.NewConn(c)
	t.Cleanup(func() { tp.Close() })
	return tp
}

func expect(t *testing.T, tp *textproto.Conn, code int) string {
	t.Helper()
	_, msg, err := tp.ReadResponse(code)
	if err != nil {
		t.Fatalf("want %d: %v", code, err)
	}
	return msg
}

// TestGreetingFault: a 554 greeting, then 503 to everything but QUIT.
func TestGreetingFault(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{Security: mail.ImplicitTLS, Faults: []smtptest.Fault{smtptest.Reply("CONNECT", 554)}})
	tp := dialRaw(t, srv)
	if msg := expect(t, tp, 554); !strings.Contains(msg, "smtptest fault at CONNECT") {
		t.Errorf("greeting %q", msg)
	}
	tp.PrintfLine("EHLO x")
	expect(t, tp, 503)
	tp.PrintfLine("QUIT")
	expect(t, tp, 221)
}

// TestLoginWithoutInitialResponse: the LOGIN server asks for the user name
// when the client does not send it with AUTH.
func TestLoginWithoutInitialResponse(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{Security: mail.ImplicitTLS})
	tp := dialRaw(t, srv)
	expect(t, tp, 220)
	tp.PrintfLine("EHLO x")
	if caps := expect(t, tp, 250); !strings.Contains(caps, "AUTH PLAIN LOGIN") {
		t.Fatalf("caps %q", caps)
	}
	tp.PrintfLine("AUTH LOGIN")
	if m := expect(t, tp, 334); m != "VXNlcm5hbWU6" {
		t.Fatalf("challenge %q", m)
	}
	tp.PrintfLine("dXNlcg==") // user
	if m := expect(t, tp, 334); m != "UGFzc3dvcmQ6" {
		t.Fatalf("challenge %q", m)
	}
	tp.PrintfLine("c2VjcmV0") // secret
	expect(t, tp, 235)
	if a := srv.Auths(); len(a) != 1 || !a[0].OK || a[0].Username != "user" {
		t.Fatalf("auths %+v", a)
	}
}

// TestDataFault: a fault on the DATA command itself (go-smtp always says
// 354) answers instead of 354, and the transaction goes on afterwards.
func TestDataFault(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{Security: mail.ImplicitTLS, Faults: []smtptest.Fault{{Command: "DATA", Nth: 1, Code: 451}}})
	tp := dialRaw(t, srv)
	expect(t, tp, 220)
	tp.PrintfLine("EHLO x")
	expect(t, tp, 250)
	tp.PrintfLine("MAIL FROM:<a@example.test>")
	expect(t, tp, 250)
	tp.PrintfLine("RCPT TO:<b@example.test>")
	expect(t, tp, 250)
	tp.PrintfLine("DATA")
	expect(t, tp, 451)
	tp.PrintfLine("DATA")
	expect(t, tp, 354)
	tp.PrintfLine("Subject: x\r\n\r\n..dot\r\n.")
	expect(t, tp, 250)
	got := srv.Received()
	if len(got) != 1 || string(got[0].Data) != "Subject: x\r\n\r\n.dot\r\n" {
		t.Fatalf("received %+v", got)
	}
}

// TestTranscriptLayers: under TLS, Raw holds ciphertext and Plain the
// decrypted commands; before STARTTLS both hold the same clear text.
func TestTranscriptLayers(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{Security: mail.StartTLS})
	_, err := submit.Submit(context.Background(), clientOpts(srv),
		mail.Envelope{From: "s@example.test", Recipients: []string{"b@example.test"}}, strings.NewReader("Subject: x\r\n\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	tr := srv.Transcripts()
	if len(tr) != 1 || !tr[0].TLS {
		t.Fatalf("%+v", tr)
	}
	raw, plain := tr[0].Raw, tr[0].Plain
	if !bytes.HasPrefix(raw, []byte("EHLO localhost\r\nSTARTTLS\r\n")) || !bytes.HasPrefix(plain, []byte("EHLO localhost\r\nSTARTTLS\r\nEHLO localhost\r\nAUTH PLAIN ")) {
		t.Errorf("raw %q...\nplain %q", raw[:30], plain)
	}
	if bytes.Contains(raw, []byte("MAIL FROM")) || !bytes.Contains(plain, []byte("MAIL FROM:<s@example.test>")) {
		t.Error("layers mixed up")
	}
	if !bytes.Contains(tr[0].Replies, []byte("220 2.0.0 Ready to start TLS")) {
		t.Errorf("replies %q", tr[0].Replies)
	}
}

// TestStartTLSInjection: commands pipelined after STARTTLS in clear are
// discarded, not answered after the handshake (RFC 3207 section 5).
func TestStartTLSInjection(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{Security: mail.StartTLS})
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	tp := textproto.NewReader(br)
	tp.ReadResponse(220)
	c.Write([]byte("EHLO x\r\n"))
	tp.ReadResponse(250)
	c.Write([]byte("STARTTLS\r\nNOOP\r\n"))
	if _, _, err := tp.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(c, &tls.Config{RootCAs: srv.CAPool(), ServerName: "localhost"})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	tt := textproto.NewConn(tc)
	tt.PrintfLine("EHLO x")
	if _, msg, err := tt.ReadResponse(250); err != nil || !strings.HasPrefix(msg, "Hello x") {
		t.Fatalf("after TLS: %q %v (an injected NOOP reply would show here)", msg, err)
	}
}
