package render_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/dataflow/render"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// The harness builds catalog collections the way the coordinator does
// (coord/runtime.go newInputDataflow, coord/ddl.go indexes, coord/peek.go
// catalogImports): each table is an Input in its own graph whose
// collection is materialized; each index is an arrangement of that
// collection built in the same graph, kept readable by a hold. Rendered
// plans read them through testImports: ImportOutput for collections,
// Import for arrangements.

// table is one catalog collection of the test catalog.
type table struct {
	get plan.Get
	// unique is the column whose values are unique (the type's key), or -1.
	unique int
}

func int8Col(nullable bool) repr.ColumnType {
	return repr.ColumnType{Type: repr.TypeInt8, Nullable: nullable}
}

// testTables: t(a int8 key, b int8?), u(x int8, y int8), w(p int8, q int8?).
func testTables() []table {
	return []table{
		{get: plan.Get{Global: 1, Name: "t", Type: plan.RelType{Cols: []repr.ColumnType{int8Col(false), int8Col(true)}, Keys: [][]int{{0}}}}, unique: 0},
		{get: plan.Get{Global: 2, Name: "u", Type: plan.RelType{Cols: []repr.ColumnType{int8Col(false), int8Col(false)}}}, unique: -1},
		{get: plan.Get{Global: 3, Name: "w", Type: plan.RelType{Cols: []repr.ColumnType{int8Col(false), int8Col(true)}}}, unique: -1},
	}
}

// indexSet is the set of indexes of a case: per collection, keys over its
// columns. It is the plan's IndexOracle.
type indexSet map[plan.GlobalID][][]expr.Scalar

// Indexes implements plan.IndexOracle.
func (s indexSet) Indexes(id plan.GlobalID) [][]expr.Scalar { return s[id] }

func (s indexSet) String() string {
	var parts []string
	for id := plan.GlobalID(1); id <= 3; id++ {
		for _, k := range s[id] {
			parts = append(parts, fmt.Sprintf("%d[%s]", id, keyText(k)))
		}
	}
	return strings.Join(parts, " ")
}

func keyText(key []expr.Scalar) string {
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = k.String()
	}
	return strings.Join(parts, ", ")
}

// inputDataflow is a table's dataflow: its input, materialized output and
// index arrangements with the holds that keep their history readable.
type inputDataflow struct {
	g       *dataflow.Graph
	in      *dataflow.Input
	out     *dataflow.Output
	indexes []index
}

type index struct {
	key  []expr.Scalar
	arr  *dataflow.Arranged
	hold dataflow.TraceReader
}

// catalog is the set of input dataflows of one run.
type catalog struct {
	tables []table
	inputs map[plan.GlobalID]*inputDataflow
	order  []plan.GlobalID
	// since is the earliest readable time (holds and outputs are kept
	// there).
	since repr.Timestamp
}

func newCatalog(tables []table, idx indexSet, workers int) *catalog {
	c := &catalog{tables: tables, inputs: map[plan.GlobalID]*inputDataflow{}}
	for _, tb := range tables {
		g := dataflow.NewGraph(graphOptions(workers))
		in := g.NewInput(tb.get.Name, tb.get.Type.Arity())
		d := &inputDataflow{g: g, in: in, out: in.Collection().Materialize(0)}
		for _, key := range idx[tb.get.Global] {
			arr := in.Collection().Arrange(key)
			d.indexes = append(d.indexes, index{key: key, arr: arr, hold: arr.Trace().Reader(0)})
		}
		c.inputs[tb.get.Global] = d
		c.order = append(c.order, tb.get.Global)
	}
	return c
}

// step sends ups (per collection) at time t, advances the inputs past t
// and steps every input graph at t.
func (c *catalog) step(ctx context.Context, t repr.Timestamp, ups map[plan.GlobalID][]repr.Update) error {
	for _, id := range c.order {
		d := c.inputs[id]
		if len(ups[id]) > 0 {
			if err := d.in.Send(ups[id]...); err != nil {
				return err
			}
		}
		d.in.Advance(t + 1)
		if err := d.g.Step(ctx, t); err != nil {
			return fmt.Errorf("input %d: %w", id, err)
		}
	}
	return nil
}

// setSince allows compaction of every input's history before s.
func (c *catalog) setSince(s repr.Timestamp) {
	c.since = s
	for _, d := range c.inputs {
		d.out.SetSince(s)
		for _, ix := range d.indexes {
			ix.hold.SetSince(s)
		}
	}
}

func (c *catalog) close() {
	for _, d := range c.inputs {
		for _, ix := range d.indexes {
			ix.hold.Release()
		}
		d.out.Release()
		d.g.Close()
	}
}

// testImports implements render.Imports over a catalog, as the
// coordinator's catalogImports does. It counts the arrangements imported.
type testImports struct {
	c          *catalog
	imported   int
	indexReads int
}

var _ render.Imports = (*testImports)(nil)

func (ti *testImports) Collection(g *dataflow.Graph, id plan.GlobalID) (*dataflow.Collection, error) {
	d := ti.c.inputs[id]
	if d == nil {
		return nil, fmt.Errorf("test imports: no collection %d", id)
	}
	return g.ImportOutput(d.out)
}

func (ti *testImports) Arrangement(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar) (*dataflow.Arranged, bool, error) {
	arr := ti.index(id, key)
	if arr == nil {
		return nil, false, nil
	}
	a, err := g.Import(arr.Trace().Reader(ti.c.since), len(key))
	if err != nil {
		return nil, false, err
	}
	ti.imported++
	return a, true, nil
}

func (ti *testImports) IndexRead(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar, prefixes []repr.Row) (*dataflow.Collection, bool, error) {
	arr := ti.index(id, key)
	if arr == nil {
		return nil, false, nil
	}
	c, err := g.ImportPrefixes(arr.Trace().Reader(ti.c.since), prefixes)
	if err != nil {
		return nil, false, err
	}
	ti.indexReads++
	return c, true, nil
}

// index returns collection id's index by exactly key, or nil.
func (ti *testImports) index(id plan.GlobalID, key []expr.Scalar) *dataflow.Arranged {
	d := ti.c.inputs[id]
	if d == nil {
		return nil
	}
	want := keyText(key)
	for _, ix := range d.indexes {
		if keyText(ix.key) == want {
			return ix.arr
		}
	}
	return nil
}

// readColl reads an output at t into a coll; errs are returned as text.
func readColl(o *dataflow.Output, t repr.Timestamp) (coll, []string, error) {
	ok, errs, err := o.Read(t)
	if err != nil {
		return nil, nil, err
	}
	out := coll{}
	for i := range ok.Len() {
		out.add(ok.Row(i).Clone(), ok.Diff(i))
	}
	var es []string
	for i := range errs.Len() {
		es = append(es, fmt.Sprintf("%v x%d", dataflow.DecodeErrRow(errs.Row(i)), errs.Diff(i)))
	}
	return out, es, nil
}

// graphOptions: with several workers every step is spread over goroutines
// (ParallelMin 1), so the parallel paths run on these small streams.
func graphOptions(workers int) dataflow.Options {
	o := dataflow.Options{Workers: workers}
	if workers > 1 {
		o.ParallelMin = 1
	}
	return o
}
