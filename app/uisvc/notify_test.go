package uisvc_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"mailroom/app/uisvc"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

func TestNotifyAnnouncesNewBouncesOnly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, _ := openSeeded(t) // history holds bounces: none may be announced
	changes := make(chan struct{}, 1)
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		uisvc.Notify(ctx, a, changes, func(title, body string) {
			mu.Lock()
			got = append(got, title+" | "+body)
			mu.Unlock()
		})
	}()
	time.Sleep(100 * time.Millisecond) // let it read the newest event id
	var rid int64
	a.DB.R.QueryRow(`SELECT id FROM recipients WHERE address='cfo@customer.example'`).Scan(&rid)
	err := a.DB.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := store.AddEvent(ctx, tx, tracking.Event{Recipient: rid, At: time.Now(), Kind: tracking.EvBounced,
			Source: tracking.SrcDSN, Code: 550, EnhancedCode: "5.2.2", Text: "mailbox full"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	changes <- struct{}{}
	deadline := time.Now().Add(3 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	if len(got) != 1 || !strings.Contains(got[0], "cfo@customer.example") || !strings.Contains(got[0], "mailbox full") {
		t.Fatalf("notifications = %q; want exactly the new bounce", got)
	}
}
