package dataflow

import (
	"context"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// TestErrStream: an evaluation error goes to the err stream with the row's
// diff, flows through a join, and disappears when the row is retracted.
func TestErrStream(t *testing.T) {
	for _, w := range []int{1, 4} {
		g := NewGraph(Options{Workers: w})
		in := g.NewInput("a", 2)
		div := in.Collection().MFP(expr.MapFilterProject{InputArity: 2,
			Expressions: []expr.Scalar{call(fnDiv, col(0), col(1))}, Projection: []int{0, 2}})
		out := div.Materialize(0)
		j, _ := Join(div.ArrangeColumns(0), in.Collection().ArrangeColumns(0), expr.Identity(4))
		jout := j.Materialize(0)
		var subErrs int
		div.Subscribe(func(_ repr.Timestamp, _, errs []repr.Update) error {
			subErrs += len(errs)
			return nil
		})
		ctx := context.Background()
		must(t, in.Send(repr.Update{Row: irow(4, 2), Time: 1, Diff: 1}, repr.Update{Row: irow(1, 0), Time: 1, Diff: 1}))
		must(t, g.Step(ctx, 1))
		ok, errs, err := out.Read(1)
		must(t, err)
		if ok.Len() != 1 || errs.Len() != 1 {
			t.Fatalf("W=%d: want one row and one error, got %s / %s", w, fromRows(ok), fromRows(errs))
		}
		if e := DecodeErrRow(errs.Row(0)); e.Code != pgcode.DivisionByZero || e.Message != "division by zero" {
			t.Fatalf("W=%d: error row decodes to %v %q", w, e.Code, e.Message)
		}
		if _, jerrs, _ := jout.Read(1); jerrs.Len() != 1 {
			t.Fatalf("W=%d: the join's err stream should carry the MFP's error", w)
		}
		must(t, in.Send(repr.Update{Row: irow(1, 0), Time: 2, Diff: -1}))
		must(t, g.Step(ctx, 2))
		if _, errs, _ := out.Read(2); errs.Len() != 0 {
			t.Fatalf("W=%d: the retraction should retract the error", w)
		}
		if _, errs, _ := out.Read(1); errs.Len() != 1 {
			t.Fatalf("W=%d: as of 1 the error is still visible", w)
		}
		if subErrs != 2 {
			t.Fatalf("W=%d: subscribe saw %d error updates, want 2", w, subErrs)
		}
		g.Close()
	}
}

// TestSharedArrangement: a second graph imports the first's arrangement,
// sees its snapshot and its later batches, and holds back its compaction.
func TestSharedArrangement(t *testing.T) {
	ctx := context.Background()
	g1 := NewGraph(Options{Workers: 2})
	in := g1.NewInput("orders", 2)
	idx := in.Collection().ArrangeColumns(0)
	for i := range int64(10) {
		must(t, in.Send(repr.Update{Row: irow(i%3, i), Time: 1, Diff: 1}))
	}
	must(t, g1.Step(ctx, 1))
	must(t, in.Send(repr.Update{Row: irow(0, 0), Time: 2, Diff: -1}))
	must(t, g1.Step(ctx, 2))

	g2 := NewGraph(Options{Workers: 2})
	imp, err := g2.Import(idx.Trace().Reader(2), 1)
	must(t, err)
	counts, _ := imp.AsCollection().Reduce([]expr.Scalar{col(0)}, []expr.Aggregate{{Func: expr.AggCountStar, Typ: repr.ColumnType{Type: repr.TypeInt8}}})
	out := counts.Materialize(0)
	must(t, g2.Step(ctx, 2))
	ok, _, err := out.Read(2)
	must(t, err)
	want := coll{string(irow(0, 3)): 1, string(irow(1, 3)): 1, string(irow(2, 3)): 1}
	if d := diffColls(want, fromRows(ok)); d != "" {
		t.Fatalf("snapshot:\n%s", d)
	}
	// Later steps of g1 arrive as g2's deltas, even when g2 skips times.
	must(t, in.Send(repr.Update{Row: irow(1, 100), Time: 3, Diff: 1}))
	must(t, g1.Step(ctx, 3))
	must(t, in.Send(repr.Update{Row: irow(2, 2), Time: 4, Diff: -1}))
	must(t, g1.Step(ctx, 4))
	must(t, g2.Step(ctx, 4))
	ok, _, err = out.Read(4)
	must(t, err)
	want = coll{string(irow(0, 3)): 1, string(irow(1, 4)): 1, string(irow(2, 2)): 1}
	if d := diffColls(want, fromRows(ok)); d != "" {
		t.Fatalf("after deltas:\n%s", d)
	}
	// Index reads (Peek/PeekKey) at a held time.
	r := idx.Trace().Reader(2)
	rows, err := PeekKey(r, irow(1), 3)
	must(t, err)
	if rows.Len() != 4 {
		t.Fatalf("PeekKey(1) as of 3: %s", fromRows(rows))
	}
	all, err := Peek(r, 2)
	must(t, err)
	if all.Len() != 9 {
		t.Fatalf("Peek as of 2: %d rows", all.Len())
	}
	if _, err := Peek(r, 1); err == nil {
		t.Fatalf("a read before the reader's since must fail")
	}
	if _, err := Peek(r, 9); err == nil {
		t.Fatalf("a read at or past the upper must fail")
	}
	r.Release()
	g2.Close()
}

func TestStepOrder(t *testing.T) {
	g := NewGraph(Options{Workers: 1})
	in := g.NewInput("a", 1)
	must(t, g.Step(context.Background(), 5))
	if err := g.Step(context.Background(), 5); err == nil {
		t.Fatal("a step at the same time must fail")
	}
	in.Advance(10)
	if err := in.Send(repr.Update{Row: irow(1), Time: 9, Diff: 1}); err == nil {
		t.Fatal("an update before the input's upper must fail")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Step(ctx, 11); err == nil {
		t.Fatal("a cancelled step must fail")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
