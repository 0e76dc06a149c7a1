package dataflow

import (
	"context"
	"math"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

func readOne(t *testing.T, o *Output, at repr.Timestamp) (string, *Rows) {
	t.Helper()
	ok, errs, err := o.Read(at)
	must(t, err)
	if ok.Len() > 1 {
		t.Fatalf("want at most one row, got %s", fromRows(ok))
	}
	if ok.Len() == 0 {
		return "", errs
	}
	return ok.Row(0).String(), errs
}

// TestReduceOrderedAggregates: string_agg, array_agg and jsonb_agg follow
// their ORDER BY; bool_and/bool_or and avg accumulate; all follow
// retractions.
func TestReduceOrderedAggregates(t *testing.T) {
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("t", 3) // (k int8, s text, b bool)
	rec := &expr.Func{Name: "row", Ret: repr.TypeRecord, Eval: func(_ *expr.EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.RecordDatum([]repr.Datum{a[0], a[1]}), nil
	}}
	comma := expr.Literal{Value: repr.TextDatum(","), Typ: repr.ColumnType{Type: repr.TypeText}}
	desc := []expr.OrderKey{{Expr: col(1), Order: repr.SortOrder{Desc: true}}}
	r, err := in.Collection().Reduce(nil, []expr.Aggregate{
		{Func: expr.AggStringAgg, Expr: call(rec, col(1), comma), OrderBy: desc, Typ: repr.ColumnType{Type: repr.TypeText, Nullable: true}},
		{Func: expr.AggArrayAgg, Expr: col(1), OrderBy: []expr.OrderKey{{Expr: col(1)}}, Typ: repr.ColumnType{Type: repr.ArrayOf(repr.TypeText), Nullable: true}},
		{Func: expr.AggJsonbAgg, Expr: col(0), OrderBy: []expr.OrderKey{{Expr: col(0)}}, Typ: repr.ColumnType{Type: repr.TypeJsonb, Nullable: true}},
		{Func: expr.AggBoolAnd, Expr: col(2), Typ: repr.ColumnType{Type: repr.TypeBool, Nullable: true}},
		{Func: expr.AggBoolOr, Expr: col(2), Typ: repr.ColumnType{Type: repr.TypeBool, Nullable: true}},
		{Func: expr.AggAvg, Expr: col(0), Typ: repr.ColumnType{Type: repr.TypeNumeric, Nullable: true}},
		{Func: expr.AggStringAgg, Expr: call(rec, col(1), comma), Distinct: true, OrderBy: desc, Typ: repr.ColumnType{Type: repr.TypeText, Nullable: true}},
	})
	must(t, err)
	out := r.Materialize(0)
	row := func(k int64, s string, b bool) repr.Row {
		return repr.PackRow(repr.Int8Datum(k), repr.TextDatum(s), repr.BoolDatum(b))
	}
	ctx := context.Background()
	must(t, in.Send(repr.Update{Row: row(1, "a", true), Time: 1, Diff: 1}, repr.Update{Row: row(2, "c", true), Time: 1, Diff: 1},
		repr.Update{Row: row(4, "b", false), Time: 1, Diff: 1}, repr.Update{Row: row(4, "b", false), Time: 1, Diff: 1}))
	must(t, g.Step(ctx, 1))
	got, _ := readOne(t, out, 1)
	want := `('c,b,b,a', '{a,b,b,c}', '[1, 2, 4, 4]', false, true, 2.7500000000000000, 'c,b,a')`
	if got != want {
		t.Fatalf("as of 1:\n got %s\nwant %s", got, want)
	}
	must(t, in.Send(repr.Update{Row: row(4, "b", false), Time: 2, Diff: -2}))
	must(t, g.Step(ctx, 2))
	got, _ = readOne(t, out, 2)
	want = `('c,a', '{a,c}', '[1, 2]', true, true, 1.5000000000000000, 'c,a')`
	if got != want {
		t.Fatalf("as of 2:\n got %s\nwant %s", got, want)
	}
}

// TestReduceSumOverflow: a bigint sum that leaves the int64 range is an
// error of its group (SQLSTATE 22003), which clears when the sum comes
// back in range; numeric sums of the same values are exact.
func TestReduceSumOverflow(t *testing.T) {
	g := NewGraph(Options{Workers: 1})
	in := g.NewInput("t", 1)
	r, err := in.Collection().Reduce(nil, []expr.Aggregate{
		{Func: expr.AggSum, Expr: col(0), Typ: repr.ColumnType{Type: repr.TypeInt8, Nullable: true}},
	})
	must(t, err)
	rn, _ := in.Collection().Reduce(nil, []expr.Aggregate{
		{Func: expr.AggSum, Expr: col(0), Typ: repr.ColumnType{Type: repr.TypeNumeric, Nullable: true}},
	})
	out, outN := r.Materialize(0), rn.Materialize(0)
	ctx := context.Background()
	must(t, in.Send(repr.Update{Row: irow(math.MaxInt64), Time: 1, Diff: 1}, repr.Update{Row: irow(10), Time: 1, Diff: 1}))
	must(t, g.Step(ctx, 1))
	got, errs := readOne(t, out, 1)
	if got != "" || errs.Len() != 1 || DecodeErrRow(errs.Row(0)).Code != pgcode.NumericValueOutOfRange {
		t.Fatalf("want an out-of-range error, got %q / %s", got, fromRows(errs))
	}
	if got, _ := readOne(t, outN, 1); got != "(9223372036854775817)" {
		t.Fatalf("numeric sum: %s", got)
	}
	must(t, in.Send(repr.Update{Row: irow(10), Time: 2, Diff: -1}))
	must(t, g.Step(ctx, 2))
	got, errs = readOne(t, out, 2)
	if got != "(9223372036854775807)" || errs.Len() != 0 {
		t.Fatalf("after the retraction: %q / %s", got, fromRows(errs))
	}
}

// TestReduceNegativeMultiplicity: retracting a row that was never inserted
// yields an error for its group instead of a wrong aggregate.
func TestReduceNegativeMultiplicity(t *testing.T) {
	g := NewGraph(Options{Workers: 1})
	in := g.NewInput("t", 2)
	r, _ := in.Collection().Reduce([]expr.Scalar{col(0)}, []expr.Aggregate{{Func: expr.AggCountStar, Typ: repr.ColumnType{Type: repr.TypeInt8}}})
	out := r.Materialize(0)
	must(t, in.Send(repr.Update{Row: irow(1, 1), Time: 1, Diff: -1}))
	must(t, g.Step(context.Background(), 1))
	if _, errs := readOne(t, out, 1); errs.Len() != 1 {
		t.Fatalf("want an error for the negative group")
	}
}

// TestReduceVariance checks var_pop, var_samp, stddev_pop and stddev_samp
// of {2, 4, 4, 4, 5, 5, 7, 9} (population variance 4, stddev 2) and after
// retracting one 9.
func TestReduceVariance(t *testing.T) {
	g := NewGraph(Options{Workers: 1})
	in := g.NewInput("t", 1)
	num := repr.ColumnType{Type: repr.TypeNumeric, Nullable: true}
	r, err := in.Collection().Reduce(nil, []expr.Aggregate{
		{Func: expr.AggVarPop, Expr: col(0), Typ: num}, {Func: expr.AggStddevPop, Expr: col(0), Typ: num},
		{Func: expr.AggVarSamp, Expr: col(0), Typ: num}, {Func: expr.AggStddevSamp, Expr: col(0), Typ: repr.ColumnType{Type: repr.TypeFloat8}},
	})
	must(t, err)
	out := r.Materialize(0)
	for _, v := range []int64{2, 4, 4, 4, 5, 5, 7, 9} {
		must(t, in.Send(repr.Update{Row: irow(v), Time: 1, Diff: 1}))
	}
	must(t, g.Step(context.Background(), 1))
	got, _ := readOne(t, out, 1)
	if want := "(4.0000000000000000, 2.0000000000000000, 4.5714285714285714, 2.138089935299395)"; got != want { // PostgreSQL 15 prints these scales
		t.Fatalf("got %s want %s", got, want)
	}
	must(t, in.Send(repr.Update{Row: irow(9), Time: 2, Diff: -1}))
	must(t, g.Step(context.Background(), 2))
	got, _ = readOne(t, out, 2)
	if want := "(1.9591836734693878, 1.3997084244475304, 2.2857142857142857, 1.5118578920369088)"; got != want { // PostgreSQL 15: 1.3997084244475304 (the square root of the rounded variance)
		t.Fatalf("got %s want %s", got, want)
	}
}
