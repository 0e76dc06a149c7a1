package dataflow

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// IterateBody builds the recursive definition inside a nested graph: from
// the outer collections imported into it (ins) and the recursive variable
// x, it returns body(x). The result has x's arity.
type IterateBody func(inner *Graph, ins []*Collection, x *Collection) (*Collection, error)

// Iterate computes a recursive collection (WITH RECURSIVE, MIR's LetRec):
// the fixed point X = body(X) reached from X = ∅.
//
// Algebra: within a step the body runs in a nested graph, DBSP's nested
// circuit: inner round k feeds x the change of body's output from round
// k−1 (semi-naive evaluation: every inner operator is incremental, so a
// round costs what changed in it), until a round changes nothing. The
// outer output is the change of the fixed point. Hazards: without a
// Distinct (or another consolidating operator) in the body a growing
// recursion never reaches a fixed point; after Options.IterationLimit
// rounds the result is an error on the err stream instead. This version
// re-derives the fixed point from the whole accumulated input at each
// outer step that changes an input (the inner rounds are incremental, the
// outer dimension is not): a step's cost is that of the whole recursion.
func Iterate(outer []*Collection, arity int, body IterateBody) (*Collection, error) {
	if len(outer) == 0 {
		return nil, fmt.Errorf("dataflow: iterate needs at least one outer collection")
	}
	g := outer[0].g
	for _, c := range outer {
		if c.g != g {
			return nil, fmt.Errorf("dataflow: iterate over several graphs")
		}
	}
	// Build once to validate the body and its arity.
	probe := NewGraph(Options{Workers: 1})
	pins := make([]*Collection, len(outer))
	for i, c := range outer {
		pins[i] = probe.NewInput(fmt.Sprintf("outer%d", i), c.arity).Collection()
	}
	px := probe.NewInput("x", arity)
	y, err := body(probe, pins, px.Collection())
	if err != nil {
		return nil, fmt.Errorf("dataflow: iterate body: %w", err)
	}
	if y.arity != arity {
		return nil, fmt.Errorf("dataflow: iterate body yields %d columns for a variable of %d", y.arity, arity)
	}
	probe.Close()
	out := g.newCollection(arity)
	op := &iterateOp{g: g, outer: outer, out: out, body: body, arity: arity, state: make([]coll, len(outer)), result: coll{}, errs: coll{}}
	for i := range op.state {
		op.state[i] = coll{}
	}
	g.add(op)
	return out, nil
}

type iterateOp struct {
	g      *Graph
	outer  []*Collection
	out    *Collection
	body   IterateBody
	arity  int
	state  []coll // accumulated outer inputs
	result coll   // the current fixed point
	errs   coll   // its errors
}

// captureOp records a collection's deltas in a nested graph.
type captureOp struct {
	in       *Collection
	ok, errs Rows
}

func (o *captureOp) step(context.Context, repr.Timestamp) error {
	o.ok.Reset()
	o.ok.Append(&o.in.ok, 1)
	if err := o.ok.consolidate(o.in.g.ctl); err != nil {
		return err
	}
	o.errs.Reset()
	o.errs.Append(&o.in.errs, 1)
	return o.errs.consolidate(o.in.g.ctl)
}

var errIterationLimit = pgcode.New(pgcode.ProgramLimitExceeded, "recursive query exceeded the iteration limit")

func (o *iterateOp) step(ctx context.Context, _ repr.Timestamp) error {
	o.out.ok.Reset()
	o.out.errs.Reset()
	m := o.g.meter(&o.out.ok, &o.out.errs)
	changed := false
	for i, c := range o.outer {
		o.out.errs.Append(&c.errs, 1)
		for j := range c.ok.Len() {
			if err := m.tick(); err != nil {
				return err
			}
			o.state[i].add(c.ok.Row(j), c.ok.Diff(j))
			changed = true
		}
	}
	if !changed {
		return nil
	}
	// The nested graph runs inside this step: it shares the step's
	// control, so a cancel stops its rounds and its operators charge the
	// outer graph's memory limit (every round's output counts, so a long
	// recursion is charged more than it holds at once).
	ig := NewGraph(Options{Workers: o.g.opts.Workers, ParallelMin: o.g.opts.ParallelMin, Logger: o.g.opts.Logger, EvalCtx: o.g.workerCtx()})
	ig.parent = o.g
	defer ig.Close()
	ins := make([]*Input, len(o.outer))
	colls := make([]*Collection, len(o.outer))
	for i, c := range o.outer {
		ins[i] = ig.NewInput(fmt.Sprintf("outer%d", i), c.arity)
		colls[i] = ins[i].Collection()
	}
	x := ig.NewInput("x", o.arity)
	y, err := o.body(ig, colls, x.Collection())
	if err != nil {
		return fmt.Errorf("dataflow: iterate body: %w", err)
	}
	capt := &captureOp{in: y}
	ig.add(capt)
	for i, in := range ins {
		for _, k := range o.state[i].sortedKeys() {
			if err := m.tick(); err != nil {
				return err
			}
			_ = in.Send(repr.Update{Row: repr.Row(k), Time: 1, Diff: o.state[i][k]})
		}
	}
	next, nextErrs := coll{}, coll{}
	limited := false
	for round := repr.Timestamp(1); ; round++ {
		if err := m.poll(); err != nil {
			return err
		}
		if int(round) > o.g.opts.IterationLimit {
			limited = true
			break
		}
		if err := ig.Step(ctx, round); err != nil {
			return fmt.Errorf("dataflow: iterate round %d: %w", round, err)
		}
		for j := range capt.errs.Len() {
			nextErrs.add(capt.errs.Row(j), capt.errs.Diff(j))
		}
		if capt.ok.Len() == 0 {
			break
		}
		for j := range capt.ok.Len() {
			if err := m.tick(); err != nil {
				return err
			}
			r, d := capt.ok.Row(j), capt.ok.Diff(j)
			next.add(r, d)
			_ = x.Send(repr.Update{Row: r, Time: round + 1, Diff: d})
		}
	}
	if limited {
		next = coll{}
		nextErrs = coll{string(ErrRow(errIterationLimit)): 1}
	}
	emitChange(&o.out.ok, o.result, next)
	emitChange(&o.out.errs, o.errs, nextErrs)
	o.result, o.errs = next, nextErrs
	return m.poll()
}

// emitChange pushes new − old.
func emitChange(out *Rows, old, new coll) {
	for _, k := range old.sortedKeys() {
		if d := new[k] - old[k]; d != 0 {
			out.Push(repr.Row(k), d)
		}
	}
	for _, k := range new.sortedKeys() {
		if _, ok := old[k]; !ok {
			out.Push(repr.Row(k), new[k])
		}
	}
}
