package render_test

import (
	"context"
	"strings"
	"testing"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/dataflow/render"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// TestDeltaJoinAppliesEveryPathsClosures pins a rendering bug: the paths of
// a delta join may enforce different join conditions by their lookup keys,
// leaving the others to their closures, but render.deltaJoin filters the
// output of every path with the first path's closures only.
//
//	SELECT * FROM t JOIN u ON t.a = u.x JOIN w ON u.y = w.p AND t.b + u.y = w.q
//
// with indexes t(a), u(x), u(y), w(p, q) plans a delta join whose paths
// from t and from u look w up by (p, q), enforcing t.b + u.y = w.q by the
// key, while the path from w looks up u by y and t by a and checks
// t.b + u.y = w.q in its closure, which is dropped: a row of w joins every
// t, u pair that meets u.y = w.p and t.a = u.x, whatever its q.
func TestDeltaJoinAppliesEveryPathsClosures(t *testing.T) {
	for _, w := range []int{1, 4} {
		tb := testTables()
		col := func(i int) expr.Scalar { return expr.Column{Index: i} }
		j := plan.Join{Inputs: []plan.Rel{tb[0].get, tb[1].get, tb[2].get}}
		cols := j.Typ().Cols
		j.Equivalences = [][]expr.Scalar{
			{col(0), col(2)}, // t.a = u.x
			{col(3), col(4)}, // u.y = w.p
			{call("+", cols, col(1), col(3)), col(5)}, // t.b + u.y = w.q
		}
		idx := indexSet{1: {{col(0)}}, 2: {{col(0)}, {col(1)}}, 3: {{col(0), col(1)}}}
		opt, err := plan.Optimize(j, idx)
		if err != nil {
			t.Fatal(err)
		}
		lir, err := plan.Lower(opt, idx)
		if err != nil {
			t.Fatal(err)
		}
		explain := plan.ExplainLIR(lir)
		if !strings.Contains(explain, "Join::Delta") || !strings.Contains(explain, "closure=") {
			t.Fatalf("the plan no longer has a delta join with a closure; rework the test:\n%s", explain)
		}
		cat := newCatalog(tb, idx, w)
		g := dataflow.NewGraph(graphOptions(w))
		c, err := render.Render(g, lir, &testImports{c: cat}, 1)
		if err != nil {
			t.Fatal(err)
		}
		out := c.Materialize(1)
		row := func(a, b int64) repr.Row { return repr.PackRow(repr.Int8Datum(a), repr.Int8Datum(b)) }
		// t.a = u.x = 3 and u.y = w.p = 4, but t.b + u.y = 5 <> w.q = 3:
		// the join is empty.
		ups := map[plan.GlobalID][]repr.Update{
			1: {{Row: row(3, 1), Time: 1, Diff: 1}},
			2: {{Row: row(3, 4), Time: 1, Diff: 1}},
			3: {{Row: row(4, 3), Time: 1, Diff: 1}},
		}
		ctx := context.Background()
		if err := cat.step(ctx, 1, ups); err != nil {
			t.Fatal(err)
		}
		if err := g.Step(ctx, 1); err != nil {
			t.Fatal(err)
		}
		got, errs, err := readColl(out, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 0 || len(errs) != 0 {
			t.Errorf("workers %d: want an empty join, got:\n%s%v\nLIR:\n%s", w, formatCanon(canon(got)), errs, explain)
		}
		g.Close()
		cat.close()
	}
}
