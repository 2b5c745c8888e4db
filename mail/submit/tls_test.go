package submit_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/mail/submit"
)

// marker is in every test body, so its absence from a transcript proves
// no message byte left the client.
const marker = "MARKER-7f3a"

// TestTLSFaults: every way TLS can be missing or wrong ends with a clear
// error before a single AUTH or message byte is sent.
func TestTLSFaults(t *testing.T) {
	cases := []struct {
		name  string
		cfg   smtptest.Config
		modes []mail.Security
		host  string // Endpoint.Host override
		ca    string // "system": no RootCAs; "file": CAFile of another CA
		words []string
	}{
		{name: "self-signed", cfg: smtptest.Config{Cert: smtptest.CertSelfSigned}, words: []string{"TLS handshake", "certificate", "unknown authority"}},
		{name: "untrusted CA", cfg: smtptest.Config{Cert: smtptest.CertUntrustedCA}, words: []string{"certificate", "unknown authority"}},
		{name: "wrong host name", cfg: smtptest.Config{Cert: smtptest.CertWrongHost}, host: "localhost", words: []string{"certificate", "valid for other.example, not localhost"}},
		{name: "wrong IP", cfg: smtptest.Config{Cert: smtptest.CertWrongHost}, words: []string{"certificate", "127.0.0.1"}},
		{name: "system pool only", cfg: smtptest.Config{}, ca: "system", words: []string{"certificate", "unknown authority"}},
		{name: "CA file of another CA", cfg: smtptest.Config{}, ca: "file", words: []string{"certificate", "unknown authority"}},
		{name: "TLS 1.0 only", cfg: smtptest.Config{TLSMaxVersion: tls.VersionTLS10}, words: []string{"TLS handshake", "protocol version"}},
		{name: "TLS 1.1 only", cfg: smtptest.Config{TLSMaxVersion: tls.VersionTLS11}, words: []string{"protocol version"}},
		{name: "STARTTLS not offered", cfg: smtptest.Config{NoSTARTTLS: true}, modes: []mail.Security{mail.StartTLS}, words: []string{"does not offer STARTTLS", "no credentials or mail were sent"}},
		{name: "454 to STARTTLS", cfg: smtptest.Config{Faults: []smtptest.Fault{{Command: "STARTTLS", Code: 454, Enhanced: "4.7.0", Text: "TLS not available"}}},
			modes: []mail.Security{mail.StartTLS}, words: []string{"STARTTLS: 454", "TLS not available", "unreachable"}},
	}
	for _, c := range cases {
		modes := c.modes
		if modes == nil {
			modes = []mail.Security{mail.ImplicitTLS, mail.StartTLS}
		}
		for _, sec := range modes {
			t.Run(string(sec)+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				cfg := c.cfg
				cfg.Security = sec
				srv := smtptest.Start(t, cfg)
				o := opts(srv)
				if c.host != "" {
					o.Endpoint.Host = c.host
				}
				switch c.ca {
				case "system":
					o.RootCAs = nil
				case "file":
					other := smtptest.Start(t, smtptest.Config{})
					o.RootCAs = nil
					o.Endpoint.CAFile = filepath.Join(t.TempDir(), "ca.pem")
					os.WriteFile(o.Endpoint.CAFile, other.CAPEM(), 0o600)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				env := mail.Envelope{From: "s@example.test", Recipients: []string{"b@example.test"}}
				res, err := submit.Submit(ctx, o, env, strings.NewReader(msg+marker+"\r\n"))
				if err == nil {
					t.Fatal("submission succeeded")
				}
				if mail.OutcomeOf(err) != mail.Unreachable || res.Rcpts[0].Outcome != mail.Unreachable {
					t.Errorf("outcome %s / %s, want unreachable", mail.OutcomeOf(err), res.Rcpts[0].Outcome)
				}
				for _, w := range c.words {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				t.Logf("%v", err)
				assertNothingSent(t, srv)
			})
		}
	}
}

// assertNothingSent checks the peer's transcripts: no AUTH and no message
// byte, neither in clear nor (trivially, after a failed handshake) in TLS.
func assertNothingSent(t *testing.T, srv *smtptest.Server) {
	t.Helper()
	if a := srv.Auths(); len(a) != 0 {
		t.Errorf("AUTH attempts reached the server: %+v", a)
	}
	if r := srv.Received(); len(r) != 0 {
		t.Errorf("messages reached the server: %d", len(r))
	}
	trs := srv.Transcripts()
	if len(trs) == 0 {
		t.Fatal("no connection recorded")
	}
	for _, tr := range trs {
		for _, layer := range [][]byte{tr.Raw, tr.Plain} {
			for _, w := range []string{"AUTH", "MAIL FROM", "RCPT", "DATA", marker, "c2VjcmV0" /* base64 "secret" */, "secret"} {
				if bytes.Contains(layer, []byte(w)) {
					t.Errorf("conn %d: %q on the wire", tr.Conn, w)
				}
			}
		}
		if tr.TLS {
			t.Errorf("conn %d: a TLS session was established", tr.Conn)
		}
	}
}

// TestCAFile: a CA file is the trust anchor when no RootCAs override is set.
func TestCAFile(t *testing.T) {
	srv := smtptest.Start(t, smtptest.Config{Security: mail.ImplicitTLS})
	o := opts(srv)
	o.RootCAs = nil
	o.Endpoint.CAFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(o.Endpoint.CAFile, srv.CAPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := submit.Submit(context.Background(), o, mail.Envelope{From: "s@example.test", Recipients: []string{"b@example.test"}}, strings.NewReader(msg))
	if err != nil || res.Rcpts[0].Outcome != mail.Accepted {
		t.Fatalf("%+v %v", res, err)
	}
	o.Endpoint.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := submit.Dial(context.Background(), o); err == nil || !strings.Contains(err.Error(), "CA file") {
		t.Fatalf("missing CA file: %v", err)
	}
}
