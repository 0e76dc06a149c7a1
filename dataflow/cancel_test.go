package dataflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// cancelLatency is how soon after its context is cancelled a running step
// must return.
const cancelLatency = 100 * time.Millisecond

// armOp passes its input through and, when stepped, starts the timer that
// cancels the step after delay: placed just before the operator under
// test, it makes the cancel land inside that operator's work.
type armOp struct {
	in, out  *Collection
	delay    time.Duration
	cancel   context.CancelFunc
	cancelAt atomic.Pointer[time.Time]
}

func arm(c *Collection, delay time.Duration, cancel context.CancelFunc) (*Collection, *armOp) {
	op := &armOp{in: c, out: c.g.newCollection(c.arity), delay: delay, cancel: cancel}
	c.g.add(op)
	return op.out, op
}

func (o *armOp) step(context.Context, repr.Timestamp) error {
	o.out.ok, o.out.errs = o.in.ok, o.in.errs
	time.AfterFunc(o.delay, func() {
		now := time.Now()
		o.cancelAt.Store(&now)
		o.cancel()
	})
	return nil
}

// settleGoroutines waits (briefly) for the number of goroutines to come
// back to at most before, and fails the test if it does not.
func settleGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left behind (before: %d):\n%s", runtime.NumGoroutine()-before, before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkCancelled steps g at 1 with a context the armed operator cancels,
// and checks that the step returns promptly with context.Canceled, that
// the graph then refuses to step, and that no goroutine is left behind.
func checkCancelled(t *testing.T, g *Graph, ctx context.Context, a *armOp, before int) {
	t.Helper()
	err := g.Step(ctx, 1)
	done := time.Now()
	at := a.cancelAt.Load()
	if at == nil {
		t.Fatalf("the step ended (err %v) before the cancel: make the workload larger", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("step error %v, want one wrapping context.Canceled", err)
	}
	if !strings.HasPrefix(err.Error(), "dataflow: ") {
		t.Errorf("error %q lacks the package name", err)
	}
	if lat := done.Sub(*at); lat > cancelLatency {
		t.Errorf("the step returned %v after the cancel, want < %v", lat, cancelLatency)
	} else {
		t.Logf("returned %v after the cancel", lat)
	}
	if err := g.Step(context.Background(), 2); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("a step after a stopped step: %v, want an error naming the stop", err)
	}
	g.Close()
	settleGoroutines(t, before)
}

// cancelCase is one cancellation test: its graph, the context its step
// runs under, and the number of goroutines before the graph existed.
type cancelCase struct {
	g      *Graph
	ctx    context.Context
	cancel context.CancelFunc
	before int
}

func newCancelCase(t *testing.T, workers int) *cancelCase {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return &cancelCase{g: NewGraph(Options{Workers: workers}), ctx: ctx, cancel: cancel, before: before}
}

// arm places the cancel 50 ms into the work of the operator that reads
// the returned collection.
func (cc *cancelCase) arm(c *Collection) (*Collection, *armOp) {
	return arm(c, 50*time.Millisecond, cc.cancel)
}

// check steps the graph and checks that it stopped (checkCancelled).
func (cc *cancelCase) check(t *testing.T, op *armOp) {
	t.Helper()
	checkCancelled(t, cc.g, cc.ctx, op, cc.before)
}

func forWorkers(t *testing.T, f func(t *testing.T, w int)) {
	for _, w := range []int{1, 4} {
		t.Run(fmt.Sprintf("W=%d", w), func(t *testing.T) { f(t, w) })
	}
}

// TestCancelJoin cancels a step 50 ms into a join of 9M output rows.
func TestCancelJoin(t *testing.T) {
	forWorkers(t, func(t *testing.T, w int) {
		cc := newCancelCase(t, w)
		g := cc.g
		a, b := g.NewInput("a", 2), g.NewInput("b", 2)
		const n, keys = 12000, 16
		for i := range int64(n) {
			must(t, a.Send(repr.Update{Row: irow(i%keys, i), Time: 1, Diff: 1}))
			must(t, b.Send(repr.Update{Row: irow(i%keys, -i), Time: 1, Diff: 1}))
		}
		aa, ba := a.Collection().ArrangeColumns(0), b.Collection().ArrangeColumns(0)
		_, op := cc.arm(a.Collection())
		if _, err := Join(aa, ba, expr.Identity(4)); err != nil {
			t.Fatal(err)
		}
		cc.check(t, op)
	})
}

// TestCancelDeltaJoin cancels a step 50 ms into a three-way delta join
// whose output is 27M rows.
func TestCancelDeltaJoin(t *testing.T) {
	forWorkers(t, func(t *testing.T, w int) {
		cc := newCancelCase(t, w)
		g := cc.g
		ins := []*Input{g.NewInput("a", 2), g.NewInput("b", 2), g.NewInput("c", 2)}
		const n = 3000
		for _, in := range ins {
			for i := range int64(n) {
				must(t, in.Send(repr.Update{Row: irow(i%10, i), Time: 1, Diff: 1}))
			}
		}
		arr := make([]*Arranged, 3)
		for i, in := range ins {
			arr[i] = in.Collection().ArrangeColumns(0)
		}
		_, op := cc.arm(ins[0].Collection())
		// layout: a 0..1, b 2..3, c 4..5; every path keys on column 0.
		paths := []DeltaPath{
			{Source: 0, Arr: arr[0], Stages: []DeltaStage{{Input: 1, Arr: arr[1], Key: []expr.Scalar{col(0)}}, {Input: 2, Arr: arr[2], Key: []expr.Scalar{col(0)}}}},
			{Source: 1, Arr: arr[1], Stages: []DeltaStage{{Input: 0, Arr: arr[0], Key: []expr.Scalar{col(2)}}, {Input: 2, Arr: arr[2], Key: []expr.Scalar{col(2)}}}},
			{Source: 2, Arr: arr[2], Stages: []DeltaStage{{Input: 0, Arr: arr[0], Key: []expr.Scalar{col(4)}}, {Input: 1, Arr: arr[1], Key: []expr.Scalar{col(4)}}}},
		}
		if _, err := DeltaJoin(3, paths, expr.Identity(6)); err != nil {
			t.Fatal(err)
		}
		cc.check(t, op)
	})
}

// TestCancelFlatMap cancels a step 50 ms into a generate_series of 30M
// rows.
func TestCancelFlatMap(t *testing.T) {
	forWorkers(t, func(t *testing.T, w int) {
		cc := newCancelCase(t, w)
		g := cc.g
		in := g.NewInput("n", 1)
		must(t, in.Send(repr.Update{Row: irow(30_000_000), Time: 1, Diff: 1}))
		c, op := cc.arm(in.Collection())
		if _, err := c.FlatMap(seriesFn, []expr.Scalar{col(0)}, expr.Identity(2)); err != nil {
			t.Fatal(err)
		}
		cc.check(t, op)
	})
}

// TestCancelReduce cancels a step 50 ms into a reduce of 2M rows into 2M
// groups.
func TestCancelReduce(t *testing.T) {
	forWorkers(t, func(t *testing.T, w int) {
		cc := newCancelCase(t, w)
		g := cc.g
		in := g.NewInput("n", 1)
		must(t, in.Send(repr.Update{Row: irow(2_000_000), Time: 1, Diff: 1}))
		rows, err := in.Collection().FlatMap(seriesFn, []expr.Scalar{col(0)}, expr.Identity(2))
		if err != nil {
			t.Fatal(err)
		}
		c, op := cc.arm(rows)
		typ := repr.ColumnType{Type: repr.TypeInt8}
		if _, err := c.Reduce([]expr.Scalar{col(1)}, []expr.Aggregate{
			{Func: expr.AggCountStar, Typ: typ},
			{Func: expr.AggMax, Expr: col(1), Typ: typ},
		}); err != nil {
			t.Fatal(err)
		}
		cc.check(t, op)
	})
}

// TestCancelThresholdTopK cancels steps 50 ms into a distinct and a topk
// of 2M rows.
func TestCancelThresholdTopK(t *testing.T) {
	for _, name := range []string{"distinct", "topk", "window"} {
		t.Run(name, func(t *testing.T) {
			forWorkers(t, func(t *testing.T, w int) {
				cc := newCancelCase(t, w)
				g := cc.g
				in := g.NewInput("n", 1)
				must(t, in.Send(repr.Update{Row: irow(2_000_000), Time: 1, Diff: 1}))
				rows, err := in.Collection().FlatMap(seriesFn, []expr.Scalar{col(0)}, expr.Identity(2))
				if err != nil {
					t.Fatal(err)
				}
				c, op := cc.arm(rows)
				switch name {
				case "distinct":
					c.Distinct()
				case "topk":
					_, err = c.TopK([]int{1}, []ColumnOrder{{Column: 1}}, 1, 0)
				case "window":
					_, err = c.Window([]int{0}, []ColumnOrder{{Column: 1}}, []WindowFunc{{Kind: WinRowNumber, Arg: -1}})
				}
				if err != nil {
					t.Fatal(err)
				}
				cc.check(t, op)
			})
		})
	}
}

// TestDeadlineFlatMap: a step past its deadline fails with
// context.DeadlineExceeded.
func TestDeadlineFlatMap(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	g := NewGraph(Options{Workers: 2})
	defer g.Close()
	in := g.NewInput("n", 1)
	must(t, in.Send(repr.Update{Row: irow(30_000_000), Time: 1, Diff: 1}))
	if _, err := in.Collection().FlatMap(seriesFn, []expr.Scalar{col(0)}, expr.Identity(2)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := g.Step(ctx, 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("step error %v, want one wrapping context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 50*time.Millisecond+cancelLatency {
		t.Errorf("the step took %v for a 50ms deadline", d)
	}
}

// TestCancelledBeforeStep: a step with an already cancelled context runs
// no operator.
func TestCancelledBeforeStep(t *testing.T) {
	g := NewGraph(Options{Workers: 1})
	defer g.Close()
	in := g.NewInput("n", 1)
	must(t, in.Send(repr.Update{Row: irow(1), Time: 1, Diff: 1}))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := g.Step(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("step error %v, want context.Canceled", err)
	}
}

// TestMemoryLimit: a step that produces more than Options.MemoryLimit
// bytes fails early with SQLSTATE 53200, having allocated a bounded
// multiple of the limit rather than what the whole step would need.
func TestMemoryLimit(t *testing.T) {
	const limit = 16 << 20
	build := map[string]func(g *Graph) error{
		// generate_series(1, 30000000): about 700 MB of rows.
		"flatmap": func(g *Graph) error {
			in := g.NewInput("n", 1)
			if err := in.Send(repr.Update{Row: irow(30_000_000), Time: 1, Diff: 1}); err != nil {
				return err
			}
			_, err := in.Collection().FlatMap(seriesFn, []expr.Scalar{col(0)}, expr.Identity(2))
			return err
		},
		// a join of 9M output rows.
		"join": func(g *Graph) error {
			a, b := g.NewInput("a", 2), g.NewInput("b", 2)
			for i := range int64(12000) {
				if err := a.Send(repr.Update{Row: irow(i%16, i), Time: 1, Diff: 1}); err != nil {
					return err
				}
				if err := b.Send(repr.Update{Row: irow(i%16, -i), Time: 1, Diff: 1}); err != nil {
					return err
				}
			}
			_, err := Join(a.Collection().ArrangeColumns(0), b.Collection().ArrangeColumns(0), expr.Identity(4))
			return err
		},
	}
	for name, b := range build {
		forWorkers(t, func(t *testing.T, w int) {
			t.Run(name, func(t *testing.T) {
				before := runtime.NumGoroutine()
				g := NewGraph(Options{Workers: w, MemoryLimit: limit})
				if err := b(g); err != nil {
					t.Fatal(err)
				}
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				err := g.Step(context.Background(), 1)
				runtime.ReadMemStats(&ms1)
				var pe *pgcode.Error
				if !errors.As(err, &pe) || pe.Code != pgcode.OutOfMemory {
					t.Fatalf("step error %v, want SQLSTATE %s", err, pgcode.OutOfMemory)
				}
				if want := "query exceeded its memory limit of 16 MB"; pe.Message != want {
					t.Errorf("message %q, want %q", pe.Message, want)
				}
				if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 16*limit {
					t.Errorf("the step allocated %d MB before failing, for a limit of %d MB", alloc>>20, limit>>20)
				} else {
					t.Logf("allocated %d MB before failing", alloc>>20)
				}
				if err := g.Step(context.Background(), 2); err == nil {
					t.Errorf("a step after a failed step succeeded")
				}
				g.Close()
				settleGoroutines(t, before)
			})
		})
	}
}

// TestMemoryLimitUnderLimit: a graph whose steps stay under the limit
// behaves as an unlimited one, step after step (the charge is per step).
func TestMemoryLimitUnderLimit(t *testing.T) {
	g := NewGraph(Options{Workers: 2, MemoryLimit: 1 << 20})
	defer g.Close()
	in := g.NewInput("n", 1)
	out, err := in.Collection().FlatMap(seriesFn, []expr.Scalar{col(0)}, expr.Identity(2))
	if err != nil {
		t.Fatal(err)
	}
	o := out.Materialize(0)
	for step := range repr.Timestamp(20) {
		// 10000 rows of about 30 bytes a step: 300 kB, 6 MB in all.
		must(t, in.Send(repr.Update{Row: irow(10000 + int64(step)), Time: step + 1, Diff: 1}))
		must(t, g.Step(context.Background(), step+1))
	}
	ok, _, err := o.Read(20)
	if err != nil {
		t.Fatal(err)
	}
	if ok.Len() != 20*10000+190 {
		t.Errorf("%d rows, want %d", ok.Len(), 20*10000+190)
	}
}

func TestFormatBytes(t *testing.T) {
	for n, want := range map[int64]string{512 << 20: "512 MB", 1 << 30: "1 GB", 3 << 10: "3 kB", 1000: "1000 bytes", 1536 << 10: "1536 kB"} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestSortPolled: the chunked, polled sort orders like slices.SortFunc and
// stops when the step is stopped.
func TestSortPolled(t *testing.T) {
	var r Rows
	const n = 3*consolidateChunk + 77
	for i := range n {
		r.Push(irow(int64((i*7919)%1000), int64(i%3)), 1)
	}
	c := &stepCtl{cancellable: true}
	got := r.Consolidated()
	if err := r.consolidate(c); err != nil {
		t.Fatal(err)
	}
	if diffColls(fromRows(got), fromRows(&r)) != "" || r.Len() != got.Len() {
		t.Fatalf("polled consolidation differs: %s", diffColls(fromRows(got), fromRows(&r)))
	}
	for i := 1; i < r.Len(); i++ {
		if string(r.Row(i-1)) >= string(r.Row(i)) {
			t.Fatalf("row %d not after row %d", i, i-1)
		}
	}
	var s Rows
	for i := range n {
		s.Push(irow(int64(n-i)), 1)
	}
	c.fail(context.Canceled)
	if err := s.consolidate(c); !errors.Is(err, context.Canceled) {
		t.Fatalf("consolidate of a stopped step: %v", err)
	}
}

// BenchmarkMeterTick measures the per-iteration cost of polling a step's
// control (compare with an operator's cost per row, hundreds of ns).
func BenchmarkMeterTick(b *testing.B) {
	g := NewGraph(Options{Workers: 1, MemoryLimit: 1 << 40})
	g.ctl = &stepCtl{limit: g.opts.MemoryLimit}
	var out Rows
	m := g.meter(&out, nil)
	for range b.N {
		if err := m.tick(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestCancelBuilder: building a large batch from unsorted updates (an
// arrangement's step over a bulk input) stops within cancelLatency of a
// cancel that lands in its sort or its build, and the result is the same
// as Build's when nothing stops it.
func TestCancelBuilder(t *testing.T) {
	const n = 2_000_000
	fill := func(bd *Builder) {
		bd.Reserve(n, n*8)
		for i := range n {
			k := irow(int64((i * 7919) % n))
			bd.Add(k, k, 1, 1)
		}
	}
	// Uncancelled, the polled path builds the same batch as Build.
	var a, b Builder
	fill(&a)
	fill(&b)
	want := a.Build()
	got, err := b.build(&stepCtl{cancellable: true})
	if err != nil || got.Len() != want.Len() || !bytes.Equal(got.keyData, want.keyData) || !bytes.Equal(got.valData, want.valData) {
		t.Fatalf("polled build: err %v, %d updates (want %d), same keys %v", err, got.Len(), want.Len(), bytes.Equal(got.keyData, want.keyData))
	}
	for _, delay := range []time.Duration{5 * time.Millisecond, 50 * time.Millisecond} {
		var bd Builder
		fill(&bd)
		c := &stepCtl{cancellable: true}
		var at atomic.Pointer[time.Time]
		time.AfterFunc(delay, func() {
			now := time.Now()
			at.Store(&now)
			c.fail(context.Canceled)
		})
		_, err := bd.build(c)
		done := time.Now()
		if at.Load() == nil {
			t.Fatalf("delay %v: the build ended (err %v) before the cancel", delay, err)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("delay %v: build error %v, want context.Canceled", delay, err)
		}
		if lat := done.Sub(*at.Load()); lat > cancelLatency {
			t.Errorf("delay %v: build returned %v after the cancel, want < %v", delay, lat, cancelLatency)
		}
	}
}
