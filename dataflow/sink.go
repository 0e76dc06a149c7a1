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
	// load holds a snapshot of rows loaded for the next step (Loader).
	load loadSlot
}

// Materialize adds an output arrangement of c, readable from since on.
// The caller advances the output's since (SetSince) as its read policy
// allows; until then every version of the output is retained.
func (c *Collection) Materialize(since repr.Timestamp) *Output {
	g := c.g
	o := &Output{g: g, arity: c.arity, ok: NewTrace(g.opts.Workers, 0), errs: NewTrace(g.opts.Workers, 0)}
	o.okR, o.errsR = o.ok.Reader(since), o.errs.Reader(since)
	g.owned = append(g.owned, o.ok, o.errs)
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

// Count returns the multiplicity of row as of asOf, read through the
// output's own hold (asOf must be at least its since).
func (o *Output) Count(asOf repr.Timestamp, row repr.Row) (repr.Diff, error) {
	var n repr.Diff
	err := o.okR.Lookup(asOf, row, func(_ repr.Row, d repr.Diff) bool {
		n += d
		return true
	})
	return n, err
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
	for ; c.KeyValid(); c.StepKey() {
		if n := c.Count(); n != 0 {
			out.Push(c.Key(), n)
		}
	}
	return &out, nil
}

// OutputReader reads an Output while holding its since: what a one-shot
// read takes under the coordinator's lock (a read hold) and then uses
// outside it. Reads at times in [since, Upper) are exact for as long as
// the reader is held. It is safe for use by one goroutine at a time,
// concurrently with the steps of the graph that writes the output.
type OutputReader struct {
	o        *Output
	ok, errs TraceReader
}

// Reader returns a reader holding the output's history from since on
// (or from the output's since, if that is later).
func (o *Output) Reader(since repr.Timestamp) *OutputReader {
	return &OutputReader{o: o, ok: o.ok.Reader(since), errs: o.errs.Reader(since)}
}

// Since returns the reader's since.
func (r *OutputReader) Since() repr.Timestamp { return r.ok.Since() }

// Upper returns the output's upper.
func (r *OutputReader) Upper() repr.Timestamp { return r.o.Upper() }

// Errs returns the output's err rows as of asOf (usually none; a reader
// must fail with them when there are any).
func (r *OutputReader) Errs(asOf repr.Timestamp) (*Rows, error) { return peekKeys(r.errs, asOf) }

// Cursor returns a cursor over the output's rows as of asOf: each key is a
// row, Count its multiplicity (vals are empty).
func (r *OutputReader) Cursor(asOf repr.Timestamp) (*Cursor, error) { return r.ok.Cursor(asOf) }

// Scan calls fn with each row of the output as of asOf and its
// multiplicity, in row order, until fn returns false.
func (r *OutputReader) Scan(asOf repr.Timestamp, fn func(row repr.Row, d repr.Diff) bool) error {
	c, err := r.Cursor(asOf)
	if err != nil {
		return err
	}
	for ; c.KeyValid(); c.StepKey() {
		if n := c.Count(); n != 0 && !fn(c.Key(), n) {
			return nil
		}
	}
	return nil
}

// Count returns the multiplicity of row as of asOf.
func (r *OutputReader) Count(asOf repr.Timestamp, row repr.Row) (repr.Diff, error) {
	var n repr.Diff
	err := r.ok.Lookup(asOf, row, func(_ repr.Row, d repr.Diff) bool {
		n += d
		return true
	})
	return n, err
}

// Release drops the reader's holds.
func (r *OutputReader) Release() {
	r.ok.Release()
	r.errs.Release()
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
	m := op.in.g.meter(nil, nil)
	ins := func(rows *Rows, tr *Trace, loaded []*Batch) error {
		if n := rows.Len(); n >= 1024 {
			// Rows spread evenly over the shards; a little room for
			// the unevenness spares a regrowth of every builder.
			for s := range op.bds {
				op.bds[s].Reserve(n/W+n/(8*W), rows.Bytes()/W+rows.Bytes()/(8*W))
			}
		}
		for i := range rows.Len() {
			if err := m.tick(); err != nil {
				return err
			}
			r := rows.Row(i)
			m.grow(len(r) + 32)
			op.bds[shardOf(r, W)].Add(r, nil, t, rows.Diff(i))
		}
		bs := make([]*Batch, W)
		for s := range bs {
			var err error
			if bs[s], err = op.bds[s].build(op.in.g.ctl); err != nil {
				return err
			}
		}
		stampLoaded(bs, loaded, t)
		tr.Insert(bs, t)
		return nil
	}
	if err := ins(&op.in.ok, op.out.ok, op.out.load.take()); err != nil {
		return err
	}
	if err := ins(&op.in.errs, op.out.errs, nil); err != nil {
		return err
	}
	return m.poll()
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
