package outbox

import (
	"fmt"
	"io"
	"os"
)

// The sender keeps two small files beside the database, written with one
// pwrite per copy where a SQLite commit would cost far more: the hand-over
// marks (handover.go) and the result log (results.go). Only the holder of
// the sender lock opens them.

// openSideFile opens (creating, mode 0600) the side file at path and reads
// at most limit bytes of what a previous run left in it. what names the
// file in errors.
func openSideFile(path, what string, limit int64) (*os.File, []byte, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("outbox: %s: %w", what, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("outbox: %s %s: %w", what, path, err)
	}
	return f, b, nil
}

// zeroFill empties f and writes size zero bytes into it: no record is all
// zeros, and a write during a send then never needs a new disk block (a
// full disk shows at start, not between the body and ".").
func zeroFill(f *os.File, what string, size int) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("outbox: %s: %w", what, err)
	}
	if _, err := f.WriteAt(make([]byte, size), 0); err != nil {
		return fmt.Errorf("outbox: %s: %w", what, err)
	}
	return nil
}
