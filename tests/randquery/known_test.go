package randquery

import (
	"regexp"
	"strings"
	"testing"
)

// A known difference is one the tester found and that is not fixed (yet):
// its minimal reproduction, the cause found, and how to recognise it. A
// shrunk difference whose kind starts with kind and whose query matches
// query is reported as known and does not fail the test. avoid names the
// generator feature (gen.on) that triggers it, turned off so that the
// fixed seeds explore the rest; TestKnownDifferences runs every
// reproduction and fails when one no longer differs, so that fixed
// entries are removed. An entry with intended set is a reviewed intended
// deviation rather than a bug to fix: intended says why viewd keeps its
// behaviour.
type known struct {
	name     string
	why      string
	intended string
	kind     string
	query    *regexp.Regexp
	avoid    string
	// setup and sql reproduce it: setup runs on both servers, then
	// sql is compared.
	setup []string
	sql   string
	seen  int
}

// discardedRows is why errors raised on rows a query discards are an
// intended deviation.
const discardedRows = "viewd, like Materialize, evaluates each expression over every row of the collection it is computed on, " +
	"whatever later operators keep (a join whose other side is empty, LIMIT 0, a filter PostgreSQL happens to test first), " +
	"and an error anywhere in a query's dataflow fails the query. PostgreSQL's executor is lazy and what it evaluates depends on its plan " +
	"(join order and method, which side of a join it reads first, the order it tests a WHERE's conjuncts in): the same query fails or " +
	"answers in PostgreSQL itself as its statistics change. A maintained view cannot depend on an evaluation order, so viewd keeps " +
	"its rule; the generator avoids the feature so that the seeds explore the rest"

// knowns is the reviewed list.
var knowns = []*known{
	{
		name: "error 21000 from a discarded row of a subquery whose aggregate is the enclosing query's",
		why: "a scalar subquery whose aggregate reads only the enclosing query's columns does not aggregate (the aggregate is the enclosing query's) and has a row per row of its FROM; " +
			"where PostgreSQL never evaluates it (under LIMIT 0: seeds 5063, 5103, 5107; a WHERE whose uncorrelated subquery is NULL, which PostgreSQL evaluates first: 5001; 5136 not analysed) " +
			"it returns rows, while viewd computes it and fails with 21000 (the class of \"error from a discarded row\"). Found by a 10-minute run from seed 5000 once outer-level aggregates moved out of their subqueries; " +
			"with the feature off, the generator gives such subqueries LIMIT 1",
		intended: discardedRows,
		kind:     "viewd error 21000",
		query:    regexp.MustCompile(`\(SELECT (count|sum|avg|min|max|bool_and|bool_or|every|string_agg|jsonb_agg|CAST\(array_agg)\(`),
		avoid:    "outer-agg-rows",
		setup:    []string{"CREATE TABLE kd_m (id int4 PRIMARY KEY)", "INSERT INTO kd_m VALUES (1), (2)"},
		sql:      "SELECT (SELECT max(a1.id) FROM kd_m a2) AS c0 FROM kd_m a1 LIMIT 0",
	},
	{
		name: "error from a discarded row",
		why: "viewd computes a subplan whose rows a later join or filter discards, and an error raised there (integer out of range, in a dataflow's error collection) " +
			"fails the whole query; PostgreSQL never evaluates the expression for rows it does not reach (here: a LATERAL subquery over an empty table). " +
			"Found by the long run (seed 1007): an uncorrelated EXISTS in a LATERAL subquery's select list is decorrelated into a plan evaluated over every row of its FROM",
		intended: discardedRows,
		kind:     "viewd error 22003",
		query:    regexp.MustCompile(`CAST\(b\.big AS int4\)`),
		avoid:    "big-values",
		setup:    []string{"CREATE TABLE kd_e1 (id int4 PRIMARY KEY)", "CREATE TABLE kd_e2 (id int4 PRIMARY KEY, big int8)", "INSERT INTO kd_e2 VALUES (1, 5000000000)"},
		sql:      "SELECT s.x FROM kd_e1 CROSS JOIN LATERAL (SELECT CASE WHEN EXISTS (SELECT 1 FROM kd_e2 b WHERE CAST(b.big AS int4) > a.id) THEN 1 END AS x FROM kd_e2 a) s",
	},
}

func avoided() map[string]bool {
	m := map[string]bool{}
	for _, k := range knowns {
		if k.avoid != "" {
			m[k.avoid] = true
		}
	}
	return m
}

func matchKnown(rp *repro, kind string) *known {
	for _, k := range knowns {
		if strings.HasPrefix(kind, k.kind) && k.query.MatchString(rp.q.sql()) {
			return k
		}
	}
	return nil
}

// checkKnown runs every known difference's reproduction on s and fails
// when one no longer differs or differs in another way.
func checkKnown(t *testing.T, s servers) {
	for _, k := range knowns {
		t.Run(k.name, func(t *testing.T) {
			for _, st := range k.setup {
				for _, c := range []string{"PostgreSQL", "viewd"} {
					conn := s.pg
					if c == "viewd" {
						conn = s.vd
					}
					if _, err := exec(conn, st); err != nil {
						t.Fatalf("%s: %s: %v", c, st, err)
					}
				}
			}
			kind, detail := compare(run(s.vd, k.sql), run(s.pg, k.sql))
			switch {
			case kind == "":
				t.Errorf("known difference %q no longer differs: remove it from knowns (and its avoid, %q)", k.name, k.avoid)
			case !strings.HasPrefix(kind, k.kind):
				t.Errorf("known difference %q differs in another way (%s): %s", k.name, kind, detail)
			case !k.query.MatchString(k.sql):
				t.Errorf("known difference %q: its query pattern does not match its own reproduction", k.name)
			case k.intended != "":
				t.Logf("intended deviation, still as reviewed (%s): %s", kind, detail)
			default:
				t.Logf("still differs (%s): %s", kind, detail)
			}
		})
	}
}
