package autoconfig

import (
	"strings"
	"testing"
)

// FuzzParseXML: any document either yields TLS-only servers with sane
// ports or an error; never a panic, never a plaintext suggestion.
func FuzzParseXML(f *testing.F) {
	f.Add(sampleXML)
	f.Add(`<clientConfig><emailProvider><outgoingServer type="smtp"><hostname>h</hostname><port>0</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>`)
	f.Add("<")
	f.Fuzz(func(t *testing.T, doc string) {
		cfg, err := ParseXML(strings.NewReader(doc), "a@example.org")
		if err != nil {
			return
		}
		for _, s := range []*Server{cfg.SMTP, cfg.IMAP} {
			if s == nil {
				continue
			}
			if s.Port <= 0 || s.Port > 65535 || s.Host == "" || (s.Security != "tls" && s.Security != "starttls") {
				t.Fatalf("bad server %+v", *s)
			}
		}
	})
}
