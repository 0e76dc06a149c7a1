package dataflow

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"

	"github.com/viewd/viewd/repr"
)

// Loader fills an arrangement with a snapshot of its contents, given as
// the arrangement's batches hold them: sorted by key bytes, then val
// bytes, each (key, val) once. A snapshot written from an arrangement
// (storage's table files) is in that order, so loading it needs no sort:
// each update is hashed to its shard and appended to that shard's batch,
// O(n) in all, where sending the same rows through an input costs a sort
// of every shard in the next step.
//
// The order is checked as the updates come, one comparison with the
// previous update each. Loaded bytes are not trusted blindly: from the
// first update out of order on, updates are collected and sorted when the
// loader finishes, merged with the sorted prefix, and a warning is
// logged, so an unsorted snapshot loads correctly, only slower. Equal
// adjacent (key, val) pairs are consolidated and zero diffs dropped.
//
// Finish hands the batches to the arrangement, whose next step takes them
// as part of its delta, at that step's time, as if the rows had been sent
// to its input for that step: operators downstream and graphs importing
// the arrangement see them as they would see the input's. A Loader is
// used by one goroutine; Finish must not run concurrently with a step of
// the arrangement's graph.
type Loader struct {
	name   string
	logger *slog.Logger
	target *loadSlot
	w      []batchWriter
	// bds collects, per shard, the updates that came after the first one
	// out of order; nil while the order holds.
	bds          []Builder
	prevK, prevV []byte
	have         bool
	n, late      int
	done         bool
	// rows collects an append log's load (nil for an arrangement's).
	rows *Rows
}

// loadSlot holds finished loads until the next step takes them.
type loadSlot struct {
	mu      sync.Mutex
	batches []*Batch // one per shard, times 0 until the step stamps them
	rows    *Rows    // an append log's load, in the order loaded
}

// put queues one load's batches; a second load before the step is an
// error (the caller loads each arrangement once).
func (s *loadSlot) put(bs []*Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batches != nil || s.rows != nil {
		return fmt.Errorf("dataflow: a load is already waiting for the next step")
	}
	s.batches = bs
	return nil
}

// putRows queues an append log's load.
func (s *loadSlot) putRows(rows *Rows) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.batches != nil || s.rows != nil {
		return fmt.Errorf("dataflow: a load is already waiting for the next step")
	}
	s.rows = rows
	return nil
}

// takeRows returns and clears the queued append-log load, if any.
func (s *loadSlot) takeRows() *Rows {
	s.mu.Lock()
	defer s.mu.Unlock()
	rows := s.rows
	s.rows = nil
	return rows
}

// take returns and clears the queued load, if any.
func (s *loadSlot) take() []*Batch {
	s.mu.Lock()
	defer s.mu.Unlock()
	bs := s.batches
	s.batches = nil
	return bs
}

// pending reports whether a load waits for the next step.
func (s *loadSlot) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches != nil || s.rows != nil
}

// Loader returns a loader of the arrangement's contents: keys are the
// packed key columns, vals whole rows, as the arrangement holds them.
func (a *Arranged) Loader(name string) *Loader {
	return newLoader(name, a.g, &a.load, a.trace.Shards())
}

// Loader returns a loader of the output's rows: each row is a key with an
// empty val (Push(row, nil, diff)), as the output's trace holds them. An
// append log's loader takes the rows in any order, a row possibly more
// than once, and appends them as they come (no order check, no sort).
func (o *Output) Loader(name string) *Loader {
	if o.log != nil {
		return &Loader{name: name, logger: o.g.opts.Logger, target: &o.load, rows: &Rows{}}
	}
	return newLoader(name, o.g, &o.load, o.ok.Shards())
}

func newLoader(name string, g *Graph, slot *loadSlot, shards int) *Loader {
	return &Loader{name: name, logger: g.opts.Logger, target: slot, w: make([]batchWriter, shards)}
}

// Reserve makes room for n more updates whose keys and vals take
// keyBytes and valBytes, spread over the shards, so that a load of known
// size does not grow (and copy) its batches as it goes. Shards by hash
// are even within a few hundred updates for large n; the slack covers
// that.
func (l *Loader) Reserve(n int, keyBytes, valBytes int64) {
	if l.rows != nil {
		l.rows.Reserve(n, int(keyBytes+valBytes))
		return
	}
	W := len(l.w)
	share := func(x int64) int {
		per := x / int64(W)
		return int(per + per/64 + 256)
	}
	for s := range l.w {
		w := &l.w[s]
		w.b.keyData = growCap(w.b.keyData, share(keyBytes))
		w.b.valData = growCap(w.b.valData, share(valBytes))
		w.b.keyEnds = growCap(w.b.keyEnds, share(int64(n)))
		w.b.keyUpds = growCap(w.b.keyUpds, share(int64(n)))
		w.b.valEnds = growCap(w.b.valEnds, share(int64(n)))
		w.b.diffs.small = growCap(w.b.diffs.small, share(int64(n)))
	}
}

func growCap[T any](s []T, n int) []T {
	if cap(s)-len(s) >= n {
		return s
	}
	out := make([]T, len(s), len(s)+n)
	copy(out, s)
	return out
}

// Push adds one update. k and v are copied.
func (l *Loader) Push(k, v repr.Row, d repr.Diff) {
	if d == 0 {
		return
	}
	l.n++
	if l.rows != nil {
		l.rows.Push(k, d) // an output's vals are empty
		return
	}
	if l.bds == nil && l.have {
		c := bytes.Compare(k, l.prevK)
		if c == 0 {
			c = bytes.Compare(v, l.prevV)
		}
		if c < 0 {
			l.bds = make([]Builder, len(l.w))
		}
	}
	s := shardOf(k, len(l.w))
	if l.bds != nil {
		l.late++
		l.bds[s].Add(k, v, 0, d)
		return
	}
	l.prevK = append(l.prevK[:0], k...)
	l.prevV = append(l.prevV[:0], v...)
	l.have = true
	l.w[s].push(k, v, 0, d)
}

// Finish builds the shards' batches and queues them for the
// arrangement's next step. It reports whether the updates were in order
// (when they were not, it has sorted them and logged a warning).
func (l *Loader) Finish() (sorted bool, err error) {
	if l.done {
		return false, fmt.Errorf("dataflow: load of %s finished twice", l.name)
	}
	l.done = true
	if l.rows != nil {
		return true, l.target.putRows(l.rows)
	}
	bs := make([]*Batch, len(l.w))
	for s := range l.w {
		b := l.w[s].finish()
		if l.bds != nil {
			b = mergeLoaded(b, l.bds[s].Build())
		}
		bs[s] = b
	}
	if l.bds != nil {
		l.logger.Warn("dataflow: loaded updates were not in arrangement order; sorted them",
			"arrangement", l.name, "updates", l.n, "sorted-late", l.late)
	}
	return l.bds == nil, l.target.put(bs)
}

// mergeLoaded merges two batches of one time, returning either unchanged
// when the other is empty (a loaded snapshot is not copied again).
func mergeLoaded(a, b *Batch) *Batch {
	switch {
	case b.Len() == 0:
		return a
	case a.Len() == 0:
		return b
	}
	return mergeBatches(a, b, 0)
}

// stampLoaded merges a queued load (one batch per shard, at time 0) into
// a step's delta at time t. The loaded batches hold a single time, so
// stamping sets their base time.
func stampLoaded(delta, loaded []*Batch, t repr.Timestamp) {
	for s, lb := range loaded {
		lb.times = constTimes(t)
		if delta[s] == nil {
			delta[s] = lb
			continue
		}
		delta[s] = mergeLoaded(lb, delta[s])
	}
}
