package dataflow

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// TestGather: gathering workers' parts equals concatenating and
// consolidating them, for random parts that share rows, cancel each
// other, are empty or are alone.
func TestGather(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		workers := 1 + rng.IntN(4)
		g := NewGraph(Options{Workers: workers})
		parts := make([]*Rows, workers)
		var want Rows
		for w := range parts {
			parts[w] = &Rows{}
			if rng.IntN(4) == 0 {
				continue // an empty part
			}
			for range rng.IntN(50) {
				var p repr.Packer
				p.Push(repr.Int8Datum(int64(rng.IntN(20))))
				if rng.IntN(2) == 0 {
					p.Push(repr.TextDatum("a longer text value past eight bytes"))
				}
				d := repr.Diff(rng.IntN(5) - 2)
				parts[w].Push(p.Row(), d)
				want.Push(p.Row(), d)
			}
		}
		want.Consolidate()
		var got Rows
		if err := g.gather(&got, parts); err != nil {
			t.Fatal(err)
		}
		if got.Len() != want.Len() {
			t.Fatalf("seed %d: %d rows, want %d", seed, got.Len(), want.Len())
		}
		for i := range want.Len() {
			if string(got.Row(i)) != string(want.Row(i)) || got.Diff(i) != want.Diff(i) {
				t.Fatalf("seed %d: row %d is %x %d, want %x %d", seed, i, got.Row(i), got.Diff(i), want.Row(i), want.Diff(i))
			}
		}
		g.Close()
	}
}

// TestGatherTooLarge: parts whose rows would pass what a Rows can hold
// fail with 54000 instead of wrapping the offsets.
func TestGatherTooLarge(t *testing.T) {
	defer func(old int) { maxRowsBytes = old }(maxRowsBytes)
	maxRowsBytes = 100
	g := NewGraph(Options{Workers: 2})
	defer g.Close()
	a, b := &Rows{}, &Rows{}
	a.Push(make(repr.Row, 60), 1)
	b.Push(make(repr.Row, 60), 1)
	var out Rows
	err := g.gather(&out, []*Rows{a, b})
	var pe *pgcode.Error
	if !errors.As(err, &pe) || pe.Code != pgcode.ProgramLimitExceeded {
		t.Fatalf("gather = %v, want 54000", err)
	}
}

// TestStepRowsTooLarge: an operator whose output of one step passes what
// a Rows can hold stops the step with 54000 (a 200-row cross join at a
// limit of 4000 bytes).
func TestStepRowsTooLarge(t *testing.T) {
	defer func(old int) { maxRowsBytes = old }(maxRowsBytes)
	maxRowsBytes = 4000
	g := NewGraph(Options{Workers: 1})
	defer g.Close()
	in := g.NewInput("in", 1)
	c := in.Collection()
	flat, err := c.FlatMap(seriesFn, []expr.Scalar{expr.Literal{Value: repr.Int8Datum(20000)}}, expr.MapFilterProject{InputArity: 2, Projection: []int{1}})
	if err != nil {
		t.Fatal(err)
	}
	out := flat.Materialize(0)
	if err := in.Send(repr.Update{Row: irow(1), Time: 1, Diff: 1}); err != nil {
		t.Fatal(err)
	}
	err = g.Step(context.Background(), 1)
	var pe *pgcode.Error
	if !errors.As(err, &pe) || pe.Code != pgcode.ProgramLimitExceeded {
		t.Fatalf("step = %v, want 54000", err)
	}
	_ = out
}
