package app

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"mailroom/tracking/outbox"
)

// SettingKey documents one setting (docs/CONFIG.md lists the same).
type SettingKey struct {
	Key     string
	Default string
	Help    string
	Check   func(string) error
	Section string   // settings screen group
	Label   string   // settings screen label
	Choices []string // closed set of values, when there is one
	Bool    bool     // "true" / "false"
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

// ParseDuration accepts Go durations plus a day unit ("5d"); it is the
// outbox's parser, so a value the settings accept is one the outbox reads.
func ParseDuration(v string) (time.Duration, error) { return outbox.ParseDuration(v) }

// SettingKeys is every setting Mailroom reads.
var SettingKeys = []SettingKey{
	{Key: "outbox.retry_schedule", Default: "1m,5m,15m,30m,60m,120m", Section: "Outbox", Label: "Retry schedule",
		Help: "gaps between attempts, then every 'Retry every'", Check: durationList},
	{Key: "outbox.retry_every", Default: "4h", Section: "Outbox", Label: "Retry every", Help: "gap after the schedule runs out", Check: duration},
	{Key: "outbox.jitter", Default: "0.1", Section: "Outbox", Label: "Jitter", Help: "random spread of each gap (0.1 = ±10%)", Check: fraction},
	{Key: "outbox.lifetime", Default: "5d", Section: "Outbox", Label: "Give up after", Help: "expired (4.4.7) after this long", Check: duration},
	{Key: "outbox.min_gap", Default: "1m", Section: "Outbox", Label: "Minimum gap", Help: "never retry one message faster than this", Check: duration},
	choice("outbox.uncertain_policy", "retry", "Outbox", "If the connection drops after sending",
		"retry (the message may arrive twice) or hold it for you to decide", "retry", "hold"),
	{Key: "outbox.max_connections", Default: "2", Section: "Outbox", Label: "Connections per account", Help: "parallel SMTP sessions", Check: nonNegInt},
	{Key: "outbox.probe_interval", Default: "1m", Section: "Outbox", Label: "Probe an unreachable server every",
		Help: "one connection attempt per account per interval while the server is unreachable", Check: duration},
	{Key: "outbox.crash_limit", Default: "3", Section: "Outbox", Label: "Hold a message after crashes",
		Help: "a message whose sending crashed this many times is held, the rest drains", Check: nonNegInt},
	flag("outbox.request_dsn", "true", "Outbox", "Ask for delivery reports (DSN)", "when the server offers them"),
	{Key: "outbox.rate_per_minute", Default: "0", Section: "Outbox", Label: "Messages per minute", Help: "per account, for providers with quotas (0 = unlimited)", Check: nonNegInt},
	flag("reports.junk", "false", "Reports", "Read reports from Junk too", "some providers file bounces as spam"),
	{Key: "reports.file_into", Default: "", Section: "Reports", Label: "File processed reports into", Help: "a folder name; empty leaves them in place", Check: anything},
	choice("tracking.mode", "off", "Tracking", "Open tracking", "off, built-in tracker, or a remote tracker you run", "off", "builtin", "remote"),
	{Key: "tracking.listen", Default: "127.0.0.1:8425", Section: "Tracking", Label: "Built-in tracker listens on", Help: "HOST:PORT", Check: hostPortOrEmpty},
	{Key: "tracking.base_url", Default: "", Section: "Tracking", Label: "Public tracker URL", Help: "how recipients reach the tracker (https://...)", Check: urlOrEmpty},
	{Key: "tracking.remote_url", Default: "", Section: "Tracking", Label: "Remote tracker API URL", Help: "its API key is kept in the keyring", Check: urlOrEmpty},
	{Key: "tracking.key_file", Default: "", Section: "Tracking", Label: "Remote tracker key file",
		Help: "the tracker's HMAC key file (a secret: keep it mode 0600)", Check: anything},
	{Key: "tracking.api_key_file", Default: "", Section: "Tracking", Label: "Remote tracker API key file",
		Help: "file holding the bearer key of the tracker's events API", Check: anything},
	{Key: "tracking.retention", Default: "180d", Section: "Tracking", Label: "Keep hits for", Help: "built-in tracker retention", Check: duration},
	flag("tracking.default_opens", "false", "Tracking", "Track opens by default", "for new messages"),
	flag("tracking.default_clicks", "false", "Tracking", "Track clicks by default", "for new messages"),
	flag("notify.bounce", "true", "Notifications", "Notify on a bounce", ""),
	flag("notify.expired", "true", "Notifications", "Notify when the outbox gives up", ""),
	flag("notify.first_open", "false", "Notifications", "Notify on a first human-likely open", ""),
}

func choice(key, def, section, label, help string, vals ...string) SettingKey {
	return SettingKey{Key: key, Default: def, Section: section, Label: label, Help: help, Choices: vals, Check: oneOf(vals...)}
}

func flag(key, def, section, label, help string) SettingKey {
	return SettingKey{Key: key, Default: def, Section: section, Label: label, Help: help, Bool: true, Check: boolean}
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
func (a *App) SetSetting(ctx context.Context, key, value string) (err error) {
	s, ok := LookupSetting(key)
	if !ok {
		return fmt.Errorf("unknown setting %q (see docs/CONFIG.md)", key)
	}
	if err := s.Check(value); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if strings.HasPrefix(key, "outbox.") {
		// Check the policy as a whole (a schedule that shrinks, a gap
		// below the floor) before storing one part of it.
		vals := map[string]string{}
		for _, k := range SettingKeys {
			if strings.HasPrefix(k.Key, "outbox.") {
				if vals[k.Key], err = a.GetSetting(ctx, k.Key); err != nil {
					return err
				}
			}
		}
		vals[key] = value
		if _, err := outbox.PolicyFromSettings(vals); err != nil {
			return err
		}
	}
	return a.Store.SetSetting(ctx, key, value)
}
