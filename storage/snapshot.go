package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"os"
	"path/filepath"
	"sort"

	"github.com/viewd/viewd/repr"
)

// snapshotRecordSize is the payload size at which Compact cuts a table's
// contents into another record.
const snapshotRecordSize = 1 << 20

// Compact writes a new snapshot and starts a new, empty log generation, so
// that the log stops growing with the history of the tables.
//
// The store keeps no table contents, so the caller supplies them: catalog
// is the live catalog (replacing the logged catalog records), and tables
// streams every live table's contents, calling emit for each update. The
// contents must be exactly what the log holds: the sum of every table
// write appended so far, less dropped tables. In practice the caller
// excludes its own table writes (AppendTableWrite, DropTable) while Compact
// runs, for instance under the lock that orders them, and streams from the
// state it has applied them to. The updates need not be consolidated or
// sorted. Compact checks the contents against a digest of the log (a count
// and an order-free hash per table) and fails, leaving the store as it was,
// if they differ.
//
// Appends wait while Compact runs, and tables must not call the store.
// The snapshot is written as it is streamed, to a temporary file that is
// synced and then renamed over the old one; a crash at any point leaves
// either the old snapshot and log or the new ones.
func (s *Store) Compact(catalog [][]byte, tables func(emit func(TableUpdate) error) error) error {
	s.mu.Lock()
	for s.compacting {
		s.cond.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("storage: store closed")
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
		seed:     s.seed,
		gen:      s.gen + 1,
		ts:       s.ts,
		want:     s.tables,
		bindings: s.bindings,
	}
	s.mu.Unlock()

	l, err := sn.write(s.dir, s.logPath(sn.gen), catalog, tables)

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
	return nil
}

// errCommitted marks a Compact failure after the snapshot was renamed into
// place, which leaves the store unusable.
var errCommitted = errors.New("storage: compaction failed after renaming the snapshot")

type snapshotWriter struct {
	seed     maphash.Seed
	gen      uint64
	ts       repr.Timestamp
	want     map[uint64]digest
	bindings map[uint64]Binding

	w     *bufio.Writer
	frame []byte // scratch
	err   error
}

// write writes the snapshot to DIR/snapshot.tmp, creates the new log at
// logPath, then renames the snapshot into place. It returns the new log.
func (sn *snapshotWriter) write(dir, logPath string, catalog [][]byte, tables func(emit func(TableUpdate) error) error) (*logFile, error) {
	tmp := filepath.Join(dir, "snapshot.tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("storage: create snapshot: %w", err)
	}
	fail := func(err error) (*logFile, error) {
		f.Close()
		os.Remove(tmp)
		return nil, err
	}
	sn.w = bufio.NewWriterSize(f, 1<<20)
	var hdr [8]byte
	binary.LittleEndian.PutUint64(hdr[:], sn.gen)
	sn.w.Write(hdr[:])
	for _, c := range catalog {
		sn.record(RecCatalog, c)
	}
	if err := sn.tables(tables); err != nil {
		return fail(err)
	}
	ids := make([]uint64, 0, len(sn.bindings))
	for id := range sn.bindings {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
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
		return nil, fmt.Errorf("storage: close snapshot: %w", err)
	}
	// The new log exists before the snapshot that names it, so that once
	// the rename is durable the log is there too.
	l, err := createLog(logPath)
	if err != nil {
		os.Remove(tmp)
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "snapshot")); err != nil {
		l.close()
		os.Remove(logPath)
		os.Remove(tmp)
		return nil, fmt.Errorf("storage: rename snapshot: %w", err)
	}
	if err := syncDir(dir); err != nil {
		l.close()
		return nil, fmt.Errorf("%w: %w", errCommitted, err)
	}
	return l, nil
}

// tables streams the caller's table contents into table write records and
// checks them against the log's digests.
func (sn *snapshotWriter) tables(tables func(emit func(TableUpdate) error) error) error {
	got := map[uint64]digest{}
	var body []byte
	n := 0
	cut := func() {
		p := binary.AppendUvarint(nil, uint64(sn.ts))
		p = binary.AppendUvarint(p, uint64(n))
		sn.record(RecTableWrite, append(p, body...))
		body, n = body[:0], 0
	}
	emit := func(u TableUpdate) error {
		if u.Diff == 0 {
			return nil
		}
		d := got[u.Table]
		d.add(sn.seed, u.Row, u.Diff)
		got[u.Table] = d
		body = appendTableUpdate(body, u)
		n++
		if len(body) >= snapshotRecordSize {
			cut()
		}
		return sn.err
	}
	if tables != nil {
		if err := tables(emit); err != nil {
			return fmt.Errorf("storage: compact: %w", err)
		}
	}
	if n > 0 {
		cut()
	}
	if sn.err != nil {
		return fmt.Errorf("storage: write snapshot: %w", sn.err)
	}
	for id, w := range sn.want {
		if g := got[id]; g != w {
			return fmt.Errorf("storage: compact: table %d: the contents given (%d rows) are not those logged (%d rows)", id, g.count, w.count)
		}
	}
	for id, g := range got {
		if _, ok := sn.want[id]; !ok && g != (digest{}) {
			return fmt.Errorf("storage: compact: table %d was given %d rows but has no writes logged (or was dropped)", id, g.count)
		}
	}
	return nil
}

// record writes one framed record, remembering the first error.
func (sn *snapshotWriter) record(t RecordType, p []byte) {
	if sn.err != nil {
		return
	}
	sn.frame = frame(sn.frame[:0], t, p)
	_, sn.err = sn.w.Write(sn.frame)
}
