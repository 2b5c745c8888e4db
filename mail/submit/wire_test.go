package submit_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/mail/submit"
	"mailroom/mail/wire"
)

// TestWireHostileBodies captures what the client really wrote after DATA
// for bodies built to smuggle a second message or confuse dot handling.
func TestWireHostileBodies(t *testing.T) {
	hostile := map[string]string{
		"bare LF":               "Subject: x\n\nline1\nline2\n",
		"bare CR":               "Subject: x\r\rline1\rline2\r",
		"LF dot LF smuggling":   "Subject: x\r\n\r\nhello\n.\nMAIL FROM:<evil@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\nforged\r\n.\r\n",
		"CR dot CR smuggling":   "Subject: x\r\n\r\nhello\r.\rMAIL FROM:<evil@example.test>\r\n",
		"CRLF dot LF":           "Subject: x\r\n\r\nhello\r\n.\nQUIT\r\n",
		"dot CRLF at start":     ".\r\nSubject: x\r\n\r\nbody\r\n",
		"lone dots":             "Subject: x\r\n\r\n.\r\n..\r\n...\r\n. \r\n.x\r\n.",
		"NULs":                  "Subject: x\r\n\r\nnul\x00here\x00\r\n\x00.\r\n",
		"no final newline":      "Subject: x\r\n\r\nno newline at end",
		"long but legal lines":  "Subject: x\r\n\r\n" + strings.Repeat("y", 998) + "\r\n." + strings.Repeat("z", 997) + "\n",
		"mixed CR LF soup":      "a\r\r\n\n\r\r.\r\n\r.\n\n.\r\r\n",
		"empty body":            "",
		"only a dot":            ".",
		"terminator look-alike": "x\r\n.\r\n.\r\n",
	}
	for name, body := range hostile {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := smtptest.Start(t, smtptest.Config{})
			env := mail.Envelope{From: "s@example.test", Recipients: []string{"b@example.test"}}
			// Non-seekable, so the body is streamed (the harder path).
			res, err := submit.Submit(context.Background(), opts(srv), env, io.MultiReader(strings.NewReader(body)))
			if err != nil || res.Rcpts[0].Outcome != mail.Accepted {
				t.Fatalf("%+v %v", res, err)
			}
			sent := srv.ClientBytes()
			if i := bareCRLF(sent); i >= 0 {
				t.Fatalf("bare CR or LF at %d: %q", i, sent[max(0, i-20):min(len(sent), i+20)])
			}
			// The body on the wire: after "DATA\r\n", up to the terminator.
			_, afterData, ok := bytes.Cut(sent, []byte("DATA\r\n"))
			if !ok {
				t.Fatal("no DATA")
			}
			want := canonical(body)
			wantWire := stuff(want) + ".\r\n"
			if !bytes.HasPrefix(afterData, []byte(wantWire)) {
				t.Fatalf("wire body\n got %q\nwant %q", afterData, wantWire)
			}
			rest := afterData[len(wantWire):]
			if !bytes.Equal(rest, []byte("QUIT\r\n")) {
				t.Errorf("after the terminator: %q", rest)
			}
			// Exactly one terminator: the only "\r\n.\r\n" is the last one.
			if n := bytes.Count([]byte("\r\n"+wantWire), []byte("\r\n.\r\n")); n != 1 {
				t.Errorf("%d terminators in %q", n, wantWire)
			}
			got := srv.Received()
			if len(got) != 1 || string(got[0].Data) != want {
				t.Errorf("server stored %q, want %q", got[0].Data, want)
			}
			if len(got[0].Rcpts) != 1 || got[0].From != "s@example.test" {
				t.Errorf("smuggled envelope: %+v", got[0])
			}
		})
	}
}

// canonical is what the server must store: CRLF everywhere and a final
// CRLF (the DATA writer adds one before "." when missing; an empty body
// stays empty).
func canonical(s string) string {
	b, _ := io.ReadAll(wire.CanonicalizeCRLF(strings.NewReader(s)))
	out := string(b)
	if out != "" && !strings.HasSuffix(out, "\r\n") {
		out += "\r\n"
	}
	return out
}

// stuff is RFC 5321 4.5.2 transparency: a leading "." is doubled.
func stuff(s string) string {
	if s == "" {
		return ""
	}
	lines := strings.SplitAfter(s, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, ".") {
			lines[i] = "." + l
		}
	}
	return strings.Join(lines, "")
}

func bareCRLF(b []byte) int {
	for i, c := range b {
		if c == '\r' && (i+1 == len(b) || b[i+1] != '\n') {
			return i
		}
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			return i
		}
	}
	return -1
}

// TestLongLineRefused: a line over 998 octets is refused with a clear,
// permanent error; a seekable body is refused before MAIL, a streamed one
// by closing the connection without "." so nothing is delivered.
func TestLongLineRefused(t *testing.T) {
	body := "Subject: x\r\n\r\n" + strings.Repeat("y", 999) + "\r\n"
	for _, seekable := range []bool{true, false} {
		srv := smtptest.Start(t, smtptest.Config{})
		var r io.Reader = strings.NewReader(body)
		if !seekable {
			r = io.MultiReader(r)
		}
		env := mail.Envelope{From: "s@example.test", Recipients: []string{"b@example.test"}}
		res, err := submit.Submit(context.Background(), opts(srv), env, r)
		rr := res.Rcpts[0]
		if rr.Outcome != mail.Rejected || !strings.Contains(rr.Reply.Text, "longer than 998 octets") {
			t.Errorf("seekable=%v: %+v", seekable, rr)
		}
		if len(srv.Received()) != 0 {
			t.Errorf("seekable=%v: a message was delivered", seekable)
		}
		sent := srv.ClientBytes()
		if seekable && (err != nil || bytes.Contains(sent, []byte("MAIL FROM"))) {
			t.Errorf("seekable: err %v, transaction opened: %q", err, sent)
		}
		if !seekable && (mail.OutcomeOf(err) != mail.Rejected || bytes.Contains(sent, []byte("\r\n.\r\n"))) {
			t.Errorf("streamed: err %v, terminator sent: %v", err, bytes.Contains(sent, []byte("\r\n.\r\n")))
		}
	}
}
