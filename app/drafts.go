package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"mailroom/internal/sqlitedb"
	"mailroom/tracking"
)

// Drafts keeps unsent compose forms. The payload is opaque JSON owned by
// the caller (the UI's compose input), so this store never changes when
// the form grows a field.
type Drafts struct {
	DB *sqlitedb.DB
}

// DraftRecord is one stored draft.
type DraftRecord struct {
	ID      string
	Updated time.Time
	Payload string
}

// Save inserts or replaces a draft and returns its id.
func (d *Drafts) Save(ctx context.Context, id, payload string) (string, error) {
	if id == "" {
		id = tracking.NewID()
	}
	_, err := d.DB.W.ExecContext(ctx, `INSERT INTO drafts(id, updated_at, payload) VALUES(?,?,?)
		ON CONFLICT(id) DO UPDATE SET updated_at=excluded.updated_at, payload=excluded.payload`,
		id, time.Now().UnixMilli(), payload)
	if err != nil {
		return "", fmt.Errorf("save draft: %w", err)
	}
	return id, nil
}

// List returns every draft, newest first.
func (d *Drafts) List(ctx context.Context) ([]DraftRecord, error) {
	rows, err := d.DB.R.QueryContext(ctx, `SELECT id, updated_at, payload FROM drafts ORDER BY updated_at DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []DraftRecord
	for rows.Next() {
		var r DraftRecord
		var at int64
		if err := rows.Scan(&r.ID, &at, &r.Payload); err != nil {
			return nil, err
		}
		r.Updated = tracking.FromMillis(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Load returns one draft.
func (d *Drafts) Load(ctx context.Context, id string) (DraftRecord, error) {
	var r DraftRecord
	var at int64
	err := d.DB.R.QueryRowContext(ctx, `SELECT id, updated_at, payload FROM drafts WHERE id=?`, id).Scan(&r.ID, &at, &r.Payload)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("no draft %q", id)
	}
	r.Updated = tracking.FromMillis(at)
	return r, err
}

// Delete removes a draft; deleting a missing draft is not an error.
func (d *Drafts) Delete(ctx context.Context, id string) error {
	_, err := d.DB.W.ExecContext(ctx, `DELETE FROM drafts WHERE id=?`, id)
	return err
}
