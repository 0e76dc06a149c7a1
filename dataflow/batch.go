package dataflow

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math"
	"slices"

	"github.com/viewd/viewd/repr"
)

// Batch is an immutable, sorted, consolidated run of updates
// (key, val, time, diff), sorted by key bytes, then val bytes, then time,
// with no two updates sharing (key, val, time) and no zero diff.
//
// Layout (column-oriented, no per-update Go pointers):
//
//	keyData  every distinct key, packed back to back
//	keyEnds  uint32 end offset of key i in keyData
//	keyUpds  uint32 end index of key i's updates
//	valData  the val of every update, packed back to back
//	valEnds  uint32 end offset of update j's val in valData
//	times    base time plus 0, 1, 2, 4 or 8 bytes per update (the width the
//	         batch's time bounds need; 0 when every update has one time)
//	diffs    0 bytes per update when every diff is +1, else 1 byte each
//	         up to the first that does not fit an int8, 8 from it on
//	filter   a Bloom filter of the keys, one byte per distinct key (a
//	         merge's output: per key of its inputs, as it is sized before
//	         the merge finds the keys they share)
//	fence    the 8-byte prefix of every 16th key (half a byte per key)
//
// A batch of n updates with n distinct keys and one time therefore costs
// 13.5 bytes per update beyond the packed key and val bytes, and the GC
// sees ten slices per batch. A lookup probes the filter, searches the
// fence as integers, then at most 16 keys.
type Batch struct {
	keyData []byte
	keyEnds []uint32
	keyUpds []uint32
	valData []byte
	valEnds []uint32
	times   timeCol
	diffs   diffCol
	// filter holds the batch's key hashes (keyFilter): a lookup skips a
	// batch that cannot hold its key without searching it. nil: none (a
	// lookup searches).
	filter keyFilter
	// fence is the prefix (keyPrefix) of every fenceEvery-th key: a
	// search runs over it, in a few cache lines, before it touches the
	// keys (nil for batches of few keys).
	fence []uint64
	// since is the compaction frontier the batch's times were advanced to.
	since repr.Timestamp
}

// Len returns the number of updates.
func (b *Batch) Len() int { return len(b.valEnds) }

// Keys returns the number of distinct keys.
func (b *Batch) Keys() int { return len(b.keyEnds) }

// key returns the i-th key.
func (b *Batch) key(i int) repr.Row {
	s := uint32(0)
	if i > 0 {
		s = b.keyEnds[i-1]
	}
	return repr.Row(b.keyData[s:b.keyEnds[i]:b.keyEnds[i]])
}

// updRange returns the half-open range of update indexes of key i.
func (b *Batch) updRange(i int) (int, int) {
	s := uint32(0)
	if i > 0 {
		s = b.keyUpds[i-1]
	}
	return int(s), int(b.keyUpds[i])
}

// val returns update j's val.
func (b *Batch) val(j int) repr.Row {
	s := uint32(0)
	if j > 0 {
		s = b.valEnds[j-1]
	}
	return repr.Row(b.valData[s:b.valEnds[j]:b.valEnds[j]])
}

// time returns update j's time.
func (b *Batch) time(j int) repr.Timestamp { return b.times.at(j) }

// diff returns update j's diff.
func (b *Batch) diff(j int) repr.Diff { return b.diffs.at(j) }

// keyPrefix returns key i's first 8 bytes as a big-endian integer, zero
// padded (repr.Row.Prefix): comparing prefixes orders two keys whenever
// they differ in their first 8 bytes, without a call to bytes.Compare.
func (b *Batch) keyPrefix(i int) uint64 {
	s := uint32(0)
	if i > 0 {
		s = b.keyEnds[i-1]
	}
	n := b.keyEnds[i] - s
	if int(s)+8 <= len(b.keyData) {
		// Load 8 bytes (the slab goes on past a short key) and clear
		// the bytes past the key: one load instead of a byte loop.
		p := binary.BigEndian.Uint64(b.keyData[s:])
		if n >= 8 {
			return p
		}
		return p &^ (math.MaxUint64 >> (8 * n))
	}
	return repr.Row(b.keyData[s:b.keyEnds[i]]).Prefix()
}

// cmpKey compares key i with k, whose prefix (repr.Row.Prefix) is kp.
func (b *Batch) cmpKey(i int, k repr.Row, kp uint64) int {
	if p := b.keyPrefix(i); p != kp {
		if p < kp {
			return -1
		}
		return 1
	}
	return bytes.Compare(b.key(i), k)
}

// seek returns the index of key k, or -1.
func (b *Batch) seek(k repr.Row) int {
	kp := k.Prefix()
	lo, hi := b.fenced(kp)
	i := b.searchKey(lo, hi, k, kp)
	if i < len(b.keyEnds) && b.cmpKey(i, k, kp) == 0 {
		return i
	}
	return -1
}

// fenceEvery is the spacing of a batch's fence keys.
const fenceEvery = 16

// newFence returns the prefixes of keys 0, fenceEvery, 2*fenceEvery, ...
// of b, or nil when b has too few keys to need them.
func newFence(b *Batch) []uint64 {
	n := b.Keys()
	if n <= 4*fenceEvery {
		return nil
	}
	f := make([]uint64, 0, (n+fenceEvery-1)/fenceEvery)
	for i := 0; i < n; i += fenceEvery {
		f = append(f, b.keyPrefix(i))
	}
	return f
}

// fenced returns the range [lo, hi) of key indexes that holds the first
// key >= any key whose prefix is kp (or hi, when that is past the range).
// Prefixes do not decrease in key order, so with f the first fence whose
// prefix is >= kp, every key before fence f-1's block is less, and with
// g the first fence whose prefix is > kp, fence g's key is greater.
func (b *Batch) fenced(kp uint64) (int, int) {
	n := len(b.keyEnds)
	fs := b.fence
	if fs == nil {
		return 0, n
	}
	lo, hi := 0, len(fs)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if fs[m] < kp {
			lo = m + 1
		} else {
			hi = m
		}
	}
	g := lo
	for g < len(fs) && fs[g] == kp {
		g++
	}
	start := 0
	if lo > 0 {
		start = (lo-1)*fenceEvery + 1
	}
	return start, min(g*fenceEvery, n)
}

// searchKey returns the index of the first key >= k in [lo, hi) (hi if
// none), given kp = k.Prefix(): a binary search comparing prefixes as
// integers.
func (b *Batch) searchKey(lo, hi int, k repr.Row, kp uint64) int {
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if b.cmpKey(m, k, kp) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

// keyFilter is a blocked Bloom filter of a batch's keys: a key's hash
// (keyHash) picks one 64-bit word and three bits in it, so a probe costs
// one memory access. It has a word per 8 keys (8 bits per key, a false
// positive rate of about 3%). Lookups probe it before searching the
// batch: of the several batches of a spine, most do not hold a given key.
type keyFilter []uint64

// keyHash is the hash a keyFilter holds and that picks a key's shard
// (shardOf); computed once per lookup.
func keyHash(k repr.Row) uint64 { return maphash.Bytes(hashSeed, k) }

// filterBits returns the word index (among n) and the bits of hash h. The
// shard is h modulo the workers, so the low bits are not used; the word
// comes from the high 32 bits by multiply-shift range reduction.
func filterBits(h uint64, n int) (int, uint64) {
	w := int((h >> 32) * uint64(n) >> 32)
	return w, 1<<((h>>8)&63) | 1<<((h>>14)&63) | 1<<((h>>20)&63)
}

// newKeyFilter returns the filter of keys whose keyHash values are hs.
func newKeyFilter(hs []uint64) keyFilter {
	if len(hs) == 0 {
		return nil
	}
	f := make(keyFilter, (len(hs)+7)/8)
	for _, h := range hs {
		w, bits := filterBits(h, len(f))
		f[w] |= bits
	}
	return f
}

// mayHold reports whether the batch may hold a key whose keyHash is h
// (false: it certainly does not).
func (b *Batch) mayHold(h uint64) bool {
	if b.filter == nil {
		return b.Keys() > 0
	}
	w, bits := filterBits(h, len(b.filter))
	return b.filter[w]&bits == bits
}

// PackedBytes returns the bytes of packed keys and vals.
func (b *Batch) PackedBytes() int { return len(b.keyData) + len(b.valData) }

// OverheadBytes returns the bytes the batch uses beyond its packed keys and
// vals (offsets and the time and diff columns), counting slice capacity.
func (b *Batch) OverheadBytes() int {
	return 4*(cap(b.keyEnds)+cap(b.keyUpds)+cap(b.valEnds)) + b.times.bytes() + b.diffs.bytes() + 8*cap(b.filter) + 8*cap(b.fence) +
		(cap(b.keyData) - len(b.keyData)) + (cap(b.valData) - len(b.valData))
}

// batchWriter assembles a Batch from updates pushed in (key, val, time)
// order, consolidating adjacent equal (key, val, time) updates. It builds
// the batch's columns as it goes: times and diffs in their final
// encoding, and (when reserve was given the number of keys, as a merge
// is) the key filter and fence, so that finish does a constant amount of
// work and a merge's last installment costs what the others do.
type batchWriter struct {
	b Batch
	// room is the number of updates reserved for (it sizes a wide diff
	// column when a diff first needs one).
	room int
	// tlo and thi are the least and greatest times pushed (updates
	// consolidated away included: bounds).
	tlo, thi repr.Timestamp
	// notOne counts the updates whose diff is not +1: with none, the
	// batch needs no diff column.
	notOne   int
	lastKey  []byte // aliases b.keyData
	lastVal  []byte // aliases b.valData
	haveLast bool
	// lastStale says lastKey and lastVal are not set (a merge's bulk
	// copies leave them to the next push).
	lastStale bool
	// hs is the keyHash of each key, for a filter built at finish (when
	// b.filter is nil: a builder's or a loader's, which do not know their
	// number of keys ahead); hashed as keys are added, so the loops that
	// poll for cancellation pay for it.
	hs []uint64
}

// reserve sizes the writer for n updates of keys distinct keys (0: not
// known; then finish builds the key filter and fence, sized to the keys)
// taking keyBytes and valBytes, at times in [lo, hi].
func (w *batchWriter) reserve(n, keys, keyBytes, valBytes int, lo, hi repr.Timestamp) {
	w.room = n
	w.b.keyData = make([]byte, 0, keyBytes)
	w.b.valData = make([]byte, 0, valBytes)
	w.b.valEnds = make([]uint32, 0, n)
	w.b.times = timeColFor(lo, hi, n)
	w.b.diffs.small = make([]int8, 0, n)
	if keys == 0 {
		w.hs = make([]uint64, 0, n)
		return
	}
	w.b.keyEnds = make([]uint32, 0, keys)
	w.b.keyUpds = make([]uint32, 0, keys)
	w.b.filter = make(keyFilter, (keys+7)/8)
	w.b.fence = make([]uint64, 0, (keys+fenceEvery-1)/fenceEvery)
}

func (w *batchWriter) push(k, v repr.Row, t repr.Timestamp, d repr.Diff) {
	if d == 0 {
		return
	}
	n := w.b.Len()
	if w.lastStale {
		w.setLast()
	}
	sameKey := w.haveLast && bytes.Equal(w.lastKey, k)
	if sameKey && w.b.times.at(n-1) == t && bytes.Equal(w.lastVal, v) {
		if !w.addToLast(d) {
			w.pop()
		}
		return
	}
	if !sameKey {
		w.addKey(k, keyHash(k), n)
	}
	w.b.valData = append(w.b.valData, v...)
	w.b.valEnds = append(w.b.valEnds, uint32(len(w.b.valData)))
	w.addTimeDiff(n, t, d)
	w.b.keyUpds[len(w.b.keyUpds)-1] = uint32(n + 1)
	w.setLast()
}

// addKey appends key k, whose keyHash is h and whose updates start at
// update n: to the filter and, every fenceEvery-th key, to the fence (or,
// when reserve was not given the number of keys, to the hashes finish
// builds them from).
func (w *batchWriter) addKey(k []byte, h uint64, n int) {
	w.b.keyData = append(w.b.keyData, k...)
	w.b.keyEnds = append(w.b.keyEnds, uint32(len(w.b.keyData)))
	w.b.keyUpds = append(w.b.keyUpds, uint32(n))
	if w.b.filter == nil {
		w.hs = append(w.hs, h)
		return
	}
	wi, bits := filterBits(h, len(w.b.filter))
	w.b.filter[wi] |= bits
	if i := len(w.b.keyEnds) - 1; i%fenceEvery == 0 {
		w.b.fence = append(w.b.fence, w.b.keyPrefix(i))
	}
}

// dropKey removes the last key (which has no update left).
func (w *batchWriter) dropKey() {
	nk := len(w.b.keyEnds) - 1
	ks := uint32(0)
	if nk > 0 {
		ks = w.b.keyEnds[nk-1]
	}
	w.b.keyData = w.b.keyData[:ks]
	w.b.keyEnds, w.b.keyUpds = w.b.keyEnds[:nk], w.b.keyUpds[:nk]
	if w.b.filter == nil {
		w.hs = w.hs[:nk]
		return
	}
	// The filter keeps the key's bits (a false positive).
	w.b.fence = w.b.fence[:(nk+fenceEvery-1)/fenceEvery]
}

// addTimeDiff appends the time and diff of update n.
func (w *batchWriter) addTimeDiff(n int, t repr.Timestamp, d repr.Diff) {
	if n == 0 {
		w.tlo, w.thi = t, t
	}
	w.tlo, w.thi = min(w.tlo, t), max(w.thi, t)
	if c := &w.b.times; c.width != 0 || t != c.base {
		// (A column of width 0 holds one time, base, and nothing per
		// update: the common batch of one step's updates.)
		c.push(n, t)
	}
	w.b.diffs.push(n, d, w.room)
	if d != 1 {
		w.notOne++
	}
}

// addToLast adds d to the last update's diff, reporting whether the sum
// is nonzero (the caller drops the update when it is not).
func (w *batchWriter) addToLast(d repr.Diff) bool {
	n := w.b.Len()
	old := w.b.diffs.at(n - 1)
	s := old + d
	if s == 0 {
		return false
	}
	if old != 1 {
		w.notOne--
	}
	if s != 1 {
		w.notOne++
	}
	w.b.diffs.set(n, s, w.room)
	return true
}

// dropLast removes the last update (not its key).
func (w *batchWriter) dropLast() {
	n := w.b.Len() - 1
	if w.b.diffs.at(n) != 1 {
		w.notOne--
	}
	w.b.times.truncate(n)
	w.b.diffs.truncate(n)
	w.b.valEnds = w.b.valEnds[:n]
	vs := uint32(0)
	if n > 0 {
		vs = w.b.valEnds[n-1]
	}
	w.b.valData = w.b.valData[:vs]
}

// pop removes the last update (its diff consolidated to zero), and its key
// if that key has no update left.
func (w *batchWriter) pop() {
	w.dropLast()
	n := w.b.Len()
	nk := len(w.b.keyUpds)
	w.b.keyUpds[nk-1] = uint32(n)
	if (nk == 1 && n == 0) || (nk > 1 && w.b.keyUpds[nk-2] == uint32(n)) {
		w.dropKey()
	}
	w.setLast()
}

func (w *batchWriter) setLast() {
	w.lastStale = false
	n := w.b.Len()
	if n == 0 {
		w.haveLast = false
		return
	}
	w.haveLast = true
	w.lastKey = w.b.key(len(w.b.keyEnds) - 1)
	w.lastVal = w.b.val(n - 1)
}

// finish returns the batch. A writer that reserve gave the number of keys
// (a merge's) does no work in proportion to the batch here: its columns
// are complete. Others build the key filter and fence here, sized to the
// keys.
func (w *batchWriter) finish() *Batch {
	b := w.b
	b.keyData = slices.Clip(b.keyData)
	b.valData = slices.Clip(b.valData)
	b.keyEnds = slices.Clip(b.keyEnds)
	b.keyUpds = slices.Clip(b.keyUpds)
	b.valEnds = slices.Clip(b.valEnds)
	switch {
	case b.Len() == 0:
		b.times = timeCol{}
	case w.tlo == w.thi:
		b.times = constTimes(w.tlo)
	default:
		// The column's base bounds the times from below; hi is the
		// greatest pushed.
		b.times.hi = w.thi
	}
	if w.notOne == 0 {
		b.diffs = diffCol{}
	}
	switch {
	case b.filter == nil:
		b.filter = newKeyFilter(w.hs)
		b.fence = newFence(&b)
	case b.Keys() <= 4*fenceEvery:
		b.fence = nil
	}
	*w = batchWriter{}
	return &b
}

// Builder collects updates in any order and builds a consolidated Batch.
// Keys and vals are copied into the builder's slab as they are added.
type Builder struct {
	data []byte
	ents []builderEntry
	// kbytes and vbytes are the packed bytes of the keys and vals added,
	// which size the built batch's slabs.
	kbytes, vbytes int
	// perm and spare are sortByPerm's scratch (spare: the entries'
	// other buffer).
	perm  []rowRef
	spare []builderEntry
}

type builderEntry struct {
	// pfx is the key's first 8 bytes, big-endian, zero padded: comparing
	// prefixes orders most pairs without touching the slab.
	pfx             uint64
	off, klen, vlen uint32
	time            repr.Timestamp
	diff            repr.Diff
}

// Add adds one update.
func (bd *Builder) Add(k, v repr.Row, t repr.Timestamp, d repr.Diff) {
	if d == 0 {
		return
	}
	off := uint32(len(bd.data))
	bd.data = append(bd.data, k...)
	bd.data = append(bd.data, v...)
	bd.kbytes += len(k)
	bd.vbytes += len(v)
	bd.ents = append(bd.ents, builderEntry{pfx: k.Prefix(), off: off, klen: uint32(len(k)), vlen: uint32(len(v)), time: t, diff: d})
}

// Reserve makes room for n more updates of about bytes packed bytes.
func (bd *Builder) Reserve(n, bytes int) {
	bd.ents = slices.Grow(bd.ents, n)
	bd.data = slices.Grow(bd.data, bytes)
}

// Len returns the number of updates added.
func (bd *Builder) Len() int { return len(bd.ents) }

func (bd *Builder) kv(e *builderEntry) (repr.Row, repr.Row) {
	k := repr.Row(bd.data[e.off : e.off+e.klen])
	v := repr.Row(bd.data[e.off+e.klen : e.off+e.klen+e.vlen])
	return k, v
}

// permSortMax is the most updates a builder sorts through a permutation
// (sortByPerm); larger runs, bulk loads, are sorted in place, which
// needs no second copy of the entries.
const permSortMax = consolidateChunk

// sortByPerm sorts the entries by cmp through (prefix, index) pairs, a
// third of an entry's size, so the sort moves less memory; then gathers
// the entries in that order.
func (bd *Builder) sortByPerm(cmp func(a, b builderEntry) int) {
	perm := bd.perm[:0]
	for i := range bd.ents {
		perm = append(perm, rowRef{bd.ents[i].pfx, uint32(i)})
	}
	slices.SortFunc(perm, func(a, b rowRef) int {
		if a.pfx != b.pfx {
			if a.pfx < b.pfx {
				return -1
			}
			return 1
		}
		return cmp(bd.ents[a.i], bd.ents[b.i])
	})
	out := bd.spare[:0]
	for _, r := range perm {
		out = append(out, bd.ents[r.i])
	}
	bd.perm, bd.spare, bd.ents = perm, bd.ents[:0], out
}

// emptyBatch is the batch every empty Build returns.
var emptyBatch = &Batch{}

// Build sorts and consolidates the updates into a batch and resets the
// builder.
func (bd *Builder) Build() *Batch {
	b, _ := bd.build(nil)
	return b
}

// build is Build in a step: with c non-nil and cancellable, sorting and
// building a large batch poll c and stop with its error (the builder is
// then reset and the batch lost, as the step is).
func (bd *Builder) build(c *stepCtl) (*Batch, error) {
	if len(bd.ents) == 0 {
		return emptyBatch, nil
	}
	polled := c != nil && c.cancellable && len(bd.ents) > consolidateChunk
	fail := func(err error) (*Batch, error) {
		bd.data, bd.ents, bd.kbytes, bd.vbytes = nil, nil, 0, 0
		return nil, err
	}
	cmp := func(a, b builderEntry) int {
		if a.pfx != b.pfx {
			if a.pfx < b.pfx {
				return -1
			}
			return 1
		}
		ak, av := bd.kv(&a)
		bk, bv := bd.kv(&b)
		if c := bytes.Compare(ak, bk); c != 0 {
			return c
		}
		if c := bytes.Compare(av, bv); c != 0 {
			return c
		}
		switch {
		case a.time < b.time:
			return -1
		case a.time > b.time:
			return 1
		}
		return 0
	}
	// Updates often arrive in order (a bulk load sorted by its key, a
	// merge's output): checking costs one comparison per update and
	// saves the sort.
	if !slices.IsSortedFunc(bd.ents, cmp) {
		switch {
		case polled:
			if err := sortPolled(bd.ents, cmp, c); err != nil {
				return fail(err)
			}
		case len(bd.ents) <= permSortMax:
			bd.sortByPerm(cmp)
		default:
			slices.SortFunc(bd.ents, cmp)
		}
	}
	// The slabs hold the packed bytes of keys and of vals added (at
	// most: equal keys are stored once and consolidation drops
	// updates): a guess grew the key slab by copying, or left most of
	// the val slab unused in the arrangement for good.
	lo, hi := bd.ents[0].time, bd.ents[0].time
	for i := range bd.ents {
		lo, hi = min(lo, bd.ents[i].time), max(hi, bd.ents[i].time)
	}
	var w batchWriter
	w.reserve(len(bd.ents), 0, bd.kbytes, bd.vbytes, lo, hi)
	for i := range bd.ents {
		if polled && i%meterEvery == 0 {
			if err := c.err(); err != nil {
				return fail(err)
			}
		}
		e := &bd.ents[i]
		k, v := bd.kv(e)
		w.push(k, v, e.time, e.diff)
	}
	// A bulk load's slabs are not kept for the next, usually smaller,
	// batch; a stream of similar batches reuses them (keepBuffers).
	n := len(bd.ents)
	keep := keepBuffers(cap(bd.data)+32*cap(bd.ents), len(bd.data)+32*n)
	bd.data, bd.ents, bd.kbytes, bd.vbytes = bd.data[:0], bd.ents[:0], 0, 0
	if !keep {
		bd.data, bd.ents = nil, nil
	}
	if !keepBuffers(32*cap(bd.spare), 32*n) {
		bd.spare = nil
	}
	if !keepBuffers(16*cap(bd.perm), 16*n) {
		bd.perm = nil
	}
	return w.finish(), nil
}

// mergeBatches merges sorted batches into one, advancing every time below
// since to since and consolidating (a merger run to its end).
func mergeBatches(a, b *Batch, since repr.Timestamp) *Batch {
	m := newMerger(a, b, since)
	m.work(math.MaxInt)
	return m.finish()
}

// merger merges two sorted batches into one in installments: each call to
// work merges whole keys until it has read its fuel in updates, so a large
// merge can be spread over many steps (Spine) instead of stalling one.
//
// Advancing times is monotone (t -> max(t, since)), so each batch's
// (val, time) order within a key survives it: a key in one batch is copied
// in order (consolidating the updates of one val that now share a time,
// which are adjacent), and a key in both is a two-way merge of its runs.
// A key in one batch whose times need no advancing, or that has one
// update, is copied in bulk. The output's columns, filter and fence are
// written as keys are merged, so finish is O(1).
type merger struct {
	a, b  *Batch
	since repr.Timestamp
	// i and j are the next keys of a and b to merge.
	i, j         int
	aKeep, bKeep bool
	w            batchWriter
}

// newMerger starts merging a and b, advancing times below since to since.
// The output's slabs and columns are allocated whole here (the inputs'
// sizes and time bounds bound them: a key filter and fence for every key
// of both, a time column as wide as their times need), so the
// installments only copy and finish has nothing left to build.
func newMerger(a, b *Batch, since repr.Timestamp) *merger {
	m := &merger{a: a, b: b, since: since, aKeep: a.times.base >= since, bKeep: b.times.base >= since}
	lo, hi := repr.MaxTimestamp, repr.Timestamp(0)
	for _, x := range []*Batch{a, b} {
		if x.Len() > 0 {
			lo, hi = min(lo, x.times.base), max(hi, x.times.hi)
		}
	}
	lo, hi = max(lo, since), max(hi, since)
	m.w.reserve(a.Len()+b.Len(), a.Keys()+b.Keys(), len(a.keyData)+len(b.keyData), len(a.valData)+len(b.valData), min(lo, hi), hi)
	return m
}

// size returns the number of updates the merge reads in all.
func (m *merger) size() int { return m.a.Len() + m.b.Len() }

// done reports whether every key has been merged (finish may be called).
func (m *merger) done() bool { return m.i >= m.a.Keys() && m.j >= m.b.Keys() }

// work merges keys until fuel updates of the inputs have been read (a key
// is merged whole, so it may overspend by one key's updates) or the merge
// is done. It returns the fuel left, which is positive only when done.
func (m *merger) work(fuel int) int {
	a, b, w := m.a, m.b, &m.w
	na, nb := a.Keys(), b.Keys()
	for (m.i < na || m.j < nb) && fuel > 0 {
		var c int
		switch {
		case m.i >= na:
			c = 1
		case m.j >= nb:
			c = -1
		default:
			// Keys' prefixes order most pairs (cmpKey without
			// slicing b's key each time).
			switch pa, pb := a.keyPrefix(m.i), b.keyPrefix(m.j); {
			case pa < pb:
				c = -1
			case pa > pb:
				c = 1
			default:
				c = bytes.Compare(a.key(m.i), b.key(m.j))
			}
		}
		switch {
		case c < 0:
			s, e := a.updRange(m.i)
			fuel -= e - s
			w.copyKey(a, m.i, m.since, m.aKeep)
			m.i++
		case c > 0:
			s, e := b.updRange(m.j)
			fuel -= e - s
			w.copyKey(b, m.j, m.since, m.bKeep)
			m.j++
		default:
			s, e := a.updRange(m.i)
			fuel -= e - s
			s, e = b.updRange(m.j)
			fuel -= e - s
			w.mergeKey(a, m.i, b, m.j, m.since)
			m.i++
			m.j++
		}
	}
	return fuel
}

// finish returns the merged batch; the merge must be done.
func (m *merger) finish() *Batch {
	out := m.w.finish()
	out.since = m.since
	return out
}

// copyKey appends key k of src and its updates, their times advanced to
// since; keep says src's times need no advancing, so the key is copied in
// bulk (as is a key of one update: no other of its updates can come to
// share its time). The writer's last key must be less than the key.
func (w *batchWriter) copyKey(src *Batch, k int, since repr.Timestamp, keep bool) {
	key := src.key(k)
	s, e := src.updRange(k)
	n := w.b.Len()
	w.addKey(key, keyHash(key), n)
	w.b.keyUpds[len(w.b.keyUpds)-1] = uint32(n + e - s)
	w.lastStale = true
	if !keep && e-s > 1 {
		// Advancing may make updates of one val share a time.
		w.copyAdvanced(src, s, e, since)
		return
	}
	vs := uint32(0)
	if s > 0 {
		vs = src.valEnds[s-1]
	}
	ve := src.valEnds[e-1]
	base := uint32(len(w.b.valData))
	w.b.valData = append(w.b.valData, src.valData[vs:ve]...)
	for u := s; u < e; u++ {
		w.b.valEnds = append(w.b.valEnds, base+src.valEnds[u]-vs)
		w.addTimeDiff(n+u-s, max(src.time(u), since), src.diff(u))
	}
}

// copyAdvanced appends updates [s, e) of src, all of the key just
// appended, with their times advanced to since: in order, summing the
// diffs of adjacent updates of one val that now share a time and dropping
// those that sum to zero (and the key, if none is left).
func (w *batchWriter) copyAdvanced(src *Batch, s, e int, since repr.Timestamp) {
	n0 := w.b.Len()
	var prev repr.Row // the val of the key's last update, if any
	for u := s; u < e; u++ {
		v, t, d := src.val(u), max(src.time(u), since), src.diff(u)
		n := w.b.Len()
		if n > n0 && w.b.times.at(n-1) == t && bytes.Equal(prev, v) {
			if w.addToLast(d) {
				continue
			}
			w.dropLast()
			// The updates are in (val, time) order, so none to come
			// shares the new last update's val and time.
			prev = nil
			continue
		}
		w.b.valData = append(w.b.valData, v...)
		w.b.valEnds = append(w.b.valEnds, uint32(len(w.b.valData)))
		w.addTimeDiff(n, t, d)
		prev = v
	}
	if n := w.b.Len(); n > n0 {
		w.b.keyUpds[len(w.b.keyUpds)-1] = uint32(n)
	} else {
		// Every update of the key consolidated away: drop the key.
		w.dropKey()
	}
}

// mergeKey appends the updates of key i of a and key j of b (equal keys),
// their times advanced to since, merged in (val, time) order.
func (w *batchWriter) mergeKey(a *Batch, i int, b *Batch, j int, since repr.Timestamp) {
	key := a.key(i)
	u, ue := a.updRange(i)
	v, ve := b.updRange(j)
	for u < ue || v < ve {
		var c int
		switch {
		case u >= ue:
			c = 1
		case v >= ve:
			c = -1
		default:
			if c = bytes.Compare(a.val(u), b.val(v)); c == 0 {
				c = cmpTime(max(a.time(u), since), max(b.time(v), since))
			}
		}
		if c <= 0 {
			w.push(key, a.val(u), max(a.time(u), since), a.diff(u))
			u++
		} else {
			w.push(key, b.val(v), max(b.time(v), since), b.diff(v))
			v++
		}
	}
}

// cmpTime compares two times.
func cmpTime(x, y repr.Timestamp) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// maxTime returns a bound on b's times, at least the latest (0 when
// empty): the latest time pushed into it, which a consolidation may have
// dropped.
func (b *Batch) maxTime() repr.Timestamp {
	if b.Len() == 0 {
		return 0
	}
	return b.times.hi
}

// minTime returns a bound on b's times, at most the earliest: its times'
// base, to which each update adds an unsigned offset.
func (b *Batch) minTime() repr.Timestamp { return b.times.base }

// maxTimeAtMost reports whether every update of bs is at a time <= t.
func maxTimeAtMost(bs []*Batch, t repr.Timestamp) bool {
	for _, b := range bs {
		if b.maxTime() > t {
			return false
		}
	}
	return true
}
