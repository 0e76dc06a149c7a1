package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/viewd/viewd/repr"
)

func row(vals ...int64) repr.Row {
	ds := make([]repr.Datum, len(vals))
	for i, v := range vals {
		ds[i] = repr.Int8Datum(v)
	}
	return repr.PackRow(ds...)
}

func mustOpen(t *testing.T, dir string) (*Store, State) {
	t.Helper()
	s, st, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

// contents renders a table's consolidated state as row -> diff.
func contents(ups []TableUpdate) map[string]repr.Diff {
	m := map[string]repr.Diff{}
	for _, u := range ups {
		k := u.Row.String()
		if m[k] += u.Diff; m[k] == 0 {
			delete(m, k)
		}
	}
	return m
}

// smallChunks makes the test's logs grow in small chunks, so that tests
// that open many stores do not allocate (and scan) 64 MiB for each.
func smallChunks(t *testing.T, n int64) {
	old := logChunk
	logChunk = n
	t.Cleanup(func() { logChunk = old })
}

// model is a test's own copy of the tables, standing in for the
// coordinator's dataflows. Writers hold mu shared across an append and its
// application; compaction holds it exclusively, so that the contents it
// streams are exactly those logged.
type model struct {
	mu     sync.RWMutex
	mmu    sync.Mutex
	tables map[uint64]map[string]repr.Diff
}

func newModel() *model { return &model{tables: map[uint64]map[string]repr.Diff{}} }

func (m *model) write(ctx context.Context, s *Store, ts repr.Timestamp, ups []TableUpdate) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := s.AppendTableWrite(ctx, ts, ups); err != nil {
		return err
	}
	m.mmu.Lock()
	defer m.mmu.Unlock()
	for _, u := range ups {
		c := m.tables[u.Table]
		if c == nil {
			c = map[string]repr.Diff{}
			m.tables[u.Table] = c
		}
		k := string(u.Row)
		if c[k] += u.Diff; c[k] == 0 {
			delete(c, k)
		}
	}
	return nil
}

func (m *model) drop(ctx context.Context, s *Store, table uint64) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if err := s.DropTable(ctx, table); err != nil {
		return err
	}
	m.mmu.Lock()
	delete(m.tables, table)
	m.mmu.Unlock()
	return nil
}

// compact compacts s with the model's contents.
func (m *model) compact(s *Store, catalog [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return s.Compact(catalog, m.snapshotTables())
}

// snapshotTables gives the model's tables as Compact takes them, each in
// the order of the arrangement a coordinator would hold: odd tables are
// keyed by their rows' first column (as a primary key), even ones by
// whole row.
func (m *model) snapshotTables() []SnapshotTable {
	var out []SnapshotTable
	for id, c := range m.tables {
		keyed := id%2 == 1
		type upd struct {
			key, row repr.Row
			d        repr.Diff
		}
		var ups []upd
		for k, d := range c {
			u := upd{row: repr.Row(k), d: d}
			if keyed {
				u.key = keyOf(u.row)
			}
			ups = append(ups, u)
		}
		slices.SortFunc(ups, func(a, b upd) int {
			if c := bytes.Compare(a.key, b.key); c != 0 {
				return c
			}
			return bytes.Compare(a.row, b.row)
		})
		var meta map[string]string
		if keyed {
			meta = map[string]string{"test.key": "the first column"}
		}
		out = append(out, SnapshotTable{ID: id, Keyed: keyed, Metadata: meta, Scan: func(emit func(key, row repr.Row, d repr.Diff) error) error {
			for _, u := range ups {
				if err := emit(u.key, u.row, u.d); err != nil {
					return err
				}
			}
			return nil
		}})
	}
	return out
}

// keyOf packs a row's first column, the key of the model's keyed tables.
func keyOf(r repr.Row) repr.Row { return repr.PackRow(r.Datums()[0]) }

// load replaces the model's contents with a replayed state's.
func (m *model) load(t testing.TB, st State) {
	m.tables = map[uint64]map[string]repr.Diff{}
	for id, ups := range tableUpdates(t, st) {
		c := map[string]repr.Diff{}
		for _, u := range ups {
			k := string(u.Row)
			if c[k] += u.Diff; c[k] == 0 {
				delete(c, k)
			}
		}
		m.tables[id] = c
	}
}

// tableUpdates reads every table's contents in st: its snapshot files
// (each checked whole) and the updates logged after them.
func tableUpdates(t testing.TB, st State) map[uint64][]TableUpdate {
	t.Helper()
	out := map[uint64][]TableUpdate{}
	for id, tc := range st.Tables {
		var ups []TableUpdate
		for _, snap := range tc.Snapshots {
			f, err := snap.Open()
			if err != nil {
				t.Fatal(err)
			}
			err = f.Scan(func(_, row repr.Row, d repr.Diff) error {
				ups = append(ups, TableUpdate{Table: id, Row: row.Clone(), Diff: d})
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		ups = append(ups, tc.Updates...)
		if len(ups) > 0 {
			out[id] = ups
		}
	}
	return out
}

// equalStates reports how two replayed states differ, or "" if they agree.
// a's tables are given as read (its snapshot files may be gone by now).
func equalStates(t testing.TB, a State, at map[uint64][]TableUpdate, b State) string {
	if !slices.EqualFunc(a.Catalog, b.Catalog, bytes.Equal) {
		return fmt.Sprintf("catalog %q != %q", a.Catalog, b.Catalog)
	}
	if a.Timestamp != b.Timestamp {
		return fmt.Sprintf("timestamp %d != %d", a.Timestamp, b.Timestamp)
	}
	if !maps.EqualFunc(a.Bindings, b.Bindings, func(x, y Binding) bool {
		return x.Source == y.Source && x.Time == y.Time && bytes.Equal(x.Positions, y.Positions)
	}) {
		return fmt.Sprintf("bindings %v != %v", a.Bindings, b.Bindings)
	}
	// A table is consolidated only when it saw retractions: compare
	// contents.
	return equalTables(at, tableUpdates(t, b))
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, st := mustOpen(t, dir)
	if len(st.Catalog) != 0 || len(st.Tables) != 0 {
		t.Fatalf("fresh store not empty: %+v", st)
	}
	if err := s.AppendCatalog(ctx, []byte("create table t")); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendTableWrite(ctx, 5, []TableUpdate{{1, row(1), 1}, {1, row(2), 2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendTableWrite(ctx, 7, []TableUpdate{{1, row(2), -1}, {1, row(1), -1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendBinding(ctx, Binding{Source: 9, Time: 8, Positions: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, st = mustOpen(t, dir)
	defer s.Close()
	if len(st.Catalog) != 1 || string(st.Catalog[0]) != "create table t" {
		t.Fatalf("catalog: %q", st.Catalog)
	}
	got := contents(tableUpdates(t, st)[1])
	if len(got) != 1 || got["(2)"] != 1 {
		t.Fatalf("table contents: %v", got)
	}
	if b := st.Bindings[9]; b.Time != 8 || string(b.Positions) != "p" {
		t.Fatalf("binding: %+v", b)
	}
	if st.Timestamp != 8 {
		t.Fatalf("timestamp: %d", st.Timestamp)
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	defer s.Close()
	if _, _, err := Open(dir, nil); err == nil {
		t.Fatal("second Open of the same directory succeeded")
	}
}

// TestDataDirectoryPrivate: the data directory and the files the store
// writes (log, table files, snapshot) are the server's user's only, and an
// existing directory open to others is restricted on Open.
func TestDataDirectoryPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s, _ := mustOpen(t, dir)
	if err := s.AppendTableWrite(context.Background(), 1, []TableUpdate{{Table: 7, Row: repr.Row("r"), Diff: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(nil, []SnapshotTable{{ID: 7, Scan: func(emit func(key, row repr.Row, d repr.Diff) error) error {
		return emit(nil, repr.Row("r"), 1)
	}}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data directory mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) < 3 {
		t.Fatalf("data directory holds %d entries (%v)", len(entries), err)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v: readable by other users", e.Name(), info.Mode().Perm())
		}
	}
}

// TestTornTail cuts the log at every byte offset and checks that the state
// on reopen is always a prefix of the acknowledged writes, never an error,
// whether the cut is followed by nothing (a log written before logs were
// preallocated), by the zeros of a preallocated log, or by garbage.
func TestTornTail(t *testing.T) {
	smallChunks(t, 4096)
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	const n = 8
	for i := 0; i < n; i++ {
		if err := s.AppendTableWrite(ctx, repr.Timestamp(i+1), []TableUpdate{{1, row(int64(i)), 1}}); err != nil {
			t.Fatal(err)
		}
	}
	end := s.LogSize()
	s.Close()
	file, err := os.ReadFile(filepath.Join(dir, "log.0"))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(file)) != logChunk {
		t.Fatalf("log file is %d bytes, want one chunk of %d", len(file), logChunk)
	}
	full := file[:end]
	tails := map[string]func(cut []byte) []byte{
		"none":    func(cut []byte) []byte { return cut },
		"zeros":   func(cut []byte) []byte { return append(cut, make([]byte, 5000)...) },
		"garbage": func(cut []byte) []byte { return append(cut, bytes.Repeat([]byte{0xa5}, 100)...) },
	}
	for name, tail := range tails {
		for cut := 0; cut <= len(full); cut++ {
			d := t.TempDir()
			data := tail(append([]byte(nil), full[:cut]...))
			if err := os.WriteFile(filepath.Join(d, "log.0"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			s, st, err := Open(d, nil)
			if err != nil {
				t.Fatalf("%s cut %d: %v", name, cut, err)
			}
			got := contents(tableUpdates(t, st)[1])
			k := len(got)
			for i := 0; i < k; i++ {
				if got[fmt.Sprintf("(%d)", i)] != 1 {
					t.Fatalf("%s cut %d: state is not a prefix: %v", name, cut, got)
				}
			}
			if st.Timestamp != repr.Timestamp(k) {
				t.Fatalf("%s cut %d: timestamp %d for %d writes", name, cut, st.Timestamp, k)
			}
			// The store must accept appends after the cut and keep them.
			if err := s.AppendTableWrite(ctx, 100, []TableUpdate{{2, row(1), 1}}); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, st, err = Open(d, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(tableUpdates(t, st)[2]) != 1 || len(contents(tableUpdates(t, st)[1])) != k {
				t.Fatalf("%s cut %d: append after recovery lost", name, cut)
			}
			s.Close()
		}
	}
}

// TestStaleRecordAfterTornOne builds the log a crash during a flush can
// leave: a whole record B, a torn record C1, then a whole record C2 of the
// same flush (the disk wrote its pages out of order). Neither C1 nor C2
// was acknowledged. After recovery a new record D exactly as long as C1 is
// appended; C2 must not come back behind it.
func TestStaleRecordAfterTornOne(t *testing.T) {
	smallChunks(t, 4096)
	ctx := context.Background()
	dir := t.TempDir()
	w := func(ts repr.Timestamp, v int64) []byte {
		return frame(nil, RecTableWrite, encodeTableWrite(ts, []TableUpdate{{1, row(v), 1}}))
	}
	b, c1, c2 := w(1, 1), w(2, 2), w(3, 3)
	torn := append([]byte(nil), c1...)
	for i := 8; i < len(torn); i++ {
		torn[i] = 0
	}
	log := append(append(append([]byte(nil), b...), torn...), c2...)
	log = append(log, make([]byte, 4096-len(log))...)
	if err := os.WriteFile(filepath.Join(dir, "log.0"), log, 0o644); err != nil {
		t.Fatal(err)
	}
	s, st := mustOpen(t, dir)
	if got := contents(tableUpdates(t, st)[1]); len(got) != 1 || got["(1)"] != 1 {
		t.Fatalf("after recovery: %v", got)
	}
	// D: same table, same encoded length as C1.
	if err := s.AppendTableWrite(ctx, 2, []TableUpdate{{1, row(4), 1}}); err != nil {
		t.Fatal(err)
	}
	if s.LogSize() != int64(len(b)+len(c1)) {
		t.Fatalf("D does not end where C2 started: log size %d", s.LogSize())
	}
	s.Close()
	s, st = mustOpen(t, dir)
	defer s.Close()
	if got := contents(tableUpdates(t, st)[1]); len(got) != 2 || got["(1)"] != 1 || got["(4)"] != 1 {
		t.Fatalf("stale record replayed: %v", got)
	}
	if st.Timestamp != 2 {
		t.Fatalf("timestamp %d, want 2", st.Timestamp)
	}
}

// TestPreallocated checks that appends within a chunk do not change the
// log file's size and that the log grows by whole chunks.
func TestPreallocated(t *testing.T) {
	smallChunks(t, 64<<10)
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	defer s.Close()
	size := func() int64 {
		fi, err := os.Stat(filepath.Join(dir, "log.0"))
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if size() != logChunk {
		t.Fatalf("new log is %d bytes, want %d", size(), logChunk)
	}
	big := make([]TableUpdate, 0, 1000)
	for i := 0; i < 1000; i++ {
		big = append(big, TableUpdate{1, row(int64(i), 1, 2, 3, 4, 5, 6, 7), 1})
	}
	for s.LogSize() < 2*logChunk {
		if err := s.AppendTableWrite(ctx, 1, big); err != nil {
			t.Fatal(err)
		}
		if want := (s.LogSize() + logChunk - 1) / logChunk * logChunk; size() != want {
			t.Fatalf("log of %d bytes in a file of %d, want %d", s.LogSize(), size(), want)
		}
	}
}

// TestConcurrentAppendsAndCompaction runs concurrent writers with
// compactions between them and checks the final state against a model.
func TestConcurrentAppendsAndCompaction(t *testing.T) {
	smallChunks(t, 64<<10)
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	m := newModel()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if err := m.write(ctx, s, repr.Timestamp(i), []TableUpdate{{uint64(w), row(int64(i)), 1}}); err != nil {
					t.Error(err)
					return
				}
				if i%10 == 9 {
					if err := m.write(ctx, s, repr.Timestamp(i), []TableUpdate{{uint64(w), row(int64(i)), -1}}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}(w)
	}
	for i := 0; i < 5; i++ {
		if err := m.compact(s, [][]byte{[]byte("c")}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, st := mustOpen(t, dir)
	defer s.Close()
	for w := 0; w < writers; w++ {
		got := contents(tableUpdates(t, st)[uint64(w)])
		if len(got) != each-each/10 {
			t.Fatalf("writer %d: %d rows, want %d", w, len(got), each-each/10)
		}
	}
	if len(st.Catalog) != 1 {
		t.Fatalf("catalog after compaction: %q", st.Catalog)
	}
}

func TestCompactionInterrupted(t *testing.T) {
	smallChunks(t, 64<<10)
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	m := newModel()
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 30; i++ {
		if err := m.write(ctx, s, repr.Timestamp(i), []TableUpdate{{1, row(int64(rng.Intn(5))), 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.compact(s, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// Simulate a crash after the snapshot rename but before the old log
	// was removed: put a stale log.0 back. It must be ignored. Likewise a
	// snapshot.tmp of a compaction that never finished.
	if err := os.WriteFile(filepath.Join(dir, "log.0"), frame(nil, RecTableWrite, encodeTableWrite(1, []TableUpdate{{1, row(99), 1}})), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "snapshot.tmp"), []byte("half a snapshot"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, st := mustOpen(t, dir)
	defer s.Close()
	total := repr.Diff(0)
	for _, u := range tableUpdates(t, st)[1] {
		total += u.Diff
		if u.Row.String() == "(99)" {
			t.Fatal("stale log replayed after compaction")
		}
	}
	if total != 30 {
		t.Fatalf("total multiplicity %d, want 30", total)
	}
	if _, err := os.Stat(filepath.Join(dir, "snapshot.tmp")); !os.IsNotExist(err) {
		t.Fatalf("snapshot.tmp not removed: %v", err)
	}
}

// randomOps applies a random mix of every record type to s and m.
func randomOps(t *testing.T, rng *rand.Rand, s *Store, m *model, n int, ts *repr.Timestamp) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		*ts++
		table := uint64(rng.Intn(6))
		var err error
		switch r := rng.Intn(20); {
		case r < 12:
			var ups []TableUpdate
			for j := rng.Intn(4); j >= 0; j-- {
				d := repr.Diff(1)
				if rng.Intn(3) == 0 {
					d = -1
				}
				ups = append(ups, TableUpdate{table, row(int64(rng.Intn(8)), int64(table)), d})
			}
			err = m.write(ctx, s, *ts, ups)
		case r < 13:
			err = m.drop(ctx, s, table)
		case r < 15:
			err = s.AppendBinding(ctx, Binding{Source: uint64(rng.Intn(3)), Time: *ts, Positions: []byte(fmt.Sprint(i))})
		case r < 17:
			err = s.AppendTimestamp(ctx, *ts)
		default:
			err = s.AppendCatalog(ctx, []byte(fmt.Sprint("catalog ", i)))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestReplayAfterCompaction checks that compacting with the replayed
// contents and reopening gives the state replayed before, for random
// histories of every record type (drops included: a dropped table's
// earlier writes must not come back), and that appends after the
// compaction replay on top of the snapshot.
func TestReplayAfterCompaction(t *testing.T) {
	smallChunks(t, 64<<10)
	for seed := int64(0); seed < 4; seed++ {
		rng := rand.New(rand.NewSource(seed))
		dir := t.TempDir()
		s, _ := mustOpen(t, dir)
		m := newModel()
		var ts repr.Timestamp
		randomOps(t, rng, s, m, 200, &ts)
		s.Close()
		for round := 0; round < 3; round++ {
			s, before := mustOpen(t, dir)
			m.load(t, before)
			bt := tableUpdates(t, before)
			if diff := equalTables(bt, modelTables(m)); diff != "" {
				t.Fatalf("seed %d round %d: replay disagrees with the model: %s", seed, round, diff)
			}
			if err := m.compact(s, before.Catalog); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, after := mustOpen(t, dir)
			if diff := equalStates(t, before, bt, after); diff != "" {
				t.Fatalf("seed %d round %d: replay after compaction differs: %s", seed, round, diff)
			}
			randomOps(t, rng, s, m, 100, &ts)
			s.Close()
		}
	}
}

// equalTables reports how two tables' contents differ, or "" if they
// agree.
func equalTables(a, b map[uint64][]TableUpdate) string {
	if !maps.EqualFunc(a, b, func(x, y []TableUpdate) bool { return maps.Equal(contents(x), contents(y)) }) {
		return fmt.Sprintf("tables %v != %v", a, b)
	}
	return ""
}

// modelTables renders a model's tables: consolidated, sorted.
func modelTables(m *model) map[uint64][]TableUpdate {
	out := map[uint64][]TableUpdate{}
	for id, c := range m.tables {
		for _, k := range slices.Sorted(maps.Keys(c)) {
			out[id] = append(out[id], TableUpdate{Table: id, Row: repr.Row(k), Diff: c[k]})
		}
	}
	return out
}

// rowsTable is a table arranged by row whose updates are rows, each +1,
// in the order given (equal rows are counted together).
func rowsTable(id uint64, rows ...repr.Row) SnapshotTable {
	var rs []repr.Row
	var ds []repr.Diff
	for _, r := range rows {
		if n := len(rs); n > 0 && bytes.Equal(rs[n-1], r) {
			ds[n-1]++
			continue
		}
		rs, ds = append(rs, r), append(ds, 1)
	}
	return SnapshotTable{ID: id, Scan: emitAll(nil, rs, ds)}
}

// emitAll is a Scan giving keys (nil: none), rows and diffs as they are.
func emitAll(keys, rows []repr.Row, diffs []repr.Diff) func(emit func(key, row repr.Row, d repr.Diff) error) error {
	return func(emit func(key, row repr.Row, d repr.Diff) error) error {
		for i := range rows {
			var k repr.Row
			if keys != nil {
				k = keys[i]
			}
			if err := emit(k, rows[i], diffs[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestDropThenCompaction drops a table, compacts and reopens: the table
// must stay gone, and Compact must refuse contents for it.
func TestDropThenCompaction(t *testing.T) {
	smallChunks(t, 64<<10)
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	m := newModel()
	for i := int64(0); i < 10; i++ {
		if err := m.write(ctx, s, repr.Timestamp(i+1), []TableUpdate{{1, row(i), 1}, {2, row(i), 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.drop(ctx, s, 1); err != nil {
		t.Fatal(err)
	}
	// The caller still streaming the dropped table is a bug Compact catches.
	stale := append(m.snapshotTables(), rowsTable(1, row(0)))
	if err := s.Compact(nil, stale); err == nil {
		t.Fatal("Compact accepted contents for a dropped table")
	}
	if err := m.compact(s, nil); err != nil {
		t.Fatal(err)
	}
	// A write after the compaction, then a drop of the other table whose
	// contents are now in the snapshot.
	if err := m.write(ctx, s, 20, []TableUpdate{{3, row(1), 1}}); err != nil {
		t.Fatal(err)
	}
	if err := m.drop(ctx, s, 2); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, st := mustOpen(t, dir)
	if len(tableUpdates(t, st)[1]) != 0 || len(tableUpdates(t, st)[2]) != 0 || len(tableUpdates(t, st)[3]) != 1 {
		t.Fatalf("after drop, compaction, drop: %v", st.Tables)
	}
	if err := m.compact(s, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, st = mustOpen(t, dir)
	defer s.Close()
	if len(st.Tables) != 1 || len(tableUpdates(t, st)[3]) != 1 || st.Timestamp != 20 {
		t.Fatalf("after second compaction: %v at %d", st.Tables, st.Timestamp)
	}
}

// TestCompactChecksContents gives Compact contents that are not those
// logged; it must fail and leave the store as it was.
func TestCompactChecksContents(t *testing.T) {
	smallChunks(t, 64<<10)
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	m := newModel()
	if err := m.write(ctx, s, 1, []TableUpdate{{1, row(1), 1}, {1, row(2), 2}}); err != nil {
		t.Fatal(err)
	}
	// Table 1 is arranged by row: (1) once, (2) twice.
	wrong := map[string][]SnapshotTable{
		"missing row":    {rowsTable(1, row(2), row(2))},
		"other row":      {rowsTable(1, row(1), row(3), row(3))},
		"nothing":        nil,
		"out of order":   {rowsTable(1, row(2), row(2), row(1))},
		"unconsolidated": {{ID: 1, Scan: emitAll(nil, []repr.Row{row(1), row(2), row(2)}, []repr.Diff{1, 1, 1})}},
		"zero diff":      {{ID: 1, Scan: emitAll(nil, []repr.Row{row(1), row(2), row(3)}, []repr.Diff{1, 2, 0})}},
		"given twice":    {rowsTable(1, row(1), row(2), row(2)), rowsTable(1)},
		"key for rows":   {{ID: 1, Scan: emitAll([]repr.Row{row(1), row(2)}, []repr.Row{row(1), row(2)}, []repr.Diff{1, 2})}},
		"reserved metadata": {{ID: 1, Metadata: map[string]string{"viewd.order": "x"},
			Scan: emitAll(nil, []repr.Row{row(1), row(2)}, []repr.Diff{1, 2})}},
	}
	for name, tables := range wrong {
		if err := s.Compact(nil, tables); err == nil {
			t.Fatalf("%s: Compact accepted wrong contents", name)
		}
	}
	if err := s.Compact(nil, []SnapshotTable{rowsTable(1, row(1), row(2), row(2))}); err != nil {
		t.Fatal(err)
	}
	// Failed compactions left no files behind.
	names, err := filepath.Glob(filepath.Join(dir, "snap.*"))
	if err != nil || len(names) != 1 {
		t.Fatalf("table files after the compactions: %v %v", names, err)
	}
	if err := m.write(ctx, s, 2, []TableUpdate{{1, row(1), -1}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, st := mustOpen(t, dir)
	defer s.Close()
	if got := contents(tableUpdates(t, st)[1]); len(got) != 1 || got["(2)"] != 2 {
		t.Fatalf("contents: %v", got)
	}
}

// TestSourceWriteAtomic: a source write's rows and bindings replay
// together, and a torn source write record leaves neither.
func TestSourceWriteAtomic(t *testing.T) {
	smallChunks(t, 4096)
	dir := t.TempDir()
	a := sourceWriteRecord(5, []TableUpdate{{7, row(1), 1}}, []Binding{{Source: 3, Time: 5, Positions: []byte("p1")}})
	b := sourceWriteRecord(6, []TableUpdate{{7, row(2), 1}}, []Binding{{Source: 3, Time: 6, Positions: []byte("p2")}})
	torn := append([]byte(nil), b...)
	for i := len(torn) - 4; i < len(torn); i++ {
		torn[i] = 0 // the binding's end never reached the disk
	}
	log := append(append([]byte(nil), a...), torn...)
	log = append(log, make([]byte, 4096-len(log))...)
	if err := os.WriteFile(filepath.Join(dir, "log.0"), log, 0o644); err != nil {
		t.Fatal(err)
	}
	s, st := mustOpen(t, dir)
	if bd := st.Bindings[3]; string(bd.Positions) != "p1" || bd.Time != 5 {
		t.Fatalf("binding after a torn record: %+v", bd)
	}
	if got := contents(tableUpdates(t, st)[7]); len(got) != 1 || got["(1)"] != 1 {
		t.Fatalf("rows after a torn record: %v", got)
	}
	// A whole one replays both, after a reopen.
	if err := s.AppendSourceWrite(context.Background(), 7, []TableUpdate{{7, row(3), 1}}, []Binding{{Source: 3, Time: 7, Positions: []byte("p3")}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, st = mustOpen(t, dir)
	defer s.Close()
	if bd := st.Bindings[3]; string(bd.Positions) != "p3" {
		t.Fatalf("binding after reopen: %+v", bd)
	}
	if got := contents(tableUpdates(t, st)[7]); len(got) != 2 || got["(3)"] != 1 {
		t.Fatalf("rows after reopen: %v", got)
	}
}

// TestAppendsDuringCompaction: appends go on (and are acknowledged) while
// a compaction writes its snapshot, into the log it moved to; after the
// compaction, or after it fails (a table's scan fails, as when the
// coordinator shuts down), a reopened store holds every write, and the
// next compaction folds the chain of logs into one snapshot.
func TestAppendsDuringCompaction(t *testing.T) {
	smallChunks(t, 64<<10)
	ctx := context.Background()
	for _, fail := range []bool{false, true} {
		dir := t.TempDir()
		s, _ := mustOpen(t, dir)
		m := newModel()
		for i := range int64(20) {
			if err := m.write(ctx, s, repr.Timestamp(i+1), []TableUpdate{{1, row(i), 1}, {2, row(i, 2), 1}}); err != nil {
				t.Fatal(err)
			}
		}
		before := s.LogSize()
		m.mu.Lock()
		tables := m.snapshotTables()
		entered, release := make(chan struct{}), make(chan struct{})
		scan := tables[0].Scan
		tables[0].Scan = func(emit func(key, row repr.Row, d repr.Diff) error) error {
			close(entered)
			<-release
			if fail {
				return errors.New("scan cancelled")
			}
			return scan(emit)
		}
		c, err := s.BeginCompact([][]byte{[]byte("c")}, tables)
		m.mu.Unlock()
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Write() }()
		<-entered
		// The compaction waits in its scan: every append below returns.
		for i := range int64(10) {
			if err := m.write(ctx, s, repr.Timestamp(100+i), []TableUpdate{{1, row(i), -1}, {4, row(i, 4), 1}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.drop(ctx, s, 2); err != nil {
			t.Fatal(err)
		}
		during := s.LogSize() - before
		close(release)
		err = <-done
		if fail != (err != nil) {
			t.Fatalf("fail=%v: Write: %v", fail, err)
		}
		if got := s.LogSize(); fail && got != before+during || !fail && got != during {
			t.Fatalf("fail=%v: log size %d after the compaction (before it %d, appended during it %d)", fail, got, before, during)
		}
		s.Close()
		s, st := mustOpen(t, dir)
		if diff := equalTables(tableUpdates(t, st), modelTables(m)); diff != "" {
			t.Fatalf("fail=%v: reopened: %s", fail, diff)
		}
		if err := m.compact(s, st.Catalog); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s, st = mustOpen(t, dir)
		if diff := equalTables(tableUpdates(t, st), modelTables(m)); diff != "" {
			t.Fatalf("fail=%v: after the next compaction: %s", fail, diff)
		}
		s.Close()
		logs, _ := filepath.Glob(filepath.Join(dir, "log.*"))
		if len(logs) != 1 {
			t.Fatalf("fail=%v: logs left: %v", fail, logs)
		}
	}
}

// onlySnapshot returns tc's one snapshot file, nil when it has none; it
// fails the test when tc has several parts.
func onlySnapshot(t testing.TB, tc TableContents) *TableSnapshot {
	t.Helper()
	switch len(tc.Snapshots) {
	case 0:
		return nil
	case 1:
		return tc.Snapshots[0]
	}
	t.Fatalf("table has %d snapshot files, want one", len(tc.Snapshots))
	return nil
}
