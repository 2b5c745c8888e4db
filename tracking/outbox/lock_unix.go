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
		b, _ := io.ReadAll(io.LimitReader(f, 32))
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			if pid, _ := strconv.Atoi(strings.TrimSpace(string(b))); pid > 0 {
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
