package dataflow

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// Each test here feeds random update streams with inserts and retractions
// through an operator (or a composite plan) and compares its output, at
// every step and at every readable AS OF time, with a naive evaluator that
// recomputes the result from the full accumulated input. Failures print
// the seed. DATAFLOW_CASES scales the number of cases (CI: 1000).

func TestOracleMFP(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2)
		// WHERE a < 4 SELECT b, a + b
		m := expr.MapFilterProject{InputArity: 2,
			Expressions: []expr.Scalar{call(fnAdd, col(0), col(1))},
			Predicates:  []expr.Predicate{{Support: 2, Expr: call(fnLt, col(0), lit(4))}},
			Projection:  []int{1, 2}}
		h.check(h.in(0).MFP(m), func(ins []coll) coll {
			out := coll{}
			for k, d := range ins[0] {
				v := ints(k)
				if v[0] == nullInt || v[0] >= 4 {
					continue // NULL < 4 is NULL: filtered out
				}
				sum := int64(nullInt)
				if v[1] != nullInt {
					sum = v[0] + v[1]
				}
				out.add(irow(v[1], sum), d)
			}
			return out
		})
		h.run(25, 6)
	})
}

func TestOracleUnionNegateThreshold(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 1, 1)
		a, b := h.in(0), h.in(1)
		diff, _ := Union(a, b.Negate())
		exceptAll := diff.Threshold()
		intersectAll, _ := Union(a, exceptAll.Negate())
		except, _ := Union(a.Distinct(), b.Negate())
		h.check(exceptAll, func(ins []coll) coll {
			out := coll{}
			for k, d := range ins[0] {
				if n := d - ins[1][k]; n > 0 {
					out[k] = n
				}
			}
			return out
		})
		h.check(intersectAll, func(ins []coll) coll {
			out := coll{}
			for k, d := range ins[0] {
				if n := min(d, ins[1][k]); n > 0 {
					out[k] = n
				}
			}
			return out
		})
		h.check(except.Threshold().Distinct(), func(ins []coll) coll {
			out := coll{}
			for k := range ins[0] {
				if ins[1][k] == 0 {
					out[k] = 1
				}
			}
			return out
		})
		h.run(25, 5)
	})
}

func naiveJoin(a, b coll, ka, kb int) coll {
	out := coll{}
	for x, dx := range a {
		vx := ints(x)
		for y, dy := range b {
			vy := ints(y)
			if vx[ka] == vy[kb] && vx[ka] != nullInt {
				out.add(irow(append(slices.Clone(vx), vy...)...), dx*dy)
			}
		}
	}
	return out
}

func TestOracleJoin(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2, 2)
		a := h.in(0).ArrangeColumns(1)
		b := h.in(1).ArrangeColumns(0)
		j, err := Join(a, b, expr.Identity(4))
		if err != nil {
			t.Fatal(err)
		}
		h.check(j, func(ins []coll) coll { return naiveJoin(ins[0], ins[1], 1, 0) })
		// A residual filter and projection: a.0 < b.1, SELECT a.0, b.1
		j2, _ := Join(a, b, expr.MapFilterProject{InputArity: 4,
			Predicates: []expr.Predicate{{Support: 4, Expr: call(fnLt, col(0), col(3))}}, Projection: []int{0, 3}})
		h.check(j2, func(ins []coll) coll {
			out := coll{}
			for k, d := range naiveJoin(ins[0], ins[1], 1, 0) {
				v := ints(k)
				if v[0] != nullInt && v[3] != nullInt && v[0] < v[3] {
					out.add(irow(v[0], v[3]), d)
				}
			}
			return out
		})
		h.run(25, 5)
	})
}

// TestOracleOuterJoin builds A LEFT JOIN B ON A.1 = B.0 from a join, an
// antijoin (A − A⋉B, the semijoin through distinct keys of B) and a union.
func TestOracleOuterJoin(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2, 2)
		A, B := h.in(0), h.in(1)
		a := A.ArrangeColumns(1)
		inner, _ := Join(a, B.ArrangeColumns(0), expr.Identity(4))
		keys := B.MFP(expr.MapFilterProject{InputArity: 2, Projection: []int{0}}).Distinct()
		semi, _ := Join(a, keys.ArrangeColumns(0), expr.MapFilterProject{InputArity: 3, Projection: []int{0, 1}})
		anti, _ := Union(A, semi.Negate())
		nul := expr.Literal{Value: repr.Null, Typ: repr.ColumnType{Type: repr.TypeInt8, Nullable: true}}
		padded := anti.MFP(expr.MapFilterProject{InputArity: 2, Expressions: []expr.Scalar{nul, nul}, Projection: []int{0, 1, 2, 3}})
		outer, _ := Union(inner, padded)
		h.check(outer, func(ins []coll) coll {
			out := naiveJoin(ins[0], ins[1], 1, 0)
			for x, d := range ins[0] {
				v := ints(x)
				matched := false
				for y := range ins[1] {
					if ints(y)[0] == v[1] && v[1] != nullInt {
						matched = true
					}
				}
				if !matched {
					out.add(irow(v[0], v[1], nullInt, nullInt), d)
				}
			}
			return out
		})
		h.run(25, 5)
	})
}

func TestOracleReduce(t *testing.T) { testOracleReduce(t, false) }

// TestOracleMonotonicReduce: MonotonicReduce over append-only streams
// equals the naive evaluation (min and max keep one value per group).
func TestOracleMonotonicReduce(t *testing.T) { testOracleReduce(t, true) }

func testOracleReduce(t *testing.T, monotonic bool) {
	compactEagerly(t) // multisets compact at every deletion
	typ8 := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
	typN := repr.ColumnType{Type: repr.TypeNumeric, Nullable: true}
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2)
		h.gen.appendOnly = monotonic
		reduce := h.in(0).Reduce
		if monotonic {
			reduce = h.in(0).MonotonicReduce
		}
		aggs := []expr.Aggregate{
			{Func: expr.AggCountStar, Typ: typ8},
			{Func: expr.AggCount, Expr: col(1), Typ: typ8},
			{Func: expr.AggSum, Expr: col(1), Typ: typN},
			{Func: expr.AggMin, Expr: col(1), Typ: typ8},
			{Func: expr.AggMax, Expr: col(1), Typ: typ8},
			{Func: expr.AggCount, Expr: col(1), Distinct: true, Typ: typ8},
			{Func: expr.AggSum, Expr: col(1), Distinct: true, Typ: typN},
		}
		r, err := reduce([]expr.Scalar{col(0)}, aggs)
		if err != nil {
			t.Fatal(err)
		}
		h.check(r, func(ins []coll) coll {
			// NULL group keys form one group; count(b), sum, min, max
			// and the DISTINCT aggregates skip NULL values (NULL when
			// a group has none).
			type st struct {
				n, nv, sum, mn, mx int64
				distinct           map[int64]bool
			}
			groups := map[int64]*st{}
			for k, d := range ins[0] {
				v := ints(k)
				s := groups[v[0]]
				if s == nil {
					s = &st{mn: 1 << 62, mx: -1 << 62, distinct: map[int64]bool{}}
					groups[v[0]] = s
				}
				s.n += int64(d)
				if v[1] == nullInt {
					continue
				}
				s.nv += int64(d)
				s.sum += v[1] * int64(d)
				s.mn, s.mx = min(s.mn, v[1]), max(s.mx, v[1])
				s.distinct[v[1]] = true
			}
			out := coll{}
			for g, s := range groups {
				var ds int64
				for x := range s.distinct {
					ds += x
				}
				some := s.nv > 0
				var p repr.Packer
				p.Push(orNull(g != nullInt, repr.Int8Datum(g)))
				p.Push(repr.Int8Datum(s.n))
				p.Push(repr.Int8Datum(s.nv))
				p.Push(orNull(some, repr.NumericDatum(apd.New(s.sum, 0))))
				p.Push(orNull(some, repr.Int8Datum(s.mn)))
				p.Push(orNull(some, repr.Int8Datum(s.mx)))
				p.Push(repr.Int8Datum(int64(len(s.distinct))))
				p.Push(orNull(some, repr.NumericDatum(apd.New(ds, 0))))
				out.add(p.Row(), 1)
			}
			return out
		})
		h.run(25, 6)
		checkSideBytes(t, h.g)
	})
}

// TestOracleReduceFilter: aggregates with FILTER (WHERE c < 3) see only
// the rows it passes (a NULL c fails it); the rows it rejects are not fed
// to the aggregate at all, so array_agg and jsonb_agg, which keep NULLs,
// gain no NULL for them, and a group whose rows all fail has NULL (0 for
// the counts) while the unfiltered count(*) keeps the group.
func TestOracleReduceFilter(t *testing.T) {
	compactEagerly(t) // multisets compact at every deletion
	typ8 := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
	typN := repr.ColumnType{Type: repr.TypeNumeric, Nullable: true}
	typA := repr.ColumnType{Type: repr.ArrayOf(repr.TypeInt8), Nullable: true}
	typJ := repr.ColumnType{Type: repr.TypeJsonb, Nullable: true}
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 3)
		p := call(fnLt, col(2), lit(3))
		byB := []expr.OrderKey{{Expr: col(1)}}
		aggs := []expr.Aggregate{
			{Func: expr.AggCountStar, Typ: typ8},
			{Func: expr.AggCountStar, Filter: p, Typ: typ8},
			{Func: expr.AggCount, Expr: col(1), Filter: p, Typ: typ8},
			{Func: expr.AggSum, Expr: col(1), Filter: p, Typ: typN},
			{Func: expr.AggMin, Expr: col(1), Filter: p, Typ: typ8},
			{Func: expr.AggArrayAgg, Expr: col(1), OrderBy: byB, Filter: p, Typ: typA},
			{Func: expr.AggJsonbAgg, Expr: col(1), OrderBy: byB, Filter: p, Typ: typJ},
			{Func: expr.AggArrayAgg, Expr: col(1), Distinct: true, OrderBy: byB, Filter: p, Typ: typA},
			{Func: expr.AggCount, Expr: col(1), Distinct: true, Filter: p, Typ: typ8},
		}
		r, err := h.in(0).Reduce([]expr.Scalar{col(0)}, aggs)
		if err != nil {
			t.Fatal(err)
		}
		h.check(r, func(ins []coll) coll {
			type st struct {
				n, passed, nv, sum int64
				mn                 int64
				vals               map[int64]int64 // passed b values (nullInt for NULL), by multiplicity
			}
			groups := map[int64]*st{}
			for k, d := range ins[0] {
				v := ints(k)
				s := groups[v[0]]
				if s == nil {
					s = &st{mn: 1 << 62, vals: map[int64]int64{}}
					groups[v[0]] = s
				}
				s.n += int64(d)
				if v[2] == nullInt || v[2] >= 3 {
					continue
				}
				s.passed += int64(d)
				s.vals[v[1]] += int64(d)
				if v[1] == nullInt {
					continue
				}
				s.nv += int64(d)
				s.sum += v[1] * int64(d)
				s.mn = min(s.mn, v[1])
			}
			out := coll{}
			for g, s := range groups {
				// The passed values in ascending order, NULLs last.
				var sorted []int64
				for v := range s.vals {
					sorted = append(sorted, v)
				}
				slices.SortFunc(sorted, func(a, b int64) int {
					if (a == nullInt) != (b == nullInt) {
						if a == nullInt {
							return 1
						}
						return -1
					}
					return int(a - b)
				})
				datum := func(v int64) repr.Datum { return orNull(v != nullInt, repr.Int8Datum(v)) }
				var all, distinct []repr.Datum
				var js []string
				var nDistinct int64
				for _, v := range sorted {
					distinct = append(distinct, datum(v))
					if v != nullInt {
						nDistinct++
					}
					for range s.vals[v] {
						all = append(all, datum(v))
						if v == nullInt {
							js = append(js, "null")
						} else {
							js = append(js, strconv.FormatInt(v, 10))
						}
					}
				}
				some := s.nv > 0
				var p repr.Packer
				p.Push(orNull(g != nullInt, repr.Int8Datum(g)))
				p.Push(repr.Int8Datum(s.n))
				p.Push(repr.Int8Datum(s.passed))
				p.Push(repr.Int8Datum(s.nv))
				p.Push(orNull(some, repr.NumericDatum(apd.New(s.sum, 0))))
				p.Push(orNull(some, repr.Int8Datum(s.mn)))
				p.Push(orNull(len(all) > 0, repr.ArrayDatum(all)))
				p.Push(orNull(len(all) > 0, repr.JsonbDatum("["+strings.Join(js, ", ")+"]")))
				p.Push(orNull(len(distinct) > 0, repr.ArrayDatum(distinct)))
				p.Push(repr.Int8Datum(nDistinct))
				out.add(p.Row(), 1)
			}
			return out
		})
		h.run(25, 6)
	})
}

// orNull is d, or NULL when !ok (an aggregate over no values).
func orNull(ok bool, d repr.Datum) repr.Datum {
	if !ok {
		return repr.Null
	}
	return d
}

func naiveTopK(c coll, group []int, order []ColumnOrder, limit, offset int) coll {
	return naiveTopKNumbered(c, group, order, limit, offset, false)
}

// naiveTopKNumbered is naiveTopK, with each output row's position in its
// group's window (from 1) appended when number.
func naiveTopKNumbered(c coll, group []int, order []ColumnOrder, limit, offset int, number bool) coll {
	groups := map[string][]string{}
	for k, d := range c {
		ds := repr.Row(k).Datums()
		var p repr.Packer
		for _, g := range group {
			p.Push(ds[g])
		}
		for range d {
			groups[string(p.Row())] = append(groups[string(p.Row())], k)
		}
	}
	out := coll{}
	for _, rows := range groups {
		slices.SortFunc(rows, func(a, b string) int { return compareOrder(a, b, order) })
		for i, r := range rows {
			if i < offset || limit >= 0 && i >= offset+limit {
				continue
			}
			if number {
				out.add(repr.AppendDatum([]byte(r), repr.Int8Datum(int64(i-offset+1))), 1)
			} else {
				out.add(repr.Row(r), 1)
			}
		}
	}
	return out
}

func TestOracleTopK(t *testing.T) { testOracleTopK(t, false) }

// TestOracleMonotonicTopK: MonotonicTopK over append-only streams equals
// the naive evaluation (each group keeps offset+limit rows).
func TestOracleMonotonicTopK(t *testing.T) { testOracleTopK(t, true) }

func testOracleTopK(t *testing.T, monotonic bool) {
	compactEagerly(t) // multisets compact at every deletion
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 3)
		h.gen.appendOnly = monotonic
		topk := h.in(0).TopK
		if monotonic {
			topk = h.in(0).MonotonicTopK
		}
		// DESC NULLS FIRST, then ASC NULLS LAST (PostgreSQL's defaults),
		// and ASC NULLS FIRST.
		order := []ColumnOrder{{Column: 1, Order: repr.SortOrder{Desc: true, NullsFirst: true}}, {Column: 2}}
		k1, _ := topk([]int{0}, order, 2, 1)
		order2 := []ColumnOrder{{Column: 2, Order: repr.SortOrder{NullsFirst: true}}, {Column: 1, Order: repr.SortOrder{Desc: true}}}
		k4, _ := topk([]int{1}, order2, 1, 0)
		h.check(k4, func(ins []coll) coll { return naiveTopK(ins[0], []int{1}, order2, 1, 0) })
		k2, _ := topk(nil, order[1:], 3, 0)
		k3, _ := topk([]int{0}, order, -1, 2)
		h.check(k1, func(ins []coll) coll { return naiveTopK(ins[0], []int{0}, order, 2, 1) })
		h.check(k2, func(ins []coll) coll { return naiveTopK(ins[0], nil, order[1:], 3, 0) })
		h.check(k3, func(ins []coll) coll { return naiveTopK(ins[0], []int{0}, order, -1, 2) })
		// Numbered: row_number() over the window, without a Window.
		n1, _ := h.in(0).NumberedTopK([]int{0}, order, 3, 1, monotonic)
		h.check(n1, func(ins []coll) coll { return naiveTopKNumbered(ins[0], []int{0}, order, 3, 1, true) })
		n2, _ := h.in(0).NumberedTopK([]int{1}, order2, 1, 0, monotonic)
		h.check(n2, func(ins []coll) coll { return naiveTopKNumbered(ins[0], []int{1}, order2, 1, 0, true) })
		if !monotonic {
			n3, _ := h.in(0).NumberedTopK(nil, order, -1, 0, false)
			h.check(n3, func(ins []coll) coll { return naiveTopKNumbered(ins[0], nil, order, -1, 0, true) })
		}
		h.run(25, 6)
		checkSideBytes(t, h.g)
	})
}

func TestOracleFlatMap(t *testing.T) {
	forSeeds(t, 10, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2)
		fm, err := h.in(0).FlatMap(seriesFn, []expr.Scalar{col(1)}, expr.MapFilterProject{InputArity: 3, Projection: []int{0, 2}})
		if err != nil {
			t.Fatal(err)
		}
		h.check(fm, func(ins []coll) coll {
			out := coll{}
			for k, d := range ins[0] {
				v := ints(k)
				if v[1] == nullInt {
					continue // generate_series(1, NULL) is empty
				}
				for i := int64(1); i <= v[1]; i++ {
					out.add(irow(v[0], i), d)
				}
			}
			return out
		})
		h.run(20, 5)
	})
}

// TestOracleDeltaJoinReduceTopK is the composite plan: a 3-way delta join
// A(a,b) ⋈ B(b,c) ⋈ C(c,d) on A.b = B.b and B.c = C.c, grouped by d with
// count(*) and sum(a), then the top 2 groups by count.
func TestOracleDeltaJoinReduceTopK(t *testing.T) {
	compactEagerly(t) // multisets compact at every deletion
	typ8 := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
	typN := repr.ColumnType{Type: repr.TypeNumeric, Nullable: true}
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2, 2, 2)
		A, B, C := h.in(0), h.in(1), h.in(2)
		aB := A.ArrangeColumns(1) // A by b
		bB := B.ArrangeColumns(0) // B by b
		bC := B.ArrangeColumns(1) // B by c
		cC := C.ArrangeColumns(0) // C by c
		// Output layout: A.a=0 A.b=1 B.b=2 B.c=3 C.c=4 C.d=5
		paths := []DeltaPath{
			{Source: 0, Arr: aB, Stages: []DeltaStage{{Input: 1, Arr: bB, Key: []expr.Scalar{col(1)}}, {Input: 2, Arr: cC, Key: []expr.Scalar{col(3)}}}},
			{Source: 1, Arr: bB, Stages: []DeltaStage{{Input: 0, Arr: aB, Key: []expr.Scalar{col(2)}}, {Input: 2, Arr: cC, Key: []expr.Scalar{col(3)}}}},
			{Source: 2, Arr: cC, Stages: []DeltaStage{{Input: 1, Arr: bC, Key: []expr.Scalar{col(4)}}, {Input: 0, Arr: aB, Key: []expr.Scalar{col(2)}}}},
		}
		dj, err := DeltaJoin(3, paths, expr.Identity(6))
		if err != nil {
			t.Fatal(err)
		}
		naive3 := func(ins []coll) coll {
			ab := naiveJoin(ins[0], ins[1], 1, 0)
			return naiveJoin(ab, ins[2], 3, 0)
		}
		h.check(dj, naive3)
		red, _ := dj.Reduce([]expr.Scalar{col(5)}, []expr.Aggregate{{Func: expr.AggCountStar, Typ: typ8}, {Func: expr.AggSum, Expr: col(0), Typ: typN}})
		order := []ColumnOrder{{Column: 1, Order: repr.SortOrder{Desc: true}}}
		top, _ := red.TopK(nil, order, 2, 0)
		naiveRed := func(ins []coll) coll {
			n, nv, s := map[int64]int64{}, map[int64]int64{}, map[int64]int64{}
			for k, d := range naive3(ins) {
				v := ints(k)
				n[v[5]] += int64(d)
				if v[0] != nullInt {
					nv[v[5]] += int64(d)
					s[v[5]] += v[0] * int64(d)
				}
			}
			out := coll{}
			for g := range n {
				key, sum := repr.Int8Datum(g), repr.NumericDatum(apd.New(s[g], 0))
				if g == nullInt {
					key = repr.Null
				}
				if nv[g] == 0 {
					sum = repr.Null
				}
				var p repr.Packer
				p.PushAll([]repr.Datum{key, repr.Int8Datum(n[g]), sum})
				out.add(p.Row(), 1)
			}
			return out
		}
		h.check(red, naiveRed)
		h.check(top, func(ins []coll) coll { return naiveTopK(naiveRed(ins), nil, order, 2, 0) })
		h.run(25, 5)
	})
}

// TestOracleCountDistinctDeletes: count(distinct) and min/max as rows are
// inserted and deleted, including deletion of the current min and max.
func TestOracleCountDistinctDeletes(t *testing.T) {
	compactEagerly(t) // multisets compact at every deletion
	typ8 := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2)
		h.gen.domain = 4
		r, _ := h.in(0).Reduce(nil, []expr.Aggregate{
			{Func: expr.AggCount, Expr: col(1), Distinct: true, Typ: typ8},
			{Func: expr.AggMin, Expr: col(1), Typ: typ8},
			{Func: expr.AggMax, Expr: col(0), Typ: typ8},
		})
		h.check(r, func(ins []coll) coll {
			out := coll{}
			if len(ins[0]) == 0 {
				return out
			}
			d := map[int64]bool{}
			mn, mx := int64(nullInt), int64(nullInt)
			for k := range ins[0] {
				v := ints(k)
				if v[1] != nullInt {
					d[v[1]] = true
					if mn == nullInt || v[1] < mn {
						mn = v[1]
					}
				}
				if v[0] != nullInt && (mx == nullInt || v[0] > mx) {
					mx = v[0]
				}
			}
			out.add(irow(int64(len(d)), mn, mx), 1)
			return out
		})
		h.run(30, 4)
	})
}

func TestOracleTemporalFilter(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2)
		h.gen.domain = 30
		// Valid in [a, a+b).
		tf := h.in(0).TemporalFilter(col(0), call(fnAdd, col(0), col(1)))
		var now repr.Timestamp
		h.check(tf, func(ins []coll) coll {
			out := coll{}
			for k, d := range ins[0] {
				v := ints(k)
				if v[0] == nullInt || v[1] == nullInt {
					continue // a NULL bound: the row never passes
				}
				if repr.Timestamp(v[0]) <= now && now < repr.Timestamp(v[0]+v[1]) {
					out.add(repr.Row(k), d)
				}
			}
			return out
		})
		// The oracle needs the step's time: wrap run's clock via Subscribe.
		h.g.ops = append([]operator{&clockOp{now: &now}}, h.g.ops...)
		h.run(30, 4)
		if next, ok := h.g.NextScheduled(); ok && next <= h.g.Now() {
			t.Fatalf("seed %d: next scheduled %d not after now %d", seed, next, h.g.Now())
		}
	})
}

type clockOp struct{ now *repr.Timestamp }

func (c *clockOp) step(_ context.Context, t repr.Timestamp) error { *c.now = t; return nil }
