package dataflow

import (
	"math"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// The aggregates below are re-derived per changed group from the group's
// ordered multiset (entries sorted by the ORDER BY keys, then the value),
// like min and max: bit_and/bit_or/bit_xor, jsonb_object_agg and the
// ordered-set aggregates percentile_disc, percentile_cont and mode.

// bitAgg folds the group's non-NULL integers with AND, OR or XOR (a value
// of even multiplicity cancels under XOR). NULL when there are none.
func bitAgg(ms *multiset, a expr.Aggregate) (repr.Datum, error) {
	if ms == nil {
		return repr.Null, nil
	}
	var r int64
	any := false
	for e := range ms.all() {
		if e.n <= 0 {
			continue
		}
		v := e.row().Get(0)
		if v.IsNull() {
			continue
		}
		x := v.Int()
		switch {
		case !any:
			r = x
			if a.Func == expr.AggBitXor && e.n%2 == 0 {
				r = 0
			}
		case a.Func == expr.AggBitAnd:
			r &= x
		case a.Func == expr.AggBitOr:
			r |= x
		case e.n%2 == 1:
			r ^= x
		}
		any = true
	}
	if !any {
		return repr.Null, nil
	}
	return repr.IntDatum(a.Typ.Type.Kind, r), nil
}

// jsonbObjectAgg builds the object of the group's (key, value) records in
// order; a repeated key keeps its last value, as jsonb does. A NULL key
// is an error (22023), as in PostgreSQL.
func jsonbObjectAgg(ms *multiset, a expr.Aggregate) (repr.Datum, error) {
	if ms == nil {
		return repr.Null, nil
	}
	buf := []byte{'{'}
	any := false
	for e := range ms.all() {
		reps := e.n
		if a.Distinct && reps > 0 {
			reps = 1
		}
		if reps <= 0 {
			continue
		}
		rec := e.row().Get(0)
		if rec.IsNull() {
			continue // filtered out (FILTER (WHERE ...))
		}
		fs := rec.Elements(nil)
		if len(fs) != 2 {
			return repr.Null, pgcode.New(pgcode.InternalError, "dataflow: jsonb_object_agg expects (key, value) records")
		}
		if fs[0].IsNull() {
			return repr.Null, pgcode.New(pgcode.InvalidParameterValue, "field name must not be null")
		}
		if any {
			buf = append(buf, ", "...)
		}
		buf = repr.AppendJSONString(buf, fs[0].Text())
		buf = append(buf, ": "...)
		buf = appendJSON(buf, fs[1])
		any = true
	}
	if !any {
		return repr.Null, nil
	}
	return repr.ParseText(string(append(buf, '}')), repr.TypeJsonb)
}

// orderedSetAgg derives percentile_disc, percentile_cont and mode from
// the group's values in WITHIN GROUP order, NULLs ignored, as
// PostgreSQL's orderedsetaggs.c: percentile_disc(f) is the first value at
// or past position ceil(f*N); percentile_cont(f) interpolates linearly
// between the values at floor and ceil of f*(N-1); mode is the most
// frequent value, the first in order among equals.
func orderedSetAgg(ms *multiset, a expr.Aggregate) (repr.Datum, error) {
	if ms == nil {
		return repr.Null, nil
	}
	type run struct {
		v repr.Datum
		n int64
	}
	var runs []run
	var total int64
	frac := repr.Null
	for e := range ms.all() {
		if e.n <= 0 {
			continue
		}
		v := e.row().Get(0)
		if a.Func != expr.AggMode && !v.IsNull() {
			fs := v.Elements(nil)
			if len(fs) != 2 {
				return repr.Null, pgcode.New(pgcode.InternalError, "dataflow: %s expects (value, fraction) records", a.Func)
			}
			v, frac = fs[0], fs[1]
		}
		if v.IsNull() {
			continue
		}
		runs = append(runs, run{v, int64(e.n)})
		total += int64(e.n)
	}
	if total == 0 {
		return repr.Null, nil
	}
	if a.Func == expr.AggMode {
		best := 0
		for i, r := range runs {
			// Equal values are adjacent: merge runs that compare equal
			// (1.0 and 1.00, '24 hours' and '1 day').
			if i > 0 && repr.Compare(runs[i-1].v, r.v) == 0 {
				runs[i].n += runs[i-1].n
				runs[i].v = runs[i-1].v
			}
			if runs[i].n > runs[best].n {
				best = i
			}
		}
		return runs[best].v, nil
	}
	if frac.IsNull() {
		return repr.Null, nil
	}
	f := frac.Float()
	if f < 0 || f > 1 || math.IsNaN(f) {
		return repr.Null, pgcode.New(pgcode.NumericValueOutOfRange, "percentile value %s is not between 0 and 1", frac.Text())
	}
	// at returns the value at 0-based position p of the ordered values.
	at := func(p int64) repr.Datum {
		for _, r := range runs {
			if p < r.n {
				return r.v
			}
			p -= r.n
		}
		return runs[len(runs)-1].v
	}
	if a.Func == expr.AggPercentileDisc {
		row := int64(math.Ceil(f * float64(total)))
		return at(max(row, 1) - 1), nil
	}
	pos := f * float64(total-1)
	first, second := int64(math.Floor(pos)), int64(math.Ceil(pos))
	lo, hi := at(first), at(second)
	if first == second {
		return lo, nil
	}
	prop := pos - float64(first)
	if lo.Kind() == repr.KindInterval {
		iv, err := expr.IntervalLerp(lo.Interval(), hi.Interval(), prop)
		if err != nil {
			return repr.Null, err
		}
		return repr.IntervalDatum(iv), nil
	}
	l, h := lo.Float(), hi.Float()
	return repr.Float8Datum(l + (h-l)*prop), nil
}
