package dataflow

import (
	"bytes"
	"slices"

	"github.com/viewd/viewd/repr"
)

// Cursor walks a trace as of a time: key by key in key order and, within a
// key, val by val in val order with each val's multiplicity accumulated as
// of that time. Vals whose multiplicity is zero, and keys left with no
// val, are skipped.
//
// A cursor merges the trace's batches lazily (a k-way merge by key over
// every batch of every shard); it copies nothing but the current key's
// vals. Batches are immutable, so a cursor stays valid while the trace
// moves on, provided the reader that made it still holds a since at or
// before the cursor's time (otherwise merges may advance the times the
// cursor needs). A cursor is not safe for concurrent use.
type Cursor struct {
	asOf repr.Timestamp
	runs []cursorRun
	// heap holds the indexes of the runs that still have keys, as a
	// min-heap by their current key.
	heap []int
	// The current key and its consolidated vals.
	key   repr.Row
	vals  []valDiff
	v     int
	valid bool
}

// cursorRun is one batch and the index of its current key.
type cursorRun struct {
	b *Batch
	k int
}

func (r *cursorRun) key() repr.Row { return r.b.key(r.k) }

type valDiff struct {
	v repr.Row
	d repr.Diff
}

// newCursor returns a cursor over batches as of asOf, at the first key.
func newCursor(batches []*Batch, asOf repr.Timestamp) *Cursor {
	c := &Cursor{asOf: asOf}
	for _, b := range batches {
		if b.Keys() > 0 {
			c.runs = append(c.runs, cursorRun{b: b})
		}
	}
	c.Rewind()
	return c
}

// Rewind moves to the first key.
func (c *Cursor) Rewind() {
	for i := range c.runs {
		c.runs[i].k = 0
	}
	c.rebuild()
}

// SeekKey moves forward to the first key >= k. Each batch is searched by
// galloping from its current key (probing 1, 2, 4, ... keys ahead, then
// binary search), so seeking through keys in ascending order costs
// O(log gap) per batch rather than O(log n): a merge, not a lookup.
func (c *Cursor) SeekKey(k repr.Row) {
	if c.valid && bytes.Compare(c.key, k) >= 0 {
		return
	}
	for i := range c.runs {
		r := &c.runs[i]
		r.k = gallop(r.b, r.k, k)
	}
	c.rebuild()
}

// gallop returns the index of the first key >= k in b at or after from
// (b.Keys() if none): it probes 1, 2, 4, ... keys ahead of from, then
// searches the last step.
func gallop(b *Batch, from int, k repr.Row) int {
	n := b.Keys()
	kp := k.Prefix()
	if from >= n || b.cmpKey(from, k, kp) >= 0 {
		return from
	}
	// key(from) < k: find hi with key(hi) >= k (or n), then search (lo, hi].
	lo, step := from, 1
	hi := lo + step
	for hi < n && b.cmpKey(hi, k, kp) < 0 {
		lo = hi
		step *= 2
		hi = lo + step
	}
	return b.searchKey(lo+1, min(hi, n), k, kp)
}

// CountKeys adds to counts[i] the multiplicity of keys[i] as of the
// cursor's time, summed over its vals; keys must be in ascending order.
// It walks each batch once, galloping from key to key, and neither merges
// batches nor loads vals: the cheap way to ask which of many keys are
// present (a bulk insert's key check). The cursor's position is unchanged.
func (c *Cursor) CountKeys(keys []repr.Row, counts []repr.Diff) {
	for i := range c.runs {
		b := c.runs[i].b
		k := 0
		for j, key := range keys {
			if k = gallop(b, k, key); k >= b.Keys() {
				break
			}
			if !bytes.Equal(b.key(k), key) {
				continue
			}
			s, e := b.updRange(k)
			for u := s; u < e; u++ {
				if b.time(u) <= c.asOf {
					counts[j] += b.diff(u)
				}
			}
		}
	}
}

// rebuild heapifies the runs that have keys left and loads the first key.
func (c *Cursor) rebuild() {
	c.heap = c.heap[:0]
	for i := range c.runs {
		if c.runs[i].k < c.runs[i].b.Keys() {
			c.heap = append(c.heap, i)
		}
	}
	for i := len(c.heap)/2 - 1; i >= 0; i-- {
		c.down(i)
	}
	c.load()
}

func (c *Cursor) less(i, j int) bool {
	return bytes.Compare(c.runs[c.heap[i]].key(), c.runs[c.heap[j]].key()) < 0
}

func (c *Cursor) down(i int) {
	n := len(c.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && c.less(r, l) {
			m = r
		}
		if !c.less(m, i) {
			return
		}
		c.heap[i], c.heap[m] = c.heap[m], c.heap[i]
		i = m
	}
}

// load makes the least key with a non-zero val current, consuming the runs
// that hold it.
func (c *Cursor) load() {
	for len(c.heap) > 0 {
		c.key = c.runs[c.heap[0]].key()
		c.vals = c.vals[:0]
		from := 0
		for len(c.heap) > 0 {
			r := &c.runs[c.heap[0]]
			if !bytes.Equal(r.key(), c.key) {
				break
			}
			s, e := r.b.updRange(r.k)
			for u := s; u < e; u++ {
				if r.b.time(u) <= c.asOf {
					c.vals = append(c.vals, valDiff{r.b.val(u), r.b.diff(u)})
				}
			}
			from++
			r.k++
			if r.k >= r.b.Keys() {
				last := len(c.heap) - 1
				c.heap[0] = c.heap[last]
				c.heap = c.heap[:last]
			}
			if len(c.heap) > 0 {
				c.down(0)
			}
		}
		c.vals = consolidateVals(c.vals, from > 1)
		if len(c.vals) > 0 {
			c.v, c.valid = 0, true
			return
		}
	}
	c.valid, c.key, c.vals = false, nil, c.vals[:0]
}

// consolidateVals sums the diffs of equal vals and drops zeros. The vals
// of one batch arrive sorted; those of several batches are sorted first.
func consolidateVals(vs []valDiff, sortFirst bool) []valDiff {
	if len(vs) <= 1 {
		if len(vs) == 1 && vs[0].d == 0 {
			return vs[:0]
		}
		return vs
	}
	if sortFirst {
		slices.SortStableFunc(vs, func(a, b valDiff) int { return bytes.Compare(a.v, b.v) })
	}
	out := vs[:0]
	for _, x := range vs {
		if n := len(out); n > 0 && bytes.Equal(out[n-1].v, x.v) {
			out[n-1].d += x.d
			if out[n-1].d == 0 {
				out = out[:n-1]
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// KeyValid reports whether the cursor is at a key.
func (c *Cursor) KeyValid() bool { return c.valid }

// Key returns the current key.
func (c *Cursor) Key() repr.Row { return c.key }

// StepKey moves to the next key and its first val.
func (c *Cursor) StepKey() { c.load() }

// ValValid reports whether the cursor is at a val of the current key.
func (c *Cursor) ValValid() bool { return c.valid && c.v < len(c.vals) }

// Val returns the current val and its multiplicity.
func (c *Cursor) Val() (repr.Row, repr.Diff) { return c.vals[c.v].v, c.vals[c.v].d }

// StepVal moves to the next val.
func (c *Cursor) StepVal() { c.v++ }

// VisitVals calls fn with each val of the current key and its
// multiplicity, without moving the cursor.
func (c *Cursor) VisitVals(fn func(v repr.Row, d repr.Diff)) {
	for _, x := range c.vals {
		fn(x.v, x.d)
	}
}

// Count returns the sum of the current key's multiplicities: for a trace
// whose vals are empty (an Output), the key's multiplicity.
func (c *Cursor) Count() repr.Diff {
	var n repr.Diff
	for _, x := range c.vals {
		n += x.d
	}
	return n
}

// lookupVals appends the vals of key k whose updates' times satisfy keep,
// consolidated (diffs summed, zeros dropped) and sorted by val, from the
// batches of k's shard; h is keyHash(k). keep must accept the times up to
// a bound (keepNew, keepOld, t <= asOf): a batch whose earliest time it
// rejects (the step's own batch, read as of the last step) is skipped
// without probing its filter.
func lookupVals(bs []*Batch, k repr.Row, h uint64, keep func(repr.Timestamp) bool, out []valDiff) []valDiff {
	start, found := len(out), 0
	for _, b := range bs {
		if !keep(b.minTime()) || !b.mayHold(h) {
			continue
		}
		i := b.seek(k)
		if i < 0 {
			continue
		}
		found++
		s, e := b.updRange(i)
		for u := s; u < e; u++ {
			if keep(b.time(u)) {
				out = append(out, valDiff{b.val(u), b.diff(u)})
			}
		}
	}
	return append(out[:start], consolidateVals(out[start:], found > 1)...)
}

// ScanVals calls fn with every val of the trace as of asOf and its
// multiplicity, in key order, until fn returns false.
func ScanVals(r TraceReader, asOf repr.Timestamp, fn func(v repr.Row, d repr.Diff) bool) error {
	c, err := r.Cursor(asOf)
	if err != nil {
		return err
	}
	for ; c.KeyValid(); c.StepKey() {
		for ; c.ValValid(); c.StepVal() {
			if v, d := c.Val(); !fn(v, d) {
				return nil
			}
		}
	}
	return nil
}
