package dataflow

import (
	"context"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

func numRow(k int64, v string) repr.Row {
	n, err := repr.ParseNumeric(v)
	if err != nil {
		panic(err)
	}
	return repr.PackRow(repr.Int8Datum(k), repr.NumericDatum(n))
}

// sendStep sends ups at time step and runs that step.
func sendStep(t *testing.T, g *Graph, in *Input, step int, ups []repr.Update) repr.Timestamp {
	t.Helper()
	ts := repr.Timestamp(step)
	for j := range ups {
		ups[j].Time = ts
	}
	must(t, in.Send(ups...))
	must(t, g.Step(context.Background(), ts))
	return ts
}

// TestReduceNumericScaleKey: numerics of equal value and different display
// scales (1.1, 1.10, 1.100) are one group; the group shows its key with
// the largest display scale among its current rows, following
// retractions, whatever order the rows came in.
func TestReduceNumericScaleKey(t *testing.T) {
	for _, workers := range []int{1, 3} {
		g := NewGraph(Options{Workers: workers})
		in := g.NewInput("t", 2)
		cnt := expr.Aggregate{Func: expr.AggCountStar, Typ: repr.ColumnType{Type: repr.TypeInt8}}
		r, err := in.Collection().Reduce([]expr.Scalar{col(1)}, []expr.Aggregate{cnt})
		must(t, err)
		out := r.Materialize(0)
		steps := []struct {
			ups  []repr.Update
			want string
		}{
			{[]repr.Update{{Row: numRow(1, "1.1"), Diff: 1}}, "(1.1, 1)"},
			{[]repr.Update{{Row: numRow(2, "1.10"), Diff: 1}, {Row: numRow(3, "1.100"), Diff: 1}}, "(1.100, 3)"},
			{[]repr.Update{{Row: numRow(3, "1.100"), Diff: -1}}, "(1.10, 2)"},
			{[]repr.Update{{Row: numRow(2, "1.10"), Diff: -1}}, "(1.1, 1)"},
			{[]repr.Update{{Row: numRow(1, "1.1"), Diff: -1}, {Row: numRow(4, "1.1000"), Diff: 1}}, "(1.1000, 1)"},
		}
		for i, st := range steps {
			ts := sendStep(t, g, in, i+1, st.ups)
			if got, _ := readOne(t, out, ts); got != st.want {
				t.Fatalf("workers %d step %d: got %s want %s", workers, i+1, got, st.want)
			}
		}
	}
}

// TestThresholdNumericScale: Distinct and Threshold count equal numerics
// of different display scales as one row (EXCEPT of 1.10 by 1.1 is
// empty) and show the largest scale present.
func TestThresholdNumericScale(t *testing.T) {
	for _, workers := range []int{1, 2} {
		g := NewGraph(Options{Workers: workers})
		in := g.NewInput("t", 2)
		dist := in.Collection().Distinct().Materialize(0)
		thr := in.Collection().Threshold().Materialize(0)
		read := func(o *Output, ts repr.Timestamp) string {
			ok, _, err := o.Read(ts)
			must(t, err)
			return fromRows(ok).String()
		}
		steps := []struct {
			ups       []repr.Update
			dist, thr string
		}{
			{[]repr.Update{{Row: numRow(1, "1.1"), Diff: 1}, {Row: numRow(1, "1.10"), Diff: 1}}, "(1, 1.10) x1", "(1, 1.10) x2"},
			// EXCEPT-like: a negative row of equal value cancels.
			{[]repr.Update{{Row: numRow(1, "1.1000"), Diff: -2}}, "", ""},
			{[]repr.Update{{Row: numRow(1, "1.1000"), Diff: 3}}, "(1, 1.1000) x1", "(1, 1.1000) x3"},
			{[]repr.Update{{Row: numRow(1, "1.1000"), Diff: -1}, {Row: numRow(1, "1.10"), Diff: -1}, {Row: numRow(1, "1.1"), Diff: -1}}, "", ""},
			{[]repr.Update{{Row: numRow(2, "5.0"), Diff: 1}}, "(2, 5.0) x1", "(2, 5.0) x1"},
		}
		for i, st := range steps {
			ts := sendStep(t, g, in, i+1, st.ups)
			if got := read(dist, ts); got != st.dist {
				t.Fatalf("workers %d step %d: distinct %q want %q", workers, i+1, got, st.dist)
			}
			if got := read(thr, ts); got != st.thr {
				t.Fatalf("workers %d step %d: threshold %q want %q", workers, i+1, got, st.thr)
			}
		}
	}
}

// TestJoinNumericScale: an equality join on numerics meets values of
// different display scales, and each side keeps its own.
func TestJoinNumericScale(t *testing.T) {
	g := NewGraph(Options{Workers: 2})
	a, b := g.NewInput("a", 2), g.NewInput("b", 2)
	j, err := Join(a.Collection().ArrangeColumns(1), b.Collection().ArrangeColumns(1), expr.MapFilterProject{InputArity: 4, Projection: []int{0, 1, 2, 3}})
	must(t, err)
	out := j.Materialize(0)
	must(t, a.Send(repr.Update{Row: numRow(1, "2.50"), Time: 1, Diff: 1}))
	must(t, b.Send(repr.Update{Row: numRow(2, "2.5"), Time: 1, Diff: 1}))
	must(t, g.Step(context.Background(), 1))
	ok, _, err := out.Read(1)
	must(t, err)
	if got, want := fromRows(ok).String(), "(1, 2.50, 2, 2.5) x1"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}
