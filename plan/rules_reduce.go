package plan

import (
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// ReduceElision removes a Reduce whose group key columns contain a unique
// key of its input: every group is then a single row, so DISTINCT is the
// identity and each aggregate is a function of that row. It applies only
// when every aggregate has an exact single-row form of the same type:
// count(*) and count(x) with x non-nullable are 1; min, max, bool_and,
// bool_or and sum are their argument when its type equals the aggregate's
// (sum(int4) is int8 in SQL, so it is not elided). With FILTER (WHERE p)
// the form applies where p is true, and the aggregate of no rows (0 for
// count, else NULL) elsewhere. The Reduce becomes a Map of those forms and
// a Project (group key, then aggregates).
type ReduceElision struct{}

// Name implements Rule.
func (ReduceElision) Name() string { return "reduce-elision" }

// Transform implements Rule.
func (ReduceElision) Transform(rel Rel) (Rel, error) {
	return Rewrite(rel, func(r Rel) (Rel, error) {
		red, ok := r.(Reduce)
		if !ok {
			return r, nil
		}
		if out, ok := elideReduce(red); ok {
			return out, nil
		}
		return r, nil
	})
}

func elideReduce(r Reduce) (Rel, bool) {
	in := r.Input.Typ()
	keyCols := make([]int, len(r.GroupKey))
	for i, k := range r.GroupKey {
		c, ok := k.(expr.Column)
		if !ok {
			return nil, false
		}
		keyCols[i] = c.Index
	}
	if !UniqueKeyOf(in, keyCols) {
		return nil, false
	}
	var scalars []expr.Scalar
	for _, a := range r.Aggregates {
		s, ok := singleRowAggregate(a, in.Cols)
		if !ok {
			return nil, false
		}
		scalars = append(scalars, s)
	}
	n := len(in.Cols)
	outs := append([]int(nil), keyCols...)
	for i := range scalars {
		outs = append(outs, n+i)
	}
	return Project{Input: withMap(r.Input, scalars), Outputs: outs}, true
}

func singleRowAggregate(a expr.Aggregate, cols []repr.ColumnType) (expr.Scalar, bool) {
	s, ok := unfilteredSingleRow(a, cols)
	if !ok || a.Filter == nil {
		return s, ok
	}
	none := expr.Scalar(expr.NullLiteral(a.Typ.Type))
	if a.Func == expr.AggCount || a.Func == expr.AggCountStar {
		none = expr.Literal{Value: repr.IntDatum(a.Typ.Type.Kind, 0), Typ: repr.ColumnType{Type: a.Typ.Type}}
	}
	return expr.If{Cond: a.Filter, Then: s, Else: none}, true
}

// unfilteredSingleRow is the aggregate of the one row, FILTER aside.
func unfilteredSingleRow(a expr.Aggregate, cols []repr.ColumnType) (expr.Scalar, bool) {
	one := func() (expr.Scalar, bool) {
		if !a.Typ.Type.Kind.IsInteger() {
			return nil, false
		}
		return expr.Literal{Value: repr.IntDatum(a.Typ.Type.Kind, 1), Typ: repr.ColumnType{Type: a.Typ.Type}}, true
	}
	switch a.Func {
	case expr.AggCountStar:
		return one()
	case expr.AggCount:
		if a.Expr == nil || a.Expr.Type(cols).Nullable {
			return nil, false
		}
		return one()
	case expr.AggMin, expr.AggMax, expr.AggSum, expr.AggBoolAnd, expr.AggBoolOr:
		if a.Expr == nil || !a.Expr.Type(cols).Type.Equal(a.Typ.Type) {
			return nil, false
		}
		return a.Expr, true
	}
	return nil, false
}
