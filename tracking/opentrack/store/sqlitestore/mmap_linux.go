package sqlitestore

import (
	"os"
	"syscall"
)

// mapSegment maps a preallocated segment into memory, shared with the
// file: a record copied into it is in the kernel's page cache at once, as
// after a write(2), without a system call per record.
func mapSegment(f *os.File, size int) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
}

func unmapSegment(b []byte) error { return syscall.Munmap(b) }
