package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"hash/crc32"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/viewd/viewd/repr"
)

// smallBatches makes table files cut record batches every n updates.
func smallBatches(t *testing.T, n int) {
	old := tableBatchRows
	tableBatchRows = n
	t.Cleanup(func() { tableBatchRows = old })
}

// writeTables fills tables 1 (keyed) and 2 (by row) with rows, some
// retracted and some with multiplicity above one, and returns the model.
func writeTables(t *testing.T, s *Store, rows int) *model {
	t.Helper()
	ctx := context.Background()
	m := newModel()
	for i := range int64(rows) {
		ups := []TableUpdate{{1, row(i%17, i), 1}, {2, row(i%5, i%11), 1}}
		if err := m.write(ctx, s, repr.Timestamp(i+1), ups); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if err := m.write(ctx, s, repr.Timestamp(i+1), []TableUpdate{{1, row(i%17, i), -1}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return m
}

// TestTableFileRoundTrip compacts keyed and row-arranged tables into
// table files of many record batches, appends after the compaction, and
// reopens: each table's file holds its contents in (key, row) order, the
// later writes come as updates, and a plain Arrow reader sees the
// documented layout.
func TestTableFileRoundTrip(t *testing.T) {
	dir, s, m := compactedStore(t, 7, 300)
	atCompaction := modelTables(m)
	if err := m.write(context.Background(), s, 1000, []TableUpdate{{2, row(100, 100), 1}, {1, row(0, 0), 1}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, st := mustOpen(t, dir)
	defer s.Close()
	if len(st.Catalog) != 1 || st.Timestamp != 1000 {
		t.Fatalf("catalog %q, timestamp %d", st.Catalog, st.Timestamp)
	}
	for id, keyed := range map[uint64]bool{1: true, 2: false} {
		tc := st.Tables[id]
		if onlySnapshot(t, tc) == nil || onlySnapshot(t, tc).Keyed != keyed || len(tc.Updates) != 1 {
			t.Fatalf("table %d: %+v", id, tc)
		}
		if int(onlySnapshot(t, tc).Rows) != len(atCompaction[id]) {
			t.Fatalf("table %d: file of %d rows, want %d", id, onlySnapshot(t, tc).Rows, len(atCompaction[id]))
		}
		f, err := onlySnapshot(t, tc).Open()
		if err != nil {
			t.Fatal(err)
		}
		meta := f.Metadata()
		wantOrder := "row"
		if keyed {
			wantOrder = "key,row"
			if meta["test.key"] != "the first column" {
				t.Fatalf("table %d: caller's metadata lost: %v", id, meta)
			}
		}
		if meta[metaOrder] != wantOrder || meta[metaFormat] != tableFileFormat || meta[metaTable] != itoa(id) {
			t.Fatalf("table %d: metadata %v", id, meta)
		}
		var got []TableUpdate
		var prevKey, prevRow []byte
		var keyBytes int64
		err = f.Scan(func(key, r repr.Row, d repr.Diff) error {
			if keyed != (key != nil) {
				t.Fatalf("table %d: key %v", id, key)
			}
			if keyed && !bytes.Equal(key, keyOf(r)) {
				t.Fatalf("table %d: key %s for row %s", id, key, r)
			}
			if got != nil && (bytes.Compare(prevKey, key) > 0 || bytes.Equal(prevKey, key) && bytes.Compare(prevRow, r) >= 0) {
				t.Fatalf("table %d: update %d out of (key, row) order", id, len(got))
			}
			prevKey, prevRow = slices.Clone(key), slices.Clone(r)
			keyBytes += int64(len(key))
			got = append(got, TableUpdate{id, r.Clone(), d})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if keyBytes != onlySnapshot(t, tc).KeyBytes {
			t.Fatalf("table %d: %d key bytes, manifest says %d", id, keyBytes, onlySnapshot(t, tc).KeyBytes)
		}
		if d := equalTables(map[uint64][]TableUpdate{id: got}, map[uint64][]TableUpdate{id: atCompaction[id]}); d != "" {
			t.Fatalf("table %d: %s", id, d)
		}
		checkPlainArrow(t, onlySnapshot(t, tc).Path(), keyed, int(onlySnapshot(t, tc).Rows))
	}
}

// checkPlainArrow reads a table file as any Arrow reader would, knowing
// only doc.go's layout.
func checkPlainArrow(t *testing.T, path string, keyed bool, rows int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var names []string
	for _, fl := range r.Schema().Fields() {
		names = append(names, fl.Name+" "+fl.Type.String())
	}
	want := []string{"row binary", "diff int64"}
	if keyed {
		want = append([]string{"key binary"}, want...)
	}
	if !slices.Equal(names, want) {
		t.Fatalf("%s: fields %v, want %v", path, names, want)
	}
	n := 0
	for i := range r.NumRecords() {
		rec, err := r.RecordBatchAt(i)
		if err != nil {
			t.Fatal(err)
		}
		if rec.NumRows() > int64(tableBatchRows) {
			t.Fatalf("%s: a record batch of %d rows", path, rec.NumRows())
		}
		n += int(rec.NumRows())
		rec.Release()
	}
	if n != rows || r.NumRecords() < 2 {
		t.Fatalf("%s: %d rows in %d record batches, want %d rows in several", path, n, r.NumRecords(), rows)
	}
}

// compactedStore opens a store in a new directory, fills it with
// writeTables(rows), compacts it into table files cut every batchRows
// updates, and returns the directory, the open store and its model.
func compactedStore(t *testing.T, batchRows, rows int) (string, *Store, *model) {
	t.Helper()
	smallChunks(t, 64<<10)
	smallBatches(t, batchRows)
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	m := writeTables(t, s, rows)
	if err := m.compact(s, [][]byte{[]byte("c")}); err != nil {
		t.Fatal(err)
	}
	return dir, s, m
}

// compactedFile writes a keyed table, compacts it and returns the data
// directory and the table file's name.
func compactedFile(t *testing.T) (string, string) {
	t.Helper()
	dir, s, _ := compactedStore(t, 16, 60)
	s.Close()
	return dir, tableFileName(1, 1)
}

// readTable opens dir and reads table 1's file, returning the first error.
func readTable(t *testing.T, dir string) error {
	t.Helper()
	s, st, err := Open(dir, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	snap := onlySnapshot(t, st.Tables[1])
	if snap == nil {
		t.Fatal("table 1 has no snapshot")
	}
	f, err := snap.Open()
	if err != nil {
		return err
	}
	return f.Scan(func(_, _ repr.Row, _ repr.Diff) error { return nil })
}

// copyDir copies the regular files of dir into a new directory.
func copyDir(t *testing.T, dir string) string {
	t.Helper()
	to := t.TempDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return to
}

// TestTableFileDamaged damages a table file in the ways a disk or an
// operator can (cut short, a flipped byte, garbage appended, emptied,
// removed): reading it must fail with an error naming the file, never
// panic and never give wrong rows.
func TestTableFileDamaged(t *testing.T) {
	dir, name := compactedFile(t)
	if err := readTable(t, copyDir(t, dir)); err != nil {
		t.Fatalf("undamaged file: %v", err)
	}
	orig, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		b := slices.Clone(orig)
		b[i] ^= 0x40
		return b
	}
	damage := map[string][]byte{
		"cut in half":      orig[:len(orig)/2],
		"last byte cut":    orig[:len(orig)-1],
		"empty":            {},
		"first byte":       flip(0),
		"middle byte":      flip(len(orig) / 2),
		"last byte":        flip(len(orig) - 1),
		"garbage appended": append(slices.Clone(orig), "garbage"...),
	}
	for what, data := range damage {
		d := copyDir(t, dir)
		if err := os.WriteFile(filepath.Join(d, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		err := readTable(t, d)
		if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "damaged") {
			t.Fatalf("%s: %v", what, err)
		}
	}
	d := copyDir(t, dir)
	os.Remove(filepath.Join(d, name))
	if err := readTable(t, d); err == nil || !strings.Contains(err.Error(), name) {
		t.Fatalf("removed file: %v", err)
	}
}

// TestTableFileUntrustedBytes goes past the checksum: it gives the reader
// files whose size and checksum the manifest agrees with but whose bytes
// are not what Compact wrote (each byte of the record batches flipped in
// turn, another schema, another digest). The reader must return errors,
// not panic, and must not give rows whose digest differs from the
// manifest's.
//
// Flips in the schema and footer are left out: arrow-go's reader trusts
// the lengths of their flatbuffer vectors, and a damaged one makes it
// allocate without bound (a fatal error no recover catches; this test
// found it). That is why Open checks the file's checksum before the
// Arrow reader sees a byte of it.
func TestTableFileUntrustedBytes(t *testing.T) {
	dir, name := compactedFile(t)
	s, st := mustOpen(t, dir)
	snap := onlySnapshot(t, st.Tables[1])
	s.Close()
	orig, err := os.ReadFile(snap.Path())
	if err != nil {
		t.Fatal(err)
	}
	// as returns a snapshot of data whose manifest entry matches it.
	tmp := t.TempDir()
	as := func(data []byte, info tableFileInfo) *TableSnapshot {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		info.size, info.crc = int64(len(data)), crc32.Checksum(data, castagnoli)
		info.gen = 1
		return newTableSnapshot(tmp, info)
	}
	read := func(ts *TableSnapshot) error {
		f, err := ts.Open()
		if err != nil {
			return err
		}
		return f.Scan(func(_, _ repr.Row, _ repr.Diff) error { return nil })
	}
	// The record batches lie between the schema message (after the
	// 8-byte magic: a continuation marker, its length, its flatbuffer)
	// and the footer (its length and the magic end the file).
	from := 8 + 8 + int(binary.LittleEndian.Uint32(orig[12:16]))
	to := len(orig) - 10 - int(binary.LittleEndian.Uint32(orig[len(orig)-10:]))
	if from >= to || to > len(orig) {
		t.Fatalf("record batches at [%d, %d) of %d bytes", from, to, len(orig))
	}
	failed := 0
	for i := from; i < to; i++ {
		b := slices.Clone(orig)
		b[i] ^= 0x5a
		if read(as(b, snap.info)) != nil {
			failed++
		}
	}
	// Flips in padding and in unread metadata may go unnoticed; most
	// bytes are read (row bytes are in the digest).
	if failed < (to-from)/2 {
		t.Fatalf("only %d of %d flipped bytes were noticed", failed, to-from)
	}
	t.Logf("%d of %d flipped bytes of the record batches were noticed", failed, to-from)

	info := snap.info
	info.digest.sum++
	if err := read(as(orig, info)); err == nil || !strings.Contains(err.Error(), "manifest") {
		t.Fatalf("another digest: %v", err)
	}

	// A well-formed Arrow file of another schema.
	var buf bytes.Buffer
	schema := arrow.NewSchema([]arrow.Field{{Name: "key", Type: arrow.BinaryTypes.String}}, nil)
	w, err := ipc.NewFileWriter(&buf, ipc.WithSchema(schema))
	if err != nil {
		t.Fatal(err)
	}
	bld := array.NewStringBuilder(memory.DefaultAllocator)
	bld.Append("x")
	col := bld.NewArray()
	rec := array.NewRecordBatch(schema, []arrow.Array{col}, 1)
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	col.Release()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := read(as(buf.Bytes(), snap.info)); err == nil || !strings.Contains(err.Error(), "schema") {
		t.Fatalf("another schema: %v", err)
	}
}

// TestCompactionCrashStages copies the data directory at every stage of a
// compaction (as a kill -9 there would leave it: the page cache survives)
// and checks that each copy opens to the same contents, on the old
// snapshot and the chain of logs since before the manifest's rename and on
// the new one after, with no file of the other left behind, and that
// compaction goes on from there. At each stage a write is appended first:
// appends go on while the compaction writes (into the log it moved to),
// and each copy holds the writes of its stage and the ones before.
func TestCompactionCrashStages(t *testing.T) {
	dir, s, m := compactedStore(t, 16, 80)
	// More writes, a new table and a dropped one in the log of generation 1.
	ctx := context.Background()
	if err := m.write(ctx, s, 500, []TableUpdate{{3, row(1, 1), 1}, {2, row(1000, 1), 1}}); err != nil {
		t.Fatal(err)
	}
	if err := m.drop(ctx, s, 1); err != nil {
		t.Fatal(err)
	}
	want := modelTables(m)
	stages := []string{"log-created", "table-files", "dir-synced", "manifest-written", "renamed", "committed", "old-removed"}
	copies := map[string]string{}
	wants := map[string]map[uint64][]TableUpdate{}
	var during []TableUpdate // appended while the compaction ran
	compactHook = func(stage string) {
		u := TableUpdate{3, row(int64(100+len(during)), 3), 1}
		if err := s.AppendTableWrite(ctx, repr.Timestamp(600+len(during)), []TableUpdate{u}); err != nil {
			t.Errorf("append at %s: %v", stage, err)
		}
		during = append(during, u)
		copies[stage] = copyDir(t, dir)
		w := maps.Clone(want)
		w[3] = append(slices.Clone(w[3]), during...)
		slices.SortFunc(w[3], func(a, b TableUpdate) int { return bytes.Compare(a.Row, b.Row) })
		wants[stage] = w
	}
	err := m.compact(s, [][]byte{[]byte("c")})
	compactHook = func(string) {}
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(copies) != len(stages) {
		t.Fatalf("stages seen: %v", copies)
	}
	for i, stage := range stages {
		d := copies[stage]
		gen := uint64(1)
		if i >= 4 {
			gen = 2
		}
		s, st := mustOpen(t, d)
		if diff := equalTables(tableUpdates(t, st), wants[stage]); diff != "" {
			t.Fatalf("crash at %s: %s", stage, diff)
		}
		var live []string
		for id, tc := range st.Tables {
			if onlySnapshot(t, tc) != nil {
				live = append(live, filepath.Base(onlySnapshot(t, tc).Path()))
				if onlySnapshot(t, tc).Path() != filepath.Join(d, tableFileName(gen, id)) {
					t.Fatalf("crash at %s: table %d loads %s, want generation %d", stage, id, onlySnapshot(t, tc).Path(), gen)
				}
			}
		}
		files, _ := filepath.Glob(filepath.Join(d, "snap.*"))
		for _, f := range files {
			f = filepath.Base(f)
			// A file of a table dropped since the snapshot stays until
			// the next compaction.
			if !slices.Contains(live, f) && f != tableFileName(1, 1) {
				t.Fatalf("crash at %s: %s left behind (live: %v)", stage, f, live)
			}
		}
		m2 := newModel()
		m2.load(t, st)
		if err := m2.compact(s, st.Catalog); err != nil {
			t.Fatalf("crash at %s: compaction after recovery: %v", stage, err)
		}
		s.Close()
		s, st = mustOpen(t, d)
		if diff := equalTables(tableUpdates(t, st), wants[stage]); diff != "" {
			t.Fatalf("crash at %s, after the next compaction: %s", stage, diff)
		}
		names, _ := os.ReadDir(d)
		var left []string
		for _, e := range names {
			left = append(left, e.Name())
		}
		sort.Strings(left)
		// The log moved to generation 2 at the start: the next
		// compaction is of generation 3 whichever manifest survived.
		wantLeft := []string{"LOCK", "log.3", "snap.3.2.arrow", "snap.3.3.arrow", "snapshot"}
		if !slices.Equal(left, wantLeft) {
			t.Fatalf("crash at %s: after the next compaction the directory holds %v, want %v", stage, left, wantLeft)
		}
		s.Close()
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// TestOldSnapshotFormat opens a manifest of the kind written before table
// files existed (tables as table write records): its tables come as
// updates, and the next compaction writes them to files.
func TestOldSnapshotFormat(t *testing.T) {
	smallChunks(t, 64<<10)
	dir := t.TempDir()
	snap := binary.LittleEndian.AppendUint64(nil, 1)
	snap = frame(snap, RecCatalog, []byte("c"))
	snap = frame(snap, RecTableWrite, encodeTableWrite(5, []TableUpdate{{1, row(2, 2), 1}, {1, row(1, 1), 3}, {2, row(7), 1}}))
	snap = frame(snap, RecTimestamp, binary.AppendUvarint(nil, 5))
	if err := os.WriteFile(filepath.Join(dir, "snapshot"), snap, 0o644); err != nil {
		t.Fatal(err)
	}
	s, st := mustOpen(t, dir)
	if onlySnapshot(t, st.Tables[1]) != nil || len(st.Tables[1].Updates) != 2 || st.Timestamp != 5 || len(st.Catalog) != 1 {
		t.Fatalf("old manifest read as %+v", st)
	}
	m := newModel()
	m.load(t, st)
	if err := m.compact(s, st.Catalog); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, st = mustOpen(t, dir)
	defer s.Close()
	if onlySnapshot(t, st.Tables[1]) == nil || onlySnapshot(t, st.Tables[2]) == nil {
		t.Fatalf("no table files after compacting an old manifest: %+v", st.Tables)
	}
	if got := contents(tableUpdates(t, st)[1]); len(got) != 2 || got["(1, 1)"] != 3 || got["(2, 2)"] != 1 {
		t.Fatalf("table 1: %v", got)
	}
}

// TestTableFileUnordered: an unordered table (an append log) is written in
// the order its Scan gives, a row more than once, with viewd.order "none";
// Open reports it unordered and Scan gives the same updates in the same
// order. Compact checks the updates against the log's digest all the
// same, and a keyed table cannot be unordered.
func TestTableFileUnordered(t *testing.T) {
	smallBatches(t, 5)
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	ctx := context.Background()
	// Appended in this order: 9, 3, 9, 1, ... (9 twice, not sorted).
	var ups []TableUpdate
	for i := range int64(23) {
		ups = append(ups, TableUpdate{2, row((i * 7) % 10), 1})
	}
	if err := s.AppendTableWrite(ctx, 1, ups); err != nil {
		t.Fatal(err)
	}
	table := func(keyed bool, ups []TableUpdate) SnapshotTable {
		return SnapshotTable{ID: 2, Keyed: keyed, Unordered: true, Scan: func(emit func(key, row repr.Row, diff repr.Diff) error) error {
			for _, u := range ups {
				var key repr.Row
				if keyed {
					key = keyOf(u.Row)
				}
				if err := emit(key, u.Row, u.Diff); err != nil {
					return err
				}
			}
			return nil
		}}
	}
	if err := s.Compact(nil, []SnapshotTable{table(true, ups)}); err == nil {
		t.Fatal("a keyed unordered table was compacted")
	}
	if err := s.Compact(nil, []SnapshotTable{table(false, ups[1:])}); err == nil {
		t.Fatal("an unordered table missing an update passed the digest check")
	}
	if err := s.Compact(nil, []SnapshotTable{table(false, ups)}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, st := mustOpen(t, dir)
	defer s.Close()
	snap := onlySnapshot(t, st.Tables[2])
	if snap == nil || !snap.Unordered || snap.Keyed || int(snap.Rows) != len(ups) {
		t.Fatalf("snapshot %+v", snap)
	}
	f, err := snap.Open()
	if err != nil {
		t.Fatal(err)
	}
	if o := f.Metadata()[metaOrder]; o != "none" {
		t.Fatalf("viewd.order %q", o)
	}
	var got []TableUpdate
	if err := f.Scan(func(key, r repr.Row, d repr.Diff) error {
		if key != nil {
			t.Fatalf("a key %v", key)
		}
		got = append(got, TableUpdate{2, r.Clone(), d})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, ups, func(a, b TableUpdate) bool { return bytes.Equal(a.Row, b.Row) && a.Diff == b.Diff }) {
		t.Fatalf("scanned %v, want %v", got, ups)
	}
	checkPlainArrow(t, snap.Path(), false, len(ups))
}

// TestIncrementalSnapshot: an append-only (unordered) table is written in
// increments: each compaction keeps the live snapshot's files of the table
// and adds one of the rows appended since. Reopening reads the parts in
// order, with the log after them; an increment with no new rows adds no
// file; an increment whose rows are not those logged fails and leaves the
// store as it was; a whole rewrite replaces the parts, and a dropped
// table's parts go with the next compaction.
func TestIncrementalSnapshot(t *testing.T) {
	smallChunks(t, 64<<10)
	ctx := context.Background()
	dir := t.TempDir()
	s, _ := mustOpen(t, dir)
	var all []repr.Row // table 1's rows in log order
	next := int64(0)
	appendRows := func(n int) {
		t.Helper()
		var ups []TableUpdate
		for range n {
			r := row(next%7, next) // repeats of the first column, all rows distinct
			next++
			ups = append(ups, TableUpdate{1, r, 1})
			all = append(all, r)
		}
		if err := s.AppendTableWrite(ctx, repr.Timestamp(next), ups); err != nil {
			t.Fatal(err)
		}
	}
	table := func(from int, increment bool) SnapshotTable {
		rows := all[from:]
		ds := make([]repr.Diff, len(rows))
		for i := range ds {
			ds[i] = 1
		}
		return SnapshotTable{ID: 1, Unordered: true, Increment: increment, Scan: emitAll(nil, rows, ds)}
	}
	parts := func() []string {
		t.Helper()
		s.mu.Lock()
		defer s.mu.Unlock()
		var names []string
		for _, fi := range s.parts[1] {
			names = append(names, fi.name())
		}
		return names
	}
	check := func(stage string, wantParts ...string) {
		t.Helper()
		if got := parts(); !slices.Equal(got, wantParts) {
			t.Fatalf("%s: parts %v, want %v", stage, got, wantParts)
		}
		s.Close()
		var st State
		s, st = mustOpen(t, dir)
		var names []string
		for _, snap := range st.Tables[1].Snapshots {
			names = append(names, filepath.Base(snap.Path()))
		}
		if !slices.Equal(names, wantParts) {
			t.Fatalf("%s: reopened with parts %v, want %v", stage, names, wantParts)
		}
		got := tableUpdates(t, st)[1]
		if len(got) != len(all) {
			t.Fatalf("%s: %d rows, want %d", stage, len(got), len(all))
		}
		for i, u := range got {
			if !bytes.Equal(u.Row, all[i]) || u.Diff != 1 {
				t.Fatalf("%s: row %d is %v %d, want %v (log order)", stage, i, u.Row, u.Diff, all[i])
			}
		}
		files, _ := filepath.Glob(filepath.Join(dir, "snap.*"))
		if len(files) != len(wantParts) {
			t.Fatalf("%s: files %v, want %v", stage, files, wantParts)
		}
	}

	appendRows(100)
	if err := s.Compact(nil, []SnapshotTable{table(0, false)}); err != nil {
		t.Fatal(err)
	}
	check("whole", "snap.1.1.arrow")
	// Reopened: the next increment is the caller's to choose; this test
	// knows the snapshot holds all[:100].
	appendRows(50)
	// A crash at any stage of the increment's compaction leaves the rows
	// whole: the kept part is never removed.
	copies := map[string]string{}
	compactHook = func(stage string) { copies[stage] = copyDir(t, dir) }
	err := s.Compact(nil, []SnapshotTable{table(100, true)})
	compactHook = func(string) {}
	if err != nil {
		t.Fatal(err)
	}
	for stage, d := range copies {
		cs, st := mustOpen(t, d)
		got := tableUpdates(t, st)[1]
		cs.Close()
		if len(got) != len(all) {
			t.Fatalf("crash at %s: %d rows, want %d", stage, len(got), len(all))
		}
	}
	if len(copies) != 7 {
		t.Fatalf("stages: %v", copies)
	}
	check("increment", "snap.1.1.arrow", "snap.2.1.arrow")
	if err := s.Compact(nil, []SnapshotTable{table(150, true)}); err != nil {
		t.Fatal(err)
	}
	check("empty increment", "snap.1.1.arrow", "snap.2.1.arrow")
	appendRows(30)
	short := table(151, true) // one row missing
	if err := s.Compact(nil, []SnapshotTable{short}); err == nil {
		t.Fatal("an increment missing a row was accepted")
	}
	keyed := table(150, true)
	keyed.Unordered, keyed.Keyed = false, true
	if err := s.Compact(nil, []SnapshotTable{keyed}); err == nil {
		t.Fatal("a keyed increment was accepted")
	}
	check("failed increments", "snap.1.1.arrow", "snap.2.1.arrow")
	if err := s.Compact(nil, []SnapshotTable{table(150, true)}); err != nil {
		t.Fatal(err)
	}
	// The failed compactions used generations 4 and 5 (their logs were
	// folded into this one's).
	check("increment after failures", "snap.1.1.arrow", "snap.2.1.arrow", "snap.6.1.arrow")
	appendRows(10)
	if err := s.Compact(nil, []SnapshotTable{table(0, false)}); err != nil {
		t.Fatal(err)
	}
	check("whole again", "snap.7.1.arrow")
	appendRows(10)
	if err := s.Compact(nil, []SnapshotTable{table(190, true)}); err != nil {
		t.Fatal(err)
	}
	check("increment again", "snap.7.1.arrow", "snap.8.1.arrow")
	if err := s.DropTable(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Compact(nil, nil); err != nil {
		t.Fatal(err)
	}
	all = nil
	check("dropped")
	s.Close()
}
