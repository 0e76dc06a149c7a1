package sql

import (
	"strings"

	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// ItemKind is the kind of a catalog item.
type ItemKind uint8

// Item kinds.
const (
	KindTable ItemKind = iota + 1
	KindView
	KindMaterializedView
	KindSource
	KindIndex
	KindConnection
	KindType
	KindSink
	KindSecret
)

var itemKindNames = [...]string{
	KindTable: "table", KindView: "view", KindMaterializedView: "materialized view",
	KindSource: "source", KindIndex: "index", KindConnection: "connection",
	KindType: "type", KindSink: "sink", KindSecret: "secret",
}

// String returns the kind as SQL names it ("materialized view").
func (k ItemKind) String() string {
	if int(k) < len(itemKindNames) && itemKindNames[k] != "" {
		return itemKindNames[k]
	}
	return "object"
}

// IsRelation reports whether items of the kind can be read in FROM.
func (k ItemKind) IsRelation() bool {
	switch k {
	case KindTable, KindView, KindMaterializedView, KindSource:
		return true
	}
	return false
}

// QualifiedName is a database.schema.item name.
type QualifiedName struct {
	Database string
	Schema   string
	Item     string
}

// String prints the name as schema.item (database omitted when empty),
// quoting parts that need it.
func (n QualifiedName) String() string {
	var parts []string
	if n.Database != "" {
		parts = append(parts, quoteIdent(n.Database))
	}
	if n.Schema != "" {
		parts = append(parts, quoteIdent(n.Schema))
	}
	parts = append(parts, quoteIdent(n.Item))
	return strings.Join(parts, ".")
}

// PartialName is a name as written: any of database and schema may be
// empty.
type PartialName struct {
	Database string
	Schema   string
	Item     string
}

// String prints the name as written.
func (n PartialName) String() string {
	var parts []string
	if n.Database != "" {
		parts = append(parts, n.Database)
	}
	if n.Schema != "" {
		parts = append(parts, n.Schema)
	}
	return strings.Join(append(parts, n.Item), ".")
}

// CatalogItem is what the planner needs of a catalog object.
type CatalogItem struct {
	ID   plan.GlobalID
	Name QualifiedName
	Kind ItemKind
	// Desc is the relation's columns (names, types, nullability) and
	// unique keys; for an index, the indexed relation's.
	Desc repr.RelationDesc
	// Defaults holds, for a table, the DEFAULT expression text of each
	// column ("" for none, meaning NULL); parsed and planned on INSERT.
	Defaults []string
	// PrimaryKey is, for a table, its PRIMARY KEY columns (nil when it has
	// none); when set it is Desc.Keys[0].
	PrimaryKey []int
	// On is, for an index, the indexed relation; Keys its key columns.
	On        plan.GlobalID
	IndexKeys []int
	// SQL is the item's CREATE statement, for SHOW CREATE.
	SQL string
}

// Catalog is the coordinator's catalog as the planner sees it. Resolve
// functions return a *pgcode.Error (42P01, 3F000, ...) when a name does
// not resolve.
type Catalog interface {
	// ResolveItem resolves a possibly qualified name through the search
	// path (when unqualified) to an item. Temporary and system schemas
	// (mz_catalog, pg_catalog, information_schema) are searched as
	// PostgreSQL does.
	ResolveItem(name PartialName, searchPath []string) (*CatalogItem, error)
	// ResolveSchema resolves [database.]schema; ok false when it does not
	// exist.
	ResolveSchema(database, schema string) (ok bool)
	// ItemByID returns an item by ID (for dependencies and indexes).
	ItemByID(id plan.GlobalID) (*CatalogItem, bool)
	// DefaultDatabase is the session's database (used to qualify names).
	DefaultDatabase() string
}

// StatementContext is what planning one statement may read: the catalog,
// the session's variables, and the types of $n parameters.
type StatementContext struct {
	Catalog Catalog
	// Vars are the session variables by lower-case name (search_path,
	// timezone, ...); missing ones take PostgreSQL's defaults.
	Vars map[string]string
	// ParamTypes are the types of $1..$n: fixed from ParameterDescription
	// OIDs when given, otherwise inferred while planning (an entry of
	// repr.TypeUnknown is filled in). Planning may grow the slice.
	ParamTypes []repr.ScalarType
	// ParamUses counts, per parameter, the references to it that planning
	// made (a plan cache checks that each reached the plan intact).
	ParamUses []int
}

// SearchPath returns the schemas of search_path in order ("public" when
// unset), without "$user".
func (scx *StatementContext) SearchPath() []string {
	v, ok := scx.Vars["search_path"]
	if !ok {
		return []string{"public"}
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if strings.HasPrefix(s, `"`) && strings.HasSuffix(s, `"`) && len(s) >= 2 {
			s = strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
		} else {
			s = strings.ToLower(s)
		}
		if s == "" || s == "$user" {
			continue
		}
		out = append(out, s)
	}
	return out
}

// quoteIdent quotes an identifier when PostgreSQL would need it to.
func quoteIdent(s string) string {
	if s == "" {
		return `""`
	}
	plain := true
	for i, r := range s {
		if !(r == '_' || (r >= 'a' && r <= 'z') || (i > 0 && r >= '0' && r <= '9')) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}
