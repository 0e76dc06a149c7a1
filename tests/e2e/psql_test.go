package e2e

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/viewd/viewd/internal/viewdtest"
)

// TestPsqlDescribe runs psql's \d family against viewd: each command sends
// psql 15's own catalog queries (pg_class, pg_attribute, pg_index,
// pg_constraint, pg_get_indexdef, format_type, ...), so this checks that
// the system catalog answers them as PostgreSQL would.
func TestPsqlDescribe(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("psql is not installed")
		}
		t.Skip("psql is not installed")
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
	expectRows(t, c, "SELECT rolname, rolsuper FROM pg_roles", "viewd|t")
}
