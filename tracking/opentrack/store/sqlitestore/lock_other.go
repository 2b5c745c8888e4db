//go:build !unix

package sqlitestore

import "os"

// lockLog only creates the lock file here: there is no flock.
func lockLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
