//go:build unix

package pgtest

import (
	"errors"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// osUser is the system user the cluster runs as, nil for the test's own.
type osUser struct{ cred *syscall.Credential }

// serverUser is "postgres" when the test runs as root (PostgreSQL refuses
// to run as root), else nil.
func serverUser() (*osUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, errors.New("running as root and there is no postgres user to run the server as")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &osUser{&syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}, nil
}

func (u *osUser) chown(dir string) error {
	if u == nil {
		return nil
	}
	return os.Chown(dir, int(u.cred.Uid), int(u.cred.Gid))
}

func (u *osUser) runAs(c *exec.Cmd) {
	if u != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: u.cred}
	}
}
