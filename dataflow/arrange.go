package dataflow

import (
	"bytes"
	"context"
	"fmt"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// Arranged is a collection indexed by key: a Trace (sharded by key hash)
// plus, each step, the batches that step added (the arrangement's delta).
// The key of an update is the packed values of the key expressions; its val
// is the whole row.
type Arranged struct {
	g      *Graph
	trace  *Trace
	keyLen int // number of key columns
	arity  int // columns of the vals
	// delta holds this step's batch per shard (nil entries are empty).
	delta []*Batch
	// errs is the err stream of the arranged collection.
	errs *Collection
	// coll, when requested, is the vals as a collection.
	coll *Collection
	// load holds a snapshot loaded for the next step (Loader).
	load loadSlot
}

// Trace returns the arrangement's trace, e.g. to share it with other
// graphs through Trace.Reader and Graph.Import.
func (a *Arranged) Trace() *Trace { return a.trace }

// Arity returns the number of columns of the arranged rows.
func (a *Arranged) Arity() int { return a.arity }

// Errs returns the arrangement's err collection.
func (a *Arranged) Errs() *Collection { return a.errs }

// deltaLen returns the number of updates in this step's delta.
func (a *Arranged) deltaLen() int {
	n := 0
	for _, b := range a.delta {
		if b != nil {
			n += b.Len()
		}
	}
	return n
}

// Arrange indexes c by the values of key (expressions over c's columns).
//
// Algebra: the arrangement is the collection itself, with history: reading
// it as of t gives Σ{updates at times <= t}. Hazards: a key expression that
// fails sends the row to the err stream (it is not arranged). Keys compare
// by packed bytes, so key expressions must be of one type per column
// (int4 and int8 keys do not meet).
func (c *Collection) Arrange(key []expr.Scalar) *Arranged {
	g := c.g
	a := &Arranged{g: g, trace: NewTrace(g.opts.Workers, c.arity), keyLen: len(key), arity: c.arity, errs: g.newCollection(2)}
	g.traces = append(g.traces, a.trace.Reader(0))
	g.owned = append(g.owned, a.trace)
	op := &arrangeOp{in: c, out: a, keyer: newKeyer(key)}
	g.add(op)
	return a
}

// ArrangeColumns is Arrange with key columns.
func (c *Collection) ArrangeColumns(cols ...int) *Arranged {
	key := make([]expr.Scalar, len(cols))
	for i, k := range cols {
		key[i] = expr.Column{Index: k}
	}
	return c.Arrange(key)
}

type arrangeOp struct {
	in    *Collection
	out   *Arranged
	keyer *keyer
	pk    repr.Packer
	// per-shard builders
	bds []Builder
}

// keyColumns returns the column of each key expression when every key
// expression is a column reference.
func keyColumns(key []expr.Scalar) ([]int, bool) {
	cols := make([]int, len(key))
	for i, e := range key {
		c, ok := e.(expr.Column)
		if !ok {
			return nil, false
		}
		cols[i] = c.Index
	}
	return cols, true
}

// appendColumns copies the packed bytes of columns cols of row into pk,
// without decoding them: in their canonical packing
// (repr.AppendCanonical: numerics without display scale) when canonical.
// It reports whether it could (a truncated datum: not) and whether the
// canonical packing dropped a display scale. offs is scratch.
func appendColumns(pk *repr.Packer, row repr.Row, cols []int, offs *[]int, canonical bool) (ok, scaled bool) {
	need := 0
	for _, c := range cols {
		need = max(need, c+1)
	}
	o := (*offs)[:0]
	it := row.Iter()
	for range need {
		o = append(o, it.Offset())
		if !it.Skip() {
			return false, false
		}
	}
	o = append(o, it.Offset())
	*offs = o
	if o[len(o)-1] > len(row) {
		// A truncated datum: let the evaluating path report it.
		return false, false
	}
	if !canonical {
		for _, c := range cols {
			pk.PushRow(row[o[c]:o[c+1]])
		}
		return true, false
	}
	for _, c := range cols {
		d := row[o[c]:o[c+1]]
		at := pk.Len()
		pk.PushCanonical(d)
		// Compared by bytes, not length: a float -0 and some interval
		// elements canonicalise to packings as long as their own.
		scaled = scaled || !bytes.Equal(pk.Row()[at:], d)
	}
	return true, scaled
}

// keyer packs the key of a row: by copying packed column bytes when the
// key is a list of columns, else by evaluating the key expressions. Keys
// are canonical: a numeric is packed without its display scale
// (repr.Packer.PushKey), so that equal values (1.10, 1.1) have one key
// and meet in joins, groups and lookups; the vals keep the scale.
type keyer struct {
	key    []expr.Scalar
	cols   []int
	byCols bool
	offs   []int
	datums []repr.Datum
	// scaled is whether the last pack dropped a display scale: the key
	// as its values print (packExact) differs from the canonical key.
	scaled bool
}

func newKeyer(key []expr.Scalar) *keyer {
	cols, ok := keyColumns(key)
	return &keyer{key: key, cols: cols, byCols: ok}
}

// pack packs the canonical key of row into pk.
func (k *keyer) pack(ctx *expr.EvalCtx, row repr.Row, pk *repr.Packer) error {
	return k.packMode(ctx, row, pk, true)
}

// packExact packs the key of row as its values print: numerics with their
// display scales.
func (k *keyer) packExact(ctx *expr.EvalCtx, row repr.Row, pk *repr.Packer) error {
	return k.packMode(ctx, row, pk, false)
}

func (k *keyer) packMode(ctx *expr.EvalCtx, row repr.Row, pk *repr.Packer, canonical bool) error {
	pk.Reset()
	k.scaled = false
	if len(k.key) == 0 {
		return nil
	}
	if k.byCols {
		if ok, scaled := appendColumns(pk, row, k.cols, &k.offs, canonical); ok {
			k.scaled = scaled
			return nil
		}
	}
	pk.Reset()
	k.datums = row.Unpack(k.datums[:0])
	for _, e := range k.key {
		d, err := evalScalar(ctx, e, k.datums)
		if err != nil {
			return err
		}
		if canonical {
			k.scaled = pk.PushKey(d) || k.scaled
		} else {
			pk.Push(d)
		}
	}
	return nil
}

func (o *arrangeOp) step(_ context.Context, t repr.Timestamp) error {
	g := o.in.g
	W := g.opts.Workers
	errs := o.out.errs
	errs.ok.Reset()
	errs.errs.Reset()
	errs.ok.Append(&o.in.errs, 1)
	if o.bds == nil {
		o.bds = make([]Builder, W)
	}
	n := o.in.ok.Len()
	for s := range o.bds {
		o.bds[s].Reserve(n/W+1, (o.in.ok.Bytes()+4*n)/W)
	}
	m := g.meter(nil, &errs.ok)
	for i := range n {
		if err := m.tick(); err != nil {
			return err
		}
		row, d := o.in.ok.Row(i), o.in.ok.Diff(i)
		m.grow(len(row) + 32)
		if err := o.keyer.pack(&g.eval, row, &o.pk); err != nil {
			errs.ok.Push(ErrRow(err), d)
			continue
		}
		k := o.pk.Row()
		o.bds[shardOf(k, W)].Add(k, row, t, d)
	}
	errs.ok.Consolidate()
	delta := o.out.delta
	loaded := o.out.load.take()
	if n > 0 || !allEmpty(delta) || loaded != nil {
		delta = make([]*Batch, W)
		if err := g.parallel(n, func(s int) error {
			var err error
			delta[s], err = o.bds[s].build(g.ctl)
			return err
		}); err != nil {
			return err
		}
		stampLoaded(delta, loaded, t)
	}
	o.out.delta = delta
	o.out.trace.Insert(delta, t)
	if c := o.out.coll; c != nil {
		fillColl(c, delta)
	}
	return nil
}

// allEmpty reports whether a delta is known to be empty (every shard's
// batch is the shared empty batch).
func allEmpty(delta []*Batch) bool {
	if delta == nil {
		return false
	}
	for _, b := range delta {
		if b != emptyBatch {
			return false
		}
	}
	return true
}

// fillColl sets c's ok delta to the vals of the batches, one batch per
// shard. The result is consolidated but for its order: a batch holds each
// (key, val) once with a non-zero diff, the key is a function of the val
// (the row), and a key lives in one shard, so no val repeats and no sort is
// needed (a million-row snapshot would otherwise be sorted again here).
func fillColl(c *Collection, delta []*Batch) {
	c.ok.Reset()
	n, size := 0, 0
	for _, b := range delta {
		if b != nil {
			n += b.Len()
			size += len(b.valData)
		}
	}
	c.ok.Reserve(n, size)
	manyTimes := false
	for _, b := range delta {
		if b == nil {
			continue
		}
		// A batch of several times may hold a val more than once.
		manyTimes = manyTimes || b.times.width != 0
		for j := range b.Len() {
			c.ok.Push(b.val(j), b.diff(j))
		}
	}
	if manyTimes {
		c.ok.Consolidate()
	}
}

// AsCollection returns the arranged rows as a collection (the
// arrangement's deltas, with its err stream).
func (a *Arranged) AsCollection() *Collection {
	if a.coll == nil {
		a.coll = a.g.newCollection(a.arity)
		a.g.add(&asCollOp{a: a})
	}
	return a.coll
}

type asCollOp struct{ a *Arranged }

func (o *asCollOp) step(context.Context, repr.Timestamp) error {
	c := o.a.coll
	c.errs.Reset()
	c.errs.Append(&o.a.errs.ok, 1)
	fillColl(c, o.a.delta)
	return nil
}

// Import brings a shared arrangement (another graph's, or an index's) into
// g. The importing graph reads its history through r and, each step,
// receives as its delta the batches the trace gained since the previous
// step; its first step receives the whole trace as of that step (the
// snapshot). g takes ownership of r: r's since follows g's steps, holding
// back the trace's compaction, and is released by g.Close. The trace must
// have one shard per worker of g.
func (g *Graph) Import(r TraceReader, keyLen int) (*Arranged, error) {
	return g.ImportWithErrors(r, keyLen, nil)
}

// ImportWithErrors is Import for an arrangement whose collection has
// errors the arrangement does not hold (an index of a materialized view:
// its errors are in the view's output): each step, the arranged
// collection's err stream is errs's (a collection of g built before this
// call, e.g. by ImportOutputErrors), so that whatever reads the
// arrangement fails as reading the collection would.
func (g *Graph) ImportWithErrors(r TraceReader, keyLen int, errs *Collection) (*Arranged, error) {
	if errs != nil && errs.g != g {
		return nil, fmt.Errorf("dataflow: import's errors come from another graph")
	}
	t := r.Trace()
	if t.Shards() != g.opts.Workers {
		return nil, fmt.Errorf("dataflow: import of a trace of %d shards into a graph of %d workers", t.Shards(), g.opts.Workers)
	}
	a := &Arranged{g: g, trace: t, keyLen: keyLen, arity: t.arity, errs: g.newCollection(2)}
	id, feed := t.subscribe()
	g.traces = append(g.traces, r)
	g.add(&importOp{a: a, r: r, feed: feed, id: id, errsFrom: errs})
	return a, nil
}

type importOp struct {
	a *Arranged
	// errsFrom, if set, supplies the arranged collection's errors.
	errsFrom *Collection
	r        TraceReader
	feed     *batchFeed
	id       uint64
	started  bool
}

func (o *importOp) close() { o.a.trace.unsubscribe(o.id) }

func (o *importOp) step(_ context.Context, t repr.Timestamp) error {
	a := o.a
	m := a.g.meter(nil, nil)
	a.errs.ok.Reset()
	if o.errsFrom != nil {
		a.errs.ok.Append(&o.errsFrom.errs, 1)
	}
	if up := a.trace.Upper(); up <= t {
		return fmt.Errorf("dataflow: imported trace is complete only to %d, not through %d", up, t)
	}
	fed := o.feed.take(t)
	W := len(a.trace.shards)
	delta := make([]*Batch, W)
	if !o.started {
		o.started = true
		if since := o.r.Since(); since > t {
			return fmt.Errorf("dataflow: import as of %d is before the trace's since %d", t, since)
		}
		for s, sp := range a.trace.shards {
			if snap := sp.snapshot(); maxTimeAtMost(snap, t) {
				// Every update is at or before t (a dataflow created
				// under the coordinator's lock): the snapshot as of t is
				// the batches merged with their times advanced to t, a
				// linear merge of sorted runs instead of a sort.
				if len(snap) == 1 && snap[0].times.width == 0 {
					// One batch of one time (a table just loaded or
					// arranged in one step): advancing its time is
					// all, and its immutable slices are shared.
					b := *snap[0]
					b.times, b.since = constTimes(t), t
					delta[s] = &b
					continue
				}
				acc := emptyBatch
				for i := len(snap) - 1; i >= 0; i-- {
					if err := m.tick(); err != nil {
						return err
					}
					acc = mergeBatches(acc, snap[i], t)
				}
				m.grow(acc.PackedBytes() + acc.OverheadBytes())
				delta[s] = acc
				continue
			}
			var bd Builder
			for _, b := range sp.snapshot() {
				for k := range b.Keys() {
					key := b.key(k)
					st, e := b.updRange(k)
					for u := st; u < e; u++ {
						if b.time(u) <= t {
							bd.Add(key, b.val(u), t, b.diff(u))
							m.grow(len(key) + len(b.val(u)) + 32)
							if err := m.tick(); err != nil {
								return err
							}
						}
					}
				}
			}
			var err error
			if delta[s], err = bd.build(a.g.ctl); err != nil {
				return err
			}
		}
	} else if len(fed) == 1 {
		delta = fed[0].bs
	} else if len(fed) > 1 {
		for s := range W {
			var bd Builder
			for _, f := range fed {
				b := f.bs[s]
				if b == nil {
					continue
				}
				for k := range b.Keys() {
					key := b.key(k)
					st, e := b.updRange(k)
					for u := st; u < e; u++ {
						bd.Add(key, b.val(u), t, b.diff(u))
					}
				}
			}
			var err error
			if delta[s], err = bd.build(a.g.ctl); err != nil {
				return err
			}
		}
	}
	a.delta = delta
	if c := a.coll; c != nil {
		fillColl(c, delta)
	}
	return nil
}

// trim drops the import's delta after a step: on the first step it is a
// copy of the whole imported trace, which must not stay alive while the
// graph is idle.
func (o *importOp) trim() { o.a.delta = nil }

// trim drops the keyer's references into the step's rows.
func (k *keyer) trim() { k.datums = clearDatums(k.datums) }

// trim drops the operator's references into the step's rows.
func (o *arrangeOp) trim() { o.keyer.trim() }
