package submit

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"mailroom/mail"
)

// Options configure one connection to a submission server.
type Options struct {
	Endpoint mail.Endpoint // host, port, tls|starttls, username, CA file, Password func
	HeloName string        // EHLO name; default "localhost"

	DialTimeout    time.Duration // TCP connect and TLS handshake; default 30s
	CommandTimeout time.Duration // each command's reply (and the greeting); default 5m
	// WriteTimeout bounds every single write, of commands and of the
	// message body; default 2m.
	WriteTimeout time.Duration
	// FinalReplyTimeout is the wait for the reply after "."; default 10m
	// (RFC 5321 section 4.5.3.2.6).
	FinalReplyTimeout time.Duration

	// Auth selects the SASL mechanism: "" (PLAIN if offered, else LOGIN),
	// "plain", "login" or "xoauth2" (the token comes from Endpoint.Password).
	// No AUTH is sent when Endpoint.Username is empty.
	Auth string

	// RootCAs overrides certificate trust (tests). Otherwise Endpoint.CAFile
	// is the only trust anchor when set, else the system pool.
	RootCAs *x509.CertPool
}

func (o Options) withDefaults() Options {
	if o.HeloName == "" {
		o.HeloName = "localhost"
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 30 * time.Second
	}
	if o.CommandTimeout <= 0 {
		o.CommandTimeout = 5 * time.Minute
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 2 * time.Minute
	}
	if o.FinalReplyTimeout <= 0 {
		o.FinalReplyTimeout = 10 * time.Minute
	}
	return o
}

// tlsConfig builds the client TLS configuration. There is deliberately no
// way to skip verification: a test server gets a test CA instead.
func (o Options) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{
		ServerName: o.Endpoint.Host,
		MinVersion: tls.VersionTLS12,
	}
	switch {
	case o.RootCAs != nil:
		cfg.RootCAs = o.RootCAs
	case o.Endpoint.CAFile != "":
		pem, err := os.ReadFile(o.Endpoint.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", o.Endpoint.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
