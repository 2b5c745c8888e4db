//go:build !unix

package pgtest

import "os/exec"

// osUser: elsewhere the cluster runs as the test's own user (binDir finds
// no Debian binaries there anyway, so the tests skip).
type osUser struct{}

func serverUser() (*osUser, error) { return nil, nil }
func (*osUser) chown(string) error { return nil }
func (*osUser) runAs(*exec.Cmd)    {}
