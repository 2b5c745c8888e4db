package store

import (
	"bytes"
	"testing"
)

// sharedByteByByte is Shared's definition, one byte at a time.
func sharedByteByByte(base, body []byte) (prefix, suffix int) {
	n := min(len(base), len(body))
	for prefix < n && base[prefix] == body[prefix] {
		prefix++
	}
	for suffix < n-prefix && base[len(base)-1-suffix] == body[len(body)-1-suffix] {
		suffix++
	}
	return prefix, suffix
}

// FuzzSharedJoin: whatever two bodies are, cutting the second by what it
// shares with the first and joining the parts again gives it back, and
// the shared parts are as long as a byte-by-byte comparison finds.
func FuzzSharedJoin(f *testing.F) {
	long := bytes.Repeat([]byte("0123456789abcdef"), 20)
	f.Add(long, append(append(long[:100:100], 'X'), long[100:]...))
	f.Add(long, long[:130])
	f.Add(long[3:], long)
	f.Add([]byte("abcXdef"), []byte("abcYYdef"))
	f.Add([]byte("aaaa"), []byte("aa"))
	f.Add([]byte("aa"), []byte("aaaa"))
	f.Add([]byte("same"), []byte("same"))
	f.Add([]byte(""), []byte("x"))
	f.Add([]byte("abab"), []byte("ab"))
	f.Fuzz(func(t *testing.T, base, body []byte) {
		prefix, suffix := Shared(base, body)
		if prefix < 0 || suffix < 0 || prefix+suffix > min(len(base), len(body)) {
			t.Fatalf("Shared(%q, %q) = %d, %d", base, body, prefix, suffix)
		}
		got := JoinBody(base[:prefix], body[prefix:len(body)-suffix], base[len(base)-suffix:])
		if !bytes.Equal(got, body) {
			t.Fatalf("join of %q against %q: %q", body, base, got)
		}
		if p, s := sharedByteByByte(base, body); p != prefix || s != suffix {
			t.Fatalf("Shared(%q, %q) = %d, %d; byte by byte %d, %d", base, body, prefix, suffix, p, s)
		}
	})
}

// TestSharedFindsTheDifference: two copies differing in a tracking header
// and a pixel share everything before the first and after the last.
func TestSharedFindsTheDifference(t *testing.T) {
	att := bytes.Repeat([]byte("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\r\n"), 1000)
	mk := func(id string) []byte {
		return append([]byte("Subject: hi\r\nX-Mailroom-Tracking-Id: "+id+"\r\n\r\n<img src=\"https://t.example/"+id+".gif\">\r\n"), att...)
	}
	a, b := mk("aaaa"), mk("bbbbbb")
	prefix, suffix := Shared(a, b)
	if prefix != len("Subject: hi\r\nX-Mailroom-Tracking-Id: ") {
		t.Errorf("prefix %d", prefix)
	}
	if want := len(att) + len(".gif\">\r\n"); suffix != want {
		t.Errorf("suffix %d, want %d", suffix, want)
	}
}
