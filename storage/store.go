package storage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/viewd/viewd/repr"
)

// State is everything the store holds, as replayed on open.
type State struct {
	// Catalog holds the coordinator's catalog records in order.
	Catalog [][]byte
	// Tables holds each table's contents: its file in the snapshot and
	// the updates logged after it.
	Tables map[uint64]TableContents
	// Bindings holds the latest binding of each source.
	Bindings map[uint64]Binding
	// Timestamp is the highest timestamp recorded (table write, binding or
	// oracle mark).
	Timestamp repr.Timestamp
}

// TableContents is a table's durable contents as Open found them: the
// table's snapshot file, if the last compaction wrote one, plus the
// updates logged since.
type TableContents struct {
	// Snapshots are the table's files in the snapshot, its parts in
	// order (none when it has no rows there; more than one when
	// compactions added increments, SnapshotTable.Increment). Open has
	// not read them: the caller reads each with Open, once, before the
	// next Compact.
	Snapshots []*TableSnapshot
	// Updates are the table's updates logged after the snapshot (or all
	// of them, when the snapshot is of the older kind that held tables as
	// records). When they hold retractions they are consolidated and
	// sorted by row bytes; updates that were only ever insertions are in
	// log order (a row inserted twice appears twice), which spares a
	// million-row load a map and a sort: the caller consolidates as a
	// dataflow input does. The store keeps no copy: after Open the caller
	// owns the only one.
	Updates []TableUpdate
}

// Store is an open data directory. Its methods are safe for concurrent use.
type Store struct {
	dir    string
	logger *slog.Logger
	lock   *os.File

	mu   sync.Mutex // guards everything below
	cond *sync.Cond // signalled when synced advances, a compaction ends or on failure
	// gen is the generation of the log appends go to; base is the one
	// the live snapshot names. The logs of generations base..gen hold,
	// in order, the records since that snapshot: a compaction moves
	// appends to a new generation when it begins and makes it the base
	// when its snapshot is in place.
	gen        uint64
	base       uint64
	log        *logFile // written by the flusher outside mu; see flushLocked
	pending    []byte   // framed records not yet written
	queued     uint64   // sequence number of the last queued record
	synced     uint64   // sequence number of the last durable record
	syncing    bool
	compacting bool  // a compaction is writing its snapshot (appends go on)
	err        error // sticky: a failed write or fsync poisons the store
	closed     bool
	logSize    int64  // logical end of the current log generation
	olderBytes int64  // records in the logs of generations base..gen-1
	flushes    uint64 // number of write+sync rounds, for benchmarks

	tables map[uint64]digest // live tables; contents are not kept
	// chunks holds, per source with an open chunked transaction, the
	// digests of its chunks' updates per table: they join tables at the
	// source's next write (its commit), or are dropped by its abort.
	chunks   map[uint64]map[uint64]digest
	bindings map[uint64]Binding
	ts       repr.Timestamp
	// tableFiles are the names of the table files the live snapshot
	// names; Compact removes those the next snapshot does not keep.
	tableFiles []string
	// parts are the live snapshot's files of each live table, in order.
	parts map[uint64][]tableFileInfo
	// snapshotBytes is the size of the live snapshot's table files.
	snapshotBytes int64
}

// digest summarises a table's contents without holding them: the sum of
// its diffs and the sum of diff*hash(row). Both are sums, so the digest of
// a collection does not depend on the order or consolidation of its
// updates. Compact uses it to check that the contents it is given are the
// ones the log holds, and records it with each table file, whose reader
// checks the file's contents against it.
//
// The hash is CRC-32C (hardware-accelerated), the same in every process,
// so that a digest written to a manifest means the same when read back.
// It is a check against bugs and damage, not against an adversary: a
// wrong row goes unnoticed with probability 2^-32.
type digest struct {
	count int64
	sum   uint64
}

func (d *digest) add(row repr.Row, diff repr.Diff) {
	d.count += int64(diff)
	d.sum += uint64(diff) * uint64(crc32.Checksum(row, castagnoli))
}

// dirMode and fileMode are the permissions of the data directory and of
// the files the store creates in it: the server's user only.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// ErrLocked is returned by Open when another process holds the directory.
var ErrLocked = errors.New("storage: data directory is in use by another process")

// Open opens (creating if needed) the data directory dir, replays its state
// and returns it.
func Open(dir string, logger *slog.Logger) (*Store, State, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, State{}, fmt.Errorf("storage: create data directory: %w", err)
	}
	// The directory holds every table's rows, role password verifiers and
	// secrets (CREATE SECRET values are in the catalog records): like
	// PostgreSQL's, it is for the server's user only. An existing one
	// open to others is tightened (PostgreSQL refuses to start instead).
	if fi, err := os.Stat(dir); err != nil {
		return nil, State{}, fmt.Errorf("storage: data directory: %w", err)
	} else if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, dirMode); err != nil {
			return nil, State{}, fmt.Errorf("storage: data directory %s is readable by other users (%v) and could not be restricted: %w", dir, fi.Mode().Perm(), err)
		}
		logger.Warn("storage: the data directory was readable by other users; restricted it to the server's user", "dir", dir, "was", fi.Mode().Perm().String())
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, fileMode)
	if err != nil {
		return nil, State{}, fmt.Errorf("storage: open lock file: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, State{}, fmt.Errorf("%w: %s", ErrLocked, dir)
	}
	s := &Store{
		dir:      dir,
		logger:   logger,
		lock:     lock,
		tables:   map[uint64]digest{},
		parts:    map[uint64][]tableFileInfo{},
		bindings: map[uint64]Binding{},
		chunks:   map[uint64]map[uint64]digest{},
	}
	s.cond = sync.NewCond(&s.mu)
	r := &replayer{s: s, tables: map[uint64]*tableLog{}, snaps: map[uint64][]*TableSnapshot{}, chunks: map[uint64]*tableLog{}}
	if err := s.load(r); err != nil {
		lock.Close()
		return nil, State{}, err
	}
	// Chunks of a transaction that never committed (a crash while it was
	// applied): dropped, and an abort written for each, so that the
	// source's next commit does not adopt them.
	for src, l := range r.chunks {
		logger.Info("storage: dropping the uncommitted chunks of a source transaction", "source", src, "updates", len(l.ups))
		delete(r.chunks, src)
		if err := s.AbortSourceChunks(context.Background(), src); err != nil {
			s.Close()
			return nil, State{}, err
		}
	}
	return s, r.state(), nil
}

func (s *Store) logPath(gen uint64) string {
	return filepath.Join(s.dir, "log."+strconv.FormatUint(gen, 10))
}

// load reads the snapshot and the logs from its generation on (a chain
// when a crash interrupted a compaction after it moved the log), zeroing
// a torn tail, and opens the last log for appending.
func (s *Store) load(r *replayer) error {
	os.Remove(filepath.Join(s.dir, "snapshot.tmp")) // left by an interrupted Compact
	snap, err := os.Open(filepath.Join(s.dir, "snapshot"))
	switch {
	case err == nil:
		err = s.loadSnapshot(snap, r)
		snap.Close()
		if err != nil {
			return err
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return fmt.Errorf("storage: open snapshot: %w", err)
	}
	r.inSnapshot = false
	s.base = s.gen
	live := map[string]bool{}
	for {
		path := s.logPath(s.gen)
		l, err := openLog(path, s.logger, r.apply)
		if err != nil {
			return err
		}
		live[filepath.Base(path)] = true
		if _, err := os.Stat(s.logPath(s.gen + 1)); err != nil {
			s.log = l
			s.logSize = l.end
			break
		}
		// A later generation exists: a compaction moved the log to it
		// and did not put its snapshot in place. Its records follow.
		s.olderBytes += l.end
		l.close()
		s.gen++
	}
	// Remove logs of other generations and table files no manifest names,
	// left by an interrupted compaction (or a crash before a finished one
	// removed the old ones).
	for _, name := range s.tableFiles {
		live[name] = true
	}
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		name := e.Name()
		if (strings.HasPrefix(name, "log.") || isTableFileName(name)) && !live[name] {
			os.Remove(filepath.Join(s.dir, name))
		}
	}
	return nil
}

// loadSnapshot replays a snapshot file: a uint64 log generation, then
// framed records, every one whole (the file was synced before it was
// renamed into place).
func (s *Store) loadSnapshot(f *os.File, r *replayer) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("storage: stat snapshot: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	var hdr [8]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return fmt.Errorf("storage: snapshot too short: %w", err)
	}
	s.gen = binary.LittleEndian.Uint64(hdr[:])
	r.inSnapshot = true
	if _, err := readFrames(br, fi.Size()-8, r.apply); err != nil {
		return fmt.Errorf("storage: snapshot: %w", err)
	}
	return nil
}

// replayer applies records read on open. It alone holds table contents,
// and only until Open returns them.
type replayer struct {
	s       *Store
	catalog [][]byte
	tables  map[uint64]*tableLog
	snaps   map[uint64][]*TableSnapshot
	// inSnapshot is set while the snapshot's records are read.
	inSnapshot bool
	// chunks holds each source's chunks not yet committed or aborted.
	chunks map[uint64]*tableLog
}

// tableLog is one table's replayed updates, in log order, their rows
// copied into slabs.
type tableLog struct {
	ups       []TableUpdate
	slab      []byte
	retracted bool // some update has a negative diff
}

// tableSlab is the size of the slabs replayed rows are copied into.
const tableSlab = 1 << 20

func (l *tableLog) add(u TableUpdate) {
	if len(l.slab)+len(u.Row) > cap(l.slab) {
		l.slab = make([]byte, 0, max(tableSlab, len(u.Row)))
	}
	start := len(l.slab)
	l.slab = append(l.slab, u.Row...)
	u.Row = repr.Row(l.slab[start:len(l.slab):len(l.slab)])
	l.ups = append(l.ups, u)
	if u.Diff < 0 {
		l.retracted = true
	}
}

// contents returns the table's updates: consolidated and sorted when it
// saw retractions, else as logged.
func (l *tableLog) contents() []TableUpdate {
	if !l.retracted {
		return l.ups
	}
	ups := l.ups
	slices.SortStableFunc(ups, func(a, b TableUpdate) int { return bytes.Compare(a.Row, b.Row) })
	out := ups[:0]
	for i := 0; i < len(ups); {
		u := ups[i]
		j := i + 1
		for ; j < len(ups) && bytes.Equal(ups[j].Row, u.Row); j++ {
			u.Diff += ups[j].Diff
		}
		if u.Diff != 0 {
			out = append(out, u)
		}
		i = j
	}
	return slices.Clip(out)
}

// apply applies one record to the replayed state and to the little the
// store keeps (digests, bindings, timestamp).
func (r *replayer) apply(t RecordType, p []byte) error {
	s := r.s
	switch t {
	case RecCatalog:
		r.catalog = append(r.catalog, append([]byte(nil), p...))
	case RecTableWrite, RecSourceWrite:
		var ts repr.Timestamp
		var ups []TableUpdate
		var bs []Binding
		var err error
		if t == RecTableWrite {
			ts, ups, err = decodeTableWrite(p)
		} else {
			ts, ups, bs, err = decodeSourceWrite(p)
		}
		if err != nil {
			return err
		}
		for _, b := range bs {
			s.noteBinding(b)
			// The commit of the source's chunks, if it has any.
			if cl := r.chunks[b.Source]; cl != nil {
				delete(r.chunks, b.Source)
				r.addUpdates(cl.ups)
				s.noteTableWrite(0, cl.ups)
				delete(s.chunks, b.Source)
			}
		}
		r.addUpdates(ups)
		s.noteTableWrite(ts, ups)
	case RecSourceChunk:
		src, kind, ups, err := decodeSourceChunk(p)
		if err != nil {
			return err
		}
		if kind == chunkAbort {
			delete(r.chunks, src)
			delete(s.chunks, src)
			return nil
		}
		cl := r.chunks[src]
		if cl == nil {
			cl = &tableLog{}
			r.chunks[src] = cl
		}
		for _, u := range ups {
			cl.add(u)
		}
		s.noteChunk(src, ups)
	case RecBinding:
		b, err := decodeBinding(p)
		if err != nil {
			return err
		}
		s.noteBinding(b)
	case RecTimestamp:
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return fmt.Errorf("storage: corrupt timestamp record")
		}
		s.raise(repr.Timestamp(v))
	case RecTableDrop:
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return fmt.Errorf("storage: corrupt table drop record")
		}
		delete(r.tables, v)
		delete(r.snaps, v)
		delete(s.tables, v)
		delete(s.parts, v)
	case RecTableSnapshot:
		if !r.inSnapshot {
			return fmt.Errorf("storage: a table snapshot record in the log")
		}
		fi, err := decodeTableFileInfo(p, s.gen)
		if err != nil {
			return err
		}
		if ps := s.parts[fi.table]; len(ps) > 0 && ps[len(ps)-1].gen >= fi.gen {
			return fmt.Errorf("storage: snapshot names table %d's parts out of order", fi.table)
		}
		r.snaps[fi.table] = append(r.snaps[fi.table], newTableSnapshot(s.dir, fi))
		s.parts[fi.table] = append(s.parts[fi.table], fi)
		s.tableFiles = append(s.tableFiles, fi.name())
		s.snapshotBytes += fi.size
		d := s.tables[fi.table]
		d.count += fi.digest.count
		d.sum += fi.digest.sum
		s.tables[fi.table] = d
	default:
		return fmt.Errorf("storage: unknown record type %d", t)
	}
	return nil
}

// addUpdates adds replayed updates to their tables' logs.
func (r *replayer) addUpdates(ups []TableUpdate) {
	for _, u := range ups {
		l := r.tables[u.Table]
		if l == nil {
			l = &tableLog{}
			r.tables[u.Table] = l
		}
		l.add(u)
	}
}

// state hands out the replayed state, emptying the replayer as it goes so
// that the contents are held twice for at most one table at a time.
func (r *replayer) state() State {
	s := r.s
	st := State{
		Catalog:   r.catalog,
		Tables:    make(map[uint64]TableContents, len(r.tables)+len(r.snaps)),
		Bindings:  make(map[uint64]Binding, len(s.bindings)),
		Timestamp: s.ts,
	}
	for id, snaps := range r.snaps {
		st.Tables[id] = TableContents{Snapshots: snaps}
	}
	for id, l := range r.tables {
		delete(r.tables, id)
		if ups := l.contents(); len(ups) > 0 {
			tc := st.Tables[id]
			tc.Updates = ups
			st.Tables[id] = tc
		}
	}
	for id, b := range s.bindings {
		st.Bindings[id] = b
	}
	r.catalog = nil
	return st
}

func (s *Store) noteTableWrite(ts repr.Timestamp, ups []TableUpdate) {
	for _, u := range ups {
		d := s.tables[u.Table]
		d.add(u.Row, u.Diff)
		s.tables[u.Table] = d
	}
	s.raise(ts)
}

// noteChunk adds a chunk's updates to its source's pending digests.
func (s *Store) noteChunk(source uint64, ups []TableUpdate) {
	ds := s.chunks[source]
	if ds == nil {
		ds = map[uint64]digest{}
		s.chunks[source] = ds
	}
	for _, u := range ups {
		d := ds[u.Table]
		d.add(u.Row, u.Diff)
		ds[u.Table] = d
	}
}

// commitChunks moves a source's pending chunk digests into its tables'.
func (s *Store) commitChunks(source uint64) {
	for table, cd := range s.chunks[source] {
		d := s.tables[table]
		d.count += cd.count
		d.sum += cd.sum
		s.tables[table] = d
	}
	delete(s.chunks, source)
}

func (s *Store) noteBinding(b Binding) {
	b.Positions = append([]byte(nil), b.Positions...)
	s.bindings[b.Source] = b
	s.raise(b.Time)
}

func (s *Store) raise(ts repr.Timestamp) {
	if ts > s.ts {
		s.ts = ts
	}
}

// AppendCatalog durably appends a catalog record.
func (s *Store) AppendCatalog(ctx context.Context, rec []byte) error {
	return s.append(ctx, RecCatalog, rec, nil)
}

// AppendTableWrite durably records table updates at ts.
func (s *Store) AppendTableWrite(ctx context.Context, ts repr.Timestamp, ups []TableUpdate) error {
	return s.appendRecord(ctx, tableWriteRecord(ts, ups), func() { s.noteTableWrite(ts, ups) })
}

// DropTable durably forgets a table's contents.
func (s *Store) DropTable(ctx context.Context, table uint64) error {
	return s.append(ctx, RecTableDrop, binary.AppendUvarint(nil, table), func() {
		delete(s.tables, table)
		delete(s.parts, table)
	})
}

// AppendSourceWrite durably appends a source's updates at ts and the
// bindings of its upstream positions to ts as one record: after a crash
// both are there or neither is. It commits the chunks appended for each
// bound source since its last write (AppendSourceChunk): they belong to
// ts too.
func (s *Store) AppendSourceWrite(ctx context.Context, ts repr.Timestamp, ups []TableUpdate, bs []Binding) error {
	return s.appendRecord(ctx, sourceWriteRecord(ts, ups, bs), func() {
		s.noteTableWrite(ts, ups)
		for _, b := range bs {
			s.commitChunks(b.Source)
			s.noteBinding(b)
		}
	})
}

// AppendSourceChunk durably appends part of a source's transaction that
// is too large to be one record: the updates count only once the
// source's next AppendSourceWrite (which binds the transaction's
// upstream position to its timestamp) is durable. Until then they are
// pending: AbortSourceChunks drops them, a crash drops them (Open writes
// the abort), and Compact refuses to run, since the new log generation
// would not hold them.
func (s *Store) AppendSourceChunk(ctx context.Context, source uint64, ups []TableUpdate) error {
	return s.appendRecord(ctx, sourceChunkRecord(source, chunkData, ups), func() { s.noteChunk(source, ups) })
}

// AbortSourceChunks durably drops the pending chunks of source.
func (s *Store) AbortSourceChunks(ctx context.Context, source uint64) error {
	return s.appendRecord(ctx, sourceChunkRecord(source, chunkAbort, nil), func() { delete(s.chunks, source) })
}

// PendingChunks reports whether some source has chunks neither committed
// nor aborted (Compact refuses to run then).
func (s *Store) PendingChunks() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.chunks) > 0
}

// AppendBinding durably binds a source's positions to a timestamp.
func (s *Store) AppendBinding(ctx context.Context, b Binding) error {
	return s.append(ctx, RecBinding, encodeBinding(b), func() { s.noteBinding(b) })
}

// AppendTimestamp durably raises the timestamp high water mark.
func (s *Store) AppendTimestamp(ctx context.Context, ts repr.Timestamp) error {
	return s.append(ctx, RecTimestamp, binary.AppendUvarint(nil, uint64(ts)), func() { s.raise(ts) })
}

// append queues a record and waits until it is durable. Records become
// durable in the order they were queued. note updates what the store keeps
// in memory; it runs when the record is queued, under the same lock, so
// that memory and log order agree.
func (s *Store) append(ctx context.Context, t RecordType, p []byte, note func()) error {
	return s.appendRecord(ctx, frame(nil, t, p), note)
}

// appendRecord is append of a framed record, which the store then owns.
func (s *Store) appendRecord(ctx context.Context, rec []byte, note func()) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("storage: store closed")
	}
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	if note != nil {
		note()
	}
	if len(s.pending) == 0 {
		// Most records are alone in their flush: no copy (a bulk write's
		// record is tens of megabytes).
		s.pending = rec
	} else {
		s.pending = append(s.pending, rec...)
	}
	s.queued++
	seq := s.queued
	for s.synced < seq && s.err == nil {
		if !s.syncing {
			s.flushLocked()
			continue
		}
		s.cond.Wait()
	}
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return ctx.Err()
}

// flushLocked writes and syncs every pending record, releasing the lock
// during I/O so that more records can queue behind this flush (group
// commit). While syncing is set, only the flusher touches s.log.
func (s *Store) flushLocked() {
	buf := s.pending
	s.pending = nil
	target := s.queued
	s.syncing = true
	l := s.log
	s.mu.Unlock()
	err := l.append(buf)
	s.mu.Lock()
	s.syncing = false
	if err != nil {
		s.err = err
	} else {
		s.synced = target
		s.logSize = l.end
		s.flushes++
	}
	s.cond.Broadcast()
}

// drainLocked waits until no flush runs and every queued record is durable.
func (s *Store) drainLocked() error {
	for s.err == nil && (s.syncing || len(s.pending) > 0) {
		if !s.syncing {
			s.flushLocked()
			continue
		}
		s.cond.Wait()
	}
	return s.err
}

// SnapshotSize returns the size in bytes of the live snapshot's table
// files (0 before the first compaction).
func (s *Store) SnapshotSize() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshotBytes
}

// LogSize returns the number of bytes of records logged since the live
// snapshot (not the size of the logs' preallocated files).
func (s *Store) LogSize() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.olderBytes + s.logSize
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("storage: open directory: %w", err)
	}
	err = d.Sync()
	d.Close()
	if err != nil {
		return fmt.Errorf("storage: sync directory: %w", err)
	}
	return nil
}

// Close flushes and closes the store and releases the directory lock.
func (s *Store) Close() error {
	s.mu.Lock()
	for s.compacting {
		s.cond.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	// Appends already queued are written; later ones fail.
	s.closed = true
	err := s.drainLocked()
	s.cond.Broadcast()
	s.mu.Unlock()
	if cerr := s.log.close(); err == nil {
		err = cerr
	}
	s.lock.Close()
	return err
}
