package expr

import (
	"math"
	"math/bits"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// codeInvalidArgumentForPower is SQLSTATE 2201F.
const codeInvalidArgumentForPower pgcode.Code = "2201F"

// codeInvalidArgumentForLog is SQLSTATE 2201E.
const codeInvalidArgumentForLog pgcode.Code = "2201E"

var (
	tBool        = repr.TypeBool
	tInt2        = repr.TypeInt2
	tInt4        = repr.TypeInt4
	tInt8        = repr.TypeInt8
	tFloat4      = repr.TypeFloat4
	tFloat8      = repr.TypeFloat8
	tNumeric     = repr.TypeNumeric
	tText        = repr.TypeText
	tVarchar     = repr.TypeVarchar
	tChar        = repr.TypeChar
	tBytea       = repr.TypeBytea
	tDate        = repr.TypeDate
	tTime        = repr.TypeTime
	tTimestamp   = repr.TypeTimestamp
	tTimestampTz = repr.TypeTimestampTz
	tInterval    = repr.TypeInterval
	tUUID        = repr.TypeUUID
	tJsonb       = repr.TypeJsonb
	tOid         = repr.TypeOid
	tRecord      = repr.TypeRecord
	tTextArray   = repr.ArrayOf(repr.TypeText)
)

var intTypes = []repr.ScalarType{repr.TypeInt2, repr.TypeInt4, repr.TypeInt8}

func ts(t ...repr.ScalarType) []repr.ScalarType { return t }

// intRangeErr returns the "out of range" error of an integer kind.
func intRangeErr(k repr.Kind) error {
	switch k {
	case repr.KindInt2:
		return errSmallintOutOfRange()
	case repr.KindInt4:
		return errIntOutOfRange()
	}
	return errBigintOutOfRange()
}

// checkInt returns v as a datum of kind k, or k's range error.
func checkInt(k repr.Kind, v int64) (repr.Datum, error) {
	switch k {
	case repr.KindInt2:
		if v < math.MinInt16 || v > math.MaxInt16 {
			return repr.Null, errSmallintOutOfRange()
		}
	case repr.KindInt4:
		if v < math.MinInt32 || v > math.MaxInt32 {
			return repr.Null, errIntOutOfRange()
		}
	}
	return repr.IntDatum(k, v), nil
}

func wider(a, b repr.ScalarType) repr.ScalarType {
	if a.Kind > b.Kind {
		return a
	}
	return b
}

func init() {
	registerIntOps()
	registerFloatOps()
	registerNumericOps()
	registerComparisons()
	registerAbsOps()
}

// registerAbsOps registers prefix @ (absolute value) for every type with
// an abs function.
func registerAbsOps() {
	for _, o := range funcCatalog["abs"] {
		if o.Func != nil && len(o.Params) == 1 {
			f := *o.Func
			f.Name = "@"
			addOverload(unopCatalog, "@", Overload{Params: o.Params, Ret: o.Ret, Func: &f})
		}
	}
}

func registerIntOps() {
	for _, l := range intTypes {
		for _, r := range intTypes {
			ret := wider(l, r)
			k := ret.Kind
			defBinOp("+", l, r, ret, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				x, y := a[0].Int(), a[1].Int()
				s := x + y
				if k == repr.KindInt8 && (x >= 0) == (y >= 0) && (s >= 0) != (x >= 0) {
					return repr.Null, errBigintOutOfRange()
				}
				return checkInt(k, s)
			})
			defBinOp("-", l, r, ret, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				x, y := a[0].Int(), a[1].Int()
				s := x - y
				if k == repr.KindInt8 && (x >= 0) != (y >= 0) && (s >= 0) != (x >= 0) {
					return repr.Null, errBigintOutOfRange()
				}
				return checkInt(k, s)
			})
			defBinOp("*", l, r, ret, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				x, y := a[0].Int(), a[1].Int()
				if k == repr.KindInt8 {
					hi, lo := bits.Mul64(uint64(abs64(x)), uint64(abs64(y)))
					neg := (x < 0) != (y < 0)
					if hi != 0 || (!neg && lo > math.MaxInt64) || (neg && lo > 1<<63) || x == math.MinInt64 && y != 1 && y != 0 || y == math.MinInt64 && x != 1 && x != 0 {
						return repr.Null, errBigintOutOfRange()
					}
					return repr.Int8Datum(x * y), nil
				}
				return checkInt(k, x*y)
			})
			defBinOp("/", l, r, ret, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				x, y := a[0].Int(), a[1].Int()
				if y == 0 {
					return repr.Null, errDivByZero()
				}
				if y == -1 {
					if k == repr.KindInt8 && x == math.MinInt64 {
						return repr.Null, errBigintOutOfRange()
					}
					return checkInt(k, -x)
				}
				return checkInt(k, x/y) // Go truncates toward zero, as PostgreSQL does
			})
			if l.Kind == r.Kind {
				defBinOp("%", l, r, ret, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
					x, y := a[0].Int(), a[1].Int()
					if y == 0 {
						return repr.Null, errDivByZero()
					}
					if y == -1 {
						return repr.IntDatum(k, 0), nil
					}
					return repr.IntDatum(k, x%y), nil
				})
			}
		}
	}
	for _, t := range intTypes {
		k := t.Kind
		defUnOp("-", t, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			x := a[0].Int()
			if k == repr.KindInt8 && x == math.MinInt64 {
				return repr.Null, errBigintOutOfRange()
			}
			return checkInt(k, -x)
		})
		defUnOp("+", t, t, identityEval)
		defFunc("abs", ts(t), t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			x := a[0].Int()
			if k == repr.KindInt8 && x == math.MinInt64 {
				return repr.Null, errBigintOutOfRange()
			}
			return checkInt(k, abs64(x))
		})
		defFunc("mod", ts(t, t), t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			x, y := a[0].Int(), a[1].Int()
			if y == 0 {
				return repr.Null, errDivByZero()
			}
			if y == -1 {
				return repr.IntDatum(k, 0), nil
			}
			return repr.IntDatum(k, x%y), nil
		})
		defFunc("to_hex", ts(t), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			v := a[0].Int()
			if k == repr.KindInt4 || k == repr.KindInt2 {
				v = int64(uint32(int32(v)))
			}
			return repr.TextDatum(formatHex(uint64(v))), nil
		})
	}
	// Bitwise operators on integers (same-type), ~ and the shifts.
	for _, t := range intTypes {
		k := t.Kind
		defUnOp("~", t, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) { return repr.IntDatum(k, ^a[0].Int()), nil })
		width := map[repr.Kind]uint{repr.KindInt2: 16, repr.KindInt4: 32, repr.KindInt8: 64}[k]
		defBinOp("<<", t, tInt4, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			// C semantics as PostgreSQL: the shift count is taken modulo
			// the width on common hardware; results wrap to the type.
			n := uint(a[1].Int()) % width
			v := a[0].Int() << n
			switch k {
			case repr.KindInt2:
				v = int64(int16(v))
			case repr.KindInt4:
				v = int64(int32(v))
			}
			return repr.IntDatum(k, v), nil
		})
		defBinOp(">>", t, tInt4, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			n := uint(a[1].Int()) % width
			return repr.IntDatum(k, a[0].Int()>>n), nil
		})
		defBinOp("&", t, t, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.IntDatum(k, a[0].Int()&a[1].Int()), nil
		})
		defBinOp("|", t, t, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.IntDatum(k, a[0].Int()|a[1].Int()), nil
		})
		defBinOp("#", t, t, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.IntDatum(k, a[0].Int()^a[1].Int()), nil
		})
	}
}

// glibcCbrt is glibc's cbrt (sysdeps/ieee754/dbl-64/s_cbrt.c), which
// PostgreSQL's cbrt calls on Linux; it is not correctly rounded (cbrt(27)
// is 3.0000000000000004), and matching it keeps results identical.
func glibcCbrt(x float64) float64 {
	const cbrt2 = 1.2599210498948731648
	const sqrCbrt2 = 1.5874010519681994748
	factor := [5]float64{1.0 / sqrCbrt2, 1.0 / cbrt2, 1.0, cbrt2, sqrCbrt2}
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return x + x
	}
	xm, xe := math.Frexp(math.Abs(x))
	u := 0.354895765043919860 + (1.50819193781584896+(-2.11499494167371287+(2.44693122563534430+(-1.83469277483613086+(0.784932344976639262-0.145263899385486377*xm)*xm)*xm)*xm)*xm)*xm
	t2 := u * u * u
	ym := u * (t2 + 2.0*xm) / (2.0*t2 + xm) * factor[2+xe%3]
	if x < 0 {
		ym = -ym
	}
	return math.Ldexp(ym, xe/3)
}

func formatHex(v uint64) string {
	const digits = "0123456789abcdef"
	if v == 0 {
		return "0"
	}
	var b [16]byte
	i := len(b)
	for v > 0 {
		i--
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[i:])
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

func identityEval(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) { return a[0], nil }

// floatResult checks a float result as PostgreSQL's float_overflow_error
// and float_underflow_error do, and returns it as kind k.
func floatResult(k repr.Kind, v float64, inputsInf, zeroOK bool) (repr.Datum, error) {
	if k == repr.KindFloat4 {
		f := float32(v)
		if math.IsInf(float64(f), 0) && !inputsInf {
			return repr.Null, errFloatOverflow()
		}
		if f == 0 && !zeroOK {
			return repr.Null, errFloatUnderflow()
		}
		return repr.Float4Datum(f), nil
	}
	if math.IsInf(v, 0) && !inputsInf {
		return repr.Null, errFloatOverflow()
	}
	if v == 0 && !zeroOK {
		return repr.Null, errFloatUnderflow()
	}
	return repr.Float8Datum(v), nil
}

func isInf(f float64) bool { return math.IsInf(f, 0) }

// FloatResult is floatResult for float8, exported for the runtime's
// aggregates (sum/avg over float8 report overflow the same way).
func FloatResult(v float64, inputsInf bool) (repr.Datum, error) {
	return floatResult(repr.KindFloat8, v, inputsInf, true)
}

func registerFloatOps() {
	floats := []repr.ScalarType{tFloat4, tFloat8}
	for _, l := range floats {
		for _, r := range floats {
			ret := wider(l, r)
			k := ret.Kind
			defBinOp("+", l, r, ret, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				x, y := a[0].Float(), a[1].Float()
				return floatResult(k, x+y, isInf(x) || isInf(y), true)
			})
			defBinOp("-", l, r, ret, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				x, y := a[0].Float(), a[1].Float()
				return floatResult(k, x-y, isInf(x) || isInf(y), true)
			})
			defBinOp("*", l, r, ret, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				x, y := a[0].Float(), a[1].Float()
				return floatResult(k, x*y, isInf(x) || isInf(y), x == 0 || y == 0)
			})
			defBinOp("/", l, r, ret, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				x, y := a[0].Float(), a[1].Float()
				if y == 0 && !math.IsNaN(x) {
					return repr.Null, errDivByZero()
				}
				return floatResult(k, x/y, isInf(x) || isInf(y), x == 0 || isInf(y))
			})
		}
	}
	for _, t := range floats {
		k := t.Kind
		defUnOp("-", t, t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			if k == repr.KindFloat4 {
				return repr.Float4Datum(-float32(a[0].Float())), nil
			}
			return repr.Float8Datum(-a[0].Float()), nil
		})
		defUnOp("+", t, t, identityEval)
		defFunc("abs", ts(t), t, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			if k == repr.KindFloat4 {
				return repr.Float4Datum(float32(math.Abs(a[0].Float()))), nil
			}
			return repr.Float8Datum(math.Abs(a[0].Float())), nil
		})
	}
	f1 := func(name string, fn func(float64) (float64, error)) {
		defFunc(name, ts(tFloat8), tFloat8, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			v, err := fn(a[0].Float())
			if err != nil {
				return repr.Null, err
			}
			return repr.Float8Datum(v), nil
		})
	}
	pure := func(fn func(float64) float64) func(float64) (float64, error) {
		return func(x float64) (float64, error) { return fn(x), nil }
	}
	f1("ceil", pure(math.Ceil))
	f1("ceiling", pure(math.Ceil))
	f1("floor", pure(math.Floor))
	f1("round", pure(math.RoundToEven)) // rint
	f1("trunc", pure(math.Trunc))
	f1("sign", pure(func(x float64) float64 {
		switch {
		case x > 0:
			return 1
		case x < 0:
			return -1
		}
		return 0
	}))
	f1("sqrt", func(x float64) (float64, error) {
		if x < 0 {
			return 0, errorf(codeInvalidArgumentForPower, "cannot take square root of a negative number")
		}
		return math.Sqrt(x), nil
	})
	f1("cbrt", pure(glibcCbrt))
	f1("exp", func(x float64) (float64, error) {
		v := math.Exp(x)
		if isInf(v) && !isInf(x) {
			return 0, errFloatOverflow()
		}
		if v == 0 && !isInf(x) {
			return 0, errFloatUnderflow()
		}
		return v, nil
	})
	logf := func(fn func(float64) float64) func(float64) (float64, error) {
		return func(x float64) (float64, error) {
			if x == 0 {
				return 0, errorf(codeInvalidArgumentForLog, "cannot take logarithm of zero")
			}
			if x < 0 {
				return 0, errorf(codeInvalidArgumentForLog, "cannot take logarithm of a negative number")
			}
			return fn(x), nil
		}
	}
	f1("ln", logf(math.Log))
	f1("log", logf(math.Log10))
	f1("log10", logf(math.Log10))
	for _, n := range []string{"sin", "cos", "tan", "asin", "acos", "atan", "degrees", "radians"} {
		fn := map[string]func(float64) float64{
			"sin": math.Sin, "cos": math.Cos, "tan": math.Tan, "asin": math.Asin, "acos": math.Acos, "atan": math.Atan,
			"degrees": func(x float64) float64 { return x * 180 / math.Pi }, "radians": func(x float64) float64 { return x * math.Pi / 180 },
		}[n]
		f1(n, pure(fn))
	}
	pow := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		x, y := a[0].Float(), a[1].Float()
		if x == 0 && y < 0 {
			return repr.Null, errorf(codeInvalidArgumentForPower, "zero raised to a negative power is undefined")
		}
		if x < 0 && y != math.Trunc(y) && !isInf(y) {
			return repr.Null, errorf(codeInvalidArgumentForPower, "a negative number raised to a non-integer power yields a complex result")
		}
		v := math.Pow(x, y)
		return floatResult(repr.KindFloat8, v, isInf(x) || isInf(y), true)
	}
	defBinOp("^", tFloat8, tFloat8, tFloat8, pow)
	defFunc("power", ts(tFloat8, tFloat8), tFloat8, pow)
	defFunc("pow", ts(tFloat8, tFloat8), tFloat8, pow)
	defFunc("pi", nil, tFloat8, func(*EvalCtx, []repr.Datum) (repr.Datum, error) { return repr.Float8Datum(math.Pi), nil })
	defFunc("atan2", ts(tFloat8, tFloat8), tFloat8, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.Float8Datum(math.Atan2(a[0].Float(), a[1].Float())), nil
	})
}

// Numeric arithmetic follows PostgreSQL's numeric.c: addition and
// subtraction are exact with the larger display scale, multiplication is
// exact, division and the transcendental functions choose a result scale
// of at least 16 significant digits (select_div_scale and friends).

const (
	numericMinSigDigits  = 16
	numericMaxDispScale  = 1000
	numericMaxPrecision  = 1000
	numericExactPrecCalc = 4000
)

var numExact = apd.Context{
	Precision:   numericExactPrecCalc,
	MaxExponent: apd.MaxExponent,
	MinExponent: apd.MinExponent,
	Traps:       apd.DefaultTraps &^ apd.Inexact &^ apd.Rounded,
	Rounding:    apd.RoundHalfUp,
}

// dscale is a numeric's display scale (digits after the point).
func dscale(d *apd.Decimal) int32 {
	if d.Exponent < 0 {
		return -d.Exponent
	}
	return 0
}

// weightAndFirst returns PostgreSQL's base-10000 weight of d and the value
// of its first base-10000 digit.
func weightAndFirst(d *apd.Decimal) (weight int64, first int64) {
	if d.IsZero() || d.Form != apd.Finite {
		return 0, 0
	}
	digits := d.Coeff.String()
	adj := int64(d.Exponent) + int64(len(digits)) - 1 // power of ten of the leading digit
	weight = floorDiv(adj, 4)
	lead := adj - weight*4 + 1 // digits in the leading group
	for i := int64(0); i < lead; i++ {
		first *= 10
		if i < int64(len(digits)) {
			first += int64(digits[i] - '0')
		}
	}
	return weight, first
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func clampScale(s int64) int32 {
	if s < 0 {
		return 0
	}
	if s > numericMaxDispScale {
		return numericMaxDispScale
	}
	return int32(s)
}

// roundScale rounds d to scale decimal places, half away from zero.
func roundScale(d *apd.Decimal, scale int32) (*apd.Decimal, error) {
	if d.Form != apd.Finite {
		return d, nil
	}
	out := new(apd.Decimal)
	c := numExact
	c.Precision = uint32(max(int64(len(d.Coeff.String()))+int64(scale)+int64(max(d.Exponent, 0))+2, 1))
	if _, err := c.Quantize(out, d, -scale); err != nil {
		return nil, errorf(pgcode.NumericValueOutOfRange, "value overflows numeric format")
	}
	return out, nil
}

// numericDatum wraps a numeric result; a zero loses apd's sign (numeric
// has no negative zero: 0.0 * -1 is 0.0, and its float8 is +0).
func numericDatum(d *apd.Decimal) repr.Datum {
	if d != nil && d.Form == apd.Finite && d.Negative && d.IsZero() {
		z := *d
		z.Negative = false
		d = &z
	}
	return repr.NumericDatum(d)
}

// NumericDiv divides as PostgreSQL's numeric_div does, with
// select_div_scale's result scale.
func NumericDiv(x, y *apd.Decimal) (*apd.Decimal, error) {
	if y.IsZero() && y.Form == apd.Finite {
		return nil, errDivByZero()
	}
	if x.Form == apd.Finite && y.Form == apd.Infinite {
		return apd.New(0, 0), nil // PostgreSQL: a finite value over ±Infinity is 0
	}
	if x.Form != apd.Finite || y.Form != apd.Finite {
		out := new(apd.Decimal)
		if _, err := numExact.Quo(out, x, y); err != nil {
			return &apd.Decimal{Form: apd.NaN}, nil
		}
		return out, nil
	}
	w1, f1 := weightAndFirst(x)
	w2, f2 := weightAndFirst(y)
	qweight := w1 - w2
	if f1 <= f2 {
		qweight--
	}
	rscale := int64(numericMinSigDigits) - qweight*4
	rscale = max(rscale, int64(dscale(x)), int64(dscale(y)))
	scale := clampScale(rscale)
	return divToScale(x, y, scale)
}

// divToScale computes x/y rounded half away from zero to scale digits.
func divToScale(x, y *apd.Decimal, scale int32) (*apd.Decimal, error) {
	if x.IsZero() {
		return roundScale(apd.New(0, 0), scale)
	}
	// Digits needed: integer digits of the quotient plus scale plus guard.
	intDigits := (int64(x.Exponent) + int64(len(x.Coeff.String()))) - (int64(y.Exponent) + int64(len(y.Coeff.String()))) + 2
	prec := max(intDigits+int64(scale)+3, 3)
	c := numExact
	c.Precision = uint32(prec)
	c.Rounding = apd.RoundDown
	q := new(apd.Decimal)
	if _, err := c.Quo(q, x, y); err != nil {
		return nil, errorf(pgcode.NumericValueOutOfRange, "value overflows numeric format")
	}
	return roundScale(q, scale)
}

func numericBinop(op string, fn func(x, y *apd.Decimal) (*apd.Decimal, error)) {
	defBinOp(op, tNumeric, tNumeric, tNumeric, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := fn(a[0].Numeric(), a[1].Numeric())
		if err != nil {
			return repr.Null, err
		}
		return numericDatum(v), nil
	})
}

// numericExact makes exact numeric arithmetic whose result shows
// PostgreSQL's display scale, scale(dscale(x), dscale(y)). apd's exact
// result never has more fractional digits than that, but may have fewer
// (0.1 * 1e2 is 1E+1 in apd, 10.0 in PostgreSQL): it is padded.
func numericExact(op func(c *apd.Context, d, x, y *apd.Decimal) (apd.Condition, error), scale func(a, b int32) int32) func(x, y *apd.Decimal) (*apd.Decimal, error) {
	return func(x, y *apd.Decimal) (*apd.Decimal, error) {
		d := new(apd.Decimal)
		if _, err := op(&numExact, d, x, y); err != nil {
			if x.Form != apd.Finite || y.Form != apd.Finite {
				return &apd.Decimal{Form: apd.NaN}, nil
			}
			return nil, errorf(pgcode.NumericValueOutOfRange, "value overflows numeric format")
		}
		if d.IsZero() {
			d.Negative = false // numeric has no negative zero (apd's 0 * -1 has)
		}
		return repr.WithNumericScale(d, min(scale(dscale(x), dscale(y)), numericMaxDispScale)), nil
	}
}

func maxScale(a, b int32) int32 { return max(a, b) }

// NumericAdd, NumericSub and NumericMul are exact numeric arithmetic with
// PostgreSQL's result scales: the larger input scale for + and -, the sum
// of the input scales for *.
var (
	NumericAdd = numericExact((*apd.Context).Add, maxScale)
	NumericSub = numericExact((*apd.Context).Sub, maxScale)
	NumericMul = numericExact((*apd.Context).Mul, func(a, b int32) int32 { return a + b })
)

func numericMod(x, y *apd.Decimal) (*apd.Decimal, error) {
	if y.IsZero() && y.Form == apd.Finite {
		return nil, errDivByZero()
	}
	d := new(apd.Decimal)
	if _, err := numExact.Rem(d, x, y); err != nil {
		return &apd.Decimal{Form: apd.NaN}, nil
	}
	// PostgreSQL's mod_var: x - trunc(x/y)*y, at the larger input scale.
	return repr.WithNumericScale(d, max(dscale(x), dscale(y))), nil
}

// numericPower follows power_var's result scale: 16 significant digits
// for integer exponents at least, else from the estimated result weight.
func numericPower(x, y *apd.Decimal) (*apd.Decimal, error) {
	// The error cases come first, as in numeric_power: they hold for
	// infinite inputs too (0 ^ -inf, -inf ^ 2.5).
	if x.IsZero() && y.Negative && y.Form != apd.NaN && !y.IsZero() {
		return nil, errorf(codeInvalidArgumentForPower, "zero raised to a negative power is undefined")
	}
	var frac apd.Decimal
	var yint apd.Decimal
	if y.Form == apd.Finite {
		y.Modf(&yint, &frac)
	}
	if x.Negative && x.Form != apd.NaN && !frac.IsZero() {
		return nil, errorf(codeInvalidArgumentForPower, "a negative number raised to a non-integer power yields a complex result")
	}
	if r, ok := numericPowerSpecial(x, y); ok {
		return r, nil
	}
	intExp := frac.IsZero() && yint.Cmp(apd.New(math.MaxInt32, 0)) <= 0 && yint.Cmp(apd.New(math.MinInt32, 0)) >= 0
	// power_var_int's scale: 16 digits at least, and the base's (not the
	// exponent's: 2 ^ 3.000 is 8.0000000000000000).
	scale := clampScale(max(int64(numericMinSigDigits), int64(dscale(x))))
	if x.IsZero() {
		// 0^0 is 1; 0^y for y > 0 is 0; power_var gives it scale 16 for an
		// exponent that is not an int32.
		if y.IsZero() {
			return roundScale(apd.New(1, 0), scale)
		}
		if !intExp {
			scale = numericMinSigDigits
		}
		return roundScale(apd.New(0, 0), scale)
	}
	if !intExp {
		if !x.Negative {
			return numericPowerReal(x, y)
		}
		// An integer exponent beyond int32: |x|^y, negative for odd y.
		var ax, two, r apd.Decimal
		ax.Abs(x)
		out, err := numericPowerReal(&ax, y)
		if err != nil {
			return nil, err
		}
		two.SetInt64(2)
		if _, err := numExact.Rem(&r, &yint, &two); err == nil && !r.IsZero() && !out.IsZero() {
			out.Negative = true
		}
		return out, nil
	}
	// An integer exponent of int32's range: power_var_int, exact
	// multiplications to 16 significant digits at least.
	xf, _ := x.Float64()
	yf, _ := y.Float64()
	est := yf * math.Log10(math.Abs(xf))
	if est > 131072 {
		return nil, errNumericOverflow()
	}
	c := numExact
	c.Precision = uint32(max(int64(est)+int64(scale)+8, 20))
	out := new(apd.Decimal)
	if _, err := c.Pow(out, x, y); err != nil {
		return nil, errNumericOverflow()
	}
	return roundScale(out, scale)
}

// numericPowerSpecial handles power's special values as PostgreSQL 14+,
// where an input is NaN or infinite: x^0 and 1^y are 1 (even for NaN), NaN propagates, and infinite bases or
// exponents follow the limits (0.5^inf = 0, 2^inf = inf, inf^-1 = 0).
func numericPowerSpecial(x, y *apd.Decimal) (*apd.Decimal, bool) {
	one := apd.New(1, 0)
	if x.Form == apd.Finite && y.Form == apd.Finite {
		// Finite powers have a result scale, even 1 ^ y and x ^ 0
		// (1.0000000000000000).
		return nil, false
	}
	if (y.Form == apd.Finite && y.IsZero()) || (x.Form == apd.Finite && x.Cmp(one) == 0) {
		return apd.New(1, 0), true
	}
	if x.Form == apd.NaN || y.Form == apd.NaN {
		return &apd.Decimal{Form: apd.NaN}, true
	}
	if y.Form == apd.Infinite {
		var ax apd.Decimal
		ax.Abs(x)
		c := ax.Cmp(one)
		if x.Form == apd.Infinite {
			c = 1
		}
		switch {
		case c == 0:
			return apd.New(1, 0), true
		case (c < 0) != y.Negative:
			return apd.New(0, 0), true
		}
		return &apd.Decimal{Form: apd.Infinite}, true
	}
	if x.Form == apd.Infinite {
		if y.Negative {
			return apd.New(0, 0), true
		}
		neg := false
		if x.Negative {
			var i, f apd.Decimal
			y.Modf(&i, &f)
			if f.IsZero() {
				var two, r apd.Decimal
				two.SetInt64(2)
				_, _ = numExact.Rem(&r, &i, &two)
				neg = !r.IsZero()
			}
		}
		return &apd.Decimal{Form: apd.Infinite, Negative: neg}, true
	}
	return nil, false
}

func registerNumericOps() {
	numericBinop("+", NumericAdd)
	numericBinop("-", NumericSub)
	numericBinop("*", NumericMul)
	numericBinop("/", NumericDiv)
	numericBinop("%", numericMod)
	numericBinop("^", numericPower)
	nf := func(name string, params []repr.ScalarType, fn func(a []repr.Datum) (*apd.Decimal, error)) {
		defFunc(name, params, tNumeric, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			v, err := fn(a)
			if err != nil {
				return repr.Null, err
			}
			return numericDatum(v), nil
		})
	}
	nf("mod", ts(tNumeric, tNumeric), func(a []repr.Datum) (*apd.Decimal, error) { return numericMod(a[0].Numeric(), a[1].Numeric()) })
	nf("power", ts(tNumeric, tNumeric), func(a []repr.Datum) (*apd.Decimal, error) { return numericPower(a[0].Numeric(), a[1].Numeric()) })
	nf("pow", ts(tNumeric, tNumeric), func(a []repr.Datum) (*apd.Decimal, error) { return numericPower(a[0].Numeric(), a[1].Numeric()) })
	defUnOp("-", tNumeric, tNumeric, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		d := new(apd.Decimal)
		d.Neg(a[0].Numeric())
		if d.IsZero() {
			d.Negative = false
		}
		return numericDatum(d), nil
	})
	defUnOp("+", tNumeric, tNumeric, identityEval)
	nf("abs", ts(tNumeric), func(a []repr.Datum) (*apd.Decimal, error) {
		d := new(apd.Decimal)
		d.Abs(a[0].Numeric())
		return d, nil
	})
	integral := func(op func(c *apd.Context, d, x *apd.Decimal) (apd.Condition, error)) func(a []repr.Datum) (*apd.Decimal, error) {
		return func(a []repr.Datum) (*apd.Decimal, error) {
			x := a[0].Numeric()
			if x.Form != apd.Finite {
				return x, nil
			}
			c := numExact
			c.Precision = uint32(max(int64(len(x.Coeff.String()))+int64(max(x.Exponent, 0))+2, 2))
			d := new(apd.Decimal)
			if _, err := op(&c, d, x); err != nil {
				return nil, errorf(pgcode.NumericValueOutOfRange, "value overflows numeric format")
			}
			if d.IsZero() {
				d.Negative = false
			}
			if d.Exponent > 0 {
				// Keep scale 0 in plain form (1E+2 prints as 100).
				q := new(apd.Decimal)
				c.Precision += uint32(d.Exponent)
				if _, err := c.Quantize(q, d, 0); err == nil {
					d = q
				}
			}
			return d, nil
		}
	}
	nf("ceil", ts(tNumeric), integral((*apd.Context).Ceil))
	nf("ceiling", ts(tNumeric), integral((*apd.Context).Ceil))
	nf("floor", ts(tNumeric), integral((*apd.Context).Floor))
	roundTo := func(mode apd.Rounder) func(a []repr.Datum) (*apd.Decimal, error) {
		return func(a []repr.Datum) (*apd.Decimal, error) {
			x := a[0].Numeric()
			if x.Form != apd.Finite {
				return x, nil
			}
			scale := int64(0)
			if len(a) > 1 {
				scale = a[1].Int()
			}
			scale = min(max(scale, -numericMaxDispScale), numericMaxDispScale)
			c := numExact
			c.Rounding = mode
			c.Precision = uint32(max(int64(len(x.Coeff.String()))+int64(max(x.Exponent, 0))+scale+3, 3))
			d := new(apd.Decimal)
			if _, err := c.Quantize(d, x, int32(-scale)); err != nil {
				return nil, errorf(pgcode.NumericValueOutOfRange, "value overflows numeric format")
			}
			if scale < 0 {
				// PostgreSQL keeps scale 0: 1234 rounded to -2 is 1200.
				d2 := new(apd.Decimal)
				c.Precision += uint32(-scale)
				if _, err := c.Quantize(d2, d, 0); err == nil {
					d = d2
				}
			}
			if d.IsZero() {
				d.Negative = false
			}
			return d, nil
		}
	}
	nf("round", ts(tNumeric), roundTo(apd.RoundHalfUp))
	nf("round", ts(tNumeric, tInt4), roundTo(apd.RoundHalfUp))
	nf("trunc", ts(tNumeric), roundTo(apd.RoundDown))
	nf("trunc", ts(tNumeric, tInt4), roundTo(apd.RoundDown))
	nf("sign", ts(tNumeric), func(a []repr.Datum) (*apd.Decimal, error) {
		x := a[0].Numeric()
		if x.Form == apd.NaN {
			return x, nil
		}
		switch {
		case x.IsZero():
			return apd.New(0, 0), nil
		case x.Negative:
			return apd.New(-1, 0), nil
		}
		return apd.New(1, 0), nil
	})
	nf("sqrt", ts(tNumeric), func(a []repr.Datum) (*apd.Decimal, error) {
		x := a[0].Numeric()
		if x.Negative && !x.IsZero() {
			return nil, errorf(codeInvalidArgumentForPower, "cannot take square root of a negative number")
		}
		if x.Form != apd.Finite {
			return x, nil
		}
		w, _ := weightAndFirst(x)
		sweight := (w+1)*4/2 - 1
		rscale := max(int64(numericMinSigDigits)-sweight, int64(dscale(x)))
		scale := clampScale(rscale)
		c := numExact
		c.Precision = uint32(max(int64(len(x.Coeff.String())+int(x.Exponent))/2+int64(scale)+6, 20))
		d := new(apd.Decimal)
		if _, err := c.Sqrt(d, x); err != nil {
			return nil, errNumericOverflow()
		}
		return roundScale(d, scale)
	})
	lnLike := func(name string, log10 bool) {
		nf(name, ts(tNumeric), func(a []repr.Datum) (*apd.Decimal, error) {
			x := a[0].Numeric()
			if x.IsZero() {
				return nil, errorf(codeInvalidArgumentForLog, "cannot take logarithm of zero")
			}
			if x.Negative {
				return nil, errorf(codeInvalidArgumentForLog, "cannot take logarithm of a negative number")
			}
			if x.Form != apd.Finite {
				return x, nil
			}
			if log10 {
				// log(x) is log_var(10, x).
				return numericLog(apd.New(10, 0), x)
			}
			return numericLn(x), nil
		})
	}
	nf("log", ts(tNumeric, tNumeric), func(a []repr.Datum) (*apd.Decimal, error) {
		return numericLogBase(a[0].Numeric(), a[1].Numeric())
	})
	lnLike("ln", false)
	lnLike("log", true)
	lnLike("log10", true)
	nf("exp", ts(tNumeric), func(a []repr.Datum) (*apd.Decimal, error) {
		x := a[0].Numeric()
		if x.Form != apd.Finite {
			if x.Negative && x.Form == apd.Infinite {
				return apd.New(0, 0), nil
			}
			return x, nil
		}
		return numericExp(x)
	})
}

// estimateLnDweight is PostgreSQL's estimate_ln_dweight: the decimal
// weight of ln(x) for a finite x > 0, from x-1 when 0.9 <= x <= 1.1 (where
// ln(x) ~ x-1), else from x's leading two base-10000 digits and weight.
func estimateLnDweight(x *apd.Decimal) int64 {
	if x.Cmp(apd.New(9, -1)) >= 0 && x.Cmp(apd.New(11, -1)) <= 0 {
		d := new(apd.Decimal)
		_, _ = numExact.Sub(d, x, apd.New(1, 0))
		if d.IsZero() {
			return 0
		}
		return int64(d.Exponent) + int64(d.NumDigits()) - 1
	}
	if x.IsZero() {
		return 0
	}
	digits := x.Coeff.String()
	adj := int64(x.Exponent) + int64(len(digits)) - 1 // power of ten of the leading digit
	weight := floorDiv(adj, 4)
	// x's base-10000 digits start at digits[-pad], pad zeros first.
	pad := 3 - (adj - weight*4)
	group := func(g int64) (v int64) {
		for i := g*4 - pad; i < g*4-pad+4; i++ {
			v *= 10
			if i >= 0 && i < int64(len(digits)) {
				v += int64(digits[i] - '0')
			}
		}
		return v
	}
	first := group(0)
	dweight := weight * 4
	rest := false
	for i := 4 - pad; i < int64(len(digits)); i++ {
		rest = rest || (i >= 0 && digits[i] != '0')
	}
	if rest {
		first = first*10000 + group(1)
		dweight -= 4
	}
	lnv := math.Log(float64(first)) + float64(dweight)*math.Ln10
	if lnv == 0 {
		return 0
	}
	return int64(math.Log10(math.Abs(lnv)))
}

// numericLogBase is log(b, x): the logarithm of x to base b, with
// PostgreSQL's result scale (16 significant digits at least).
func numericLogBase(b, x *apd.Decimal) (*apd.Decimal, error) {
	for _, v := range []*apd.Decimal{b, x} {
		if v.IsZero() {
			return nil, errorf(codeInvalidArgumentForLog, "cannot take logarithm of zero")
		}
		if v.Negative {
			return nil, errorf(codeInvalidArgumentForLog, "cannot take logarithm of a negative number")
		}
	}
	// Non-finite arguments, as PostgreSQL's numeric_log.
	switch {
	case b.Form == apd.NaN || x.Form == apd.NaN || (b.Form == apd.Infinite && x.Form == apd.Infinite):
		return &apd.Decimal{Form: apd.NaN}, nil
	case x.Form == apd.Infinite:
		return &apd.Decimal{Form: apd.Infinite}, nil
	case b.Form == apd.Infinite:
		return apd.New(0, 0), nil
	}
	return numericLog(b, x)
}

// compareEval builds a comparison's evaluation from a predicate on the
// three-way comparison of its arguments.
func compareEval(test func(c int) bool) evalFn {
	return func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.BoolDatum(test(repr.Compare(a[0], a[1]))), nil
	}
}

// intCompareEval is compareEval specialised to integers.
func intCompareEval(test func(x, y int64) bool) evalFn {
	return func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.BoolDatum(test(a[0].Int(), a[1].Int())), nil
	}
}

var cmpOps = []struct {
	op   string
	test func(c int) bool
	ints func(x, y int64) bool
}{
	{"=", func(c int) bool { return c == 0 }, func(x, y int64) bool { return x == y }},
	{"<>", func(c int) bool { return c != 0 }, func(x, y int64) bool { return x != y }},
	{"<", func(c int) bool { return c < 0 }, func(x, y int64) bool { return x < y }},
	{"<=", func(c int) bool { return c <= 0 }, func(x, y int64) bool { return x <= y }},
	{">", func(c int) bool { return c > 0 }, func(x, y int64) bool { return x > y }},
	{">=", func(c int) bool { return c >= 0 }, func(x, y int64) bool { return x >= y }},
}

// comparableTypes are the types with same-type comparison operators.
var comparableTypes = []repr.ScalarType{
	tBool, tFloat4, tFloat8, tNumeric, tText, tBytea, tDate, tTime,
	tTimestamp, tTimestampTz, tInterval, tUUID, tOid,
}

func registerComparisons() {
	for _, c := range cmpOps {
		for _, l := range intTypes {
			for _, r := range intTypes {
				defBinOp(c.op, l, r, tBool, intCompareEval(c.ints))
			}
		}
		for _, t := range comparableTypes {
			defBinOp(c.op, t, t, tBool, compareEval(c.test))
		}
		// bpchar compares without its trailing spaces (bpchareq, bpcharlt).
		bpTest := c.test
		defBinOp(c.op, tChar, tChar, tBool, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			x := strings.TrimRight(a[0].Str(), " ")
			y := strings.TrimRight(a[1].Str(), " ")
			return repr.BoolDatum(bpTest(strings.Compare(x, y))), nil
		})
		defBinOp(c.op, tFloat4, tFloat8, tBool, compareEval(c.test))
		defBinOp(c.op, tFloat8, tFloat4, tBool, compareEval(c.test))
		test := c.test
		mk := func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			return &Func{Name: c.op, Infix: true, Ret: ret, Strict: true, Eval: compareEval(test)}, nil
		}
		defPoly(binopCatalog, c.op, []ParamType{AnyArray, AnyArray}, Exact(tBool), false, mk)
		defPoly(binopCatalog, c.op, []ParamType{Exact(tRecord), Exact(tRecord)}, Exact(tBool), false, mk)
	}
}
