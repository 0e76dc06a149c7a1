package render

import (
	"fmt"
	"math"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// Imports gives a dataflow access to the collections and arrangements of
// catalog objects.
type Imports interface {
	// Collection imports the rows (and errors) of catalog object id into g.
	Collection(g *dataflow.Graph, id plan.GlobalID) (*dataflow.Collection, error)
	// Arrangement imports an existing arrangement of id keyed by exactly
	// key (expressions over id's columns), if one exists.
	Arrangement(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar) (*dataflow.Arranged, bool, error)
	// IndexRead imports the rows of id whose key, in an existing
	// arrangement of id keyed by exactly key, starts with one of prefixes
	// (packed key datums), if such an arrangement exists and holds all of
	// id's rows and errors (dataflow.Graph.ImportPrefixes).
	IndexRead(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar, prefixes []repr.Row) (*dataflow.Collection, bool, error)
}

// Render builds the operators of n in g and returns the collection they
// compute. asOf is the time of g's first step: constants enter then.
func Render(g *dataflow.Graph, n plan.Node, imp Imports, asOf repr.Timestamp) (*dataflow.Collection, error) {
	r := &renderer{g: g, imp: imp, asOf: asOf, locals: map[plan.LocalID]*dataflow.Collection{}, globals: map[plan.GlobalID]*dataflow.Collection{}}
	return r.render(n)
}

type renderer struct {
	g       *dataflow.Graph
	imp     Imports
	asOf    repr.Timestamp
	locals  map[plan.LocalID]*dataflow.Collection
	globals map[plan.GlobalID]*dataflow.Collection
	// arranged caches arrangements built in this graph by (collection,
	// key text), so each is built once.
	arranged map[arrKey]*dataflow.Arranged
}

type arrKey struct {
	coll *dataflow.Collection
	key  string
}

func keyString(key []expr.Scalar) string {
	s := ""
	for i, k := range key {
		if i > 0 {
			s += ", "
		}
		s += k.String()
	}
	return s
}

// global imports a catalog collection once per graph.
func (r *renderer) global(id plan.GlobalID) (*dataflow.Collection, error) {
	if c, ok := r.globals[id]; ok {
		return c, nil
	}
	c, err := r.imp.Collection(r.g, id)
	if err != nil {
		return nil, err
	}
	r.globals[id] = c
	return c, nil
}

// arrange returns c arranged by key, building the arrangement at most once.
func (r *renderer) arrange(c *dataflow.Collection, key []expr.Scalar) *dataflow.Arranged {
	if r.arranged == nil {
		r.arranged = map[arrKey]*dataflow.Arranged{}
	}
	k := arrKey{coll: c, key: keyString(key)}
	if a, ok := r.arranged[k]; ok {
		return a
	}
	a := c.Arrange(key)
	r.arranged[k] = a
	return a
}

func (r *renderer) render(n plan.Node) (*dataflow.Collection, error) {
	switch n := n.(type) {
	case plan.LGet:
		c, err := r.source(n)
		if err != nil {
			return nil, err
		}
		return mfp(c, n.MFP), nil
	case plan.LConstant:
		return r.constant(n)
	case plan.LMfp:
		c, err := r.render(n.Input)
		if err != nil {
			return nil, err
		}
		return mfp(c, n.MFP), nil
	case plan.LFlatMap:
		c, err := r.render(n.Input)
		if err != nil {
			return nil, err
		}
		return c.FlatMap(n.Func, n.Args, n.MFP)
	case plan.LTemporalFilter:
		return r.temporal(n)
	case plan.LJoin:
		switch p := n.Plan.(type) {
		case plan.LinearJoinPlan:
			return r.linearJoin(n.Inputs, p)
		case plan.DeltaJoinPlan:
			return r.deltaJoin(n.Inputs, p)
		}
		return nil, fmt.Errorf("render: join without a plan")
	case plan.LReduce:
		c, err := r.render(n.Input)
		if err != nil {
			return nil, err
		}
		if n.Monotonic {
			return c.MonotonicReduce(n.Key, n.Aggregates)
		}
		return c.Reduce(n.Key, n.Aggregates)
	case plan.LTopK:
		c, err := r.render(n.Input)
		if err != nil {
			return nil, err
		}
		order := make([]dataflow.ColumnOrder, len(n.Order))
		for i, o := range n.Order {
			order[i] = dataflow.ColumnOrder{Column: o.Column, Order: o.Order}
		}
		limit := int(n.Limit)
		if n.Limit < 0 {
			limit = -1
		}
		if n.RowNumber {
			return c.NumberedTopK(n.GroupKey, order, limit, int(n.Offset), n.Monotonic)
		}
		if n.Monotonic {
			return c.MonotonicTopK(n.GroupKey, order, limit, int(n.Offset))
		}
		return c.TopK(n.GroupKey, order, limit, int(n.Offset))
	case plan.LNegate:
		c, err := r.render(n.Input)
		if err != nil {
			return nil, err
		}
		return c.Negate(), nil
	case plan.LThreshold:
		c, err := r.render(n.Input)
		if err != nil {
			return nil, err
		}
		return c.Threshold(), nil
	case plan.LUnion:
		cs := make([]*dataflow.Collection, len(n.Inputs))
		for i, in := range n.Inputs {
			c, err := r.render(in)
			if err != nil {
				return nil, err
			}
			cs[i] = c
		}
		if len(cs) == 1 {
			return cs[0], nil
		}
		return dataflow.Union(cs...)
	case plan.LArrangeBy:
		c, err := r.render(n.Input)
		if err != nil {
			return nil, err
		}
		for _, k := range n.Keys {
			r.arrange(c, k)
		}
		return c, nil
	case plan.LLet:
		v, err := r.render(n.Value)
		if err != nil {
			return nil, err
		}
		r.locals[n.ID] = v
		return r.render(n.Body)
	case plan.LLetRec:
		return r.letRec(n)
	case plan.LWindow:
		return r.window(n)
	}
	return nil, pgcode.New(pgcode.InternalError, "render: unknown plan node %T", n)
}

// source returns the collection an LGet reads, before its MFP.
func (r *renderer) source(n plan.LGet) (*dataflow.Collection, error) {
	if n.Local != 0 {
		c, ok := r.locals[n.Local]
		if !ok {
			return nil, pgcode.New(pgcode.InternalError, "render: unbound local l%d (%s)", n.Local, n.Name)
		}
		return c, nil
	}
	if key, tuples, ok := n.LiteralPrefix(); ok {
		// The MFP fixes the leading columns of an index's key: read
		// those entries of the index, not the whole collection (the
		// MFP still applies to them).
		prefixes := make([]repr.Row, len(tuples))
		var pk repr.Packer
		for i, t := range tuples {
			pk.Reset()
			for _, d := range t {
				pk.PushKey(d) // arrangement keys are canonical
			}
			prefixes[i] = pk.Row().Clone()
		}
		c, ok, err := r.imp.IndexRead(r.g, n.Global, key, prefixes)
		if err != nil {
			return nil, err
		}
		if ok {
			return c, nil
		}
	}
	return r.global(n.Global)
}

func mfp(c *dataflow.Collection, m expr.MapFilterProject) *dataflow.Collection {
	if m.IsIdentity() && m.InputArity == c.Arity() {
		return c
	}
	return c.MFP(m)
}

// constant renders literal rows as an input fed once, at asOf.
func (r *renderer) constant(n plan.LConstant) (*dataflow.Collection, error) {
	in := r.g.NewInput("constant", n.Type.Arity())
	if n.Err != nil {
		if err := in.SendErr(repr.Update{Row: dataflow.ErrRow(n.Err), Time: r.asOf, Diff: 1}); err != nil {
			return nil, fmt.Errorf("render: constant: %w", err)
		}
	}
	for _, row := range n.Rows {
		if err := in.Send(repr.Update{Row: row.Row, Time: r.asOf, Diff: row.Diff}); err != nil {
			return nil, fmt.Errorf("render: constant: %w", err)
		}
	}
	in.Advance(repr.MaxTimestamp)
	return in.Collection(), nil
}

// temporal renders Pre, one temporal filter per bound (their composition
// keeps a row during the intersection of the bounds' intervals), then the
// projection. Bounds are normalised to inclusive-lower/exclusive-upper
// integer milliseconds (mz_timestamp's grid) before the runtime sees them.
func (r *renderer) temporal(n plan.LTemporalFilter) (*dataflow.Collection, error) {
	c, err := r.render(n.Input)
	if err != nil {
		return nil, err
	}
	c = mfp(c, n.Pre)
	for _, b := range n.Lower {
		f := ceilMillis // mz_now() >= x  <=>  mz_now() >= ceil(x)
		if !b.Inclusive {
			f = floorMillisPlusOne // mz_now() > x  <=>  mz_now() >= floor(x)+1
		}
		c = c.TemporalFilter(expr.Call{Func: f, Args: []expr.Scalar{b.Expr}}, nil)
	}
	for _, b := range n.Upper {
		f := ceilMillis // mz_now() < x  <=>  mz_now() < ceil(x)
		if b.Inclusive {
			f = floorMillisPlusOne // mz_now() <= x  <=>  mz_now() < floor(x)+1
		}
		c = c.TemporalFilter(nil, expr.Call{Func: f, Args: []expr.Scalar{b.Expr}})
	}
	return mfp(c, expr.Identity(c.Arity()).Project(n.Projection...)), nil
}

// ceilMillis and floorMillisPlusOne convert a temporal bound (an integer
// or numeric mz_timestamp in milliseconds, or a timestamp) to whole
// milliseconds, rounding up, or rounding down and adding one.
var (
	ceilMillis         = boundFunc("ceil_millis", false)
	floorMillisPlusOne = boundFunc("floor_millis_plus_one", true)
)

func boundFunc(name string, floorPlusOne bool) *expr.Func {
	return &expr.Func{
		Name:   name,
		Ret:    repr.TypeInt8,
		Strict: true,
		Eval: func(_ *expr.EvalCtx, args []repr.Datum) (repr.Datum, error) {
			v := args[0]
			var floor int64
			exact := true
			switch k := v.Kind(); {
			case k.IsInteger():
				floor = v.Int()
			case k == repr.KindTimestamp || k == repr.KindTimestampTz:
				us := v.Micros()
				floor = us / 1000
				if us%1000 != 0 {
					exact = false
					if us < 0 {
						floor--
					}
				}
			case k == repr.KindFloat4 || k == repr.KindFloat8:
				f := v.Float()
				fl := math.Floor(f)
				if math.IsNaN(f) || fl >= math.MaxInt64 || fl <= math.MinInt64 {
					return repr.Null, pgcode.New(pgcode.NumericValueOutOfRange, "temporal filter bound %v is out of range", f)
				}
				floor, exact = int64(fl), fl == f
			case k == repr.KindNumeric:
				f, err := v.Numeric().Float64()
				if err != nil {
					return repr.Null, pgcode.New(pgcode.NumericValueOutOfRange, "temporal filter bound is out of range")
				}
				fl := math.Floor(f)
				if fl >= math.MaxInt64 || fl <= math.MinInt64 {
					return repr.Null, pgcode.New(pgcode.NumericValueOutOfRange, "temporal filter bound is out of range")
				}
				floor, exact = int64(fl), fl == f
			default:
				return repr.Null, pgcode.New(pgcode.DatatypeMismatch, "temporal filter bound of type %s is not a timestamp", k)
			}
			if floorPlusOne || !exact {
				if floor == math.MaxInt64 {
					return repr.Int8Datum(floor), nil
				}
				floor++
			}
			return repr.Int8Datum(floor), nil
		},
	}
}

// letRec renders WITH RECURSIVE as an Iterate: the recursive binding's
// value is rendered in the iteration's nested graph, where the binding is
// the iteration variable and every collection the value reads from outside
// arrives as an outer collection.
func (r *renderer) letRec(n plan.LLetRec) (*dataflow.Collection, error) {
	if len(n.IDs) != 1 || len(n.Values) != 1 {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "mutually recursive WITH RECURSIVE bindings are not supported")
	}
	id, value := n.IDs[0], n.Values[0]
	var globals []plan.GlobalID
	var locals []plan.LocalID
	seenG, seenL := map[plan.GlobalID]bool{}, map[plan.LocalID]bool{}
	plan.WalkLIR(value, func(x plan.Node) {
		g, ok := x.(plan.LGet)
		if !ok {
			return
		}
		switch {
		case g.Local == id:
		case g.Local != 0:
			if !seenL[g.Local] {
				seenL[g.Local] = true
				locals = append(locals, g.Local)
			}
		default:
			if !seenG[g.Global] {
				seenG[g.Global] = true
				globals = append(globals, g.Global)
			}
		}
	})
	var outer []*dataflow.Collection
	for _, gid := range globals {
		c, err := r.global(gid)
		if err != nil {
			return nil, err
		}
		outer = append(outer, c)
	}
	for _, lid := range locals {
		c, ok := r.locals[lid]
		if !ok {
			return nil, pgcode.New(pgcode.InternalError, "render: unbound local l%d in a recursive binding", lid)
		}
		outer = append(outer, c)
	}
	// Iterate re-derives the fixed point when an outer collection changes;
	// a recursion over constants alone gets one outer collection that
	// changes once, at the first step.
	start := r.g.NewInput("recursion start", 0)
	if err := start.Send(repr.Update{Row: repr.PackRow(), Time: r.asOf, Diff: 1}); err != nil {
		return nil, err
	}
	start.Advance(repr.MaxTimestamp)
	outer = append(outer, start.Collection())
	fixed, err := dataflow.Iterate(outer, value.Arity(), func(inner *dataflow.Graph, ins []*dataflow.Collection, x *dataflow.Collection) (*dataflow.Collection, error) {
		sub := &renderer{g: inner, imp: noImports{}, asOf: 1, locals: map[plan.LocalID]*dataflow.Collection{id: x}, globals: map[plan.GlobalID]*dataflow.Collection{}}
		for i, gid := range globals {
			sub.globals[gid] = ins[i]
		}
		for j, lid := range locals {
			sub.locals[lid] = ins[len(globals)+j]
		}
		return sub.render(value)
	})
	if err != nil {
		return nil, err
	}
	r.locals[id] = fixed
	return r.render(n.Body)
}

// noImports serves a nested graph, whose collections all come from outside.
type noImports struct{}

func (noImports) Collection(*dataflow.Graph, plan.GlobalID) (*dataflow.Collection, error) {
	return nil, pgcode.New(pgcode.InternalError, "render: import inside a recursive binding")
}

func (noImports) Arrangement(*dataflow.Graph, plan.GlobalID, []expr.Scalar) (*dataflow.Arranged, bool, error) {
	return nil, false, nil
}

func (noImports) IndexRead(*dataflow.Graph, plan.GlobalID, []expr.Scalar, []repr.Row) (*dataflow.Collection, bool, error) {
	return nil, false, nil
}

var windowKinds = map[string]dataflow.WindowKind{
	"row_number": dataflow.WinRowNumber, "rank": dataflow.WinRank, "dense_rank": dataflow.WinDenseRank,
	"percent_rank": dataflow.WinPercentRank, "cume_dist": dataflow.WinCumeDist,
	"lag": dataflow.WinLag, "lead": dataflow.WinLead, "first_value": dataflow.WinFirstValue,
	"last_value": dataflow.WinLastValue, "sum": dataflow.WinSum, "count": dataflow.WinCount,
	"avg": dataflow.WinAvg, "min": dataflow.WinMin, "max": dataflow.WinMax,
}

// window renders window functions. Arguments that are not plain columns
// are computed into extra columns first, and projected away after.
func (r *renderer) window(n plan.LWindow) (*dataflow.Collection, error) {
	c, err := r.render(n.Input)
	if err != nil {
		return nil, err
	}
	arity := c.Arity()
	pre := expr.Identity(arity)
	var funcs []dataflow.WindowFunc
	argCol := func(e expr.Scalar) int {
		if col, ok := e.(expr.Column); ok {
			return col.Index
		}
		pre = pre.Map(e)
		return arity + len(pre.Expressions) - 1
	}
	for _, wf := range n.Funcs {
		kind, ok := windowKinds[wf.Name]
		if !ok {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "window function %s is not supported", wf.Name)
		}
		f := dataflow.WindowFunc{Kind: kind, Arg: -1, Numeric: wf.Typ.Type.Kind == repr.KindNumeric, Frame: wf.Frame}
		args := wf.Args
		if wf.Aggregate != nil {
			if wf.Aggregate.Distinct {
				return nil, pgcode.New(pgcode.FeatureNotSupported, "DISTINCT is not implemented for window functions")
			}
			if wf.Aggregate.Filter != nil {
				// sql folds a window aggregate's FILTER into its
				// argument (plan.WindowFunc.Aggregate).
				return nil, pgcode.New(pgcode.InternalError, "render: window aggregate %s with a FILTER of its own", wf.Name)
			}
			args = nil
			if wf.Aggregate.Func != expr.AggCountStar {
				args = []expr.Scalar{wf.Aggregate.Expr}
			}
		}
		if len(args) > 0 {
			f.Arg = argCol(args[0])
		}
		if kind == dataflow.WinLag || kind == dataflow.WinLead {
			// The offset and default must be constants: constant
			// expressions (-159::numeric, 1 + 1) are folded to them.
			if len(args) > 1 {
				lit, ok := expr.FoldConstants(args[1], nil).(expr.Literal)
				if !ok || lit.Value.IsNull() || !lit.Value.Kind().IsInteger() {
					return nil, pgcode.New(pgcode.FeatureNotSupported, "%s with a non-constant offset is not supported", wf.Name)
				}
				f.Offset = int(lit.Value.Int())
				if f.Offset == 0 {
					return nil, pgcode.New(pgcode.FeatureNotSupported, "%s with offset 0 is not supported", wf.Name)
				}
			}
			if len(args) > 2 {
				lit, ok := expr.FoldConstants(args[2], nil).(expr.Literal)
				if !ok || lit.Err != nil {
					return nil, pgcode.New(pgcode.FeatureNotSupported, "%s with a non-constant default is not supported", wf.Name)
				}
				f.Default = lit.Value
			}
		}
		funcs = append(funcs, f)
	}
	extra := len(pre.Expressions)
	if extra > 0 {
		pre.Projection = make([]int, arity+extra)
		for i := range pre.Projection {
			pre.Projection[i] = i
		}
		c = c.MFP(pre)
	}
	order := make([]dataflow.ColumnOrder, len(n.OrderBy))
	for i, o := range n.OrderBy {
		order[i] = dataflow.ColumnOrder{Column: o.Column, Order: o.Order}
	}
	out, err := c.Window(n.PartitionBy, order, funcs)
	if err != nil {
		return nil, err
	}
	if extra == 0 {
		return out, nil
	}
	proj := make([]int, 0, arity+len(funcs))
	for i := 0; i < arity; i++ {
		proj = append(proj, i)
	}
	for i := range funcs {
		proj = append(proj, arity+extra+i)
	}
	return out.MFP(expr.Identity(arity + extra + len(funcs)).Project(proj...)), nil
}
