package dataflow

import (
	"bytes"
	"sort"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// framed computes an aggregate, first_value or last_value over each row's
// explicit frame (fn.Frame), as PostgreSQL's nodeWindowAgg does: ROWS
// offsets count rows, GROUPS offsets count peer groups, RANGE offsets
// bound the one ORDER BY value (v - offset .. v + offset, reversed for
// DESC; a row whose value is NULL frames its NULL peers; a bound that
// overflows is unbounded); CURRENT ROW is the row itself under ROWS and
// its peer group otherwise; EXCLUDE drops the current row, its group, or
// its peers but itself. Each frame is read row by row: O(frame) per row.
func (o *windowOp) framed(fn WindowFunc, rows [][]repr.Datum, okeys [][]byte, peerEnd []int) []repr.Datum {
	n := len(rows)
	out := make([]repr.Datum, n)
	fr := fn.Frame
	peerStart := make([]int, n)
	group := make([]int, n) // peer group number of each row
	var groupStart []int
	for i := range n {
		if i > 0 && bytes.Equal(okeys[i], okeys[i-1]) {
			peerStart[i], group[i] = peerStart[i-1], group[i-1]
			continue
		}
		peerStart[i] = i
		group[i] = len(groupStart)
		groupStart = append(groupStart, i)
	}
	groupEnd := func(g int) int { return peerEnd[groupStart[g]] }
	rb := o.newRangeBounds(fr, rows)
	offset := func(b expr.FrameBound) int {
		v := b.Offset.Int()
		if v > int64(n) {
			return n + 1
		}
		return int(v)
	}
	for i := range n {
		// The frame is [lo, hi).
		var lo, hi int
		switch b := fr.Start; b.Kind {
		case expr.BoundUnboundedPreceding:
			lo = 0
		case expr.BoundCurrentRow:
			lo = i
			if fr.Mode != expr.FrameRows {
				lo = peerStart[i]
			}
		default:
			following := b.Kind == expr.BoundOffsetFollowing
			switch fr.Mode {
			case expr.FrameRows:
				if following {
					lo = min(i+offset(b), n)
				} else {
					lo = max(i-offset(b), 0)
				}
			case expr.FrameGroups:
				if g := group[i] + offset(b); following && g < len(groupStart) {
					lo = groupStart[g]
				} else if following {
					lo = n
				} else {
					lo = groupStart[max(group[i]-offset(b), 0)]
				}
			default:
				lo = rb.edge(i, b, peerStart[i], false)
			}
		}
		switch b := fr.End; b.Kind {
		case expr.BoundUnboundedFollowing:
			hi = n
		case expr.BoundCurrentRow:
			hi = i + 1
			if fr.Mode != expr.FrameRows {
				hi = peerEnd[i]
			}
		default:
			following := b.Kind == expr.BoundOffsetFollowing
			switch fr.Mode {
			case expr.FrameRows:
				if following {
					hi = min(i+offset(b)+1, n)
				} else {
					hi = max(i-offset(b)+1, 0)
				}
			case expr.FrameGroups:
				if g := group[i] - offset(b); !following && g < 0 {
					hi = 0
				} else if !following {
					hi = groupEnd(g)
				} else {
					hi = groupEnd(min(group[i]+offset(b), len(groupStart)-1))
				}
			default:
				hi = rb.edge(i, b, peerEnd[i], true)
			}
		}
		excluded := func(j int) bool {
			switch fr.Exclude {
			case expr.ExcludeCurrentRow:
				return j == i
			case expr.ExcludeGroup:
				return j >= peerStart[i] && j < peerEnd[i]
			case expr.ExcludeTies:
				return j != i && j >= peerStart[i] && j < peerEnd[i]
			}
			return false
		}
		switch fn.Kind {
		case WinFirstValue:
			out[i] = repr.Null
			for j := lo; j < hi; j++ {
				if !excluded(j) {
					out[i] = rows[j][fn.Arg]
					break
				}
			}
		case WinLastValue:
			out[i] = repr.Null
			for j := hi - 1; j >= lo; j-- {
				if !excluded(j) {
					out[i] = rows[j][fn.Arg]
					break
				}
			}
		default:
			acc := winAcc{fn: fn}
			for j := lo; j < hi; j++ {
				if !excluded(j) {
					acc.add(rows[j])
				}
			}
			out[i] = acc.value()
		}
	}
	return out
}

// rangeBounds finds RANGE offset frame bounds in a partition sorted on
// one ORDER BY column.
type rangeBounds struct {
	col        int
	desc       bool
	vals       []repr.Datum // the ORDER BY value of each row, dates as timestamps
	nnLo, nnHi int          // the rows whose value is not NULL
	ctx        expr.EvalCtx
}

func (o *windowOp) newRangeBounds(fr *expr.WindowFrame, rows [][]repr.Datum) *rangeBounds {
	if fr.Mode != expr.FrameRange || len(o.order) != 1 {
		return nil
	}
	rb := &rangeBounds{col: o.order[0].Column, desc: o.order[0].Order.Desc, ctx: o.in.g.workerCtx()}
	rb.vals = make([]repr.Datum, len(rows))
	rb.nnLo, rb.nnHi = len(rows), 0
	for i, r := range rows {
		v := r[rb.col]
		if v.Kind() == repr.KindDate {
			// date ± interval is a timestamp: compare dates as such.
			v = repr.TimestampDatum(int64(v.Days()) * repr.MicrosPerDay)
		}
		rb.vals[i] = v
		if !v.IsNull() {
			rb.nnLo, rb.nnHi = min(rb.nnLo, i), max(rb.nnHi, i+1)
		}
	}
	return rb
}

// bound returns v + off (plus) or v - off; ok is false when it overflows
// (the bound is then past every value).
func (rb *rangeBounds) bound(v, off repr.Datum, plus bool) (repr.Datum, bool) {
	op := "-"
	if plus {
		op = "+"
	}
	vt := repr.ScalarType{Kind: v.Kind(), Typmod: repr.NoTypmod}
	ot := repr.ScalarType{Kind: off.Kind(), Typmod: repr.NoTypmod}
	res, err := expr.Resolve(op, expr.LookupBinaryOp(op), []repr.ScalarType{vt, ot})
	if err != nil {
		return repr.Null, false
	}
	if res.ArgTypes[0].Kind != vt.Kind {
		c, ok := expr.LookupCast(vt, res.ArgTypes[0])
		if !ok {
			return repr.Null, false
		}
		if v, err = c.Func.Eval(&rb.ctx, []repr.Datum{v}); err != nil {
			return repr.Null, false
		}
	}
	d, err := res.Func.Eval(&rb.ctx, []repr.Datum{v, off})
	if err != nil || d.IsNull() {
		return repr.Null, false
	}
	return d, true
}

// before reports whether value a sorts before b in the window's order.
func (rb *rangeBounds) before(a, b repr.Datum) bool {
	c := repr.Compare(a, b)
	if rb.desc {
		return c > 0
	}
	return c < 0
}

// edge is where row i's frame starts (the first row in it), or with
// isEnd where it ends (one past the last row), for a RANGE offset bound
// b; a row whose value is NULL frames its peers, which start or end at
// peer.
func (rb *rangeBounds) edge(i int, b expr.FrameBound, peer int, isEnd bool) int {
	if rb == nil || rb.vals[i].IsNull() {
		return peer
	}
	// PRECEDING moves against the order, FOLLOWING with it.
	following := b.Kind == expr.BoundOffsetFollowing
	bv, ok := rb.bound(rb.vals[i], b.Offset, following != rb.desc)
	if !ok {
		// Past every value: the frame reaches the partition's end for
		// FOLLOWING, its start for PRECEDING.
		if following {
			return rb.nnHi
		}
		return rb.nnLo
	}
	return rb.nnLo + sort.Search(rb.nnHi-rb.nnLo, func(k int) bool {
		if isEnd {
			return rb.before(bv, rb.vals[rb.nnLo+k])
		}
		return !rb.before(rb.vals[rb.nnLo+k], bv)
	})
}
