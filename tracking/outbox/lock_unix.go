//go:build unix

package outbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// lockSender takes the exclusive sender lock beside the database. The
// kernel drops a flock when its process dies, kill -9 included, so a
// restarted runner never waits for a stale lock.
func lockSender(path string) (io.Closer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid := holderPID(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid > 0 {
				return nil, fmt.Errorf("%w (pid %d)", ErrBusy, pid)
			}
			return nil, ErrBusy
		}
		return nil, err
	}
	f.Truncate(0)
	f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return f, nil
}

// senderHeld reports whether another process holds the sender lock at
// path, and its pid when it wrote one. It only looks: a lock it gets is
// released at once and the file is left as it was.
func senderHeld(path string) (pid int, held bool) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, false // no lock file: nobody has sent from this database yet
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return 0, false
	} else if !errors.Is(err, syscall.EWOULDBLOCK) {
		return 0, false
	}
	return holderPID(f), true
}

// holderPID reads the pid the lock's holder wrote into the file (0 when
// there is none).
func holderPID(f *os.File) int {
	b, _ := io.ReadAll(io.LimitReader(f, 32))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}
