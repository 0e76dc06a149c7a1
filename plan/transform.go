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
			WindowTopK{},
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
	out, _, err := optimize(rel, oracle, false, nil)
	return out, err
}

// Report describes one run of the pipeline.
type Report struct {
	// Unconverged names the batches that stopped at MaxPasses with their
	// last pass still changing the plan: their rules undo each other on
	// this plan. The plan is still correct (every rule preserves the
	// result), but planning took MaxPasses passes, so this is a bug to
	// fix in the rules.
	Unconverged []string
}

// OptimizeReport runs the pipeline as Optimize does and reports how it
// went.
func OptimizeReport(rel Rel, oracle IndexOracle) (Rel, Report, error) {
	var rep Report
	out, _, err := optimize(rel, oracle, false, &rep)
	return out, rep, err
}

// OptimizeTrace runs the pipeline and returns, for each rule application
// that changed the plan, the plan after it.
func OptimizeTrace(rel Rel, oracle IndexOracle) (Rel, []Step, error) {
	return optimize(rel, oracle, true, nil)
}

func optimize(rel Rel, oracle IndexOracle, trace bool, rep *Report) (out Rel, steps []Step, err error) {
	defer recoverInternal(&err)
	if err := Validate(rel); err != nil {
		return nil, nil, err
	}
	for _, b := range Optimizations(oracle) {
		var converged bool
		var err error
		rel, steps, converged, err = b.run(rel, steps, trace)
		if err != nil {
			return nil, steps, err
		}
		if !converged && rep != nil {
			rep.Unconverged = append(rep.Unconverged, b.Name)
		}
	}
	return rel, steps, nil
}

// Apply runs one batch to a fixed point.
func (b Batch) Apply(rel Rel) (out Rel, err error) {
	defer recoverInternal(&err)
	out, _, _, err = b.run(rel, nil, false)
	return out, err
}

// run applies the batch's rules until a pass changes nothing or MaxPasses
// passes have run. converged is false when the last of several allowed
// passes still changed the plan (a batch of MaxPasses 1 is one pass by
// design and always converges).
func (b Batch) run(rel Rel, steps []Step, trace bool) (_ Rel, _ []Step, converged bool, _ error) {
	max := b.MaxPasses
	if max <= 0 {
		max = defaultMaxPasses
	}
	converged = max == 1
	for pass := 0; pass < max; pass++ {
		changed := false
		for _, r := range b.Rules {
			next, err := r.Transform(rel)
			if err != nil {
				return nil, steps, false, fmt.Errorf("plan: rule %s: %w", r.Name(), err)
			}
			// Once a rule of this pass changed the plan, another pass
			// follows anyway: only a trace needs to know which rules did.
			if (trace || !changed) && !Equal(next, rel) {
				changed = true
				if trace {
					steps = append(steps, Step{Rule: b.Name + "/" + r.Name(), After: Explain(next)})
				}
			}
			rel = next
		}
		if !changed {
			converged = true
			break
		}
	}
	return rel, steps, converged, nil
}
