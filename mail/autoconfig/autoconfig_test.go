package autoconfig

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"mailroom/mail"
)

const sampleXML = `<?xml version="1.0"?>
<clientConfig version="1.1">
  <emailProvider id="example.org">
    <domain>example.org</domain>
    <incomingServer type="pop3"><hostname>pop.example.org</hostname><port>995</port><socketType>SSL</socketType></incomingServer>
    <incomingServer type="imap">
      <hostname>imap.example.org</hostname><port>993</port><socketType>SSL</socketType>
      <username>%EMAILADDRESS%</username><authentication>password-cleartext</authentication>
    </incomingServer>
    <outgoingServer type="smtp">
      <hostname>smtp.example.org</hostname><port>587</port><socketType>STARTTLS</socketType>
      <username>%EMAILLOCALPART%</username>
    </outgoingServer>
  </emailProvider>
</clientConfig>`

func TestLookupXMLFromLocalServer(t *testing.T) {
	var hits []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits = append(hits, r.URL.Path)
		if r.URL.Path != "/.well-known/autoconfig/mail/config-v1.1.xml" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(sampleXML))
	}))
	defer srv.Close()
	opt := Options{HTTP: srv.Client(), Timeout: 2 * time.Second,
		URLs: func(domain, email string) []string {
			return []string{srv.URL + "/mail/config-v1.1.xml", srv.URL + "/.well-known/autoconfig/mail/config-v1.1.xml"}
		},
		Resolver: deadResolver()}
	cfg, err := Lookup(context.Background(), "alice@example.org", opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 {
		t.Fatalf("tried %v; want the autoconfig host first, then the well-known path", hits)
	}
	want := Server{Host: "imap.example.org", Port: 993, Security: mail.ImplicitTLS, Username: "alice@example.org"}
	if *cfg.IMAP != want {
		t.Errorf("IMAP = %+v", *cfg.IMAP)
	}
	want = Server{Host: "smtp.example.org", Port: 587, Security: mail.StartTLS, Username: "alice"}
	if *cfg.SMTP != want {
		t.Errorf("SMTP = %+v", *cfg.SMTP)
	}
}

func TestPlaintextNeverSuggested(t *testing.T) {
	doc := strings.ReplaceAll(strings.ReplaceAll(sampleXML, "STARTTLS", "plain"), "SSL", "plain")
	if _, err := ParseXML(strings.NewReader(doc), "a@example.org"); err == nil {
		t.Fatal("a plaintext-only document produced a suggestion")
	}
	if _, err := ParseXML(strings.NewReader("<html>nope"), "a@example.org"); err == nil {
		t.Fatal("garbage accepted")
	}
}

// dnsServer answers SRV questions from a map on a loopback UDP port.
func dnsServer(t *testing.T, records map[string]dnsmessage.SRVResource) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
			b.EnableCompression()
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			rec, ok := records[strings.ToLower(q.Name.String())]
			if ok && q.Type == dnsmessage.TypeSRV {
				b.SRVResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, rec)
			}
			msg, _ := b.Finish()
			if !ok {
				msg[3] |= 3 // NXDOMAIN
			}
			pc.WriteTo(msg, from)
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// deadResolver fails every lookup without leaving the machine.
func deadResolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
		return nil, errors.New("no DNS in tests")
	}}
}

func TestLookupSRVFromLocalDNS(t *testing.T) {
	name := func(s string) dnsmessage.Name { return dnsmessage.MustNewName(s) }
	res := dnsServer(t, map[string]dnsmessage.SRVResource{
		"_submissions._tcp.example.net.": {Priority: 0, Weight: 1, Port: 465, Target: name("mail.example.net.")},
		"_imap._tcp.example.net.":        {Priority: 0, Weight: 1, Port: 143, Target: name("imap.example.net.")},
		"_imaps._tcp.example.net.":       {Priority: 0, Weight: 0, Port: 0, Target: name(".")}, // not offered
	})
	noXML := func(domain, email string) []string { return nil }
	cfg, err := Lookup(context.Background(), "bob@example.net", Options{Resolver: res, URLs: noXML, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Source != "dns-srv" || cfg.SMTP == nil || cfg.SMTP.Host != "mail.example.net" || cfg.SMTP.Port != 465 || cfg.SMTP.Security != mail.ImplicitTLS {
		t.Errorf("SMTP = %+v", cfg.SMTP)
	}
	if cfg.IMAP == nil || cfg.IMAP.Host != "imap.example.net" || cfg.IMAP.Security != mail.StartTLS {
		t.Errorf("IMAP = %+v (the '.' imaps record means not offered)", cfg.IMAP)
	}
	if _, err := Lookup(context.Background(), "x@nothing.example", Options{Resolver: res, URLs: noXML, Timeout: time.Second}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown domain: %v", err)
	}
}
