package report

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseReadersAgree checks that Parse gives the same result whether it
// reads a bytes.Reader (sized in one allocation) or any other reader, and
// that both stop at MaxSize.
func TestParseReadersAgree(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "postfix-dsn", "*.eml"))
	if len(files) == 0 {
		t.Fatal("no testdata")
	}
	view := func(r *Report, err error) string {
		if err != nil {
			return err.Error()
		}
		b, _ := json.Marshal(r)
		return string(b)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a := view(Parse(bytes.NewReader(raw)))
		b := view(Parse(io.MultiReader(bytes.NewReader(raw))))
		if a != b {
			t.Errorf("%s: bytes.Reader and io.Reader disagree:\n%s\n%s", f, a, b)
		}
	}
	big := []byte("From: MAILER-DAEMON@example.net\r\nSubject: x\r\n\r\n" + strings.Repeat("x", MaxSize))
	for _, r := range []io.Reader{bytes.NewReader(big), io.MultiReader(bytes.NewReader(big))} {
		rep, err := Parse(r)
		if err != nil || !rep.Truncated {
			t.Errorf("%T: over MaxSize: %v, truncated %v", r, err, rep != nil && rep.Truncated)
		}
	}
	if _, err := Parse(bytes.NewReader(nil)); err != ErrEmpty {
		t.Errorf("empty: %v", err)
	}
}
