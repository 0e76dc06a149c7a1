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
		op.shards[i].scaled = map[uint32]*thresholdScaled{}
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

// countBytes is a threshold count's state beyond its row bytes (its
// keyTable slot and count), as the memory limit charges it.
const countBytes = keySlotBytes + 8

// thresholdShard is one worker's part of a distinct or threshold: a
// count per row, by the row's slot in the key table.
type thresholdShard struct {
	// rows and counts hold the multiplicity of each row by its canonical
	// packing (repr.Row.Canonical: numerics without display scale), so
	// that rows of equal values (1.10, 1.1) count as one. A row whose
	// count is zero is dropped, unless it has scaled state.
	rows   keyTable
	counts []repr.Diff // by slot
	// scaled holds, for canonical rows some of whose rows carried a
	// display scale (few), the packings seen and the output last emitted.
	scaled  map[uint32]*thresholdScaled
	touched []uint32 // slots
	in      Rows
	hashes  []uint64 // keyHash of in's canonical rows (several workers)
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
			o.shards[s].hashes = o.shards[s].hashes[:0]
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
			h := keyHash(canon)
			s := &o.shards[h%uint64(W)]
			s.in.Push(row, o.in.ok.Diff(i))
			s.hashes = append(s.hashes, h)
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
			var h uint64
			if W > 1 {
				h = s.hashes[i]
			} else {
				h = keyHash(canon)
			}
			slot, added := s.rows.insertHashed(canon, h)
			if added {
				if int(slot) == len(s.counts) {
					s.counts = append(s.counts, 0)
				}
				m.grow(len(canon) + countBytes)
			}
			var st *thresholdScaled
			if changed || len(s.scaled) > 0 {
				st = s.scaled[slot]
			}
			old := s.counts[slot]
			nw := old + d
			s.counts[slot] = nw
			if !changed && st == nil {
				if delta := o.f(nw) - o.f(old); delta != 0 {
					s.ok.Push(row, delta)
				}
				if nw == 0 {
					s.rows.deleteHashed(slot, h)
				}
				continue
			}
			if st == nil {
				// Until now every row of this value printed as canon.
				st = &thresholdScaled{out: string(canon), outN: o.f(old)}
				s.scaled[slot] = st
			}
			if changed {
				m.grow(st.reps.add(row, d))
			}
			if !st.touched {
				st.touched = true
				s.touched = append(s.touched, slot)
			}
		}
		for _, slot := range s.touched {
			if err := m.tick(); err != nil {
				return err
			}
			st := s.scaled[slot]
			st.touched = false
			n := o.f(s.counts[slot])
			k := string(s.rows.key(slot))
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
				delete(s.scaled, slot)
				if s.counts[slot] == 0 {
					s.rows.delete(slot)
				}
			}
		}
		s.touched = s.touched[:0]
		return m.poll()
	})
	if err != nil {
		return err
	}
	parts := make([]*Rows, len(o.shards))
	for s := range o.shards {
		parts[s] = &o.shards[s].ok
	}
	return g.gather(&o.out.ok, parts)
}

// stateBytes returns the bytes of the counts: the key tables and count
// slices by capacity, and an estimate of the few rows with display
// scales.
func (o *thresholdOp) stateBytes() int64 {
	var n int64
	for i := range o.shards {
		s := &o.shards[i]
		n += int64(s.rows.bytes() + 8*cap(s.counts))
		for _, st := range s.scaled {
			n += int64(len(st.out) + st.reps.bytes() + 64)
		}
	}
	return n
}

// trim releases the shards' large per-step scratch after a step.
func (o *thresholdOp) trim() {
	for i := range o.shards {
		o.shards[i].in.trim()
		if cap(o.shards[i].hashes)*8 > trimBytes {
			o.shards[i].hashes = nil
		}
		if cap(o.shards[i].touched)*4 > trimBytes {
			o.shards[i].touched = nil
		}
		o.shards[i].ok.trim()
	}
}
