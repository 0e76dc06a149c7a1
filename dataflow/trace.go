package dataflow

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/viewd/viewd/repr"
)

// ErrReleased is returned by reads through a released TraceReader.
var ErrReleased = errors.New("dataflow: trace reader released")

// Spine is one shard of a trace: a list of batches whose sizes decrease
// geometrically (an LSM). Inserting a batch merges the two youngest batches
// while the younger is at least half the size of the older, so each update
// is merged O(log n) times and the spine holds O(log n) batches.
//
// Logical compaction: during a merge every time below the compaction
// frontier is advanced to it and equal (key, val, time) consolidate. The
// frontier is the least since held by any reader, and never more than the
// time before the newest batch (the trace's operators read the state just
// before the current step).
//
// The batch list is copy-on-write behind an atomic pointer: readers take a
// snapshot without locking, and a snapshot's batches are immutable.
type Spine struct {
	batches atomic.Pointer[[]*Batch]

	mu    sync.Mutex
	upper repr.Timestamp
	holds map[uint64]repr.Timestamp
	next  uint64
	// since is the frontier the spine has compacted to (monotone).
	since repr.Timestamp
	// bg is the background merge in progress, if any.
	bg *bgMerge
	// fuel is work (in updates) earned by inserts and spent compacting
	// batches whose since lags the frontier, so that history held only by
	// large, rarely merged batches is still collapsed, at amortised O(1)
	// extra work per inserted update.
	fuel int
}

func newSpine() *Spine {
	s := &Spine{holds: map[uint64]repr.Timestamp{}}
	s.batches.Store(&[]*Batch{})
	return s
}

func (s *Spine) snapshot() []*Batch { return *s.batches.Load() }

// insert adds a batch of updates at times in [upper, t] and advances upper
// to t+1.
func (s *Spine) insert(b *Batch, t repr.Timestamp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t+1 > s.upper {
		s.upper = t + 1
	}
	// Compaction frontier: the least reader hold, and at most t-1: the
	// step at t reads the state before t ("old") and at t ("new"), so
	// merges must keep times below t apart from t.
	frontier := t
	if frontier > 0 {
		frontier--
	}
	for _, h := range s.holds {
		frontier = min(frontier, h)
	}
	frontier = max(frontier, s.since)
	s.since = frontier
	old := s.snapshot()
	installed := s.installMerge(&old)
	if b.Len() == 0 && s.fuel == 0 && !installed {
		return
	}
	bs := make([]*Batch, 0, len(old)+1)
	bs = append(bs, old...)
	if b.Len() > 0 {
		bs = append(bs, b)
	}
	for len(bs) >= 2 && 2*bs[len(bs)-1].Len() >= bs[len(bs)-2].Len() {
		x, y := bs[len(bs)-2], bs[len(bs)-1]
		if s.bg != nil && (s.bg.b == x || s.bg.b == y) {
			break // x or y is being merged in the background
		}
		if x.Len()+y.Len() >= bgMergeMin && s.bg == nil {
			s.startMerge(x, y, frontier)
			break
		}
		m := mergeBatches(x, y, frontier)
		bs = bs[:len(bs)-2]
		if m.Len() > 0 {
			bs = append(bs, m)
		}
	}
	s.fuel += b.Len() + 1
	if b.Len() == 0 && len(bs) > 0 && bs[0].since >= frontier {
		s.fuel = 0 // nothing to compact: do not accumulate idle fuel
	}
	for i, old := range bs {
		if old.since >= frontier || old.times.width == 0 && old.times.base >= frontier {
			continue
		}
		if s.bg != nil && (s.bg.a == old || s.bg.b == old) {
			continue
		}
		if s.fuel < old.Len() {
			break
		}
		s.fuel -= old.Len()
		bs[i] = mergeBatches(old, &Batch{}, frontier)
	}
	bs = slices.DeleteFunc(bs, func(b *Batch) bool { return b.Len() == 0 && (s.bg == nil || (b != s.bg.a && b != s.bg.b)) })
	s.batches.Store(&bs)
}

// bgMergeMin is the least combined size of two batches that are merged on
// a background goroutine rather than inside the step: large merges would
// otherwise stall the step that triggers them (latency spikes).
var bgMergeMin = 1 << 17

// bgMerge is a merge in progress on a background goroutine. Its inputs
// stay in the spine, adjacent, until the merged batch replaces them; both
// forms hold the same updates (compaction only touches times before every
// reader's since), so readers never see the swap.
type bgMerge struct {
	a, b *Batch
	done chan struct{}
	out  *Batch
}

// startMerge merges a and b in the background. The goroutine runs a bounded
// amount of work over immutable batches and always ends.
func (s *Spine) startMerge(a, b *Batch, frontier repr.Timestamp) {
	m := &bgMerge{a: a, b: b, done: make(chan struct{})}
	s.bg = m
	go func() {
		m.out = mergeBatches(a, b, frontier)
		close(m.done)
	}()
}

// installMerge replaces a finished background merge's inputs in *bs by
// its output. It reports whether it did.
func (s *Spine) installMerge(bs *[]*Batch) bool {
	m := s.bg
	if m == nil {
		return false
	}
	select {
	case <-m.done:
	default:
		return false
	}
	s.bg = nil
	old := *bs
	for i := 0; i+1 < len(old); i++ {
		if old[i] == m.a && old[i+1] == m.b {
			nb := make([]*Batch, 0, len(old))
			nb = append(nb, old[:i]...)
			if m.out.Len() > 0 {
				nb = append(nb, m.out)
			}
			nb = append(nb, old[i+2:]...)
			*bs = nb
			return true
		}
	}
	return false
}

// waitMerges waits for a background merge to finish and installs it.
func (s *Spine) waitMerges() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bg == nil {
		return
	}
	<-s.bg.done
	bs := s.snapshot()
	if s.installMerge(&bs) {
		s.batches.Store(&bs)
	}
}

// advance moves upper to u without data.
func (s *Spine) advance(u repr.Timestamp) {
	s.mu.Lock()
	s.upper = max(s.upper, u)
	s.mu.Unlock()
}

// Upper returns the spine's upper frontier.
func (s *Spine) Upper() repr.Timestamp {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upper
}

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
// held by the trace.
func (t *Trace) Stats() (updates, packed, overhead int) {
	for _, s := range t.shards {
		for _, b := range s.snapshot() {
			updates += b.Len()
			packed += b.PackedBytes()
			overhead += b.OverheadBytes()
		}
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
