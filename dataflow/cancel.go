package dataflow

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/viewd/viewd/pgcode"
)

// meterEvery is how many iterations an operator loop runs between two
// polls of its step's control (a power of two). At the slowest loops'
// cost, about a microsecond an iteration, a poll comes every millisecond
// or so; at the fastest, a poll costs well under 1% of the loop.
const meterEvery = 1024

// stepCtl is the control of one step, shared by the step's operators and
// their worker goroutines: a stop flag raised when the step's context is
// done (by context.AfterFunc, so operators never call ctx.Err in their
// loops) or when the bytes charged exceed the graph's memory limit, and
// the error that stopped it. A nested graph (Iterate's) shares its outer
// step's control, so its rounds stop with it and charge the same budget.
type stepCtl struct {
	stop  atomic.Bool
	used  atomic.Int64
	limit int64 // 0: unlimited
	// cancellable is set when the step's context can be cancelled: only
	// then do long sorts take the slower, polled path.
	cancellable bool

	mu  sync.Mutex
	why error
}

// fail stops the step with err, unless it is already stopped.
func (c *stepCtl) fail(err error) {
	c.mu.Lock()
	if c.why == nil {
		c.why = err
	}
	c.mu.Unlock()
	c.stop.Store(true)
}

// err returns the error that stopped the step, or nil while it runs. It
// costs one atomic load while the step runs.
func (c *stepCtl) err() error {
	if c == nil || !c.stop.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.why
}

// charge adds n bytes to the step's use and reports whether the step must
// stop (cancelled, or over its memory limit).
func (c *stepCtl) charge(n int) error {
	if c == nil {
		return nil
	}
	if c.limit > 0 && n > 0 && c.used.Add(int64(n)) > c.limit {
		c.fail(memoryLimitError(c.limit))
	}
	return c.err()
}

// memoryLimitError is the error of a step that exceeded limit bytes.
func memoryLimitError(limit int64) *pgcode.Error {
	return pgcode.New(pgcode.OutOfMemory, "query exceeded its memory limit of %s", formatBytes(limit))
}

// formatBytes prints n in the largest binary unit that divides it, as
// PostgreSQL prints memory settings (kB, MB, GB).
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d kB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// beginStep installs the control of a step run with ctx and returns the
// function that ends it.
func (g *Graph) beginStep(ctx context.Context) (end func()) {
	if g.parent != nil {
		// A nested graph runs inside its parent's step.
		g.ctl = g.parent.ctl
		return func() {}
	}
	c := &stepCtl{limit: g.opts.MemoryLimit}
	g.ctl = c
	if ctx.Done() == nil {
		return func() {}
	}
	c.cancellable = true
	if err := ctx.Err(); err != nil {
		c.fail(err)
		return func() {}
	}
	stop := context.AfterFunc(ctx, func() { c.fail(ctx.Err()) })
	return func() { stop() }
}

// meter is one operator loop's view of its step's control: it counts the
// loop's iterations and, every meterEvery of them, charges the bytes its
// output rows grew by (plus any state the loop reported with grow) and
// polls the stop flag. A meter belongs to one goroutine.
type meter struct {
	ctl     *stepCtl
	n       uint32
	outs    [2]*Rows
	charged int // bytes of outs already charged
	extra   int // bytes of state not yet charged
}

// meter returns a meter of the current step charging the growth of ok and
// errs (either may be nil).
func (g *Graph) meter(ok, errs *Rows) meter {
	m := meter{ctl: g.ctl, outs: [2]*Rows{ok, errs}}
	m.charged = m.size()
	return m
}

func (m *meter) size() int {
	n := 0
	for _, r := range m.outs {
		if r != nil {
			n += r.footprint()
		}
	}
	return n
}

// tick counts one iteration of the loop; every meterEvery iterations it
// charges and polls. A non-nil error stops the loop: the step was
// cancelled or exceeded its memory limit.
func (m *meter) tick() error {
	m.n++
	if m.n%meterEvery != 0 {
		return nil
	}
	return m.poll()
}

// grow reports n bytes of state the loop allocated (charged at the next
// poll).
func (m *meter) grow(n int) { m.extra += n }

// poll charges what the loop produced since the last poll and returns the
// step's stop error, if any.
func (m *meter) poll() error {
	if m.ctl == nil {
		return nil
	}
	for _, r := range m.outs {
		// A quarter of a Rows' room is left for the rows pushed
		// between two polls, so that none wraps the offsets.
		if r != nil && len(r.data) > maxRowsBytes/4*3 {
			return rowsTooLarge(len(r.data))
		}
	}
	size := m.size()
	n := max(size-m.charged, 0) + m.extra
	m.charged, m.extra = size, 0
	if m.ctl.cancellable {
		// A cancellable step is a one-shot read: let other goroutines
		// (point lookups, writes, ticks) run between slices of its work
		// instead of waiting for the scheduler's 10 ms preemption.
		runtime.Gosched()
	}
	return m.ctl.charge(n)
}

// stopped returns the error that stopped the current step, if any.
func (g *Graph) stopped() error { return g.ctl.err() }
