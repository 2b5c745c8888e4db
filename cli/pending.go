package cli

import (
	"context"
	"errors"
)

// These commands are wired as their services land (send: outbox; run:
// runner; inspect: report parser; export: tracking view; account test).
var errNotYet = errors.New("not available in this build yet")

func runSend(ctx context.Context, env *Env, args []string) error   { return errNotYet }
func runRun(ctx context.Context, env *Env, args []string) error    { return errNotYet }
func runExport(ctx context.Context, env *Env, args []string) error { return errNotYet }
func accountTest(ctx context.Context, env *Env, args []string) error {
	return errNotYet
}
