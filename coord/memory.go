package coord

import (
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// releaseMemoryEvery is how often the coordinator checks for heap memory
// it could return to the operating system.
const releaseMemoryEvery = 2 * time.Second

// releaseMemoryMin is the least reclaimable heap worth a collection.
const releaseMemoryMin = 64 << 20

// bulkUpdates is the size of a write (in updates) after which memory is
// released at once rather than at the next check.
const bulkUpdates = 100_000

// memoryLoop returns memory to the operating system after bulk work (a
// COPY, a large transient read, a view built over millions of rows). The
// Go runtime collects only when the heap doubles and returns freed pages
// slowly, so without this the server's RSS would stay at the peak of its
// last bulk operation. Reclaimable memory is the heap's free spans plus
// the garbage allocated since the last collection (objects beyond the
// live heap it measured). It runs until the coordinator closes.
func (c *Coordinator) memoryLoop() {
	defer c.wg.Done()
	t := time.NewTicker(releaseMemoryEvery)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.memKick:
		}
		if reclaimable() > releaseMemoryMin {
			debug.FreeOSMemory()
		}
	}
}

// releaseMemorySoon asks the memory loop to run now (after bulk work).
func (c *Coordinator) releaseMemorySoon() {
	select {
	case c.memKick <- struct{}{}:
	default:
	}
}

// reclaimable estimates the bytes a collection and scavenge would return.
func reclaimable() uint64 {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	metrics.Read(samples)
	var v [3]uint64
	for i, s := range samples {
		if s.Value.Kind() != metrics.KindUint64 {
			return 0
		}
		v[i] = s.Value.Uint64()
	}
	free, objects, live := v[0], v[1], v[2]
	var garbage uint64
	if objects > live {
		garbage = objects - live
	}
	return free + garbage
}
