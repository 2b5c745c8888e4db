package submit

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// TestAuthGuard: with no TLS, or TLS whose handshake has not completed,
// authenticate refuses before go-smtp writes a single byte (go-smtp itself
// would send AUTH in clear).
func TestAuthGuard(t *testing.T) {
	for _, name := range []string{"plain TCP", "TLS not handshaken"} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			got := make(chan []byte, 1)
			go func() {
				// A plaintext "server" that greets and records everything.
				server, err := ln.Accept()
				if err != nil {
					got <- nil
					return
				}
				defer server.Close()
				server.Write([]byte("220 clear ESMTP\r\n250-clear\r\n250 AUTH PLAIN\r\n"))
				server.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
				b, _ := io.ReadAll(server)
				got <- b
			}()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			c := smtp.NewClient(client)
			var tc *tls.Conn
			if name == "TLS not handshaken" {
				tc = tls.Client(client, &tls.Config{ServerName: "x"})
			}
			err = authenticate(c, tc, sasl.NewPlainClient("", "user", "secret"))
			if !errors.Is(err, errNoTLS) {
				t.Fatalf("err = %v, want errNoTLS", err)
			}
			if b := <-got; len(b) != 0 {
				t.Fatalf("bytes sent to the server: %q", b)
			}
		})
	}
}

func TestChooseMechanism(t *testing.T) {
	for _, c := range []struct{ want, offered, got string }{
		{"", "PLAIN LOGIN", "PLAIN"},
		{"", "LOGIN CRAM-MD5", "LOGIN"},
		{"", "login plain", "PLAIN"},
		{"login", "PLAIN LOGIN", "LOGIN"},
		{"xoauth2", "XOAUTH2 PLAIN", "XOAUTH2"},
		{"", "CRAM-MD5", ""},
		{"", "", ""},
		{"xoauth2", "PLAIN", ""},
		{"gssapi", "GSSAPI", ""},
	} {
		got, err := chooseMechanism(c.want, c.offered)
		if got != c.got || (c.got == "") != (err != nil) {
			t.Errorf("choose(%q, %q) = %q, %v; want %q", c.want, c.offered, got, err, c.got)
		}
	}
}
