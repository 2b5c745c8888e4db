package wire

import (
	"bufio"
	"bytes"
	"io"
	"net/textproto"
	"testing"
)

// dotStuffed writes src through DotWriter in pieces of at most chunk bytes.
func dotStuffed(t testing.TB, src []byte, chunk int) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	d := NewDotWriter(bw)
	for p := src; len(p) > 0; {
		n := min(chunk, len(p))
		if k, err := d.Write(p[:n]); err != nil || k != n {
			t.Fatalf("Write: %d, %v", k, err)
		}
		p = p[n:]
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	return out.Bytes()
}

// stdlibStuffed is net/textproto's DotWriter on the same input: the
// reference, for canonical (CRLF) text that is not empty (for empty
// content it writes an empty line before ".", DotWriter writes none).
func stdlibStuffed(src []byte) []byte {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	w := textproto.NewWriter(bw).DotWriter()
	w.Write(src)
	w.Close()
	bw.Flush()
	return out.Bytes()
}

func TestDotWriter(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ".\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{"a", "a\r\n.\r\n"},
		{".", "..\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
		{"..x\r\n\r\n.", "...x\r\n\r\n..\r\n.\r\n"},
		{"a.b\r\n x.\r\n", "a.b\r\n x.\r\n.\r\n"},
	} {
		for _, chunk := range []int{1, 2, 3, 1 << 20} {
			if got := dotStuffed(t, []byte(tc.in), chunk); string(got) != tc.want {
				t.Errorf("%q in chunks of %d: got %q, want %q", tc.in, chunk, got, tc.want)
			}
		}
		if got := stdlibStuffed([]byte(tc.in)); tc.in != "" && string(got) != tc.want {
			t.Errorf("%q: net/textproto disagrees with the table: %q", tc.in, got)
		}
	}
}

// FuzzDotWriter checks DotWriter against net/textproto's on canonical
// text (what Reader yields), in any chunking.
func FuzzDotWriter(f *testing.F) {
	f.Add([]byte("a\r\n.b\r\n..\r\n"), 3)
	f.Add([]byte(".\r\n.\r\n."), 1)
	f.Fuzz(func(t *testing.T, raw []byte, chunk int) {
		canon, err := io.ReadAll(CanonicalizeCRLF(bytes.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if len(canon) == 0 {
			return
		}
		chunk = 1 + abs(chunk)%64
		if got, want := dotStuffed(t, canon, chunk), stdlibStuffed(canon); !bytes.Equal(got, want) {
			t.Fatalf("input %q (chunks of %d):\n got %q\nwant %q", canon, chunk, got, want)
		}
	})
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func BenchmarkDotWriter(b *testing.B) {
	line := bytes.Repeat([]byte("Lorem ipsum dolor sit amet, consectetur adipiscing elit. "), 2)[:70]
	var src []byte
	for len(src) < 5120 {
		src = append(append(src, line...), "\r\n"...)
	}
	bw := bufio.NewWriter(io.Discard)
	b.Run("mailroom", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			d := NewDotWriter(bw)
			d.Write(src)
			d.Close()
		}
	})
	b.Run("net-textproto", func(b *testing.B) {
		b.SetBytes(int64(len(src)))
		for b.Loop() {
			w := textproto.NewWriter(bw).DotWriter()
			w.Write(src)
			w.Close()
		}
	})
}
