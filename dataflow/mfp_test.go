package dataflow

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// mixedDatum returns a random datum of one of most kinds (text-like ones
// of random length, NULLs, nested arrays and records).
func mixedDatum(r *rand.Rand) repr.Datum {
	switch r.IntN(14) {
	case 0:
		return repr.Null
	case 1:
		return repr.BoolDatum(r.IntN(2) == 0)
	case 2:
		return repr.Int4Datum(r.Int32())
	case 3:
		return repr.Int8Datum(r.Int64() - r.Int64())
	case 4:
		return repr.Float8Datum(r.NormFloat64() * 1e6)
	case 5:
		d, _, _ := apd.NewFromString([]string{"0", "1.50", "-3.25", "12345678901234567890.5", "1e-20", "-0.001"}[r.IntN(6)])
		return repr.NumericDatum(d)
	case 6:
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return repr.TextDatum(string(b))
	case 7:
		return repr.ByteaDatum([]byte{0, 1, byte(r.IntN(256))})
	case 8:
		return repr.DateDatum(r.Int32N(100000) - 50000)
	case 9:
		return repr.TimestampDatum(r.Int64N(1 << 50))
	case 10:
		return repr.IntervalDatum(repr.Interval{Months: r.Int32N(100), Days: r.Int32N(60) - 30, Micros: r.Int64N(1 << 40)})
	case 11:
		return repr.JsonbDatum(`{"a": [1, 2.50]}`)
	case 12:
		return repr.ArrayDatum([]repr.Datum{repr.Int8Datum(r.Int64N(10)), repr.Null, repr.TextDatum("x")})
	}
	return repr.RecordDatum([]repr.Datum{repr.Int4Datum(r.Int32N(5)), repr.TextDatum("y")})
}

// TestMFPColumnCopy: an MFP that only filters and picks columns copies the
// picked columns' bytes (mfpPlan.cols); over random rows of every kind,
// random projections (repeated and reordered columns) and a predicate or
// none, the rows it gives are byte for byte those of decoding and packing
// the datums again (the general path), and so are its filter's decisions.
func TestMFPColumnCopy(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var ctx expr.EvalCtx
	var w mfpScratch
	var fast, slow repr.Packer
	for range 2000 {
		arity := 1 + r.IntN(8)
		ds := make([]repr.Datum, arity)
		for i := range ds {
			ds[i] = mixedDatum(r)
		}
		row := repr.PackRow(ds...)
		m := expr.MapFilterProject{InputArity: arity}
		for range r.IntN(2 * arity) {
			m.Projection = append(m.Projection, r.IntN(arity))
		}
		if r.IntN(2) == 0 {
			// Keeps the rows whose column c is not NULL (fnEq is strict).
			c := r.IntN(arity)
			m.Predicates = []expr.Predicate{{Support: c + 1, Expr: call(fnEq, col(c), col(c))}}
		}
		p := newMFPPlan(m)
		if !p.cols && !p.ident {
			t.Fatalf("%+v: not planned as a column copy", m)
		}
		fast.Reset()
		keep, err := p.applyRow(&ctx, row, &w, &fast)
		if err != nil {
			t.Fatal(err)
		}
		slow.Reset()
		wantKeep, err := p.apply(&ctx, row.Datums(), &w.extended, &slow)
		if err != nil {
			t.Fatal(err)
		}
		if keep != wantKeep || keep && !bytes.Equal(fast.Row(), slow.Row()) {
			t.Fatalf("row %v, %+v: copied %v %v, packed %v %v", row, m, keep, fast.Row(), wantKeep, slow.Row())
		}
	}
	// A row shorter than the projection reads takes the general path.
	p := newMFPPlan(expr.MapFilterProject{InputArity: 3, Projection: []int{2}})
	fast.Reset()
	if _, err := p.applyRow(&ctx, repr.PackRow(repr.Int8Datum(1)), &w, &fast); err == nil {
		t.Fatal("a row of 1 column projected to its third: no error")
	}
}

// TestOracleMFPColumns is TestOracleMFP for MFPs that only filter and pick
// columns (the column-copy path), with and without a predicate.
func TestOracleMFPColumns(t *testing.T) {
	forSeeds(t, 20, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2)
		// WHERE a < 4 SELECT b, a, b
		m := expr.MapFilterProject{InputArity: 2,
			Predicates: []expr.Predicate{{Support: 1, Expr: call(fnLt, col(0), lit(4))}},
			Projection: []int{1, 0, 1}}
		h.check(h.in(0).MFP(m), func(ins []coll) coll {
			out := coll{}
			for k, d := range ins[0] {
				v := ints(k)
				if v[0] == nullInt || v[0] >= 4 {
					continue
				}
				out.add(irow(v[1], v[0], v[1]), d)
			}
			return out
		})
		// SELECT b
		h.check(h.in(0).MFP(expr.MapFilterProject{InputArity: 2, Projection: []int{1}}), func(ins []coll) coll {
			out := coll{}
			for k, d := range ins[0] {
				out.add(irow(ints(k)[1]), d)
			}
			return out
		})
		h.run(25, 6)
	})
}
