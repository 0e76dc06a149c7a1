package coord

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/viewd/viewd/repr"
)

// TestCachedLookups: prepared point reads answered through a lookup
// template give the same rows as planning each execution, for queries
// whose parameters the optimiser inspects (which must not be cached), NULL
// parameters, and across catalog changes (an index dropped and created).
func TestCachedLookups(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE t (id int PRIMARY KEY, k int, v text)",
		"INSERT INTO t SELECT g, g % 7, 'v' || (g % 3) FROM generate_series(1, 300) g",
		"CREATE MATERIALIZED VIEW tv AS SELECT k, v, count(*) AS n FROM t GROUP BY k, v",
		"CREATE INDEX tv_k ON tv (k)",
	)
	ref := openTest(t, Config{DisableFastPath: true})
	rs := newTestSession(t, ref)
	rs.exec(
		"CREATE TABLE t (id int PRIMARY KEY, k int, v text)",
		"INSERT INTO t SELECT g, g % 7, 'v' || (g % 3) FROM generate_series(1, 300) g",
		"CREATE MATERIALIZED VIEW tv AS SELECT k, v, count(*) AS n FROM t GROUP BY k, v",
	)
	queries := []struct {
		sql    string
		params func(r *rand.Rand) []repr.Datum
		cached bool
	}{
		{"SELECT * FROM tv WHERE k = $1", ints(1), true},
		{"SELECT n, v FROM tv WHERE k = $1 AND v = $2", func(r *rand.Rand) []repr.Datum {
			return []repr.Datum{repr.Int4Datum(int32(r.IntN(9) - 1)), repr.TextDatum(fmt.Sprint("v", r.IntN(4)))}
		}, true},
		{"SELECT v FROM t WHERE id = $1", ints(1), true},
		{"SELECT v, $1::int + 1 FROM t WHERE id = $1", ints(1), false},
		{"SELECT * FROM tv WHERE k = $1 AND $1 > 2", ints(1), false},
		{"SELECT * FROM tv WHERE k = $1 LIMIT $2", func(r *rand.Rand) []repr.Datum {
			return []repr.Datum{repr.Int4Datum(int32(r.IntN(8))), repr.Int8Datum(int64(r.IntN(3)))}
		}, false},
		{"SELECT * FROM tv WHERE k IN ($1, $2)", ints(2), true},
	}
	r := rand.New(rand.NewPCG(3, 4))
	ctx := context.Background()
	for _, q := range queries {
		st, err := s.s.Prepare(ctx, q.sql, nil)
		if err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
		for i := range 30 {
			if i == 15 && q.sql == queries[0].sql {
				// A catalog change invalidates the template; the lookup
				// falls back to a scan and then finds the new index.
				s.exec("DROP INDEX tv_k")
				s.exec("CREATE INDEX tv_k2 ON tv (k)")
			}
			params := q.params(r)
			if i == 7 {
				params[0] = repr.Null
			}
			got := execRows(t, s, st, params)
			want := rowsOf(t, rs, q.sql, params)
			if !slices.Equal(got, want) {
				t.Fatalf("%s %v:\ncached %v\nplanned %v", q.sql, params, got, want)
			}
		}
		stmt := st.(*statement)
		if cached := stmt.template != nil && !stmt.template.none; cached != q.cached {
			t.Errorf("%s: cached = %v, want %v", q.sql, cached, q.cached)
		}
	}
}

func ints(n int) func(r *rand.Rand) []repr.Datum {
	return func(r *rand.Rand) []repr.Datum {
		out := make([]repr.Datum, n)
		for i := range out {
			out[i] = repr.Int4Datum(int32(r.IntN(310) - 5))
		}
		return out
	}
}

func execRows(t *testing.T, s *testSession, st any, params []repr.Datum) []string {
	t.Helper()
	rows, _, err := s.runPrepared(context.Background(), st, params)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(rows)
	return rows
}

func rowsOf(t *testing.T, s *testSession, sql string, params []repr.Datum) []string {
	t.Helper()
	rows, _, err := s.run(context.Background(), sql, params...)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(rows)
	return rows
}

// TestCachedLookupAfterNewIndex: a prepared read that is no lookup (no
// index yet) becomes one once an index is created, without preparing it
// again.
func TestCachedLookupAfterNewIndex(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE n (a int, b int)", "INSERT INTO n VALUES (1, 10), (2, 20), (2, 21)")
	ctx := context.Background()
	st, err := s.s.Prepare(ctx, "SELECT b FROM n WHERE a = $1", nil)
	if err != nil {
		t.Fatal(err)
	}
	stmt := st.(*statement)
	if got := execRows(t, s, st, []repr.Datum{repr.Int4Datum(2)}); !slices.Equal(got, []string{"20", "21"}) {
		t.Fatalf("before the index: %v", got)
	}
	if stmt.template == nil || !stmt.template.none {
		t.Fatalf("a scan must not be cached as a lookup: %+v", stmt.template)
	}
	s.exec("CREATE INDEX n_a ON n (a)")
	if got := execRows(t, s, st, []repr.Datum{repr.Int4Datum(2)}); !slices.Equal(got, []string{"20", "21"}) {
		t.Fatalf("after the index: %v", got)
	}
	if stmt.template == nil || stmt.template.none {
		t.Fatal("the read was not cached as a lookup after CREATE INDEX")
	}
}
