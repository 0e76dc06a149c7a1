package dataflow

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/viewd/viewd/repr"
)

// ColumnOrder orders by one column.
type ColumnOrder struct {
	Column int
	Order  repr.SortOrder
}

// TopK keeps, per group of the group columns, the rows at positions
// [offset, offset+limit) of the order (limit < 0: no limit), ties broken
// by the whole row's packed bytes so the result is deterministic.
//
// Algebra: per changed group, Δ = window(new group) − window(old group).
// State: per group, the rows in order with their multiplicities (an
// ordered multiset), so a change costs a binary search plus
// O(offset+limit) to compare the windows. Hazards: a large offset makes
// every change cost O(offset); rows with negative multiplicity are treated
// as absent.
func (c *Collection) TopK(group []int, order []ColumnOrder, limit, offset int) (*Collection, error) {
	return c.topK(group, order, limit, offset, false, false)
}

// MonotonicTopK is TopK over a collection that only ever grows (see
// MonotonicReduce): with a limit, each group keeps only its first
// offset+limit rows, since a row ranked below them can never rise into
// the window; so the state is offset+limit rows per group, not the whole
// group. A retraction reaching it puts an internal error (XX000) on the
// err stream and is otherwise ignored.
func (c *Collection) MonotonicTopK(group []int, order []ColumnOrder, limit, offset int) (*Collection, error) {
	return c.topK(group, order, limit, offset, true, false)
}

// NumberedTopK is TopK (MonotonicTopK when monotonic) whose output rows
// carry their position in the group's window, 1 for the row at offset,
// as one more int8 column: row_number() over the TopK's output by the
// same partition and order, without a window operator keeping a second
// copy of every group's top rows. Rows of equal order keys are numbered
// by the whole row, as TopK breaks ties; a row of multiplicity n holds n
// positions and is output once per position.
func (c *Collection) NumberedTopK(group []int, order []ColumnOrder, limit, offset int, monotonic bool) (*Collection, error) {
	return c.topK(group, order, limit, offset, monotonic, true)
}

func (c *Collection) topK(group []int, order []ColumnOrder, limit, offset int, monotonic, number bool) (*Collection, error) {
	for _, k := range group {
		if k < 0 || k >= c.arity {
			return nil, fmt.Errorf("dataflow: topk group column %d of %d", k, c.arity)
		}
	}
	for _, o := range order {
		if o.Column < 0 || o.Column >= c.arity {
			return nil, fmt.Errorf("dataflow: topk order column %d of %d", o.Column, c.arity)
		}
	}
	if offset < 0 {
		return nil, fmt.Errorf("dataflow: topk negative offset %d", offset)
	}
	g := c.g
	arity := c.arity
	if number {
		arity++
	}
	out := g.newCollection(arity)
	op := &topkOp{in: c, out: out, group: group, order: order, limit: limit, offset: offset, monotonic: monotonic, number: number, shards: make([]topkShard, g.opts.Workers)}
	g.add(op)
	return out, nil
}

type topkOp struct {
	in, out       *Collection
	group         []int
	order         []ColumnOrder
	limit, offset int
	monotonic     bool // see MonotonicTopK
	number        bool // see NumberedTopK
	shards        []topkShard
	datums        []repr.Datum
	pk            repr.Packer
}

// topkShard is one worker's part of a TopK: each group's rows in a
// multiset, by the group's slot in the key table.
type topkShard struct {
	groups msGroups
	// firsts holds, for a monotonic TopK of limit 1 (top1), each group's
	// first row instead of a multiset: by slot, the row's length (a
	// uvarint) and its sort key (which ends with the row).
	firsts spanArena
	keys   Rows
	// sorts holds the order-key part of each routed row's sort key
	// (sortKey without the row), idx the row's index in the input: the
	// row itself is read from the input, not copied (a view built over
	// a large source routes every row of it in one step).
	sorts Rows
	idx   []uint32
	sk    []byte
	ok    Rows
	num   []byte // NumberedTopK's output row being built
	kb    []byte // a top1 group's stored row being built
}

// sortKey builds the memcomparable order key of a row followed by the row.
func sortKey(buf []byte, datums []repr.Datum, order []ColumnOrder, row repr.Row) []byte {
	for _, o := range order {
		buf = repr.AppendKey(buf, datums[o.Column], o.Order)
	}
	return append(buf, row...)
}

func (o *topkOp) step(context.Context, repr.Timestamp) error {
	g := o.in.g
	W := len(o.shards)
	o.out.ok.Reset()
	o.out.errs.Reset()
	o.out.errs.Append(&o.in.errs, 1)
	for s := range o.shards {
		o.shards[s].keys.Reset()
		o.shards[s].idx = o.shards[s].idx[:0]
		o.shards[s].sorts.Reset()
	}
	n := o.in.ok.Len()
	var sk []byte
	m := g.meter(nil, nil)
	for i := range n {
		if err := m.tick(); err != nil {
			return err
		}
		row, d := o.in.ok.Row(i), o.in.ok.Diff(i)
		if o.monotonic && d < 0 {
			o.out.errs.Push(ErrRow(errNotMonotonic), 1)
			continue
		}
		o.datums = row.Unpack(o.datums[:0])
		o.pk.Reset()
		for _, k := range o.group {
			o.pk.PushKey(o.datums[k])
		}
		k := o.pk.Row()
		s := &o.shards[shardOf(k, W)]
		s.keys.Push(k, d)
		s.idx = append(s.idx, uint32(i))
		sk = sortKey(sk[:0], o.datums, o.order, nil)
		s.sorts.Push(sk, d)
	}
	err := g.parallel(n, func(si int) error {
		s := &o.shards[si]
		s.ok.Reset()
		m := g.meter(&s.ok, nil)
		// Group this shard's changes by key (the order within a group
		// does not matter: a multiset's adds commute).
		idx := make([]uint32, s.keys.Len())
		for i := range idx {
			idx[i] = uint32(i)
		}
		if err := sortPerm(idx, func(a, b uint32) int { return bytes.Compare(s.keys.Row(int(a)), s.keys.Row(int(b))) }, g.ctl); err != nil {
			return err
		}
		for i := 0; i < len(idx); {
			k := s.keys.Row(int(idx[i]))
			j := i
			for j < len(idx) && bytes.Equal(s.keys.Row(int(idx[j])), k) {
				j++
			}
			if o.top1() {
				if err := o.stepFirst(&m, s, k, idx[i:j]); err != nil {
					return err
				}
				i = j
				continue
			}
			slot, added := s.groups.keys.insert(k)
			if added {
				m.grow(len(k) + msGroupBytes)
			}
			ms := s.groups.at(slot)
			// The group's old window is retracted before its first
			// change; a group whose updates all rank below a full
			// monotonic window does not change.
			changed := false
			for _, u := range idx[i:j] {
				if err := m.tick(); err != nil {
					return err
				}
				row := o.in.ok.Row(int(s.idx[u]))
				s.sk = append(append(s.sk[:0], s.sorts.Row(int(u))...), row...)
				if o.monotonic && o.limit >= 0 && ms.len() >= o.offset+o.limit && ranksAfterLast(ms, s.sk) {
					// The window is full and every kept row ranks
					// before this one: it would be dropped at once.
					continue
				}
				if !changed {
					if err := o.window(&m, ms, s, -1); err != nil {
						return err
					}
					changed = true
				}
				if s.groups.add(ms, s.sk, row, s.sorts.Diff(int(u))) {
					m.grow(msEntrySize(row))
				}
			}
			if changed {
				if err := o.window(&m, ms, s, 1); err != nil {
					return err
				}
			}
			if changed && o.monotonic && o.limit >= 0 {
				// Keep the rows of positions [0, offset+limit): the
				// rest can never enter the window.
				keep := o.offset + o.limit
				s.groups.retain(ms, func(e msEntry) bool {
					if e.n <= 0 || keep <= 0 {
						return false
					}
					keep -= int(min(e.n, repr.Diff(keep)))
					return true
				})
			}
			s.groups.put(slot, ms)
			i = j
		}
		return m.poll()
	})
	if err != nil {
		return err
	}
	parts := make([]*Rows, len(o.shards))
	for s := range o.shards {
		parts[s] = &o.shards[s].ok
	}
	return g.gather(&o.out.ok, parts)
}

// stateBytes returns the bytes of the groups' state.
func (o *topkOp) stateBytes() int64 {
	var n int64
	for i := range o.shards {
		n += o.shards[i].groups.bytes() + int64(o.shards[i].firsts.bytes())
	}
	return n
}

// top1 reports whether the TopK is monotonic with offset 0 and limit 1
// (the first row of each group over an append-only input, as
// ROW_NUMBER() OVER (...) = 1 or DISTINCT ON plan): a group's row can
// only be displaced by a new one ranked before it, so a group keeps that
// one row (stepFirst) rather than a multiset.
func (o *topkOp) top1() bool { return o.monotonic && o.offset == 0 && o.limit == 1 }

// stepFirst applies the updates us (indexes into the shard's step rows,
// all insertions) of group k of a top1 TopK: the first of them in order
// replaces the group's row if it ranks before it.
func (o *topkOp) stepFirst(m *meter, s *topkShard, k []byte, us []uint32) error {
	// s.kb is the best row's length (a uvarint) and sort key, as
	// firsts stores it.
	s.kb = s.kb[:0]
	var bestSK []byte
	for _, u := range us {
		if err := m.tick(); err != nil {
			return err
		}
		row := o.in.ok.Row(int(s.idx[u]))
		s.sk = append(append(s.sk[:0], s.sorts.Row(int(u))...), row...)
		if bestSK == nil || bytes.Compare(s.sk, bestSK) < 0 {
			s.kb = binary.AppendUvarint(s.kb[:0], uint64(len(row)))
			w := len(s.kb)
			s.kb = append(s.kb, s.sk...)
			bestSK = s.kb[w:]
		}
	}
	slot, added := s.groups.keys.insert(k)
	if added {
		m.grow(len(k) + keySlotBytes)
	}
	n, _ := binary.Uvarint(s.kb)
	sk := bestSK
	row := sk[len(sk)-int(n):]
	if s.firsts.has(slot) {
		cur := s.firsts.get(slot)
		n, w := binary.Uvarint(cur)
		curSK := cur[w:]
		if bytes.Compare(curSK, sk) <= 0 {
			return nil
		}
		o.pushFirst(s, curSK[len(curSK)-int(n):], -1)
	}
	o.pushFirst(s, row, 1)
	before := len(s.firsts.buf)
	s.firsts.set(slot, s.kb)
	m.grow(max(len(s.firsts.buf)-before, 0))
	return nil
}

// pushFirst pushes a top1 group's row with sign, numbered 1 when
// o.number.
func (o *topkOp) pushFirst(s *topkShard, row repr.Row, sign repr.Diff) {
	if !o.number {
		s.ok.Push(row, sign)
		return
	}
	s.num = repr.AppendDatum(append(s.num[:0], row...), repr.Int8Datum(1))
	s.ok.Push(s.num, sign)
}

// window pushes the rows at positions [offset, offset+limit) with sign
// to s.ok, numbered when o.number.
func (o *topkOp) window(m *meter, ms *multiset, s *topkShard, sign repr.Diff) error {
	out := &s.ok
	pos := 0
	end := o.offset + o.limit
	for e := range ms.all() {
		if err := m.tick(); err != nil {
			return err
		}
		if e.n <= 0 {
			continue
		}
		if o.limit >= 0 && pos >= end {
			return nil
		}
		lo, hi := pos, pos+int(e.n)
		pos = hi
		lo = max(lo, o.offset)
		if o.limit >= 0 {
			hi = min(hi, end)
		}
		if hi <= lo {
			continue
		}
		if !o.number {
			out.Push(e.row(), sign*repr.Diff(hi-lo))
			continue
		}
		for p := lo; p < hi; p++ {
			s.num = repr.AppendDatum(append(s.num[:0], e.row()...), repr.Int8Datum(int64(p-o.offset+1)))
			out.Push(s.num, sign)
		}
	}
	return nil
}

// trim releases the shards' large per-step scratch after a step, and the
// operator's references into the step's rows.
func (o *topkOp) trim() {
	o.datums = clearDatums(o.datums)
	for i := range o.shards {
		s := &o.shards[i]
		s.keys.trim()
		s.sorts.trim()
		if cap(s.idx)*4 > trimBytes {
			s.idx = nil
		}
		s.sk = nil
		s.ok.trim()
	}
}

// ranksAfterLast reports whether sort key sk orders after every entry of
// ms.
func ranksAfterLast(ms *multiset, sk []byte) bool {
	for e := range ms.backward() {
		return bytes.Compare(sk, e.key) > 0
	}
	return true
}
