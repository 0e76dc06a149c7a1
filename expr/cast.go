package expr

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// CastContext is where a cast may be applied without being written, as
// pg_cast.castcontext says: Implicit casts anywhere, Assignment casts when
// storing into a column (INSERT, UPDATE), Explicit casts only when written
// (CAST(x AS t), x::t). Each context admits the ones before it.
type CastContext uint8

// Cast contexts.
const (
	Implicit CastContext = iota
	Assignment
	Explicit
)

// String returns pg_cast's letter name.
func (c CastContext) String() string {
	switch c {
	case Implicit:
		return "implicit"
	case Assignment:
		return "assignment"
	}
	return "explicit"
}

// Cast is a conversion from one type to another. Func converts and applies
// the target's modifier with assignment semantics (varchar(n) errors when
// too long); Explicit, when non-nil, is the function to use when the cast
// is written explicitly (varchar(n) and char(n) truncate instead).
type Cast struct {
	Context  CastContext
	Func     *Func
	Explicit *Func
}

// FuncFor returns the function for a cast applied in context ctx.
func (c *Cast) FuncFor(ctx CastContext) *Func {
	if ctx == Explicit && c.Explicit != nil {
		return c.Explicit
	}
	return c.Func
}

type castKey struct{ from, to string }

var castCache sync.Map // castKey -> *Cast (or nil for "no cast")

// LookupCast returns the cast from one type to another, following pg_cast
// and PostgreSQL's automatic I/O conversion casts: any type converts to
// text/varchar/char through its output function in assignment context,
// text converts to any type through its input function explicitly. Casts
// between the same type with different modifiers are implicit length or
// precision coercions. unknown (an untyped literal) converts implicitly to
// anything through the input function. ok is false when no cast exists.
func LookupCast(from, to repr.ScalarType) (c *Cast, ok bool) {
	key := castKey{from.String(), to.String()}
	if v, hit := castCache.Load(key); hit {
		c := v.(*Cast)
		return c, c != nil
	}
	c = buildCast(from, to)
	castCache.Store(key, c)
	return c, c != nil
}

type convFn func(ctx *EvalCtx, d repr.Datum) (repr.Datum, error)

// buildCast constructs the cast, or nil.
func buildCast(from, to repr.ScalarType) *Cast {
	context, conv, ok := baseCast(from, to)
	if !ok {
		return nil
	}
	name := shortName(from) + "_to_" + shortName(to)
	if to.Typmod >= 0 {
		if p, sc, ok := to.NumericPrecisionScale(); ok {
			name += fmt.Sprintf("_%d_%d", p, sc)
		} else {
			name += fmt.Sprintf("_%d", to.Typmod)
		}
	}
	mk := func(explicit bool) *Func {
		tm := typmodCoercion(to, explicit)
		c := conv
		return &Func{Name: name, Ret: to, Strict: true, Eval: func(ctx *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			v, err := c(ctx, a[0])
			if err != nil || v.IsNull() || tm == nil {
				return v, err
			}
			return tm(v)
		}}
	}
	cast := &Cast{Context: context, Func: mk(false)}
	if needsExplicitVariant(to) {
		cast.Explicit = mk(true)
	}
	return cast
}

func needsExplicitVariant(t repr.ScalarType) bool {
	switch t.Kind {
	case repr.KindVarchar, repr.KindChar:
		return t.Typmod >= 0
	case repr.KindArray:
		return t.Elem != nil && needsExplicitVariant(*t.Elem)
	}
	return false
}

// baseCast returns the conversion ignoring the target's modifier.
func baseCast(from, to repr.ScalarType) (CastContext, convFn, bool) {
	fk, tk := from.Kind, to.Kind
	relabel := func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) { return d.WithKind(tk), nil }
	if fk == repr.KindNull {
		return Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			if d.Kind() == repr.KindNull {
				return repr.Null, nil
			}
			return repr.ParseText(d.Str(), to)
		}, true
	}
	if fk == repr.KindArray && tk == repr.KindArray {
		if from.Elem == nil || to.Elem == nil {
			return Implicit, relabel, from.Elem == nil && to.Elem == nil
		}
		// The element conversion ignores the element's modifier: the
		// array's typmod coercion applies it (with explicit semantics
		// when the cast is explicit).
		ec, ok := LookupCast(*from.Elem, to.Elem.WithoutTypmod())
		if !ok {
			return 0, nil, false
		}
		elemFn := ec.Func
		return ec.Context, func(ctx *EvalCtx, d repr.Datum) (repr.Datum, error) {
			elems := d.Elements(nil)
			for i, e := range elems {
				if e.IsNull() {
					continue
				}
				v, err := elemFn.Eval(ctx, elems[i:i+1])
				if err != nil {
					return repr.Null, err
				}
				elems[i] = v
			}
			return repr.ArrayDatum(elems), nil
		}, true
	}
	if fk == tk {
		return Implicit, relabel, true
	}
	if c, fn, ok := builtinCast(from, to); ok {
		return c, fn, true
	}
	// Automatic I/O conversion casts.
	if to.Kind.IsString() {
		fromString := from.Kind.IsString()
		return Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			if fromString {
				return repr.StringDatum(tk, d.Str()), nil
			}
			return repr.StringDatum(tk, string(repr.AppendTextTyped(nil, d, from))), nil
		}, true
	}
	if from.Kind.IsString() {
		parseAs := to
		if tk == repr.KindInterval {
			// text::interval MONTH reads the text as a plain interval and
			// then drops the fields (the typmod coercion), as PostgreSQL
			// does: only an unknown literal is read in the qualifier's
			// fields ('3' is 3 months).
			parseAs = to.WithoutTypmod()
		}
		return Explicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			s := d.Str()
			if d.Kind() == repr.KindChar {
				s = strings.TrimRight(s, " ")
			}
			return repr.ParseText(s, parseAs)
		}, true
	}
	return 0, nil, false
}

// builtinCast covers pg_cast's entries between non-string types, and the
// string casts with special semantics (char(n) to text trims).
func builtinCast(from, to repr.ScalarType) (CastContext, convFn, bool) {
	fk, tk := from.Kind, to.Kind
	ctx := func(c CastContext, f convFn) (CastContext, convFn, bool) { return c, f, true }
	switch {
	case fk == repr.KindChar && (tk == repr.KindText || tk == repr.KindVarchar):
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			return repr.StringDatum(tk, strings.TrimRight(d.Str(), " ")), nil
		})
	case (fk == repr.KindText || fk == repr.KindVarchar) && (tk == repr.KindText || tk == repr.KindVarchar):
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) { return d.WithKind(tk), nil })
	case (fk == repr.KindText || fk == repr.KindVarchar) && tk == repr.KindChar:
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) { return d.WithKind(tk), nil })
	case fk == repr.KindBool && tk.IsString():
		// booltext: "true"/"false", not the output function's t/f.
		return ctx(Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			if d.Bool() {
				return repr.StringDatum(tk, "true"), nil
			}
			return repr.StringDatum(tk, "false"), nil
		})
	case fk.IsInteger() && tk.IsInteger():
		c := Implicit
		if tk < fk {
			c = Assignment
		}
		return ctx(c, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) { return checkInt(tk, d.Int()) })
	case fk.IsInteger() && (tk == repr.KindFloat4 || tk == repr.KindFloat8):
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			if tk == repr.KindFloat4 {
				return repr.Float4Datum(float32(d.Int())), nil
			}
			return repr.Float8Datum(float64(d.Int())), nil
		})
	case fk.IsInteger() && tk == repr.KindNumeric:
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			return repr.NumericDatum(apd.New(d.Int(), 0)), nil
		})
	case (fk == repr.KindFloat4 || fk == repr.KindFloat8) && tk.IsInteger():
		return ctx(Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			f := math.RoundToEven(d.Float())
			if math.IsNaN(f) || f < math.MinInt64 || f >= math.MaxInt64 {
				return repr.Null, intRangeErr(tk)
			}
			return checkInt(tk, int64(f))
		})
	case fk == repr.KindFloat4 && tk == repr.KindFloat8:
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) { return repr.Float8Datum(d.Float()), nil })
	case fk == repr.KindFloat8 && tk == repr.KindFloat4:
		return ctx(Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			f := d.Float()
			return floatResult(repr.KindFloat4, f, isInf(f), f == 0)
		})
	case (fk == repr.KindFloat4 || fk == repr.KindFloat8) && tk == repr.KindNumeric:
		digits := 15
		if fk == repr.KindFloat4 {
			digits = 6
		}
		return ctx(Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			f := d.Float()
			switch {
			case math.IsNaN(f):
				return repr.NumericDatum(&apd.Decimal{Form: apd.NaN}), nil
			case math.IsInf(f, 0):
				return repr.NumericDatum(&apd.Decimal{Form: apd.Infinite, Negative: f < 0}), nil
			}
			n, _, err := apd.NewFromString(strconv.FormatFloat(f, 'g', digits, 64))
			if err != nil {
				return repr.Null, errorf(pgcode.InternalError, "expr: float to numeric: %v", err)
			}
			if n.Exponent > 0 {
				// PostgreSQL prints 1e+20 as 100000000000000000000.
				var r apd.Decimal
				c := numExact
				c.Precision = uint32(len(n.Coeff.String()) + int(n.Exponent) + 1)
				_, _ = c.Quantize(&r, n, 0)
				n = &r
			}
			return numericDatum(n), nil // -0.0::numeric is 0
		})
	case fk == repr.KindNumeric && tk.IsInteger():
		return ctx(Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			n := d.Numeric()
			switch n.Form {
			case apd.NaN, apd.NaNSignaling:
				return repr.Null, errorf(pgcode.FeatureNotSupported, "cannot convert NaN to %s", to.Kind)
			case apd.Infinite:
				return repr.Null, errorf(pgcode.FeatureNotSupported, "cannot convert infinity to %s", to.Kind)
			}
			r, err := roundScale(n, 0)
			if err != nil {
				return repr.Null, intRangeErr(tk)
			}
			v, err := r.Int64()
			if err != nil {
				return repr.Null, intRangeErr(tk)
			}
			return checkInt(tk, v)
		})
	case fk == repr.KindNumeric && (tk == repr.KindFloat4 || tk == repr.KindFloat8):
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			n := d.Numeric()
			var f float64
			switch n.Form {
			case apd.NaN, apd.NaNSignaling:
				f = math.NaN()
			case apd.Infinite:
				f = math.Inf(1)
				if n.Negative {
					f = math.Inf(-1)
				}
			default:
				bits := 64
				if tk == repr.KindFloat4 {
					bits = 32
				}
				s := n.Text('e')
				v, err := strconv.ParseFloat(s, bits)
				if err != nil {
					return repr.Null, errorf(pgcode.NumericValueOutOfRange, "%q is out of range for type %s", n.Text('f'), to.Kind)
				}
				f = v
			}
			if tk == repr.KindFloat4 {
				return repr.Float4Datum(float32(f)), nil
			}
			return repr.Float8Datum(f), nil
		})
	case fk == repr.KindBool && tk == repr.KindInt4:
		return ctx(Explicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) { return repr.Int4Datum(int32(d.Int())), nil })
	case fk == repr.KindInt4 && tk == repr.KindBool:
		return ctx(Explicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) { return repr.BoolDatum(d.Int() != 0), nil })
	case fk.IsInteger() && tk == repr.KindOid:
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			v := d.Int()
			if v < math.MinInt32 || v > math.MaxUint32 {
				return repr.Null, errorf(pgcode.NumericValueOutOfRange, "OID out of range")
			}
			return repr.OidDatum(uint32(v)), nil
		})
	case fk == repr.KindOid && (tk == repr.KindInt4 || tk == repr.KindInt8):
		return ctx(Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			if tk == repr.KindInt4 {
				return repr.Int4Datum(int32(uint32(d.Int()))), nil
			}
			return repr.Int8Datum(int64(uint32(d.Int()))), nil
		})
	case fk == repr.KindDate && (tk == repr.KindTimestamp || tk == repr.KindTimestampTz):
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			us, err := dateMicros(int64(d.Days()))
			if err != nil {
				return repr.Null, err
			}
			if tk == repr.KindTimestamp {
				return repr.TimestampDatum(us), nil
			}
			return repr.TimestampTzDatum(us), nil
		})
	case fk == repr.KindTimestamp && tk == repr.KindTimestampTz:
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) { return d.WithKind(tk), nil })
	case fk == repr.KindTimestampTz && tk == repr.KindTimestamp:
		return ctx(Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) { return d.WithKind(tk), nil })
	case (fk == repr.KindTimestamp || fk == repr.KindTimestampTz) && tk == repr.KindDate:
		return ctx(Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			return repr.DateDatum(int32(floorDiv(d.Micros(), repr.MicrosPerDay))), nil
		})
	case (fk == repr.KindTimestamp || fk == repr.KindTimestampTz) && tk == repr.KindTime:
		return ctx(Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			us := d.Micros() - floorDiv(d.Micros(), repr.MicrosPerDay)*repr.MicrosPerDay
			return repr.TimeDatum(us), nil
		})
	case fk == repr.KindTime && tk == repr.KindInterval:
		return ctx(Implicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			return repr.IntervalDatum(repr.Interval{Micros: d.Micros()}), nil
		})
	case fk == repr.KindInterval && tk == repr.KindTime:
		return ctx(Assignment, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) {
			us := d.Interval().Micros % repr.MicrosPerDay
			if us < 0 {
				us += repr.MicrosPerDay
			}
			return repr.TimeDatum(us), nil
		})
	case fk == repr.KindJsonb && (tk == repr.KindBool || tk.IsNumeric()):
		return ctx(Explicit, func(_ *EvalCtx, d repr.Datum) (repr.Datum, error) { return jsonbToScalar(d, to) })
	}
	return 0, nil, false
}

// jsonbToScalar converts a jsonb scalar to bool or a number, as
// PostgreSQL's jsonb_bool/jsonb_int4/... do.
func jsonbToScalar(d repr.Datum, to repr.ScalarType) (repr.Datum, error) {
	v, err := repr.ParseJSONB(d)
	if err != nil {
		return repr.Null, err
	}
	want := repr.JSONNumber
	if to.Kind == repr.KindBool {
		want = repr.JSONBool
	}
	if v.Kind != want {
		kind := v.Kind.String()
		if v.Kind == repr.JSONBool {
			kind = "boolean"
		}
		return repr.Null, errorf(pgcode.InvalidParameterValue, "cannot cast jsonb %s to type %s", kind, to.Kind)
	}
	if want == repr.JSONBool {
		return repr.BoolDatum(v.Bool), nil
	}
	n := repr.NumericDatum(v.Decimal())
	if to.Kind == repr.KindNumeric {
		return n, nil
	}
	c, _ := LookupCast(repr.TypeNumeric, to)
	return c.Func.Eval(nil, []repr.Datum{n})
}

// typmodCoercion returns the function applying t's modifier to a value of
// kind t.Kind, or nil when there is none to apply. explicit selects
// truncation (CAST) over the assignment error for strings.
func typmodCoercion(t repr.ScalarType, explicit bool) func(repr.Datum) (repr.Datum, error) {
	switch t.Kind {
	case repr.KindVarchar, repr.KindChar:
		if t.Typmod < 0 {
			return nil
		}
		n := int(t.Typmod)
		pad := t.Kind == repr.KindChar
		return func(d repr.Datum) (repr.Datum, error) {
			s, err := coerceLength(d.Str(), n, pad, explicit, t)
			if err != nil {
				return repr.Null, err
			}
			return repr.StringDatum(t.Kind, s), nil
		}
	case repr.KindNumeric:
		p, s, ok := t.NumericPrecisionScale()
		if !ok {
			return nil
		}
		return func(d repr.Datum) (repr.Datum, error) {
			n, err := ApplyNumericTypmod(d.Numeric(), p, s)
			if err != nil {
				return repr.Null, err
			}
			return repr.NumericDatum(n), nil
		}
	case repr.KindInterval:
		if t.Typmod < 0 {
			return nil
		}
		return func(d repr.Datum) (repr.Datum, error) {
			return repr.IntervalDatum(repr.AdjustInterval(d.Interval(), t.Typmod)), nil
		}
	case repr.KindArray:
		if t.Elem == nil {
			return nil
		}
		et := typmodCoercion(*t.Elem, explicit)
		if et == nil {
			return nil
		}
		return func(d repr.Datum) (repr.Datum, error) {
			elems := d.Elements(nil)
			for i, e := range elems {
				if e.IsNull() {
					continue
				}
				v, err := et(e)
				if err != nil {
					return repr.Null, err
				}
				elems[i] = v
			}
			return repr.ArrayDatum(elems), nil
		}
	}
	return nil
}

// coerceLength applies varchar(n)/char(n): too-long values are an error
// 22001 on assignment unless the excess is spaces, and truncated when
// explicit; char(n) pads with spaces to n characters.
func coerceLength(s string, n int, pad, explicit bool, t repr.ScalarType) (string, error) {
	count := utf8.RuneCountInString(s)
	if count > n {
		cut := 0
		for i := 0; i < n; i++ {
			_, size := utf8.DecodeRuneInString(s[cut:])
			cut += size
		}
		if !explicit && strings.TrimRight(s[cut:], " ") != "" {
			return "", errorf(pgcode.StringDataRightTruncation, "value too long for type %s", t)
		}
		return s[:cut], nil
	}
	if pad && count < n {
		return s + strings.Repeat(" ", n-count), nil
	}
	return s, nil
}

// ApplyNumericTypmod rounds n to scale s (half away from zero) and checks
// that it fits precision p, with PostgreSQL's 22003 "numeric field
// overflow" error.
func ApplyNumericTypmod(n *apd.Decimal, p, s int32) (*apd.Decimal, error) {
	if n.Form == apd.NaN {
		return n, nil
	}
	if n.Form == apd.Infinite {
		return nil, errorf(pgcode.NumericValueOutOfRange, "numeric field overflow").
			WithDetail("A field with precision %d, scale %d cannot hold an infinite value.", p, s)
	}
	r, err := roundScale(n, s)
	if err != nil {
		return nil, err
	}
	if !r.IsZero() {
		digits := int64(len(r.Coeff.String())) + int64(r.Exponent) // digits before the point
		if digits > int64(p-s) {
			maxdigits := p - s
			lim := "1"
			if maxdigits > 0 {
				lim = fmt.Sprintf("10^%d", maxdigits)
			}
			return nil, errorf(pgcode.NumericValueOutOfRange, "numeric field overflow").
				WithDetail("A field with precision %d, scale %d must round to an absolute value less than %s.", p, s, lim)
		}
	}
	return r, nil
}

// NewCast returns the expression casting e (of type from) to type to in
// context ctx, or 42846 "cannot cast type %s to %s" when no cast exists or
// the cast is not allowed in ctx. A cast to the identical type returns e.
func NewCast(e Scalar, from, to repr.ScalarType, ctx CastContext) (Scalar, error) {
	if from.Equal(to) {
		return e, nil
	}
	c, ok := LookupCast(from, to)
	if !ok || c.Context > ctx {
		return nil, errorf("42846", "cannot cast type %s to %s", from, to)
	}
	return Call{Func: c.FuncFor(ctx), Args: []Scalar{e}}, nil
}
