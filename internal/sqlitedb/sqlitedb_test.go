package sqlitedb

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

func TestOpenMigrateIntegrity(t *testing.T) {
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "m.db")
	db, err := Open(file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsys := os.DirFS("testdata")
	for i := 0; i < 2; i++ { // second run must be a no-op
		if err := db.Migrate(ctx, "test", fsys, "migrations"); err != nil {
			t.Fatal(err)
		}
	}
	var v int
	if err := db.R.QueryRow(`SELECT version FROM schema_versions WHERE component='test'`).Scan(&v); err != nil || v != 2 {
		t.Fatalf("version = %d, %v; want 2", v, err)
	}
	if err := db.WithFullSyncTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO t(a,b) VALUES(1,'x')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var mode string
	db.R.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	if mode != "wal" {
		t.Fatalf("journal_mode = %q", mode)
	}
	var fk int
	db.W.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	if fk != 1 {
		t.Fatal("foreign keys off")
	}
	var cache int
	db.R.QueryRow(`PRAGMA cache_size`).Scan(&cache)
	if cache != -readerCacheKiB {
		t.Fatalf("readers' cache_size = %d, want %d", cache, -readerCacheKiB)
	}
	if _, err := db.R.Exec(`INSERT INTO t(a) VALUES(2)`); err == nil {
		t.Fatal("read pool accepted a write")
	}
	res, err := db.IntegrityCheck(ctx)
	if err != nil || len(res) != 1 || res[0] != "ok" {
		t.Fatalf("integrity = %v, %v", res, err)
	}
}

func TestWriterCheckpointInterval(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "x.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.W.QueryRow("PRAGMA wal_autocheckpoint").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != walCheckpointPages {
		t.Errorf("wal_autocheckpoint = %d, want %d", n, walCheckpointPages)
	}
}
