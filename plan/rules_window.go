package plan

import (
	"slices"

	"github.com/viewd/viewd/expr"
)

// WindowTopK turns the top-k idiom, a filter bounding row_number() by a
// constant,
//
//	SELECT ... FROM (SELECT *, row_number() OVER (PARTITION BY p ORDER BY o) AS rn FROM x) WHERE rn <= k
//
// into a TopK (per p, by o, limit k) under the Window, as Materialize
// does: the Window then numbers at most k rows per partition instead of
// keeping and renumbering every row of it, and over an append-only input
// the TopK is monotonic and keeps only k rows per partition (Lower). It
// applies when every function of the Window is row_number(): the rows
// numbered 1..k are the partition's first k in the window's order. Both
// operators break ties by the whole row (dataflow's sortKey), so right
// after the rewrite the numbering does not change; when projection
// pushdown later narrows the Window's input (a Project between the two),
// rows tied on the order may be kept and numbered by their wider rows
// instead, one of the answers SQL allows (row_number() over ties is
// unspecified), and still a function of the input. The bound
// is rn <= k, rn < k+1 or rn = k (either side), k a non-null integer
// literal; the Filter stays (it still removes numbers past k, and keeps
// rn = k's meaning).
//
// Over a Window whose input is already (through Projects) a TopK of the
// same partition and order with limit l, no row is numbered past l: a
// bound rn <= k (or rn < k+1) with k >= l, or rn = 1 with l = 1, holds
// for every row, so the Filter drops it. Then, when nothing above reads
// the numbers (the usual top-1 query: SELECT the row, not its rank),
// projection pushdown drops the Window too, and with it a second ordered
// state per partition: q9 and q18 of Nexmark keep one copy of each
// partition's top rows instead of two.
type WindowTopK struct{}

// Name implements Rule.
func (WindowTopK) Name() string { return "window-topk" }

// Transform implements Rule.
func (WindowTopK) Transform(rel Rel) (Rel, error) {
	return Rewrite(rel, func(r Rel) (Rel, error) {
		f, ok := r.(Filter)
		if !ok {
			return r, nil
		}
		w, ok := f.Input.(Window)
		if !ok || len(w.Funcs) == 0 {
			return r, nil
		}
		for _, fn := range w.Funcs {
			if fn.Name != "row_number" || fn.Aggregate != nil {
				return r, nil
			}
		}
		arity := Arity(w.Input)
		k := int64(-1)
		for _, p := range f.Predicates {
			if b, ok := rowNumberBound(p, arity, arity+len(w.Funcs)); ok && (k < 0 || b < k) {
				k = b
			}
		}
		if k <= 0 {
			return r, nil
		}
		if l := topKBelow(w.Input, w.PartitionBy, w.OrderBy); l >= 0 && l <= k {
			return dropImpliedBounds(f, arity, arity+len(w.Funcs), l), nil
		}
		w.Input = TopK{Input: w.Input, GroupKey: slices.Clone(w.PartitionBy), Order: slices.Clone(w.OrderBy), Limit: k}
		f.Input = w
		return f, nil
	})
}

// dropImpliedBounds removes from f the bounds on row numbers (columns in
// [lo, hi)) that every row meets when no partition has more than l rows:
// rn <= k and rn < k+1 with k >= l, and rn = 1 when l is 1. The Filter
// goes when no predicate is left.
func dropImpliedBounds(f Filter, lo, hi int, l int64) Rel {
	var keep []expr.Scalar
	for _, p := range f.Predicates {
		if k, exact, ok := rowNumberBoundOp(p, lo, hi); ok && (!exact && k >= l || exact && k == 1 && l == 1) {
			continue
		}
		keep = append(keep, p)
	}
	if len(keep) == len(f.Predicates) {
		return f
	}
	if len(keep) == 0 {
		return f.Input
	}
	f.Predicates = keep
	return f
}

// topKBelow returns the limit of the TopK that r is, through Projects
// (which projection pushdown puts between the Window and the TopK it
// got), by group and order (columns of r); -1 when r is no such TopK.
func topKBelow(r Rel, group []int, order []ColumnOrder) int64 {
	switch x := r.(type) {
	case TopK:
		if x.Offset == 0 && x.Limit >= 0 && slices.Equal(x.GroupKey, group) && slices.Equal(x.Order, order) {
			return x.Limit
		}
		return -1
	case Project:
		g := make([]int, len(group))
		for i, c := range group {
			g[i] = x.Outputs[c]
		}
		o := slices.Clone(order)
		for i := range o {
			o[i].Column = x.Outputs[o[i].Column]
		}
		return topKBelow(x.Input, g, o)
	}
	return -1
}

// rowNumberBound returns k when p bounds a column in [lo, hi) (a
// row_number() output) to at most k: col <= k, col < k+1, col = k, or
// the same with the sides swapped.
func rowNumberBound(p expr.Scalar, lo, hi int) (int64, bool) {
	k, _, ok := rowNumberBoundOp(p, lo, hi)
	return k, ok
}

// rowNumberBoundOp is rowNumberBound, also telling whether the bound is
// exact (col = k).
func rowNumberBoundOp(p expr.Scalar, lo, hi int) (k int64, exact, ok bool) {
	c, ok := p.(expr.Call)
	if !ok || c.Func == nil || !c.Func.Infix || len(c.Args) != 2 {
		return 0, false, false
	}
	op := c.Func.Name
	a, b := c.Args[0], c.Args[1]
	if _, isLit := a.(expr.Literal); isLit {
		a, b = b, a
		switch op {
		case "<=":
			op = ">="
		case "<":
			op = ">"
		case ">=":
			op = "<="
		case ">":
			op = "<"
		}
	}
	col, ok := a.(expr.Column)
	if !ok || col.Index < lo || col.Index >= hi {
		return 0, false, false
	}
	lit, ok := b.(expr.Literal)
	if !ok || lit.Err != nil || lit.Value.IsNull() || !lit.Value.Kind().IsInteger() {
		return 0, false, false
	}
	v := lit.Value.Int()
	switch op {
	case "<=":
		return v, false, true
	case "=":
		return v, true, true
	case "<":
		return v - 1, false, true
	}
	return 0, false, false
}
