//go:build !mailroom_plaintext_bench

package outbox

import (
	"context"
	"errors"

	"mailroom/mail"
)

// plaintextBuild: without the mailroom_plaintext_bench tag mail/submit
// has no plaintext dialer, and BenchmarkBulkSend skips.
const plaintextBuild = false

type plainDialer struct{ addr string }

func (plainDialer) Dial(context.Context, string) (mail.Session, error) {
	return nil, errors.New("built without the mailroom_plaintext_bench tag")
}
