package plan

import (
	"strings"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

func TestChildrenRoundTrip(t *testing.T) {
	cat := propertyCatalog(t)
	tt, u := cat.tables["t"], cat.tables["u"]
	one := Constant{Type: RelType{Cols: []repr.ColumnType{{Type: repr.TypeInt8}}}}
	rels := []Rel{
		tt, one,
		Map{Input: tt, Scalars: []expr.Scalar{expr.Column{Index: 0}}},
		Filter{Input: tt, Predicates: []expr.Scalar{expr.Column{Index: 0}}},
		Project{Input: tt, Outputs: []int{1}},
		Join{Inputs: []Rel{tt, u, tt}},
		Reduce{Input: tt, GroupKey: []expr.Scalar{expr.Column{Index: 0}}},
		TopK{Input: tt, Limit: 1},
		Negate{Input: tt}, Threshold{Input: tt},
		Union{Inputs: []Rel{u, u}},
		ArrangeBy{Input: tt},
		Let{ID: 1, Value: tt, Body: u},
		LetRec{IDs: []LocalID{1, 2}, Values: []Rel{tt, u}, Body: tt},
		Window{Input: tt},
	}
	for _, r := range rels {
		cs := Children(r)
		back, err := WithChildren(r, cs)
		if err != nil {
			t.Fatalf("%T: %v", r, err)
		}
		if Explain(back) != Explain(r) {
			t.Fatalf("%T: round trip changed the plan:\n%s\n%s", r, Explain(r), Explain(back))
		}
		if _, err := WithChildren(r, append(cs, tt)); err == nil || !strings.HasPrefix(err.Error(), "plan: ") {
			t.Fatalf("%T: expected a plan: error for a wrong child count, got %v", r, err)
		}
	}
	if got := len(Children(LetRec{IDs: []LocalID{1, 2}, Values: []Rel{tt, u}, Body: tt})); got != 3 {
		t.Fatalf("LetRec children: %d", got)
	}
}

func TestOptimizationsNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, b := range Optimizations(nil) {
		if b.Name == "" || len(b.Rules) == 0 {
			t.Fatalf("batch %q is empty or unnamed", b.Name)
		}
		for _, r := range b.Rules {
			seen[r.Name()] = true
		}
	}
	for _, want := range []string{"fusion", "inline-let", "fold-constants", "predicate-pushdown",
		"equivalence-propagation", "literal-lifting", "reduce-elision", "projection-pushdown", "join-implementation"} {
		if !seen[want] {
			t.Errorf("rule %s missing from the pipeline", want)
		}
	}
	if len(Rules(nil)) != len(seen) {
		t.Errorf("Rules returns %d rules, pipeline has %d", len(Rules(nil)), len(seen))
	}
}

func TestNoPanicOnMalformedPlans(t *testing.T) {
	bad := []Rel{
		Project{Input: Get{Global: 1, Type: RelType{Cols: []repr.ColumnType{{Type: repr.TypeInt8}}}}, Outputs: []int{3}},
		Get{Local: 9},
		Union{},
		Filter{Input: nil},
	}
	for _, r := range bad {
		if _, err := Optimize(r, nil); err == nil || !strings.HasPrefix(err.Error(), "plan: ") {
			t.Errorf("Optimize(%T): want a plan: error, got %v", r, err)
		}
		if _, err := Lower(r, nil); err == nil {
			t.Errorf("Lower(%T): want an error", r)
		}
	}
}
