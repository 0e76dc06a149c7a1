package plan

import (
	"fmt"
)

// Rule is one named MIR rewrite. Transform must preserve the collection
// rel computes, its arity and its column scalar types, and must be
// deterministic.
type Rule interface {
	Name() string
	Transform(rel Rel) (Rel, error)
}

// Batch is an ordered list of rules applied repeatedly, in order, until a
// full pass changes nothing (or MaxPasses passes have run).
type Batch struct {
	Name      string
	Rules     []Rule
	MaxPasses int
}

// Step is one rule application that changed the plan, as OptimizeTrace
// records it: the rule's name (batch/rule) and the plan after it.
type Step struct {
	Rule  string
	After string
}

// defaultMaxPasses bounds a batch's fixed-point iteration.
const defaultMaxPasses = 25

// Optimizations returns the optimiser pipeline, in order. Join planning,
// the last batch, consults oracle for existing arrangements (nil: none).
func Optimizations(oracle IndexOracle) []Batch {
	return []Batch{
		{Name: "normalize", Rules: []Rule{Fusion{}, InlineLet{}, FoldConstants{}}},
		{Name: "logical", Rules: []Rule{
			PredicatePushdown{},
			EquivalencePropagation{},
			FoldConstants{},
			LiteralLifting{},
			ReduceElision{},
			Fusion{},
			InlineLet{},
			ProjectionPushdown{},
			Fusion{},
		}},
		{Name: "physical", Rules: []Rule{JoinPlanning{Oracle: oracle}}, MaxPasses: 1},
	}
}

// Rules returns every rule by name, for tests and tools that apply one.
func Rules(oracle IndexOracle) map[string]Rule {
	m := map[string]Rule{}
	for _, b := range Optimizations(oracle) {
		for _, r := range b.Rules {
			m[r.Name()] = r
		}
	}
	return m
}

// Optimize runs the whole pipeline over rel.
func Optimize(rel Rel, oracle IndexOracle) (Rel, error) {
	out, _, err := optimize(rel, oracle, false)
	return out, err
}

// OptimizeTrace runs the pipeline and returns, for each rule application
// that changed the plan, the plan after it.
func OptimizeTrace(rel Rel, oracle IndexOracle) (Rel, []Step, error) {
	return optimize(rel, oracle, true)
}

func optimize(rel Rel, oracle IndexOracle, trace bool) (out Rel, steps []Step, err error) {
	defer recoverInternal(&err)
	if err := Validate(rel); err != nil {
		return nil, nil, err
	}
	for _, b := range Optimizations(oracle) {
		var err error
		rel, steps, err = b.run(rel, steps, trace)
		if err != nil {
			return nil, steps, err
		}
	}
	return rel, steps, nil
}

// Apply runs one batch to a fixed point.
func (b Batch) Apply(rel Rel) (out Rel, err error) {
	defer recoverInternal(&err)
	out, _, err = b.run(rel, nil, false)
	return out, err
}

func (b Batch) run(rel Rel, steps []Step, trace bool) (Rel, []Step, error) {
	max := b.MaxPasses
	if max <= 0 {
		max = defaultMaxPasses
	}
	for pass := 0; pass < max; pass++ {
		changed := false
		for _, r := range b.Rules {
			next, err := r.Transform(rel)
			if err != nil {
				return nil, steps, fmt.Errorf("plan: rule %s: %w", r.Name(), err)
			}
			if !Equal(next, rel) {
				changed = true
				if trace {
					steps = append(steps, Step{Rule: b.Name + "/" + r.Name(), After: Explain(next)})
				}
			}
			rel = next
		}
		if !changed {
			break
		}
	}
	return rel, steps, nil
}
