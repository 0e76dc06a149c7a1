package render_test

import (
	"context"
	"testing"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/dataflow/render"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// Scripted reproductions of bugs the property test found. Each runs a
// plan over scripted updates (inputs stepped first, then the rendered
// graph, at each time) and checks the last read against the oracle.

type scriptStep struct {
	t   repr.Timestamp
	ups map[plan.GlobalID][]repr.Update
}

func row2(a, b int64) repr.Row { return repr.PackRow(repr.Int8Datum(a), repr.Int8Datum(b)) }

// runScript renders rel (optimised and lowered with idx) before the first
// step and returns the output's rows and errors after the last, with the
// oracle's result (or error) at that time and the LIR.
func runScript(t *testing.T, rel plan.Rel, idx indexSet, w int, steps []scriptStep) (got coll, errs []string, want coll, werr error, lir string) {
	t.Helper()
	opt, err := plan.Optimize(rel, idx)
	if err != nil {
		t.Fatal(err)
	}
	n, err := plan.Lower(opt, idx)
	if err != nil {
		t.Fatal(err)
	}
	tables := testTables()
	cat := newCatalog(tables, idx, w)
	defer cat.close()
	g := dataflow.NewGraph(graphOptions(w))
	defer g.Close()
	c, err := render.Render(g, n, &testImports{c: cat}, steps[0].t)
	if err != nil {
		t.Fatal(err)
	}
	out := c.Materialize(steps[0].t)
	db := database{}
	for _, tb := range tables {
		db[tb.get.Global] = coll{}
	}
	ctx := context.Background()
	for _, s := range steps {
		for id, us := range s.ups {
			for i := range us {
				us[i].Time = s.t
				db[id].add(us[i].Row, us[i].Diff)
			}
		}
		if err := cat.step(ctx, s.t, s.ups); err != nil {
			t.Fatal(err)
		}
		if err := g.Step(ctx, s.t); err != nil {
			t.Fatal(err)
		}
	}
	last := steps[len(steps)-1].t
	if got, errs, err = readColl(out, last); err != nil {
		t.Fatal(err)
	}
	want, werr = (&naive{db: db, now: last}).eval(rel)
	return got, errs, want, werr, plan.ExplainLIR(n)
}

// TestFlatMapKeepsMFPErrors pins a bug in dataflow.(*Collection).FlatMap:
// an error from the MFP applied to an emitted row is set inside the emit
// callback and then overwritten by the table function's (nil) return
// value, so the row silently disappears instead of becoming an error.
//
//	SELECT *, 10 / (x - 2) FROM u, generate_series(2, u.x)
//
// with u = {(2, -1)} must fail with division by zero; it returns no rows.
func TestFlatMapKeepsMFPErrors(t *testing.T) {
	tb := testTables()
	u := tb[1].get
	tf, err := expr.LookupTableFunc("generate_series", []repr.ScalarType{repr.TypeInt8, repr.TypeInt8})
	if err != nil {
		t.Fatal(err)
	}
	fm := plan.FlatMap{Input: u, Func: tf, Args: []expr.Scalar{lit8(2), expr.Column{Index: 0}}}
	cols := fm.Typ().Cols
	rel := plan.Map{Input: fm, Scalars: []expr.Scalar{call("/", cols, lit8(10), call("-", cols, expr.Column{Index: 0}, lit8(2)))}}
	for _, w := range []int{1, 4} {
		got, errs, _, werr, lir := runScript(t, rel, indexSet{}, w, []scriptStep{
			{t: 1, ups: map[plan.GlobalID][]repr.Update{2: {{Row: row2(2, -1), Diff: 1}}}},
		})
		if werr == nil {
			t.Fatal("the oracle does not fail; rework the test")
		}
		if len(errs) == 0 {
			t.Errorf("workers %d: want the error %q, got no error and rows:\n%sLIR:\n%s", w, werr, formatCanon(canon(got)), lir)
		}
	}
}

// TestTemporalFilterEvaluatesSelectListAfterBounds pins a lowering bug
// (plan/temporal.go extractTemporal): LTemporalFilter's Pre keeps every map
// expression of the fused MFP, so select-list expressions run before the
// temporal bounds, on rows the bounds drop. A normal MFP evaluates them
// only after its predicates.
//
//	SELECT x, y, 10 / (x - 2) FROM u WHERE mz_now() <= y + 5
//
// with u = {(2, 0)} read at time 7 (the row left at 5) must return no rows
// and no error; the dataflow reports division by zero.
func TestTemporalFilterEvaluatesSelectListAfterBounds(t *testing.T) {
	tb := testTables()
	u := tb[1].get
	cols := u.Type.Cols
	f := plan.Filter{Input: u, Predicates: []expr.Scalar{call("<=", cols, expr.MzNow{}, call("+", cols, expr.Column{Index: 1}, lit8(5)))}}
	rel := plan.Map{Input: f, Scalars: []expr.Scalar{call("/", cols, lit8(10), call("-", cols, expr.Column{Index: 0}, lit8(2)))}}
	for _, w := range []int{1, 4} {
		got, errs, want, werr, lir := runScript(t, rel, indexSet{}, w, []scriptStep{
			{t: 1, ups: map[plan.GlobalID][]repr.Update{2: {{Row: row2(2, 0), Diff: 1}}}},
			{t: 7},
		})
		if werr != nil || len(want) != 0 {
			t.Fatalf("the oracle gives %v %v; rework the test", want, werr)
		}
		if len(errs) > 0 || len(got) > 0 {
			t.Errorf("workers %d: want no rows and no error at 7, got errors %v and rows:\n%sLIR:\n%s", w, errs, formatCanon(canon(got)), lir)
		}
	}
}
