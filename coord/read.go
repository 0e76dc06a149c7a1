package coord

import (
	"context"
	"fmt"
	"io"
	"iter"
	"math"
	"time"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/dataflow/render"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
)

// asOfWait bounds how long a read at a future timestamp waits.
const asOfWait = 30 * time.Second

// A read (SELECT, COPY TO, DECLARE, the selection of UPDATE and DELETE)
// runs in two parts. Under the coordinator's lock it only picks its
// timestamp, plans, and takes read holds on the traces it needs (a
// dataflow.TraceReader or OutputReader at the read timestamp, which keeps
// compaction from passing it). Outside the lock it computes: a fast path
// reads the held arrangements directly; any other query steps its
// transient dataflow, whose imports hold the arrangements it reads. The
// holds are released when the result stream is closed. So a long read
// never delays writes, ticks or other reads, and reads run on every core.

// selectRows runs a query and returns its rows as a stream: it chooses the
// read timestamp, prepares the peek under the lock, and computes outside.
func (s *session) selectRows(ctx context.Context, q *sql.QueryPlan, asOf *sql.TimestampExpr, atLeast bool) (*resultRows, error) {
	c := s.c
	var ts repr.Timestamp
	explicit := false
	if asOf != nil {
		d, _, err := c.evalConstant(ctx, asOf.Expr)
		if err != nil {
			return nil, err
		}
		if ts, err = datumTimestamp(d); err != nil {
			return nil, err
		}
		explicit = !atLeast
	}
	if asOf == nil {
		if err := c.waitSnapshots(ctx, q.DependsOn); err != nil {
			return nil, err
		}
	}
	if asOf == nil && s.realTimeRecency() {
		if err := c.waitRealTimeRecency(ctx, q.DependsOn); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	if err := c.freshCatalogLocked(q.Expr); err != nil {
		c.mu.Unlock()
		return nil, err
	}
	if asOf != nil && !explicit {
		ts = max(ts, c.now)
	}
	switch {
	case asOf == nil:
		ts = s.readTSLocked()
	case ts > c.now:
		wctx, cancel := context.WithTimeout(ctx, asOfWait)
		err := c.waitForLocked(wctx, ts)
		cancel()
		if err != nil {
			c.mu.Unlock()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, pgcode.New(pgcode.QueryCanceled, "timed out waiting for timestamp %d to become complete", ts)
		}
	}
	if ts < c.since {
		since := c.since
		c.mu.Unlock()
		return nil, pgcode.New(pgcode.InvalidParameterValue, "timestamp %d is not valid for all inputs: the earliest readable timestamp is %d", ts, since).
			WithHint("History is kept for %s; AS OF must name a later time.", c.cfg.RetainHistory)
	}
	c.reading = s
	var cached *readPlan
	if s.curRead != nil && &s.curRead.plan.Query == q {
		cached = s.curRead
	}
	p, err := c.preparePeekLocked(q.Expr, ts, s.txnOverlay(), cached)
	c.reading = nil
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.bindPeek(ctx, p)
	src, err := p.run(ctx)
	if err != nil {
		return nil, err
	}
	return newResultRows(src, q.Finishing, c.cfg.MaxQueryMemory), nil
}

// readTSLocked returns the timestamp of a read without AS OF: the latest
// complete one (strict serializable), or the one an explicit transaction
// pinned with its first read.
func (s *session) readTSLocked() repr.Timestamp {
	ts := s.c.now
	if s.txn.explicit {
		if !s.txn.hasReadTS {
			s.txn.readTS, s.txn.hasReadTS = ts, true
			s.pinIfWriting()
		}
		ts = s.txn.readTS
	}
	return ts
}

// peek is a read prepared under the lock: its timestamp, its fast path
// (or transient dataflow), and the read holds it took.
type peek struct {
	c  *Coordinator
	ts repr.Timestamp
	pp plan.PeekPlan
	ev expr.EvalCtx
	// index is the arrangement a lookup reads; objErrs the errors of the
	// object it indexes.
	index   dataflow.TraceReader
	objErrs *dataflow.OutputReader
	// scans are the collections a stream scans.
	scans map[plan.GlobalID]heldCollection
	// graph and out are a transient dataflow and its output.
	graph *dataflow.Graph
	out   *dataflow.Output
}

// release drops every hold of the peek.
func (p *peek) release() {
	if p.index != nil {
		p.index.Release()
		p.index = nil
	}
	if p.objErrs != nil {
		p.objErrs.Release()
		p.objErrs = nil
	}
	for id, h := range p.scans {
		h.release()
		delete(p.scans, id)
	}
	if p.graph != nil {
		p.graph.Close()
		p.graph = nil
	}
	if p.out != nil {
		p.out.Release()
		p.out = nil
	}
}

// preparePeekLocked plans rel, chooses its fast path and takes the read
// holds it needs at ts. overlay holds a transaction's uncommitted writes:
// such reads always build a dataflow that adds them.
func (c *Coordinator) preparePeekLocked(rel plan.Rel, ts repr.Timestamp, overlay map[plan.GlobalID][]repr.Update, cached *readPlan) (*peek, error) {
	var dirty map[plan.GlobalID]bool
	if len(overlay) > 0 {
		dirty = map[plan.GlobalID]bool{}
		for id := range overlay {
			dirty[id] = true
		}
	}
	if len(overlay) > 0 || (cached != nil && cached.version != c.cat.version) {
		cached = nil
	}
	lir := c.cachedLIRLocked(cached)
	if lir == nil {
		var rec *[]inlinedBuiltin
		if cached != nil {
			rec = new([]inlinedBuiltin)
		}
		var err error
		if lir, err = c.optimizeRecordLocked(rel, dirty, rec); err != nil {
			return nil, err
		}
		if cached != nil {
			cached.lir, cached.builtins = lir, *rec
		}
	}
	if err := c.sourceErrors(rel); err != nil {
		return nil, err
	}
	p := &peek{c: c, ts: ts, pp: plan.PeekPlan{Kind: plan.PeekDataflow, Node: lir}, ev: expr.EvalCtx{LogicalNow: ts}}
	if len(overlay) == 0 && !c.cfg.DisableFastPath {
		p.pp = plan.PlanPeek(lir)
	}
	switch p.pp.Kind {
	case plan.PeekLookup:
		if !p.holdLookupLocked() {
			p.pp = plan.PeekPlan{Kind: plan.PeekDataflow, Node: lir}
		}
	case plan.PeekStream:
		if !p.holdScansLocked() {
			p.release()
			p.pp = plan.PeekPlan{Kind: plan.PeekDataflow, Node: lir}
		}
	}
	if p.pp.Kind != plan.PeekDataflow {
		return p, nil
	}
	opts := c.graphOptions()
	opts.MemoryLimit = c.cfg.MaxQueryMemory
	// A one-shot dataflow runs its shards on the reading goroutine, one
	// core per query (as a PostgreSQL backend does): a long join must not
	// take every core from the point reads, writes and ticks beside it.
	// Concurrent reads still spread over the cores.
	opts.ParallelMin = math.MaxInt
	g := dataflow.NewGraph(opts)
	var imp render.Imports = c.imports()
	var chunked *chunkedImports
	switch {
	case len(overlay) > 0:
		imp = overlayImports{Imports: imp, ts: ts, overlay: overlay}
	case chunkable(lir):
		chunked = &chunkedImports{Imports: imp, c: c, asOf: ts, ok: true}
		imp = chunked
	}
	coll, err := render.Render(g, lir, imp, ts)
	if err != nil {
		g.Close()
		return nil, err
	}
	if chunked != nil {
		if chunked.ok {
			g.FixLogicalNow(ts)
		} else {
			g.UnchunkImports()
		}
	}
	p.graph, p.out = g, coll.Materialize(ts)
	return p, nil
}

// oneShotChunkBytes is how much of an append-only source a one-shot
// dataflow takes in per step (dataflow.ImportOutputChunked); a variable
// for tests.
var oneShotChunkBytes = 64 << 20

// oneShotStepsHook, set by tests, is told how many steps each one-shot
// dataflow took.
var oneShotStepsHook = func(steps int) {}

// chunkedImports imports append-only sources and views in chunks
// (dataflow.ImportOutputChunked) for a one-shot read as of asOf, so that a
// SELECT over a large source holds one chunk's rows and what its
// operators make of them at a time, plus their state, rather than every
// row and a join's whole output at once: recomputing Nexmark q9 over 10M
// events in one step needed more than 11 GiB, the join's output alone
// about 10 GB. ok turns false when the read imports anything else (a
// table, an index, an arranged view), whose later changes a step after
// the first would let in: the dataflow then takes everything in one step.
type chunkedImports struct {
	render.Imports
	c    *Coordinator
	asOf repr.Timestamp
	ok   bool
}

func (ci *chunkedImports) Collection(g *dataflow.Graph, id plan.GlobalID) (*dataflow.Collection, error) {
	it := ci.c.cat.items[id]
	if it == nil || it.rt == nil || it.rt.primaryKey != nil || it.rt.out == nil || it.rt.out.Ordered() {
		ci.ok = false
		return ci.Imports.Collection(g, id)
	}
	return g.ImportOutputChunked(it.rt.out, ci.asOf, oneShotChunkBytes)
}

func (ci *chunkedImports) Arrangement(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar) (*dataflow.Arranged, bool, error) {
	a, found, err := ci.Imports.Arrangement(g, id, key)
	if found {
		ci.ok = false
	}
	return a, found, err
}

func (ci *chunkedImports) IndexRead(g *dataflow.Graph, id plan.GlobalID, key []expr.Scalar, prefixes []repr.Row) (*dataflow.Collection, bool, error) {
	c, found, err := ci.Imports.IndexRead(g, id, key, prefixes)
	if found {
		ci.ok = false
	}
	return c, found, err
}

// chunkable reports whether a one-shot plan may take its inputs in
// chunks: it has no temporal filter, whose bounds are set by the step's
// time (mz_now() itself is fixed at the read time: FixLogicalNow).
func chunkable(n plan.Node) bool {
	ok := true
	plan.WalkLIR(n, func(x plan.Node) {
		if _, tf := x.(plan.LTemporalFilter); tf {
			ok = false
		}
	})
	return ok
}

// holdLookupLocked finds the index a lookup uses and holds it at the read
// time (and the errors of the indexed object). It reports false when no
// such index is live.
func (p *peek) holdLookupLocked() bool {
	c := p.c
	on := c.cat.items[p.pp.Get.Global]
	if on == nil {
		return false
	}
	arr := c.arrangementLocked(on, p.pp.Key)
	if arr == nil {
		return false
	}
	p.index = arr.Trace().Reader(p.ts)
	if on.rt != nil && on.rt.out != nil {
		p.objErrs = on.rt.out.Reader(p.ts)
	}
	return true
}

// arrangementLocked returns a live arrangement of on by exactly key: a
// table's primary arrangement or an index.
func (c *Coordinator) arrangementLocked(on *item, key []expr.Scalar) *dataflow.Arranged {
	want := fmt.Sprint(key)
	if on.rt != nil && on.rt.primaryKey != nil && fmt.Sprint(on.rt.primaryKey) == want {
		return on.rt.arranged
	}
	for r := range on.rdeps {
		ix := c.cat.items[r]
		if ix == nil || ix.Kind != sql.KindIndex || ix.On != on.ID || ix.rt == nil || ix.rt.arranged == nil {
			continue
		}
		if fmt.Sprint(ix.indexKeys) == want {
			return ix.rt.arranged
		}
	}
	return nil
}

// holdScansLocked holds the output of every collection a stream scans. It
// reports false when one has no readable output (a view that is not
// materialized is inlined, so this is only a dropped object).
func (p *peek) holdScansLocked() bool {
	p.scans = map[plan.GlobalID]heldCollection{}
	ok := true
	visitGets(p.pp.Node, func(g plan.LGet) {
		if _, done := p.scans[g.Global]; done || !ok {
			return
		}
		it := p.c.cat.items[g.Global]
		switch {
		case it == nil || it.rt == nil:
			ok = false
		case it.rt.primaryKey != nil:
			p.scans[g.Global] = heldCollection{arr: it.rt.arranged.Trace().Reader(p.ts)}
		case it.rt.out != nil:
			p.scans[g.Global] = heldCollection{out: it.rt.out.Reader(p.ts)}
		default:
			ok = false
		}
	})
	return ok
}

// visitGets calls fn for every LGet of a global collection in a plan.
func visitGets(n plan.Node, fn func(plan.LGet)) {
	plan.WalkLIR(n, func(x plan.Node) {
		if g, ok := x.(plan.LGet); ok && g.Global != 0 && g.Local == 0 {
			fn(g)
		}
	})
}

// run computes the peek outside the lock and returns its rows. The
// returned source owns the peek's holds.
func (p *peek) run(ctx context.Context) (rowSource, error) {
	switch p.pp.Kind {
	case plan.PeekConstant:
		n := p.pp.Node.(plan.LConstant)
		p.release()
		if n.Err != nil {
			return nil, n.Err
		}
		src := &sliceSource{}
		for _, r := range n.Rows {
			src.rows = append(src.rows, r.Row)
			src.diffs = append(src.diffs, repr.Diff(r.Diff))
		}
		return src, nil
	case plan.PeekLookup:
		return p.lookup()
	case plan.PeekStream:
		return p.stream(), nil
	}
	return p.runDataflow(ctx)
}

// lookup reads the key tuples from the held index and applies the Get's
// MFP to the rows found.
func (p *peek) lookup() (rowSource, error) {
	defer p.release()
	if err := objectErrors(p.objErrs, p.ts); err != nil {
		return nil, err
	}
	mfp := &p.pp.Get.MFP
	var (
		src     sliceSource
		pk, out repr.Packer
		datums  []repr.Datum
		scratch []repr.Datum
		evalErr error
	)
	seen := map[string]bool{}
	for _, tuple := range p.pp.Values {
		pk.Reset()
		for _, d := range tuple {
			pk.PushKey(d) // arrangement keys are canonical
		}
		if seen[string(pk.Row())] {
			continue // IN (5, 5) looks 5 up once
		}
		seen[string(pk.Row())] = true
		err := p.index.Lookup(p.ts, pk.Row(), func(v repr.Row, d repr.Diff) bool {
			datums = v.Unpack(datums[:0])
			out.Reset()
			keep, err := mfp.Apply(&p.ev, datums, &scratch, &out)
			if err != nil {
				evalErr = err
				return false
			}
			if keep {
				src.rows = append(src.rows, out.Clone())
				src.diffs = append(src.diffs, d)
			}
			return true
		})
		if err == nil {
			err = evalErr
		}
		if err != nil {
			return nil, err
		}
	}
	return &src, nil
}

// objectErrors returns the first error of a held output as of ts.
func objectErrors(r *dataflow.OutputReader, ts repr.Timestamp) error {
	if r == nil {
		return nil
	}
	errs, err := r.Errs(ts)
	if err != nil {
		return err
	}
	if errs.Len() > 0 {
		return dataflow.DecodeErrRow(errs.Row(0))
	}
	return nil
}

// heldCollection is a read hold on a collection a stream scans: an
// Output (rows as keys) or a table's primary arrangement (rows as vals).
type heldCollection struct {
	out *dataflow.OutputReader
	arr dataflow.TraceReader
}

func (h heldCollection) release() {
	if h.out != nil {
		h.out.Release()
	}
	if h.arr != nil {
		h.arr.Release()
	}
}

// heldScans implements render.ScanSource over a peek's held collections.
type heldScans struct {
	ts    repr.Timestamp
	scans map[plan.GlobalID]heldCollection
}

func (h heldScans) Scan(ctx context.Context, id plan.GlobalID, fn func(repr.Row, repr.Diff) bool) error {
	held, ok := h.scans[id]
	if !ok {
		return pgcode.New(pgcode.InternalError, "coord: scan of %d without a read hold", id)
	}
	if held.arr != nil {
		return dataflow.ScanVals(held.arr, h.ts, fn)
	}
	if err := objectErrors(held.out, h.ts); err != nil {
		return err
	}
	return held.out.Scan(h.ts, fn)
}

// stream runs a streamed peek as a pull source: render.Stream pushes rows
// through a coroutine (iter.Pull2), so each Next resumes the pipeline for
// one row and no result is ever held whole.
func (p *peek) stream() rowSource {
	s := &streamSource{p: p}
	seq := func(yield func(repr.Row, repr.Diff) bool) {
		s.err = render.Stream(&s.cur, p.pp.Node, heldScans{ts: p.ts, scans: p.scans}, &p.ev, yield)
	}
	s.next2, s.stop = iter.Pull2(iter.Seq2[repr.Row, repr.Diff](seq))
	return s
}

// streamSource is a rowSource over a coroutine running render.Stream.
type streamSource struct {
	p     *peek
	cur   nextCtx
	next2 func() (repr.Row, repr.Diff, bool)
	stop  func()
	err   error
}

func (s *streamSource) next(ctx context.Context) (repr.Row, repr.Diff, error) {
	s.cur.ctx = ctx
	s.p.ev.Done = ctx.Done()
	row, d, ok := s.next2()
	if !ok {
		if s.err != nil {
			return nil, 0, s.err
		}
		return nil, 0, io.EOF
	}
	return row, d, nil
}

func (s *streamSource) close() {
	s.stop()
	s.p.release()
}

// nextCtx is the context of the Next call that resumed a stream: a
// stream read by several Execute messages (a portal) is cancelled by the
// one running.
type nextCtx struct{ ctx context.Context }

func (n *nextCtx) Deadline() (time.Time, bool) { return n.ctx.Deadline() }
func (n *nextCtx) Done() <-chan struct{}       { return n.ctx.Done() }
func (n *nextCtx) Err() error                  { return n.ctx.Err() }
func (n *nextCtx) Value(k any) any             { return n.ctx.Value(k) }

// runDataflow steps the transient dataflow once at the read time, outside
// the lock, and streams its output.
func (p *peek) runDataflow(ctx context.Context) (rowSource, error) {
	// Chunked imports take further steps, at times past the read's: the
	// transient dataflow's own, read at its last step (the inputs stop
	// at p.ts).
	at := p.ts
	for {
		if err := p.graph.Step(ctx, at); err != nil {
			p.release()
			p.c.releaseMemorySoon()
			return nil, err
		}
		if !p.graph.ImportsPending() {
			break
		}
		at++
	}
	oneShotStepsHook(int(at-p.ts) + 1)
	// The output is complete: the graph (and its holds on the imported
	// arrangements) can go; the output's own traces stay readable.
	p.graph.Close()
	p.graph = nil
	p.c.releaseMemorySoon()
	r := p.out.Reader(at)
	if err := objectErrors(r, at); err != nil {
		r.Release()
		p.release()
		return nil, err
	}
	cur, err := r.Cursor(at)
	if err != nil {
		r.Release()
		p.release()
		return nil, err
	}
	return &cursorSource{cur: cur, done: func() { r.Release(); p.release() }}, nil
}

// cursorSource is a rowSource over an Output's cursor (rows are keys,
// multiplicities their counts).
type cursorSource struct {
	cur  *dataflow.Cursor
	done func()
}

func (s *cursorSource) next(context.Context) (repr.Row, repr.Diff, error) {
	for s.cur.KeyValid() {
		row, n := s.cur.Key(), s.cur.Count()
		s.cur.StepKey()
		if n != 0 {
			return row, n, nil
		}
	}
	return nil, 0, io.EOF
}

func (s *cursorSource) close() {
	if s.done != nil {
		s.done()
		s.done = nil
	}
}

// peekLocked computes rel at ts and returns its rows, each repeated by its
// multiplicity (constants for AS OF and EXECUTE parameters, under the
// lock).
func (c *Coordinator) peekLocked(ctx context.Context, rel plan.Rel, ts repr.Timestamp) ([]repr.Row, error) {
	p, err := c.preparePeekLocked(rel, ts, nil, nil)
	if err != nil {
		return nil, err
	}
	src, err := p.run(ctx)
	if err != nil {
		return nil, err
	}
	return drain(ctx, newResultRows(src, sql.Finishing{Limit: -1, Project: identityCols(plan.Arity(rel))}, c.cfg.MaxQueryMemory))
}
