package coord

import (
	"sort"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/dataflow/render"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// datumTimestamp converts an AS OF value to a timestamp: integers and
// numerics are milliseconds; timestamps are converted.
func datumTimestamp(d repr.Datum) (repr.Timestamp, error) {
	switch k := d.Kind(); {
	case k.IsInteger():
		if d.Int() < 0 {
			return 0, pgcode.New(pgcode.InvalidParameterValue, "timestamp %d is negative", d.Int())
		}
		return repr.Timestamp(d.Int()), nil
	case k == repr.KindNumeric:
		v, err := d.Numeric().Int64()
		if err != nil || v < 0 {
			return 0, pgcode.New(pgcode.InvalidParameterValue, "%s is not a valid timestamp", d.Text())
		}
		return repr.Timestamp(v), nil
	case k == repr.KindTimestamp || k == repr.KindTimestampTz:
		return repr.Timestamp(max(d.Micros()/1000, 0)), nil
	case k == repr.KindNull:
		return 0, pgcode.New(pgcode.InvalidParameterValue, "AS OF must not be NULL")
	}
	return 0, pgcode.New(pgcode.DatatypeMismatch, "AS OF requires a timestamp, got %s", d.Kind())
}

// optimizeLocked inlines views and builtins, optimises and lowers a plan.
func (c *Coordinator) optimizeLocked(rel plan.Rel) (plan.Node, error) {
	return c.optimizeDirtyLocked(rel, nil)
}

// optimizeDirtyLocked is optimizeLocked for a read that overlays
// uncommitted writes to the dirty tables: materialized views built on them
// are computed from their definitions, so that the writes show.
func (c *Coordinator) optimizeDirtyLocked(rel plan.Rel, dirty map[plan.GlobalID]bool) (plan.Node, error) {
	return c.optimizeRecordLocked(rel, dirty, nil)
}

// optimizeRecordLocked is optimizeDirtyLocked that appends to rec (when
// not nil) each system relation it inlined as a constant, with its rows.
func (c *Coordinator) optimizeRecordLocked(rel plan.Rel, dirty map[plan.GlobalID]bool, rec *[]inlinedBuiltin) (plan.Node, error) {
	opt, err := c.optimizeMIRLocked(rel, dirty, rec)
	if err != nil {
		return nil, err
	}
	return plan.Lower(opt, indexOracle{c.cat})
}

// optimizeMIRLocked inlines views and optimises rel, before lowering.
func (c *Coordinator) optimizeMIRLocked(rel plan.Rel, dirty map[plan.GlobalID]bool, rec *[]inlinedBuiltin) (plan.Rel, error) {
	rel, err := c.inlineDirtyLocked(rel, 0, dirty, rec)
	if err != nil {
		return nil, err
	}
	opt, rep, err := plan.OptimizeReport(rel, indexOracle{c.cat})
	if err != nil {
		return nil, err
	}
	if len(rep.Unconverged) > 0 {
		c.unconverged.Add(1)
		c.log.Debug("optimiser batch did not reach a fixed point", "batches", rep.Unconverged)
	}
	return opt, nil
}

// inlineLocked replaces reads of (non-materialized) views by their
// definitions and reads of the builtin relations that are not arranged
// (catalogrel.go) by their current contents.
func (c *Coordinator) inlineLocked(rel plan.Rel, depth int) (plan.Rel, error) {
	return c.inlineDirtyLocked(rel, depth, nil, nil)
}

// dependsOnAny reports whether item id reads any of ids, transitively.
func (c *Coordinator) dependsOnAny(id plan.GlobalID, ids map[plan.GlobalID]bool) bool {
	seen := map[plan.GlobalID]bool{}
	var visit func(plan.GlobalID) bool
	visit = func(x plan.GlobalID) bool {
		if ids[x] {
			return true
		}
		if seen[x] {
			return false
		}
		seen[x] = true
		it := c.cat.items[x]
		if it == nil {
			return false
		}
		for _, d := range it.deps {
			if visit(d) {
				return true
			}
		}
		return false
	}
	return visit(id)
}

// inlineDirtyLocked is inlineLocked that also inlines the materialized
// views that read any of dirty, and appends to rec (when not nil) the
// system relations it inlined as constants.
func (c *Coordinator) inlineDirtyLocked(rel plan.Rel, depth int, dirty map[plan.GlobalID]bool, rec *[]inlinedBuiltin) (plan.Rel, error) {
	if depth > 64 {
		return nil, pgcode.New(pgcode.ProgramLimitExceeded, "views nest too deeply")
	}
	return plan.Rewrite(rel, func(r plan.Rel) (plan.Rel, error) {
		g, ok := r.(plan.Get)
		if !ok || g.Local != 0 {
			return r, nil
		}
		it := c.cat.items[g.Global]
		if it == nil {
			return nil, pgcode.New(pgcode.UndefinedTable, "relation %s (id %d) was dropped", g.Name, g.Global)
		}
		switch {
		case it.builtin != nil && it.builtin.arranged:
			return r, nil
		case it.builtin != nil:
			con := c.builtinContents(it)
			if rec != nil {
				rows := make([]repr.Row, len(con.Rows))
				for i, r := range con.Rows {
					rows[i] = r.Row
				}
				*rec = append(*rec, inlinedBuiltin{id: it.ID, rows: rows})
			}
			return con, nil
		case it.Kind == sql.KindView:
			return c.inlineDirtyLocked(it.viewExpr, depth+1, dirty, rec)
		case it.Kind == sql.KindMaterializedView && len(dirty) > 0 && c.dependsOnAny(it.ID, dirty):
			return c.inlineDirtyLocked(it.viewExpr, depth+1, dirty, rec)
		}
		return r, nil
	})
}

// indexOracle tells the optimiser which arrangements exist, and which
// collections only ever grow (plan.MonotonicOracle).
type indexOracle struct{ cat *catalog }

// Monotonic implements plan.MonotonicOracle: append-only sources, and the
// materialized views that only grow (whose output buildMaterializedLocked
// made an append log: their plans are monotonic over such collections).
func (o indexOracle) Monotonic(id plan.GlobalID) bool {
	it := o.cat.items[id]
	switch {
	case it == nil:
		return false
	case it.source != nil:
		return it.source.appendOnly
	}
	return it.Kind == sql.KindMaterializedView && it.rt != nil && it.rt.out != nil && !it.rt.out.Ordered()
}

func (o indexOracle) Indexes(id plan.GlobalID) [][]expr.Scalar {
	it := o.cat.items[id]
	if it == nil {
		return nil
	}
	var keys [][]expr.Scalar
	if it.rt != nil && it.rt.primaryKey != nil {
		keys = append(keys, it.rt.primaryKey)
	}
	ids := make([]plan.GlobalID, 0, len(it.rdeps))
	for r := range it.rdeps {
		ids = append(ids, r)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, r := range ids {
		ix := o.cat.items[r]
		if ix != nil && ix.Kind == sql.KindIndex && ix.On == id && ix.rt != nil && ix.rt.arranged != nil {
			keys = append(keys, ix.indexKeys)
		}
	}
	return keys
}

// imports implements render.Imports over the catalog.
func (c *Coordinator) imports() render.Imports { return catalogImports{c} }

type catalogImports struct{ c *Coordinator }

func (ci catalogImports) Collection(g *dataflow.Graph, id plan.GlobalID) (*dataflow.Collection, error) {
	it := ci.c.cat.items[id]
	if it == nil {
		return nil, pgcode.New(pgcode.UndefinedTable, "relation with id %d does not exist", id)
	}
	if it.rt != nil && it.rt.primaryKey != nil {
		a, err := g.Import(it.rt.arranged.Trace().Reader(ci.c.since), len(it.rt.primaryKey))
		if err != nil {
			return nil, err
		}
		return a.AsCollection(), nil
	}
	if it.rt == nil || it.rt.out == nil {
		return nil, pgcode.New(pgcode.InternalError, "%s %s has no collection to read", it.Kind, it.Name)
	}
	return g.ImportOutput(it.rt.out)
}

func (ci catalogImports) Arrangement(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar) (*dataflow.Arranged, bool, error) {
	it, r, errs, err := ci.index(g, id, key)
	if it == nil || err != nil {
		return nil, false, err
	}
	a, err := g.ImportWithErrors(r, len(key), errs)
	if err != nil {
		return nil, false, err
	}
	return a, true, nil
}

// index returns item id, a reader of its arrangement by exactly key and
// its errors imported into g (errors), or a nil item when it has no
// such arrangement.
func (ci catalogImports) index(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar) (*item, dataflow.TraceReader, *dataflow.Collection, error) {
	it := ci.c.cat.items[id]
	if it == nil {
		return nil, nil, nil, nil
	}
	arr := ci.c.arrangementLocked(it, key)
	if arr == nil {
		return nil, nil, nil, nil
	}
	errs, err := ci.errors(g, it)
	if err != nil {
		return nil, nil, nil, err
	}
	return it, arr.Trace().Reader(ci.c.since), errs, nil
}

// errors imports the errors of an item read through one of its indexes,
// which hold its rows only: nil for a table (an arranged system relation
// too), which has none; a materialized view's or a source's output's
// otherwise.
func (ci catalogImports) errors(g *dataflow.Graph, it *item) (*dataflow.Collection, error) {
	if it.Kind == sql.KindTable || it.rt == nil || it.rt.out == nil {
		return nil, nil
	}
	return g.ImportOutputErrors(it.rt.out)
}

func (ci catalogImports) IndexRead(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar, prefixes []repr.Row) (*dataflow.Collection, bool, error) {
	it, r, errs, err := ci.index(g, id, key)
	if it == nil || err != nil {
		return nil, false, err
	}
	c, err := g.ImportPrefixes(r, prefixes)
	if err != nil {
		return nil, false, err
	}
	if errs == nil {
		return c, true, nil
	}
	u, err := dataflow.Union(c, errs)
	if err != nil {
		return nil, false, err
	}
	return u, true, nil
}

// sourceErrors returns the error of a failed source that rel reads,
// directly or through views and materialized views.
func (c *Coordinator) sourceErrors(rel plan.Rel) error {
	var found error
	seen := map[plan.GlobalID]bool{}
	var visit func(id plan.GlobalID)
	visit = func(id plan.GlobalID) {
		if seen[id] || found != nil {
			return
		}
		seen[id] = true
		it := c.cat.items[id]
		if it == nil {
			return
		}
		if it.rt != nil && it.rt.sourceErr != nil {
			found = it.rt.sourceErr
			return
		}
		for _, d := range it.deps {
			visit(d)
		}
	}
	plan.Visit(rel, func(r plan.Rel) {
		if g, ok := r.(plan.Get); ok && g.Local == 0 {
			visit(g.Global)
		}
	})
	return found
}

// overlayImports adds uncommitted table updates to the imported tables.
// Existing arrangements of those tables are hidden (they lack the
// updates): the dataflow arranges the overlaid collection itself.
type overlayImports struct {
	render.Imports
	ts      repr.Timestamp
	overlay map[plan.GlobalID][]repr.Update
}

func (o overlayImports) Collection(g *dataflow.Graph, id plan.GlobalID) (*dataflow.Collection, error) {
	coll, err := o.Imports.Collection(g, id)
	if err != nil {
		return nil, err
	}
	ups := o.overlay[id]
	if len(ups) == 0 {
		return coll, nil
	}
	in := g.NewInput("uncommitted", coll.Arity())
	for _, u := range ups {
		u.Time = o.ts
		if err := in.Send(u); err != nil {
			return nil, err
		}
	}
	in.Advance(repr.MaxTimestamp)
	return dataflow.Union(coll, in.Collection())
}

func (o overlayImports) Arrangement(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar) (*dataflow.Arranged, bool, error) {
	if len(o.overlay[id]) > 0 {
		return nil, false, nil
	}
	return o.Imports.Arrangement(g, id, key)
}

func (o overlayImports) IndexRead(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar, prefixes []repr.Row) (*dataflow.Collection, bool, error) {
	if len(o.overlay[id]) > 0 {
		return nil, false, nil
	}
	return o.Imports.IndexRead(g, id, key, prefixes)
}

// txnOverlay returns the session's uncommitted writes by table.
func (s *session) txnOverlay() map[plan.GlobalID][]repr.Update {
	if len(s.txn.writes) == 0 {
		return nil
	}
	out := map[plan.GlobalID][]repr.Update{}
	for _, w := range s.txn.writes {
		id := plan.GlobalID(w.Table)
		out[id] = append(out[id], repr.Update{Row: w.Row, Diff: w.Diff})
	}
	return out
}
