package uisvc

import (
	"context"
	"encoding/json"
	"fmt"

	"mailroom/app"
	"mailroom/tracking"
	"mailroom/tracking/store"
)

// Notify watches the delivery record and announces what the user asked
// for (settings notify.*): a bounce, an expiry, a recipient's first
// human-likely open. It starts after the newest existing event, so history
// is never announced, and runs until ctx ends. notify must be safe from
// any goroutine and throttle itself (ui.Notifier does).
func Notify(ctx context.Context, a *app.App, changes <-chan struct{}, notify func(title, body string)) {
	last, err := a.Store.LastEventID(ctx)
	if err != nil {
		a.Log.Warn("notifications off", "err", err)
		return
	}
	kinds := []tracking.EventKind{tracking.EvBounced, tracking.EvExpired, tracking.EvOpened}
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-changes:
			if !ok {
				return
			}
		}
		items, err := a.Store.Feed(ctx, last, kinds, 200)
		if err != nil {
			a.Log.Warn("notification feed", "err", err)
			continue
		}
		for _, it := range items {
			last = it.Event.ID
			if title, body, ok := announce(ctx, a, it); ok {
				notify(title, body)
			}
		}
	}
}

func enabled(ctx context.Context, a *app.App, key string) bool {
	v, err := a.GetSetting(ctx, key)
	return err == nil && v == "true"
}

func announce(ctx context.Context, a *app.App, it store.FeedItem) (string, string, bool) {
	e := it.Event
	switch e.Kind {
	case tracking.EvBounced:
		if !enabled(ctx, a, "notify.bounce") {
			return "", "", false
		}
		why := e.EnhancedCode
		if e.Text != "" {
			why = e.Text
		}
		return "Bounced: " + it.Address, fmt.Sprintf("%q could not be delivered: %s", it.Subject, why), true
	case tracking.EvExpired:
		if !enabled(ctx, a, "notify.expired") {
			return "", "", false
		}
		return "Gave up: " + it.Address, fmt.Sprintf("%q was not accepted before the retry lifetime ran out.", it.Subject), true
	case tracking.EvOpened:
		if !enabled(ctx, a, "notify.first_open") {
			return "", "", false
		}
		var d tracking.OpenDetail
		if json.Unmarshal([]byte(e.Detail), &d) != nil || d.Class != tracking.HumanLikely {
			return "", "", false
		}
		var earlier int
		a.DB.R.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE recipient=? AND kind='opened' AND id<?
			AND json_extract(detail,'$.class')='human-likely'`, e.Recipient, e.ID).Scan(&earlier)
		if earlier > 0 {
			return "", "", false
		}
		return "Opened: " + it.Address, fmt.Sprintf("%q was probably opened by a person (%s).", it.Subject, d.Reason), true
	}
	return "", "", false
}
