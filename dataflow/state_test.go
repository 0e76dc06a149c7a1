package dataflow

import (
	"context"
	"testing"

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
