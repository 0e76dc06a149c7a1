package expr

import (
	"math"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// TemporalMFP is a MapFilterProject whose temporal predicates — comparisons
// of mz_now() with an expression over the row — have been split out as
// bounds on logical time (Materialize's MfpPlan). For an input row it
// computes the output row and the half-open interval of logical times
// [lower, upper) during which the row is present: the temporal-filter
// operator inserts the row at max(update time, lower) and retracts it at
// upper. A row whose interval is empty is dropped.
//
// Bounds are evaluated over the columns of MFP (input and expressions);
// Projection then selects the output columns.
type TemporalMFP struct {
	// MFP holds the expressions and the non-temporal predicates; its
	// Projection is the identity over all its columns.
	MFP MapFilterProject
	// Lower are lower bounds: the row is present only at times >= each.
	Lower []Scalar
	// Upper are upper bounds: the row is present only at times < each.
	Upper []Scalar
	// Projection lists the output columns.
	Projection []int
}

// IsTemporal reports whether any predicate of m calls mz_now().
func (m *MapFilterProject) IsTemporal() bool {
	for _, p := range m.Predicates {
		if ContainsMzNow(p.Expr) {
			return true
		}
	}
	return false
}

// ExtractTemporal splits m's temporal predicates into bounds. Supported
// forms, possibly inside a conjunction (AND), are mz_now() op e and
// e op mz_now() with op one of = < <= > >=, where e does not call
// mz_now(). Any other use of mz_now() in a predicate, or mz_now() in an
// expression, is 0A000 (feature not supported), as in Materialize.
//
// For t = mz_now() (an integer) and numeric e: t >= e gives lower ceil(e);
// t > e gives lower floor(e)+1; t <= e gives upper floor(e)+1; t < e gives
// upper ceil(e); t = e gives both t >= e and t <= e.
func (m MapFilterProject) ExtractTemporal() (*TemporalMFP, error) {
	out := &TemporalMFP{
		MFP:        MapFilterProject{InputArity: m.InputArity, Expressions: append([]Scalar(nil), m.Expressions...)},
		Projection: append([]int(nil), m.Projection...),
	}
	for _, e := range m.Expressions {
		if ContainsMzNow(e) {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "mz_now() is only supported in WHERE, HAVING and ON clauses, compared with an expression: %s", e)
		}
	}
	for _, p := range m.Predicates {
		if !ContainsMzNow(p.Expr) {
			out.MFP.Predicates = append(out.MFP.Predicates, p)
			continue
		}
		for _, c := range conjuncts(p.Expr) {
			if !ContainsMzNow(c) {
				out.MFP.Predicates = append(out.MFP.Predicates, Predicate{Support: MaxColumn(c) + 1, Expr: c})
				continue
			}
			if err := out.addBound(c); err != nil {
				return nil, err
			}
		}
	}
	out.MFP.Projection = make([]int, out.MFP.Arity())
	for i := range out.MFP.Projection {
		out.MFP.Projection[i] = i
	}
	return out, nil
}

// Conjuncts flattens nested ANDs: the predicates that must all hold.
func Conjuncts(e Scalar) []Scalar { return conjuncts(e) }

// conjuncts flattens nested ANDs.
func conjuncts(e Scalar) []Scalar {
	if c, ok := e.(Call); ok && c.Func != nil && c.Func.special == specialAnd {
		var out []Scalar
		for _, a := range c.Args {
			out = append(out, conjuncts(a)...)
		}
		return out
	}
	return []Scalar{e}
}

// Bound-adjusting functions: numeric to numeric, applied to e before it is
// converted to a timestamp.
var (
	boundCeil = &Func{Name: "temporal_ceil", Ret: repr.TypeNumeric, Strict: true,
		Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) { return roundBound(a[0], apd.RoundCeiling, 0) }}
	boundFloorPlusOne = &Func{Name: "temporal_floor_plus_one", Ret: repr.TypeNumeric, Strict: true,
		Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) { return roundBound(a[0], apd.RoundFloor, 1) }}
)

func roundBound(d repr.Datum, mode apd.Rounder, plus int64) (repr.Datum, error) {
	n := d.Numeric()
	if n == nil || n.Form != apd.Finite {
		return d, nil
	}
	ctx := apd.BaseContext.WithPrecision(1000)
	ctx.Rounding = mode
	r := new(apd.Decimal)
	if _, err := ctx.Quantize(r, n, 0); err != nil {
		return repr.Null, pgcode.New(pgcode.NumericValueOutOfRange, "temporal bound out of range")
	}
	if plus != 0 {
		if _, err := ctx.Add(r, r, apd.New(plus, 0)); err != nil {
			return repr.Null, pgcode.New(pgcode.NumericValueOutOfRange, "temporal bound out of range")
		}
	}
	return repr.NumericDatum(r), nil
}

func (t *TemporalMFP) addBound(c Scalar) error {
	call, ok := c.(Call)
	unsupported := func() error {
		return pgcode.New(pgcode.FeatureNotSupported, "unsupported temporal predicate: %s", c).
			WithHint("Compare mz_now() with an expression, e.g. mz_now() < created_at + 60000, in a conjunction.")
	}
	if !ok || call.Func == nil || len(call.Args) != 2 {
		return unsupported()
	}
	opName := strings.TrimSpace(call.Func.Name)
	var e Scalar
	switch {
	case isMzNow(call.Args[0]) && !ContainsMzNow(call.Args[1]):
		e = call.Args[1]
	case isMzNow(call.Args[1]) && !ContainsMzNow(call.Args[0]):
		e = call.Args[0]
		// e op t  ==  t op' e
		opName = map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}[opName]
	default:
		return unsupported()
	}
	lower := func(f *Func) { t.Lower = append(t.Lower, Call{Func: f, Args: []Scalar{e}}) }
	upper := func(f *Func) { t.Upper = append(t.Upper, Call{Func: f, Args: []Scalar{e}}) }
	switch opName {
	case ">=":
		lower(boundCeil)
	case ">":
		lower(boundFloorPlusOne)
	case "<=":
		upper(boundFloorPlusOne)
	case "<":
		upper(boundCeil)
	case "=":
		lower(boundCeil)
		upper(boundFloorPlusOne)
	default:
		return unsupported()
	}
	return nil
}

func isMzNow(s Scalar) bool {
	switch s.(type) {
	case MzNow, *MzNow:
		return true
	}
	return false
}

// Apply evaluates t over one input row like MapFilterProject.Apply, and
// also returns the row's validity interval [lower, upper) in logical time;
// upper is repr.MaxTimestamp when unbounded. keep is false when a
// predicate fails, a bound is NULL, or the interval is empty.
func (t *TemporalMFP) Apply(ctx *EvalCtx, datums []repr.Datum, scratch *[]repr.Datum, out *repr.Packer) (keep bool, lower, upper repr.Timestamp, err error) {
	m := &t.MFP
	if len(datums) < m.InputArity {
		return false, 0, 0, pgcode.New(pgcode.InternalError, "expr: MFP expects %d input columns, got %d", m.InputArity, len(datums))
	}
	row := append((*scratch)[:0], datums[:m.InputArity]...)
	defer func() {
		clear(row[:cap(row)])
		*scratch = row[:0]
	}()
	row, keep, err = m.apply(ctx, row, nil)
	if err != nil || !keep {
		return false, 0, 0, err
	}
	lower, upper = 0, repr.MaxTimestamp
	for _, b := range t.Lower {
		v, ok, err := evalBound(ctx, b, row)
		if err != nil || !ok {
			return false, 0, 0, err
		}
		if v > lower {
			lower = v
		}
	}
	for _, b := range t.Upper {
		v, ok, err := evalBound(ctx, b, row)
		if err != nil || !ok {
			return false, 0, 0, err
		}
		if v < upper {
			upper = v
		}
	}
	if lower >= upper {
		return false, 0, 0, nil
	}
	for _, c := range t.Projection {
		out.Push(row[c])
	}
	return true, lower, upper, nil
}

// evalBound evaluates a bound to a timestamp, clamped to [0, MaxTimestamp]
// (NaN sorts above every number, as numeric comparison does). ok is false
// for NULL.
func evalBound(ctx *EvalCtx, b Scalar, row []repr.Datum) (repr.Timestamp, bool, error) {
	d, err := Eval(ctx, b, row)
	if err != nil || d.IsNull() {
		return 0, false, err
	}
	n := d.Numeric()
	switch {
	case n == nil:
		return 0, false, pgcode.New(pgcode.InternalError, "expr: temporal bound is not numeric")
	case n.Form == apd.NaN || n.Form == apd.NaNSignaling:
		return repr.MaxTimestamp, true, nil
	case n.Form == apd.Infinite:
		if n.Negative {
			return 0, true, nil
		}
		return repr.MaxTimestamp, true, nil
	case n.Negative:
		return 0, true, nil
	}
	if n.Cmp(apd.New(math.MaxInt64, 0)) >= 0 {
		return repr.MaxTimestamp, true, nil
	}
	var i apd.Decimal
	if _, err := apd.BaseContext.WithPrecision(100).RoundToIntegralValue(&i, n); err != nil {
		return 0, false, pgcode.New(pgcode.NumericValueOutOfRange, "temporal bound out of range")
	}
	v, err := i.Int64()
	if err != nil {
		return 0, false, pgcode.New(pgcode.NumericValueOutOfRange, "temporal bound out of range")
	}
	return repr.Timestamp(v), true, nil
}

// String prints t deterministically.
func (t *TemporalMFP) String() string {
	var b strings.Builder
	b.WriteString("temporal(")
	b.WriteString(t.MFP.String())
	for _, l := range t.Lower {
		b.WriteString(" lower=")
		b.WriteString(l.String())
	}
	for _, u := range t.Upper {
		b.WriteString(" upper=")
		b.WriteString(u.String())
	}
	b.WriteString(" project=[")
	for i, c := range t.Projection {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(c))
	}
	b.WriteString("])")
	return b.String()
}
