package dataflow

import (
	"bytes"
	"iter"
	"sort"

	"github.com/viewd/viewd/repr"
)

// msBlock is the target size of a multiset block.
const msBlock = 128

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
	n      int
}

type msEntry struct {
	key string
	val string // packed datum(s)
	n   repr.Diff
}

// add changes the multiplicity of (key, val) by d and returns its
// multiplicity before and after.
func (m *multiset) add(key, val []byte, d repr.Diff) (before, after repr.Diff) {
	bi := sort.Search(len(m.blocks), func(i int) bool {
		b := m.blocks[i]
		return b[len(b)-1].key >= string(key)
	})
	if bi == len(m.blocks) {
		if bi == 0 {
			// A first block grows as entries come: most groups are
			// small (a TopK group of one auction's bids, a min over a
			// handful of rows), and a block allocated whole would cost
			// 2*msBlock*40 bytes for each.
			m.blocks = append(m.blocks, make([]msEntry, 0, 2))
		} else {
			bi--
		}
	}
	b := m.blocks[bi]
	i := sort.Search(len(b), func(i int) bool { return b[i].key >= string(key) })
	if i < len(b) && b[i].key == string(key) {
		before = b[i].n
		b[i].n += d
		after = b[i].n
		if after == 0 {
			b = append(b[:i], b[i+1:]...)
			m.n--
			if len(b) == 0 {
				m.blocks = append(m.blocks[:bi], m.blocks[bi+1:]...)
			} else {
				m.blocks[bi] = b
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
	b[i] = msEntry{key: ks, val: vs, n: d}
	m.n++
	if len(b) > 2*msBlock {
		hi := make([]msEntry, len(b)-msBlock, 2*msBlock)
		copy(hi, b[msBlock:])
		clear(b[msBlock:])
		m.blocks = append(m.blocks, nil)
		copy(m.blocks[bi+2:], m.blocks[bi+1:])
		m.blocks[bi] = b[:msBlock]
		m.blocks[bi+1] = hi
	} else {
		m.blocks[bi] = b
	}
	return 0, d
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
	bs := m.blocks[:0]
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
		}
	}
	clear(m.blocks[len(bs):])
	m.blocks = bs
}
