package dataflow

import (
	"bytes"
	"encoding/binary"
	"iter"
	"math"
	"math/bits"

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
	if len(a.buf)+int(need) > cap(a.buf) && a.garbage >= minCompact && 4*a.garbage >= len(a.buf) {
		// Reclaim a slab a quarter garbage rather than grow it (a copy
		// either way), with half the live bytes' room for what comes.
		// b may alias the old slab, which the compaction leaves alone.
		live := len(a.buf) - a.garbage + int(need)
		a.compact(live + live/2)
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
	a.compact(live + live/4)
}

// compact copies the live strings to a new slab of capacity size.
func (a *spanArena) compact(size int) {
	buf := make([]byte, 0, size)
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
