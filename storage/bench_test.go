package storage

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viewd/viewd/repr"
)

// BenchmarkAppend measures durable appends of a small table write (an
// UPDATE of one row: a retraction and an insertion) by 1 and by 8
// concurrent appenders. With 8, group commit shares each flush among the
// appenders waiting for it, so appends/s should rise well above the
// single-appender figure.
//
//	go test -run '^$' -bench Append -benchtime 2s ./storage/
func BenchmarkAppend(b *testing.B) {
	for _, appenders := range []int{1, 8} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) {
			benchAppend(b, appenders)
		})
	}
}

func benchAppend(b *testing.B, appenders int) {
	ctx := context.Background()
	s, _, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	old, new := row(1, 2, 3, 4), row(1, 2, 3, 5)
	var next atomic.Int64
	var wg sync.WaitGroup
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < appenders; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				ups := []TableUpdate{{1, old, -1}, {1, new, 1}}
				t0 := time.Now()
				if err := s.AppendTableWrite(ctx, repr.Timestamp(i), ups); err != nil {
					b.Error(err)
					return
				}
				lat[i-1] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
	b.ReportMetric(float64(elapsed.Microseconds())/float64(b.N), "µs/append")
	s.mu.Lock()
	flushes := s.flushes
	s.mu.Unlock()
	b.ReportMetric(float64(b.N)/float64(max(flushes, 1)), "appends/flush")
	// The mean is at the mercy of other tenants of a shared disk; the
	// median latency of one append is steadier.
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(0, "ns/op")
}
