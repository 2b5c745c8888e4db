package outbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"mailroom/tracking/store"
)

// UncertainPolicy says what to do after the connection broke between the
// final "." and the server's reply.
type UncertainPolicy string

const (
	// RetryUncertain sends again with the same Message-ID and ENVID; the
	// events say "may have been sent twice".
	RetryUncertain UncertainPolicy = "retry"
	// HoldUncertain holds the message for the user to decide.
	HoldUncertain UncertainPolicy = "hold"
)

// Policy is the retry and pacing policy. Every field has a settings key
// (docs/CONFIG.md, section "outbox"); DefaultPolicy gives the defaults.
type Policy struct {
	// Schedule is the gap after the 1st, 2nd ... failed attempt; after it
	// runs out, RetryEvery. It must not decrease (gaps never shrink).
	Schedule   []time.Duration // outbox.retry_schedule
	RetryEvery time.Duration   // outbox.retry_every
	// Jitter spreads each gap by ±Jitter (0.1 = ±10%) so that a burst of
	// failures does not come back as a burst.
	Jitter float64 // outbox.jitter
	// Lifetime is when the outbox gives up (expired, 4.4.7), counted from
	// the first attempt, not counting time the account was unreachable.
	Lifetime time.Duration // outbox.lifetime
	// MinGap is the floor between two attempts at the same copy.
	MinGap    time.Duration   // outbox.min_gap
	Uncertain UncertainPolicy // outbox.uncertain_policy
	// MaxConnections is the number of concurrent sessions per account.
	MaxConnections int // outbox.max_connections
	// RatePerMinute caps transactions per account and minute; 0: no cap.
	RatePerMinute int // outbox.rate_per_minute
	// ProbeInterval is the circuit breaker's pace: while an account's
	// server is unreachable, one connection attempt per interval.
	ProbeInterval time.Duration // outbox.probe_interval
	// CrashLimit holds a message (poison) after its processing panicked
	// or the sender died during it this many times in a row.
	CrashLimit int // outbox.crash_limit
	// RequestDSN asks for delivery status notifications (RFC 3461) when
	// the server offers them.
	RequestDSN bool // outbox.request_dsn
}

// DefaultPolicy is the policy when no setting is stored: 1, 5, 15, 30, 60,
// 120 minutes, then every 4 hours, ±10%, at most one attempt per minute,
// give up after 5 days (RFC 5321 section 4.5.4.1).
func DefaultPolicy() Policy {
	return Policy{
		Schedule:       []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour},
		RetryEvery:     4 * time.Hour,
		Jitter:         0.1,
		Lifetime:       5 * 24 * time.Hour,
		MinGap:         time.Minute,
		Uncertain:      RetryUncertain,
		MaxConnections: 2,
		RatePerMinute:  0,
		ProbeInterval:  time.Minute,
		CrashLimit:     3,
		RequestDSN:     true,
	}
}

// Validate checks the policy's invariants.
func (p Policy) Validate() error {
	var errs []error
	prev := time.Duration(0)
	for i, d := range p.Schedule {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("retry_schedule: gap %d must be positive", i+1))
		}
		if d < prev {
			errs = append(errs, fmt.Errorf("retry_schedule: gap %d (%v) is shorter than the one before (%v): gaps never shrink", i+1, d, prev))
		}
		prev = d
	}
	if p.RetryEvery <= 0 || p.RetryEvery < prev {
		errs = append(errs, fmt.Errorf("retry_every (%v) must be positive and at least the last scheduled gap (%v)", p.RetryEvery, prev))
	}
	if p.Jitter < 0 || p.Jitter > 0.5 {
		errs = append(errs, fmt.Errorf("jitter %v must be between 0 and 0.5", p.Jitter))
	}
	if p.Lifetime <= 0 {
		errs = append(errs, errors.New("lifetime must be positive"))
	}
	if p.MinGap < 0 {
		errs = append(errs, errors.New("min_gap must not be negative"))
	}
	if p.Uncertain != RetryUncertain && p.Uncertain != HoldUncertain {
		errs = append(errs, fmt.Errorf("uncertain_policy %q must be retry or hold", p.Uncertain))
	}
	if p.MaxConnections < 1 {
		errs = append(errs, errors.New("max_connections must be at least 1"))
	}
	if p.RatePerMinute < 0 {
		errs = append(errs, errors.New("rate_per_minute must not be negative"))
	}
	if p.ProbeInterval <= 0 {
		errs = append(errs, errors.New("probe_interval must be positive"))
	}
	if p.CrashLimit < 1 {
		errs = append(errs, errors.New("crash_limit must be at least 1"))
	}
	return errors.Join(errs...)
}

// BaseGap is the un-jittered gap after failed attempt n (1-based).
func (p Policy) BaseGap(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n <= len(p.Schedule) {
		return p.Schedule[n-1]
	}
	return p.RetryEvery
}

// Gap is the gap after failed attempt n with jitter applied; u is a
// uniform random number in [0, 1). It is never below MinGap.
func (p Policy) Gap(n int, u float64) time.Duration {
	base := p.BaseGap(n)
	d := time.Duration(math.Round(float64(base) * (1 + p.Jitter*(2*u-1))))
	return max(d, p.MinGap)
}

// settingsKeys maps each setting to the field it fills.
var settingsKeys = []string{
	"outbox.retry_schedule", "outbox.retry_every", "outbox.jitter", "outbox.lifetime",
	"outbox.min_gap", "outbox.uncertain_policy", "outbox.max_connections",
	"outbox.rate_per_minute", "outbox.probe_interval", "outbox.crash_limit", "outbox.request_dsn",
}

// LoadPolicy reads the policy from the settings table; absent keys keep
// their DefaultPolicy value. An invalid value is an error naming the key,
// never a silent default.
func LoadPolicy(ctx context.Context, st *store.Store) (Policy, error) {
	vals := map[string]string{}
	for _, k := range settingsKeys {
		v, err := st.Setting(ctx, k, "")
		if err != nil {
			return Policy{}, err
		}
		if v = strings.TrimSpace(v); v != "" {
			vals[k] = v
		}
	}
	return PolicyFromSettings(vals)
}

// PolicyFromSettings builds a policy from setting values (key to value).
func PolicyFromSettings(vals map[string]string) (Policy, error) {
	p := DefaultPolicy()
	var errs []error
	bad := func(k string, err error) { errs = append(errs, fmt.Errorf("%s: %w", k, err)) }
	dur := func(k string, dst *time.Duration) {
		if v, ok := vals[k]; ok {
			d, err := ParseDuration(v)
			if err != nil {
				bad(k, err)
				return
			}
			*dst = d
		}
	}
	integer := func(k string, dst *int) {
		if v, ok := vals[k]; ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				bad(k, fmt.Errorf("%q is not a whole number", v))
				return
			}
			*dst = n
		}
	}
	if v, ok := vals["outbox.retry_schedule"]; ok {
		p.Schedule = nil
		for _, s := range strings.Split(v, ",") {
			d, err := ParseDuration(strings.TrimSpace(s))
			if err != nil {
				bad("outbox.retry_schedule", err)
				break
			}
			p.Schedule = append(p.Schedule, d)
		}
	}
	dur("outbox.retry_every", &p.RetryEvery)
	dur("outbox.lifetime", &p.Lifetime)
	dur("outbox.min_gap", &p.MinGap)
	dur("outbox.probe_interval", &p.ProbeInterval)
	if v, ok := vals["outbox.jitter"]; ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			bad("outbox.jitter", fmt.Errorf("%q is not a number", v))
		} else {
			p.Jitter = f
		}
	}
	if v, ok := vals["outbox.uncertain_policy"]; ok {
		p.Uncertain = UncertainPolicy(v)
	}
	integer("outbox.max_connections", &p.MaxConnections)
	integer("outbox.rate_per_minute", &p.RatePerMinute)
	integer("outbox.crash_limit", &p.CrashLimit)
	if v, ok := vals["outbox.request_dsn"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("outbox.request_dsn", fmt.Errorf("%q is not true or false", v))
		} else {
			p.RequestDSN = b
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Policy{}, err
	}
	if err := p.Validate(); err != nil {
		return Policy{}, fmt.Errorf("outbox settings: %w", err)
	}
	return p, nil
}

// ParseDuration accepts Go durations ("90s", "15m", "4h") and days ("5d"),
// like the app's settings validation.
func ParseDuration(v string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration", v)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 90s, 15m, 4h, 5d)", v)
	}
	return d, nil
}
