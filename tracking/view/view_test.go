package view_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mailroom/internal/seed"
	"mailroom/internal/sqlitedb"
	"mailroom/tracking"
	"mailroom/tracking/store"
	"mailroom/tracking/view"
)

func open(t *testing.T, n int) (*store.Store, *view.View) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "v.db"), sqlitedb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st, err := store.OpenStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	v, err := view.Open(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := seed.Run(ctx, db, seed.Options{Messages: n, Seed: 7, Now: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	return st, v
}

// naive recomputes a filter the slow way from the full status export.
func naive(t *testing.T, st *store.Store, keep func(tracking.MessageStatus) bool) int {
	all, err := st.Statuses(context.Background(), store.StatusFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range all {
		if keep(m) {
			n++
		}
	}
	return n
}

func anyRecipient(m tracking.MessageStatus, f func(tracking.RecipientStatus) bool) bool {
	for _, r := range m.Recipients {
		if f(r) {
			return true
		}
	}
	return false
}

func TestFiltersAgreeWithNaiveScan(t *testing.T) {
	ctx := context.Background()
	st, v := open(t, 600)
	cases := []struct {
		name string
		q    view.Query
		keep func(tracking.MessageStatus) bool
	}{
		{"all", view.Query{}, func(tracking.MessageStatus) bool { return true }},
		{"bounced status", view.Query{Statuses: []tracking.Status{tracking.Bounced}},
			func(m tracking.MessageStatus) bool {
				return anyRecipient(m, func(r tracking.RecipientStatus) bool { return r.Status == tracking.Bounced })
			}},
		{"has bounces + account", view.Query{HasBounces: true, Account: "newsletter"},
			func(m tracking.MessageStatus) bool {
				return m.Account == "newsletter" && anyRecipient(m, func(r tracking.RecipientStatus) bool { return r.Status == tracking.Bounced })
			}},
		{"opened", view.Query{Opened: true},
			func(m tracking.MessageStatus) bool {
				return anyRecipient(m, func(r tracking.RecipientStatus) bool { return r.Opens.Total > 0 })
			}},
		{"search address", view.Query{Search: "USER12."},
			func(m tracking.MessageStatus) bool {
				return anyRecipient(m, func(r tracking.RecipientStatus) bool { return strings.Contains(r.Address, "user12.") })
			}},
		{"search subject", view.Query{Search: "shipped"},
			func(m tracking.MessageStatus) bool { return strings.Contains(m.Subject, "shipped") }},
		{"short search", view.Query{Search: "#1"},
			func(m tracking.MessageStatus) bool { return strings.Contains(m.Subject, "#1") }},
		{"search with LIKE metacharacters", view.Query{Search: "100%_"},
			func(m tracking.MessageStatus) bool { return strings.Contains(m.Subject, "100%_") }},
		{"ids", view.Query{IDs: []string{"0000000000000001", "0000000000000003"}},
			func(m tracking.MessageStatus) bool { return m.ID == "0000000000000001" || m.ID == "0000000000000003" }},
		{"date range", view.Query{From: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)},
			func(m tracking.MessageStatus) bool {
				return !m.CreatedAt.Before(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)) && m.CreatedAt.Before(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
			}},
	}
	for _, c := range cases {
		got, err := v.Count(ctx, c.q)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := naive(t, st, c.keep)
		if got != want {
			t.Errorf("%s: Count = %d, naive = %d", c.name, got, want)
		}
		if c.name != "search with LIKE metacharacters" && want == 0 {
			t.Errorf("%s: the seed produced no matches; the case proves nothing", c.name)
		}
	}
}

func TestPagesCoverEverythingOnce(t *testing.T) {
	ctx := context.Background()
	_, v := open(t, 250)
	seen := map[string]bool{}
	var prev time.Time
	for off := 0; ; off += 40 {
		rows, err := v.Page(ctx, view.Query{}, off, 40)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			if seen[r.ID] {
				t.Fatalf("%s twice", r.ID)
			}
			seen[r.ID] = true
			if !prev.IsZero() && r.Created.After(prev) {
				t.Fatal("not newest first")
			}
			prev = r.Created
			total := 0
			for _, n := range r.StatusCounts {
				total += n
			}
			if total != r.RecipientCount || len(r.Recipients) == 0 || len(r.Recipients) > view.RowRecipients {
				t.Fatalf("row %s: counts %v, %d recipients, %d named", r.ID, r.StatusCounts, r.RecipientCount, len(r.Recipients))
			}
		}
	}
	if len(seen) != 250 {
		t.Fatalf("paged %d of 250", len(seen))
	}
	first, _ := v.Page(ctx, view.Query{}, 0, 1)
	if first[0].Subject != "Invoice #1042 for November" {
		t.Fatalf("showcase message not first: %q", first[0].Subject)
	}
}

func TestFunnelAndCountsMatchData(t *testing.T) {
	ctx := context.Background()
	st, v := open(t, 300)
	all, _ := st.Statuses(ctx, store.StatusFilter{})
	var want view.Funnel
	byStatus := map[tracking.Status]int{}
	for _, m := range all {
		for _, r := range m.Recipients {
			want.Queued++
			byStatus[r.Status]++
			switch r.Status {
			case tracking.Accepted, tracking.Relayed, tracking.Delayed, tracking.Delivered, tracking.Bounced:
				want.Accepted++
			}
			if r.Opens.Total > 0 {
				want.Opened++
			}
		}
	}
	f, err := v.Funnel(ctx, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Queued != want.Queued || f.Accepted != want.Accepted || f.Opened != want.Opened ||
		f.Delivered != byStatus[tracking.Delivered] || f.Bounced != byStatus[tracking.Bounced] || f.Expired != byStatus[tracking.Expired] {
		t.Fatalf("funnel %+v, want queued %d accepted %d opened %d by status %v", f, want.Queued, want.Accepted, want.Opened, byStatus)
	}
	counts, err := v.Counts(ctx, view.Query{Statuses: []tracking.Status{tracking.Bounced}})
	if err != nil {
		t.Fatal(err)
	}
	for s, n := range byStatus {
		if counts[s] != n {
			t.Errorf("Counts[%s] = %d, want %d (status filter must be ignored)", s, counts[s], n)
		}
	}
	// With a condition on messages the counts come from the join.
	byAccount := map[tracking.Status]int{}
	for _, m := range all {
		if m.Account == "newsletter" {
			for _, r := range m.Recipients {
				byAccount[r.Status]++
			}
		}
	}
	counts, err = v.Counts(ctx, view.Query{Account: "newsletter"})
	if err != nil {
		t.Fatal(err)
	}
	if len(byAccount) == 0 || len(counts) != len(byAccount) {
		t.Fatalf("Counts(account) = %v, want %v", counts, byAccount)
	}
	for s, n := range byAccount {
		if counts[s] != n {
			t.Errorf("Counts(account)[%s] = %d, want %d", s, counts[s], n)
		}
	}
}

func TestExportJSONAndCSV(t *testing.T) {
	ctx := context.Background()
	st, v := open(t, 20)
	q := view.Query{HasBounces: true}
	n, _ := v.Count(ctx, q)
	var jb bytes.Buffer
	if err := v.Export(ctx, st, q, "json", &jb); err != nil {
		t.Fatal(err)
	}
	var msgs []tracking.MessageStatus
	if err := json.Unmarshal(jb.Bytes(), &msgs); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	if len(msgs) != n || n == 0 {
		t.Fatalf("json export has %d messages, want %d", len(msgs), n)
	}
	var cb bytes.Buffer
	if err := v.Export(ctx, st, q, "csv", &cb); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&cb).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for _, m := range msgs {
		for _, r := range m.Recipients {
			events += max(len(r.Events), 1)
		}
	}
	if len(recs) != events+1 || strings.Join(recs[0], ",") != strings.Join(view.CSVHeader, ",") {
		t.Fatalf("csv rows = %d, want %d + header", len(recs), events)
	}
	if err := v.Export(ctx, st, q, "xml", &cb); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func TestSeedDatesStayInThePastYear(t *testing.T) {
	ctx := context.Background()
	st, _ := open(t, 3000)
	all, _ := st.Statuses(ctx, store.StatusFilter{})
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, m := range all {
		if m.CreatedAt.After(now) || m.CreatedAt.Before(now.AddDate(-1, 0, -1)) {
			t.Fatalf("message %s created %s, outside the year before %s", m.ID, m.CreatedAt, now)
		}
	}
}
