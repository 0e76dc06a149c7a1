package plan

import (
	"github.com/viewd/viewd/expr"
)

// LIR is the physical plan: every node corresponds to one dataflow
// operator (or a fused group of them) that dataflow/render builds. Nodes
// are named L<Operator> to keep them apart from the MIR node they
// implement. Column references in expressions are positional over the
// columns stated in each field's documentation.
//
// Arrangements: an LGet of a global collection lists in Keys the
// arrangements that already exist for it (indexes); an LArrangeBy builds
// arrangements of its input. Join lookups name the arrangement they use
// by its key (LookupStage.LookupKey), which is always one of the Keys of
// the looked-up input node.

// Node is an LIR plan node.
type Node interface {
	// Arity returns the number of output columns.
	Arity() int
	isNode()
}

// LGet reads a collection: a catalog object (Global) or a Let binding
// (Local, non-zero). Type is the collection's type before MFP. Keys lists
// the arrangements of the collection available to the dataflow (over its
// columns). MFP is applied to every row read (InputArity =
// Type.Arity()); the node's output is the MFP's output. When the node is
// a join input that is looked up, the lookup reads the arrangement with
// key LookupKey (one of Keys) and applies MFP to the matching rows.
type LGet struct {
	Global GlobalID
	Local  LocalID
	Name   string
	Type   RelType
	Keys   [][]expr.Scalar
	MFP    expr.MapFilterProject
}

// LConstant is a literal collection (or, when Err is set, an error).
type LConstant struct {
	Rows []ConstRow
	Type RelType
	Err  error
}

// LMfp applies a fused map/filter/project to each row of Input
// (MFP.InputArity = Input.Arity()).
type LMfp struct {
	Input Node
	MFP   expr.MapFilterProject
}

// TemporalBound is one bound on the logical time at which a row is
// present: a lower bound holds when mz_now() >= Expr (Inclusive) or
// mz_now() > Expr; an upper bound when mz_now() <= Expr (Inclusive) or
// mz_now() < Expr.
type TemporalBound struct {
	Expr      expr.Scalar
	Inclusive bool
}

// LTemporalFilter implements predicates that compare mz_now() with row
// expressions. For each update (row, t, d) of Input, Pre (the maps that
// its predicates and the bounds read, and the non-temporal predicates; its
// Projection keeps every column) is applied,
// then the bounds are evaluated over Pre's output: the row is present
// from lo = max(lower bounds, converted to exclusive→+1) to hi = min(upper
// bounds, inclusive→+1). The operator emits (row', max(t, lo), d) and,
// when hi is finite and hi > max(t, lo), the retraction (row', hi, -d);
// nothing when lo >= hi. row' is Pre's output restricted to Projection. A
// bound evaluating to NULL drops the row (the predicate is not true); an
// evaluation error is an error of the output. Bound values are converted
// to timestamps (mz_timestamp, milliseconds).
type LTemporalFilter struct {
	Input      Node
	Pre        expr.MapFilterProject
	Lower      []TemporalBound
	Upper      []TemporalBound
	Projection []int
}

// LFlatMap applies the table function to Args (over Input's columns) for
// each input row and appends each emitted row; MFP is then applied to the
// result (InputArity = Input.Arity() + len(Func.Cols)).
type LFlatMap struct {
	Input Node
	Func  *expr.TableFunc
	Args  []expr.Scalar
	MFP   expr.MapFilterProject
}

// LJoin joins Inputs by Plan. Output columns are the Plan's final MFP's.
type LJoin struct {
	Inputs []Node
	Plan   JoinPlan
}

// JoinPlan is LinearJoinPlan or DeltaJoinPlan.
type JoinPlan interface{ isJoinPlan() }

// LookupStage is one step of a join path. The stream (the rows joined so
// far, in path order: the source input's columns, then each looked-up
// input's columns in stage order) is keyed by StreamKey (expressions over
// the stream's columns) and looked up in input Lookup's arrangement whose
// key is LookupKey (over the arranged collection's columns: for an LGet
// input the collection's own columns, with the LGet's MFP applied to the
// matches; for an LArrangeBy input, its input's columns). Each match
// extends the stream row by the looked-up input's output columns, and
// Closure (InputArity = stream arity + Inputs[Lookup].Arity(); identity
// projection) filters the extended rows by the join conditions that first
// become evaluable at this stage. An empty key is a cross product.
type LookupStage struct {
	Lookup    int
	StreamKey []expr.Scalar
	LookupKey []expr.Scalar
	Closure   expr.MapFilterProject
}

// LinearJoinPlan is a chain of binary joins: the collection of input
// Source, filtered by SourceMFP (identity projection), is joined with each
// stage's arrangement in turn; every intermediate result is arranged by
// the next stage's StreamKey. FinalMFP maps the final stream row
// (InputArity = total arity, in path order) to the join's output: the
// inputs' columns in input order, then any fused map/filter/project from
// above the join.
type LinearJoinPlan struct {
	Source    int
	SourceMFP expr.MapFilterProject
	Stages    []LookupStage
	FinalMFP  expr.MapFilterProject
}

// DeltaJoinPlan has one path per input. Path p streams the changes of
// input p.Source and looks each stage up in an existing arrangement, never
// arranging an intermediate result. To count every combination of changes
// once, a lookup into input j < Source reads the arrangement including
// the current time's updates, and into j > Source only updates strictly
// before it. The join's output is the sum of the paths' outputs.
type DeltaJoinPlan struct {
	Paths []DeltaPath
}

// DeltaPath is one path of a delta join; fields as in LinearJoinPlan.
type DeltaPath struct {
	Source    int
	SourceMFP expr.MapFilterProject
	Stages    []LookupStage
	FinalMFP  expr.MapFilterProject
}

func (LinearJoinPlan) isJoinPlan() {}
func (DeltaJoinPlan) isJoinPlan()  {}

// ReduceKind is how a Reduce is maintained.
type ReduceKind uint8

// Reduce plans. Distinct has no aggregates. Accumulable keeps one
// accumulator per group updated by each diff (count, sum, avg, bool_and,
// bool_or, variance; DISTINCT ones first reduce (key, value) pairs to
// distinct). Hierarchical computes min/max through a tower of reductions
// over Buckets (group sizes shrink by each bucket factor). Basic
// re-derives the aggregate from the arranged group on each change
// (string_agg, array_agg, jsonb_agg...). Collation is used when several
// kinds are mixed: each kind's aggregates are computed by its sub-plan and
// joined back by key into the aggregate order.
const (
	ReduceDistinct ReduceKind = iota
	ReduceAccumulable
	ReduceHierarchical
	ReduceBasic
	ReduceCollation
)

var reduceKindNames = [...]string{"distinct", "accumulable", "hierarchical", "basic", "collation"}

// String names the kind.
func (k ReduceKind) String() string {
	if int(k) < len(reduceKindNames) {
		return reduceKindNames[k]
	}
	return "reduce?"
}

// ReducePlan says how each aggregate of an LReduce is computed: the
// indices (into LReduce.Aggregates) handled by each kind.
type ReducePlan struct {
	Kind         ReduceKind
	Accumulable  []int
	Hierarchical []int
	Basic        []int
	// Buckets are the hierarchical reduction's bucket sizes, largest first.
	Buckets []uint64
}

// LReduce groups Input by Key (expressions over Input's columns) and
// computes Aggregates; output: the key columns then the aggregates.
type LReduce struct {
	Input      Node
	Key        []expr.Scalar
	Aggregates []expr.Aggregate
	Plan       ReducePlan
	// Monotonic: Input only ever grows (see MonotonicOracle), so min and
	// max keep only the extreme value of each group.
	Monotonic bool
}

// TopKKind is how a TopK is maintained.
type TopKKind uint8

// TopK plans: Top1 (limit 1, offset 0) keeps one row per group; Basic a
// hierarchy of per-group top-k's.
const (
	TopKBasic TopKKind = iota
	TopKTop1
)

// LTopK keeps per group (GroupKey columns) the rows ranked Offset to
// Offset+Limit-1 by Order, ties broken by the whole row; Limit < 0 means
// unlimited.
type LTopK struct {
	Input    Node
	GroupKey []int
	Order    []ColumnOrder
	Limit    int64
	Offset   int64
	Kind     TopKKind
	// Monotonic: Input only ever grows (see MonotonicOracle), so each
	// group keeps only its first Offset+Limit rows.
	Monotonic bool
	// RowNumber appends each output row's position in its group's
	// window (1 for the row at Offset) as an int8 column: the
	// row_number() of a Window over this TopK by the same partition and
	// order (see Lower).
	RowNumber bool
}

// LNegate negates every multiplicity.
type LNegate struct{ Input Node }

// LThreshold keeps rows with positive multiplicity; it arranges Input by
// all of its columns.
type LThreshold struct{ Input Node }

// LUnion sums its inputs. ConsolidateOutput asks for the output to be
// consolidated (set when an input is negated, so retractions cancel early).
type LUnion struct {
	Inputs            []Node
	ConsolidateOutput bool
}

// LArrangeBy arranges Input by each of Keys (over Input's columns); the
// collection passes through unchanged.
type LArrangeBy struct {
	Input Node
	Keys  [][]expr.Scalar
}

// LLet binds Value to ID in Body.
type LLet struct {
	ID    LocalID
	Value Node
	Body  Node
}

// LLetRec binds the mutually recursive Values, iterated to a fixed point
// within each step (a loop that must consolidate to terminate).
type LLetRec struct {
	IDs    []LocalID
	Values []Node
	Body   Node
}

// LWindow appends window function values to each row of Input, computed
// per partition (PartitionBy) ordered by OrderBy; each changed partition
// is re-derived.
type LWindow struct {
	Input       Node
	PartitionBy []int
	OrderBy     []ColumnOrder
	Funcs       []WindowFunc
}

func (LGet) isNode()            {}
func (LConstant) isNode()       {}
func (LMfp) isNode()            {}
func (LTemporalFilter) isNode() {}
func (LFlatMap) isNode()        {}
func (LJoin) isNode()           {}
func (LReduce) isNode()         {}
func (LTopK) isNode()           {}
func (LNegate) isNode()         {}
func (LThreshold) isNode()      {}
func (LUnion) isNode()          {}
func (LArrangeBy) isNode()      {}
func (LLet) isNode()            {}
func (LLetRec) isNode()         {}
func (LWindow) isNode()         {}

// Arity implements Node.
func (n LGet) Arity() int { return len(n.MFP.Projection) }

// Arity implements Node.
func (n LConstant) Arity() int { return n.Type.Arity() }

// Arity implements Node.
func (n LMfp) Arity() int { return len(n.MFP.Projection) }

// Arity implements Node.
func (n LTemporalFilter) Arity() int { return len(n.Projection) }

// Arity implements Node.
func (n LFlatMap) Arity() int { return len(n.MFP.Projection) }

// Arity implements Node.
func (n LJoin) Arity() int {
	switch p := n.Plan.(type) {
	case LinearJoinPlan:
		return len(p.FinalMFP.Projection)
	case DeltaJoinPlan:
		if len(p.Paths) > 0 {
			return len(p.Paths[0].FinalMFP.Projection)
		}
	}
	return 0
}

// Arity implements Node.
func (n LReduce) Arity() int { return len(n.Key) + len(n.Aggregates) }

// Arity implements Node.
func (n LTopK) Arity() int {
	if n.RowNumber {
		return n.Input.Arity() + 1
	}
	return n.Input.Arity()
}

// Arity implements Node.
func (n LNegate) Arity() int { return n.Input.Arity() }

// Arity implements Node.
func (n LThreshold) Arity() int { return n.Input.Arity() }

// Arity implements Node.
func (n LUnion) Arity() int {
	if len(n.Inputs) == 0 {
		return 0
	}
	return n.Inputs[0].Arity()
}

// Arity implements Node.
func (n LArrangeBy) Arity() int { return n.Input.Arity() }

// Arity implements Node.
func (n LLet) Arity() int { return n.Body.Arity() }

// Arity implements Node.
func (n LLetRec) Arity() int { return n.Body.Arity() }

// Arity implements Node.
func (n LWindow) Arity() int { return n.Input.Arity() + len(n.Funcs) }

var (
	_ Node = LGet{}
	_ Node = LConstant{}
	_ Node = LMfp{}
	_ Node = LTemporalFilter{}
	_ Node = LFlatMap{}
	_ Node = LJoin{}
	_ Node = LReduce{}
	_ Node = LTopK{}
	_ Node = LNegate{}
	_ Node = LThreshold{}
	_ Node = LUnion{}
	_ Node = LArrangeBy{}
	_ Node = LLet{}
	_ Node = LLetRec{}
	_ Node = LWindow{}
	_ Rel  = Get{}
)

// WalkLIR calls f for n and every LIR node below it, parents first.
func WalkLIR(n Node, f func(Node)) {
	f(n)
	switch n := n.(type) {
	case LMfp:
		WalkLIR(n.Input, f)
	case LTemporalFilter:
		WalkLIR(n.Input, f)
	case LFlatMap:
		WalkLIR(n.Input, f)
	case LJoin:
		for _, in := range n.Inputs {
			WalkLIR(in, f)
		}
	case LReduce:
		WalkLIR(n.Input, f)
	case LTopK:
		WalkLIR(n.Input, f)
	case LNegate:
		WalkLIR(n.Input, f)
	case LThreshold:
		WalkLIR(n.Input, f)
	case LUnion:
		for _, in := range n.Inputs {
			WalkLIR(in, f)
		}
	case LArrangeBy:
		WalkLIR(n.Input, f)
	case LLet:
		WalkLIR(n.Value, f)
		WalkLIR(n.Body, f)
	case LLetRec:
		for _, v := range n.Values {
			WalkLIR(v, f)
		}
		WalkLIR(n.Body, f)
	case LWindow:
		WalkLIR(n.Input, f)
	}
}
