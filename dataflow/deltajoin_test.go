package dataflow

import (
	"context"
	"fmt"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// chain4 is a 4-way delta join A(a,b) ⋈ B(b,c) ⋈ C(c,d) ⋈ D(d,e) on
// A.b = B.b, B.c = C.c, C.d = D.d (layout A 0..1, B 2..3, C 4..5, D
// 6..7): each path has three stages, and paths meet the inputs in
// different orders (C's path looks up B, then A, then D).
func chain4(h *harness, final expr.MapFilterProject) *Collection {
	h.t.Helper()
	A, B, C, D := h.in(0), h.in(1), h.in(2), h.in(3)
	aB := A.ArrangeColumns(1)
	bB, bC := B.ArrangeColumns(0), B.ArrangeColumns(1)
	cC, cD := C.ArrangeColumns(0), C.ArrangeColumns(1)
	dD := D.ArrangeColumns(0)
	paths := []DeltaPath{
		{Source: 0, Arr: aB, Stages: []DeltaStage{{Input: 1, Arr: bB, Key: []expr.Scalar{col(1)}}, {Input: 2, Arr: cC, Key: []expr.Scalar{col(3)}}, {Input: 3, Arr: dD, Key: []expr.Scalar{col(5)}}}},
		{Source: 1, Arr: bB, Stages: []DeltaStage{{Input: 0, Arr: aB, Key: []expr.Scalar{col(2)}}, {Input: 2, Arr: cC, Key: []expr.Scalar{col(3)}}, {Input: 3, Arr: dD, Key: []expr.Scalar{col(5)}}}},
		{Source: 2, Arr: cC, Stages: []DeltaStage{{Input: 1, Arr: bC, Key: []expr.Scalar{col(4)}}, {Input: 0, Arr: aB, Key: []expr.Scalar{col(2)}}, {Input: 3, Arr: dD, Key: []expr.Scalar{col(5)}}}},
		{Source: 3, Arr: dD, Stages: []DeltaStage{{Input: 2, Arr: cD, Key: []expr.Scalar{col(6)}}, {Input: 1, Arr: bC, Key: []expr.Scalar{col(4)}}, {Input: 0, Arr: aB, Key: []expr.Scalar{col(2)}}}},
	}
	dj, err := DeltaJoin(4, paths, final)
	if err != nil {
		h.t.Fatal(err)
	}
	return dj
}

func naiveChain4(ins []coll) coll {
	return naiveJoin(naiveJoin(naiveJoin(ins[0], ins[1], 1, 0), ins[2], 3, 0), ins[3], 5, 0)
}

// TestOracleDeltaJoinStages: a 4-way delta join (three stages a path)
// over small domains, so that a step's probes repeat keys (an update's
// retraction and insertion, and rows sharing a key), with NULL keys, and
// with keys whose updates and retractions lie in several batches of a
// spine; against the naive join at every step. Its identity and its
// projection read no datums; the third's filter does.
func TestOracleDeltaJoinStages(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2, 2, 2, 2)
		h.gen.domain = 4
		h.check(chain4(h, expr.Identity(8)), naiveChain4)
		// SELECT e, a: a projection of bytes.
		h.check(chain4(h, expr.MapFilterProject{InputArity: 8, Projection: []int{7, 0}}), func(ins []coll) coll {
			out := coll{}
			for k, d := range naiveChain4(ins) {
				v := ints(k)
				out.add(irow(v[7], v[0]), d)
			}
			return out
		})
		// WHERE a < e, SELECT a + e: datums.
		h.check(chain4(h, expr.MapFilterProject{InputArity: 8, Expressions: []expr.Scalar{call(fnAdd, col(0), col(7))},
			Predicates: []expr.Predicate{{Support: 8, Expr: call(fnLt, col(0), col(7))}}, Projection: []int{8}}), func(ins []coll) coll {
			out := coll{}
			for k, d := range naiveChain4(ins) {
				v := ints(k)
				if v[0] != nullInt && v[7] != nullInt && v[0] < v[7] {
					out.add(irow(v[0]+v[7]), d)
				}
			}
			return out
		})
		h.run(25, 6)
	})
}

// TestOracleDeltaJoinKeyExprs: stage keys that are expressions (b + 1
// against an arrangement keyed by b + 1), which the delta join evaluates
// over datums; NULL keys (NULL + 1) match nothing.
func TestOracleDeltaJoinKeyExprs(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2, 2, 2)
		A, B, C := h.in(0), h.in(1), h.in(2)
		plus1 := func(c int) []expr.Scalar { return []expr.Scalar{call(fnAdd, col(c), lit(1))} }
		aB := A.Arrange(plus1(1))
		bB, bC := B.Arrange(plus1(0)), B.ArrangeColumns(1)
		cC := C.ArrangeColumns(0)
		// Layout: A 0..1, B 2..3, C 4..5.
		paths := []DeltaPath{
			{Source: 0, Arr: aB, Stages: []DeltaStage{{Input: 1, Arr: bB, Key: plus1(1)}, {Input: 2, Arr: cC, Key: []expr.Scalar{col(3)}}}},
			{Source: 1, Arr: bB, Stages: []DeltaStage{{Input: 0, Arr: aB, Key: plus1(2)}, {Input: 2, Arr: cC, Key: []expr.Scalar{col(3)}}}},
			{Source: 2, Arr: cC, Stages: []DeltaStage{{Input: 1, Arr: bC, Key: []expr.Scalar{col(4)}}, {Input: 0, Arr: aB, Key: plus1(2)}}},
		}
		dj, err := DeltaJoin(3, paths, expr.MapFilterProject{InputArity: 6, Projection: []int{5, 0, 3}})
		if err != nil {
			t.Fatal(err)
		}
		h.check(dj, func(ins []coll) coll {
			out := coll{}
			for k, d := range naiveJoin(naiveJoin(ins[0], ins[1], 1, 0), ins[2], 3, 0) {
				v := ints(k)
				out.add(irow(v[5], v[0], v[3]), d)
			}
			return out
		})
		h.run(25, 6)
	})
}

// TestDeltaJoinKeyErrors: a stage key that fails to evaluate sends an
// error to the err stream with the diff of the row that reached the stage
// (the product of its inputs' diffs), at stage 0 and at a later stage,
// also at the first step, whose stage reads an empty old state, and the
// row's retraction retracts the error.
func TestDeltaJoinKeyErrors(t *testing.T) {
	for _, w := range []int{1, 4} {
		t.Run(fmt.Sprintf("W=%d", w), func(t *testing.T) {
			g := NewGraph(Options{Workers: w})
			defer g.Close()
			A, B, C := g.NewInput("a", 2), g.NewInput("b", 2), g.NewInput("c", 2)
			aA := A.Collection().ArrangeColumns(0)
			bB := B.Collection().ArrangeColumns(0)
			cC := C.Collection().ArrangeColumns(0)
			// A.b / A.a = B.x and A.a / B.y = C.z: layout A 0..1,
			// B 2..3, C 4..5. Only A changes after the first step,
			// so only A's path runs then. At the first step A's
			// stage 0 reads B's old state, empty, but its key is
			// still evaluated: (0,7)'s 7/0 fails.
			paths := []DeltaPath{
				{Source: 0, Arr: aA, Stages: []DeltaStage{{Input: 1, Arr: bB, Key: []expr.Scalar{call(fnDiv, col(1), col(0))}}, {Input: 2, Arr: cC, Key: []expr.Scalar{call(fnDiv, col(0), col(3))}}}},
				{Source: 1, Arr: bB, Stages: []DeltaStage{{Input: 0, Arr: aA, Key: []expr.Scalar{col(2)}}, {Input: 2, Arr: cC, Key: []expr.Scalar{col(3)}}}},
				{Source: 2, Arr: cC, Stages: []DeltaStage{{Input: 1, Arr: bB, Key: []expr.Scalar{col(4)}}, {Input: 0, Arr: aA, Key: []expr.Scalar{col(2)}}}},
			}
			dj, err := DeltaJoin(3, paths, expr.Identity(6))
			must(t, err)
			out := dj.Materialize(0)
			ctx := context.Background()
			// B: x=5 twice (y=0: A.a / 0 fails), x=4 once (y=1).
			must(t, B.Send(repr.Update{Row: irow(5, 0), Time: 1, Diff: 2}, repr.Update{Row: irow(4, 1), Time: 1, Diff: 1}))
			must(t, C.Send(repr.Update{Row: irow(2, 9), Time: 1, Diff: 1}))
			must(t, A.Send(repr.Update{Row: irow(0, 7), Time: 1, Diff: 1}))
			must(t, g.Step(ctx, 1))
			if _, errs, _ := out.Read(1); errs.Len() != 1 || errs.Diff(0) != 1 {
				t.Fatalf("errors as of 1: %s, want one division by zero", fromRows(errs))
			}
			// (0,5): 5/0 fails at stage 0, diff 3. (1,5): 5/1 = 5
			// meets (5,0) x2, whose 1/0 fails at stage 1, diff 2.
			// (2,8): 8/2 = 4 meets (4,1), 2/1 = 2 meets (2,9).
			must(t, A.Send(repr.Update{Row: irow(0, 5), Time: 2, Diff: 3}, repr.Update{Row: irow(1, 5), Time: 2, Diff: 1},
				repr.Update{Row: irow(2, 8), Time: 2, Diff: 1}))
			must(t, g.Step(ctx, 2))
			ok, errs, err := out.Read(2)
			must(t, err)
			if d := diffColls(coll{string(irow(2, 8, 4, 1, 2, 9)): 1}, fromRows(ok)); d != "" {
				t.Fatalf("rows as of 2:\n%s", d)
			}
			if errs.Len() != 1 || errs.Diff(0) != 6 {
				t.Fatalf("errors as of 2: %s, want one division by zero with diff 1+3+2", fromRows(errs))
			}
			if e := DecodeErrRow(errs.Row(0)); e.Code != pgcode.DivisionByZero {
				t.Fatalf("error row decodes to %v %q", e.Code, e.Message)
			}
			must(t, A.Send(repr.Update{Row: irow(0, 5), Time: 3, Diff: -3}))
			must(t, g.Step(ctx, 3))
			if _, errs, _ := out.Read(3); errs.Len() != 1 || errs.Diff(0) != 3 {
				t.Fatalf("errors as of 3: %s, want the stage-1 error (diff 2) and (0,7)'s", fromRows(errs))
			}
			must(t, A.Send(repr.Update{Row: irow(1, 5), Time: 4, Diff: -1}, repr.Update{Row: irow(0, 7), Time: 4, Diff: -1}))
			must(t, g.Step(ctx, 4))
			if _, errs, _ := out.Read(4); errs.Len() != 0 {
				t.Fatalf("errors as of 4: %s, want none", fromRows(errs))
			}
		})
	}
}
