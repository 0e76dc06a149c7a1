package sqllogictest

import "testing"

// FuzzSQLScan checks that scanning and the clause finders never panic.
func FuzzSQLScan(f *testing.F) {
	for _, s := range []string{
		"SELECT a, b FROM t ORDER BY 2 DESC, 1",
		"SELECT DISTINCT ON (a) a FROM t ORDER BY a",
		"CREATE OR REPLACE MATERIALIZED VIEW IF NOT EXISTS s.v AS SELECT 1",
		"DROP TABLE IF EXISTS a, b.c",
		"SELECT 'x''y', E'\\'', $$z$$, \"q\"\"\", [b] /* c */ -- d",
		"ALTER TABLE t RENAME TO u",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := scanSQL(s)
		classifyDDL(toks)
		positionalOrderBy(toks)
		identNames(toks)
		hasNondeterminism(toks)
	})
}

// FuzzParse checks that the parser never panics.
func FuzzParse(f *testing.F) {
	f.Add("statement ok\nSELECT 1\n\nquery I nosort label\nSELECT 1\n----\n1\n")
	f.Add("skipif x\nhalt\nhash-threshold 3\nmode cockroach\nsimple\nSELECT 1\n----\nCOMPLETE 1\n")
	f.Add("statement error pgcode\nx\n----\n")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range ParseString(s) {
			_ = r.String()
		}
	})
}
