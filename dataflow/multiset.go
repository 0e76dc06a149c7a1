package dataflow

import (
	"sort"

	"github.com/viewd/viewd/repr"
)

// multiset is an ordered multiset of values: entries sorted by a
// memcomparable sort key, each with its packed value and multiplicity. It
// keeps min/max and ordered aggregates of one group current without
// rescanning the group: an update is a binary search and, when a value
// appears or disappears, one slice move.
type multiset struct {
	ents []msEntry
}

type msEntry struct {
	key string
	val string // packed datum(s)
	n   repr.Diff
}

// add changes the multiplicity of (key, val) by d and returns its
// multiplicity before and after.
func (m *multiset) add(key, val []byte, d repr.Diff) (before, after repr.Diff) {
	i := sort.Search(len(m.ents), func(i int) bool { return m.ents[i].key >= string(key) })
	if i < len(m.ents) && m.ents[i].key == string(key) {
		before = m.ents[i].n
		m.ents[i].n += d
		after = m.ents[i].n
		if after == 0 {
			m.ents = append(m.ents[:i], m.ents[i+1:]...)
		}
		return before, after
	}
	m.ents = append(m.ents, msEntry{})
	copy(m.ents[i+1:], m.ents[i:])
	m.ents[i] = msEntry{key: string(key), val: string(val), n: d}
	return 0, d
}

func (m *multiset) len() int { return len(m.ents) }
