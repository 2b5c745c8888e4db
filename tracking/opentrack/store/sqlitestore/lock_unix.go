//go:build unix

package sqlitestore

import (
	"errors"
	"os"
	"syscall"
)

// lockLog takes an exclusive lock on path (created if needed) for as long
// as the returned file is open: one process at a time owns a hit log.
// Another tracker, or "recover", on a database in use would otherwise
// replay and delete segments that are still being written.
func lockLog(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLogInUse
		}
		return nil, err
	}
	return f, nil
}
