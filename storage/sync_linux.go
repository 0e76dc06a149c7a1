//go:build linux

package storage

import (
	"errors"
	"os"
	"syscall"
)

// fallocate allocates n bytes of f from off, extending the file size, so
// that later writes there change no file metadata. It returns
// errors.ErrUnsupported when the file system cannot do it.
func fallocate(f *os.File, off, n int64) error {
	for {
		err := syscall.Fallocate(int(f.Fd()), 0, off, n)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.ENOSYS):
			return errors.ErrUnsupported
		default:
			return err
		}
	}
}

// fdatasync flushes f's data, and only the metadata needed to read it
// back, to disk.
func fdatasync(f *os.File) error {
	for {
		err := syscall.Fdatasync(int(f.Fd()))
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}
