package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"mailroom/tracking"
)

// StatusJSON writes, one message at a time, the very bytes json.Encoder
// with SetIndent("", "  ") writes for the whole slice (the documented
// output of `mailroom status --json` before it streamed).
func TestStatusJSONEqualsEncoder(t *testing.T) {
	at := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	var msgs []tracking.MessageStatus
	for n := range 4 {
		var want, got bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(append([]tracking.MessageStatus{}, msgs...)); err != nil {
			t.Fatal(err)
		}
		jw := NewStatusJSON(&got)
		for _, m := range msgs {
			if err := jw.Write(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := jw.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Fatalf("%d messages:\n%s\nwant\n%s", n, got.Bytes(), want.Bytes())
		}
		msgs = append(msgs, tracking.MessageStatus{ID: fmt.Sprint("m", n), Subject: "<b>&", CreatedAt: at,
			Recipients: []tracking.RecipientStatus{{Address: "a@example.test", Status: tracking.Accepted,
				Events: []tracking.EventStatus{{At: at, Kind: tracking.EvAccepted, Detail: map[string]any{"k": 1}}}}}})
	}
}
