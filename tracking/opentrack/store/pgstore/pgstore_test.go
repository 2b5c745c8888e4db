package pgstore

import (
	"context"
	"testing"
	"time"

	"mailroom/tracking/opentrack/store"
	"mailroom/tracking/opentrack/store/pgstore/pgtest"
	"mailroom/tracking/opentrack/store/storetest"
)

func TestPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	open := func(t *testing.T, dsn string) *Store {
		s, err := Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}

	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return open(t, pg.NewDatabase(t)) })
	})

	t.Run("SeveralInstancesOneDatabase", func(t *testing.T) {
		// Three tracker instances start together (migrations must not race),
		// write concurrently, and a reader on a fourth pages through: it must
		// see every event once, none skipped by out-of-order commits.
		dsn := pg.NewDatabase(t)
		stores := make([]*Store, 4)
		errc := make(chan error, len(stores))
		for i := range stores {
			go func() {
				s, err := Open(ctx, dsn)
				stores[i] = s
				errc <- err
			}()
		}
		for range stores {
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range stores {
			t.Cleanup(func() { s.Close() })
		}
		writers := []store.Store{stores[0], stores[1], stores[2]}
		storetest.ConcurrentNoSkip(t, writers, stores[3], 8, 150)
	})

	t.Run("BadDSNDoesNotEchoPassword", func(t *testing.T) {
		_, err := Open(ctx, "postgres://u:sup3rsecret@127.0.0.1:%zz/db")
		if err == nil {
			t.Fatal("bad DSN accepted")
		}
		if got := err.Error(); contains(got, "sup3rsecret") {
			t.Fatalf("error echoes the password: %s", got)
		}
	})

	t.Run("ClosedStore", func(t *testing.T) {
		s := open(t, pg.NewDatabase(t))
		s.Close()
		if _, err := s.Events(ctx, 0, 1); err == nil {
			t.Fatal("Events on closed store")
		}
		if _, err := s.Purge(ctx, time.Now()); err == nil {
			t.Fatal("Purge on closed store")
		}
	})
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
