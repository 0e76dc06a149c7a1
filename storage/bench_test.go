package storage

import (
	"context"
	"fmt"
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
				if err := s.AppendTableWrite(ctx, repr.Timestamp(i), ups); err != nil {
					b.Error(err)
					return
				}
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
	b.ReportMetric(0, "ns/op")
}
