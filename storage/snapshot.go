package storage

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/viewd/viewd/repr"
)

// Compact writes a new snapshot and starts a new, empty log generation, so
// that the log stops growing with the history of the tables.
//
// The store keeps no table contents, so the caller supplies them: catalog
// is the live catalog (replacing the logged catalog records), and tables
// holds every live table, each streaming its updates in its arrangement's
// order (see SnapshotTable). The contents must be exactly what the log
// holds: the sum of every table write appended so far, less dropped
// tables. In practice the caller excludes its own table writes
// (AppendTableWrite, DropTable) while Compact runs, for instance under the
// lock that orders them, and streams from the state it has applied them
// to. Compact checks the contents against a digest of the log (a count and
// an order-free hash per table) and fails, leaving the store as it was, if
// they differ or are out of order.
//
// Appends wait while Compact runs, and the tables' Scan functions must not
// call the store. Each table is written as it is streamed to its own Arrow
// IPC file, named for the new generation, then synced; the manifest (the
// file named snapshot: catalog, the table files' sizes, checksums and
// digests, bindings, timestamp) is written to a temporary file, synced and
// renamed over the old one. A crash at any point leaves either the old
// manifest, log and table files or the new ones; Open removes the files
// no manifest names.
// ErrChunksPending is Compact's refusal while a source transaction's
// chunks are neither committed nor aborted.
var ErrChunksPending = errors.New("storage: a source transaction is open (chunks pending); compaction postponed")

func (s *Store) Compact(catalog [][]byte, tables []SnapshotTable) error {
	s.mu.Lock()
	for s.compacting {
		s.cond.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("storage: store closed")
	}
	if len(s.chunks) > 0 {
		// The chunks of an open source transaction live in the current
		// log only: a new generation would lose them.
		s.mu.Unlock()
		return ErrChunksPending
	}
	s.compacting = true
	if err := s.drainLocked(); err != nil {
		s.compacting = false
		s.cond.Broadcast()
		s.mu.Unlock()
		return err
	}
	// With compacting set and nothing pending, nothing below changes
	// until Compact clears it.
	sn := snapshotWriter{
		dir:      s.dir,
		gen:      s.gen + 1,
		ts:       s.ts,
		want:     s.tables,
		bindings: s.bindings,
	}
	s.mu.Unlock()

	l, err := sn.write(s.logPath(sn.gen), catalog, tables)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.compacting = false
	s.cond.Broadcast()
	if err != nil {
		if errors.Is(err, errCommitted) {
			s.err = err // the new snapshot may or may not be durable
		}
		return err
	}
	old := s.log
	s.log = l
	s.gen = sn.gen
	s.logSize = 0
	old.close()
	os.Remove(old.path)
	for _, name := range s.tableFiles {
		os.Remove(filepath.Join(s.dir, name))
	}
	s.tableFiles = sn.files
	s.snapshotBytes = sn.bytes
	compactHook("old-removed")
	return nil
}

// compactHook, when set by a test, is called at each stage of a
// compaction (the stage names are in snapshotWriter.write and Compact), so
// that the test can copy the data directory as a crash there would leave
// it.
var compactHook = func(stage string) {}

// errCommitted marks a Compact failure after the snapshot was renamed into
// place, which leaves the store unusable.
var errCommitted = errors.New("storage: compaction failed after renaming the snapshot")

type snapshotWriter struct {
	dir      string
	gen      uint64
	ts       repr.Timestamp
	want     map[uint64]digest
	bindings map[uint64]Binding

	files []string // table files written, by name
	bytes int64    // their sizes
	w     *bufio.Writer
	frame []byte // scratch
	err   error
}

// write writes the table files and the manifest (to DIR/snapshot.tmp),
// creates the new log at logPath, then renames the manifest into place. It
// returns the new log.
func (sn *snapshotWriter) write(logPath string, catalog [][]byte, tables []SnapshotTable) (*logFile, error) {
	infos, err := sn.tables(tables)
	if err != nil {
		sn.removeFiles()
		return nil, err
	}
	compactHook("table-files")
	// The table files' names are durable before the manifest that names
	// them can be.
	if err := syncDir(sn.dir); err != nil {
		sn.removeFiles()
		return nil, err
	}
	compactHook("dir-synced")
	tmp := filepath.Join(sn.dir, "snapshot.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fileMode)
	if err != nil {
		sn.removeFiles()
		return nil, fmt.Errorf("storage: create snapshot: %w", err)
	}
	fail := func(err error) (*logFile, error) {
		f.Close()
		os.Remove(tmp)
		sn.removeFiles()
		return nil, err
	}
	sn.w = bufio.NewWriterSize(f, 1<<16)
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], sn.gen)
	sn.w.Write(hdr[:])
	for _, c := range catalog {
		sn.record(RecCatalog, c)
	}
	for _, fi := range infos {
		sn.record(RecTableSnapshot, encodeTableFileInfo(fi))
	}
	ids := make([]uint64, 0, len(sn.bindings))
	for id := range sn.bindings {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		sn.record(RecBinding, encodeBinding(sn.bindings[id]))
	}
	sn.record(RecTimestamp, binary.AppendUvarint(nil, uint64(sn.ts)))
	if sn.err == nil {
		sn.err = sn.w.Flush()
	}
	if sn.err != nil {
		return fail(fmt.Errorf("storage: write snapshot: %w", sn.err))
	}
	if err := f.Sync(); err != nil {
		return fail(fmt.Errorf("storage: sync snapshot: %w", err))
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		sn.removeFiles()
		return nil, fmt.Errorf("storage: close snapshot: %w", err)
	}
	compactHook("manifest-written")
	// The new log exists before the snapshot that names it, so that once
	// the rename is durable the log is there too.
	l, err := createLog(logPath)
	if err != nil {
		os.Remove(tmp)
		sn.removeFiles()
		return nil, err
	}
	compactHook("log-created")
	if err := os.Rename(tmp, filepath.Join(sn.dir, "snapshot")); err != nil {
		l.close()
		os.Remove(logPath)
		os.Remove(tmp)
		sn.removeFiles()
		return nil, fmt.Errorf("storage: rename snapshot: %w", err)
	}
	compactHook("renamed")
	if err := syncDir(sn.dir); err != nil {
		l.close()
		return nil, fmt.Errorf("%w: %w", errCommitted, err)
	}
	compactHook("committed")
	return l, nil
}

// tables writes each table's file and checks the contents against the
// log's digests. It returns what the manifest records of the files, by
// table id.
func (sn *snapshotWriter) tables(tables []SnapshotTable) ([]tableFileInfo, error) {
	tables = slices.Clone(tables)
	slices.SortFunc(tables, func(a, b SnapshotTable) int { return cmp.Compare(a.ID, b.ID) })
	var infos []tableFileInfo
	for i, t := range tables {
		if i > 0 && tables[i-1].ID == t.ID {
			return nil, fmt.Errorf("storage: compact: table %d given twice", t.ID)
		}
		name := tableFileName(sn.gen, t.ID)
		tw, err := newTableFileWriter(filepath.Join(sn.dir, name), t)
		if err != nil {
			return nil, err
		}
		sn.files = append(sn.files, name)
		if t.Scan != nil {
			err = t.Scan(tw.add)
		}
		fi, ferr := tw.finish()
		if err == nil {
			err = ferr
		}
		if err != nil {
			tw.abandon()
			return nil, fmt.Errorf("storage: compact: table %d: %w", t.ID, err)
		}
		if w := sn.want[t.ID]; fi.digest != w {
			return nil, fmt.Errorf("storage: compact: table %d: the contents given (%d rows) are not those logged (%d rows)", t.ID, fi.digest.count, w.count)
		}
		if fi.rows == 0 {
			// An empty table needs no file.
			tw.abandon()
			sn.files = sn.files[:len(sn.files)-1]
			continue
		}
		infos = append(infos, fi)
		sn.bytes += fi.size
	}
	for id, w := range sn.want {
		if _, found := slices.BinarySearchFunc(tables, id, func(t SnapshotTable, id uint64) int { return cmp.Compare(t.ID, id) }); !found && w != (digest{}) {
			return nil, fmt.Errorf("storage: compact: table %d: the contents given (0 rows) are not those logged (%d rows)", id, w.count)
		}
	}
	return infos, nil
}

// removeFiles removes the table files of a compaction that failed.
func (sn *snapshotWriter) removeFiles() {
	for _, name := range sn.files {
		os.Remove(filepath.Join(sn.dir, name))
	}
	sn.files = nil
}

// record writes one framed record, remembering the first error.
func (sn *snapshotWriter) record(t RecordType, p []byte) {
	if sn.err != nil {
		return
	}
	sn.frame = frame(sn.frame[:0], t, p)
	_, sn.err = sn.w.Write(sn.frame)
}
