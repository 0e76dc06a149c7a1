package differential

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/viewd/viewd/internal/pgtest"
	"github.com/viewd/viewd/internal/viewdtest"
)

// fkSchema is a parent with children under each foreign-key action, a
// grandchild under a cascading child, and a self-referencing table.
var fkSchema = []string{
	"CREATE TABLE fp (id int PRIMARY KEY, code int UNIQUE, v int)",
	"CREATE TABLE fc (id int PRIMARY KEY, pid int REFERENCES fp ON DELETE CASCADE ON UPDATE CASCADE, v int)",
	"CREATE TABLE fn (id int PRIMARY KEY, pcode int REFERENCES fp (code) ON DELETE SET NULL ON UPDATE SET NULL)",
	"CREATE TABLE fa (id int PRIMARY KEY, pid int REFERENCES fp)",
	"CREATE TABLE fr (id int PRIMARY KEY, pid int REFERENCES fp ON DELETE RESTRICT ON UPDATE RESTRICT)",
	"CREATE TABLE fg (id int PRIMARY KEY, cid int REFERENCES fc ON DELETE CASCADE)",
	"CREATE TABLE ft (id int PRIMARY KEY, up int REFERENCES ft ON DELETE CASCADE ON UPDATE CASCADE)",
}

// fkView is maintained by viewd (a plain view on PostgreSQL): it must see
// each cascade at the timestamp of the write that caused it.
const fkView = "fk_counts AS SELECT fp.id, count(fc.id) AS children, count(fg.id) AS grandchildren FROM fp LEFT JOIN fc ON fc.pid = fp.id LEFT JOIN fg ON fg.cid = fc.id GROUP BY fp.id"

var fkTables = []string{"fp", "fc", "fn", "fa", "fr", "fg", "ft", "fk_counts"}

// fkStatement returns a random statement over fkSchema. Keys are drawn
// from small ranges so that references hit and miss, and each UPDATE of a
// key changes one row (PostgreSQL checks unique keys row by row, viewd at
// the statement's end: a multi-row key shift is outside this test).
func fkStatement(r *rand.Rand) string {
	k := func(n int) int { return r.IntN(n) }
	ref := func() string {
		if r.IntN(6) == 0 {
			return "NULL"
		}
		return fmt.Sprint(k(14))
	}
	switch k(16) {
	case 0, 1:
		return fmt.Sprintf("INSERT INTO fp VALUES (%d, %d, %d)", k(14), k(14), k(5))
	case 2:
		return fmt.Sprintf("INSERT INTO fc VALUES (%d, %s, %d), (%d, %s, %d)", k(30), ref(), k(5), k(30), ref(), k(5))
	case 3:
		return fmt.Sprintf("INSERT INTO fn VALUES (%d, %s)", k(30), ref())
	case 4:
		return fmt.Sprintf("INSERT INTO fa VALUES (%d, %s)", k(30), ref())
	case 5:
		return fmt.Sprintf("INSERT INTO fr VALUES (%d, %s)", k(30), ref())
	case 6:
		return fmt.Sprintf("INSERT INTO fg VALUES (%d, %d)", k(40), k(30))
	case 7:
		return fmt.Sprintf("INSERT INTO ft VALUES (%d, %s)", k(14), ref())
	case 8:
		return fmt.Sprintf("DELETE FROM fp WHERE id = %d", k(14))
	case 9:
		lo := k(14)
		return fmt.Sprintf("DELETE FROM fp WHERE id BETWEEN %d AND %d", lo, lo+k(4))
	case 10:
		return fmt.Sprintf("UPDATE fp SET id = %d WHERE id = %d", k(14), k(14))
	case 11:
		return fmt.Sprintf("UPDATE fp SET code = %d, v = v + 1 WHERE id = %d", k(14), k(14))
	case 12:
		return fmt.Sprintf("UPDATE fc SET pid = %s WHERE id = %d", ref(), k(30))
	case 13:
		return fmt.Sprintf("DELETE FROM %s WHERE id < %d", []string{"fc", "fn", "fa", "fr", "fg"}[k(5)], k(10))
	case 14:
		return fmt.Sprintf("DELETE FROM ft WHERE id = %d", k(14))
	default:
		return fmt.Sprintf("UPDATE ft SET id = %d WHERE id = %d", k(14), k(14))
	}
}

// TestForeignKeys runs random DML on fkSchema against PostgreSQL and viewd,
// in autocommit and in transactions, and compares every statement's outcome
// (rows affected, or SQLSTATE) and every table and the view after each
// batch.
func TestForeignKeys(t *testing.T) {
	pgSrv := pgtest.Start(t)
	vdSrv := viewdtest.Start(t, viewdtest.Options{})
	p := pair{pg: connect(t, pgSrv.URL()), vd: connect(t, vdSrv.URL())}
	for _, s := range fkSchema {
		for _, c := range []struct {
			name string
			s    string
		}{{"PostgreSQL", s}, {"viewd", s}} {
			conn := p.pg
			if c.name == "viewd" {
				conn = p.vd
			}
			if _, err := exec(conn, c.s); err != nil {
				t.Fatalf("%s: %s: %v", c.name, s, err)
			}
		}
	}
	if _, err := exec(p.pg, "CREATE VIEW "+fkView); err != nil {
		t.Fatalf("PostgreSQL: %v", err)
	}
	if _, err := exec(p.vd, "CREATE MATERIALIZED VIEW "+fkView); err != nil {
		t.Fatalf("viewd: %v", err)
	}
	seed := envInt(t, "FK_SEED", 1)
	batches := int(envInt(t, "FK_BATCHES", 60))
	r := rand.New(rand.NewPCG(seed, 0xf0e1))
	var stmts, errs int
	for b := 0; b < batches; b++ {
		u := unit{tx: r.IntN(3) == 0}
		for range 1 + r.IntN(6) {
			u.stmts = append(u.stmts, fkStatement(r))
		}
		want, err := applyUnit(p.pg, u)
		if err != nil {
			t.Fatalf("PostgreSQL: %v", err)
		}
		got, err := applyUnit(p.vd, u)
		if err != nil {
			t.Fatalf("viewd: %v", err)
		}
		stmts += len(want)
		for _, w := range want {
			if strings.HasPrefix(w, "error") {
				errs++
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("seed %d batch %d (tx=%v):\n  %s\nviewd:      %v\nPostgreSQL: %v", seed, b, u.tx, strings.Join(u.stmts, ";\n  "), got, want)
		}
		for _, tbl := range fkTables {
			q := "SELECT * FROM " + tbl
			w, err := query(context.Background(), p.pg, q)
			if err != nil {
				t.Fatalf("PostgreSQL: %s: %v", q, err)
			}
			g, err := query(context.Background(), p.vd, q)
			if err != nil {
				t.Fatalf("viewd: %s: %v", q, err)
			}
			if d := diff(tbl, g, w); d != "" {
				t.Fatalf("seed %d batch %d: %s differs after\n  %s\n%s", seed, b, tbl, strings.Join(u.stmts, ";\n  "), d)
			}
		}
	}
	t.Logf("seed %d: %d batches, %d statements, %d failed alike on both", seed, batches, stmts, errs)
}
