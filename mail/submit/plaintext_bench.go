//go:build mailroom_plaintext_bench

package submit

import (
	"bytes"
	"context"
	"net"

	"github.com/emersion/go-smtp"

	"mailroom/mail"
)

// DialPlaintextForBenchmark opens a session without TLS or AUTH to a
// plain SMTP sink (Postfix's smtp-sink, which speaks neither), so the
// bulk-send benchmark (bench/outbox) measures this package's transactions
// as the app runs them. It exists only in builds with the
// mailroom_plaintext_bench tag, which nothing but the benchmark uses: the
// app's binaries cannot send in clear.
func DialPlaintextForBenchmark(ctx context.Context, addr, heloName string) (mail.Session, error) {
	opt := Options{HeloName: heloName}.withDefaults()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fail(mail.Unreachable, "CONNECT", err)
	}
	dc := &deadlineConn{Conn: raw, writeTimeout: opt.WriteTimeout}
	s := &session{opt: opt, dc: dc, plaintext: true}
	greeting, err := s.greet(dc)
	if err != nil {
		dc.Close()
		return nil, err
	}
	s.c = smtp.NewClient(&replayConn{Conn: dc, pre: bytes.NewReader(greeting)})
	s.c.CommandTimeout = opt.CommandTimeout
	if err := s.c.Hello(opt.HeloName); err != nil {
		dc.Close()
		return nil, classifySetup("EHLO", err)
	}
	if size, ok := s.c.MaxMessageSize(); ok {
		s.maxSize = int64(size)
	}
	s.transactions(dc)
	return s, nil
}
