package plan

import (
	"bytes"
	"sort"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// FoldConstants simplifies scalar expressions (see foldScalar) and
// evaluates relational operators whose inputs are constant:
//   - a Filter with a false or NULL literal predicate is empty; true
//     literal predicates are dropped;
//   - every operator over an empty collection is empty (Union drops empty
//     inputs; a Join with an empty input is empty);
//   - Map, Filter, Project, FlatMap, Negate, Threshold and Union over
//     Constants are evaluated into a Constant (an evaluation error makes
//     the result an error Constant);
//   - an operator over an error Constant is that error.
//
// Expressions reading mz_now() or calling non-immutable functions are not
// evaluated at plan time. Constant rows are consolidated and sorted.
type FoldConstants struct{}

// Name implements Rule.
func (FoldConstants) Name() string { return "fold-constants" }

// Transform implements Rule.
func (FoldConstants) Transform(rel Rel) (Rel, error) {
	return Rewrite(rel, func(r Rel) (Rel, error) { return foldRel(r), nil })
}

func foldAll(es []expr.Scalar) []expr.Scalar {
	if es == nil {
		return nil
	}
	out := make([]expr.Scalar, len(es))
	for i, e := range es {
		out[i] = foldScalar(e)
	}
	return out
}

func emptyOf(rel Rel) Constant { return Constant{Type: rel.Typ()} }

func asEmpty(r Rel) bool {
	c, ok := r.(Constant)
	return ok && c.Err == nil && len(c.Rows) == 0
}

func asErr(r Rel) (Constant, bool) {
	c, ok := r.(Constant)
	return c, ok && c.Err != nil
}

func foldRel(rel Rel) Rel {
	// Fold scalars first.
	switch r := rel.(type) {
	case Constant:
		return normalizeConstant(r)
	case Map:
		r.Scalars = foldAll(r.Scalars)
		rel = r
	case Filter:
		var preds []expr.Scalar
		for _, p := range foldAll(r.Predicates) {
			for _, c := range splitConjunction(p) {
				v, isNull, known := literalBool(c)
				if known && v && !isNull {
					continue
				}
				if known {
					return emptyOf(r)
				}
				preds = append(preds, factorDisjunction(filterBool(c))...)
			}
		}
		if len(preds) == 0 {
			return r.Input
		}
		r.Predicates = dedupScalars(preds)
		if contradicts(r.Predicates) {
			return emptyOf(r)
		}
		rel = r
	case FlatMap:
		r.Args = foldAll(r.Args)
		rel = r
	case Join:
		eqs := make([][]expr.Scalar, len(r.Equivalences))
		for i, c := range r.Equivalences {
			eqs[i] = foldAll(c)
		}
		r.Equivalences = eqs
		rel = r
	case Reduce:
		r.GroupKey = foldAll(r.GroupKey)
		aggs := append([]expr.Aggregate(nil), r.Aggregates...)
		for i := range aggs {
			if aggs[i].Expr != nil {
				aggs[i].Expr = foldScalar(aggs[i].Expr)
			}
			if aggs[i].Filter != nil {
				aggs[i].Filter = foldScalar(aggs[i].Filter)
			}
		}
		r.Aggregates = aggs
		rel = r
	}

	// Empty and error inputs.
	switch r := rel.(type) {
	case Map, Filter, Project, FlatMap, Reduce, TopK, Negate, Threshold, Window:
		in := Children(r)[0]
		if asEmpty(in) {
			return emptyOf(r)
		}
		if c, ok := asErr(in); ok {
			return Constant{Type: r.Typ(), Err: c.Err}
		}
	case Join:
		for _, in := range r.Inputs {
			if asEmpty(in) {
				return emptyOf(r)
			}
		}
		for _, in := range r.Inputs {
			if c, ok := asErr(in); ok {
				return Constant{Type: r.Typ(), Err: c.Err}
			}
		}
	case Union:
		var ins []Rel
		for _, in := range r.Inputs {
			if c, ok := asErr(in); ok {
				return Constant{Type: r.Typ(), Err: c.Err}
			}
			if !asEmpty(in) {
				ins = append(ins, in)
			}
		}
		switch len(ins) {
		case 0:
			return emptyOf(r)
		case 1:
			return ins[0]
		}
		allConst := true
		for _, in := range ins {
			if _, ok := in.(Constant); !ok {
				allConst = false
			}
		}
		if allConst {
			var rows []ConstRow
			for _, in := range ins {
				rows = append(rows, in.(Constant).Rows...)
			}
			return normalizeConstant(Constant{Rows: rows, Type: r.Typ()})
		}
		r.Inputs = ins
		return r
	}

	// Evaluation over constants.
	switch r := rel.(type) {
	case Map, Filter, Project, FlatMap, Negate, Threshold:
		c, ok := Children(r)[0].(Constant)
		if !ok || c.Err != nil {
			return rel
		}
		if out, ok := evalOverConstant(r, c); ok {
			return normalizeConstant(out)
		}
	}
	return rel
}

// foldable reports whether e may be evaluated at plan time.
func foldable(e expr.Scalar) bool {
	ok := true
	visitScalar(e, func(s expr.Scalar) {
		switch s := s.(type) {
		case expr.MzNow:
			ok = false
		case expr.Call:
			if s.Func == nil || s.Func.Volatility != expr.Immutable {
				ok = false
			}
		}
	})
	return ok
}

func allFoldable(es []expr.Scalar) bool {
	for _, e := range es {
		if !foldable(e) {
			return false
		}
	}
	return true
}

// evalOverConstant evaluates rel (whose input is c) row by row.
func evalOverConstant(rel Rel, c Constant) (Constant, bool) {
	typ := rel.Typ()
	var out []ConstRow
	var ctx expr.EvalCtx
	fail := func(err error) (Constant, bool) { return Constant{Type: typ, Err: err}, true }
	switch r := rel.(type) {
	case Map:
		if !allFoldable(r.Scalars) {
			return Constant{}, false
		}
		for _, row := range c.Rows {
			ds := row.Row.Datums()
			for _, s := range r.Scalars {
				v, err := expr.Eval(&ctx, s, ds)
				if err != nil {
					return fail(err)
				}
				ds = append(ds, v)
			}
			out = append(out, ConstRow{Row: repr.PackRow(ds...), Diff: row.Diff})
		}
	case Filter:
		if !allFoldable(r.Predicates) {
			return Constant{}, false
		}
		for _, row := range c.Rows {
			ds := row.Row.Datums()
			keep := true
			for _, p := range r.Predicates {
				ok, err := expr.EvalBool(&ctx, p, ds)
				if err != nil {
					return fail(err)
				}
				if !ok {
					keep = false
					break
				}
			}
			if keep {
				out = append(out, row)
			}
		}
	case Project:
		for _, row := range c.Rows {
			ds := row.Row.Datums()
			ps := make([]repr.Datum, len(r.Outputs))
			for i, o := range r.Outputs {
				ps[i] = ds[o]
			}
			out = append(out, ConstRow{Row: repr.PackRow(ps...), Diff: row.Diff})
		}
	case FlatMap:
		if r.Func == nil || r.Func.Eval == nil || !allFoldable(r.Args) {
			return Constant{}, false
		}
		for _, row := range c.Rows {
			ds := row.Row.Datums()
			args := make([]repr.Datum, len(r.Args))
			for i, a := range r.Args {
				v, err := expr.Eval(&ctx, a, ds)
				if err != nil {
					return fail(err)
				}
				args[i] = v
			}
			diff := row.Diff
			tooMany := false
			err := r.Func.Eval(&ctx, args, func(emitted []repr.Datum) bool {
				if len(out) >= foldRowLimit {
					tooMany = true
					return false
				}
				full := append(append([]repr.Datum(nil), ds...), emitted...)
				out = append(out, ConstRow{Row: repr.PackRow(full...), Diff: diff})
				return true
			})
			if err != nil {
				return fail(err)
			}
			if tooMany {
				// A large series stays a FlatMap: it is computed (and
				// streamed) when the query runs, not held in the plan.
				return Constant{}, false
			}
		}
	case Negate:
		for _, row := range c.Rows {
			out = append(out, ConstRow{Row: row.Row, Diff: -row.Diff})
		}
	case Threshold:
		for _, row := range normalizeConstant(c).Rows {
			if row.Diff > 0 {
				out = append(out, row)
			}
		}
	default:
		return Constant{}, false
	}
	return Constant{Rows: out, Type: typ}, true
}

// foldRowLimit bounds the rows constant folding may produce from a table
// function: past it the FlatMap is left in the plan.
const foldRowLimit = 10000

// normalizeConstant consolidates rows (summing multiplicities of equal
// rows, dropping zeros) and sorts them by their encoding.
func normalizeConstant(c Constant) Constant {
	if c.Err != nil || len(c.Rows) == 0 {
		c.Rows = nil
		return c
	}
	rows := append([]ConstRow(nil), c.Rows...)
	sort.SliceStable(rows, func(i, j int) bool { return bytes.Compare(rows[i].Row, rows[j].Row) < 0 })
	var out []ConstRow
	for _, r := range rows {
		if n := len(out); n > 0 && bytes.Equal(out[n-1].Row, r.Row) {
			out[n-1].Diff += r.Diff
			continue
		}
		out = append(out, r)
	}
	kept := out[:0]
	for _, r := range out {
		if r.Diff != 0 {
			kept = append(kept, r)
		}
	}
	c.Rows = kept
	if len(kept) == 0 {
		c.Rows = nil
	}
	return c
}

// factorDisjunction returns the conjuncts of p with the conjuncts common
// to every disjunct of an OR taken out of it:
// (a AND b) OR (a AND c) is a, then b OR c. The law holds in SQL's
// three-valued logic (it is a distributive lattice), and every row
// evaluates a on both sides. It matters for joins written as a
// disjunction that repeats the join condition in each branch (TPC-H
// q19): factored out, the equality becomes a join key instead of a
// filter over a cross product. When a disjunct is all common conjuncts,
// the OR is implied by them and dropped.
func factorDisjunction(p expr.Scalar) []expr.Scalar {
	c, ok := p.(expr.Call)
	if !ok || !isFuncNamed(c.Func, "or") || len(c.Args) < 2 {
		return []expr.Scalar{p}
	}
	disjuncts := make([][]expr.Scalar, len(c.Args))
	for i, a := range c.Args {
		disjuncts[i] = splitConjunction(a)
	}
	var common []expr.Scalar
	for _, x := range dedupScalars(disjuncts[0]) {
		inAll := true
		for _, d := range disjuncts[1:] {
			inAll = inAll && containsScalar(d, x)
		}
		if inAll {
			common = append(common, x)
		}
	}
	if len(common) == 0 {
		return []expr.Scalar{p}
	}
	rest := make([]expr.Scalar, 0, len(disjuncts))
	for _, d := range disjuncts {
		var left []expr.Scalar
		for _, x := range d {
			if !containsScalar(common, x) {
				left = append(left, x)
			}
		}
		if len(left) == 0 {
			// This disjunct is implied by the common part.
			return common
		}
		rest = append(rest, expr.And(left...))
	}
	return append(common, expr.Or(rest...))
}

// filterBool simplifies a filter predicate compared with a boolean
// literal: in a filter, `x = true` keeps exactly the rows where x is true,
// as x does, and `x = false` those where NOT x is true. (An outer join's
// null-safe key comparison, (a IS NULL) = (b IS NULL), becomes such a
// predicate when a is a NULL literal.) The operands of = have one type,
// so x is a boolean.
func filterBool(p expr.Scalar) expr.Scalar {
	a, b, ok := asEquality(p)
	if !ok {
		return p
	}
	if _, lit := a.(expr.Literal); lit {
		a, b = b, a
	}
	l, ok := b.(expr.Literal)
	if !ok || l.Err != nil || l.Value.IsNull() || l.Value.Kind() != repr.KindBool {
		return p
	}
	if l.Value.Bool() {
		return a
	}
	return expr.Call{Func: expr.FuncNot, Args: []expr.Scalar{a}}
}

// contradicts reports whether a filter's predicates hold both p and NOT p
// for some p: no row passes (a NULL p fails both).
func contradicts(preds []expr.Scalar) bool {
	for _, p := range preds {
		c, ok := p.(expr.Call)
		if !ok || c.Func != expr.FuncNot || len(c.Args) != 1 {
			continue
		}
		for _, q := range preds {
			if scalarsEqual(q, c.Args[0]) {
				return true
			}
		}
	}
	return false
}
