package dataflow

import (
	"bytes"
	"context"
	"fmt"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// WindowKind names a window function.
type WindowKind uint8

// The window functions.
const (
	WinRowNumber WindowKind = iota
	WinRank
	WinDenseRank
	WinLag
	WinLead
	WinFirstValue
	WinLastValue
	WinSum
	WinCount // count(Arg), or count(*) when Arg < 0
	WinAvg
	WinMin
	WinMax
	// WinPercentRank is (rank - 1) / (rows in the partition - 1), 0 for
	// a partition of one row; WinCumeDist is (rows preceding or peer with
	// the row) / (rows in the partition). Both float8, as PostgreSQL's.
	WinPercentRank
	WinCumeDist
)

// ranking reports whether the function reads no argument and no frame:
// its value is the row's place among its partition's peers.
func (k WindowKind) ranking() bool {
	switch k {
	case WinRowNumber, WinRank, WinDenseRank, WinPercentRank, WinCumeDist:
		return true
	}
	return false
}

// WindowFunc is one window function over a partition in its order. Arg is
// the argument column (-1 for none: the ranking functions and count(*));
// Offset is lag/lead's offset (0 means 1). Aggregates use the default
// frame: RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW (the whole
// partition when there is no ORDER BY). Sum of integers is numeric when
// Numeric is set (PostgreSQL's sum(int8)), else bigint; avg is numeric
// for integer and numeric arguments, double for floats.
type WindowFunc struct {
	Kind    WindowKind
	Arg     int
	Offset  int
	Numeric bool
	// Default is lag/lead's value when the offset row is outside the
	// partition (NULL unless given).
	Default repr.Datum
	// Frame is an aggregate's, first_value's or last_value's frame
	// clause; nil is the default frame. Ranking functions and lag/lead
	// ignore frames, as in PostgreSQL.
	Frame *expr.WindowFrame
}

// Window appends one column per window function to each row, computed
// over the row's partition (rows equal on the partition columns) in the
// given order (ties broken by the whole row, so row_number is
// deterministic).
//
// Algebra: per changed partition, Δ = derive(new partition) −
// derive(old partition): a plain re-derivation of the partition's output,
// so a change costs O(partition size). State: the partition's rows in
// order. Hazards: a large partition makes every change to it expensive;
// rows with negative multiplicity are treated as absent.
func (c *Collection) Window(partition []int, order []ColumnOrder, funcs []WindowFunc) (*Collection, error) {
	for _, f := range funcs {
		if f.Arg >= c.arity {
			return nil, fmt.Errorf("dataflow: window argument column %d of %d", f.Arg, c.arity)
		}
		if f.Arg < 0 && !f.Kind.ranking() && f.Kind != WinCount {
			return nil, fmt.Errorf("dataflow: window function %d needs an argument", f.Kind)
		}
	}
	g := c.g
	out := g.newCollection(c.arity + len(funcs))
	op := &windowOp{in: c, out: out, part: partition, order: order, funcs: funcs}
	g.add(op)
	return out, nil
}

type windowOp struct {
	in, out *Collection
	part    []int
	order   []ColumnOrder
	funcs   []WindowFunc
	groups  msGroups
	datums  []repr.Datum
	pk      repr.Packer
	// parts and sorts hold a step's partition and sort keys.
	parts, sorts Rows
}

func (o *windowOp) step(context.Context, repr.Timestamp) error {
	o.out.ok.Reset()
	o.out.errs.Reset()
	o.out.errs.Append(&o.in.errs, 1)
	n := o.in.ok.Len()
	m := o.in.g.meter(&o.out.ok, nil)
	// The step's changes, by input index: partition keys and sort keys
	// packed in two slabs (no allocation per change).
	o.parts.Reset()
	o.sorts.Reset()
	var sk []byte
	for i := range n {
		if err := m.tick(); err != nil {
			return err
		}
		row, d := o.in.ok.Row(i), o.in.ok.Diff(i)
		o.datums = row.Unpack(o.datums[:0])
		o.pk.Reset()
		for _, k := range o.part {
			o.pk.PushKey(o.datums[k])
		}
		o.parts.Push(o.pk.Row(), d)
		sk = sortKey(sk[:0], o.datums, o.order, row)
		o.sorts.Push(sk, d)
	}
	// Group the changes by partition (the order within one does not
	// matter: a multiset's adds commute).
	perm := make([]uint32, n)
	for i := range perm {
		perm[i] = uint32(i)
	}
	if err := sortPerm(perm, func(a, b uint32) int { return bytes.Compare(o.parts.Row(int(a)), o.parts.Row(int(b))) }, o.in.g.ctl); err != nil {
		return err
	}
	for i := 0; i < n; {
		part := o.parts.Row(int(perm[i]))
		j := i
		for j < n && bytes.Equal(o.parts.Row(int(perm[j])), part) {
			j++
		}
		slot, added := o.groups.keys.insert(part)
		if added {
			m.grow(len(part) + msGroupBytes)
		}
		ms := o.groups.at(slot)
		if err := o.derive(&m, ms, -1); err != nil {
			return err
		}
		for _, u := range perm[i:j] {
			if err := m.tick(); err != nil {
				return err
			}
			sk, row := o.sorts.Row(int(u)), o.in.ok.Row(int(u))
			if o.groups.add(ms, sk, row, o.in.ok.Diff(int(u))) {
				m.grow(msEntrySize(row))
			}
		}
		if err := o.derive(&m, ms, 1); err != nil {
			return err
		}
		o.groups.put(slot, ms)
		i = j
	}
	if err := m.poll(); err != nil {
		return err
	}
	return o.out.ok.consolidate(o.in.g.ctl)
}

// stateBytes returns the bytes of the partitions' state.
func (o *windowOp) stateBytes() int64 { return o.groups.bytes() }

// derive pushes the partition's output rows with sign.
func (o *windowOp) derive(m *meter, ms *multiset, sign repr.Diff) error {
	// Expand by multiplicity.
	var rows [][]repr.Datum
	var raw []repr.Row
	var okeys [][]byte
	for e := range ms.all() {
		if e.n <= 0 {
			continue
		}
		ds := e.row().Datums()
		var ok []byte
		for _, oc := range o.order {
			ok = repr.AppendKey(ok, ds[oc.Column], oc.Order)
		}
		for range e.n {
			if err := m.tick(); err != nil {
				return err
			}
			rows = append(rows, ds)
			raw = append(raw, repr.Row(e.val))
			okeys = append(okeys, ok)
		}
	}
	n := len(rows)
	if n == 0 {
		return nil
	}
	// peerEnd[i] is one past the last peer of row i.
	peerEnd := make([]int, n)
	for i := n - 1; i >= 0; i-- {
		if i+1 < n && bytes.Equal(okeys[i], okeys[i+1]) {
			peerEnd[i] = peerEnd[i+1]
		} else {
			peerEnd[i] = i + 1
		}
	}
	if err := m.poll(); err != nil {
		return err
	}
	vals := make([][]repr.Datum, len(o.funcs))
	for f, fn := range o.funcs {
		// One function over the partition is O(n) and cheap per row: a
		// poll between functions is often enough.
		vals[f] = o.column(fn, rows, okeys, peerEnd)
		if err := m.poll(); err != nil {
			return err
		}
	}
	for i := range n {
		if err := m.tick(); err != nil {
			return err
		}
		o.pk.Reset()
		o.pk.PushRow(raw[i])
		for f := range o.funcs {
			o.pk.Push(vals[f][i])
		}
		o.out.ok.Push(o.pk.Row(), sign)
	}
	return nil
}

// column computes one window function for every row of a partition.
func (o *windowOp) column(fn WindowFunc, rows [][]repr.Datum, okeys [][]byte, peerEnd []int) []repr.Datum {
	n := len(rows)
	out := make([]repr.Datum, n)
	off := fn.Offset
	if off == 0 {
		off = 1
	}
	arg := func(i int) repr.Datum { return rows[i][fn.Arg] }
	switch fn.Kind {
	case WinRowNumber:
		for i := range n {
			out[i] = repr.Int8Datum(int64(i + 1))
		}
	case WinRank, WinDenseRank:
		rank, dense := 1, 1
		for i := range n {
			if i > 0 && !bytes.Equal(okeys[i], okeys[i-1]) {
				rank = i + 1
				dense++
			}
			if fn.Kind == WinRank {
				out[i] = repr.Int8Datum(int64(rank))
			} else {
				out[i] = repr.Int8Datum(int64(dense))
			}
		}
	case WinPercentRank:
		rank := 1
		for i := range n {
			if i > 0 && !bytes.Equal(okeys[i], okeys[i-1]) {
				rank = i + 1
			}
			if n == 1 {
				out[i] = repr.Float8Datum(0)
			} else {
				out[i] = repr.Float8Datum(float64(rank-1) / float64(n-1))
			}
		}
	case WinCumeDist:
		for i := range n {
			out[i] = repr.Float8Datum(float64(peerEnd[i]) / float64(n))
		}
	case WinLag, WinLead:
		for i := range n {
			j := i - off
			if fn.Kind == WinLead {
				j = i + off
			}
			if j >= 0 && j < n {
				out[i] = arg(j)
			} else {
				out[i] = fn.Default
			}
		}
	case WinFirstValue, WinLastValue:
		if fn.Frame != nil {
			return o.framed(fn, rows, okeys, peerEnd)
		}
		for i := range n {
			if fn.Kind == WinFirstValue {
				out[i] = arg(0)
			} else {
				out[i] = arg(peerEnd[i] - 1)
			}
		}
	default:
		if fn.Frame != nil {
			return o.framed(fn, rows, okeys, peerEnd)
		}
		// Running aggregates over the frame [0, peerEnd[i]).
		acc := winAcc{fn: fn}
		done := 0
		for i := range n {
			for ; done < peerEnd[i]; done++ {
				acc.add(rows[done])
			}
			out[i] = acc.value()
		}
	}
	return out
}

// winAcc accumulates a window aggregate (sum, count, avg, min, max) over
// the rows added to it.
type winAcc struct {
	fn    WindowFunc
	cnt   int64
	isum  int64
	dsum  apd.Decimal
	fsum  float64
	isDec bool
	isF   bool
	iv    *ivSum // sum and avg of intervals
	best  repr.Datum
}

func (a *winAcc) add(row []repr.Datum) {
	if a.fn.Arg < 0 {
		a.cnt++
		return
	}
	v := row[a.fn.Arg]
	if v.IsNull() {
		return
	}
	a.cnt++
	switch {
	case v.Kind().IsInteger():
		a.isum += v.Int()
	case v.Kind() == repr.KindNumeric:
		a.isDec = true
		_, _ = decCtx.Add(&a.dsum, &a.dsum, v.Numeric())
	case v.Kind() == repr.KindFloat4 || v.Kind() == repr.KindFloat8:
		a.isF = true
		a.fsum += v.Float()
	case v.Kind() == repr.KindInterval:
		if a.iv == nil {
			a.iv = &ivSum{}
		}
		a.iv.add(v.Interval(), 1)
	}
	c := 0
	if !a.best.IsNull() {
		c = repr.Compare(v, a.best)
	}
	// Of equal values, the one repr.PreferShown prefers, as reduce's.
	tieScale := c == 0 && !a.best.IsNull() && repr.PreferShown(a.best, v)
	if a.best.IsNull() || (a.fn.Kind == WinMin && c < 0) || (a.fn.Kind == WinMax && c > 0) || tieScale {
		a.best = v
	}
}

func (a *winAcc) value() repr.Datum {
	switch a.fn.Kind {
	case WinCount:
		return repr.Int8Datum(a.cnt)
	case WinMin, WinMax:
		return a.best
	}
	if a.cnt == 0 {
		return repr.Null
	}
	if a.iv != nil {
		// An interval field overflowing int32 (PostgreSQL: interval out
		// of range) gives NULL here: window values carry no errors.
		v, err := a.iv.value(a.fn.Kind == WinAvg, a.cnt)
		if err != nil {
			return repr.Null
		}
		return v
	}
	if a.isF {
		f := a.fsum + float64(a.isum)
		if a.fn.Kind == WinAvg {
			f /= float64(a.cnt)
		}
		return repr.Float8Datum(f)
	}
	if a.fn.Kind == WinSum && !a.isDec && !a.fn.Numeric {
		return repr.Int8Datum(a.isum)
	}
	s := new(apd.Decimal)
	_, _ = decCtx.Add(s, &a.dsum, apd.New(a.isum, 0))
	if a.fn.Kind == WinAvg {
		// numeric_div(sum, count), as PostgreSQL's avg.
		if q, err := expr.NumericDiv(s, apd.New(a.cnt, 0)); err == nil {
			s = q
		}
	}
	return repr.NumericDatum(s)
}

// trim drops the operator's references into the step's rows.
func (o *windowOp) trim() { o.datums = clearDatums(o.datums) }
