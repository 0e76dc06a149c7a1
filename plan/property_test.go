package plan

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// A naive MIR evaluator (the correctness oracle for the optimiser): it
// computes a relation's collection from the full contents of its inputs.

type database map[GlobalID][]ConstRow

// oracleNow is the logical time (mz_now()) at which evalRel evaluates.
var oracleNow repr.Timestamp

func evalRel(rel Rel, db database, locals map[LocalID][]ConstRow) ([]ConstRow, error) {
	ctx := expr.EvalCtx{LogicalNow: oracleNow}
	switch r := rel.(type) {
	case Get:
		if r.Local != 0 {
			return locals[r.Local], nil
		}
		return db[r.Global], nil
	case Constant:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Rows, nil
	case Map:
		in, err := evalRel(r.Input, db, locals)
		if err != nil {
			return nil, err
		}
		var out []ConstRow
		for _, row := range in {
			ds := row.Row.Datums()
			for _, s := range r.Scalars {
				v, err := expr.Eval(&ctx, s, ds)
				if err != nil {
					return nil, err
				}
				ds = append(ds, v)
			}
			out = append(out, ConstRow{Row: repr.PackRow(ds...), Diff: row.Diff})
		}
		return out, nil
	case Filter:
		in, err := evalRel(r.Input, db, locals)
		if err != nil {
			return nil, err
		}
		var out []ConstRow
		for _, row := range in {
			ds := row.Row.Datums()
			keep := true
			for _, p := range r.Predicates {
				ok, err := expr.EvalBool(&ctx, p, ds)
				if err != nil {
					return nil, err
				}
				keep = keep && ok
			}
			if keep {
				out = append(out, row)
			}
		}
		return out, nil
	case Project:
		in, err := evalRel(r.Input, db, locals)
		if err != nil {
			return nil, err
		}
		var out []ConstRow
		for _, row := range in {
			ds := row.Row.Datums()
			ps := make([]repr.Datum, len(r.Outputs))
			for i, o := range r.Outputs {
				ps[i] = ds[o]
			}
			out = append(out, ConstRow{Row: repr.PackRow(ps...), Diff: row.Diff})
		}
		return out, nil
	case Join:
		acc := []ConstRow{{Row: repr.PackRow(), Diff: 1}}
		for _, in := range r.Inputs {
			rows, err := evalRel(in, db, locals)
			if err != nil {
				return nil, err
			}
			var next []ConstRow
			for _, a := range acc {
				for _, b := range rows {
					ds := append(a.Row.Datums(), b.Row.Datums()...)
					next = append(next, ConstRow{Row: repr.PackRow(ds...), Diff: a.Diff * b.Diff})
				}
			}
			acc = next
		}
		var out []ConstRow
		for _, row := range acc {
			ds := row.Row.Datums()
			keep := true
			for _, class := range r.Equivalences {
				var first repr.Datum
				for i, e := range class {
					v, err := expr.Eval(&ctx, e, ds)
					if err != nil {
						return nil, err
					}
					if v.IsNull() || (i > 0 && repr.Compare(first, v) != 0) {
						keep = false
					}
					if i == 0 {
						first = v
					}
				}
			}
			if keep {
				out = append(out, row)
			}
		}
		return out, nil
	case Reduce:
		in, err := evalRel(r.Input, db, locals)
		if err != nil {
			return nil, err
		}
		in = normalizeConstant(Constant{Rows: in}).Rows
		type group struct {
			key  []repr.Datum
			rows []ConstRow
		}
		groups := map[string]*group{}
		var order []string
		for _, row := range in {
			ds := row.Row.Datums()
			var key []repr.Datum
			for _, k := range r.GroupKey {
				v, err := expr.Eval(&ctx, k, ds)
				if err != nil {
					return nil, err
				}
				key = append(key, v)
			}
			ks := string(repr.PackRow(key...))
			g, ok := groups[ks]
			if !ok {
				g = &group{key: key}
				groups[ks] = g
				order = append(order, ks)
			}
			g.rows = append(g.rows, row)
		}
		var out []ConstRow
		for _, ks := range order {
			g := groups[ks]
			vals := append([]repr.Datum(nil), g.key...)
			for _, a := range r.Aggregates {
				var v repr.Datum
				var count int64
				for _, row := range g.rows {
					if a.Filter != nil {
						// FILTER: the aggregate sees only the rows
						// where it is true.
						p, err := expr.Eval(&ctx, a.Filter, row.Row.Datums())
						if err != nil {
							return nil, err
						}
						if p.IsNull() || !p.Bool() {
							continue
						}
					}
					x, err := expr.Eval(&ctx, a.Expr, row.Row.Datums())
					if err != nil {
						return nil, err
					}
					switch a.Func {
					case expr.AggCountStar:
						count += int64(row.Diff)
					case expr.AggCount:
						if !x.IsNull() {
							count += int64(row.Diff)
						}
					case expr.AggMin, expr.AggMax:
						if x.IsNull() {
							continue
						}
						c := repr.Compare(x, v)
						if v.IsNull() || (a.Func == expr.AggMin && c < 0) || (a.Func == expr.AggMax && c > 0) {
							v = x
						}
					default:
						return nil, fmt.Errorf("oracle: aggregate %s unsupported", a.Func)
					}
				}
				if a.Func == expr.AggCount || a.Func == expr.AggCountStar {
					v = repr.Int8Datum(count)
				}
				vals = append(vals, v)
			}
			out = append(out, ConstRow{Row: repr.PackRow(vals...), Diff: 1})
		}
		return out, nil
	case Union:
		var out []ConstRow
		for _, in := range r.Inputs {
			rows, err := evalRel(in, db, locals)
			if err != nil {
				return nil, err
			}
			out = append(out, rows...)
		}
		return out, nil
	case Negate:
		in, err := evalRel(r.Input, db, locals)
		if err != nil {
			return nil, err
		}
		var out []ConstRow
		for _, row := range in {
			out = append(out, ConstRow{Row: row.Row, Diff: -row.Diff})
		}
		return out, nil
	case Threshold:
		in, err := evalRel(r.Input, db, locals)
		if err != nil {
			return nil, err
		}
		var out []ConstRow
		for _, row := range normalizeConstant(Constant{Rows: in}).Rows {
			if row.Diff > 0 {
				out = append(out, row)
			}
		}
		return out, nil
	case ArrangeBy:
		return evalRel(r.Input, db, locals)
	case Let:
		v, err := evalRel(r.Value, db, locals)
		if err != nil {
			return nil, err
		}
		inner := map[LocalID][]ConstRow{}
		for k, x := range locals {
			inner[k] = x
		}
		inner[r.ID] = v
		return evalRel(r.Body, db, inner)
	}
	return nil, fmt.Errorf("oracle: %T unsupported", rel)
}

func formatRows(rows []ConstRow) string {
	rows = normalizeConstant(Constant{Rows: rows}).Rows
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "%s x%d\n", formatRow(r.Row), r.Diff)
	}
	return b.String()
}

// relGen generates random well-typed MIR over two int8 tables.
type relGen struct {
	rng    *rand.Rand
	cat    *testCatalog
	nextID LocalID
}

func (g *relGen) col(n int) expr.Scalar { return expr.Column{Index: g.rng.Intn(n)} }

func (g *relGen) lit() expr.Scalar {
	return expr.Literal{Value: repr.Int8Datum(int64(g.rng.Intn(5))), Typ: repr.ColumnType{Type: repr.TypeInt8}}
}

func (g *relGen) call(op string, cols []repr.ColumnType, a, b expr.Scalar) expr.Scalar {
	c, err := resolveCall(op, expr.LookupBinaryOp(op), []expr.Scalar{a, b}, cols)
	if err != nil {
		panic(err)
	}
	return c
}

func (g *relGen) pred(cols []repr.ColumnType) expr.Scalar {
	n := len(cols)
	ops := []string{"=", "<", ">", "<>", "<="}
	op := ops[g.rng.Intn(len(ops))]
	switch g.rng.Intn(4) {
	case 0:
		return g.call(op, cols, g.col(n), g.col(n))
	case 1:
		return expr.Call{Func: expr.FuncIsNotNull, Args: []expr.Scalar{g.col(n)}}
	case 2:
		return expr.And(g.call(op, cols, g.col(n), g.lit()), g.call("=", cols, g.col(n), g.col(n)))
	}
	return g.call(op, cols, g.col(n), g.lit())
}

func (g *relGen) project(r Rel, k int) Rel {
	n := Arity(r)
	outs := make([]int, k)
	for i := range outs {
		outs[i] = g.rng.Intn(n)
	}
	return Project{Input: r, Outputs: outs}
}

func (g *relGen) gen(depth int) Rel {
	if depth == 0 || g.rng.Intn(6) == 0 {
		switch g.rng.Intn(5) {
		case 0:
			return Constant{Type: RelType{Cols: []repr.ColumnType{{Type: repr.TypeInt8}, {Type: repr.TypeInt8, Nullable: true}}},
				Rows: []ConstRow{{Row: repr.PackRow(repr.Int8Datum(1), repr.Null), Diff: 1}, {Row: repr.PackRow(repr.Int8Datum(2), repr.Int8Datum(3)), Diff: 2}}}
		case 1, 2:
			return g.cat.tables["u"]
		}
		return g.cat.tables["t"]
	}
	switch g.rng.Intn(11) {
	case 0, 1:
		in := g.gen(depth - 1)
		return Filter{Input: in, Predicates: []expr.Scalar{g.pred(in.Typ().Cols)}}
	case 2:
		in := g.gen(depth - 1)
		cols := in.Typ().Cols
		var s expr.Scalar = g.lit()
		if g.rng.Intn(2) == 0 {
			s = g.call("+", cols, g.col(len(cols)), g.lit())
		}
		return Map{Input: in, Scalars: []expr.Scalar{s}}
	case 3:
		in := g.gen(depth - 1)
		return g.project(in, 1+g.rng.Intn(3))
	case 4, 5:
		a, b := g.gen(depth-1), g.gen(depth-1)
		j := Join{Inputs: []Rel{a, b}}
		na, nb := Arity(a), Arity(b)
		if g.rng.Intn(4) != 0 {
			j.Equivalences = [][]expr.Scalar{{g.col(na), expr.Column{Index: na + g.rng.Intn(nb)}}}
		}
		if g.rng.Intn(3) == 0 {
			return Filter{Input: j, Predicates: []expr.Scalar{g.pred(j.Typ().Cols)}}
		}
		return j
	case 6:
		k := 1 + g.rng.Intn(2)
		return Union{Inputs: []Rel{g.project(g.gen(depth-1), k), g.project(g.gen(depth-1), k)}}
	case 7:
		k := 1 + g.rng.Intn(2)
		return Threshold{Input: Union{Inputs: []Rel{g.project(g.gen(depth-1), k), Negate{Input: g.project(g.gen(depth-1), k)}}}}
	case 8, 9:
		in := g.gen(depth - 1)
		cols := in.Typ().Cols
		r := Reduce{Input: in}
		for i := 0; i < g.rng.Intn(3); i++ {
			r.GroupKey = append(r.GroupKey, g.col(len(cols)))
		}
		for i := 0; i < g.rng.Intn(3); i++ {
			c := g.col(len(cols))
			switch g.rng.Intn(4) {
			case 0:
				r.Aggregates = append(r.Aggregates, expr.Aggregate{Func: expr.AggCountStar, Expr: expr.Literal{Value: repr.True, Typ: repr.ColumnType{Type: repr.TypeBool}}, Typ: repr.ColumnType{Type: repr.TypeInt8}})
			case 1:
				r.Aggregates = append(r.Aggregates, expr.Aggregate{Func: expr.AggCount, Expr: c, Typ: repr.ColumnType{Type: repr.TypeInt8}})
			case 2:
				r.Aggregates = append(r.Aggregates, expr.Aggregate{Func: expr.AggMin, Expr: c, Typ: c.Type(cols)})
			default:
				r.Aggregates = append(r.Aggregates, expr.Aggregate{Func: expr.AggMax, Expr: c, Typ: c.Type(cols)})
			}
			if g.rng.Intn(3) == 0 {
				// FILTER (WHERE p): the rules remap it with the
				// aggregate's other expressions.
				r.Aggregates[len(r.Aggregates)-1].Filter = g.pred(cols)
			}
		}
		if len(r.GroupKey) == 0 && len(r.Aggregates) == 0 {
			r.GroupKey = []expr.Scalar{g.col(len(cols))}
		}
		return r
	default:
		g.nextID++
		id := g.nextID
		v := g.gen(depth - 1)
		get := Get{Local: id, Type: v.Typ()}
		k := 1 + g.rng.Intn(2)
		body := Union{Inputs: []Rel{g.project(Filter{Input: get, Predicates: []expr.Scalar{g.pred(get.Type.Cols)}}, k), g.project(get, k)}}
		return Let{ID: id, Value: v, Body: body}
	}
}

// randomDatabase fills t (a unique, b nullable) and u with small values.
func randomDatabase(rng *rand.Rand, cat *testCatalog) database {
	db := database{}
	t := cat.tables["t"]
	for a := 0; a < 5; a++ {
		if rng.Intn(4) == 0 {
			continue
		}
		b := repr.Int8Datum(int64(rng.Intn(5)))
		if rng.Intn(4) == 0 {
			b = repr.Null
		}
		db[t.Global] = append(db[t.Global], ConstRow{Row: repr.PackRow(repr.Int8Datum(int64(a)), b), Diff: 1})
	}
	u := cat.tables["u"]
	for i := 0; i < 6; i++ {
		db[u.Global] = append(db[u.Global], ConstRow{Row: repr.PackRow(repr.Int8Datum(int64(rng.Intn(5))), repr.Int8Datum(int64(rng.Intn(5)))), Diff: repr.Diff(1 + rng.Intn(2))})
	}
	return db
}

func propertyCatalog(t *testing.T) *testCatalog {
	cat := newTestCatalog()
	xs, err := parseSexps(`(table t ((a int8) (b int8?)) (key 0) (index 0)) (table u ((x int8) (y int8)) (index 1))`)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		if err := cat.define(x); err != nil {
			t.Fatal(err)
		}
	}
	return cat
}

// TestOptimizePreservesResults checks, on random plans and data, that the
// pipeline preserves arity, column scalar types (nullability may only
// become stricter) and the computed collection, and that the result lowers
// to LIR of the same arity.
func TestOptimizePreservesResults(t *testing.T) {
	cat := propertyCatalog(t)
	rng := rand.New(rand.NewSource(42))
	g := &relGen{rng: rng, cat: cat}
	n := 100
	if testing.Short() {
		n = 50
	}
	for i := 0; i < n; i++ {
		rel := g.gen(4)
		before := rel.Typ()
		opt, err := Optimize(rel, cat)
		if err != nil {
			t.Fatalf("case %d: %v\n%s", i, err, Explain(rel))
		}
		after := opt.Typ()
		if len(after.Cols) != len(before.Cols) {
			t.Fatalf("case %d: arity %d -> %d\n%s\n%s", i, len(before.Cols), len(after.Cols), Explain(rel), Explain(opt))
		}
		for c := range before.Cols {
			if !after.Cols[c].Type.Equal(before.Cols[c].Type) || (after.Cols[c].Nullable && !before.Cols[c].Nullable) {
				t.Fatalf("case %d: column %d type %s -> %s\n%s\n%s", i, c, before.Cols[c], after.Cols[c], Explain(rel), Explain(opt))
			}
		}
		for trial := 0; trial < 3; trial++ {
			db := randomDatabase(rng, cat)
			want, err1 := evalRel(rel, db, nil)
			got, err2 := evalRel(opt, db, nil)
			if err1 != nil || err2 != nil {
				t.Fatalf("case %d: oracle errors %v / %v", i, err1, err2)
			}
			if w, g := formatRows(want), formatRows(got); w != g {
				t.Fatalf("case %d: results differ\nplan:\n%s\noptimised:\n%s\nwant:\n%s\ngot:\n%s", i, Explain(rel), Explain(opt), w, g)
			}
			for _, src := range []Rel{opt, rel} {
				n, err := Lower(src, cat)
				if err != nil {
					t.Fatalf("case %d: lower: %v\n%s", i, err, Explain(src))
				}
				lgot, err := (&lirEval{db: db}).eval(n)
				if err != nil {
					t.Fatalf("case %d: LIR eval: %v\n%s", i, err, ExplainLIR(n))
				}
				if w, g := formatRows(want), formatRows(lgot); w != g {
					t.Fatalf("case %d: LIR results differ\nMIR:\n%s\nLIR:\n%s\nwant:\n%s\ngot:\n%s", i, Explain(src), ExplainLIR(n), w, g)
				}
			}
		}
		n, err := Lower(opt, cat)
		if err != nil {
			t.Fatalf("case %d: lower: %v\n%s", i, err, Explain(opt))
		}
		if n.Arity() != len(before.Cols) {
			t.Fatalf("case %d: LIR arity %d, want %d\n%s", i, n.Arity(), len(before.Cols), ExplainLIR(n))
		}
		if s1, s2 := Explain(opt), explainAgain(t, rel, cat); s1 != s2 {
			t.Fatalf("case %d: optimisation is not deterministic", i)
		}
	}
}

func explainAgain(t *testing.T, rel Rel, cat *testCatalog) string {
	opt, err := Optimize(rel, cat)
	if err != nil {
		t.Fatal(err)
	}
	return Explain(opt)
}

// TestOptimizeIdempotent checks that optimising an optimised plan changes
// nothing.
func TestOptimizeIdempotent(t *testing.T) {
	cat := propertyCatalog(t)
	g := &relGen{rng: rand.New(rand.NewSource(7)), cat: cat}
	n := 80
	if testing.Short() {
		n = 30
	}
	for i := 0; i < n; i++ {
		opt, err := Optimize(g.gen(4), cat)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Optimize(opt, cat)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := Explain(opt), Explain(again); a != b {
			t.Fatalf("case %d: not idempotent:\n%s\nthen:\n%s", i, a, b)
		}
	}
}

// TestJoinPlansAgreeWithOracle plans random 3- and 4-way joins over
// indexed and unindexed inputs (with filters and projections on the
// inputs) and checks that the LIR, delta or linear, computes the join.
func TestJoinPlansAgreeWithOracle(t *testing.T) {
	cat := propertyCatalog(t)
	xs, err := parseSexps(`(table w ((p int8) (q int8?)))`)
	if err != nil {
		t.Fatal(err)
	}
	if err := cat.define(xs[0]); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(3))
	g := &relGen{rng: rng, cat: cat}
	kinds := map[string]int{}
	for i := 0; i < 150; i++ {
		n := 3 + rng.Intn(2)
		var j Join
		for k := 0; k < n; k++ {
			var in Rel
			switch rng.Intn(3) {
			case 0:
				in = cat.tables["t"]
			case 1:
				in = cat.tables["u"]
			default:
				in = cat.tables["w"]
			}
			if rng.Intn(3) == 0 {
				in = Filter{Input: in, Predicates: []expr.Scalar{g.pred(in.Typ().Cols)}}
			}
			j.Inputs = append(j.Inputs, in)
		}
		lay := layoutOf(j.Inputs)
		// Chain the inputs on their indexed columns (t.0, u.1) or random ones.
		for k := 1; k < n; k++ {
			a := rng.Intn(k)
			j.Equivalences = append(j.Equivalences, []expr.Scalar{
				expr.Column{Index: lay.offsets[a] + g.keyCol(j.Inputs[a])},
				expr.Column{Index: lay.offsets[k] + g.keyCol(j.Inputs[k])},
			})
		}
		var rel Rel = j
		if rng.Intn(2) == 0 {
			rel = g.project(rel, 2)
		}
		opt, err := Optimize(rel, cat)
		if err != nil {
			t.Fatal(err)
		}
		node, err := Lower(opt, cat)
		if err != nil {
			t.Fatalf("case %d: %v\n%s", i, err, Explain(opt))
		}
		Visit(opt, func(r Rel) {
			if jj, ok := r.(Join); ok {
				kinds[fmt.Sprint(jj.Implementation.Kind)]++
			}
		})
		db := randomDatabase(rng, cat)
		w := cat.tables["w"]
		for k := 0; k < 4; k++ {
			q := repr.Int8Datum(int64(rng.Intn(4)))
			if k == 0 {
				q = repr.Null
			}
			db[w.Global] = append(db[w.Global], ConstRow{Row: repr.PackRow(repr.Int8Datum(int64(rng.Intn(4))), q), Diff: 1})
		}
		want, err := evalRel(rel, db, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := (&lirEval{db: db}).eval(node)
		if err != nil {
			t.Fatalf("case %d: %v\n%s", i, err, ExplainLIR(node))
		}
		if a, b := formatRows(want), formatRows(got); a != b {
			t.Fatalf("case %d: results differ\n%s\n%s\nwant:\n%s\ngot:\n%s", i, Explain(opt), ExplainLIR(node), a, b)
		}
	}
	if kinds[fmt.Sprint(DeltaJoin)] == 0 || kinds[fmt.Sprint(LinearJoin)] == 0 {
		t.Fatalf("expected both delta and linear joins, got %v", kinds)
	}
}

// keyCol picks the indexed column of t (0) or u (1) most of the time.
func (g *relGen) keyCol(r Rel) int {
	name := relName(r)
	if g.rng.Intn(5) != 0 {
		switch name {
		case "t":
			return 0
		case "u":
			return 1
		}
	}
	return g.rng.Intn(Arity(r))
}

// TestArityFollowsTyp: Arity, computed from the plan's structure, is the
// length of Typ's columns at every node of random plans, before and
// after optimisation.
func TestArityFollowsTyp(t *testing.T) {
	cat := propertyCatalog(t)
	g := &relGen{rng: rand.New(rand.NewSource(7)), cat: cat}
	check := func(i int, rel Rel) {
		Visit(rel, func(r Rel) {
			if a, n := Arity(r), len(r.Typ().Cols); a != n {
				t.Fatalf("case %d: Arity %d, Typ has %d columns:\n%s", i, a, n, Explain(r))
			}
		})
	}
	for i := 0; i < 100; i++ {
		rel := g.gen(4)
		check(i, rel)
		opt, err := Optimize(rel, cat)
		if err != nil {
			t.Fatal(err)
		}
		check(i, opt)
	}
}
