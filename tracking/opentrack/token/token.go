// Package token owns open- and click-tracking tokens: what they contain, how
// they are signed with a rotating set of HMAC-SHA256 keys, and how they are
// verified.
//
// A token is the URL-safe base64 (no padding, strict) encoding of
//
//	version(1) | kind(1) | len(keyID)(1) | keyID | copyID(16) | tag(32)
//
// where copyID is 128 bits from crypto/rand chosen once per recipient copy
// and tag = HMAC-SHA256(key[keyID], domain | version | kind | keyID | copyID
// [| SHA-256(destination) for clicks]).
//
// Invariants:
//   - nothing in a token says who the recipient is or what the message is: the
//     copy ID is random and only the sending app knows what it stands for;
//   - the kind is authenticated, so an open token is never a click token;
//   - a click token is bound to the SHA-256 of its destination URL, which
//     travels beside the token (the tracker's ?u= parameter) and must match
//     exactly, so the tracker cannot be used as an open redirect;
//   - verification compares tags with hmac.Equal (constant time) and accepts
//     exactly one encoding of each token (strict base64, exact length).
package token

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"unsafe"
)

// Kind says what a token tracks; it is part of the signed data.
type Kind byte

const (
	KindOpen  Kind = 1 // the 1x1 pixel
	KindClick Kind = 2 // a rewritten link
)

func (k Kind) String() string {
	switch k {
	case KindOpen:
		return "open"
	case KindClick:
		return "click"
	}
	return fmt.Sprintf("kind(%d)", byte(k))
}

const (
	version   = 1
	copyIDLen = 16
	tagLen    = sha256.Size
	// domain separates these MACs from anything else the same key could sign.
	domain = "mailroom-opentrack-v1\x00"
	// maxRaw is the longest decoded token: header with a MaxKeyIDLen id,
	// copy id and tag.
	maxRaw = 3 + MaxKeyIDLen + copyIDLen + tagLen
)

var domainBytes = []byte(domain)

// enc accepts only canonical encodings: no padding, no stray trailing bits.
var enc = base64.RawURLEncoding.Strict()

// CopyID identifies one recipient copy of one message. It is random and
// carries no meaning outside the sending app's database.
type CopyID [copyIDLen]byte

// NewCopyID returns 128 fresh bits from crypto/rand.
func NewCopyID() (CopyID, error) {
	var id CopyID
	if _, err := rand.Read(id[:]); err != nil {
		return id, fmt.Errorf("token: read random: %w", err)
	}
	return id, nil
}

// String is the lowercase hex form used in the events API.
func (id CopyID) String() string { return hex.EncodeToString(id[:]) }

// ParseCopyID parses the hex form produced by String.
func ParseCopyID(s string) (CopyID, error) {
	var id CopyID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != copyIDLen {
		return id, fmt.Errorf("token: copy id %q is not %d hex bytes", s, copyIDLen)
	}
	copy(id[:], b)
	return id, nil
}

// Claims is what a verified token asserts.
type Claims struct {
	Kind   Kind
	KeyID  string
	CopyID CopyID
	// LinkHash is SHA-256 of the destination for click tokens (zero for
	// opens); the app recomputes it with LinkHash to know which link it was.
	LinkHash [sha256.Size]byte
}

// LinkHash is the SHA-256 of a destination URL as bound in click tokens.
func LinkHash(dest string) [sha256.Size]byte { return sha256.Sum256([]byte(dest)) }

// ErrInvalid is returned for every token that does not verify. The reason is
// deliberately not distinguished: callers answer all failures the same way.
var ErrInvalid = errors.New("token: invalid")

// MintOpen returns the open (pixel) token for a copy, signed with the active key.
func (kr *Keyring) MintOpen(id CopyID) (string, error) {
	return kr.mint(KindOpen, id, nil)
}

// MintClick returns the click token for a copy and destination URL. The
// destination must be passed unchanged to VerifyClick.
func (kr *Keyring) MintClick(id CopyID, dest string) (string, error) {
	if dest == "" {
		return "", errors.New("token: click token needs a destination")
	}
	h := LinkHash(dest)
	return kr.mint(KindClick, id, h[:])
}

func (kr *Keyring) mint(kind Kind, id CopyID, linkHash []byte) (string, error) {
	if kr == nil || kr.active == "" {
		return "", errors.New("token: keyring has no active key")
	}
	kid := kr.active
	head := header(kind, kid, id)
	return enc.EncodeToString(kr.keys[kid].mac(head, head, linkHash)), nil
}

func header(kind Kind, kid string, id CopyID) []byte {
	b := make([]byte, 0, 3+len(kid)+copyIDLen+tagLen)
	b = append(b, version, byte(kind), byte(len(kid)))
	b = append(b, kid...)
	return append(b, id[:]...)
}

// VerifyOpen accepts only an open token signed by a key in the ring.
func (kr *Keyring) VerifyOpen(tok string) (Claims, error) {
	return kr.verify(tok, KindOpen, "")
}

// VerifyClick accepts only a click token signed by a key in the ring and
// bound to exactly dest.
func (kr *Keyring) VerifyClick(tok, dest string) (Claims, error) {
	if dest == "" {
		return Claims{}, ErrInvalid
	}
	return kr.verify(tok, KindClick, dest)
}

func (kr *Keyring) verify(tok string, want Kind, dest string) (Claims, error) {
	var c Claims
	if kr == nil {
		return c, ErrInvalid
	}
	if len(tok) > enc.EncodedLen(maxRaw) {
		return c, ErrInvalid
	}
	// encoding/base64 skips '\r' and '\n' even in strict mode, which would
	// give one token many spellings; allow only the alphabet itself.
	for i := 0; i < len(tok); i++ {
		if !isURLAlphabet(tok[i]) {
			return c, ErrInvalid
		}
	}
	// Decode into pooled scratch space (it reaches hash.Hash.Write, so it
	// would escape to the heap anyway); Decode only reads its source, so
	// the string's bytes are used in place instead of copied.
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
	n, err := enc.Decode(sc.raw[:], unsafe.Slice(unsafe.StringData(tok), len(tok)))
	if err != nil || n < 3 {
		return c, ErrInvalid
	}
	raw := sc.raw[:n]
	if raw[0] != version || Kind(raw[1]) != want {
		return c, ErrInvalid
	}
	kidLen := int(raw[2])
	if kidLen == 0 || kidLen > MaxKeyIDLen || len(raw) != 3+kidLen+copyIDLen+tagLen {
		return c, ErrInvalid
	}
	k, ok := kr.keys[string(raw[3:3+kidLen])]
	if !ok {
		return c, ErrInvalid
	}
	headEnd := 3 + kidLen + copyIDLen
	var lh []byte
	if want == KindClick {
		c.LinkHash = LinkHash(dest)
		lh = c.LinkHash[:]
	}
	if !hmac.Equal(k.mac(sc.tag[:0], raw[:headEnd], lh), raw[headEnd:]) {
		return Claims{}, ErrInvalid
	}
	c.Kind = want
	c.KeyID = k.id
	copy(c.CopyID[:], raw[3+kidLen:headEnd])
	return c, nil
}

// scratch is verify's working space.
type scratch struct {
	raw [maxRaw]byte
	tag [tagLen]byte
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func isURLAlphabet(b byte) bool { return urlAlphabet[b] }

// urlAlphabet is a table: verify checks every byte of every token.
var urlAlphabet = func() (t [256]bool) {
	for b := range 256 {
		t[b] = b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-' || b == '_'
	}
	return t
}()
