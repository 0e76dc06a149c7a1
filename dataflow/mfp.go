package dataflow

import (
	"context"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// MFP applies a fused map, filter and project to every update.
//
// Algebra: MFP is linear: MFP(Σ updates) = Σ MFP(update), row by row, with
// the diff unchanged, so it needs no state. Hazards: an evaluation error
// does not drop the row: it becomes an update of the err collection with
// the row's diff, so that a retraction of the row retracts the error too.
// Expressions must be deterministic (no random()): a retraction must
// reproduce the row its insertion produced. mz_now() evaluates to the
// step's time, which is only deterministic inside temporal filters.
func (c *Collection) MFP(m expr.MapFilterProject) *Collection {
	if m.IsIdentity() {
		return c
	}
	out := c.g.newCollection(len(m.Projection))
	op := &mfpOp{in: c, out: out, plan: newMFPPlan(m)}
	c.g.add(op)
	return out
}

type mfpOp struct {
	in, out *Collection
	plan    *mfpPlan
	// per-worker scratch
	ws []mfpWorker
}

type mfpWorker struct {
	sc       mfpScratch
	pk       repr.Packer
	ok, errs Rows
}

func (o *mfpOp) step(_ context.Context, t repr.Timestamp) error {
	g := o.in.g
	o.out.ok.Reset()
	o.out.errs.Reset()
	o.out.errs.Append(&o.in.errs, 1)
	n := o.in.ok.Len()
	W := g.opts.Workers
	if o.ws == nil {
		o.ws = make([]mfpWorker, W)
	}
	if W == 1 || n < g.opts.ParallelMin {
		w := &o.ws[0]
		return o.run(g, w, 0, n, &o.out.ok, &o.out.errs)
	}
	chunk := (n + W - 1) / W
	err := g.parallel(n, func(i int) error {
		w := &o.ws[i]
		w.ok.Reset()
		w.errs.Reset()
		ev := g.workerCtx()
		m := g.meter(&w.ok, &w.errs)
		return o.runCtx(&ev, &m, w, min(i*chunk, n), min((i+1)*chunk, n), &w.ok, &w.errs)
	})
	if err != nil {
		return err
	}
	for i := range o.ws {
		if err := checkAppend(&o.out.ok, &o.ws[i].ok); err != nil {
			return err
		}
		o.out.ok.Append(&o.ws[i].ok, 1)
		o.out.errs.Append(&o.ws[i].errs, 1)
	}
	return nil
}

func (o *mfpOp) run(g *Graph, w *mfpWorker, lo, hi int, ok, errs *Rows) error {
	m := g.meter(ok, errs)
	return o.runCtx(&g.eval, &m, w, lo, hi, ok, errs)
}

// runCtx applies the MFP to input rows [lo, hi), polling the step's
// control through m.
func (o *mfpOp) runCtx(ctx *expr.EvalCtx, m *meter, w *mfpWorker, lo, hi int, ok, errs *Rows) error {
	base := ok.Len()
	for i := lo; i < hi; i++ {
		if err := m.tick(); err != nil {
			return err
		}
		if i-lo == reserveSample && hi-i > 4*reserveSample {
			ok.reserveLike(base, reserveSample, hi-i)
		}
		row, d := o.in.ok.Row(i), o.in.ok.Diff(i)
		w.pk.Reset()
		keep, err := o.plan.applyRow(ctx, row, &w.sc, &w.pk)
		switch {
		case err != nil:
			errs.Push(ErrRow(err), d)
		case keep:
			ok.Push(w.pk.Row(), d)
		}
	}
	return m.poll()
}

// trim releases the workers' large scratch after a step.
func (o *mfpOp) trim() {
	for i := range o.ws {
		o.ws[i].ok.trim()
		o.ws[i].errs.trim()
		o.ws[i].sc.datums = clearDatums(o.ws[i].sc.datums)
		o.ws[i].sc.extended = clearDatums(o.ws[i].sc.extended)
	}
}
