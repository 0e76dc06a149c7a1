package dataflow

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Test scalar functions (the tests do not depend on expr's catalog).
var (
	fnEq = &expr.Func{Name: "=", Infix: true, Ret: repr.TypeBool, Strict: true,
		Eval: func(_ *expr.EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.BoolDatum(repr.Compare(a[0], a[1]) == 0), nil
		}}
	fnLt = &expr.Func{Name: "<", Infix: true, Ret: repr.TypeBool, Strict: true,
		Eval: func(_ *expr.EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.BoolDatum(repr.Compare(a[0], a[1]) < 0), nil
		}}
	fnAdd = &expr.Func{Name: "+", Infix: true, Ret: repr.TypeInt8, Strict: true,
		Eval: func(_ *expr.EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.Int8Datum(a[0].Int() + a[1].Int()), nil
		}}
	fnDiv = &expr.Func{Name: "/", Infix: true, Ret: repr.TypeInt8, Strict: true,
		Eval: func(_ *expr.EvalCtx, a []repr.Datum) (repr.Datum, error) {
			if a[1].Int() == 0 {
				return repr.Null, pgcode.New(pgcode.DivisionByZero, "division by zero")
			}
			return repr.Int8Datum(a[0].Int() / a[1].Int()), nil
		}}
	seriesFn = &expr.TableFunc{Name: "generate_series", Cols: []repr.ColumnType{{Type: repr.TypeInt8}},
		Eval: func(_ *expr.EvalCtx, a []repr.Datum, emit func([]repr.Datum) bool) error {
			for i := int64(1); i <= a[0].Int(); i++ {
				if !emit([]repr.Datum{repr.Int8Datum(i)}) {
					return nil
				}
			}
			return nil
		}}
)

func col(i int) expr.Scalar { return expr.Column{Index: i} }
func lit(v int64) expr.Scalar {
	return expr.Literal{Value: repr.Int8Datum(v), Typ: repr.ColumnType{Type: repr.TypeInt8}}
}
func call(f *expr.Func, args ...expr.Scalar) expr.Scalar { return expr.Call{Func: f, Args: args} }

// irow packs int8 datums; a value of nullInt packs NULL.
const nullInt = -1 << 62

func irow(vs ...int64) repr.Row {
	var p repr.Packer
	for _, v := range vs {
		if v == nullInt {
			p.Push(repr.Null)
		} else {
			p.Push(repr.Int8Datum(v))
		}
	}
	return p.Row()
}

func fromRows(r *Rows) coll {
	c := coll{}
	for i := range r.Len() {
		c.add(r.Row(i), r.Diff(i))
	}
	return c
}

func (c coll) String() string {
	var lines []string
	for k, v := range c {
		lines = append(lines, fmt.Sprintf("%s x%d", repr.Row(k), v))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func diffColls(want, got coll) string {
	var out []string
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	for k := range keys {
		if want[k] != got[k] {
			out = append(out, fmt.Sprintf("%s: want x%d, got x%d", repr.Row(k), want[k], got[k]))
		}
	}
	sort.Strings(out)
	if len(out) > 10 {
		out = append(out[:10], "...")
	}
	return strings.Join(out, "\n")
}

// cases returns how many random cases a property test runs: the
// DATAFLOW_CASES environment variable (CI sets 1000), else def.
func cases(def int) int {
	if s := os.Getenv("DATAFLOW_CASES"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	if testing.Short() {
		return max(def/4, 1)
	}
	return def
}

// gen produces random update streams over small domains, with inserts and
// retractions of present rows. A value is NULL (nullInt) one time in
// nullEvery (0: never); oracles give NULLs SQL's meaning (no join match,
// skipped by aggregates, placed by NULLS FIRST/LAST).
type gen struct {
	r         *rand.Rand
	domain    int64
	nullEvery int
	// appendOnly: no retractions (inputs of monotonic operators).
	appendOnly bool
}

func newGen(seed uint64, domain int64) *gen {
	return &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), domain: domain, nullEvery: 7}
}

// updates returns up to n random updates to a collection whose current
// state is cur (arity columns), retracting only present rows.
func (g *gen) updates(cur coll, arity, n int) []repr.Update {
	var ups []repr.Update
	work := cur.clone()
	for range g.r.IntN(n + 1) {
		if len(work) > 0 && !g.appendOnly && g.r.IntN(3) == 0 {
			keys := make([]string, 0, len(work))
			for k := range work {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			k := keys[g.r.IntN(len(keys))]
			ups = append(ups, repr.Update{Row: repr.Row(k), Diff: -1})
			work.add(repr.Row(k), -1)
			continue
		}
		vs := make([]int64, arity)
		for i := range vs {
			vs[i] = g.r.Int64N(g.domain)
			if g.nullEvery > 0 && g.r.IntN(g.nullEvery) == 0 {
				vs[i] = nullInt
			}
		}
		d := repr.Diff(1)
		if g.r.IntN(8) == 0 {
			d = 2
		}
		r := irow(vs...)
		ups = append(ups, repr.Update{Row: r, Diff: d})
		work.add(r, d)
	}
	return ups
}

// harness drives a graph and checks an output against a naive evaluation
// at every step and every readable time.
type harness struct {
	t      *testing.T
	seed   uint64
	g      *Graph
	ins    []*Input
	arity  []int
	state  []coll
	outs   []*Output
	oracle []func(ins []coll) coll
	hist   []map[repr.Timestamp]coll
	gen    *gen
	// updates, if set, makes each step's updates to an input of arity
	// columns whose current state is cur, instead of gen.
	updates func(cur coll, arity int) []repr.Update
}

func newHarness(t *testing.T, seed uint64, workers int, arity ...int) *harness {
	h := &harness{t: t, seed: seed, g: NewGraph(Options{Workers: workers, ParallelMin: 8}), gen: newGen(seed, 6)}
	for i, a := range arity {
		h.ins = append(h.ins, h.g.NewInput(fmt.Sprintf("in%d", i), a))
		h.arity = append(h.arity, a)
		h.state = append(h.state, coll{})
	}
	return h
}

func (h *harness) in(i int) *Collection { return h.ins[i].Collection() }

// check registers an output to compare with the oracle.
func (h *harness) check(c *Collection, oracle func(ins []coll) coll) {
	h.outs = append(h.outs, c.Materialize(0))
	h.oracle = append(h.oracle, oracle)
	h.hist = append(h.hist, map[repr.Timestamp]coll{})
}

// run pushes steps of random updates (at most n per input per step).
func (h *harness) run(steps, n int) {
	h.t.Helper()
	ctx := h.t.Context()
	t := repr.Timestamp(0)
	for s := range steps {
		t += repr.Timestamp(1 + h.gen.r.IntN(2))
		for i, in := range h.ins {
			if h.gen.r.IntN(4) == 0 {
				continue
			}
			var ups []repr.Update
			if h.updates != nil {
				ups = h.updates(h.state[i], h.arity[i])
			} else {
				ups = h.gen.updates(h.state[i], h.arity[i], n)
			}
			for j := range ups {
				ups[j].Time = t
				h.state[i].add(ups[j].Row, ups[j].Diff)
			}
			if err := in.Send(ups...); err != nil {
				h.t.Fatalf("seed %d: %v", h.seed, err)
			}
		}
		if err := h.g.Step(ctx, t); err != nil {
			h.t.Fatalf("seed %d step %d: %v", h.seed, t, err)
		}
		for o, out := range h.outs {
			want := h.oracle[o](h.state)
			h.hist[o][t] = want
			// Check the newest time, and on some steps every readable time.
			times := []repr.Timestamp{t}
			if s%5 == 4 {
				times = times[:0]
				for x := range h.hist[o] {
					if x >= out.Since() {
						times = append(times, x)
					}
				}
			}
			for _, x := range times {
				ok, errs, err := out.Read(x)
				if err != nil {
					h.t.Fatalf("seed %d W=%d: read output %d as of %d: %v", h.seed, h.g.Workers(), o, x, err)
				}
				if errs.Len() > 0 {
					h.t.Fatalf("seed %d W=%d: output %d has errors as of %d: %s", h.seed, h.g.Workers(), o, x, fromRows(errs))
				}
				if d := diffColls(h.hist[o][x], fromRows(ok)); d != "" {
					h.t.Fatalf("seed %d W=%d: output %d as of %d differs from the naive evaluation:\n%s\ninputs:\n%v", h.seed, h.g.Workers(), o, x, d, h.state)
				}
			}
			// Let compaction proceed sometimes: reads stay exact after since.
			if s%7 == 6 && t > 3 {
				out.SetSince(t - 3)
			}
		}
	}
}

// forSeeds runs f for many seeds with W=1 and W=4.
func forSeeds(t *testing.T, def int, f func(t *testing.T, seed uint64, w int)) {
	runSeeds(t, cases(def), f)
}

// runSeeds runs f over n seeds, with 1 and 4 workers.
func runSeeds(t *testing.T, n int, f func(t *testing.T, seed uint64, w int)) {
	for _, w := range []int{1, 4} {
		for i := range n {
			seed := uint64(i)*7919 + 1
			f(t, seed, w)
			if t.Failed() {
				return
			}
		}
	}
}

// forSeedsHeavy is forSeeds for a test whose every case is heavy (thousands
// of groups churned for many steps, its coverage within the case): it runs
// a twentieth of the cases DATAFLOW_CASES asks for, and at least def.
// (TestOracleGroupChurn at CI's 1000 cases took about 1000 s alone.)
func forSeedsHeavy(t *testing.T, def int, f func(t *testing.T, seed uint64, w int)) {
	runSeeds(t, max(cases(20*def)/20, def), f)
}

// naive helpers --------------------------------------------------------------

// compareOrder is the oracles' own ORDER BY: rows a and b compared column
// by column under order, a NULL before or after every value as
// NullsFirst says (whatever the direction), values by repr.Compare,
// reversed for DESC; rows equal on every order column compare by their
// packed bytes (TopK's and Window's documented tie-break). It shares
// nothing with the operators' memcomparable sort keys.
func compareOrder(a, b string, order []ColumnOrder) int {
	da, db := repr.Row(a).Datums(), repr.Row(b).Datums()
	if c := comparePeers(da, db, order); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// comparePeers compares the order columns only: 0 for peers.
func comparePeers(da, db []repr.Datum, order []ColumnOrder) int {
	for _, o := range order {
		x, y := da[o.Column], db[o.Column]
		var c int
		switch {
		case x.IsNull() && y.IsNull():
			c = 0
		case x.IsNull() || y.IsNull():
			c = 1 // x is NULL: after y, unless NULLS FIRST
			if y.IsNull() {
				c = -1
			}
			if o.Order.NullsFirst {
				c = -c
			}
		default:
			c = repr.Compare(x, y)
			if o.Order.Desc {
				c = -c
			}
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func ints(r string) []int64 {
	ds := repr.Row(r).Datums()
	out := make([]int64, len(ds))
	for i, d := range ds {
		if d.IsNull() {
			out[i] = nullInt
		} else {
			out[i] = d.Int()
		}
	}
	return out
}
