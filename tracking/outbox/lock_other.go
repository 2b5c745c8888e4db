//go:build !unix

package outbox

import "io"

type noLock struct{}

func (noLock) Close() error { return nil }

// lockSender is a no-op where flock is not available: run one sender per
// database there.
func lockSender(string) (io.Closer, error) { return noLock{}, nil }

// senderHeld cannot tell without flock.
func senderHeld(string) (int, bool) { return 0, false }
