package outbox

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/mail"
	"mailroom/mail/smtptest"
	"mailroom/tracking"
)

func testRec(attempt int64, text string) resultRec {
	return resultRec{Attempt: attempt, Message: "m1", EnvID: "env-1", Server: "mx.example.test", At: 1_700_000_000_000,
		Rcpts: []resultRcp{{ID: 7, Number: 1, Command: ".", Code: 250, Enhanced: "2.0.0", Text: text}}}
}

// Records come back from the file as written; a torn slot, a record too
// big for a slot and a cleared file give nothing back.
func TestResultLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mailroom.db-results")
	l, err := openResultLog(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.clear(); err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= 3; i++ {
		if _, err := l.write(0, ptr(testRec(i, "queued as "+strings.Repeat("A", int(i))))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := l.write(1, ptr(testRec(4, "other session"))); err != nil {
		t.Fatal(err)
	}
	if _, err := l.write(0, ptr(testRec(5, strings.Repeat("x", slotSize)))); !errors.Is(err, errNotForLog) {
		t.Errorf("a record larger than a slot: %v", err)
	}
	if _, err := l.write(maxResultRings, ptr(testRec(6, "no ring"))); !errors.Is(err, errNotForLog) {
		t.Errorf("a session without a ring: %v", err)
	}
	l.Close()

	// Tear the second record: its CRC no longer matches.
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("garbage"), slotSize+20)
	f.Close()

	l, err = openResultLog(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var got []int64
	for _, r := range l.found {
		got = append(got, r.Attempt)
	}
	if fmt.Sprint(got) != "[1 3 4]" {
		t.Errorf("records read back: %v, want attempts 1, 3 and 4", got)
	}
	if r := l.found[0]; r.Rcpts[0].Text != "queued as A" || r.Server != "mx.example.test" || r.At != 1_700_000_000_000 {
		t.Errorf("record read back as %+v", r)
	}
	if err := l.clear(); err != nil {
		t.Fatal(err)
	}
	l2, _ := openResultLog(path)
	defer l2.Close()
	if len(l2.found) != 0 {
		t.Errorf("%d records after clear", len(l2.found))
	}
}

// A session never overwrites a record the applier has not applied: it
// waits, and an applier failure releases it with the error.
func TestResultLogRingWaitsForTheApplier(t *testing.T) {
	l, err := openResultLog(filepath.Join(t.TempDir(), "r"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range ringSlots {
		if _, err := l.write(0, ptr(testRec(int64(i+1), "ok"))); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := l.write(0, ptr(testRec(ringSlots+1, "ok")))
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("wrote over an unapplied record: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	l.markApplied(0, 1)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := l.write(0, ptr(testRec(ringSlots+2, "ok")))
		done <- err
	}()
	boom := errors.New("disk gone")
	time.Sleep(20 * time.Millisecond)
	l.fail(boom)
	if err := <-done; !errors.Is(err, boom) {
		t.Errorf("a writer waiting when the applier failed: %v", err)
	}
	// A ring with room still takes records after the failure: an
	// acceptance already given by the server must reach the file.
	if _, err := l.write(1, ptr(testRec(ringSlots+3, "ok"))); err != nil {
		t.Errorf("a ring with room after the applier failed: %v", err)
	}
}

// An acceptance logged by a run that died before applying it is applied
// by the next start: accepted with the server's words and time, not
// "uncertain", and never sent again.
func TestLoggedAcceptanceSurvivesACrash(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, clock, nil)
	p := DefaultPolicy()
	id := e.enqueue(message("bob@example.test"))
	cids, err := e.ob.dueCopies(e.ctx, "acct", clock.Now(), 10)
	if err != nil || len(cids) != 1 {
		t.Fatal(cids, err)
	}
	j, err := e.ob.claim(e.ctx, cids[0], p, 0.5)
	if err != nil || j == nil {
		t.Fatal(j, err)
	}
	// What a session does after "250": the hand-over mark, then the record.
	h, err := openHandOver(e.db.Path + "-sending")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.mark(0, j.attempt, 0); err != nil {
		t.Fatal(err)
	}
	h.Close()
	acceptedAt := clock.Now()
	rec, ok := cleanResult(j, j.rcpts, mail.SubmitResult{Server: "mx.example.test", DSNRequested: true, BodySent: true,
		Final: &mail.Reply{Command: ".", Code: 250, Enhanced: "2.0.0", Text: "Ok: queued as 4AbC"},
		Rcpts: []mail.RcptResult{{Address: "bob@example.test", Outcome: mail.Accepted,
			Reply: mail.Reply{Command: ".", Code: 250, Enhanced: "2.0.0", Text: "Ok: queued as 4AbC"}}}}, nil, acceptedAt)
	if !ok {
		t.Fatal("a clean acceptance was not taken for the log")
	}
	l, err := openResultLog(e.db.Path + "-results")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.write(0, &rec); err != nil {
		t.Fatal(err)
	}
	l.Close()

	clock.Advance(time.Minute)
	srv := smtptest.Start(t, smtptest.Config{})
	e.runOnce(e.runner(newPeerDialer(srv)))
	if n := len(srv.Received()); n != 0 {
		t.Errorf("sent again %d times", n)
	}
	if st := e.statuses(id)["bob@example.test"]; st != tracking.Accepted {
		t.Fatalf("after the restart: %s (%s)", st, kinds(e.events(id, "bob@example.test")))
	}
	evs := e.events(id, "bob@example.test")
	last := evs[len(evs)-1]
	if last.Kind != tracking.EvAccepted || last.Text != "Ok: queued as 4AbC" || !last.At.Equal(acceptedAt.Truncate(time.Millisecond)) {
		t.Errorf("accepted event %s %q at %v, want the logged reply at %v", last.Kind, last.Text, last.At, acceptedAt)
	}
	var open int
	e.db.R.QueryRow(`SELECT count(*) FROM outbox_attempts WHERE ended_at=0`).Scan(&open)
	if open != 0 {
		t.Errorf("%d attempts still open", open)
	}
	// The file was emptied: a second start applies nothing twice.
	e.runOnce(e.runner(newPeerDialer(srv)))
	if n := len(e.events(id, "bob@example.test")); n != len(evs) {
		t.Errorf("%d events after a second start, want %d", n, len(evs))
	}
}

func ptr[T any](v T) *T { return &v }

// Whatever a slot holds (a torn write, another file's bytes), reading it
// never panics, and an encoded record reads back as written.
func FuzzDecodeSlot(f *testing.F) {
	good, _ := encodeSlot(3, ptr(testRec(9, "queued")))
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte{})
	f.Add(make([]byte, slotSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		if rec, ok := decodeSlot(b); ok {
			again, err := encodeSlot(binary.LittleEndian.Uint64(b[8:16]), &rec)
			if err != nil {
				return // a payload JSON re-encodes larger than a slot
			}
			if back, ok := decodeSlot(again); !ok || fmt.Sprint(back) != fmt.Sprint(rec) {
				t.Fatalf("%+v read back as %+v", rec, back)
			}
		}
	})
}

// When the database stops taking the applier's commits (a full disk), the
// run stops with the error and the logged acceptances wait in the file:
// the next run applies them, and every recipient ends accepted, each
// copy sent exactly once.
func TestApplierFailureLosesNothing(t *testing.T) {
	e := newEnv(t, nil, fastPolicy())
	srv := smtptest.Start(t, smtptest.Config{DSN: true})
	var ids []string
	for range 300 {
		ids = append(ids, e.enqueue(message("bob@example.test")))
	}
	full := errors.New("database or disk is full")
	r := e.runner(newPeerDialer(srv))
	batches := 0
	r.applyFault = func() error {
		if batches++; batches == 1 {
			// The first batch goes in, slowly: the sessions go on
			// sending meanwhile, and the next batch meets the full disk.
			time.Sleep(30 * time.Millisecond)
			return nil
		}
		return full
	}
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	if err := r.RunOnce(ctx); !errors.Is(err, full) {
		t.Fatalf("run with a full database: %v", err)
	}
	sent := len(srv.Received())
	var logged int
	e.db.R.QueryRow(`SELECT count(*) FROM outbox_attempts WHERE ended_at=0`).Scan(&logged)
	t.Logf("before the failure stopped the run: %d sent, %d attempts left open", sent, logged)
	if logged == 0 {
		t.Fatalf("%d sent and no acceptance left waiting in the log: the failure came too late to test anything", sent)
	}

	e.runOnce(e.runner(newPeerDialer(srv)))
	for k, n := range delivered(srv) {
		if n != 1 {
			t.Errorf("%s delivered %d times", k, n)
		}
	}
	if n := len(delivered(srv)); n != len(ids) {
		t.Errorf("%d copies delivered, want %d", n, len(ids))
	}
	for _, id := range ids {
		if st := e.statuses(id)["bob@example.test"]; st != tracking.Accepted {
			t.Errorf("%s: %s (%s)", id, st, kinds(e.events(id, "bob@example.test")))
		}
	}
}

// A panic after the acceptance went to the result log (here in the hook
// that follows it) is not an interrupted attempt: the copy ends accepted
// and is not sent again.
func TestPanicAfterLoggedAcceptance(t *testing.T) {
	e := newEnv(t, nil, fastPolicy())
	id := e.enqueue(message("bob@example.test"))
	srv := smtptest.Start(t, smtptest.Config{})
	r := e.runner(newPeerDialer(srv))
	panicked := false
	r.hook = func(h hookInfo) {
		if h.Point == hookRecorded && !panicked {
			panicked = true
			panic("after the record")
		}
	}
	e.runOnce(r)
	e.runOnce(e.runner(newPeerDialer(srv)))
	if !panicked {
		t.Fatal("the hook never ran")
	}
	if n := len(srv.Received()); n != 1 {
		t.Errorf("delivered %d times, want 1", n)
	}
	if st := e.statuses(id)["bob@example.test"]; st != tracking.Accepted {
		t.Errorf("%s (%s)", st, kinds(e.events(id, "bob@example.test")))
	}
}
