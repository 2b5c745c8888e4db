package smtptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// CertKind selects the certificate the server presents, to test that the
// client refuses everything but a valid chain for the right name.
type CertKind int

const (
	CertTrusted     CertKind = iota // signed by the server's test CA, for localhost and 127.0.0.1
	CertSelfSigned                  // a self-signed certificate for localhost
	CertWrongHost                   // signed by the test CA, but for other.example only
	CertUntrustedCA                 // for localhost, signed by a CA the client is not given
)

// testCA is a throwaway ECDSA certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(name string) (*testCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// leaf issues a server certificate for names (host names or IPs), signed by
// ca, or self-signed when ca is nil.
func leaf(ca *testCA, names ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	parent, signer := tmpl, key
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// serverTLS builds the server's tls.Config for a CertKind and version cap.
func serverTLS(ca *testCA, kind CertKind, maxVersion uint16) (*tls.Config, error) {
	var cert tls.Certificate
	var err error
	switch kind {
	case CertTrusted:
		cert, err = leaf(ca, "localhost", "127.0.0.1", "::1")
	case CertSelfSigned:
		cert, err = leaf(nil, "localhost", "127.0.0.1", "::1")
	case CertWrongHost:
		cert, err = leaf(ca, "other.example")
	case CertUntrustedCA:
		var other *testCA
		if other, err = newCA("smtptest untrusted CA"); err == nil {
			cert, err = leaf(other, "localhost", "127.0.0.1", "::1")
		}
	default:
		err = fmt.Errorf("unknown CertKind %d", kind)
	}
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	if maxVersion != 0 {
		// An old server: it speaks only this version (Go still implements
		// TLS 1.0/1.1 on the server side when asked explicitly).
		cfg.MinVersion, cfg.MaxVersion = maxVersion, maxVersion
	}
	return cfg, nil
}
