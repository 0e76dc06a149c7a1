package dataflow

import (
	"context"
	"fmt"
	"math"
	"math/bits"

	"github.com/cockroachdb/apd/v3"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Reduce groups c by the key expressions and computes the aggregates of
// each group; each output row is the key's values followed by one value per
// aggregate.
//
// Algebra: for each group changed by the step, output Δ = f(new group) −
// f(old group): the previous output row is retracted and the new one
// inserted. An aggregate's FILTER is evaluated first on each row, and a
// row it rejects is not fed to that aggregate (the group's multiplicity
// still counts it: the group exists). Accumulable aggregates (count, sum,
// avg, bool_and, bool_or) keep a per-group accumulator that each update
// adjusts by its diff (sums of integers in 128 bits, numerics exactly);
// min, max, string_agg, array_agg, jsonb_agg and DISTINCT aggregates keep
// a per-group ordered multiset, so a change costs O(log n) to find plus
// the re-derivation of the changed group's value from the multiset.
// Hazards: a group whose multiplicity goes negative (a retraction of a row
// never inserted) has no valid output: it yields an error on the err
// stream until corrected; an empty group has no output row, so a global
// aggregate (no key) over an empty input yields no row (the renderer
// unions in the default row); float sums under retraction accumulate
// rounding.
func (c *Collection) Reduce(key []expr.Scalar, aggs []expr.Aggregate) (*Collection, error) {
	return c.reduce(key, aggs, false)
}

// MonotonicReduce is Reduce over a collection that only ever grows (no
// update of it has a negative multiplicity: an append-only source, and
// maps, filters and joins of such): min and max then keep one value per
// group rather than every value, since a value that is not the extreme
// can never become it. A retraction reaching it is a planning bug: it
// puts an internal error (XX000) on the err stream, permanently, and is
// otherwise ignored.
func (c *Collection) MonotonicReduce(key []expr.Scalar, aggs []expr.Aggregate) (*Collection, error) {
	return c.reduce(key, aggs, true)
}

func (c *Collection) reduce(key []expr.Scalar, aggs []expr.Aggregate, monotonic bool) (*Collection, error) {
	for _, a := range aggs {
		switch a.Func {
		case expr.AggCount, expr.AggCountStar, expr.AggSum, expr.AggAvg, expr.AggMin, expr.AggMax,
			expr.AggBoolAnd, expr.AggBoolOr, expr.AggStringAgg, expr.AggArrayAgg, expr.AggJsonbAgg,
			expr.AggStddevSamp, expr.AggStddevPop, expr.AggVarSamp, expr.AggVarPop,
			expr.AggJsonbObjectAgg, expr.AggBitAnd, expr.AggBitOr, expr.AggBitXor,
			expr.AggPercentileDisc, expr.AggPercentileCont, expr.AggMode:
		default:
			return nil, pgcode.New(pgcode.FeatureNotSupported, "dataflow: aggregate %s is not supported", a.Func)
		}
	}
	g := c.g
	out := g.newCollection(len(key) + len(aggs))
	op := &reduceOp{in: c, out: out, keyer: newKeyer(key), aggs: aggs, monotonic: monotonic, shards: make([]reduceShard, g.opts.Workers)}
	for i := range op.shards {
		op.shards[i].groups = map[string]*group{}
	}
	g.add(op)
	return out, nil
}

type reduceOp struct {
	in, out   *Collection
	keyer     *keyer
	aggs      []expr.Aggregate
	monotonic bool // see MonotonicReduce
	shards    []reduceShard
	pk        repr.Packer
}

type reduceShard struct {
	groups  map[string]*group
	idx     []uint32 // this step's input rows routed here (indexes into the input)
	keys    Rows     // their keys
	exact   Rows     // their keys as they print, where that differs (else empty rows)
	changed []string
	ok      Rows
	errs    Rows
	datums  []repr.Datum
	pk, vk  repr.Packer
	ctx     expr.EvalCtx
	kb      []byte
}

// group is the state of one group: its multiplicity, accumulators and the
// output row last emitted (or error row, when outErr).
type group struct {
	n      repr.Diff
	accs   []accum
	reps   scaleReps // the key's packings with display scales (see scaleReps)
	out    string
	hasOut bool
	outErr bool
	dirty  bool
}

// accum is the state of one aggregate of one group.
type accum struct {
	n             repr.Diff // non-NULL values, weighted
	hi            int64     // 128-bit integer sum
	lo            uint64
	fsum          float64
	dsum          *apd.Decimal
	trues, falses repr.Diff
	ms            *multiset
	// dsq is the exact sum of squares for variance and stddev.
	dsq *apd.Decimal
	// scales counts the numeric inputs of sum, avg and the variances by
	// display scale: PostgreSQL's sum shows the largest scale among its
	// inputs, which a retraction may lower.
	scales scaleCounts
	// iv sums intervals field by field (sum and avg of intervals only).
	iv *ivSum
}

// ivSum is a weighted sum of intervals, field by field.
type ivSum struct{ months, days, micros int64 }

func (s *ivSum) add(iv repr.Interval, d int64) {
	s.months += int64(iv.Months) * d
	s.days += int64(iv.Days) * d
	s.micros += iv.Micros * d
}

// value is the sum, or for avg the sum divided by n.
func (s *ivSum) value(avg bool, n int64) (repr.Datum, error) {
	iv, err := expr.SumInterval(s.months, s.days, s.micros)
	if err == nil && avg {
		iv, err = expr.AvgInterval(iv, n)
	}
	if err != nil {
		return repr.Null, err
	}
	return repr.IntervalDatum(iv), nil
}

// scaleCounts counts values by display scale (few distinct scales: a
// slice).
type scaleCounts []scaleCount

type scaleCount struct {
	scale int32
	n     repr.Diff
}

func (c *scaleCounts) add(scale int32, d repr.Diff) {
	for i := range *c {
		if (*c)[i].scale == scale {
			(*c)[i].n += d
			if (*c)[i].n == 0 {
				*c = append((*c)[:i], (*c)[i+1:]...)
			}
			return
		}
	}
	*c = append(*c, scaleCount{scale: scale, n: d})
}

// max returns the largest scale with a positive count (0 if none).
func (c scaleCounts) max() int32 {
	m := int32(0)
	for _, e := range c {
		if e.n > 0 && e.scale > m {
			m = e.scale
		}
	}
	return m
}

// withScale returns the exact value d shown with display scale scale: d
// holds no non-zero digit past scale (it is a sum of values of at most
// that scale), so this only drops or adds trailing zeros.
func withScale(d *apd.Decimal, scale int32) *apd.Decimal {
	red := new(apd.Decimal)
	red.Reduce(d)
	if red.IsZero() {
		red.Exponent = 0
	}
	return repr.WithNumericScale(red, scale)
}

var decCtx = apd.BaseContext.WithPrecision(60)

func (o *reduceOp) step(_ context.Context, _ repr.Timestamp) error {
	g := o.in.g
	W := len(o.shards)
	o.out.ok.Reset()
	o.out.errs.Reset()
	o.out.errs.Append(&o.in.errs, 1)
	for s := range o.shards {
		o.shards[s].idx = o.shards[s].idx[:0]
		o.shards[s].keys.Reset()
		o.shards[s].exact.Reset()
	}
	n := o.in.ok.Len()
	m := g.meter(&o.out.errs, nil)
	for i := range n {
		if err := m.tick(); err != nil {
			return err
		}
		if i == reserveSample && n-i > 4*reserveSample {
			for s := range o.shards {
				o.shards[s].keys.reserveLike(0, reserveSample, n-i)
			}
		}
		row, d := o.in.ok.Row(i), o.in.ok.Diff(i)
		if err := o.keyer.pack(&g.eval, row, &o.pk); err != nil {
			o.out.errs.Push(ErrRow(err), d)
			continue
		}
		k := o.pk.Row()
		s := &o.shards[shardOf(k, W)]
		s.idx = append(s.idx, uint32(i))
		s.keys.Push(k, d)
		if !o.keyer.scaled {
			s.exact.Push(nil, d)
			continue
		}
		if err := o.keyer.packExact(&g.eval, row, &o.pk); err != nil {
			// The canonical key evaluated: the same expressions cannot fail.
			s.exact.Push(nil, d)
			continue
		}
		s.exact.Push(o.pk.Row(), d)
	}
	err := g.parallel(n, func(si int) error {
		s := &o.shards[si]
		s.ok.Reset()
		s.errs.Reset()
		s.changed = s.changed[:0]
		s.ctx = g.workerCtx()
		m := g.meter(&s.ok, &s.errs)
		for i, j := range s.idx {
			if err := m.tick(); err != nil {
				return err
			}
			d := o.in.ok.Diff(int(j))
			if o.monotonic && d < 0 {
				s.errs.Push(ErrRow(errNotMonotonic), 1)
				continue
			}
			m.grow(o.update(s, s.keys.Row(i), s.exact.Row(i), o.in.ok.Row(int(j)), d))
		}
		for _, k := range s.changed {
			if err := m.tick(); err != nil {
				return err
			}
			if o.monotonic {
				o.trimExtremes(s.groups[k])
			}
			o.emit(s, k)
		}
		return m.poll()
	})
	if err != nil {
		return err
	}
	for s := range o.shards {
		o.out.ok.Append(&o.shards[s].ok, 1)
		o.out.errs.Append(&o.shards[s].errs, 1)
	}
	if err := o.out.ok.consolidate(g.ctl); err != nil {
		return err
	}
	return o.out.errs.consolidate(g.ctl)
}

// errNotMonotonic is what a monotonic operator reports when a retraction
// reaches it: the plan claimed an input that only grows.
var errNotMonotonic = pgcode.New(pgcode.InternalError, "dataflow: a retraction reached an operator planned for an append-only input")

// trimExtremes drops from gr's min and max multisets every value but the
// extreme ones (the values equal to the minimum or maximum, which differ
// only in display scale): under a monotonic input no other value can
// become the result. NULLs, which min and max skip, go too.
func (o *reduceOp) trimExtremes(gr *group) {
	if gr == nil {
		return
	}
	for i, a := range o.aggs {
		ms := gr.accs[i].ms
		if ms == nil || (a.Func != expr.AggMin && a.Func != expr.AggMax) || ms.len() <= 1 {
			continue
		}
		best, _ := finish(&gr.accs[i], a)
		ms.retain(func(e *msEntry) bool {
			if best.IsNull() || e.n <= 0 {
				return false
			}
			d := repr.Row(e.val).Get(0)
			return !d.IsNull() && repr.Compare(d, best) == 0
		})
	}
}

// groupBytes, accumBytes and msEntryBytes approximate the state of a new
// group (map entry, group and its output row), of one of its accumulators
// and of a multiset entry beyond its key and value bytes, as the memory
// limit charges them.
const (
	groupBytes   = 96
	accumBytes   = 72
	msEntryBytes = 48
)

// update folds one input row into its group and returns the bytes of
// state it added (a new group, new multiset entries), roughly. k is the
// row's canonical key, exact the key as it prints when that differs
// (else empty).
func (o *reduceOp) update(s *reduceShard, k, exact, row repr.Row, d repr.Diff) (grown int) {
	s.datums = row.Unpack(s.datums[:0])
	// Evaluate every aggregate's inputs first: an error sends the row to
	// the err stream and leaves the group untouched.
	type ev struct {
		v   repr.Datum
		ord []byte
		// skip: the aggregate's FILTER rejects the row, which it does
		// not see at all.
		skip bool
	}
	var evs [8]ev
	vals := evs[:0]
	for _, a := range o.aggs {
		var e ev
		if a.Filter != nil {
			p, err := evalScalar(&s.ctx, a.Filter, s.datums)
			if err != nil {
				s.errs.Push(ErrRow(err), d)
				return 0
			}
			if p.IsNull() || !p.Bool() {
				vals = append(vals, ev{skip: true})
				continue
			}
		}
		if a.Func != expr.AggCountStar {
			v, err := evalScalar(&s.ctx, a.Expr, s.datums)
			if err != nil {
				s.errs.Push(ErrRow(err), d)
				return 0
			}
			e.v = v
		}
		for _, ok := range a.OrderBy {
			v, err := evalScalar(&s.ctx, ok.Expr, s.datums)
			if err != nil {
				s.errs.Push(ErrRow(err), d)
				return 0
			}
			e.ord = repr.AppendKey(e.ord, v, ok.Order)
		}
		vals = append(vals, e)
	}
	gr := s.groups[string(k)]
	if gr == nil {
		gr = &group{accs: make([]accum, len(o.aggs))}
		s.groups[string(k)] = gr
		grown += len(k) + groupBytes + accumBytes*len(o.aggs)
	}
	if !gr.dirty {
		gr.dirty = true
		s.changed = append(s.changed, string(k))
	}
	gr.n += d
	if len(exact) > 0 {
		grown += gr.reps.add(exact, d)
	}
	for i, a := range o.aggs {
		if vals[i].skip {
			continue
		}
		acc := &gr.accs[i]
		v := vals[i].v
		if a.Distinct || !a.Func.Accumulable() {
			if acc.ms == nil {
				acc.ms = &multiset{}
			}
			s.kb = append(s.kb[:0], vals[i].ord...)
			s.kb = repr.AppendKey(s.kb, v, repr.SortOrder{})
			s.vk.Reset()
			s.vk.Push(v)
			if !a.Distinct && keyMergesDistinctValues(v.Kind()) {
				// Equal intervals of different fields ('1 day', '24
				// hours') have one sort key: the packed value tells
				// them apart, so that each keeps its multiplicity and a
				// retraction removes the one it names. DISTINCT counts
				// them as one value, as PostgreSQL does.
				s.kb = append(s.kb, s.vk.Row()...)
			}
			before, after := acc.ms.add(s.kb, s.vk.Row(), d)
			if before == 0 {
				grown += len(s.kb) + len(s.vk.Row()) + msEntryBytes
			}
			if !a.Func.Accumulable() {
				continue
			}
			// DISTINCT accumulable aggregate: feed value transitions.
			switch {
			case before <= 0 && after > 0:
				accumulate(acc, a.Func, v, 1)
			case before > 0 && after <= 0:
				accumulate(acc, a.Func, v, -1)
			}
			continue
		}
		accumulate(acc, a.Func, v, d)
	}
	return grown
}

func accumulate(acc *accum, f expr.AggregateFunc, v repr.Datum, d repr.Diff) {
	if f == expr.AggCountStar {
		acc.n += d
		return
	}
	if v.IsNull() {
		return
	}
	acc.n += d
	switch f {
	case expr.AggSum, expr.AggAvg:
		switch {
		case v.Kind().IsInteger():
			hi, lo := mul128(v.Int(), int64(d))
			var c uint64
			acc.lo, c = bits.Add64(acc.lo, lo, 0)
			acc.hi += hi + int64(c)
		case v.Kind() == repr.KindFloat4 || v.Kind() == repr.KindFloat8:
			acc.fsum += v.Float() * float64(d)
		case v.Kind() == repr.KindInterval:
			if acc.iv == nil {
				acc.iv = &ivSum{}
			}
			acc.iv.add(v.Interval(), int64(d))
		case v.Kind() == repr.KindNumeric:
			if acc.dsum == nil {
				acc.dsum = new(apd.Decimal)
			}
			acc.scales.add(repr.NumericScale(v.Numeric()), d)
			var p apd.Decimal
			_, _ = decCtx.Mul(&p, v.Numeric(), apd.New(int64(d), 0))
			_, _ = decCtx.Add(acc.dsum, acc.dsum, &p)
		}
	case expr.AggStddevSamp, expr.AggStddevPop, expr.AggVarSamp, expr.AggVarPop:
		x := datumDecimal(v)
		if acc.dsum == nil {
			acc.dsum, acc.dsq = new(apd.Decimal), new(apd.Decimal)
		}
		if v.Kind() == repr.KindNumeric {
			acc.scales.add(repr.NumericScale(x), d)
		}
		dd := apd.New(int64(d), 0)
		var p apd.Decimal
		_, _ = decCtx.Mul(&p, x, dd)
		_, _ = decCtx.Add(acc.dsum, acc.dsum, &p)
		_, _ = decCtx.Mul(&p, &p, x)
		_, _ = decCtx.Add(acc.dsq, acc.dsq, &p)
	case expr.AggBoolAnd, expr.AggBoolOr:
		if v.Bool() {
			acc.trues += d
		} else {
			acc.falses += d
		}
	}
}

// mul128 returns a*b as a signed 128-bit (hi, lo).
func mul128(a, b int64) (int64, uint64) {
	neg := (a < 0) != (b < 0)
	ua, ub := uint64(a), uint64(b)
	if a < 0 {
		ua = uint64(-a)
	}
	if b < 0 {
		ub = uint64(-b)
	}
	hi, lo := bits.Mul64(ua, ub)
	if neg {
		lo = ^lo + 1
		hi = ^hi
		if lo == 0 {
			hi++
		}
	}
	return int64(hi), lo
}

// int128Decimal converts a signed 128-bit integer to a decimal.
func int128Decimal(hi int64, lo uint64) *apd.Decimal {
	d := new(apd.Decimal)
	neg := hi < 0
	uh, ul := uint64(hi), lo
	if neg {
		ul = ^ul + 1
		uh = ^uh
		if ul == 0 {
			uh++
		}
	}
	var b [16]byte
	for i := range 8 {
		b[i] = byte(uh >> (56 - 8*i))
		b[8+i] = byte(ul >> (56 - 8*i))
	}
	d.Coeff.SetBytes(b[:])
	d.Negative = neg && d.Coeff.Sign() != 0
	return d
}

var errBigintRange = pgcode.New(pgcode.NumericValueOutOfRange, "bigint out of range")

// emit retracts the group's previous output and inserts its new one.
func (o *reduceOp) emit(s *reduceShard, k string) {
	gr := s.groups[k]
	gr.dirty = false
	if gr.hasOut {
		if gr.outErr {
			s.errs.Push(repr.Row(gr.out), -1)
		} else {
			s.ok.Push(repr.Row(gr.out), -1)
		}
		gr.hasOut = false
	}
	switch {
	case gr.n == 0:
		delete(s.groups, k)
		return
	case gr.n < 0:
		gr.out, gr.outErr, gr.hasOut = string(ErrRow(pgcode.New(pgcode.InternalError,
			"dataflow: reduce: negative multiplicity %d for a group (a retraction of a row that was never inserted)", gr.n))), true, true
		s.errs.Push(repr.Row(gr.out), 1)
		return
	}
	s.pk.Reset()
	if gr.reps.present() {
		s.datums = gr.reps.display(repr.Row(k), &s.pk, s.datums)
	} else {
		s.pk.PushRow(repr.Row(k))
	}
	for i, a := range o.aggs {
		v, err := finish(&gr.accs[i], a)
		if err != nil {
			gr.out, gr.outErr, gr.hasOut = string(ErrRow(err)), true, true
			s.errs.Push(repr.Row(gr.out), 1)
			return
		}
		s.pk.Push(v)
	}
	gr.out, gr.outErr, gr.hasOut = string(s.pk.Row()), false, true
	s.ok.Push(s.pk.Row(), 1)
}

// finish computes an aggregate's value from its state.
func finish(acc *accum, a expr.Aggregate) (repr.Datum, error) {
	kind := a.Typ.Type.Kind
	switch a.Func {
	case expr.AggCount, expr.AggCountStar:
		if a.Distinct && acc.ms != nil && a.Func == expr.AggCount {
			return repr.Int8Datum(int64(acc.n)), nil
		}
		return repr.Int8Datum(int64(acc.n)), nil
	case expr.AggSum, expr.AggAvg:
		if acc.n <= 0 {
			return repr.Null, nil
		}
		if kind == repr.KindInterval {
			var zero ivSum
			if acc.iv == nil {
				acc.iv = &zero
			}
			return acc.iv.value(a.Func == expr.AggAvg, int64(acc.n))
		}
		if kind == repr.KindFloat8 || kind == repr.KindFloat4 {
			f := acc.fsum + float64(acc.hi)*math.Pow(2, 64) + float64(acc.lo)
			if acc.dsum != nil {
				x, _ := acc.dsum.Float64()
				f += x
			}
			if a.Func == expr.AggAvg {
				f /= float64(acc.n)
			}
			if kind == repr.KindFloat4 {
				return repr.Float4Datum(float32(f)), nil
			}
			return repr.Float8Datum(f), nil
		}
		if a.Func == expr.AggSum && kind != repr.KindNumeric {
			// sum(int2/int4) is bigint: the 128-bit sum must fit.
			if (acc.hi == 0 && acc.lo <= math.MaxInt64) || (acc.hi == -1 && acc.lo > math.MaxInt64) {
				return repr.IntDatum(kind, int64(acc.lo)), nil
			}
			return repr.Null, errBigintRange
		}
		sum := int128Decimal(acc.hi, acc.lo)
		if acc.dsum != nil {
			_, _ = decCtx.Add(sum, sum, acc.dsum)
			sum = withScale(sum, acc.scales.max())
		}
		if a.Func == expr.AggAvg {
			// PostgreSQL's avg of integers and numerics is
			// numeric_div(sum, count), with select_div_scale's scale.
			q, err := expr.NumericDiv(sum, apd.New(int64(acc.n), 0))
			if err != nil {
				return repr.Null, err
			}
			sum = q
		}
		return repr.NumericDatum(sum), nil
	case expr.AggStddevSamp, expr.AggStddevPop, expr.AggVarSamp, expr.AggVarPop:
		return variance(acc, a)
	case expr.AggBoolAnd:
		if acc.trues+acc.falses <= 0 {
			return repr.Null, nil
		}
		return repr.BoolDatum(acc.falses == 0), nil
	case expr.AggBoolOr:
		if acc.trues+acc.falses <= 0 {
			return repr.Null, nil
		}
		return repr.BoolDatum(acc.trues > 0), nil
	case expr.AggMin, expr.AggMax:
		if acc.ms == nil {
			return repr.Null, nil
		}
		seq := acc.ms.all()
		if a.Func == expr.AggMax {
			seq = acc.ms.backward()
		}
		// The extreme value; of equal numerics of different display
		// scales (the multiset keeps them apart), the largest scale, as
		// a group key shows (scaleReps).
		best := repr.Null
		for e := range seq {
			if e.n <= 0 {
				continue
			}
			d := e.row().Get(0)
			if d.IsNull() {
				continue
			}
			if best.IsNull() {
				best = d
				continue
			}
			if repr.Compare(d, best) != 0 {
				break
			}
			if repr.PreferShown(best, d) {
				best = d
			}
		}
		return best, nil
	case expr.AggStringAgg, expr.AggArrayAgg, expr.AggJsonbAgg:
		return orderedAgg(acc, a)
	case expr.AggJsonbObjectAgg:
		return jsonbObjectAgg(acc, a)
	case expr.AggBitAnd, expr.AggBitOr, expr.AggBitXor:
		return bitAgg(acc, a)
	case expr.AggPercentileDisc, expr.AggPercentileCont, expr.AggMode:
		return orderedSetAgg(acc, a)
	}
	return repr.Null, fmt.Errorf("dataflow: aggregate %s is not supported", a.Func)
}

// orderedAgg derives string_agg, array_agg and jsonb_agg from the group's
// ordered multiset.
func orderedAgg(acc *accum, a expr.Aggregate) (repr.Datum, error) {
	if acc.ms == nil {
		return repr.Null, nil
	}
	var (
		sb    []byte
		elems []repr.Datum
		any   bool
	)
	for e := range acc.ms.all() {
		reps := e.n
		if a.Distinct && reps > 0 {
			reps = 1
		}
		v := e.row().Get(0)
		for range reps {
			switch a.Func {
			case expr.AggStringAgg:
				fs := v.Elements(nil)
				if v.IsNull() || len(fs) == 0 || fs[0].IsNull() {
					continue
				}
				if any && len(fs) > 1 && !fs[1].IsNull() {
					sb = append(sb, fs[1].Str()...)
				}
				sb = append(sb, fs[0].Str()...)
				any = true
			case expr.AggArrayAgg:
				elems = append(elems, v)
				any = true
			case expr.AggJsonbAgg:
				if any {
					sb = append(sb, ", "...)
				}
				sb = appendJSON(sb, v)
				any = true
			}
		}
	}
	if !any {
		return repr.Null, nil
	}
	switch a.Func {
	case expr.AggStringAgg:
		return repr.StringDatum(a.Typ.Type.Kind, string(sb)), nil
	case expr.AggArrayAgg:
		return repr.ArrayDatum(elems), nil
	}
	return repr.JsonbDatum("[" + string(sb) + "]"), nil
}

// appendJSON appends d as a JSON value in jsonb's canonical text.
func appendJSON(buf []byte, d repr.Datum) []byte {
	switch {
	case d.IsNull():
		return append(buf, "null"...)
	case d.Kind() == repr.KindJsonb:
		return append(buf, d.Str()...)
	case d.Kind() == repr.KindBool:
		if d.Bool() {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case d.Kind().IsNumeric():
		return append(buf, d.Text()...)
	}
	return repr.AppendJSONString(buf, d.Text())
}

// datumDecimal converts a numeric-family datum to a decimal.
func datumDecimal(v repr.Datum) *apd.Decimal {
	switch {
	case v.Kind().IsInteger():
		return apd.New(v.Int(), 0)
	case v.Kind() == repr.KindNumeric:
		return v.Numeric()
	}
	d := new(apd.Decimal)
	_, _ = d.SetFloat64(v.Float())
	return d
}

// variance derives var_pop/var_samp/stddev_pop/stddev_samp from the exact
// sums as PostgreSQL's numeric_stddev_internal does: numerator
// N·Σx² − (Σx)² (shown with twice the inputs' largest display scale), 0
// when it is not positive; divided by N·N or N·(N−1) at select_div_scale's
// scale (rounded), and for stddev the square root of that, at the same
// scale.
func variance(acc *accum, a expr.Aggregate) (repr.Datum, error) {
	n := int64(acc.n)
	samp := a.Func == expr.AggVarSamp || a.Func == expr.AggStddevSamp
	if n <= 0 || (samp && n <= 1) || acc.dsum == nil {
		return repr.Null, nil
	}
	float := a.Typ.Type.Kind == repr.KindFloat8 || a.Typ.Type.Kind == repr.KindFloat4
	var sq, num apd.Decimal
	nd := apd.New(n, 0)
	_, _ = decCtx.Mul(&sq, acc.dsum, acc.dsum)
	_, _ = decCtx.Mul(&num, nd, acc.dsq)
	_, _ = decCtx.Sub(&num, &num, &sq)
	if num.Sign() <= 0 {
		if float {
			return repr.Float8Datum(0), nil
		}
		return repr.NumericDatum(apd.New(0, 0)), nil
	}
	numS := withScale(&num, 2*acc.scales.max())
	den := apd.New(n*n, 0)
	if samp {
		den = apd.New(n*(n-1), 0)
	}
	res, err := expr.NumericDiv(numS, den)
	if err != nil {
		return repr.Null, err
	}
	if a.Func == expr.AggStddevSamp || a.Func == expr.AggStddevPop {
		scale := repr.NumericScale(res)
		root := new(apd.Decimal)
		c := apd.BaseContext.WithPrecision(uint32(max(int64(res.NumDigits())+int64(res.Exponent), 1) + int64(scale) + 10))
		if _, err := c.Sqrt(root, res); err != nil {
			return repr.Null, pgcode.Wrap(err, pgcode.NumericValueOutOfRange, "numeric out of range")
		}
		r := apd.BaseContext.WithPrecision(1000)
		r.Rounding = apd.RoundHalfUp
		out := new(apd.Decimal)
		if _, err := r.Quantize(out, root, -scale); err != nil {
			return repr.Null, pgcode.Wrap(err, pgcode.NumericValueOutOfRange, "numeric out of range")
		}
		res = out
	}
	if float {
		f, _ := res.Float64()
		return repr.Float8Datum(f), nil
	}
	return repr.NumericDatum(res), nil
}

// trim releases the shards' large per-step scratch after a step.
func (o *reduceOp) trim() {
	for i := range o.shards {
		s := &o.shards[i]
		if cap(s.idx)*4 > trimBytes {
			s.idx = nil
		}
		s.keys.trim()
		s.exact.trim()
		s.ok.trim()
		s.errs.trim()
		s.datums = clearDatums(s.datums)
	}
	o.keyer.trim()
}

// keyMergesDistinctValues reports whether repr.AppendKey may give the
// same key to values of kind k that pack differently (and print
// differently): intervals, numerics (display scales: 1.10, 1.1), floats
// (-0, 0), jsonb (numbers in it: '[1.0]', '[1]'), and records and arrays,
// which may hold them. Among such equal
// values an ordered aggregate's multiset orders by packed bytes; min and
// max show the one repr.PreferShown prefers among equal extremes
// (PostgreSQL keeps whichever its scan met last).
func keyMergesDistinctValues(k repr.Kind) bool {
	return k == repr.KindInterval || k == repr.KindNumeric || k == repr.KindFloat8 || k == repr.KindFloat4 ||
		k == repr.KindJsonb || k == repr.KindRecord || k == repr.KindArray
}
