package coord

import (
	"strings"
	"testing"
)

// TestCatalogRelations: the arranged system relations (catalogrel.go)
// follow the catalog: a DDL statement is visible to the next catalog
// query of any session, rows of dropped and renamed objects go, and a
// catalog query reads the arrangement rather than a constant.
func TestCatalogRelations(t *testing.T) {
	c := openTest(t, Config{})
	a := newClientSession(t, c, newRecClient())
	b := newClientSession(t, c, newRecClient())
	count := func(s *testSession, q string) string { t.Helper(); return s.one(q) }
	const userRels = "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'"
	if got := count(b, userRels); got != "0" {
		t.Fatalf("public relations at start: %s", got)
	}
	a.exec("CREATE TABLE t1 (id int PRIMARY KEY, name text NOT NULL)", "CREATE TABLE t2 (x int)")
	// t1, t2 and t1's key index.
	b.want(userRels, "3")
	a.exec("CREATE VIEW v AS SELECT name FROM t1", "CREATE INDEX t2_x ON t2 (x)")
	b.want(userRels, "5")
	b.want("SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 't1'::regclass AND attnum = 2", "name t")
	a.exec("ALTER TABLE t2 RENAME TO t3")
	sameRows(t, "tables", b.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"), []string{"t1", "t3"})
	a.exec("DROP VIEW v", "DROP TABLE t3")
	b.want(userRels, "2")
	sameRows(t, "columns", b.query("SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = 't1'"), []string{"id NO", "name NO"})
	// The plan reads the arrangement (a Get of the relation), not a
	// constant of its rows.
	plan := strings.Join(b.query("EXPLAIN SELECT relname FROM pg_class WHERE oid = 1"), "\n")
	if !strings.Contains(plan, "pg_class") || strings.Contains(plan, "Constant") {
		t.Fatalf("EXPLAIN of a pg_class read:\n%s", plan)
	}
}

// TestCatalogClientFunctions: what clients' catalog queries need beyond
// the relations: several set-returning functions in one select list run
// in lockstep (PostgreSQL 10+), = ANY over an array column, int2vector's
// text form, array_remove, PostgreSQL's catalog OIDs and reg* input,
// tableoid, pg_get_keywords, row counts, cross-type join keys.
func TestCatalogClientFunctions(t *testing.T) {
	c := openTest(t, Config{})
	s := newClientSession(t, c, newRecClient())
	sameRows(t, "lockstep", s.query("SELECT generate_series(1, 3), unnest(ARRAY['a', 'b']), 7"),
		[]string{"1 a 7", "2 b 7", "3 NULL 7"})
	sameRows(t, "lockstep per row", s.query("SELECT x, generate_series(1, x), generate_series(10, 10 + x - 2) FROM (VALUES (1), (2)) v(x)"),
		[]string{"1 1 NULL", "2 1 10", "2 2 NULL"})
	s.want("SELECT 2 = ANY('{1,2}'::int2[]), 3 = ANY('{1,NULL}'::int[]), NULL::int = ANY('{}'::int[]), 3 <> ALL('{1,2}'::int[]), 2 <> ALL('{1,2}'::int[])",
		"t NULL f t f")
	s.want("SELECT array_remove('{1,2,1,NULL}'::int[], 1)::text, array_remove('{1,NULL}'::int[], NULL)::text", "{2,NULL} {1}")
	s.exec("CREATE TABLE k (a int, b int, c text, PRIMARY KEY (b, a))")
	s.want("SELECT indkey::text, indkey::varchar, pg_typeof(indkey)::text FROM pg_index WHERE indrelid = 'k'::regclass", "2 1 2 1 int2vector")
	sameRows(t, "key columns", s.query("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'k'::regclass"),
		[]string{"a", "b"})
	s.want("SELECT current_setting('max_index_keys')", "32")
	// PostgreSQL's OIDs for its catalogs; reg* input of names.
	s.want("SELECT 'pg_class'::regclass::oid, 'pg_catalog'::regnamespace::oid, 'trigger'::regtype::oid", "1259 11 2279")
	s.want("SELECT to_regtype('integer')::oid, to_regtype('text')::oid, to_regnamespace('public') IS NOT NULL, to_regtype('nosuch') IS NULL", "23 25 t t")
	s.want("SELECT count(*) FROM pg_class c WHERE c.tableoid = 'pg_class'::regclass AND c.relname = 'k'", "1")
	s.want("SELECT count(*) FROM pg_get_keywords() WHERE catcode = 'R'", "77")
	// A multi-column set-returning function in a select list is a
	// record whose fields can be selected, also from an outer query
	// (JDBC's getPrimaryKeys).
	sameRows(t, "_pg_expandarray", s.query("SELECT (information_schema._pg_expandarray(ARRAY[10, 20])).n"), []string{"1", "2"})
	sameRows(t, "record fields", s.query("SELECT (r.k).x, (r.k).n FROM (SELECT information_schema._pg_expandarray(indkey) AS k FROM pg_index WHERE indrelid = 'k'::regclass) r"),
		[]string{"1 2", "2 1"})
	// Row counts follow writes.
	s.exec("INSERT INTO k VALUES (1, 1, 'a'), (2, 1, 'b')", "DELETE FROM k WHERE a = 2")
	s.want("SELECT n_live_tup FROM pg_stat_user_tables WHERE relname = 'k'", "1")
	// A join on a cross-type equality compares values, not encodings
	// (JDBC joins pg_attribute.attnum, int2, with an int4 literal).
	sameRows(t, "int2 = int4 join", s.query("SELECT k.c FROM k JOIN (SELECT 1 AS a UNION ALL SELECT 3) v ON k.a = v.a"), []string{"a"})
}

// TestCatalogRefreshOnlyForCatalogReads: a read of user relations after
// DDL leaves the arranged system relations as they are (refreshing them
// recomputes all of them: a script of CREATE MATERIALIZED VIEW + SELECT
// paid it per statement), while a read of a system relation, directly or
// through a view, still sees the change.
func TestCatalogRefreshOnlyForCatalogReads(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE t (x int)", "INSERT INTO t VALUES (1)", "CREATE VIEW rels AS SELECT relname FROM pg_class")
	s.one("SELECT count(*) FROM pg_class") // fresh now
	stale := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.builtinVersion != c.cat.version
	}
	s.exec("CREATE MATERIALIZED VIEW mv AS SELECT x + 1 AS y FROM t")
	s.want("SELECT y FROM mv", "2")
	s.want("SELECT x FROM t", "1")
	if !stale() {
		t.Fatal("a read of user relations refreshed the system relations")
	}
	s.want("SELECT count(*) FROM rels WHERE relname = 'mv'", "1")
	if stale() {
		t.Fatal("a read of a view over pg_class left the system relations stale")
	}
	s.exec("CREATE VIEW v2 AS SELECT 1")
	s.want("SELECT count(*) FROM pg_views WHERE viewname = 'v2'", "1")
}

// TestCatalogFedOnlyWhenWatched: after DDL, ticks feed the arranged system
// relations only when a materialized view (or index, or SUBSCRIBE) reads
// one; reads of them refresh them themselves.
func TestCatalogFedOnlyWhenWatched(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	stale := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.builtinVersion != c.cat.version
	}
	ticks := func() {
		for i := 0; i < 3; i++ {
			c.mu.Lock()
			_, err := c.advanceLocked(nil)
			c.mu.Unlock()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	s.exec("CREATE TABLE t (x int)")
	ticks()
	if !stale() {
		t.Fatal("ticks fed the system relations with nothing reading them")
	}
	s.want("SELECT count(*) FROM pg_class WHERE relname = 't'", "1")
	if stale() {
		t.Fatal("a read of pg_class left it stale")
	}
	s.exec("CREATE VIEW names AS SELECT relname FROM pg_class", "CREATE MATERIALIZED VIEW n AS SELECT count(*) AS n FROM names WHERE relname LIKE 'u%'")
	s.exec("CREATE TABLE u1 (x int)")
	ticks()
	if stale() {
		t.Fatal("a materialized view reads pg_class (through a view), yet ticks left it stale")
	}
	s.want("SELECT n FROM n", "1")
}
