package expr

import "github.com/viewd/viewd/repr"

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
)

var aggNames = [...]string{
	AggCount: "count", AggCountStar: "count(*)", AggSum: "sum", AggAvg: "avg",
	AggMin: "min", AggMax: "max", AggBoolAnd: "bool_and", AggBoolOr: "bool_or",
	AggStringAgg: "string_agg", AggArrayAgg: "array_agg", AggJsonbAgg: "jsonb_agg",
	AggJsonbObjectAgg: "jsonb_object_agg", AggStddevSamp: "stddev_samp",
	AggStddevPop: "stddev_pop", AggVarSamp: "var_samp", AggVarPop: "var_pop",
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
}

// OrderKey is one ORDER BY key: an expression and its direction.
type OrderKey struct {
	Expr  Scalar
	Order repr.SortOrder
}

// String prints e.g. "sum(distinct #1)".
func (a Aggregate) String() string {
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
