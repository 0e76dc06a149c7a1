package render_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/dataflow/render"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// TestDataDriven runs the scenarios under testdata/: a named plan over the
// tables t(a int8 key, b int8?), u(x int8, y int8), w(p int8, q int8?),
// optimised, lowered, rendered into a maintained graph, and fed scripted
// updates. Commands:
//
//	plan name=<scenario> [indexes=(t.0,u.1)]   prints the optimised MIR and the LIR
//	update t=3                                  lines: u (1,2) +1 / t (4,null) -1
//	step t=3                                    steps (first at any scheduled
//	                                            time before t), prints each step's
//	                                            changes and the contents at t
//	read as_of=2                                the output's contents as of 2
//	transient as_of=2                           a one-shot graph rendered and
//	                                            stepped at 2: its result
//
// Every step and read is also checked against the naive evaluator. Each
// file runs with 1 and 4 workers; the output must not depend on them.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		for _, w := range []int{1, 4} {
			d := &ddRun{w: w, ups: map[plan.GlobalID][]repr.Update{}}
			datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
				out, err := d.run(t, td)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return out
			})
			d.close()
		}
	})
}

type ddRun struct {
	w       int
	tables  []table
	rel     plan.Rel
	lir     plan.Node
	cat     *catalog
	imps    *testImports
	g       *dataflow.Graph
	out     *dataflow.Output
	streams map[plan.GlobalID]coll
	hist    history
	ups     map[plan.GlobalID][]repr.Update
	now     repr.Timestamp
	stepped bool
	prev    coll
}

func (d *ddRun) close() {
	if d.g != nil {
		d.g.Close()
	}
	if d.cat != nil {
		d.cat.close()
	}
}

func (d *ddRun) arg(td *datadriven.TestData, k string) (string, bool) {
	for _, a := range td.CmdArgs {
		if a.Key == k {
			return strings.Join(a.Vals, ","), true
		}
	}
	return "", false
}

func (d *ddRun) timeArg(td *datadriven.TestData, k string) (repr.Timestamp, error) {
	s, ok := d.arg(td, k)
	if !ok {
		return 0, fmt.Errorf("%s: missing %s=", td.Cmd, k)
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return repr.Timestamp(n), err
}

func (d *ddRun) run(t *testing.T, td *datadriven.TestData) (string, error) {
	switch td.Cmd {
	case "plan":
		return d.plan(td)
	case "update":
		at, err := d.timeArg(td, "t")
		if err != nil {
			return "", err
		}
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			id, u, err := d.parseUpdate(line, at)
			if err != nil {
				return "", err
			}
			d.ups[id] = append(d.ups[id], u)
		}
		return "ok\n", nil
	case "step":
		at, err := d.timeArg(td, "t")
		if err != nil {
			return "", err
		}
		return d.stepTo(at)
	case "read":
		at, err := d.timeArg(td, "as_of")
		if err != nil {
			return "", err
		}
		got, errs, err := readColl(d.out, at)
		if err != nil {
			return "", err
		}
		return d.checked(got, errs, at)
	case "transient":
		at, err := d.timeArg(td, "as_of")
		if err != nil {
			return "", err
		}
		g := dataflow.NewGraph(graphOptions(d.w))
		defer g.Close()
		c, err := render.Render(g, d.lir, d.imps, at)
		if err != nil {
			return "", err
		}
		out := c.Materialize(at)
		if err := g.Step(context.Background(), at); err != nil {
			return "", err
		}
		got, errs, err := readColl(out, at)
		if err != nil {
			return "", err
		}
		return d.checked(got, errs, at)
	}
	return "", fmt.Errorf("unknown command %q", td.Cmd)
}

// ddPlans are the scenarios, as MIR over the test tables.
var ddPlans = map[string]func(tb []table) plan.Rel{
	// SELECT * FROM t JOIN u ON t.a = u.x WHERE u.y > 1
	"linear-join": func(tb []table) plan.Rel {
		j := plan.Join{Inputs: []plan.Rel{tb[0].get, tb[1].get}, Equivalences: [][]expr.Scalar{{expr.Column{Index: 0}, expr.Column{Index: 2}}}}
		return plan.Filter{Input: j, Predicates: []expr.Scalar{call(">", j.Typ().Cols, expr.Column{Index: 3}, lit8(1))}}
	},
	// SELECT t.a, u.y, w.q FROM t, u, w WHERE t.a = u.x AND u.y = w.p AND w.q IS NOT NULL
	"delta-join": func(tb []table) plan.Rel {
		j := plan.Join{Inputs: []plan.Rel{tb[0].get, tb[1].get, tb[2].get}, Equivalences: [][]expr.Scalar{
			{expr.Column{Index: 0}, expr.Column{Index: 2}},
			{expr.Column{Index: 3}, expr.Column{Index: 4}},
		}}
		f := plan.Filter{Input: j, Predicates: []expr.Scalar{expr.Call{Func: expr.FuncIsNotNull, Args: []expr.Scalar{expr.Column{Index: 5}}}}}
		return plan.Project{Input: f, Outputs: []int{0, 3, 5}}
	},
	// SELECT x, count(*), sum(y), min(y), max(y), count(DISTINCT y) FROM u GROUP BY x
	"reduce": func(tb []table) plan.Rel {
		y := expr.Column{Index: 1}
		n := repr.ColumnType{Type: repr.TypeNumeric, Nullable: true}
		i := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
		return plan.Reduce{Input: tb[1].get, GroupKey: []expr.Scalar{expr.Column{Index: 0}}, Aggregates: []expr.Aggregate{
			{Func: expr.AggCountStar, Expr: expr.Literal{Value: repr.True, Typ: repr.ColumnType{Type: repr.TypeBool}}, Typ: tInt8},
			{Func: expr.AggSum, Expr: y, Typ: n},
			{Func: expr.AggMin, Expr: y, Typ: i},
			{Func: expr.AggMax, Expr: y, Typ: i},
			{Func: expr.AggCount, Expr: y, Distinct: true, Typ: tInt8},
		}}
	},
	// Per x, the two rows of u with the largest y, after skipping the first.
	"topk": func(tb []table) plan.Rel {
		return plan.TopK{Input: tb[1].get, GroupKey: []int{0}, Order: []plan.ColumnOrder{{Column: 1, Order: repr.SortOrder{Desc: true}}}, Limit: 2, Offset: 1}
	},
	// SELECT * FROM t WHERE mz_now() >= a AND mz_now() < a + b: row (a, b)
	// is present during [a, a+b); a NULL b never is.
	"temporal": func(tb []table) plan.Rel {
		cols := tb[0].get.Type.Cols
		a, b := expr.Column{Index: 0}, expr.Column{Index: 1}
		return plan.Filter{Input: tb[0].get, Predicates: []expr.Scalar{
			call(">=", cols, expr.MzNow{}, a),
			call("<", cols, expr.MzNow{}, call("+", cols, a, b)),
		}}
	},
}

func (d *ddRun) plan(td *datadriven.TestData) (string, error) {
	name, _ := d.arg(td, "name")
	build, ok := ddPlans[name]
	if !ok {
		return "", fmt.Errorf("no plan %q", name)
	}
	d.tables = testTables()
	d.rel = build(d.tables)
	idx := indexSet{}
	if s, ok := d.arg(td, "indexes"); ok {
		for _, ix := range strings.Split(s, ",") {
			tn, col, found := strings.Cut(strings.TrimSpace(ix), ".")
			c, err := strconv.Atoi(col)
			if !found || err != nil {
				return "", fmt.Errorf("bad index %q (want table.column)", ix)
			}
			id, err := d.tableID(tn)
			if err != nil {
				return "", err
			}
			idx.add(id, expr.Column{Index: c})
		}
	}
	opt, err := plan.Optimize(d.rel, idx)
	if err != nil {
		return "", err
	}
	if d.lir, err = plan.Lower(opt, idx); err != nil {
		return "", err
	}
	d.cat = newCatalog(d.tables, idx, d.w)
	d.imps = &testImports{c: d.cat}
	d.streams = map[plan.GlobalID]coll{}
	for _, tb := range d.tables {
		d.streams[tb.get.Global] = coll{}
	}
	d.g = dataflow.NewGraph(graphOptions(d.w))
	d.prev = coll{}
	return plan.Explain(opt) + "\n" + plan.ExplainLIR(d.lir), nil
}

func (d *ddRun) tableID(name string) (plan.GlobalID, error) {
	for _, tb := range d.tables {
		if tb.get.Name == name {
			return tb.get.Global, nil
		}
	}
	return 0, fmt.Errorf("no table %q", name)
}

// parseUpdate parses "u (1,null) +1".
func (d *ddRun) parseUpdate(line string, at repr.Timestamp) (plan.GlobalID, repr.Update, error) {
	bad := func() (plan.GlobalID, repr.Update, error) {
		return 0, repr.Update{}, fmt.Errorf("bad update %q (want: u (1,null) +1)", line)
	}
	name, rest, ok := strings.Cut(line, " ")
	if !ok {
		return bad()
	}
	id, err := d.tableID(name)
	if err != nil {
		return 0, repr.Update{}, err
	}
	rest = strings.TrimSpace(rest)
	end := strings.Index(rest, ")")
	if !strings.HasPrefix(rest, "(") || end < 0 {
		return bad()
	}
	var ds []repr.Datum
	for _, f := range strings.Split(rest[1:end], ",") {
		f = strings.TrimSpace(f)
		if f == "null" {
			ds = append(ds, repr.Null)
			continue
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return bad()
		}
		ds = append(ds, repr.Int8Datum(n))
	}
	diff, err := strconv.ParseInt(strings.TrimSpace(rest[end+1:]), 10, 64)
	if err != nil {
		return bad()
	}
	return id, repr.Update{Row: repr.PackRow(ds...), Time: at, Diff: repr.Diff(diff)}, nil
}

// stepTo steps at every scheduled time before at, then at at, printing
// each step's changes and finally the contents at at.
func (d *ddRun) stepTo(at repr.Timestamp) (string, error) {
	var b strings.Builder
	for d.stepped {
		s, ok := d.g.NextScheduled()
		if !ok || s >= at {
			break
		}
		if err := d.stepOnce(s, &b, true); err != nil {
			return "", err
		}
	}
	if err := d.stepOnce(at, &b, false); err != nil {
		return "", err
	}
	got, errs, err := readColl(d.out, at)
	if err != nil {
		return "", err
	}
	out, err := d.checked(got, errs, at)
	if err != nil {
		return "", err
	}
	b.WriteString("contents:\n")
	b.WriteString(out)
	return b.String(), nil
}

func (d *ddRun) stepOnce(at repr.Timestamp, b *strings.Builder, scheduled bool) error {
	ctx := context.Background()
	ups := map[plan.GlobalID][]repr.Update{}
	for id, us := range d.ups {
		var keep []repr.Update
		for _, u := range us {
			if u.Time <= at {
				ups[id] = append(ups[id], u)
				d.streams[id].add(u.Row, u.Diff)
			} else {
				keep = append(keep, u)
			}
		}
		d.ups[id] = keep
	}
	if err := d.cat.step(ctx, at, ups); err != nil {
		return err
	}
	d.hist.add(at, database(d.streams))
	if !d.stepped {
		c, err := render.Render(d.g, d.lir, d.imps, at)
		if err != nil {
			return err
		}
		d.out = c.Materialize(at)
		d.stepped = true
	}
	if err := d.g.Step(ctx, at); err != nil {
		return err
	}
	d.now = at
	got, _, err := readColl(d.out, at)
	if err != nil {
		return err
	}
	changes := coll{}
	for k, v := range got {
		changes.add(repr.Row(k), v)
	}
	for k, v := range d.prev {
		changes.add(repr.Row(k), -v)
	}
	d.prev = got
	label := "step"
	if scheduled {
		label = "scheduled step"
	}
	fmt.Fprintf(b, "%s t=%d changes:\n", label, at)
	b.WriteString(formatChanges(canon(changes)))
	return nil
}

// checked compares a read with the naive evaluation at at and prints it.
func (d *ddRun) checked(got coll, errs []string, at repr.Timestamp) (string, error) {
	want, err := (&naive{db: d.hist.at(at), now: at}).eval(d.rel)
	if err != nil {
		return "", fmt.Errorf("naive: %v", err)
	}
	if len(errs) > 0 {
		return "", fmt.Errorf("errors: %v", errs)
	}
	wc, gc := canon(want), canon(got)
	if diff := diffCanon(wc, gc); diff != "" {
		return "", fmt.Errorf("differs from the naive evaluation at %d:\n%s", at, diff)
	}
	s := formatCanon(gc)
	if s == "" {
		return "  (empty)\n", nil
	}
	return "  " + strings.ReplaceAll(strings.TrimSuffix(s, "\n"), "\n", "\n  ") + "\n", nil
}

func formatChanges(m map[string]repr.Diff) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	if len(ks) == 0 {
		return "  (none)\n"
	}
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "  %s %+d\n", k, m[k])
	}
	return b.String()
}
