// Package classify owns the judgement of tracking hits: which kind of
// software a User-Agent belongs to (UAClass, stored with every event), and
// whether a hit was probably a person or a machine (Classify).
//
// Everything here is pure: no clock, no I/O. Reasons are written for the
// person reading the message timeline, not for a developer.
package classify

import (
	"net/netip"
	"strings"
)

// UAClass is the coarse kind of software behind a request. Its string values
// are stored and returned by the events API; never rename them.
type UAClass string

const (
	UABrowser          UAClass = "browser"
	UAGoogleImageProxy UAClass = "google-image-proxy"
	UAYahooProxy       UAClass = "yahoo-proxy"
	UAAppleMPPLike     UAClass = "apple-mpp-like"
	UAOutlook          UAClass = "outlook"
	UAScanner          UAClass = "scanner"
	UABot              UAClass = "bot"
	UAUnknown          UAClass = "unknown"
)

// Valid reports whether c is one of the defined classes.
func (c UAClass) Valid() bool {
	switch c {
	case UABrowser, UAGoogleImageProxy, UAYahooProxy, UAAppleMPPLike, UAOutlook, UAScanner, UABot, UAUnknown:
		return true
	}
	return false
}

// Substrings (lowercase) of known security scanners and link checkers that
// fetch images and follow links in mail before (or instead of) a person.
var scannerTokens = []string{
	"barracuda", "mimecast", "proofpoint", "urldefense", "symantec", "messagelabs",
	"forcepoint", "trend micro", "trendmicro", "sophos", "zscaler", "fortiguard",
	"fortinet", "cisco", "ironport", "virustotal", "safelinks", "checkpoint",
	"check point", "cloudmark", "spamtitan", "hornetsecurity", "vadesecure",
	"abnormal", "avanan", "paloalto", "netcraft",
}

// Substrings (lowercase) of crawlers, libraries and headless tools.
var botTokens = []string{
	"bot", "crawl", "spider", "slurp", "curl/", "wget/", "python-requests", "python-urllib",
	"aiohttp", "go-http-client", "java/", "okhttp", "libwww", "httpclient", "axios",
	"node-fetch", "headlesschrome", "phantomjs", "facebookexternalhit", "preview",
	"scrapy", "httpie", "powershell", "wordpress",
}

// appleNet is Apple's own 17.0.0.0/8. Mail Privacy Protection also fetches
// through partner relays, so an address outside it proves nothing.
var appleNet = netip.MustParsePrefix("17.0.0.0/8")

// InAppleRange reports whether a (possibly truncated) source is inside Apple's
// 17.0.0.0/8.
func InAppleRange(src netip.Prefix) bool {
	return src.IsValid() && appleNet.Overlaps(src) && src.Bits() >= appleNet.Bits()
}

// ClassifyUA puts a User-Agent string into a class. The order matters: mail
// proxies and scanners often send browser-like strings with an extra token,
// so the specific tokens are checked before the generic browser test.
func ClassifyUA(ua string) UAClass {
	l := strings.ToLower(strings.TrimSpace(ua))
	switch {
	case l == "":
		return UAUnknown
	case strings.Contains(l, "googleimageproxy") || strings.Contains(l, "ggpht.com"):
		return UAGoogleImageProxy
	case strings.Contains(l, "yahoomailproxy") || strings.Contains(l, "yahoo! slurp") && strings.Contains(l, "mail"):
		return UAYahooProxy
	case containsAny(l, scannerTokens):
		return UAScanner
	case containsAny(l, botTokens):
		return UABot
	case strings.Contains(l, "microsoft outlook") || strings.Contains(l, "ms-office") ||
		strings.Contains(l, "microsoft office") || strings.Contains(l, "outlook-ios") ||
		strings.Contains(l, "outlook-android") || strings.Contains(l, "outlookandroid"):
		return UAOutlook
	case isAppleMPPLike(ua):
		return UAAppleMPPLike
	case strings.HasPrefix(l, "mozilla/5.0") && (containsAny(l, []string{"gecko/", "firefox/", "chrome/", "safari/", "edg/", "thunderbird/", "opr/", "applewebkit/"})):
		return UABrowser
	}
	return UAUnknown
}

// isAppleMPPLike matches what Apple Mail Privacy Protection sends: the bare
// "Mozilla/5.0", or a WebKit string for a Mac or iPhone without any of the
// tokens a real Safari or app adds (Version/, Safari/, Mobile/ with a
// build, a browser name).
func isAppleMPPLike(ua string) bool {
	s := strings.TrimSpace(ua)
	if s == "Mozilla/5.0" {
		return true
	}
	l := strings.ToLower(s)
	if !strings.HasPrefix(l, "mozilla/5.0 (") || !strings.Contains(l, "applewebkit/") {
		return false
	}
	if !strings.Contains(l, "macintosh") && !strings.Contains(l, "iphone") && !strings.Contains(l, "ipad") {
		return false
	}
	return !containsAny(l, []string{"version/", "safari/", "chrome/", "firefox/", "edg/", "crios/", "fxios/", "mobile/"})
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
