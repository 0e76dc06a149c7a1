package dataflow

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/viewd/viewd/repr"
)

// msModelEntry is an entry of the multiset's model: a sorted slice.
type msModelEntry struct {
	key, val string
	n        repr.Diff
}

// TestMultisetModel: the multiset agrees with a sorted slice under random
// adds (values as the key's suffix or apart from it), removals, retains
// and multiplicities of either sign, through block splits, a split
// multiset's return to one block, emptying, and arena compactions (eager
// ones at every deleted byte for half the seeds). After every operation
// it checks the order, multiplicities, keys and values both ways round,
// the blocks' and arena's bookkeeping, and that appending to a key or row
// it handed out leaves the arena alone. The table runs do the same to
// multisets held in an msTable (see testMsTableModel).
func TestMultisetModel(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			if seed%2 == 1 {
				compactEagerly(t)
			}
			testMultisetModel(t, seed)
		})
		t.Run(fmt.Sprintf("table/%d", seed), func(t *testing.T) {
			if seed%2 == 1 {
				compactEagerly(t)
			}
			testMsTableModel(t, seed)
		})
	}
}

// msModel is a multiset's model and what its run went through.
type msModel struct {
	entries        []msModelEntry
	split, unsplit bool
	compactions    int
}

// step applies one random operation (op of a run of ops, in a growing
// phase or not) to m and the model, and checks m against it. A non-nil tb
// is the msTable m is of: the operation goes through it.
func (md *msModel) step(t *testing.T, r *rand.Rand, tb *msTable, m *multiset, op int, grow bool) {
	t.Helper()
	model := md.entries
	find := func(k string) (int, bool) {
		return slices.BinarySearchFunc(model, k, func(e msModelEntry, k string) int { return strings.Compare(e.key, k) })
	}
	wasBig, arenaCap := m.big != nil, cap(m.arena)
	switch x := r.IntN(20); {
	case x == 0:
		// Retain a pseudo-random subset (and never the non-positive
		// entries, as TopK's trim does).
		salt := r.Uint32()
		keepPct := uint32(50 + 45*boolInt(grow))
		keep := func(k string, n repr.Diff) bool {
			h := fnv.New32a()
			h.Write([]byte(k))
			return n > 0 && (h.Sum32()^salt)%100 < keepPct
		}
		keepE := func(e msEntry) bool { return keep(string(e.key), e.n) }
		if tb != nil {
			tb.retain(m, keepE)
		} else {
			m.retain(keepE)
		}
		model = slices.DeleteFunc(model, func(e msModelEntry) bool { return !keep(e.key, e.n) })
	default:
		var k string
		if !grow && len(model) > 0 && r.IntN(4) > 0 {
			k = model[r.IntN(len(model))].key
		} else {
			k = msTestKey(r)
		}
		val := k[r.IntN(len(k)+1):]
		if r.IntN(2) == 0 {
			val = fmt.Sprintf("apart-%d", r.IntN(1000))
		}
		d := repr.Diff(r.IntN(3) + 1)
		if r.IntN(3) == 0 || !grow && r.IntN(2) == 0 {
			d = -d
		}
		i, ok := find(k)
		var want repr.Diff
		if ok {
			want = model[i].n
			if tb != nil {
				// A table counts an entry by the value its callers
				// pass, which its key determines (a TopK's key ends
				// with its row).
				val = model[i].val
			}
			if d < 0 && r.IntN(2) == 0 {
				d = -want // remove the entry
			}
		}
		add := m.add
		if tb != nil {
			add = func(k, v []byte, d repr.Diff) (repr.Diff, repr.Diff) { return tb.add(m, k, v, d) }
		}
		before, after := add([]byte(k), []byte(val), d)
		if before != want || after != want+d {
			t.Fatalf("op %d: add(%q, %d) = %d, %d; want %d, %d", op, k, d, before, after, want, want+d)
		}
		switch {
		case ok && want+d == 0:
			model = slices.Delete(model, i, i+1)
		case ok:
			model[i].n += d
		case d != 0:
			model = slices.Insert(model, i, msModelEntry{k, val, d})
		}
	}
	md.entries = model
	if m.big != nil {
		md.split = true
	} else if wasBig && m.len() > 0 {
		md.unsplit = true
	}
	if cap(m.arena) < arenaCap {
		md.compactions++
	}
	msCheck(t, op, m, model)
	// Appending to a handed-out key or row must not write into the
	// arena (the next check would see it).
	if len(model) > 0 && r.IntN(10) == 0 {
		j := r.IntN(len(model))
		for e := range m.all() {
			if j--; j < 0 {
				_ = append(e.key, 0xff)
				_ = append(e.row(), 0xff)
				break
			}
		}
	}
}

func testMultisetModel(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 77))
	var m multiset
	var md msModel
	const ops = 6000
	for op := range ops {
		// Phases: grow past several blocks, shrink to nothing, grow
		// again, so that blocks split, merge back into one and empty.
		md.step(t, r, nil, &m, op, op%3000 < 1800)
	}
	if !md.split || !md.unsplit || md.compactions == 0 {
		t.Fatalf("the run missed a path: split %v, back to one block %v, %d compactions", md.split, md.unsplit, md.compactions)
	}
}

// testMsTableModel runs the model's operations on three multisets of an
// msTable (with a small msPackBytes), a visit to one a run of operations
// between at and put (or drop, once it is empty, as msGroups does): the
// multisets move from the packed form to their own blocks (grown past
// msPackBytes between two puts, or split before one) and back, the
// scratch multiset serves every packed one in turn, and the table's count
// of its big multisets' entries agrees with a walk of them.
func testMsTableModel(t *testing.T, seed uint64) {
	old := msPackBytes
	msPackBytes = 300
	t.Cleanup(func() { msPackBytes = old })
	r := rand.New(rand.NewPCG(seed, 78))
	var tb msTable
	var mds [3]msModel
	live := [3]bool{}
	packedBig, bigPacked, splitInVisit, dropped := 0, 0, 0, 0
	op := 0
	for visit := range 1500 {
		slot := uint32(r.IntN(len(mds)))
		md := &mds[slot]
		wasBig := tb.bigIndex(slot) >= 0
		m := tb.at(slot)
		msCheck(t, op, m, md.entries)
		grow := visit%600 < 380
		n := 1 + r.IntN(8)
		if r.IntN(10) == 0 {
			n = 100 // past a block split within one visit
		}
		for range n {
			md.step(t, r, &tb, m, op, grow)
			op++
		}
		if !wasBig && m.big != nil {
			splitInVisit++
		}
		if m.len() == 0 {
			tb.drop(slot)
			live[slot] = false
			dropped++
		} else {
			tb.put(slot, m)
			live[slot] = true
		}
		isBig := tb.bigIndex(slot) >= 0
		switch {
		case !wasBig && isBig:
			packedBig++
		case wasBig && isBig == false && live[slot]:
			bigPacked++
		}
		var want int64
		for s := range uint32(len(mds)) {
			if i := tb.bigIndex(s); i >= 0 {
				want += entryBytes(&tb.big[i])
			}
		}
		if tb.bigBytes != want {
			t.Fatalf("visit %d: the big multisets' entries counted %d bytes, hold %d", visit, tb.bigBytes, want)
		}
	}
	for slot := range uint32(len(mds)) {
		msCheck(t, op, tb.at(slot), mds[slot].entries)
	}
	if packedBig == 0 || bigPacked == 0 || splitInVisit == 0 || dropped == 0 {
		t.Fatalf("the run missed a path: packed to big %d, big to packed %d, split within a visit %d, dropped %d", packedBig, bigPacked, splitInVisit, dropped)
	}
}

func boolInt(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// msTestKey returns a key that defeats 8-byte prefix comparisons now and
// then: short keys differing only by trailing zero bytes, keys sharing
// their first 8 bytes, and longer ones.
func msTestKey(r *rand.Rand) string {
	switch r.IntN(3) {
	case 0:
		k := make([]byte, r.IntN(10))
		for i := range k {
			k[i] = byte(r.IntN(3))
		}
		return string(k)
	case 1:
		return fmt.Sprintf("prefix00%d", r.IntN(400))
	default:
		return fmt.Sprintf("%0*d", 1+r.IntN(30), r.IntN(100000))
	}
}

// msCheck compares m with model and checks m's bookkeeping.
func msCheck(t *testing.T, op int, m *multiset, model []msModelEntry) {
	t.Helper()
	if m.len() != len(model) {
		t.Fatalf("op %d: len %d, want %d", op, m.len(), len(model))
	}
	i := 0
	for e := range m.all() {
		if i >= len(model) {
			t.Fatalf("op %d: more entries than the model's %d", op, len(model))
		}
		w := model[i]
		if string(e.key) != w.key || string(e.val) != w.val || !bytes.Equal(e.row(), e.val) || e.n != w.n {
			t.Fatalf("op %d: entry %d is %q=%q x%d, want %q=%q x%d", op, i, e.key, e.val, e.n, w.key, w.val, w.n)
		}
		i++
	}
	if i != len(model) {
		t.Fatalf("op %d: %d entries, want %d", op, i, len(model))
	}
	for e := range m.backward() {
		i--
		if string(e.key) != model[i].key || e.n != model[i].n {
			t.Fatalf("op %d: backward entry %q, want %q", op, e.key, model[i].key)
		}
	}
	msCheckBooks(t, op, m)
}

// msCheckBooks checks m's blocks, block index and arena accounting.
func msCheckBooks(t *testing.T, op int, m *multiset) {
	t.Helper()
	used := 0
	if m.big == nil {
		if len(m.blk) > 2*msBlock {
			t.Fatalf("op %d: a small multiset's block holds %d entries", op, len(m.blk))
		}
		for i := range m.blk {
			used += m.blk[i].span()
		}
	} else {
		bl := m.big
		if len(bl.blocks) < 2 || len(bl.last) != len(bl.blocks) || m.blk != nil {
			t.Fatalf("op %d: %d blocks, %d last prefixes, small block %v", op, len(bl.blocks), len(bl.last), m.blk != nil)
		}
		for bi, b := range bl.blocks {
			if len(b) == 0 || len(b) > 2*msBlock {
				t.Fatalf("op %d: block %d of %d entries", op, bi, len(b))
			}
			if bl.last[bi] != b[len(b)-1].pfx {
				t.Fatalf("op %d: block %d's last prefix %x, want %x", op, bi, bl.last[bi], b[len(b)-1].pfx)
			}
			for i := range b {
				used += b[i].span()
				if b[i].pfx != repr.Row(m.key(&b[i])).Prefix() {
					t.Fatalf("op %d: an entry's prefix disagrees with its key", op)
				}
			}
		}
	}
	if live := len(m.arena) - m.dead; used != live || m.dead > live || msCompactEagerly && m.dead != 0 {
		t.Fatalf("op %d: entries use %d arena bytes; the arena holds %d, %d of them dead", op, used, len(m.arena), m.dead)
	}
}

// compactEagerly makes multisets compact their arenas at every deletion
// for the rest of the test (see msCompactEagerly).
func compactEagerly(t *testing.T) {
	old := msCompactEagerly
	msCompactEagerly = true
	t.Cleanup(func() { msCompactEagerly = old })
}

// TestMultisetEagerCompactionClobbers: under msCompactEagerly, bytes a
// caller kept past a deletion read as garbage (a compaction moved them,
// or a cut or compaction overwrote them), so that the oracle tests, which
// set it, fail for a caller that keeps an entry's bytes past the next add
// or retain.
func TestMultisetEagerCompactionClobbers(t *testing.T) {
	compactEagerly(t)
	for _, small := range []bool{true, false} {
		var m multiset
		n := 3
		if !small {
			n = 4 * msBlock // split: compactions copy to a new arena
		}
		for i := range n {
			k := fmt.Appendf(nil, "key-%04d", i)
			m.add(k, k, 1)
		}
		var kept [][]byte
		for e := range m.all() {
			kept = append(kept, e.row())
		}
		// Deleting the first entry moves every later one; deleting the
		// last cuts the arena short.
		m.add([]byte("key-0000"), []byte("key-0000"), -1)
		last := fmt.Appendf(nil, "key-%04d", n-1)
		m.add(last, last, -1)
		for i := 1; i < n; i++ {
			if want := fmt.Sprintf("key-%04d", i); string(kept[i]) == want {
				t.Fatalf("small %v: entry %d's bytes, kept past the deletions, still read %q", small, i, want)
			}
		}
		msCheckBooks(t, 0, &m)
	}
}
