package dataflow

import (
	"context"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// TestReduceOrderedSetAndBitAggregates: percentile_disc, percentile_cont,
// mode, bit_and/bit_or/bit_xor and jsonb_object_agg follow inserts and
// retractions, NULLs ignored (values checked against PostgreSQL 15).
func TestReduceOrderedSetAndBitAggregates(t *testing.T) {
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("t", 2) // (x int8, k text)
	rec := &expr.Func{Name: "row", Ret: repr.TypeRecord, Eval: func(_ *expr.EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.RecordDatum([]repr.Datum{a[0], a[1]}), nil
	}}
	f8 := func(f float64) expr.Scalar {
		return expr.Literal{Value: repr.Float8Datum(f), Typ: repr.ColumnType{Type: repr.TypeFloat8}}
	}
	toF8, _ := expr.LookupCast(repr.TypeInt8, repr.TypeFloat8)
	asc := []expr.OrderKey{{Expr: col(0)}}
	i8 := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
	r, err := in.Collection().Reduce(nil, []expr.Aggregate{
		{Func: expr.AggPercentileDisc, Expr: call(rec, col(0), f8(0.5)), OrderBy: asc, Typ: i8},
		{Func: expr.AggPercentileCont, Expr: call(rec, call(toF8.Func, col(0)), f8(0.25)), OrderBy: asc,
			Typ: repr.ColumnType{Type: repr.TypeFloat8, Nullable: true}},
		{Func: expr.AggMode, Expr: col(0), OrderBy: []expr.OrderKey{{Expr: col(0), Order: repr.SortOrder{Desc: true}}}, Typ: i8},
		{Func: expr.AggBitAnd, Expr: col(0), Typ: i8},
		{Func: expr.AggBitOr, Expr: col(0), Typ: i8},
		{Func: expr.AggBitXor, Expr: col(0), Typ: i8},
		{Func: expr.AggJsonbObjectAgg, Expr: call(rec, col(1), col(0)), OrderBy: asc, Typ: repr.ColumnType{Type: repr.TypeJsonb, Nullable: true}},
	})
	must(t, err)
	out := r.Materialize(0)
	row := func(x int64, k string) repr.Row { return repr.PackRow(repr.Int8Datum(x), repr.TextDatum(k)) }
	ctx := context.Background()
	must(t, in.Send(repr.Update{Row: row(3, "a"), Time: 1, Diff: 1}, repr.Update{Row: row(5, "b"), Time: 1, Diff: 2},
		repr.Update{Row: row(6, "c"), Time: 1, Diff: 1}, repr.Update{Row: repr.PackRow(repr.Null, repr.TextDatum("n")), Time: 1, Diff: 1}))
	must(t, g.Step(ctx, 1))
	// Values 3, 5, 5, 6: percentile_disc(0.5) is 5; percentile_cont(0.25)
	// is 3 + (5-3)*0.75 = 4.5; the mode is 5; 3&5&5&6 = 0, 3|5|6 = 7,
	// 3^5^5^6 = 5; b's value is 5 (twice), n's null.
	got, _ := readOne(t, out, 1)
	want := `(5, 4.5, 5, 0, 7, 5, '{"a": 3, "b": 5, "c": 6, "n": null}')`
	if got != want {
		t.Fatalf("as of 1:\n got %s\nwant %s", got, want)
	}
	must(t, in.Send(repr.Update{Row: row(5, "b"), Time: 2, Diff: -1}, repr.Update{Row: row(3, "a"), Time: 2, Diff: -1}))
	must(t, g.Step(ctx, 2))
	// Values 5, 6: percentile_disc(0.5) is 5, percentile_cont(0.25) 5.25;
	// the mode ties 5 and 6, the first in DESC order wins: 6.
	got, _ = readOne(t, out, 2)
	want = `(5, 5.25, 6, 4, 7, 3, '{"b": 5, "c": 6, "n": null}')`
	if got != want {
		t.Fatalf("as of 2:\n got %s\nwant %s", got, want)
	}
}

// TestReduceEqualIntervalsKeepTheirFields: '24 hours' and '1 day' are
// equal and share a sort key; min and array_agg still keep each with its
// multiplicity, so retracting '24 hours' leaves '1 day' (min once kept
// showing the retracted value).
func TestReduceEqualIntervalsKeepTheirFields(t *testing.T) {
	g := NewGraph(Options{Workers: 1})
	in := g.NewInput("t", 1)
	ivT := repr.ColumnType{Type: repr.TypeInterval, Nullable: true}
	r, err := in.Collection().Reduce(nil, []expr.Aggregate{
		{Func: expr.AggMin, Expr: col(0), Typ: ivT},
		{Func: expr.AggArrayAgg, Expr: col(0), OrderBy: []expr.OrderKey{{Expr: col(0)}}, Typ: repr.ColumnType{Type: repr.ArrayOf(repr.TypeInterval), Nullable: true}},
		{Func: expr.AggCount, Expr: col(0), Distinct: true, Typ: repr.ColumnType{Type: repr.TypeInt8}},
	})
	must(t, err)
	out := r.Materialize(0)
	iv := func(s string) repr.Row {
		x, err := repr.ParseInterval(s)
		must(t, err)
		return repr.PackRow(repr.IntervalDatum(x))
	}
	ctx := context.Background()
	must(t, in.Send(repr.Update{Row: iv("24 hours"), Time: 1, Diff: 1}, repr.Update{Row: iv("1 day"), Time: 1, Diff: 1}))
	must(t, g.Step(ctx, 1))
	got, _ := readOne(t, out, 1)
	// Equal values in the order of their packed fields.
	if want := `('24:00:00', '{24:00:00,"1 day"}', 1)`; got != want {
		t.Fatalf("as of 1:\n got %s\nwant %s", got, want)
	}
	must(t, in.Send(repr.Update{Row: iv("24 hours"), Time: 2, Diff: -1}))
	must(t, g.Step(ctx, 2))
	got, _ = readOne(t, out, 2)
	if want := `('1 day', '{"1 day"}', 1)`; got != want {
		t.Fatalf("as of 2:\n got %s\nwant %s", got, want)
	}
}
