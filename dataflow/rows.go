package dataflow

import (
	"bytes"
	"slices"

	"github.com/viewd/viewd/repr"
)

// Rows is a run of (row, diff) pairs, the updates of one collection at one
// step's time. Rows are packed back to back in a single byte slab with
// uint32 end offsets, so a Rows holds three pointers however many rows it
// carries.
//
// A Rows is consolidated when its rows are sorted by their packed bytes,
// distinct, and no diff is zero; Consolidate establishes that.
type Rows struct {
	data  []byte
	ends  []uint32
	diffs []repr.Diff
}

// Len returns the number of (row, diff) pairs.
func (r *Rows) Len() int { return len(r.diffs) }

// Row returns the i-th row. It aliases the slab.
func (r *Rows) Row(i int) repr.Row {
	start := uint32(0)
	if i > 0 {
		start = r.ends[i-1]
	}
	end := r.ends[i]
	return repr.Row(r.data[start:end:end])
}

// Diff returns the i-th diff.
func (r *Rows) Diff(i int) repr.Diff { return r.diffs[i] }

// Bytes returns the size of the packed rows.
func (r *Rows) Bytes() int { return len(r.data) }

// footprint returns the bytes r's pairs take: the packed rows plus an end
// offset and a diff each (lengths, not capacities: what was produced).
func (r *Rows) footprint() int { return len(r.data) + 4*len(r.ends) + 8*len(r.diffs) }

// Push appends one (row, diff).
func (r *Rows) Push(row repr.Row, d repr.Diff) {
	r.data = append(r.data, row...)
	r.ends = append(r.ends, uint32(len(r.data)))
	r.diffs = append(r.diffs, d)
}

// grow makes room for n more pairs of about bytes packed bytes, at least
// doubling each buffer that must grow, except that the packed bytes do
// not grow past limit while limit leaves room for them (limit 0: none).
func (r *Rows) grow(n, bytes, limit int) {
	if cap(r.data)-len(r.data) < bytes {
		more := max(bytes, len(r.data))
		if limit >= len(r.data)+bytes && len(r.data)+more > limit {
			more = limit - len(r.data)
		}
		r.data = slices.Grow(r.data, more)
	}
	if cap(r.ends)-len(r.ends) < n {
		r.ends = slices.Grow(r.ends, max(n, len(r.ends)))
		r.diffs = slices.Grow(r.diffs, max(n, len(r.diffs)))
	}
}

// PushConcat appends the concatenation of a and b (packed rows concatenate
// by appending their bytes) with diff d.
func (r *Rows) PushConcat(a, b repr.Row, d repr.Diff) {
	r.data = append(r.data, a...)
	r.data = append(r.data, b...)
	r.ends = append(r.ends, uint32(len(r.data)))
	r.diffs = append(r.diffs, d)
}

// Append appends every pair of o, with diffs multiplied by scale.
func (r *Rows) Append(o *Rows, scale repr.Diff) {
	base := uint32(len(r.data))
	r.data = append(r.data, o.data...)
	for _, e := range o.ends {
		r.ends = append(r.ends, base+e)
	}
	if scale == 1 {
		r.diffs = append(r.diffs, o.diffs...)
		return
	}
	for _, d := range o.diffs {
		r.diffs = append(r.diffs, d*scale)
	}
}

// Consolidated returns a consolidated copy of r.
func (r *Rows) Consolidated() *Rows {
	c := &Rows{}
	c.Append(r, 1)
	c.Consolidate()
	return c
}

// Reset empties r, keeping its buffers.
func (r *Rows) Reset() {
	r.data = r.data[:0]
	r.ends = r.ends[:0]
	r.diffs = r.diffs[:0]
}

// clearDatums drops the references a datum scratch slice holds: text
// datums alias the row they were unpacked from, so a scratch kept across
// steps would pin that row's whole slab (a bulk load's delta) in memory.
func clearDatums(ds []repr.Datum) []repr.Datum {
	clear(ds[:cap(ds)])
	return ds[:0]
}

// trimBytes is the capacity past which trim releases a Rows' buffers
// unless the step that just ran used them (see trim); keepBytes the
// capacity past which it releases them whatever the step.
const (
	trimBytes = 1 << 20
	keepBytes = 16 << 20
)

// trim empties r after a step. Buffers past trimBytes are released when
// the step used less than a quarter of them, or when they are past
// keepBytes: a bulk step's deltas are not held once smaller steps follow,
// while a stream of similar steps (a source's ticks) reuses its buffers
// rather than allocating, zeroing and faulting in new ones each step.
func (r *Rows) trim() {
	if !keepBuffers(cap(r.data)+4*cap(r.ends)+8*cap(r.diffs), len(r.data)+4*len(r.ends)+8*len(r.diffs)) {
		*r = Rows{}
		return
	}
	r.Reset()
}

// keepBuffers reports whether a step's buffers of size bytes, of which the
// step used used, are kept for the next step (Rows.trim).
func keepBuffers(size, used int) bool {
	return size <= trimBytes || size <= keepBytes && 4*used >= size
}

// Consolidate sorts r by row bytes, sums the diffs of equal rows and drops
// rows whose diffs sum to zero.
func (r *Rows) Consolidate() { _ = r.consolidate(nil) }

// consolidateChunk is the run length below which consolidate sorts with
// one uninterruptible slices.SortFunc (a few milliseconds at most); longer
// runs are sorted in chunks of this size and merged, polling c.
const consolidateChunk = 1 << 14

// consolidate is Consolidate polling the step's control c (nil: none)
// every few thousand rows, so that consolidating tens of millions of rows
// stops promptly when the step is stopped. On an error r is left as it
// was (unconsolidated).
func (r *Rows) consolidate(c *stepCtl) error {
	n := r.Len()
	switch {
	case n == 0:
		return nil
	case n == 1:
		if r.diffs[0] == 0 {
			r.Reset()
		}
		return nil
	}
	// Sort (prefix, index) pairs: the rows' first 8 bytes as an integer
	// order most pairs without touching the slab or calling
	// bytes.Compare.
	perm := make([]rowRef, n)
	sorted := true
	// runs are the starts of the ascending runs r is made of, while they
	// are few: a concatenation of sorted runs (the shards' batches of an
	// imported arrangement, a union of consolidated inputs) is merged in
	// O(n log runs) rather than sorted.
	runs := []int{0}
	for i := range perm {
		if i%meterEvery == 0 {
			if err := c.err(); err != nil {
				return err
			}
		}
		perm[i] = rowRef{r.Row(i).Prefix(), uint32(i)}
		if i > 0 && len(runs) <= maxMergeRuns {
			cmp := r.cmpRef(perm[i-1], perm[i])
			if cmp >= 0 {
				sorted = false
			}
			if cmp > 0 {
				runs = append(runs, i)
			}
		}
	}
	switch {
	case sorted:
		// Already strictly sorted: only zero diffs can need removal.
		if !slices.Contains(r.diffs, 0) {
			return nil
		}
	case len(runs) <= maxMergeRuns:
		if err := mergeRuns(perm, runs, r.cmpRef, c); err != nil {
			return err
		}
	case c == nil || !c.cancellable || n <= consolidateChunk:
		slices.SortFunc(perm, r.cmpRef)
	default:
		if err := sortPolled(perm, r.cmpRef, c); err != nil {
			return err
		}
	}
	out := Rows{data: make([]byte, 0, len(r.data)), ends: make([]uint32, 0, n), diffs: make([]repr.Diff, 0, n)}
	polls := 0
	for i := 0; i < n; {
		if polls++; polls%meterEvery == 0 {
			if err := c.err(); err != nil {
				return err
			}
		}
		row := r.Row(int(perm[i].i))
		d := r.diffs[perm[i].i]
		j := i + 1
		for j < n && perm[j].pfx == perm[i].pfx && bytes.Equal(r.Row(int(perm[j].i)), row) {
			d += r.diffs[perm[j].i]
			j++
		}
		if d != 0 {
			out.Push(row, d)
		}
		i = j
	}
	*r = out
	return nil
}

// rowRef is row i of a Rows and its first 8 bytes (repr.Row.Prefix).
type rowRef struct {
	pfx uint64
	i   uint32
}

// cmpRef compares the rows a and b refer to, by prefix first.
func (r *Rows) cmpRef(a, b rowRef) int {
	if a.pfx != b.pfx {
		if a.pfx < b.pfx {
			return -1
		}
		return 1
	}
	return bytes.Compare(r.Row(int(a.i)), r.Row(int(b.i)))
}

// sortPerm sorts perm by cmp (not stably). Runs longer than
// consolidateChunk in a step that can be cancelled (c non-nil) take
// sortPolled, which stops when the step is stopped.
func sortPerm(perm []uint32, cmp func(a, b uint32) int, c *stepCtl) error {
	if c == nil || !c.cancellable || len(perm) <= consolidateChunk {
		slices.SortFunc(perm, cmp)
		return nil
	}
	return sortPolled(perm, cmp, c)
}

// sortPolled sorts s by cmp: chunks of consolidateChunk with
// slices.SortFunc, then bottom-up merges, polling c between chunks and
// every meterEvery merged elements.
func sortPolled[T any](s []T, cmp func(a, b T) int, c *stepCtl) error {
	n := len(s)
	for lo := 0; lo < n; lo += consolidateChunk {
		if err := c.err(); err != nil {
			return err
		}
		slices.SortFunc(s[lo:min(lo+consolidateChunk, n)], cmp)
	}
	src, dst := s, make([]T, n)
	for width := consolidateChunk; width < n; width *= 2 {
		for lo := 0; lo < n; lo += 2 * width {
			if err := mergeInto(dst, src, lo, min(lo+width, n), min(lo+2*width, n), cmp, c); err != nil {
				return err
			}
		}
		src, dst = dst, src
	}
	copy(s, src)
	return nil
}

// maxMergeRuns is the most ascending runs consolidate merges (mergeRuns)
// rather than sorts.
const maxMergeRuns = 8

// mergeRuns sorts s, made of the ascending runs starting at starts (the
// first at 0), by merging neighbouring runs pairwise, polling c every
// meterEvery merged elements.
func mergeRuns[T any](s []T, starts []int, cmp func(a, b T) int, c *stepCtl) error {
	n := len(s)
	if len(starts) < 2 {
		return nil
	}
	bounds := append(slices.Clone(starts), n)
	src, dst := s, make([]T, n)
	for len(bounds) > 2 {
		next := make([]int, 0, len(bounds)/2+2)
		for k := 0; k+1 < len(bounds); k += 2 {
			lo, mid := bounds[k], bounds[k+1]
			hi := mid
			if k+2 < len(bounds) {
				hi = bounds[k+2]
			}
			if err := mergeInto(dst, src, lo, mid, hi, cmp, c); err != nil {
				return err
			}
			next = append(next, lo)
		}
		bounds = append(next, n)
		src, dst = dst, src
	}
	copy(s, src)
	return nil
}

// mergeInto merges the sorted src[lo:mid] and src[mid:hi] into dst[lo:hi],
// polling c every meterEvery elements.
func mergeInto[T any](dst, src []T, lo, mid, hi int, cmp func(a, b T) int, c *stepCtl) error {
	i, j, k := lo, mid, lo
	for i < mid && j < hi {
		if k%meterEvery == 0 {
			if err := c.err(); err != nil {
				return err
			}
		}
		if cmp(src[j], src[i]) < 0 {
			dst[k] = src[j]
			j++
		} else {
			dst[k] = src[i]
			i++
		}
		k++
	}
	k += copy(dst[k:], src[i:mid])
	copy(dst[k:], src[j:hi])
	return nil
}

// Updates returns r's pairs as updates at time t (rows copied).
func (r *Rows) Updates(t repr.Timestamp) []repr.Update {
	out := make([]repr.Update, r.Len())
	for i := range out {
		out[i] = repr.Update{Row: r.Row(i).Clone(), Time: t, Diff: r.diffs[i]}
	}
	return out
}

// reserveSample is the number of input rows an operator processes before
// it sizes its output for the rest (Rows.reserveLike).
const reserveSample = 1024

// reserveLike makes room for the output of n more inputs, given that the
// rows from index base on came from sampled inputs: at the same rate of
// rows per input and bytes per row. A bulk step then fills its output
// without regrowing it by doubling (each regrowth copies the slab, and a
// fresh slab is zeroed and faulted in page by page).
func (r *Rows) reserveLike(base, sampled, n int) {
	rows := r.Len() - base
	if rows <= 0 || sampled <= 0 {
		return
	}
	start := 0
	if base > 0 {
		start = int(r.ends[base-1])
	}
	more := int(int64(n) * int64(rows) / int64(sampled))
	r.Reserve(more, int(int64(len(r.data)-start)*int64(more)/int64(rows)))
}

// Reserve makes room for n more rows of about bytes packed bytes.
func (r *Rows) Reserve(n, bytes int) {
	r.data = slices.Grow(r.data, bytes)
	r.ends = slices.Grow(r.ends, n)
	r.diffs = slices.Grow(r.diffs, n)
}
