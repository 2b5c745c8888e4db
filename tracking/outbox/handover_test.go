package outbox

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"mailroom/tracking"
)

func TestHandOverMarksSurviveAndAreChecked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mailroom.db-sending")
	h, err := openHandOver(path)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2, s3 := h.acquire(), h.acquire(), h.acquire()
	if s1 == s2 || s2 == s3 {
		t.Fatalf("slots %d %d %d", s1, s2, s3)
	}
	for _, m := range []struct {
		slot    int
		attempt int64
		part    int32
	}{{s1, 7, 0}, {s2, 8, 0}, {s2, 9, 1}, {s3, 10, 0}} { // s2 overwritten: 8 is gone
		if err := h.mark(m.slot, m.attempt, m.part); err != nil {
			t.Fatal(err)
		}
	}
	if !h.handedOver(9, 1) || h.handedOver(9, 0) {
		t.Fatal("live marks: attempt 9 part 1 only")
	}
	h.recorded(9)
	if h.handedOver(9, 1) {
		t.Fatal("a recorded attempt is still handed over")
	}
	h.release(s2)
	if s := h.acquire(); s != s2 {
		t.Fatalf("released slot %d not reused (got %d)", s2, s)
	}
	h.Close()

	// A torn slot (here: one byte changed) is ignored, the others read.
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[int(s3)*markSize+3] ^= 0x40
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	h, err = openHandOver(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	for _, c := range []struct {
		attempt   int64
		partsDone int32
		want      bool
	}{{7, 0, true}, {7, 1, false}, {8, 0, false}, {9, 1, true}, {9, 0, false}, {10, 0, false}} {
		if got := h.handedOver(c.attempt, c.partsDone); got != c.want {
			t.Errorf("after reopening: handedOver(%d, %d) = %v, want %v", c.attempt, c.partsDone, got, c.want)
		}
	}
	if err := h.clear(); err != nil {
		t.Fatal(err)
	}
	if h.handedOver(7, 0) {
		t.Error("clear kept a mark in memory")
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != preallocSlots*markSize {
		t.Errorf("after clear: %v, %v; want %d zeroed bytes", fi, err, preallocSlots*markSize)
	}
	h2, err := openHandOver(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	if len(h2.found) != 0 {
		t.Errorf("zeroed slots read as marks: %v", h2.found)
	}
}

// Recovery believes a mark only for the part of the attempt in flight: a
// mark written for part 0 of an attempt whose part 0 was recorded (a 452
// split it) says nothing about part 1, whose body was never handed over.
func TestRecoverReadsHandOverMarksPerPart(t *testing.T) {
	clock := newFakeClock()
	e := newEnv(t, clock, nil)
	p := DefaultPolicy()
	ids := []string{e.enqueue(message("bob@example.test")), e.enqueue(message("carol@example.test")),
		e.enqueue(message("dave@example.test"))}
	cids, err := e.ob.dueCopies(e.ctx, "acct", clock.Now(), 10)
	if err != nil || len(cids) != 3 {
		t.Fatal(cids, err)
	}
	var jobs []*job
	for _, c := range cids {
		j, err := e.ob.claim(e.ctx, c, p, 0.5)
		if err != nil || j == nil {
			t.Fatal(j, err)
		}
		jobs = append(jobs, j)
	}
	// jobs[2] had its first part recorded before the crash.
	if _, err := e.db.W.ExecContext(e.ctx, qBodyReset, jobs[2].attempt); err != nil {
		t.Fatal(err)
	}
	// The crashed run's marks: jobs[1] part 0 (handed over), jobs[2] part 0
	// (stale: that part is recorded). jobs[0] has none.
	path := filepath.Join(t.TempDir(), "sending")
	h, err := openHandOver(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, j := range jobs[1:] {
		if err := h.mark(i, j.attempt, 0); err != nil {
			t.Fatal(err)
		}
	}
	h.Close()
	if e.ob.handover, err = openHandOver(path); err != nil {
		t.Fatal(err)
	}
	defer func() { e.ob.handover.Close(); e.ob.handover = nil }()
	clock.Advance(time.Second)
	if n, err := e.ob.Recover(e.ctx, p); err != nil || n != 3 {
		t.Fatalf("recovered %d, %v", n, err)
	}
	for i, want := range []tracking.Status{tracking.Deferred, tracking.Uncertain, tracking.Deferred} {
		if got := e.message(ids[i]).Recipients[0].Status; got != want {
			t.Errorf("copy %d: %s after recovery, want %s", i, got, want)
		}
	}
}
