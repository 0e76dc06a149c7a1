package dataflow

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"iter"
	"slices"
	"sort"

	"github.com/viewd/viewd/repr"
)

// msBlock is the target size of a multiset block: an insert or delete
// moves up to 2*msBlock entries, a search compares log2 of the blocks
// plus log2(msBlock) keys.
const msBlock = 32

// multiset is an ordered multiset of values: entries sorted by a
// memcomparable sort key, each with its packed value and multiplicity. It
// keeps min/max, TopK windows and ordered aggregates of one group current
// without rescanning the group. Entries live in blocks of at most
// 2*msBlock (hierarchical buckets): an update is a binary search over the
// blocks' last keys, one within a block, and a move of at most 2*msBlock
// entries, so a group of a million values costs O(log n) per change, not
// O(n).
//
// Its state holds no pointers for the collector to trace but the headers
// of a few slices: the entries (msSlot) are plain integers, and their keys
// and values live in one byte arena per multiset. A small multiset (most
// groups: a TopK group of one auction's bids, a min over a handful of
// rows) is one block and its arena, two allocations, with no block index
// until its block splits.
//
// Deleted entries leave their bytes dead in the arena (or, the last ones
// appended, cut it short); a compaction moves the live bytes together
// once the dead ones outweigh them, or before an add would grow the
// arena. So the key and value slices the multiset hands out (msEntry's
// key, val and row, and the datums decoded from them, which alias them)
// are valid until the next add or retain on the multiset: a caller that
// keeps one longer copies it (and passes add no key or value of the
// multiset's own). Tests set msCompactEagerly, which compacts at every
// deletion and overwrites the bytes it frees, so that a caller breaking
// this rule fails them.
//
// A multiset is a value of slices and a pointer: it may be moved (held by
// value in a slice that grows), but two copies must not both be used.
type multiset struct {
	// blk is the only block of a small multiset (big == nil); it is nil
	// once big holds the blocks.
	blk []msSlot
	// big holds the blocks of a multiset whose first block split. It
	// keeps at least two blocks: one that is left becomes blk again.
	big *msBlocks
	// arena holds the entries' key and value bytes, and dead counts its
	// bytes that no entry uses any more (deleted entries').
	arena []byte
	dead  int
}

// msBlocks are the blocks of a multiset of more than 2*msBlock entries
// (or that had as many).
type msBlocks struct {
	blocks [][]msSlot
	// last[i] is the prefix of blocks[i]'s last key: the search over
	// blocks reads this one slice, not an entry of every block it
	// probes (each in an allocation of its own).
	last []uint64
	n    int
}

// msSlot is an entry as the multiset stores it, in 32 bytes: its key is
// arena[off:off+klen]; its value the key's last vlen bytes, or when
// msValApart is set in vlen the vlen bytes that follow the key. (A key
// must be under 4 GiB and a value under 2 GiB: a row is far smaller.)
type msSlot struct {
	// pfx is key's first 8 bytes as an integer (repr.Row.Prefix):
	// comparing it first orders most pairs without reading the arena.
	pfx  uint64
	off  int
	klen uint32
	vlen uint32
	n    repr.Diff
}

// msValApart marks, in msSlot.vlen, a value stored after its key rather
// than as the key's suffix.
const msValApart = 1 << 31

// msEntry is an entry as iteration and retain show it, by value (a
// pointer would cost an allocation per loop): its key and packed value
// alias the multiset's arena, so that they cost no copy, must not be
// modified, and are valid until the next add or retain (see multiset).
type msEntry struct {
	key, val []byte
	n        repr.Diff
}

// row returns the entry's packed value without copying it.
func (e msEntry) row() repr.Row { return e.val }

// msCompactEagerly makes multisets compact their arenas at every deletion
// rather than once the dead bytes outweigh the live ones, and overwrite
// the bytes a compaction or a cut frees: tests set it to exercise
// compaction under every workload and to catch a caller that keeps an
// entry's bytes past the next add or retain.
var msCompactEagerly = false

// msPoison is what msCompactEagerly overwrites freed arena bytes with.
const msPoison = 0xee

// key returns s's key bytes, capacity-limited so that an append to them
// cannot write into the arena.
func (m *multiset) key(s *msSlot) []byte {
	end := s.off + int(s.klen)
	return m.arena[s.off:end:end]
}

// val returns s's value bytes, capacity-limited as key's.
func (m *multiset) val(s *msSlot) []byte {
	vl := int(s.vlen &^ msValApart)
	end := s.off + int(s.klen)
	if s.vlen&msValApart != 0 {
		end += vl
	}
	return m.arena[end-vl : end : end]
}

// span returns the arena bytes s uses: [off, off+span).
func (s *msSlot) span() int {
	if s.vlen&msValApart != 0 {
		return int(s.klen) + int(s.vlen&^msValApart)
	}
	return int(s.klen)
}

// compare orders s's key against key, whose prefix is kp.
func (m *multiset) compare(s *msSlot, kp uint64, key []byte) int {
	if s.pfx != kp {
		return cmp.Compare(s.pfx, kp)
	}
	return bytes.Compare(m.key(s), key)
}

// nblocks returns the number of blocks.
func (m *multiset) nblocks() int {
	if m.big != nil {
		return len(m.big.blocks)
	}
	if len(m.blk) > 0 {
		return 1
	}
	return 0
}

// block returns block i.
func (m *multiset) block(i int) []msSlot {
	if m.big != nil {
		return m.big.blocks[i]
	}
	return m.blk
}

// add changes the multiplicity of (key, val) by d and returns its
// multiplicity before and after.
func (m *multiset) add(key, val []byte, d repr.Diff) (before, after repr.Diff) {
	kp := repr.Row(key).Prefix()
	bi := 0
	if m.big != nil {
		bl := m.big
		bi = sort.Search(len(bl.blocks), func(i int) bool {
			if p := bl.last[i]; p != kp {
				return p > kp
			}
			b := bl.blocks[i]
			return m.compare(&b[len(b)-1], kp, key) >= 0
		})
		// A key past every block's last goes at the end of the last.
		bi = min(bi, len(bl.blocks)-1)
	}
	// An empty small multiset's block keeps its capacity (a table's
	// scratch multiset, reused for every packed one).
	b := m.block(bi)
	i := sort.Search(len(b), func(i int) bool {
		// The prefixes order most pairs, inline.
		if p := b[i].pfx; p != kp {
			return p > kp
		}
		return m.compare(&b[i], kp, key) >= 0
	})
	if i < len(b) && b[i].pfx == kp && bytes.Equal(m.key(&b[i]), key) {
		before = b[i].n
		b[i].n += d
		after = b[i].n
		if after == 0 {
			m.free(&b[i])
			m.remove(bi, i)
			m.maybeCompact()
		}
		return before, after
	}
	if d == 0 {
		return 0, 0
	}
	// TopK and window keys end with the row they order (sortKey): their
	// values share the key's bytes. Others follow the key.
	apart := !bytes.HasSuffix(key, val)
	need := len(key)
	if apart {
		need += len(val)
	}
	if len(m.arena)+need > cap(m.arena) {
		// Reuse the dead bytes before growing the arena.
		m.compact(need)
	}
	s := msSlot{pfx: kp, off: len(m.arena), klen: uint32(len(key)), vlen: uint32(len(val)), n: d}
	m.arena = append(m.arena, key...)
	if apart {
		s.vlen |= msValApart
		m.arena = append(m.arena, val...)
	}
	if len(b) == cap(b) && m.big == nil {
		// A small multiset's block grows by half, not twice as append
		// would grow it: most stay small (a TopK of 10 holds 11 at
		// most).
		b = append(make([]msSlot, 0, len(b)+len(b)/2+1), b...)
	}
	b = slices.Insert(b, i, s)
	switch {
	case len(b) <= 2*msBlock:
		m.setBlock(bi, b)
	case m.big == nil:
		hi := make([]msSlot, len(b)-msBlock, 2*msBlock)
		copy(hi, b[msBlock:])
		lo := b[:msBlock]
		m.big = &msBlocks{
			blocks: [][]msSlot{lo, hi},
			last:   []uint64{lo[msBlock-1].pfx, hi[len(hi)-1].pfx},
			n:      len(b),
		}
		m.blk = nil
		return 0, d
	default:
		bl := m.big
		hi := make([]msSlot, len(b)-msBlock, 2*msBlock)
		copy(hi, b[msBlock:])
		bl.blocks = slices.Insert(bl.blocks, bi+1, hi)
		bl.last = slices.Insert(bl.last, bi+1, hi[len(hi)-1].pfx)
		m.setBlock(bi, b[:msBlock])
	}
	if m.big != nil {
		m.big.n++
	}
	return 0, d
}

// setBlock stores block i (non-empty) and its last key's prefix.
func (m *multiset) setBlock(i int, b []msSlot) {
	if m.big == nil {
		m.blk = b
		return
	}
	m.big.blocks[i] = b
	m.big.last[i] = b[len(b)-1].pfx
}

// remove deletes entry i of block bi.
func (m *multiset) remove(bi, i int) {
	b := slices.Delete(m.block(bi), i, i+1)
	if m.big == nil {
		m.blk = b
		return
	}
	m.big.n--
	if len(b) > 0 {
		m.setBlock(bi, b)
		return
	}
	m.big.blocks = slices.Delete(m.big.blocks, bi, bi+1)
	m.big.last = slices.Delete(m.big.last, bi, bi+1)
	m.unsplit()
}

// unsplit makes a multiset left with one block small again.
func (m *multiset) unsplit() {
	if m.big != nil && len(m.big.blocks) <= 1 {
		if len(m.big.blocks) == 1 {
			m.blk = m.big.blocks[0]
		}
		m.big = nil
	}
}

// free gives up s's arena bytes (s is being deleted): it cuts the arena
// short when they are its last (the common case of a row that a TopK adds
// and at once trims), else counts them dead. It overwrites nothing: a
// retain's callback may still read the entries it dropped before.
func (m *multiset) free(s *msSlot) {
	if end := s.off + s.span(); end == len(m.arena) {
		m.arena = m.arena[:s.off]
		return
	}
	m.dead += s.span()
}

// poison overwrites freed arena bytes under msCompactEagerly: b is a
// slice of the arena's array, up to its capacity.
func (m *multiset) poison(b []byte) {
	if msCompactEagerly {
		for i := range b {
			b[i] = msPoison
		}
	}
}

// maybeCompact compacts the arena when the dead bytes outweigh the live
// ones, so that it holds at most twice the live bytes (and each
// compaction's copy is paid for by as many deleted bytes). An add that
// would grow the arena compacts it first if any bytes are dead.
func (m *multiset) maybeCompact() {
	if m.dead > 0 && (m.dead > len(m.arena)-m.dead || msCompactEagerly) {
		m.compact(0)
	}
	// The bytes past the arena's end are free: cut off or compacted away.
	m.poison(m.arena[len(m.arena):cap(m.arena)])
}

// compact moves the live bytes together, leaving room for extra more: in
// place in a small multiset whose arena has the room and is not much
// larger than needed, so that it keeps its capacity for the next adds;
// else into a new array, with an eighth more room when it grows (an
// arena grows by an eighth, not twice as append would grow it: most
// multisets keep about the size they reach).
func (m *multiset) compact(extra int) {
	live := len(m.arena) - m.dead
	m.dead = 0
	old := m.arena
	want := live + extra
	room := 2*want + 64 // the capacity an add's compaction keeps
	if extra == 0 {
		// A deletion's compaction (the multiset shrank) gives back
		// all but a quarter's room.
		room = want + want/4 + 64
	}
	if m.big == nil && want <= cap(old) && cap(old) <= room {
		m.compactInPlace()
		m.poison(old[len(m.arena):cap(old)])
		return
	}
	size := live
	if extra > 0 {
		size = live + extra + (live+extra)/8
	}
	// slices.Grow rounds the capacity up to the allocation's size class.
	arena := slices.Grow([]byte(nil), size)
	for bi := range m.nblocks() {
		b := m.block(bi)
		for i := range b {
			s := &b[i]
			off := len(arena)
			arena = append(arena, old[s.off:s.off+s.span()]...)
			s.off = off
		}
	}
	m.arena = arena
	m.poison(old[:cap(old)])
}

// compactInPlace moves a small multiset's live bytes to the front of its
// arena, entry by entry in the order of their offsets, so that a move
// never overwrites bytes still to move.
func (m *multiset) compactInPlace() {
	var buf [2 * msBlock]uint8
	idx := buf[:len(m.blk)]
	for i := range idx {
		idx[i] = uint8(i)
	}
	slices.SortFunc(idx, func(a, b uint8) int { return cmp.Compare(m.blk[a].off, m.blk[b].off) })
	n := 0
	for _, i := range idx {
		s := &m.blk[i]
		span := s.span()
		copy(m.arena[n:], m.arena[s.off:s.off+span])
		s.off = n
		n += span
	}
	m.arena = m.arena[:n]
}

// len returns the number of distinct entries.
func (m *multiset) len() int {
	if m.big != nil {
		return m.big.n
	}
	return len(m.blk)
}

// view returns s as an msEntry.
func (m *multiset) view(s *msSlot) msEntry {
	return msEntry{key: m.key(s), val: m.val(s), n: s.n}
}

// all iterates the entries in key order.
func (m *multiset) all() iter.Seq[msEntry] {
	return func(yield func(msEntry) bool) {
		for bi := range m.nblocks() {
			b := m.block(bi)
			for i := range b {
				if !yield(m.view(&b[i])) {
					return
				}
			}
		}
	}
}

// backward iterates the entries in reverse key order.
func (m *multiset) backward() iter.Seq[msEntry] {
	return func(yield func(msEntry) bool) {
		for bi := m.nblocks() - 1; bi >= 0; bi-- {
			b := m.block(bi)
			for i := len(b) - 1; i >= 0; i-- {
				if !yield(m.view(&b[i])) {
					return
				}
			}
		}
	}
}

// walk calls f with the entries in key order (backward: in reverse)
// until it returns false. Unlike ranging over all or backward, chosen at
// run time, it makes no allocation for f or what f captures.
func (m *multiset) walk(backward bool, f func(e msEntry) bool) {
	nb := m.nblocks()
	for j := range nb {
		bi := j
		if backward {
			bi = nb - 1 - j
		}
		b := m.block(bi)
		for k := range b {
			i := k
			if backward {
				i = len(b) - 1 - k
			}
			if !f(m.view(&b[i])) {
				return
			}
		}
	}
}

// retain keeps the entries, in key order, for which keep returns true and
// drops the rest. Blocks only shrink, and empty ones go.
func (m *multiset) retain(keep func(e msEntry) bool) {
	filter := func(b []msSlot) []msSlot {
		kept := b[:0]
		for i := range b {
			if keep(m.view(&b[i])) {
				kept = append(kept, b[i])
			} else {
				m.free(&b[i])
			}
		}
		return kept
	}
	if m.big == nil {
		m.blk = filter(m.blk)
		if n := len(m.blk); cap(m.blk) > 2*n+2 {
			// A trim after a burst (a TopK group's many new rows of
			// one step) gives back the block's unused room.
			m.blk = append(make([]msSlot, 0, n+n/2+1), m.blk...)
		}
		m.maybeCompact()
		return
	}
	bl := m.big
	bs, last := bl.blocks[:0], bl.last[:0]
	for _, b := range bl.blocks {
		kept := filter(b)
		bl.n -= len(b) - len(kept)
		if len(kept) > 0 {
			bs = append(bs, kept)
			last = append(last, kept[len(kept)-1].pfx)
		}
	}
	clear(bl.blocks[len(bs):])
	bl.blocks, bl.last = bs, last
	m.unsplit()
	m.maybeCompact()
}

// pack appends m's entries to buf in key order, in the packed form unpack
// reads back: per entry its key's length (a uvarint), its value's length
// shifted left by one, the low bit set when the value is stored apart
// from the key (a uvarint), its multiplicity (a varint), then the key's
// bytes and, when apart, the value's. A small multiset packs into a few
// bytes more than its keys and values (no slots, no arena slack), with no
// pointer: msTable keeps small multisets so.
func (m *multiset) pack(buf []byte) []byte {
	for bi := range m.nblocks() {
		b := m.block(bi)
		for i := range b {
			s := &b[i]
			vf := uint64(s.vlen&^msValApart) << 1
			if s.vlen&msValApart != 0 {
				vf |= 1
			}
			buf = binary.AppendUvarint(buf, uint64(s.klen))
			buf = binary.AppendUvarint(buf, vf)
			buf = binary.AppendVarint(buf, int64(s.n))
			buf = append(buf, m.arena[s.off:s.off+s.span()]...)
		}
	}
	return buf
}

// packedSize estimates the bytes of m's packed form (from above for
// entries of keys and values under 128 bytes and multiplicities under
// 64): its live arena bytes and three per entry.
func (m *multiset) packedSize() int { return len(m.arena) - m.dead + 3*m.len() }

// unpack makes m, a small multiset, hold the entries of p (pack's form)
// and nothing else, in its own block and arena (reused: their capacity
// stays), so that m's key and value bytes never alias p.
func (m *multiset) unpack(p []byte) {
	// The bytes handed out before are dead from here on.
	m.poison(m.arena[:cap(m.arena)])
	m.blk, m.big, m.arena, m.dead = m.blk[:0], nil, m.arena[:0], 0
	for len(p) > 0 {
		kl, w := binary.Uvarint(p)
		p = p[w:]
		vf, w := binary.Uvarint(p)
		p = p[w:]
		n, w := binary.Varint(p)
		p = p[w:]
		s := msSlot{pfx: repr.Row(p[:kl]).Prefix(), off: len(m.arena), klen: uint32(kl), vlen: uint32(vf >> 1), n: repr.Diff(n)}
		if vf&1 != 0 {
			s.vlen |= msValApart
		}
		span := s.span()
		m.arena = append(m.arena, p[:span]...)
		m.blk = append(m.blk, s)
		p = p[span:]
	}
}
