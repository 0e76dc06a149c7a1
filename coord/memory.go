package coord

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// releaseMemoryEvery is how often the coordinator checks for freed heap
// memory that the Go runtime still holds.
const releaseMemoryEvery = 2 * time.Second

// releaseMemoryMin is the least free, unreleased heap worth returning.
const releaseMemoryMin = 64 << 20

// memoryLoop returns freed heap memory to the operating system after bulk
// work (a COPY, a large transient read, a view built over millions of
// rows): Go's background scavenger returns it only slowly, so the server's
// RSS would stay at its peak for minutes. It runs until the coordinator
// closes.
func (c *Coordinator) memoryLoop() {
	defer c.wg.Done()
	t := time.NewTicker(releaseMemoryEvery)
	defer t.Stop()
	samples := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(samples)
		if samples[0].Value.Kind() != metrics.KindUint64 {
			continue
		}
		free, live := samples[0].Value.Uint64(), samples[1].Value.Uint64()
		if free > releaseMemoryMin && free > live/4 {
			debug.FreeOSMemory()
		}
	}
}
