// Package autoconfig guesses an account's servers from its email address,
// the way Thunderbird does: the provider's autoconfig file in Thunderbird's
// ISPDB XML format (at autoconfig.DOMAIN, then the domain's well-known
// path), then RFC 6186 SRV records. Every lookup has a short timeout, and
// only TLS-protected servers are returned: a provider that offers only
// plaintext yields no suggestion rather than an unsafe one.
package autoconfig

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"mailroom/mail"
)

// Server is one suggested server.
type Server struct {
	Host     string
	Port     int
	Security mail.Security
	Username string // with the address substituted; "" when unknown
}

// Config is what autoconfig found, and where.
type Config struct {
	SMTP   *Server
	IMAP   *Server
	Source string // the URL or "dns-srv"
}

// Options make lookups testable and bounded; the zero value uses the
// system resolver, an HTTPS client and 5-second timeouts.
type Options struct {
	HTTP     *http.Client
	Resolver *net.Resolver
	Timeout  time.Duration
	// URLs lists the autoconfig documents to try for a domain; nil means
	// the standard https://autoconfig.DOMAIN/... and well-known URLs.
	URLs func(domain, email string) []string
}

// StandardURLs are the documents Thunderbird looks at, in its order.
func StandardURLs(domain, email string) []string {
	q := url.Values{"emailaddress": {email}}.Encode()
	return []string{
		"https://autoconfig." + domain + "/mail/config-v1.1.xml?" + q,
		"https://" + domain + "/.well-known/autoconfig/mail/config-v1.1.xml?" + q,
	}
}

// ErrNotFound means no source described the domain.
var ErrNotFound = errors.New("no automatic configuration found for this domain; enter the servers by hand or pick a provider")

// Lookup finds servers for email.
func Lookup(ctx context.Context, email string, opt Options) (*Config, error) {
	addr, err := mail.ParseAddress(email)
	if err != nil {
		return nil, err
	}
	_, domain, _ := strings.Cut(addr.Address, "@")
	domain = strings.ToLower(domain)
	if opt.Timeout == 0 {
		opt.Timeout = 5 * time.Second
	}
	if opt.HTTP == nil {
		opt.HTTP = &http.Client{Timeout: opt.Timeout}
	}
	if opt.URLs == nil {
		opt.URLs = StandardURLs
	}
	var errs []error
	for _, u := range opt.URLs(domain, addr.Address) {
		cfg, err := fetchXML(ctx, opt, u, addr.Address)
		if err == nil {
			return cfg, nil
		}
		errs = append(errs, err)
	}
	cfg, err := lookupSRV(ctx, opt, domain, addr.Address)
	if err == nil {
		return cfg, nil
	}
	errs = append(errs, err)
	return nil, fmt.Errorf("%w (%v)", ErrNotFound, errors.Join(errs...))
}

func fetchXML(ctx context.Context, opt Options, u, email string) (*Config, error) {
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := opt.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d", u, resp.StatusCode)
	}
	cfg, err := ParseXML(io.LimitReader(resp.Body, 1<<20), email)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", u, err)
	}
	cfg.Source = u
	return cfg, nil
}

type xmlServer struct {
	Type       string `xml:"type,attr"`
	Hostname   string `xml:"hostname"`
	Port       int    `xml:"port"`
	SocketType string `xml:"socketType"`
	Username   string `xml:"username"`
}

type xmlConfig struct {
	Provider struct {
		Incoming []xmlServer `xml:"incomingServer"`
		Outgoing []xmlServer `xml:"outgoingServer"`
	} `xml:"emailProvider"`
}

// ParseXML reads a Thunderbird autoconfig (config-v1.1) document and picks
// the first IMAP and SMTP servers that use TLS.
func ParseXML(r io.Reader, email string) (*Config, error) {
	var doc xmlConfig
	if err := xml.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("not an autoconfig document: %w", err)
	}
	cfg := &Config{}
	for _, s := range doc.Provider.Incoming {
		if cfg.IMAP == nil && s.Type == "imap" {
			cfg.IMAP = convert(s, email)
		}
	}
	for _, s := range doc.Provider.Outgoing {
		if cfg.SMTP == nil && s.Type == "smtp" {
			cfg.SMTP = convert(s, email)
		}
	}
	if cfg.SMTP == nil && cfg.IMAP == nil {
		return nil, errors.New("the document names no IMAP or SMTP server protected by TLS")
	}
	return cfg, nil
}

func convert(s xmlServer, email string) *Server {
	var sec mail.Security
	switch strings.ToUpper(s.SocketType) {
	case "SSL", "TLS":
		sec = mail.ImplicitTLS
	case "STARTTLS":
		sec = mail.StartTLS
	default:
		return nil // plaintext: never suggested
	}
	host := strings.TrimSuffix(strings.TrimSpace(s.Hostname), ".")
	if host == "" || s.Port <= 0 || s.Port > 65535 {
		return nil
	}
	local, domain, _ := strings.Cut(email, "@")
	user := strings.NewReplacer("%EMAILADDRESS%", email, "%EMAILLOCALPART%", local, "%EMAILDOMAIN%", domain).Replace(s.Username)
	if strings.Contains(user, "%") {
		user = ""
	}
	return &Server{Host: host, Port: s.Port, Security: sec, Username: user}
}

// lookupSRV applies RFC 6186: submissions (implicit TLS, RFC 8314) before
// submission (STARTTLS), imaps before imap. A target of "." means the
// service is deliberately not offered.
func lookupSRV(ctx context.Context, opt Options, domain, email string) (*Config, error) {
	res := opt.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, opt.Timeout)
	defer cancel()
	try := func(service string, sec mail.Security) *Server {
		_, srvs, err := res.LookupSRV(ctx, service, "tcp", domain)
		if err != nil || len(srvs) == 0 {
			return nil
		}
		t := strings.TrimSuffix(srvs[0].Target, ".")
		if t == "" || srvs[0].Port == 0 {
			return nil
		}
		return &Server{Host: t, Port: int(srvs[0].Port), Security: sec, Username: email}
	}
	cfg := &Config{Source: "dns-srv"}
	if cfg.SMTP = try("submissions", mail.ImplicitTLS); cfg.SMTP == nil {
		cfg.SMTP = try("submission", mail.StartTLS)
	}
	if cfg.IMAP = try("imaps", mail.ImplicitTLS); cfg.IMAP == nil {
		cfg.IMAP = try("imap", mail.StartTLS)
	}
	if cfg.SMTP == nil && cfg.IMAP == nil {
		return nil, fmt.Errorf("no SRV records for %s", domain)
	}
	return cfg, nil
}
