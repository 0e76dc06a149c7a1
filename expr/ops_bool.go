package expr

import (
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// The boolean connectives and null tests, shared by the planner and the
// optimiser (which recognise them by pointer).
var (
	// FuncAnd is variadic AND with three-valued logic.
	FuncAnd = &Func{Name: "and", Ret: repr.TypeBool, special: specialAnd, Nullable: false,
		NullableFn: anyNullable, Eval: andOrEval(false)}
	// FuncOr is variadic OR with three-valued logic.
	FuncOr = &Func{Name: "or", Ret: repr.TypeBool, special: specialOr,
		NullableFn: anyNullable, Eval: andOrEval(true)}
	// FuncNot is NOT.
	FuncNot = &Func{Name: "not", Ret: repr.TypeBool, Strict: true, Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.BoolDatum(!a[0].Bool()), nil
	}}
	// FuncIsNull is IS NULL.
	FuncIsNull = &Func{Name: "IS NULL", Postfix: true, Ret: repr.TypeBool, Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.BoolDatum(a[0].IsNull()), nil
	}}
	// FuncIsNotNull is IS NOT NULL.
	FuncIsNotNull = &Func{Name: "IS NOT NULL", Postfix: true, Ret: repr.TypeBool, Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.BoolDatum(!a[0].IsNull()), nil
	}}
	// FuncCoalesce is COALESCE: the first non-NULL argument, later
	// arguments unevaluated. Its return type is set per call by
	// NewCoalesce.
	FuncCoalesce = &Func{Name: "coalesce", special: specialCoalesce, NullableFn: allNullable}
)

func anyNullable(args []repr.ColumnType) bool {
	for _, a := range args {
		if a.Nullable {
			return true
		}
	}
	return false
}

func allNullable(args []repr.ColumnType) bool {
	for _, a := range args {
		if !a.Nullable {
			return false
		}
	}
	return true
}

// andOrEval is AND/OR over already-evaluated arguments (Eval uses the lazy
// path; this serves callers of Func.Eval directly).
func andOrEval(or bool) evalFn {
	return func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		sawNull := false
		for _, d := range a {
			if d.IsNull() {
				sawNull = true
			} else if d.Bool() == or {
				return repr.BoolDatum(or), nil
			}
		}
		if sawNull {
			return repr.Null, nil
		}
		return repr.BoolDatum(!or), nil
	}
}

// And returns the conjunction of args (true for none, the argument itself
// for one).
func And(args ...Scalar) Scalar {
	switch len(args) {
	case 0:
		return Literal{Value: repr.True, Typ: repr.ColumnType{Type: repr.TypeBool}}
	case 1:
		return args[0]
	}
	return Call{Func: FuncAnd, Args: args}
}

// Or returns the disjunction of args (false for none).
func Or(args ...Scalar) Scalar {
	switch len(args) {
	case 0:
		return Literal{Value: repr.False, Typ: repr.ColumnType{Type: repr.TypeBool}}
	case 1:
		return args[0]
	}
	return Call{Func: FuncOr, Args: args}
}

// Not returns NOT e.
func Not(e Scalar) Scalar { return Call{Func: FuncNot, Args: []Scalar{e}} }

// IsNull returns e IS NULL.
func IsNull(e Scalar) Scalar { return Call{Func: FuncIsNull, Args: []Scalar{e}} }

// NewCoalesce returns COALESCE(args) with return type typ (the common
// type of the arguments, which the caller has cast to it).
func NewCoalesce(typ repr.ScalarType, args ...Scalar) Scalar {
	f := *FuncCoalesce
	f.Ret = typ
	return Call{Func: &f, Args: args}
}

// NewLiteral returns a literal of d with type t.
func NewLiteral(d repr.Datum, t repr.ScalarType) Literal {
	return Literal{Value: d, Typ: repr.ColumnType{Type: t, Nullable: d.IsNull()}}
}

// NullLiteral returns a NULL of type t.
func NullLiteral(t repr.ScalarType) Literal {
	return Literal{Typ: repr.ColumnType{Type: t, Nullable: true}}
}

// ErrorLiteral returns a literal that evaluates to err, of type t.
func ErrorLiteral(err error, t repr.ScalarType) Literal {
	return Literal{Typ: repr.ColumnType{Type: t}, Err: pgcode.As(err)}
}

func boolTest(name string, fn func(d repr.Datum) bool) *Func {
	return &Func{Name: name, Postfix: true, Ret: repr.TypeBool, Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.BoolDatum(fn(a[0])), nil
	}}
}

func init() {
	addOverload(funcCatalog, "and", Overload{Params: []ParamType{Exact(tBool)}, Ret: Exact(tBool), Variadic: true, Func: FuncAnd})
	addOverload(funcCatalog, "or", Overload{Params: []ParamType{Exact(tBool)}, Ret: Exact(tBool), Variadic: true, Func: FuncOr})
	addOverload(funcCatalog, "not", Overload{Params: []ParamType{Exact(tBool)}, Ret: Exact(tBool), Func: FuncNot})
	addOverload(unopCatalog, "NOT", Overload{Params: []ParamType{Exact(tBool)}, Ret: Exact(tBool), Func: FuncNot})
	addOverload(unopCatalog, "IS NULL", Overload{Params: []ParamType{Any}, Ret: Exact(tBool), Func: FuncIsNull})
	addOverload(unopCatalog, "IS NOT NULL", Overload{Params: []ParamType{Any}, Ret: Exact(tBool), Func: FuncIsNotNull})
	isTrue := func(d repr.Datum) bool { return !d.IsNull() && d.Bool() }
	isFalse := func(d repr.Datum) bool { return !d.IsNull() && !d.Bool() }
	for name, fn := range map[string]func(repr.Datum) bool{
		"IS TRUE":        isTrue,
		"IS NOT TRUE":    func(d repr.Datum) bool { return !isTrue(d) },
		"IS FALSE":       isFalse,
		"IS NOT FALSE":   func(d repr.Datum) bool { return !isFalse(d) },
		"IS UNKNOWN":     func(d repr.Datum) bool { return d.IsNull() },
		"IS NOT UNKNOWN": func(d repr.Datum) bool { return !d.IsNull() },
	} {
		addOverload(unopCatalog, name, Overload{Params: []ParamType{Exact(tBool)}, Ret: Exact(tBool), Func: boolTest(name, fn)})
	}
	// IS [NOT] DISTINCT FROM: never NULL.
	distinct := func(not bool) func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
		name := "IS DISTINCT FROM"
		if not {
			name = "IS NOT DISTINCT FROM"
		}
		return func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			return &Func{Name: name, Infix: true, Ret: ret, Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				eq := repr.Equal(a[0], a[1])
				return repr.BoolDatum(eq == not), nil
			}}, nil
		}
	}
	defPoly(binopCatalog, "IS DISTINCT FROM", []ParamType{AnyCompatible, AnyCompatible}, Exact(tBool), false, distinct(false))
	defPoly(binopCatalog, "IS NOT DISTINCT FROM", []ParamType{AnyCompatible, AnyCompatible}, Exact(tBool), false, distinct(true))

	// x op ANY (array) / x op ALL (array), with SQL's NULL rules: ANY is
	// true if some comparison is true, else NULL if some was NULL;
	// ALL is false if some comparison is false, else NULL if some was
	// NULL.
	for _, c := range cmpOps {
		for _, all := range []bool{false, true} {
			name := c.op + " ANY"
			if all {
				name = c.op + " ALL"
			}
			test := c.test
			isAll := all
			fname := name
			defPoly(binopCatalog, name, []ParamType{AnyCompatible, AnyCompatibleArray}, Exact(tBool), false,
				func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
					return &Func{Name: fname, Infix: true, Ret: ret, Strict: true, Nullable: true,
						Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
							return quantified(a[0], a[1], test, isAll), nil
						}}, nil
				})
		}
	}

	// coalesce(anycompatible...), nullif(anycompatible, anycompatible).
	defPoly(funcCatalog, "coalesce", []ParamType{AnyCompatible}, AnyCompatible, true,
		func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			f := *FuncCoalesce
			f.Ret = ret
			return &f, nil
		})
	defPoly(funcCatalog, "nullif", []ParamType{AnyCompatible, AnyCompatible}, AnyCompatible, false,
		func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			return &Func{Name: "nullif", Ret: ret, Nullable: true, NullableFn: func(args []repr.ColumnType) bool { return true },
				Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
					if !a[0].IsNull() && !a[1].IsNull() && repr.Compare(a[0], a[1]) == 0 {
						return repr.Null, nil
					}
					return a[0], nil
				}}, nil
		})
	// greatest/least ignore NULLs; NULL only when all are NULL.
	for _, name := range []string{"greatest", "least"} {
		greatest := name == "greatest"
		n := name
		defPoly(funcCatalog, name, []ParamType{AnyCompatible}, AnyCompatible, true,
			func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
				return &Func{Name: n, Ret: ret, NullableFn: allNullable, Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
					best := repr.Null
					for _, d := range a {
						if d.IsNull() {
							continue
						}
						if best.IsNull() {
							best = d
							continue
						}
						c := repr.Compare(d, best)
						if greatest && c > 0 || !greatest && c < 0 {
							best = d
						}
					}
					return best, nil
				}}, nil
			})
	}
}

// quantified evaluates x op ANY/ALL (arr).
func quantified(x, arr repr.Datum, test func(int) bool, all bool) repr.Datum {
	sawNull := false
	it := arr.ElementsRow().Iter()
	for {
		e, ok := it.Next()
		if !ok {
			break
		}
		if e.IsNull() {
			sawNull = true
			continue
		}
		r := test(repr.Compare(x, e))
		if !all && r {
			return repr.True
		}
		if all && !r {
			return repr.False
		}
	}
	if sawNull {
		return repr.Null
	}
	return repr.BoolDatum(all)
}
