package dataflow

import (
	"context"
	"fmt"

	"github.com/viewd/viewd/repr"
)

// Output is a materialized sink: the collection's ok and err streams,
// readable as of any time in [Since, Upper). It holds the since of both.
//
// An Output made by Materialize arranges both streams by whole row (the
// row is the key, the val is empty): a read is a merge of sorted batches,
// rows come in row order, consolidated. One made by
// MaterializeAppendOnly keeps its ok rows in an append log instead (see
// appendLog): each step's rows as they come, never sorted nor merged, for
// a collection that only grows (an append-only source), whose readers
// mostly scan it or import it whole. Its reads scan the log (a lookup of
// one row too); its err rows, rare, are arranged as in any Output. Both
// kinds have the same readers: Read, Count, Reader (Scan, Cursor, Errs),
// Loader, Graph.ImportOutput.
type Output struct {
	g     *Graph
	arity int
	ok    *Trace     // the arranged ok rows; nil in an append log
	log   *appendLog // the ok rows of an append-only output
	errs  *Trace
	okR   TraceReader // nil in an append log, whose holds are errsR's
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

// MaterializeAppendOnly adds an output of c kept as an append log,
// readable from since on: for a collection that never retracts, whose
// rows are stored as they come rather than arranged (no sort, no merge).
// A retraction is still handled (reads then consolidate what they scan),
// only at a read's cost. Reads that need the rows in order (Cursor) sort
// them when they ask.
func (c *Collection) MaterializeAppendOnly(since repr.Timestamp) *Output {
	g := c.g
	o := &Output{g: g, arity: c.arity, log: &appendLog{}, errs: NewTrace(g.opts.Workers, 0)}
	o.errsR = o.errs.Reader(since)
	g.owned = append(g.owned, o.errs)
	g.logs = append(g.logs, o.log)
	g.add(&outputOp{in: c, out: o})
	return o
}

// Ordered reports whether the output's reads give rows in row order,
// each once (an arranged output), rather than in the order they came,
// possibly more than once (an append log).
func (o *Output) Ordered() bool { return o.log == nil }

// Since returns the output's since.
func (o *Output) Since() repr.Timestamp { return o.errsR.Since() }

// SetSince allows compaction of history before t.
func (o *Output) SetSince(t repr.Timestamp) {
	if o.okR != nil {
		o.okR.SetSince(t)
	}
	o.errsR.SetSince(t)
}

// Upper returns the output's upper. An append log's rows of a step are
// in the log before its err trace (whose upper this is) advances.
func (o *Output) Upper() repr.Timestamp {
	if o.log != nil {
		return o.errs.Upper()
	}
	return o.ok.Upper()
}

// advance moves the output's upper to u (a step in which nothing
// changed).
func (o *Output) advance(u repr.Timestamp) {
	if o.ok != nil {
		o.ok.Advance(u)
	}
	o.errs.Advance(u)
}

// Read returns the collection as of asOf: its rows with multiplicities,
// consolidated, and its errors (non-empty errs means a reader must fail
// with them).
func (o *Output) Read(asOf repr.Timestamp) (ok, errs *Rows, err error) {
	r := &OutputReader{o: o, ok: o.okR, errs: o.errsR}
	if errs, err = peekKeys(o.errsR, asOf); err != nil {
		return nil, nil, err
	}
	if o.log != nil {
		ok = &Rows{}
		if err := r.Scan(asOf, func(row repr.Row, d repr.Diff) bool {
			ok.Push(row, d)
			return true
		}); err != nil {
			return nil, nil, err
		}
		ok.Consolidate()
		return ok, errs, nil
	}
	if ok, err = peekKeys(o.okR, asOf); err != nil {
		return nil, nil, err
	}
	return ok, errs, nil
}

// Count returns the multiplicity of row as of asOf, read through the
// output's own hold (asOf must be at least its since).
func (o *Output) Count(asOf repr.Timestamp, row repr.Row) (repr.Diff, error) {
	r := &OutputReader{o: o, ok: o.okR, errs: o.errsR}
	return r.Count(asOf, row)
}

// Release drops the output's holds.
func (o *Output) Release() {
	if o.okR != nil {
		o.okR.Release()
	}
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
	ok, errs TraceReader // ok is nil over an append log
}

// Reader returns a reader holding the output's history from since on
// (or from the output's since, if that is later).
func (o *Output) Reader(since repr.Timestamp) *OutputReader {
	r := &OutputReader{o: o, errs: o.errs.Reader(since)}
	if o.ok != nil {
		r.ok = o.ok.Reader(since)
	}
	return r
}

// Since returns the reader's since.
func (r *OutputReader) Since() repr.Timestamp { return r.errs.Since() }

// Upper returns the output's upper.
func (r *OutputReader) Upper() repr.Timestamp { return r.o.Upper() }

// Ordered reports whether Scan gives rows in row order, each once (see
// Output.Ordered).
func (r *OutputReader) Ordered() bool { return r.o.Ordered() }

// Errs returns the output's err rows as of asOf (usually none; a reader
// must fail with them when there are any).
func (r *OutputReader) Errs(asOf repr.Timestamp) (*Rows, error) { return peekKeys(r.errs, asOf) }

// logView checks that the reader can read an append log as of asOf (its
// hold is the err trace's) and returns the log's view.
func (r *OutputReader) logView(asOf repr.Timestamp) (logView, error) {
	if err := r.errs.(*traceReader).check(asOf); err != nil {
		return logView{}, err
	}
	return r.o.log.view(), nil
}

// Cursor returns a cursor over the output's rows as of asOf: each key is a
// row, Count its multiplicity (vals are empty). Over an append log it
// sorts the rows as of asOf first (a read that needs them in order).
func (r *OutputReader) Cursor(asOf repr.Timestamp) (*Cursor, error) {
	if r.ok != nil {
		return r.ok.Cursor(asOf)
	}
	v, err := r.logView(asOf)
	if err != nil {
		return nil, err
	}
	var bd Builder
	v.each(asOf, func(row repr.Row, d repr.Diff) bool {
		bd.Add(row, nil, asOf, d)
		return true
	})
	return newCursor([]*Batch{bd.Build()}, asOf), nil
}

// Scan calls fn with each row of the output as of asOf and its
// multiplicity, until fn returns false: in row order, each row once, for
// an arranged output; for an append log in the order the rows came, a
// row appended twice coming twice (each with its positive multiplicity),
// unless the log holds retractions (then consolidated).
func (r *OutputReader) Scan(asOf repr.Timestamp, fn func(row repr.Row, d repr.Diff) bool) error {
	if r.ok == nil {
		v, err := r.logView(asOf)
		if err != nil {
			return err
		}
		v.scan(asOf, fn)
		return nil
	}
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

// Retracts reports whether the output is arranged, or an append log that
// holds a retraction (a negative diff) as of now: one whose updates
// ScanAppended cannot give as they are.
func (r *OutputReader) Retracts() bool {
	return r.ok != nil || r.o.log.view().neg
}

// ScanAppended calls fn with each update of an append log at a time in
// (after, asOf], in the order they came, until fn returns false: the rows
// appended since a read as of after (for instance the rows a snapshot
// written as of after lacks). The reader's since must be at or before
// after: consolidating a segment of the log (appendLog.compact) merges
// its updates' times, and a hold at after keeps the segments that hold
// times on both sides of it as they were.
func (r *OutputReader) ScanAppended(after, asOf repr.Timestamp, fn func(row repr.Row, d repr.Diff) bool) error {
	if r.ok != nil {
		return fmt.Errorf("dataflow: ScanAppended of an arranged output")
	}
	if since := r.Since(); after < since || after > asOf {
		return fmt.Errorf("dataflow: rows appended after %d read as of %d with a hold at %d", after, asOf, since)
	}
	v, err := r.logView(asOf)
	if err != nil {
		return err
	}
	v.between(int64(after), asOf, 0, fn)
	return nil
}

// Count returns the multiplicity of row as of asOf. Over an append log
// it scans the log.
func (r *OutputReader) Count(asOf repr.Timestamp, row repr.Row) (repr.Diff, error) {
	var n repr.Diff
	if r.ok == nil {
		v, err := r.logView(asOf)
		if err != nil {
			return 0, err
		}
		v.each(asOf, func(x repr.Row, d repr.Diff) bool {
			if string(x) == string(row) {
				n += d
			}
			return true
		})
		return n, nil
	}
	err := r.ok.Lookup(asOf, row, func(_ repr.Row, d repr.Diff) bool {
		n += d
		return true
	})
	return n, err
}

// Release drops the reader's holds.
func (r *OutputReader) Release() {
	if r.ok != nil {
		r.ok.Release()
	}
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
		// The shards' batches are built (sorted, consolidated) at once,
		// one per worker, as an arrangement's are.
		if err := op.in.g.parallel(rows.Len(), func(s int) error {
			var err error
			bs[s], err = op.bds[s].build(op.in.g.ctl)
			return err
		}); err != nil {
			return err
		}
		stampLoaded(bs, loaded, t)
		tr.Insert(bs, t)
		return nil
	}
	if op.out.log != nil {
		// The loaded rows first: they are the contents before the step.
		if loaded := op.out.load.takeRows(); loaded != nil {
			op.out.log.append(loaded, t)
		}
		op.out.log.append(&op.in.ok, t)
		m.grow(op.in.ok.Bytes() + 4*op.in.ok.Len())
		if err := m.poll(); err != nil {
			return err
		}
	} else if err := ins(&op.in.ok, op.out.ok, op.out.load.take()); err != nil {
		return err
	}
	if err := ins(&op.in.errs, op.out.errs, nil); err != nil {
		return err
	}
	if op.out.log != nil {
		// The err trace's compaction frontier is the output's: every
		// reader holds its since there.
		op.out.log.compact(op.out.errs.compactedTo())
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
