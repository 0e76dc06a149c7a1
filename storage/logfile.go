package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
)

// logChunk is how far ahead the log file is allocated. A variable so that
// tests can use small chunks.
var logChunk int64 = 64 << 20

// logFile is one generation of the write-ahead log. Its file is allocated
// ahead of the records in chunks of logChunk bytes, so the file size is not
// the end of the log: end is, and everything after end is zeros.
//
// A logFile is used by one goroutine at a time (the store's flusher, or
// Compact or Close while no flush runs).
type logFile struct {
	f    *os.File
	path string
	end  int64 // logical end: the length of the whole records
	size int64 // file size: end <= size
}

// openLog opens (creating if needed) the log at path and replays its
// records through apply. Replay ends at the first byte that does not start
// a whole record with a matching checksum: the zeros of the preallocated
// tail, or a record torn by a crash. Whatever non-zero bytes follow that
// point are zeroed before the log accepts appends (see zeroTail).
func openLog(path string, logger *slog.Logger, apply func(RecordType, []byte) error) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, fileMode)
	if err != nil {
		return nil, fmt.Errorf("storage: open log: %w", err)
	}
	l := &logFile{f: f, path: path}
	if err := l.recover(logger, apply); err != nil {
		f.Close()
		return nil, err
	}
	return l, nil
}

func (l *logFile) recover(logger *slog.Logger, apply func(RecordType, []byte) error) error {
	fi, err := l.f.Stat()
	if err != nil {
		return fmt.Errorf("storage: stat log: %w", err)
	}
	l.size = fi.Size()
	end, err := readFrames(bufio.NewReaderSize(l.f, 1<<20), l.size, apply)
	if err != nil && !errors.Is(err, errTorn) {
		return fmt.Errorf("storage: log %s: %w", l.path, err)
	}
	l.end = end
	dirty, err := lastNonZero(l.f, end, l.size)
	if err != nil {
		return err
	}
	if dirty > end {
		logger.Warn("storage: zeroing torn log tail", "path", l.path, "kept", end, "dropped", dirty-end)
		if err := l.zeroTail(dirty); err != nil {
			return err
		}
	}
	return l.reserve(l.end + 1)
}

// zeroTail overwrites [end, dirty) with zeros and makes that durable.
//
// Without it a stale record could come back. A crash during a flush can
// leave the flush's records on disk in any order, so a later record of the
// flush may be whole while an earlier one is torn. Replay stops at the torn
// one; if new records were then written over it and one ended exactly where
// the stale whole record starts, the next replay would read on into it.
func (l *logFile) zeroTail(dirty int64) error {
	if err := writeZeros(l.f, l.end, dirty); err != nil {
		return err
	}
	if err := fdatasync(l.f); err != nil {
		return fmt.Errorf("storage: sync log: %w", err)
	}
	return nil
}

// createLog creates an empty log at path, allocated and synced, replacing
// any file there.
func createLog(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, fileMode)
	if err != nil {
		return nil, fmt.Errorf("storage: create log: %w", err)
	}
	l := &logFile{f: f, path: path}
	if err := l.reserve(1); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return l, nil
}

// reserve makes the file at least need bytes long, growing it by whole
// chunks, and syncs the new size so that appends within it need only
// fdatasync.
func (l *logFile) reserve(need int64) error {
	if need <= l.size {
		return nil
	}
	size := (need + logChunk - 1) / logChunk * logChunk
	err := fallocate(l.f, l.size, size-l.size)
	if errors.Is(err, errors.ErrUnsupported) {
		err = writeZeros(l.f, l.size, size)
	}
	if err != nil {
		return fmt.Errorf("storage: allocate log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("storage: sync log: %w", err)
	}
	l.size = size
	return nil
}

// append writes buf at the end of the log and waits until it is on disk.
func (l *logFile) append(buf []byte) error {
	if err := l.reserve(l.end + int64(len(buf))); err != nil {
		return err
	}
	if _, err := l.f.WriteAt(buf, l.end); err != nil {
		return fmt.Errorf("storage: write log: %w", err)
	}
	if err := fdatasync(l.f); err != nil {
		return fmt.Errorf("storage: sync log: %w", err)
	}
	l.end += int64(len(buf))
	return nil
}

func (l *logFile) close() error {
	if err := l.f.Close(); err != nil {
		return fmt.Errorf("storage: close log: %w", err)
	}
	return nil
}

var zeroBlock [64 << 10]byte

// writeZeros writes zeros over [from, to) of f.
func writeZeros(f *os.File, from, to int64) error {
	for off := from; off < to; {
		n := min(to-off, int64(len(zeroBlock)))
		if _, err := f.WriteAt(zeroBlock[:n], off); err != nil {
			return fmt.Errorf("storage: write zeros: %w", err)
		}
		off += n
	}
	return nil
}

// lastNonZero returns the offset just past the last non-zero byte of f in
// [from, to), or from if there is none.
func lastNonZero(f *os.File, from, to int64) (int64, error) {
	last := from
	buf := make([]byte, 1<<20)
	for off := from; off < to; {
		n := min(to-off, int64(len(buf)))
		b := buf[:n]
		if _, err := f.ReadAt(b, off); err != nil {
			return 0, fmt.Errorf("storage: read log tail: %w", err)
		}
		for i := 0; i < len(b); i += len(zeroBlock) {
			blk := b[i:min(i+len(zeroBlock), len(b))]
			if bytes.Equal(blk, zeroBlock[:len(blk)]) {
				continue
			}
			j := len(blk) - 1
			for blk[j] == 0 {
				j--
			}
			last = off + int64(i+j+1)
		}
		off += n
	}
	return last, nil
}

// readFrames reads the framed records of r, which holds size bytes, and
// calls fn with each; the payload passed to fn is only valid during the
// call. It returns the length of the prefix of whole records, and errTorn
// if something else follows them.
func readFrames(r io.Reader, size int64, fn func(RecordType, []byte) error) (int64, error) {
	var hdr [8]byte
	var body []byte
	var off int64
	for off < size {
		if size-off < 9 {
			return off, errTorn
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return off, fmt.Errorf("storage: read: %w", err)
		}
		n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
		if n < 1 || n > size-off-8 {
			return off, errTorn
		}
		if int64(cap(body)) < n {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return off, fmt.Errorf("storage: read: %w", err)
		}
		if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return off, errTorn
		}
		if err := fn(RecordType(body[0]), body[1:]); err != nil {
			return off, err
		}
		off += 8 + n
	}
	return off, nil
}
