package coord

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"
)

// gcBallastBytes is the size of the heap ballast: a block of memory the
// process allocates once and never touches, so that the collector's heap
// goal (twice the live heap) does not fall below about twice this. A
// server whose live heap is small (the catalog, a few tables: tens of MB)
// otherwise collects every few MB of allocation, and catalog queries,
// which allocate several MB each while planning, paid a collection or
// more each: 29% of the server's CPU over psql's \d of fresh tables went
// to the collector's mark workers, most of it a fixed cost per cycle
// (stacks, globals, the catalog's pointers), not garbage. The ballast is
// a []byte: it has no pointers, so marking it costs nothing, and its
// pages are never written, so it takes no resident memory. With a large
// live heap its effect vanishes (the goal is 2 x (live + ballast)).
const gcBallastBytes = 64 << 20

var (
	ballastOnce sync.Once
	gcBallast   []byte
)

// installBallast allocates the heap ballast, once per process.
func installBallast() {
	ballastOnce.Do(func() { gcBallast = make([]byte, gcBallastBytes) })
}

// ballastBytes is the heap the ballast takes (0 before installBallast).
func ballastBytes() uint64 {
	return uint64(len(gcBallast))
}

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
	idleTicks := 0
	var lastCycles uint64
	var load loadWindow
	for {
		kicked := false
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		case <-c.memKick:
			kicked = true
		}
		if load.bulk(time.Now(), c.ingested.Load()) {
			// Sources are loading in bulk: the heap is busy, not left
			// over. Forcing a collection and returning its free pages
			// now would only have the next steps fault them in (and
			// zero them) again: a 2M-event generator load had 8-16
			// forced collections, 4% of its CPU in them and the page
			// scavenging alone. The release comes once the load calms.
			continue
		}
		m := readMemory()
		if m.cycles == lastCycles {
			idleTicks++
		} else {
			idleTicks, lastCycles = 0, m.cycles
		}
		switch {
		case kicked && m.objects > releaseMemoryMin:
			// Bulk work just ended: its garbage is not yet known as such
			// (the last collection ran while it was live), so collect.
		case m.free+m.garbage() > releaseMemoryMin+ballastBytes():
			// The ballast lets up to its size more garbage build up
			// between collections: that much is the steady state, not
			// the remains of bulk work.
		case idleTicks >= 5 && m.objects > 2*releaseMemoryMin:
			// No collection for 10 s: garbage left by the last burst
			// would otherwise stay resident until the heap doubles.
		default:
			continue
		}
		debug.FreeOSMemory()
		idleTicks = 0
	}
}

// loadWindow tells the memory loop whether sources are loading in bulk:
// bulkUpdates or more source updates applied in the last full window of
// releaseMemoryEvery, or already in the current one. Kicks come at any
// moment (every transient read kicks), so the rate is measured over
// windows, not between two wake-ups.
type loadWindow struct {
	start    time.Time
	at       int64 // updates applied when the window started
	lastBulk bool  // the last full window was a bulk load
}

// bulk reports whether the load is bulk at now, given the count of
// source updates applied so far.
func (w *loadWindow) bulk(now time.Time, applied int64) bool {
	if w.start.IsZero() {
		w.start, w.at = now, applied
	}
	if now.Sub(w.start) >= releaseMemoryEvery {
		w.lastBulk = applied-w.at >= bulkUpdates
		w.start, w.at = now, applied
	}
	return w.lastBulk || applied-w.at >= bulkUpdates
}

// releaseMemorySoon asks the memory loop to run now (after bulk work).
func (c *Coordinator) releaseMemorySoon() {
	select {
	case c.memKick <- struct{}{}:
	default:
	}
}

// memoryStats are the heap figures the memory loop decides on.
type memoryStats struct {
	free    uint64 // free heap spans not yet returned to the OS
	objects uint64 // heap objects, live or garbage
	live    uint64 // the live heap the last collection measured
	cycles  uint64 // completed collections
}

// garbage estimates the heap allocated since the last collection.
func (m memoryStats) garbage() uint64 {
	if m.objects > m.live {
		return m.objects - m.live
	}
	return 0
}

func readMemory() memoryStats {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/free:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	metrics.Read(samples)
	var v [4]uint64
	for i, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	// The ballast is no memory to release: the loop decides on the rest.
	b := ballastBytes()
	return memoryStats{free: v[0], objects: v[1] - min(v[1], b), live: v[2] - min(v[2], b), cycles: v[3]}
}
