package coord

import (
	"slices"
	"sort"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// builtinTable is a system relation whose rows are generated from the
// catalog when it is read.
type builtinTable struct {
	rows func(c *Coordinator) [][]repr.Datum
	// arranged is set for the system relations kept as arranged
	// collections (catalogrel.go); current is then what their input was
	// fed, packed and sorted.
	arranged bool
	current  []repr.Row
}

type builtinDef struct {
	schema string
	name   string
	cols   []string
	types  []repr.ScalarType
	rows   func(c *Coordinator) [][]repr.Datum
}

var (
	tText = repr.TypeText
	tOid  = repr.TypeOid
	tBool = repr.TypeBool
	tInt2 = repr.TypeInt2
	tInt4 = repr.TypeInt4
	tInt8 = repr.TypeInt8
)

// builtinIDBase numbers system relations below user objects.
const builtinIDBase plan.GlobalID = 1000

func installBuiltins(cat *catalog) {
	for i, b := range builtinDefs() {
		id := builtinIDBase + plan.GlobalID(i)
		desc := repr.RelationDesc{Names: b.cols}
		for _, t := range b.types {
			desc.Types = append(desc.Types, repr.ColumnType{Type: t, Nullable: true})
		}
		it := &item{
			CatalogItem: sql.CatalogItem{ID: id, Name: sql.QualifiedName{Database: defaultDatabase, Schema: b.schema, Item: b.name}, Kind: sql.KindView, Desc: desc},
			oid:         uint32(12000 + i), system: true, builtin: &builtinTable{rows: b.rows},
		}
		if o, ok := pgRelationOIDs[b.schema+"."+b.name]; ok {
			it.oid = o
		}
		cat.schemas[b.schema].items[b.name] = id
		cat.items[id] = it
		it.rdeps = map[plan.GlobalID]bool{}
	}
}

// builtinContents returns a system relation's current rows as a constant.
func (c *Coordinator) builtinContents(it *item) plan.Constant {
	var rows []plan.ConstRow
	for _, ds := range it.builtin.rows(c) {
		rows = append(rows, plan.ConstRow{Row: repr.PackRow(ds...), Diff: 1})
	}
	return plan.Constant{Rows: rows, Type: plan.RelType{Cols: it.Desc.Types}}
}

func text(s string) repr.Datum { return repr.TextDatum(s) }

func oid(v uint32) repr.Datum { return repr.OidDatum(v) }

// relkind is pg_class.relkind of an item kind.
func relkind(k sql.ItemKind) string {
	switch k {
	case sql.KindTable:
		return "r"
	case sql.KindView:
		return "v"
	case sql.KindMaterializedView:
		return "m"
	case sql.KindIndex:
		return "i"
	case sql.KindSource:
		return "r"
	}
	return ""
}

// userItems are the non-system items in name order.
func (c *Coordinator) userItems() []*item {
	var out []*item
	for _, it := range c.sortedItems() {
		if !it.system {
			out = append(out, it)
		}
	}
	return out
}

func (it *item) sourceType() string {
	if it.source != nil {
		return it.source.typ
	}
	return ""
}

func builtinDefs() []builtinDef {
	defs := []builtinDef{
		{schema: "pg_catalog", name: "pg_namespace", cols: []string{"oid", "nspname", "nspowner", "nspacl"}, types: []repr.ScalarType{tOid, tText, tOid, repr.ArrayOf(tText)},
			rows: func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, s := range sortedSchemas(c.cat) {
					out = append(out, []repr.Datum{oid(s.oid), text(s.name), oid(s.owner), aclDatum(c.cat, s.acl)})
				}
				return out
			}},
		{schema: "pg_catalog", name: "pg_class", cols: pgClassCols.names, types: pgClassCols.types, rows: pgClassRows},
		{schema: "pg_catalog", name: "pg_attribute", cols: pgAttributeCols.names, types: pgAttributeCols.types, rows: pgAttributeRows},
		{schema: "pg_catalog", name: "pg_type", cols: pgTypeCols.names, types: pgTypeCols.types, rows: pgTypeRows},
		{schema: "pg_catalog", name: "pg_database", cols: pgDatabaseCols.names, types: pgDatabaseCols.types, rows: pgDatabaseRows},
		{schema: "pg_catalog", name: "pg_tables", cols: []string{"schemaname", "tablename", "tableowner", "hasindexes", "tablespace", "hasrules", "hastriggers", "rowsecurity"},
			types: []repr.ScalarType{tText, tText, tText, tBool, tText, tBool, tBool, tBool},
			// Sources are relations of kind 'r' in pg_class, so tables here too.
			rows: func(c *Coordinator) [][]repr.Datum {
				return append(itemRows(c, sql.KindTable), itemRows(c, sql.KindSource)...)
			}},
		{schema: "pg_catalog", name: "pg_views", cols: []string{"schemaname", "viewname", "viewowner", "definition"}, types: []repr.ScalarType{tText, tText, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum { return viewRows(c, sql.KindView) }},
		{schema: "pg_catalog", name: "pg_matviews", cols: []string{"schemaname", "matviewname", "matviewowner", "tablespace", "hasindexes", "ispopulated", "definition"},
			types: []repr.ScalarType{tText, tText, tText, tText, tBool, tBool, tText},
			rows:  func(c *Coordinator) [][]repr.Datum { return viewRows(c, sql.KindMaterializedView) }},
		{schema: "information_schema", name: "schemata", cols: []string{"catalog_name", "schema_name", "schema_owner"}, types: []repr.ScalarType{tText, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, s := range sortedSchemas(c.cat) {
					out = append(out, []repr.Datum{text(defaultDatabase), text(s.name), text(c.cat.roleName(s.owner))})
				}
				return out
			}},
		{schema: "information_schema", name: "tables", cols: []string{"table_catalog", "table_schema", "table_name", "table_type"}, types: []repr.ScalarType{tText, tText, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, it := range c.sortedItems() {
					typ := ""
					switch it.Kind {
					case sql.KindTable, sql.KindSource:
						typ = "BASE TABLE"
					case sql.KindView, sql.KindMaterializedView:
						typ = "VIEW"
					default:
						continue
					}
					if it.system {
						typ = "SYSTEM VIEW"
					}
					out = append(out, []repr.Datum{text(defaultDatabase), text(it.Name.Schema), text(it.Name.Item), text(typ)})
				}
				return out
			}},
		{schema: "information_schema", name: "columns", cols: infoColumnsCols.names, types: infoColumnsCols.types, rows: infoColumnsRows},
		{schema: "mz_catalog", name: "mz_tables", cols: []string{"id", "oid", "schema_name", "name"}, types: []repr.ScalarType{tText, tOid, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum { return mzRows(c, sql.KindTable) }},
		{schema: "mz_catalog", name: "mz_views", cols: []string{"id", "oid", "schema_name", "name"}, types: []repr.ScalarType{tText, tOid, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum { return mzRows(c, sql.KindView) }},
		{schema: "mz_catalog", name: "mz_materialized_views", cols: []string{"id", "oid", "schema_name", "name"}, types: []repr.ScalarType{tText, tOid, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum { return mzRows(c, sql.KindMaterializedView) }},
		{schema: "mz_catalog", name: "mz_indexes", cols: []string{"id", "oid", "schema_name", "name"}, types: []repr.ScalarType{tText, tOid, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum { return mzRows(c, sql.KindIndex) }},
		{schema: "mz_catalog", name: "mz_sources", cols: []string{"id", "oid", "schema_name", "name", "type"}, types: []repr.ScalarType{tText, tOid, tText, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, r := range mzRows(c, sql.KindSource) {
					it := c.cat.items[parseID(r[0].Str())]
					out = append(out, append(r, text(it.sourceType())))
				}
				return out
			}},
		{schema: "mz_internal", name: "mz_source_statuses", cols: []string{"id", "name", "type", "status", "error", "offset_known", "offset_committed", "lag", "messages_received", "bytes_received", "updates_staged", "updates_committed", "last_status_change_at",
			"committed_lsn", "lag_bytes", "lag_time", "snapshot_time"},
			types: []repr.ScalarType{tText, tText, tText, tText, tText, tInt8, tInt8, tInt8, tInt8, tInt8, tInt8, tInt8, repr.TypeTimestampTz,
				tText, tInt8, repr.TypeInterval, repr.TypeInterval},
			rows: func(c *Coordinator) [][]repr.Datum { return c.sourceStatusRows() }},
	}
	// Appended so that the ids and OIDs above stay as they were.
	defs = append(append(append(defs, pgCatalogDefs()...), pgStatActivityDef(), pgCursorsDef(), dataflowMemoryDef()), privilegeDefs()...)
	return append(append(defs, pgStatDefs()...), pgMiscDefs()...)
}

func typmodOf(t repr.ScalarType) int32 {
	if t.Typmod < 0 {
		return -1
	}
	switch t.Kind {
	case repr.KindVarchar, repr.KindChar, repr.KindNumeric:
		return t.Typmod + 4
	}
	return t.Typmod
}

type pgType struct {
	name     string
	typ      repr.ScalarType
	category string
}

func pgTypes() []pgType {
	base := []pgType{
		{"bool", repr.TypeBool, "B"}, {"int2", repr.TypeInt2, "N"}, {"int4", repr.TypeInt4, "N"}, {"int8", repr.TypeInt8, "N"},
		{"float4", repr.TypeFloat4, "N"}, {"float8", repr.TypeFloat8, "N"}, {"numeric", repr.TypeNumeric, "N"},
		{"text", repr.TypeText, "S"}, {"varchar", repr.TypeVarchar, "S"}, {"bpchar", repr.TypeChar, "S"}, {"bytea", repr.TypeBytea, "U"},
		{"date", repr.TypeDate, "D"}, {"time", repr.TypeTime, "D"}, {"timestamp", repr.TypeTimestamp, "D"}, {"timestamptz", repr.TypeTimestampTz, "D"},
		{"interval", repr.TypeInterval, "T"}, {"uuid", repr.TypeUUID, "U"}, {"jsonb", repr.TypeJsonb, "U"}, {"oid", repr.TypeOid, "N"},
		{"record", repr.TypeRecord, "P"},
	}
	out := append([]pgType(nil), base...)
	for _, b := range base {
		if b.typ.Kind == repr.KindRecord {
			continue
		}
		out = append(out, pgType{"_" + b.name, repr.ArrayOf(b.typ), "A"})
	}
	out = append(out, pgType{"int2vector", repr.VectorOf(repr.TypeInt2), "A"}, pgType{"oidvector", repr.VectorOf(repr.TypeOid), "A"})
	return out
}

func itemRows(c *Coordinator, k sql.ItemKind) [][]repr.Datum {
	var out [][]repr.Datum
	hasIndex := c.relHasIndex()
	for _, it := range c.userItems() {
		if it.Kind == k {
			out = append(out, []repr.Datum{text(it.Name.Schema), text(it.Name.Item), text(c.cat.roleName(it.owner)), repr.BoolDatum(hasIndex[it.oid]), repr.Null, repr.False, repr.False, repr.False})
		}
	}
	return out
}

func viewRows(c *Coordinator, k sql.ItemKind) [][]repr.Datum {
	var out [][]repr.Datum
	hasIndex := c.relHasIndex()
	for _, it := range c.userItems() {
		if it.Kind != k {
			continue
		}
		row := []repr.Datum{text(it.Name.Schema), text(it.Name.Item), text(c.cat.roleName(it.owner))}
		if k == sql.KindMaterializedView {
			row = append(row, repr.Null, repr.BoolDatum(hasIndex[it.oid]), repr.True)
		}
		out = append(out, append(row, text(it.viewDefinition())))
	}
	return out
}

func mzRows(c *Coordinator, k sql.ItemKind) [][]repr.Datum {
	var out [][]repr.Datum
	for _, it := range c.userItems() {
		if it.Kind == k {
			out = append(out, []repr.Datum{text(formatID(it.ID)), oid(it.oid), text(it.Name.Schema), text(it.Name.Item)})
		}
	}
	return out
}

func formatID(id plan.GlobalID) string { return "u" + uitoa(uint64(id-userIDBase+1)) }

func parseID(s string) plan.GlobalID {
	var v uint64
	for _, ch := range s[1:] {
		v = v*10 + uint64(ch-'0')
	}
	return plan.GlobalID(v) + userIDBase - 1
}

func uitoa(v uint64) string {
	if v == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return string(b[i:])
}

func sortedSchemas(cat *catalog) []*schema {
	var out []*schema
	for _, s := range cat.schemas {
		out = append(out, s)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].oid < out[j-1].oid; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// colSpec is a system relation's columns, written "name type".
type colSpec struct {
	names []string
	types []repr.ScalarType
}

var specTypes = map[string]repr.ScalarType{
	"oid": tOid, "text": tText, "bool": tBool, "int2": tInt2, "int4": tInt4, "int8": tInt8,
	"float4": repr.TypeFloat4, "float8": repr.TypeFloat8, "timestamptz": repr.TypeTimestampTz,
	"text[]": repr.ArrayOf(tText), "int2[]": repr.ArrayOf(tInt2), "oid[]": repr.ArrayOf(tOid),
	"int2vector": repr.VectorOf(tInt2), "oidvector": repr.VectorOf(tOid),
}

func cols(spec ...string) colSpec {
	var c colSpec
	for _, s := range spec {
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if f == "" {
				continue
			}
			name, typ, _ := strings.Cut(f, " ")
			t, ok := specTypes[typ]
			if !ok {
				panic("coord: bad builtin column type " + typ)
			}
			c.names = append(c.names, name)
			c.types = append(c.types, t)
		}
	}
	return c
}

func (s colSpec) def(schema, name string, rows func(c *Coordinator) [][]repr.Datum) builtinDef {
	return builtinDef{schema: schema, name: name, cols: s.names, types: s.types, rows: rows}
}

// empty is the contents of the catalogs of features viewd does not have
// (inheritance, triggers, row security, publications, ...).
func empty(*Coordinator) [][]repr.Datum { return nil }

var (
	i2    = func(v int) repr.Datum { return repr.Int2Datum(int16(v)) }
	i4    = func(v int) repr.Datum { return repr.Int4Datum(int32(v)) }
	boolD = repr.BoolDatum
)

// Object identifiers of what viewd has no catalog item for but clients
// expect a row of: the index behind a table's primary or unique key, the
// key's constraint, and a column's DEFAULT. They are derived from the
// table's OID (user OIDs stay far below 1<<26).
func keyIndexOID(table uint32, k int) uint32  { return 0x40000000 + table<<4 + uint32(k) }
func keyConstrOID(table uint32, k int) uint32 { return 0x50000000 + table<<4 + uint32(k) }
func attrdefOID(table uint32, col int) uint32 { return 0x60000000 + table<<11 + uint32(col) }

// Access methods: tables and materialized views are stored by viewd
// itself (no access method); an index is an arrangement; a key's
// uniqueness is checked with a hash map.
const (
	amHeap         = 2
	amHash         = 405
	amArrangement  = 8000
	ownerOID       = 10
	defaultCollOID = 100
)

// relIndex describes an index as pg_index and pg_class see it: a user's
// CREATE INDEX, or the index implied by a table's PRIMARY KEY or UNIQUE.
type relIndex struct {
	oid     uint32
	name    string
	table   *item
	am      uint32
	keys    []string // key expressions as SQL text
	attnums []int    // 1-based columns of the table (0 for an expression)
	types   []repr.ColumnType
	unique  bool
	primary bool
	constr  uint32 // the constraint's OID, 0 when none
	def     string // CREATE INDEX statement, as pg_get_indexdef prints it
	contype string // 'p' or 'u' for key constraints
}

func (c *Coordinator) relIndexes() []relIndex {
	var out []relIndex
	for _, it := range c.sortedItems() {
		switch {
		case it.Kind == sql.KindIndex:
			on := c.cat.items[it.On]
			if on == nil {
				continue
			}
			ix := relIndex{oid: it.oid, name: it.Name.Item, table: on, am: amArrangement}
			exprs := indexKeyText(it.createSQL)
			for i, k := range it.indexKeys {
				col, isCol := k.(expr.Column)
				switch {
				case isCol && col.Index < len(on.Desc.Names):
					ix.attnums = append(ix.attnums, col.Index+1)
					ix.types = append(ix.types, on.Desc.Types[col.Index])
					ix.keys = append(ix.keys, quoteIdent(on.Desc.Names[col.Index]))
				default:
					ix.attnums = append(ix.attnums, 0)
					ix.types = append(ix.types, k.Type(on.Desc.Types))
					ix.keys = append(ix.keys, k.String())
				}
				if len(exprs) == len(it.indexKeys) {
					ix.keys[i] = exprs[i]
				}
			}
			ix.def = "CREATE INDEX " + quoteIdent(ix.name) + " ON " + qualified(on) + " USING arrangement (" + strings.Join(ix.keys, ", ") + ")"
			out = append(out, ix)
		case it.Kind == sql.KindTable && it.table != nil:
			for k, key := range it.table.keys {
				name := it.Name.Item + "_key"
				if k < len(it.table.keyName) {
					name = it.table.keyName[k]
				}
				primary := k == 0 && name == it.Name.Item+"_pkey"
				ix := relIndex{oid: keyIndexOID(it.oid, k), name: name, table: it, am: amHash, unique: true, primary: primary, constr: keyConstrOID(it.oid, k), contype: "u"}
				if primary {
					ix.contype = "p"
				}
				for _, col := range key {
					ix.attnums = append(ix.attnums, col+1)
					ix.types = append(ix.types, it.Desc.Types[col])
					ix.keys = append(ix.keys, quoteIdent(it.Desc.Names[col]))
				}
				ix.def = "CREATE UNIQUE INDEX " + quoteIdent(ix.name) + " ON " + qualified(it) + " USING hash (" + strings.Join(ix.keys, ", ") + ")"
				out = append(out, ix)
			}
		}
	}
	return out
}

// constraintDef is pg_get_constraintdef of a key.
func (ix relIndex) constraintDef() string {
	if ix.primary {
		return "PRIMARY KEY (" + strings.Join(ix.keys, ", ") + ")"
	}
	return "UNIQUE (" + strings.Join(ix.keys, ", ") + ")"
}

// relHasIndex reports, by OID, the relations that have an index.
func (c *Coordinator) relHasIndex() map[uint32]bool {
	out := map[uint32]bool{}
	for _, ix := range c.relIndexes() {
		out[ix.table.oid] = true
	}
	return out
}

// indexKeyText returns the key expressions of a CREATE INDEX statement as
// SQL text, or nil when it cannot be parsed.
func indexKeyText(stmt string) []string {
	res, err := pg_query.Parse(stmt)
	if err != nil || len(res.Stmts) != 1 {
		return nil
	}
	is := res.Stmts[0].Stmt.GetIndexStmt()
	if is == nil {
		return nil
	}
	var out []string
	for _, p := range is.IndexParams {
		el := p.GetIndexElem()
		if el == nil {
			return nil
		}
		if el.Name != "" {
			out = append(out, quoteIdent(el.Name))
			continue
		}
		t, err := deparseExpr(el.Expr)
		if err != nil {
			return nil
		}
		out = append(out, "("+t+")")
	}
	return out
}

func deparseExpr(n *pg_query.Node) (string, error) {
	sel := &pg_query.SelectStmt{TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: n}}}}}
	text, err := pg_query.Deparse(&pg_query.ParseResult{Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}}}})
	return strings.TrimPrefix(text, "SELECT "), err
}

// viewDefinition returns viewDefinition(it.createSQL), computed once per
// createSQL.
func (it *item) viewDefinition() string {
	if it.viewDefOf != it.createSQL || it.viewDef == "" {
		it.viewDef, it.viewDefOf = viewDefinition(it.createSQL), it.createSQL
	}
	return it.viewDef
}

// viewDefinition returns the query of a CREATE [MATERIALIZED] VIEW
// statement as pg_get_viewdef prints it: " SELECT ...;".
func viewDefinition(stmt string) string {
	res, err := pg_query.Parse(stmt)
	if err == nil && len(res.Stmts) == 1 {
		var q *pg_query.Node
		if v := res.Stmts[0].Stmt.GetViewStmt(); v != nil {
			q = v.Query
		} else if v := res.Stmts[0].Stmt.GetCreateTableAsStmt(); v != nil {
			q = v.Query
		}
		if q != nil {
			text, err := pg_query.Deparse(&pg_query.ParseResult{Stmts: []*pg_query.RawStmt{{Stmt: q}}})
			if err == nil {
				return " " + text + ";"
			}
		}
	}
	// Materialize's syntax that pg_query does not know: cut at AS.
	if i := strings.Index(strings.ToUpper(stmt), " AS "); i >= 0 {
		return " " + strings.TrimSpace(stmt[i+4:]) + ";"
	}
	return stmt
}

func quoteIdent(s string) string { return sql.QualifiedName{Item: s}.String() }

// qualified is schema.name, as PostgreSQL's definitions name relations.
func qualified(it *item) string {
	return sql.QualifiedName{Schema: it.Name.Schema, Item: it.Name.Item}.String()
}

var pgClassCols = cols("oid oid, relname text, relnamespace oid, reltype oid, reloftype oid, relowner oid, relam oid, relfilenode oid, reltablespace oid",
	"relpages int4, reltuples float4, relallvisible int4, reltoastrelid oid, relhasindex bool, relisshared bool, relpersistence text, relkind text",
	"relnatts int2, relchecks int2, relhasrules bool, relhastriggers bool, relhassubclass bool, relrowsecurity bool, relforcerowsecurity bool",
	"relispopulated bool, relreplident text, relispartition bool, relrewrite oid, relfrozenxid oid, relminmxid oid, relacl text[], reloptions text[], relpartbound text")

func pgClassRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	hasIndex := c.relHasIndex()
	// relhastriggers: PostgreSQL keeps foreign keys with triggers on
	// both tables, and psql's \d lists them only when it is set.
	row := func(o uint32, name string, ns uint32, kind string, am uint32, natts int, hasIdx, hasTrig bool, owner uint32, acl repr.Datum) []repr.Datum {
		return []repr.Datum{oid(o), text(name), oid(ns), oid(0), oid(0), oid(owner), oid(am), oid(o), oid(0),
			i4(0), repr.Float4Datum(-1), i4(0), oid(0), boolD(hasIdx), repr.False, text("p"), text(kind),
			i2(natts), i2(0), repr.False, boolD(hasTrig), repr.False, repr.False, repr.False,
			repr.True, text("d"), repr.False, oid(0), oid(0), oid(0), acl, repr.Null, repr.Null}
	}
	for _, it := range c.sortedItems() {
		k := relkind(it.Kind)
		if k == "" || k == "i" {
			continue
		}
		hasTrig := it.table != nil && (len(it.table.fks) > 0 || len(it.table.referencedBy) > 0)
		out = append(out, row(it.oid, it.Name.Item, c.cat.schemas[it.Name.Schema].oid, k, 0, it.Desc.Arity(), hasIndex[it.oid], hasTrig, it.owner, aclDatum(c.cat, it.acl)))
	}
	for _, ix := range c.relIndexes() {
		out = append(out, row(ix.oid, ix.name, c.cat.schemas[ix.table.Name.Schema].oid, "i", ix.am, len(ix.keys), false, false, ix.table.owner, repr.Null))
	}
	return out
}

var pgAttributeCols = cols("attrelid oid, attname text, atttypid oid, attstattarget int4, attlen int2, attnum int2, attndims int4, attcacheoff int4, atttypmod int4",
	"attbyval bool, attalign text, attstorage text, attcompression text, attnotnull bool, atthasdef bool, atthasmissing bool, attidentity text, attgenerated text",
	"attisdropped bool, attislocal bool, attinhcount int4, attcollation oid, attacl text[], attoptions text[], attfdwoptions text[], attmissingval text[]")

func pgAttributeRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	row := func(rel uint32, name string, t repr.ColumnType, num int, notNull, hasDef bool) []repr.Datum {
		ndims, storage, coll := 0, "p", uint32(0)
		if t.Type.Kind == repr.KindArray {
			ndims = 1
		}
		if t.Type.TypLen() < 0 {
			storage = "x"
		}
		if t.Type.Kind.IsString() {
			coll = defaultCollOID
		}
		return []repr.Datum{oid(rel), text(name), oid(t.Type.Oid()), i4(-1), i2(int(t.Type.TypLen())), i2(num), i4(ndims), i4(-1), i4(int(typmodOf(t.Type))),
			boolD(t.Type.TypLen() > 0 && t.Type.TypLen() <= 8), text("i"), text(storage), text(""), boolD(notNull), boolD(hasDef), repr.False, text(""), text(""),
			repr.False, repr.True, i4(0), oid(coll), repr.Null, repr.Null, repr.Null, repr.Null}
	}
	for _, it := range c.sortedItems() {
		if k := relkind(it.Kind); k == "" || k == "i" {
			continue
		}
		for i, n := range it.Desc.Names {
			t := it.Desc.Types[i]
			hasDef := i < len(it.Defaults) && it.Defaults[i] != ""
			// Like PostgreSQL, only tables (and sources) declare NOT NULL;
			// a view's columns are nullable whatever the planner infers.
			notNull := !t.Nullable && (it.Kind == sql.KindTable || it.Kind == sql.KindSource)
			out = append(out, row(it.oid, n, t, i+1, notNull, hasDef))
		}
	}
	for _, ix := range c.relIndexes() {
		for i, t := range ix.types {
			name := "expr"
			if a := ix.attnums[i]; a > 0 {
				name = ix.table.Desc.Names[a-1]
			}
			out = append(out, row(ix.oid, name, t, i+1, false, false))
		}
	}
	return out
}

var pgTypeCols = cols("oid oid, typname text, typnamespace oid, typowner oid, typlen int2, typbyval bool, typtype text, typcategory text, typispreferred bool",
	"typisdefined bool, typdelim text, typrelid oid, typsubscript oid, typelem oid, typarray oid, typinput oid, typoutput oid, typreceive oid, typsend oid",
	"typmodin oid, typmodout oid, typanalyze oid, typalign text, typstorage text, typnotnull bool, typbasetype oid, typtypmod int4, typndims int4",
	"typcollation oid, typdefaultbin text, typdefault text, typacl text[]")

func pgTypeRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	ns := oid(c.cat.schemas["pg_catalog"].oid)
	for _, t := range pgTypes() {
		elem, arr := uint32(0), uint32(0)
		if t.typ.Kind == repr.KindArray {
			elem = t.typ.Elem.Oid()
		} else {
			arr = repr.ArrayOf(t.typ).Oid()
		}
		l := t.typ.TypLen()
		align, storage, coll := "i", "p", uint32(0)
		if l == 8 || t.typ.Kind == repr.KindArray {
			align = "d"
		}
		if l < 0 {
			storage = "x"
		}
		if t.typ.Kind.IsString() {
			coll = defaultCollOID
		}
		typinput := uint32(0)
		if t.typ.Kind == repr.KindArray {
			typinput = 750 // array_in, as 'array_in'::regproc is
		}
		typtype := "b"
		if t.category == "P" {
			typtype = "p"
		}
		out = append(out, []repr.Datum{oid(t.typ.Oid()), text(t.name), ns, oid(ownerOID), i2(int(l)), boolD(l > 0 && l <= 8), text(typtype), text(t.category),
			boolD(expr.IsPreferredType(t.typ)), repr.True, text(","), oid(0), oid(0), oid(elem), oid(arr), oid(typinput), oid(0), oid(0), oid(0),
			oid(0), oid(0), oid(0), text(align), text(storage), repr.False, oid(0), i4(-1), i4(0), oid(coll), repr.Null, repr.Null, repr.Null})
	}
	return out
}

var pgDatabaseCols = cols("oid oid, datname text, datdba oid, encoding int4, datlocprovider text, datistemplate bool, datallowconn bool, datconnlimit int4",
	"datfrozenxid oid, datminmxid oid, dattablespace oid, datcollate text, datctype text, daticulocale text, datcollversion text, datacl text[]")

func pgDatabaseRows(*Coordinator) [][]repr.Datum {
	return [][]repr.Datum{{oid(16384), text(defaultDatabase), oid(ownerOID), i4(6), text("c"), repr.False, repr.True, i4(-1),
		oid(0), oid(0), oid(1663), text("C"), text("C"), repr.Null, repr.Null, repr.Null}}
}

var infoColumnsCols = cols("table_catalog text, table_schema text, table_name text, column_name text, ordinal_position int4, column_default text, is_nullable text, data_type text",
	"character_maximum_length int8, character_octet_length int8, numeric_precision int8, numeric_precision_radix int8, numeric_scale int8, datetime_precision int8",
	"udt_catalog text, udt_schema text, udt_name text, collation_name text, is_identity text, is_generated text, generation_expression text, is_updatable text")

func infoColumnsRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	names := map[uint32]string{}
	for _, t := range pgTypes() {
		names[t.typ.Oid()] = t.name
	}
	for _, it := range c.sortedItems() {
		if !it.Kind.IsRelation() {
			continue
		}
		for i, n := range it.Desc.Names {
			t := it.Desc.Types[i]
			def := repr.Null
			if i < len(it.Defaults) && it.Defaults[i] != "" {
				def = text(it.Defaults[i])
			}
			nullable := "YES"
			if !t.Nullable {
				nullable = "NO"
			}
			charLen, prec, radix, scale, dtPrec := repr.Null, repr.Null, repr.Null, repr.Null, repr.Null
			i8 := func(v int) repr.Datum { return repr.Int8Datum(int64(v)) }
			switch t.Type.Kind {
			case repr.KindVarchar, repr.KindChar:
				if t.Type.Typmod >= 0 {
					charLen = i8(int(t.Type.Typmod))
				}
			case repr.KindInt2:
				prec, radix, scale = i8(16), i8(2), i8(0)
			case repr.KindInt4:
				prec, radix, scale = i8(32), i8(2), i8(0)
			case repr.KindInt8:
				prec, radix, scale = i8(64), i8(2), i8(0)
			case repr.KindFloat4:
				prec, radix = i8(24), i8(2)
			case repr.KindFloat8:
				prec, radix = i8(53), i8(2)
			case repr.KindNumeric:
				radix = i8(10)
				if p, s, ok := t.Type.NumericPrecisionScale(); ok {
					prec, scale = i8(int(p)), i8(int(s))
				}
			case repr.KindTimestamp, repr.KindTimestampTz, repr.KindTime, repr.KindDate:
				dtPrec = i8(6)
				if t.Type.Kind == repr.KindDate {
					dtPrec = i8(0)
				}
			}
			dataType := expr.FormatType(t.Type.Oid(), -1)
			if t.Type.Kind == repr.KindArray {
				dataType = "ARRAY"
			}
			updatable := "NO"
			if it.Kind == sql.KindTable {
				updatable = "YES"
			}
			out = append(out, []repr.Datum{text(defaultDatabase), text(it.Name.Schema), text(it.Name.Item), text(n), i4(i + 1), def, text(nullable), text(dataType),
				charLen, repr.Null, prec, radix, scale, dtPrec,
				text(defaultDatabase), text("pg_catalog"), text(names[t.Type.Oid()]), repr.Null, text("NO"), text("NEVER"), repr.Null, text(updatable)})
		}
	}
	return out
}

// pgCatalogDefs are the rest of pg_catalog that clients' catalog queries
// read, and mz_internal.mz_pg_objects, from which the sql package's
// definitions of pg_table_is_visible, pg_get_indexdef, pg_get_viewdef,
// pg_get_constraintdef, to_regclass and the ::regclass casts read.
func pgCatalogDefs() []builtinDef {
	return []builtinDef{
		cols("oid oid, amname text, amhandler oid, amtype text").def("pg_catalog", "pg_am", func(*Coordinator) [][]repr.Datum {
			return [][]repr.Datum{
				{oid(amHeap), text("heap"), oid(0), text("t")},
				{oid(403), text("btree"), oid(0), text("i")},
				{oid(amHash), text("hash"), oid(0), text("i")},
				{oid(amArrangement), text("arrangement"), oid(0), text("i")},
			}
		}),
		cols("oid oid, adrelid oid, adnum int2, adbin text").def("pg_catalog", "pg_attrdef", func(c *Coordinator) [][]repr.Datum {
			var out [][]repr.Datum
			for _, it := range c.userItems() {
				for i, d := range it.Defaults {
					if d != "" {
						out = append(out, []repr.Datum{oid(attrdefOID(it.oid, i+1)), oid(it.oid), i2(i + 1), text(d)})
					}
				}
			}
			return out
		}),
		cols("indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2, indisunique bool, indnullsnotdistinct bool, indisprimary bool, indisexclusion bool",
			"indimmediate bool, indisclustered bool, indisvalid bool, indcheckxmin bool, indisready bool, indislive bool, indisreplident bool",
			"indkey int2vector, indcollation oidvector, indclass oidvector, indoption int2vector, indexprs text, indpred text").def("pg_catalog", "pg_index", func(c *Coordinator) [][]repr.Datum {
			var out [][]repr.Datum
			for _, ix := range c.relIndexes() {
				var key, opt, coll, class []repr.Datum
				var exprs []string
				for i, a := range ix.attnums {
					key = append(key, i2(a))
					opt = append(opt, i2(0))
					coll = append(coll, oid(0))
					class = append(class, oid(0))
					if a == 0 {
						exprs = append(exprs, ix.keys[i])
					}
				}
				ex := repr.Null
				if len(exprs) > 0 {
					ex = text(strings.Join(exprs, ", "))
				}
				n := len(ix.attnums)
				out = append(out, []repr.Datum{oid(ix.oid), oid(ix.table.oid), i2(n), i2(n), boolD(ix.unique), repr.False, boolD(ix.primary), repr.False,
					repr.True, repr.False, repr.True, repr.False, repr.True, repr.True, repr.False,
					repr.ArrayDatum(key), repr.ArrayDatum(coll), repr.ArrayDatum(class), repr.ArrayDatum(opt), ex, repr.Null})
			}
			return out
		}),
		cols("schemaname text, tablename text, indexname text, tablespace text, indexdef text").def("pg_catalog", "pg_indexes", func(c *Coordinator) [][]repr.Datum {
			var out [][]repr.Datum
			for _, ix := range c.relIndexes() {
				out = append(out, []repr.Datum{text(ix.table.Name.Schema), text(ix.table.Name.Item), text(ix.name), repr.Null, text(ix.def)})
			}
			return out
		}),
		cols("oid oid, conname text, connamespace oid, contype text, condeferrable bool, condeferred bool, convalidated bool, conrelid oid, contypid oid",
			"conindid oid, conparentid oid, confrelid oid, confupdtype text, confdeltype text, confmatchtype text, conislocal bool, coninhcount int4",
			"connoinherit bool, conkey int2[], confkey int2[], conpfeqop oid[], conppeqop oid[], conffeqop oid[], confdelsetcols int2[], conexclop oid[], conbin text").def("pg_catalog", "pg_constraint", func(c *Coordinator) [][]repr.Datum {
			var out [][]repr.Datum
			for _, ix := range c.relIndexes() {
				if ix.constr == 0 {
					continue
				}
				var key []repr.Datum
				for _, a := range ix.attnums {
					key = append(key, i2(a))
				}
				out = append(out, []repr.Datum{oid(ix.constr), text(ix.name), oid(c.cat.schemas[ix.table.Name.Schema].oid), text(ix.contype), repr.False, repr.False, repr.True, oid(ix.table.oid), oid(0),
					oid(ix.oid), oid(0), oid(0), text(" "), text(" "), text(" "), repr.True, i4(0),
					repr.True, repr.ArrayDatum(key), repr.Null, repr.Null, repr.Null, repr.Null, repr.Null, repr.Null, repr.Null})
			}
			for _, fk := range c.sortedForeignKeys() {
				var key, fkey []repr.Datum
				for i := range fk.Columns {
					key = append(key, i2(fk.Columns[i]+1))
					fkey = append(fkey, i2(fk.RefColumns[i]+1))
				}
				out = append(out, []repr.Datum{oid(fkConstrOID(fk.child.oid, fk.seq)), text(fk.Name), oid(c.cat.schemas[fk.child.Name.Schema].oid), text("f"), repr.False, repr.False, repr.True, oid(fk.child.oid), oid(0),
					oid(keyIndexOID(fk.parent.oid, fk.RefKey)), oid(0), oid(fk.parent.oid), text(string(fk.OnUpdate)), text(string(fk.OnDelete)), text(string(fk.Match)), repr.True, i4(0),
					repr.True, repr.ArrayDatum(key), repr.ArrayDatum(fkey), repr.Null, repr.Null, repr.Null, repr.Null, repr.Null, repr.Null})
			}
			return out
		}),
		cols("oid oid, collname text, collnamespace oid, collowner oid, collprovider text, collisdeterministic bool, collencoding int4, collcollate text, collctype text, colliculocale text, collversion text").
			def("pg_catalog", "pg_collation", func(c *Coordinator) [][]repr.Datum {
				ns := oid(c.cat.schemas["pg_catalog"].oid)
				row := func(o uint32, name, provider, locale string) []repr.Datum {
					l := repr.Null
					if locale != "" {
						l = text(locale)
					}
					return []repr.Datum{oid(o), text(name), ns, oid(ownerOID), text(provider), repr.True, i4(-1), l, l, repr.Null, repr.Null}
				}
				return [][]repr.Datum{row(defaultCollOID, "default", "d", ""), row(950, "C", "c", "C"), row(951, "POSIX", "c", "POSIX")}
			}),
		cols("objoid oid, classoid oid, objsubid int4, description text").def("pg_catalog", "pg_description", empty),
		cols("objoid oid, classoid oid, description text").def("pg_catalog", "pg_shdescription", empty),
		cols("inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool").def("pg_catalog", "pg_inherits", empty),
		cols("partrelid oid, partstrat text, partnatts int2, partdefid oid, partattrs int2[]").def("pg_catalog", "pg_partitioned_table", empty),
		cols("oid oid, tgrelid oid, tgparentid oid, tgname text, tgfoid oid, tgtype int2, tgenabled text, tgisinternal bool, tgconstrrelid oid, tgconstrindid oid, tgconstraint oid, tgdeferrable bool, tginitdeferred bool, tgnargs int2, tgattr int2[], tgqual text").
			def("pg_catalog", "pg_trigger", empty),
		cols("oid oid, polname text, polrelid oid, polcmd text, polpermissive bool, polroles oid[], polqual text, polwithcheck text").def("pg_catalog", "pg_policy", empty),
		cols("oid oid, stxrelid oid, stxname text, stxnamespace oid, stxowner oid, stxstattarget int4, stxkeys int2[], stxkind text[], stxexprs text").def("pg_catalog", "pg_statistic_ext", empty),
		cols("oid oid, pubname text, pubowner oid, puballtables bool, pubinsert bool, pubupdate bool, pubdelete bool, pubtruncate bool, pubviaroot bool").def("pg_catalog", "pg_publication", empty),
		cols("oid oid, pnpubid oid, pnnspid oid").def("pg_catalog", "pg_publication_namespace", empty),
		cols("oid oid, prpubid oid, prrelid oid, prqual text, prattrs int2[]").def("pg_catalog", "pg_publication_rel", empty),
		cols("oid oid, rulename text, ev_class oid, ev_type text, ev_enabled text, is_instead bool, ev_qual text, ev_action text").def("pg_catalog", "pg_rewrite", empty),
		cols("oid oid, seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8, seqmax int8, seqmin int8, seqcache int8, seqcycle bool").def("pg_catalog", "pg_sequence", empty),
		cols("oid oid, enumtypid oid, enumsortorder float4, enumlabel text").def("pg_catalog", "pg_enum", empty),
		cols("oid oid, extname text, extowner oid, extnamespace oid, extrelocatable bool, extversion text, extconfig oid[], extcondition text[]").def("pg_catalog", "pg_extension", empty),
		cols("oid oid, classid oid, objid oid, objsubid int4, refclassid oid, refobjid oid, refobjsubid int4, deptype text").def("pg_catalog", "pg_depend", empty),
		cols("oid oid, spcname text, spcowner oid, spcacl text[], spcoptions text[]").def("pg_catalog", "pg_tablespace", func(*Coordinator) [][]repr.Datum {
			return [][]repr.Datum{{oid(1663), text("pg_default"), oid(ownerOID), repr.Null, repr.Null}, {oid(1664), text("pg_global"), oid(ownerOID), repr.Null, repr.Null}}
		}),
		pgRolesCols.def("pg_catalog", "pg_roles", func(c *Coordinator) [][]repr.Datum { return pgRoleRows(c, "********") }),
		// pg_authid without the secret: rolpassword is NULL for everyone
		// (the verifiers are for the wire layer alone).
		pgRolesCols.def("pg_catalog", "pg_authid", func(c *Coordinator) [][]repr.Datum { return pgRoleRows(c, "") }),
		cols("usename text, usesysid oid, usecreatedb bool, usesuper bool, userepl bool, usebypassrls bool, passwd text, valuntil timestamptz, useconfig text[]").
			def("pg_catalog", "pg_user", func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, r := range c.cat.sortedRoles() {
					if r.Login {
						out = append(out, []repr.Datum{text(r.Name), oid(r.OID), boolD(r.CreateDB), boolD(r.Super), boolD(r.Super), boolD(r.Super), text("********"), repr.Null, repr.Null})
					}
				}
				return out
			}),
		cols("oid oid, roleid oid, member oid, grantor oid, admin_option bool").def("pg_catalog", "pg_auth_members", func(c *Coordinator) [][]repr.Datum {
			var out [][]repr.Datum
			n := uint32(0)
			for _, m := range c.cat.sortedRoles() {
				of := make([]uint32, 0, len(m.MemberOf))
				for g := range m.MemberOf {
					of = append(of, g)
				}
				sort.Slice(of, func(i, j int) bool { return of[i] < of[j] })
				for _, g := range of {
					ms := m.MemberOf[g]
					out = append(out, []repr.Datum{oid(authMembersOIDBase + n), oid(g), oid(m.OID), oid(ms.Grantor), boolD(ms.Admin)})
					n++
				}
			}
			return out
		}),
		cols("name text, setting text, unit text, category text, short_desc text, extra_desc text, context text, vartype text, source text",
			"min_val text, max_val text, enumvals text[], boot_val text, reset_val text, sourcefile text, sourceline int4, pending_restart bool").
			def("pg_catalog", "pg_settings", pgSettingsRows),
		cols("oid oid, proname text, pronamespace oid, proowner oid, prolang oid, procost float4, prorows float4, provariadic oid, prosupport oid, prokind text",
			"prosecdef bool, proleakproof bool, proisstrict bool, proretset bool, provolatile text, proparallel text, pronargs int2, pronargdefaults int2",
			"prorettype oid, proargtypes oid[], proallargtypes oid[], proargmodes text[], proargnames text[], proargdefaults text, protrftypes oid[], prosrc text, probin text, prosqlbody text, proconfig text[], proacl text[]").
			def("pg_catalog", "pg_proc", pgProcRows),
		cols("mz_oid oid, mz_kind text, mz_colno int4, mz_text text").def("mz_internal", "mz_pg_objects", pgObjectRows),
		cols("constraint_catalog text, constraint_schema text, constraint_name text, table_catalog text, table_schema text, table_name text",
			"constraint_type text, is_deferrable text, initially_deferred text, enforced text, nulls_distinct text").
			def("information_schema", "table_constraints", func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, ix := range c.relIndexes() {
					if ix.constr == 0 {
						continue
					}
					typ := "UNIQUE"
					if ix.primary {
						typ = "PRIMARY KEY"
					}
					s := ix.table.Name.Schema
					out = append(out, []repr.Datum{text(defaultDatabase), text(s), text(ix.name), text(defaultDatabase), text(s), text(ix.table.Name.Item),
						text(typ), text("NO"), text("NO"), text("YES"), text("YES")})
				}
				for _, fk := range c.sortedForeignKeys() {
					s := fk.child.Name.Schema
					out = append(out, []repr.Datum{text(defaultDatabase), text(s), text(fk.Name), text(defaultDatabase), text(s), text(fk.child.Name.Item),
						text("FOREIGN KEY"), text("NO"), text("NO"), text("YES"), repr.Null})
				}
				return out
			}),
		cols("constraint_catalog text, constraint_schema text, constraint_name text, table_catalog text, table_schema text, table_name text",
			"column_name text, ordinal_position int8, position_in_unique_constraint int8").
			def("information_schema", "key_column_usage", func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				forEachKeyColumn(c, func(ix relIndex, pos int, col string) {
					s := ix.table.Name.Schema
					out = append(out, []repr.Datum{text(defaultDatabase), text(s), text(ix.name), text(defaultDatabase), text(s), text(ix.table.Name.Item),
						text(col), repr.Int8Datum(int64(pos)), repr.Null})
				})
				for _, fk := range c.sortedForeignKeys() {
					s := fk.child.Name.Schema
					for i, col := range fk.Columns {
						// position_in_unique_constraint: the referenced
						// column's position in the referenced key.
						pos := int64(slices.Index(fk.parent.table.keys[fk.RefKey], fk.RefColumns[i]) + 1)
						out = append(out, []repr.Datum{text(defaultDatabase), text(s), text(fk.Name), text(defaultDatabase), text(s), text(fk.child.Name.Item),
							text(fk.child.Desc.Names[col]), repr.Int8Datum(int64(i + 1)), repr.Int8Datum(pos)})
					}
				}
				return out
			}),
		cols("constraint_catalog text, constraint_schema text, constraint_name text, unique_constraint_catalog text, unique_constraint_schema text",
			"unique_constraint_name text, match_option text, update_rule text, delete_rule text").def("information_schema", "referential_constraints", func(c *Coordinator) [][]repr.Datum {
			var out [][]repr.Datum
			for _, fk := range c.sortedForeignKeys() {
				match := "NONE"
				if fk.Match == sql.FKMatchFull {
					match = "FULL"
				}
				out = append(out, []repr.Datum{text(defaultDatabase), text(fk.child.Name.Schema), text(fk.Name), text(defaultDatabase), text(fk.parent.Name.Schema),
					text(fk.parent.table.keyName[fk.RefKey]), text(match), text(sql.FKActionText(fk.OnUpdate)), text(sql.FKActionText(fk.OnDelete))})
			}
			return out
		}),
		cols("table_catalog text, table_schema text, table_name text, view_definition text, check_option text, is_updatable text, is_insertable_into text",
			"is_trigger_updatable text, is_trigger_deletable text, is_trigger_insertable_into text").
			def("information_schema", "views", func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, it := range c.userItems() {
					// PostgreSQL does not list materialized views here.
					if it.Kind == sql.KindView {
						out = append(out, []repr.Datum{text(defaultDatabase), text(it.Name.Schema), text(it.Name.Item), text(it.viewDefinition()),
							text("NONE"), text("NO"), text("NO"), text("NO"), text("NO"), text("NO")})
					}
				}
				return out
			}),
	}
}

var pgRolesCols = cols("oid oid, rolname text, rolsuper bool, rolinherit bool, rolcreaterole bool, rolcreatedb bool, rolcanlogin bool, rolreplication bool",
	"rolconnlimit int4, rolpassword text, rolvaliduntil timestamptz, rolbypassrls bool, rolconfig text[]")

// pgRoleRows lists the roles; rolpassword is mask for every role, as
// PostgreSQL's pg_roles shows it (NULL when mask is "").
func pgRoleRows(c *Coordinator, mask string) [][]repr.Datum {
	var out [][]repr.Datum
	for _, r := range c.cat.sortedRoles() {
		pw := repr.Null
		if mask != "" {
			pw = text(mask)
		}
		out = append(out, []repr.Datum{oid(r.OID), text(r.Name), boolD(r.Super), boolD(r.Inherit), boolD(r.CreateRole), boolD(r.CreateDB), boolD(r.Login), boolD(r.Super),
			i4(-1), pw, repr.Null, boolD(r.Super), repr.Null})
	}
	return out
}

// authMembersOIDBase numbers pg_auth_members' rows.
const authMembersOIDBase = 0x7f000000

// aclDatum is an ACL as aclitem[] text (NULL for the default ACL).
func aclDatum(cat *catalog, acl []aclItem) repr.Datum {
	t := cat.aclText(acl)
	if t == nil {
		return repr.Null
	}
	ds := make([]repr.Datum, len(t))
	for i, a := range t {
		ds[i] = text(a)
	}
	return repr.ArrayDatum(ds)
}

func pgSettingsRows(*Coordinator) [][]repr.Datum {
	names := make([]string, 0, len(sessionVars))
	for k := range sessionVars {
		names = append(names, k)
	}
	sort.Strings(names)
	var out [][]repr.Datum
	for _, k := range names {
		v := sessionVars[k]
		context := "user"
		if v.readOnly {
			context = "internal"
		}
		out = append(out, []repr.Datum{text(v.name), text(v.def), repr.Null, text("Client Connection Defaults"), text(v.desc), repr.Null, text(context), text("string"), text("default"),
			repr.Null, repr.Null, repr.Null, text(v.def), text(v.def), repr.Null, repr.Null, repr.False})
	}
	return out
}

// pgProcOIDBase numbers the built-in functions in pg_proc.
const pgProcOIDBase = 0x70000000

func pgProcRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	ns := oid(c.cat.schemas["pg_catalog"].oid)
	n := uint32(0)
	for _, name := range expr.FuncNames() {
		for _, o := range expr.LookupFunc(name) {
			var args []repr.Datum
			for _, p := range o.Params {
				args = append(args, oid(paramOID(p)))
			}
			variadic := uint32(0)
			if o.Variadic && len(o.Params) > 0 {
				variadic = paramOID(o.Params[len(o.Params)-1])
			}
			vol := "i"
			if o.Func != nil && o.Func.Volatility == expr.Stable {
				vol = "s"
			} else if o.Func != nil && o.Func.Volatility == expr.Volatile {
				vol = "v"
			}
			out = append(out, []repr.Datum{oid(pgProcOIDBase + n), text(name), ns, oid(ownerOID), oid(12), repr.Float4Datum(1), repr.Float4Datum(0), oid(variadic), oid(0), text("f"),
				repr.False, repr.False, boolD(o.Func == nil || o.Func.Strict), repr.False, text(vol), text("s"), i2(len(o.Params)), i2(0),
				oid(paramOID(o.Ret)), repr.ArrayDatum(args), repr.Null, repr.Null, repr.Null, repr.Null, repr.Null, text(name), repr.Null, repr.Null, repr.Null, repr.Null})
			n++
		}
	}
	return out
}

// paramOID is the type OID of a parameter, the pseudo-type's for
// polymorphic ones.
func paramOID(p expr.ParamType) uint32 {
	switch p.Kind {
	case expr.ParamAnyElement:
		return 2283
	case expr.ParamAnyArray:
		return 2277
	case expr.ParamAnyCompatible:
		return 5077
	case expr.ParamAnyCompatibleArray:
		return 5078
	case expr.ParamAny:
		return 2276
	}
	return p.Type.Oid()
}

// pgObjectRows lists, by OID, what the catalog functions look up: each
// relation's name, schema and schema-qualified name, each schema's name,
// and the definitions of indexes (whole, colno 0, and per key column),
// views and key constraints.
func pgObjectRows(c *Coordinator) [][]repr.Datum {
	var out [][]repr.Datum
	add := func(o uint32, kind string, colno int, s string) {
		out = append(out, []repr.Datum{oid(o), text(kind), i4(colno), text(s)})
	}
	rel := func(o uint32, schema, name string) {
		add(o, "name", 0, name)
		add(o, "schema", 0, schema)
		add(o, "qualified", 0, schema+"."+name)
	}
	for _, s := range sortedSchemas(c.cat) {
		add(s.oid, "nspname", 0, s.name)
	}
	for _, it := range c.sortedItems() {
		k := relkind(it.Kind)
		if k == "" || k == "i" {
			continue
		}
		rel(it.oid, it.Name.Schema, it.Name.Item)
		if it.Kind == sql.KindView || it.Kind == sql.KindMaterializedView {
			add(it.oid, "def", 0, it.viewDefinition())
		}
	}
	for _, ix := range c.relIndexes() {
		rel(ix.oid, ix.table.Name.Schema, ix.name)
		add(ix.oid, "def", 0, ix.def)
		for i, k := range ix.keys {
			add(ix.oid, "def", i+1, k)
		}
		if ix.constr != 0 {
			add(ix.constr, "def", 0, ix.constraintDef())
		}
	}
	for _, fk := range c.sortedForeignKeys() {
		add(fkConstrOID(fk.child.oid, fk.seq), "def", 0, fk.constraintDef())
	}
	return out
}

// sortedForeignKeys returns every foreign key, by table and declaration.
func (c *Coordinator) sortedForeignKeys() []*foreignKey {
	var out []*foreignKey
	for _, it := range c.sortedItems() {
		if it.table != nil {
			out = append(out, it.table.fks...)
		}
	}
	return out
}

var _ sql.OIDCatalog = catalogView{}

// RelationOID implements sql.OIDCatalog: 'name'::regclass. Besides
// catalog items it finds the indexes of tables' keys that pg_class lists.
func (v catalogView) RelationOID(name sql.PartialName, searchPath []string) (uint32, error) {
	it, err := v.c.resolve(name, searchPath)
	if err == nil {
		return it.oid, nil
	}
	schemas := searchPath
	if name.Schema != "" {
		schemas = []string{name.Schema}
	}
	for _, sp := range schemas {
		for _, it := range v.c.items {
			if it.table == nil || it.Name.Schema != sp {
				continue
			}
			for k, n := range it.table.keyName {
				if n == name.Item {
					return keyIndexOID(it.oid, k), nil
				}
			}
		}
	}
	return 0, err
}

var _ sql.NamespaceOIDCatalog = catalogView{}

// SchemaOID implements sql.NamespaceOIDCatalog: 'name'::regnamespace.
func (v catalogView) SchemaOID(name string) (uint32, bool) {
	s, ok := v.c.schemas[name]
	if !ok {
		return 0, false
	}
	return s.oid, true
}

// VisibleRelationOIDs implements sql.OIDCatalog: pg_table_is_visible.
func (v catalogView) VisibleRelationOIDs(searchPath []string) []uint32 {
	visible := map[string]bool{"pg_catalog": true}
	for _, s := range searchPath {
		visible[s] = true
	}
	var out []uint32
	for _, it := range v.c.items {
		if relkind(it.Kind) == "" || !visible[it.Name.Schema] {
			continue
		}
		out = append(out, it.oid)
		if it.table != nil {
			for k := range it.table.keys {
				out = append(out, keyIndexOID(it.oid, k))
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
