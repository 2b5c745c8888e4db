package submit

import (
	"bufio"
	"io"
	"net/textproto"
	"strings"
	"testing"
)

// A reply is read whole within the limits; a line over maxLine, or a
// reply of endless continuation lines, ends with an error instead of
// being held in memory.
func TestReplyLimits(t *testing.T) {
	read := func(stream string) (string, error) {
		l := &replyLimitReader{r: strings.NewReader(stream), maxLine: 100, maxReply: 1000}
		l.reset()
		_, msg, err := textproto.NewReader(bufio.NewReader(l)).ReadResponse(0)
		return msg, err
	}
	if msg, err := read("250-first\r\n250 2.0.0 done\r\n"); err != nil || msg != "first\n2.0.0 done" {
		t.Errorf("ordinary reply: %q, %v", msg, err)
	}
	if _, err := read("250 " + strings.Repeat("x", 200) + "\r\n"); err == nil || !strings.Contains(err.Error(), "line longer") {
		t.Errorf("long line: %v", err)
	}
	endless := strings.Repeat("250-xxxxxxxx\r\n", 200) + "250 end\r\n"
	if _, err := read(endless); err == nil || !strings.Contains(err.Error(), "reply longer") {
		t.Errorf("endless reply: %v", err)
	}
	// The count starts again with each reply.
	l := &replyLimitReader{r: strings.NewReader(strings.Repeat("250 ok\r\n", 300)), maxLine: 100, maxReply: 1000}
	r := textproto.NewReader(bufio.NewReaderSize(l, 16))
	for i := range 300 {
		l.reset()
		if _, _, err := r.ReadResponse(0); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	if _, _, err := r.ReadResponse(0); err != io.EOF {
		t.Errorf("after the last reply: %v", err)
	}
}
