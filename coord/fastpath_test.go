package coord

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
)

// TestDataDriven runs coord/testdata: `exec` runs statements (one per
// line, or separated by ;), `query` prints rows (sorted unless the query
// has ORDER BY), `explain` prints EXPLAIN PHYSICAL PLAN of its input (the
// last line says which fast path a read takes).
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		c := openTest(t, Config{})
		s := newTestSession(t, c)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			ctx := context.Background()
			switch d.Cmd {
			case "exec":
				var out strings.Builder
				for _, q := range strings.Split(d.Input, ";\n") {
					if strings.TrimSpace(q) == "" {
						continue
					}
					if _, _, err := s.run(ctx, q); err != nil {
						fmt.Fprintf(&out, "error %s: %v\n", errCode(err), err)
					}
				}
				if out.Len() == 0 {
					return "ok\n"
				}
				return out.String()
			case "query":
				rows, _, err := s.run(ctx, d.Input)
				if err != nil {
					return fmt.Sprintf("error %s: %v\n", errCode(err), err)
				}
				if !strings.Contains(strings.ToUpper(d.Input), "ORDER BY") {
					sort.Strings(rows)
				}
				return strings.Join(rows, "\n") + "\n"
			case "explain":
				rows, _, err := s.run(ctx, "EXPLAIN PHYSICAL PLAN FOR "+d.Input)
				if err != nil {
					return fmt.Sprintf("error %s: %v\n", errCode(err), err)
				}
				return strings.Join(rows, "\n")
			}
			t.Fatalf("unknown command %q", d.Cmd)
			return ""
		})
	})
}

// TestFastPathAgreesWithDataflow: on random tables (with and without a
// primary key, with secondary indexes and a materialized view) changed by
// random inserts, updates and deletes, random simple queries (equality,
// IN, ranges, projections, LIMIT, ORDER BY) read at random retained
// AS OF times give the same answer through the fast paths as through a
// transient dataflow. VIEWD_COORD_CASES sets the number of seeds.
func TestFastPathAgreesWithDataflow(t *testing.T) {
	cases := 6
	if s := os.Getenv("VIEWD_COORD_CASES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatal(err)
		}
		cases = n
	}
	for seed := range uint64(cases) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { fastPathCase(t, seed) })
	}
}

func fastPathCase(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 17))
	fast := openTest(t, Config{})
	slow := openTest(t, Config{DisableFastPath: true})
	fs, ss := newTestSession(t, fast), newTestSession(t, slow)
	both := func(q string) {
		t.Helper()
		fs.exec(q)
		ss.exec(q)
	}
	both("CREATE TABLE p (id int PRIMARY KEY, k int, v text)")
	both("CREATE TABLE n (a int, b int)")
	both("CREATE INDEX p_k ON p (k)")
	both("CREATE INDEX n_ab ON n (a, b)")
	both("CREATE MATERIALIZED VIEW pv AS SELECT k, count(*) AS c, max(id) AS m FROM p GROUP BY k")
	both("CREATE INDEX pv_k ON pv (k)")
	// Both servers get the same writes; reads compare at the same logical
	// moment of the write history (AS OF picks the i-th write's time on
	// each server).
	var fastTimes, slowTimes []string
	stamp := func() {
		fastTimes = append(fastTimes, fs.query("SELECT mz_now()")[0])
		slowTimes = append(slowTimes, ss.query("SELECT mz_now()")[0])
	}
	for i := range 40 {
		var q string
		switch r.IntN(5) {
		case 0, 1:
			var vals []string
			used := map[int]bool{}
			for range 1 + r.IntN(8) {
				id := r.IntN(200)
				if used[id] {
					continue // a second change of one row is an error (21000)
				}
				used[id] = true
				vals = append(vals, fmt.Sprintf("(%d, %d, 'v%d')", id, r.IntN(10), r.IntN(5)))
			}
			q = "INSERT INTO p VALUES " + strings.Join(vals, ", ") + " ON CONFLICT (id) DO UPDATE SET v = excluded.v, k = excluded.k"
		case 2:
			q = fmt.Sprintf("UPDATE p SET k = k + 1 WHERE id = %d OR k = %d", r.IntN(200), r.IntN(10))
		case 3:
			q = fmt.Sprintf("DELETE FROM p WHERE id %% 7 = %d AND k = %d", r.IntN(7), r.IntN(10))
		case 4:
			var vals []string
			for range 1 + r.IntN(5) {
				vals = append(vals, fmt.Sprintf("(%d, %d)", r.IntN(6), r.IntN(6)))
			}
			q = "INSERT INTO n VALUES " + strings.Join(vals, ", ")
			if r.IntN(3) == 0 {
				q = fmt.Sprintf("DELETE FROM n WHERE a = %d", r.IntN(6))
			}
		}
		both(q)
		stamp()
		for range 4 {
			query := randomSimpleQuery(r)
			asOf := ""
			at := len(fastTimes) - 1
			if r.IntN(2) == 0 {
				at = r.IntN(len(fastTimes))
			}
			fq, sq := query, query
			if at != len(fastTimes)-1 || r.IntN(3) == 0 {
				asOf = fmt.Sprint(at)
				fq, sq = query+" AS OF "+fastTimes[at], query+" AS OF "+slowTimes[at]
			}
			frows, _, ferr := fs.run(context.Background(), fq)
			srows, _, serr := ss.run(context.Background(), sq)
			if (ferr != nil) != (serr != nil) || errCode(ferr) != errCode(serr) {
				t.Fatalf("step %d, %s (as of write %s): fast path error %v, dataflow error %v", i, query, asOf, ferr, serr)
			}
			ordered := strings.Contains(query, "ORDER BY")
			limited := strings.Contains(query, "LIMIT")
			switch {
			case limited && !ordered:
				// Any LIMIT rows of the result are right: the fast path's
				// rows must be a sub-multiset of the full result, as many.
				full, _, err := ss.run(context.Background(), strings.Split(sq, " LIMIT ")[0]+asOfSuffix(sq))
				if err != nil {
					t.Fatal(err)
				}
				if len(frows) != len(srows) || !subMultiset(frows, full) {
					t.Fatalf("step %d, %s: fast %v not %d rows of %v", i, fq, frows, len(srows), full)
				}
			default:
				if !ordered {
					sort.Strings(frows)
					sort.Strings(srows)
				}
				if !slices.Equal(frows, srows) {
					t.Fatalf("step %d, %s (as of write %s):\nfast     %v\ndataflow %v", i, query, asOf, frows, srows)
				}
			}
		}
	}
	// The fast paths were taken: point reads explain as lookups.
	plan := strings.Join(fs.query("EXPLAIN PHYSICAL PLAN FOR SELECT * FROM p WHERE id = 3"), "\n")
	if !strings.Contains(plan, "Fast path: lookup") {
		t.Fatalf("point read is not a lookup:\n%s", plan)
	}
}

func asOfSuffix(q string) string {
	if i := strings.Index(q, " AS OF "); i >= 0 {
		return q[i:]
	}
	return ""
}

func subMultiset(sub, full []string) bool {
	n := map[string]int{}
	for _, x := range full {
		n[x]++
	}
	for _, x := range sub {
		if n[x]--; n[x] < 0 {
			return false
		}
	}
	return true
}

// randomSimpleQuery draws a filter/project/limit query over one
// collection: the shapes the fast paths answer (and some they do not).
func randomSimpleQuery(r *rand.Rand) string {
	type coll struct {
		name string
		cols []string
	}
	colls := []coll{{"p", []string{"id", "k", "v"}}, {"n", []string{"a", "b"}}, {"pv", []string{"k", "c", "m"}}}
	c := colls[r.IntN(len(colls))]
	col := func() string { return c.cols[r.IntN(len(c.cols))] }
	intCol := func() string {
		for {
			if x := col(); x != "v" {
				return x
			}
		}
	}
	var preds []string
	for range r.IntN(3) {
		switch r.IntN(6) {
		case 0, 1:
			preds = append(preds, fmt.Sprintf("%s = %d", intCol(), r.IntN(12)))
		case 2:
			preds = append(preds, fmt.Sprintf("%s IN (%d, %d, %d)", intCol(), r.IntN(12), r.IntN(12), r.IntN(200)))
		case 3:
			preds = append(preds, fmt.Sprintf("%s > %d", intCol(), r.IntN(100)))
		case 4:
			if c.name == "p" {
				preds = append(preds, fmt.Sprintf("v <> 'v%d'", r.IntN(5)))
			}
		case 5:
			preds = append(preds, fmt.Sprintf("(%s = %d OR %s IS NULL)", intCol(), r.IntN(6), intCol()))
		}
	}
	sel := "*"
	if r.IntN(3) == 0 {
		sel = col() + ", " + intCol() + " + 1"
	}
	q := "SELECT " + sel + " FROM " + c.name
	if len(preds) > 0 {
		q += " WHERE " + strings.Join(preds, " AND ")
	}
	switch r.IntN(4) {
	case 0:
		q += " ORDER BY 1, 2 DESC LIMIT " + fmt.Sprint(r.IntN(5))
	case 1:
		q += " LIMIT " + fmt.Sprint(1+r.IntN(4))
	}
	return q
}
