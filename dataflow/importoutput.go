package dataflow

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/repr"
)

// ImportOutput brings another graph's materialized Output into g as a
// collection: its first step delivers the output's contents (ok and err
// rows) as of that step, each later step the changes since the previous
// one. g holds the output's since at its own steps until g.Close.
func (g *Graph) ImportOutput(o *Output) (*Collection, error) {
	return g.importOutput(o, false)
}

// ImportOutputErrors is ImportOutput for the output's errors only: its
// collection has no rows. A graph that reads an object's rows through
// one of its indexes (which hold no errors) imports the object's errors
// this way.
func (g *Graph) ImportOutputErrors(o *Output) (*Collection, error) {
	return g.importOutput(o, true)
}

func (g *Graph) importOutput(o *Output, errsOnly bool) (*Collection, error) {
	if o.ok.Shards() != g.opts.Workers {
		return nil, fmt.Errorf("dataflow: import of an output of %d shards into a graph of %d workers", o.ok.Shards(), g.opts.Workers)
	}
	okR := o.ok.Reader(o.Since())
	errR := o.errs.Reader(o.Since())
	g.traces = append(g.traces, okR, errR)
	okID, okFeed := o.ok.subscribe()
	errID, errFeed := o.errs.subscribe()
	c := g.newCollection(o.arity)
	op := &importOutputOp{out: c, o: o, okR: okR, okFeed: okFeed, okID: okID, errFeed: errFeed, errID: errID, feedFrom: o.ok.Upper(), errsOnly: errsOnly}
	g.add(op)
	return c, nil
}

type importOutputOp struct {
	out     *Collection
	o       *Output
	okR     TraceReader
	okFeed  *batchFeed
	errFeed *batchFeed
	okID    uint64
	errID   uint64
	started bool
	// feedFrom is the output's upper when the feeds were attached: every
	// fed batch is at a time >= feedFrom. When the first step is earlier
	// (a read AS OF a past time), the updates in (first step, feedFrom)
	// come from the trace at the second step.
	feedFrom repr.Timestamp
	first    repr.Timestamp
	// errsOnly: the ok rows are not delivered.
	errsOnly bool
}

// okShards returns the shards of the output's rows the import delivers:
// none when it delivers errors only.
func (op *importOutputOp) okShards() []*Spine {
	if op.errsOnly {
		return nil
	}
	return op.o.ok.shards
}

func (op *importOutputOp) close() {
	op.o.ok.unsubscribe(op.okID)
	op.o.errs.unsubscribe(op.errID)
}

// keysInto appends the keys of batch updates at times in (lo, hi] (all
// when all) to rows; lo < 0 means no lower bound.
func keysInto(rows *Rows, b *Batch, lo int64, hi repr.Timestamp, all bool) {
	if b == nil {
		return
	}
	if all && b.Len() == b.Keys() {
		// One update per key (a source's rows): exactly the batch's keys.
		rows.Reserve(b.Len(), len(b.keyData))
	}
	for k := range b.Keys() {
		key := b.key(k)
		st, e := b.updRange(k)
		for u := st; u < e; u++ {
			if t := b.time(u); all || (t <= hi && (lo < 0 || int64(t) > lo)) {
				rows.Push(key, b.diff(u))
			}
		}
	}
}

func (op *importOutputOp) step(_ context.Context, t repr.Timestamp) error {
	c := op.out
	c.ok.Reset()
	c.errs.Reset()
	if up := op.o.ok.Upper(); up <= t {
		return fmt.Errorf("dataflow: imported output is complete only to %d, not through %d", up, t)
	}
	okFed, errFed := op.okFeed.take(t), op.errFeed.take(t)
	if !op.started {
		op.started = true
		if since := op.okR.Since(); since > t {
			return fmt.Errorf("dataflow: import as of %d is before the output's since %d", t, since)
		}
		op.first = t
		// The snapshot is copied batch by batch, polling the step's
		// control (cancellation, memory budget) between batches.
		m := c.g.meter(&c.ok, &c.errs)
		for _, sp := range op.okShards() {
			for _, b := range sp.snapshot() {
				keysInto(&c.ok, b, -1, t, false)
				if err := m.poll(); err != nil {
					return err
				}
			}
		}
		for _, sp := range op.o.errs.shards {
			for _, b := range sp.snapshot() {
				keysInto(&c.errs, b, -1, t, false)
			}
		}
	} else {
		if op.feedFrom > 0 && op.first+1 < op.feedFrom {
			// Catch up on the history between the first step and the
			// time the feeds were attached.
			for _, sp := range op.okShards() {
				for _, b := range sp.snapshot() {
					keysInto(&c.ok, b, int64(op.first), op.feedFrom-1, false)
				}
			}
			for _, sp := range op.o.errs.shards {
				for _, b := range sp.snapshot() {
					keysInto(&c.errs, b, int64(op.first), op.feedFrom-1, false)
				}
			}
			op.feedFrom = 0
		}
		for _, f := range okFed {
			for _, b := range f.bs {
				if !op.errsOnly {
					keysInto(&c.ok, b, -1, t, true)
				}
			}
		}
		for _, f := range errFed {
			for _, b := range f.bs {
				keysInto(&c.errs, b, -1, t, true)
			}
		}
	}
	c.ok.Consolidate()
	c.errs.Consolidate()
	return nil
}
