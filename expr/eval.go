package expr

import (
	"fmt"

	"github.com/cockroachdb/apd/v3"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// special marks functions whose evaluation is not "evaluate every argument,
// then call Eval": the boolean connectives and COALESCE evaluate their
// arguments lazily so that an error in an argument whose value cannot
// matter is not raised.
type special uint8

const (
	specialNone special = iota
	specialAnd
	specialOr
	specialCoalesce
)

// Eval evaluates e over row (the input's datums, indexed by Column).
//
// Column references, literals, integer arithmetic and comparisons do not
// allocate: function arguments are evaluated into a stack kept in ctx, so
// one EvalCtx must not be used by two goroutines at once. A nil ctx is
// allowed (a fresh context is used, at the cost of allocation).
func Eval(ctx *EvalCtx, e Scalar, row []repr.Datum) (repr.Datum, error) {
	switch e := e.(type) {
	case Column:
		if e.Index < 0 || e.Index >= len(row) {
			return repr.Null, errColumn(e.Index, len(row))
		}
		return row[e.Index], nil
	case *Column:
		return Eval(ctx, *e, row)
	case Literal:
		if e.Err != nil {
			return repr.Null, e.Err
		}
		return e.Value, nil
	case *Literal:
		return Eval(ctx, *e, row)
	case Call:
		if ctx == nil {
			ctx = &EvalCtx{}
		}
		return ctx.evalCall(e.Func, e.Args, row)
	case *Call:
		return Eval(ctx, *e, row)
	case If:
		c, err := Eval(ctx, e.Cond, row)
		if err != nil {
			return repr.Null, err
		}
		if !c.IsNull() && c.Bool() {
			return Eval(ctx, e.Then, row)
		}
		return Eval(ctx, e.Else, row)
	case *If:
		return Eval(ctx, *e, row)
	case MzNow, *MzNow:
		if ctx == nil {
			return repr.NumericDatum(apd.New(0, 0)), nil
		}
		var d apd.Decimal
		d.SetFinite(0, 0)
		d.Coeff.SetUint64(uint64(ctx.LogicalNow))
		return repr.NumericDatum(&d), nil
	case nil:
		return repr.Null, pgcode.New(pgcode.InternalError, "expr: nil scalar expression")
	}
	return repr.Null, pgcode.New(pgcode.InternalError, "expr: cannot evaluate %T", e)
}

// nilIfNoErr converts a nil *pgcode.Error to a nil error.
func nilIfNoErr(e *pgcode.Error) error {
	if e == nil {
		return nil
	}
	return e
}

func errColumn(i, n int) error {
	return pgcode.New(pgcode.InternalError, "expr: column #%d out of range for a row of %d columns", i, n)
}

// EvalBool evaluates a predicate: true only when e is TRUE (NULL and FALSE
// are false).
func EvalBool(ctx *EvalCtx, e Scalar, row []repr.Datum) (bool, error) {
	d, err := Eval(ctx, e, row)
	if err != nil {
		return false, err
	}
	return !d.IsNull() && d.Bool(), nil
}

// evalCall evaluates a function call: arguments go on ctx's stack, so that
// nested calls neither allocate nor clobber one another.
func (ctx *EvalCtx) evalCall(f *Func, args []Scalar, row []repr.Datum) (repr.Datum, error) {
	if f == nil {
		return repr.Null, pgcode.New(pgcode.InternalError, "expr: call of a nil function")
	}
	switch f.special {
	case specialAnd:
		return ctx.evalAndOr(args, row, false)
	case specialOr:
		return ctx.evalAndOr(args, row, true)
	case specialCoalesce:
		for _, a := range args {
			d, err := Eval(ctx, a, row)
			if err != nil || !d.IsNull() {
				return d, err
			}
		}
		return repr.Null, nil
	}
	base := len(ctx.stack)
	for _, a := range args {
		var d repr.Datum
		var err error
		// Column and literal arguments, the common case, are read here
		// rather than through a recursive Eval call.
		switch x := a.(type) {
		case Column:
			if x.Index < 0 || x.Index >= len(row) {
				err = errColumn(x.Index, len(row))
			} else {
				d = row[x.Index]
			}
		case Literal:
			d, err = x.Value, nilIfNoErr(x.Err)
		default:
			d, err = Eval(ctx, a, row)
		}
		if err != nil {
			ctx.stack = ctx.stack[:base]
			return repr.Null, err
		}
		if d.IsNull() && f.Strict {
			ctx.stack = ctx.stack[:base]
			return repr.Null, nil
		}
		ctx.stack = append(ctx.stack, d)
	}
	if f.Eval == nil {
		ctx.stack = ctx.stack[:base]
		return repr.Null, pgcode.New(pgcode.InternalError, "expr: function %s has no implementation", f.Name)
	}
	d, err := f.Eval(ctx, ctx.stack[base:len(ctx.stack):len(ctx.stack)])
	// Clear the slots so that the stack does not pin row memory.
	clear(ctx.stack[base:])
	ctx.stack = ctx.stack[:base]
	return d, err
}

// evalAndOr is three-valued AND (or OR when or): the absorbing value
// (FALSE for AND, TRUE for OR) wins over NULL and over errors in other
// arguments, whatever their order; otherwise an error wins over NULL.
// Arguments after the absorbing value are not evaluated.
func (ctx *EvalCtx) evalAndOr(args []Scalar, row []repr.Datum, or bool) (repr.Datum, error) {
	var firstErr error
	sawNull := false
	for _, a := range args {
		d, err := Eval(ctx, a, row)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if d.IsNull() {
			sawNull = true
			continue
		}
		if d.Bool() == or {
			return d, nil
		}
	}
	if firstErr != nil {
		return repr.Null, firstErr
	}
	if sawNull {
		return repr.Null, nil
	}
	return repr.BoolDatum(!or), nil
}

// String returns a short description for logs.
func (ctx *EvalCtx) String() string {
	return fmt.Sprintf("EvalCtx{tz=%s stmt=%d now=%d}", ctx.TimeZone, ctx.StmtTime, ctx.LogicalNow)
}
