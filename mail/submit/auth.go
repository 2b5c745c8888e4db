package submit

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// errNoTLS is returned by the AUTH guard. go-smtp would send AUTH over a
// plain connection if asked; this package never asks.
var errNoTLS = errors.New("refusing to authenticate: the connection is not protected by a completed TLS 1.2+ handshake")

// requireTLS is the guard run before AUTH and before MAIL: the connection
// we hold must be a *tls.Conn whose handshake completed at TLS 1.2 or later.
func requireTLS(tc *tls.Conn) error {
	if tc == nil {
		return errNoTLS
	}
	st := tc.ConnectionState()
	if !st.HandshakeComplete || st.Version < tls.VersionTLS12 {
		return errNoTLS
	}
	return nil
}

// authenticate runs AUTH through go-smtp, after the guard.
func authenticate(c *smtp.Client, tc *tls.Conn, a sasl.Client) error {
	if err := requireTLS(tc); err != nil {
		return err
	}
	return c.Auth(a)
}

// chooseMechanism picks the SASL mechanism: the configured one, or PLAIN
// then LOGIN among those the server offers (the EHLO AUTH parameter).
func chooseMechanism(want, offered string) (string, error) {
	offers := map[string]bool{}
	for _, m := range strings.Fields(offered) {
		offers[strings.ToUpper(m)] = true
	}
	if want != "" {
		mech := strings.ToUpper(want)
		switch mech {
		case "PLAIN", "LOGIN", "XOAUTH2":
		default:
			return "", fmt.Errorf("unknown AUTH mechanism %q (use plain, login or xoauth2)", want)
		}
		if !offers[mech] {
			return "", fmt.Errorf("the server does not offer AUTH %s (it offers: %s)", mech, orNone(offered))
		}
		return mech, nil
	}
	for _, mech := range []string{"PLAIN", "LOGIN"} {
		if offers[mech] {
			return mech, nil
		}
	}
	return "", fmt.Errorf("the server offers no supported AUTH mechanism (it offers: %s)", orNone(offered))
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "none"
	}
	return s
}

// newSASLClient builds the client for a mechanism chosen by chooseMechanism.
func newSASLClient(mech, username, secret string) sasl.Client {
	switch mech {
	case "LOGIN":
		return sasl.NewLoginClient(username, secret)
	case "XOAUTH2":
		return &xoauth2Client{username: username, token: secret}
	default:
		return sasl.NewPlainClient("", username, secret)
	}
}

// xoauth2Client is Google/Microsoft's XOAUTH2: one initial response
// "user=U^Aauth=Bearer T^A^A". On failure the server sends a 334 with a
// JSON error; the client answers with an empty response and the server
// then sends the final 535.
type xoauth2Client struct {
	username, token string
}

func (x *xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.username + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2Client) Next(challenge []byte) ([]byte, error) {
	return []byte{}, nil
}
