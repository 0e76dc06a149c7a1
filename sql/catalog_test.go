package sql

import (
	"reflect"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/sql/parse"
)

func TestSearchPath(t *testing.T) {
	for _, tc := range []struct {
		vars map[string]string
		want []string
	}{
		{nil, []string{"public"}},
		{map[string]string{"search_path": `"$user", public`}, []string{"public"}},
		{map[string]string{"search_path": `a, "B", Other`}, []string{"a", "B", "other"}},
	} {
		scx := &StatementContext{Vars: tc.vars}
		if got := scx.SearchPath(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SearchPath(%v) = %v, want %v", tc.vars, got, tc.want)
		}
	}
}

// TestSearchPathResolution checks that unqualified names resolve through
// the session's search_path.
func TestSearchPathResolution(t *testing.T) {
	cat := &testCatalog{}
	if err := cat.exec("CREATE TABLE other.t (x text); CREATE TABLE public.t (a int)"); err != nil {
		t.Fatal(err)
	}
	stmts, err := parse.Parse("SELECT * FROM t")
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{"public": "(a integer?)", "other, public": "(x text?)"} {
		scx := &StatementContext{Catalog: cat, Vars: map[string]string{"search_path": path}}
		p, err := PlanStatement(scx, stmts[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.(*SelectPlan).Query.Desc.String(); got != want {
			t.Errorf("search_path %s: %s, want %s", path, got, want)
		}
	}
	scx := &StatementContext{Catalog: cat, Vars: map[string]string{"search_path": "nowhere"}}
	_, err = PlanStatement(scx, stmts[0], nil)
	if pgcode.Of(err) != pgcode.UndefinedTable {
		t.Errorf("got %v, want 42P01", err)
	}
}

// TestPlanParams plans a prepared statement twice: once to describe it
// (parameter types inferred), once with values bound.
func TestPlanParams(t *testing.T) {
	cat := &testCatalog{}
	if err := cat.exec("CREATE TABLE t (a int NOT NULL, b text)"); err != nil {
		t.Fatal(err)
	}
	stmts, err := parse.Parse("SELECT b FROM t WHERE a = $1 AND b LIKE $2")
	if err != nil {
		t.Fatal(err)
	}
	scx := &StatementContext{Catalog: cat}
	if _, err := PlanStatement(scx, stmts[0], nil); err != nil {
		t.Fatal(err)
	}
	if got := typeList(scx.ParamTypes); got != "integer, text" {
		t.Fatalf("param types %s", got)
	}
	ev := newTestEvaluator()
	rows, _, err := evalQuery(cat, ev, "VALUES (1, 'ab'), (2, 'ac'), (1, 'zz')", false)
	if err != nil {
		t.Fatal(err)
	}
	ev.tables[1] = rows
	p, err := PlanStatement(&StatementContext{Catalog: cat, ParamTypes: scx.ParamTypes}, stmts[0], paramValues(t, scx.ParamTypes, "1", "a%"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := ev.eval(p.(*SelectPlan).Query.Expr)
	if err != nil {
		t.Fatal(err)
	}
	if got := rowsString(consolidate(out)); got != "('ab') x1\n" {
		t.Fatalf("got %s", got)
	}
}
