package tracking

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// The precedence table, written as a specification apart from Derive's
// code: every kind has a role, and the expected status of any two events
// follows from the roles alone.
type role int

const (
	roleIgnored role = iota // engagement and bookkeeping: never a status
	roleOutbox              // the queue's own view
	roleReport              // what a report proved after the message left
)

var spec = map[EventKind]struct {
	role   role
	status Status
	final  bool // outbox: nothing later in the queue changes it
	rank   int  // report: higher wins whatever the order
}{
	EvQueued:    {roleOutbox, Queued, false, 0},
	EvSending:   {roleOutbox, Sending, false, 0},
	EvDeferred:  {roleOutbox, Deferred, false, 0},
	EvUncertain: {roleOutbox, Uncertain, false, 0},
	EvReleased:  {roleOutbox, Queued, false, 0},
	EvRejected:  {roleOutbox, Rejected, true, 0},
	EvAccepted:  {roleOutbox, Accepted, true, 0},
	EvExpired:   {roleOutbox, Expired, true, 0},
	EvCanceled:  {roleOutbox, Canceled, true, 0},
	EvRelayed:   {roleReport, Relayed, false, 1},
	EvDelayed:   {roleReport, Delayed, false, 1},
	EvDelivered: {roleReport, Delivered, false, 3},
	EvBounced:   {roleReport, Bounced, false, 4},
	EvHeld:      {roleIgnored, "", false, 0},
	EvOpened:    {roleIgnored, "", false, 0},
	EvClicked:   {roleIgnored, "", false, 0},
	EvRead:      {roleIgnored, "", false, 0},
	EvReplied:   {roleIgnored, "", false, 0},
}

func expected(first, second EventKind) Status {
	a, b := spec[first], spec[second]
	switch {
	case a.role == roleIgnored && b.role == roleIgnored:
		return Queued
	case a.role == roleIgnored:
		return b.status
	case b.role == roleIgnored:
		return a.status
	case a.role == roleReport && b.role == roleReport:
		if a.rank > b.rank {
			return a.status
		}
		return b.status
	case a.role == roleReport:
		return a.status
	case b.role == roleReport:
		return b.status
	}
	if a.final && b.status != a.status {
		return a.status
	}
	return b.status
}

func ev(id int64, k EventKind, at time.Time) Event {
	e := Event{ID: id, Kind: k, At: at}
	if k == EvOpened {
		e.Detail = `{"class":"human-likely"}`
	}
	return e
}

// TestDerivePairs checks every ordered pair of event kinds (both orders
// are pairs of their own): 18 × 18 = 324 cases.
func TestDerivePairs(t *testing.T) {
	if len(spec) != 18 {
		t.Fatalf("spec covers %d kinds; add the new kind to the table", len(spec))
	}
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	n := 0
	for first := range spec {
		for second := range spec {
			evs := []Event{ev(1, first, t0), ev(2, second, t0.Add(time.Minute))}
			got, _ := Derive(evs)
			// Derive must not depend on the order of the slice.
			rev, _ := Derive([]Event{evs[1], evs[0]})
			if want := expected(first, second); got != want || rev != want {
				t.Errorf("%s then %s: got %s (reversed slice %s), want %s", first, second, got, rev, want)
			}
			n++
		}
	}
	t.Logf("%d ordered pairs checked", n)
}

// The rules the issue names, spelled out.
func TestDeriveNamedRules(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	cases := []struct {
		name  string
		kinds []EventKind
		want  Status
	}{
		{"a later delayed DSN never undoes delivered", []EventKind{EvQueued, EvAccepted, EvDelivered, EvDelayed}, Delivered},
		{"a bounce after an open stays bounced", []EventKind{EvQueued, EvAccepted, EvOpened, EvBounced, EvOpened}, Bounced},
		{"an open never proves delivery", []EventKind{EvQueued, EvAccepted, EvOpened, EvClicked, EvRead}, Accepted},
		{"uncertain is explicit", []EventKind{EvQueued, EvSending, EvUncertain}, Uncertain},
		{"expired is explicit", []EventKind{EvQueued, EvDeferred, EvDeferred, EvExpired}, Expired},
		{"a DSN after uncertain proves it left", []EventKind{EvQueued, EvSending, EvUncertain, EvDelivered}, Delivered},
		{"a DSN after expiry proves it left", []EventKind{EvQueued, EvUncertain, EvExpired, EvBounced}, Bounced},
		{"delayed then delivered", []EventKind{EvQueued, EvAccepted, EvDelayed, EvDelivered}, Delivered},
		{"deferred then accepted", []EventKind{EvQueued, EvDeferred, EvSending, EvAccepted}, Accepted},
		{"held keeps the status", []EventKind{EvQueued, EvUncertain, EvHeld}, Uncertain},
		{"released returns to the queue", []EventKind{EvQueued, EvUncertain, EvHeld, EvReleased}, Queued},
		{"nothing yet", nil, Queued},
	}
	for _, c := range cases {
		var evs []Event
		for i, k := range c.kinds {
			evs = append(evs, ev(int64(i+1), k, at(i)))
		}
		if got, _ := Derive(evs); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}

func TestDeriveEngagement(t *testing.T) {
	t0 := time.Now()
	evs := []Event{
		{ID: 1, Kind: EvAccepted, At: t0},
		{ID: 2, Kind: EvOpened, At: t0.Add(time.Second), Detail: `{"class":"machine-or-proxy"}`},
		{ID: 3, Kind: EvOpened, At: t0.Add(time.Hour), Detail: `{"class":"human-likely"}`},
		{ID: 4, Kind: EvOpened, At: t0.Add(2 * time.Hour), Detail: `not json`},
		{ID: 5, Kind: EvClicked, At: t0.Add(3 * time.Hour)},
		{ID: 6, Kind: EvRead, At: t0.Add(4 * time.Hour)},
		{ID: 7, Kind: EvReplied, At: t0.Add(5 * time.Hour)},
	}
	s, e := Derive(evs)
	want := Engagement{OpensTotal: 3, OpensHuman: 1, OpensMachine: 1, Clicks: 1, Read: true, Replied: true}
	if s != Accepted || e != want {
		t.Fatalf("got %s %+v, want accepted %+v", s, e, want)
	}
}

// Same timestamps are ordered by id, so the result is stable whatever the
// order of the input slice.
func TestDeriveIsOrderIndependent(t *testing.T) {
	kinds := make([]EventKind, 0, len(spec))
	for k := range spec {
		kinds = append(kinds, k)
	}
	r := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 2000; i++ {
		n := 1 + r.IntN(6)
		evs := make([]Event, n)
		for j := range evs {
			evs[j] = ev(int64(j+1), kinds[r.IntN(len(kinds))], t0.Add(time.Duration(r.IntN(3))*time.Minute))
		}
		want, wantEng := Derive(evs)
		r.Shuffle(len(evs), func(a, b int) { evs[a], evs[b] = evs[b], evs[a] })
		if got, gotEng := Derive(evs); got != want || gotEng != wantEng {
			t.Fatalf("%v: shuffled input gave %s %+v, want %s %+v", evs, got, gotEng, want, wantEng)
		}
	}
}

func Example_derive() {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	status, eng := Derive([]Event{
		{ID: 1, Kind: EvAccepted, At: t0},
		{ID: 2, Kind: EvOpened, At: t0.Add(time.Hour), Detail: `{"class":"human-likely"}`},
		{ID: 3, Kind: EvBounced, At: t0.Add(2 * time.Hour)},
	})
	fmt.Println(status, eng.OpensTotal)
	// Output: bounced 1
}

// The store applies an event later than all others to the cached result
// (StateOf) instead of deriving again: that must equal Derive over every
// event, for any history and any next event, ties in time included.
func TestApplyToCachedResultEqualsDerive(t *testing.T) {
	kinds := make([]EventKind, 0, len(spec))
	for k := range spec {
		kinds = append(kinds, k)
	}
	details := []string{`{"class":"human-likely"}`, `{"class":"machine-or-proxy"}`, `{}`, `not json`}
	r := rand.New(rand.NewPCG(3, 4))
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 5000; i++ {
		var evs []Event
		at := t0
		status, eng := Derive(nil)
		for j := 0; j < 1+r.IntN(10); j++ {
			at = at.Add(time.Duration(r.IntN(2)) * time.Minute) // ties half the time
			e := Event{ID: int64(j + 1), Kind: kinds[r.IntN(len(kinds))], At: at}
			if e.Kind == EvOpened {
				e.Detail = details[r.IntN(len(details))]
			}
			evs = append(evs, e)
			status, eng = StateOf(status, eng).Apply(e).Result()
			want, wantEng := Derive(evs)
			if status != want || eng != wantEng {
				t.Fatalf("%v: applied one by one %s %+v, Derive %s %+v", evs, status, eng, want, wantEng)
			}
		}
	}
}

func TestHandedOver(t *testing.T) {
	want := map[Status]bool{Accepted: true, Relayed: true, Delayed: true, Delivered: true, Bounced: true}
	for _, s := range AllStatuses {
		if got := s.HandedOver(); got != want[s] {
			t.Errorf("%s.HandedOver() = %v", s, got)
		}
		if s.HandedOver() && !s.Final() {
			t.Errorf("%s is handed over but not final", s)
		}
	}
}
