package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
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
	// Tables holds each table's consolidated contents.
	Tables map[uint64][]TableUpdate
	// Bindings holds the latest binding of each source.
	Bindings map[uint64]Binding
	// Timestamp is the highest timestamp recorded (table write, binding or
	// oracle mark).
	Timestamp repr.Timestamp
}

// Store is an open data directory. Its methods are safe for concurrent use.
type Store struct {
	dir    string
	logger *slog.Logger
	lock   *os.File

	mu      sync.Mutex // guards everything below
	cond    *sync.Cond // signalled when synced advances or on failure
	gen     uint64
	log     *os.File
	pending []byte // framed records not yet written
	queued  uint64 // sequence number of the last queued record
	synced  uint64 // sequence number of the last durable record
	syncing bool
	err     error // sticky: a failed write or fsync poisons the store
	closed  bool
	logSize int64
	flushes uint64 // number of write+sync rounds, for benchmarks

	catalog  [][]byte
	tables   map[uint64]map[string]repr.Diff
	bindings map[uint64]Binding
	ts       repr.Timestamp
}

// ErrLocked is returned by Open when another process holds the directory.
var ErrLocked = errors.New("storage: data directory is in use by another process")

// Open opens (creating if needed) the data directory dir, replays its state
// and returns it.
func Open(dir string, logger *slog.Logger) (*Store, State, error) {
	if logger == nil {
		logger = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, State{}, fmt.Errorf("storage: create data directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
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
		tables:   map[uint64]map[string]repr.Diff{},
		bindings: map[uint64]Binding{},
	}
	s.cond = sync.NewCond(&s.mu)
	if err := s.load(); err != nil {
		lock.Close()
		return nil, State{}, err
	}
	return s, s.stateLocked(), nil
}

func (s *Store) logPath(gen uint64) string {
	return filepath.Join(s.dir, "log."+strconv.FormatUint(gen, 10))
}

// load reads the snapshot and the log of its generation, cutting a torn
// tail, and opens the log for appending.
func (s *Store) load() error {
	snap, err := os.ReadFile(filepath.Join(s.dir, "snapshot"))
	switch {
	case err == nil:
		if len(snap) < 8 {
			return fmt.Errorf("storage: snapshot too short")
		}
		s.gen = binary.LittleEndian.Uint64(snap[:8])
		if _, err := s.replay(snap[8:], false); err != nil {
			return fmt.Errorf("storage: snapshot: %w", err)
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return fmt.Errorf("storage: read snapshot: %w", err)
	}
	path := s.logPath(s.gen)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return fmt.Errorf("storage: open log: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("storage: read log: %w", err)
	}
	good, err := s.replay(data, true)
	if err != nil {
		f.Close()
		return fmt.Errorf("storage: log: %w", err)
	}
	if good < len(data) {
		s.logger.Warn("storage: cutting torn log tail", "path", path, "kept", good, "dropped", len(data)-good)
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return fmt.Errorf("storage: truncate torn log: %w", err)
		}
	}
	if _, err := f.Seek(int64(good), io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("storage: seek log: %w", err)
	}
	s.log = f
	s.logSize = int64(good)
	// Remove logs of other generations left by an interrupted compaction.
	entries, _ := os.ReadDir(s.dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "log.") && e.Name() != filepath.Base(path) {
			os.Remove(filepath.Join(s.dir, e.Name()))
		}
	}
	return nil
}

// replay applies records from data and returns the length of the prefix of
// whole records. With tolerateTail, a torn record ends replay; otherwise it
// is an error.
func (s *Store) replay(data []byte, tolerateTail bool) (int, error) {
	off := 0
	for off < len(data) {
		t, p, n, err := unframe(data[off:])
		if err != nil {
			if tolerateTail {
				return off, nil
			}
			return off, err
		}
		if err := s.apply(t, p); err != nil {
			return off, err
		}
		off += n
	}
	return off, nil
}

// apply updates the in-memory state with one record.
func (s *Store) apply(t RecordType, p []byte) error {
	switch t {
	case RecCatalog:
		s.catalog = append(s.catalog, append([]byte(nil), p...))
	case RecTableWrite:
		ts, ups, err := decodeTableWrite(p)
		if err != nil {
			return err
		}
		for _, u := range ups {
			m := s.tables[u.Table]
			if m == nil {
				m = map[string]repr.Diff{}
				s.tables[u.Table] = m
			}
			k := string(u.Row)
			if d := m[k] + u.Diff; d == 0 {
				delete(m, k)
			} else {
				m[k] = d
			}
		}
		s.raise(ts)
	case RecBinding:
		b, err := decodeBinding(p)
		if err != nil {
			return err
		}
		b.Positions = append([]byte(nil), b.Positions...)
		s.bindings[b.Source] = b
		s.raise(b.Time)
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
		delete(s.tables, v)
	default:
		return fmt.Errorf("storage: unknown record type %d", t)
	}
	return nil
}

func (s *Store) raise(ts repr.Timestamp) {
	if ts > s.ts {
		s.ts = ts
	}
}

// stateLocked copies the in-memory state out; tables are sorted by row
// bytes so the result is deterministic.
func (s *Store) stateLocked() State {
	st := State{
		Catalog:   append([][]byte(nil), s.catalog...),
		Tables:    make(map[uint64][]TableUpdate, len(s.tables)),
		Bindings:  make(map[uint64]Binding, len(s.bindings)),
		Timestamp: s.ts,
	}
	for id, m := range s.tables {
		ups := make([]TableUpdate, 0, len(m))
		for k, d := range m {
			ups = append(ups, TableUpdate{Table: id, Row: repr.Row(k), Diff: d})
		}
		sort.Slice(ups, func(i, j int) bool { return string(ups[i].Row) < string(ups[j].Row) })
		st.Tables[id] = ups
	}
	for id, b := range s.bindings {
		st.Bindings[id] = b
	}
	return st
}

// AppendCatalog durably appends a catalog record.
func (s *Store) AppendCatalog(ctx context.Context, rec []byte) error {
	return s.append(ctx, RecCatalog, rec)
}

// AppendTableWrite durably records table updates at ts.
func (s *Store) AppendTableWrite(ctx context.Context, ts repr.Timestamp, ups []TableUpdate) error {
	return s.append(ctx, RecTableWrite, encodeTableWrite(ts, ups))
}

// DropTable durably forgets a table's contents.
func (s *Store) DropTable(ctx context.Context, table uint64) error {
	return s.append(ctx, RecTableDrop, binary.AppendUvarint(nil, table))
}

// AppendBinding durably binds a source's positions to a timestamp.
func (s *Store) AppendBinding(ctx context.Context, b Binding) error {
	return s.append(ctx, RecBinding, encodeBinding(b))
}

// AppendTimestamp durably raises the timestamp high water mark.
func (s *Store) AppendTimestamp(ctx context.Context, ts repr.Timestamp) error {
	return s.append(ctx, RecTimestamp, binary.AppendUvarint(nil, uint64(ts)))
}

// append queues a record and waits until it is durable. Records become
// durable in the order they were queued. The in-memory state is updated
// when the record is queued, under the same lock, so state and log order
// agree.
func (s *Store) append(ctx context.Context, t RecordType, p []byte) error {
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
	if err := s.apply(t, p); err != nil {
		s.mu.Unlock()
		return err
	}
	s.pending = frame(s.pending, t, p)
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

// flushLocked writes and fsyncs every pending record, releasing the lock
// during I/O so that more records can queue behind this flush (group
// commit).
func (s *Store) flushLocked() {
	buf := s.pending
	s.pending = nil
	target := s.queued
	s.syncing = true
	f := s.log
	s.mu.Unlock()
	_, err := f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	s.mu.Lock()
	s.syncing = false
	if err != nil {
		s.err = fmt.Errorf("storage: write log: %w", err)
	} else {
		s.synced = target
		s.logSize += int64(len(buf))
		s.flushes++
	}
	s.cond.Broadcast()
}

// LogSize returns the number of bytes in the current log generation.
func (s *Store) LogSize() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logSize
}

// Compact writes the current state, with catalog replaced by the given
// records (the coordinator's live catalog), as a new snapshot, and starts
// an empty log. Appends wait while it runs.
func (s *Store) Compact(catalog [][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.syncing {
		s.cond.Wait()
	}
	if s.err != nil {
		return s.err
	}
	if len(s.pending) > 0 {
		s.flushLocked()
		for s.syncing {
			s.cond.Wait()
		}
		if s.err != nil {
			return s.err
		}
	}
	s.catalog = append([][]byte(nil), catalog...)
	st := s.stateLocked()
	next := s.gen + 1
	buf := binary.LittleEndian.AppendUint64(nil, next)
	for _, c := range st.Catalog {
		buf = frame(buf, RecCatalog, c)
	}
	ids := make([]uint64, 0, len(st.Tables))
	for id := range st.Tables {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		buf = frame(buf, RecTableWrite, encodeTableWrite(st.Timestamp, st.Tables[id]))
	}
	for _, b := range st.Bindings {
		buf = frame(buf, RecBinding, encodeBinding(b))
	}
	buf = frame(buf, RecTimestamp, binary.AppendUvarint(nil, uint64(st.Timestamp)))
	if err := writeFileAtomic(filepath.Join(s.dir, "snapshot"), buf); err != nil {
		return err
	}
	f, err := os.OpenFile(s.logPath(next), os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		s.err = fmt.Errorf("storage: create log: %w", err)
		return s.err
	}
	old := s.log
	s.log = f
	s.gen = next
	s.logSize = 0
	old.Close()
	os.Remove(s.logPath(next - 1))
	syncDir(s.dir)
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("storage: write %s: %w", tmp, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("storage: write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("storage: sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("storage: close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("storage: rename %s: %w", tmp, err)
	}
	syncDir(filepath.Dir(path))
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Close flushes and closes the store and releases the directory lock.
func (s *Store) Close() error {
	s.mu.Lock()
	for s.syncing {
		s.cond.Wait()
	}
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	if len(s.pending) > 0 && s.err == nil {
		s.flushLocked()
	}
	s.closed = true
	err := s.err
	s.mu.Unlock()
	if cerr := s.log.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("storage: close log: %w", cerr)
	}
	s.lock.Close()
	return err
}
