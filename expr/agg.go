package expr

import (
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// AggregateFunc names an aggregate function.
type AggregateFunc uint8

// The aggregates. Accumulable ones (count, sum, avg, bool_and, bool_or) are
// maintained as accumulators updated by each diff; the others (min, max,
// string_agg, array_agg, jsonb_agg) are re-derived per changed group from
// the arranged group.
const (
	AggCount     AggregateFunc = iota // count(expr): non-NULL values
	AggCountStar                      // count(*)
	AggSum
	AggAvg
	AggMin
	AggMax
	AggBoolAnd
	AggBoolOr
	AggStringAgg // Expr is a record (value, delimiter)
	AggArrayAgg
	AggJsonbAgg
	AggJsonbObjectAgg // Expr is a record (key, value)
	AggStddevSamp
	AggStddevPop
	AggVarSamp
	AggVarPop
	AggBitAnd
	AggBitOr
	AggBitXor
	// The ordered-set aggregates (... WITHIN GROUP (ORDER BY x)): Expr is
	// the record (x, fraction) for the percentiles, x for mode; OrderBy
	// is x with the WITHIN GROUP direction. The fraction is the same for
	// every row of a group (a constant).
	AggPercentileDisc
	AggPercentileCont
	AggMode
)

var aggNames = [...]string{
	AggCount: "count", AggCountStar: "count(*)", AggSum: "sum", AggAvg: "avg",
	AggMin: "min", AggMax: "max", AggBoolAnd: "bool_and", AggBoolOr: "bool_or",
	AggStringAgg: "string_agg", AggArrayAgg: "array_agg", AggJsonbAgg: "jsonb_agg",
	AggJsonbObjectAgg: "jsonb_object_agg", AggStddevSamp: "stddev_samp",
	AggStddevPop: "stddev_pop", AggVarSamp: "var_samp", AggVarPop: "var_pop",
	AggBitAnd: "bit_and", AggBitOr: "bit_or", AggBitXor: "bit_xor",
	AggPercentileDisc: "percentile_disc", AggPercentileCont: "percentile_cont", AggMode: "mode",
}

// OrderedSet reports whether the aggregate is an ordered-set aggregate,
// called as f(direct args) WITHIN GROUP (ORDER BY x).
func (f AggregateFunc) OrderedSet() bool {
	return f == AggPercentileDisc || f == AggPercentileCont || f == AggMode
}

// String returns the aggregate's SQL name.
func (f AggregateFunc) String() string {
	if int(f) < len(aggNames) {
		return aggNames[f]
	}
	return "agg?"
}

// Accumulable reports whether the aggregate can be maintained from diffs
// alone (an accumulator per group), without reading the group's values.
func (f AggregateFunc) Accumulable() bool {
	switch f {
	case AggCount, AggCountStar, AggSum, AggAvg, AggBoolAnd, AggBoolOr,
		AggStddevSamp, AggStddevPop, AggVarSamp, AggVarPop:
		return true
	}
	return false
}

// Aggregate is one aggregate of a Reduce: Func applied to Expr (over the
// Reduce's input columns), over distinct values when Distinct. OrderBy
// orders the values for order-sensitive aggregates (string_agg, array_agg,
// jsonb_agg): columns of the record Expr evaluates to beyond the aggregated
// value(s), with their sort orders.
type Aggregate struct {
	Func     AggregateFunc
	Expr     Scalar
	Distinct bool
	// Typ is the aggregate's output type.
	Typ repr.ColumnType
	// OrderBy lists sort keys as expressions over the Reduce's input.
	OrderBy []OrderKey
	// Filter is FILTER (WHERE ...) over the Reduce's input, nil when
	// absent. A row where it is not true is not fed to the aggregate at
	// all (its Expr and OrderBy are not evaluated), so the aggregate of a
	// group none of whose rows pass is that of no rows (NULL; 0 for
	// count). Feeding NULL instead would be wrong for the aggregates
	// that keep NULLs (array_agg, jsonb_agg).
	Filter Scalar
}

// OrderKey is one ORDER BY key: an expression and its direction.
type OrderKey struct {
	Expr  Scalar
	Order repr.SortOrder
}

// String prints e.g. "sum(distinct #1)" or "count(*) filter (where #2)".
func (a Aggregate) String() string {
	if a.Filter != nil {
		return a.unfiltered() + " filter (where " + a.Filter.String() + ")"
	}
	return a.unfiltered()
}

func (a Aggregate) unfiltered() string {
	if a.Func == AggCountStar {
		return "count(*)"
	}
	s := a.Func.String() + "("
	if a.Distinct {
		s += "distinct "
	}
	s += a.Expr.String()
	for i, k := range a.OrderBy {
		if i == 0 {
			s += " order by "
		} else {
			s += ", "
		}
		s += k.Expr.String()
		if k.Order.Desc {
			s += " desc"
		}
	}
	return s + ")"
}

// AggregateType returns the result type of aggregate f over values of type
// arg, as PostgreSQL types it: count -> bigint; sum(smallint|integer) ->
// bigint, sum(bigint|numeric) -> numeric, sum(real) -> real, sum(double
// precision) -> double precision, sum(interval) -> interval; avg of
// integers or numeric -> numeric, of floats -> double precision; min/max ->
// arg; bool_and/bool_or -> boolean; string_agg -> text (bytea for bytea);
// array_agg -> arg[]; jsonb_agg/jsonb_object_agg -> jsonb; stddev and
// variance of integers or numeric -> numeric, of floats -> double
// precision; bit_and/bit_or/bit_xor -> arg (integers); percentile_disc
// and mode -> arg; percentile_cont -> double precision or interval. For the order-sensitive aggregates arg is the type of the
// aggregated value, not of the record carrying the ORDER BY keys. An
// aggregate PostgreSQL does not define for arg is 42883 "function
// sum(text) does not exist".
func AggregateType(f AggregateFunc, arg repr.ScalarType) (repr.ScalarType, error) {
	k := arg.Kind
	undefined := func() (repr.ScalarType, error) {
		name := f.String()
		if f == AggCountStar {
			name = "count"
		}
		return repr.ScalarType{}, pgcode.New(pgcode.UndefinedFunction, "function %s(%s) does not exist", name, arg).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
	}
	switch f {
	case AggCount, AggCountStar:
		return repr.TypeInt8, nil
	case AggSum:
		switch k {
		case repr.KindInt2, repr.KindInt4:
			return repr.TypeInt8, nil
		case repr.KindInt8, repr.KindNumeric:
			return repr.TypeNumeric, nil
		case repr.KindFloat4, repr.KindFloat8, repr.KindInterval:
			return arg.WithoutTypmod(), nil
		case repr.KindNull:
			return repr.ScalarType{}, pgcode.New(pgcode.AmbiguousFunction, "function sum(unknown) is not unique")
		}
	case AggAvg:
		switch k {
		case repr.KindInt2, repr.KindInt4, repr.KindInt8, repr.KindNumeric:
			return repr.TypeNumeric, nil
		case repr.KindFloat4, repr.KindFloat8:
			return repr.TypeFloat8, nil
		case repr.KindInterval:
			return repr.TypeInterval, nil
		}
	case AggStddevSamp, AggStddevPop, AggVarSamp, AggVarPop:
		switch k {
		case repr.KindInt2, repr.KindInt4, repr.KindInt8, repr.KindNumeric:
			return repr.TypeNumeric, nil
		case repr.KindFloat4, repr.KindFloat8:
			return repr.TypeFloat8, nil
		}
	case AggMin, AggMax:
		switch k {
		case repr.KindBool, repr.KindJsonb, repr.KindUUID, repr.KindBytea, repr.KindRecord, repr.KindNull:
			return undefined()
		case repr.KindVarchar, repr.KindChar:
			// min/max(text) serve the string types; the result is text
			// for varchar and bpchar for char, as in PostgreSQL.
			if k == repr.KindVarchar {
				return repr.TypeText, nil
			}
			return repr.TypeChar, nil
		}
		return arg, nil
	case AggBoolAnd, AggBoolOr:
		if k == repr.KindBool {
			return repr.TypeBool, nil
		}
	case AggStringAgg:
		switch k {
		case repr.KindBytea:
			return repr.TypeBytea, nil
		case repr.KindText, repr.KindVarchar, repr.KindChar, repr.KindNull, repr.KindRecord:
			return repr.TypeText, nil
		}
	case AggArrayAgg:
		if k == repr.KindNull {
			return repr.ScalarType{}, pgcode.New(pgcode.IndeterminateDatatype, "could not determine polymorphic type because input has type unknown")
		}
		return repr.ArrayOf(arg), nil
	case AggJsonbAgg, AggJsonbObjectAgg:
		return repr.TypeJsonb, nil
	case AggBitAnd, AggBitOr, AggBitXor:
		if arg.Kind.IsInteger() {
			return arg.WithoutTypmod(), nil
		}
	case AggPercentileDisc, AggMode:
		if k != repr.KindNull {
			return arg.WithoutTypmod(), nil
		}
	case AggPercentileCont:
		// percentile_cont(float8) and percentile_cont(interval): the
		// planner casts other numbers to float8.
		if k == repr.KindFloat8 || k == repr.KindInterval {
			return arg.WithoutTypmod(), nil
		}
	}
	return undefined()
}
