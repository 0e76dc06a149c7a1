package dataflow

import (
	"context"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// TestStateBytes: a graph's state is what its own arrangements and
// outputs hold, growing with the rows arranged; an imported arrangement is
// the exporting graph's state, not the importer's.
func TestStateBytes(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("t", 2)
	arr := in.Collection().ArrangeColumns(0)
	if n := g.StateBytes(); n != 0 {
		t.Fatalf("empty graph holds %d bytes", n)
	}
	const rows = 10_000
	for i := range int64(rows) {
		if err := in.Send(repr.Update{Row: irow(i, -i), Time: 1, Diff: 1}); err != nil {
			t.Fatal(err)
		}
	}
	in.Advance(2)
	if err := g.Step(ctx, 1); err != nil {
		t.Fatal(err)
	}
	full := g.StateBytes()
	// Each row packs two int8 datums: at least 16 bytes arranged.
	if full < rows*16 {
		t.Fatalf("%d rows arranged, StateBytes %d", rows, full)
	}

	h := NewGraph(Options{Workers: 2})
	imp, err := h.Import(arr.Trace().Reader(1), 1)
	if err != nil {
		t.Fatal(err)
	}
	imp.AsCollection().Materialize(1)
	if err := h.Step(ctx, 1); err != nil {
		t.Fatal(err)
	}
	// h's own output holds a copy of the rows; the import is not h's.
	if hb := h.StateBytes(); hb < rows*16 || hb >= 2*full {
		t.Errorf("importing graph holds %d bytes, exporting graph %d", hb, full)
	}
	h.Close()

	g.Close()
}

// TestStateBytesOperators: the group state of reduce, distinct and TopK
// counts in StateBytes, and emptying the groups gives back their entries
// (the tables keep their capacity, which StateBytes still counts).
func TestStateBytesOperators(t *testing.T) {
	ctx := context.Background()
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("t", 2)
	typ := repr.ColumnType{Type: repr.TypeInt8}
	if _, err := in.Collection().Reduce([]expr.Scalar{col(0)}, []expr.Aggregate{
		{Func: expr.AggCountStar, Typ: typ}, {Func: expr.AggMax, Expr: col(1), Typ: typ}}); err != nil {
		t.Fatal(err)
	}
	in.Collection().Distinct()
	if _, err := in.Collection().TopK([]int{0}, []ColumnOrder{{Column: 1}}, 1, 0); err != nil {
		t.Fatal(err)
	}
	const groups = 10_000
	send := func(ts repr.Timestamp, d repr.Diff) {
		for i := range int64(groups) {
			must(t, in.Send(repr.Update{Row: irow(i, 2*i), Time: ts, Diff: d}))
		}
		must(t, g.Step(ctx, ts))
	}
	send(1, 1)
	full := g.StateBytes()
	// Per group at least: three keys (9 bytes each), three table slots,
	// distinct's count, count(*)'s, max's accumulator and a multiset
	// entry in each of max and TopK.
	if full < int64(groups*(3*9+3*keySlotBytes+8+8+accumBytes+2*msEntryBytes)) {
		t.Fatalf("%d groups, StateBytes %d", groups, full)
	}
	send(2, -1)
	empty := g.StateBytes()
	if empty >= full {
		t.Errorf("StateBytes %d with every group emptied, %d full", empty, full)
	}
	for _, op := range g.ops {
		if n := sideBytes(op); n != 0 {
			t.Errorf("%T: %d bytes of side state left with no groups", op, n)
		}
	}
	g.Close()
}
