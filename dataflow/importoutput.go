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
	if o.errs.Shards() != g.opts.Workers {
		return nil, fmt.Errorf("dataflow: import of an output of %d shards into a graph of %d workers", o.errs.Shards(), g.opts.Workers)
	}
	if o.log != nil {
		return g.importLog(o, errsOnly), nil
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

// importLog imports an append-only output: the ok rows of a step at t are
// the log's updates at times in (the previous step, t] (all those <= t at
// the first step), read from the log itself, which keeps every time; its
// errors come as an arranged output's.
func (g *Graph) importLog(o *Output, errsOnly bool) *Collection {
	errR := o.errs.Reader(o.Since())
	g.traces = append(g.traces, errR)
	errID, errFeed := o.errs.subscribe()
	c := g.newCollection(o.arity)
	g.add(&importOutputOp{out: c, o: o, okR: errR, errFeed: errFeed, errID: errID, feedFrom: o.errs.Upper(), errsOnly: errsOnly})
	return c
}

// ImportOutputChunked imports o's contents as of asOf, and nothing
// after: an append-only output (Ordered false) is delivered over as many
// steps as it takes to pass at most chunk bytes of packed rows per step
// (ImportsPending reports whether more are to come), so that a one-shot
// dataflow over a large source holds one chunk's rows and what its
// operators make of them at a time rather than all of it at once (a
// join's output of every row); its errors come whole at the first step.
// The steps must be at or after asOf; the dataflow's answer as of asOf is
// its output at the last step. Any other output is imported as by
// ImportOutput, which delivers its contents at the first step.
// UnchunkImports turns chunking off before the first step.
func (g *Graph) ImportOutputChunked(o *Output, asOf repr.Timestamp, chunk int) (*Collection, error) {
	c, err := g.importOutput(o, false)
	if err != nil || o.log == nil {
		return c, err
	}
	op := g.ops[len(g.ops)-1].(*importOutputOp)
	op.chunk, op.asOf = chunk, asOf
	return c, nil
}

// ImportsPending reports whether a chunked import (ImportOutputChunked)
// has rows left for later steps.
func (g *Graph) ImportsPending() bool {
	for _, op := range g.ops {
		if io, ok := op.(*importOutputOp); ok && io.chunk > 0 && (!io.started || io.chunkLeft) {
			return true
		}
	}
	return false
}

// UnchunkImports makes every chunked import deliver its contents at the
// first step (a dataflow that also imports collections which do not stop
// at a time, and so must be read in one step). Call it before the first
// step.
func (g *Graph) UnchunkImports() {
	for _, op := range g.ops {
		if io, ok := op.(*importOutputOp); ok {
			io.chunk = 0
		}
	}
}

type importOutputOp struct {
	// chunk > 0: the import delivers the log's rows as of asOf in
	// steps of at most chunk bytes (ImportOutputChunked), from position
	// (chunkSeg, chunkRow) of the view taken at the first step;
	// chunkLeft while rows remain.
	chunk              int
	asOf               repr.Timestamp
	chunkView          logView
	chunkSeg, chunkRow int
	chunkLeft          bool

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
	// last is the time of the previous step.
	last repr.Timestamp
	// errsOnly: the ok rows are not delivered.
	errsOnly bool
	// logSeg is where the next step's scan of an append log starts.
	logSeg int
}

// okShards returns the shards of the output's rows the import delivers:
// none when it delivers errors only.
func (op *importOutputOp) okShards() []*Spine {
	if op.errsOnly || op.o.log != nil {
		return nil
	}
	return op.o.ok.shards
}

func (op *importOutputOp) close() {
	if op.okFeed != nil {
		op.o.ok.unsubscribe(op.okID)
	}
	op.o.errs.unsubscribe(op.errID)
}

// logRows appends to the collection the append log's updates at times in
// (lo, t] (lo < 0: all at times <= t), polling the step's control.
func (op *importOutputOp) logRows(lo int64, t repr.Timestamp, m *meter) error {
	if op.errsOnly || op.o.log == nil {
		return nil
	}
	v := op.o.log.view()
	if n, bytes := v.sizeBetween(lo, t, op.logSeg); n > 0 {
		op.out.ok.Reserve(n, bytes)
	}
	var err error
	op.logSeg = v.between(lo, t, op.logSeg, func(r repr.Row, d repr.Diff) bool {
		op.out.ok.Push(r, d)
		err = m.tick()
		return err == nil
	})
	return err
}

// logBusy reports whether an append log holds updates a step would
// deliver.
func (op *importOutputOp) logBusy() bool {
	if op.errsOnly || op.o.log == nil {
		return false
	}
	v := op.o.log.view()
	last, ok := v.lastTime()
	return ok && (!op.started || last > op.last)
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

func (op *importOutputOp) step(ctx context.Context, t repr.Timestamp) error {
	if op.chunk > 0 {
		return op.stepChunk(ctx, t)
	}
	c := op.out
	c.ok.Reset()
	c.errs.Reset()
	if up := op.o.Upper(); up <= t {
		return fmt.Errorf("dataflow: imported output is complete only to %d, not through %d", up, t)
	}
	var okFed []fedBatch
	if op.okFeed != nil {
		okFed = op.okFeed.take(t)
	}
	errFed := op.errFeed.take(t)
	m := c.g.meter(&c.ok, &c.errs)
	defer func() { op.last = t }()
	if !op.started {
		op.started = true
		if since := op.okR.Since(); since > t {
			return fmt.Errorf("dataflow: import as of %d is before the output's since %d", t, since)
		}
		op.first = t
		if err := op.logRows(-1, t, &m); err != nil {
			return err
		}
		// The snapshot is copied batch by batch, polling the step's
		// control (cancellation, memory budget) between batches.
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
		if err := op.logRows(int64(op.last), t, &m); err != nil {
			return err
		}
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
	if op.o.log == nil {
		// An append log's rows are delivered as they came: a
		// collection's delta need not be consolidated, and the
		// operators that need order sort it themselves.
		c.ok.Consolidate()
	}
	c.errs.Consolidate()
	return m.poll()
}

// stepChunk is a chunked import's step (ImportOutputChunked): the first
// delivers the errors as of asOf and the first chunk of rows, later steps
// the next chunks, and nothing once the rows as of asOf are all out.
func (op *importOutputOp) stepChunk(_ context.Context, t repr.Timestamp) error {
	c := op.out
	c.ok.Reset()
	c.errs.Reset()
	m := c.g.meter(&c.ok, &c.errs)
	if !op.started {
		op.started = true
		if t < op.asOf {
			return fmt.Errorf("dataflow: chunked import as of %d stepped at %d", op.asOf, t)
		}
		if up := op.o.Upper(); up <= op.asOf {
			return fmt.Errorf("dataflow: imported output is complete only to %d, not through %d", up, op.asOf)
		}
		if since := op.okR.Since(); since > op.asOf {
			return fmt.Errorf("dataflow: import as of %d is before the output's since %d", op.asOf, since)
		}
		op.first = t
		op.chunkView = op.o.log.view()
		op.chunkLeft = true
		for _, sp := range op.o.errs.shards {
			for _, b := range sp.snapshot() {
				keysInto(&c.errs, b, -1, op.asOf, false)
			}
		}
		c.errs.Consolidate()
	}
	op.last = t
	if !op.chunkLeft {
		return m.poll()
	}
	v := &op.chunkView
	// Room for this step's chunk at once: growing by appends would copy a
	// 64 MiB chunk several times over, and a chunk past keepBytes is not
	// kept for the next step.
	if n, size := v.sizeBetween(-1, op.asOf, op.chunkSeg); n > 0 {
		if avg := max(size/n, 1); size > op.chunk {
			n, size = op.chunk/avg+1, op.chunk+avg
		}
		c.ok.Reserve(n, size)
	}
	bytes := 0
	for op.chunkSeg < len(v.segs) {
		s := v.seg(op.chunkSeg)
		n := s.upTo(op.asOf)
		for ; op.chunkRow < n; op.chunkRow++ {
			if bytes >= op.chunk {
				return m.poll()
			}
			r := s.row(op.chunkRow)
			c.ok.Push(r, s.diff(op.chunkRow))
			bytes += len(r)
			if err := m.tick(); err != nil {
				return err
			}
		}
		if n < s.len() {
			break // later segments hold later times
		}
		op.chunkSeg, op.chunkRow = op.chunkSeg+1, 0
	}
	op.chunkLeft = false
	op.chunkView = logView{}
	return m.poll()
}
