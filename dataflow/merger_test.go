package dataflow

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/viewd/viewd/repr"
)

// checkColumns checks what a batch's writer builds as it goes against
// the batch's updates: the time column's bounds (base <= every time <=
// hi, width 0 when every update has one time), the diff column (none when
// every diff is +1), a key filter that holds every key and the fence of
// every fenceEvery-th key, so that seek finds every key.
func checkColumns(t *testing.T, seed uint64, b *Batch) {
	t.Helper()
	if b.Len() == 0 {
		return
	}
	lo, hi, ones := b.time(0), b.time(0), true
	for u := range b.Len() {
		lo, hi = min(lo, b.time(u)), max(hi, b.time(u))
		ones = ones && b.diff(u) == 1
	}
	if b.minTime() > lo || b.maxTime() < hi {
		t.Fatalf("seed %d: times in [%d, %d], column bounds [%d, %d]", seed, lo, hi, b.minTime(), b.maxTime())
	}
	if (lo == hi) != (b.times.width == 0) {
		t.Fatalf("seed %d: times in [%d, %d] with a column of width %d", seed, lo, hi, b.times.width)
	}
	if ones != (b.diffs.small == nil && b.diffs.wide == nil) {
		t.Fatalf("seed %d: every diff +1 is %v, but the batch has diff column %d+%d", seed, ones, len(b.diffs.small), len(b.diffs.wide))
	}
	if f := newFence(b); len(f) != len(b.fence) {
		t.Fatalf("seed %d: %d keys with a fence of %d, want %d", seed, b.Keys(), len(b.fence), len(f))
	} else {
		for i := range f {
			if f[i] != b.fence[i] {
				t.Fatalf("seed %d: fence %d is %x, want %x", seed, i, b.fence[i], f[i])
			}
		}
	}
	for k := range b.Keys() {
		if !b.mayHold(keyHash(b.key(k))) {
			t.Fatalf("seed %d: the filter rules out key %d", seed, k)
		}
		if b.seek(b.key(k)) != k {
			t.Fatalf("seed %d: seek misses key %d", seed, k)
		}
	}
}

// randomBatch returns a batch of up to n random updates over keys few
// keys, with diffs that are mostly small (+1 and -1 consolidating
// against each other), sometimes near the int8 bounds (so sums leave
// them) and rarely huge, at times in [t0, t0+span).
func randomBatch(r *rand.Rand, n, keys int, t0, span repr.Timestamp) *Batch {
	var bd Builder
	ones := r.IntN(4) == 0 // a batch of +1 diffs only
	for range r.IntN(n + 1) {
		k := irow(r.Int64N(int64(keys)))
		if r.IntN(3) == 0 {
			k = append(k, bytes.Repeat([]byte{byte(r.IntN(3))}, r.IntN(12))...) // keys sharing 8-byte prefixes
		}
		v := irow(r.Int64N(4))
		d := repr.Diff(1)
		if !ones {
			switch r.IntN(10) {
			case 0, 1, 2:
				d = -1
			case 3:
				d = repr.Diff(100 + r.IntN(28))
			case 4:
				d = -repr.Diff(100 + r.IntN(29))
			case 5:
				if r.IntN(4) == 0 {
					d = 1 << 40
				}
			}
		}
		bd.Add(k, v, t0+repr.Timestamp(r.Uint64N(uint64(span))), d)
	}
	return bd.Build()
}

// naiveMerge returns the consolidation of a's and b's updates with times
// advanced to since.
func naiveMerge(a, b *Batch, since repr.Timestamp) map[kvtd]repr.Diff {
	out := map[kvtd]repr.Diff{}
	for _, x := range []*Batch{a, b} {
		for k := range x.Keys() {
			s, e := x.updRange(k)
			for u := s; u < e; u++ {
				out[kvtd{string(x.key(k)), string(x.val(u)), max(x.time(u), since)}] += x.diff(u)
			}
		}
	}
	for u, d := range out {
		if d == 0 {
			delete(out, u)
		}
	}
	return out
}

// TestMergerInstallments: merges of random batches, advanced in
// installments of 1, 2, 3, 7 and 64 updates, of four random sizes and of
// the whole merge, and finished at the boundary where the last
// installment ends, equal a naive
// consolidation of their inputs; at every installment boundary the output
// so far is a well-formed batch of the keys merged so far (its filter,
// fence, time and diff columns built as it goes), and finish does no
// more than close it.
func TestMergerInstallments(t *testing.T) {
	for i := range cases(60) {
		seed := uint64(i)
		r := rand.New(rand.NewPCG(seed, 13))
		keys := 1 + r.IntN(300)
		span := repr.Timestamp(1 + r.IntN(4))
		if r.IntN(3) == 0 {
			span = repr.Timestamp(1) << (8 * (1 + r.IntN(5))) // times beyond 1, 2 and 4 bytes
		}
		x := randomBatch(r, 400, keys, repr.Timestamp(r.IntN(50)), span)
		y := randomBatch(r, 400, keys, repr.Timestamp(r.IntN(50)), span)
		if r.IntN(5) == 0 {
			y = emptyBatch // a compaction
		}
		checkInvariants(t, seed, x)
		checkColumns(t, seed, x)
		since := repr.Timestamp(r.Uint64N(uint64(2*span + 60)))
		want := naiveMerge(x, y, since)
		size := x.Len() + y.Len()
		fuels := []int{1, 2, 3, 7, 64, size, math.MaxInt}
		for range 4 {
			fuels = append(fuels, 1+r.IntN(size+1))
		}
		for _, fuel := range fuels {
			m := newMerger(x, y, since)
			for !m.done() {
				m.work(fuel)
				// The output so far, closed as finish would: every
				// column is complete for the keys merged.
				part := m.w
				pb := part.finish()
				checkInvariants(t, seed, pb)
				checkColumns(t, seed, pb)
			}
			out := m.finish()
			checkInvariants(t, seed, out)
			checkColumns(t, seed, out)
			if out.since != since {
				t.Fatalf("seed %d: merged batch's since %d, want %d", seed, out.since, since)
			}
			got := map[kvtd]repr.Diff{}
			for k := range out.Keys() {
				s, e := out.updRange(k)
				for u := s; u < e; u++ {
					got[kvtd{string(out.key(k)), string(out.val(u)), out.time(u)}] = out.diff(u)
				}
			}
			if len(got) != out.Len() || len(got) != len(want) {
				t.Fatalf("seed %d fuel %d: %d updates (%d distinct), want %d", seed, fuel, out.Len(), len(got), len(want))
			}
			for u, d := range want {
				if got[u] != d {
					t.Fatalf("seed %d fuel %d: %x/%x at %d: diff %d, want %d", seed, fuel, u.k, u.v, u.t, got[u], d)
				}
			}
		}
	}
}

// TestBatchWriterUnbounded: a writer given no bounds (a loader's) widens
// its time column as times arrive, and its diff column when a sum leaves
// an int8, and builds the batch a Builder builds.
func TestBatchWriterUnbounded(t *testing.T) {
	for i := range cases(100) {
		seed := uint64(i)
		r := rand.New(rand.NewPCG(seed, 17))
		span := repr.Timestamp(1) << (8 * r.IntN(5))
		var bd Builder
		for range r.IntN(300) {
			d := repr.Diff(r.IntN(5) - 2)
			if r.IntN(5) == 0 {
				d = repr.Diff(r.IntN(256) - 128)
			}
			bd.Add(irow(r.Int64N(40)), irow(r.Int64N(3)), repr.Timestamp(r.Uint64N(uint64(span))), d)
		}
		want := bd.Build()
		// The builder's sorted updates, pushed one by one and split
		// so that adjacent equal updates consolidate in the writer.
		var w batchWriter
		for k := range want.Keys() {
			s, e := want.updRange(k)
			for u := s; u < e; u++ {
				d := want.diff(u)
				half := d / 2
				w.push(want.key(k), want.val(u), want.time(u), half)
				w.push(want.key(k), want.val(u), want.time(u), d-half)
				if r.IntN(4) == 0 {
					w.push(want.key(k), want.val(u), want.time(u), 5)
					w.push(want.key(k), want.val(u), want.time(u), -5)
				}
			}
		}
		got := w.finish()
		checkInvariants(t, seed, got)
		checkColumns(t, seed, got)
		if got.Len() != want.Len() || got.Keys() != want.Keys() {
			t.Fatalf("seed %d: %d updates of %d keys, want %d of %d", seed, got.Len(), got.Keys(), want.Len(), want.Keys())
		}
		for u := range want.Len() {
			if !bytes.Equal(got.val(u), want.val(u)) || got.time(u) != want.time(u) || got.diff(u) != want.diff(u) {
				t.Fatalf("seed %d: update %d differs", seed, u)
			}
		}
	}
}
