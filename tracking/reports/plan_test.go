package reports

import (
	"strings"
	"testing"
)

// TestMatchQueriesUseIndexes runs EXPLAIN QUERY PLAN on the lookups made
// for every report, on the schema of the core and reports migrations only
// (the outbox's indexes are not relied upon), and fails on a full scan.
func TestMatchQueriesUseIndexes(t *testing.T) {
	e := newEnv(t)
	rcpts := `SELECT r.id, r.address, r.kind FROM recipients r JOIN messages m ON m.id=r.message WHERE `
	queries := map[string][]any{
		rcpts + whereEnvID:      {"env"},
		rcpts + whereTrackingID: {"trk"},
		rcpts + whereMessageID:  {"<m@x>"},
		rcpts + `lower(r.address)=? AND m.account=? AND r.status NOT IN ` + neverLeft + ` AND ` + sentAt + ` <= ? LIMIT 2`: {"a@x", "main", 1},
		`SELECT id FROM reports WHERE account=? AND mailbox=? AND uid_validity=? AND uid=? AND uid<>0`:                     {"main", "INBOX", 1, 1},
		`SELECT id FROM reports WHERE message_id=? AND message_id<>''`:                                                     {"<r@x>"},
		`SELECT id FROM reports WHERE sha256=? AND sha256<>''`:                                                             {"ab"},
		`SELECT id FROM events WHERE dedup_key=?`:                                                                          {"k"},
		`SELECT 1 FROM messages WHERE message_id=?`:                                                                        {"<m@x>"},
	}
	for q, args := range queries {
		rows, err := e.st.DB.R.Query(`EXPLAIN QUERY PLAN `+q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, p := range plan {
			if strings.HasPrefix(p, "SCAN ") {
				t.Errorf("%s\nscans a table:\n  %s", q, strings.Join(plan, "\n  "))
			}
		}
	}
}
