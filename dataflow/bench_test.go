package dataflow

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// benchScale reads an integer from the environment (e.g. DATAFLOW_ARRANGE_ROWS)
// or returns def.
func benchScale(name string, def int) int {
	if s := os.Getenv(name); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// cpuTime returns the process's user+system CPU time. The machine is
// shared, so benchmarks also report throughput per CPU-second.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports work per CPU-second between start and stop.
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter { return cpuMeter{cpuTime()} }

func (m cpuMeter) report(b *testing.B, work float64, unit string) {
	if d := cpuTime() - m.start; d > 0 {
		b.ReportMetric(work/d.Seconds(), unit)
	}
}

// gcMeter measures the share of the process's CPU time spent in the
// garbage collector (runtime/metrics' estimate, which counts the
// collector's background workers and assists) between start and report.
type gcMeter struct{ gc, total float64 }

func gcSample() (gc, total float64) {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64(), s[1].Value.Float64()
}

func startGC() gcMeter {
	gc, total := gcSample()
	return gcMeter{gc, total}
}

// report reports the GC's share of CPU as gc-%. The runtime updates these
// metrics at each collection, so the figure is coarse over short runs.
func (m gcMeter) report(b *testing.B) {
	gc, total := gcSample()
	if total > m.total {
		b.ReportMetric(100*(gc-m.gc)/(total-m.total), "gc-%")
	}
}

// benchProfile starts a CPU profile into the file DATAFLOW_CPUPROFILE
// names, if set, and returns the function that stops it: unlike
// -cpuprofile, it leaves out a benchmark's setup (a million-row load).
func benchProfile(b *testing.B) func() {
	path := os.Getenv("DATAFLOW_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	}
}

func benchWorkers() int { return benchScale("DATAFLOW_WORKERS", runtime.NumCPU()) }

// BenchmarkArrange arranges N (int8, text) rows by the int8 column in one
// step: DATAFLOW_ARRANGE_ROWS=10000000 for the full-size run.
func BenchmarkArrange(b *testing.B) {
	n := benchScale("DATAFLOW_ARRANGE_ROWS", 1_000_000)
	rows := make([]repr.Update, n)
	for i := range rows {
		rows[i] = repr.Update{Row: repr.PackRow(repr.Int8Datum(int64(i)), repr.TextDatum(fmt.Sprintf("customer-%d", i))), Time: 1, Diff: 1}
	}
	b.ResetTimer()
	var ov, packed, upd int
	var heap float64
	var cpuUsed time.Duration
	for range b.N {
		b.StopTimer()
		before := liveHeap()
		g := NewGraph(Options{Workers: benchWorkers()})
		in := g.NewInput("t", 2)
		a := in.Collection().ArrangeColumns(0)
		_ = in.Send(rows...)
		b.StartTimer()
		c0 := cpuTime()
		if err := g.Step(context.Background(), 1); err != nil {
			b.Fatal(err)
		}
		cpuUsed += cpuTime() - c0
		b.StopTimer()
		upd, packed, ov = a.Trace().Stats()
		// What the arranged rows hold on the heap once the step is over
		// (the input's queue and the step's buffers released).
		heap = float64(liveHeap()-before) / float64(n)
		runtime.KeepAlive(a)
		g.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpuUsed.Seconds(), "rows/cpu-s")
	b.ReportMetric(float64(ov)/float64(upd), "layout-overhead-bytes/row")
	b.ReportMetric(float64(packed)/float64(upd), "packed-bytes/row")
	b.ReportMetric(heap, "heap-bytes/row")
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkMFP pushes steps of 100K rows through a filter and projection.
func BenchmarkMFP(b *testing.B) {
	ups := make([]repr.Update, 100_000)
	for i := range ups {
		ups[i] = repr.Update{Row: irow(int64(i), int64(i%7), int64(i%13)), Diff: 1}
	}
	benchMFP(b, ups, expr.MapFilterProject{InputArity: 3,
		Expressions: []expr.Scalar{call(fnAdd, col(1), col(2))},
		Predicates:  []expr.Predicate{{Support: 3, Expr: call(fnLt, col(1), lit(5))}},
		Projection:  []int{0, 3}})
}

// benchMFP sends ups at every step through m, reporting updates per
// second and per CPU-second.
func benchMFP(b *testing.B, ups []repr.Update, m expr.MapFilterProject) {
	g := NewGraph(Options{Workers: benchWorkers()})
	in := g.NewInput("t", m.InputArity)
	var out int
	g.add(&countOp{in: in.Collection().MFP(m), n: &out})
	b.ResetTimer()
	cpu := startCPU()
	for i := range b.N {
		t := repr.Timestamp(i + 1)
		for j := range ups {
			ups[j].Time = t
		}
		_ = in.Send(ups...)
		if err := g.Step(context.Background(), t); err != nil {
			b.Fatal(err)
		}
	}
	n := len(ups)
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	cpu.report(b, float64(n)*float64(b.N), "updates/cpu-s")
}

// starSchema builds fact(id, d1, d2, amount) ⋈ dim1(id, g) ⋈ dim2(id, h)
// as a delta join, grouped by dim1.g with sum(amount) and count(*).
type starSchema struct {
	g                *Graph
	fact, dim1, dim2 *Input
	out              *Collection
}

func newStar(w int) *starSchema {
	s := &starSchema{g: NewGraph(Options{Workers: w})}
	s.fact, s.dim1, s.dim2 = s.g.NewInput("fact", 4), s.g.NewInput("dim1", 2), s.g.NewInput("dim2", 2)
	f1, f2 := s.fact.Collection().ArrangeColumns(1), s.fact.Collection().ArrangeColumns(2)
	d1, d2 := s.dim1.Collection().ArrangeColumns(0), s.dim2.Collection().ArrangeColumns(0)
	// layout: fact 0..3, dim1 4..5, dim2 6..7
	paths := []DeltaPath{
		{Source: 0, Arr: f1, Stages: []DeltaStage{{Input: 1, Arr: d1, Key: []expr.Scalar{col(1)}}, {Input: 2, Arr: d2, Key: []expr.Scalar{col(2)}}}},
		{Source: 1, Arr: d1, Stages: []DeltaStage{{Input: 0, Arr: f1, Key: []expr.Scalar{col(4)}}, {Input: 2, Arr: d2, Key: []expr.Scalar{col(2)}}}},
		{Source: 2, Arr: d2, Stages: []DeltaStage{{Input: 0, Arr: f2, Key: []expr.Scalar{col(6)}}, {Input: 1, Arr: d1, Key: []expr.Scalar{col(1)}}}},
	}
	dj, err := DeltaJoin(3, paths, expr.MapFilterProject{InputArity: 8, Projection: []int{5, 3}})
	if err != nil {
		panic(err)
	}
	s.out, err = dj.Reduce([]expr.Scalar{col(0)}, []expr.Aggregate{
		{Func: expr.AggSum, Expr: col(1), Typ: repr.ColumnType{Type: repr.TypeNumeric}},
		{Func: expr.AggCountStar, Typ: repr.ColumnType{Type: repr.TypeInt8}},
	})
	if err != nil {
		panic(err)
	}
	return s
}

// BenchmarkDeltaJoinUpdates loads a fact table of DATAFLOW_FACT_ROWS
// (default 1M) rows and two dimensions of a tenth of that, then measures
// single-row update steps (b.N of them; -benchtime=200000x for the full
// run): 90% fact updates (retract a row, insert a changed one), 10%
// dimension updates.
func BenchmarkDeltaJoinUpdates(b *testing.B) { benchDeltaJoin(b, 1) }

// BenchmarkDeltaJoinUpdatesBatched is BenchmarkDeltaJoinUpdates with
// DATAFLOW_BATCH (default 1000) single-row updates per step, as a busy
// table or source delivers them: the per-step cost is shared.
func BenchmarkDeltaJoinUpdatesBatched(b *testing.B) {
	benchDeltaJoin(b, benchScale("DATAFLOW_BATCH", 1000))
}

// benchDeltaJoin runs the star-schema update benchmark with batch updates
// per step; latencies are per step.
func benchDeltaJoin(b *testing.B, batch int) {
	nf := benchScale("DATAFLOW_FACT_ROWS", 1_000_000)
	nd := max(nf/10, 1)
	s := newStar(benchWorkers())
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	facts := make([][4]int64, nf)
	for i := range facts {
		facts[i] = [4]int64{int64(i), r.Int64N(int64(nd)), r.Int64N(int64(nd)), r.Int64N(1000)}
		_ = s.fact.Send(repr.Update{Row: irow(facts[i][:]...), Time: 1, Diff: 1})
	}
	dims := make([]int64, nd)
	for i := range nd {
		dims[i] = int64(i % 100)
		_ = s.dim1.Send(repr.Update{Row: irow(int64(i), dims[i]), Time: 1, Diff: 1})
		_ = s.dim2.Send(repr.Update{Row: irow(int64(i), int64(i%10)), Time: 1, Diff: 1})
	}
	start, loadCPU := time.Now(), cpuTime()
	if err := s.g.Step(ctx, 1); err != nil {
		b.Fatal(err)
	}
	// The load step's rates, reported at the end (ResetTimer drops
	// metrics reported before it).
	loadRate := float64(nf+2*nd) / time.Since(start).Seconds()
	loadCPURate := float64(nf+2*nd) / (cpuTime() - loadCPU).Seconds()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	stopProfile := benchProfile(b)
	cpu, gc := startCPU(), startGC()
	steps := max(b.N/batch, 1)
	for i := range steps {
		t := repr.Timestamp(i + 2)
		t0 := time.Now()
		for range batch {
			if r.IntN(10) != 0 {
				f := &facts[r.IntN(nf)]
				_ = s.fact.Send(repr.Update{Row: irow(f[:]...), Time: t, Diff: -1})
				f[3] = r.Int64N(1000)
				_ = s.fact.Send(repr.Update{Row: irow(f[:]...), Time: t, Diff: 1})
			} else {
				d := r.IntN(nd)
				_ = s.dim1.Send(repr.Update{Row: irow(int64(d), dims[d]), Time: t, Diff: -1})
				dims[d] = r.Int64N(100)
				_ = s.dim1.Send(repr.Update{Row: irow(int64(d), dims[d]), Time: t, Diff: 1})
			}
		}
		if err := s.g.Step(ctx, t); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	stopProfile()
	gc.report(b)
	slices.Sort(lat)
	b.ReportMetric(float64(steps*batch)/b.Elapsed().Seconds(), "updates/s")
	cpu.report(b, float64(steps*batch), "updates/cpu-s")
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(loadRate, "load-rows/s")
	b.ReportMetric(loadCPURate, "load-rows/cpu-s")
}

// BenchmarkReduceDistinctMinMax maintains count(distinct), min and max
// over DATAFLOW_REDUCE_ROWS (default 1M) rows in 1000 groups, then measures
// single-row deletions and insertions (each removing a random row,
// possibly the group's min or max).
func BenchmarkReduceDistinctMinMax(b *testing.B) {
	n := benchScale("DATAFLOW_REDUCE_ROWS", 1_000_000)
	r := rand.New(rand.NewPCG(3, 4))
	rows := make([][2]int64, n)
	for i := range rows {
		rows[i] = [2]int64{int64(i % 1000), r.Int64N(100_000)}
	}
	before := liveHeap()
	g := NewGraph(Options{Workers: benchWorkers()})
	in := g.NewInput("t", 2)
	typ := repr.ColumnType{Type: repr.TypeInt8}
	_, err := in.Collection().Reduce([]expr.Scalar{col(0)}, []expr.Aggregate{
		{Func: expr.AggCount, Expr: col(1), Distinct: true, Typ: typ},
		{Func: expr.AggMin, Expr: col(1), Typ: typ},
		{Func: expr.AggMax, Expr: col(1), Typ: typ},
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range rows {
		_ = in.Send(repr.Update{Row: irow(rows[i][:]...), Time: 1, Diff: 1})
	}
	ctx := context.Background()
	start := time.Now()
	_ = g.Step(ctx, 1)
	load := float64(n) / time.Since(start).Seconds()
	// The operator's state once the load is over: three multisets per
	// group hold (about) every row's value.
	heap := float64(liveHeap()-before) / float64(n)
	b.ResetTimer()
	stopProfile := benchProfile(b)
	cpu, gc := startCPU(), startGC()
	for i := range b.N {
		t := repr.Timestamp(i + 2)
		x := &rows[r.IntN(n)]
		_ = in.Send(repr.Update{Row: irow(x[:]...), Time: t, Diff: -1})
		x[1] = r.Int64N(100_000)
		_ = in.Send(repr.Update{Row: irow(x[:]...), Time: t, Diff: 1})
		if err := g.Step(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	stopProfile()
	gc.report(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	cpu.report(b, float64(b.N), "updates/cpu-s")
	// Reported here: b.ResetTimer drops the metrics reported before it.
	b.ReportMetric(load, "load-rows/s")
	b.ReportMetric(heap, "heap-bytes/row")
}

// BenchmarkTopK keeps the top 10 per group (1000 groups) over
// DATAFLOW_TOPK_ROWS (default 1M) rows, then measures single-row updates.
func BenchmarkTopK(b *testing.B) {
	n := benchScale("DATAFLOW_TOPK_ROWS", 1_000_000)
	r := rand.New(rand.NewPCG(5, 6))
	rows := make([][3]int64, n)
	for i := range rows {
		rows[i] = [3]int64{int64(i % 1000), r.Int64N(1_000_000), int64(i)}
	}
	before := liveHeap()
	g := NewGraph(Options{Workers: benchWorkers()})
	in := g.NewInput("t", 3)
	if _, err := in.Collection().TopK([]int{0}, []ColumnOrder{{Column: 1, Order: repr.SortOrder{Desc: true}}}, 10, 0); err != nil {
		b.Fatal(err)
	}
	for i := range rows {
		_ = in.Send(repr.Update{Row: irow(rows[i][:]...), Time: 1, Diff: 1})
	}
	ctx := context.Background()
	start := time.Now()
	_ = g.Step(ctx, 1)
	load := float64(n) / time.Since(start).Seconds()
	// The operator's state once the load is over: the groups' multisets
	// hold every row (a non-monotonic TopK keeps the rows outside its
	// window, which a retraction may bring in).
	heap := float64(liveHeap()-before) / float64(n)
	b.ResetTimer()
	stopProfile := benchProfile(b)
	cpu, gc := startCPU(), startGC()
	for i := range b.N {
		t := repr.Timestamp(i + 2)
		x := &rows[r.IntN(n)]
		_ = in.Send(repr.Update{Row: irow(x[:]...), Time: t, Diff: -1})
		x[1] = r.Int64N(1_000_000)
		_ = in.Send(repr.Update{Row: irow(x[:]...), Time: t, Diff: 1})
		if err := g.Step(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
	stopProfile()
	gc.report(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	cpu.report(b, float64(b.N), "updates/cpu-s")
	// Reported here: b.ResetTimer drops the metrics reported before it.
	b.ReportMetric(load, "load-rows/s")
	b.ReportMetric(heap, "heap-bytes/row")
}

// countOp counts a collection's updates (a sink that costs nothing).
type countOp struct {
	in *Collection
	n  *int
}

func (o *countOp) step(context.Context, repr.Timestamp) error {
	*o.n += o.in.ok.Len()
	return nil
}

// BenchmarkArrangeNumeric arranges N (int8, numeric(12,2), text) rows by
// the numeric column, half of whose values have a trailing zero (617.20):
// what the keyer's canonical key packing costs. DATAFLOW_ARRANGE_ROWS sets N.
func BenchmarkArrangeNumeric(b *testing.B) {
	n := benchScale("DATAFLOW_ARRANGE_ROWS", 300_000)
	rows := make([]repr.Update, n)
	for i := range rows {
		v, err := repr.ParseNumeric(fmt.Sprintf("%d.%02d", i%50000, (i*7)%100))
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = repr.Update{Row: repr.PackRow(repr.Int8Datum(int64(i)), repr.NumericDatum(v), repr.TextDatum("lineitem")), Time: 1, Diff: 1}
	}
	b.ResetTimer()
	var cpuUsed time.Duration
	for range b.N {
		b.StopTimer()
		g := NewGraph(Options{Workers: benchWorkers()})
		in := g.NewInput("t", 3)
		a := in.Collection().ArrangeColumns(1)
		_ = in.Send(rows...)
		b.StartTimer()
		c0 := cpuTime()
		if err := g.Step(context.Background(), 1); err != nil {
			b.Fatal(err)
		}
		cpuUsed += cpuTime() - c0
		b.StopTimer()
		runtime.KeepAlive(a)
		g.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(n)*float64(b.N)/cpuUsed.Seconds(), "rows/cpu-s")
}

// BenchmarkMFPProject pushes steps of 100K bid-like rows (Nexmark's seven
// columns: four integers, a channel, a URL and extra text, and a
// timestamp) through q0's projection to five columns (no expression, no
// predicate: mfpPlan's column copy).
func BenchmarkMFPProject(b *testing.B) {
	ups := make([]repr.Update, 100_000)
	for i := range ups {
		ups[i] = repr.Update{Row: repr.PackRow(repr.Int8Datum(int64(1000+i%977)), repr.Int8Datum(int64(i%10007)),
			repr.Int8Datum(int64(i%5000)), repr.TextDatum("channel-7"), repr.TextDatum("https://www.nexmark.com/item.htm?query=1&channel_id=12345"),
			repr.TimestampDatum(int64(i)*1000), repr.TextDatum("extra-extra-extra")), Diff: 1}
	}
	benchMFP(b, ups, expr.MapFilterProject{InputArity: 7, Projection: []int{0, 1, 2, 5, 6}})
}
