package token

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testRing(t testing.TB, ids ...string) *Keyring {
	t.Helper()
	var keys [][]byte
	for _, id := range ids {
		keys = append(keys, bytes.Repeat([]byte(id[:1]), 32))
	}
	kr, err := NewKeyring(ids, keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func mustCopyID(t testing.TB) CopyID {
	t.Helper()
	id, err := NewCopyID()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestRoundTrip(t *testing.T) {
	kr := testRing(t, "k1")
	id := mustCopyID(t)
	open, err := kr.MintOpen(id)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kr.VerifyOpen(open)
	if err != nil || c.CopyID != id || c.Kind != KindOpen || c.KeyID != "k1" {
		t.Fatalf("VerifyOpen = %+v, %v", c, err)
	}
	dest := "https://example.test/pay?invoice=42&x=%20y"
	click, err := kr.MintClick(id, dest)
	if err != nil {
		t.Fatal(err)
	}
	c, err = kr.VerifyClick(click, dest)
	if err != nil || c.CopyID != id || c.Kind != KindClick || c.LinkHash != LinkHash(dest) {
		t.Fatalf("VerifyClick = %+v, %v", c, err)
	}
	for _, tok := range []string{open, click} {
		if strings.ContainsAny(tok, "+/=") {
			t.Errorf("token %q is not URL-safe unpadded base64", tok)
		}
	}
	// Copy IDs are fresh per copy.
	if other := mustCopyID(t); other == id {
		t.Fatal("two NewCopyID calls returned the same id")
	}
	if got, err := ParseCopyID(id.String()); err != nil || got != id {
		t.Fatalf("ParseCopyID(String()) = %v, %v", got, err)
	}
}

func TestRejects(t *testing.T) {
	kr := testRing(t, "k1")
	id := mustCopyID(t)
	dest := "https://example.test/a"
	open, _ := kr.MintOpen(id)
	click, _ := kr.MintClick(id, dest)
	raw, _ := enc.DecodeString(open)

	flip := func(tok string, i int) string {
		b, _ := enc.DecodeString(tok)
		b[i] ^= 0x01
		return enc.EncodeToString(b)
	}
	otherKey, _ := NewKeyring([]string{"k1"}, [][]byte{bytes.Repeat([]byte("z"), 32)})
	rekeyed, _ := otherKey.MintOpen(id) // same id "k1", different secret
	foreign := testRing(t, "k9")
	foreignTok, _ := foreign.MintOpen(id) // key id unknown to kr

	// Non-canonical base64: change the unused low bits of the last character.
	nonCanon := []byte(open)
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", nonCanon[len(nonCanon)-1])
	nonCanon[len(nonCanon)-1] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last^1]

	cases := map[string]func() error{
		"empty":             func() error { _, err := kr.VerifyOpen(""); return err },
		"garbage":           func() error { _, err := kr.VerifyOpen("not a token!"); return err },
		"truncated by one":  func() error { _, err := kr.VerifyOpen(open[:len(open)-1]); return err },
		"truncated tag":     func() error { _, err := kr.VerifyOpen(enc.EncodeToString(raw[:len(raw)-1])); return err },
		"extended":          func() error { _, err := kr.VerifyOpen(enc.EncodeToString(append(raw, 0))); return err },
		"padded":            func() error { _, err := kr.VerifyOpen(base64.URLEncoding.EncodeToString(raw)); return err },
		"standard alphabet": func() error { _, err := kr.VerifyOpen(base64.RawStdEncoding.EncodeToString(raw) + "+/"); return err },
		"non-canonical":     func() error { _, err := kr.VerifyOpen(string(nonCanon)); return err },
		"forged copy id":    func() error { _, err := kr.VerifyOpen(flip(open, 3+2)); return err },
		"forged tag":        func() error { _, err := kr.VerifyOpen(flip(open, len(raw)-1)); return err },
		"forged version":    func() error { _, err := kr.VerifyOpen(flip(open, 0)); return err },
		"re-keyed same id":  func() error { _, err := kr.VerifyOpen(rekeyed); return err },
		"unknown key id":    func() error { _, err := kr.VerifyOpen(foreignTok); return err },
		"open as click":     func() error { _, err := kr.VerifyClick(open, dest); return err },
		"click as open":     func() error { _, err := kr.VerifyOpen(click); return err },
		"swapped dest":      func() error { _, err := kr.VerifyClick(click, "https://evil.test/a"); return err },
		"dest with suffix":  func() error { _, err := kr.VerifyClick(click, dest+"/"); return err },
		"dest case changed": func() error { _, err := kr.VerifyClick(click, strings.ToUpper(dest)); return err },
		"empty dest":        func() error { _, err := kr.VerifyClick(click, ""); return err },
		"kind byte switched": func() error {
			b, _ := enc.DecodeString(click)
			b[1] = byte(KindOpen)
			_, err := kr.VerifyOpen(enc.EncodeToString(b))
			return err
		},
		"nil keyring": func() error { var nk *Keyring; _, err := nk.VerifyOpen(open); return err },
		"huge":        func() error { _, err := kr.VerifyOpen(strings.Repeat("A", 1<<20)); return err },
	}
	for name, f := range cases {
		if err := f(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
	// Every single-bit flip anywhere in the token is rejected.
	for i := range raw {
		for bit := 0; bit < 8; bit++ {
			b := append([]byte(nil), raw...)
			b[i] ^= 1 << bit
			if _, err := kr.VerifyOpen(enc.EncodeToString(b)); err == nil {
				t.Fatalf("bit %d of byte %d flipped still verifies", bit, i)
			}
		}
	}
}

func TestRotation(t *testing.T) {
	old := testRing(t, "2024")
	id := mustCopyID(t)
	oldTok, _ := old.MintOpen(id)

	rotated := testRing(t, "2025", "2024") // new key first: it signs
	newTok, _ := rotated.MintOpen(id)
	if c, err := rotated.VerifyOpen(newTok); err != nil || c.KeyID != "2025" {
		t.Fatalf("new token: %+v %v", c, err)
	}
	if c, err := rotated.VerifyOpen(oldTok); err != nil || c.KeyID != "2024" {
		t.Fatalf("old token after rotation: %+v %v", c, err)
	}
	retired := testRing(t, "2025")
	if _, err := retired.VerifyOpen(oldTok); err == nil {
		t.Fatal("token of a retired key still verifies")
	}
}

func TestParseKeyring(t *testing.T) {
	l1, _ := GenerateKeyLine("new")
	l2, _ := GenerateKeyLine("old")
	kr, err := ParseKeyring(strings.NewReader("# keys\n\n" + l1 + "\n  " + l2 + "  \n"))
	if err != nil {
		t.Fatal(err)
	}
	if kr.ActiveKeyID() != "new" || len(kr.KeyIDs()) != 2 {
		t.Fatalf("active %q ids %v", kr.ActiveKeyID(), kr.KeyIDs())
	}
	secret := "c2VjcmV0LXNlY3JldC1zZWNyZXQ"
	bad := map[string]string{
		"empty":     "# nothing\n",
		"no colon":  "abc\n",
		"short key": "k:" + base64.StdEncoding.EncodeToString([]byte("short")) + "\n",
		"bad b64":   "k:" + secret + "!!\n",
		"bad id":    "a b:" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n",
		"dup id":    l1 + "\n" + l1 + "\n",
	}
	for name, in := range bad {
		_, err := ParseKeyring(strings.NewReader(in))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error leaks key material: %v", name, err)
		}
	}
}

// FuzzVerify feeds arbitrary tokens and destinations. A forgery is any
// accepted token that is not exactly one the test itself minted.
func FuzzVerify(f *testing.F) {
	kr := testRing(f, "k1", "k0")
	minted := map[string]string{} // token -> destination ("" for opens)
	// Fixed copy ids: the fuzz engine re-runs this setup in its workers, and
	// the seeds must be the same tokens there.
	for i := 0; i < 4; i++ {
		id := CopyID{byte(i), 0xAB, 15: 0xCD}
		open, _ := kr.MintOpen(id)
		dest := "https://example.test/p?i=" + string(rune('a'+i))
		click, _ := kr.MintClick(id, dest)
		minted[open], minted[click] = "", dest
		f.Add(open, "")
		f.Add(click, dest)
		f.Add(click, dest+"x")
		f.Add(open[:len(open)-3], dest)
	}
	f.Add("", "")
	f.Add("AQEC", "https://example.test/")
	f.Fuzz(func(t *testing.T, tok, dest string) {
		if c, err := kr.VerifyOpen(tok); err == nil {
			if d, ok := minted[tok]; !ok || d != "" || c.Kind != KindOpen {
				t.Fatalf("forged open token accepted: %q", tok)
			}
		}
		if c, err := kr.VerifyClick(tok, dest); err == nil {
			if d, ok := minted[tok]; !ok || d != dest || c.Kind != KindClick || c.LinkHash != LinkHash(dest) {
				t.Fatalf("forged click token accepted: %q for %q", tok, dest)
			}
		}
	})
}

func BenchmarkVerifyOpen(b *testing.B) {
	kr := testRing(b, "k1")
	tok, _ := kr.MintOpen(mustCopyID(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kr.VerifyOpen(tok); err != nil {
			b.Fatal(err)
		}
	}
}
