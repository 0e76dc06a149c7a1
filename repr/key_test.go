package repr

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cockroachdb/apd/v3"
)

func sign(x int) int {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// sameFamilyPair returns two random datums of one comparable family.
func sameFamilyPair(r *rand.Rand) (Datum, Datum) {
	gen := []func() Datum{
		func() Datum { return Int8Datum(r.Int64N(200) - 100) },
		func() Datum { return Int8Datum(r.Int64() - r.Int64()) },
		func() Datum {
			fs := []float64{math.Inf(-1), -1.5, -0.0, 0, 1e-300, 2.5, math.Inf(1), math.NaN()}
			return Float8Datum(fs[r.IntN(len(fs))])
		},
		func() Datum {
			s := []string{"-1e10", "-2.5", "-2.25", "-0.001", "0", "0.001", "1", "1.0", "2.25", "10", "99.99", "1e10", "NaN", "Infinity", "-Infinity"}
			d, _, _ := apd.NewFromString(s[r.IntN(len(s))])
			return NumericDatum(d)
		},
		func() Datum {
			s := []string{"", "a", "ab", "a\x00", "a\x00b", "b", "\xff", "abc"}
			return TextDatum(s[r.IntN(len(s))])
		},
		func() Datum { return TimestampDatum(r.Int64N(1000) - 500) },
		func() Datum {
			return IntervalDatum(Interval{Months: r.Int32N(3), Days: r.Int32N(40), Micros: r.Int64N(3) * MicrosPerDay})
		},
		func() Datum { return BoolDatum(r.IntN(2) == 0) },
		func() Datum { return ArrayDatum([]Datum{Int8Datum(r.Int64N(3)), Int8Datum(r.Int64N(3))}[:r.IntN(3)]) },
	}
	f := gen[r.IntN(len(gen))]
	a, b := f(), f()
	if r.IntN(6) == 0 {
		a = Null
	}
	if r.IntN(6) == 0 {
		b = Null
	}
	return a, b
}

// TestKeyOrder: for datums of one family, bytes.Compare of their keys
// agrees with Compare under every sort order, and equal datums get equal
// keys.
func TestKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	orders := []SortOrder{{}, {Desc: true}, {NullsFirst: true}, {Desc: true, NullsFirst: true}}
	for i := range 20000 {
		a, b := sameFamilyPair(r)
		o := orders[r.IntN(len(orders))]
		want := Compare(a, b)
		// Compare is NULLS LAST ascending; adjust for the order.
		if a.IsNull() != b.IsNull() {
			if o.NullsFirst {
				want = -want
			}
		} else if o.Desc {
			want = -want
		}
		got := bytes.Compare(AppendKey(nil, a, o), AppendKey(nil, b, o))
		if sign(got) != sign(want) {
			t.Fatalf("case %d: %v vs %v under %+v: key order %d, SQL order %d", i, a, b, o, got, want)
		}
	}
}

// TestKeyComposite: keys of several columns concatenate without one
// column's bytes bleeding into the next (text is terminated).
func TestKeyComposite(t *testing.T) {
	k := func(s string, n int64) []byte {
		return AppendKey(AppendKey(nil, TextDatum(s), SortOrder{}), Int8Datum(n), SortOrder{})
	}
	if bytes.Compare(k("a", 9), k("ab", 0)) >= 0 {
		t.Error("('a', 9) should sort before ('ab', 0)")
	}
	if bytes.Compare(k("a\x00", 0), k("a", 9)) <= 0 {
		t.Error("('a\\x00', 0) should sort after ('a', 9)")
	}
}
