package expr

import (
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

func TestAggregateType(t *testing.T) {
	// Expected result types from PostgreSQL 15's pg_aggregate.
	cases := []struct {
		f    AggregateFunc
		arg  repr.ScalarType
		want string
	}{
		{AggCount, repr.TypeText, "bigint"},
		{AggCountStar, repr.TypeUnknown, "bigint"},
		{AggSum, repr.TypeInt2, "bigint"},
		{AggSum, repr.TypeInt4, "bigint"},
		{AggSum, repr.TypeInt8, "numeric"},
		{AggSum, repr.TypeFloat4, "real"},
		{AggSum, repr.TypeFloat8, "double precision"},
		{AggSum, repr.NumericType(10, 2), "numeric"},
		{AggSum, repr.TypeInterval, "interval"},
		{AggAvg, repr.TypeInt4, "numeric"},
		{AggAvg, repr.TypeInt8, "numeric"},
		{AggAvg, repr.TypeFloat4, "double precision"},
		{AggAvg, repr.TypeNumeric, "numeric"},
		{AggAvg, repr.TypeInterval, "interval"},
		{AggMin, repr.TypeDate, "date"},
		{AggMax, repr.TypeText, "text"},
		{AggMax, repr.NumericType(10, 2), "numeric(10,2)"},
		{AggMax, repr.ArrayOf(repr.TypeInt4), "integer[]"},
		{AggBoolAnd, repr.TypeBool, "boolean"},
		{AggBoolOr, repr.TypeBool, "boolean"},
		{AggStringAgg, repr.TypeText, "text"},
		{AggStringAgg, repr.TypeBytea, "bytea"},
		{AggArrayAgg, repr.TypeInt8, "bigint[]"},
		{AggJsonbAgg, repr.TypeInt4, "jsonb"},
		{AggJsonbObjectAgg, repr.TypeRecord, "jsonb"},
		{AggStddevSamp, repr.TypeInt4, "numeric"},
		{AggStddevPop, repr.TypeFloat4, "double precision"},
		{AggVarSamp, repr.TypeNumeric, "numeric"},
		{AggVarPop, repr.TypeInt8, "numeric"},
	}
	for _, c := range cases {
		got, err := AggregateType(c.f, c.arg)
		if err != nil {
			t.Errorf("%s(%s): %v", c.f, c.arg, err)
			continue
		}
		if got.String() != c.want {
			t.Errorf("%s(%s) = %s, want %s", c.f, c.arg, got, c.want)
		}
	}
	for _, c := range []struct {
		f   AggregateFunc
		arg repr.ScalarType
		msg string
	}{
		{AggSum, repr.TypeText, "function sum(text) does not exist"},
		{AggAvg, repr.TypeBool, "function avg(boolean) does not exist"},
		{AggMax, repr.TypeJsonb, "function max(jsonb) does not exist"},
		{AggBoolAnd, repr.TypeInt4, "function bool_and(integer) does not exist"},
	} {
		_, err := AggregateType(c.f, c.arg)
		if pgcode.Of(err) != pgcode.UndefinedFunction || err.Error() != c.msg {
			t.Errorf("%s(%s): got %v, want 42883 %q", c.f, c.arg, err, c.msg)
		}
	}
}

func TestAggregateString(t *testing.T) {
	a := Aggregate{Func: AggSum, Expr: col(1), Distinct: true}
	if a.String() != "sum(distinct #1)" {
		t.Fatal(a.String())
	}
	if !AggSum.Accumulable() || AggMax.Accumulable() {
		t.Fatal("Accumulable")
	}
}
