package coord

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// The catalog (catalog.go, ddl.go): objects and their dependencies, name
// resolution through search_path, the catalog version that invalidates
// cached plans, and replay of the durable catalog at restart.

// catalogObjects lists the user objects by kind as "kind id oid
// schema.name" (sorted): what a restart must give back exactly.
func catalogObjects(t testing.TB, s *testSession) []string {
	t.Helper()
	var out []string
	for _, kind := range []string{"tables", "views", "materialized_views", "indexes", "sources"} {
		for _, r := range s.query("SELECT id, oid, schema_name, name FROM mz_" + kind) {
			f := strings.Fields(r)
			out = append(out, fmt.Sprintf("%s %s %s %s.%s", kind, f[0], f[1], f[2], f[3]))
		}
	}
	return out
}

// catalogVersion returns the catalog's version.
func catalogVersion(c *Coordinator) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cat.version
}

// TestCatalogObjects: CREATE, ALTER ... RENAME and DROP of tables, views,
// materialized views and indexes, with PostgreSQL's errors for names
// taken, missing or of another kind, and for dropping what other objects
// read (2BP01 unless CASCADE; indexes go with their object). Every change
// bumps the catalog version and survives a restart with the same ids and
// OIDs.
func TestCatalogObjects(t *testing.T) {
	c := openTest(t, Config{})
	client := newRecClient()
	s := newClientSession(t, c, client)
	v0 := catalogVersion(c)
	bumps := func(q string) {
		t.Helper()
		before := catalogVersion(c)
		s.exec(q)
		if catalogVersion(c) <= before {
			t.Fatalf("%s did not bump the catalog version", q)
		}
	}
	for _, q := range []string{
		"CREATE TABLE t (id int PRIMARY KEY, k int, v text)",
		"CREATE VIEW tv AS SELECT k, count(*) AS n FROM t GROUP BY k",
		"CREATE MATERIALIZED VIEW tm AS SELECT k, sum(id) AS s FROM t GROUP BY k",
		"CREATE INDEX tm_k ON tm (k)",
		"CREATE INDEX ON t (v)",
	} {
		bumps(q)
	}
	before := catalogVersion(c)
	s.exec("INSERT INTO t SELECT g, g % 5, 'v' || g FROM generate_series(1, 50) g", "SELECT * FROM tv")
	if catalogVersion(c) != before || before <= v0 {
		t.Fatalf("version %d -> %d -> %d: writes and reads must not bump it", v0, before, catalogVersion(c))
	}
	sameRows(t, "indexes", s.query("SHOW INDEXES"), []string{"t_v_idx t default {v}", "tm_k tm default {k}"})
	sameRows(t, "view", s.query("SELECT * FROM tv"), []string{"0 10", "1 10", "2 10", "3 10", "4 10"})

	// Names taken, missing, or of another kind.
	for _, tc := range []struct {
		q    string
		code pgcode.Code
	}{
		{"CREATE TABLE t (a int)", pgcode.DuplicateRelation},
		{"CREATE VIEW t AS SELECT 1", pgcode.DuplicateRelation},
		{"CREATE MATERIALIZED VIEW tv AS SELECT 1", pgcode.DuplicateRelation},
		{"CREATE INDEX tm_k ON t (k)", pgcode.DuplicateRelation},
		{"SELECT * FROM nope", pgcode.UndefinedTable},
		{"DROP TABLE nope", pgcode.UndefinedTable},
		{"CREATE VIEW bad AS SELECT * FROM nope", pgcode.UndefinedTable},
		{"DROP VIEW t", pgcode.WrongObjectType},
		{"DROP TABLE tv", pgcode.WrongObjectType},
		{"DROP MATERIALIZED VIEW tv", pgcode.WrongObjectType},
		{"ALTER VIEW t RENAME TO t9", pgcode.WrongObjectType},
		{"ALTER TABLE t RENAME TO tv", pgcode.DuplicateRelation},
		{"DROP TABLE pg_class", pgcode.InsufficientPrivilege},
	} {
		s.fails(tc.q, tc.code)
	}
	client.takeNotices()
	before = catalogVersion(c)
	s.exec("CREATE TABLE IF NOT EXISTS t (a int)", "CREATE MATERIALIZED VIEW IF NOT EXISTS tm AS SELECT 1", "DROP TABLE IF EXISTS nope", "DROP VIEW IF EXISTS nope")
	if n := len(client.takeNotices()); n != 4 {
		t.Fatalf("%d notices for 4 skipped statements", n)
	}
	if catalogVersion(c) != before {
		t.Fatal("skipped statements bumped the catalog version")
	}

	// Dependencies: what others read cannot be dropped or replaced
	// without CASCADE; an index does not count (it goes with its object).
	pe := s.fails("DROP TABLE t", pgcode.DependentObjectsStillExist)
	if !strings.Contains(pe.Detail, "view tv depends on table t") || !strings.Contains(pe.Detail, "materialized view tm depends on table t") {
		t.Fatalf("detail %q does not list the dependents", pe.Detail)
	}
	s.exec("CREATE VIEW tv2 AS SELECT n FROM tv")
	s.fails("CREATE OR REPLACE VIEW tv AS SELECT k, 0 AS n FROM t", pgcode.DependentObjectsStillExist)
	bumps("DROP VIEW tv2")
	bumps("CREATE OR REPLACE VIEW tv AS SELECT k, count(*) * 2 AS n FROM t GROUP BY k")
	sameRows(t, "replaced view", s.query("SELECT * FROM tv"), []string{"0 20", "1 20", "2 20", "3 20", "4 20"})
	bumps("DROP MATERIALIZED VIEW tm") // its index tm_k goes with it
	sameRows(t, "indexes after dropping tm", s.query("SHOW INDEXES"), []string{"t_v_idx t default {v}"})
	s.fails("SELECT * FROM tm", pgcode.UndefinedTable)
	bumps("CREATE MATERIALIZED VIEW tm AS SELECT k, sum(id) AS s FROM t GROUP BY k") // the name is free again

	// Renames: objects that read a renamed one keep reading it.
	bumps("ALTER TABLE t RENAME TO t2")
	s.fails("SELECT * FROM t", pgcode.UndefinedTable)
	s.want("SELECT count(*) FROM t2", "50")
	bumps("ALTER VIEW tv RENAME TO tv3")
	bumps("ALTER MATERIALIZED VIEW tm RENAME TO tm3")
	bumps("ALTER INDEX t_v_idx RENAME TO t2_v")
	s.exec("INSERT INTO t2 VALUES (51, 0, 'x')")
	sameRows(t, "view over a renamed table", s.query("SELECT n FROM tv3 WHERE k = 0"), []string{"22"})
	sameRows(t, "materialized view over a renamed table", s.query("SELECT s FROM tm3 WHERE k = 0"), []string{"326"})
	sameRows(t, "lookup in a renamed index", s.query("SELECT id FROM t2 WHERE v = 'x'"), []string{"51"})

	// A restart gives back every object with its id and OID, and their
	// contents; new objects get fresh ids.
	objects := catalogObjects(t, s)
	if len(objects) != 4 { // t2, tv3, tm3, t2_v (tm_k went with the first tm)
		t.Fatalf("objects: %v", objects)
	}
	contents := [][]string{s.query("SELECT * FROM t2"), s.query("SELECT * FROM tv3"), s.query("SELECT * FROM tm3")}
	c = reopen(t, c)
	s = newTestSession(t, c)
	sameRows(t, "objects after restart", catalogObjects(t, s), objects)
	for i, q := range []string{"SELECT * FROM t2", "SELECT * FROM tv3", "SELECT * FROM tm3"} {
		sameRows(t, q+" after restart", s.query(q), contents[i])
	}
	sameRows(t, "lookup after restart", s.query("SELECT id FROM t2 WHERE v = 'x'"), []string{"51"})
	s.exec("CREATE TABLE fresh (a int)")
	fresh := strings.Fields(s.one("SELECT id, oid FROM mz_tables WHERE name = 'fresh'"))
	for _, o := range objects {
		f := strings.Fields(o)
		if f[1] == fresh[0] || f[2] == fresh[1] {
			t.Fatalf("new table %v reuses the id or OID of %s", fresh, o)
		}
	}

	// CASCADE drops the dependents, durably.
	bumps("DROP TABLE t2 CASCADE")
	sameRows(t, "objects after CASCADE", catalogObjects(t, s)[:1], []string{"tables " + fresh[0] + " " + fresh[1] + " public.fresh"})
	c = reopen(t, c)
	s = newTestSession(t, c)
	if got := catalogObjects(t, s); len(got) != 1 {
		t.Fatalf("objects after CASCADE and restart: %v", got)
	}
	s.exec("CREATE TABLE t2 (a int)") // every name is free again
}

// TestCatalogSearchPath: unqualified names resolve through the system
// schemas, then search_path in order (schemas that do not exist are
// skipped); new objects go to its first existing schema. A view keeps the
// search_path it was created with, across restarts. DROP SCHEMA refuses
// to drop objects unless CASCADE.
func TestCatalogSearchPath(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec(
		"CREATE SCHEMA s",
		"CREATE TABLE s.a (x int)",
		"INSERT INTO s.a VALUES (1)",
		"CREATE TABLE a (x int)",
		"INSERT INTO a VALUES (2)",
	)
	s.fails("CREATE SCHEMA s", pgcode.DuplicateSchema)
	s.fails("CREATE TABLE nosuch.b (y int)", pgcode.InvalidSchemaName)
	s.fails("CREATE TABLE pg_catalog.b (y int)", pgcode.InsufficientPrivilege)
	s.fails("SELECT * FROM nosuch.a", pgcode.InvalidSchemaName)
	s.want("SELECT x FROM a", "2")
	s.exec("SET search_path = s, public")
	s.want("SELECT x FROM a", "1")
	s.exec("CREATE TABLE b (y int)", "CREATE VIEW va AS SELECT x FROM a")
	s.fails("SELECT * FROM public.b", pgcode.UndefinedTable)
	s.want("SELECT count(*) FROM s.b", "0")
	s.exec("SET search_path = nosuch, public")
	s.want("SELECT x FROM a", "2")
	s.exec("CREATE TABLE c (z int)")
	s.want("SELECT schema_name FROM mz_tables WHERE name = 'c'", "public")
	s.exec("SET search_path = nosuch")
	s.fails("CREATE TABLE d (z int)", pgcode.InvalidSchemaName)
	// The system catalogs come first whatever the path: a user table
	// named pg_class does not hide pg_catalog's.
	s.exec("RESET search_path", "CREATE TABLE pg_class (z int)", "INSERT INTO public.pg_class VALUES (7)")
	s.want("SELECT count(*) > 1 FROM pg_class", "t")
	s.want("SELECT z FROM public.pg_class", "7")
	// The view reads s.a, as resolved when it was created, whatever the
	// path now and after a restart.
	s.want("SELECT x FROM s.va", "1")
	c = reopen(t, c)
	s = newTestSession(t, c)
	s.want("SELECT x FROM s.va", "1")
	sameRows(t, "schemas", s.query("SHOW SCHEMAS"), []string{"information_schema", "mz_catalog", "mz_internal", "pg_catalog", "public", "s"})

	s.fails("DROP SCHEMA s", pgcode.DependentObjectsStillExist)
	s.fails("DROP SCHEMA public", pgcode.InsufficientPrivilege)
	s.fails("DROP SCHEMA pg_catalog", pgcode.InsufficientPrivilege)
	s.fails("DROP SCHEMA nosuch", pgcode.InvalidSchemaName)
	s.exec("DROP SCHEMA IF EXISTS nosuch", "DROP SCHEMA s CASCADE")
	s.fails("SELECT * FROM s.a", pgcode.InvalidSchemaName)
	c = reopen(t, c)
	s = newTestSession(t, c)
	s.fails("SELECT * FROM s.a", pgcode.InvalidSchemaName)
	sameRows(t, "tables after DROP SCHEMA and restart", s.query("SELECT schema_name, name FROM mz_tables"), []string{"public a", "public c", "public pg_class"})
	s.exec("CREATE SCHEMA s", "CREATE TABLE s.a (x int)") // the names are free again
}

// TestCatalogVersionInvalidatesPlans: a prepared point read keeps a cached
// lookup plan (plancache.go) only while the catalog version is unchanged:
// after the table it reads is renamed and another takes its name, the
// same prepared statement reads the new table, and after that one is
// dropped it fails with 42P01.
func TestCatalogVersionInvalidatesPlans(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'old')")
	ctx := context.Background()
	st, err := s.s.Prepare(ctx, "SELECT v FROM t WHERE id = $1", nil)
	if err != nil {
		t.Fatal(err)
	}
	read := func() ([]string, error) {
		rows, _, err := s.runPrepared(ctx, st, []repr.Datum{repr.Int4Datum(1)})
		return rows, err
	}
	if rows, err := read(); err != nil || len(rows) != 1 || rows[0] != "old" {
		t.Fatalf("first read: %v %v", rows, err)
	}
	tmpl := st.(*statement).template
	if tmpl == nil || tmpl.none || tmpl.version != catalogVersion(c) {
		t.Fatalf("no lookup template cached at the current version: %+v", tmpl)
	}
	s.exec("ALTER TABLE t RENAME TO t_old", "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'new')")
	if rows, err := read(); err != nil || len(rows) != 1 || rows[0] != "new" {
		t.Fatalf("read after the table was replaced: %v %v", rows, err)
	}
	if got := st.(*statement).template; got == tmpl || got.version != catalogVersion(c) {
		t.Fatal("the template was not rebuilt at the new catalog version")
	}
	s.exec("DROP TABLE t")
	if _, err := read(); errCode(err) != string(pgcode.UndefinedTable) {
		t.Fatalf("read after the table was dropped: %v", err)
	}
}

// TestCatalogSources: a load generator source is an object like the
// others: views read it, it can be renamed, DROP SOURCE refuses while
// views read it (2BP01) and CASCADE drops them; after a restart it
// resumes where it was (no update lost or doubled).
func TestCatalogSources(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec(
		"CREATE SOURCE cnt FROM LOAD GENERATOR COUNTER (TICK INTERVAL '5ms')",
		"CREATE MATERIALIZED VIEW cm AS SELECT count(*) AS n, max(counter) AS hi FROM cnt",
	)
	s.fails("CREATE SOURCE cnt FROM LOAD GENERATOR COUNTER", pgcode.DuplicateRelation)
	s.fails("DROP TABLE cnt", pgcode.WrongObjectType)
	s.fails("INSERT INTO cnt VALUES (1)", pgcode.WrongObjectType)
	var n int
	waitFor(t, 5*time.Second, "the counter to count", func() bool {
		n, _ = strconv.Atoi(s.one("SELECT n FROM cm"))
		return n >= 5
	})
	// The view agrees with the source: the counter counts 1, 2, ...
	row := strings.Fields(s.one("SELECT n, hi FROM cm"))
	if row[0] != row[1] {
		t.Fatalf("count %s but max %s", row[0], row[1])
	}
	sameRows(t, "sources", s.query("SHOW SOURCES"), []string{"cnt load-generator"})
	s.fails("DROP SOURCE cnt", pgcode.DependentObjectsStillExist)
	s.exec("ALTER SOURCE cnt RENAME TO counter")
	s.fails("SELECT * FROM cnt", pgcode.UndefinedTable)
	c = reopen(t, c)
	s = newTestSession(t, c)
	row = strings.Fields(s.one("SELECT n, hi, (SELECT count(DISTINCT counter) FROM counter) FROM cm"))
	if got, _ := strconv.Atoi(row[0]); got < n || row[0] != row[1] || row[0] != row[2] {
		t.Fatalf("after restart: count, max, distinct = %v (had %d)", row, n)
	}
	s.exec("DROP SOURCE counter CASCADE")
	s.fails("SELECT * FROM cm", pgcode.UndefinedTable)
	c = reopen(t, c)
	s = newTestSession(t, c)
	if got := catalogObjects(t, s); len(got) != 0 {
		t.Fatalf("objects after DROP SOURCE CASCADE and restart: %v", got)
	}
}

// TestCatalogCancelledDDL: a DDL whose client gave up before its catalog
// record was written leaves no trace, now or after a restart: no object
// appears or disappears, and a cancelled CREATE UNIQUE INDEX enforces
// nothing. (The store reports a cancelled context only after the record
// is durable: such DDL used to fail and then take effect at the next
// restart.)
func TestCatalogCancelledDDL(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE u (a int, b int)", "INSERT INTO u VALUES (1, 1)", "CREATE VIEW uv AS SELECT a FROM u", "CREATE SCHEMA s")
	objects := catalogObjects(t, s)
	version := catalogVersion(c)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, q := range []string{
		"CREATE TABLE x (a int)",
		"CREATE UNIQUE INDEX ua ON u (a)",
		"CREATE MATERIALIZED VIEW um AS SELECT count(*) FROM u",
		"CREATE OR REPLACE VIEW uv AS SELECT b FROM u",
		"ALTER TABLE u RENAME TO u2",
		"DROP VIEW uv",
		"DROP TABLE u CASCADE",
		"DROP SCHEMA s",
		"CREATE SCHEMA s2",
	} {
		if _, _, err := s.run(cancelled, q); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s with a cancelled context: %v", q, err)
		}
	}
	check := func(what string) {
		t.Helper()
		sameRows(t, what, catalogObjects(t, s), objects)
		sameRows(t, what+": schemas", s.query("SHOW SCHEMAS"), []string{"information_schema", "mz_catalog", "mz_internal", "pg_catalog", "public", "s"})
	}
	if v := catalogVersion(c); v != version {
		t.Fatalf("cancelled DDL changed the catalog version %d -> %d", version, v)
	}
	check("after cancelled DDL")
	s.exec("INSERT INTO u VALUES (1, 2)") // no unique index on a
	c = reopen(t, c)
	s = newTestSession(t, c)
	check("after cancelled DDL and restart")
	s.want("SELECT count(*) FROM u WHERE a = 1", "2")
	s.exec("CREATE TABLE x (a int)", "CREATE UNIQUE INDEX ub ON u (b)")
	s.fails("INSERT INTO u VALUES (3, 2)", pgcode.UniqueViolation)
}
