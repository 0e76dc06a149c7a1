package coord

import (
	"bytes"
	"fmt"
	"maps"
	"slices"

	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// Catalog relations.
//
// The system relations that describe the catalog (pg_class, pg_attribute,
// pg_type, information_schema.columns, ...) are arranged collections like
// a table's: each has an input dataflow whose rows are arranged by the
// key named in catalogRelationKeys, the optimiser sees that arrangement as
// an index, and a read imports it (or looks it up, or scans it) like any
// other. Their contents are derived from the catalog: the coordinator
// keeps what it last fed each input (builtinTable.current) and, at the
// first step after the catalog changed (catalog.version moved), feeds
// each input the difference between its new rows and those.
//
// Invariant: when builtinVersion == cat.version, the contents of every
// arranged system relation at c.now are its rows function's current
// answer. A read that might see a stale one first advances time
// (freshCatalogLocked), so DDL followed by a catalog query — in any
// session — sees the change; a script of DDL pays one refresh at its
// first catalog read, not one per statement, and reads of user relations
// pay none.
//
// The other system relations are computed when they are read (a constant
// in the plan): those whose rows change with more than the catalog (the
// sessions of pg_stat_activity, the counters of mz_source_statuses, the
// roles) and the small, fixed or empty ones, which the optimiser folds.

// catalogRelationKeys names the arranged system relations and their
// arrangement keys (columns). The key is unique (declared to the planner)
// unless catalogRelationNotUnique names the relation.
var catalogRelationKeys = map[string][]string{
	"pg_catalog.pg_namespace":              {"oid"},
	"pg_catalog.pg_class":                  {"oid"},
	"pg_catalog.pg_attribute":              {"attrelid", "attnum"},
	"pg_catalog.pg_type":                   {"oid"},
	"pg_catalog.pg_tables":                 {"schemaname", "tablename"},
	"pg_catalog.pg_views":                  {"schemaname", "viewname"},
	"pg_catalog.pg_matviews":               {"schemaname", "matviewname"},
	"pg_catalog.pg_attrdef":                {"oid"},
	"pg_catalog.pg_index":                  {"indexrelid"},
	"pg_catalog.pg_indexes":                {"schemaname", "indexname"},
	"pg_catalog.pg_constraint":             {"oid"},
	"pg_catalog.pg_proc":                   {"oid"},
	"mz_internal.mz_pg_objects":            {"mz_oid", "mz_kind", "mz_colno"},
	"information_schema.schemata":          {"schema_name"},
	"information_schema.tables":            {"table_schema", "table_name"},
	"information_schema.columns":           {"table_schema", "table_name", "ordinal_position"},
	"information_schema.views":             {"table_schema", "table_name"},
	"information_schema.table_constraints": {"constraint_schema", "constraint_name"},
	"information_schema.key_column_usage":  {"constraint_schema", "constraint_name", "ordinal_position"},
	"mz_catalog.mz_tables":                 {"id"},
	"mz_catalog.mz_views":                  {"id"},
	"mz_catalog.mz_materialized_views":     {"id"},
	"mz_catalog.mz_indexes":                {"id"},
	"mz_catalog.mz_sources":                {"id"},
}

// catalogRelationNotUnique are the arranged system relations whose
// arrangement key may repeat (names that a user's index and a key's
// implied index could share).
var catalogRelationNotUnique = map[string]bool{
	"pg_catalog.pg_indexes":                true,
	"information_schema.table_constraints": true,
	"information_schema.key_column_usage":  true,
}

// installCatalogRelationsLocked builds the input dataflow of every
// arranged system relation, empty; the first step fills them.
func (c *Coordinator) installCatalogRelationsLocked() error {
	for _, it := range c.sortedItems() {
		if it.builtin == nil {
			continue
		}
		keyNames, ok := catalogRelationKeys[it.Name.Schema+"."+it.Name.Item]
		if !ok {
			continue
		}
		key := make([]int, len(keyNames))
		for i, n := range keyNames {
			key[i] = slices.Index(it.Desc.Names, n)
			if key[i] < 0 {
				return fmt.Errorf("coord: system relation %s has no column %s", it.Name, n)
			}
		}
		if !catalogRelationNotUnique[it.Name.Schema+"."+it.Name.Item] {
			// Its key: the planner compares only these columns where it
			// must tell rows apart (outer joins).
			types := slices.Clone(it.Desc.Types)
			for _, k := range key {
				types[k].Nullable = false
			}
			it.Desc.Types, it.Desc.Keys = types, [][]int{key}
		}
		rt := c.newTableDataflow(it.Name.String(), it.Desc.Arity(), key, c.since)
		if err := c.addDataflowLocked(it.ID, rt.graph); err != nil {
			return fmt.Errorf("coord: system relation %s: %w", it.Name, err)
		}
		it.rt = rt
		it.builtin.arranged = true
	}
	// Not equal to any catalog version: the first step fills them.
	c.builtinVersion = c.cat.version - 1
	return nil
}

// refreshCatalogRelationsLocked feeds every arranged system relation the
// changes of its rows since it was last fed, at t (the step being taken).
func (c *Coordinator) refreshCatalogRelationsLocked(t repr.Timestamp) error {
	if c.builtinVersion == c.cat.version {
		return nil
	}
	for _, it := range c.cat.items {
		b := it.builtin
		if b == nil || !b.arranged {
			continue
		}
		rows := b.rows(c)
		next := make([]repr.Row, len(rows))
		for i, ds := range rows {
			next[i] = repr.PackRow(ds...)
		}
		slices.SortFunc(next, func(x, y repr.Row) int { return bytes.Compare(x, y) })
		var err error
		send := func(r repr.Row, d repr.Diff) {
			if err == nil {
				err = it.rt.input.Send(repr.Update{Row: r, Time: t, Diff: d})
			}
		}
		i, j := 0, 0
		for i < len(b.current) || j < len(next) {
			switch {
			case j == len(next) || (i < len(b.current) && bytes.Compare(b.current[i], next[j]) < 0):
				send(b.current[i], -1)
				i++
			case i == len(b.current) || bytes.Compare(b.current[i], next[j]) > 0:
				send(next[j], 1)
				j++
			default:
				i++
				j++
			}
		}
		if err != nil {
			return fmt.Errorf("coord: feed system relation %s: %w", it.Name, err)
		}
		b.current = next
	}
	c.builtinVersion = c.cat.version
	return nil
}

// freshCatalogLocked makes the arranged system relations current at
// c.now when rel reads one of them (directly or through views and
// materialized views): when the catalog changed since they were last fed,
// it advances time (which feeds them). Reads call it before choosing
// their timestamp. A read of user relations only does not pay for the
// refresh, which recomputes every arranged system relation: after each
// DDL of a script, a SELECT of a user view paid it, and the sqllogictest
// view mode (a view per query, all kept) ran at 2 records/s.
func (c *Coordinator) freshCatalogLocked(rel plan.Rel) error {
	if c.builtinVersion == c.cat.version || c.closed || !c.readsCatalogLocked(rel) {
		return nil
	}
	c.catalogRefreshWanted = true
	_, err := c.advanceLocked(nil)
	return err
}

// catalogWatchedLocked reports whether a step must feed the arranged
// system relations: the catalog changed and a materialized view, an
// index or a SUBSCRIBE may read one of them (a SUBSCRIBE conservatively:
// any live one). Otherwise they are fed when a read needs them
// (freshCatalogLocked): feeding them after every DDL recomputes every
// system relation, and a script creating a thousand views spent a third
// of its time there.
func (c *Coordinator) catalogWatchedLocked() bool {
	if c.builtinVersion == c.cat.version {
		return false
	}
	if len(c.subscribes) > 0 {
		return true
	}
	seen := map[plan.GlobalID]bool{}
	persistent := func(it *item) bool {
		return it.builtin == nil && (it.Kind == sql.KindMaterializedView || it.Kind == sql.KindIndex)
	}
	readers := func(it *item) []plan.GlobalID { return slices.Collect(maps.Keys(it.rdeps)) }
	for id, it := range c.cat.items {
		if it.builtin != nil && it.builtin.arranged && len(it.rdeps) > 0 && c.reachesLocked(id, readers, persistent, seen) {
			return true
		}
	}
	return false
}

// reachesLocked reports whether an item for which found holds is
// reachable from id along next (an item's deps or its readers), id
// included; seen carries the items already visited across calls.
func (c *Coordinator) reachesLocked(id plan.GlobalID, next func(*item) []plan.GlobalID, found func(*item) bool, seen map[plan.GlobalID]bool) bool {
	if seen[id] {
		return false
	}
	seen[id] = true
	it := c.cat.items[id]
	if it == nil {
		return false
	}
	if found(it) {
		return true
	}
	for _, n := range next(it) {
		if c.reachesLocked(n, next, found, seen) {
			return true
		}
	}
	return false
}

// readsCatalogLocked reports whether rel reads an arranged system
// relation, directly or through the items it reads.
func (c *Coordinator) readsCatalogLocked(rel plan.Rel) bool {
	seen := map[plan.GlobalID]bool{}
	deps := func(it *item) []plan.GlobalID { return it.deps }
	arranged := func(it *item) bool { return it.builtin != nil && it.builtin.arranged }
	item := func(id plan.GlobalID) bool { return c.reachesLocked(id, deps, arranged, seen) }
	var walk func(r plan.Rel) bool
	walk = func(r plan.Rel) bool {
		if g, ok := r.(plan.Get); ok && g.Local == 0 && item(g.Global) {
			return true
		}
		for _, ch := range plan.Children(r) {
			if walk(ch) {
				return true
			}
		}
		return false
	}
	return walk(rel)
}
