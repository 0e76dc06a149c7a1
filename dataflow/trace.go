package dataflow

import (
	"errors"
	"fmt"
	"math"
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
// Merges are fuelled, as in differential dataflow: a merge of fewer than
// fuelMergeMin updates is done at once, a larger one is started and then
// advanced by every later insert in proportion to the inserted batch
// (mergeFuel updates of merging per inserted update; a step without data
// gives each merge an eighth of its size, so that an idle spine finishes its
// merges). The
// younger batches must grow to half a merge's size before they merge with
// its output, which takes as many inserted updates as the fuel needs to
// finish it; so no step does more than a bounded multiple of its own input
// in merging, where an eager spine stalls the one step that triggers a
// merge of everything. Readers see a merge in progress as its two inputs.
//
// Logical compaction: during a merge every time below the compaction
// frontier is advanced to it and equal (key, val, time) consolidate. The
// frontier is the least since held by any reader, and never more than the
// time before the newest batch (the trace's operators read the state just
// before the current step).
//
// The batch list readers see is copy-on-write behind an atomic pointer:
// readers take a snapshot without locking, and a snapshot's batches are
// immutable.
type Spine struct {
	batches atomic.Pointer[[]*Batch]

	mu    sync.Mutex
	upper repr.Timestamp
	holds map[uint64]repr.Timestamp
	next  uint64
	// since is the frontier the spine has compacted to (monotone).
	since repr.Timestamp
	// parts is the spine as the writer sees it, oldest first: batches and
	// merges in progress (batches publishes it flattened).
	parts []spinePart
	// fuel is work (in updates) earned by inserts and spent compacting
	// batches whose since lags the frontier, so that history held only by
	// large, rarely merged batches is still collapsed, at amortised O(1)
	// extra work per inserted update.
	fuel int
	// forced counts merges finished at once because a younger batch had
	// to merge with them before their fuel finished them (never, while
	// the fuel keeps up; tests check it).
	forced int
	// merged counts the updates read by the merges started (benchmarks
	// report it per inserted update).
	merged int
}

// spinePart is a batch, or a merge in progress of two adjacent batches.
type spinePart struct {
	b *Batch
	m *merger
}

// len returns the number of updates the part holds (a merge in progress:
// its inputs').
func (p spinePart) len() int {
	if p.m != nil {
		return p.m.size()
	}
	return p.b.Len()
}

// fuelMergeMin is the least combined size of two batches whose merge is
// fuelled rather than done at once.
var fuelMergeMin = 1 << 14

// mergeFuel is the merging work, in updates read, that each merge in
// progress receives per inserted update: a merge of x+y updates starts
// with no younger batch and is needed once the younger batches reach
// (x+y)/2 updates, so 2 finishes it in time. idleFuel is the work an
// insert gives each merge in progress beside its updates' fuel, and the
// least a step without data gives it. (Vars for tests.)
var mergeFuel, idleFuel = 2, 1 << 10

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
	merging := false
	for _, p := range s.parts {
		merging = merging || p.m != nil
	}
	if b.Len() == 0 && s.fuel == 0 && !merging {
		return
	}
	s.fuelMerges(b.Len())
	work := mergeFuel*b.Len() + idleFuel
	if b.Len() > 0 {
		s.parts = append(s.parts, spinePart{b: b})
	}
	s.mergeDue(frontier, work)
	s.fuel += b.Len() + 1
	if b.Len() == 0 && len(s.parts) > 0 && s.parts[0].m == nil && s.parts[0].b.since >= frontier {
		s.fuel = 0 // nothing to compact: do not accumulate idle fuel
	}
	for i, p := range s.parts {
		old := p.b
		if p.m != nil || old.since >= frontier || old.times.width == 0 && old.times.base >= frontier {
			continue
		}
		if s.fuel < old.Len() {
			break
		}
		s.fuel -= old.Len()
		// A compaction is a merge with the empty batch, fuelled like
		// any other.
		s.parts[i] = s.startMerge(old, emptyBatch, frontier, work)
	}
	s.parts = slices.DeleteFunc(s.parts, func(p spinePart) bool { return p.m == nil && p.b.Len() == 0 })
	s.publish()
}

// mergeDue merges every two adjacent parts whose younger holds at least
// half as many updates as the older, from the youngest pair on, until none
// is left: at once when small, else by starting a fuelled merge (a merge in
// progress, younger or older, is not merged again until it finishes). A
// merge finished by fuel in the middle of the spine can make its pair with
// the older neighbour due, so the whole spine is looked at, not its tail.
func (s *Spine) mergeDue(frontier repr.Timestamp, work int) {
	for i := len(s.parts) - 1; i >= 1; i-- {
		if i >= len(s.parts) {
			continue
		}
		x, y := &s.parts[i-1], &s.parts[i]
		if y.m != nil || 2*y.len() < x.len() {
			continue
		}
		switch {
		case x.m != nil && x.m.b == emptyBatch:
			// A compaction in progress: the merge with y compacts
			// x's batch as well, so the compaction is dropped.
			*x = spinePart{b: x.m.a}
		case x.m != nil:
			// y must merge with x's output, which the fuel has not
			// finished: finish it now.
			x.m.work(math.MaxInt)
			*x = spinePart{b: x.m.finish()}
			s.forced++
		default:
			// The merge is needed once the younger parts reach half
			// its size: with them holding younger updates now, that
			// takes slack inserted updates, which bring it mergeFuel
			// times as much fuel. Work it needs beyond that is done
			// now (none at the tail, where younger is 0).
			younger := 0
			for _, p := range s.parts[i+1:] {
				younger += p.len()
			}
			size := x.len() + y.len()
			slack := max(size/2-younger, 0)
			*x = s.startMerge(x.b, y.b, frontier, max(work, size-mergeFuel*slack))
			s.parts = slices.Delete(s.parts, i, i+1)
		}
		s.parts = slices.DeleteFunc(s.parts, func(p spinePart) bool { return p.m == nil && p.b.Len() == 0 })
		// Look at the pair ending at the changed part again.
		i = min(i+1, len(s.parts))
	}
}

// fuelMerges advances every merge in progress by the fuel of an insert of
// n updates; without updates (an empty insert, or an advance of the upper
// in a step where nothing changed) by an eighth of its size, so merges left
// in progress when updates stop finish in a few steps rather than holding
// their inputs and their output's slabs. It reports whether one finished.
func (s *Spine) fuelMerges(n int) bool {
	finished := false
	for i, p := range s.parts {
		m := p.m
		if m == nil {
			continue
		}
		work := mergeFuel*n + idleFuel
		if n == 0 {
			work = max(idleFuel, m.size()/8)
		}
		if m.work(work); m.done() {
			s.parts[i] = spinePart{b: m.finish()}
			finished = true
		}
	}
	return finished
}

// startMerge merges x and y: at once when they are small, else as a merge
// in progress started with this insert's fuel (as every merge in progress
// got it).
func (s *Spine) startMerge(x, y *Batch, frontier repr.Timestamp, work int) spinePart {
	m := newMerger(x, y, frontier)
	s.merged += m.size()
	if m.size() < fuelMergeMin {
		work = math.MaxInt
	}
	if m.work(work); !m.done() {
		return spinePart{m: m}
	}
	return spinePart{b: m.finish()}
}

// publish stores the batches readers see: every batch, and both inputs of
// every merge in progress, oldest first.
func (s *Spine) publish() {
	bs := make([]*Batch, 0, len(s.parts)+2)
	for _, p := range s.parts {
		switch {
		case p.m == nil:
			bs = append(bs, p.b)
		case p.m.b == emptyBatch:
			bs = append(bs, p.m.a) // a compaction in progress
		default:
			bs = append(bs, p.m.a, p.m.b)
		}
	}
	s.batches.Store(&bs)
}

// finishMerges finishes every merge in progress at once.
func (s *Spine) finishMerges() {
	s.mu.Lock()
	defer s.mu.Unlock()
	done := false
	for i, p := range s.parts {
		if p.m != nil {
			p.m.work(math.MaxInt)
			s.parts[i] = spinePart{b: p.m.finish()}
			done = true
		}
	}
	if done {
		s.parts = slices.DeleteFunc(s.parts, func(p spinePart) bool { return p.b.Len() == 0 })
		s.publish()
	}
}

// advance moves upper to u without data, fuelling the merges in progress.
func (s *Spine) advance(u repr.Timestamp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upper = max(s.upper, u)
	if s.fuelMerges(0) {
		s.parts = slices.DeleteFunc(s.parts, func(p spinePart) bool { return p.m == nil && p.b.Len() == 0 })
		s.publish()
	}
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

// mergingBytes returns the bytes allocated for the outputs of the spine's
// merges in progress.
func (s *Spine) mergingBytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, p := range s.parts {
		if p.m != nil {
			w := &p.m.w
			n += cap(w.b.keyData) + cap(w.b.valData) + 4*(cap(w.b.keyEnds)+cap(w.b.keyUpds)+cap(w.b.valEnds)) +
				8*(cap(w.ts)+cap(w.ds)+cap(w.hs))
		}
	}
	return n
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
