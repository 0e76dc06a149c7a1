package expr

import (
	"testing"

	"github.com/viewd/viewd/repr"
)

// typicalPredicate is (#0 > 10 AND #1 < 100) OR #2 = 7 over int4 columns.
func typicalPredicate(tb testing.TB) Scalar {
	return Or(And(op(tb, ">", col(0), i4(10)), op(tb, "<", col(1), i4(100))), op(tb, "=", col(2), i4(7)))
}

func TestEvalTypicalExprsNoAlloc(t *testing.T) {
	row := ints(50, 20, 3)
	ctx := &EvalCtx{}
	cases := map[string]Scalar{
		"column":    col(1),
		"literal":   i4(5),
		"arith":     op(t, "+", op(t, "*", col(0), i4(3)), col(1)),
		"compare":   op(t, "<=", col(0), col(1)),
		"predicate": typicalPredicate(t),
		"case":      If{Cond: op(t, ">", col(0), i4(1)), Then: col(1), Else: col(2)},
	}
	for name, e := range cases {
		if _, err := Eval(ctx, e, row); err != nil { // warm the stack
			t.Fatal(err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = Eval(ctx, e, row) }); n != 0 {
			t.Errorf("%s: %v allocations per Eval, want 0", name, n)
		}
	}
}

func TestMFPApplyDoesNotAllocate(t *testing.T) {
	m := benchMFP(t)
	ctx := &EvalCtx{}
	row := ints(50, 20, 3)
	var scratch []repr.Datum
	var out repr.Packer
	m.Apply(ctx, row, &scratch, &out)
	n := testing.AllocsPerRun(100, func() {
		out.Reset()
		if _, err := m.Apply(ctx, row, &scratch, &out); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per Apply, want 0", n)
	}
}

// benchMFP: filter the typical predicate, map #0 * 2 + #1, project (3, 0).
func benchMFP(tb testing.TB) MapFilterProject {
	m := Identity(3).
		Filter(typicalPredicate(tb)).
		Map(op(tb, "+", op(tb, "*", col(0), i4(2)), col(1))).
		Project(3, 0)
	m.Optimize()
	return m
}

func BenchmarkEvalPredicate(b *testing.B) {
	e := typicalPredicate(b)
	rows := [][]repr.Datum{ints(50, 20, 3), ints(5, 20, 7), ints(50, 200, 1), ints(0, 0, 0)}
	ctx := &EvalCtx{}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Eval(ctx, e, rows[i&3]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
}

func BenchmarkMFPApply(b *testing.B) {
	m := benchMFP(b)
	rows := [][]repr.Datum{ints(50, 20, 3), ints(5, 20, 7), ints(50, 200, 1), ints(0, 0, 0)}
	ctx := &EvalCtx{}
	var scratch []repr.Datum
	var out repr.Packer
	kept := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out.Reset()
		keep, err := m.Apply(ctx, rows[i&3], &scratch, &out)
		if err != nil {
			b.Fatal(err)
		}
		if keep {
			kept++
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
	_ = kept
}

// BenchmarkMFPApplyPacked measures the whole per-row path a dataflow
// operator takes: unpack a packed input row, apply, pack the output.
func BenchmarkMFPApplyPacked(b *testing.B) {
	m := benchMFP(b)
	var in [4]repr.Row
	for i, r := range [][]repr.Datum{ints(50, 20, 3), ints(5, 20, 7), ints(50, 200, 1), ints(0, 0, 0)} {
		in[i] = repr.PackRow(r...)
	}
	ctx := &EvalCtx{}
	var datums, scratch []repr.Datum
	var out repr.Packer
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		datums = in[i&3].Unpack(datums[:0])
		out.Reset()
		if _, err := m.Apply(ctx, datums, &scratch, &out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/row")
}
