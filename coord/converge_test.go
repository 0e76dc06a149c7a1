package coord

import (
	"context"
	"os"
	"strings"
	"testing"
)

// sqlStatements splits a file of ';'-terminated statements (one per line
// end), dropping '--' comment lines.
func sqlStatements(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			if q := strings.TrimSpace(cur.String()); q != ";" {
				out = append(out, q)
			}
			cur.Reset()
		}
	}
	return out
}

// TestCatalogQueriesConverge runs the catalog queries real clients send
// (psql's describe commands, BI tools' connect-time queries, from
// tests/clients): each must run, and every optimiser batch must reach its
// fixed point. Before, ProjectionPushdown, PredicatePushdown and Fusion undid
// each other on 48 of psql's 62 queries and 21 of the 42 BI queries, each
// running the logical batch its full 25 passes: most of their planning
// time.
func TestCatalogQueriesConverge(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec(sqlStatements(t, "../tests/clients/testdata/schema.sql")...)
	if n := c.unconverged.Load(); n != 0 {
		t.Fatalf("%d plans of the schema's views did not converge", n)
	}
	ctx := context.Background()
	for _, file := range []string{"psql_queries.sql", "bi_queries.sql"} {
		qs := sqlStatements(t, "../tests/clients/testdata/"+file)
		if len(qs) < 40 {
			t.Fatalf("%s: only %d queries", file, len(qs))
		}
		for _, q := range qs {
			before := c.unconverged.Load()
			if _, _, err := s.run(ctx, q); err != nil {
				t.Errorf("%s: %v\n%s", file, err, q)
			}
			if c.unconverged.Load() != before {
				t.Errorf("%s: the optimiser did not reach a fixed point on\n%s", file, q)
			}
		}
	}
}

// BenchmarkCatalogQueries runs psql's describe queries and the BI tools'
// connect-time queries (tests/clients) over the clients' schema, one
// iteration each; ms/query is the mean latency of one catalog query.
func BenchmarkCatalogQueries(b *testing.B) {
	for _, file := range []string{"psql_queries.sql", "bi_queries.sql"} {
		b.Run(strings.TrimSuffix(file, ".sql"), func(b *testing.B) {
			c := openTest(b, Config{})
			s := newTestSession(b, c)
			s.exec(sqlStatements(b, "../tests/clients/testdata/schema.sql")...)
			qs := sqlStatements(b, "../tests/clients/testdata/"+file)
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for _, q := range qs {
					if _, _, err := s.run(ctx, q); err != nil {
						b.Fatalf("%v\n%s", err, q)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*len(qs)), "ms/query")
		})
	}
}
