//go:build !linux

package storage

import (
	"errors"
	"os"
)

// fallocate is not available here: the log is preallocated by writing
// zeros instead.
func fallocate(f *os.File, off, n int64) error {
	return errors.ErrUnsupported
}

// fdatasync falls back to a full fsync.
func fdatasync(f *os.File) error {
	return f.Sync()
}
