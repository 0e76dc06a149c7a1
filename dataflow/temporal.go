package dataflow

import (
	"container/heap"
	"context"
	"math"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// TemporalFilter keeps each row during the times [lower(row), upper(row)):
// the bounds are expressions over the row evaluated as timestamps (nil
// means unbounded), as the planner extracts them from predicates like
// mz_now() >= created_at AND mz_now() < created_at + 60000.
//
// Algebra: an update (r, t, d) becomes (r, max(lower, t), d) and
// (r, upper, −d) when max(lower, t) < upper; the operator is linear. Updates
// at future times are held and emitted by the step at (or first after)
// their time; NextScheduled reports the earliest, so the coordinator can
// step the graph then. Hazards: a bound that fails to evaluate, or is not
// an integer timestamp, sends the row to the err stream; the held updates
// cost memory until their time comes.
func (c *Collection) TemporalFilter(lower, upper expr.Scalar) *Collection {
	out := c.g.newCollection(c.arity)
	c.g.add(&temporalOp{in: c, out: out, lower: lower, upper: upper, pending: map[repr.Timestamp]*Rows{}})
	return out
}

type temporalOp struct {
	in, out      *Collection
	lower, upper expr.Scalar
	pending      map[repr.Timestamp]*Rows
	times        timeHeap
	datums       []repr.Datum
}

// timeHeap is a min-heap of the times with held updates
// (container/heap's methods follow).
type timeHeap []repr.Timestamp

func (h timeHeap) Len() int           { return len(h) }
func (h timeHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h timeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timeHeap) Push(x any)        { *h = append(*h, x.(repr.Timestamp)) }
func (h *timeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func (o *temporalOp) schedule(at repr.Timestamp, row repr.Row, d repr.Diff) {
	p := o.pending[at]
	if p == nil {
		p = &Rows{}
		o.pending[at] = p
		heap.Push(&o.times, at)
	}
	p.Push(row, d)
}

func (o *temporalOp) nextScheduled() (repr.Timestamp, bool) {
	if len(o.times) == 0 {
		return 0, false
	}
	return o.times[0], true
}

// bound evaluates a bound as a timestamp.
func (o *temporalOp) bound(ctx *expr.EvalCtx, e expr.Scalar, dflt repr.Timestamp) (repr.Timestamp, error) {
	if e == nil {
		return dflt, nil
	}
	v, err := evalScalar(ctx, e, o.datums)
	if err != nil {
		return 0, err
	}
	switch {
	case v.IsNull():
		// A NULL bound makes the comparison NULL: the row never passes.
		return 0, errNullBound
	case v.Kind().IsInteger() || v.Kind() == repr.KindTimestamp || v.Kind() == repr.KindTimestampTz:
		if v.Int() < 0 {
			return 0, nil
		}
		return repr.Timestamp(v.Int()), nil
	case v.Kind() == repr.KindNumeric:
		i, err := v.Numeric().Int64()
		if err != nil {
			f, _ := v.Numeric().Float64()
			if f > 0 {
				return repr.MaxTimestamp, nil
			}
			return 0, nil
		}
		return repr.Timestamp(max(i, 0)), nil
	}
	return 0, pgcode.New(pgcode.DatatypeMismatch, "dataflow: temporal filter bound of type %s is not a timestamp", v.Kind())
}

var errNullBound = pgcode.New(pgcode.NullValueNotAllowed, "null temporal bound")

func (o *temporalOp) step(_ context.Context, t repr.Timestamp) error {
	g := o.in.g
	o.out.ok.Reset()
	o.out.errs.Reset()
	o.out.errs.Append(&o.in.errs, 1)
	for len(o.times) > 0 && o.times[0] <= t {
		at := heap.Pop(&o.times).(repr.Timestamp)
		o.out.ok.Append(o.pending[at], 1)
		delete(o.pending, at)
	}
	m := g.meter(&o.out.ok, &o.out.errs)
	for i := range o.in.ok.Len() {
		if err := m.tick(); err != nil {
			return err
		}
		row, d := o.in.ok.Row(i), o.in.ok.Diff(i)
		o.datums = row.Unpack(o.datums[:0])
		lo, err := o.bound(&g.eval, o.lower, 0)
		if err == nil {
			var hi repr.Timestamp
			hi, err = o.bound(&g.eval, o.upper, math.MaxUint64)
			if err == nil {
				lo = max(lo, t)
				if lo < hi {
					if lo == t {
						o.out.ok.Push(row, d)
					} else {
						o.schedule(lo, row, d)
					}
					if hi != math.MaxUint64 {
						o.schedule(hi, row, -d)
						m.grow(len(row) + 12)
					}
				}
				continue
			}
		}
		if err == errNullBound {
			continue
		}
		o.out.errs.Push(ErrRow(err), d)
	}
	return m.poll()
}

// trim drops the operator's references into the step's rows.
func (o *temporalOp) trim() { o.datums = clearDatums(o.datums) }
