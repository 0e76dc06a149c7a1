package dataflow

import (
	"encoding/binary"
	"math"
	"unsafe"

	"github.com/viewd/viewd/repr"
)

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
