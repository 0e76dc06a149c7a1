package sources

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/viewd/viewd/repr"
)

// fuzzPGTables are FuzzPGOutput's tables: a keyed one of many column
// types (relation 1) and a keyless one (relation 2).
var fuzzPGTables = []PGTable{
	{ID: 11, Schema: "public", Name: "a", KeyCols: []int{0}, Columns: []PGColumn{
		{Name: "id", Type: repr.TypeInt4}, {Name: "v", Type: repr.TypeText}, {Name: "n", Type: repr.TypeNumeric},
		{Name: "ts", Type: repr.TypeTimestampTz}, {Name: "j", Type: repr.TypeJsonb}, {Name: "b", Type: repr.TypeBool},
		{Name: "arr", Type: repr.ArrayOf(repr.TypeInt8)}, {Name: "by", Type: repr.TypeBytea}, {Name: "iv", Type: repr.TypeInterval},
	}},
	{ID: 12, Schema: "public", Name: "b", Columns: []PGColumn{
		{Name: "x", Type: repr.TypeInt8}, {Name: "y", Type: repr.TypeFloat8}, {Name: "d", Type: repr.TypeDate},
	}},
}

// pgFuzzMsg frames one pgoutput message for FuzzPGOutput's input: a 2-byte
// length and the message.
func pgFuzzMsg(b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

// pgBegin, pgCommit and pgTuple encode pgoutput messages (protocol v1).
func pgBegin(xid uint32) []byte {
	b := []byte{'B'}
	b = binary.BigEndian.AppendUint64(b, 100)
	b = binary.BigEndian.AppendUint64(b, 0)
	return binary.BigEndian.AppendUint32(b, xid)
}

func pgCommit(lsn uint64) []byte {
	b := []byte{'C', 0}
	b = binary.BigEndian.AppendUint64(b, lsn)
	b = binary.BigEndian.AppendUint64(b, lsn+1)
	return binary.BigEndian.AppendUint64(b, 0)
}

func pgTuple(b []byte, vals ...*string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(vals)))
	for _, v := range vals {
		if v == nil {
			b = append(b, 'n')
			continue
		}
		b = append(b, 't')
		b = binary.BigEndian.AppendUint32(b, uint32(len(*v)))
		b = append(b, *v...)
	}
	return b
}

func sp(s string) *string { return &s }

// FuzzPGOutput feeds arbitrary pgoutput message streams (the bytes a
// PostgreSQL source receives in XLogData) to a source's stream decoder:
// BEGIN/COMMIT, RELATION, INSERT/UPDATE/DELETE/TRUNCATE with text tuples,
// and the streamed-transaction messages. Whatever the input: no panic; a
// malformed message ends the stream with an error (a real source then
// reconnects); every emitted row has its table's columns, each NULL or of
// the declared type; a table whose change cannot be applied is errored
// with a SQLSTATE other than XX000; and what the sink applied (units with
// their chunks) never holds a row a negative number of times, nor two rows
// under one key: every retraction is of a row the table held, resolved
// against the collection as applied and the changes still pending.
func FuzzPGOutput(f *testing.F) {
	ins := func(rel uint32, vals ...*string) []byte {
		return pgTuple(append(binary.BigEndian.AppendUint32([]byte{'I'}, rel), 'N'), vals...)
	}
	rowA := []*string{sp("1"), sp("x"), sp("1.50"), sp("2024-01-02 03:04:05+00"), sp(`{"k": [1, 2.0]}`), sp("t"), sp("{1,NULL,3}"), sp(`\x00ff`), sp("1 day")}
	rowA2 := append([]*string{sp("2")}, rowA[1:]...)
	upd := pgTuple(append(binary.BigEndian.AppendUint32([]byte{'U'}, 1), 'N'), append([]*string{sp("1"), sp("y")}, rowA[2:]...)...)
	del := pgTuple(append(binary.BigEndian.AppendUint32([]byte{'D'}, 1), 'K'), sp("2"), nil, nil, nil, nil, nil, nil, nil, nil)
	rowB := []*string{sp("5000000000"), sp("0.25"), sp("2024-02-29")}
	seed := func(msgs ...[]byte) {
		var in []byte
		for _, m := range msgs {
			in = append(in, pgFuzzMsg(m)...)
		}
		f.Add(in)
	}
	seed(pgBegin(7), ins(1, rowA...), ins(1, rowA2...), ins(2, rowB...), ins(2, rowB...), pgCommit(200))
	seed(pgBegin(7), ins(1, rowA...), ins(1, rowA2...), pgCommit(200), pgBegin(8), upd, del, ins(2, rowB...), pgCommit(300))
	seed(pgBegin(7), ins(1, rowA...), ins(2, rowB...), pgCommit(200), pgBegin(9), pgTruncate(1), pgTruncate(2), pgCommit(400))
	seed(pgBegin(7), ins(1, sp("1"), sp("x"), sp("not a number"), nil, nil, nil, nil, nil, nil), pgCommit(200))
	seed(pgBegin(7), ins(1, rowA...), ins(1, rowA...), pgCommit(200))
	seed(pgBegin(7), ins(2, rowB...), pgCommit(200), pgBegin(8),
		pgTuple(append(binary.BigEndian.AppendUint32([]byte{'D'}, 2), 'O'), rowB...), pgTuple(append(binary.BigEndian.AppendUint32([]byte{'D'}, 2), 'O'), rowB...), pgCommit(300))

	spill := f.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, in []byte) {
		sink := newMemPG(fuzzPGTables)
		r, err := NewPGReader(PGReaderConfig{Tables: fuzzPGTables, ChunkBytes: 2 << 10, SpillBytes: 4 << 10, SpillDir: spill, Logger: quiet, Collections: sink}, sink)
		if err != nil {
			t.Fatal(err)
		}
		r.byRel[1], r.byRel[2] = r.names["public.a"], r.names["public.b"]
		s := &pgStream{r: r, streams: map[uint32]*pgTxn{}}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for len(in) >= 2 {
			n := int(binary.BigEndian.Uint16(in))
			in = in[2:]
			n = min(n, len(in))
			w := in[:n]
			in = in[n:]
			if err := s.handle(ctx, nil, xlogFrame(w)); err != nil {
				// A protocol error: the source reconnects, or stops when
				// a transaction failed half applied.
				break
			}
		}
		if s.txn != nil {
			s.txn.close()
		}
		for _, tx := range s.streams {
			tx.close()
		}
		if err := s.flush(ctx); err != nil {
			t.Fatal(err)
		}
		if ents, _ := os.ReadDir(spill); len(ents) > 0 {
			t.Fatalf("%d spill files left behind", len(ents))
		}
		for _, se := range sink.errs {
			if pe := se.PgError(); pe.Code == "XX000" || pe.Code == "" {
				t.Fatalf("table error without a SQLSTATE: %v", se)
			}
		}
		if sink.bad != nil {
			t.Fatal(sink.bad)
		}
		for _, u := range sink.units {
			for coll, ups := range u.Updates {
				tbl := fuzzTable(coll)
				if tbl == nil {
					t.Fatalf("updates of an unknown collection %d", coll)
				}
				for _, up := range ups {
					checkFuzzRow(t, tbl, up.Row)
				}
			}
		}
	})
}

// byName lists the reader's tables.
func (r *PGReader) byName() []*pgTable {
	out := make([]*pgTable, 0, len(r.names))
	for _, pt := range r.names {
		out = append(out, pt)
	}
	return out
}

// xlogFrame wraps pgoutput bytes as a replication XLogData message.
func xlogFrame(w []byte) []byte {
	b := []byte{pglogrepl.XLogDataByteID}
	b = binary.BigEndian.AppendUint64(b, 100) // WALStart
	b = binary.BigEndian.AppendUint64(b, 200) // ServerWALEnd
	b = binary.BigEndian.AppendUint64(b, 0)   // ServerTime
	return append(b, w...)
}

func fuzzTable(id CollectionID) *PGTable {
	for i := range fuzzPGTables {
		if fuzzPGTables[i].ID == id {
			return &fuzzPGTables[i]
		}
	}
	return nil
}

// checkFuzzRow fails unless row has tbl's columns, each NULL or of its
// declared type.
func checkFuzzRow(t *testing.T, tbl *PGTable, row repr.Row) {
	t.Helper()
	it := row.Iter()
	i := 0
	for {
		d, ok := it.Next()
		if !ok {
			break
		}
		if i >= len(tbl.Columns) {
			t.Fatalf("table %s: a row of more than %d columns: %v", tbl.Name, len(tbl.Columns), row)
		}
		if !d.IsNull() && d.Kind() != tbl.Columns[i].Type.Kind {
			t.Fatalf("table %s column %s: a %v datum, want %v", tbl.Name, tbl.Columns[i].Name, d.Kind(), tbl.Columns[i].Type.Kind)
		}
		i++
	}
	if it.Err() != nil || i != len(tbl.Columns) {
		t.Fatalf("table %s: a row of %d columns (%v), want %d", tbl.Name, i, it.Err(), len(tbl.Columns))
	}
}

// TestPGOutputFuzzSeedsDecode: FuzzPGOutput's first seed is decoded (its
// messages are well formed): table a gets two rows, table b one row
// twice, in one unit.
func TestPGOutputFuzzSeedsDecode(t *testing.T) {
	sink := newMemPG(fuzzPGTables)
	r, err := NewPGReader(PGReaderConfig{Tables: fuzzPGTables, SpillDir: t.TempDir(), Collections: sink}, sink)
	if err != nil {
		t.Fatal(err)
	}
	r.byRel[1], r.byRel[2] = r.names["public.a"], r.names["public.b"]
	s := &pgStream{r: r, streams: map[uint32]*pgTxn{}}
	ins := func(rel uint32, vals ...*string) []byte {
		return pgTuple(append(binary.BigEndian.AppendUint32([]byte{'I'}, rel), 'N'), vals...)
	}
	rowA := []*string{sp("1"), sp("x"), sp("1.50"), sp("2024-01-02 03:04:05+00"), sp(`{"k": [1, 2.0]}`), sp("t"), sp("{1,NULL,3}"), sp(`\x00ff`), sp("1 day")}
	ctx := context.Background()
	for _, m := range [][]byte{pgBegin(7), ins(1, rowA...), ins(1, append([]*string{sp("2")}, rowA[1:]...)...), ins(2, sp("5"), nil, sp("2024-02-29")), ins(2, sp("5"), nil, sp("2024-02-29")), pgCommit(200)} {
		if err := s.handle(ctx, nil, xlogFrame(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.flush(ctx); err != nil {
		t.Fatal(err)
	}
	var bRows repr.Diff
	for _, up := range sink.units[0].Updates[12] {
		bRows += up.Diff
	}
	if len(sink.errs) != 0 || len(sink.units) != 1 || len(sink.units[0].Updates[11]) != 2 || bRows != 2 {
		t.Fatalf("errors %v, units %+v", sink.errs, sink.units)
	}
}

// TestPGOutputLengthsChecked: a tuple column or a truncate that declares
// more bytes than its message holds is refused before pglogrepl
// allocates what the length says (4 GiB, 16 GiB: FuzzPGOutput's workers
// died of it), and a truncated message is an error, not a panic.
func TestPGOutputLengthsChecked(t *testing.T) {
	huge := binary.BigEndian.AppendUint32(append(binary.BigEndian.AppendUint32([]byte{'I'}, 1), 'N', 0, 1, 't'), 0xffffffff)
	trunc := binary.BigEndian.AppendUint32([]byte{'T'}, 0xffffffff)
	trunc = append(trunc, 0, 0, 0, 0, 1)
	short := append(binary.BigEndian.AppendUint32([]byte{'I'}, 1), 'N', 0, 2, 't', 0, 0, 0, 1, 'x', 't', 0, 0)
	for _, w := range [][]byte{huge, trunc, short} {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.TotalAlloc
		if _, err := parsePGOutput(w, false); err == nil {
			t.Fatalf("%q: no error", w)
		}
		runtime.ReadMemStats(&ms)
		if grew := ms.TotalAlloc - before; grew > 1<<20 {
			t.Fatalf("%q: allocated %d bytes", w, grew)
		}
	}
	ok := pgTuple(append(binary.BigEndian.AppendUint32([]byte{'I'}, 1), 'N'), sp("1"), nil)
	if _, err := parsePGOutput(ok, false); err != nil {
		t.Fatal(err)
	}
}
