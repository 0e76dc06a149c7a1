package dataflow

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/viewd/viewd/repr"
)

// ErrReleased is returned by reads through a released TraceReader.
var ErrReleased = errors.New("dataflow: trace reader released")

// lookup calls fn for every update of key k whose time satisfies keep,
// batch by batch (diffs for one val may arrive in several calls).
func lookup(bs []*Batch, k repr.Row, keep func(repr.Timestamp) bool, fn func(v repr.Row, d repr.Diff)) {
	lookupHashed(bs, k, keyHash(k), keep, fn)
}

// lookupHashed is lookup given h = keyHash(k): batches whose key filter
// rules k out are not searched.
func lookupHashed(bs []*Batch, k repr.Row, h uint64, keep func(repr.Timestamp) bool, fn func(v repr.Row, d repr.Diff)) {
	for _, b := range bs {
		if !b.mayHold(h) {
			continue
		}
		i := b.seek(k)
		if i < 0 {
			continue
		}
		s, e := b.updRange(i)
		for u := s; u < e; u++ {
			if keep(b.time(u)) {
				fn(b.val(u), b.diff(u))
			}
		}
	}
}

// Trace is an arrangement's multiversion index, partitioned by key hash into
// one spine per worker. The TraceWriter half inserts batches; TraceReader
// handles read it and hold back its compaction.
type Trace struct {
	shards []*Spine
	arity  int

	mu        sync.Mutex
	listeners map[uint64]*batchFeed
	nextL     uint64
}

// NewTrace returns an empty trace of w shards whose vals have arity
// columns.
func NewTrace(w, arity int) *Trace {
	t := &Trace{arity: arity, listeners: map[uint64]*batchFeed{}}
	for range w {
		t.shards = append(t.shards, newSpine())
	}
	return t
}

// Arity returns the number of columns of the trace's vals.
func (t *Trace) Arity() int { return t.arity }

// Shards returns the number of shards.
func (t *Trace) Shards() int { return len(t.shards) }

// TraceWriter inserts batches into a trace.
type TraceWriter interface {
	// Insert adds one batch per shard, all at time t, and advances the
	// upper to t+1.
	Insert(perShard []*Batch, t repr.Timestamp)
	// Advance moves the upper to u.
	Advance(u repr.Timestamp)
}

// TraceReader reads a trace: cursors as of a time, lookups, its frontiers.
// A reader holds the trace's since at its own since until Release.
type TraceReader interface {
	// Since returns the reader's since: reads at times >= since are exact.
	Since() repr.Timestamp
	// SetSince advances the reader's since (it never goes back), allowing
	// compaction up to it.
	SetSince(t repr.Timestamp)
	// Upper returns the trace's upper: times below it are complete.
	Upper() repr.Timestamp
	// Cursor returns a cursor over the trace's contents accumulated as of
	// asOf, which must lie in [Since, Upper). The cursor merges the
	// trace's batches lazily; it is valid while the reader is held.
	Cursor(asOf repr.Timestamp) (*Cursor, error)
	// Lookup calls fn with each val of key k and its multiplicity as of
	// asOf (consolidated, in val order) until fn returns false. It costs a
	// filter probe per batch of k's shard and a search of the batches
	// the filter does not rule out.
	Lookup(asOf repr.Timestamp, k repr.Row, fn func(v repr.Row, d repr.Diff) bool) error
	// Trace returns the underlying trace (for Graph.Import).
	Trace() *Trace
	// Release drops the reader's hold.
	Release()
}

var _ TraceWriter = (*Trace)(nil)

// Insert implements TraceWriter.
func (t *Trace) Insert(perShard []*Batch, at repr.Timestamp) {
	for i, b := range perShard {
		if b == nil {
			b = &Batch{}
		}
		t.shards[i].insert(b, at)
	}
	t.mu.Lock()
	for _, f := range t.listeners {
		f.push(at, perShard)
	}
	t.mu.Unlock()
}

// Advance implements TraceWriter.
func (t *Trace) Advance(u repr.Timestamp) {
	for _, s := range t.shards {
		s.advance(u)
	}
}

// Upper returns the least upper of the shards.
func (t *Trace) Upper() repr.Timestamp {
	u := repr.MaxTimestamp
	for _, s := range t.shards {
		u = min(u, s.Upper())
	}
	return u
}

// compactedTo returns the frontier the trace's shards have compacted to:
// no reader reads before it.
func (t *Trace) compactedTo() repr.Timestamp {
	f := repr.MaxTimestamp
	for _, s := range t.shards {
		s.mu.Lock()
		f = min(f, s.since)
		s.mu.Unlock()
	}
	return f
}

// Stats returns the number of updates, packed bytes and overhead bytes
// held by the trace. The overhead includes the output slabs of merges in
// progress, allocated whole when a merge starts.
func (t *Trace) Stats() (updates, packed, overhead int) {
	for _, s := range t.shards {
		for _, b := range s.snapshot() {
			updates += b.Len()
			packed += b.PackedBytes()
			overhead += b.OverheadBytes()
		}
		overhead += s.mergingBytes()
	}
	return
}

// Reader returns a new reader holding since at t.
func (t *Trace) Reader(since repr.Timestamp) TraceReader {
	r := &traceReader{t: t, since: since, ids: make([]uint64, len(t.shards))}
	for i, s := range t.shards {
		s.mu.Lock()
		if since < s.since {
			since = s.since
		}
		r.ids[i] = s.next
		s.next++
		s.holds[r.ids[i]] = r.since
		s.mu.Unlock()
	}
	r.since = max(r.since, since)
	return r
}

var _ TraceReader = (*traceReader)(nil)

// traceReader is a TraceReader holding one since per shard of a trace.
type traceReader struct {
	t        *Trace
	mu       sync.Mutex
	since    repr.Timestamp
	ids      []uint64
	released bool
}

// Trace implements TraceReader.
func (r *traceReader) Trace() *Trace { return r.t }

// Since implements TraceReader.
func (r *traceReader) Since() repr.Timestamp {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.since
}

// SetSince implements TraceReader.
func (r *traceReader) SetSince(t repr.Timestamp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released || t <= r.since {
		return
	}
	r.since = t
	for i, s := range r.t.shards {
		s.mu.Lock()
		s.holds[r.ids[i]] = t
		s.mu.Unlock()
	}
}

// Upper implements TraceReader.
func (r *traceReader) Upper() repr.Timestamp { return r.t.Upper() }

// Release implements TraceReader.
func (r *traceReader) Release() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.released {
		return
	}
	r.released = true
	for i, s := range r.t.shards {
		s.mu.Lock()
		delete(s.holds, r.ids[i])
		s.mu.Unlock()
	}
}

// check reports whether the reader can read as of asOf.
func (r *traceReader) check(asOf repr.Timestamp) error {
	r.mu.Lock()
	since, released := r.since, r.released
	r.mu.Unlock()
	if released {
		return ErrReleased
	}
	if asOf < since {
		return fmt.Errorf("dataflow: read as of %d is before the trace's since %d", asOf, since)
	}
	if up := r.t.Upper(); asOf >= up {
		return fmt.Errorf("dataflow: read as of %d is not complete: the trace's upper is %d", asOf, up)
	}
	return nil
}

// Cursor implements TraceReader.
func (r *traceReader) Cursor(asOf repr.Timestamp) (*Cursor, error) {
	if err := r.check(asOf); err != nil {
		return nil, err
	}
	return newCursor(r.t.snapshot(), asOf), nil
}

// snapshot returns every shard's batches (immutable) as of now.
func (t *Trace) snapshot() []*Batch {
	var bs []*Batch
	for _, s := range t.shards {
		bs = append(bs, s.snapshot()...)
	}
	return bs
}

// Lookup implements TraceReader.
func (r *traceReader) Lookup(asOf repr.Timestamp, k repr.Row, fn func(v repr.Row, d repr.Diff) bool) error {
	if err := r.check(asOf); err != nil {
		return err
	}
	h := keyHash(k)
	vs := lookupVals(r.t.shards[h%uint64(len(r.t.shards))].snapshot(), k, h, func(t repr.Timestamp) bool { return t <= asOf }, nil)
	for _, x := range vs {
		if !fn(x.v, x.d) {
			break
		}
	}
	return nil
}

// Peek returns every (val, multiplicity) of the trace as of asOf, sorted by
// val bytes.
func Peek(r TraceReader, asOf repr.Timestamp) (*Rows, error) {
	c, err := r.Cursor(asOf)
	if err != nil {
		return nil, err
	}
	var out Rows
	for ; c.KeyValid(); c.StepKey() {
		for ; c.ValValid(); c.StepVal() {
			v, d := c.Val()
			out.Push(v, d)
		}
	}
	out.Consolidate()
	return &out, nil
}

// PeekKey returns the vals of key k as of asOf (an index lookup).
func PeekKey(r TraceReader, k repr.Row, asOf repr.Timestamp) (*Rows, error) {
	var out Rows
	err := r.Lookup(asOf, k, func(v repr.Row, d repr.Diff) bool {
		out.Push(v, d)
		return true
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// batchFeed queues the batches a trace receives for one importing graph.
type batchFeed struct {
	mu      sync.Mutex
	pending []fedBatch
}

type fedBatch struct {
	t  repr.Timestamp
	bs []*Batch
}

func (f *batchFeed) push(t repr.Timestamp, bs []*Batch) {
	f.mu.Lock()
	f.pending = append(f.pending, fedBatch{t, slices.Clone(bs)})
	f.mu.Unlock()
}

// take removes and returns the batches at times <= t.
func (f *batchFeed) take(t repr.Timestamp) []fedBatch {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := 0
	for i < len(f.pending) && f.pending[i].t <= t {
		i++
	}
	out := f.pending[:i:i]
	f.pending = slices.Clone(f.pending[i:])
	return out
}

func (t *Trace) subscribe() (uint64, *batchFeed) {
	t.mu.Lock()
	defer t.mu.Unlock()
	id := t.nextL
	t.nextL++
	f := &batchFeed{}
	t.listeners[id] = f
	return id, f
}

func (t *Trace) unsubscribe(id uint64) {
	t.mu.Lock()
	delete(t.listeners, id)
	t.mu.Unlock()
}
