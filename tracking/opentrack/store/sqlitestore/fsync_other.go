//go:build !linux

package sqlitestore

import "os"

// syncData makes f's written data durable (os.File.Sync: fsync, or
// F_FULLFSYNC on macOS).
func syncData(f *os.File) error { return f.Sync() }
