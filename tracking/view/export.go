package view

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"mailroom/tracking"
	"mailroom/tracking/store"
)

// CSVHeader is the first line of a CSV export: one row per event, with
// its message and recipient repeated so a spreadsheet can filter on any.
var CSVHeader = []string{"id", "message_id", "account", "subject", "created_at", "recipient", "status",
	"opens", "human_opens", "clicks", "read", "replied", "suppressed",
	"event_at", "event", "source", "command", "code", "enhanced_code", "text", "match"}

// Export writes the messages matching q as "json" (the `status --json`
// schema) or "csv" (CSVHeader). Messages are read one at a time, so an
// export of the whole history does not hold it in memory.
func (v *View) Export(ctx context.Context, st *store.Store, q Query, format string, w io.Writer) error {
	ids, err := v.IDs(ctx, q)
	if err != nil {
		return err
	}
	switch format {
	case "json":
		return exportJSON(ctx, st, ids, w)
	case "csv":
		return exportCSV(ctx, st, ids, w)
	}
	return fmt.Errorf("unknown export format %q (csv or json)", format)
}

func one(ctx context.Context, st *store.Store, id string) (tracking.MessageStatus, error) {
	ms, err := st.Statuses(ctx, store.StatusFilter{ID: id})
	if err != nil {
		return tracking.MessageStatus{}, err
	}
	if len(ms) != 1 {
		return tracking.MessageStatus{}, fmt.Errorf("message %s vanished during the export", id)
	}
	return ms[0], nil
}

func exportJSON(ctx context.Context, st *store.Store, ids []string, w io.Writer) error {
	jw := store.NewStatusJSON(w)
	for _, id := range ids {
		m, err := one(ctx, st, id)
		if err != nil {
			return err
		}
		if err := jw.Write(m); err != nil {
			return err
		}
	}
	return jw.Close()
}

func exportCSV(ctx context.Context, st *store.Store, ids []string, w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, id := range ids {
		m, err := one(ctx, st, id)
		if err != nil {
			return err
		}
		for _, r := range m.Recipients {
			base := []string{m.ID, m.MessageID, m.Account, csvSafe(m.Subject), ts(m.CreatedAt), r.Address, string(r.Status),
				strconv.Itoa(r.Opens.Total), strconv.Itoa(r.Opens.Human), strconv.Itoa(r.Clicks),
				strconv.FormatBool(r.Read), strconv.FormatBool(r.Replied), strconv.FormatBool(r.Suppressed)}
			if len(r.Events) == 0 {
				if err := cw.Write(append(base, "", "", "", "", "", "", "", "")); err != nil {
					return err
				}
			}
			for _, e := range r.Events {
				code := ""
				if e.Code != 0 {
					code = strconv.Itoa(e.Code)
				}
				row := append(append([]string{}, base...), ts(e.At), string(e.Kind), string(e.Source), e.Command, code,
					e.EnhancedCode, csvSafe(e.Text), e.Match)
				if err := cw.Write(row); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formula injection: a subject or a remote
// server's words starting with = + - @ would otherwise run as a formula
// when the export is opened in a spreadsheet.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}
