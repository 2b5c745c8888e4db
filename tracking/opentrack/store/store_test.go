package store

import (
	"net/netip"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCoarseSource(t *testing.T) {
	for in, want := range map[string]string{
		"198.51.100.77":              "198.51.100.0/24",
		"::ffff:198.51.100.77":       "198.51.100.0/24",
		"2001:db8:abcd:12::1":        "2001:db8:abcd::/48",
		"fe80::1%eth0":               "fe80::/48",
		"127.0.0.1":                  "127.0.0.0/24",
		"2001:db8:ffff:ffff:ffff::1": "2001:db8:ffff::/48",
	} {
		if got := CoarseSource(netip.MustParseAddr(in), IPTruncate); got != want {
			t.Errorf("CoarseSource(%s) = %q, want %q", in, got, want)
		}
		if got := CoarseSource(netip.MustParseAddr(in), IPNone); got != "" {
			t.Errorf("IPNone kept %q", got)
		}
	}
	if got := CoarseSource(netip.Addr{}, IPTruncate); got != "" {
		t.Errorf("invalid address gave %q", got)
	}
}

func TestTruncateUA(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	got := TruncateUA(long)
	if len(got) > MaxUserAgent || !utf8.ValidString(got) || len(got) != 256 {
		t.Errorf("len %d valid %v", len(got), utf8.ValidString(got))
	}
	if got := TruncateUA("a\r\nb\x00c\x7f"); got != "a  b c " {
		t.Errorf("control characters kept: %q", got)
	}
	if got := TruncateUA("ok\xff"); !utf8.ValidString(got) {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
}

func TestHitConversion(t *testing.T) {
	e := Event{Kind: KindOpen, At: time.Unix(1, 0), UserAgent: "Mozilla/5.0", UAClass: "apple-mpp-like", Source: "17.1.2.0/24"}
	h := e.Hit()
	if h.Source.String() != "17.1.2.0/24" || string(h.UAClass) != "apple-mpp-like" || string(h.Kind) != "open" {
		t.Errorf("%+v", h)
	}
	if (Event{Source: ""}).Hit().Source.IsValid() {
		t.Error("empty source became valid")
	}
}
