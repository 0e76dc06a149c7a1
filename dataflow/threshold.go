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

// Rows count by their canonical packing (repr.Row.Canonical): rows equal
// but for numeric display scales (1.10, 1.1) are one row, shown as
// scaleReps describes (per column the largest scale present).
//
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
		op.shards[i].scaled = map[string]*thresholdScaled{}
	}
	g.add(op)
	return out
}

type thresholdOp struct {
	in, out *Collection
	f       func(repr.Diff) repr.Diff
	shards  []thresholdShard
	canon   []byte
}

// countBytes approximates a threshold count's map entry beyond its row
// bytes, as the memory limit charges it.
const countBytes = 48

type thresholdShard struct {
	// counts is the multiplicity of each row by its canonical packing
	// (repr.Row.Canonical: numerics without display scale), so that rows
	// of equal values (1.10, 1.1) count as one.
	counts map[string]repr.Diff
	// scaled holds, for canonical rows some of whose rows carried a
	// display scale, the packings seen and the output last emitted.
	scaled  map[string]*thresholdScaled
	touched []string
	in      Rows
	ok      Rows
	canon   []byte
	pk      repr.Packer
	datums  []repr.Datum
}

// thresholdScaled is the state of a canonical row whose rows carry display
// scales: it is output as scaleReps.display shows it.
type thresholdScaled struct {
	reps    scaleReps
	out     string
	outN    repr.Diff
	touched bool
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
			canon, changed := row.Canonical(o.canon[:0])
			if changed {
				o.canon = canon
			}
			o.shards[shardOf(canon, W)].in.Push(row, o.in.ok.Diff(i))
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
			canon, changed := row.Canonical(s.canon[:0])
			if changed {
				s.canon = canon
			}
			var st *thresholdScaled
			if changed || len(s.scaled) > 0 {
				st = s.scaled[string(canon)]
			}
			old, had := s.counts[string(canon)]
			nw := old + d
			if nw == 0 {
				delete(s.counts, string(canon))
			} else {
				s.counts[string(canon)] = nw
				if !had {
					m.grow(len(canon) + countBytes)
				}
			}
			if !changed && st == nil {
				if delta := o.f(nw) - o.f(old); delta != 0 {
					s.ok.Push(row, delta)
				}
				continue
			}
			if st == nil {
				// Until now every row of this value printed as canon.
				st = &thresholdScaled{out: string(canon), outN: o.f(old)}
				s.scaled[string(canon)] = st
			}
			if changed {
				m.grow(st.reps.add(row, d))
			}
			if !st.touched {
				st.touched = true
				s.touched = append(s.touched, string(canon))
			}
		}
		for _, k := range s.touched {
			if err := m.tick(); err != nil {
				return err
			}
			st := s.scaled[k]
			st.touched = false
			n := o.f(s.counts[k])
			out := k
			if st.reps.present() {
				s.datums = st.reps.display(repr.Row(k), &s.pk, s.datums)
				out = string(s.pk.Row())
			}
			if out != st.out || n != st.outN {
				if st.outN != 0 {
					s.ok.Push(repr.Row(st.out), -st.outN)
				}
				if n != 0 {
					s.ok.Push(repr.Row(out), n)
				}
				st.out, st.outN = out, n
			}
			if len(st.reps) == 0 && st.outN == 0 {
				delete(s.scaled, k)
			}
		}
		s.touched = s.touched[:0]
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
