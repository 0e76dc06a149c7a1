package dataflow

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"runtime"
	"slices"
	"sync"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Options configure a Graph.
type Options struct {
	// Workers is the number of shards keyed state is partitioned into and
	// the number of goroutines a large step uses; 0 means runtime.NumCPU().
	Workers int
	// ParallelMin is the least number of updates an operator's step must
	// carry before it is spread over goroutines; smaller steps run on the
	// calling goroutine (no handoff). 0 means 4096.
	ParallelMin int
	// IterationLimit bounds the rounds of an Iterate within one step; 0
	// means 10000.
	IterationLimit int
	// Logger receives operational messages; nil means slog.Default().
	Logger *slog.Logger
	// EvalCtx is the evaluation context for expressions (time zone, ...);
	// its LogicalNow is set to the step's time.
	EvalCtx expr.EvalCtx
	// MemoryLimit bounds, in bytes, the rows (and the keyed state) a
	// single step may produce; a step that exceeds it fails with a
	// *pgcode.Error of code OutOfMemory (53200) and the graph must then be
	// closed. The count is a cheap running sum of the packed rows each
	// operator emits, not an exact measure of the heap: it bounds growth,
	// and transient copies (consolidation, the merge of workers' outputs)
	// can take about as much again. 0 means unlimited. One-shot reads
	// set it, and materialized views when --max-dataflow-memory is set.
	MemoryLimit int64
}

// Graph is one dataflow: inputs, operators in topological order, and
// outputs. It is stepped by one goroutine at a time (Step is not
// reentrant); within a step operators may use Workers goroutines.
type Graph struct {
	opts   Options
	ops    []operator
	inputs []*Input
	traces []TraceReader // holds of this graph's operators on their traces
	colls  []*Collection // every collection of the graph (trimmed after steps)
	eval   expr.EvalCtx
	// fixedNow: mz_now() is eval.LogicalNow as set by FixLogicalNow,
	// not the step's time.
	fixedNow bool
	now      repr.Timestamp
	prev     repr.Timestamp
	hasPrev  bool
	stepped  bool
	closed   bool
	// ctl is the control of the current (or last) step: its stop flag
	// and memory use (see cancel.go).
	ctl *stepCtl
	// parent is the graph whose step this nested graph runs inside
	// (Iterate's), sharing its control.
	parent *Graph
	// broken is the error of a step that was stopped part way; the graph
	// refuses further steps.
	broken error
	// owned are the traces of the arrangements and outputs this graph
	// built (not those it imports): the state StateBytes measures.
	owned []*Trace
	// logs are the append logs of the append-only outputs it built.
	logs []*appendLog
}

// operator is one node of the graph: it reads its inputs' deltas for the
// step and writes its outputs' deltas.
type operator interface {
	step(ctx context.Context, t repr.Timestamp) error
}

// scheduler is an operator with work of its own at future times.
type scheduler interface {
	nextScheduled() (repr.Timestamp, bool)
}

// NewGraph returns an empty graph.
func NewGraph(o Options) *Graph {
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.ParallelMin <= 0 {
		o.ParallelMin = 4096
	}
	if o.IterationLimit <= 0 {
		o.IterationLimit = 10000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Graph{opts: o, eval: o.EvalCtx}
}

// Workers returns the number of workers.
func (g *Graph) Workers() int { return g.opts.Workers }

// Collection is a stream of updates: ok rows of Arity columns and err rows
// (see ErrRow), both as per-step deltas.
type Collection struct {
	g     *Graph
	arity int
	ok    Rows
	errs  Rows
}

// Arity returns the number of columns of the collection's rows.
func (c *Collection) Arity() int { return c.arity }

// Graph returns the graph c belongs to.
func (c *Collection) Graph() *Graph { return c.g }

func (g *Graph) newCollection(arity int) *Collection {
	c := &Collection{g: g, arity: arity}
	g.colls = append(g.colls, c)
	return c
}

// trimDeltas drops the large delta buffers of g's collections after a
// step: a bulk load must not leave its deltas (and their capacity) held by
// every operator until the graph next changes. Small buffers are kept for
// reuse. Nothing reads a collection's delta between steps.
func (g *Graph) trimDeltas() {
	for _, c := range g.colls {
		c.ok.trim()
		c.errs.trim()
	}
	for _, op := range g.ops {
		if t, ok := op.(interface{ trim() }); ok {
			t.trim()
		}
	}
}

func (g *Graph) add(op operator) { g.ops = append(g.ops, op) }

// Step runs every operator at time t: it consumes every input update at a
// time <= t and produces every output update at t. Steps must be at
// increasing times.
//
// Cancellation: every operator loop whose work can be large polls the
// step's control every meterEvery iterations, so a step whose ctx is
// cancelled (or whose deadline passes) stops within about a millisecond
// of work per worker, its worker goroutines all return, and Step returns
// an error wrapping ctx.Err() (errors.Is(err, context.Canceled) or
// context.DeadlineExceeded holds). A step that exceeds
// Options.MemoryLimit stops the same way with a *pgcode.Error of code
// OutOfMemory. Such a step has run part of its operators part way: the
// graph is unusable, every later Step fails, and the caller must Close it.
// Persistent dataflows must therefore be stepped with a context no client
// can cancel.
func (g *Graph) Step(ctx context.Context, t repr.Timestamp) error {
	if g.closed {
		return fmt.Errorf("dataflow: step of a closed graph")
	}
	if g.broken != nil {
		return fmt.Errorf("dataflow: step at %d of a graph whose previous step was stopped: %w", t, g.broken)
	}
	if g.stepped && t <= g.now {
		return fmt.Errorf("dataflow: step at %d is not after the previous step at %d", t, g.now)
	}
	end := g.beginStep(ctx)
	defer end()
	g.prev, g.hasPrev = g.now, g.stepped
	g.now, g.stepped = t, true
	if !g.fixedNow {
		g.eval.LogicalNow = t
	}
	for _, op := range g.ops {
		if err := g.stopped(); err != nil {
			return g.fail(t, err)
		}
		if err := op.step(ctx, t); err != nil {
			if stop := g.stopped(); stop != nil {
				return g.fail(t, stop)
			}
			return fmt.Errorf("dataflow: step at %d: %w", t, err)
		}
	}
	// An operator that saw the stop may have returned early without
	// saying so: a stopped step never counts as complete.
	if err := g.stopped(); err != nil {
		return g.fail(t, err)
	}
	for _, r := range g.traces {
		r.SetSince(t)
	}
	if g.parent == nil {
		// A nested graph's deltas are read by its parent after each
		// round; a top-level graph's by nothing once the step is over.
		g.trimDeltas()
	}
	return nil
}

// fail marks the graph broken by a step stopped part way with err.
func (g *Graph) fail(t repr.Timestamp, err error) error {
	g.broken = err
	return fmt.Errorf("dataflow: step at %d: %w", t, err)
}

// Close releases the graph's holds on traces (its own and imported).
func (g *Graph) Close() {
	g.closed = true
	for _, r := range g.traces {
		r.Release()
	}
	for _, op := range g.ops {
		if c, ok := op.(interface{ close() }); ok {
			c.close()
		}
	}
}

// StateBytes returns the bytes held by the arrangements and outputs the
// graph built, not those it imports: their batches' packed keys and vals
// plus per-update overhead, summed over shards, and the segments of its
// append logs (packed rows, offsets, diffs, marks and unused room); and
// the state operators keep of their own (reduce's groups, distinct's
// counts, TopK's and window functions' ordered groups: stateSizer). It
// walks every batch of those traces once; call it between steps.
func (g *Graph) StateBytes() int64 {
	var n int64
	for _, op := range g.ops {
		if s, ok := op.(stateSizer); ok {
			n += s.stateBytes()
		}
	}
	for _, t := range g.owned {
		_, packed, overhead := t.Stats()
		n += int64(packed + overhead)
	}
	for _, l := range g.logs {
		_, packed, overhead := l.stats()
		n += int64(packed + overhead)
	}
	return n
}

// stateSizer is an operator that keeps state beside its arrangements.
// stateBytes returns its size, kept current as the state changes (it is
// read after every step when views have a memory limit), counting the
// allocations' capacity, as a heap profile would.
type stateSizer interface {
	stateBytes() int64
}

// NextScheduled returns the earliest future time at which an operator
// (a temporal filter) has updates of its own to emit, if any.
func (g *Graph) NextScheduled() (repr.Timestamp, bool) {
	best, ok := repr.Timestamp(0), false
	for _, op := range g.ops {
		if s, is := op.(scheduler); is {
			if t, has := s.nextScheduled(); has && (!ok || t < best) {
				best, ok = t, true
			}
		}
	}
	return best, ok
}

// SetEvalCtx replaces the evaluation context of the graph's expressions
// (a one-shot read's session: its time zone, statement time and control
// of other sessions); call it before the first Step. Each step still sets
// LogicalNow.
func (g *Graph) SetEvalCtx(ev expr.EvalCtx) { g.eval = ev.Fork() }

// FixLogicalNow makes mz_now() t at every step, whatever the step's time:
// a one-shot dataflow stepped several times over the chunks of its input
// (ImportOutputChunked) computes its answer as of t throughout.
func (g *Graph) FixLogicalNow(t repr.Timestamp) {
	g.eval.LogicalNow = t
	g.fixedNow = true
}

// Now returns the time of the last step.
func (g *Graph) Now() repr.Timestamp { return g.now }

// workerCtx returns an evaluation context for one worker goroutine (an
// EvalCtx holds evaluation scratch and must not be shared).
func (g *Graph) workerCtx() expr.EvalCtx {
	return g.eval.Fork()
}

// keepNew reports whether an arranged update at time x is in the state as
// of this step; keepOld, in the state as of the previous step.
func (g *Graph) keepNew(x repr.Timestamp) bool { return x <= g.now }
func (g *Graph) keepOld(x repr.Timestamp) bool { return g.hasPrev && x <= g.prev }

// parallel runs fn for every worker w in [0, Workers). When the step's
// work n is below ParallelMin, or there is one worker, it runs them in
// order on the calling goroutine. It returns when every goroutine it
// started has returned: fn must poll the step's control (a meter) in any
// loop whose work can be large, so that a stopped step ends promptly.
func (g *Graph) parallel(n int, fn func(w int) error) error {
	W := g.opts.Workers
	if W == 1 || n < g.opts.ParallelMin {
		for w := range W {
			if err := g.stopped(); err != nil {
				return err
			}
			if err := fn(w); err != nil {
				return err
			}
		}
		return nil
	}
	errs := make([]error, W)
	var wg sync.WaitGroup
	for w := 1; w < W; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[w] = fn(w)
		}()
	}
	errs[0] = fn(0)
	wg.Wait()
	if err := g.stopped(); err != nil {
		return err
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

var hashSeed = maphash.MakeSeed()

// shardOf returns the shard of key k among w shards.
func shardOf(k repr.Row, w int) int {
	if w == 1 {
		return 0
	}
	return int(keyHash(k) % uint64(w))
}

func (t *Trace) shardOf(k repr.Row) int { return shardOf(k, len(t.shards)) }

// ErrRow encodes an error as an err-stream row (code text, message text).
func ErrRow(err error) repr.Row {
	pe := pgcode.As(err)
	return repr.PackRow(repr.TextDatum(string(pe.Code)), repr.TextDatum(pe.Message))
}

// DecodeErrRow turns an err-stream row back into a *pgcode.Error.
func DecodeErrRow(r repr.Row) *pgcode.Error {
	ds := r.Datums()
	if len(ds) != 2 {
		return pgcode.New(pgcode.InternalError, "dataflow: malformed error row %s", r)
	}
	return &pgcode.Error{Code: pgcode.Code(ds[0].Str()), Message: ds[1].Str()}
}

// Input is a collection fed by the caller. Updates are queued in a slab
// (no allocation per update) until the step at or after their time.
//
// Updates may also be staged before their time is known (Stage): a large
// upstream transaction arrives in chunks, each of which the caller hands
// over as it comes, and only its commit gives it a time (CommitStaged).
// Staged updates are invisible to steps until then; DiscardStaged drops
// them. The staged queue is consolidated as it grows (see Stage), so a
// transaction that changes the same rows many times holds its net effect,
// not its history.
type Input struct {
	c       *Collection
	name    string
	mu      sync.Mutex
	pending Rows
	ptimes  []repr.Timestamp
	errs    Rows
	etimes  []repr.Timestamp
	upper   repr.Timestamp
	staged  Rows
	// stagedBase is the staged queue's footprint after its last
	// consolidation: the next one runs when the queue has doubled.
	stagedBase int
	stagedHint int // see StageHint
}

// NewInput adds an input of rows with arity columns.
func (g *Graph) NewInput(name string, arity int) *Input {
	in := &Input{c: g.newCollection(arity), name: name}
	g.inputs = append(g.inputs, in)
	g.add(in)
	return in
}

// Collection returns the input's collection.
func (in *Input) Collection() *Collection { return in.c }

// Name returns the input's name.
func (in *Input) Name() string { return in.name }

// Send queues updates. Each update's time must be at or after the input's
// upper. The rows are copied.
func (in *Input) Send(ups ...repr.Update) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, u := range ups {
		if u.Time < in.upper {
			return fmt.Errorf("dataflow: input %s: update at %d is before the upper %d", in.name, u.Time, in.upper)
		}
		in.pending.Push(u.Row, u.Diff)
		in.ptimes = append(in.ptimes, u.Time)
	}
	return nil
}

// SendPacked queues updates at time t whose rows are packed back to back
// in data: row i is data[ends[i-1]:ends[i]] (from 0 for the first), with
// diff diffs[i]. When nothing is queued the slices become the queue as
// they are, with no copy of the rows (a load generator's batch): the
// caller gives them away, and neither writes nor reads them again (the
// queue's buffers are reused once drained). t must be at or after the
// upper.
func (in *Input) SendPacked(data []byte, ends []uint32, diffs []repr.Diff, t repr.Timestamp) error {
	bad := len(ends) != len(diffs) || len(ends) > 0 && int(ends[len(ends)-1]) != len(data)
	for i := 1; i < len(ends) && !bad; i++ {
		bad = ends[i] < ends[i-1]
	}
	if bad {
		return fmt.Errorf("dataflow: input %s: %d row ends (not ascending to %d bytes) and %d diffs", in.name, len(ends), len(data), len(diffs))
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if t < in.upper {
		return fmt.Errorf("dataflow: input %s: update at %d is before the upper %d", in.name, t, in.upper)
	}
	n := len(diffs)
	if in.pending.Len() == 0 {
		in.pending = Rows{data: data, ends: ends, diffs: diffs}
		in.ptimes = slices.Grow(in.ptimes[:0], n)
	} else {
		in.pending.Append(&Rows{data: data, ends: ends, diffs: diffs}, 1)
	}
	for range n {
		in.ptimes = append(in.ptimes, t)
	}
	return nil
}

// Reserve makes room for n more updates of about bytes packed bytes, so
// that a bulk write fills the input's queue without regrowing it.
func (in *Input) Reserve(n, bytes int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.pending.Reserve(n, bytes)
	in.ptimes = slices.Grow(in.ptimes, n)
}

// stageConsolidateMin is the staged footprint below which Stage does not
// consolidate: small transactions are consolidated by the step anyway.
const stageConsolidateMin = 4 << 20

// Stage queues an update whose time is not known yet (a chunk of an
// upstream transaction that has not been given its timestamp). Staged
// updates take no part in steps until CommitStaged. The row is copied.
// Callers stage a chunk at a time, after StageReserve.
func (in *Input) Stage(row repr.Row, diff repr.Diff) {
	in.mu.Lock()
	in.staged.Push(row, diff)
	in.mu.Unlock()
}

// StageReserve prepares the staged queue for n more updates of about
// bytes packed bytes. Whenever the queue has doubled since its last
// consolidation (and holds at least stageConsolidateMin bytes) it is
// consolidated first, so a transaction that rewrites the same rows many
// times holds about twice its net effect; a consolidation that freed less
// than a quarter waits for the queue to quadruple instead (a transaction
// of new rows gains nothing from it). Then the queue grows geometrically:
// appends by the runtime's 1.25x steps would copy a large transaction's
// rows about five times over.
func (in *Input) StageReserve(n, bytes int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if f := in.staged.footprint(); f >= stageConsolidateMin && f >= 2*in.stagedBase {
		in.staged.Consolidate()
		in.stagedBase = in.staged.footprint()
		if 4*in.stagedBase > 3*f {
			in.stagedBase *= 2
		}
	}
	in.staged.grow(n, bytes, in.stagedHint)
}

// StageHint tells the input how many packed bytes the transaction being
// staged is expected to hold in all (0: unknown): the staged queue grows
// by doubling, but not past the hint while the hint has room for what
// comes, so a large transaction's queue ends near its size rather than up
// to twice it. It does not reserve anything.
func (in *Input) StageHint(bytes int) {
	in.mu.Lock()
	in.stagedHint = bytes
	in.mu.Unlock()
}

// StagedLen returns the number of staged updates (after the
// consolidations so far).
func (in *Input) StagedLen() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.staged.Len()
}

// CommitStaged gives every staged update time t and queues it for the
// step at t, as Send would. t must be at or after the upper. When nothing
// else is queued the staged slab becomes the queue as it is (no copy).
func (in *Input) CommitStaged(t repr.Timestamp) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := in.staged.Len()
	if n == 0 {
		in.staged, in.stagedBase, in.stagedHint = Rows{}, 0, 0
		return nil
	}
	if t < in.upper {
		return fmt.Errorf("dataflow: input %s: staged updates committed at %d, before the upper %d", in.name, t, in.upper)
	}
	if in.pending.Len() == 0 {
		in.pending = in.staged
		in.ptimes = slices.Grow(in.ptimes[:0], n)
	} else {
		in.pending.Append(&in.staged, 1)
	}
	for range n {
		in.ptimes = append(in.ptimes, t)
	}
	in.staged, in.stagedBase, in.stagedHint = Rows{}, 0, 0
	return nil
}

// DiscardStaged drops every staged update (a transaction that will not
// commit here: its reader stopped part way and will send it again).
func (in *Input) DiscardStaged() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.staged, in.stagedBase, in.stagedHint = Rows{}, 0, 0
}

// SendErr queues err-stream updates (rows made with ErrRow), e.g. a
// source's decoding errors.
func (in *Input) SendErr(ups ...repr.Update) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, u := range ups {
		if u.Time < in.upper {
			return fmt.Errorf("dataflow: input %s: error at %d is before the upper %d", in.name, u.Time, in.upper)
		}
		in.errs.Push(u.Row, u.Diff)
		in.etimes = append(in.etimes, u.Time)
	}
	return nil
}

// Advance promises that no update at a time below u will be sent.
func (in *Input) Advance(u repr.Timestamp) {
	in.mu.Lock()
	in.upper = max(in.upper, u)
	in.mu.Unlock()
}

// Upper returns the input's upper.
func (in *Input) Upper() repr.Timestamp {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.upper
}

func (in *Input) step(_ context.Context, t repr.Timestamp) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.ptimes = drain(&in.pending, in.ptimes, t, &in.c.ok)
	in.etimes = drain(&in.errs, in.etimes, t, &in.c.errs)
	return in.c.g.ctl.charge(in.c.ok.footprint() + in.c.errs.footprint())
}

// drain moves the queued updates at times <= t into out (replacing its
// contents) and keeps the rest queued.
func drain(q *Rows, times []repr.Timestamp, t repr.Timestamp, out *Rows) []repr.Timestamp {
	all := true
	for _, x := range times {
		if x > t {
			all = false
			break
		}
	}
	if all {
		// The common case: hand the whole queue over, recycling out's
		// buffers as the next queue.
		*q, *out = *out, *q
		q.Reset()
		return times[:0]
	}
	out.Reset()
	var rest Rows
	kept := times[:0]
	for i, x := range times {
		if x <= t {
			out.Push(q.Row(i), q.Diff(i))
		} else {
			rest.Push(q.Row(i), q.Diff(i))
			kept = append(kept, x)
		}
	}
	*q = rest
	return kept
}

// trim releases the queue's large buffers once they are drained.
func (in *Input) trim() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.ptimes) == 0 && cap(in.ptimes) > trimBytes/8 {
		in.ptimes = nil
		in.pending = Rows{}
	}
	if len(in.etimes) == 0 && cap(in.etimes) > trimBytes/8 {
		in.etimes = nil
		in.errs = Rows{}
	}
}
