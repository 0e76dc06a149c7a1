package clients

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/lib/pq" // database/sql driver "postgres", for testLibPQ

	"github.com/viewd/viewd/internal/testenv"
)

// queryRows runs q and returns its rows, each as its columns' text joined
// by "|", sorted; or "ERROR ..." when it fails.
func queryRows(ctx context.Context, c *pgx.Conn, q string, args ...any) string {
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		return "ERROR " + err.Error()
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return "ERROR " + err.Error()
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		return "ERROR " + err.Error()
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// timed runs fn and returns its call.
func timed(name string, fn func() string) call {
	start := time.Now()
	r := fn()
	return call{name: name, result: r, ms: float64(time.Since(start).Microseconds()) / 1000}
}

// testPgx introspects with pgx as a Go application would: the catalog
// through information_schema and pg_catalog, reg* casts, a query's
// field descriptions (table OID and column number), and binary COPY
// (CopyFrom).
func testPgx(t *testing.T, ctx context.Context, srv servers) {
	runAll := func(tg target) []call {
		c, err := pgx.Connect(ctx, tg.url())
		if err != nil {
			t.Fatalf("pgx: connect to %s: %v", tg.name, err)
		}
		defer c.Close(ctx)
		q := func(name, sql string, args ...any) call {
			return timed(name, func() string { return queryRows(ctx, c, sql, args...) })
		}
		calls := []call{
			q("tables", `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`),
			q("views", `SELECT table_name FROM information_schema.views WHERE table_schema = 'public'`),
			q("materialized views", `SELECT matviewname FROM pg_matviews WHERE schemaname = 'public'`),
			q("columns t07", `SELECT column_name, data_type, is_nullable, ordinal_position FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`, "t07"),
			q("primary key t07", `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'public.t07'::regclass AND i.indisprimary`),
			q("indexes t05", `SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename = 't05'`),
			q("foreign keys", `SELECT constraint_name FROM information_schema.referential_constraints WHERE constraint_schema = 'public'`),
			q("regclass", `SELECT 'pg_class'::regclass::oid, 'pg_catalog.pg_type'::regclass::text, 't07'::regclass::text`),
			q("regtype", `SELECT 'int4'::regtype::oid, 'integer'::regtype::text, $1::regtype::oid`, "text"),
			q("regnamespace", `SELECT 'public'::regnamespace::text, 'pg_catalog'::regnamespace::oid`),
			q("query", `SELECT id, name, amount FROM t07 WHERE id = $1`, 1),
			timed("field descriptions", func() string {
				rows, err := c.Query(ctx, `SELECT id, name, amount + 1 AS more FROM t07`)
				if err != nil {
					return "ERROR " + err.Error()
				}
				defer rows.Close()
				var parts []string
				for _, f := range rows.FieldDescriptions() {
					parts = append(parts, fmt.Sprintf("%s:from-table=%t:attnum=%d", f.Name, f.TableOID != 0, f.TableAttributeNumber))
				}
				return strings.Join(parts, " ")
			}),
			timed("CopyFrom (binary COPY)", func() string {
				n, err := c.CopyFrom(ctx, pgx.Identifier{"copy_target"}, []string{"id", "name"},
					pgx.CopyFromRows([][]any{{int32(1), "a"}, {int32(2), "b"}}))
				if err != nil {
					return "ERROR " + err.Error()
				}
				return fmt.Sprintf("%d rows; %s", n, queryRows(ctx, c, "SELECT id, name FROM copy_target"))
			}),
		}
		return calls
	}
	compare(t, "pgx", "catalog, reg* casts, field origins, CopyFrom, query", runAll(srv.viewd), runAll(srv.pg))
}

// testBIQueries runs the connect-time catalog queries of BI tools and
// SQL clients (testdata/bi_queries.sql, each named by a "-- name:"
// line) on both servers.
func testBIQueries(t *testing.T, ctx context.Context, srv servers) {
	raw, err := os.ReadFile(filepath.Join("testdata", "bi_queries.sql"))
	if err != nil {
		t.Fatal(err)
	}
	type namedQuery struct{ name, sql string }
	var qs []namedQuery
	for _, block := range strings.Split(string(raw), "-- name: ")[1:] {
		name, body, _ := strings.Cut(block, "\n")
		qs = append(qs, namedQuery{strings.TrimSpace(name), strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(body), ";"))})
	}
	runAll := func(tg target) []call {
		c, err := pgx.Connect(ctx, tg.url())
		if err != nil {
			t.Fatalf("bi: connect to %s: %v", tg.name, err)
		}
		defer c.Close(ctx)
		var calls []call
		for _, q := range qs {
			calls = append(calls, timed(q.name, func() string {
				r := queryRows(ctx, c, q.sql)
				if strings.HasPrefix(r, "ERROR") {
					return r
				}
				// Contents vary by server (OIDs, times, sessions): the
				// check is that the query runs, and its row count.
				return fmt.Sprintf("ok, %d rows", strings.Count(r, "; ")+min(1, len(r)))
			}))
		}
		return calls
	}
	compare(t, "bi-queries", "Metabase, Grafana, DBeaver, Superset, pgcli connect-time queries", runAll(srv.viewd), runAll(srv.pg))
}

// python finds a python3 that has psycopg2 and SQLAlchemy (Debian's
// python3-psycopg2 and python3-sqlalchemy install them for /usr/bin/python3).
func python(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import psycopg2, sqlalchemy").Run() == nil {
			return p
		}
	}
	testenv.SkipUnlessCI(t, "no python3 with psycopg2 and sqlalchemy (Debian python3-psycopg2 python3-sqlalchemy; .ci/run installs them)")
	return ""
}

// testSQLAlchemy runs SQLAlchemy's inspector and psycopg2
// (testdata/sqlalchemy_client.py).
func testSQLAlchemy(t *testing.T, ctx context.Context, srv servers) {
	py := python(t)
	runAll := func(tg target) []call {
		out := run(ctx, t, nil, py, filepath.Join("testdata", "sqlalchemy_client.py"), fmt.Sprintf("postgresql+psycopg2://viewd@%s:%s/viewd", tg.host, tg.port))
		var res struct {
			Results map[string]any     `json:"results"`
			Times   map[string]float64 `json:"times_ms"`
			Errors  map[string]string  `json:"errors"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("sqlalchemy client output: %v\n%s", err, out)
		}
		var calls []call
		for name, ms := range res.Times {
			r := ""
			if e, ok := res.Errors[name]; ok {
				r = "ERROR " + e
			} else {
				b, _ := json.Marshal(res.Results[name])
				r = string(b)
			}
			calls = append(calls, call{name: name, result: r, ms: ms})
		}
		sort.Slice(calls, func(i, j int) bool { return calls[i].name < calls[j].name })
		return calls
	}
	compare(t, "sqlalchemy", "inspector: tables, views, columns, PK, indexes, FK, unique; reflect; psycopg2 query", runAll(srv.viewd), runAll(srv.pg))
}

// jdbcJar is where Debian's libpostgresql-jdbc-java puts the driver.
const jdbcJar = "/usr/share/java/postgresql.jar"

// testJDBC compiles testdata/JdbcClient.java and runs it with the
// PostgreSQL JDBC driver.
func testJDBC(t *testing.T, ctx context.Context, srv servers) {
	javac := need(t, "javac", "default-jdk-headless")
	java := need(t, "java", "default-jre-headless")
	if _, err := os.Stat(jdbcJar); err != nil {
		testenv.SkipUnlessCI(t, "%s is missing (Debian libpostgresql-jdbc-java; .ci/run installs it)", jdbcJar)
	}
	dir := t.TempDir()
	run(ctx, t, nil, javac, "-d", dir, "-cp", jdbcJar, filepath.Join("testdata", "JdbcClient.java"))
	runAll := func(tg target) []call {
		out := run(ctx, t, nil, java, "-cp", jdbcJar+":"+dir, "JdbcClient", fmt.Sprintf("jdbc:postgresql://%s:%s/viewd", tg.host, tg.port), "viewd")
		return parseTabbed(t, out)
	}
	compare(t, "jdbc", "DatabaseMetaData: tables, views, MVs, columns, PK, indexes, FK, best row id; ResultSetMetaData", runAll(srv.viewd), runAll(srv.pg))
}

// testODBC runs psqlODBC through unixODBC's isql: help (the tables),
// help TABLE (its columns) and a query.
func testODBC(t *testing.T, ctx context.Context, srv servers) {
	isql := need(t, "isql", "unixodbc")
	driver := "/usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so"
	if _, err := os.Stat(driver); err != nil {
		testenv.SkipUnlessCI(t, "%s is missing (Debian odbc-postgresql; .ci/run installs it)", driver)
	}
	dir := t.TempDir()
	var ini strings.Builder
	for _, tg := range []target{srv.viewd, srv.pg} {
		fmt.Fprintf(&ini, "[%s]\nDriver=%s\nServername=%s\nPort=%s\nDatabase=viewd\nUsername=viewd\n\n", tg.name, driver, tg.host, tg.port)
	}
	if err := os.WriteFile(filepath.Join(dir, "odbc.ini"), []byte(ini.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"ODBCINI=" + filepath.Join(dir, "odbc.ini"), "ODBCSYSINI=" + dir}
	runAll := func(tg target) []call {
		var calls []call
		for _, stmt := range []string{"help", "help t07", "help v03", "SELECT id, name FROM t07 ORDER BY id"} {
			start := time.Now()
			cmd := exec.CommandContext(ctx, isql, tg.name, "-b", "-d|", "-c")
			cmd.Env = append(os.Environ(), env...)
			cmd.Stdin = strings.NewReader(stmt + "\n")
			out, err := cmd.CombinedOutput()
			r := strings.TrimSpace(string(out))
			if err != nil {
				r = "ERROR " + err.Error() + ": " + r
			}
			switch {
			case stmt == "help":
				r = odbcTables(r)
			case strings.HasPrefix(stmt, "help "):
				r = odbcColumns(r)
			}
			calls = append(calls, call{name: stmt, result: r, ms: float64(time.Since(start).Microseconds()) / 1000})
		}
		return calls
	}
	compare(t, "odbc", "isql help (tables), help TABLE (columns), query", runAll(srv.viewd), runAll(srv.pg))
}

// odbcColumns reduces isql's help TABLE output to each column's name,
// type and nullability (the rest holds OIDs, which differ by server).
func odbcColumns(out string) string {
	lines := strings.Split(out, "\n")
	header := strings.Split(lines[0], "|")
	var pick []int
	for i, h := range header {
		if h == "COLUMN_NAME" || h == "TYPE_NAME" || h == "IS_NULLABLE" || h == "ORDINAL_POSITION" {
			pick = append(pick, i)
		}
	}
	var rows []string
	for _, line := range lines[1:] {
		f := strings.Split(line, "|")
		var parts []string
		for _, i := range pick {
			if i < len(f) {
				parts = append(parts, f[i])
			}
		}
		rows = append(rows, strings.Join(parts, ","))
	}
	return strings.Join(rows, " ")
}

// odbcTables reduces isql's help output (catalog|schema|table|type|remarks
// lines) to the schema and table names, sorted.
func odbcTables(out string) string {
	var names []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "|")
		if len(f) >= 4 {
			names = append(names, f[1]+"."+f[2]+":"+f[3])
		}
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

// testNodePostgres installs node-postgres from testdata/node's lockfile
// (npm ci, into the test's temporary directory) and runs client.js.
func testNodePostgres(t *testing.T, ctx context.Context, srv servers) {
	node := need(t, "node", "nodejs")
	npm := need(t, "npm", "npm")
	dir := t.TempDir()
	for _, f := range []string{"package.json", "package-lock.json", "client.js"} {
		b, err := os.ReadFile(filepath.Join("testdata", "node", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	install := exec.CommandContext(ictx, npm, "ci", "--no-audit", "--no-fund", "--silent")
	install.Dir = dir
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm ci (node-postgres from the npm registry): %v\n%s", err, out)
	}
	runAll := func(tg target) []call {
		return parseTabbed(t, run(ctx, t, nil, node, filepath.Join(dir, "client.js"), tg.url()))
	}
	compare(t, "node-postgres", "tables, views, MVs, columns, PK, indexes, FK; field origins; query", runAll(srv.viewd), runAll(srv.pg))
}

// testLibPQ runs lib/pq through database/sql, as Go applications that
// predate pgx do: the catalog by information_schema, a prepared
// statement with a parameter, and the result's column types.
func testLibPQ(t *testing.T, ctx context.Context, srv servers) {
	runAll := func(tg target) []call {
		db, err := sql.Open("postgres", tg.url())
		if err != nil {
			t.Fatalf("lib/pq: open %s: %v", tg.name, err)
		}
		defer db.Close()
		rowsOf := func(q string, args ...any) string {
			rows, err := db.QueryContext(ctx, q, args...)
			if err != nil {
				return "ERROR " + err.Error()
			}
			defer rows.Close()
			cols, _ := rows.Columns()
			var out []string
			for rows.Next() {
				vals := make([]sql.NullString, len(cols))
				ptrs := make([]any, len(cols))
				for i := range vals {
					ptrs[i] = &vals[i]
				}
				if err := rows.Scan(ptrs...); err != nil {
					return "ERROR " + err.Error()
				}
				parts := make([]string, len(vals))
				for i, v := range vals {
					parts[i] = v.String
				}
				out = append(out, strings.Join(parts, "|"))
			}
			if err := rows.Err(); err != nil {
				return "ERROR " + err.Error()
			}
			sort.Strings(out)
			return strings.Join(out, "; ")
		}
		q := func(name, sql string, args ...any) call {
			return timed(name, func() string { return rowsOf(sql, args...) })
		}
		return []call{
			q("tables", `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`),
			q("columns t07", `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`, "t07"),
			q("primary key t07", `SELECT kcu.column_name FROM information_schema.table_constraints tc JOIN information_schema.key_column_usage kcu ON kcu.constraint_name = tc.constraint_name AND kcu.table_name = tc.table_name WHERE tc.table_name = $1 AND tc.constraint_type = 'PRIMARY KEY'`, "t07"),
			q("indexes t05", `SELECT indexname FROM pg_indexes WHERE tablename = $1`, "t05"),
			q("query", `SELECT id, name, amount FROM t07 WHERE id = $1`, 2),
			timed("column types", func() string {
				rows, err := db.QueryContext(ctx, `SELECT id, name, amount, created, flag FROM t07`)
				if err != nil {
					return "ERROR " + err.Error()
				}
				defer rows.Close()
				cts, err := rows.ColumnTypes()
				if err != nil {
					return "ERROR " + err.Error()
				}
				var parts []string
				for _, ct := range cts {
					parts = append(parts, ct.Name()+":"+ct.DatabaseTypeName())
				}
				return strings.Join(parts, " ")
			}),
		}
	}
	compare(t, "lib-pq", "tables, columns, PK, indexes; prepared query; column types", runAll(srv.viewd), runAll(srv.pg))
}
