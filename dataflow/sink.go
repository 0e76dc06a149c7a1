package dataflow

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/repr"
)

// Output is a materialized sink: the collection's ok and err streams, each
// arranged by whole row (the row is the key, the val is empty), readable
// as of any time in [Since, Upper). It holds the since of both traces.
type Output struct {
	g     *Graph
	arity int
	ok    *Trace
	errs  *Trace
	okR   TraceReader
	errsR TraceReader
}

// Materialize adds an output arrangement of c, readable from since on.
// The caller advances the output's since (SetSince) as its read policy
// allows; until then every version of the output is retained.
func (c *Collection) Materialize(since repr.Timestamp) *Output {
	g := c.g
	o := &Output{g: g, arity: c.arity, ok: NewTrace(g.opts.Workers, 0), errs: NewTrace(g.opts.Workers, 0)}
	o.okR, o.errsR = o.ok.Reader(since), o.errs.Reader(since)
	g.add(&outputOp{in: c, out: o})
	return o
}

// Trace returns the ok trace (rows as keys with empty vals).
func (o *Output) Trace() *Trace { return o.ok }

// Since returns the output's since.
func (o *Output) Since() repr.Timestamp { return o.okR.Since() }

// SetSince allows compaction of history before t.
func (o *Output) SetSince(t repr.Timestamp) {
	o.okR.SetSince(t)
	o.errsR.SetSince(t)
}

// Upper returns the output's upper.
func (o *Output) Upper() repr.Timestamp { return o.ok.Upper() }

// Read returns the collection as of asOf: its rows with multiplicities and
// its errors (non-empty errs means a reader must fail with them).
func (o *Output) Read(asOf repr.Timestamp) (ok, errs *Rows, err error) {
	if ok, err = peekKeys(o.okR, asOf); err != nil {
		return nil, nil, err
	}
	if errs, err = peekKeys(o.errsR, asOf); err != nil {
		return nil, nil, err
	}
	return ok, errs, nil
}

// Release drops the output's holds.
func (o *Output) Release() {
	o.okR.Release()
	o.errsR.Release()
}

func peekKeys(r TraceReader, asOf repr.Timestamp) (*Rows, error) {
	c, err := r.Cursor(asOf)
	if err != nil {
		return nil, err
	}
	var out Rows
	for c.Rewind(); c.KeyValid(); c.StepKey() {
		var n repr.Diff
		for ; c.ValValid(); c.StepVal() {
			_, d := c.Val()
			n += d
		}
		if n != 0 {
			out.Push(c.Key(), n)
		}
	}
	return &out, nil
}

type outputOp struct {
	in  *Collection
	out *Output
	bds []Builder
}

func (op *outputOp) step(_ context.Context, t repr.Timestamp) error {
	W := op.in.g.opts.Workers
	if op.bds == nil {
		op.bds = make([]Builder, W)
	}
	ins := func(rows *Rows, tr *Trace) {
		for i := range rows.Len() {
			r := rows.Row(i)
			op.bds[shardOf(r, W)].Add(r, nil, t, rows.Diff(i))
		}
		bs := make([]*Batch, W)
		for s := range bs {
			bs[s] = op.bds[s].Build()
		}
		tr.Insert(bs, t)
	}
	ins(&op.in.ok, op.out.ok)
	ins(&op.in.errs, op.out.errs)
	return nil
}

// SubscribeFunc receives one step's consolidated updates of a collection:
// ok rows and err rows, all at time t. It is called for every step, with
// empty slices when nothing changed, so that it can report progress.
type SubscribeFunc func(t repr.Timestamp, ok, errs []repr.Update) error

// Subscribe calls fn at the end of every step's run of this operator, in
// time order. An error from fn fails the step.
func (c *Collection) Subscribe(fn SubscribeFunc) {
	c.g.add(&subscribeOp{in: c, fn: fn})
}

type subscribeOp struct {
	in *Collection
	fn SubscribeFunc
}

func (o *subscribeOp) step(_ context.Context, t repr.Timestamp) error {
	if err := o.fn(t, o.in.ok.Consolidated().Updates(t), o.in.errs.Consolidated().Updates(t)); err != nil {
		return fmt.Errorf("dataflow: subscribe: %w", err)
	}
	return nil
}
