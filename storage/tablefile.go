package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash"
	"hash/crc32"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/viewd/viewd/repr"
)

// A table file is one table's snapshot: an Arrow IPC file (the random
// access "file" format: magic, schema, record batches, footer) holding the
// table's arrangement as it was in memory. See doc.go for its layout.

// Schema metadata keys storage writes into every table file. A caller's
// SnapshotTable.Metadata must not use them.
const (
	metaFormat = "viewd.format" // "1"
	metaTable  = "viewd.table"  // the table's id
	metaOrder  = "viewd.order"  // "key,row", "row" or "none": the sort order
)

// tableFileFormat is the layout version written in metaFormat.
const tableFileFormat = "1"

// Record batches are cut at tableBatchRows updates or tableBatchBytes
// bytes of keys and rows, whichever comes first, so that a reader needs
// one bounded batch in memory at a time.
var (
	tableBatchRows  = 1 << 16
	tableBatchBytes = 8 << 20
)

// SnapshotTable is one table's contents as Compact writes them.
type SnapshotTable struct {
	// ID is the table's id.
	ID uint64
	// Keyed says the table is arranged by a key (its primary key): Scan
	// gives each update's packed key, and the file sorts by key, then
	// row. Otherwise the table is arranged by whole row, Scan gives nil
	// keys and the file sorts by row.
	Keyed bool
	// Unordered says the table is kept unsorted (an append log, never
	// keyed): Scan gives nil keys and its rows in any order, a row
	// possibly more than once, each with a non-zero diff; the file holds
	// them in that order (viewd.order "none").
	Unordered bool
	// Metadata is stored in the file's schema metadata for its readers
	// (the coordinator's column names and types and key columns). It must
	// not use the keys storage writes (viewd.format, viewd.table,
	// viewd.order).
	Metadata map[string]string
	// Increment says the table (Unordered) is only ever appended to, and
	// that Scan gives only the updates appended since the live snapshot
	// was begun: the new snapshot keeps the live snapshot's files of the
	// table as its first parts and adds a file of these. The caller sets
	// it only for a table the live snapshot holds as of the time it
	// scans from (the compaction that wrote it ran in this process);
	// the contents check covers the parts and the new updates together.
	Increment bool
	// Scan calls emit with every update of the table in its
	// arrangement's order: by key bytes, then row bytes, each (key, row)
	// once with a non-zero diff. It stops at emit's first error and
	// returns it.
	Scan func(emit func(key, row repr.Row, diff repr.Diff) error) error
}

// tableFileInfo is what the snapshot manifest records of a table file:
// enough to find it, check it whole before it is parsed, and size the
// memory its contents will take.
type tableFileInfo struct {
	table     uint64
	keyed     bool
	unordered bool   // the rows are in no order (SnapshotTable.Unordered)
	size      int64  // file bytes
	crc       uint32 // CRC-32C of the whole file
	rows      int64  // updates
	keyBytes  int64  // sum of the packed keys' lengths
	rowBytes  int64  // sum of the packed rows' lengths
	digest    digest // of the updates, as the log's digest of the table
	// gen is the generation of the compaction that wrote the file (its
	// name): the manifest's, or an earlier one for a part an incremental
	// snapshot kept (SnapshotTable.Increment).
	gen uint64
}

// name returns the file's name.
func (fi tableFileInfo) name() string { return tableFileName(fi.gen, fi.table) }

// encodeTableFileInfo encodes fi for a manifest of generation gen: fi's
// own generation follows only when it is an earlier one (a kept part), so
// that a manifest without kept parts reads as it did before parts.
func encodeTableFileInfo(fi tableFileInfo, gen uint64) []byte {
	p := binary.AppendUvarint(nil, fi.table)
	// The layout: 0 by row, 1 by key then row, 2 unordered (older
	// manifests hold 0 and 1 only).
	layout := uint64(0)
	switch {
	case fi.keyed:
		layout = 1
	case fi.unordered:
		layout = 2
	}
	p = binary.AppendUvarint(p, layout)
	p = binary.AppendUvarint(p, uint64(fi.size))
	p = binary.AppendUvarint(p, uint64(fi.crc))
	p = binary.AppendUvarint(p, uint64(fi.rows))
	p = binary.AppendUvarint(p, uint64(fi.keyBytes))
	p = binary.AppendUvarint(p, uint64(fi.rowBytes))
	p = binary.AppendVarint(p, fi.digest.count)
	p = binary.AppendUvarint(p, fi.digest.sum)
	if fi.gen != gen {
		p = binary.AppendUvarint(p, fi.gen)
	}
	return p
}

// decodeTableFileInfo decodes a table file record of a manifest of
// generation gen.
func decodeTableFileInfo(p []byte, gen uint64) (tableFileInfo, error) {
	r := reader{b: p}
	fi := tableFileInfo{table: r.uvarint()}
	layout := r.uvarint()
	fi.keyed, fi.unordered = layout == 1, layout == 2
	fi.size = int64(r.uvarint())
	crc := r.uvarint()
	fi.crc = uint32(crc)
	fi.rows = int64(r.uvarint())
	fi.keyBytes = int64(r.uvarint())
	fi.rowBytes = int64(r.uvarint())
	fi.digest.count = r.varint()
	fi.digest.sum = r.uvarint()
	fi.gen = gen
	if len(r.b) > 0 && r.err == nil {
		fi.gen = r.uvarint()
	}
	switch {
	case r.err != nil:
		return fi, r.err
	case layout > 2, crc > math.MaxUint32, fi.size < 0, fi.rows < 0, fi.keyBytes < 0, fi.rowBytes < 0, len(r.b) != 0, fi.gen > gen:
		return fi, fmt.Errorf("storage: corrupt table snapshot record")
	}
	return fi, nil
}

// tableFileName is the name of table's file in the snapshot of log
// generation gen. Names never repeat across generations, so a compaction
// writes its files beside the live snapshot's without touching them.
func tableFileName(gen, table uint64) string {
	return "snap." + strconv.FormatUint(gen, 10) + "." + strconv.FormatUint(table, 10) + ".arrow"
}

// isTableFileName reports whether name has the form of a table file.
func isTableFileName(name string) bool {
	return strings.HasPrefix(name, "snap.") && strings.HasSuffix(name, ".arrow")
}

// tableSchema returns the schema of a table file (unordered: its rows are
// in no order; never with keyed).
func tableSchema(table uint64, keyed, unordered bool, extra map[string]string) (*arrow.Schema, error) {
	meta := maps.Clone(extra)
	if meta == nil {
		meta = map[string]string{}
	}
	for _, k := range []string{metaFormat, metaTable, metaOrder} {
		if _, ok := meta[k]; ok {
			return nil, fmt.Errorf("storage: table %d: metadata key %q is reserved", table, k)
		}
	}
	meta[metaFormat] = tableFileFormat
	meta[metaTable] = strconv.FormatUint(table, 10)
	fields := []arrow.Field{
		{Name: "row", Type: arrow.BinaryTypes.Binary},
		{Name: "diff", Type: arrow.PrimitiveTypes.Int64},
	}
	meta[metaOrder] = "row"
	if unordered {
		meta[metaOrder] = "none"
	}
	if keyed {
		fields = append([]arrow.Field{{Name: "key", Type: arrow.BinaryTypes.Binary}}, fields...)
		meta[metaOrder] = "key,row"
	}
	md := arrow.MetadataFrom(meta)
	return arrow.NewSchema(fields, &md), nil
}

// tableFileWriter writes one table file: it checks the updates' order,
// cuts them into record batches, and sums what the manifest records.
type tableFileWriter struct {
	path   string
	f      *os.File
	crc    hash.Hash32
	tee    *teeWriter
	bw     *bufio.Writer
	w      *ipc.FileWriter
	schema *arrow.Schema
	info   tableFileInfo

	// The record batch being filled.
	keyData, rowData []byte
	keyOffs, rowOffs []int32
	diffs            []int64
	// The previous update, for the order check.
	prevKey, prevRow []byte
	havePrev         bool
	err              error // the first error of add
}

func newTableFileWriter(path string, t SnapshotTable) (*tableFileWriter, error) {
	if t.Keyed && t.Unordered {
		return nil, fmt.Errorf("storage: table %d: a keyed table is ordered", t.ID)
	}
	schema, err := tableSchema(t.ID, t.Keyed, t.Unordered, t.Metadata)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fileMode)
	if err != nil {
		return nil, fmt.Errorf("storage: create table file: %w", err)
	}
	tw := &tableFileWriter{path: path, f: f, crc: crc32.New(castagnoli), schema: schema,
		info: tableFileInfo{table: t.ID, keyed: t.Keyed, unordered: t.Unordered}}
	tw.tee = &teeWriter{f: f, h: tw.crc}
	tw.bw = bufio.NewWriterSize(tw.tee, 1<<20)
	tw.w, err = ipc.NewFileWriter(tw.bw, ipc.WithSchema(schema))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storage: table %d: %w", t.ID, err)
	}
	tw.reset()
	return tw, nil
}

// teeWriter writes to a file and a running checksum.
type teeWriter struct {
	f *os.File
	h hash.Hash32
	n int64
}

func (t *teeWriter) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	t.h.Write(p[:n])
	t.n += int64(n)
	return n, err
}

func (tw *tableFileWriter) reset() {
	tw.keyData, tw.rowData = tw.keyData[:0], tw.rowData[:0]
	tw.keyOffs = append(tw.keyOffs[:0], 0)
	tw.rowOffs = append(tw.rowOffs[:0], 0)
	tw.diffs = tw.diffs[:0]
}

// add appends one update. Updates must come in (key, row) order, each
// once, with a non-zero diff. The first error sticks: the file is not
// used, whatever the caller's Scan does with the error.
func (tw *tableFileWriter) add(key, row repr.Row, diff repr.Diff) error {
	if tw.err != nil {
		return tw.err
	}
	tw.err = tw.check(key, row, diff)
	if tw.err == nil {
		tw.err = tw.append(key, row, diff)
	}
	return tw.err
}

func (tw *tableFileWriter) check(key, row repr.Row, diff repr.Diff) error {
	switch {
	case diff == 0:
		return fmt.Errorf("update %d has diff 0", tw.info.rows)
	case !tw.info.keyed && key != nil:
		return fmt.Errorf("the table is arranged by row but update %d has a key", tw.info.rows)
	case len(key) > math.MaxInt32/2 || len(row) > math.MaxInt32/2:
		return fmt.Errorf("a row of %d bytes is too large", len(row))
	}
	if tw.havePrev && !tw.info.unordered {
		c := bytes.Compare(key, tw.prevKey)
		if c == 0 {
			c = bytes.Compare(row, tw.prevRow)
		}
		if c <= 0 {
			return fmt.Errorf("update %d is not after the previous one in (key, row) order", tw.info.rows)
		}
	}
	return nil
}

func (tw *tableFileWriter) append(key, row repr.Row, diff repr.Diff) error {
	if !tw.info.unordered {
		tw.prevKey = append(tw.prevKey[:0], key...)
		tw.prevRow = append(tw.prevRow[:0], row...)
		tw.havePrev = true
	}
	if len(tw.diffs) >= tableBatchRows || len(tw.keyData)+len(tw.rowData)+len(key)+len(row) > tableBatchBytes && len(tw.diffs) > 0 {
		if err := tw.flushBatch(); err != nil {
			return err
		}
	}
	tw.keyData = append(tw.keyData, key...)
	tw.keyOffs = append(tw.keyOffs, int32(len(tw.keyData)))
	tw.rowData = append(tw.rowData, row...)
	tw.rowOffs = append(tw.rowOffs, int32(len(tw.rowData)))
	tw.diffs = append(tw.diffs, int64(diff))
	tw.info.rows++
	tw.info.keyBytes += int64(len(key))
	tw.info.rowBytes += int64(len(row))
	tw.info.digest.add(row, diff)
	return nil
}

// flushBatch writes the pending updates as one record batch. The arrays
// alias the writer's buffers, which the IPC writer copies out before
// Write returns.
func (tw *tableFileWriter) flushBatch() error {
	n := len(tw.diffs)
	if n == 0 {
		return nil
	}
	binaryArray := func(offs []int32, data []byte) arrow.Array {
		d := array.NewData(arrow.BinaryTypes.Binary, n,
			[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int32Traits.CastToBytes(offs)), memory.NewBufferBytes(data)}, nil, 0, 0)
		defer d.Release()
		return array.NewBinaryData(d)
	}
	dd := array.NewData(arrow.PrimitiveTypes.Int64, n,
		[]*memory.Buffer{nil, memory.NewBufferBytes(arrow.Int64Traits.CastToBytes(tw.diffs))}, nil, 0, 0)
	defer dd.Release()
	cols := []arrow.Array{binaryArray(tw.rowOffs, tw.rowData), array.NewInt64Data(dd)}
	if tw.info.keyed {
		cols = append([]arrow.Array{binaryArray(tw.keyOffs, tw.keyData)}, cols...)
	}
	rec := array.NewRecordBatch(tw.schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	err := tw.w.Write(rec)
	rec.Release()
	if err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	tw.reset()
	return nil
}

// finish writes the last record batch and the footer, syncs and closes
// the file, and returns what the manifest records of it.
func (tw *tableFileWriter) finish() (tableFileInfo, error) {
	if tw.err != nil {
		return tw.info, tw.err
	}
	if err := tw.flushBatch(); err != nil {
		return tw.info, err
	}
	if err := tw.w.Close(); err != nil {
		return tw.info, fmt.Errorf("write file: %w", err)
	}
	if err := tw.bw.Flush(); err != nil {
		return tw.info, fmt.Errorf("write file: %w", err)
	}
	if err := tw.f.Sync(); err != nil {
		return tw.info, fmt.Errorf("sync file: %w", err)
	}
	if err := tw.f.Close(); err != nil {
		return tw.info, fmt.Errorf("close file: %w", err)
	}
	tw.f = nil
	tw.info.crc = tw.crc.Sum32()
	tw.info.size = tw.tee.n
	return tw.info, nil
}

// abandon closes and removes a file that will not be used.
func (tw *tableFileWriter) abandon() {
	if tw.f != nil {
		tw.f.Close()
	}
	os.Remove(tw.path)
}

// TableSnapshot is a table's file in the snapshot Open found. It holds no
// contents: Open reads the file when the caller wants them.
type TableSnapshot struct {
	// Keyed says the file holds keys (the table was arranged by its
	// primary key); otherwise it is sorted by row and its keys are nil.
	Keyed bool
	// Unordered says the file's rows are in no order, a row possibly
	// more than once (SnapshotTable.Unordered), with nil keys.
	Unordered bool
	// Rows is the number of updates in the file; KeyBytes and RowBytes
	// are the summed lengths of their packed keys and rows (for sizing
	// the memory they are loaded into).
	Rows, KeyBytes, RowBytes int64

	path string
	info tableFileInfo
}

func newTableSnapshot(dir string, fi tableFileInfo) *TableSnapshot {
	return &TableSnapshot{Keyed: fi.keyed, Unordered: fi.unordered, Rows: fi.rows, KeyBytes: fi.keyBytes, RowBytes: fi.rowBytes,
		path: filepath.Join(dir, fi.name()), info: fi}
}

// Path returns the file's path.
func (ts *TableSnapshot) Path() string { return ts.path }

// TableFile is a table file read into memory and checked whole: its size
// and checksum are the ones the manifest recorded, and it parses as an
// Arrow IPC file of the expected schema. Its updates alias its bytes.
type TableFile struct {
	ts   *TableSnapshot
	r    *ipc.FileReader
	meta map[string]string
}

// Open reads the table's file and checks it before anything in it is
// parsed: a file that was damaged, cut short or replaced fails here with
// an error naming it, never with a panic. It must be called before the
// next Compact removes the file.
func (ts *TableSnapshot) Open() (_ *TableFile, err error) {
	data, err := os.ReadFile(ts.path)
	if err != nil {
		return nil, fmt.Errorf("storage: read table snapshot: %w", err)
	}
	if int64(len(data)) != ts.info.size {
		return nil, fmt.Errorf("storage: table snapshot %s: %d bytes, the manifest says %d: the file is damaged", ts.path, len(data), ts.info.size)
	}
	if c := crc32.Checksum(data, castagnoli); c != ts.info.crc {
		return nil, fmt.Errorf("storage: table snapshot %s: checksum %08x, the manifest says %08x: the file is damaged", ts.path, c, ts.info.crc)
	}
	// The checksum matched, so these are the bytes Compact wrote; a
	// parser panic would be a bug of the writer or of the parser, and
	// still must not take the process down.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("storage: table snapshot %s: unreadable: %v", ts.path, p)
		}
	}()
	r, err := ipc.NewMappedFileReader(data)
	if err != nil {
		return nil, fmt.Errorf("storage: table snapshot %s: %w", ts.path, err)
	}
	want, err := tableSchema(ts.info.table, ts.Keyed, ts.Unordered, nil)
	if err != nil {
		return nil, err
	}
	got := r.Schema()
	if !got.Equal(want) { // fields only: names, types, nullability
		r.Close()
		return nil, fmt.Errorf("storage: table snapshot %s: schema %s, want %s", ts.path, got, want)
	}
	meta := got.Metadata().ToMap()
	for _, k := range []string{metaFormat, metaTable, metaOrder} {
		if meta[k] != want.Metadata().ToMap()[k] {
			r.Close()
			return nil, fmt.Errorf("storage: table snapshot %s: metadata %s is %q, want %q", ts.path, k, meta[k], want.Metadata().ToMap()[k])
		}
	}
	return &TableFile{ts: ts, r: r, meta: meta}, nil
}

// Metadata returns the file's schema metadata: the caller's
// SnapshotTable.Metadata plus storage's own keys.
func (tf *TableFile) Metadata() map[string]string { return tf.meta }

// Scan calls fn with each update of the file in file order (the
// arrangement's order when Compact wrote it). key and row alias the
// file's bytes: fn must copy what it keeps. Each record batch is checked
// (types, no nulls, offsets within bounds) before fn sees any of its
// updates; at the end the updates' count, sizes and digest must be those
// the manifest recorded. An error after fn was called means the updates
// given so far must be discarded. Scan releases the file's memory when
// it returns, so it runs at most once.
func (tf *TableFile) Scan(fn func(key, row repr.Row, diff repr.Diff) error) (err error) {
	ts := tf.ts
	r := tf.r
	if r == nil {
		return fmt.Errorf("storage: table snapshot %s scanned twice", ts.path)
	}
	tf.r = nil
	defer r.Close()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("storage: table snapshot %s: unreadable: %v", ts.path, p)
		}
	}()
	var got tableFileInfo
	for i := range r.NumRecords() {
		rec, err := r.RecordBatchAt(i)
		if err != nil {
			return fmt.Errorf("storage: table snapshot %s: record batch %d: %w", ts.path, i, err)
		}
		err = scanRecordBatch(rec, ts.Keyed, &got, fn)
		rec.Release()
		if err != nil {
			return fmt.Errorf("storage: table snapshot %s: record batch %d: %w", ts.path, i, err)
		}
	}
	if got.rows != ts.info.rows || got.keyBytes != ts.info.keyBytes || got.rowBytes != ts.info.rowBytes || got.digest != ts.info.digest {
		return fmt.Errorf("storage: table snapshot %s: holds %d updates (%d key bytes, %d row bytes), the manifest says %d (%d, %d) with another digest",
			ts.path, got.rows, got.keyBytes, got.rowBytes, ts.info.rows, ts.info.keyBytes, ts.info.rowBytes)
	}
	return nil
}

// scanRecordBatch checks one record batch and calls fn with its updates,
// adding them to got.
func scanRecordBatch(rec arrow.RecordBatch, keyed bool, got *tableFileInfo, fn func(key, row repr.Row, diff repr.Diff) error) error {
	n := int(rec.NumRows())
	cols := rec.Columns()
	binaryCol := func(c arrow.Array) (offs []int32, data []byte, err error) {
		b, ok := c.(*array.Binary)
		if !ok {
			return nil, nil, fmt.Errorf("a %s column, want binary", c.DataType())
		}
		if b.Len() != n || b.NullN() != 0 {
			return nil, nil, fmt.Errorf("a binary column of %d values (%d null) in a batch of %d rows", b.Len(), b.NullN(), n)
		}
		if err := b.ValidateFull(); err != nil {
			return nil, nil, err
		}
		if n == 0 {
			return nil, nil, nil
		}
		offs = b.ValueOffsets()
		// ValueBytes starts at the first value's offset.
		return offs, b.ValueBytes(), nil
	}
	want := 2
	if keyed {
		want = 3
	}
	if len(cols) != want {
		return fmt.Errorf("%d columns, want %d", len(cols), want)
	}
	var keyOffs []int32
	var keyData []byte
	var err error
	if keyed {
		if keyOffs, keyData, err = binaryCol(cols[0]); err != nil {
			return err
		}
		cols = cols[1:]
	}
	rowOffs, rowData, err := binaryCol(cols[0])
	if err != nil {
		return err
	}
	dc, ok := cols[1].(*array.Int64)
	if !ok || dc.Len() != n || dc.NullN() != 0 || len(dc.Int64Values()) != n {
		return fmt.Errorf("the diff column is not %d int64 values without nulls", n)
	}
	diffs := dc.Int64Values()
	for i := range n {
		var key repr.Row
		if keyed {
			key = repr.Row(keyData[keyOffs[i]-keyOffs[0] : keyOffs[i+1]-keyOffs[0]])
		}
		row := repr.Row(rowData[rowOffs[i]-rowOffs[0] : rowOffs[i+1]-rowOffs[0]])
		d := repr.Diff(diffs[i])
		got.rows++
		got.keyBytes += int64(len(key))
		got.rowBytes += int64(len(row))
		got.digest.add(row, d)
		if err := fn(key, row, d); err != nil {
			return err
		}
	}
	return nil
}
