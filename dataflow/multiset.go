package dataflow

import (
	"bytes"
	"iter"
	"sort"
	"unsafe"

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
type multiset struct {
	blocks [][]msEntry
	// last[i] is the prefix of blocks[i]'s last key: the search over
	// blocks reads this one slice, not an entry of every block it
	// probes (each in an allocation of its own).
	last []uint64
	n    int
}

type msEntry struct {
	// pfx is key's first 8 bytes as an integer (repr.Row.Prefix):
	// comparing it first orders most pairs without comparing strings.
	pfx uint64
	key string
	val string // packed datum(s)
	n   repr.Diff
}

// row returns the entry's packed value without copying it: the bytes
// alias the entry's string, which is immutable, so the row must not be
// modified (a conversion, repr.Row(e.val), would allocate a copy).
func (e *msEntry) row() repr.Row {
	return unsafe.Slice(unsafe.StringData(e.val), len(e.val))
}

// add changes the multiplicity of (key, val) by d and returns its
// multiplicity before and after.
func (m *multiset) add(key, val []byte, d repr.Diff) (before, after repr.Diff) {
	kp := repr.Row(key).Prefix()
	// atLeast reports whether e's key is >= key.
	atLeast := func(e *msEntry) bool { return e.pfx > kp || e.pfx == kp && e.key >= string(key) }
	bi := sort.Search(len(m.blocks), func(i int) bool {
		if p := m.last[i]; p != kp {
			return p > kp
		}
		b := m.blocks[i]
		return b[len(b)-1].key >= string(key)
	})
	if bi == len(m.blocks) {
		if bi == 0 {
			// A first block grows as entries come: most groups are
			// small (a TopK group of one auction's bids, a min over a
			// handful of rows), and a block allocated whole would cost
			// 2*msBlock entries for each.
			m.blocks = append(m.blocks, make([]msEntry, 0, 2))
			m.last = append(m.last, 0)
		} else {
			bi--
		}
	}
	b := m.blocks[bi]
	i := sort.Search(len(b), func(i int) bool { return atLeast(&b[i]) })
	if i < len(b) && b[i].key == string(key) {
		before = b[i].n
		b[i].n += d
		after = b[i].n
		if after == 0 {
			b = append(b[:i], b[i+1:]...)
			m.n--
			if len(b) == 0 {
				m.blocks = append(m.blocks[:bi], m.blocks[bi+1:]...)
				m.last = append(m.last[:bi], m.last[bi+1:]...)
			} else {
				m.setBlock(bi, b)
			}
		}
		return before, after
	}
	b = append(b, msEntry{})
	copy(b[i+1:], b[i:])
	ks, vs := string(key), ""
	if bytes.HasSuffix(key, val) {
		// TopK and window keys end with the row they order (sortKey):
		// the value shares the key's bytes rather than copying them.
		vs = ks[len(ks)-len(val):]
	} else {
		vs = string(val)
	}
	b[i] = msEntry{pfx: kp, key: ks, val: vs, n: d}
	m.n++
	if len(b) > 2*msBlock {
		hi := make([]msEntry, len(b)-msBlock, 2*msBlock)
		copy(hi, b[msBlock:])
		clear(b[msBlock:])
		m.blocks = append(m.blocks, nil)
		copy(m.blocks[bi+2:], m.blocks[bi+1:])
		m.last = append(m.last, 0)
		copy(m.last[bi+2:], m.last[bi+1:])
		m.setBlock(bi, b[:msBlock])
		m.setBlock(bi+1, hi)
	} else {
		m.setBlock(bi, b)
	}
	return 0, d
}

// setBlock stores block i (non-empty) and its last key's prefix.
func (m *multiset) setBlock(i int, b []msEntry) {
	m.blocks[i] = b
	m.last[i] = b[len(b)-1].pfx
}

// len returns the number of distinct entries.
func (m *multiset) len() int { return m.n }

// all iterates the entries in key order.
func (m *multiset) all() iter.Seq[*msEntry] {
	return func(yield func(*msEntry) bool) {
		for _, b := range m.blocks {
			for i := range b {
				if !yield(&b[i]) {
					return
				}
			}
		}
	}
}

// backward iterates the entries in reverse key order.
func (m *multiset) backward() iter.Seq[*msEntry] {
	return func(yield func(*msEntry) bool) {
		for bi := len(m.blocks) - 1; bi >= 0; bi-- {
			b := m.blocks[bi]
			for i := len(b) - 1; i >= 0; i-- {
				if !yield(&b[i]) {
					return
				}
			}
		}
	}
}

// retain keeps the entries, in key order, for which keep returns true and
// drops the rest. Blocks only shrink, and empty ones go.
func (m *multiset) retain(keep func(e *msEntry) bool) {
	bs, last := m.blocks[:0], m.last[:0]
	for _, b := range m.blocks {
		kept := b[:0]
		for i := range b {
			if keep(&b[i]) {
				kept = append(kept, b[i])
			}
		}
		clear(b[len(kept):])
		m.n -= len(b) - len(kept)
		if len(kept) > 0 {
			bs = append(bs, kept)
			last = append(last, kept[len(kept)-1].pfx)
		}
	}
	clear(m.blocks[len(bs):])
	m.blocks, m.last = bs, last
}
