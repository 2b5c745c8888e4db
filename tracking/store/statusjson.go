package store

import (
	"encoding/json"
	"io"

	"mailroom/tracking"
)

// StatusJSON writes messages as the documented JSON array
// (docs/STATUS_JSON.md) one at a time, laid out as json.Encoder with
// SetIndent("", "  ") lays out the whole slice: `mailroom status --json`
// and the JSON export stream the same bytes without holding every message.
type StatusJSON struct {
	w io.Writer
	n int
}

// NewStatusJSON writes an array of messages to w: Write adds each,
// Close ends it.
func NewStatusJSON(w io.Writer) *StatusJSON { return &StatusJSON{w: w} }

// Write adds one message.
func (j *StatusJSON) Write(m tracking.MessageStatus) error {
	b, err := json.MarshalIndent(m, "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if j.n == 0 {
		sep = "[\n  "
	}
	j.n++
	_, err = io.WriteString(j.w, sep+string(b))
	return err
}

// Close ends the array ("[]" when nothing was written).
func (j *StatusJSON) Close() error {
	end := "\n]\n"
	if j.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(j.w, end)
	return err
}
