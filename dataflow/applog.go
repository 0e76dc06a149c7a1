package dataflow

import (
	"slices"
	"sort"
	"sync"

	"github.com/viewd/viewd/repr"
)

// appendLog is the store of an append-only Output's rows: each step's
// updates kept as they come, in time order, neither sorted nor merged
// (Collection.MaterializeAppendOnly). A read as of t scans the updates
// of every step at or before t; since the log never compacts, a read at
// any time is exact, and compaction below the output's since is a no-op.
//
// Updates are packed back to back in segments of about logSegBytes: a
// segment's byte slab, its uint32 end offsets and, once some diff of the
// segment is not +1, its diffs (nil before: the common append-only case
// costs 4 bytes per update beyond the packed row). Each step that adds
// to a segment records a mark (its time and the segment's length after
// it), so the updates at times <= t are a prefix of the log found by a
// search of the marks.
//
// One goroutine appends (the graph's step) while readers scan
// concurrently: a reader copies the segment list and the tail segment
// under mu, which fixes its view (the slabs' prefixes it reads are never
// written again); the writer appends beyond those lengths, or into new
// arrays, and publishes the tail under mu.
type appendLog struct {
	mu   sync.Mutex
	segs []logSeg
	// neg: some update has a negative diff (the collection retracts, so
	// a scan must consolidate to give each row's multiplicity).
	neg bool
}

// logSegBytes is the packed size from which a segment is full: the next
// update starts a new one. A log's first segment is allocated at the size
// of the append that starts it (at most this) and grown by doubling up to
// it; once it is full, each next segment is allocated whole. So a log
// holds at most its tail's unused room: at most half its first segment,
// and at most a segment (less than the log's size) after it.
var logSegBytes = 4 << 20 // a var: tests shrink it to cut many segments

// logSegMin is the least allocation of a segment's slab.
const logSegMin = 4096

type logSeg struct {
	data  []byte
	ends  []uint32
	diffs []repr.Diff
	marks []logMark
	// checked: the segment is sealed and compact has looked at it.
	checked bool
}

// logMark: the segment's updates before end are at times <= t, and those
// from the previous mark's end on are at t.
type logMark struct {
	t   repr.Timestamp
	end int
}

func (s *logSeg) len() int { return len(s.ends) }

func (s *logSeg) row(i int) repr.Row {
	start := uint32(0)
	if i > 0 {
		start = s.ends[i-1]
	}
	end := s.ends[i]
	return repr.Row(s.data[start:end:end])
}

func (s *logSeg) diff(i int) repr.Diff {
	if s.diffs == nil {
		return 1
	}
	return s.diffs[i]
}

// upTo returns how many of the segment's updates are at times <= t.
func (s *logSeg) upTo(t repr.Timestamp) int {
	i := sort.Search(len(s.marks), func(i int) bool { return s.marks[i].t > t })
	if i == 0 {
		return 0
	}
	return s.marks[i-1].end
}

// bytes returns the memory the segment holds (capacities).
func (s *logSeg) bytes() int {
	return cap(s.data) + 4*cap(s.ends) + 8*cap(s.diffs) + 16*cap(s.marks)
}

// append adds rows at time t (t at or after every time appended before).
// Zero diffs are dropped.
func (l *appendLog) append(rows *Rows, t repr.Timestamp) {
	n := rows.Len()
	if n == 0 {
		return
	}
	// The writer alone changes segs, so it reads them without the lock.
	k := len(l.segs)
	var tail logSeg
	if k > 0 {
		tail = l.segs[k-1]
	}
	var out []logSeg // segments filled by this append, tail not included
	neg := false
	left := rows.Bytes() // packed bytes of this append not yet copied
	mark := func() {
		last := 0
		if m := len(tail.marks); m > 0 {
			last = tail.marks[m-1].end
			if tail.marks[m-1].t == t {
				tail.marks[m-1].end = tail.len()
				return
			}
		}
		if tail.len() > last {
			tail.marks = append(tail.marks, logMark{t: t, end: tail.len()})
		}
	}
	for i := range n {
		r, d := rows.Row(i), rows.Diff(i)
		if d == 0 {
			continue
		}
		if need := len(tail.data) + len(r); need > cap(tail.data) {
			if cap(tail.data) < logSegBytes {
				// A young segment grows by doubling up to full size.
				grown := make([]byte, len(tail.data), max(min(max(2*cap(tail.data), len(tail.data)+left, logSegMin), logSegBytes), need))
				copy(grown, tail.data)
				tail.data = grown
			} else {
				// The tail is full: the log has held a whole segment,
				// so the next one is allocated whole (room of at most
				// a segment, under the log's size) rather than grown
				// by doubling, each doubling a copy.
				mark()
				out = append(out, tail)
				tail = logSeg{data: make([]byte, 0, max(logSegBytes, len(r))),
					ends: make([]uint32, 0, max(tail.len(), 1))}
			}
		}
		left -= len(r)
		if d != 1 && tail.diffs == nil {
			tail.diffs = make([]repr.Diff, tail.len(), cap(tail.ends))
			for j := range tail.diffs {
				tail.diffs[j] = 1
			}
		}
		tail.data = append(tail.data, r...)
		tail.ends = append(tail.ends, uint32(len(tail.data)))
		if tail.diffs != nil {
			tail.diffs = append(tail.diffs, d)
		}
		neg = neg || d < 0
	}
	mark()
	if tail.len() > 0 {
		out = append(out, tail)
	}
	if len(out) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.neg = l.neg || neg
	if k > 0 {
		// out[0] is the log's last segment, extended.
		l.segs[k-1] = out[0]
		out = out[1:]
	}
	l.segs = append(l.segs, out...)
}

// view returns the log's contents as of now: readers scan it without
// the lock.
func (l *appendLog) view() logView {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := logView{segs: l.segs, neg: l.neg}
	if k := len(l.segs); k > 0 {
		v.tail = l.segs[k-1]
	}
	return v
}

// logView is a reader's fixed view of an appendLog.
type logView struct {
	segs []logSeg // segs[len-1] may be written: use tail instead
	tail logSeg
	neg  bool
}

func (v *logView) seg(i int) *logSeg {
	if i == len(v.segs)-1 {
		return &v.tail
	}
	return &v.segs[i]
}

// each calls fn with every update at a time <= asOf, in log order,
// until fn returns false.
func (v *logView) each(asOf repr.Timestamp, fn func(r repr.Row, d repr.Diff) bool) {
	for i := range v.segs {
		s := v.seg(i)
		n := s.upTo(asOf)
		for j := range n {
			if !fn(s.row(j), s.diff(j)) {
				return
			}
		}
		if n < s.len() {
			return // later segments hold later times
		}
	}
}

// between calls fn with every update at a time in (lo, hi], in log
// order, until fn returns false; lo < 0 means no lower bound. The scan
// starts at segment from (an earlier call's result: no update in
// (lo, hi] lies before it) and returns the segment it ended in.
func (v *logView) between(lo int64, hi repr.Timestamp, from int, fn func(r repr.Row, d repr.Diff) bool) int {
	for i := from; i < len(v.segs); i++ {
		s := v.seg(i)
		st := 0
		if lo >= 0 {
			st = s.upTo(repr.Timestamp(lo))
		}
		to := s.upTo(hi)
		for j := st; j < to; j++ {
			if !fn(s.row(j), s.diff(j)) {
				return i
			}
		}
		if to < s.len() {
			return i // later segments hold later times
		}
	}
	return max(len(v.segs)-1, 0)
}

// sizeBetween returns the number of updates at times in (lo, hi] (lo < 0:
// no lower bound) from segment from on, and their packed bytes: what
// between would deliver, for sizing its destination once.
func (v *logView) sizeBetween(lo int64, hi repr.Timestamp, from int) (n, bytes int) {
	for i := from; i < len(v.segs); i++ {
		s := v.seg(i)
		st := 0
		if lo >= 0 {
			st = s.upTo(repr.Timestamp(lo))
		}
		to := s.upTo(hi)
		if to > st {
			n += to - st
			bytes += int(s.ends[to-1])
			if st > 0 {
				bytes -= int(s.ends[st-1])
			}
		}
		if to < s.len() {
			break
		}
	}
	return n, bytes
}

// lastTime returns the time of the log's latest update, and false when
// the log is empty.
func (v *logView) lastTime() (repr.Timestamp, bool) {
	if len(v.segs) == 0 || len(v.tail.marks) == 0 {
		return 0, false
	}
	return v.tail.marks[len(v.tail.marks)-1].t, true
}

// scan calls fn with each row as of asOf and its multiplicity until fn
// returns false: each update as it was appended when the log holds no
// retraction (a row appended twice comes twice), the consolidated rows
// (sorted, each once) otherwise.
func (v *logView) scan(asOf repr.Timestamp, fn func(r repr.Row, d repr.Diff) bool) {
	if !v.neg {
		v.each(asOf, fn)
		return
	}
	var rows Rows
	v.each(asOf, func(r repr.Row, d repr.Diff) bool {
		rows.Push(r, d)
		return true
	})
	rows.Consolidate()
	for i := range rows.Len() {
		if !fn(rows.Row(i), rows.Diff(i)) {
			return
		}
	}
}

// stats returns the number of updates, their packed bytes and the bytes
// the log holds beyond them (offsets, diffs, marks and slack).
func (l *appendLog) stats() (updates, packed, overhead int) {
	v := l.view()
	for i := range v.segs {
		s := v.seg(i)
		updates += s.len()
		packed += len(s.data)
		overhead += s.bytes() - len(s.data)
	}
	return
}

// Consolidating sealed segments. An append-only collection rarely holds a
// row twice (every event differs), so the log does not sort: but one that
// does (a topic that repeats a few messages) would keep every copy where
// an arrangement keeps one row and its count. compact looks once at each
// sealed segment whose updates are all at or before the frontier (every
// reader reads at or after it, so it sees the whole segment and the
// segment's times no longer matter): a sample of its rows, hashed, says
// whether it repeats rows much (birthday collisions); only then is the
// segment consolidated (sorted, equal rows summed) and replaced, with one
// mark at its last time, when that makes it at least a quarter smaller.

// compactSample is how many rows of a segment compact hashes.
const compactSample = 1024

// compact consolidates the sealed segments at or before frontier that pay
// for it (see above). It runs on the writer's goroutine, after a step.
func (l *appendLog) compact(frontier repr.Timestamp) {
	k := len(l.segs) // the writer alone changes segs
	var replaced []logSeg
	var at []int
	for i := range k - 1 { // the tail is not sealed
		s := &l.segs[i]
		if s.checked || len(s.marks) == 0 {
			continue
		}
		if s.marks[len(s.marks)-1].t > frontier {
			break // later segments hold later times
		}
		c := *s
		c.checked = true
		if repeats(s) {
			if cs, ok := consolidateSeg(s); ok {
				c = cs
			}
		}
		replaced = append(replaced, c)
		at = append(at, i)
	}
	if len(at) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// Readers share the old list's sealed entries: copy on write.
	segs := slices.Clone(l.segs)
	for j, i := range at {
		segs[i] = replaced[j]
	}
	l.segs = segs
}

// repeats reports whether a sample of the segment's rows suggests that
// fewer than half of them are distinct: among k rows sampled from n of d
// distinct values about k*k/(2d) pairs collide, so more than k*k/n
// collisions mean d < n/2.
func repeats(s *logSeg) bool {
	n := s.len()
	k := min(n, compactSample)
	if k < 2 {
		return false
	}
	seen := make(map[uint64]struct{}, k)
	collisions := 0
	for j := range k {
		h := keyHash(s.row(j * n / k))
		if _, dup := seen[h]; dup {
			collisions++
		}
		seen[h] = struct{}{}
	}
	if k == n {
		return 2*collisions > n // every row looked at: over half repeat
	}
	return collisions > k*k/n
}

// consolidateSeg returns the segment's rows consolidated into a segment
// of exactly their size with one mark at its last time, if that is at
// least a quarter smaller than s.
func consolidateSeg(s *logSeg) (logSeg, bool) {
	var rows Rows
	rows.Reserve(s.len(), len(s.data))
	for j := range s.len() {
		rows.Push(s.row(j), s.diff(j))
	}
	rows.Consolidate()
	n := rows.Len()
	out := logSeg{data: slices.Clip(rows.data), ends: slices.Clip(rows.ends), checked: true}
	for j := range n {
		if rows.Diff(j) != 1 {
			out.diffs = slices.Clip(rows.diffs)
			break
		}
	}
	if n > 0 {
		out.marks = []logMark{{t: s.marks[len(s.marks)-1].t, end: n}}
	}
	if 4*out.bytes() > 3*s.bytes() {
		return logSeg{}, false
	}
	return out, true
}
