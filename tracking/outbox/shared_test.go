package outbox

import (
	"bytes"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"mailroom/mail/smtptest"
)

// personalized builds a message with one copy per recipient that differ
// only in a tracking header and a pixel, around a large shared attachment.
func personalized(n, attachment int) (Message, [][]byte) {
	m := message()
	att := bytes.Repeat([]byte(strings.Repeat("QUJD", 19)+"\r\n"), attachment/78)
	var whole [][]byte
	m.Copies = nil
	for i := range n {
		var b bytes.Buffer
		fmt.Fprintf(&b, "From: alice@example.test\r\nSubject: %s\r\nMessage-ID: %s\r\nX-Mailroom-Tracking-Id: copy%d\r\n\r\n", m.Subject, m.MessageID, i)
		fmt.Fprintf(&b, "<p>Hello</p><img src=\"https://t.example/o/copy%d.gif\">\r\n", i)
		b.Write(att)
		whole = append(whole, bytes.Clone(b.Bytes()))
		m.Copies = append(m.Copies, Copy{EnvID: fmt.Sprintf("env-%s-%d", m.Subject, i), TrackingID: fmt.Sprintf("copy%d", i),
			Body: b.Bytes(), Recipients: []Recipient{{Address: fmt.Sprintf("r%d@example.test", i), Trackable: true}}})
	}
	return m, whole
}

// A personalized send keeps its attachment once, not once per recipient,
// and every recipient still receives their own copy byte for byte.
func TestSharedCopiesStoredOnceSentWhole(t *testing.T) {
	e := newEnv(t, newFakeClock(), nil)
	m, whole := personalized(5, 200_000)
	id := e.enqueue(m)

	var stored, size int64
	if err := e.db.R.QueryRow(`SELECT sum(length(body)) FROM copies WHERE message=?`, id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if err := e.db.R.QueryRow(`SELECT size FROM messages WHERE id=?`, id).Scan(&size); err != nil {
		t.Fatal(err)
	}
	if one := int64(len(whole[0])); stored > one+5*200 {
		t.Errorf("5 copies of %d bytes stored in %d bytes: the shared part is kept more than once", one, stored)
	}
	if want := int64(5 * len(whole[0])); size != want {
		t.Errorf("message size %d, want the whole copies' %d", size, want)
	}

	srv := smtptest.Start(t, smtptest.Config{})
	e.runOnce(e.runner(newPeerDialer(srv)))
	got := map[string][]byte{}
	for _, r := range srv.Received() {
		for _, rc := range r.Rcpts {
			got[rc.Addr] = r.Data
		}
	}
	for i, w := range whole {
		addr := m.Copies[i].Recipients[0].Address
		if !bytes.Equal(got[addr], w) {
			t.Errorf("copy %d: the peer received %d bytes that differ from the %d built", i, len(got[addr]), len(w))
		}
	}
}

// Share is what a caller uses to keep only one whole copy in memory; a
// copy that shares little stays whole, and bad shares are refused.
func TestShareAndItsChecks(t *testing.T) {
	m, whole := personalized(2, 10_000)
	c := m.Copies[1]
	c.Share(whole[0])
	if c.SharedPrefix == 0 || c.SharedSuffix < 9_900 || c.size() != len(whole[1]) {
		t.Fatalf("shared %d+%d, middle %d of %d", c.SharedPrefix, c.SharedSuffix, len(c.Body), len(whole[1]))
	}
	small := Copy{Body: []byte("Subject: other\r\n\r\nhello\r\n")}
	small.Share(whole[0])
	if small.SharedPrefix+small.SharedSuffix != 0 {
		t.Errorf("a copy sharing %d bytes was cut", small.SharedPrefix+small.SharedSuffix)
	}

	e := newEnv(t, newFakeClock(), nil)
	first := m
	first.Copies = []Copy{c, m.Copies[0]}
	if _, err := e.ob.Enqueue(e.ctx, first); err == nil || !strings.Contains(err.Error(), "first copy must be whole") {
		t.Errorf("a shared first copy: %v", err)
	}
	tooMuch := m
	bad := c
	bad.SharedSuffix = len(whole[0])
	tooMuch.Copies = []Copy{m.Copies[0], bad}
	if _, err := e.ob.Enqueue(e.ctx, tooMuch); err == nil || !strings.Contains(err.Error(), "shares") {
		t.Errorf("a copy sharing more than the first copy has: %v", err)
	}
}

// A claim reads small bodies with it and leaves large ones to be read
// when their turn comes (32 copies of a large attachment claimed ahead
// would sit in memory at once); either way the peer gets every copy byte
// for byte. The small copies here add up to more than the limit: it is
// each copy's size that counts.
func TestLargeBodiesReadWhenTheirTurnComes(t *testing.T) {
	e := newEnv(t, newFakeClock(), nil)
	big, bigWhole := personalized(3, 2*eagerBodyMax)
	small, smallWhole := personalized(40, eagerBodyMax/20)
	e.enqueue(big)
	e.enqueue(small)
	cids, err := e.ob.dueCopies(e.ctx, "acct", e.ob.now(), 100)
	if err != nil || len(cids) != 43 {
		t.Fatal(len(cids), err)
	}
	var c claimedMany
	err = e.db.WithTx(e.ctx, func(tx *sql.Tx) error {
		var err error
		c, err = e.ob.claimManyTx(e.ctx, tx, cids, DefaultPolicy(), 0.5, e.ob.now())
		return err
	})
	if err != nil || len(c.jobs) != 43 {
		t.Fatal(len(c.jobs), err)
	}
	for _, j := range c.jobs {
		if large := j.size > eagerBodyMax; large != (j.body == nil) {
			t.Errorf("copy %d of %d bytes: body read with the claim: %v", j.copyID, j.size, j.body != nil)
		}
		if err := e.ob.loadBody(e.ctx, j); err != nil || int64(len(j.body)) != j.size {
			t.Errorf("copy %d: loadBody: %d bytes, %v", j.copyID, len(j.body), err)
		}
	}
	// Give the claims back and send for real.
	if err := e.ob.unclaim(e.ctx, c.jobs, skippedText); err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t, smtptest.Config{DSN: true})
	e.runOnce(e.runner(newPeerDialer(srv)))
	got := map[string][]byte{}
	for _, r := range srv.Received() {
		got[r.EnvID] = r.Data
	}
	for _, m := range []struct {
		msg   Message
		whole [][]byte
	}{{big, bigWhole}, {small, smallWhole}} {
		for i, w := range m.whole {
			if !bytes.Equal(got[m.msg.Copies[i].EnvID], w) {
				t.Errorf("%s copy %d arrived different", m.msg.Subject, i)
			}
		}
	}
}
