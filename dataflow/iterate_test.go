package dataflow

import (
	"context"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// closureBody is WITH RECURSIVE reach AS (SELECT * FROM edges UNION
// SELECT reach.a, edges.b FROM reach JOIN edges ON reach.b = edges.a).
func closureBody(_ *Graph, ins []*Collection, x *Collection) (*Collection, error) {
	edges := ins[0]
	step, err := Join(x.ArrangeColumns(1), edges.ArrangeColumns(0), expr.MapFilterProject{InputArity: 4, Projection: []int{0, 3}})
	if err != nil {
		return nil, err
	}
	u, err := Union(edges, step)
	if err != nil {
		return nil, err
	}
	return u.Distinct(), nil
}

func naiveClosure(edges coll) coll {
	reach := coll{}
	for k := range edges {
		reach[k] = 1
	}
	for {
		grew := false
		for r := range reach {
			rv := ints(r)
			for e := range edges {
				ev := ints(e)
				if rv[1] == ev[0] && ev[0] != nullInt {
					k := string(irow(rv[0], ev[1]))
					if reach[k] == 0 {
						reach[k] = 1
						grew = true
					}
				}
			}
		}
		if !grew {
			return reach
		}
	}
}

func TestOracleIterate(t *testing.T) {
	forSeeds(t, 10, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2)
		reach, err := Iterate([]*Collection{h.in(0)}, 2, closureBody)
		if err != nil {
			t.Fatal(err)
		}
		h.check(reach, func(ins []coll) coll { return naiveClosure(ins[0]) })
		h.run(15, 3)
	})
}

// TestIterateLimit: a recursion without a fixed point (n+1 forever) ends
// in an error, not a hang, and the error clears when the input goes away.
func TestIterateLimit(t *testing.T) {
	g := NewGraph(Options{Workers: 1, IterationLimit: 50})
	in := g.NewInput("seed", 1)
	r, err := Iterate([]*Collection{in.Collection()}, 1, func(_ *Graph, ins []*Collection, x *Collection) (*Collection, error) {
		next := x.MFP(expr.MapFilterProject{InputArity: 1, Expressions: []expr.Scalar{call(fnAdd, col(0), lit(1))}, Projection: []int{1}})
		u, err := Union(ins[0], next)
		if err != nil {
			return nil, err
		}
		return u.Distinct(), nil
	})
	must(t, err)
	out := r.Materialize(0)
	ctx := context.Background()
	must(t, in.Send(repr.Update{Row: irow(1), Time: 1, Diff: 1}))
	must(t, g.Step(ctx, 1))
	ok, errs, err := out.Read(1)
	must(t, err)
	if ok.Len() != 0 || errs.Len() != 1 || DecodeErrRow(errs.Row(0)).Code != pgcode.ProgramLimitExceeded {
		t.Fatalf("want the iteration limit error, got %s / %s", fromRows(ok), fromRows(errs))
	}
	must(t, in.Send(repr.Update{Row: irow(1), Time: 2, Diff: -1}))
	must(t, g.Step(ctx, 2))
	if _, errs, _ := out.Read(2); errs.Len() != 0 {
		t.Fatalf("the error should clear with its input")
	}
}
