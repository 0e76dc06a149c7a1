package e2e

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/viewd/viewd/internal/testenv"
	"github.com/viewd/viewd/internal/viewdtest"
)

// TestPsqlDescribe runs psql's \d family against viewd: each command sends
// psql 15's own catalog queries (pg_class, pg_attribute, pg_index,
// pg_constraint, pg_get_indexdef, format_type, ...), so this checks that
// the system catalog answers them as PostgreSQL would.
func TestPsqlDescribe(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		testenv.SkipUnlessCI(t, "psql is not installed (Debian postgresql-client)")
	}
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	for _, s := range []string{
		"CREATE TABLE t (a int PRIMARY KEY, b text NOT NULL DEFAULT 'x', c numeric(10,2), d varchar(20))",
		"CREATE INDEX t_b ON t (b)",
		"CREATE VIEW v AS SELECT a, b FROM t",
		"CREATE MATERIALIZED VIEW m AS SELECT a, c FROM t",
	} {
		exec1(t, c, s)
	}
	host, port, _ := strings.Cut(srv.Addr, ":")
	psql := func(cmd string) string {
		t.Helper()
		out, err := exec.CommandContext(ctxT(t), "psql", "-X", "-A", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", "viewd", "-d", "viewd", "-c", cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("psql -c %q: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	expect := func(cmd string, want ...string) {
		t.Helper()
		out := psql(cmd)
		for _, w := range want {
			if !strings.Contains(out, w) {
				t.Errorf("psql -c %q: output lacks %q:\n%s", cmd, w, out)
			}
		}
	}
	absent := func(cmd string, unwanted ...string) {
		t.Helper()
		out := psql(cmd)
		for _, w := range unwanted {
			if strings.Contains(out, w) {
				t.Errorf("psql -c %q: output has %q:\n%s", cmd, w, out)
			}
		}
	}

	expect(`\dt`, "public|t|table|viewd")
	absent(`\dt`, "|v|", "|m|")
	expect(`\dv`, "public|v|view|viewd")
	absent(`\dv`, "mz_tables") // system views are not on the search path
	expect(`\dm`, "public|m|materialized view|viewd")
	expect(`\di`, "public|t_b|index|viewd|t", "public|t_pkey|index|viewd|t")
	expect(`\dn`, "public|viewd")
	expect(`\d`, "public|t|table|viewd", "public|v|view|viewd", "public|m|materialized view|viewd")
	expect(`\d t`, `Table "public.t"`,
		"a|integer||not null|",
		"b|text||not null|'x'",
		"c|numeric(10,2)|||",
		"d|character varying(20)|||",
		"Indexes:",
		`"t_pkey" PRIMARY KEY, hash (a)`,
		`"t_b" arrangement (b)`)
	expect(`\d+ t`, `Table "public.t"`, "b|text||not null|'x'|extended", `"t_b" arrangement (b)`)
	expect(`\d v`, `View "public.v"`, "a|integer|||", "b|text|||")
	expect(`\d+ v`, "View definition:", "SELECT a, b FROM t")
	expect(`\d m`, `Materialized view "public.m"`, "c|numeric(10,2)|||")
	expect(`\d t_b`, `Index "public.t_b"`, "b|text|yes|b", `arrangement, for table "public.t"`)
	expect(`\d t_pkey`, `Index "public.t_pkey"`, "a|integer|yes|a", `primary key, hash, for table "public.t"`)
}

// TestPgCatalogFunctions checks the system information functions and
// relations that drivers' and BI tools' catalog queries use.
func TestPgCatalogFunctions(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE t (a int PRIMARY KEY, b text NOT NULL DEFAULT 'x', c numeric(10,2))")
	exec1(t, c, "CREATE INDEX t_b ON t (b)")
	exec1(t, c, "CREATE VIEW v AS SELECT a FROM t")

	expectRows(t, c, "SELECT version(), current_database(), current_schema(), current_schemas(false)",
		"PostgreSQL 15.0 (viewd)|viewd|public|{public}")
	expectRows(t, c, "SELECT 't'::regclass = 'public.t'::regclass, to_regclass('t') = 't'::regclass, to_regclass('nope') IS NULL, 't'::regclass::text",
		"t|t|t|t")
	expectRows(t, c, "SELECT x::regclass::text, to_regclass(x) = 't'::regclass FROM (VALUES ('public.t'), ('t')) AS v(x)", "t|t", "t|t")
	expectRows(t, c, "SELECT format_type(23, -1), format_type(1043, 24), format_type(1700, 655366), format_type(1009, NULL), 'integer'::regtype::oid, 25::regtype::text",
		"integer|character varying(20)|numeric(10,2)|text[]|23|text")
	expectRows(t, c, "SELECT pg_get_userbyid(10), pg_encoding_to_char(6), has_table_privilege('t', 'SELECT'), has_schema_privilege('public', 'USAGE'), obj_description('t'::regclass, 'pg_class') IS NULL, col_description('t'::regclass, 1) IS NULL",
		"viewd|UTF8|t|t|t|t")
	expectRows(t, c, "SELECT pg_relation_size('t'::regclass), pg_total_relation_size('t'::regclass), pg_size_pretty(0::bigint), pg_size_pretty(123456789::bigint)",
		"0|0|0 bytes|118 MB")
	expectRows(t, c, "SELECT pg_get_indexdef('t_b'::regclass), pg_get_indexdef('t_b'::regclass, 1, true)",
		"CREATE INDEX t_b ON public.t USING arrangement (b)|b")
	expectRows(t, c, "SELECT pg_get_viewdef('v'::regclass, true)", " SELECT a FROM t;")
	expectRows(t, c, "SELECT conname, contype, conkey, pg_get_constraintdef(oid, true) FROM pg_constraint WHERE conrelid = 't'::regclass",
		"t_pkey|p|{1}|PRIMARY KEY (a)")
	expectRows(t, c, "SELECT a.attname, pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum",
		"b|'x'")
	expectRows(t, c, `SELECT c.relname, i.indisprimary, i.indisunique, i.indkey[1], am.amname
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
		WHERE i.indrelid = 't'::regclass ORDER BY 1`,
		"t_b|f|f|2|arrangement", "t_pkey|t|t|1|hash")
	expectRows(t, c, "SELECT c.relname FROM pg_class c WHERE c.relnamespace = ANY (ARRAY[2200]::oid[]) AND c.relkind IN ('r', 'v') AND pg_table_is_visible(c.oid) ORDER BY 1",
		"t", "v")
	expectRows(t, c, "SELECT c.relname FROM pg_class c WHERE c.oid = ANY (ARRAY['t'::regclass, 't_pkey'::regclass]::oid[]) ORDER BY 1",
		"t", "t_pkey")
	expectRows(t, c, "SELECT tablename, indexname FROM pg_indexes ORDER BY 2", "t|t_b", "t|t_pkey")
	expectRows(t, c, "SELECT pg_total_relation_size('t'), pg_relation_size('public.t')", "0|0")
	expectRows(t, c, "SELECT column_name, data_type, is_nullable, numeric_precision, numeric_scale, udt_name FROM information_schema.columns WHERE table_name = 't' ORDER BY ordinal_position",
		"a|integer|NO|32|0|int4", "b|text|NO|NULL|NULL|text", "c|numeric|YES|10|2|numeric")
	expectRows(t, c, "SELECT rolname, rolsuper FROM pg_roles WHERE rolname IN ('viewd', 'pg_signal_backend') ORDER BY oid", "viewd|t", "pg_signal_backend|f")
	expectRows(t, c, "SELECT constraint_name, constraint_type FROM information_schema.table_constraints WHERE table_name = 't'", "t_pkey|PRIMARY KEY")
	expectRows(t, c, "SELECT constraint_name, column_name, ordinal_position FROM information_schema.key_column_usage WHERE table_name = 't'", "t_pkey|a|1")
	expectRows(t, c, "SELECT typname FROM pg_type WHERE typinput = 'array_in'::regproc AND typelem = 23", "_int4")
}

// TestDriverCatalogQueries runs the catalog queries of JDBC's
// DatabaseMetaData and SQLAlchemy's inspector, as those libraries send
// them (parameters inlined).
func TestDriverCatalogQueries(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE t (a int PRIMARY KEY, b text NOT NULL DEFAULT 'x', c numeric(10,2))")
	exec1(t, c, "CREATE VIEW v AS SELECT a FROM t")

	// pgjdbc DatabaseMetaData.getTables (trimmed to the TABLE and VIEW
	// types).
	expectRows(t, c, `SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME,
		CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema' WHEN true THEN NULL
		WHEN false THEN CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END ELSE NULL END AS TABLE_TYPE,
		d.description AS REMARKS
		FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c
		LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0 and d.classoid = 'pg_class'::regclass)
		WHERE c.relnamespace = n.oid AND c.relname LIKE '%' AND n.nspname LIKE 'public'
		AND (false OR ( c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ) OR ( c.relkind = 'v' AND n.nspname <> 'pg_catalog' AND n.nspname <> 'information_schema' ) )
		ORDER BY TABLE_TYPE,TABLE_SCHEM,TABLE_NAME`,
		"NULL|public|t|TABLE|NULL", "NULL|public|v|VIEW|NULL")
	// pgjdbc DatabaseMetaData.getColumns.
	expectRows(t, c, `SELECT * FROM (SELECT n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,
		row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,
		pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype
		FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid) JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid)
		JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid) LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum)
		LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid)
		LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class')
		LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog')
		WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped AND n.nspname LIKE 'public' AND c.relname LIKE 't') c
		WHERE true ORDER BY nspname,c.relname,attnum`,
		"public|t|a|23|t|-1|4|-1|1|NULL|NULL|NULL|NULL|0|b",
		"public|t|b|25|t|-1|-1|-1|2|NULL|NULL|'x'|NULL|0|b",
		"public|t|c|1700|f|655366|-1|-1|3|NULL|NULL|NULL|NULL|0|b")
	// SQLAlchemy 2.0's PGDialect.get_table_names and get_columns.
	expectRows(t, c, `SELECT pg_catalog.pg_class.relname FROM pg_catalog.pg_class JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace
		WHERE pg_catalog.pg_class.relkind = ANY (ARRAY['r', 'p']) AND pg_catalog.pg_class.relpersistence != 't'
		AND pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid) AND pg_catalog.pg_namespace.nspname != 'pg_catalog'`, "t")
	expectRows(t, c, `SELECT pg_catalog.pg_attribute.attname AS name, pg_catalog.format_type(pg_catalog.pg_attribute.atttypid, pg_catalog.pg_attribute.atttypmod) AS format_type,
		(SELECT pg_catalog.pg_get_expr(pg_catalog.pg_attrdef.adbin, pg_catalog.pg_attrdef.adrelid) AS pg_get_expr_1 FROM pg_catalog.pg_attrdef
		 WHERE pg_catalog.pg_attrdef.adrelid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_attrdef.adnum = pg_catalog.pg_attribute.attnum AND pg_catalog.pg_attribute.atthasdef) AS "default",
		pg_catalog.pg_attribute.attnotnull AS not_null, pg_catalog.pg_class.relname AS table_name, pg_catalog.pg_description.description AS comment,
		pg_catalog.pg_attribute.attgenerated AS generated,
		(SELECT json_build_object('always', pg_catalog.pg_attribute.attidentity = 'a', 'start', pg_catalog.pg_sequence.seqstart) AS json_build_object_1
		 FROM pg_catalog.pg_sequence WHERE pg_catalog.pg_attribute.attidentity != ''
		 AND pg_catalog.pg_sequence.seqrelid = CAST(CAST(pg_catalog.pg_get_serial_sequence(CAST(CAST(pg_catalog.pg_attribute.attrelid AS REGCLASS) AS TEXT), pg_catalog.pg_attribute.attname) AS REGCLASS) AS OID)) AS identity_options
		FROM pg_catalog.pg_class LEFT OUTER JOIN pg_catalog.pg_attribute ON pg_catalog.pg_class.oid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_attribute.attnum > 0 AND NOT pg_catalog.pg_attribute.attisdropped
		LEFT OUTER JOIN pg_catalog.pg_description ON pg_catalog.pg_description.objoid = pg_catalog.pg_attribute.attrelid AND pg_catalog.pg_description.objsubid = pg_catalog.pg_attribute.attnum
		JOIN pg_catalog.pg_namespace ON pg_catalog.pg_namespace.oid = pg_catalog.pg_class.relnamespace
		WHERE pg_catalog.pg_class.relkind = ANY (ARRAY['r', 'p', 'f', 'v', 'm']) AND pg_catalog.pg_table_is_visible(pg_catalog.pg_class.oid)
		AND pg_catalog.pg_namespace.nspname != 'pg_catalog' AND pg_catalog.pg_class.relname IN ('t')
		ORDER BY pg_catalog.pg_class.relname, pg_catalog.pg_attribute.attnum`,
		"a|integer|NULL|t|t|NULL||NULL", "b|text|'x'|t|t|NULL||NULL", "c|numeric(10,2)|NULL|f|t|NULL||NULL")
}
