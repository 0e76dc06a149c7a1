package differential

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/pgtest"
	"github.com/viewd/viewd/internal/viewdtest"
)

// knownTxFailures lists the transaction cases viewd is known to get wrong,
// with the understood cause; as with knownFailures, the test fails when one
// of them starts to pass.
var knownTxFailures = map[string]knownFailure{}

// txCase is a script run on a fresh table t (id int PRIMARY KEY, k int,
// x int) holding (1, 5, 0) and (2, 6, 0), under a materialized view of it.
type txCase struct {
	name  string
	stmts []string
}

var txCases = []txCase{
	{"disjoint_rows", []string{"BEGIN", "UPDATE t SET x = 1 WHERE id = 1", "INSERT INTO t VALUES (3, 5, 0)", "DELETE FROM t WHERE id = 2", "COMMIT"}},
	{"rollback", []string{"BEGIN", "DELETE FROM t WHERE id = 1", "INSERT INTO t VALUES (3, 5, 0)", "ROLLBACK"}},
	{"update_sees_own_insert", []string{"BEGIN", "INSERT INTO t VALUES (3, 5, 0)", "UPDATE t SET x = x + 1 WHERE k = 5", "COMMIT"}},
	{"delete_sees_own_insert", []string{"BEGIN", "INSERT INTO t VALUES (3, 5, 0)", "DELETE FROM t WHERE id = 3", "COMMIT"}},
	{"update_twice", []string{"BEGIN", "UPDATE t SET x = 10 WHERE id = 1", "UPDATE t SET x = x + 1 WHERE id = 1", "COMMIT"}},
	{"update_then_delete", []string{"BEGIN", "UPDATE t SET x = 10 WHERE id = 1", "DELETE FROM t WHERE id = 1", "COMMIT"}},
	{"delete_then_reinsert", []string{"BEGIN", "DELETE FROM t WHERE id = 1", "INSERT INTO t VALUES (1, 6, 7)", "COMMIT"}},
	{"insert_duplicate_in_tx", []string{"BEGIN", "INSERT INTO t VALUES (3, 5, 0)", "INSERT INTO t VALUES (3, 6, 0)", "COMMIT"}},
	{"select_sees_own_insert", []string{"BEGIN", "INSERT INTO t VALUES (3, 5, 0)", "SELECT id, k, x FROM t", "COMMIT"}},
}

// runScript runs stmts on c and returns one line per statement: its rows
// affected or rows, or that it failed. After a failure inside a
// transaction it issues ROLLBACK and stops.
func runScript(c *pgx.Conn, stmts []string) []string {
	var out []string
	for _, s := range stmts {
		if strings.HasPrefix(s, "SELECT") {
			r, err := query(context.Background(), c, s)
			if err != nil {
				out = append(out, s+": error "+errCode(err))
				_, _ = exec(c, "ROLLBACK")
				return out
			}
			out = append(out, s+": "+strings.Join(canon(r, nil), "; "))
			continue
		}
		n, err := exec(c, s)
		if err != nil {
			out = append(out, s+": error "+errCode(err))
			_, _ = exec(c, "ROLLBACK")
			return out
		}
		out = append(out, fmt.Sprintf("%s: %d", s, n))
	}
	return out
}

// TestTransactions checks multi-statement transactions whose statements
// touch the same rows, which the random workload of TestDifferential
// avoids by default.
func TestTransactions(t *testing.T) {
	pgSrv := pgtest.Start(t)
	vdSrv := viewdtest.Start(t, viewdtest.Options{})
	pgc, vdc := connect(t, pgSrv.URL()), connect(t, vdSrv.URL())
	for i, tc := range txCases {
		t.Run(tc.name, func(t *testing.T) {
			tbl := fmt.Sprintf("t%d", i)
			setup := []string{
				"CREATE TABLE " + tbl + " (id int PRIMARY KEY, k int, x int)",
				"INSERT INTO " + tbl + " VALUES (1, 5, 0), (2, 6, 0)",
			}
			for _, s := range setup {
				if _, err := exec(pgc, s); err != nil {
					t.Fatalf("PostgreSQL: %s: %v", s, err)
				}
				if _, err := exec(vdc, s); err != nil {
					t.Fatalf("viewd: %s: %v", s, err)
				}
			}
			mv := "CREATE MATERIALIZED VIEW " + tbl + "_mv AS SELECT k, count(*) AS n, sum(x) AS sx FROM " + tbl + " GROUP BY k"
			if _, err := exec(vdc, mv); err != nil {
				t.Fatalf("viewd: %s: %v", mv, err)
			}
			if _, err := exec(pgc, strings.Replace(mv, "MATERIALIZED ", "", 1)); err != nil {
				t.Fatalf("PostgreSQL: %s: %v", mv, err)
			}
			stmts := make([]string, len(tc.stmts))
			for j, s := range tc.stmts {
				stmts[j] = strings.ReplaceAll(strings.ReplaceAll(s, " t ", " "+tbl+" "), " t\x00", "")
				if strings.HasSuffix(stmts[j], " t") {
					stmts[j] = stmts[j][:len(stmts[j])-1] + tbl
				}
			}
			want, got := runScript(pgc, stmts), runScript(vdc, stmts)
			var problems []string
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				problems = append(problems, fmt.Sprintf("statement results differ:\n    viewd:      %s\n    PostgreSQL: %s", strings.Join(got, "\n                "), strings.Join(want, "\n                ")))
			}
			for _, q := range []string{"SELECT * FROM " + tbl, "SELECT * FROM " + tbl + "_mv"} {
				w, err := query(context.Background(), pgc, q)
				if err != nil {
					t.Fatalf("PostgreSQL: %s: %v", q, err)
				}
				g, err := query(context.Background(), vdc, q)
				if err != nil {
					problems = append(problems, fmt.Sprintf("after the transaction, viewd: %s: %v", q, err))
					continue
				}
				if d := diff(tbl, g, w); d != "" {
					problems = append(problems, fmt.Sprintf("after the transaction, %s differs: %s", q, d))
				}
			}
			why, known := knownTxFailures[tc.name]
			switch {
			case known && len(problems) == 0:
				t.Errorf("listed in knownTxFailures (%s) but now agrees with PostgreSQL: remove it from the map", why.why)
			case known && !strings.Contains(strings.Join(problems, "\n"), why.symptom):
				t.Errorf("listed in knownTxFailures (%s, symptom %q) but fails differently:\n  %s\n%s", why.why, why.symptom, strings.Join(stmts, "; "), strings.Join(problems, "\n"))
			case known:
				t.Logf("known failure: %s\n  %s\n%s", why.why, strings.Join(stmts, "; "), strings.Join(problems, "\n"))
			case len(problems) > 0:
				t.Errorf("%s\n%s", strings.Join(stmts, "; "), strings.Join(problems, "\n"))
			}
		})
	}
}
