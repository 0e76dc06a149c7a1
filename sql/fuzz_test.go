package sql

import (
	"errors"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/sql/parse"
)

// fuzzSchema is the test catalog FuzzFrontEnd plans against.
const fuzzSchema = `
CREATE TABLE t (a int PRIMARY KEY, b text, c numeric, d timestamptz, e jsonb, f bool);
CREATE TABLE u (a int, x float8, y text[], z interval);
CREATE VIEW v AS SELECT a, b FROM t WHERE f;
CREATE MATERIALIZED VIEW mv AS SELECT a, count(*) AS n FROM u GROUP BY a`

// frontEndSeeds cover the statement kinds the planner knows.
var frontEndSeeds = []string{
	"SELECT * FROM t",
	"SELECT a, b || 'x', c * 2 FROM t WHERE a IN (1, 2, 3) ORDER BY 2 DESC LIMIT 5 OFFSET 1",
	"SELECT t.a, sum(u.x) FROM t JOIN u ON t.a = u.a GROUP BY t.a HAVING count(*) > 1",
	"SELECT a FROM t LEFT JOIN u USING (a) WHERE u.x IS NULL",
	"SELECT (SELECT max(x) FROM u WHERE u.a = t.a), EXISTS (SELECT 1 FROM u) FROM t",
	"WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r",
	"SELECT a, row_number() OVER (PARTITION BY b ORDER BY c) FROM t",
	"SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b",
	"SELECT e->'k'->>'j', jsonb_array_elements(e) FROM t",
	"SELECT y[1], array_length(y, 1), unnest(y) FROM u",
	"SELECT d AT TIME ZONE 'UTC', date_trunc('day', d), d + z FROM t, u",
	"SELECT CASE WHEN a > 1 THEN 'x' WHEN a < 0 THEN NULL ELSE b END FROM t",
	"SELECT a::text::int, '1'::numeric(10,2), CAST(c AS float8) FROM t",
	"VALUES (1, 'a'), (2, 'b') EXCEPT SELECT a, b FROM t",
	"SELECT * FROM generate_series(1, 10) g, LATERAL (SELECT g * 2) s",
	"INSERT INTO t (a, b) VALUES (1, 'x') ON CONFLICT DO NOTHING",
	"INSERT INTO u SELECT a, c, ARRAY[b], '1 day' FROM t",
	"UPDATE t SET b = upper(b) WHERE a = $1",
	"DELETE FROM u WHERE x > (SELECT avg(x) FROM u)",
	"CREATE VIEW w AS SELECT a, n FROM mv WHERE n > 2",
	"CREATE MATERIALIZED VIEW m2 AS SELECT b, count(*) FROM t GROUP BY b",
	"CREATE TABLE n (k int PRIMARY KEY, v text NOT NULL DEFAULT 'x')",
	"CREATE INDEX i ON t (b)",
	"DROP VIEW v CASCADE",
	"ALTER TABLE t RENAME TO t2",
	"SUBSCRIBE (SELECT * FROM mv) WITH (PROGRESS)",
	"DECLARE c CURSOR WITH HOLD FOR SELECT * FROM t",
	"EXPLAIN SELECT * FROM v",
	"SHOW TABLES",
	"SET search_path = public",
	"BEGIN; COMMIT",
	"COPY t FROM STDIN",
	"SELECT a FROM t AS OF 5",
	"SELECT mz_now(), now(), random(), pg_typeof(a), coalesce(b, 'z'), greatest(a, 2) FROM t",
	"SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY c) FROM t",
	"SELECT string_agg(b, ',' ORDER BY a), array_agg(a) FILTER (WHERE f) FROM t",
	"SELECT ROW(a, b) = ROW(1, 'x'), a = ANY (SELECT a FROM u) FROM t",
	"SELECT 1 + 1 + 1 + 1 + 1 + 1 + 1 + 1",
}

// FuzzFrontEnd runs the SQL front end on arbitrary text against a test
// catalog: parse, plan, optimise, lower. Whatever the input, no panic and
// no internal error (XX000): every error is a *pgcode.Error with the
// SQLSTATE PostgreSQL would give. Each statement is bounded in time.
// CI runs it for a few seconds; README's "Fuzzing" runs it for hours.
func FuzzFrontEnd(f *testing.F) {
	for _, s := range frontEndSeeds {
		f.Add(s)
	}
	cat := &testCatalog{}
	if err := cat.exec(fuzzSchema); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkFrontEnd(t, cat, text)
	})
}

// checkFrontEnd is FuzzFrontEnd's check of one input.
func checkFrontEnd(t *testing.T, cat *testCatalog, text string) {
	start := time.Now()
	stmts, err := parse.Parse(text)
	checkErr(t, text, "parse", err)
	for _, st := range stmts {
		scx := &StatementContext{Catalog: cat, Vars: map[string]string{}}
		p, err := PlanStatement(scx, st, nil)
		checkErr(t, text, "plan", err)
		var rel plan.Rel
		switch x := p.(type) {
		case *SelectPlan:
			rel = x.Query.Expr
		case *CreateViewPlan:
			rel = x.Query.Expr
		}
		if rel != nil {
			opt, err := plan.Optimize(rel, nil)
			checkErr(t, text, "optimise", err)
			if err == nil {
				_, err = plan.Lower(opt, nil)
				checkErr(t, text, "lower", err)
			}
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("%q took %v", text, d)
	}
}

func checkErr(t *testing.T, text, stage string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var pe *pgcode.Error
	if !errors.As(err, &pe) {
		t.Fatalf("%s of %q: an error without SQLSTATE: %v", stage, text, err)
	}
	if pe.Code == pgcode.InternalError || pe.Code == "" {
		t.Fatalf("%s of %q: %s %s", stage, text, pe.Code, pe.Message)
	}
}
