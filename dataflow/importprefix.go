package dataflow

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/viewd/viewd/repr"
)

// ImportPrefixes brings into g, as a collection, the vals of a shared
// arrangement whose keys start with one of prefixes (packed key datums, as
// the arrangement packs them: a prefix of a key's datums is a prefix of
// its bytes, and the keys that share it are contiguous in key order). It
// is an index read for a filter that fixes the leading key columns to
// literals: its first step seeks each prefix in a cursor over the trace as
// of that step, so the rest of the arrangement is never read; each later
// step filters the batches the trace gained since the previous one to the
// same prefixes. g takes ownership of r, as with Import, and as with
// Import the batches the trace gained before this call are not fed: a
// graph whose first step lies before the trace's upper at this call
// (minus one) misses the updates in between, so a graph that starts in
// the past (a SUBSCRIBE AS OF) reads outputs (ImportOutput) instead.
func (g *Graph) ImportPrefixes(r TraceReader, prefixes []repr.Row) (*Collection, error) {
	t := r.Trace()
	if t.Shards() != g.opts.Workers {
		return nil, fmt.Errorf("dataflow: import of a trace of %d shards into a graph of %d workers", t.Shards(), g.opts.Workers)
	}
	ps := make([]repr.Row, len(prefixes))
	for i, p := range prefixes {
		ps[i] = p.Clone()
	}
	slices.SortFunc(ps, func(a, b repr.Row) int { return bytes.Compare(a, b) })
	// A prefix that extends another reads a subset of its keys.
	ps = slices.CompactFunc(ps, func(a, b repr.Row) bool { return bytes.HasPrefix(b, a) })
	id, feed := t.subscribe()
	g.traces = append(g.traces, r)
	c := g.newCollection(t.arity)
	g.add(&importPrefixOp{out: c, r: r, t: t, prefixes: ps, feed: feed, id: id})
	return c, nil
}

type importPrefixOp struct {
	out      *Collection
	r        TraceReader
	t        *Trace
	prefixes []repr.Row // ascending; none extends another
	feed     *batchFeed
	id       uint64
	started  bool
}

func (o *importPrefixOp) close() { o.t.unsubscribe(o.id) }

func (o *importPrefixOp) step(_ context.Context, t repr.Timestamp) error {
	c := o.out
	c.ok.Reset()
	c.errs.Reset()
	if up := o.t.Upper(); up <= t {
		return fmt.Errorf("dataflow: imported trace is complete only to %d, not through %d", up, t)
	}
	fed := o.feed.take(t)
	m := c.g.meter(&c.ok, &c.errs)
	if !o.started {
		o.started = true
		cur, err := o.r.Cursor(t)
		if err != nil {
			return err
		}
		for _, p := range o.prefixes {
			for cur.SeekKey(p); cur.KeyValid() && bytes.HasPrefix(cur.Key(), p); cur.StepKey() {
				for ; cur.ValValid(); cur.StepVal() {
					c.ok.Push(cur.Val())
				}
				if err := m.poll(); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, f := range fed {
		for _, b := range f.bs {
			if b == nil {
				continue
			}
			k := 0
			for _, p := range o.prefixes {
				for k = gallop(b, k, p); k < b.Keys() && bytes.HasPrefix(b.key(k), p); k++ {
					s, e := b.updRange(k)
					for u := s; u < e; u++ {
						c.ok.Push(b.val(u), b.diff(u))
					}
				}
			}
		}
	}
	if len(fed) > 1 {
		c.ok.Consolidate()
	}
	return nil
}
