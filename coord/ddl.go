package coord

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/dataflow/render"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/sql/parse"
	"github.com/viewd/viewd/storage"
)

// catalogRecord is one durable catalog change.
type catalogRecord struct {
	Op         string        `json:"op"` // create, drop, drop_fk, rename, schema, drop_schema
	ID         plan.GlobalID `json:"id,omitempty"`
	OID        uint32        `json:"oid,omitempty"`
	SQL        string        `json:"sql,omitempty"`
	SearchPath []string      `json:"search_path,omitempty"`
	IDs        []uint64      `json:"ids,omitempty"`
	OIDs       []uint32      `json:"oids,omitempty"`
	// Desc keeps columns that were derived rather than declared (a
	// Debezium source's schema block), so replay does not need upstream.
	Desc   *repr.RelationDesc `json:"desc,omitempty"`
	Name   string             `json:"name,omitempty"`
	Schema string             `json:"schema,omitempty"`
	// Owner is the owner of what a create or schema record makes (0 in
	// records written before roles existed: the bootstrap superuser),
	// and the new owner in an owner record.
	Owner uint32 `json:"owner,omitempty"`
	// Roles is the whole new state of each role a roles record changes.
	Roles []roleRecord `json:"roles,omitempty"`
	// ACL is the whole new ACL of the item (ID) or schema (Schema) of an
	// acl record.
	ACL []aclItem `json:"acl,omitempty"`
	// Default is a default_acl record's whole new entry.
	Default *defaultACL `json:"default,omitempty"`
	// PG is a PostgreSQL source's tables and slot.
	PG *pgSourceRecord `json:"pg,omitempty"`
}

// creating carries the id a replayed CREATE must reuse.
type creating struct {
	id  plan.GlobalID
	oid uint32
	// searchPath is the search path of the creating session.
	searchPath []string
	// subIDs and subOIDs are a source's subsources' ids.
	subIDs  []plan.GlobalID
	subOIDs []uint32
	desc    *repr.RelationDesc
	pg      *pgSourceRecord
}

// persistLocked appends a catalog record durably. ctx is the client's: a
// client that gave up before the record is written leaves no trace. The
// append itself runs under the coordinator's context: the store reports a
// cancelled context only once the record is durable, and a durable change
// must reach the catalog in memory too (a cancelled DDL used to fail here
// and then appear, or vanish, at the next restart).
func (c *Coordinator) persistLocked(ctx context.Context, rec catalogRecord) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if rec.Op == "create" || rec.Op == "schema" {
		rec.Owner = c.cat.owner()
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("coord: encode catalog record: %w", err)
	}
	if err := c.store.AppendCatalog(c.ctx, b); err != nil {
		return pgcode.Wrap(err, pgcode.IOError, "could not persist the catalog change: "+err.Error())
	}
	c.catalogRecs = append(c.catalogRecs, b)
	return nil
}

// pending holds, during replay, the id/oid/search path of the statement
// being replayed; nil for a live statement.
func (c *Coordinator) newIDLocked() (plan.GlobalID, uint32) {
	if c.replaying != nil {
		return c.replaying.id, c.replaying.oid
	}
	return c.cat.allocID()
}

// resolveNewName turns a partial name into the schema and item of a new
// object, checking the schema exists.
func (c *Coordinator) resolveNewName(n sql.PartialName, searchPath []string) (string, string, error) {
	if n.Database != "" && n.Database != defaultDatabase {
		return "", "", pgcode.New(pgcode.InvalidCatalogName, "database %q does not exist", n.Database)
	}
	schema := n.Schema
	if schema == "" {
		for _, s := range searchPath {
			if sc, ok := c.cat.schemas[s]; ok && !sc.system {
				schema = s
				break
			}
		}
		if schema == "" {
			return "", "", pgcode.New(pgcode.InvalidSchemaName, "no schema has been selected to create in")
		}
	}
	sc, ok := c.cat.schemas[schema]
	if !ok {
		return "", "", pgcode.New(pgcode.InvalidSchemaName, "schema %q does not exist", schema)
	}
	if sc.system {
		return "", "", pgcode.New(pgcode.InsufficientPrivilege, "cannot create objects in system schema %q", schema)
	}
	if err := c.checkCreateLocked(schema); err != nil {
		return "", "", err
	}
	return schema, n.Item, nil
}

// exists reports whether schema.name is taken.
func (c *Coordinator) exists(schema, name string) (*item, bool) {
	sc := c.cat.schemas[schema]
	if sc == nil {
		return nil, false
	}
	id, ok := sc.items[name]
	if !ok {
		return nil, false
	}
	return c.cat.items[id], true
}

// addDataflowLocked registers a persistent dataflow, stepping it once at
// now so that it is complete through now like every other.
//
// The step runs under the coordinator's context, not the client's: a
// persistent dataflow must never be stopped half way.
//
// A materialized view's dataflow is bounded by Config.MaxDataflowMemory:
// when its first step passes the bound the view is created failed (reads
// report 53200) rather than the statement failing.
func (c *Coordinator) addDataflowLocked(owner plan.GlobalID, g *dataflow.Graph) error {
	d := &dataflowState{owner: owner, graph: g}
	if it := c.cat.items[owner]; it != nil && it.Kind == sql.KindMaterializedView {
		d.bounded = true
	}
	err := g.Step(c.ctx, c.now)
	if err == nil && d.bounded {
		err = c.checkStateLocked(d)
	}
	if err != nil {
		if d.bounded && isOutOfMemory(err) {
			c.failDataflowLocked(d, err)
			return nil
		}
		g.Close()
		return err
	}
	// Its first step read its inputs whole: return what that used.
	c.releaseMemorySoon()
	c.dataflows = append(c.dataflows, d)
	return nil
}

func (c *Coordinator) removeDataflowLocked(owner plan.GlobalID) {
	// DeleteFunc clears the slots it frees: a filter in place
	// (c.dataflows[:0] and append) left the dropped dataflow in the
	// backing array past the new length, and with it every byte of its
	// state, until another dataflow overwrote the slot.
	c.dataflows = slices.DeleteFunc(c.dataflows, func(d *dataflowState) bool {
		if d.owner == owner {
			d.graph.Close()
			return true
		}
		return false
	})
}

func (c *Coordinator) createTable(ctx context.Context, p *sql.CreateTablePlan, persist bool) error {
	sp := c.searchPathFor(p.Name)
	schema, name, err := c.resolveNewName(p.Name, sp)
	if err != nil {
		return err
	}
	if _, ok := c.exists(schema, name); ok {
		if p.IfNotExists {
			return c.noticeSkip("relation", name)
		}
		return pgcode.New(pgcode.DuplicateRelation, "relation %q already exists", name)
	}
	id, oid := c.newIDLocked()
	it := &item{CatalogItem: sql.CatalogItem{ID: id, Name: sql.QualifiedName{Database: defaultDatabase, Schema: schema, Item: name}, Kind: sql.KindTable, Desc: p.Desc,
		PrimaryKey: p.PrimaryKey, SQL: p.SQL}, oid: oid, createSQL: p.SQL}
	for _, col := range p.Columns {
		it.Defaults = append(it.Defaults, col.Default)
	}
	it.table = newTableState(p)
	parents := make([]*item, len(p.ForeignKeys))
	for i, fk := range p.ForeignKeys {
		parents[i] = it
		if fk.Ref != nil {
			parents[i] = c.cat.items[fk.Ref.ID]
			if parents[i] == nil || parents[i].table == nil {
				return pgcode.New(pgcode.UndefinedTable, "relation %q does not exist", fk.Ref.Name.Item)
			}
		}
	}
	rt := c.newTableDataflow(it.Name.String(), p.Desc.Arity(), p.PrimaryKey, c.now)
	rt.input.Advance(c.now + 1)
	if persist {
		if err := c.persistLocked(ctx, catalogRecord{Op: "create", ID: id, OID: oid, SQL: p.SQL, SearchPath: sp}); err != nil {
			rt.graph.Close()
			return err
		}
	}
	it.rt = rt
	if err := c.cat.insert(it); err != nil {
		rt.graph.Close()
		return err
	}
	for i, fk := range p.ForeignKeys {
		c.linkForeignKeyLocked(fk, i, it, parents[i])
	}
	return c.addDataflowLocked(id, rt.graph)
}

// searchPathFor returns the search path to resolve names with: the
// replayed record's, or the current session's (set by the caller).
func (c *Coordinator) searchPathFor(sql.PartialName) []string {
	if c.replaying != nil && c.replaying.searchPath != nil {
		return c.replaying.searchPath
	}
	if c.planningPath != nil {
		return c.planningPath
	}
	return []string{"public"}
}

func (c *Coordinator) noticeSkip(kind, name string) error {
	if c.notice != nil {
		c.notice(&pgcode.Error{Code: pgcode.DuplicateRelation, Severity: pgcode.SeverityNotice, Message: fmt.Sprintf("%s %q already exists, skipping", kind, name)})
	}
	return nil
}

func (c *Coordinator) createView(ctx context.Context, p *sql.CreateViewPlan, persist bool) error {
	sp := c.searchPathFor(p.Name)
	schema, name, err := c.resolveNewName(p.Name, sp)
	if err != nil {
		return err
	}
	kind := sql.KindView
	if p.Materialized {
		kind = sql.KindMaterializedView
	}
	// The view's owner reads its inputs for whoever reads the view.
	if err := c.checkReadLocked(p.Query.DependsOn); err != nil {
		return err
	}
	// replaced is the view OR REPLACE replaces, whose owner and
	// privileges the new one keeps, as in PostgreSQL.
	var replaced *item
	if old, ok := c.exists(schema, name); ok {
		switch {
		case p.IfNotExists:
			return c.noticeSkip(kind.String(), name)
		case p.OrReplace && old.Kind == kind:
			if err := c.checkOwnerLocked(itemTarget(old)); err != nil {
				return err
			}
			if len(old.rdeps) > 0 {
				return pgcode.New(pgcode.DependentObjectsStillExist, "cannot replace %s %q because other objects depend on it", kind, name)
			}
			for _, d := range p.Query.DependsOn {
				if d == old.ID {
					return pgcode.New(pgcode.InvalidObjectDefinition, "%s %q cannot depend on itself", kind, name)
				}
			}
			if err := c.dropItemsLocked(ctx, []plan.GlobalID{old.ID}, persist); err != nil {
				return err
			}
			replaced = old
			// The old view's drop is durable: the replacement completes.
			ctx = context.WithoutCancel(ctx)
		default:
			return pgcode.New(pgcode.DuplicateRelation, "relation %q already exists", name)
		}
	}
	id, oid := c.newIDLocked()
	it := &item{
		CatalogItem: sql.CatalogItem{ID: id, Name: sql.QualifiedName{Database: defaultDatabase, Schema: schema, Item: name}, Kind: kind, Desc: p.Query.Desc, SQL: p.SQL},
		oid:         oid, createSQL: p.SQL, deps: p.Query.DependsOn, searchPath: sp,
	}
	if !p.Query.Finishing.IsTrivial(plan.Arity(p.Query.Expr)) {
		return pgcode.New(pgcode.InternalError, "coord: view %q was planned with a finishing", name)
	}
	it.viewExpr = p.Query.Expr
	if p.Materialized {
		g, out, err := c.buildMaterializedLocked(it.Name.String(), p.Query.Expr)
		if err != nil {
			return err
		}
		it.rt = &runtimeState{graph: g, out: out}
	}
	if persist {
		if err := c.persistLocked(ctx, catalogRecord{Op: "create", ID: id, OID: oid, SQL: p.SQL, SearchPath: sp}); err != nil {
			if it.rt != nil {
				it.rt.graph.Close()
			}
			return err
		}
	}
	if err := c.cat.insert(it); err != nil {
		if it.rt != nil {
			it.rt.graph.Close()
		}
		return err
	}
	if replaced != nil && persist {
		if replaced.owner != it.owner {
			if err := c.changeOwnerLocked(ctx, itemTarget(it), replaced.owner); err != nil {
				return err
			}
		}
		if replaced.acl != nil {
			if err := c.setACLLocked(ctx, itemTarget(it), replaced.acl); err != nil {
				return err
			}
		}
	}
	if it.rt != nil {
		return c.addDataflowLocked(id, it.rt.graph)
	}
	return nil
}

// buildMaterializedLocked renders a maintained dataflow of rel whose
// output is readable from now on. A view that only ever grows (a
// monotonic plan over append-only sources: a pass-through, a filter, a
// join of them) keeps its output as an append log, as its sources do
// (newInputDataflow): its rows come in once and are never retracted, so
// arranging them would sort and merge every row for readers that scan.
func (c *Coordinator) buildMaterializedLocked(name string, rel plan.Rel) (*dataflow.Graph, *dataflow.Output, error) {
	opt, err := c.optimizeMIRLocked(rel, nil, nil)
	if err != nil {
		return nil, nil, err
	}
	oracle := indexOracle{c.cat}
	lir, err := plan.Lower(opt, oracle)
	if err != nil {
		return nil, nil, err
	}
	opts := c.graphOptions()
	opts.MemoryLimit = c.cfg.MaxDataflowMemory
	g := dataflow.NewGraph(opts)
	coll, err := render.Render(g, lir, c.imports(), c.now)
	if err != nil {
		g.Close()
		return nil, nil, err
	}
	if plan.Monotonic(opt, oracle) {
		return g, coll.MaterializeAppendOnly(c.now), nil
	}
	return g, coll.Materialize(c.now), nil
}

func (c *Coordinator) createIndex(ctx context.Context, p *sql.CreateIndexPlan, persist bool) error {
	on := c.cat.items[p.On.ID]
	if on == nil {
		return pgcode.New(pgcode.UndefinedTable, "relation %q does not exist", p.On.Name.Item)
	}
	if err := c.checkOwnerLocked(itemTarget(on)); err != nil {
		return err
	}
	schema := on.Name.Schema
	name := p.Name
	if name == "" {
		name = c.indexName(on, p.KeyNames)
	}
	if _, ok := c.exists(schema, name); ok {
		if p.IfNotExists {
			return c.noticeSkip("index", name)
		}
		return pgcode.New(pgcode.DuplicateRelation, "relation %q already exists", name)
	}
	id, oid := c.newIDLocked()
	it := &item{
		CatalogItem: sql.CatalogItem{ID: id, Name: sql.QualifiedName{Database: defaultDatabase, Schema: schema, Item: name}, Kind: sql.KindIndex, Desc: on.Desc, On: on.ID, SQL: p.SQL},
		oid:         oid, createSQL: p.SQL, deps: []plan.GlobalID{on.ID}, indexKeys: p.Keys, searchPath: c.searchPathFor(sql.PartialName{}),
	}
	for _, k := range p.Keys {
		if col, ok := k.(expr.Column); ok {
			it.IndexKeys = append(it.IndexKeys, col.Index)
		}
	}
	if p.Unique {
		if on.table == nil || len(it.IndexKeys) != len(p.Keys) {
			return pgcode.New(pgcode.FeatureNotSupported, "unique indexes must be on columns of a table")
		}
		if err := on.table.addUniqueKey(on.rt, c.now, it.IndexKeys, name); err != nil {
			return err
		}
		it.uniqueOn = on.table
	}
	// The index's dataflow reads its object (rendering a view's definition)
	// and arranges it by the key.
	get := plan.Get{Global: on.ID, Name: on.Name.String(), Type: plan.RelType{Cols: on.Desc.Types, Keys: on.Desc.Keys}}
	lir, err := c.optimizeLocked(get)
	if err != nil {
		return err
	}
	g := dataflow.NewGraph(c.graphOptions())
	coll, err := render.Render(g, lir, c.imports(), c.now)
	if err != nil {
		g.Close()
		if it.uniqueOn != nil {
			it.uniqueOn.dropUniqueKey(name)
		}
		return err
	}
	arr := coll.Arrange(p.Keys)
	it.rt = &runtimeState{graph: g, arranged: arr, indexHold: arr.Trace().Reader(c.now)}
	if persist {
		if err := c.persistLocked(ctx, catalogRecord{Op: "create", ID: id, OID: oid, SQL: p.SQL, SearchPath: it.searchPath}); err != nil {
			g.Close()
			if it.uniqueOn != nil {
				it.uniqueOn.dropUniqueKey(name)
			}
			return err
		}
	}
	if err := c.cat.insert(it); err != nil {
		g.Close()
		if it.uniqueOn != nil {
			it.uniqueOn.dropUniqueKey(name)
		}
		return err
	}
	return c.addDataflowLocked(id, g)
}

// indexName chooses a name like PostgreSQL's: on_cols_idx, made unique.
func (c *Coordinator) indexName(on *item, keys []string) string {
	base := on.Name.Item + "_" + strings.Join(keys, "_") + "_idx"
	if len(keys) == 0 {
		base = on.Name.Item + "_primary_idx"
	}
	name := base
	for i := 1; ; i++ {
		if _, ok := c.exists(on.Name.Schema, name); !ok {
			return name
		}
		name = fmt.Sprintf("%s%d", base, i)
	}
}

func (c *Coordinator) createSchema(ctx context.Context, p *sql.CreateSchemaPlan, persist bool) error {
	if p.Database != "" && p.Database != defaultDatabase {
		return pgcode.New(pgcode.InvalidCatalogName, "database %q does not exist", p.Database)
	}
	if _, ok := c.cat.schemas[p.Name]; ok {
		if p.IfNotExists {
			if c.notice != nil {
				c.notice(&pgcode.Error{Code: pgcode.DuplicateSchema, Severity: pgcode.SeverityNotice, Message: fmt.Sprintf("schema %q already exists, skipping", p.Name)})
			}
			return nil
		}
		return pgcode.New(pgcode.DuplicateSchema, "schema %q already exists", p.Name)
	}
	if err := c.checkCreateSchemaLocked(); err != nil {
		return err
	}
	if p.Owner != "" && c.replaying == nil {
		// AUTHORIZATION: a role the creator may SET ROLE to owns it.
		owner := c.cat.roleByName(p.Owner)
		if owner == nil {
			return pgcode.New(pgcode.UndefinedObject, "role %q does not exist", p.Owner)
		}
		if r, check := c.ddlActorLocked(); check && !c.cat.isMemberOf(r, owner.OID) {
			return pgcode.New(pgcode.InsufficientPrivilege, "must be able to SET ROLE %q", owner.Name)
		}
		defer func(prev uint32) { c.cat.ddlOwner = prev }(c.cat.ddlOwner)
		c.cat.ddlOwner = owner.OID
	}
	if persist {
		if err := c.persistLocked(ctx, catalogRecord{Op: "schema", Name: p.Name}); err != nil {
			return err
		}
	}
	c.cat.schemas[p.Name] = &schema{name: p.Name, oid: c.cat.nextOID, items: map[string]plan.GlobalID{}, owner: c.cat.owner(),
		acl: c.cat.initialACL(c.cat.owner(), "", "schema")}
	c.cat.version++
	c.cat.nextOID++
	return nil
}

func (c *Coordinator) createConnection(ctx context.Context, p *sql.CreateConnectionPlan, persist bool) error {
	schema, name, sp, skip, err := c.newObjectNameLocked(p.Name, "connection", p.IfNotExists)
	if skip || err != nil {
		return err
	}
	deps, err := c.checkConnectionLocked(p, sp)
	if err != nil {
		return err
	}
	id, oid := c.newIDLocked()
	it := &item{CatalogItem: sql.CatalogItem{ID: id, Name: sql.QualifiedName{Database: defaultDatabase, Schema: schema, Item: name}, Kind: sql.KindConnection, SQL: p.SQL}, oid: oid, createSQL: p.SQL, conn: p, deps: deps, searchPath: sp}
	if persist {
		if err := c.persistLocked(ctx, catalogRecord{Op: "create", ID: id, OID: oid, SQL: p.SQL, SearchPath: sp}); err != nil {
			return err
		}
	}
	return c.cat.insert(it)
}

// drop executes DROP.
func (c *Coordinator) drop(ctx context.Context, s *session, p *sql.DropPlan) error {
	if p.Kind == "schema" {
		return c.dropSchemas(ctx, p)
	}
	if p.Kind == "database" {
		return pgcode.New(pgcode.FeatureNotSupported, "DROP DATABASE is not supported")
	}
	var roots []plan.GlobalID
	for _, n := range p.Names {
		it, err := c.cat.resolve(n, c.searchPathFor(n))
		if err != nil {
			if p.IfExists && (pgcode.Of(err) == pgcode.UndefinedTable || pgcode.Of(err) == pgcode.InvalidSchemaName) {
				if c.notice != nil {
					c.notice(&pgcode.Error{Code: pgcode.UndefinedObject, Severity: pgcode.SeverityNotice, Message: fmt.Sprintf("%s %q does not exist, skipping", p.Kind, n.Item)})
				}
				continue
			}
			if pgcode.Of(err) == pgcode.UndefinedTable {
				return pgcode.New(pgcode.UndefinedTable, "%s %q does not exist", p.Kind, n.String())
			}
			return err
		}
		if it.system {
			return pgcode.New(pgcode.InsufficientPrivilege, "cannot drop system object %s", it.Name)
		}
		if it.Kind.String() != p.Kind {
			return pgcode.New(pgcode.WrongObjectType, "%q is not a %s", it.Name.Item, p.Kind).
				WithHint("Use DROP %s to remove a %s.", strings.ToUpper(it.Kind.String()), it.Kind)
		}
		if err := c.checkOwnerLocked(itemTarget(it)); err != nil {
			return err
		}
		roots = append(roots, it.ID)
	}
	var all []plan.GlobalID
	seen := map[plan.GlobalID]bool{}
	for _, r := range roots {
		deps := c.cat.dependents(r)
		if !p.Cascade && len(deps) > 1 {
			it := c.cat.items[r]
			var names []string
			for _, d := range deps[:len(deps)-1] {
				if di := c.cat.items[d]; di != nil && di.Kind != sql.KindIndex && !(di.source != nil && di.source.parent == r) {
					names = append(names, fmt.Sprintf("%s %s depends on %s %s", di.Kind, di.Name.Item, it.Kind, it.Name.Item))
				}
			}
			if len(names) > 0 {
				return pgcode.New(pgcode.DependentObjectsStillExist, "cannot drop %s %s because other objects depend on it", it.Kind, it.Name.Item).
					WithDetail("%s", strings.Join(names, "\n")).WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
			}
		}
		for _, d := range deps {
			if !seen[d] {
				seen[d] = true
				all = append(all, d)
			}
		}
	}
	if err := c.dropReferencingKeysLocked(ctx, all, seen, p.Cascade); err != nil {
		return err
	}
	return c.dropItemsLocked(ctx, all, true)
}

// dropReferencingKeysLocked handles the foreign keys of tables that are
// not dropped (not in seen) that reference a table among ids: without
// cascade they fail the DROP (2BP01); with it they are dropped, not their
// tables, as PostgreSQL does.
func (c *Coordinator) dropReferencingKeysLocked(ctx context.Context, ids []plan.GlobalID, seen map[plan.GlobalID]bool, cascade bool) error {
	var keys []*foreignKey
	var details []string
	for _, id := range ids {
		it := c.cat.items[id]
		if it == nil || it.table == nil {
			continue
		}
		for _, fk := range it.table.referencedBy {
			if !seen[fk.child.ID] {
				keys = append(keys, fk)
				details = append(details, fmt.Sprintf("constraint %s on table %s depends on table %s", fk.Name, fk.child.Name.Item, it.Name.Item))
			}
		}
	}
	if len(keys) == 0 {
		return nil
	}
	if !cascade {
		return pgcode.New(pgcode.DependentObjectsStillExist, "cannot drop table %s because other objects depend on it", keys[0].parent.Name.Item).
			WithDetail("%s", strings.Join(details, "\n")).WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
	}
	for _, fk := range keys {
		if err := c.persistLocked(ctx, catalogRecord{Op: "drop_fk", ID: fk.child.ID, Name: fk.Name}); err != nil {
			return err
		}
		// Durable: the rest completes whatever the client does.
		ctx = context.WithoutCancel(ctx)
		c.unlinkForeignKeyLocked(fk)
	}
	if c.notice != nil {
		n := &pgcode.Error{Code: pgcode.SuccessfulCompletion, Severity: pgcode.SeverityNotice,
			Message: fmt.Sprintf("drop cascades to constraint %s on table %s", keys[0].Name, keys[0].child.Name.Item)}
		if len(keys) > 1 {
			lines := make([]string, len(keys))
			for i, fk := range keys {
				lines[i] = fmt.Sprintf("drop cascades to constraint %s on table %s", fk.Name, fk.child.Name.Item)
			}
			n.Message, n.Detail = fmt.Sprintf("drop cascades to %d other objects", len(keys)), strings.Join(lines, "\n")
		}
		c.notice(n)
	}
	return nil
}

// dropForeignKeyLocked drops the foreign key named name of table id
// (replay of a drop_fk record).
func (c *Coordinator) dropForeignKeyLocked(id plan.GlobalID, name string) {
	it := c.cat.items[id]
	if it == nil || it.table == nil {
		return
	}
	for _, fk := range it.table.fks {
		if fk.Name == name {
			c.unlinkForeignKeyLocked(fk)
			return
		}
	}
}

// dropItemsLocked drops items (dependents first) durably.
func (c *Coordinator) dropItemsLocked(ctx context.Context, ids []plan.GlobalID, persist bool) error {
	if len(ids) == 0 {
		return nil
	}
	if persist {
		rec := catalogRecord{Op: "drop"}
		for _, id := range ids {
			rec.IDs = append(rec.IDs, uint64(id))
		}
		if err := c.persistLocked(ctx, rec); err != nil {
			return err
		}
	}
	for _, id := range ids {
		it := c.cat.items[id]
		if it == nil {
			continue
		}
		c.removeDataflowLocked(id)
		if it.rt != nil {
			if it.rt.out != nil {
				it.rt.out.Release()
			}
			if it.rt.indexHold != nil {
				it.rt.indexHold.Release()
			}
			if it.rt.stop != nil {
				it.rt.stop()
			}
		}
		if it.source != nil && it.source.group != nil {
			c.leaveGroupLocked(it)
		}
		if it.uniqueOn != nil {
			it.uniqueOn.dropUniqueKey(it.Name.Item)
		}
		if it.table != nil {
			for _, fk := range append(slices.Clone(it.table.fks), it.table.referencedBy...) {
				if slices.Contains(fk.child.table.fks, fk) {
					c.unlinkForeignKeyLocked(fk)
				}
			}
		}
		if (it.Kind == sql.KindTable || it.Kind == sql.KindSource) && persist {
			// The drop is durable: forgetting the contents must not stop
			// half way because the client went away.
			if err := c.store.DropTable(c.ctx, uint64(id)); err != nil {
				return err
			}
		}
		c.cat.remove(id)
	}
	return nil
}

func (c *Coordinator) dropSchemas(ctx context.Context, p *sql.DropPlan) error {
	for _, n := range p.Names {
		sc, ok := c.cat.schemas[n.Item]
		if !ok {
			if p.IfExists {
				continue
			}
			return pgcode.New(pgcode.InvalidSchemaName, "schema %q does not exist", n.Item)
		}
		if sc.system || sc.name == "public" {
			return pgcode.New(pgcode.InsufficientPrivilege, "cannot drop schema %q", sc.name)
		}
		if err := c.checkOwnerLocked(schemaTarget(sc)); err != nil {
			return err
		}
		if len(sc.items) > 0 && !p.Cascade {
			return pgcode.New(pgcode.DependentObjectsStillExist, "cannot drop schema %s because other objects depend on it", sc.name).
				WithHint("Use DROP ... CASCADE to drop the dependent objects too.")
		}
		var all []plan.GlobalID
		ids := make([]plan.GlobalID, 0, len(sc.items))
		for _, id := range sc.items {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] > ids[j] })
		seen := map[plan.GlobalID]bool{}
		for _, id := range ids {
			for _, d := range c.cat.dependents(id) {
				if !seen[d] {
					seen[d] = true
					all = append(all, d)
				}
			}
		}
		if err := c.dropItemsLocked(ctx, all, true); err != nil {
			return err
		}
		if len(all) > 0 {
			// The schema's objects are dropped durably: the statement
			// completes whatever the client does.
			ctx = context.WithoutCancel(ctx)
		}
		if err := c.persistLocked(ctx, catalogRecord{Op: "drop_schema", Name: sc.name}); err != nil {
			return err
		}
		ctx = context.WithoutCancel(ctx)
		delete(c.cat.schemas, sc.name)
		c.cat.version++
	}
	return nil
}

func (c *Coordinator) rename(ctx context.Context, p *sql.AlterRenamePlan, persist bool) error {
	it, err := c.cat.resolve(p.Name, c.searchPathFor(p.Name))
	if err != nil {
		if p.IfExists {
			return nil
		}
		return err
	}
	if p.Kind != "" && p.Kind != it.Kind.String() {
		return pgcode.New(pgcode.WrongObjectType, "%q is not a %s", it.Name.Item, p.Kind)
	}
	if err := c.checkOwnerLocked(itemTarget(it)); err != nil {
		return err
	}
	if _, ok := c.exists(it.Name.Schema, p.NewName); ok {
		return pgcode.New(pgcode.DuplicateRelation, "relation %q already exists", p.NewName)
	}
	if persist {
		if err := c.persistLocked(ctx, catalogRecord{Op: "rename", ID: it.ID, Name: p.NewName}); err != nil {
			return err
		}
	}
	c.renameLocked(it, p.NewName)
	return nil
}

func (c *Coordinator) renameLocked(it *item, newName string) {
	sc := c.cat.schemas[it.Name.Schema]
	delete(sc.items, it.Name.Item)
	it.Name.Item = newName
	sc.items[newName] = it.ID
	c.cat.version++
}

// replay recreates the catalog from its durable records and loads table
// contents, at the coordinator's start timestamp.
func (c *Coordinator) replay(ctx context.Context, st storage.State) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, raw := range st.Catalog {
		var rec catalogRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return fmt.Errorf("coord: catalog record %d: %w", i, err)
		}
		if err := c.replayRecord(ctx, rec, st); err != nil {
			return fmt.Errorf("coord: replaying catalog record %d (%s %s): %w", i, rec.Op, rec.SQL, err)
		}
	}
	c.replaying = nil
	c.cat.ddlOwner = 0
	return nil
}

func (c *Coordinator) replayRecord(ctx context.Context, rec catalogRecord, st storage.State) error {
	c.cat.ddlOwner = rec.Owner
	switch rec.Op {
	case "roles":
		for _, r := range rec.Roles {
			c.cat.putRoleLocked(r)
		}
		return nil
	case "drop_role":
		c.cat.dropRoleLocked(rec.OID)
		return nil
	case "acl", "owner":
		c.replayPrivilegeRecord(rec)
		return nil
	case "default_acl":
		if rec.Default != nil {
			c.cat.putDefaultACL(*rec.Default)
		}
		return nil
	case "schema":
		c.cat.schemas[rec.Name] = &schema{name: rec.Name, oid: c.cat.nextOID, items: map[string]plan.GlobalID{}, owner: c.cat.owner(),
			acl: c.cat.initialACL(c.cat.owner(), "", "schema")}
		c.cat.version++
		c.cat.nextOID++
		return nil
	case "drop_schema":
		delete(c.cat.schemas, rec.Name)
		c.cat.version++
		return nil
	case "drop":
		ids := make([]plan.GlobalID, len(rec.IDs))
		for i, id := range rec.IDs {
			ids[i] = plan.GlobalID(id)
		}
		return c.dropItemsLocked(ctx, ids, false)
	case "drop_fk":
		c.dropForeignKeyLocked(rec.ID, rec.Name)
		return nil
	case "rename":
		if it := c.cat.items[rec.ID]; it != nil {
			c.renameLocked(it, rec.Name)
		}
		return nil
	case "create":
	default:
		return fmt.Errorf("unknown op %q", rec.Op)
	}
	stmts, err := parse.Parse(rec.SQL)
	if err != nil || len(stmts) != 1 {
		return fmt.Errorf("parse: %v", err)
	}
	c.replaying = &creating{id: rec.ID, oid: rec.OID, searchPath: rec.SearchPath, subOIDs: rec.OIDs, desc: rec.Desc, pg: rec.PG}
	for _, id := range rec.IDs {
		c.replaying.subIDs = append(c.replaying.subIDs, plan.GlobalID(id))
	}
	vs := map[string]string{"search_path": strings.Join(rec.SearchPath, ", ")}
	scx := &sql.StatementContext{Catalog: catalogView{c: c.cat, db: defaultDatabase}, Vars: vs}
	p, err := sql.PlanStatement(scx, stmts[0], nil)
	if err != nil {
		return err
	}
	switch p := p.(type) {
	case *sql.CreateTablePlan:
		if err := c.createTable(ctx, p, false); err != nil {
			return err
		}
		return c.loadTableLocked(rec.ID, st.Tables[uint64(rec.ID)])
	case *sql.CreateViewPlan:
		return c.createView(ctx, p, false)
	case *sql.CreateIndexPlan:
		return c.createIndex(ctx, p, false)
	case *sql.CreateConnectionPlan:
		return c.createConnection(ctx, p, false)
	case *sql.CreateSecretPlan:
		return c.createSecret(ctx, p, false)
	case *sql.CreateSourcePlan:
		if err := c.createSource(ctx, p, false); err != nil {
			return err
		}
		ids := append([]plan.GlobalID{rec.ID}, c.replaying.subIDs...)
		var g *sourceGroup
		if it := c.cat.items[rec.ID]; it != nil && it.source != nil {
			g = it.source.group
		}
		logged := false
		for _, id := range ids {
			tc := st.Tables[uint64(id)]
			logged = logged || len(tc.Snapshots) > 0 || len(tc.Updates) > 0
			if err := c.loadTableLocked(id, tc); err != nil {
				return err
			}
		}
		if g != nil && g.gen != nil {
			if g.logged = logged; !logged {
				return c.replayGeneratorLocked(ctx, g)
			}
		}
		return nil
	}
	return fmt.Errorf("not a CREATE statement: %T", p)
}

// loadTableLocked gives a replayed table (or source collection) its
// durable contents as of now: its snapshot files go straight into its
// arrangement (loadSnapshotLocked), the updates logged since through its
// input. Both enter at the next step, which replay forces.
func (c *Coordinator) loadTableLocked(id plan.GlobalID, tc storage.TableContents) error {
	it := c.cat.items[id]
	if it == nil || (len(tc.Snapshots) == 0 && len(tc.Updates) == 0) {
		return nil
	}
	// The table's graph was stepped at now when it was created; its
	// contents enter at the next step.
	t := c.now + 1
	if len(tc.Snapshots) > 0 {
		if err := c.loadSnapshotLocked(it, tc.Snapshots, t); err != nil {
			return fmt.Errorf("coord: loading %s: %w", it.Name.String(), err)
		}
	}
	for _, u := range tc.Updates {
		if err := it.rt.input.Send(repr.Update{Row: u.Row, Time: t, Diff: u.Diff}); err != nil {
			return err
		}
		if it.table != nil {
			it.table.apply(u.Row, u.Diff)
		}
	}
	c.needStep = true
	return nil
}
