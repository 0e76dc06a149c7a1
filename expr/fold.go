package expr

import (
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// FoldConstants simplifies e: calls of immutable functions whose arguments
// are all literals become literals (an evaluation error becomes an error
// Literal, raised only if the literal is evaluated); strict calls with a
// NULL literal argument become NULL (as in PostgreSQL, even when another
// argument could raise an error); AND/OR drop their identity literals
// and collapse to their absorbing value (FALSE/TRUE wins over NULL and
// errors, as evaluation does); CASE with a literal condition picks its
// branch; COALESCE drops leading NULLs and everything after its first
// non-NULL literal. Stable and volatile functions and mz_now() are left
// alone. ctx is used to evaluate (may be nil).
func FoldConstants(e Scalar, ctx *EvalCtx) Scalar {
	if ctx == nil {
		ctx = &EvalCtx{}
	}
	return Rewrite(e, func(s Scalar) Scalar { return foldNode(s, ctx) })
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

func foldNode(s Scalar, ctx *EvalCtx) Scalar {
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
		return n
	case Call:
		if n.Func == nil {
			return n
		}
		switch n.Func.special {
		case specialAnd, specialOr:
			return foldAndOr(n, ctx)
		case specialCoalesce:
			return foldCoalesce(n)
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
			return errLiteral(err, n.Func.Ret)
		}
		return valueLiteral(d, n.Func.Ret)
	}
	return s
}

// strictNullFoldable reports whether a strict call over args is NULL
// whatever the row: some argument is a NULL literal. Like PostgreSQL's
// eval_const_expressions, this folds even when another argument could
// raise an error at run time (SELECT ... WHERE 1/col = NULL is empty,
// never a division by zero); an error literal argument still wins.
func strictNullFoldable(args []Scalar) bool {
	sawNull := false
	for _, a := range args {
		if x, ok := a.(Literal); ok {
			if x.Err != nil {
				return false
			}
			if x.Value.IsNull() {
				sawNull = true
			}
		}
	}
	return sawNull
}

// foldAndOr simplifies AND (or OR): nested connectives of the same kind
// are flattened, identity literals dropped, an absorbing literal returned.
func foldAndOr(n Call, ctx *EvalCtx) Scalar {
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
		d, err := Eval(ctx, c, nil)
		if err != nil {
			return errLiteral(err, repr.TypeBool)
		}
		return valueLiteral(d, repr.TypeBool)
	}
	return c
}

// foldCoalesce drops NULL literals and everything after the first
// argument that cannot be NULL because it is a non-NULL literal.
func foldCoalesce(n Call) Scalar {
	var kept []Scalar
	for _, a := range n.Args {
		if litIsNull(a) {
			continue
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
