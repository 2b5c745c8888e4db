package sqlitestore

import (
	"os"
	"syscall"
)

// syncData makes f's written data durable. fdatasync skips the metadata a
// reader does not need (timestamps); the file size, which it does need, is
// still written.
func syncData(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if err != syscall.EINTR {
			return err
		}
	}
}
