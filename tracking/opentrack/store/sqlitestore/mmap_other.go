//go:build !linux

package sqlitestore

import (
	"errors"
	"os"
)

// mapSegment is not used here: records are written with pwrite.
func mapSegment(f *os.File, size int) ([]byte, error) { return nil, errors.New("no mmap") }

func unmapSegment(b []byte) error { return nil }
