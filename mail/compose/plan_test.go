package compose

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"mailroom/mail"
)

func addrs(ps []CopyPlan) string {
	var out []string
	for _, p := range ps {
		var a []string
		for _, r := range p.Recipients {
			a = append(a, r.Address)
		}
		out = append(out, fmt.Sprintf("%v:%s", p.Personal, strings.Join(a, "+")))
	}
	return strings.Join(out, " ")
}

func TestPlan(t *testing.T) {
	d := baseDraft()
	d.To = []mail.Address{{Address: "a@example.org"}, {Address: "B@Example.org"}}
	d.Cc = []mail.Address{{Address: "c@example.org"}, {Address: "b@example.org"}}
	d.Bcc = []mail.Address{{Address: "x@bücher.example"}, {Address: "X@xn--bcher-kva.example"}}

	if got, want := addrs(Plan(d, false)), "false:a@example.org+B@Example.org+c@example.org+x@bücher.example"; got != want {
		t.Errorf("shared plan %s\nwant %s", got, want)
	}
	if got, want := addrs(Plan(d, true)), "true:a@example.org true:B@Example.org true:c@example.org true:x@bücher.example"; got != want {
		t.Errorf("personal plan %s\nwant %s", got, want)
	}
	one := baseDraft()
	if got := addrs(Plan(one, false)); got != "true:bob@example.org" {
		t.Errorf("single recipient: %s", got)
	}
	one.To = nil
	if Plan(one, true) != nil {
		t.Error("no recipients, yet a plan")
	}
}

// TestPerRecipientCopies drives the whole flow a tracked send uses: one plan
// per recipient, one Build each with its own tracking ID and pixel, and an
// untracked Sent copy.
func TestPerRecipientCopies(t *testing.T) {
	d := trackedDraft()
	plans := Plan(d, true)
	if len(plans) != 3 {
		t.Fatalf("%d plans", len(plans))
	}
	seen := map[string]bool{}
	for i, p := range plans {
		id := fmt.Sprintf("tid-%d", i)
		b := mustBuild(t, d, CopyOptions{TrackingID: id, HTMLTransform: func(h []byte) ([]byte, error) {
			return bytes.Replace(h, []byte("</body>"), []byte(`<img src="https://t.example.net/o/`+id+`">`+"\n</body>"), 1), nil
		}})
		wireLines(t, b)
		got := parse(t, b)
		if got.header.Get(TrackingHeader) != id {
			t.Errorf("copy for %v: tracking header %q", p.Recipients, got.header.Get(TrackingHeader))
		}
		if !bytes.Contains(got.leaf("text/html").body, []byte("/o/"+id)) {
			t.Errorf("copy %d lacks its own pixel", i)
		}
		if seen[string(b)] {
			t.Error("two recipients got identical copies")
		}
		seen[string(b)] = true
	}
	s, err := SentCopy(d, CopyOptions{TrackingID: "tid-0", HTMLTransform: pixelTransform})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s, []byte(TrackingHeader)) || bytes.Contains(s, []byte("/o/")) {
		t.Errorf("Sent copy carries tracking:\n%s", s)
	}
}

func TestNeedsSMTPUTF8(t *testing.T) {
	d := baseDraft()
	if NeedsSMTPUTF8(d) {
		t.Error("ASCII draft")
	}
	d.To = []mail.Address{{Address: "user@bücher.example"}}
	if NeedsSMTPUTF8(d) {
		t.Error("IDN domain alone needs no SMTPUTF8")
	}
	d.Bcc = []mail.Address{{Address: "jörg@example.org"}}
	if !NeedsSMTPUTF8(d) {
		t.Error("non-ASCII local part")
	}
	// The header then carries UTF-8 (RFC 6532) and still parses back.
	d.To = []mail.Address{{Name: "Jörg", Address: "jörg@bücher.example"}}
	b := mustBuild(t, d, CopyOptions{})
	wireLines(t, b)
	if !bytes.Contains(b, []byte("<jörg@xn--bcher-kva.example>")) {
		t.Errorf("To header:\n%s", b)
	}
}

func TestNewMessageID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := NewMessageID("bücher.example")
		if err := checkMsgID(id); err != nil {
			t.Fatal(err)
		}
		left, right, _ := strings.Cut(strings.Trim(id, "<>"), "@")
		if right != "xn--bcher-kva.example" || len(left)*5 < 128 {
			t.Fatalf("%s", id)
		}
		if seen[id] {
			t.Fatal("duplicate Message-ID")
		}
		seen[id] = true
	}
	for _, bad := range []string{"", "not a domain!", "a..b"} {
		if id := NewMessageID(bad); !strings.HasSuffix(id, "@mailroom.invalid>") {
			t.Errorf("NewMessageID(%q) = %s", bad, id)
		}
	}
}

func TestEstimateSize(t *testing.T) {
	big := bytes.Repeat([]byte{0, 1, 2, 3, 250}, 20011)
	d := goldenCases()[3].draft() // inline image + attachment
	d.Attachments = append(d.Attachments,
		Attachment{Name: "big.bin", Data: big},
		Attachment{Name: "streamed.bin", Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(big[:7777])), nil }},
		Attachment{Name: "exact76.bin", Data: make([]byte, 57)}, // one full base64 line
		Attachment{Name: "empty.bin", Data: []byte{}},
	)
	b := mustBuild(t, d, CopyOptions{})
	if est := EstimateSize(d); est != int64(len(b)) {
		t.Errorf("EstimateSize = %d, built %d", est, len(b))
	}
	// In the compose window Date and Message-ID are not fixed yet.
	d.Date, d.MessageID = zeroTime, ""
	if est := EstimateSize(d); est < int64(len(b))-100 || est > int64(len(b))+100 {
		t.Errorf("EstimateSize without ids = %d, built %d", est, len(b))
	}
	// A draft that cannot be built still gets a figure above its payload.
	d.To = nil
	if est := EstimateSize(d); est < int64(len(big))*4/3 {
		t.Errorf("rough estimate %d", est)
	}
	// An Open that fails must not break the estimate.
	d = baseDraft()
	d.Attachments = []Attachment{{Name: "gone.pdf", Open: func() (io.ReadCloser, error) { return nil, errors.New("gone") }}}
	if EstimateSize(d) <= 0 {
		t.Error("no estimate")
	}
	if _, err := Build(d, CopyOptions{}); err == nil || !strings.Contains(err.Error(), "gone") {
		t.Errorf("Build with failing Open: %v", err)
	}
}
