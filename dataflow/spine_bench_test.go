package dataflow

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/viewd/viewd/repr"
)

// BenchmarkSpineInsert measures the latency of inserting one batch into a
// one-shard trace that grows by DATAFLOW_SPINE_BATCH (default 1000) fresh
// keys per step, with a reader whose since follows the steps (as an
// arrangement's operators hold it). b.N is the number of steps
// (-benchtime=2000x grows the trace to 2M updates). The batches are built
// before the timer starts: the figures are the spine's merging alone, per
// step (p50, p99, max) and per inserted update on the CPU (which counts
// any merging on other goroutines). DATAFLOW_SPINE_FUEL_MIN sets
// fuelMergeMin (a size larger than the trace makes every merge eager, to
// compare the cost of fuel).
func BenchmarkSpineInsert(b *testing.B) {
	batch := benchScale("DATAFLOW_SPINE_BATCH", 1000)
	defer func(m int) { fuelMergeMin = m }(fuelMergeMin)
	fuelMergeMin = benchScale("DATAFLOW_SPINE_FUEL_MIN", fuelMergeMin)
	tr := NewTrace(1, 1)
	rd := tr.Reader(0)
	defer rd.Release()
	r := rand.New(rand.NewPCG(3, 4))
	bts := make([]*Batch, b.N)
	for i := range bts {
		var bd Builder
		for range batch {
			k := r.Int64()
			bd.Add(irow(k), irow(k, int64(i)), repr.Timestamp(i+1), 1)
		}
		bts[i] = bd.Build()
	}
	lat := make([]time.Duration, 0, b.N)
	work := make([]time.Duration, 0, b.N)
	// The thread's own CPU time per insert leaves out the time the
	// shared machine's other processes take the core away.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	cpu := startCPU()
	for i, bt := range bts {
		t := repr.Timestamp(i + 1)
		rd.SetSince(t - 1)
		t0, c0 := time.Now(), threadCPU()
		tr.Insert([]*Batch{bt}, t)
		lat = append(lat, time.Since(t0))
		work = append(work, threadCPU()-c0)
	}
	cpu.report(b, float64(b.N*batch), "updates/cpu-s")
	slices.Sort(work)
	b.ReportMetric(float64(work[len(work)*99/100].Nanoseconds())/1e3, "p99-cpu-µs")
	b.ReportMetric(float64(work[len(work)-1].Nanoseconds())/1e3, "max-cpu-µs")
	b.ReportMetric(float64(tr.shards[0].forced), "forced")
	b.ReportMetric(float64(tr.shards[0].merged)/float64(b.N*batch), "merged/update")
	b.ReportMetric(float64(len(tr.shards[0].snapshot())), "batches")
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds())/1e3, "max-µs")
}

// threadCPU returns the calling thread's CPU time (clock_gettime's
// CLOCK_THREAD_CPUTIME_ID, 3 on Linux: nanoseconds, where getrusage's
// per-thread figure moves in scheduler ticks); the caller locks its OS
// thread.
func threadCPU() time.Duration {
	var ts syscall.Timespec
	_, _, _ = syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}

// BenchmarkMergeBatches measures merging two batches of 256K fresh keys
// each (one update per key), in CPU nanoseconds per update of the inputs:
// "keep" with times at or past since, copied as they are, "advance" with
// every time advanced to since (as most of a spine's merges do).
func BenchmarkMergeBatches(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	mk := func(n int, t repr.Timestamp) *Batch {
		var bd Builder
		for range n {
			k := r.Int64()
			bd.Add(irow(k), irow(k, int64(t)), t, 1)
		}
		return bd.Build()
	}
	x, y := mk(1<<18, 1), mk(1<<18, 2)
	for _, tc := range []struct {
		name  string
		since repr.Timestamp
	}{{"keep", 0}, {"advance", 10}} {
		b.Run(tc.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cpu time.Duration
			for range b.N {
				c0 := threadCPU()
				mergeBatches(x, y, tc.since)
				cpu += threadCPU() - c0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*(x.Len()+y.Len())), "cpu-ns/update")
		})
	}
}
