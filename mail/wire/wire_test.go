package wire

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func canon(t testing.TB, in string) string {
	t.Helper()
	out, err := io.ReadAll(CanonicalizeCRLF(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestCanonicalizeCRLF(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "",
		"a":                 "a",
		"a\r\nb":            "a\r\nb",
		"a\nb\n":            "a\r\nb\r\n",
		"a\rb\r":            "a\r\nb\r\n",
		"\r\r\n":            "\r\n\r\n",
		"\n\r":              "\r\n\r\n",
		"x\n.\ny":           "x\r\n.\r\ny",
		"x\r.\r\ny":         "x\r\n.\r\ny",
		"nul\x00byte\r\n":   "nul\x00byte\r\n",
		"\r\n.\r\n":         "\r\n.\r\n",
		"a\r\r\r\nb\n\n\rc": "a\r\n\r\n\r\nb\r\n\r\n\r\nc",
	} {
		if got := canon(t, in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
		// Byte-at-a-time reads split every CR from its LF.
		got, err := io.ReadAll(CanonicalizeCRLF(iotest.OneByteReader(strings.NewReader(in))))
		if err != nil || string(got) != want {
			t.Errorf("%q one byte at a time: got %q, %v", in, got, err)
		}
		got, err = io.ReadAll(iotest.OneByteReader(CanonicalizeCRLF(strings.NewReader(in))))
		if err != nil || string(got) != want {
			t.Errorf("%q read one byte at a time: got %q, %v", in, got, err)
		}
	}
}

func TestCanonicalizeReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := CanonicalizeCRLF(io.MultiReader(strings.NewReader("a\r"), iotest.ErrReader(boom)))
	got, err := io.ReadAll(r)
	if !errors.Is(err, boom) || string(got) != "a\r\n" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestLineLimit(t *testing.T) {
	ok := strings.Repeat("x", MaxLineLength)
	for _, in := range []string{ok, ok + "\r\n" + ok, ok + "\r\n", "\r\n" + ok + "\r\n"} {
		if _, err := io.ReadAll(Reader(strings.NewReader(in))); err != nil {
			t.Errorf("%d octets refused: %v", len(in), err)
		}
	}
	for _, in := range []string{ok + "x", "a\r\n" + ok + "y\r\n", "b\n" + ok + "z\n"} {
		_, err := io.ReadAll(Reader(iotest.HalfReader(strings.NewReader(in))))
		var e *LineTooLongError
		if !errors.As(err, &e) || e.Line != 1+strings.Count(in[:len(in)-1], "\n") {
			t.Errorf("%d octets: err %v", len(in), err)
		}
		if err != nil && !strings.Contains(err.Error(), "longer than 998 octets") {
			t.Errorf("message %q", err)
		}
	}
}

// hasBareCRLF reports a CR not followed by LF or an LF not preceded by CR.
func hasBareCRLF(b []byte) bool {
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			return true
		}
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			return true
		}
	}
	return false
}

// FuzzCanonicalize: the output never has a bare CR or LF, and it is the
// input modulo line endings (CRLF, CR and LF all count as one line break).
func FuzzCanonicalize(f *testing.F) {
	for _, s := range []string{"", "a\r\nb", "\n.\n", "\r.\r", ".\r\n", "\r\r\n\n", "x\x00\ry", "Subject: hi\r\n\r\nbody\n.\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := io.ReadAll(CanonicalizeCRLF(iotest.HalfReader(bytes.NewReader(in))))
		if err != nil {
			t.Fatal(err)
		}
		if hasBareCRLF(out) {
			t.Fatalf("bare CR/LF in %q (from %q)", out, in)
		}
		norm := func(b []byte) []byte {
			b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
			return bytes.ReplaceAll(b, []byte("\r"), []byte("\n"))
		}
		if !bytes.Equal(norm(out), norm(in)) {
			t.Fatalf("content changed: %q -> %q", in, out)
		}
		if len(out) > 2*len(in) {
			t.Fatalf("output too long: %d from %d", len(out), len(in))
		}
	})
}

func BenchmarkCanonicalize(b *testing.B) {
	in := bytes.Repeat([]byte(strings.Repeat("y", 76)+"\n"), 1<<14)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		io.Copy(io.Discard, Reader(bytes.NewReader(in)))
	}
}
