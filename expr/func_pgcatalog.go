package expr

import (
	"fmt"
	"math"
	"time"

	"github.com/viewd/viewd/repr"
)

// processStart is when the server process started (package
// initialisation): pg_postmaster_start_time().
var processStart = time.Now()

// PostgreSQL's system information functions that clients (psql's \d
// family, JDBC's DatabaseMetaData, SQLAlchemy's inspector) call in their
// catalog queries. viewd has one user, no privileges, no comments and no
// storage of its own to measure, so most of them are constants: every
// object is visible and accessible, every description is NULL, every size
// is 0. The functions that need the catalog or the session
// (pg_table_is_visible, pg_get_indexdef, pg_get_viewdef,
// pg_get_constraintdef, to_regclass, current_schema, current_setting, ...)
// are planned by the sql package (sql/pgcatalog.go).

// ServerVersion is what version() returns.
const ServerVersion = "PostgreSQL 15.0 (viewd)"

// SuperuserName is the owner of every object, as pg_get_userbyid reports.
const SuperuserName = "viewd"

func init() {
	constFn := func(d repr.Datum) evalFn {
		return func(*EvalCtx, []repr.Datum) (repr.Datum, error) { return d, nil }
	}
	nullable := func(f *Func) { f.Nullable = true }

	defFunc("version", nil, tText, constFn(repr.TextDatum(ServerVersion)))
	defFunc("pg_get_userbyid", ts(tOid), tText, constFn(repr.TextDatum(SuperuserName)))

	// Visibility of types, functions and the like: all of them live in
	// pg_catalog, which is always searched. (pg_table_is_visible reads the
	// catalog; the sql package defines it.)
	for _, name := range []string{"pg_type_is_visible", "pg_function_is_visible",
		"pg_collation_is_visible", "pg_opclass_is_visible", "pg_operator_is_visible", "pg_conversion_is_visible",
		"pg_ts_config_is_visible", "pg_statistics_obj_is_visible", "pg_opfamily_is_visible", "pg_ts_parser_is_visible",
		"pg_ts_dict_is_visible", "pg_ts_template_is_visible"} {
		defFunc(name, ts(tOid), tBool, constFn(repr.True))
	}
	defFunc("pg_relation_is_publishable", ts(tOid), tBool, constFn(repr.False))

	// Privileges: one user who may do everything.
	for _, name := range []string{"has_table_privilege", "has_schema_privilege", "has_database_privilege",
		"has_any_column_privilege", "has_sequence_privilege", "has_function_privilege", "has_type_privilege"} {
		for _, obj := range []repr.ScalarType{tText, tOid} {
			defFunc(name, ts(obj, tText), tBool, constFn(repr.True))
			defFunc(name, ts(tText, obj, tText), tBool, constFn(repr.True))
			defFunc(name, ts(tOid, obj, tText), tBool, constFn(repr.True))
		}
	}
	for _, obj := range []repr.ScalarType{tText, tOid} {
		for _, col := range []repr.ScalarType{tText, tInt2} {
			defFunc("has_column_privilege", ts(obj, col, tText), tBool, constFn(repr.True))
			defFunc("has_column_privilege", ts(tText, obj, col, tText), tBool, constFn(repr.True))
			defFunc("has_column_privilege", ts(tOid, obj, col, tText), tBool, constFn(repr.True))
		}
	}
	defFunc("pg_has_role", ts(tText, tText), tBool, constFn(repr.True))
	defFunc("pg_has_role", ts(tOid, tText), tBool, constFn(repr.True))
	defFunc("pg_has_role", ts(tText, tText, tText), tBool, constFn(repr.True))
	defFunc("pg_has_role", ts(tOid, tOid, tText), tBool, constFn(repr.True))

	// Comments: viewd keeps none.
	nullable(defFunc("obj_description", ts(tOid), tText, constFn(repr.Null)))
	nullable(defFunc("obj_description", ts(tOid, tText), tText, constFn(repr.Null)))
	nullable(defFunc("col_description", ts(tOid, tInt4), tText, constFn(repr.Null)))
	nullable(defFunc("shobj_description", ts(tOid, tText), tText, constFn(repr.Null)))

	// Definitions kept as text: pg_attrdef.adbin holds the DEFAULT's text,
	// which pg_get_expr returns as it is; partition bounds, index
	// predicates and policies are NULL.
	getExpr := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) { return a[0], nil }
	defFunc("pg_get_expr", ts(tText, tOid), tText, getExpr)
	defFunc("pg_get_expr", ts(tText, tOid, tBool), tText, getExpr)
	nullable(defFunc("pg_get_statisticsobjdef_columns", ts(tOid), tText, constFn(repr.Null)))
	nullable(defFunc("pg_get_ruledef", ts(tOid), tText, constFn(repr.Null)))
	nullable(defFunc("pg_get_ruledef", ts(tOid, tBool), tText, constFn(repr.Null)))
	nullable(defFunc("pg_get_triggerdef", ts(tOid), tText, constFn(repr.Null)))
	nullable(defFunc("pg_get_triggerdef", ts(tOid, tBool), tText, constFn(repr.Null)))
	nullable(defFunc("pg_get_functiondef", ts(tOid), tText, constFn(repr.Null)))
	nullable(defFunc("pg_get_function_arguments", ts(tOid), tText, constFn(repr.Null)))
	nullable(defFunc("pg_get_function_result", ts(tOid), tText, constFn(repr.Null)))
	nullable(defFunc("pg_get_function_identity_arguments", ts(tOid), tText, constFn(repr.Null)))
	nullable(defFunc("pg_get_serial_sequence", ts(tText, tText), tText, constFn(repr.Null)))
	// No partitioned tables; scans of indexes are not counted.
	nullable(defFunc("pg_get_partkeydef", ts(tOid), tText, constFn(repr.Null)))
	nullable(defFunc("pg_stat_get_numscans", ts(tOid), tInt8, constFn(repr.Null)))
	// The server's start: this process's.
	defFunc("pg_postmaster_start_time", nil, repr.TypeTimestampTz, constFn(repr.TimestampTzDatum(processStart.UnixMicro())))

	// format_type(type_oid, typmod): the type as SQL names it. Not strict:
	// a NULL typmod means none.
	ft := &Func{Name: "format_type", Ret: tText, Nullable: true, Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if a[0].IsNull() {
			return repr.Null, nil
		}
		mod := int64(-1)
		if !a[1].IsNull() {
			mod = a[1].Int()
		}
		return repr.TextDatum(FormatType(uint32(a[0].Int()), int32(mod))), nil
	}}
	addOverload(funcCatalog, "format_type", Overload{Params: exactParams(ts(tOid, tInt4)), Ret: Exact(tText), Func: ft})

	defFunc("pg_encoding_to_char", ts(tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		switch a[0].Int() {
		case 0:
			return repr.TextDatum("SQL_ASCII"), nil
		case 6:
			return repr.TextDatum("UTF8"), nil
		}
		return repr.TextDatum(""), nil
	})
	defFunc("pg_char_to_encoding", ts(tText), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		switch a[0].Str() {
		case "SQL_ASCII", "sql_ascii":
			return repr.Int4Datum(0), nil
		case "UTF8", "utf8", "UTF-8", "utf-8":
			return repr.Int4Datum(6), nil
		}
		return repr.Int4Datum(-1), nil
	})

	// Sizes: viewd's data lives in memory and in its own files, not in
	// relation files; report 0 as PostgreSQL does for an empty relation.
	for _, name := range []string{"pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size"} {
		defFunc(name, ts(tOid), tInt8, constFn(repr.Int8Datum(0)))
	}
	defFunc("pg_relation_size", ts(tOid, tText), tInt8, constFn(repr.Int8Datum(0)))
	// PostgreSQL's parameter is regclass, so a name in quotes works too.
	for _, name := range []string{"pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size"} {
		defFunc(name, ts(tText), tInt8, constFn(repr.Int8Datum(0)))
	}
	defFunc("pg_relation_is_publishable", ts(tText), tBool, constFn(repr.False))
	defFunc("pg_database_size", ts(tText), tInt8, constFn(repr.Int8Datum(0)))
	defFunc("pg_database_size", ts(tOid), tInt8, constFn(repr.Int8Datum(0)))
	defFunc("pg_size_pretty", ts(tInt8), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.TextDatum(SizePretty(float64(a[0].Int()))), nil
	})
	defFunc("pg_size_pretty", ts(tNumeric), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		f, err := a[0].Numeric().Float64()
		if err != nil {
			return repr.Null, err
		}
		return repr.TextDatum(SizePretty(f)), nil
	})
	defFunc("pg_is_in_recovery", nil, tBool, constFn(repr.False))
	nullable(defFunc("pg_tablespace_location", ts(tOid), tText, constFn(repr.TextDatum(""))))
}

// FormatType is format_type(oid, typmod): the SQL name of a type, with
// its modifier (typmod as pg_attribute.atttypmod stores it: VARHDRSZ
// added for character and numeric types). Unknown OIDs print as "???".
func FormatType(oid uint32, typmod int32) string {
	t, ok := repr.TypeForOid(oid)
	if !ok {
		switch oid {
		case 0:
			return "-"
		case repr.OidName:
			return "name"
		case repr.OidJSON:
			return "json"
		}
		if n, ok := pseudoTypeNames[oid]; ok {
			return n
		}
		return "???"
	}
	if oid == repr.OidJSON {
		return "json"
	}
	if typmod >= 0 {
		switch t.Kind {
		case repr.KindVarchar, repr.KindChar, repr.KindNumeric:
			if typmod >= 4 {
				t.Typmod = typmod - 4
			}
		}
	}
	if t.Kind == repr.KindChar && t.Typmod < 0 {
		return "character"
	}
	return t.String()
}

// pseudoTypeNames are the OIDs of types viewd has no values of but that
// catalogs mention (regclass, name vectors, pseudo-types).
var pseudoTypeNames = map[uint32]string{
	2205: "regclass", 2206: "regtype", 24: "regproc", 4089: "regnamespace", 4096: "regrole",
	22: "int2vector", 30: "oidvector", 18: `"char"`, 2276: "\"any\"", 2277: "anyarray",
	2283: "anyelement", 2278: "void", 2249: "record", 705: "unknown", 3500: "anyenum", 2279: "trigger",
}

// SizePretty formats a byte count as pg_size_pretty does: bytes, kB, MB,
// GB, TB, PB, each unit used while the value is under 10240 of it,
// rounded half away from zero.
func SizePretty(v float64) string {
	units := []string{"bytes", "kB", "MB", "GB", "TB", "PB"}
	neg := v < 0
	if neg {
		v = -v
	}
	i := 0
	for ; i < len(units)-1 && v >= 10*1024-0.5; i++ {
		v /= 1024
	}
	n := math.Floor(v + 0.5)
	if i == 0 {
		n = math.Trunc(v)
	}
	if neg {
		n = -n
	}
	return fmt.Sprintf("%.0f %s", n, units[i])
}
