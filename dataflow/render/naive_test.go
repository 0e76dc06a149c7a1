package render_test

import (
	"fmt"
	"sort"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// The naive evaluator: the correctness oracle for rendered plans. It
// recomputes a MIR relation from the full accumulated contents of its
// inputs at one time (mz_now() evaluates to that time), with no
// incremental state, no arrangements and no planning.

// coll is a collection: packed row bytes -> multiplicity (no zero entries).
type coll map[string]repr.Diff

func (c coll) add(row repr.Row, d repr.Diff) {
	if d == 0 {
		return
	}
	k := string(row)
	if n := c[k] + d; n == 0 {
		delete(c, k)
	} else {
		c[k] = n
	}
}

func (c coll) clone() coll {
	out := make(coll, len(c))
	for k, d := range c {
		out[k] = d
	}
	return out
}

// sortedKeys returns c's rows in byte order (deterministic iteration).
func (c coll) sortedKeys() []string {
	ks := make([]string, 0, len(c))
	for k := range c {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// database holds the accumulated contents of each catalog collection.
type database map[plan.GlobalID]coll

// naive evaluates rel over db at logical time now.
type naive struct {
	db     database
	now    repr.Timestamp
	locals map[plan.LocalID]coll
}

func (n *naive) ctx() *expr.EvalCtx { return &expr.EvalCtx{LogicalNow: n.now} }

func (n *naive) eval(rel plan.Rel) (coll, error) {
	ctx := n.ctx()
	switch r := rel.(type) {
	case plan.Get:
		if r.Local != 0 {
			c, ok := n.locals[r.Local]
			if !ok {
				return nil, fmt.Errorf("naive: unbound local %d", r.Local)
			}
			return c.clone(), nil
		}
		return n.db[r.Global].clone(), nil
	case plan.Constant:
		if r.Err != nil {
			return nil, r.Err
		}
		out := coll{}
		for _, row := range r.Rows {
			out.add(row.Row, row.Diff)
		}
		return out, nil
	case plan.Map:
		in, err := n.eval(r.Input)
		if err != nil {
			return nil, err
		}
		out := coll{}
		for _, k := range in.sortedKeys() {
			ds := repr.Row(k).Datums()
			for _, s := range r.Scalars {
				v, err := expr.Eval(ctx, s, ds)
				if err != nil {
					return nil, err
				}
				ds = append(ds, v)
			}
			out.add(repr.PackRow(ds...), in[k])
		}
		return out, nil
	case plan.Filter:
		in, err := n.eval(r.Input)
		if err != nil {
			return nil, err
		}
		out := coll{}
		for _, k := range in.sortedKeys() {
			ds := repr.Row(k).Datums()
			keep := true
			for _, p := range r.Predicates {
				ok, err := expr.EvalBool(ctx, p, ds)
				if err != nil {
					return nil, err
				}
				if !ok {
					keep = false
					break
				}
			}
			if keep {
				out.add(repr.Row(k), in[k])
			}
		}
		return out, nil
	case plan.Project:
		in, err := n.eval(r.Input)
		if err != nil {
			return nil, err
		}
		out := coll{}
		for _, k := range in.sortedKeys() {
			ds := repr.Row(k).Datums()
			ps := make([]repr.Datum, len(r.Outputs))
			for i, o := range r.Outputs {
				ps[i] = ds[o]
			}
			out.add(repr.PackRow(ps...), in[k])
		}
		return out, nil
	case plan.FlatMap:
		in, err := n.eval(r.Input)
		if err != nil {
			return nil, err
		}
		out := coll{}
		for _, k := range in.sortedKeys() {
			ds := repr.Row(k).Datums()
			args := make([]repr.Datum, len(r.Args))
			for i, a := range r.Args {
				if args[i], err = expr.Eval(ctx, a, ds); err != nil {
					return nil, err
				}
			}
			d := in[k]
			err := r.Func.Eval(ctx, args, func(row []repr.Datum) bool {
				all := append(append([]repr.Datum(nil), ds...), row...)
				out.add(repr.PackRow(all...), d)
				return true
			})
			if err != nil {
				return nil, err
			}
		}
		return out, nil
	case plan.Join:
		return n.join(r)
	case plan.Reduce:
		return n.reduce(r)
	case plan.TopK:
		return n.topK(r)
	case plan.Union:
		out := coll{}
		for _, in := range r.Inputs {
			c, err := n.eval(in)
			if err != nil {
				return nil, err
			}
			for k, d := range c {
				out.add(repr.Row(k), d)
			}
		}
		return out, nil
	case plan.Negate:
		in, err := n.eval(r.Input)
		if err != nil {
			return nil, err
		}
		for k, d := range in {
			in[k] = -d
		}
		return in, nil
	case plan.Threshold:
		in, err := n.eval(r.Input)
		if err != nil {
			return nil, err
		}
		for k, d := range in {
			if d <= 0 {
				delete(in, k)
			}
		}
		return in, nil
	case plan.ArrangeBy:
		return n.eval(r.Input)
	case plan.Let:
		v, err := n.eval(r.Value)
		if err != nil {
			return nil, err
		}
		if n.locals == nil {
			n.locals = map[plan.LocalID]coll{}
		}
		old, had := n.locals[r.ID]
		n.locals[r.ID] = v
		defer func() {
			if had {
				n.locals[r.ID] = old
			} else {
				delete(n.locals, r.ID)
			}
		}()
		return n.eval(r.Body)
	}
	return nil, fmt.Errorf("naive: %T unsupported", rel)
}

// join computes the product input by input, dropping a partial row as
// soon as the members of an equivalence class it can evaluate are NULL or
// differ (the final condition needs all of them equal and non-NULL).
func (n *naive) join(j plan.Join) (coll, error) {
	ctx := n.ctx()
	acc := coll{string(repr.PackRow()): 1}
	width := 0
	for _, in := range j.Inputs {
		c, err := n.eval(in)
		if err != nil {
			return nil, err
		}
		width += plan.Arity(in)
		next := coll{}
		for _, a := range acc.sortedKeys() {
			for _, b := range c.sortedKeys() {
				ds := append(repr.Row(a).Datums(), repr.Row(b).Datums()...)
				keep := true
				for _, class := range j.Equivalences {
					var first repr.Datum
					seen := false
					for _, e := range class {
						if expr.MaxColumn(e) >= width {
							continue
						}
						v, err := expr.Eval(ctx, e, ds)
						if err != nil {
							return nil, err
						}
						if v.IsNull() || (seen && repr.Compare(first, v) != 0) {
							keep = false
							break
						}
						if !seen {
							first, seen = v, true
						}
					}
					if !keep {
						break
					}
				}
				if keep {
					next.add(repr.PackRow(ds...), acc[a]*c[b])
				}
			}
		}
		acc = next
	}
	return acc, nil
}

func (n *naive) reduce(r plan.Reduce) (coll, error) {
	ctx := n.ctx()
	in, err := n.eval(r.Input)
	if err != nil {
		return nil, err
	}
	type group struct {
		key  []repr.Datum
		rows []string
	}
	groups := map[string]*group{}
	var order []string
	for _, k := range in.sortedKeys() {
		ds := repr.Row(k).Datums()
		var key []repr.Datum
		for _, e := range r.GroupKey {
			v, err := expr.Eval(ctx, e, ds)
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
		g.rows = append(g.rows, k)
	}
	out := coll{}
	for _, ks := range order {
		g := groups[ks]
		vals := append([]repr.Datum(nil), g.key...)
		for _, a := range r.Aggregates {
			v, err := n.aggregate(a, g.rows, in)
			if err != nil {
				return nil, err
			}
			vals = append(vals, v)
		}
		out.add(repr.PackRow(vals...), 1)
	}
	return out, nil
}

func (n *naive) aggregate(a expr.Aggregate, rows []string, in coll) (repr.Datum, error) {
	ctx := n.ctx()
	type val struct {
		v repr.Datum
		d repr.Diff
	}
	var vals []val
	var star repr.Diff
	for _, k := range rows {
		d := in[k]
		if a.Filter != nil {
			// FILTER: the aggregate sees only the rows where it is true.
			p, err := expr.Eval(ctx, a.Filter, repr.Row(k).Datums())
			if err != nil {
				return repr.Null, err
			}
			if p.IsNull() || !p.Bool() {
				continue
			}
		}
		star += d
		if a.Func == expr.AggCountStar {
			continue
		}
		v, err := expr.Eval(ctx, a.Expr, repr.Row(k).Datums())
		if err != nil {
			return repr.Null, err
		}
		if v.IsNull() {
			continue
		}
		vals = append(vals, val{v, d})
	}
	if a.Distinct {
		seen := map[string]bool{}
		var dv []val
		for _, x := range vals {
			k := string(repr.PackRow(x.v))
			if !seen[k] {
				seen[k] = true
				dv = append(dv, val{x.v, 1})
			}
		}
		vals = dv
	}
	switch a.Func {
	case expr.AggCountStar:
		return repr.Int8Datum(int64(star)), nil
	case expr.AggCount:
		var c repr.Diff
		for _, x := range vals {
			c += x.d
		}
		return repr.Int8Datum(int64(c)), nil
	case expr.AggSum:
		if len(vals) == 0 {
			return repr.Null, nil
		}
		var s int64
		for _, x := range vals {
			s += x.v.Int() * int64(x.d)
		}
		return repr.NumericDatum(apd.New(s, 0)), nil
	case expr.AggMin, expr.AggMax:
		v := repr.Null
		for _, x := range vals {
			c := repr.Compare(x.v, v)
			if v.IsNull() || (a.Func == expr.AggMin && c < 0) || (a.Func == expr.AggMax && c > 0) {
				v = x.v
			}
		}
		return v, nil
	}
	return repr.Null, fmt.Errorf("naive: aggregate %s unsupported", a.Func)
}

// topK orders each group's rows by the order keys, ties broken by the
// packed row, expands multiplicities and keeps [offset, offset+limit).
func (n *naive) topK(r plan.TopK) (coll, error) {
	in, err := n.eval(r.Input)
	if err != nil {
		return nil, err
	}
	type item struct {
		ds  []repr.Datum
		row string
	}
	groups := map[string][]item{}
	for _, k := range in.sortedKeys() {
		if in[k] <= 0 {
			continue
		}
		ds := repr.Row(k).Datums()
		var gk []repr.Datum
		for _, c := range r.GroupKey {
			gk = append(gk, ds[c])
		}
		g := string(repr.PackRow(gk...))
		groups[g] = append(groups[g], item{ds, k})
	}
	out := coll{}
	for _, items := range groups {
		// The oracle's own ORDER BY (not the operator's memcomparable
		// keys): NULLs where NullsFirst puts them whatever the
		// direction, values by repr.Compare, reversed for DESC; ties by
		// packed row bytes, TopK's documented tie-break.
		sort.Slice(items, func(i, j int) bool {
			for _, o := range r.Order {
				x, y := items[i].ds[o.Column], items[j].ds[o.Column]
				if x.IsNull() || y.IsNull() {
					if x.IsNull() != y.IsNull() {
						return x.IsNull() == o.Order.NullsFirst
					}
					continue
				}
				if c := repr.Compare(x, y); c != 0 {
					return (c < 0) != o.Order.Desc
				}
			}
			return items[i].row < items[j].row
		})
		pos := int64(0)
		for _, it := range items {
			for m := repr.Diff(0); m < in[it.row]; m++ {
				if pos >= r.Offset && (r.Limit < 0 || pos < r.Offset+r.Limit) {
					out.add(repr.Row(it.row), 1)
				}
				pos++
			}
		}
	}
	return out, nil
}

// canonRow prints a row as its values print, numerics with their display
// scales (5.0 and 5 differ: the rendered plan must show PostgreSQL's
// scales as the naive evaluation computes them).
func canonRow(row repr.Row) string {
	var b strings.Builder
	b.WriteString("(")
	for i, d := range row.Datums() {
		if i > 0 {
			b.WriteString(",")
		}
		switch {
		case d.IsNull():
			b.WriteString("null")
		default:
			b.WriteString(d.String())
		}
	}
	b.WriteString(")")
	return b.String()
}

// canon returns c keyed by canonical row text.
func canon(c coll) map[string]repr.Diff {
	out := map[string]repr.Diff{}
	for k, d := range c {
		out[canonRow(repr.Row(k))] += d
	}
	for k, d := range out {
		if d == 0 {
			delete(out, k)
		}
	}
	return out
}

// formatCanon prints a canonical collection sorted, one row a line.
func formatCanon(m map[string]repr.Diff) string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "%s x%d\n", k, m[k])
	}
	return b.String()
}

// diffCanon prints the rows whose multiplicities differ.
func diffCanon(want, got map[string]repr.Diff) string {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		if want[k] != got[k] {
			ks = append(ks, k)
		}
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		fmt.Fprintf(&b, "%s want x%d got x%d\n", k, want[k], got[k])
	}
	return b.String()
}
