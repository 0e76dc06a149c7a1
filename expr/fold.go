package expr

import (
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// FoldConstants simplifies e in the order of PostgreSQL's
// eval_const_expressions: calls of immutable functions whose arguments are
// all literals become literals (an evaluation error becomes an error
// Literal); strict calls with a NULL literal argument become NULL (even
// when another, non-constant argument could raise an error at run time);
// AND/OR drop their identity literals and collapse to their absorbing
// value; CASE with a literal condition picks its branch; COALESCE drops
// leading NULLs and everything after its first non-NULL literal. Stable
// and volatile functions and mz_now() are left alone. ctx is used to
// evaluate (may be nil).
//
// Errors follow PostgreSQL, where simplifying a constant subexpression
// that fails fails the statement: an error literal this fold made (a
// constant call that failed) in a place PostgreSQL simplifies makes its
// parent that error, up to the root. Error literals already in e are the
// planner's own conditional errors (CASE WHEN count > 1 THEN error(...)
// for a scalar subquery of several rows): they stay where they are. The
// places it does not simplify, and so never fail: COALESCE arguments
// after a non-NULL literal, AND/OR arguments after an absorbing literal,
// the branches of a CASE a literal condition does not take. So
// coalesce(coalesce(2147483647 + 1, 0) / NULL::int4, 5) is "integer out
// of range" (not 5), and coalesce(1, 1/0) is 1. (viewd raises the error
// when the folded expression is evaluated, PostgreSQL when it plans:
// over no rows PostgreSQL fails and viewd does not.)
func FoldConstants(e Scalar, ctx *EvalCtx) Scalar {
	if ctx == nil {
		ctx = &EvalCtx{}
	}
	f := &folder{ctx: ctx}
	return Rewrite(e, f.node)
}

func isLit(s Scalar) (Literal, bool) {
	l, ok := s.(Literal)
	return l, ok
}

func litIsBool(s Scalar, b bool) bool {
	l, ok := isLit(s)
	return ok && l.Err == nil && !l.Value.IsNull() && l.Value.Kind() == repr.KindBool && l.Value.Bool() == b
}

func litIsNull(s Scalar) bool {
	l, ok := isLit(s)
	return ok && l.Err == nil && l.Value.IsNull()
}

// errLiteral returns an error literal of type t for err.
func errLiteral(err error, t repr.ScalarType) Literal {
	return Literal{Typ: repr.ColumnType{Type: t}, Err: pgcode.As(err)}
}

func valueLiteral(d repr.Datum, t repr.ScalarType) Literal {
	return Literal{Value: d, Typ: repr.ColumnType{Type: t, Nullable: d.IsNull()}}
}

// folder is one FoldConstants call: its context and the errors of the
// constant calls it evaluated.
type folder struct {
	ctx    *EvalCtx
	failed map[*pgcode.Error]bool
}

// fail returns the error literal of a constant call that failed.
func (f *folder) fail(err error, t repr.ScalarType) Literal {
	l := errLiteral(err, t)
	if f.failed == nil {
		f.failed = map[*pgcode.Error]bool{}
	}
	f.failed[l.Err] = true
	return l
}

// errLit returns s when it is an error literal this fold made.
func (f *folder) errLit(s Scalar) (Literal, bool) {
	l, ok := isLit(s)
	return l, ok && l.Err != nil && f.failed[l.Err]
}

func (f *folder) node(s Scalar) Scalar {
	ctx := f.ctx
	switch n := s.(type) {
	case If:
		if l, ok := isLit(n.Cond); ok {
			if l.Err != nil {
				return l
			}
			if !l.Value.IsNull() && l.Value.Bool() {
				return n.Then
			}
			return n.Else
		}
		// PostgreSQL simplifies both branches of a CASE whose condition
		// is not constant.
		if l, ok := f.errLit(n.Then); ok {
			return l
		}
		if l, ok := f.errLit(n.Else); ok {
			return l
		}
		return n
	case Call:
		if n.Func == nil {
			return n
		}
		switch n.Func.special {
		case specialAnd, specialOr:
			return f.andOr(n)
		case specialCoalesce:
			return f.coalesce(n)
		}
		// Every argument is simplified before the call: the first that
		// failed fails it.
		for _, a := range n.Args {
			if l, ok := f.errLit(a); ok {
				return l
			}
		}
		if n.Func.Strict && strictNullFoldable(n.Args) {
			return valueLiteral(repr.Null, n.Func.Ret)
		}
		if n.Func.Volatility != Immutable {
			return n
		}
		for _, a := range n.Args {
			if _, ok := isLit(a); !ok {
				return n
			}
		}
		d, err := Eval(ctx, n, nil)
		if err != nil {
			return f.fail(err, n.Func.Ret)
		}
		return valueLiteral(d, n.Func.Ret)
	}
	return s
}

// strictNullFoldable reports whether a strict call over args is NULL
// whatever the row: some argument is a NULL literal. Like PostgreSQL's
// eval_const_expressions, this folds even when another argument could
// raise an error at run time (SELECT ... WHERE 1/col = NULL is empty,
// never a division by zero). Error literal arguments are handled first.
func strictNullFoldable(args []Scalar) bool {
	for _, a := range args {
		if litIsNull(a) {
			return true
		}
	}
	return false
}

// foldAndOr simplifies AND (or OR): nested connectives of the same kind
// are flattened, identity literals dropped, an absorbing literal returned.
func (f *folder) andOr(n Call) Scalar {
	or := n.Func.special == specialOr
	var args []Scalar
	var flatten func(a Scalar)
	flatten = func(a Scalar) {
		if c, ok := a.(Call); ok && c.Func != nil && c.Func.special == n.Func.special {
			for _, x := range c.Args {
				flatten(x)
			}
			return
		}
		args = append(args, a)
	}
	for _, a := range n.Args {
		flatten(a)
	}
	kept := args[:0]
	allLit := true
	for _, a := range args {
		if litIsBool(a, or) {
			return valueLiteral(repr.BoolDatum(or), repr.TypeBool)
		}
		if l, ok := f.errLit(a); ok {
			// Simplified before any absorbing literal: it fails.
			return l
		}
		if litIsBool(a, !or) {
			continue
		}
		if _, ok := isLit(a); !ok {
			allLit = false
		}
		kept = append(kept, a)
	}
	switch {
	case len(kept) == 0:
		return valueLiteral(repr.BoolDatum(!or), repr.TypeBool)
	case len(kept) == 1:
		if l, ok := isLit(kept[0]); ok && l.Err == nil && l.Value.IsNull() {
			return valueLiteral(repr.Null, repr.TypeBool)
		}
		if l, ok := isLit(kept[0]); !ok || l.Err != nil || l.Value.Kind() == repr.KindBool {
			return kept[0]
		}
	}
	c := Call{Func: n.Func, Args: kept}
	if allLit {
		d, err := Eval(f.ctx, c, nil)
		if err != nil {
			return f.fail(err, repr.TypeBool)
		}
		return valueLiteral(d, repr.TypeBool)
	}
	return c
}

// foldCoalesce drops NULL literals and everything after the first
// argument that cannot be NULL because it is a non-NULL literal; an error
// literal before that fails it.
func (f *folder) coalesce(n Call) Scalar {
	var kept []Scalar
	for _, a := range n.Args {
		if litIsNull(a) {
			continue
		}
		if l, ok := f.errLit(a); ok {
			return l
		}
		kept = append(kept, a)
		if l, ok := isLit(a); ok && l.Err == nil {
			break
		}
	}
	switch len(kept) {
	case 0:
		return valueLiteral(repr.Null, n.Func.Ret)
	case 1:
		return kept[0]
	}
	return Call{Func: n.Func, Args: kept}
}
