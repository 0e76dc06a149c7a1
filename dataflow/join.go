package dataflow

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// Join is the equi-join of two arrangements on their keys, each output row
// the concatenation of an A row and a B row, followed by a residual MFP
// over those columns.
//
// Algebra: with A and B the states before the step and ΔA, ΔB the step's
// changes, (A+ΔA)⋈(B+ΔB) − A⋈B = ΔA⋈B + (A+ΔA)⋈ΔB, i.e. ΔA meets B's old
// state and ΔB meets A's new state, so each pair of changes is counted
// once. Diffs multiply (join is bilinear) and distribute over
// consolidation. Hazards: keys containing NULL never match (SQL
// equality); the output is as large as the matches, so a skewed key
// multiplies work; both arrangements must be keyed by the same number of
// columns of the same types.
func Join(a, b *Arranged, residual expr.MapFilterProject) (*Collection, error) {
	if a.g != b.g {
		return nil, fmt.Errorf("dataflow: join of arrangements of different graphs")
	}
	if a.keyLen != b.keyLen {
		return nil, fmt.Errorf("dataflow: join of keys of %d and %d columns", a.keyLen, b.keyLen)
	}
	if residual.InputArity != a.arity+b.arity {
		return nil, fmt.Errorf("dataflow: join residual expects %d columns, inputs give %d", residual.InputArity, a.arity+b.arity)
	}
	g := a.g
	out := g.newCollection(len(residual.Projection))
	op := &joinOp{a: a, b: b, out: out, plan: newMFPPlan(residual), ws: make([]joinWorker, g.opts.Workers)}
	g.add(op)
	return out, nil
}

type joinOp struct {
	a, b *Arranged
	out  *Collection
	plan *mfpPlan
	ws   []joinWorker
}

type joinWorker struct {
	ok, errs        Rows
	datums, scratch []repr.Datum
	pk              repr.Packer
	ctx             expr.EvalCtx
}

// emit applies the residual to the concatenation of l and r.
func (w *joinWorker) emit(plan *mfpPlan, l, r repr.Row, d repr.Diff) {
	if plan.ident {
		w.ok.PushConcat(l, r, d)
		return
	}
	w.datums = l.Unpack(w.datums[:0])
	w.datums = r.Unpack(w.datums)
	w.pk.Reset()
	keep, err := plan.apply(&w.ctx, w.datums, &w.scratch, &w.pk)
	switch {
	case err != nil:
		w.errs.Push(ErrRow(err), d)
	case keep:
		w.ok.Push(w.pk.Row(), d)
	}
}

// keyHasNull reports whether a packed key holds a NULL datum.
func keyHasNull(k repr.Row) bool {
	it := k.Iter()
	for off := 0; off < len(k); off = it.Offset() {
		if k[off] == byte(repr.KindNull) {
			return true
		}
		if !it.Skip() {
			return false
		}
	}
	return false
}

func (o *joinOp) step(_ context.Context, _ repr.Timestamp) error {
	g := o.a.g
	o.out.ok.Reset()
	o.out.errs.Reset()
	o.out.errs.Append(&o.a.errs.ok, 1)
	o.out.errs.Append(&o.b.errs.ok, 1)
	n := o.a.deltaLen() + o.b.deltaLen()
	if n > 0 {
		err := g.parallel(n, func(s int) error {
			w := &o.ws[s]
			w.ok.Reset()
			w.errs.Reset()
			w.ctx = g.workerCtx()
			m := g.meter(&w.ok, &w.errs)
			// stop is the error that ended this worker's loops; the lookup
			// callback cannot return it, so it skips its work once set.
			var stop error
			join := func(da *Batch, other *Arranged, keep func(repr.Timestamp) bool, aFirst bool) {
				if da == nil {
					return
				}
				bs := other.trace.shards[s].snapshot()
				base, reserved := w.ok.Len(), false
				for k := range da.Keys() {
					if stop = m.tick(); stop != nil {
						return
					}
					key := da.key(k)
					if keyHasNull(key) {
						continue
					}
					st, e := da.updRange(k)
					if !reserved && st >= reserveSample {
						// Size the output for the rest of a bulk
						// step at the rate seen so far, rather than
						// regrow it by doubling (a view's first step
						// over existing data spent a third of its CPU
						// copying and faulting in regrown slabs).
						reserved = true
						if rest := da.Len() - st; rest > 4*reserveSample {
							w.ok.reserveLike(base, st, rest)
						}
					}
					lookup(bs, key, keep, func(v repr.Row, d repr.Diff) {
						if stop != nil {
							return
						}
						for u := st; u < e; u++ {
							if stop = m.tick(); stop != nil {
								return
							}
							if aFirst {
								w.emit(o.plan, da.val(u), v, da.diff(u)*d)
							} else {
								w.emit(o.plan, v, da.val(u), da.diff(u)*d)
							}
						}
					})
					if stop != nil {
						return
					}
				}
			}
			join(o.a.delta[s], o.b, g.keepOld, true)
			if stop == nil {
				join(o.b.delta[s], o.a, g.keepNew, false)
			}
			if stop == nil {
				stop = m.poll()
			}
			return stop
		})
		if err != nil {
			return err
		}
		parts := make([]*Rows, len(o.ws))
		for s := range o.ws {
			parts[s] = &o.ws[s].ok
			o.out.errs.Append(&o.ws[s].errs, 1)
		}
		if err := g.gather(&o.out.ok, parts); err != nil {
			return err
		}
	}
	return o.out.errs.consolidate(g.ctl)
}

// trim releases the workers' large scratch after a step.
func (o *joinOp) trim() {
	for i := range o.ws {
		o.ws[i].ok.trim()
		o.ws[i].errs.trim()
		o.ws[i].datums = clearDatums(o.ws[i].datums)
		o.ws[i].scratch = clearDatums(o.ws[i].scratch)
	}
}
