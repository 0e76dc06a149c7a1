package dataflow

import (
	"context"

	"github.com/viewd/viewd/repr"
)

// Distinct returns each row of c once if its multiplicity is positive.
//
// Algebra: Distinct(A)[r] = 1 if A[r] > 0 else 0; per changed row the
// output change is f(new count) − f(old count), so it emits only when a
// row's count crosses zero. State: one count per distinct row, sharded by
// row hash. Hazard: a row with negative multiplicity (retracted more often
// than inserted) is absent, not an error; compose with Negate only through
// Threshold.
func (c *Collection) Distinct() *Collection {
	return c.threshold(func(n repr.Diff) repr.Diff {
		if n > 0 {
			return 1
		}
		return 0
	})
}

// Threshold returns each row of c with multiplicity max(count, 0).
//
// Algebra: Threshold(A)[r] = max(A[r], 0). With Negate and Union it gives
// EXCEPT ALL = Threshold(A − B) and INTERSECT ALL = A − Threshold(A − B);
// EXCEPT = Threshold(Distinct(A) − B) and INTERSECT uses Distinct. Like
// Distinct it emits only the difference of f over a row's old and new
// counts.
func (c *Collection) Threshold() *Collection {
	return c.threshold(func(n repr.Diff) repr.Diff { return max(n, 0) })
}

func (c *Collection) threshold(f func(repr.Diff) repr.Diff) *Collection {
	g := c.g
	out := g.newCollection(c.arity)
	op := &thresholdOp{in: c, out: out, f: f, shards: make([]thresholdShard, g.opts.Workers)}
	for i := range op.shards {
		op.shards[i].counts = map[string]repr.Diff{}
	}
	g.add(op)
	return out
}

type thresholdOp struct {
	in, out *Collection
	f       func(repr.Diff) repr.Diff
	shards  []thresholdShard
}

// countBytes approximates a threshold count's map entry beyond its row
// bytes, as the memory limit charges it.
const countBytes = 48

type thresholdShard struct {
	counts map[string]repr.Diff
	in     Rows
	ok     Rows
}

func (o *thresholdOp) step(context.Context, repr.Timestamp) error {
	g := o.in.g
	W := len(o.shards)
	o.out.ok.Reset()
	o.out.errs.Reset()
	o.out.errs.Append(&o.in.errs, 1)
	n := o.in.ok.Len()
	if W > 1 {
		for s := range o.shards {
			o.shards[s].in.Reset()
		}
		m := g.meter(nil, nil)
		for i := range n {
			if err := m.tick(); err != nil {
				return err
			}
			row := o.in.ok.Row(i)
			o.shards[shardOf(row, W)].in.Push(row, o.in.ok.Diff(i))
		}
	}
	err := g.parallel(n, func(si int) error {
		s := &o.shards[si]
		s.ok.Reset()
		m := g.meter(&s.ok, nil)
		// The input is consolidated, so each row appears once. One
		// worker reads it in place.
		in := &s.in
		if W == 1 {
			in = &o.in.ok
		}
		for i := range in.Len() {
			if err := m.tick(); err != nil {
				return err
			}
			row, d := in.Row(i), in.Diff(i)
			old, had := s.counts[string(row)]
			nw := old + d
			if nw == 0 {
				delete(s.counts, string(row))
			} else {
				s.counts[string(row)] = nw
				if !had {
					m.grow(len(row) + countBytes)
				}
			}
			if delta := o.f(nw) - o.f(old); delta != 0 {
				s.ok.Push(row, delta)
			}
		}
		return m.poll()
	})
	if err != nil {
		return err
	}
	for s := range o.shards {
		o.out.ok.Append(&o.shards[s].ok, 1)
	}
	return o.out.ok.consolidate(g.ctl)
}

// trim releases the shards' large per-step scratch after a step.
func (o *thresholdOp) trim() {
	for i := range o.shards {
		o.shards[i].in.trim()
		o.shards[i].ok.trim()
	}
}
