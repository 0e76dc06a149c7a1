package expr

import (
	"fmt"
	"strings"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Scalar is a scalar expression over the columns of one input row (MIR's
// scalar language). Column references are positional. Scalars are immutable
// values: rewriting builds new nodes.
type Scalar interface {
	// Type returns the expression's type given the input's column types.
	Type(input []repr.ColumnType) repr.ColumnType
	// String prints the expression deterministically for EXPLAIN and golden
	// tests, columns as #0, #1, ...
	String() string
	isScalar()
}

// Column references input column Index.
type Column struct {
	Index int
}

// Literal is a constant. When Err is set the literal is an error value: it
// evaluates to Err (constant folding of a failing expression yields one).
type Literal struct {
	Value repr.Datum
	Typ   repr.ColumnType
	Err   *pgcode.Error
}

// Call applies a function. Func is a resolved overload: its return type is
// fixed, and it says whether NULL arguments short-circuit to NULL.
type Call struct {
	Func *Func
	Args []Scalar
}

// If is CASE WHEN Cond THEN Then ELSE Else END. Only the chosen branch is
// evaluated, so an error in the other branch is not raised.
type If struct {
	Cond, Then, Else Scalar
}

// MzNow is mz_now(): the logical timestamp at which the expression is
// evaluated. The planner turns predicates comparing it to row columns into
// temporal filters; elsewhere it evaluates to the step's timestamp.
type MzNow struct{}

func (Column) isScalar()  {}
func (Literal) isScalar() {}
func (Call) isScalar()    {}
func (If) isScalar()      {}
func (MzNow) isScalar()   {}

// Type implements Scalar.
func (c Column) Type(in []repr.ColumnType) repr.ColumnType {
	if c.Index < 0 || c.Index >= len(in) {
		return repr.ColumnType{Type: repr.TypeUnknown, Nullable: true}
	}
	return in[c.Index]
}

// Type implements Scalar.
func (l Literal) Type([]repr.ColumnType) repr.ColumnType { return l.Typ }

// Type implements Scalar.
func (c Call) Type(in []repr.ColumnType) repr.ColumnType {
	nullable := c.Func.Nullable
	if c.Func.Strict && !nullable {
		for _, a := range c.Args {
			if a.Type(in).Nullable {
				nullable = true
				break
			}
		}
	}
	if c.Func.NullableFn != nil {
		args := make([]repr.ColumnType, len(c.Args))
		for i, a := range c.Args {
			args[i] = a.Type(in)
		}
		nullable = c.Func.NullableFn(args)
	}
	return repr.ColumnType{Type: c.Func.Ret, Nullable: nullable}
}

// Type implements Scalar.
func (e If) Type(in []repr.ColumnType) repr.ColumnType {
	t, f := e.Then.Type(in), e.Else.Type(in)
	typ := t.Type
	if typ.Kind == repr.KindNull {
		typ = f.Type
	}
	return repr.ColumnType{Type: typ, Nullable: t.Nullable || f.Nullable}
}

// Type implements Scalar.
func (MzNow) Type([]repr.ColumnType) repr.ColumnType {
	return repr.ColumnType{Type: repr.TypeNumeric}
}

// String implements Scalar.
func (c Column) String() string { return fmt.Sprintf("#%d", c.Index) }

// String implements Scalar.
func (l Literal) String() string {
	if l.Err != nil {
		return fmt.Sprintf("error(%q)", l.Err.Message)
	}
	if l.Value.IsNull() && l.Typ.Type.Kind != repr.KindNull {
		return "null::" + l.Typ.Type.String()
	}
	return l.Value.String()
}

// String implements Scalar.
func (c Call) String() string {
	if c.Func.Infix && len(c.Args) == 2 {
		return "(" + c.Args[0].String() + " " + c.Func.Name + " " + c.Args[1].String() + ")"
	}
	if c.Func.Postfix && len(c.Args) == 1 {
		return "(" + c.Args[0].String() + ") " + c.Func.Name
	}
	parts := make([]string, len(c.Args))
	for i, a := range c.Args {
		parts[i] = a.String()
	}
	return c.Func.Name + "(" + strings.Join(parts, ", ") + ")"
}

// String implements Scalar.
func (e If) String() string {
	return "case when " + e.Cond.String() + " then " + e.Then.String() + " else " + e.Else.String() + " end"
}

// String implements Scalar.
func (MzNow) String() string { return "mz_now()" }

// Func is one resolved function or operator overload.
type Func struct {
	// Name is how plans print it: an operator symbol ("+", "=", "~~") when
	// Infix, a function name ("lower", "abs"), or a cast ("text_to_int4").
	Name    string
	Infix   bool
	Postfix bool // e.g. IS NULL printed after its argument
	// Ret is the return type of this overload.
	Ret repr.ScalarType
	// Strict functions return NULL when any argument is NULL; Eval is not
	// called then.
	Strict bool
	// Nullable says the function may return NULL on non-NULL arguments.
	Nullable bool
	// NullableFn, when set, computes nullability from the argument types
	// instead of Strict/Nullable.
	NullableFn func(args []repr.ColumnType) bool
	// Volatility: Immutable functions may be folded at plan time;
	// Stable ones (now(), current_setting) read the EvalCtx; Volatile ones
	// (random()) may not appear in maintained views.
	Volatility Volatility
	// Eval computes the result from the argument values. It must not
	// retain args, which alias the evaluator's argument stack.
	Eval func(ctx *EvalCtx, args []repr.Datum) (repr.Datum, error)

	// special marks AND, OR and COALESCE, which Eval evaluates lazily.
	special special
}

// Volatility classifies functions as PostgreSQL does.
type Volatility uint8

// Volatilities.
const (
	Immutable Volatility = iota
	Stable
	Volatile
)

// EvalCtx carries what evaluation may read beyond the row: the session's
// time zone, the statement's wall-clock time (now()), the logical time
// (mz_now()), and the hook through which a session acts on others
// (pg_cancel_backend).
type EvalCtx struct {
	TimeZone   string
	StmtTime   int64 // microseconds since the Unix epoch
	LogicalNow repr.Timestamp
	// Backends is the session's control of other sessions; nil where
	// there is none (maintained views, constants), and the functions that
	// need it fail there.
	Backends Backends
	// Done is closed when the statement being evaluated is cancelled
	// (CancelRequest, statement_timeout, a closed connection); nil where
	// nothing cancels it. pg_sleep waits on it.
	Done <-chan struct{}

	// stack stages call arguments during evaluation (see Eval).
	stack []repr.Datum
	// positions indexes the array array_position last searched.
	positions *positionIndex
}

// Fork returns a copy of ctx for another goroutine: the same settings,
// its own evaluation scratch.
func (ctx *EvalCtx) Fork() EvalCtx {
	c := *ctx
	c.stack, c.positions = nil, nil
	return c
}
