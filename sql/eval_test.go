package sql

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// A naive evaluator of lowered MIR over small in-memory tables, used only
// to check the planner's lowering against hand-computed results. It
// supports what the planner emits for the tested queries.

type evalRow struct {
	vals []repr.Datum
	diff int64
}

func newTestEvaluator() *evaluator {
	return &evaluator{tables: map[plan.GlobalID][]evalRow{}, lets: map[plan.LocalID][]evalRow{}, ctx: &expr.EvalCtx{}}
}

// paramValues parses parameter texts as the given types.
func paramValues(t *testing.T, types []repr.ScalarType, texts ...string) []repr.Datum {
	out := make([]repr.Datum, len(texts))
	for i, s := range texts {
		d, err := repr.ParseText(s, types[i])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = d
	}
	return out
}

type evaluator struct {
	tables map[plan.GlobalID][]evalRow
	lets   map[plan.LocalID][]evalRow
	ctx    *expr.EvalCtx
}

func (ev *evaluator) eval(r plan.Rel) ([]evalRow, error) {
	switch x := r.(type) {
	case plan.Get:
		if x.Local != 0 {
			return ev.lets[x.Local], nil
		}
		return ev.tables[x.Global], nil
	case plan.Constant:
		if x.Err != nil {
			return nil, x.Err
		}
		var out []evalRow
		for _, cr := range x.Rows {
			out = append(out, evalRow{vals: cr.Row.Datums(), diff: int64(cr.Diff)})
		}
		return out, nil
	case plan.Let:
		v, err := ev.eval(x.Value)
		if err != nil {
			return nil, err
		}
		ev.lets[x.ID] = v
		return ev.eval(x.Body)
	case plan.LetRec:
		for _, id := range x.IDs {
			ev.lets[id] = nil
		}
		for iter := 0; iter < 100; iter++ {
			changed := false
			for i, id := range x.IDs {
				v, err := ev.eval(x.Values[i])
				if err != nil {
					return nil, err
				}
				v = consolidate(v)
				if rowsString(v) != rowsString(consolidate(ev.lets[id])) {
					changed = true
				}
				ev.lets[id] = v
			}
			if !changed {
				return ev.eval(x.Body)
			}
		}
		return nil, fmt.Errorf("LetRec did not converge")
	case plan.Map:
		in, err := ev.eval(x.Input)
		if err != nil {
			return nil, err
		}
		var out []evalRow
		for _, row := range in {
			vals := append([]repr.Datum(nil), row.vals...)
			for _, s := range x.Scalars {
				d, err := expr.Eval(ev.ctx, s, vals)
				if err != nil {
					return nil, err
				}
				vals = append(vals, d)
			}
			out = append(out, evalRow{vals: vals, diff: row.diff})
		}
		return out, nil
	case plan.Filter:
		in, err := ev.eval(x.Input)
		if err != nil {
			return nil, err
		}
		var out []evalRow
	rows:
		for _, row := range in {
			for _, p := range x.Predicates {
				d, err := expr.Eval(ev.ctx, p, row.vals)
				if err != nil {
					return nil, err
				}
				if d.IsNull() || !d.Bool() {
					continue rows
				}
			}
			out = append(out, row)
		}
		return out, nil
	case plan.Project:
		in, err := ev.eval(x.Input)
		if err != nil {
			return nil, err
		}
		out := make([]evalRow, len(in))
		for i, row := range in {
			vals := make([]repr.Datum, len(x.Outputs))
			for j, c := range x.Outputs {
				vals[j] = row.vals[c]
			}
			out[i] = evalRow{vals: vals, diff: row.diff}
		}
		return out, nil
	case plan.FlatMap:
		in, err := ev.eval(x.Input)
		if err != nil {
			return nil, err
		}
		var out []evalRow
		for _, row := range in {
			args := make([]repr.Datum, len(x.Args))
			for i, a := range x.Args {
				if args[i], err = expr.Eval(ev.ctx, a, row.vals); err != nil {
					return nil, err
				}
			}
			err := x.Func.Eval(ev.ctx, args, func(vs []repr.Datum) bool {
				out = append(out, evalRow{vals: append(append([]repr.Datum(nil), row.vals...), vs...), diff: row.diff})
				return true
			})
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	case plan.Join:
		acc := []evalRow{{diff: 1}}
		for _, in := range x.Inputs {
			rows, err := ev.eval(in)
			if err != nil {
				return nil, err
			}
			var next []evalRow
			for _, a := range acc {
				for _, b := range rows {
					next = append(next, evalRow{vals: append(append([]repr.Datum(nil), a.vals...), b.vals...), diff: a.diff * b.diff})
				}
			}
			acc = next
		}
		var out []evalRow
	joined:
		for _, row := range acc {
			for _, class := range x.Equivalences {
				var first repr.Datum
				for k, e := range class {
					d, err := expr.Eval(ev.ctx, e, row.vals)
					if err != nil {
						return nil, err
					}
					if d.IsNull() {
						continue joined
					}
					if k == 0 {
						first = d
					} else if !repr.Equal(first, d) {
						continue joined
					}
				}
			}
			out = append(out, row)
		}
		return out, nil
	case plan.Union:
		var out []evalRow
		for _, in := range x.Inputs {
			rows, err := ev.eval(in)
			if err != nil {
				return nil, err
			}
			out = append(out, rows...)
		}
		return out, nil
	case plan.Negate:
		in, err := ev.eval(x.Input)
		if err != nil {
			return nil, err
		}
		out := make([]evalRow, len(in))
		for i, row := range in {
			out[i] = evalRow{vals: row.vals, diff: -row.diff}
		}
		return out, nil
	case plan.Threshold:
		in, err := ev.eval(x.Input)
		if err != nil {
			return nil, err
		}
		var out []evalRow
		for _, row := range consolidate(in) {
			if row.diff > 0 {
				out = append(out, row)
			}
		}
		return out, nil
	case plan.Reduce:
		return ev.reduce(x)
	case plan.TopK:
		in, err := ev.eval(x.Input)
		if err != nil {
			return nil, err
		}
		groups := map[string][]repr.Datum{}
		var order []string
		var expanded [][]repr.Datum
		for _, row := range consolidate(in) {
			for i := int64(0); i < row.diff; i++ {
				expanded = append(expanded, row.vals)
			}
		}
		byGroup := map[string][][]repr.Datum{}
		for _, vals := range expanded {
			var kb strings.Builder
			for _, g := range x.GroupKey {
				kb.WriteString(vals[g].String() + "|")
			}
			k := kb.String()
			if _, ok := groups[k]; !ok {
				groups[k] = nil
				order = append(order, k)
			}
			byGroup[k] = append(byGroup[k], vals)
		}
		var out []evalRow
		for _, k := range order {
			rows := byGroup[k]
			sort.SliceStable(rows, func(i, j int) bool {
				for _, o := range x.Order {
					a, b := rows[i][o.Column], rows[j][o.Column]
					c := compareOrdered(a, b, o.Order)
					if c != 0 {
						return c < 0
					}
				}
				return rowKey(rows[i]) < rowKey(rows[j])
			})
			start := int(x.Offset)
			end := len(rows)
			if x.Limit >= 0 && start+int(x.Limit) < end {
				end = start + int(x.Limit)
			}
			for i := start; i < end; i++ {
				out = append(out, evalRow{vals: rows[i], diff: 1})
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("evaluator: unsupported %T", r)
}

func compareOrdered(a, b repr.Datum, o repr.SortOrder) int {
	if a.IsNull() || b.IsNull() {
		if a.IsNull() && b.IsNull() {
			return 0
		}
		if a.IsNull() == o.NullsFirst {
			return -1
		}
		return 1
	}
	c := repr.Compare(a, b)
	if o.Desc {
		c = -c
	}
	return c
}

func rowKey(vals []repr.Datum) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = v.String()
	}
	return strings.Join(parts, ", ")
}

func consolidate(rows []evalRow) []evalRow {
	m := map[string]*evalRow{}
	var keys []string
	for _, r := range rows {
		k := rowKey(r.vals)
		if e, ok := m[k]; ok {
			e.diff += r.diff
			continue
		}
		c := r
		m[k] = &c
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []evalRow
	for _, k := range keys {
		if m[k].diff != 0 {
			out = append(out, *m[k])
		}
	}
	return out
}

func rowsString(rows []evalRow) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "(%s) x%d\n", rowKey(r.vals), r.diff)
	}
	return b.String()
}

func (ev *evaluator) reduce(x plan.Reduce) ([]evalRow, error) {
	in, err := ev.eval(x.Input)
	if err != nil {
		return nil, err
	}
	in = consolidate(in)
	for _, r := range in {
		if r.diff < 0 {
			return nil, fmt.Errorf("evaluator: reduce input (%s) has multiplicity %d", rowKey(r.vals), r.diff)
		}
	}
	type group struct {
		key  []repr.Datum
		rows []evalRow
	}
	groups := map[string]*group{}
	var order []string
	for _, row := range in {
		key := make([]repr.Datum, len(x.GroupKey))
		for i, k := range x.GroupKey {
			if key[i], err = expr.Eval(ev.ctx, k, row.vals); err != nil {
				return nil, err
			}
		}
		k := rowKey(key)
		g, ok := groups[k]
		if !ok {
			g = &group{key: key}
			groups[k] = g
			order = append(order, k)
		}
		g.rows = append(g.rows, row)
	}
	var out []evalRow
	for _, k := range order {
		g := groups[k]
		total := int64(0)
		for _, r := range g.rows {
			total += r.diff
		}
		if total == 0 {
			continue
		}
		if total < 0 {
			return nil, fmt.Errorf("reduce over negative multiplicity")
		}
		vals := append([]repr.Datum(nil), g.key...)
		for _, a := range x.Aggregates {
			// FILTER: the aggregate sees only the rows where it is true.
			rows := g.rows
			if a.Filter != nil {
				rows = nil
				for _, r := range g.rows {
					p, err := expr.Eval(ev.ctx, a.Filter, r.vals)
					if err != nil {
						return nil, err
					}
					if !p.IsNull() && p.Bool() {
						rows = append(rows, r)
					}
				}
			}
			if a.Func == expr.AggArrayAgg {
				type item struct{ v, k []repr.Datum }
				var items []item
				for _, r := range rows {
					v, err := expr.Eval(ev.ctx, a.Expr, r.vals)
					if err != nil {
						return nil, err
					}
					var ks []repr.Datum
					for _, o := range a.OrderBy {
						k, err := expr.Eval(ev.ctx, o.Expr, r.vals)
						if err != nil {
							return nil, err
						}
						ks = append(ks, k)
					}
					for i := int64(0); i < r.diff; i++ {
						items = append(items, item{[]repr.Datum{v}, ks})
					}
				}
				sort.SliceStable(items, func(i, j int) bool {
					for n, o := range a.OrderBy {
						if c := compareOrdered(items[i].k[n], items[j].k[n], o.Order); c != 0 {
							return c < 0
						}
					}
					return false
				})
				if len(items) == 0 {
					vals = append(vals, repr.Null) // array_agg of no rows
					continue
				}
				var elems []repr.Datum
				for _, it := range items {
					elems = append(elems, it.v[0])
				}
				vals = append(vals, repr.ArrayDatum(elems))
				continue
			}
			var vs []repr.Datum
			seen := map[string]bool{}
			for _, r := range rows {
				d, err := expr.Eval(ev.ctx, a.Expr, r.vals)
				if err != nil {
					return nil, err
				}
				for i := int64(0); i < r.diff; i++ {
					if a.Distinct {
						if seen[d.String()] {
							continue
						}
						seen[d.String()] = true
					}
					vs = append(vs, d)
				}
			}
			v, err := aggregate(a, vs)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
		out = append(out, evalRow{vals: vals, diff: 1})
	}
	return out, nil
}

func aggregate(a expr.Aggregate, vs []repr.Datum) (repr.Datum, error) {
	var nonNull []repr.Datum
	for _, v := range vs {
		if !v.IsNull() {
			nonNull = append(nonNull, v)
		}
	}
	switch a.Func {
	case expr.AggCountStar:
		return repr.Int8Datum(int64(len(vs))), nil
	case expr.AggCount:
		return repr.Int8Datum(int64(len(nonNull))), nil
	}
	if len(nonNull) == 0 {
		return repr.Null, nil
	}
	switch a.Func {
	case expr.AggSum:
		s := int64(0)
		for _, v := range nonNull {
			if !v.Kind().IsInteger() {
				return repr.Null, fmt.Errorf("evaluator: sum of %s", v.Kind())
			}
			s += v.Int()
		}
		if a.Typ.Type.Kind == repr.KindInt8 {
			return repr.Int8Datum(s), nil
		}
		return repr.ParseText(fmt.Sprint(s), repr.TypeNumeric)
	case expr.AggMin, expr.AggMax:
		best := nonNull[0]
		for _, v := range nonNull[1:] {
			c := repr.Compare(v, best)
			if (a.Func == expr.AggMin && c < 0) || (a.Func == expr.AggMax && c > 0) {
				best = v
			}
		}
		return best, nil
	case expr.AggBoolOr, expr.AggBoolAnd:
		res := a.Func == expr.AggBoolAnd
		for _, v := range nonNull {
			if a.Func == expr.AggBoolOr && v.Bool() {
				res = true
			}
			if a.Func == expr.AggBoolAnd && !v.Bool() {
				res = false
			}
		}
		return repr.BoolDatum(res), nil
	}
	return repr.Null, fmt.Errorf("evaluator: aggregate %s", a.Func)
}
