package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"mailroom/tracking"
)

// TestEachStatusBatches: EachStatus reads many messages at a time; across
// its batch, recipient and chunk limits (messages without recipients, one
// with more than statusRecipients and several statusChunks), every
// message comes in order with its own recipients in id order, each with
// exactly the timeline Events gives for it.
func TestEachStatusBatches(t *testing.T) {
	ctx := context.Background()
	s := openTestStore(t)
	const messages = 2*statusBatch + 50
	big := 5
	count := func(m int) int {
		switch {
		case m == big:
			return statusRecipients + 4*statusChunk/3
		case m%7 == 0:
			return 0
		}
		return 1 + m%4
	}
	base := time.Now().Add(-time.Hour)
	rids := seedMessages(t, s, messages, count, func(m int) int64 {
		return tracking.Millis(base.Add(time.Duration(m%97) * time.Second)) // ties, broken by id
	})
	err := s.DB.WithTx(ctx, func(tx *sql.Tx) error {
		for i, rid := range rids {
			for k := range i % 3 { // none, one or two events
				e := tracking.Event{Recipient: rid, At: base.Add(time.Duration(k) * time.Minute), Kind: tracking.EvAccepted,
					Source: tracking.SrcOutbox, Text: fmt.Sprint("reply ", i, k)}
				if _, err := s.AddEvent(ctx, tx, e); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	var order []string
	rows, err := s.DB.R.Query(`SELECT id FROM messages ORDER BY created_at DESC, id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id)
		order = append(order, id)
	}
	rows.Close()

	n := 0
	err = s.EachStatus(ctx, StatusFilter{}, func(m tracking.MessageStatus) error {
		if n >= len(order) || m.ID != order[n] {
			return fmt.Errorf("message %d is %s, want %s", n, m.ID, order[n])
		}
		n++
		var want []int64
		rows, err := s.DB.R.Query(`SELECT id FROM recipients WHERE message=? ORDER BY id`, m.ID)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			want = append(want, id)
		}
		rows.Close()
		if m.Recipients == nil || len(m.Recipients) != len(want) {
			return fmt.Errorf("%s: %d recipients (nil: %v), want %d", m.ID, len(m.Recipients), m.Recipients == nil, len(want))
		}
		for i, r := range m.Recipients {
			if r.ID != want[i] {
				return fmt.Errorf("%s: recipient %d is %d, want %d", m.ID, i, r.ID, want[i])
			}
			evs, err := s.Events(ctx, r.ID)
			if err != nil {
				return err
			}
			wantEvs := []tracking.EventStatus{}
			for _, e := range evs {
				wantEvs = append(wantEvs, EventJSON(e))
			}
			if !reflect.DeepEqual(r.Events, wantEvs) {
				got, _ := json.Marshal(r.Events)
				exp, _ := json.Marshal(wantEvs)
				return fmt.Errorf("%s: recipient %d events\n got %s\nwant %s", m.ID, r.ID, got, exp)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != messages {
		t.Fatalf("%d messages, want %d", n, messages)
	}
}
