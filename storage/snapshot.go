package storage

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/viewd/viewd/repr"
)

// Compact writes a new snapshot and starts a new, empty log generation, so
// that the log stops growing with the history of the tables. It is
// BeginCompact followed by the compaction's Write.
func (s *Store) Compact(catalog [][]byte, tables []SnapshotTable) error {
	c, err := s.BeginCompact(catalog, tables)
	if err != nil {
		return err
	}
	return c.Write()
}

// ErrChunksPending is BeginCompact's refusal while a source transaction's
// chunks are neither committed nor aborted.
var ErrChunksPending = errors.New("storage: a source transaction is open (chunks pending); compaction postponed")

// Compaction is a compaction begun by BeginCompact: the log has moved to a
// new generation, and Write writes the snapshot of the state as of that
// move.
type Compaction struct {
	s       *Store
	sn      snapshotWriter
	catalog [][]byte
	tables  []SnapshotTable
	done    bool
}

// BeginCompact starts a compaction: it waits for a compaction in progress
// to end, makes every queued record durable, and moves appends to a new
// log generation, whose start the snapshot describes. The caller then
// calls the Compaction's Write, on any goroutine; appends go on meanwhile,
// into the new generation.
//
// The store keeps no table contents, so the caller supplies them: catalog
// is the live catalog (replacing the logged catalog records), and tables
// holds every live table, each streaming its updates in its arrangement's
// order (see SnapshotTable). The contents must be exactly what the log
// holds when BeginCompact moves it: the sum of every table write appended
// before, less dropped tables. In practice the caller calls BeginCompact
// under the lock that orders its table writes (AppendTableWrite,
// DropTable), after applying them, and its Scan functions read its state
// as of then, however long after Write calls them. Write checks the
// contents against a digest of the log (a count and an order-free hash per
// table) and fails if they differ or are out of order; the store then
// stays on its last snapshot, with the logs since (which replay in order).
//
// The tables' Scan functions must not call the store. Each table is
// written as it is streamed to its own Arrow IPC file, named for the new
// generation, then synced; the manifest (the file named snapshot: catalog,
// the table files' sizes, checksums and digests, bindings, timestamp, and
// the new generation) is written to a temporary file, synced and renamed
// over the old one. A crash at any point leaves either the old manifest
// with its log and every later one (Open replays the chain) or the new
// manifest with its log and the later ones; Open removes the files no
// manifest names.
func (s *Store) BeginCompact(catalog [][]byte, tables []SnapshotTable) (*Compaction, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.compacting {
		s.cond.Wait()
	}
	if s.closed {
		return nil, fmt.Errorf("storage: store closed")
	}
	if len(s.chunks) > 0 {
		// The chunks of an open source transaction live in the current
		// log only: the snapshot would lose them.
		return nil, ErrChunksPending
	}
	if err := s.drainLocked(); err != nil {
		return nil, err
	}
	// With nothing pending and the lock held, no flush runs: the log can
	// move. The new log's name is durable before any append to it can
	// be acknowledged.
	gen := s.gen + 1
	l, err := createLog(s.logPath(gen))
	if err == nil {
		if err = syncDir(s.dir); err != nil {
			l.close()
			os.Remove(l.path)
		}
	}
	if err != nil {
		return nil, err
	}
	old := s.log
	s.log, s.gen = l, gen
	s.olderBytes += s.logSize
	s.logSize = 0
	old.close()
	s.compacting = true
	return &Compaction{
		s: s,
		sn: snapshotWriter{
			dir:      s.dir,
			gen:      gen,
			ts:       s.ts,
			want:     maps.Clone(s.tables),
			bindings: maps.Clone(s.bindings),
			prev:     maps.Clone(s.parts),
		},
		catalog: slices.Clone(catalog),
		tables:  tables,
	}, nil
}

// Write writes the snapshot BeginCompact started and puts it in place,
// then removes the logs and table files it replaces. Appends go on while
// it runs. It may be called once.
func (c *Compaction) Write() error {
	if c.done {
		return errors.New("storage: compaction written twice")
	}
	c.done = true
	s, sn := c.s, &c.sn
	compactHook("log-created")
	err := sn.write(c.catalog, c.tables)

	s.mu.Lock()
	s.compacting = false
	s.cond.Broadcast()
	if err != nil {
		if errors.Is(err, errCommitted) {
			s.err = err // the new snapshot may or may not be durable
		}
		s.mu.Unlock()
		return err
	}
	for g := s.base; g < sn.gen; g++ {
		os.Remove(s.logPath(g))
	}
	kept := make(map[string]bool, len(sn.live))
	for _, name := range sn.live {
		kept[name] = true
	}
	for _, name := range s.tableFiles {
		if !kept[name] {
			os.Remove(filepath.Join(s.dir, name))
		}
	}
	s.base = sn.gen
	s.olderBytes = 0
	s.tableFiles = sn.live
	s.snapshotBytes = sn.bytes
	// The parts of tables dropped since BeginCompact go: a drop record
	// follows the snapshot.
	for id := range sn.parts {
		if _, live := s.tables[id]; !live {
			delete(sn.parts, id)
		}
	}
	s.parts = sn.parts
	s.mu.Unlock()
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

	prev  map[uint64][]tableFileInfo // the live snapshot's parts, by table
	files []string                   // table files written, by name
	live  []string                   // the files the new manifest names
	parts map[uint64][]tableFileInfo // the new snapshot's parts, by table
	bytes int64                      // the sizes of the files it names
	w     *bufio.Writer
	frame []byte // scratch
	err   error
}

// write writes the table files and the manifest (to DIR/snapshot.tmp),
// then renames the manifest into place.
func (sn *snapshotWriter) write(catalog [][]byte, tables []SnapshotTable) error {
	infos, err := sn.tables(tables)
	if err != nil {
		sn.removeFiles()
		return err
	}
	compactHook("table-files")
	// The table files' names are durable before the manifest that names
	// them can be.
	if err := syncDir(sn.dir); err != nil {
		sn.removeFiles()
		return err
	}
	compactHook("dir-synced")
	tmp := filepath.Join(sn.dir, "snapshot.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fileMode)
	if err != nil {
		sn.removeFiles()
		return fmt.Errorf("storage: create snapshot: %w", err)
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		sn.removeFiles()
		return err
	}
	sn.w = bufio.NewWriterSize(f, 1<<16)
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], sn.gen)
	sn.w.Write(hdr[:])
	for _, c := range catalog {
		sn.record(RecCatalog, c)
	}
	for _, fi := range infos {
		sn.record(RecTableSnapshot, encodeTableFileInfo(fi, sn.gen))
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
		return fmt.Errorf("storage: close snapshot: %w", err)
	}
	compactHook("manifest-written")
	// The log the manifest names has existed (and its name been durable)
	// since BeginCompact.
	if err := os.Rename(tmp, filepath.Join(sn.dir, "snapshot")); err != nil {
		os.Remove(tmp)
		sn.removeFiles()
		return fmt.Errorf("storage: rename snapshot: %w", err)
	}
	compactHook("renamed")
	if err := syncDir(sn.dir); err != nil {
		return fmt.Errorf("%w: %w", errCommitted, err)
	}
	compactHook("committed")
	return nil
}

// tables writes each table's file and checks the contents against the
// log's digests. It returns what the manifest records of the files: each
// table's parts in order, the kept ones (an increment's) first.
func (sn *snapshotWriter) tables(tables []SnapshotTable) ([]tableFileInfo, error) {
	tables = slices.Clone(tables)
	slices.SortFunc(tables, func(a, b SnapshotTable) int { return cmp.Compare(a.ID, b.ID) })
	var infos []tableFileInfo
	sn.parts = map[uint64][]tableFileInfo{}
	for i, t := range tables {
		if i > 0 && tables[i-1].ID == t.ID {
			return nil, fmt.Errorf("storage: compact: table %d given twice", t.ID)
		}
		var kept []tableFileInfo
		var got digest
		if t.Increment {
			if !t.Unordered {
				return nil, fmt.Errorf("storage: compact: table %d: only an unordered table is written in increments", t.ID)
			}
			kept = sn.prev[t.ID]
			for _, fi := range kept {
				got.count += fi.digest.count
				got.sum += fi.digest.sum
			}
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
		fi.gen = sn.gen
		got.count += fi.digest.count
		got.sum += fi.digest.sum
		if w := sn.want[t.ID]; got != w {
			return nil, fmt.Errorf("storage: compact: table %d: the contents given (%d rows) are not those logged (%d rows)", t.ID, got.count, w.count)
		}
		parts := kept
		if fi.rows == 0 {
			// No updates (since the kept parts) need no file.
			tw.abandon()
			sn.files = sn.files[:len(sn.files)-1]
		} else {
			parts = append(slices.Clip(parts), fi)
		}
		for _, fi := range parts {
			infos = append(infos, fi)
			sn.live = append(sn.live, fi.name())
			sn.bytes += fi.size
		}
		if len(parts) > 0 {
			sn.parts[t.ID] = parts
		}
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
