package tracking

import (
	"encoding/json"
	"sort"
)

// reportRank orders what reports can say after acceptance. A higher rank
// is never undone by a lower one arriving later: a delayed DSN after a
// delivered one (a slow second hop) does not make the message late again,
// and a bounce is the strongest news because the user must act on it.
var reportRank = map[EventKind]int{
	EvRelayed:   1,
	EvDelayed:   1, // relayed and delayed are equal: the later one wins
	EvDelivered: 3,
	EvBounced:   4,
}

// outboxStatus maps the queue's events to the status they set.
var outboxStatus = map[EventKind]Status{
	EvQueued:    Queued,
	EvSending:   Sending,
	EvDeferred:  Deferred,
	EvUncertain: Uncertain,
	EvRejected:  Rejected,
	EvAccepted:  Accepted,
	EvExpired:   Expired,
	EvCanceled:  Canceled,
	EvReleased:  Queued,
}

// outboxFinal are the queue's terminal statuses: no later queue event can
// change them (a stray "sending" after "accepted" would be a bug upstream,
// and the user must not see an accepted message fall back to sending).
var outboxFinal = map[Status]bool{Accepted: true, Rejected: true, Expired: true, Canceled: true}

// Derive computes a recipient's status and engagement from its events. The
// events may arrive in any order; they are considered by time, then by id.
//
// Precedence: any report (DSN or non-standard bounce) outranks the queue's
// own view, because it proves the message left (even a message we recorded
// as uncertain or expired); among reports, reportRank decides and equal
// ranks go to the later event; engagement never changes the status.
func Derive(events []Event) (Status, Engagement) {
	evs := make([]Event, len(events))
	copy(evs, events)
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].At.Equal(evs[j].At) {
			return evs[i].At.Before(evs[j].At)
		}
		return evs[i].ID < evs[j].ID
	})
	var st State
	for _, e := range evs {
		st = st.Apply(e)
	}
	return st.Result()
}

// State is what Derive has computed after some events, in the form that
// lets one more event be applied without the others: the queue's status
// and the strongest report apart. The zero State is "no events".
type State struct {
	queue      Status    // the queue's own view; "" is Queued
	report     EventKind // the strongest report so far; "" is none
	engagement Engagement
}

// StateOf rebuilds the State behind a result of Derive (a recipient's
// cached status and engagement), so that the store can apply an event
// later than all of a recipient's events without reading them again:
// StateOf(Derive(evs)).Apply(e).Result() == Derive(append(evs, e)) when e
// sorts after every event of evs. A report status stands for the report
// (the queue's view underneath no longer matters: reports always win).
func StateOf(s Status, eng Engagement) State {
	st := State{engagement: eng}
	if _, ok := reportRank[EventKind(s)]; ok {
		st.report = EventKind(s)
	} else {
		st.queue = s
	}
	return st
}

// Apply returns the state after one more event, later than every event
// already applied. This is the single place of the precedence rules.
func (st State) Apply(e Event) State {
	if st.queue == "" {
		st.queue = Queued
	}
	if s, ok := outboxStatus[e.Kind]; ok {
		if !outboxFinal[st.queue] || s == st.queue {
			st.queue = s
		}
		return st
	}
	if r, ok := reportRank[e.Kind]; ok {
		if st.report == "" || r >= reportRank[st.report] {
			st.report = e.Kind
		}
		return st
	}
	switch e.Kind {
	case EvOpened:
		st.engagement.OpensTotal++
		switch openClassOf(e) {
		case HumanLikely:
			st.engagement.OpensHuman++
		case MachineOrProxy:
			st.engagement.OpensMachine++
		}
	case EvClicked:
		st.engagement.Clicks++
	case EvRead:
		st.engagement.Read = true
	case EvReplied:
		st.engagement.Replied = true
	}
	return st
}

// Result is the status and engagement of the state.
func (st State) Result() (Status, Engagement) {
	if st.report != "" {
		return Status(st.report), st.engagement
	}
	if st.queue == "" {
		return Queued, st.engagement
	}
	return st.queue, st.engagement
}

// Final reports whether no queue action can change the status any more:
// the outbox is done with the recipient (reports may still arrive).
func (s Status) Final() bool {
	switch s {
	case Queued, Sending, Deferred, Uncertain:
		return false
	}
	return true
}

// HandedOver reports whether a submission server accepted the message for
// the recipient: accepted, or a report about it since (relayed, delayed,
// delivered, bounced). A final status that is not handed over (rejected,
// expired, canceled) means the message never left.
func (s Status) HandedOver() bool {
	switch s {
	case Accepted, Relayed, Delayed, Delivered, Bounced:
		return true
	}
	return false
}

// OpenDetail is the Detail JSON of an "opened" or "clicked" event.
type OpenDetail struct {
	Class     OpenClass `json:"class"`
	Reason    string    `json:"reason"`
	UserAgent string    `json:"user_agent,omitempty"`
	Source    string    `json:"source,omitempty"` // truncated IP or ""
}

func openClassOf(e Event) OpenClass {
	var d OpenDetail
	if json.Unmarshal([]byte(e.Detail), &d) != nil || d.Class == "" {
		return UnknownOpen
	}
	return d.Class
}
