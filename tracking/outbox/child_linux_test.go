package outbox

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill a test's child runner when the test
// process dies (a go test -timeout, a crash): an orphaned runner went on
// dialing a peer that no longer existed, using a core for as long as
// nobody noticed.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
