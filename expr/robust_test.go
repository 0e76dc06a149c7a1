package expr

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// edgeDatum returns a random value of type t, biased to the edges
// (extremes, NaN and infinities, empty strings and arrays, NULL inside
// arrays), or NULL one time in eight.
func edgeDatum(rng *rand.Rand, t repr.ScalarType) repr.Datum {
	if rng.Intn(8) == 0 {
		return repr.Null
	}
	pick := func(n int) int { return rng.Intn(n) }
	switch t.Kind {
	case repr.KindBool:
		return repr.BoolDatum(pick(2) == 0)
	case repr.KindInt2:
		return repr.Int2Datum([]int16{0, 1, -1, 7, math.MaxInt16, math.MinInt16}[pick(6)])
	case repr.KindInt4:
		return repr.Int4Datum([]int32{0, 1, -1, 3, 1000, math.MaxInt32, math.MinInt32}[pick(7)])
	case repr.KindInt8, repr.KindNull:
		return repr.Int8Datum([]int64{0, 1, -1, 12, math.MaxInt64, math.MinInt64, 1 << 40}[pick(7)])
	case repr.KindOid:
		return repr.OidDatum([]uint32{0, 1, math.MaxUint32}[pick(3)])
	case repr.KindFloat4:
		return repr.Float4Datum(float32([]float64{0, -1.5, 3.4e38, 1e-45, math.Inf(1), math.NaN(), 2}[pick(7)]))
	case repr.KindFloat8:
		return repr.Float8Datum([]float64{0, math.Copysign(0, -1), -1.5, 1e308, 5e-324, math.Inf(-1), math.NaN(), 0.5, 100}[pick(9)])
	case repr.KindNumeric:
		switch pick(6) {
		case 0:
			return repr.NumericDatum(&apd.Decimal{Form: apd.NaN})
		case 1:
			return repr.NumericDatum(&apd.Decimal{Form: apd.Infinite, Negative: pick(2) == 0})
		}
		d, _, _ := apd.NewFromString([]string{"0", "-1.5", "123456789012345678901234567890.123", "1e-30", "2", "0.5"}[pick(6)])
		return repr.NumericDatum(d)
	case repr.KindText, repr.KindVarchar, repr.KindChar:
		return repr.StringDatum(t.Kind, []string{"", "a", "héllo wörld", "  x  ", "%_\\", "{1,2}", "2020-01-01", "1", `{"a": 1}`, "NaN", "day", "YYYY-MM-DD HH24:MI:SS"}[pick(12)])
	case repr.KindBytea:
		return repr.ByteaDatum([][]byte{nil, {0}, {0xff, 0x00, 0x41}}[pick(3)])
	case repr.KindDate:
		return repr.DateDatum([]int32{0, -2440588 + 10, 2932896, 18262, -1}[pick(5)])
	case repr.KindTime:
		return repr.TimeDatum([]int64{0, 24 * repr.MicrosPerHour, 12345678901}[pick(3)])
	case repr.KindTimestamp:
		return repr.TimestampDatum([]int64{0, -210866803200000000, 9223371331200000000 - 946684800000000 - 1, 1582934400123456, -1}[pick(5)])
	case repr.KindTimestampTz:
		return repr.TimestampTzDatum([]int64{0, -210866803200000000, 1582934400123456, 1 << 62}[pick(4)])
	case repr.KindInterval:
		return repr.IntervalDatum([]repr.Interval{{}, {Months: 1}, {Days: -1, Micros: 1}, {Months: math.MaxInt32, Days: math.MaxInt32, Micros: math.MaxInt64}, {Months: math.MinInt32, Days: math.MinInt32, Micros: math.MinInt64}}[pick(5)])
	case repr.KindUUID:
		var u [16]byte
		rng.Read(u[:])
		return repr.UUIDDatum(u)
	case repr.KindJsonb:
		return repr.JsonbDatum([]string{`null`, `1`, `"s"`, `[]`, `{}`, `[1, "a", null, [2]]`, `{"a": {"b": [1, 2]}, "c": null}`, `1.5e300`, `true`}[pick(9)])
	case repr.KindArray:
		elem := repr.TypeInt4
		if t.Elem != nil {
			elem = *t.Elem
		}
		elems := make([]repr.Datum, pick(4))
		for i := range elems {
			elems[i] = edgeDatum(rng, elem)
		}
		return repr.ArrayDatum(elems)
	case repr.KindRecord:
		return repr.RecordDatum([]repr.Datum{repr.Int4Datum(1), repr.Null})
	}
	return repr.Null
}

// concreteArgs picks concrete argument types for an overload: polymorphic
// parameters become one of a few element types.
func concreteArgs(rng *rand.Rand, o Overload) []repr.ScalarType {
	elem := []repr.ScalarType{repr.TypeInt4, repr.TypeText, repr.TypeNumeric, repr.TypeJsonb, repr.TypeDate}[rng.Intn(5)]
	n := len(o.Params)
	if o.Variadic {
		n += rng.Intn(3) - 1
		if n < 0 {
			n = 0
		}
	}
	out := make([]repr.ScalarType, n)
	for i := range out {
		p, _ := o.paramAt(i)
		switch p.Kind {
		case ParamExact:
			out[i] = p.Type
			if p.Type.Kind == repr.KindArray && p.Type.Elem == nil {
				out[i] = repr.ArrayOf(elem)
			}
		case ParamAnyElement, ParamAnyCompatible:
			out[i] = elem
		case ParamAnyArray, ParamAnyCompatibleArray:
			out[i] = repr.ArrayOf(elem)
		case ParamAny:
			out[i] = []repr.ScalarType{repr.TypeInt4, repr.TypeText, repr.TypeBool, repr.TypeJsonb}[rng.Intn(4)]
		}
	}
	return out
}

// TestCatalogNeverPanics calls every overload of every function and
// operator in the catalog on edge-case arguments: evaluation must never
// panic, and every error must be a *pgcode.Error with a SQLSTATE other
// than XX000 (internal error).
func TestCatalogNeverPanics(t *testing.T) {
	seed := int64(11)
	if v, err := strconv.ParseInt(os.Getenv("EXPR_ROBUST_SEED"), 10, 64); err == nil {
		seed = v
	}
	rng := rand.New(rand.NewSource(seed))
	type entry struct {
		kind, name string
		o          Overload
	}
	var all []entry
	for _, c := range []struct {
		kind string
		m    map[string][]Overload
	}{{"function", funcCatalog}, {"operator", binopCatalog}, {"prefix operator", unopCatalog}} {
		names := make([]string, 0, len(c.m))
		for n := range c.m {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			for _, o := range c.m[n] {
				all = append(all, entry{c.kind, n, o})
			}
		}
	}
	if len(all) < 200 {
		t.Fatalf("only %d overloads catalogued", len(all))
	}
	calls, failures := 0, 0
	// EXPR_ROBUST_SKIP names functions to leave out while one is being
	// fixed; EXPR_ROBUST_SEED varies the arguments.
	skip := map[string]bool{}
	for _, n := range strings.Fields(os.Getenv("EXPR_ROBUST_SKIP")) {
		skip[n] = true
	}
	// A statement already cancelled: pg_sleep of an edge value (1e308
	// seconds) returns at once.
	cancelled := make(chan struct{})
	close(cancelled)
	for _, e := range all {
		if skip[e.name] {
			continue
		}
		for iter := 0; iter < 40 && failures < 30; iter++ {
			types := concreteArgs(rng, e.o)
			if !e.o.arityOK(len(types)) {
				continue
			}
			f, err := e.o.Instantiate(types)
			if err != nil || f == nil {
				continue
			}
			args := make([]Scalar, len(types))
			vals := make([]string, len(types))
			for i, typ := range types {
				d := edgeDatum(rng, typ)
				args[i] = NewLiteral(d, typ)
				vals[i] = d.String()
			}
			call := Call{Func: f, Args: args}
			err = func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				tz := []string{"UTC", "America/New_York", "Asia/Kolkata", "Nowhere/Bogus", ""}[rng.Intn(5)]
				ctx := &EvalCtx{TimeZone: tz, StmtTime: 1709210096789000, Done: cancelled}
				_, err = Eval(ctx, call, nil)
				return err
			}()
			calls++
			if err == nil {
				continue
			}
			var pe *pgcode.Error
			if !errors.As(err, &pe) || pe.Code == pgcode.InternalError {
				failures++
				t.Errorf("%s %s%v on %v: %v", e.kind, e.name, types, vals, err)
			}
		}
	}
	t.Logf("%d overloads, %d calls", len(all), calls)
}
