package sql

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/sql/parse"
)

// TestRegtypeStringDepth: a string constant cast to regtype is parsed by
// pg_query as a type name; a deep one must be refused before the C code
// (30,000 terms killed the server) and reads as an unknown type, 42704.
func TestRegtypeStringDepth(t *testing.T) {
	stmts, err := parse.Parse("SELECT 'int4" + strings.Repeat(" + 1", 30000) + "'::regtype")
	if err != nil {
		t.Fatal(err)
	}
	_, err = PlanStatement(&StatementContext{Catalog: &testCatalog{}, Vars: map[string]string{}}, stmts[0], nil)
	if pgcode.Of(err) != pgcode.UndefinedObject {
		t.Fatalf("want 42704, got %.200v", err)
	}
}

// TestHugeParamNumber: $n past what a Bind message can carry is 42P02
// at once (it made the planner allocate n entries and die out of memory).
func TestHugeParamNumber(t *testing.T) {
	stmts, err := parse.Parse("SELECT 1 ! $100000000000")
	if err != nil {
		t.Fatal(err)
	}
	_, err = PlanStatement(&StatementContext{Catalog: &testCatalog{}, Vars: map[string]string{}}, stmts[0], nil)
	if pgcode.Of(err) != pgcode.UndefinedParameter {
		t.Fatalf("want 42P02, got %v", err)
	}
}

// TestPlanDepth: statements the parser accepts but whose planning would
// recurse past the planner's bounds get 54001, quickly; those within the
// bounds plan. Each case is bounded in time, generously for a shared
// machine under -race.
func TestPlanDepth(t *testing.T) {
	cat := &testCatalog{}
	for _, c := range []struct {
		name    string
		text    string
		tooDeep bool
	}{
		{"subqueries 250", strings.Repeat("SELECT (", 250) + "SELECT 1" + strings.Repeat(")", 250), true},
		{"subqueries 100", strings.Repeat("SELECT (", 100) + "SELECT 1" + strings.Repeat(")", 100), false},
		{"derived tables 250", strings.Repeat("SELECT * FROM (", 250) + "SELECT 1" + strings.Repeat(") s", 250), true},
		{"unions 1200", "SELECT 1" + strings.Repeat(" UNION SELECT 1", 1200), true},
		{"unions 300", "SELECT 1" + strings.Repeat(" UNION ALL SELECT 1", 300), false},
		{"in list 10000", "SELECT 1 IN (" + strings.Repeat("1, ", 9999) + "1)", false},
		{"plus 1000", "SELECT 1" + strings.Repeat(" + 1", 1000), false},
		// Each level holds an aggregate of the level above, which is
		// planned again as an aggregate query: the work doubles with
		// each level until maxAggReplans.
		{"outer aggregates 40", outerAggNest(40), true},
		{"outer aggregates 6", outerAggNest(6), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			stmts, err := parse.Parse(c.text)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			_, err = PlanStatement(&StatementContext{Catalog: cat, Vars: map[string]string{}}, stmts[0], nil)
			if c.tooDeep {
				if pe := pgcode.As(err); pe == nil || pe.Code != pgcode.StatementTooComplex {
					t.Fatalf("want 54001, got %v", err)
				}
			} else if err != nil {
				t.Fatalf("want a plan, got %v", err)
			}
			if d := time.Since(start); d > 30*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
}

// outerAggNest returns d nested scalar subqueries over one-row VALUES, in
// which level k reads max(t(k-1).a): an aggregate of the level above.
func outerAggNest(d int) string {
	q := fmt.Sprintf("SELECT max(t%d.a) FROM (VALUES (1)) t%d(a)", d-1, d)
	for k := d - 1; k >= 1; k-- {
		q = fmt.Sprintf("SELECT max(t%d.a) + (%s) FROM (VALUES (1)) t%d(a)", k-1, q, k)
	}
	return "SELECT (" + q + ") FROM (VALUES (1)) t0(a)"
}
