package app

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SettingKey documents one setting (docs/CONFIG.md lists the same).
type SettingKey struct {
	Key     string
	Default string
	Help    string
	Check   func(string) error
}

func oneOf(vals ...string) func(string) error {
	return func(v string) error {
		for _, x := range vals {
			if v == x {
				return nil
			}
		}
		return fmt.Errorf("must be one of %s", strings.Join(vals, ", "))
	}
}

func duration(v string) error {
	if _, err := ParseDuration(v); err != nil {
		return err
	}
	return nil
}

func durationList(v string) error {
	for _, p := range strings.Split(v, ",") {
		if err := duration(strings.TrimSpace(p)); err != nil {
			return err
		}
	}
	return nil
}

func nonNegInt(v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return fmt.Errorf("must be a whole number ≥ 0")
	}
	return nil
}

func fraction(v string) error {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f > 0.5 {
		return fmt.Errorf("must be a number from 0 to 0.5")
	}
	return nil
}

func boolean(v string) error { _, err := strconv.ParseBool(v); return err }

func anything(string) error { return nil }

func hostPortOrEmpty(v string) error {
	if v == "" {
		return nil
	}
	_, _, err := net.SplitHostPort(v)
	return err
}

func urlOrEmpty(v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("must be an http(s) URL")
	}
	return nil
}

// ParseDuration accepts Go durations plus a day unit ("5d").
func ParseDuration(v string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseFloat(d, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%q is not a duration", v)
		}
		return time.Duration(n * float64(24*time.Hour)), nil
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur < 0 {
		return 0, fmt.Errorf("%q is not a duration (e.g. 90s, 15m, 4h, 5d)", v)
	}
	return dur, nil
}

// SettingKeys is every setting Mailroom reads.
var SettingKeys = []SettingKey{
	{"outbox.retry_schedule", "1m,5m,15m,30m,60m,120m", "gaps between attempts, then retry_every", durationList},
	{"outbox.retry_every", "4h", "gap after the schedule runs out", duration},
	{"outbox.jitter", "0.1", "random spread of each gap (0.1 = ±10%)", fraction},
	{"outbox.lifetime", "5d", "give up (expired, 4.4.7) after this long", duration},
	{"outbox.min_gap", "1m", "never retry one message faster than this", duration},
	{"outbox.uncertain_policy", "retry", "after a drop following the final dot: retry (may duplicate) or hold", oneOf("retry", "hold")},
	{"outbox.max_connections", "2", "connections per account", nonNegInt},
	{"outbox.rate_per_minute", "0", "messages per minute per account (0 = unlimited)", nonNegInt},
	{"reports.junk", "false", "also read reports from the Junk mailbox", boolean},
	{"reports.file_into", "", "move processed reports into this folder (empty = leave them)", anything},
	{"tracking.mode", "off", "open tracking: off, builtin or remote", oneOf("off", "builtin", "remote")},
	{"tracking.listen", "127.0.0.1:8425", "built-in tracker listen address", hostPortOrEmpty},
	{"tracking.base_url", "", "public URL of the tracker as recipients reach it", urlOrEmpty},
	{"tracking.remote_url", "", "remote tracker API URL", urlOrEmpty},
	{"tracking.retention", "180d", "how long the built-in tracker keeps hits", duration},
	{"tracking.default_opens", "false", "track opens by default for new messages", boolean},
	{"tracking.default_clicks", "false", "track clicks by default for new messages", boolean},
	{"notify.bounce", "true", "notify on a bounce", boolean},
	{"notify.expired", "true", "notify when the outbox gives up", boolean},
	{"notify.first_open", "false", "notify on a first human-likely open", boolean},
}

// LookupSetting finds a key's description.
func LookupSetting(key string) (SettingKey, bool) {
	for _, s := range SettingKeys {
		if s.Key == key {
			return s, true
		}
	}
	return SettingKey{}, false
}

// GetSetting reads a known key (its default when unset).
func (a *App) GetSetting(ctx context.Context, key string) (string, error) {
	s, ok := LookupSetting(key)
	if !ok {
		return "", fmt.Errorf("unknown setting %q (see docs/CONFIG.md)", key)
	}
	return a.Store.Setting(ctx, key, s.Default)
}

// SetSetting validates and stores a known key. Secrets are refused here by
// construction: no key holds one (tracker API keys live in the keyring).
func (a *App) SetSetting(ctx context.Context, key, value string) error {
	s, ok := LookupSetting(key)
	if !ok {
		return fmt.Errorf("unknown setting %q (see docs/CONFIG.md)", key)
	}
	if err := s.Check(value); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return a.Store.SetSetting(ctx, key, value)
}
