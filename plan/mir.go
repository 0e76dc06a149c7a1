package plan

import (
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// GlobalID names a catalog object whose collection a plan reads (a table,
// source, view, materialized view or index), as the coordinator assigns it.
type GlobalID uint64

// LocalID names a Let binding within one plan.
type LocalID uint64

// Rel is a MIR relation expression: relational algebra over collections
// (multisets with signed multiplicities). Nodes are immutable values;
// optimisation rewrites build new trees. Column references inside scalar
// expressions are positional over the node's input (for Join, over the
// concatenation of its inputs' columns).
type Rel interface {
	// Typ returns the node's column types and unique keys.
	Typ() RelType
	isRel()
}

// RelType is the output type of a relation: column types and the column
// sets known to be unique keys.
type RelType struct {
	Cols []repr.ColumnType
	Keys [][]int
}

// Arity returns the number of columns.
func (t RelType) Arity() int { return len(t.Cols) }

// Get reads a catalog collection (Global) or a Let binding (Local). Exactly
// one of Global and Local is set; Local is non-zero when binding-local.
type Get struct {
	Global GlobalID
	Local  LocalID
	// Name is the object's qualified name, for printing.
	Name string
	Type RelType
}

// ConstRow is one row of a Constant with its multiplicity.
type ConstRow struct {
	Row  repr.Row
	Diff repr.Diff
}

// Constant is a literal collection. Err, when set, makes the collection an
// error (constant folding of a failing expression).
type Constant struct {
	Rows []ConstRow
	Type RelType
	Err  error
}

// Map appends the values of Scalars (each may read earlier ones) as new
// columns.
type Map struct {
	Input   Rel
	Scalars []expr.Scalar
}

// Filter keeps the rows for which every predicate is true.
type Filter struct {
	Input      Rel
	Predicates []expr.Scalar
}

// Project keeps the listed columns, in order (columns may repeat).
type Project struct {
	Input   Rel
	Outputs []int
}

// FlatMap appends, for each input row, each row the table function emits
// for its arguments; an input row with no output rows disappears.
type FlatMap struct {
	Input Rel
	Func  *expr.TableFunc
	Args  []expr.Scalar
}

// Join is an n-way inner join. Equivalences are classes of expressions over
// the concatenated columns of Inputs that must all be equal (NULL never
// equals anything); other conditions are Filters above the Join, which the
// optimiser pushes into it. Implementation is chosen by the planner.
type Join struct {
	Inputs         []Rel
	Equivalences   [][]expr.Scalar
	Implementation JoinImplementation
}

// JoinImplementation records the join plan chosen during optimisation.
type JoinImplementation struct {
	Kind JoinKind
	// Order, for a linear join, lists the inputs in join order with the
	// key each is arranged by; for a delta join, one such order per input
	// (the path starting at that input).
	Paths [][]JoinStage
}

// JoinKind is the join strategy.
type JoinKind uint8

// Join strategies.
const (
	Unimplemented JoinKind = iota
	LinearJoin
	DeltaJoin
)

// JoinStage is one lookup in a join path: input Input, arranged by Key
// (expressions over that input's columns).
type JoinStage struct {
	Input int
	Key   []expr.Scalar
}

// Reduce groups its input by GroupKey (expressions over the input) and
// computes Aggregates per group; the output is the group key columns
// followed by the aggregates. A Reduce with no aggregates is DISTINCT.
// With an empty GroupKey and no input rows it outputs nothing (SQL's
// one-row result for a global aggregate is built by the lowering).
type Reduce struct {
	Input      Rel
	GroupKey   []expr.Scalar
	Aggregates []expr.Aggregate
	// ExpectedGroupSize, when known, sizes hierarchical min/max.
	ExpectedGroupSize uint64
}

// ColumnOrder is one sort key of TopK: a column and its direction.
type ColumnOrder struct {
	Column int
	Order  repr.SortOrder
}

// TopK keeps, per group of GroupKey columns, the rows ranked Offset to
// Offset+Limit-1 by Order (ties broken by the whole row, so the result is
// deterministic). Limit < 0 means no limit.
type TopK struct {
	Input    Rel
	GroupKey []int
	Order    []ColumnOrder
	Limit    int64
	Offset   int64
}

// Negate flips the sign of every multiplicity.
type Negate struct {
	Input Rel
}

// Threshold keeps rows with positive multiplicity (at that multiplicity):
// with Negate and Union it builds EXCEPT [ALL] and INTERSECT [ALL].
type Threshold struct {
	Input Rel
}

// Union sums its inputs' collections; all inputs have the same type.
type Union struct {
	Inputs []Rel
}

// ArrangeBy asks for its input to be arranged by each of Keys (lists of
// expressions over the input's columns); it does not change the collection.
type ArrangeBy struct {
	Input Rel
	Keys  [][]expr.Scalar
}

// Let binds Value to ID within Body.
type Let struct {
	ID    LocalID
	Name  string
	Value Rel
	Body  Rel
}

// LetRec binds mutually recursive values (WITH RECURSIVE): the bindings are
// iterated to a fixed point within each step; Body reads the fixed point.
type LetRec struct {
	IDs    []LocalID
	Names  []string
	Values []Rel
	Types  []RelType
	Body   Rel
}

// WindowFunc is one window function of a Window node.
type WindowFunc struct {
	// Name: row_number, rank, dense_rank, percent_rank, cume_dist, lag,
	// lead, first_value, last_value, or an aggregate used as a window
	// function (sum, count, avg, min, max).
	Name string
	// Args are expressions over the input (lag/lead: value, offset,
	// default).
	Args []expr.Scalar
	// Aggregate is set when Name is an aggregate. Its Filter is nil: the
	// window aggregates (sum, count, avg, min, max) skip NULLs, so sql
	// folds FILTER (WHERE p) into the argument, CASE WHEN p THEN x END
	// (count(*) becomes count of CASE WHEN p THEN 1 END).
	Aggregate *expr.Aggregate
	// Frame is the frame clause of an aggregate, first_value or
	// last_value; nil is the default frame (RANGE UNBOUNDED PRECEDING to
	// CURRENT ROW with peers when ordered, the whole partition otherwise).
	Frame *expr.WindowFrame
	Typ   repr.ColumnType
}

// String prints the call as EXPLAIN shows it: name(args) and the frame
// when it is not the default.
func (f WindowFunc) String() string {
	s := f.Name + "(" + joinScalars(f.Args, ", ") + ")"
	if f.Frame != nil {
		s += " " + f.Frame.String()
	}
	return s
}

// Window appends the value of each window function to every input row,
// computed over the row's partition (PartitionBy columns) ordered by
// OrderBy. Maintained by re-deriving each changed partition.
type Window struct {
	Input       Rel
	PartitionBy []int
	OrderBy     []ColumnOrder
	Funcs       []WindowFunc
}

func (Get) isRel()       {}
func (Constant) isRel()  {}
func (Map) isRel()       {}
func (Filter) isRel()    {}
func (Project) isRel()   {}
func (FlatMap) isRel()   {}
func (Join) isRel()      {}
func (Reduce) isRel()    {}
func (TopK) isRel()      {}
func (Negate) isRel()    {}
func (Threshold) isRel() {}
func (Union) isRel()     {}
func (ArrangeBy) isRel() {}
func (Let) isRel()       {}
func (LetRec) isRel()    {}
func (Window) isRel()    {}
