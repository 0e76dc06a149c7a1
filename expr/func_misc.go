package expr

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// wallClockMicros is the current wall-clock time (clock_timestamp()).
func wallClockMicros() int64 { return time.Now().UnixMicro() }

// mzNowDatum returns a logical timestamp as mz_now() presents it: numeric.
func mzNowDatum(t repr.Timestamp) repr.Datum {
	var d apd.Decimal
	d.Coeff.SetUint64(uint64(t))
	return repr.NumericDatum(&d)
}

func init() {
	f := defFunc("random", nil, tFloat8, func(*EvalCtx, []repr.Datum) (repr.Datum, error) {
		var b [8]byte
		_, _ = rand.Read(b[:])
		return repr.Float8Datum(float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53)), nil
	})
	f.Volatility = Volatile
	f = defFunc("gen_random_uuid", nil, tUUID, func(*EvalCtx, []repr.Datum) (repr.Datum, error) {
		var u [16]byte
		_, _ = rand.Read(u[:])
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		return repr.UUIDDatum(u), nil
	})
	f.Volatility = Volatile
	// pg_sleep(seconds) waits, returning early with 57014 when the
	// statement is cancelled (EvalCtx.Done). Its result is void in
	// PostgreSQL, whose output is the empty string: viewd returns that text.
	f = defFunc("pg_sleep", ts(tFloat8), tText, func(ctx *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if err := sleepCancellable(ctx, a[0].Float()); err != nil {
			return repr.Null, err
		}
		return repr.TextDatum(""), nil
	})
	f.Volatility = Volatile
	// mz_now() as a function, for callers that resolve it by name; the
	// planner should prefer the MzNow node, which temporal filters look for.
	f = defFunc("mz_now", nil, tNumeric, func(ctx *EvalCtx, _ []repr.Datum) (repr.Datum, error) {
		return mzNowDatum(ctx.LogicalNow), nil
	})
	f.Volatility = Stable
	// ROW(a, b, ...): an anonymous record of the arguments (NULLs kept).
	defPoly(funcCatalog, "row", []ParamType{Any}, Exact(tRecord), true,
		func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			return &Func{Name: "row", Ret: ret, NullableFn: func([]repr.ColumnType) bool { return false },
				Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) { return repr.RecordDatum(a), nil }}, nil
		})
	defFunc("div", ts(tNumeric, tNumeric), tNumeric, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		x, y := a[0].Numeric(), a[1].Numeric()
		if y.IsZero() && y.Form == apd.Finite {
			return repr.Null, errDivByZero()
		}
		q := new(apd.Decimal)
		if _, err := numExact.QuoInteger(q, x, y); err != nil {
			return repr.Null, errorf("22003", "value overflows numeric format")
		}
		return repr.NumericDatum(q), nil
	})
	// scale, min_scale and trim_scale read and drop a numeric's display
	// scale; NULL for NaN and infinities, as in PostgreSQL.
	defFunc("scale", ts(tNumeric), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if a[0].Numeric().Form != apd.Finite {
			return repr.Null, nil
		}
		return repr.Int4Datum(repr.NumericScale(a[0].Numeric())), nil
	})
	defFunc("min_scale", ts(tNumeric), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if a[0].Numeric().Form != apd.Finite {
			return repr.Null, nil
		}
		return repr.Int4Datum(repr.NumericScale(trimScale(a[0].Numeric()))), nil
	})
	defFunc("trim_scale", ts(tNumeric), tNumeric, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.NumericDatum(trimScale(a[0].Numeric())), nil
	})
	defFunc("width_bucket", ts(tFloat8, tFloat8, tFloat8, tInt4), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		x, lo, hi, n := a[0].Float(), a[1].Float(), a[2].Float(), a[3].Int()
		if n <= 0 {
			return repr.Null, errorf("2201G", "count must be greater than zero")
		}
		if lo == hi || math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
			return repr.Null, errorf("2201G", "lower bound cannot equal upper bound")
		}
		var b int64
		if lo < hi {
			switch {
			case x < lo:
				b = 0
			case x >= hi:
				b = n + 1
			default:
				b = int64(float64(n)*(x-lo)/(hi-lo)) + 1
			}
		} else {
			switch {
			case x > lo:
				b = 0
			case x <= hi:
				b = n + 1
			default:
				b = int64(float64(n)*(lo-x)/(lo-hi)) + 1
			}
		}
		return checkInt(repr.KindInt4, b)
	})
}

// sleepCancellable sleeps secs seconds (nothing for zero, negative or
// NaN), or until ctx.Done is closed: then it returns 57014.
func sleepCancellable(ctx *EvalCtx, secs float64) error {
	if !(secs > 0) {
		return nil
	}
	d := time.Duration(min(secs, float64(math.MaxInt64/int64(time.Second))) * float64(time.Second))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done:
		return errorf(pgcode.QueryCanceled, "canceling statement due to user request")
	}
}

// trimScale returns n without trailing fractional zeros (100 keeps its
// digits: a positive exponent prints as zeros before the point).
func trimScale(n *apd.Decimal) *apd.Decimal {
	if n.Form != apd.Finite {
		return n
	}
	red := repr.ReduceNumeric(new(apd.Decimal), n)
	if red.IsZero() {
		red.Exponent = 0
	}
	return red
}

// RecordField returns the function that extracts field i (of type t)
// from a record: (rec).name once the planner has found the name's
// position (repr.RecordField). A NULL record gives NULL.
func RecordField(i int, t repr.ColumnType) *Func {
	return &Func{Name: fmt.Sprintf("record_field_%d", i+1), Ret: t.Type, Strict: true, Nullable: true,
		Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			it := a[0].ElementsRow().Iter()
			for k := 0; ; k++ {
				d, ok := it.Next()
				if !ok {
					return repr.Null, nil
				}
				if k == i {
					return d, nil
				}
			}
		}}
}
