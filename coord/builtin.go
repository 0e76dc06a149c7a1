package coord

import (
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// builtinTable is a system relation whose rows are generated from the
// catalog when it is read.
type builtinTable struct {
	rows func(c *Coordinator) [][]repr.Datum
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
		cat.schemas[b.schema].items[b.name] = id
		cat.items[id] = it
		it.rdeps = map[plan.GlobalID]bool{}
	}
}

// builtinContents returns a system relation's current rows as a constant.
func (c *Coordinator) builtinContents(it *item) plan.Rel {
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
	return []builtinDef{
		{schema: "pg_catalog", name: "pg_namespace", cols: []string{"oid", "nspname", "nspowner", "nspacl"}, types: []repr.ScalarType{tOid, tText, tOid, tText},
			rows: func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, s := range sortedSchemas(c.cat) {
					out = append(out, []repr.Datum{oid(s.oid), text(s.name), oid(10), repr.Null})
				}
				return out
			}},
		{schema: "pg_catalog", name: "pg_class", cols: []string{"oid", "relname", "relnamespace", "relkind", "relowner", "relam", "relhasindex", "relpersistence", "relispartition", "reltuples", "relnatts", "relchecks", "relhasrules", "relhastriggers", "relrowsecurity", "relforcerowsecurity", "reloftype", "reltablespace", "relreplident", "reltoastrelid", "reloptions"},
			types: []repr.ScalarType{tOid, tText, tOid, tText, tOid, tOid, tBool, tText, tBool, repr.TypeFloat4, tInt2, tInt2, tBool, tBool, tBool, tBool, tOid, tOid, tText, tOid, repr.ArrayOf(tText)},
			rows: func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, it := range c.sortedItems() {
					k := relkind(it.Kind)
					if k == "" {
						continue
					}
					hasIndex := false
					for r := range it.rdeps {
						if d := c.cat.items[r]; d != nil && d.Kind == sql.KindIndex {
							hasIndex = true
						}
					}
					out = append(out, []repr.Datum{oid(it.oid), text(it.Name.Item), oid(c.cat.schemas[it.Name.Schema].oid), text(k), oid(10), oid(0), repr.BoolDatum(hasIndex), text("p"), repr.False, repr.Float4Datum(-1), repr.Int2Datum(int16(it.Desc.Arity())), repr.Int2Datum(0), repr.False, repr.False, repr.False, repr.False, oid(0), oid(0), text("d"), oid(0), repr.Null})
				}
				return out
			}},
		{schema: "pg_catalog", name: "pg_attribute", cols: []string{"attrelid", "attname", "atttypid", "attnum", "atttypmod", "attnotnull", "atthasdef", "attisdropped", "attidentity", "attgenerated", "attcollation", "attlen"},
			types: []repr.ScalarType{tOid, tText, tOid, tInt2, tInt4, tBool, tBool, tBool, tText, tText, tOid, tInt2},
			rows: func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, it := range c.sortedItems() {
					if relkind(it.Kind) == "" {
						continue
					}
					for i, n := range it.Desc.Names {
						t := it.Desc.Types[i]
						hasDef := i < len(it.Defaults) && it.Defaults[i] != ""
						out = append(out, []repr.Datum{oid(it.oid), text(n), oid(t.Type.Oid()), repr.Int2Datum(int16(i + 1)), repr.Int4Datum(typmodOf(t.Type)), repr.BoolDatum(!t.Nullable), repr.BoolDatum(hasDef), repr.False, text(""), text(""), oid(0), repr.Int2Datum(t.Type.TypLen())})
					}
				}
				return out
			}},
		{schema: "pg_catalog", name: "pg_type", cols: []string{"oid", "typname", "typnamespace", "typlen", "typtype", "typcategory", "typelem", "typarray", "typbasetype", "typtypmod", "typnotnull", "typcollation"},
			types: []repr.ScalarType{tOid, tText, tOid, tInt2, tText, tText, tOid, tOid, tOid, tInt4, tBool, tOid},
			rows: func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				ns := oid(c.cat.schemas["pg_catalog"].oid)
				for _, t := range pgTypes() {
					elem, arr := uint32(0), uint32(0)
					if t.typ.Kind == repr.KindArray {
						elem = t.typ.Elem.Oid()
					} else {
						arr = repr.ArrayOf(t.typ).Oid()
					}
					out = append(out, []repr.Datum{oid(t.typ.Oid()), text(t.name), ns, repr.Int2Datum(t.typ.TypLen()), text("b"), text(t.category), oid(elem), oid(arr), oid(0), repr.Int4Datum(-1), repr.False, oid(0)})
				}
				return out
			}},
		{schema: "pg_catalog", name: "pg_database", cols: []string{"oid", "datname", "datdba", "encoding", "datcollate", "datctype", "datistemplate", "datallowconn"},
			types: []repr.ScalarType{tOid, tText, tOid, tInt4, tText, tText, tBool, tBool},
			rows: func(*Coordinator) [][]repr.Datum {
				return [][]repr.Datum{{oid(16384), text(defaultDatabase), oid(10), repr.Int4Datum(6), text("C"), text("C"), repr.False, repr.True}}
			}},
		{schema: "pg_catalog", name: "pg_tables", cols: []string{"schemaname", "tablename", "tableowner", "hasindexes"}, types: []repr.ScalarType{tText, tText, tText, tBool},
			rows: func(c *Coordinator) [][]repr.Datum { return itemRows(c, sql.KindTable) }},
		{schema: "pg_catalog", name: "pg_views", cols: []string{"schemaname", "viewname", "viewowner", "definition"}, types: []repr.ScalarType{tText, tText, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum { return viewRows(c, sql.KindView) }},
		{schema: "pg_catalog", name: "pg_matviews", cols: []string{"schemaname", "matviewname", "matviewowner", "definition"}, types: []repr.ScalarType{tText, tText, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum { return viewRows(c, sql.KindMaterializedView) }},
		{schema: "information_schema", name: "schemata", cols: []string{"catalog_name", "schema_name", "schema_owner"}, types: []repr.ScalarType{tText, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
				for _, s := range sortedSchemas(c.cat) {
					out = append(out, []repr.Datum{text(defaultDatabase), text(s.name), text("viewd")})
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
		{schema: "information_schema", name: "columns", cols: []string{"table_catalog", "table_schema", "table_name", "column_name", "ordinal_position", "column_default", "is_nullable", "data_type"},
			types: []repr.ScalarType{tText, tText, tText, tText, tInt8, tText, tText, tText},
			rows: func(c *Coordinator) [][]repr.Datum {
				var out [][]repr.Datum
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
						out = append(out, []repr.Datum{text(defaultDatabase), text(it.Name.Schema), text(it.Name.Item), text(n), repr.Int8Datum(int64(i + 1)), def, text(nullable), text(t.Type.WithoutTypmod().String())})
					}
				}
				return out
			}},
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
		{schema: "mz_internal", name: "mz_source_statuses", cols: []string{"id", "name", "type", "status", "error", "offset_known", "offset_committed", "lag", "messages_received", "bytes_received", "updates_staged", "updates_committed", "last_status_change_at"},
			types: []repr.ScalarType{tText, tText, tText, tText, tText, tInt8, tInt8, tInt8, tInt8, tInt8, tInt8, tInt8, repr.TypeTimestampTz},
			rows:  func(c *Coordinator) [][]repr.Datum { return c.sourceStatusRows() }},
	}
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
	return out
}

func itemRows(c *Coordinator, k sql.ItemKind) [][]repr.Datum {
	var out [][]repr.Datum
	for _, it := range c.userItems() {
		if it.Kind == k {
			out = append(out, []repr.Datum{text(it.Name.Schema), text(it.Name.Item), text("viewd"), repr.BoolDatum(len(it.rdeps) > 0)})
		}
	}
	return out
}

func viewRows(c *Coordinator, k sql.ItemKind) [][]repr.Datum {
	var out [][]repr.Datum
	for _, it := range c.userItems() {
		if it.Kind == k {
			out = append(out, []repr.Datum{text(it.Name.Schema), text(it.Name.Item), text("viewd"), text(it.createSQL)})
		}
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
