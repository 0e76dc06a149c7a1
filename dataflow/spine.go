package dataflow

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"

	"github.com/viewd/viewd/repr"
)

// Spine is one shard of a trace: an LSM of batches in levels, as in
// differential dataflow's fuelled spine. Level k holds batches of about
// 2^k updates: nothing, one batch, or a merge in progress of two. A batch
// of n updates enters at level ceil(log2 n), merged at once with whatever
// the levels below hold (lower levels' batches); entering a level that
// holds a batch starts their merge, whose output enters the level above
// when done. Each update is therefore
// merged O(log n) times and the spine holds O(log n) batches, older
// updates in higher levels.
//
// Merges are fuelled: a merge of fewer than fuelMergeMin updates is done
// at once, a larger one is advanced by every later insert in proportion to
// the inserted batch (mergeFuel updates of merging per inserted update).
// A level receives its next batch only after about 2^(k-1) more updates
// were inserted, by which time the fuel has finished its merge of at most
// 2^(k+1) updates; so no step does merging beyond a bounded multiple of
// its own input, where an eager spine stalls the one step that cascades
// into a merge of everything. A step without data gives each merge an
// eighth of its size, so merges left when updates stop finish in a few
// steps. Readers see a merge in progress as its two inputs. A merge
// builds its output's columns, key filter and fence as it goes (its
// output's storage is allocated when it starts), so the installment that
// ends it costs what the others do.
//
// Logical compaction: during a merge every time below the compaction
// frontier is advanced to it and equal (key, val, time) consolidate. The
// frontier is the least since held by any reader, and never more than the
// time before the newest batch (the trace's operators read the state just
// before the current step). A batch no merge has touched since the
// frontier moved is compacted by a merge with the empty batch, paid for by
// fuel earned from inserts (amortised O(1) per inserted update).
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
	// since is the frontier the spine has compacted to (monotone); merges
	// advance times to it.
	since repr.Timestamp
	// levels[k] holds batches of about 2^k updates.
	levels []spineLevel
	// fuel is compaction work (in updates) earned by inserts.
	fuel int
	// forced counts merges finished at once because their level received
	// another batch before their fuel finished them (tests check none).
	forced int
	// merged counts the updates read by the merges started (benchmarks
	// report it per inserted update).
	merged int
}

// spineLevel is empty (b and m nil), one batch (b), or a merge in progress
// (m): of two batches, or a compaction of one (m.b is emptyBatch).
type spineLevel struct {
	b *Batch
	m *merger
}

// fuelMergeMin is the least combined size of two batches whose merge is
// fuelled rather than done at once.
var fuelMergeMin = 1 << 14

// mergeFuel is the merging work, in updates read, that each merge in
// progress receives per inserted update; idleFuel is the least work an
// insert gives it. (Vars for tests.)
var mergeFuel, idleFuel = 4, 1 << 10

func newSpine() *Spine {
	s := &Spine{holds: map[uint64]repr.Timestamp{}}
	s.batches.Store(&[]*Batch{})
	return s
}

func (s *Spine) snapshot() []*Batch { return *s.batches.Load() }

// levelOf returns the level a batch of n updates enters.
func levelOf(n int) int {
	if n <= 1 {
		return 0
	}
	return bits.Len(uint(n - 1))
}

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
	s.since = max(frontier, s.since)
	merging := false
	for _, l := range s.levels {
		merging = merging || l.m != nil
	}
	if b.Len() == 0 && s.fuel == 0 && !merging {
		return
	}
	n := b.Len()
	s.fuelMerges(n)
	if n > 0 {
		k := levelOf(n)
		if acc := s.rollUp(k); acc != nil {
			s.merged += acc.Len() + b.Len()
			b = mergeBatches(acc, b, s.since)
		}
		if b.Len() > 0 {
			s.enter(k, b, n)
		}
	}
	s.compact(n)
	s.publish()
}

// work returns the fuel an insert of n updates gives each merge in
// progress of size updates: mergeFuel per update, or without updates an
// eighth of the merge.
func work(n, size int) int {
	if n == 0 {
		return max(idleFuel, size/8)
	}
	return mergeFuel*n + idleFuel
}

// fuelMerges advances every merge in progress by an insert of n updates'
// fuel, lowest level first; a finished merge's output enters the level
// above (a finished compaction's stays). It reports whether one finished.
func (s *Spine) fuelMerges(n int) bool {
	finished := false
	for k := 0; k < len(s.levels); k++ {
		m := s.levels[k].m
		if m == nil {
			continue
		}
		if m.work(work(n, m.size())); m.done() {
			s.levels[k].m = nil
			s.finished(k, m, n)
			finished = true
		}
	}
	return finished
}

// finished places the output of level k's finished merge m, in an insert
// of n updates (whose fuel a merge it starts gets).
func (s *Spine) finished(k int, m *merger, n int) {
	out := m.finish()
	switch {
	case out.Len() == 0:
	case m.b == emptyBatch:
		s.levels[k].b = out
	default:
		s.enter(k+1, out, n)
	}
}

// rollUp empties the levels below k, returning their batches merged into
// one (nil: none), done at once: they are lower levels' batches, which
// the batch about to enter level k (more than 2^(k-1) updates) they join
// pays for. (Steady inserts of one size enter one level and roll up
// nothing.)
func (s *Spine) rollUp(k int) *Batch {
	var acc *Batch
	for j := min(k, len(s.levels)) - 1; j >= 0; j-- {
		l := &s.levels[j]
		x := l.b
		if l.m != nil {
			l.m.work(math.MaxInt)
			x = l.m.finish()
		}
		*l = spineLevel{}
		switch {
		case x == nil || x.Len() == 0:
		case acc == nil:
			acc = x
		default:
			s.merged += acc.Len() + x.Len()
			acc = mergeBatches(acc, x, s.since) // acc holds the older updates
		}
	}
	return acc
}

// enter places batch b, younger than every batch at level k and above, at
// level k, in an insert of n updates (whose fuel a merge it starts gets).
func (s *Spine) enter(k int, b *Batch, n int) {
	for len(s.levels) <= k {
		s.levels = append(s.levels, spineLevel{})
	}
	l := &s.levels[k]
	if l.m != nil && l.m.b == emptyBatch {
		// A compaction in progress: the merge with b compacts the
		// batch as well, so the compaction is dropped.
		l.b, l.m = l.m.a, nil
	}
	if l.m != nil {
		// The level's merge is not finished: finish it now.
		m := l.m
		l.m = nil
		m.work(math.MaxInt)
		s.forced++
		s.finished(k, m, n)
		l = &s.levels[k] // finished may have grown s.levels
	}
	if l.b == nil {
		l.b = b
		return
	}
	m := newMerger(l.b, b, s.since)
	s.merged += m.size()
	l.b = nil
	w := work(n, m.size())
	if m.size() < fuelMergeMin {
		w = math.MaxInt
	}
	if m.work(w); m.done() {
		s.finished(k, m, n)
		return
	}
	l.m = m
}

// compact starts compactions of batches whose since lags the frontier,
// while the fuel earned by inserts (n updates now) pays for them.
func (s *Spine) compact(n int) {
	s.fuel += n + 1
	lagging := false
	for k := len(s.levels) - 1; k >= 0; k-- {
		old := s.levels[k].b
		if old == nil || old.since >= s.since || old.times.width == 0 && old.times.base >= s.since {
			continue
		}
		lagging = true
		if s.fuel < old.Len() {
			break
		}
		s.fuel -= old.Len()
		m := newMerger(old, emptyBatch, s.since)
		s.merged += m.size()
		s.levels[k] = spineLevel{m: m}
		w := work(n, m.size())
		if m.size() < fuelMergeMin {
			w = math.MaxInt
		}
		if m.work(w); m.done() {
			s.levels[k].m = nil
			s.finished(k, m, n)
		}
	}
	if n == 0 && !lagging {
		s.fuel = 0 // nothing to compact: do not accumulate idle fuel
	}
}

// publish stores the batches readers see, oldest level first: every
// batch, and the inputs of every merge in progress.
func (s *Spine) publish() {
	bs := make([]*Batch, 0, len(s.levels)+2)
	for k := len(s.levels) - 1; k >= 0; k-- {
		l := s.levels[k]
		switch {
		case l.m == nil && l.b != nil:
			bs = append(bs, l.b)
		case l.m == nil:
		case l.m.b == emptyBatch:
			bs = append(bs, l.m.a) // a compaction in progress
		default:
			bs = append(bs, l.m.a, l.m.b)
		}
	}
	s.batches.Store(&bs)
}

// finishMerges finishes every merge in progress at once (and those their
// outputs start).
func (s *Spine) finishMerges() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.fuelMergesAll() {
	}
	s.publish()
}

// fuelMergesAll finishes the merges in progress, reporting whether there
// were any.
func (s *Spine) fuelMergesAll() bool {
	found := false
	for k := 0; k < len(s.levels); k++ {
		if m := s.levels[k].m; m != nil {
			m.work(math.MaxInt)
			s.levels[k].m = nil
			s.finished(k, m, 0)
			found = true
		}
	}
	return found
}

// advance moves upper to u without data, fuelling the merges in progress.
func (s *Spine) advance(u repr.Timestamp) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.upper = max(s.upper, u)
	if s.fuelMerges(0) {
		s.publish()
	}
}

// Upper returns the spine's upper frontier.
func (s *Spine) Upper() repr.Timestamp {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.upper
}

// mergingBytes returns the bytes allocated for the outputs of the spine's
// merges in progress.
func (s *Spine) mergingBytes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, l := range s.levels {
		if l.m != nil {
			w := &l.m.w
			n += cap(w.b.keyData) + cap(w.b.valData) + 4*(cap(w.b.keyEnds)+cap(w.b.keyUpds)+cap(w.b.valEnds)) +
				w.b.times.bytes() + w.b.diffs.bytes() + 8*(cap(w.b.filter)+cap(w.b.fence)+cap(w.hs))
		}
	}
	return n
}
