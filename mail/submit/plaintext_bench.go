//go:build mailroom_plaintext_bench

package submit

import (
	"context"
	"net"

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
	if err := s.hello(dc, greeting); err != nil {
		dc.Close()
		return nil, err
	}
	s.transactions(dc)
	return s, nil
}

// plaintextAllowed lets a session marked plaintext send without TLS; it
// is false in every build without the tag (plaintext_off.go).
const plaintextAllowed = true
