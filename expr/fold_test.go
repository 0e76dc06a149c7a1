package expr

import (
	"math/rand"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

func boolLit(b bool) Scalar { return NewLiteral(repr.BoolDatum(b), repr.TypeBool) }

func nullBool() Scalar { return NullLiteral(repr.TypeBool) }

func TestFoldConstants(t *testing.T) {
	divZero := op(t, "/", i4(1), i4(0))
	gt := func(a Scalar) Scalar { return op(t, ">", a, i4(0)) }
	cases := []struct {
		name string
		in   Scalar
		want string
	}{
		{"arith", op(t, "+", i4(1), op(t, "*", i4(2), i4(3))), "7"},
		{"column kept", op(t, "+", col(0), op(t, "*", i4(2), i4(3))), "(#0 + 6)"},
		{"error literal", divZero, `error("division by zero")`},
		{"strict null", op(t, "+", col(0), NullLiteral(repr.TypeInt4)), "null::integer"},
		{"and true", And(boolLit(true), gt(col(0))), "(#0 > 0)"},
		{"and false absorbs", And(gt(col(0)), boolLit(false)), "false"},
		// PostgreSQL simplifies AND/OR arguments left to right: an
		// error before the absorbing literal fails, one after it does
		// not.
		{"and error before false", And(gt(divZero), boolLit(false)), `error("division by zero")`},
		{"or error before true", Or(gt(divZero), boolLit(true)), `error("division by zero")`},
		{"and false before error", And(boolLit(false), gt(divZero)), "false"},
		{"or true before error", Or(gt(col(0)), boolLit(true), gt(divZero)), "true"},
		{"and null stays", And(gt(col(0)), nullBool()), "and((#0 > 0), null::boolean)"},
		{"and null null", And(nullBool(), nullBool()), "null::boolean"},
		{"and error null", And(gt(divZero), nullBool()), `error("division by zero")`},
		{"or false drop", Or(boolLit(false), gt(col(1)), boolLit(false)), "(#1 > 0)"},
		{"nested and flattens", And(gt(col(0)), And(gt(col(1)), boolLit(true))), "and((#0 > 0), (#1 > 0))"},
		{"if true", If{Cond: boolLit(true), Then: col(0), Else: divZero}, "#0"},
		{"if null", If{Cond: nullBool(), Then: divZero, Else: col(1)}, "#1"},
		// A CASE whose condition is not constant has both branches
		// simplified: PostgreSQL fails on the constant 1/0.
		{"if branch error fails", If{Cond: gt(col(0)), Then: divZero, Else: i4(1)}, `error("division by zero")`},
		{"if false skips branch", If{Cond: boolLit(false), Then: divZero, Else: col(0)}, "#0"},
		// The example: the inner overflow is simplified before
		// the strict division by NULL is.
		{"strict null after error", NewCoalesce(repr.TypeInt4,
			op(t, "/", NewCoalesce(repr.TypeInt4, op(t, "+", i4(2147483647), i4(1)), i4(0)), NullLiteral(repr.TypeInt4)), i4(5)),
			`error("integer out of range")`},
		{"strict null over column error", op(t, "+", op(t, "/", i4(1), col(0)), NullLiteral(repr.TypeInt4)), "null::integer"},
		{"coalesce leading nulls", NewCoalesce(repr.TypeInt4, NullLiteral(repr.TypeInt4), col(0), i4(5), col(1)), "coalesce(#0, 5)"},
		{"coalesce literal first", NewCoalesce(repr.TypeInt4, NullLiteral(repr.TypeInt4), i4(5), divZero), "5"},
		{"coalesce all null", NewCoalesce(repr.TypeInt4, NullLiteral(repr.TypeInt4)), "null::integer"},
		{"mz_now kept", op(t, "+", i4(1), i4(1)), "2"},
	}
	for _, c := range cases {
		got := FoldConstants(c.in, nil).String()
		if got != c.want {
			t.Errorf("%s: FoldConstants(%s) = %s, want %s", c.name, c.in, got, c.want)
		}
	}
}

func TestFoldKeepsVolatileAndMzNow(t *testing.T) {
	res, err := Resolve("random", LookupFunc("random"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := Call{Func: res.Func}
	if got := FoldConstants(r, nil); got.String() != r.String() {
		t.Fatalf("random() folded to %s", got)
	}
	if got := FoldConstants(MzNow{}, nil); got.String() != "mz_now()" {
		t.Fatalf("mz_now() folded to %s", got)
	}
	if MaxVolatility(r) != Volatile || MaxVolatility(MzNow{}) != Stable || !ContainsMzNow(If{Cond: boolLit(true), Then: MzNow{}, Else: MzNow{}}) {
		t.Fatal("volatility helpers")
	}
}

func TestFoldErrorLiteralCode(t *testing.T) {
	l, ok := FoldConstants(op(t, "+", i4(2147483647), i4(1)), nil).(Literal)
	if !ok || l.Err == nil || l.Err.Code != pgcode.NumericValueOutOfRange || l.Err.Message != "integer out of range" {
		t.Fatalf("got %#v", l)
	}
	if _, err := Eval(nil, l, nil); pgcode.Of(err) != pgcode.NumericValueOutOfRange {
		t.Fatalf("evaluating the error literal: %v", err)
	}
}

// refFold is TestFoldPreservesEvaluation's oracle, written apart from
// fold.go: PostgreSQL's eval_const_expressions over the expressions that
// test builds. It simplifies arguments before their calls, left to right;
// an error simplifying a constant call fails the statement (returned as
// err); AND/OR stop at an absorbing literal and COALESCE at a non-NULL
// literal, CASE takes the branch of a literal condition, all without
// simplifying what they skip; a strict call with a NULL literal argument
// is NULL.
func refFold(e Scalar) (Scalar, error) {
	lit := func(s Scalar) (Literal, bool) { l, ok := s.(Literal); return l, ok && l.Err == nil }
	isNull := func(s Scalar) bool { l, ok := lit(s); return ok && l.Value.IsNull() }
	switch n := e.(type) {
	case Literal:
		if n.Err != nil {
			return nil, n.Err
		}
		return n, nil
	case If:
		c, err := refFold(n.Cond)
		if err != nil {
			return nil, err
		}
		if l, ok := lit(c); ok {
			if !l.Value.IsNull() && l.Value.Bool() {
				return refFold(n.Then)
			}
			return refFold(n.Else)
		}
		th, err := refFold(n.Then)
		if err != nil {
			return nil, err
		}
		el, err := refFold(n.Else)
		if err != nil {
			return nil, err
		}
		return If{Cond: c, Then: th, Else: el}, nil
	case Call:
		if n.Func == nil {
			return n, nil
		}
		switch n.Func.special {
		case specialAnd, specialOr:
			absorb := n.Func.special == specialOr
			var kept []Scalar
			sawNull := false
			for _, a := range n.Args {
				x, err := refFold(a)
				if err != nil {
					return nil, err
				}
				if l, ok := lit(x); ok {
					switch {
					case l.Value.IsNull():
						sawNull = true
					case l.Value.Bool() == absorb:
						return NewLiteral(repr.BoolDatum(absorb), repr.TypeBool), nil
					}
					continue
				}
				kept = append(kept, x)
			}
			if sawNull {
				kept = append(kept, NullLiteral(repr.TypeBool))
			}
			switch len(kept) {
			case 0:
				return NewLiteral(repr.BoolDatum(!absorb), repr.TypeBool), nil
			case 1:
				return kept[0], nil
			}
			return Call{Func: n.Func, Args: kept}, nil
		case specialCoalesce:
			var kept []Scalar
			for _, a := range n.Args {
				x, err := refFold(a)
				if err != nil {
					return nil, err
				}
				if isNull(x) {
					continue
				}
				kept = append(kept, x)
				if _, ok := lit(x); ok {
					break
				}
			}
			switch len(kept) {
			case 0:
				return NullLiteral(n.Func.Ret), nil
			case 1:
				return kept[0], nil
			}
			return Call{Func: n.Func, Args: kept}, nil
		}
		args := make([]Scalar, len(n.Args))
		allLit, anyNull := true, false
		for i, a := range n.Args {
			x, err := refFold(a)
			if err != nil {
				return nil, err
			}
			args[i] = x
			_, ok := lit(x)
			allLit = allLit && ok
			anyNull = anyNull || isNull(x)
		}
		if n.Func.Strict && anyNull {
			return NullLiteral(n.Func.Ret), nil
		}
		c := Call{Func: n.Func, Args: args}
		if allLit && n.Func.Volatility == Immutable {
			d, err := Eval(&EvalCtx{}, c, nil)
			if err != nil {
				return nil, err
			}
			return NewLiteral(d, n.Func.Ret), nil
		}
		return c, nil
	}
	return e, nil
}

// TestFoldPreservesEvaluation builds random expressions over two int4
// columns (arithmetic that can overflow or divide by zero, comparisons,
// AND/OR/NOT, CASE, COALESCE, NULL literals) and checks that evaluating the
// folded expression gives the same value or the same SQLSTATE as the
// original, on random rows.
func TestFoldPreservesEvaluation(t *testing.T) {
	rng := rand.New(rand.NewSource(99))
	var intExpr, boolExpr func(depth int) Scalar
	intExpr = func(depth int) Scalar {
		if depth > 3 {
			switch rng.Intn(4) {
			case 0:
				return NullLiteral(repr.TypeInt4)
			case 1:
				return col(rng.Intn(2))
			}
			return i4([]int32{0, 1, -1, 2, 2147483647, -2147483648}[rng.Intn(6)])
		}
		switch rng.Intn(6) {
		case 0, 1:
			return op(t, []string{"+", "-", "*", "/", "%"}[rng.Intn(5)], intExpr(depth+1), intExpr(depth+1))
		case 2:
			return If{Cond: boolExpr(depth + 1), Then: intExpr(depth + 1), Else: intExpr(depth + 1)}
		case 3:
			return NewCoalesce(repr.TypeInt4, intExpr(depth+1), intExpr(depth+1), intExpr(depth+1))
		}
		return intExpr(4)
	}
	boolExpr = func(depth int) Scalar {
		if depth > 3 {
			switch rng.Intn(3) {
			case 0:
				return nullBool()
			case 1:
				return boolLit(rng.Intn(2) == 0)
			}
			return op(t, "<", col(0), col(1))
		}
		switch rng.Intn(5) {
		case 0:
			return And(boolExpr(depth+1), boolExpr(depth+1), boolExpr(depth+1))
		case 1:
			return Or(boolExpr(depth+1), boolExpr(depth+1))
		case 2:
			return Not(boolExpr(depth + 1))
		}
		return op(t, []string{"<", "=", ">="}[rng.Intn(3)], intExpr(depth+1), intExpr(depth+1))
	}
	outcome := func(e Scalar, row []repr.Datum) string {
		d, err := Eval(&EvalCtx{}, e, row)
		if err != nil {
			return "error " + string(pgcode.Of(err))
		}
		return d.String()
	}
	folds := 0
	for i := 0; i < 2000; i++ {
		var e Scalar
		if rng.Intn(2) == 0 {
			e = intExpr(0)
		} else {
			e = boolExpr(0)
		}
		f := FoldConstants(e, nil)
		if f.String() != e.String() {
			folds++
		}
		ref, refErr := refFold(e)
		for r := 0; r < 4; r++ {
			row := []repr.Datum{repr.Int4Datum(int32(rng.Intn(5) - 2)), repr.Int4Datum(int32(rng.Intn(5) - 2))}
			if rng.Intn(4) == 0 {
				row[rng.Intn(2)] = repr.Null
			}
			// The folded expression evaluates exactly as PostgreSQL
			// would run the original: its planner's simplification
			// (refFold; an error there fails the statement), then
			// evaluation.
			want := "error " + string(pgcode.Of(refErr))
			if refErr == nil {
				want = outcome(ref, row)
			}
			if got := outcome(f, row); got != want {
				t.Fatalf("%s folds to %s, PostgreSQL's order to %v (%v); on %v: %s, want %s", e, f, ref, refErr, row, got, want)
			}
		}
	}
	if folds < 500 {
		t.Fatalf("only %d of 2000 expressions changed under folding", folds)
	}
}
