package dataflow

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"unsafe"

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
	op.place = make([]aggPlace, len(aggs))
	for i, a := range aggs {
		if (a.Func == expr.AggCountStar || a.Func == expr.AggCount) && !a.Distinct {
			op.place[i] = aggPlace{count: true, i: op.nCount}
			op.nCount++
		} else {
			op.place[i] = aggPlace{i: op.nFull}
			op.nFull++
		}
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
	// place says where each aggregate's state is: a plain count (count(*),
	// count(x)) is one Diff in the shard's counts, anything else an accum
	// in its accs; nCount and nFull are the strides.
	place         []aggPlace
	nCount, nFull int
}

// aggPlace is where an aggregate's state lives: the i-th count or accum
// of its group.
type aggPlace struct {
	count bool
	i     int
}

// reduceShard is one worker's part of a reduce: its groups' state in flat
// slices indexed by the group's slot in the key table, so that a million
// groups are a few large pointer-free slices rather than a million heap
// objects. The pointerful parts that only some aggregates need
// (multisets, decimals, display scales) live in side slices reached by an
// index from the flat record.
type reduceShard struct {
	groups keyTable     // group key -> slot
	st     []groupState // by slot
	counts []repr.Diff  // by slot*nCount + place.i: plain counts
	accs   []accum      // by slot*nFull + place.i: other aggregates
	outs   spanArena    // by slot: the output (or error) row last emitted
	// sides holds the pointerful parts of accumulators (accum.side);
	// reps the key packings of groups with display scales
	// (groupState.reps). Freed entries are reset and reused.
	sides             []accSide
	reps              []scaleReps
	freeSide, freeRep []uint32
	// sets holds the accumulators' multisets (min, max, the ordered and
	// DISTINCT aggregates; accum.ms): most groups' few values packed in
	// one slab, not a heap object or two per group.
	sets msTable
	// sideBytes is what the side state holds beyond the slices and sets:
	// decimals and key packings, kept as they come and go (see
	// stateBytes).
	sideBytes int64

	idx     []uint32 // this step's input rows routed here (indexes into the input)
	keys    Rows     // their keys
	hashes  []uint64 // their keys' keyHash
	exact   Rows     // their keys as they print, where that differs (else empty rows)
	changed []uint32 // slots of the groups this step changed
	ok      Rows
	errs    Rows
	datums  []repr.Datum
	pk, vk  repr.Packer
	ctx     expr.EvalCtx
	kb      []byte
}

// groupState is the state of one group beyond its accumulators: its
// multiplicity and whether it has an output row (in the shard's outs) and
// whether that is an error row. Pointer-free.
type groupState struct {
	n repr.Diff
	// reps is 1 + the index in the shard's reps of the key's packings
	// with display scales (see scaleReps), 0 when it has none.
	reps   uint32
	hasOut bool
	outErr bool
	dirty  bool
}

// accum is the state of one aggregate of one group: pointer-free, for
// count, sum and avg of integers and floats, bool_and and bool_or, with
// the rest (side) only for aggregates that need more.
type accum struct {
	n repr.Diff // non-NULL values, weighted
	// hi, lo: the 128-bit sum of integers. For bool_and and bool_or, hi
	// counts the false values (n - hi the true ones).
	hi   int64
	lo   uint64
	fsum float64
	// side is 1 + the index of the accumulator's accSide in its shard,
	// 0 when it has none; ms 1 + the slot of its multiset in the shard's
	// sets (for aggregates that keep one: usesMultiset), 0 when it has
	// none.
	side, ms uint32
}

// accSide is the pointerful state of an accumulator: the exact sums of
// numerics and intervals.
type accSide struct {
	dsum *apd.Decimal
	// dsq is the exact sum of squares for variance and stddev.
	dsq *apd.Decimal
	// scales counts the numeric inputs of sum, avg and the variances by
	// display scale: PostgreSQL's sum shows the largest scale among its
	// inputs, which a retraction may lower.
	scales scaleCounts
	// iv sums intervals field by field (sum and avg of intervals only).
	iv ivSum
}

// side returns acc's side state, making it if it has none. The pointer
// is valid until the shard makes another.
func (s *reduceShard) side(acc *accum) *accSide {
	if acc.side == 0 {
		if n := len(s.freeSide); n > 0 {
			acc.side = s.freeSide[n-1] + 1
			s.freeSide = s.freeSide[:n-1]
		} else {
			s.sides = append(s.sides, accSide{})
			acc.side = uint32(len(s.sides))
		}
	}
	return &s.sides[acc.side-1]
}

// sideOf returns acc's side state, nil if it has none.
func (s *reduceShard) sideOf(acc *accum) *accSide {
	if acc.side == 0 {
		return nil
	}
	return &s.sides[acc.side-1]
}

// msOf returns acc's multiset, nil if it has none: see msTable.at for
// how long it is valid.
func (s *reduceShard) msOf(acc *accum) *multiset {
	if acc.ms == 0 {
		return nil
	}
	return s.sets.at(acc.ms - 1)
}

// usesMultiset reports whether aggregate a keeps its values in a multiset.
func usesMultiset(a expr.Aggregate) bool { return a.Distinct || !a.Func.Accumulable() }

// repsOf returns gs's key packings, making them if make is set and it
// has none (else nil).
func (s *reduceShard) repsOf(gs *groupState, make bool) *scaleReps {
	if gs.reps == 0 {
		if !make {
			return nil
		}
		if n := len(s.freeRep); n > 0 {
			gs.reps = s.freeRep[n-1] + 1
			s.freeRep = s.freeRep[:n-1]
		} else {
			s.reps = append(s.reps, nil)
			gs.reps = uint32(len(s.reps))
		}
	}
	return &s.reps[gs.reps-1]
}

// newGroup adds the group of key k (keyHash h) and returns its slot.
func (o *reduceOp) newGroup(s *reduceShard, k []byte, h uint64) uint32 {
	slot, _ := s.groups.insertHashed(k, h)
	if int(slot) == len(s.st) {
		s.st = append(s.st, groupState{})
		s.counts = append(s.counts, make([]repr.Diff, o.nCount)...)
		s.accs = append(s.accs, make([]accum, o.nFull)...)
	}
	return slot
}

// dropGroup frees a group's slot and side state.
func (o *reduceOp) dropGroup(s *reduceShard, slot uint32) {
	clear(o.countsOf(s, slot))
	gs := &s.st[slot]
	if gs.reps != 0 {
		s.sideBytes -= int64(s.reps[gs.reps-1].bytes())
		s.reps[gs.reps-1] = nil
		s.freeRep = append(s.freeRep, gs.reps-1)
	}
	accs := o.accsOf(s, slot)
	for i := range accs {
		if accs[i].ms != 0 {
			// An empty group's multisets are empty, unless retractions
			// of rows never inserted left entries of negative count.
			s.sets.release(accs[i].ms - 1)
		}
		if accs[i].side != 0 {
			sd := &s.sides[accs[i].side-1]
			if sd.dsum != nil {
				s.sideBytes -= decimalBytes
			}
			if sd.dsq != nil {
				s.sideBytes -= decimalBytes
			}
			*sd = accSide{}
			s.freeSide = append(s.freeSide, accs[i].side-1)
		}
	}
	clear(accs)
	*gs = groupState{}
	s.outs.clear(slot)
	s.groups.delete(slot)
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
		o.shards[s].hashes = o.shards[s].hashes[:0]
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
		h := keyHash(k)
		s := &o.shards[h%uint64(W)]
		s.idx = append(s.idx, uint32(i))
		s.hashes = append(s.hashes, h)
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
			m.grow(o.update(s, s.keys.Row(i), s.hashes[i], s.exact.Row(i), o.in.ok.Row(int(j)), d))
		}
		for _, slot := range s.changed {
			if err := m.tick(); err != nil {
				return err
			}
			if o.monotonic {
				o.trimExtremes(s, slot)
			}
			m.grow(o.emit(s, slot))
		}
		return m.poll()
	})
	if err != nil {
		return err
	}
	parts := make([]*Rows, len(o.shards))
	for s := range o.shards {
		parts[s] = &o.shards[s].ok
		o.out.errs.Append(&o.shards[s].errs, 1)
	}
	if err := g.gather(&o.out.ok, parts); err != nil {
		return err
	}
	return o.out.errs.consolidate(g.ctl)
}

// errNotMonotonic is what a monotonic operator reports when a retraction
// reaches it: the plan claimed an input that only grows.
var errNotMonotonic = pgcode.New(pgcode.InternalError, "dataflow: a retraction reached an operator planned for an append-only input")

// trimExtremes drops from the group's min and max multisets every value
// but the extreme ones (the values equal to the minimum or maximum, which
// differ only in display scale): under a monotonic input no other value
// can become the result. NULLs, which min and max skip, go too.
func (o *reduceOp) trimExtremes(s *reduceShard, slot uint32) {
	for i, a := range o.aggs {
		acc := o.accOf(s, slot, i)
		if acc == nil || (a.Func != expr.AggMin && a.Func != expr.AggMax) {
			continue
		}
		ms := s.msOf(acc)
		if ms == nil || ms.len() <= 1 {
			continue
		}
		best, _ := finish(acc, s.sideOf(acc), ms, a)
		s.sets.retain(ms, func(e msEntry) bool {
			if best.IsNull() || e.n <= 0 {
				return false
			}
			d := e.row().Get(0)
			return !d.IsNull() && repr.Compare(d, best) == 0
		})
		s.sets.put(acc.ms-1, ms)
	}
}

// accsOf returns the accums of the group at slot (of the aggregates
// that are not plain counts).
func (o *reduceOp) accsOf(s *reduceShard, slot uint32) []accum {
	n := o.nFull
	return s.accs[int(slot)*n : int(slot+1)*n]
}

// countsOf returns the plain counts of the group at slot.
func (o *reduceOp) countsOf(s *reduceShard, slot uint32) []repr.Diff {
	n := o.nCount
	return s.counts[int(slot)*n : int(slot+1)*n]
}

// accOf returns aggregate i's accum in the group at slot, nil for a
// plain count.
func (o *reduceOp) accOf(s *reduceShard, slot uint32, i int) *accum {
	if p := o.place[i]; !p.count {
		return &s.accs[int(slot)*o.nFull+p.i]
	}
	return nil
}

// groupStateBytes, accumBytes and accSideBytes are the flat state of a
// group beyond its key (its keyTable slot and groupState), of one of its
// accumulators, and of an accumulator's side state (beyond its multiset
// entries and decimals); msEntryBytes approximates a multiset entry
// beyond its key and value bytes; they are what the memory limit charges.
const (
	groupStateBytes = keySlotBytes + int(unsafe.Sizeof(groupState{}))
	accumBytes      = int(unsafe.Sizeof(accum{}))
	accSideBytes    = int(unsafe.Sizeof(accSide{}))
	msEntryBytes    = int(unsafe.Sizeof(msSlot{}))
)

// msEntrySize is the bytes a multiset entry of value val is taken to
// hold: its value, a sort key of about the same size, and msEntryBytes.
// The state sizes add it when an entry comes and take it away when it
// goes, so the estimate does not drift.
func msEntrySize(val []byte) int { return 2*len(val) + msEntryBytes }

// stateBytes returns the bytes of the reduce's group state: the flat
// slices and arenas by capacity, the side state as counted.
func (o *reduceOp) stateBytes() int64 {
	var n int64
	for i := range o.shards {
		s := &o.shards[i]
		n += int64(s.groups.bytes() + s.outs.bytes() +
			int(unsafe.Sizeof(groupState{}))*cap(s.st) + 8*cap(s.counts) + accumBytes*cap(s.accs) +
			accSideBytes*cap(s.sides) + int(unsafe.Sizeof(scaleReps{}))*cap(s.reps) +
			4*(cap(s.freeSide)+cap(s.freeRep)))
		n += s.sideBytes + s.sets.bytes()
	}
	return n
}

// update folds one input row into its group and returns the bytes of
// state it added (a new group, new side state, new multiset entries),
// roughly. k is the row's canonical key (keyHash h), exact the key as it
// prints when that differs (else empty).
func (o *reduceOp) update(s *reduceShard, k repr.Row, h uint64, exact, row repr.Row, d repr.Diff) (grown int) {
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
	slot, ok := s.groups.findHashed(k, h)
	if !ok {
		slot = o.newGroup(s, k, h)
		grown += len(k) + groupStateBytes + 8*o.nCount + accumBytes*o.nFull
	}
	gs := &s.st[slot]
	if !gs.dirty {
		gs.dirty = true
		s.changed = append(s.changed, slot)
	}
	gs.n += d
	if len(exact) > 0 {
		reps := s.repsOf(gs, true)
		before := reps.bytes()
		grown += reps.add(exact, d)
		s.sideBytes += int64(reps.bytes() - before)
	}
	accs, counts := o.accsOf(s, slot), o.countsOf(s, slot)
	for i, a := range o.aggs {
		if vals[i].skip {
			continue
		}
		v := vals[i].v
		if p := o.place[i]; p.count {
			if a.Func == expr.AggCountStar || !v.IsNull() {
				counts[p.i] += d
			}
			continue
		}
		acc := &accs[o.place[i].i]
		if usesMultiset(a) {
			if acc.ms == 0 {
				acc.ms = s.sets.newSlot() + 1
				grown += msSlotBytes
			}
			ms := s.msOf(acc)
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
			before, after := s.sets.add(ms, s.kb, s.vk.Row(), d)
			s.sets.put(acc.ms-1, ms)
			if before == 0 {
				grown += msEntrySize(s.vk.Row())
			}
			if !a.Func.Accumulable() {
				continue
			}
			// DISTINCT accumulable aggregate: feed value transitions.
			switch {
			case before <= 0 && after > 0:
				grown += s.accumulate(acc, a.Func, v, 1)
			case before > 0 && after <= 0:
				grown += s.accumulate(acc, a.Func, v, -1)
			}
			continue
		}
		grown += s.accumulate(acc, a.Func, v, d)
	}
	return grown
}

// accumulate adds v with multiplicity d to acc and returns the bytes of
// side state it made.
func (s *reduceShard) accumulate(acc *accum, f expr.AggregateFunc, v repr.Datum, d repr.Diff) (grown int) {
	if f == expr.AggCountStar {
		acc.n += d
		return 0
	}
	if v.IsNull() {
		return 0
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
			if acc.side == 0 {
				grown += accSideBytes
			}
			s.side(acc).iv.add(v.Interval(), int64(d))
		case v.Kind() == repr.KindNumeric:
			if acc.side == 0 {
				grown += accSideBytes
			}
			sd := s.side(acc)
			if sd.dsum == nil {
				sd.dsum = new(apd.Decimal)
				grown += decimalBytes
				s.sideBytes += decimalBytes
			}
			sd.scales.add(repr.NumericScale(v.Numeric()), d)
			var p apd.Decimal
			_, _ = decCtx.Mul(&p, v.Numeric(), apd.New(int64(d), 0))
			_, _ = decCtx.Add(sd.dsum, sd.dsum, &p)
		}
	case expr.AggStddevSamp, expr.AggStddevPop, expr.AggVarSamp, expr.AggVarPop:
		x := datumDecimal(v)
		if acc.side == 0 {
			grown += accSideBytes
		}
		sd := s.side(acc)
		if sd.dsum == nil {
			sd.dsum, sd.dsq = new(apd.Decimal), new(apd.Decimal)
			grown += 2 * decimalBytes
			s.sideBytes += 2 * decimalBytes
		}
		if v.Kind() == repr.KindNumeric {
			sd.scales.add(repr.NumericScale(x), d)
		}
		dd := apd.New(int64(d), 0)
		var p apd.Decimal
		_, _ = decCtx.Mul(&p, x, dd)
		_, _ = decCtx.Add(sd.dsum, sd.dsum, &p)
		_, _ = decCtx.Mul(&p, &p, x)
		_, _ = decCtx.Add(sd.dsq, sd.dsq, &p)
	case expr.AggBoolAnd, expr.AggBoolOr:
		if !v.Bool() {
			acc.hi += int64(d)
		}
	}
	return grown
}

// decimalBytes approximates an apd.Decimal of a sum, as the memory limit
// charges it.
const decimalBytes = 64

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

// emit retracts the group's previous output and inserts its new one; it
// drops the group when it is empty. It returns the bytes by which the
// output arena grew.
func (o *reduceOp) emit(s *reduceShard, slot uint32) (grown int) {
	gs := &s.st[slot]
	gs.dirty = false
	if gs.hasOut {
		if gs.outErr {
			s.errs.Push(s.outs.get(slot), -1)
		} else {
			s.ok.Push(s.outs.get(slot), -1)
		}
		gs.hasOut = false
	}
	setOut := func(row repr.Row, isErr bool) {
		before := len(s.outs.buf)
		s.outs.set(slot, row)
		grown = max(len(s.outs.buf)-before, 0)
		gs.outErr, gs.hasOut = isErr, true
		if isErr {
			s.errs.Push(row, 1)
		} else {
			s.ok.Push(row, 1)
		}
	}
	switch {
	case gs.n == 0:
		o.dropGroup(s, slot)
		return 0
	case gs.n < 0:
		setOut(ErrRow(pgcode.New(pgcode.InternalError,
			"dataflow: reduce: negative multiplicity %d for a group (a retraction of a row that was never inserted)", gs.n)), true)
		return grown
	}
	s.pk.Reset()
	k := repr.Row(s.groups.key(slot))
	if reps := s.repsOf(gs, false); reps != nil && reps.present() {
		s.datums = reps.display(k, &s.pk, s.datums)
	} else {
		s.pk.PushRow(k)
	}
	counts := o.countsOf(s, slot)
	for i, a := range o.aggs {
		if p := o.place[i]; p.count {
			s.pk.Push(repr.Int8Datum(int64(counts[p.i])))
			continue
		}
		acc := o.accOf(s, slot, i)
		var ms *multiset
		if !a.Func.Accumulable() {
			ms = s.msOf(acc)
		}
		v, err := finish(acc, s.sideOf(acc), ms, a)
		if err != nil {
			setOut(ErrRow(err), true)
			return grown
		}
		s.pk.Push(v)
	}
	setOut(s.pk.Row(), false)
	return grown
}

// finish computes an aggregate's value from its state (side nil when it
// has none; ms, its multiset, nil when it has none or the aggregate is
// accumulable).
func finish(acc *accum, side *accSide, ms *multiset, a expr.Aggregate) (repr.Datum, error) {
	kind := a.Typ.Type.Kind
	switch a.Func {
	case expr.AggCount, expr.AggCountStar:
		return repr.Int8Datum(int64(acc.n)), nil
	case expr.AggSum, expr.AggAvg:
		if acc.n <= 0 {
			return repr.Null, nil
		}
		if kind == repr.KindInterval {
			var iv ivSum
			if side != nil {
				iv = side.iv
			}
			return iv.value(a.Func == expr.AggAvg, int64(acc.n))
		}
		if kind == repr.KindFloat8 || kind == repr.KindFloat4 {
			f := acc.fsum + float64(acc.hi)*math.Pow(2, 64) + float64(acc.lo)
			if side != nil && side.dsum != nil {
				x, _ := side.dsum.Float64()
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
		if side != nil && side.dsum != nil {
			_, _ = decCtx.Add(sum, sum, side.dsum)
			sum = withScale(sum, side.scales.max())
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
		if side == nil {
			return repr.Null, nil
		}
		return variance(acc.n, side, a)
	case expr.AggBoolAnd:
		if acc.n <= 0 {
			return repr.Null, nil
		}
		return repr.BoolDatum(acc.hi == 0), nil
	case expr.AggBoolOr:
		if acc.n <= 0 {
			return repr.Null, nil
		}
		return repr.BoolDatum(int64(acc.n)-acc.hi > 0), nil
	case expr.AggMin, expr.AggMax:
		if ms == nil {
			return repr.Null, nil
		}
		// The extreme value; of equal numerics of different display
		// scales (the multiset keeps them apart), the largest scale, as
		// a group key shows (scaleReps).
		best := repr.Null
		ms.walk(a.Func == expr.AggMax, func(e msEntry) bool {
			if e.n <= 0 {
				return true
			}
			d := e.row().Get(0)
			switch {
			case d.IsNull():
			case best.IsNull():
				best = d
			case repr.Compare(d, best) != 0:
				return false
			case repr.PreferShown(best, d):
				best = d
			}
			return true
		})
		return best, nil
	case expr.AggStringAgg, expr.AggArrayAgg, expr.AggJsonbAgg:
		return orderedAgg(ms, a)
	case expr.AggJsonbObjectAgg:
		return jsonbObjectAgg(ms, a)
	case expr.AggBitAnd, expr.AggBitOr, expr.AggBitXor:
		return bitAgg(ms, a)
	case expr.AggPercentileDisc, expr.AggPercentileCont, expr.AggMode:
		return orderedSetAgg(ms, a)
	}
	return repr.Null, fmt.Errorf("dataflow: aggregate %s is not supported", a.Func)
}

// orderedAgg derives string_agg, array_agg and jsonb_agg from the group's
// ordered multiset.
func orderedAgg(ms *multiset, a expr.Aggregate) (repr.Datum, error) {
	if ms == nil {
		return repr.Null, nil
	}
	var (
		sb    []byte
		elems []repr.Datum
		any   bool
	)
	for e := range ms.all() {
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
func variance(count repr.Diff, acc *accSide, a expr.Aggregate) (repr.Datum, error) {
	n := int64(count)
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
		if cap(s.hashes)*8 > trimBytes {
			s.hashes = nil
		}
		if cap(s.changed)*4 > trimBytes {
			s.changed = nil
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
