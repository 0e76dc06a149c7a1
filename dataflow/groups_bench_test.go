package dataflow

import (
	"context"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// benchGroups loads DATAFLOW_GROUPS (default 1M) rows of distinct group
// keys into the operator build makes over (k int8, v int8) rows, in steps
// of 100K rows, and reports what its state holds on the heap per group
// (live heap after a collection, the input's queue and the steps' buffers
// released), the load's rows per CPU-second and the GC's share of it;
// then it measures update steps of 1000 rows (each a retraction and an
// insertion moving a row to another group, so groups empty and come
// back), their rate and the GC's share of them (gc-%), with a CPU
// profile of them into DATAFLOW_CPUPROFILE if set.
func benchGroups(b *testing.B, build func(c *Collection) (*Collection, error)) {
	n := benchScale("DATAFLOW_GROUPS", 1_000_000)
	const loadStep, batch = 100_000, 500
	r := rand.New(rand.NewPCG(7, 8))
	rows := make([][2]int64, n)
	for i := range rows {
		rows[i] = [2]int64{int64(i) * 2654435761 % (1 << 40), r.Int64N(1000)}
	}
	ctx := context.Background()
	before := liveHeap()
	g := NewGraph(Options{Workers: benchWorkers()})
	in := g.NewInput("t", 2)
	out, err := build(in.Collection())
	if err != nil {
		b.Fatal(err)
	}
	var outRows int
	g.add(&countOp{in: out, n: &outRows})
	t := repr.Timestamp(0)
	cpu0, gc := cpuTime(), startGC()
	start := time.Now()
	for lo := 0; lo < n; lo += loadStep {
		t++
		for i := lo; i < min(lo+loadStep, n); i++ {
			_ = in.Send(repr.Update{Row: irow(rows[i][:]...), Time: t, Diff: 1})
		}
		if err := g.Step(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	load := time.Since(start)
	loadCPU := cpuTime() - cpu0
	gc1, total1 := gcSample()
	gcShare := 100 * (gc1 - gc.gc) / (total1 - gc.total)
	heap := liveHeap() - before
	b.ResetTimer()
	stopProfile := benchProfile(b)
	cpu, gcUpd := startCPU(), startGC()
	for range b.N {
		t++
		for range batch {
			x := &rows[r.IntN(n)]
			_ = in.Send(repr.Update{Row: irow(x[:]...), Time: t, Diff: -1})
			x[0] = rows[r.IntN(n)][0]
			_ = in.Send(repr.Update{Row: irow(x[:]...), Time: t, Diff: 1})
		}
		if err := g.Step(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	stopProfile()
	gcUpd.report(b)
	// ResetTimer drops metrics: the load's are reported here.
	b.ReportMetric(float64(n)/load.Seconds(), "load-rows/s")
	b.ReportMetric(float64(n)/loadCPU.Seconds(), "load-rows/cpu-s")
	b.ReportMetric(gcShare, "load-gc-%")
	b.ReportMetric(float64(heap)/float64(n), "heap-bytes/group")
	b.ReportMetric(float64(2*batch*b.N)/b.Elapsed().Seconds(), "updates/s")
	cpu.report(b, float64(2*batch*b.N), "updates/cpu-s")
	runtime.KeepAlive(g)
	g.Close()
}

// BenchmarkReduceManyGroups: count(*), count(v), sum(v) and avg(v) over
// a million groups (the shape of Nexmark's per-bidder aggregates).
func BenchmarkReduceManyGroups(b *testing.B) {
	typ := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
	typN := repr.ColumnType{Type: repr.TypeNumeric, Nullable: true}
	benchGroups(b, func(c *Collection) (*Collection, error) {
		return c.Reduce([]expr.Scalar{col(0)}, []expr.Aggregate{
			{Func: expr.AggCountStar, Typ: typ},
			{Func: expr.AggCount, Expr: col(1), Typ: typ},
			{Func: expr.AggSum, Expr: col(1), Typ: typN},
			{Func: expr.AggAvg, Expr: col(1), Typ: typN},
		})
	})
}

// BenchmarkDistinctManyGroups: distinct over a million distinct rows.
func BenchmarkDistinctManyGroups(b *testing.B) {
	benchGroups(b, func(c *Collection) (*Collection, error) { return c.Distinct(), nil })
}

// BenchmarkTopKManyGroups: the top row of each of a million groups (the
// shape of Nexmark q18's last bid per bidder and auction).
func BenchmarkTopKManyGroups(b *testing.B) {
	benchGroups(b, func(c *Collection) (*Collection, error) {
		return c.TopK([]int{0}, []ColumnOrder{{Column: 1, Order: repr.SortOrder{Desc: true}}}, 1, 0)
	})
}

// BenchmarkMinMaxManyGroups: min(v) and max(v) over a million groups,
// each group's values in a multiset (so that a retraction can reveal the
// next extreme).
func BenchmarkMinMaxManyGroups(b *testing.B) {
	typ := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
	benchGroups(b, func(c *Collection) (*Collection, error) {
		return c.Reduce([]expr.Scalar{col(0)}, []expr.Aggregate{
			{Func: expr.AggMin, Expr: col(1), Typ: typ},
			{Func: expr.AggMax, Expr: col(1), Typ: typ},
		})
	})
}
