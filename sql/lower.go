package sql

import (
	"sort"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// lowerer decorrelates and lowers HIR to MIR.
//
// Every HIR relation is lowered against an outer relation: the distinct
// rows of the columns visible from enclosing scopes. The MIR produced has
// those outer columns first, then the relation's own. colMap says where
// the columns of each enclosing level sit in that outer prefix. At the top
// the outer relation is the unit relation (one empty row) and lowering
// produces the plain relation.
type lowerer struct {
	q      *qctx
	params []repr.Datum
}

// colMap maps the columns of enclosing levels to positions in the outer
// prefix: levels[k-1][i] is the position of column i of level k, -1 when
// that column is not available (not referenced, so not carried).
type colMap struct {
	levels [][]int
}

// enterFull returns the map for an expression evaluated over rows whose
// level-1 columns are all present at positions off..off+width-1.
func (m colMap) enterFull(off, width int) colMap {
	return colMap{levels: append([][]int{rangeFrom(off, width)}, m.levels...)}
}

// position returns where column idx of enclosing level L (1 = the
// context's own columns, at oa+idx) sits in the context's rows.
func (m colMap) position(oa, level, idx int) (int, error) {
	if level == 1 {
		return oa + idx, nil
	}
	if level-2 >= len(m.levels) || idx >= len(m.levels[level-2]) || m.levels[level-2][idx] < 0 {
		return 0, pgcode.New(pgcode.InternalError, "sql: outer column %d of level %d is not available", idx, level)
	}
	return m.levels[level-2][idx], nil
}

// freeRefs lists the references of r to enclosing scopes as (level,
// index) pairs, level 1 being the scope r is evaluated in.
func freeRefs(r HRel) [][2]int {
	var out [][2]int
	rewriteHRelScalars(r, 1, func(s HScalar, depth int) HScalar {
		if c, ok := s.(HColumn); ok && c.Level >= depth {
			out = append(out, [2]int{c.Level - depth + 1, c.Index})
		}
		return s
	})
	return out
}

// outerKeys finds the columns of the context (outer prefix oa, then the
// level-1 columns) that r references, as sorted positions, and the colMap
// under which r is lowered against the distinct values of those columns.
func outerKeys(r HRel, oa int, cm colMap) ([]int, colMap, error) {
	refs := freeRefs(r)
	seen := map[int]bool{}
	var keys []int
	for _, ref := range refs {
		p, err := cm.position(oa, ref[0], ref[1])
		if err != nil {
			return nil, colMap{}, err
		}
		if !seen[p] {
			seen[p] = true
			keys = append(keys, p)
		}
	}
	sort.Ints(keys)
	index := map[int]int{}
	for k, p := range keys {
		index[p] = k
	}
	var sub colMap
	for _, ref := range refs {
		level, idx := ref[0], ref[1]
		for len(sub.levels) < level {
			sub.levels = append(sub.levels, nil)
		}
		lv := sub.levels[level-1]
		for len(lv) <= idx {
			lv = append(lv, -1)
		}
		p, _ := cm.position(oa, level, idx)
		lv[idx] = index[p]
		sub.levels[level-1] = lv
	}
	return keys, sub, nil
}

// keyedOuter is the outer relation for a subquery reading the context's
// columns keys: their distinct values, or the unit relation when the
// subquery is not correlated.
func keyedOuter(get plan.Rel, keys []int) outerRel {
	if len(keys) == 0 {
		return unitOuter()
	}
	return outerRel{rel: distinct(plan.Project{Input: get, Outputs: keys}), arity: len(keys)}
}

// outerRel is the relation a HIR relation is lowered against.
type outerRel struct {
	rel   plan.Rel
	arity int
	unit  bool // the unit relation: products with it are the identity
}

func unitOuter() outerRel {
	return outerRel{rel: plan.Constant{Rows: []plan.ConstRow{{Row: repr.PackRow(), Diff: 1}}}, unit: true}
}

func (l *lowerer) newLocal() plan.LocalID {
	l.q.nextLocal++
	return l.q.nextLocal
}

// lowerTop lowers a query at the top of a statement.
func (l *lowerer) lowerTop(r HRel) (plan.Rel, error) {
	return l.lower(r, unitOuter(), colMap{})
}

// product returns outer × r (r has no outer columns).
func product(o outerRel, r plan.Rel) plan.Rel {
	if o.unit {
		return r
	}
	return plan.Join{Inputs: []plan.Rel{o.rel, r}}
}

func (l *lowerer) lower(r HRel, o outerRel, cm colMap) (plan.Rel, error) {
	if !o.unit && len(freeRefs(r)) == 0 {
		// An uncorrelated part of a correlated subquery is computed
		// once, not once per outer row: outer × r. The correlated
		// operator above it then reads the product, whose equalities
		// with outer columns the optimiser turns into join keys (the
		// "dependent join" pushed down only as far as the correlation
		// goes, as in Neumann and Kemper's unnesting). Lowering r
		// against the outer relation instead would carry the outer
		// columns through every operator of r, grouping and joining
		// per outer row: state |outer| times r's.
		in, err := l.lower(r, unitOuter(), colMap{})
		if err != nil {
			return nil, err
		}
		return product(o, in), nil
	}
	oa := o.arity
	switch x := r.(type) {
	case HGet:
		t := plan.RelType{Cols: x.Typ, Keys: x.Keys}
		if x.Local != 0 {
			return product(o, plan.Get{Local: x.Local, Name: x.Name, Type: t}), nil
		}
		return product(o, plan.Get{Global: x.ID, Name: x.Name, Type: t}), nil
	case HConstant:
		c := plan.Constant{Type: plan.RelType{Cols: x.Typ}}
		for _, row := range x.Rows {
			c.Rows = append(c.Rows, plan.ConstRow{Row: repr.PackRow(row...), Diff: 1})
		}
		return product(o, c), nil
	case HMap:
		in, err := l.lower(x.Input, o, cm)
		if err != nil {
			return nil, err
		}
		if !hasSubquery(x.Scalars) {
			es, err := l.lowerPlainScalars(x.Scalars, oa, cm)
			if err != nil {
				return nil, err
			}
			return plan.Map{Input: in, Scalars: es}, nil
		}
		// Each scalar may read the ones before it, so with subqueries
		// lower one at a time.
		for _, s := range x.Scalars {
			arity := plan.Arity(in)
			rel, es, err := l.lowerScalars(in, oa, cm, []HScalar{s})
			if err != nil {
				return nil, err
			}
			in = plan.Map{Input: rel, Scalars: es}
			if n := plan.Arity(rel); n != arity {
				in = plan.Project{Input: in, Outputs: append(rangeFrom(0, arity), n)}
			}
		}
		return in, nil
	case HFilter:
		in, err := l.lower(x.Input, o, cm)
		if err != nil {
			return nil, err
		}
		// Conjuncts without subqueries filter first, so that subqueries
		// are decorrelated over the rows that pass them (the join of the
		// FROM list, not its cross product) and the optimiser can turn
		// their equalities into join keys. PostgreSQL likewise evaluates
		// the cheap quals before subplans. Conjuncts EXISTS (...) and
		// NOT EXISTS (...) then filter by a semijoin or antijoin
		// directly; the remaining conjuncts (other subqueries) last.
		var plain, rest []HScalar
		var exists []HScalar
		for _, p := range splitAnd(x.Preds) {
			switch sub, _ := existsConjunct(p); {
			case sub != nil:
				exists = append(exists, p)
			case hasSubquery([]HScalar{p}):
				rest = append(rest, p)
			default:
				plain = append(plain, p)
			}
		}
		if len(plain) > 0 {
			es, err := l.lowerPlainScalars(plain, oa, cm)
			if err != nil {
				return nil, err
			}
			in = plan.Filter{Input: in, Predicates: es}
		}
		for _, p := range exists {
			sub, negated := existsConjunct(p)
			if in, err = l.filterExists(in, oa, cm, sub, negated); err != nil {
				return nil, err
			}
		}
		if len(rest) == 0 {
			return in, nil
		}
		arity := plan.Arity(in)
		rel, es, err := l.lowerScalars(in, oa, cm, rest)
		if err != nil {
			return nil, err
		}
		var out plan.Rel = plan.Filter{Input: rel, Predicates: es}
		if plan.Arity(rel) != arity {
			out = plan.Project{Input: out, Outputs: rangeFrom(0, arity)}
		}
		return out, nil
	case HProject:
		in, err := l.lower(x.Input, o, cm)
		if err != nil {
			return nil, err
		}
		outs := rangeFrom(0, oa)
		for _, c := range x.Outputs {
			outs = append(outs, oa+c)
		}
		return plan.Project{Input: in, Outputs: outs}, nil
	case HCallTable:
		args, err := l.lowerPlainScalars(x.Args, oa, cm)
		if err != nil {
			return nil, err
		}
		return plan.FlatMap{Input: o.rel, Func: x.Func, Args: args}, nil
	case HJoin:
		return l.lowerJoin(x, o, cm)
	case HReduce:
		return l.lowerReduce(x, o, cm)
	case HDistinct:
		in, err := l.lower(x.Input, o, cm)
		if err != nil {
			return nil, err
		}
		return groupByValue(in, colScalars(plan.Arity(in)), nil), nil
	case HTopK:
		in, err := l.lower(x.Input, o, cm)
		if err != nil {
			return nil, err
		}
		group := rangeFrom(0, oa)
		for _, g := range x.GroupKey {
			group = append(group, oa+g)
		}
		order := make([]plan.ColumnOrder, len(x.Order))
		for i, c := range x.Order {
			order[i] = plan.ColumnOrder{Column: oa + c.Column, Order: c.Order}
		}
		return plan.TopK{Input: in, GroupKey: group, Order: order, Limit: x.Limit, Offset: x.Offset}, nil
	case HNegate:
		in, err := l.lower(x.Input, o, cm)
		if err != nil {
			return nil, err
		}
		return plan.Negate{Input: in}, nil
	case HThreshold:
		in, err := l.lower(x.Input, o, cm)
		if err != nil {
			return nil, err
		}
		return plan.Threshold{Input: in}, nil
	case HUnion:
		var ins []plan.Rel
		for _, h := range x.Inputs {
			in, err := l.lower(h, o, cm)
			if err != nil {
				return nil, err
			}
			ins = append(ins, in)
		}
		return plan.Union{Inputs: ins}, nil
	case HLetRec:
		if !o.unit {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "WITH RECURSIVE in a correlated subquery is not supported")
		}
		lr := plan.LetRec{IDs: x.IDs, Names: x.Names}
		for i, v := range x.Values {
			mv, err := l.lower(v, o, cm)
			if err != nil {
				return nil, err
			}
			lr.Values = append(lr.Values, mv)
			lr.Types = append(lr.Types, plan.RelType{Cols: x.Types[i]})
		}
		body, err := l.lower(x.Body, o, cm)
		if err != nil {
			return nil, err
		}
		lr.Body = body
		return lr, nil
	case HWindow:
		in, err := l.lower(x.Input, o, cm)
		if err != nil {
			return nil, err
		}
		arity := plan.Arity(in)
		w := plan.Window{PartitionBy: rangeFrom(0, oa)}
		for _, p := range x.PartitionBy {
			w.PartitionBy = append(w.PartitionBy, oa+p)
		}
		for _, c := range x.OrderBy {
			w.OrderBy = append(w.OrderBy, plan.ColumnOrder{Column: oa + c.Column, Order: c.Order})
		}
		for _, f := range x.Funcs {
			hs := append([]HScalar(nil), f.Args...)
			if f.Agg != nil {
				hs = append(hs, aggInputs(*f.Agg)...)
			}
			if hasSubquery(hs) {
				// Subqueries in the arguments are decorrelated over
				// the input first and their values appended as columns
				// (projected away after the window), as for aggregates.
				wf, rel, err := l.windowFuncOverSubqueries(f, in, oa, cm)
				if err != nil {
					return nil, err
				}
				in = rel
				w.Funcs = append(w.Funcs, wf)
				continue
			}
			args, err := l.lowerPlainScalars(f.Args, oa, cm)
			if err != nil {
				return nil, err
			}
			wf := plan.WindowFunc{Name: f.Name, Args: args, Frame: f.Frame, Typ: f.Typ}
			if f.Agg != nil {
				a, err := l.lowerAgg(*f.Agg, oa, cm)
				if err != nil {
					return nil, err
				}
				wf.Aggregate = &a
				if f.Agg.Func != expr.AggCountStar {
					wf.Args = []expr.Scalar{a.Expr}
				}
			}
			w.Funcs = append(w.Funcs, wf)
		}
		w.Input = in
		if n := plan.Arity(in); n != arity {
			return plan.Project{Input: w, Outputs: append(rangeFrom(0, arity), rangeFrom(n, len(w.Funcs))...)}, nil
		}
		return w, nil
	}
	return nil, pgcode.New(pgcode.InternalError, "sql: cannot lower %T", r)
}

// windowFuncOverSubqueries lowers window function f whose arguments (or
// its aggregate's arguments, filter or order keys) hold subqueries: their
// values become columns appended to in, which it returns with the
// function reading them.
func (l *lowerer) windowFuncOverSubqueries(f HWindowFunc, in plan.Rel, oa int, cm colMap) (plan.WindowFunc, plan.Rel, error) {
	// The arguments with subqueries (lag's offset and default stay
	// constants for the renderer when they are), then the aggregate's.
	var hs []HScalar
	for _, a := range f.Args {
		if hasSubquery([]HScalar{a}) {
			hs = append(hs, a)
		}
	}
	if f.Agg != nil {
		hs = append(hs, aggInputs(*f.Agg)...)
	}
	rel, col, err := l.subqueryColumns(in, oa, cm, hs)
	if err != nil {
		return plan.WindowFunc{}, nil, err
	}
	wf := plan.WindowFunc{Name: f.Name, Frame: f.Frame, Typ: f.Typ}
	for _, a := range f.Args {
		if hasSubquery([]HScalar{a}) {
			c, _ := col(nil)
			wf.Args = append(wf.Args, c)
			continue
		}
		e, err := l.lowerPlainScalars([]HScalar{a}, oa, cm)
		if err != nil {
			return plan.WindowFunc{}, nil, err
		}
		wf.Args = append(wf.Args, e[0])
	}
	if f.Agg != nil {
		a, err := buildAgg(*f.Agg, col)
		if err != nil {
			return plan.WindowFunc{}, nil, err
		}
		wf.Aggregate = &a
		if f.Agg.Func != expr.AggCountStar {
			wf.Args = []expr.Scalar{a.Expr}
		}
	}
	return wf, rel, nil
}

// aggInputs returns an aggregate's scalars in the order buildAgg lowers
// them: arguments, filter, order keys.
func aggInputs(a HAgg) []HScalar {
	hs := append([]HScalar(nil), a.Args...)
	if a.Filter != nil {
		hs = append(hs, a.Filter)
	}
	for _, k := range a.OrderBy {
		hs = append(hs, k.Expr)
	}
	return hs
}

// subqueryColumns computes hs, which hold subqueries, over in: it
// returns in with their values appended as columns (subqueries
// decorrelated over in's rows), and a function that gives, call by call,
// the column of each of hs in order.
func (l *lowerer) subqueryColumns(in plan.Rel, oa int, cm colMap, hs []HScalar) (plan.Rel, func(HScalar) (expr.Scalar, error), error) {
	rel, es, err := l.lowerScalars(in, oa, cm, hs)
	if err != nil {
		return nil, nil, err
	}
	base := plan.Arity(rel)
	next := 0
	col := func(HScalar) (expr.Scalar, error) {
		c := expr.Column{Index: base + next}
		next++
		return c, nil
	}
	return plan.Map{Input: rel, Scalars: es}, col, nil
}

// distinct is DISTINCT over all columns.
// groupByValue is Reduce{in, group, aggs} grouping equal values
// together where equal values may pack differently: an interval key
// groups by its span (interval_span), and the group shows one of its
// intervals (min, of equal values any one) where the key was. Other keys
// group by their packed bytes, which equal values share.
func groupByValue(in plan.Rel, group []expr.Scalar, aggs []expr.Aggregate) plan.Rel {
	cols := in.Typ().Cols
	keys := append([]expr.Scalar(nil), group...)
	var reps []expr.Aggregate
	repOf := map[int]int{}
	for i, g := range group {
		t := g.Type(cols)
		if t.Type.Kind != repr.KindInterval {
			continue
		}
		keys[i] = expr.Call{Func: intervalSpan, Args: []expr.Scalar{g}}
		repOf[i] = len(reps)
		reps = append(reps, expr.Aggregate{Func: expr.AggMin, Expr: g, Typ: t})
	}
	if len(reps) == 0 {
		return plan.Reduce{Input: in, GroupKey: group, Aggregates: aggs}
	}
	red := plan.Reduce{Input: in, GroupKey: keys, Aggregates: append(append([]expr.Aggregate(nil), aggs...), reps...)}
	outputs := make([]int, 0, len(group)+len(aggs))
	for i := range group {
		if r, ok := repOf[i]; ok {
			outputs = append(outputs, len(group)+len(aggs)+r)
		} else {
			outputs = append(outputs, i)
		}
	}
	for j := range aggs {
		outputs = append(outputs, len(group)+j)
	}
	return plan.Project{Input: red, Outputs: outputs}
}

func distinct(r plan.Rel) plan.Rel {
	n := plan.Arity(r)
	keys := make([]expr.Scalar, n)
	for i := range keys {
		keys[i] = expr.Column{Index: i}
	}
	return plan.Reduce{Input: r, GroupKey: keys}
}

// let binds value and returns a Get of it with the binding wrapper.
func (l *lowerer) let(name string, value plan.Rel) (plan.Get, func(body plan.Rel) plan.Rel) {
	id := l.newLocal()
	g := plan.Get{Local: id, Name: name, Type: value.Typ()}
	return g, func(body plan.Rel) plan.Rel { return plan.Let{ID: id, Name: name, Value: value, Body: body} }
}

// nullSafeJoin joins a and b where a's columns ac equal b's columns bc,
// NULL equal to NULL (two keys per nullable column: whether it is NULL, and
// its value with NULL replaced by a fixed value). Output: a's columns then
// b's.
func nullSafeJoin(a, b plan.Rel, ac, bc []int) plan.Rel {
	at, bt := a.Typ(), b.Typ()
	na := at.Arity()
	var eqs [][]expr.Scalar
	for i := range ac {
		x, y := expr.Scalar(expr.Column{Index: ac[i]}), expr.Scalar(expr.Column{Index: na + bc[i]})
		tx, ty := at.Cols[ac[i]], bt.Cols[bc[i]]
		if !tx.Nullable && !ty.Nullable {
			eqs = append(eqs, []expr.Scalar{x, y})
			continue
		}
		eqs = append(eqs, []expr.Scalar{expr.IsNull(x), expr.IsNull(y)})
		d := placeholderDatum(tx.Type)
		eqs = append(eqs, []expr.Scalar{
			expr.NewCoalesce(tx.Type, x, expr.NewLiteral(d, tx.Type)),
			expr.NewCoalesce(ty.Type, y, expr.NewLiteral(d, ty.Type)),
		})
	}
	return plan.Join{Inputs: []plan.Rel{a, b}, Equivalences: eqs}
}

// placeholderDatum is a non-NULL value of t that stands in for NULL in a
// NULL-safe join key (paired with an IS NULL key, so it never conflates a
// NULL with a real value).
func placeholderDatum(t repr.ScalarType) repr.Datum {
	switch t.Kind {
	case repr.KindBool:
		return repr.False
	case repr.KindInt2, repr.KindInt4, repr.KindInt8, repr.KindOid:
		return repr.IntDatum(t.Kind, 0)
	case repr.KindFloat4:
		return repr.Float4Datum(0)
	case repr.KindFloat8:
		return repr.Float8Datum(0)
	case repr.KindText, repr.KindVarchar, repr.KindChar:
		return repr.StringDatum(t.Kind, "")
	case repr.KindBytea:
		return repr.ByteaDatum(nil)
	case repr.KindDate:
		return repr.DateDatum(0)
	case repr.KindTime:
		return repr.TimeDatum(0)
	case repr.KindTimestamp:
		return repr.TimestampDatum(0)
	case repr.KindTimestampTz:
		return repr.TimestampTzDatum(0)
	case repr.KindInterval:
		return repr.IntervalDatum(repr.Interval{})
	case repr.KindUUID:
		return repr.UUIDDatum([16]byte{})
	case repr.KindJsonb:
		return repr.JsonbDatum("null")
	case repr.KindArray:
		return repr.ArrayDatum(nil)
	case repr.KindRecord:
		return repr.RecordDatum(nil)
	}
	if d, err := repr.ParseText("0", t); err == nil {
		return d
	}
	return repr.TextDatum("")
}

// semijoin keeps the rows of a (with their multiplicities) whose columns
// ac match a row of keys (distinct rows of len(ac) columns).
func semijoin(a, keys plan.Rel, ac []int) plan.Rel {
	na := plan.Arity(a)
	j := nullSafeJoin(a, keys, ac, rangeFrom(0, len(ac)))
	return plan.Project{Input: j, Outputs: rangeFrom(0, na)}
}

// antijoin keeps the rows of a whose columns ac match no row of keys:
// a - semijoin(a, keys), which preserves multiplicities.
func antijoin(a, keys plan.Rel, ac []int) plan.Rel {
	return plan.Union{Inputs: []plan.Rel{a, plan.Negate{Input: semijoin(a, keys, ac)}}}
}

// equiJoinColumns reports whether the predicates es over a join's
// product (outer prefix oa, left la columns, then the right's, typed
// cols) are equalities of a left column with a right column of one type
// whose equality is datum equality, and predicates that read no left
// column; it returns the equalities' left columns (in the product) and
// right columns, and the other predicates, over the right relation's
// columns (its outer prefix, then its own). left is nil when es has
// another kind of predicate or no equality.
func equiJoinColumns(es []expr.Scalar, cols []repr.ColumnType, oa, la int) (left, right []int, rightOnly []expr.Scalar) {
	for _, e := range es {
		for _, c := range expr.Conjuncts(e) {
			if readsNoLeft(c, oa, la) {
				rightOnly = append(rightOnly, expr.Rewrite(c, func(s expr.Scalar) expr.Scalar {
					if col, ok := s.(expr.Column); ok && col.Index >= oa+la {
						col.Index -= la
						return col
					}
					return s
				}))
				continue
			}
			call, ok := c.(expr.Call)
			if !ok || call.Func == nil || call.Func.Name != "=" || len(call.Args) != 2 {
				return nil, nil, nil
			}
			a, aok := call.Args[0].(expr.Column)
			b, bok := call.Args[1].(expr.Column)
			if !aok || !bok {
				return nil, nil, nil
			}
			if a.Index > b.Index {
				a, b = b, a
			}
			if a.Index < oa || a.Index >= oa+la || b.Index < oa+la || b.Index >= len(cols) {
				return nil, nil, nil
			}
			ta, tb := cols[a.Index].Type, cols[b.Index].Type
			if ta.Kind != tb.Kind || !bytewiseEquality(ta.Kind) {
				return nil, nil, nil
			}
			left, right = append(left, a.Index), append(right, b.Index-la)
		}
	}
	if left == nil {
		return nil, nil, nil
	}
	return left, right, rightOnly
}

// readsNoLeft reports whether e reads none of the left side's columns
// (oa to oa+la) of a join's product.
func readsNoLeft(e expr.Scalar, oa, la int) bool {
	for _, c := range expr.Columns(e) {
		if c >= oa && c < oa+la {
			return false
		}
	}
	return true
}

// bytewiseEquality reports whether = on values of kind k holds exactly
// when their encodings are equal (not so for floats, -0 = 0, or numerics
// and intervals, whose equal values can be written differently).
func bytewiseEquality(k repr.Kind) bool {
	switch k {
	case repr.KindBool, repr.KindInt2, repr.KindInt4, repr.KindInt8, repr.KindOid, repr.KindText, repr.KindVarchar,
		repr.KindDate, repr.KindTimestamp, repr.KindTimestampTz, repr.KindUUID:
		return true
	}
	return false
}

// rowIdentity returns columns of t (the first n) that tell its rows apart
// for an antijoin: the outer prefix (the first oa) and a key of t's
// whose columns are never NULL, when t has one within the first n
// columns (a catalog relation's OID, a table's primary key), else all n.
// Comparing a key instead of whole rows keeps the outer join's plan
// small.
func rowIdentity(t plan.RelType, oa, n int) []int {
	best := []int(nil)
	for _, k := range t.Keys {
		ok := len(k) < n-oa
		for _, c := range k {
			if c >= n || t.Cols[c].Nullable {
				ok = false
			}
		}
		if ok && (best == nil || len(k) < len(best)) {
			best = k
		}
	}
	if best == nil {
		return rangeFrom(0, n)
	}
	cols := rangeFrom(0, oa)
	for _, c := range best {
		if c >= oa {
			cols = append(cols, c)
		}
	}
	return cols
}

// nullsFor returns NULL literals of the given types.
func nullsFor(cols []repr.ColumnType) []expr.Scalar {
	out := make([]expr.Scalar, len(cols))
	for i, c := range cols {
		out[i] = expr.NullLiteral(c.Type)
	}
	return out
}

func (l *lowerer) lowerJoin(j HJoin, o outerRel, cm colMap) (plan.Rel, error) {
	oa := o.arity
	left, err := l.lower(j.Left, o, cm)
	if err != nil {
		return nil, err
	}
	la := plan.Arity(left) - oa
	lget, bindL := l.let("left", left)
	var prod plan.Rel
	var right plan.Rel
	var bindR func(plan.Rel) plan.Rel
	ra := len(j.Right.Cols())
	switch {
	case j.Lateral:
		if ct, ok := j.Right.(HCallTable); ok {
			// A table function is evaluated per row: a FlatMap over the
			// left side is the lateral join.
			args, err := l.lowerPlainScalars(ct.Args, oa+la, cm.enterFull(oa, la))
			if err != nil {
				return nil, err
			}
			prod = plan.FlatMap{Input: lget, Func: ct.Func, Args: args}
		} else {
			// Lower the right side against the distinct values of the
			// left columns it reads, then join back to the left rows.
			keys, subCm, err := outerKeys(j.Right, oa, cm)
			if err != nil {
				return nil, err
			}
			r, err := l.lower(j.Right, keyedOuter(lget, keys), subCm)
			if err != nil {
				return nil, err
			}
			n, k := oa+la, len(keys)
			joined := nullSafeJoin(lget, r, keys, rangeFrom(0, k))
			prod = plan.Project{Input: joined, Outputs: append(rangeFrom(0, n), rangeFrom(n+k, ra)...)}
		}
	default:
		right, err = l.lower(j.Right, o, cm)
		if err != nil {
			return nil, err
		}
		if j.Kind != JoinInner {
			// Read again for the rows without a match.
			rget, br := l.let("right", right)
			right, bindR = rget, br
		}
		if o.unit {
			prod = plan.Join{Inputs: []plan.Rel{lget, right}}
		} else {
			joined := nullSafeJoin(lget, right, rangeFrom(0, oa), rangeFrom(0, oa))
			prod = plan.Project{Input: joined, Outputs: append(rangeFrom(0, oa+la), rangeFrom(2*oa+la, ra)...)}
		}
	}
	// The ON condition.
	inner := prod
	var equiL, equiR []int      // ON's equalities of left and right columns
	var rightOnly []expr.Scalar // and its predicates over the right side
	if c, ok := j.On.(HLiteral); !ok || c.Value.IsNull() || !c.Value.Bool() {
		arity := plan.Arity(prod)
		rel, es, err := l.lowerScalars(prod, oa, cm, []HScalar{j.On})
		if err != nil {
			return nil, err
		}
		inner = plan.Filter{Input: rel, Predicates: es}
		if plan.Arity(rel) != arity {
			inner = plan.Project{Input: inner, Outputs: rangeFrom(0, arity)}
		} else if right != nil {
			equiL, equiR, rightOnly = equiJoinColumns(es, prod.Typ().Cols, oa, la)
		}
	}
	if j.Kind == JoinInner {
		return bindL(inner), nil
	}
	iget, bindI := l.let("inner", inner)
	rcols := j.Right.Cols()
	lcols := j.Left.Cols()
	parts := []plan.Rel{iget}
	if j.Kind == JoinLeft || j.Kind == JoinFull {
		// Left rows without a match, padded with NULLs.
		var anti plan.Rel
		if equiL != nil {
			// ON is a conjunction of left = right columns: a left row
			// has a match exactly when its values are among the
			// right's non-NULL ones.
			lc, rc := append(rangeFrom(0, oa), equiL...), append(rangeFrom(0, oa), equiR...)
			nonNull := rightOnly
			for _, c := range equiR {
				nonNull = append(nonNull, expr.Not(expr.IsNull(expr.Column{Index: c})))
			}
			keys := distinct(plan.Project{Input: plan.Filter{Input: right, Predicates: nonNull}, Outputs: rc})
			anti = antijoin(lget, keys, lc)
		} else {
			lc := rowIdentity(lget.Typ(), oa, oa+la)
			matched := distinct(plan.Project{Input: iget, Outputs: lc})
			anti = antijoin(lget, matched, lc)
		}
		parts = append(parts, plan.Map{Input: anti, Scalars: nullsFor(rcols)})
	}
	if j.Kind == JoinRight || j.Kind == JoinFull {
		rget := right
		// Right rows (with the outer prefix) without a match.
		rkeys := append(rangeFrom(0, oa), rangeFrom(oa+la, ra)...)
		matched := distinct(plan.Project{Input: iget, Outputs: rkeys})
		anti := antijoin(rget, matched, rangeFrom(0, oa+ra))
		padded := plan.Map{Input: anti, Scalars: nullsFor(lcols)}
		// padded: outer, right, left-nulls -> outer, left-nulls, right.
		outs := append(rangeFrom(0, oa), rangeFrom(oa+ra, la)...)
		outs = append(outs, rangeFrom(oa, ra)...)
		parts = append(parts, plan.Project{Input: padded, Outputs: outs})
	}
	var out plan.Rel = bindI(plan.Union{Inputs: parts})
	if bindR != nil {
		out = bindR(out)
	}
	return bindL(out), nil
}

// lowerReduce lowers GROUP BY and aggregates. A global aggregate (no
// group key) yields one row per outer row even over no input: the rows
// for outer rows that produced none are added with each aggregate's value
// over the empty set (count 0, others NULL).
func (l *lowerer) lowerReduce(x HReduce, o outerRel, cm colMap) (plan.Rel, error) {
	oa := o.arity
	in, err := l.lower(x.Input, o, cm)
	if err != nil {
		return nil, err
	}
	var group []expr.Scalar
	for i := 0; i < oa; i++ {
		group = append(group, expr.Column{Index: i})
	}
	for _, k := range x.GroupKey {
		group = append(group, expr.Column{Index: oa + k})
	}
	// Aggregate arguments may hold subqueries: those are decorrelated
	// over the input first and their values appended as columns.
	var aggs []expr.Aggregate
	for _, a := range x.Aggs {
		hs := aggInputs(a)
		if !hasSubquery(hs) {
			ma, err := l.lowerAgg(a, oa, cm)
			if err != nil {
				return nil, err
			}
			aggs = append(aggs, ma)
			continue
		}
		rel, col, err := l.subqueryColumns(in, oa, cm, hs)
		if err != nil {
			return nil, err
		}
		in = rel
		ma, err := buildAgg(a, col)
		if err != nil {
			return nil, err
		}
		aggs = append(aggs, ma)
	}
	if len(x.GroupKey) > 0 {
		return groupByValue(in, group, aggs), nil
	}
	red := plan.Reduce{Input: in, GroupKey: group, Aggregates: aggs}
	rget, bind := l.let("reduce", red)
	present := plan.Project{Input: rget, Outputs: rangeFrom(0, oa)}
	missing := plan.Union{Inputs: []plan.Rel{o.rel, plan.Negate{Input: present}}}
	var defaults []expr.Scalar
	for _, a := range aggs {
		switch a.Func {
		case expr.AggCount, expr.AggCountStar:
			defaults = append(defaults, expr.NewLiteral(repr.Int8Datum(0), repr.TypeInt8))
		default:
			defaults = append(defaults, expr.NullLiteral(a.Typ.Type))
		}
	}
	return bind(plan.Union{Inputs: []plan.Rel{rget, plan.Map{Input: missing, Scalars: defaults}}}), nil
}

// lowerAgg lowers one aggregate over the columns of its input (outer
// prefix oa).
func (l *lowerer) lowerAgg(a HAgg, oa int, cm colMap) (expr.Aggregate, error) {
	return buildAgg(a, func(h HScalar) (expr.Scalar, error) { return l.lowerPlainScalar(h, oa, cm) })
}

// buildAgg lowers an aggregate, its scalars lowered by lowerS in
// aggInputs' order: arguments, filter, order keys. FILTER (WHERE p)
// becomes the aggregate's own Filter: the rows where p is not true are
// not fed to it (feeding NULL instead would be wrong for array_agg and
// jsonb_agg, which keep NULLs).
func buildAgg(a HAgg, lowerS func(HScalar) (expr.Scalar, error)) (expr.Aggregate, error) {
	out := expr.Aggregate{Func: a.Func, Distinct: a.Distinct, Typ: a.Typ}
	args := make([]expr.Scalar, len(a.Args))
	types := make([]repr.ScalarType, len(a.Args))
	for i, h := range a.Args {
		e, err := lowerS(h)
		if err != nil {
			return out, err
		}
		args[i], types[i] = e, h.Typ().Type
	}
	switch {
	case a.Func == expr.AggCountStar:
		out.Expr = expr.NewLiteral(repr.True, repr.TypeBool)
	case len(args) == 1:
		out.Expr = args[0]
	default:
		rec, err := recordOf(args, types)
		if err != nil {
			return out, err
		}
		out.Expr = rec
	}
	if a.Filter != nil {
		f, err := lowerS(a.Filter)
		if err != nil {
			return out, err
		}
		out.Filter = f
	}
	for _, k := range a.OrderBy {
		e, err := lowerS(k.Expr)
		if err != nil {
			return out, err
		}
		out.OrderBy = append(out.OrderBy, expr.OrderKey{Expr: e, Order: k.Order})
	}
	return out, nil
}

// recordOf packs several values into one record (two-argument
// aggregates).
func recordOf(args []expr.Scalar, types []repr.ScalarType) (expr.Scalar, error) {
	if overloads := expr.LookupFunc("row"); len(overloads) > 0 {
		res, err := expr.Resolve("row", overloads, types)
		if err != nil {
			return nil, err
		}
		return expr.Call{Func: res.Func, Args: args}, nil
	}
	return expr.Call{Func: recordCreate, Args: args}, nil
}

// recordCreate packs its arguments into a record datum; used for the
// (value, delimiter) and (key, value) records of two-argument aggregates
// when expr's catalog has no "row" function.
var recordCreate = &expr.Func{
	Name: "record_create",
	Ret:  repr.TypeRecord,
	Eval: func(_ *expr.EvalCtx, args []repr.Datum) (repr.Datum, error) {
		return repr.RecordDatum(append([]repr.Datum(nil), args...)), nil
	},
}

func hasSubquery(es []HScalar) bool {
	found := false
	for _, e := range es {
		rewriteHScalar(e, 0, func(s HScalar, _ int) HScalar {
			switch s.(type) {
			case HExists, HSelect:
				found = true
			}
			return s
		})
	}
	return found
}

// lowerPlainScalars lowers scalars that contain no subqueries.
func (l *lowerer) lowerPlainScalars(es []HScalar, oa int, cm colMap) ([]expr.Scalar, error) {
	out := make([]expr.Scalar, len(es))
	for i, e := range es {
		s, err := l.lowerPlainScalar(e, oa, cm)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

func (l *lowerer) lowerPlainScalar(e HScalar, oa int, cm colMap) (expr.Scalar, error) {
	return l.scalar(e, oa, cm, nil)
}

// scalar lowers e; subs maps subquery placeholders to columns.
func (l *lowerer) scalar(e HScalar, oa int, cm colMap, subs map[int]int) (expr.Scalar, error) {
	switch x := e.(type) {
	case HColumn:
		if x.Level == 0 {
			return expr.Column{Index: oa + x.Index}, nil
		}
		lv := x.Level - 1
		if lv >= len(cm.levels) || x.Index >= len(cm.levels[lv]) || cm.levels[lv][x.Index] < 0 {
			return nil, pgcode.New(pgcode.InternalError, "sql: column reference %d of level %d out of scope", x.Index, x.Level)
		}
		return expr.Column{Index: cm.levels[lv][x.Index]}, nil
	case HLiteral:
		t := x.Type.Type
		if t.Kind == repr.KindNull {
			// An unknown literal that no context typed is text.
			t = repr.TypeText
		}
		return expr.Literal{Value: x.Value, Typ: repr.ColumnType{Type: t, Nullable: x.Value.IsNull()}}, nil
	case HCall:
		args := make([]expr.Scalar, len(x.Args))
		for i, a := range x.Args {
			s, err := l.scalar(a, oa, cm, subs)
			if err != nil {
				return nil, err
			}
			args[i] = s
		}
		return expr.Call{Func: x.Func, Args: args}, nil
	case HIf:
		c, err := l.scalar(x.Cond, oa, cm, subs)
		if err != nil {
			return nil, err
		}
		t, err := l.scalar(x.Then, oa, cm, subs)
		if err != nil {
			return nil, err
		}
		f, err := l.scalar(x.Else, oa, cm, subs)
		if err != nil {
			return nil, err
		}
		return expr.If{Cond: c, Then: t, Else: f}, nil
	case HMzNow:
		return expr.MzNow{}, nil
	case HParam:
		if l.params == nil {
			// Describing: the value is not known; the plan only serves
			// to type the statement and must be planned again with values.
			return expr.NullLiteral(x.Type.Type), nil
		}
		if x.N > len(l.params) {
			return nil, pgcode.New(pgcode.UndefinedParameter, "there is no parameter $%d", x.N)
		}
		d := l.params[x.N-1]
		return expr.Literal{Value: d, Typ: repr.ColumnType{Type: x.Type.Type, Nullable: d.IsNull()}}, nil
	case HError:
		return expr.ErrorLiteral(x.Err, x.Type.Type), nil
	case hSubRef:
		return expr.Column{Index: subs[x.K]}, nil
	case HExists, HSelect:
		return nil, pgcode.New(pgcode.InternalError, "sql: subquery not extracted before lowering")
	}
	return nil, pgcode.New(pgcode.InternalError, "sql: cannot lower scalar %T", e)
}

// hSubRef stands for the value of the K-th subquery extracted from an
// expression.
type hSubRef struct {
	K    int
	Type repr.ColumnType
}

func (hSubRef) hscalar()               {}
func (e hSubRef) Typ() repr.ColumnType { return e.Type }

// lowerScalars lowers es over rel (outer prefix oa, then the level-0
// columns). Subqueries are decorrelated: each appends one column to rel,
// computed by lowering the subquery against the distinct rows of rel and
// joining the result back. The returned relation has rel's columns
// followed by one column per subquery.
func (l *lowerer) lowerScalars(rel plan.Rel, oa int, cm colMap, es []HScalar) (plan.Rel, []expr.Scalar, error) {
	var subqs []guardedSubquery
	replaced := make([]HScalar, len(es))
	for i, e := range es {
		replaced[i] = extractSubqueries(e, nil, &subqs)
	}
	subs := map[int]int{}
	for k, s := range subqs {
		var guard expr.Scalar
		if s.guard != nil {
			// The guard reads rel's columns and the subqueries before
			// this one, which rel already has.
			var err error
			if guard, err = l.scalar(s.guard, oa, cm, subs); err != nil {
				return nil, nil, err
			}
		}
		var err error
		arity := plan.Arity(rel)
		if rel, err = l.applySubquery(rel, oa, cm, s.sub, guard); err != nil {
			return nil, nil, err
		}
		subs[k] = arity
	}
	out := make([]expr.Scalar, len(replaced))
	for i, e := range replaced {
		s, err := l.scalar(e, oa, cm, subs)
		if err != nil {
			return nil, nil, err
		}
		out[i] = s
	}
	return rel, out, nil
}

// guardedSubquery is a subquery of a scalar expression and the condition
// under which the expression evaluates it (nil: always).
type guardedSubquery struct {
	sub   HScalar // HExists or HSelect
	guard HScalar
}

// extractSubqueries replaces the subqueries of e (not those nested in
// them) by hSubRefs numbered in *subqs order, and records for each the
// condition under which e reaches it: a CASE branch is reached when its
// WHEN is true and no earlier one is, a COALESCE argument when every
// earlier one is NULL. PostgreSQL never evaluates a subquery in a branch
// it does not take (CASE WHEN b = 0 THEN NULL ELSE (SELECT a / b) END),
// so applySubquery computes it only for the rows its guard admits.
func extractSubqueries(e HScalar, guard HScalar, subqs *[]guardedSubquery) HScalar {
	and := func(g, c HScalar) HScalar {
		if g == nil {
			return c
		}
		return HCall{Func: expr.FuncAnd, Args: []HScalar{g, c}}
	}
	switch x := e.(type) {
	case HExists, HSelect:
		*subqs = append(*subqs, guardedSubquery{sub: e, guard: guard})
		return hSubRef{K: len(*subqs) - 1, Type: e.Typ()}
	case HIf:
		cond := extractSubqueries(x.Cond, guard, subqs)
		isTrue := HCall{Func: boolTestFunc("IS TRUE"), Args: []HScalar{cond}}
		notTrue := HCall{Func: boolTestFunc("IS NOT TRUE"), Args: []HScalar{cond}}
		return HIf{
			Cond: cond,
			Then: extractSubqueries(x.Then, and(guard, isTrue), subqs),
			Else: extractSubqueries(x.Else, and(guard, notTrue), subqs),
		}
	case HCall:
		args := make([]HScalar, len(x.Args))
		coalesce := x.Func.Name == expr.FuncCoalesce.Name
		g := guard
		for i, a := range x.Args {
			args[i] = extractSubqueries(a, g, subqs)
			if coalesce {
				g = and(g, HCall{Func: expr.FuncIsNull, Args: []HScalar{args[i]}})
			}
		}
		return HCall{Func: x.Func, Args: args}
	}
	return e
}

// boolTestFunc returns the function of a postfix boolean test ("IS
// TRUE", "IS NOT TRUE").
func boolTestFunc(name string) *expr.Func {
	return expr.LookupUnaryOp(name)[0].Func
}

// rewriteHScalarNoDescend rewrites e top-down without entering
// subqueries: f's result replaces a node and is not visited further when
// it differs from the node.
func rewriteHScalarNoDescend(e HScalar, f func(HScalar) HScalar) HScalar {
	switch e.(type) {
	case HExists, HSelect:
		return f(e)
	}
	switch x := e.(type) {
	case HCall:
		args := make([]HScalar, len(x.Args))
		for i, a := range x.Args {
			args[i] = rewriteHScalarNoDescend(a, f)
		}
		return HCall{Func: x.Func, Args: args}
	case HIf:
		return HIf{Cond: rewriteHScalarNoDescend(x.Cond, f), Then: rewriteHScalarNoDescend(x.Then, f), Else: rewriteHScalarNoDescend(x.Else, f)}
	}
	return f(e)
}

// splitAnd flattens top-level conjunctions.
func splitAnd(ps []HScalar) []HScalar {
	var out []HScalar
	for _, p := range ps {
		if c, ok := p.(HCall); ok && c.Func == expr.FuncAnd {
			out = append(out, splitAnd(c.Args)...)
			continue
		}
		out = append(out, p)
	}
	return out
}

// existsConjunct recognises EXISTS (r) and NOT EXISTS (r).
func existsConjunct(p HScalar) (HRel, bool) {
	if e, ok := p.(HExists); ok {
		return e.Rel, false
	}
	if c, ok := p.(HCall); ok && c.Func == expr.FuncNot {
		if e, ok := c.Args[0].(HExists); ok {
			return e.Rel, true
		}
	}
	return nil, false
}

// filterExists keeps the rows of rel for which the subquery has a row
// (semijoin), or has none when negated (antijoin); multiplicities are
// kept.
func (l *lowerer) filterExists(rel plan.Rel, oa int, cm colMap, subRel HRel, negated bool) (plan.Rel, error) {
	get, bind := l.let("filter_input", rel)
	keys, subCm, err := outerKeys(subRel, oa, cm)
	if err != nil {
		return nil, err
	}
	sub, err := l.lower(subRel, keyedOuter(get, keys), subCm)
	if err != nil {
		return nil, err
	}
	found := distinct(plan.Project{Input: sub, Outputs: rangeFrom(0, len(keys))})
	if negated {
		return bind(antijoin(get, found, keys)), nil
	}
	return bind(semijoin(get, found, keys)), nil
}

// applySubquery appends the value of an EXISTS or scalar subquery to every
// row of rel. The subquery is lowered against the distinct values of the
// columns it reads (its domain; the unit relation when uncorrelated), its
// value per domain key computed there (EXISTS: true for the keys it has
// rows for, false for the others; scalar: its value, NULL for keys
// without a row, an error for keys with several), and that one row per
// key joined back to rel, NULL-safely: rel is joined once, and everything
// else is the size of the domain and the subquery.
//
// With a guard (a predicate over rel), the subquery is computed only for
// the keys of the rows the guard admits, so that errors it would raise for
// other rows (a CASE branch not taken) are not raised; it is NULL (or
// false) for the others, whose value the expression does not use.
func (l *lowerer) applySubquery(rel plan.Rel, oa int, cm colMap, s HScalar, guard expr.Scalar) (plan.Rel, error) {
	n := plan.Arity(rel)
	get, bind := l.let("subquery_input", rel)
	var subRel HRel
	switch x := s.(type) {
	case HExists:
		subRel = x.Rel
	case HSelect:
		subRel = x.Rel
	default:
		return nil, pgcode.New(pgcode.InternalError, "sql: not a subquery")
	}
	keys, subCm, err := outerKeys(subRel, oa, cm)
	if err != nil {
		return nil, err
	}
	k := len(keys)
	// domain: every key of rel, which the per-key values must cover.
	domain := keyedOuter(get, keys)
	bindD := func(r plan.Rel) plan.Rel { return r }
	if !domain.unit {
		var dget plan.Get
		dget, bindD = l.let("subquery_domain", domain.rel)
		domain.rel = dget
	}
	outer := domain
	if guard != nil {
		admitted := plan.Filter{Input: get, Predicates: []expr.Scalar{guard}}
		outer = outerRel{rel: distinct(plan.Project{Input: admitted, Outputs: keys}), arity: k}
	}
	sub, err := l.lower(subRel, outer, subCm)
	if err != nil {
		return nil, err
	}
	keyCols := rangeFrom(0, k)
	// joinBack appends the per-key value (one row per domain key: k key
	// columns, then the value) to rel's rows.
	joinBack := func(perKey plan.Rel) plan.Rel {
		j := nullSafeJoin(get, perKey, keys, keyCols)
		return plan.Project{Input: j, Outputs: append(rangeFrom(0, n), n+k)}
	}
	if _, ok := s.(HExists); ok {
		found := distinct(plan.Project{Input: sub, Outputs: keyCols})
		fget, bindF := l.let("exists", found)
		flags := plan.Union{Inputs: []plan.Rel{
			plan.Map{Input: fget, Scalars: []expr.Scalar{expr.NewLiteral(repr.True, repr.TypeBool)}},
			plan.Map{Input: antijoin(domain.rel, fget, keyCols), Scalars: []expr.Scalar{expr.NewLiteral(repr.False, repr.TypeBool)}},
		}}
		return bind(bindD(bindF(joinBack(flags)))), nil
	}
	typ := s.(HSelect).Type.Type
	sget, bindS := l.let("select", sub)
	// More than one row for a key is an error (21000), kept in the result
	// so that a maintained view reports it.
	counts := plan.Reduce{Input: sget, GroupKey: colScalars(k), Aggregates: []expr.Aggregate{{
		Func: expr.AggCountStar, Expr: expr.NewLiteral(repr.True, repr.TypeBool), Typ: repr.ColumnType{Type: repr.TypeInt8}}}}
	gt, err := expr.Resolve(">", expr.LookupBinaryOp(">"), []repr.ScalarType{repr.TypeInt8, repr.TypeInt8})
	if err != nil {
		return nil, err
	}
	tooMany := plan.Filter{Input: counts, Predicates: []expr.Scalar{expr.Call{Func: gt.Func, Args: []expr.Scalar{
		expr.Column{Index: k}, expr.NewLiteral(repr.Int8Datum(1), repr.TypeInt8)}}}}
	// The error value is guarded by the count it depends on, so that no
	// rewrite can evaluate it for keys with at most one row (a bare error
	// literal looks like a constant that may move anywhere).
	errVal := expr.If{
		Cond: expr.Call{Func: gt.Func, Args: []expr.Scalar{expr.Column{Index: k}, expr.NewLiteral(repr.Int8Datum(1), repr.TypeInt8)}},
		Then: expr.ErrorLiteral(pgcode.New(pgcode.CardinalityViolation, "more than one row returned by a subquery used as an expression"), typ),
		Else: expr.NullLiteral(typ),
	}
	single, many := plan.Rel(sget), plan.Rel(tooMany)
	bindT := func(r plan.Rel) plan.Rel { return r }
	if !atMostOneRow(subRel) {
		// A key with several rows has its error row only, so that the
		// join back keeps one row per outer row where the value is
		// never read (PostgreSQL does not evaluate it there).
		var tget plan.Get
		tget, bindT = l.let("too_many", tooMany)
		single, many = antijoin(sget, plan.Project{Input: tget, Outputs: keyCols}, keyCols), tget
	}
	errs := plan.Project{Input: plan.Map{Input: many, Scalars: []expr.Scalar{errVal}}, Outputs: append(rangeFrom(0, k), k+1)}
	present := distinct(plan.Project{Input: sget, Outputs: keyCols})
	missing := plan.Map{Input: antijoin(domain.rel, present, keyCols), Scalars: []expr.Scalar{expr.NullLiteral(typ)}}
	values := plan.Union{Inputs: []plan.Rel{single, errs, missing}}
	return bind(bindD(bindS(bindT(joinBack(values))))), nil
}

// atMostOneRow reports whether r has at most one row for each value of
// the outer columns it reads: a global aggregate, or LIMIT 1 (or 0)
// without groups, under maps, filters and projections.
func atMostOneRow(r HRel) bool {
	switch x := r.(type) {
	case HReduce:
		return len(x.GroupKey) == 0
	case HTopK:
		return len(x.GroupKey) == 0 && x.Limit >= 0 && x.Limit <= 1
	case HMap:
		return atMostOneRow(x.Input)
	case HFilter:
		return atMostOneRow(x.Input)
	case HProject:
		return atMostOneRow(x.Input)
	}
	return false
}

func colScalars(n int) []expr.Scalar {
	out := make([]expr.Scalar, n)
	for i := range out {
		out[i] = expr.Column{Index: i}
	}
	return out
}

// lowerConstScalar lowers a scalar that references no columns.
func lowerConstScalar(h HScalar) (expr.Scalar, error) {
	l := &lowerer{q: &qctx{}}
	if hasSubquery([]HScalar{h}) {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "subquery in a constant")
	}
	return l.scalar(h, 0, colMap{}, nil)
}
