package sqllogictest

import (
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestScanSQL(t *testing.T) {
	toks := scanSQL(`SELECT "Mixed""Q", [br], 'it''s -- not a comment', E'a\'b', $x$ $$ body $x$, 1.5e3 -- comment
	/* block /* nested */ */ FROM t1 WHERE a<>b AND (c >= (d))`)
	var got []string
	for _, tk := range toks {
		got = append(got, tk.norm)
	}
	want := []string{"select", `Mixed"Q`, ",", "br", ",", `'it''s -- not a comment'`, ",", `E'a\'b'`, ",",
		"$x$ $$ body $x$", ",", "1.5e3", "from", "t1", "where", "a", "<>", "b", "and", "(", "c", ">=", "(", "d", ")", ")"}
	if !slices.Equal(got, want) {
		t.Fatalf("tokens:\n got %q\nwant %q", got, want)
	}
	if d := toks[len(toks)-3].depth; d != 2 {
		t.Errorf("depth of d = %d, want 2", d)
	}
}

func TestClassifyDDL(t *testing.T) {
	for _, tc := range []struct {
		sql   string
		kind  ddlKind
		names string
	}{
		{"CREATE TABLE t1(a int)", ddlCreate, "t1"},
		{"create temp table if not exists S.T2 (a int)", ddlCreate, "t2"},
		{`CREATE OR REPLACE MATERIALIZED VIEW "V" AS SELECT 1`, ddlCreate, "V"},
		{"CREATE VIEW view1 AS SELECT x FROM t1", ddlCreate, "view1"},
		{"CREATE SOURCE s FROM KAFKA", ddlCreate, "s"},
		{"CREATE INDEX i ON t1(a)", ddlOther, ""},
		{"DROP TABLE IF EXISTS t1, t2 CASCADE", ddlDrop, "t1 t2"},
		{"DROP MATERIALIZED VIEW mv", ddlDrop, "mv"},
		{"DROP INDEX t1i1", ddlOther, ""},
		{"ALTER TABLE t1 ADD COLUMN c int", ddlOther, ""},
		{"ALTER TABLE t1 DROP COLUMN c", ddlAlter, "t1"},
		{"ALTER TABLE t1 ALTER COLUMN c TYPE text", ddlAlter, "t1"},
		{"INSERT INTO t1 VALUES (1)", ddlOther, ""},
	} {
		kind, names := classifyDDL(scanSQL(tc.sql))
		if kind != tc.kind || strings.Join(names, " ") != tc.names {
			t.Errorf("%s: got %v %q, want %v %q", tc.sql, kind, names, tc.kind, tc.names)
		}
	}
}

func TestPositionalOrderBy(t *testing.T) {
	for _, tc := range []struct {
		sql    string
		clause string
		hasOrd bool
		ok     bool
	}{
		{"SELECT a, b FROM t ORDER BY 2 DESC, 1", "ORDER BY 2 DESC, 1", true, true},
		{"SELECT a, b FROM t ORDER BY b NULLS FIRST, a ASC LIMIT 3", "ORDER BY 2 NULLS FIRST, 1 ASC", true, true},
		{"SELECT a AS x, b+1 FROM t ORDER BY b+1, x", "ORDER BY 2, 1", true, true},
		{"SELECT t.a, b y FROM t ORDER BY a, y DESC", "ORDER BY 1, 2 DESC", true, true},
		{"SELECT CASE WHEN a THEN 1 END, b FROM t ORDER BY CASE WHEN a THEN 1 END", "ORDER BY 1", true, true},
		{"SELECT DISTINCT a FROM t ORDER BY a", "ORDER BY 1", true, true},
		{"SELECT a FROM t ORDER BY b", "", true, false},
		{"SELECT a, a FROM t ORDER BY a", "ORDER BY 1", true, true},
		{"SELECT a AS x, b AS x FROM t ORDER BY x", "", true, false},
		{"SELECT a FROM t WHERE a IN (SELECT b FROM u ORDER BY 1)", "", false, false},
		{"SELECT a FROM t UNION SELECT b FROM u ORDER BY 1", "ORDER BY 1", true, true},
		{"SELECT a FROM t", "", false, false},
		{"SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b", "ORDER BY 1, 2", true, true},
		{"SELECT DISTINCT ON (", "", false, false},
		{"SELECT DISTINCT ON", "", false, false},
		{"ORDER BY", "", false, false},
		{"SELECT a FROM t ORDER BY", "", false, false},
	} {
		clause, hasOrd, ok := positionalOrderBy(scanSQL(tc.sql))
		if clause != tc.clause || hasOrd != tc.hasOrd || ok != tc.ok {
			t.Errorf("%s: got %q %v %v, want %q %v %v", tc.sql, clause, hasOrd, ok, tc.clause, tc.hasOrd, tc.ok)
		}
	}
}

func TestIdentNamesAndNondeterminism(t *testing.T) {
	toks := scanSQL(`SELECT a FROM T1 JOIN "t2" ON 't3' = x WHERE random() > 0.5`)
	names := identNames(toks)
	var got []string
	for n := range names {
		got = append(got, n)
	}
	sort.Strings(got)
	if want := "a from join on random select t1 t2 where x"; strings.Join(got, " ") != want {
		t.Errorf("identNames = %q, want %q", strings.Join(got, " "), want)
	}
	if fn, ok := hasNondeterminism(toks); !ok || fn != "random" {
		t.Errorf("hasNondeterminism = %q %v", fn, ok)
	}
	if _, ok := hasNondeterminism(scanSQL("SELECT 'now()' FROM t")); ok {
		t.Error("a string literal is not a function call")
	}
}
