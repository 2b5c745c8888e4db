//go:build !linux

package mailstack

import "errors"

// proc is a daemon master; only Linux runs them.
type proc struct {
	Name  string
	PID   int
	Start uint64
}

func launch(config) (*Stack, error) {
	return nil, errors.New("mailstack: the Postfix/Dovecot harness runs on Linux only")
}

// Stop does nothing where no stack can run.
func (s *Stack) Stop() error { return nil }

// StopDir does nothing where no stack can run.
func StopDir(string) error { return nil }
