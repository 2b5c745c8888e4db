//go:build !linux

package outbox

import "os/exec"

// dieWithParent: only Linux offers a parent-death signal.
func dieWithParent(*exec.Cmd) {}
