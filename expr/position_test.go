package expr

import (
	"math/rand/v2"
	"testing"

	"github.com/viewd/viewd/repr"
)

// TestArrayPositionIndex checks array_position's per-EvalCtx index of the
// last array searched (positionIndex) against the plain walk (a nil
// EvalCtx): the same array for runs of calls, then another; duplicates,
// absent needles, NULL needles and NULL elements (which the index
// declines), int8 and OID elements.
func TestArrayPositionIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for _, elem := range []repr.ScalarType{{Kind: repr.KindInt8}, {Kind: repr.KindOid}} {
		res, err := Resolve("array_position", LookupFunc("array_position"), []repr.ScalarType{repr.ArrayOf(elem), elem})
		if err != nil {
			t.Fatal(err)
		}
		f := res.Func
		mk := func(v int64) repr.Datum {
			if elem.Kind == repr.KindOid {
				return repr.OidDatum(uint32(v))
			}
			return repr.Int8Datum(v)
		}
		var ctx EvalCtx
		indexed := 0
		for round := range 60 {
			n := 5 + rng.IntN(200)
			elems := make([]repr.Datum, n)
			for i := range elems {
				elems[i] = mk(rng.Int64N(int64(n)))
				if round%7 == 3 && rng.IntN(50) == 0 {
					elems[i] = repr.Null
				}
			}
			arr := repr.ArrayDatum(elems)
			for range 1 + rng.IntN(30) {
				needle := mk(rng.Int64N(int64(n) + 10))
				if rng.IntN(20) == 0 {
					needle = repr.Null
				}
				want, werr := f.Eval(nil, []repr.Datum{arr, needle})
				got, gerr := f.Eval(&ctx, []repr.Datum{arr, needle})
				if (werr != nil) != (gerr != nil) || !repr.Equal(want, got) || want.IsNull() != got.IsNull() {
					t.Fatalf("%s: array_position(%d elements, %v) = %v (%v), the walk gives %v (%v)", elem.Kind, n, needle, got, gerr, want, werr)
				}
				if ctx.positions != nil && ctx.positions.pos != nil {
					indexed++
				}
			}
		}
		if indexed == 0 {
			t.Errorf("%s: no call used the index", elem.Kind)
		}
	}
}
