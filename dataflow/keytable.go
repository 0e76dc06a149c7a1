package dataflow

import (
	"bytes"
	"encoding/binary"
	"iter"
	"math"
	"math/bits"
	"unsafe"

	"github.com/viewd/viewd/repr"
)

// keyTable maps packed keys to dense slots (uint32): the group index of
// the stateful operators (reduce, distinct and threshold, TopK, window),
// which keep each group's state in slices indexed by slot rather than in
// a Go map of heap objects. Nothing in it holds a pointer per key: the
// garbage collector sees a handful of slices however many groups there
// are, and a group costs its key bytes plus about keySlotBytes.
//
// The index is open addressing with linear probing over a power-of-two
// []uint64: an entry is the key hash's high 32 bits (which also give the
// entry's home bucket) above slot+1, 0 an empty bucket. A probe compares
// the stored hash bits before the key, so it rarely reads a key that
// does not match; growth (doubling at 3/4 full) rehashes from the stored
// bits without reading keys; deletion shifts later entries of the probe
// run back (no tombstones). The keys live in one byte slab (spanArena),
// slot i's key at an offset the arena keeps; a deleted slot goes on a
// free list for the next insert, its bytes become garbage, and the slab is
// compacted when the garbage outgrows the live bytes.
//
// The hash is keyHash, the one that shards keys among workers; the shard
// is taken from its low bits, the index uses its high ones.
type keyTable struct {
	index []uint64
	shift uint // 64 - log2(len(index))
	keys  spanArena
	free  []uint32 // deleted slots, reused first
	n     int      // live slots
}

// keySlotBytes approximates what one live key costs a keyTable beyond its
// bytes: its index bucket (8 bytes at a load between 3/8 and 3/4) and its
// offset and length prefix in the arena (9 bytes), as the memory limit
// charges it.
const keySlotBytes = 28

// slotHashBits is the part of an index entry that holds hash bits.
const slotHashBits uint64 = math.MaxUint64 << 32 & math.MaxUint64

// len returns the number of live keys.
func (t *keyTable) len() int { return t.n }

// find returns key k's slot.
func (t *keyTable) find(k []byte) (uint32, bool) { return t.findHashed(k, keyHash(k)) }

// findHashed is find of a key whose keyHash is h.
func (t *keyTable) findHashed(k []byte, h uint64) (uint32, bool) {
	if t.n == 0 {
		return 0, false
	}
	_, slot, ok := t.probe(k, h)
	return slot, ok
}

// probe returns k's bucket and slot if it is present, else the empty
// bucket where it would go.
func (t *keyTable) probe(k []byte, h uint64) (bucket int, slot uint32, ok bool) {
	mask := len(t.index) - 1
	tag := h & slotHashBits
	for i := int(h >> t.shift); ; i = (i + 1) & mask {
		e := t.index[i]
		if e == 0 {
			return i, 0, false
		}
		if e&slotHashBits == tag {
			if s := uint32(e) - 1; bytes.Equal(t.keys.get(s), k) {
				return i, s, true
			}
		}
	}
}

// insert returns key k's slot, adding k if it is absent (added).
func (t *keyTable) insert(k []byte) (slot uint32, added bool) {
	return t.insertHashed(k, keyHash(k))
}

// insertHashed is insert of a key whose keyHash is h.
func (t *keyTable) insertHashed(k []byte, h uint64) (slot uint32, added bool) {
	if (t.n+1)*4 > len(t.index)*3 {
		t.grow()
	}
	b, slot, ok := t.probe(k, h)
	if ok {
		return slot, false
	}
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if t.keys.slots() >= math.MaxUint32-1 {
			// 4 billion groups in one shard: far past any memory.
			panic("dataflow: keyTable: too many keys")
		}
		slot = uint32(t.keys.slots())
	}
	t.keys.set(slot, k)
	t.index[b] = h&slotHashBits | uint64(slot+1)
	t.n++
	return slot, true
}

// grow doubles the index (or makes its first one) and rehashes the
// entries from their stored hash bits.
func (t *keyTable) grow() {
	size := max(2*len(t.index), 8)
	old := t.index
	t.index = make([]uint64, size)
	t.shift = uint(64 - bits.TrailingZeros(uint(size)))
	mask := size - 1
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := int(e >> t.shift)
		for t.index[i] != 0 {
			i = (i + 1) & mask
		}
		t.index[i] = e
	}
}

// delete removes a live slot: the slot goes on the free list and is
// reused by a later insert; its key's bytes become garbage, and the arena
// is compacted when garbage outweighs live keys (which invalidates the
// slices key returned).
func (t *keyTable) delete(slot uint32) { t.deleteHashed(slot, keyHash(t.keys.get(slot))) }

// deleteHashed is delete of a slot whose key's keyHash is h.
func (t *keyTable) deleteHashed(slot uint32, h uint64) {
	mask := len(t.index) - 1
	i := int(h >> t.shift)
	for uint32(t.index[i]) != slot+1 {
		i = (i + 1) & mask
	}
	// Backward-shift deletion: move each later entry of the run whose
	// home bucket is not in (i, j] into the hole, until an empty bucket.
	for {
		t.index[i] = 0
		j := i
		for {
			j = (j + 1) & mask
			e := t.index[j]
			if e == 0 {
				t.keys.clear(slot)
				t.free = append(t.free, slot)
				t.n--
				t.keys.maybeCompact()
				return
			}
			home := int(e >> t.shift)
			// e may fill the hole at i unless its home lies cyclically
			// in (i, j].
			if (i <= j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
				t.index[i] = e
				i = j
				break
			}
		}
	}
}

// key returns slot's key. The bytes alias the table's arena: they stay
// valid until the next insert or delete (a delete may compact the arena,
// an insert may move it) and must not be modified.
func (t *keyTable) key(slot uint32) []byte { return t.keys.get(slot) }

// live reports whether slot holds a key.
func (t *keyTable) live(slot uint32) bool {
	return int(slot) < t.keys.slots() && t.keys.offs[slot] != noSpan
}

// all iterates the live slots in slot order. The body must not insert or
// delete.
func (t *keyTable) all() iter.Seq[uint32] {
	return func(yield func(uint32) bool) {
		for s := range t.keys.slots() {
			if t.keys.offs[s] != noSpan && !yield(uint32(s)) {
				return
			}
		}
	}
}

// bytes returns the bytes the table holds (capacities).
func (t *keyTable) bytes() int {
	return 8*cap(t.index) + 4*cap(t.free) + t.keys.bytes()
}

// spanArena stores one byte string per slot in one slab: slot i's string
// is at buf[offs[i]:], its length (a uvarint) followed by its bytes, so
// that reading a string touches its offset and then one place in the
// slab. Replaced and cleared strings become garbage, which maybeCompact
// reclaims by copying the live strings to a new slab (slots keep their
// numbers). The slab holds no pointers.
type spanArena struct {
	buf     []byte
	offs    []uint64 // noSpan: the slot holds nothing
	garbage int      // bytes of buf no slot refers to
}

// noSpan marks a slot of a spanArena that holds no string.
const noSpan = math.MaxUint64

// minCompact is the garbage below which a spanArena is not compacted:
// a small arena's copying would cost more than its garbage.
const minCompact = 4 << 10

// slots returns the number of slots the arena has room for.
func (a *spanArena) slots() int { return len(a.offs) }

// span returns the string at off: its start and end in buf.
func (a *spanArena) span(off uint64) (start, end uint64) {
	n, w := binary.Uvarint(a.buf[off:])
	start = off + uint64(w)
	return start, start + n
}

// get returns slot's string (nil if it holds none), with its capacity
// limited to its length: valid until the next set or compaction.
func (a *spanArena) get(slot uint32) []byte {
	if int(slot) >= len(a.offs) || a.offs[slot] == noSpan {
		return nil
	}
	start, end := a.span(a.offs[slot])
	return a.buf[start:end:end]
}

// has reports whether slot holds a string.
func (a *spanArena) has(slot uint32) bool {
	return int(slot) < len(a.offs) && a.offs[slot] != noSpan
}

// set stores b as slot's string, in place when it fits the old one's
// bytes (slices get returned for slot then see b), else appended to the
// slab. It may compact the arena.
func (a *spanArena) set(slot uint32, b []byte) {
	for int(slot) >= len(a.offs) {
		a.offs = append(a.offs, noSpan)
	}
	need := uint64(uvarintLen(uint64(len(b))) + len(b))
	if off := a.offs[slot]; off != noSpan {
		_, end := a.span(off)
		if old := end - off; need <= old {
			n := binary.PutUvarint(a.buf[off:], uint64(len(b)))
			copy(a.buf[off+uint64(n):], b)
			a.garbage += int(old - need)
			return
		}
		a.garbage += int(end - off)
	}
	a.offs[slot] = uint64(len(a.buf))
	a.buf = binary.AppendUvarint(a.buf, uint64(len(b)))
	a.buf = append(a.buf, b...)
	a.maybeCompact()
}

// uvarintLen returns the bytes of x as a uvarint.
func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

// clear drops slot's string.
func (a *spanArena) clear(slot uint32) {
	if int(slot) >= len(a.offs) || a.offs[slot] == noSpan {
		return
	}
	_, end := a.span(a.offs[slot])
	a.garbage += int(end - a.offs[slot])
	a.offs[slot] = noSpan
}

// maybeCompact copies the live strings to a new slab when the garbage
// outweighs them.
func (a *spanArena) maybeCompact() {
	live := len(a.buf) - a.garbage
	if a.garbage < minCompact || a.garbage <= live {
		return
	}
	buf := make([]byte, 0, live+live/4)
	for s, off := range a.offs {
		if off == noSpan {
			continue
		}
		_, end := a.span(off)
		a.offs[s] = uint64(len(buf))
		buf = append(buf, a.buf[off:end]...)
	}
	a.buf, a.garbage = buf, 0
}

// bytes returns the bytes the arena holds (capacities).
func (a *spanArena) bytes() int { return cap(a.buf) + 8*cap(a.offs) }

var (
	_ stateSizer = (*reduceOp)(nil)
	_ stateSizer = (*thresholdOp)(nil)
	_ stateSizer = (*topkOp)(nil)
	_ stateSizer = (*windowOp)(nil)
)

// msGroups is the state of TopK and window: per group key, the group's
// rows in a multiset, by the key's slot.
type msGroups struct {
	keys keyTable
	sets msTable
}

// at returns the multiset of the group at slot, empty for a new slot; put
// stores it back after the group's changes. The pointer is valid until
// the next at.
func (g *msGroups) at(slot uint32) *multiset { return g.sets.at(slot) }

// add is msTable.add.
func (g *msGroups) add(ms *multiset, key, val []byte, d repr.Diff) (made bool) {
	before, _ := g.sets.add(ms, key, val, d)
	return before == 0
}

// retain is msTable.retain.
func (g *msGroups) retain(ms *multiset, keep func(e msEntry) bool) { g.sets.retain(ms, keep) }

// put stores the group at slot after its changes (ms is what at
// returned), and deletes the group, key and all, when it is empty.
func (g *msGroups) put(slot uint32, ms *multiset) {
	if ms.len() == 0 {
		g.sets.drop(slot)
		g.keys.delete(slot)
		return
	}
	g.sets.put(slot, ms)
}

// bytes returns the bytes of the groups' state.
func (g *msGroups) bytes() int64 { return int64(g.keys.bytes()) + g.sets.bytes() }

// msGroupBytes is a group's state beyond its key bytes and its multiset
// entries, as the memory limit charges it: its key's slot and its
// multiset's offset, length and form in the msTable.
const msGroupBytes = keySlotBytes + msSlotBytes

// msTable holds many multisets by dense slot, so that a million small
// ones (most groups of most TopKs, windows and ordered aggregates) are
// not a million or two heap objects for the garbage collector to mark.
// A small multiset is packed (multiset.pack) in one pointer-free slab (a
// spanArena) shared by every slot; at unpacks it into a scratch multiset,
// which the caller changes, and put packs it back. A multiset whose
// packed form would pass msPackBytes, or that splits into blocks, is kept
// apart by value in big and changed in place; it is packed again once it
// shrinks to half that (so that one hovering at the limit does not move
// at every change).
//
// So the key and value bytes of a multiset at returns are valid until the
// next at, put or drop, besides the multiset's own rules; at most one
// multiset of a table is in use at a time.
type msTable struct {
	// packed holds by slot msPacked and a packed multiset, or msBig and
	// the multiset's index in big (a uvarint).
	packed  spanArena
	big     []multiset
	freeBig []uint32
	// cur is the scratch multiset at unpacks a packed slot into; buf a
	// packing being built.
	cur multiset
	buf []byte
	// bigBytes is the big multisets' entries by msEntrySize, kept as they
	// come and go; packed ones count as the slab's capacity.
	bigBytes int64
	// free holds the slots release gave back, next the first never
	// given (for a table whose slots newSlot gives).
	free []uint32
	next uint32
}

// msSlotBytes is what a multiset's slot in an msTable costs beyond its
// entries, as the memory limit charges it: its offset in the slab, and
// its length and form.
const msSlotBytes = 8 + 2

// newSlot returns a slot for a new multiset of a table whose slots are
// not given by a keyTable: one release gave back, else a new one.
func (t *msTable) newSlot() uint32 {
	if n := len(t.free); n > 0 {
		slot := t.free[n-1]
		t.free = t.free[:n-1]
		return slot
	}
	if t.next == math.MaxUint32 {
		// 4 billion multisets in one shard: far past any memory.
		panic("dataflow: msTable: too many multisets")
	}
	t.next++
	return t.next - 1
}

// release drops the multiset of a slot newSlot gave, and gives the slot
// back for reuse.
func (t *msTable) release(slot uint32) {
	t.drop(slot)
	t.free = append(t.free, slot)
}

// The first byte of a slot's string in msTable.packed: its form.
const (
	msPacked = 0
	msBig    = 1
)

// msPackBytes is the packed size past which a multiset is kept apart in
// its own blocks: at and put copy a packed multiset whole, so that a
// change costs O(msPackBytes), besides the multiset's O(log n).
var msPackBytes = 512

// bigIndex returns the index in big of slot's multiset, or -1 if it is
// packed (or empty).
func (t *msTable) bigIndex(slot uint32) int {
	b := t.packed.get(slot)
	if len(b) == 0 || b[0] != msBig {
		return -1
	}
	i, _ := binary.Uvarint(b[1:])
	return int(i)
}

// at returns slot's multiset: its multiset in big, or the scratch holding
// its packed one (empty for a new slot).
func (t *msTable) at(slot uint32) *multiset {
	b := t.packed.get(slot)
	if len(b) > 0 && b[0] == msBig {
		i, _ := binary.Uvarint(b[1:])
		return &t.big[i]
	}
	if len(b) > 0 {
		b = b[1:]
	}
	t.cur.unpack(b)
	return &t.cur
}

// add is ms.add for a multiset at returned.
func (t *msTable) add(ms *multiset, key, val []byte, d repr.Diff) (before, after repr.Diff) {
	before, after = ms.add(key, val, d)
	if ms != &t.cur {
		switch {
		case before == 0:
			t.bigBytes += int64(msEntrySize(val))
		case after == 0:
			t.bigBytes -= int64(msEntrySize(val))
		}
	}
	return before, after
}

// retain is ms.retain for a multiset at returned.
func (t *msTable) retain(ms *multiset, keep func(e msEntry) bool) {
	if ms == &t.cur {
		ms.retain(keep)
		return
	}
	ms.retain(func(e msEntry) bool {
		if keep(e) {
			return true
		}
		t.bigBytes -= int64(msEntrySize(e.row()))
		return false
	})
}

// put stores slot's multiset ms (what at returned) after its changes:
// packed, or apart when it outgrew the packed form (or, apart, packed
// again once it shrank). An empty one stays as it is: drop frees it.
func (t *msTable) put(slot uint32, ms *multiset) {
	if ms == &t.cur {
		if ms.big == nil && ms.packedSize() <= msPackBytes {
			t.pack(slot, ms)
			return
		}
		// Keep it apart: the scratch's buffers become its own.
		var i uint32
		if n := len(t.freeBig); n > 0 {
			i = t.freeBig[n-1]
			t.freeBig = t.freeBig[:n-1]
		} else {
			t.big = append(t.big, multiset{})
			i = uint32(len(t.big) - 1)
		}
		t.big[i], t.cur = t.cur, multiset{}
		t.bigBytes += entryBytes(&t.big[i])
		t.buf = binary.AppendUvarint(append(t.buf[:0], msBig), uint64(i))
		t.packed.set(slot, t.buf)
		return
	}
	if ms.big == nil && ms.packedSize() <= msPackBytes/2 {
		i := t.bigIndex(slot)
		t.bigBytes -= entryBytes(ms)
		t.pack(slot, ms)
		t.big[i] = multiset{}
		t.freeBig = append(t.freeBig, uint32(i))
	}
}

// pack stores ms packed as slot's.
func (t *msTable) pack(slot uint32, ms *multiset) {
	t.buf = ms.pack(append(t.buf[:0], msPacked))
	t.packed.set(slot, t.buf)
}

// drop frees slot's multiset.
func (t *msTable) drop(slot uint32) {
	if i := t.bigIndex(slot); i >= 0 {
		t.bigBytes -= entryBytes(&t.big[i])
		t.big[i] = multiset{}
		t.freeBig = append(t.freeBig, uint32(i))
	}
	t.packed.clear(slot)
	t.packed.maybeCompact()
}

// entryBytes returns ms's entries by msEntrySize.
func entryBytes(ms *multiset) int64 {
	var n int64
	for e := range ms.all() {
		n += int64(msEntrySize(e.row()))
	}
	return n
}

// bytes returns the bytes the table holds: the slab and slices by
// capacity, the big multisets' entries as counted.
func (t *msTable) bytes() int64 {
	ms := int64(unsafe.Sizeof(multiset{}))
	return int64(t.packed.bytes()+4*(cap(t.freeBig)+cap(t.free))+cap(t.buf)+cap(t.cur.arena)) +
		ms*int64(cap(t.big)+1) + int64(msEntryBytes*cap(t.cur.blk)) + t.bigBytes
}
