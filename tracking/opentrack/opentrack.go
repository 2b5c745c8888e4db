// Package opentrack is what the Mailroom app uses for open and click
// tracking: it prepares a recipient's HTML copy (pixel and rewritten links
// with signed tokens), fetches recorded events from a tracker (Client), and
// builds an in-process tracker the app can mount on its own listener
// (NewServer, the "builtin" mode).
//
// The parts live in subpackages: token (signing), htmlrw (HTML changes),
// classify (human or machine), store (events and backends) and server (HTTP).
// cmd/mailroom-tracker is the standalone server built from the same parts.
package opentrack

import (
	"mailroom/tracking/opentrack/classify"
	"mailroom/tracking/opentrack/server"
	"mailroom/tracking/opentrack/store"
	"mailroom/tracking/opentrack/token"
)

// Event is one recorded hit as the events API returns it.
type Event = store.Event

// Config configures an in-process tracker; see server.Config.
type Config = server.Config

// Server is the tracker handler; mount it with http.Handle("/", srv) (or
// under a prefix with http.StripPrefix) and run srv.Run(ctx) beside it for
// the retention purge.
type Server = server.Server

// NewServer builds the tracker as an http.Handler for the app's own
// listener. The app passes its Store (sqlitestore.New on its database) and
// reads events straight from it, or through Client like a remote tracker.
func NewServer(cfg Config) (*Server, error) { return server.New(cfg) }

// Classify judges one event of one copy; see classify.Classify.
func Classify(e Event, ctx classify.CopyContext) (classify.Class, string) {
	return classify.Classify(e.Hit(), ctx)
}

// NewCopyID returns a fresh random identifier for one recipient copy.
func NewCopyID() (token.CopyID, error) { return token.NewCopyID() }
