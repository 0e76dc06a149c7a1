package coord

import (
	"sort"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/sql"
)

// defaultDatabase is the one database viewd serves.
const defaultDatabase = "viewd"

// System schemas, searched before the search path as PostgreSQL searches
// pg_catalog implicitly.
var systemSchemas = []string{"mz_catalog", "pg_catalog"}

// schema is a namespace of items.
type schema struct {
	name   string
	oid    uint32
	system bool
	items  map[string]plan.GlobalID
	// owner is the owning role's OID; acl the schema's privileges (nil:
	// the owner's alone).
	owner uint32
	acl   []aclItem
}

// item is a catalog object and, for collections, its runtime state.
type item struct {
	sql.CatalogItem
	oid    uint32
	system bool
	// deps are the items this one reads; rdeps the items that read it.
	deps  []plan.GlobalID
	rdeps map[plan.GlobalID]bool
	// createSQL is the statement that recreates the item on restart.
	createSQL string
	// viewDef caches viewDefinition(viewDefOf), the definition the
	// catalog relations show for a view (pg_query parse and deparse: a
	// millisecond or more, paid at every catalog refresh before the cache).
	viewDef, viewDefOf string
	// runtime is the item's compute state (inputs, dataflows, arrangements).
	rt *runtimeState
	// viewExpr is a view's definition (unoptimised MIR), inlined where it
	// is read.
	viewExpr plan.Rel
	// indexKeys are an index's key expressions over the indexed columns.
	indexKeys []expr.Scalar
	// builtin generates a system relation's rows from the catalog.
	builtin *builtinTable
	// table holds a table's write-side state (constraints, defaults).
	table *tableState
	// searchPath is the search_path the item's SQL was planned with.
	searchPath []string
	// conn is a connection's definition.
	conn *sql.CreateConnectionPlan
	// secret is a secret's value. No SQL path returns it: the item's SQL
	// and createSQL are redacted.
	secret string
	// source is a source's ingestion state.
	source *sourceState
	// uniqueOn is the table whose writes a unique index checks.
	uniqueOn *tableState
	// owner is the owning role's OID (its creator's, or viewd's for
	// system items and items made before roles existed); acl the item's
	// privileges (nil: the owner's alone).
	owner uint32
	acl   []aclItem
}

// catalog holds every schema and item. It is guarded by the coordinator's
// lock.
type catalog struct {
	nextID  plan.GlobalID
	nextOID uint32
	schemas map[string]*schema
	items   map[plan.GlobalID]*item
	// version counts changes to the set of items and their names, and
	// to roles and privileges, so that cached plans know when to plan
	// (and check privileges) again.
	version uint64
	// roles are the roles by OID.
	roles map[uint32]*role
	// defaultACLs are ALTER DEFAULT PRIVILEGES' entries.
	defaultACLs []*defaultACL
	// ddlOwner is the role that items and schemas created now are owned
	// by: the current role of the session whose DDL runs, or the replayed
	// record's owner; 0 means the bootstrap superuser.
	ddlOwner uint32
}

// First ids: user objects start at userIDBase so system objects (builtins)
// keep stable low ids; OIDs start where PostgreSQL's user OIDs start.
const (
	userIDBase  plan.GlobalID = 1 << 20
	userOIDBase uint32        = 16384
)

func newCatalog() *catalog {
	c := &catalog{
		nextID:  userIDBase,
		nextOID: userOIDBase,
		schemas: map[string]*schema{},
		items:   map[plan.GlobalID]*item{},
		roles:   map[uint32]*role{},
	}
	oid := uint32(11)
	for _, s := range []string{"pg_catalog", "mz_catalog", "mz_internal", "information_schema"} {
		c.schemas[s] = &schema{name: s, oid: oid, system: true, items: map[string]plan.GlobalID{}, owner: bootstrapRoleOID}
		oid += 100
	}
	// As in PostgreSQL 15: everyone may use public, only its owner (and
	// whoever is granted CREATE) may create in it.
	c.schemas["public"] = &schema{name: "public", oid: 2200, items: map[string]plan.GlobalID{}, owner: bootstrapRoleOID,
		acl: []aclItem{{Grantee: bootstrapRoleOID, Grantor: bootstrapRoleOID, Privs: privUsage | privCreate},
			{Grantee: publicRoleOID, Grantor: bootstrapRoleOID, Privs: privUsage}}}
	for _, r := range builtinRoles() {
		c.roles[r.OID] = r
	}
	return c
}

// owner is the owner of what is created now.
func (c *catalog) owner() uint32 {
	if c.ddlOwner == 0 {
		return bootstrapRoleOID
	}
	return c.ddlOwner
}

// allocID returns a fresh item id and OID.
func (c *catalog) allocID() (plan.GlobalID, uint32) {
	id, oid := c.nextID, c.nextOID
	c.nextID++
	c.nextOID++
	return id, oid
}

// insert adds an item, linking its dependencies.
func (c *catalog) insert(it *item) error {
	s, ok := c.schemas[it.Name.Schema]
	if !ok {
		return pgcode.New(pgcode.InvalidSchemaName, "schema %q does not exist", it.Name.Schema)
	}
	if _, dup := s.items[it.Name.Item]; dup {
		return pgcode.New(pgcode.DuplicateRelation, "%s %q already exists", it.Kind, it.Name.Item)
	}
	s.items[it.Name.Item] = it.ID
	c.items[it.ID] = it
	c.version++
	if it.owner == 0 {
		it.owner = c.owner()
		it.acl = maskACL(c.initialACL(it.owner, it.Name.Schema, defaultKind(it.Kind)), kindPrivileges(it.Kind.String()))
	}
	if it.rdeps == nil {
		it.rdeps = map[plan.GlobalID]bool{}
	}
	for _, d := range it.deps {
		if dep, ok := c.items[d]; ok {
			dep.rdeps[it.ID] = true
		}
	}
	if it.ID >= c.nextID {
		c.nextID = it.ID + 1
	}
	if it.oid >= c.nextOID {
		c.nextOID = it.oid + 1
	}
	return nil
}

// remove unlinks an item.
func (c *catalog) remove(id plan.GlobalID) {
	it, ok := c.items[id]
	if !ok {
		return
	}
	delete(c.items, id)
	c.version++
	if s, ok := c.schemas[it.Name.Schema]; ok && s.items[it.Name.Item] == id {
		delete(s.items, it.Name.Item)
	}
	for _, d := range it.deps {
		if dep, ok := c.items[d]; ok {
			delete(dep.rdeps, id)
		}
	}
}

// dependents returns every item that transitively depends on id, in an
// order safe for dropping (dependents before what they depend on), id last.
func (c *catalog) dependents(id plan.GlobalID) []plan.GlobalID {
	var order []plan.GlobalID
	seen := map[plan.GlobalID]bool{}
	var visit func(plan.GlobalID)
	visit = func(x plan.GlobalID) {
		if seen[x] {
			return
		}
		seen[x] = true
		it := c.items[x]
		if it == nil {
			return
		}
		rd := make([]plan.GlobalID, 0, len(it.rdeps))
		for r := range it.rdeps {
			rd = append(rd, r)
		}
		sort.Slice(rd, func(i, j int) bool { return rd[i] > rd[j] })
		for _, r := range rd {
			visit(r)
		}
		order = append(order, x)
	}
	visit(id)
	return order
}

// resolve finds an item by a partial name through the search path.
func (c *catalog) resolve(name sql.PartialName, searchPath []string) (*item, error) {
	if name.Database != "" && name.Database != defaultDatabase {
		return nil, pgcode.New(pgcode.InvalidCatalogName, "database %q does not exist", name.Database)
	}
	if name.Schema != "" {
		s, ok := c.schemas[name.Schema]
		if !ok {
			return nil, pgcode.New(pgcode.InvalidSchemaName, "schema %q does not exist", name.Schema)
		}
		if id, ok := s.items[name.Item]; ok {
			return c.items[id], nil
		}
		return nil, undefinedRelation(name)
	}
	for _, sp := range append(append([]string(nil), systemSchemas...), searchPath...) {
		if s, ok := c.schemas[sp]; ok {
			if id, ok := s.items[name.Item]; ok {
				return c.items[id], nil
			}
		}
	}
	return nil, undefinedRelation(name)
}

func undefinedRelation(name sql.PartialName) error {
	return pgcode.New(pgcode.UndefinedTable, "relation %q does not exist", name.String())
}

// catalogView adapts the catalog to sql.Catalog for one session.
type catalogView struct {
	c  *catalog
	db string
}

var _ sql.Catalog = catalogView{}

// ResolveItem implements sql.Catalog.
func (v catalogView) ResolveItem(name sql.PartialName, searchPath []string) (*sql.CatalogItem, error) {
	it, err := v.c.resolve(name, searchPath)
	if err != nil {
		return nil, err
	}
	ci := it.CatalogItem
	return &ci, nil
}

// ResolveSchema implements sql.Catalog.
func (v catalogView) ResolveSchema(database, schema string) bool {
	if database != "" && database != defaultDatabase {
		return false
	}
	_, ok := v.c.schemas[schema]
	return ok
}

// ItemByID implements sql.Catalog.
func (v catalogView) ItemByID(id plan.GlobalID) (*sql.CatalogItem, bool) {
	it, ok := v.c.items[id]
	if !ok {
		return nil, false
	}
	ci := it.CatalogItem
	return &ci, true
}

// DefaultDatabase implements sql.Catalog.
func (v catalogView) DefaultDatabase() string { return defaultDatabase }
