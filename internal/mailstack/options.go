package mailstack

import (
	"fmt"
	"time"
)

// Option changes how a stack is configured.
type Option func(*config)

type config struct {
	queueRunDelay time.Duration
	minBackoff    time.Duration
	maxBackoff    time.Duration
	delayWarning  time.Duration
	queueLifetime time.Duration
	lmtp          bool
	detached      bool
	dir           string
	bin           binaries
	pickPorts     func(n int) ([]int, error) // freePorts; tests force collisions
}

func defaultConfig() config {
	return config{
		queueRunDelay: 5 * time.Second,
		minBackoff:    5 * time.Second,
		maxBackoff:    15 * time.Second,
		delayWarning:  30 * time.Second,
		queueLifetime: 2 * time.Minute,
		pickPorts:     freePorts,
	}
}

// WithDelayWarning sets Postfix's delay_warning_time: how long mail must sit
// in the queue before a DELAY DSN is sent (default 30s; 0 disables them).
// Postfix checks it when it retries, so the DSN comes up to one backoff later.
func WithDelayWarning(d time.Duration) Option { return func(c *config) { c.delayWarning = d } }

// WithQueueLifetime sets maximal_queue_lifetime and bounce_queue_lifetime
// (default 2m): when deferred mail is given up with a FAILED DSN, Status 4.4.1.
func WithQueueLifetime(d time.Duration) Option { return func(c *config) { c.queueLifetime = d } }

// WithRetry sets queue_run_delay and minimal_backoff_time to min and
// maximal_backoff_time to max (defaults 5s and 15s).
func WithRetry(min, max time.Duration) Option {
	return func(c *config) { c.queueRunDelay, c.minBackoff, c.maxBackoff = min, min, max }
}

// WithLMTPDelivery makes Postfix hand local mail to Dovecot LMTP instead of
// writing Maildirs with virtual(8). Success DSNs then say "Action: relayed"
// (Dovecot LMTP does not offer DSN) and unknown users bounce with a
// Remote-MTA, like a remote bounce. Needs the dovecot-lmtpd package.
func WithLMTPDelivery() Option { return func(c *config) { c.lmtp = true } }

// WithDir uses dir (created if missing, must be empty) instead of a fresh
// directory under the system temp dir. The stack does not remove it.
func WithDir(dir string) Option { return func(c *config) { c.dir = dir } }

// Detached starts the daemons in their own session so that they outlive this
// process (cmd/mailstack start); stop them with [StopDir]. Tests never need it.
func Detached() Option { return func(c *config) { c.detached = true } }

// postfixTime renders a duration in the units Postfix accepts (s, m, h).
func postfixTime(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	default:
		return fmt.Sprintf("%ds", (d+time.Second-1)/time.Second)
	}
}
