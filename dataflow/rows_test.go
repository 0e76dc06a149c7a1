package dataflow

import (
	"bytes"
	"cmp"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/viewd/viewd/repr"
)

// TestConsolidateRuns: Rows made of ascending runs (as few as one, as
// many as past maxMergeRuns, so that both the merge and the sort are
// taken), with rows repeated within and across runs and diffs that cancel,
// consolidate to the same collection as a naive sum, sorted and distinct
// with no zero diff; a stopped step stops the merge.
func TestConsolidateRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for tc := range cases(200) {
		runs := 1 + rng.IntN(maxMergeRuns+4)
		var r Rows
		want := coll{}
		for range runs {
			var rows []repr.Row
			for range rng.IntN(300) {
				rows = append(rows, irow(rng.Int64N(200), rng.Int64N(3)))
			}
			slices.SortFunc(rows, func(a, b repr.Row) int { return bytes.Compare(a, b) })
			for _, row := range rows {
				d := repr.Diff(rng.IntN(5) - 2)
				r.Push(row, d)
				want.add(row, d)
			}
		}
		for k, v := range want {
			if v == 0 {
				delete(want, k)
			}
		}
		r.Consolidate()
		if d := diffColls(want, fromRows(&r)); d != "" {
			t.Fatalf("case %d, %d runs: %s", tc, runs, d)
		}
		for i := range r.Len() {
			if r.Diff(i) == 0 {
				t.Fatalf("case %d: zero diff at %d", tc, i)
			}
			if i > 0 && bytes.Compare(r.Row(i-1), r.Row(i)) >= 0 {
				t.Fatalf("case %d, %d runs: rows %d and %d out of order", tc, runs, i-1, i)
			}
		}
	}
	// The merge polls the step's control.
	s := make([]int, 0, 4*meterEvery)
	for run := range 2 {
		for i := range 2 * meterEvery {
			s = append(s, 2*i+run)
		}
	}
	c := &stepCtl{}
	c.fail(errors.New("stopped"))
	if err := mergeRuns(s, []int{0, 2 * meterEvery}, cmp.Compare[int], c); err == nil {
		t.Fatal("a stopped step's merge went on")
	}
	if err := mergeRuns(s, []int{0, 2 * meterEvery}, cmp.Compare[int], nil); err != nil || !slices.IsSorted(s) {
		t.Fatalf("merge of two runs: %v, sorted %v", err, slices.IsSorted(s))
	}
}
