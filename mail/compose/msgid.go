package compose

import (
	"crypto/rand"
	"encoding/base32"
	"strings"

	"golang.org/x/net/idna"
)

// NewMessageID returns a fresh Message-ID "<random@domain>" with 160 random
// bits, for the outbox to fix at enqueue. domain is normally the sender's
// domain (IDN domains are written as A-labels); when it is empty or not a
// host name, "mailroom.invalid" is used, which is honest and still unique.
func NewMessageID(domain string) string {
	var b [20]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	left := strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	d, err := idna.Lookup.ToASCII(strings.TrimSpace(domain))
	if err != nil || d == "" || !isDotAtom(d) {
		d = "mailroom.invalid"
	}
	return "<" + left + "@" + strings.ToLower(d) + ">"
}
