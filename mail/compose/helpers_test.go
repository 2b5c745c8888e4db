package compose

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"mailroom/mail"
)

// fixedRand gives byte-identical boundaries from run to run.
func fixedRand(seed byte) io.Reader { return rand.NewChaCha8([32]byte{seed}) }

var zeroTime time.Time

var testDate = time.Date(2026, 3, 2, 9, 30, 0, 0, time.FixedZone("", 3600))

func baseDraft() Draft {
	return Draft{
		From:      mail.Address{Name: "Alice Sender", Address: "alice@example.com"},
		To:        []mail.Address{{Name: "Bob", Address: "bob@example.org"}},
		Subject:   "Invoice 42",
		Text:      "Hello Bob,\n\nyour invoice is attached.\n\nAlice\n",
		Date:      testDate,
		MessageID: "<3h5ufz0golden0id@example.com>",
	}
}

// wireLines is an independent check of the transport rules (not CheckWire):
// split at CRLF; no piece may hold CR or LF, none may exceed 998 octets,
// and the message must end with CRLF.
func wireLines(t testing.TB, b []byte) {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Fatalf("message does not end with CRLF")
	}
	lines := bytes.Split(b[:len(b)-2], []byte("\r\n"))
	for i, l := range lines {
		if bytes.ContainsAny(l, "\r\n") {
			t.Fatalf("line %d holds a bare CR or LF: %q", i+1, l)
		}
		if len(l) > 998 {
			t.Fatalf("line %d is %d octets", i+1, len(l))
		}
		if bytes.IndexByte(l, 0) >= 0 {
			t.Fatalf("line %d holds NUL", i+1)
		}
	}
}

// leaf is one decoded body part.
type leaf struct {
	mediaType  string
	params     map[string]string
	disp       string
	dispParams map[string]string
	cid        string
	cte        string
	body       []byte
}

type parsed struct {
	header    message.Header
	names     []string // top-level field names in order, canonical case
	structure string   // e.g. multipart/mixed(text/plain,application/pdf)
	leaves    []leaf
}

// parse reads b back with go-message, decoding every part.
func parse(t testing.TB, b []byte) parsed {
	t.Helper()
	e, err := message.Read(bytes.NewReader(b))
	if err != nil && !message.IsUnknownCharset(err) {
		t.Fatalf("go-message cannot read the output: %v", err)
	}
	var p parsed
	p.header = e.Header
	for f := e.Header.Fields(); f.Next(); {
		p.names = append(p.names, f.Key())
	}
	p.structure, p.leaves = walk(t, e)
	return p
}

func walk(t testing.TB, e *message.Entity) (string, []leaf) {
	t.Helper()
	mt, params, err := e.Header.ContentType()
	if err != nil {
		t.Fatalf("Content-Type: %v", err)
	}
	if mr := e.MultipartReader(); mr != nil {
		var parts []string
		var leaves []leaf
		for {
			c, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			// An unknown charset leaves the body undecoded: the bytes as sent.
			if err != nil && !message.IsUnknownCharset(err) {
				t.Fatalf("next part: %v", err)
			}
			s, l := walk(t, c)
			parts = append(parts, s)
			leaves = append(leaves, l...)
		}
		return mt + "(" + strings.Join(parts, ",") + ")", leaves
	}
	body, err := io.ReadAll(e.Body)
	if err != nil {
		t.Fatalf("body of %s: %v", mt, err)
	}
	l := leaf{mediaType: mt, params: params, body: body, cte: e.Header.Get("Content-Transfer-Encoding"), cid: e.Header.Get("Content-Id")}
	if d := e.Header.Get("Content-Disposition"); d != "" {
		l.disp, l.dispParams, err = e.Header.ContentDisposition()
		if err != nil {
			t.Fatalf("Content-Disposition %q: %v", d, err)
		}
	}
	return mt, []leaf{l}
}

func (p parsed) leaf(mediaType string) leaf {
	for _, l := range p.leaves {
		if l.mediaType == mediaType {
			return l
		}
	}
	return leaf{}
}

func mustBuild(t testing.TB, d Draft, opt CopyOptions) []byte {
	t.Helper()
	b, err := Build(d, opt)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return b
}

func crlf(s string) string { return string(canonicalText([]byte(s))) }

func fmtNames(n []string) string { return fmt.Sprint(n) }
