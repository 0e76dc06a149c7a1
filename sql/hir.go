package sql

import (
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// HRel is a HIR relation expression. Its scalars may contain subqueries
// and references to columns of enclosing scopes (Level > 0).
type HRel interface {
	// Cols returns the output column types.
	Cols() []repr.ColumnType
	hrel()
}

// HScalar is a HIR scalar expression.
type HScalar interface {
	// Typ returns the expression's type (resolved at build time).
	Typ() repr.ColumnType
	hscalar()
}

// HGet reads a catalog collection or a Let binding (Local != 0).
type HGet struct {
	ID    plan.GlobalID
	Local plan.LocalID
	Name  string
	Typ   []repr.ColumnType
	Keys  [][]int
}

// HConstant is a literal collection (VALUES of literals; the unit relation
// with one empty row is HConstant{Rows: [[]]}).
type HConstant struct {
	Rows [][]repr.Datum
	Typ  []repr.ColumnType
}

// HMap appends the values of Scalars; each may read the columns before it.
type HMap struct {
	Input   HRel
	Scalars []HScalar
}

// HFilter keeps rows for which every predicate is true.
type HFilter struct {
	Input HRel
	Preds []HScalar
}

// HProject keeps the listed columns.
type HProject struct {
	Input   HRel
	Outputs []int
}

// HCallTable is a set-returning function called in FROM; its arguments
// may reference enclosing scopes (LATERAL). WithOrdinality appends an
// ordinality column.
type HCallTable struct {
	Func *expr.TableFunc
	Args []HScalar
}

// JoinKind is the kind of a HIR join.
type JoinKind uint8

// Join kinds.
const (
	JoinInner JoinKind = iota
	JoinLeft
	JoinRight
	JoinFull
)

var joinKindNames = [...]string{"inner", "left", "right", "full"}

// HJoin joins Left and Right on On. Right may reference Left's columns at
// Level 1 (LATERAL); Lateral records whether it does.
type HJoin struct {
	Left, Right HRel
	On          HScalar
	Kind        JoinKind
	Lateral     bool
}

// HAgg is one aggregate of HReduce.
type HAgg struct {
	Func     expr.AggregateFunc
	Args     []HScalar // evaluated over the input; record-packed for two-argument aggregates
	Distinct bool
	Filter   HScalar // FILTER (WHERE ...), nil when absent
	OrderBy  []HOrderKey
	Typ      repr.ColumnType
}

// HOrderKey orders by an expression over the input.
type HOrderKey struct {
	Expr  HScalar
	Order repr.SortOrder
}

// HReduce groups by GroupKey columns and computes Aggs: output is the key
// columns then the aggregates. Global (no key) aggregates output one row
// even over empty input.
type HReduce struct {
	Input    HRel
	GroupKey []int
	Aggs     []HAgg
}

// HDistinct removes duplicate rows.
type HDistinct struct{ Input HRel }

// HTopK keeps rows Offset..Offset+Limit-1 per group by Order; Limit < 0 is
// no limit.
type HTopK struct {
	Input    HRel
	GroupKey []int
	Order    []plan.ColumnOrder
	Limit    int64
	Offset   int64
}

// HNegate negates multiplicities.
type HNegate struct{ Input HRel }

// HThreshold keeps positive multiplicities.
type HThreshold struct{ Input HRel }

// HUnion sums its inputs.
type HUnion struct{ Inputs []HRel }

// HLet binds Value to ID in Body (a CTE used more than once).
type HLet struct {
	ID    plan.LocalID
	Name  string
	Value HRel
	Body  HRel
}

// HLetRec binds recursive CTEs.
type HLetRec struct {
	IDs    []plan.LocalID
	Names  []string
	Values []HRel
	Types  [][]repr.ColumnType
	Body   HRel
}

// HWindowFunc is one window function call.
type HWindowFunc struct {
	Name  string
	Args  []HScalar
	Agg   *HAgg
	Frame *expr.WindowFrame // nil: the default frame
	Typ   repr.ColumnType
}

// HWindow appends window function values, partitioned by PartitionBy and
// ordered by OrderBy (columns of Input).
type HWindow struct {
	Input       HRel
	PartitionBy []int
	OrderBy     []plan.ColumnOrder
	Funcs       []HWindowFunc
}

// HColumn references column Index of the scope Level levels out.
type HColumn struct {
	Level int
	Index int
	Type  repr.ColumnType
}

// HLiteral is a constant.
type HLiteral struct {
	Value repr.Datum
	Type  repr.ColumnType
}

// HCall applies a resolved function.
type HCall struct {
	Func *expr.Func
	Args []HScalar
}

// HIf is CASE WHEN Cond THEN Then ELSE Else END.
type HIf struct {
	Cond, Then, Else HScalar
}

// HMzNow is mz_now().
type HMzNow struct{}

// HParam is $N (1-based).
type HParam struct {
	N    int
	Type repr.ColumnType
}

// HExists is EXISTS (subquery).
type HExists struct{ Rel HRel }

// HSelect is a scalar subquery: its single column's value, NULL when it
// has no rows, an error (21000) when it has more than one.
type HSelect struct {
	Rel  HRel
	Type repr.ColumnType
}

// HError is an expression that evaluates to an error.
type HError struct {
	Err  error
	Type repr.ColumnType
}

func (HGet) hrel()       {}
func (HConstant) hrel()  {}
func (HMap) hrel()       {}
func (HFilter) hrel()    {}
func (HProject) hrel()   {}
func (HCallTable) hrel() {}
func (HJoin) hrel()      {}
func (HReduce) hrel()    {}
func (HDistinct) hrel()  {}
func (HTopK) hrel()      {}
func (HNegate) hrel()    {}
func (HThreshold) hrel() {}
func (HUnion) hrel()     {}
func (HLet) hrel()       {}
func (HLetRec) hrel()    {}
func (HWindow) hrel()    {}

func (HColumn) hscalar()  {}
func (HLiteral) hscalar() {}
func (HCall) hscalar()    {}
func (HIf) hscalar()      {}
func (HMzNow) hscalar()   {}
func (HParam) hscalar()   {}
func (HExists) hscalar()  {}
func (HSelect) hscalar()  {}
func (HError) hscalar()   {}

// Cols implements HRel.
func (r HGet) Cols() []repr.ColumnType      { return r.Typ }
func (r HConstant) Cols() []repr.ColumnType { return r.Typ }
func (r HMap) Cols() []repr.ColumnType {
	cols := append([]repr.ColumnType(nil), r.Input.Cols()...)
	for _, s := range r.Scalars {
		cols = append(cols, s.Typ())
	}
	return cols
}
func (r HFilter) Cols() []repr.ColumnType { return r.Input.Cols() }
func (r HProject) Cols() []repr.ColumnType {
	in := r.Input.Cols()
	out := make([]repr.ColumnType, len(r.Outputs))
	for i, c := range r.Outputs {
		out[i] = in[c]
	}
	return out
}
func (r HCallTable) Cols() []repr.ColumnType { return r.Func.Cols }
func (r HJoin) Cols() []repr.ColumnType {
	l, rt := r.Left.Cols(), r.Right.Cols()
	out := make([]repr.ColumnType, 0, len(l)+len(rt))
	for _, c := range l {
		if r.Kind == JoinRight || r.Kind == JoinFull {
			c.Nullable = true
		}
		out = append(out, c)
	}
	for _, c := range rt {
		if r.Kind == JoinLeft || r.Kind == JoinFull {
			c.Nullable = true
		}
		out = append(out, c)
	}
	return out
}
func (r HReduce) Cols() []repr.ColumnType {
	in := r.Input.Cols()
	var out []repr.ColumnType
	for _, k := range r.GroupKey {
		out = append(out, in[k])
	}
	for _, a := range r.Aggs {
		out = append(out, a.Typ)
	}
	return out
}
func (r HDistinct) Cols() []repr.ColumnType  { return r.Input.Cols() }
func (r HTopK) Cols() []repr.ColumnType      { return r.Input.Cols() }
func (r HNegate) Cols() []repr.ColumnType    { return r.Input.Cols() }
func (r HThreshold) Cols() []repr.ColumnType { return r.Input.Cols() }
func (r HUnion) Cols() []repr.ColumnType {
	out := append([]repr.ColumnType(nil), r.Inputs[0].Cols()...)
	for _, in := range r.Inputs[1:] {
		for i, c := range in.Cols() {
			if c.Nullable {
				out[i].Nullable = true
			}
		}
	}
	return out
}
func (r HLet) Cols() []repr.ColumnType    { return r.Body.Cols() }
func (r HLetRec) Cols() []repr.ColumnType { return r.Body.Cols() }
func (r HWindow) Cols() []repr.ColumnType {
	cols := append([]repr.ColumnType(nil), r.Input.Cols()...)
	for _, f := range r.Funcs {
		cols = append(cols, f.Typ)
	}
	return cols
}

// Typ implements HScalar.
func (e HColumn) Typ() repr.ColumnType  { return e.Type }
func (e HLiteral) Typ() repr.ColumnType { return e.Type }
func (e HCall) Typ() repr.ColumnType {
	in := make([]repr.ColumnType, len(e.Args))
	args := make([]expr.Scalar, len(e.Args))
	for i, a := range e.Args {
		in[i] = a.Typ()
		args[i] = expr.Column{Index: i}
	}
	return expr.Call{Func: e.Func, Args: args}.Type(in)
}
func (e HIf) Typ() repr.ColumnType {
	t, f := e.Then.Typ(), e.Else.Typ()
	typ := t.Type
	if typ.Kind == repr.KindNull {
		typ = f.Type
	}
	return repr.ColumnType{Type: typ, Nullable: t.Nullable || f.Nullable}
}
func (HMzNow) Typ() repr.ColumnType    { return repr.ColumnType{Type: repr.TypeNumeric} }
func (e HParam) Typ() repr.ColumnType  { return e.Type }
func (HExists) Typ() repr.ColumnType   { return repr.ColumnType{Type: repr.TypeBool} }
func (e HSelect) Typ() repr.ColumnType { return e.Type }
func (e HError) Typ() repr.ColumnType  { return e.Type }
