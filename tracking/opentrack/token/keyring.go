package token

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
)

const (
	// MaxKeyIDLen bounds key ids: they travel in every token, so keep them short.
	MaxKeyIDLen = 16
	// MinKeyLen is the shortest HMAC key accepted (128 bits); GenerateKey
	// makes 256-bit keys.
	MinKeyLen = 16
)

// Keyring holds the HMAC keys by id. One key is active and signs new tokens;
// every key verifies, so a key can be rotated out gradually: add the new key
// first (it becomes active), keep the old one until its tokens no longer
// matter, then delete it.
//
// A Keyring is immutable after construction and safe for concurrent use.
type Keyring struct {
	active string
	keys   map[string]*key
	order  []string
}

// key is one HMAC key with a pool of MAC states for it: hmac.New hashes the
// key into fresh inner and outer states each time, Reset restores them.
type key struct {
	id     string
	secret []byte
	macs   sync.Pool // of hash.Hash
}

func newKey(id string, secret []byte) *key {
	k := &key{id: id, secret: append([]byte(nil), secret...)}
	k.macs.New = func() any { return hmac.New(sha256.New, k.secret) }
	return k
}

// mac returns HMAC-SHA256(key, domain | head | linkHash) appended to dst.
func (k *key) mac(dst, head, linkHash []byte) []byte {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(domainBytes)
	m.Write(head)
	m.Write(linkHash)
	dst = m.Sum(dst)
	k.macs.Put(m)
	return dst
}

// NewKeyring builds a ring; ids[0] is the active key. It copies the keys.
func NewKeyring(ids []string, keys [][]byte) (*Keyring, error) {
	if len(ids) == 0 || len(ids) != len(keys) {
		return nil, errors.New("token: keyring needs at least one key, and one id per key")
	}
	kr := &Keyring{keys: make(map[string]*key, len(ids))}
	for i, id := range ids {
		if err := checkKeyID(id); err != nil {
			return nil, err
		}
		if len(keys[i]) < MinKeyLen {
			// Never print the key; its id is enough to find it.
			return nil, fmt.Errorf("token: key %q is %d bytes, need at least %d", id, len(keys[i]), MinKeyLen)
		}
		if _, dup := kr.keys[id]; dup {
			return nil, fmt.Errorf("token: key id %q appears twice", id)
		}
		kr.keys[id] = newKey(id, keys[i])
		kr.order = append(kr.order, id)
	}
	kr.active = ids[0]
	return kr, nil
}

func checkKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("token: key id %q must be 1 to %d characters", id, MaxKeyIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("token: key id %q may only use letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

// ActiveKeyID is the id of the key that signs new tokens.
func (kr *Keyring) ActiveKeyID() string { return kr.active }

// KeyIDs lists the ids in file order (active first).
func (kr *Keyring) KeyIDs() []string { return append([]string(nil), kr.order...) }

// ParseKeyring reads the key file format: one `id:base64key` per line, the
// first one active; blank lines and lines starting with '#' are ignored.
// Standard or URL-safe base64, padded or not, is accepted. Errors name the
// line number, never its content.
func ParseKeyring(r io.Reader) (*Keyring, error) {
	var ids []string
	var keys [][]byte
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, b64, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("token: key file line %d: want id:base64key", n)
		}
		key, err := decodeKey(strings.TrimSpace(b64))
		if err != nil {
			return nil, fmt.Errorf("token: key file line %d: key is not base64", n)
		}
		ids = append(ids, strings.TrimSpace(id))
		keys = append(keys, key)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token: read key file: %w", err)
	}
	if len(ids) == 0 {
		return nil, errors.New("token: key file has no keys")
	}
	return NewKeyring(ids, keys)
}

func decodeKey(s string) ([]byte, error) {
	for _, e := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := e.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// GenerateKeyLine returns a new `id:base64key` line with a 256-bit key from
// crypto/rand, ready to be put at the top of a key file.
func GenerateKeyLine(id string) (string, error) {
	if err := checkKeyID(id); err != nil {
		return "", err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("token: read random: %w", err)
	}
	return id + ":" + base64.StdEncoding.EncodeToString(key), nil
}
