package classify

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

const (
	uaChrome     = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
	uaFirefox    = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	uaThunder    = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Thunderbird/128.3.0"
	uaGmail      = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
	uaYahoo      = "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html"
	uaMacMail    = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
	uaIOSMail    = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
	uaSafari     = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"
	uaOutlook    = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)"
	uaMimecast   = "Mozilla/5.0 (compatible; Mimecast URL Protect)"
	uaBarracuda  = "Barracuda Sentinel (EE)"
	uaCurl       = "curl/8.5.0"
	uaGoClient   = "Go-http-client/1.1"
	uaGooglebot  = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaHeadless   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"
	uaEdge       = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36 Edg/124.0"
	uaWeird      = "SomethingElse/1.0"
	uaOutlookIOS = "Outlook-iOS/723.4027091.prod.iphone (4.2336.0)"
)

func TestClassifyUA(t *testing.T) {
	for ua, want := range map[string]UAClass{
		uaChrome: UABrowser, uaFirefox: UABrowser, uaThunder: UABrowser, uaEdge: UABrowser, uaSafari: UABrowser,
		uaIOSMail: UABrowser, uaGmail: UAGoogleImageProxy, uaYahoo: UAYahooProxy, uaMacMail: UAAppleMPPLike,
		"Mozilla/5.0": UAAppleMPPLike, uaOutlook: UAOutlook, uaOutlookIOS: UAOutlook, uaMimecast: UAScanner,
		uaBarracuda: UAScanner, uaCurl: UABot, uaGoClient: UABot, uaGooglebot: UABot, uaHeadless: UABot,
		uaWeird: UAUnknown, "": UAUnknown, "   ": UAUnknown,
	} {
		if got := ClassifyUA(ua); got != want {
			t.Errorf("ClassifyUA(%q) = %s, want %s", ua, got, want)
		}
		if !ClassifyUA(ua).Valid() {
			t.Errorf("ClassifyUA(%q) returned an undefined class", ua)
		}
	}
}

func TestClassify(t *testing.T) {
	accepted := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	later := accepted.Add(2 * time.Hour)
	apple := netip.MustParsePrefix("17.58.101.0/24")
	other := netip.MustParsePrefix("198.51.100.0/24")
	at := func(ds ...time.Duration) []time.Time {
		var ts []time.Time
		for _, d := range ds {
			ts = append(ts, later.Add(d))
		}
		return ts
	}
	cases := []struct {
		name   string
		hit    Hit
		ctx    CopyContext
		want   Class
		reason string // substring of the reason
	}{
		{"browser open later", Hit{Kind: Open, At: later, UserAgent: uaThunder}, CopyContext{AcceptedAt: accepted}, HumanLikely, "mail program"},
		{"outlook", Hit{Kind: Open, At: later, UserAgent: uaOutlook}, CopyContext{AcceptedAt: accepted}, HumanLikely, "Outlook"},
		{"browser click", Hit{Kind: Click, At: later, UserAgent: uaChrome}, CopyContext{AcceptedAt: accepted}, HumanLikely, "web browser"},
		{"gmail proxy", Hit{Kind: Open, At: later, UserAgent: uaGmail}, CopyContext{AcceptedAt: accepted}, MachineOrProxy, "Google's image proxy"},
		{"yahoo proxy", Hit{Kind: Open, At: later, UserAgent: uaYahoo}, CopyContext{}, MachineOrProxy, "Yahoo"},
		{"bare mozilla is MPP", Hit{Kind: Open, At: later, UserAgent: "Mozilla/5.0"}, CopyContext{}, MachineOrProxy, "Privacy Protection"},
		{"mac mail from apple range", Hit{Kind: Open, At: later, UserAgent: uaMacMail, Source: apple}, CopyContext{}, MachineOrProxy, "Apple's servers"},
		{"mac mail many at once", Hit{Kind: Open, At: later, UserAgent: uaMacMail, Source: other},
			CopyContext{SiblingCopies: 20, SiblingHits: at(0, time.Second, -2*time.Second, 3*time.Second, time.Hour)}, MachineOrProxy, "5 copies"},
		{"mac mail alone", Hit{Kind: Open, At: later, UserAgent: uaMacMail, Source: other}, CopyContext{}, Unknown, "cannot be told apart"},
		{"scanner UA", Hit{Kind: Click, At: later, UserAgent: uaMimecast}, CopyContext{}, MachineOrProxy, "security scanner"},
		{"bot UA", Hit{Kind: Open, At: later, UserAgent: uaCurl}, CopyContext{}, MachineOrProxy, "automated program"},
		{"too soon after acceptance", Hit{Kind: Open, At: accepted.Add(4 * time.Second), UserAgent: uaChrome}, CopyContext{AcceptedAt: accepted}, MachineOrProxy, "4 seconds after"},
		{"click too soon", Hit{Kind: Click, At: accepted.Add(300 * time.Millisecond), UserAgent: uaChrome}, CopyContext{AcceptedAt: accepted}, MachineOrProxy, "less than a second"},
		{"custom scanner window", Hit{Kind: Open, At: accepted.Add(90 * time.Second), UserAgent: uaChrome}, CopyContext{AcceptedAt: accepted, ScannerWindow: 2 * time.Minute}, MachineOrProxy, "90 seconds"},
		{"just outside window", Hit{Kind: Open, At: accepted.Add(31 * time.Second), UserAgent: uaChrome}, CopyContext{AcceptedAt: accepted}, HumanLikely, ""},
		{"hit before acceptance time (clock skew)", Hit{Kind: Open, At: accepted.Add(-time.Second), UserAgent: uaChrome}, CopyContext{AcceptedAt: accepted}, HumanLikely, ""},
		{"every copy at once", Hit{Kind: Open, At: later, UserAgent: uaChrome},
			CopyContext{AcceptedAt: accepted, SiblingCopies: 2, SiblingHits: at(time.Second, 2*time.Second)}, MachineOrProxy, "All 3 copies"},
		{"most but not all copies", Hit{Kind: Open, At: later, UserAgent: uaChrome},
			CopyContext{AcceptedAt: accepted, SiblingCopies: 3, SiblingHits: at(time.Second, time.Hour)}, HumanLikely, ""},
		{"two-copy message both at once is not bulk", Hit{Kind: Open, At: later, UserAgent: uaChrome},
			CopyContext{SiblingCopies: 1, SiblingHits: at(time.Second)}, HumanLikely, ""},
		{"many simultaneous browsers", Hit{Kind: Open, At: later, UserAgent: uaChrome},
			CopyContext{SiblingCopies: 100, SiblingHits: at(0, 1, 2, 3, 4, 5)}, MachineOrProxy, "6 others"},
		{"click proves open behind proxy", Hit{Kind: Open, At: later, UserAgent: uaGmail}, CopyContext{HumanClick: true}, HumanLikely, "clicked"},
		{"click proves open from MPP", Hit{Kind: Open, At: later, UserAgent: "Mozilla/5.0"}, CopyContext{HumanClick: true}, HumanLikely, "clicked"},
		{"click does not excuse a scanner", Hit{Kind: Open, At: later, UserAgent: uaBarracuda}, CopyContext{HumanClick: true}, MachineOrProxy, "scanner"},
		{"click does not excuse arrival fetch", Hit{Kind: Open, At: accepted.Add(time.Second), UserAgent: uaChrome},
			CopyContext{AcceptedAt: accepted, HumanClick: true}, MachineOrProxy, "too soon"},
		{"unknown UA", Hit{Kind: Open, At: later, UserAgent: uaWeird}, CopyContext{}, Unknown, "could not be identified"},
		{"empty UA", Hit{Kind: Open, At: later}, CopyContext{}, Unknown, ""},
		{"stored class wins", Hit{Kind: Open, At: later, UserAgent: uaChrome, UAClass: UAScanner}, CopyContext{}, MachineOrProxy, "scanner"},
	}
	for _, c := range cases {
		got, reason := Classify(c.hit, c.ctx)
		if got != c.want || !strings.Contains(reason, c.reason) {
			t.Errorf("%s: got %s %q, want %s containing %q", c.name, got, reason, c.want, c.reason)
		}
		if reason == "" || !strings.HasSuffix(reason, ".") || reason[0] < 'A' || reason[0] > 'Z' {
			t.Errorf("%s: reason %q is not a sentence", c.name, reason)
		}
	}
}

func TestInAppleRange(t *testing.T) {
	for s, want := range map[string]bool{"17.0.0.0/24": true, "17.255.1.0/24": true, "18.0.0.0/24": false, "0.0.0.0/0": false, "2001:db8::/48": false} {
		if got := InAppleRange(netip.MustParsePrefix(s)); got != want {
			t.Errorf("InAppleRange(%s) = %v", s, got)
		}
	}
	if InAppleRange(netip.Prefix{}) {
		t.Error("invalid prefix in Apple range")
	}
}
