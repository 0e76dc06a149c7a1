package sources

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/repr"
)

// TestCopyFields: COPY's text format, with NULL, empty fields and escapes.
func TestCopyFields(t *testing.T) {
	fs, err := copyFields([]byte("1\t\\N\t\ta\\tb\\\\c\\n\\101\\x41"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		if f == nil {
			got = append(got, "NULL")
		} else {
			got = append(got, fmt.Sprintf("%q", f))
		}
	}
	if want := `"1" NULL "" "a\tb\\c\nAA"`; strings.Join(got, " ") != want {
		t.Fatalf("got %s, want %s", strings.Join(got, " "), want)
	}
}

// TestPGTxnSpill: a transaction's messages replay in order from memory,
// and from the spill file once past the bound; close removes the file.
func TestPGTxnSpill(t *testing.T) {
	for _, limit := range []int{1 << 20, 64} {
		tx := &pgTxn{}
		var want []string
		for i := 0; i < 100; i++ {
			m := fmt.Sprintf("message %d", i)
			want = append(want, m)
			if err := tx.add([]byte(m), limit, t.TempDir()); err != nil {
				t.Fatal(err)
			}
		}
		if spilled := tx.file != nil; spilled != (limit == 64) {
			t.Fatalf("limit %d: spilled %v", limit, spilled)
		}
		var got []string
		if err := tx.each(func(b []byte) error { got = append(got, string(b)); return nil }); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("limit %d: replayed %v", limit, got)
		}
		name := ""
		if tx.file != nil {
			name = tx.file.Name()
		}
		tx.close()
		if name != "" {
			if _, err := os.Stat(name); !os.IsNotExist(err) {
				t.Fatalf("spill file %s left after close: %v", name, err)
			}
		}
	}
}

// TestPGScalarType: upstream type OIDs and modifiers map to viewd's types.
func TestPGScalarType(t *testing.T) {
	for _, c := range []struct {
		oid    uint32
		typmod int32
		want   string
	}{
		{1700, (10<<16 | 3) + 4, "numeric(10,3)"},
		{1700, -1, "numeric"},
		{1043, 5 + 4, "character varying(5)"},
		{1231, (12<<16 | 2) + 4, "numeric(12,2)[]"},
		{114, -1, "jsonb"},
		{1007, -1, "integer[]"},
		{2950, -1, "uuid"},
		{1184, -1, "timestamp with time zone"},
	} {
		got, ok := PGScalarType(c.oid, c.typmod)
		if !ok || got.String() != c.want {
			t.Errorf("PGScalarType(%d, %d) = %s %v, want %s", c.oid, c.typmod, got, ok, c.want)
		}
	}
	if _, ok := PGScalarType(869, -1); ok { // inet
		t.Errorf("inet mapped")
	}
}

// pgInsert encodes a pgoutput insert (protocol v1 framing) of (id, pad)
// into relation rel.
func pgInsert(rel uint32, id int, pad string) []byte {
	b := []byte{'I'}
	b = binary.BigEndian.AppendUint32(b, rel)
	b = append(b, 'N')
	b = binary.BigEndian.AppendUint16(b, 2)
	for _, v := range []string{strconv.Itoa(id), pad} {
		b = append(b, 't')
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// TestPGCommitChunks: a committed transaction larger than ChunkBytes is
// emitted in chunks (Unit.More), each about ChunkBytes, after the units
// already complete and before its last unit, which alone carries the
// checkpoint; together they hold every row once, in order. A small one is
// one unit. A TRUNCATE of the table is chunked likewise.
func TestPGCommitChunks(t *testing.T) {
	tbl := PGTable{ID: 5, Schema: "public", Name: "big", KeyCols: []int{0},
		Columns: []PGColumn{{Name: "id", Type: repr.TypeInt4}, {Name: "pad", Type: repr.TypeText}}}
	sink := newMemPG([]PGTable{tbl})
	r, err := NewPGReader(PGReaderConfig{Tables: []PGTable{tbl}, ChunkBytes: 16 << 10, SpillBytes: 64 << 10, SpillDir: t.TempDir(), Collections: sink}, sink)
	if err != nil {
		t.Fatal(err)
	}
	r.byRel[1] = r.names["public.big"]
	s := &pgStream{r: r, streams: map[uint32]*pgTxn{}}
	ctx := context.Background()
	pad := strings.Repeat("p", 100)
	txn := func(from, to int) *pgTxn {
		tx := &pgTxn{xid: uint32(from)}
		for i := from; i < to; i++ {
			if err := tx.add(pgInsert(1, i, pad), r.cfg.SpillBytes, r.cfg.SpillDir); err != nil {
				t.Fatal(err)
			}
		}
		return tx
	}
	small := txn(0, 10)
	if err := s.commit(ctx, small, 100, 101, time.Now()); err != nil {
		t.Fatal(err)
	}
	small.close()
	if len(sink.units) != 0 || len(s.ready) != 1 || s.ready[0].More {
		t.Fatalf("a small transaction: %d emitted, %d ready", len(sink.units), len(s.ready))
	}
	const n = 3000
	big := txn(10, 10+n)
	if err := s.commit(ctx, big, 200, 201, time.Now()); err != nil {
		t.Fatal(err)
	}
	big.close()
	// The small transaction went first, alone, with its checkpoint.
	if len(sink.units) < 3 || sink.units[0].More || sink.units[0].Checkpoint.Token != FormatLSN(101) {
		t.Fatalf("emitted %d units; the first: More %v, checkpoint %q", len(sink.units), sink.units[0].More, sink.units[0].Checkpoint.Token)
	}
	units := append(sink.units[1:], s.ready...)
	next := 10
	for i, u := range units {
		last := i == len(units)-1
		if u.More == last {
			t.Fatalf("unit %d of %d: More %v", i, len(units), u.More)
		}
		if last != (u.Checkpoint.Token == FormatLSN(201)) || (!last && u.Checkpoint.Token != "") {
			t.Fatalf("unit %d of %d: checkpoint %q", i, len(units), u.Checkpoint.Token)
		}
		bytes := 0
		for _, up := range u.Updates[5] {
			if id := up.Row.Get(0).Int(); id != int64(next) || up.Diff != 1 {
				t.Fatalf("unit %d: row %d (diff %d), want %d", i, id, up.Diff, next)
			}
			next++
			bytes += len(up.Row) + updateOverhead
		}
		if !last && (bytes < r.cfg.ChunkBytes || bytes > r.cfg.ChunkBytes+256) {
			t.Fatalf("chunk %d holds %d bytes (ChunkBytes %d)", i, bytes, r.cfg.ChunkBytes)
		}
	}
	if next != 10+n {
		t.Fatalf("rows up to %d, want %d", next, 10+n)
	}

	// TRUNCATE of the table retracts its 3010 rows in chunks too, each
	// about ChunkBytes, the last with the checkpoint.
	sink.units, s.ready = nil, nil
	tr := &pgTxn{xid: 9999}
	if err := tr.add(pgTruncate(1), r.cfg.SpillBytes, r.cfg.SpillDir); err != nil {
		t.Fatal(err)
	}
	if err := s.commit(ctx, tr, 300, 301, time.Now()); err != nil {
		t.Fatal(err)
	}
	tr.close()
	units = append(sink.units, s.ready...)
	if len(units) < 3 {
		t.Fatalf("TRUNCATE of %d rows: %d units, want chunks", 10+n, len(units))
	}
	seen := map[int64]bool{}
	for i, u := range units {
		last := i == len(units)-1
		if u.More == last || last != (u.Checkpoint.Token == FormatLSN(301)) {
			t.Fatalf("TRUNCATE unit %d of %d: More %v, checkpoint %q", i, len(units), u.More, u.Checkpoint.Token)
		}
		bytes := 0
		for _, up := range u.Updates[5] {
			id := up.Row.Get(0).Int()
			if up.Diff != -1 || seen[id] {
				t.Fatalf("TRUNCATE unit %d: row %d diff %d (seen %v)", i, id, up.Diff, seen[id])
			}
			seen[id] = true
			bytes += len(up.Row) + updateOverhead
		}
		if !last && (bytes < r.cfg.ChunkBytes || bytes > r.cfg.ChunkBytes+256) {
			t.Fatalf("TRUNCATE chunk %d holds %d bytes (ChunkBytes %d)", i, bytes, r.cfg.ChunkBytes)
		}
	}
	if len(seen) != 10+n {
		t.Fatalf("TRUNCATE retracted %d rows, want %d", len(seen), 10+n)
	}
	t.Logf("TRUNCATE of %d rows: %d units", len(seen), len(units))
}

// pgTruncate encodes a pgoutput truncate (protocol v1 framing) of
// relation rel.
func pgTruncate(rel uint32) []byte {
	b := []byte{'T'}
	b = binary.BigEndian.AppendUint32(b, 1)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, rel)
}
