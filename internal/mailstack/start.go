package mailstack

import (
	"os"
	"testing"
	"time"
)

// Start starts a stack for the test and stops it (and removes its directory)
// in t.Cleanup. It skips the test when the stack cannot run here, or fails
// it when CI=true or MAILROOM_REQUIRE_MAILSTACK=1, naming what is missing.
// Callers skip under testing.Short() themselves.
func Start(t testing.TB, opts ...Option) *Stack {
	t.Helper()
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	bin, err := findPrereqs(c.lmtp)
	if err != nil {
		if required() {
			t.Fatalf("MAILSTACK REQUIRED BUT UNAVAILABLE (CI=true or MAILROOM_REQUIRE_MAILSTACK=1):\n%v", err)
		}
		t.Skip(err.Error())
	}
	c.bin = bin
	began := time.Now()
	s, err := launch(c)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Logf("mailstack: up in %v at %s (smtps %s, submission %s, imaps %s)",
		time.Since(began).Round(time.Millisecond), s.Dir, s.SMTPSAddr, s.SubmissionAddr, s.IMAPSAddr)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("mailstack logs:\n%s\n%s", tail(s.l.PostfixLog, 40), tail(s.l.DovecotLog, 40))
		}
		if err := s.Stop(); err != nil {
			t.Errorf("mailstack: stop: %v", err)
		}
		if os.Getenv("MAILSTACK_KEEP") == "1" {
			t.Logf("mailstack: kept %s", s.Dir)
		}
	})
	return s
}

// Launch starts a stack outside of a test; the caller must call Stop (or,
// with Detached, StopDir later).
func Launch(opts ...Option) (*Stack, error) {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	bin, err := findPrereqs(c.lmtp)
	if err != nil {
		return nil, err
	}
	c.bin = bin
	return launch(c)
}
