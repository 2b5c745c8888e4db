//go:build mailroom_plaintext_bench

package outbox

import (
	"context"

	"mailroom/mail"
	"mailroom/mail/submit"
)

// plaintextBuild: this build can dial smtp-sink (see plainDialer).
const plaintextBuild = true

// plainDialer dials smtp-sink with mail/submit's own sessions, without
// TLS or AUTH (smtp-sink speaks neither): the transactions are the app's.
type plainDialer struct{ addr string }

func (d plainDialer) Dial(ctx context.Context, _ string) (mail.Session, error) {
	return submit.DialPlaintextForBenchmark(ctx, d.addr, "bench.example.test")
}
