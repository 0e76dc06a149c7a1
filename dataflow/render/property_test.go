package render_test

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/dataflow/render"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// TestRenderedPlansAgreeWithOracle is issue 2's property test: every
// rendered plan is checked against a naive recomputation on random update
// streams with retractions.
//
// Each case draws, from its seed, a set of indexes, a random MIR plan over
// the tables t, u and w, and an update stream. The plan is optimised and
// lowered with the indexes as IndexOracle, then rendered into a maintained
// graph (sometimes after the inputs already hold history, as for a
// materialized view created later) that imports the tables' materialized
// outputs and, for the joins that use them, their index arrangements. At
// every step the input graphs step first, then the rendered graph, and
// Output.Read(t) must equal the naive evaluation of the unoptimised MIR
// over the accumulated inputs at t (mz_now() = t); so must a read of the
// maintained output at an earlier time. Twice per case a transient graph
// is rendered at a random time t0 in the inputs' readable window (as a
// one-shot SELECT ... AS OF does) and its first step must give the naive
// result at t0. The inputs' since trails the current time, so imports read
// compacted history. Every case runs with 1 and with 4 workers.
//
// VIEWD_PROPTEST_CASES sets the number of plans (default 200, CI 1000);
// VIEWD_PROPTEST_SEED runs the one case of that seed;
// VIEWD_PROPTEST_KEEPGOING=1 goes on after a failure. A failure prints
// the seed, the plans (MIR, optimised MIR, LIR), the inputs and the
// difference.
func TestRenderedPlansAgreeWithOracle(t *testing.T) {
	cases := 200
	if s := os.Getenv("VIEWD_PROPTEST_CASES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("VIEWD_PROPTEST_CASES=%q: %v", s, err)
		}
		cases = n
	} else if testing.Short() {
		cases = 50
	}
	seeds := make([]int64, cases)
	for i := range seeds {
		seeds[i] = int64(i + 1)
	}
	if s := os.Getenv("VIEWD_PROPTEST_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("VIEWD_PROPTEST_SEED=%q: %v", s, err)
		}
		seeds = []int64{n}
	}
	// VIEWD_PROPTEST_KEEPGOING=1 reports every failing case, not just the
	// first.
	keepGoing := os.Getenv("VIEWD_PROPTEST_KEEPGOING") != ""
	st := newStats()
	start := time.Now()
	for _, seed := range seeds {
		for _, w := range []int{1, 4} {
			if !runCase(t, seed, w, st) && !keepGoing {
				return
			}
		}
	}
	t.Logf("%d plans x workers {1,4} in %v: %s", len(seeds), time.Since(start).Round(time.Millisecond), st)
	if len(seeds) >= 50 {
		for _, k := range []string{"delta", "linear"} {
			if st.joins[k] == 0 {
				t.Errorf("no %s join was planned in %d cases: %s", k, len(seeds), st)
			}
		}
		if st.indexReads == 0 {
			t.Errorf("no Get was read by its literal key prefix in %d cases: %s", len(seeds), st)
		}
	}
}

type stats struct {
	joins    map[string]int
	features map[string]int
	steps    int
	trans    int
	subs     int
	imported int
	// indexReads counts Gets read by seeking literal key prefixes in an
	// index (render's IndexRead).
	indexReads int
	skipped    int
}

func newStats() *stats {
	return &stats{joins: map[string]int{}, features: map[string]int{}}
}

func (s *stats) String() string {
	var fs []string
	for k, v := range s.features {
		fs = append(fs, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(fs)
	return fmt.Sprintf("joins delta=%d linear=%d; steps=%d transient=%d subscribe=%d imported-arrangements=%d index-reads=%d skipped=%d; %s",
		s.joins["delta"], s.joins["linear"], s.steps, s.trans, s.subs, s.imported, s.indexReads, s.skipped, strings.Join(fs, " "))
}

// stream generates a table's random updates: inserts, retractions and
// changes (a retraction and an insert at one time), never retracting a row
// that is not there, and keeping a unique column unique.
type stream struct {
	tb    table
	state coll
}

func (s *stream) randRow(rng *rand.Rand) repr.Row {
	ds := make([]repr.Datum, s.tb.get.Type.Arity())
	for i, c := range s.tb.get.Type.Cols {
		ds[i] = repr.Int8Datum(int64(rng.Intn(6) - 1))
		if c.Nullable && rng.Intn(5) == 0 {
			ds[i] = repr.Null
		}
	}
	return repr.PackRow(ds...)
}

func (s *stream) present(col int, v repr.Datum) bool {
	for k := range s.state {
		if repr.Compare(repr.Row(k).Datums()[col], v) == 0 {
			return true
		}
	}
	return false
}

func (s *stream) next(rng *rand.Rand, t repr.Timestamp) []repr.Update {
	var ups []repr.Update
	emit := func(row repr.Row, d repr.Diff) {
		ups = append(ups, repr.Update{Row: row, Time: t, Diff: d})
		s.state.add(row, d)
	}
	insert := func() {
		row := s.randRow(rng)
		if s.tb.unique >= 0 {
			if s.present(s.tb.unique, row.Datums()[s.tb.unique]) {
				return
			}
			emit(row, 1)
			return
		}
		emit(row, repr.Diff(1+rng.Intn(2)))
	}
	retract := func() {
		if len(s.state) == 0 {
			return
		}
		ks := s.state.sortedKeys()
		k := ks[rng.Intn(len(ks))]
		d := s.state[k]
		if d > 1 && rng.Intn(2) == 0 {
			d = 1
		}
		emit(repr.Row(k), -d)
	}
	n := rng.Intn(5)
	if len(s.state) < 3 {
		n++
	}
	for i := 0; i < n; i++ {
		switch rng.Intn(5) {
		case 0, 1:
			insert()
		case 2, 3:
			retract()
		default:
			retract()
			insert()
		}
	}
	return ups
}

// history is the accumulated database after each step, by time.
type history struct {
	times []repr.Timestamp
	dbs   []database
}

func (h *history) add(t repr.Timestamp, db database) {
	snap := database{}
	for id, c := range db {
		snap[id] = c.clone()
	}
	h.times = append(h.times, t)
	h.dbs = append(h.dbs, snap)
}

// at returns the database as of t (the last step at or before t).
func (h *history) at(t repr.Timestamp) database {
	i := sort.Search(len(h.times), func(i int) bool { return h.times[i] > t }) - 1
	if i < 0 {
		return database{}
	}
	return h.dbs[i]
}

// caseRun is one case's context for failure reports.
type caseRun struct {
	t     *testing.T
	seed  int64
	w     int
	idx   indexSet
	rel   plan.Rel
	opt   plan.Rel
	lir   plan.Node
	steps []string
}

func (c *caseRun) fail(format string, args ...any) bool {
	c.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d workers %d (rerun: VIEWD_PROPTEST_SEED=%d go test ./dataflow/render -run TestRenderedPlansAgreeWithOracle)\n", c.seed, c.w, c.seed)
	fmt.Fprintf(&b, format, args...)
	fmt.Fprintf(&b, "\nindexes: %s\nMIR:\n%s", c.idx, plan.Explain(c.rel))
	if c.opt != nil {
		fmt.Fprintf(&b, "optimised MIR:\n%s", plan.Explain(c.opt))
	}
	if c.lir != nil {
		fmt.Fprintf(&b, "LIR:\n%s", plan.ExplainLIR(c.lir))
	}
	fmt.Fprintf(&b, "updates:\n%s", strings.Join(c.steps, ""))
	c.t.Error(b.String())
	return false
}

func formatDB(db database) string {
	var b strings.Builder
	for _, id := range []plan.GlobalID{1, 2, 3} {
		fmt.Fprintf(&b, "  %d: %s", id, strings.ReplaceAll(formatCanon(canon(db[id])), "\n", " "))
		b.WriteString("\n")
	}
	return b.String()
}

// runCase runs one seed with w workers; it reports false after a failure.
func runCase(t *testing.T, seed int64, w int, st *stats) bool {
	rng := rand.New(rand.NewSource(seed))
	tables := testTables()
	idx := randomIndexes(rng, tables)
	gen := newRelGen(rng, tables)
	rel := gen.gen(3 + rng.Intn(3))
	if rng.Intn(8) == 0 {
		// A division that fails on some rows: errors must appear (and be
		// retracted) exactly when the oracle fails.
		cols := rel.Typ().Cols
		if ints := colsOfKind(cols, repr.KindInt8); len(ints) > 0 {
			c := expr.Column{Index: ints[rng.Intn(len(ints))]}
			rel = plan.Map{Input: rel, Scalars: []expr.Scalar{call("/", cols, lit8(10), call("-", cols, c, lit8(2)))}}
			gen.note("division")
		}
	}
	if rng.Intn(3) != 0 {
		// Index the join columns, so that joins of three or more catalog
		// collections are planned as delta joins.
		idx.merge(gen.wanted)
	}
	return runPlan(t, rng, seed, w, rel, idx, gen.features, st)
}

// runPlan runs rel with the indexes idx on a random update stream drawn
// from rng (see TestRenderedPlansAgreeWithOracle).
func runPlan(t *testing.T, rng *rand.Rand, seed int64, w int, rel plan.Rel, idx indexSet, features map[string]int, st *stats) bool {
	ctx := context.Background()
	tables := testTables()
	c := &caseRun{t: t, seed: seed, w: w, idx: idx, rel: rel}
	opt, rep, err := plan.OptimizeReport(rel, idx)
	if err != nil {
		return c.fail("optimize: %v", err)
	}
	c.opt = opt
	if len(rep.Unconverged) > 0 {
		// Rules that undo each other cost MaxPasses passes of planning
		// on every such query (psql's \d queries took 25).
		return c.fail("optimiser batches %v did not reach a fixed point", rep.Unconverged)
	}
	lir, err := plan.Lower(opt, idx)
	if err != nil {
		return c.fail("lower: %v", err)
	}
	c.lir = lir
	if w == 1 {
		for k, v := range features {
			st.features[k] += v
		}
		lirFeatures(lir, st.features)
		plan.Visit(opt, func(r plan.Rel) {
			if j, ok := r.(plan.Join); ok {
				switch j.Implementation.Kind {
				case plan.DeltaJoin:
					st.joins["delta"]++
				case plan.LinearJoin:
					st.joins["linear"]++
				}
			}
		})
	}

	cat := newCatalog(tables, idx, w)
	defer cat.close()
	imps := &testImports{c: cat}
	streams := make([]*stream, len(tables))
	db := database{}
	for i, tb := range tables {
		streams[i] = &stream{tb: tb, state: coll{}}
		db[tb.get.Global] = streams[i].state
	}
	var hist history
	const lag = 4
	nsteps := 10 + rng.Intn(6)
	createAt := rng.Intn(3)
	transAt := map[int]bool{rng.Intn(nsteps): true, nsteps - 1 - rng.Intn(3): true}
	var g *dataflow.Graph
	var out *dataflow.Output
	var first repr.Timestamp
	// sub is a SUBSCRIBE-like graph: rendered mid-run as of a past time in
	// the readable window, over collection imports only (as
	// coord/subscribe.go's outputsOnly), stepped at that time and then at
	// every later step.
	var sub *dataflow.Graph
	var subOut *dataflow.Output
	subAt := 1 + rng.Intn(nsteps-1)
	defer func() {
		if g != nil {
			g.Close()
		}
		if sub != nil {
			sub.Close()
		}
	}()
	now := repr.Timestamp(0)
	// stepTo steps the inputs (with ups), then the maintained graph, at at.
	stepTo := func(at repr.Timestamp, ups map[plan.GlobalID][]repr.Update) bool {
		if err := cat.step(ctx, at, ups); err != nil {
			return c.fail("input step at %d: %v", at, err)
		}
		hist.add(at, db)
		if sub != nil {
			if err := stepOrIdle(ctx, sub, at); err != nil {
				return c.fail("subscribe step at %d: %v", at, err)
			}
			if !checkRead(c, subOut, at, hist.at(at), "subscribe") {
				return false
			}
		}
		if g == nil {
			return true
		}
		if err := stepOrIdle(ctx, g, at); err != nil {
			return c.fail("step at %d: %v", at, err)
		}
		st.steps++
		return checkRead(c, out, at, hist.at(at), "maintained")
	}
	for step := 0; step < nsteps; step++ {
		next := now + repr.Timestamp(1+rng.Intn(3))
		// As the coordinator does, step at the times a temporal filter has
		// work scheduled: between steps the output holds as of the last.
		for g != nil {
			at, ok := g.NextScheduled()
			if !ok || at >= next {
				break
			}
			if at <= now {
				return c.fail("NextScheduled %d is not after the last step %d", at, now)
			}
			now = at
			c.steps = append(c.steps, fmt.Sprintf("  t=%d: (scheduled)\n", now))
			if !stepTo(now, nil) {
				return false
			}
		}
		now = next
		ups := map[plan.GlobalID][]repr.Update{}
		var line strings.Builder
		fmt.Fprintf(&line, "  t=%d:", now)
		for i, s := range streams {
			u := s.next(rng, now)
			ups[tables[i].get.Global] = u
			for _, x := range u {
				fmt.Fprintf(&line, " %s%s%+d", tables[i].get.Name, canonRow(x.Row), x.Diff)
			}
		}
		c.steps = append(c.steps, line.String()+"\n")
		if step == createAt {
			g = dataflow.NewGraph(graphOptions(w))
			coll, err := render.Render(g, lir, imps, now)
			if err != nil {
				return c.fail("render at %d: %v", now, err)
			}
			out = coll.Materialize(now)
			first = now
		}
		if !stepTo(now, ups) {
			return false
		}
		if g != nil {
			if now > first {
				past := first + repr.Timestamp(rng.Int63n(int64(now-first)))
				if !checkRead(c, out, past, hist.at(past), "maintained, earlier read") {
					return false
				}
			}
		}
		if step == subAt {
			asOf := cat.since + repr.Timestamp(rng.Int63n(int64(now-cat.since)+1))
			sub = dataflow.NewGraph(graphOptions(w))
			coll, err := render.Render(sub, lir, outputsOnly{imps}, asOf)
			if err != nil {
				return c.fail("subscribe render as of %d: %v", asOf, err)
			}
			subOut = coll.Materialize(asOf)
			if err := sub.Step(ctx, asOf); err != nil {
				return c.fail("subscribe first step at %d: %v", asOf, err)
			}
			if !checkRead(c, subOut, asOf, hist.at(asOf), "subscribe, first step") {
				return false
			}
			st.subs++
		}
		if transAt[step] {
			t0 := cat.since + repr.Timestamp(rng.Int63n(int64(now-cat.since)+1))
			if !checkTransient(c, lir, imps, w, t0, hist.at(t0)) {
				return false
			}
			st.trans++
		}
		if now > lag {
			cat.setSince(now - lag)
		}
	}
	st.imported += imps.imported
	st.indexReads += imps.indexReads
	return true
}

func checkRead(c *caseRun, out *dataflow.Output, at repr.Timestamp, db database, what string) bool {
	c.t.Helper()
	got, errs, err := readColl(out, at)
	if err != nil {
		return c.fail("%s: read at %d: %v", what, at, err)
	}
	want, werr := (&naive{db: db, now: at}).eval(c.rel)
	if werr != nil {
		if len(errs) == 0 {
			return c.fail("%s at %d: the oracle fails with %v, the dataflow has no error", what, at, werr)
		}
		return true
	}
	if len(errs) > 0 {
		return c.fail("%s at %d: unexpected errors %v", what, at, errs)
	}
	wc, gc := canon(want), canon(got)
	if d := diffCanon(wc, gc); d != "" {
		return c.fail("%s at %d: results differ:\n%sinputs at %d:\n%swant:\n%sgot:\n%s", what, at, d, at, formatDB(db), formatCanon(wc), formatCanon(gc))
	}
	return true
}

// checkTransient renders lir in a new graph at t0, steps it once and
// compares its output with the naive result at t0.
func checkTransient(c *caseRun, lir plan.Node, imps render.Imports, w int, t0 repr.Timestamp, db database) bool {
	c.t.Helper()
	g := dataflow.NewGraph(graphOptions(w))
	defer g.Close()
	coll, err := render.Render(g, lir, imps, t0)
	if err != nil {
		return c.fail("transient render at %d: %v", t0, err)
	}
	out := coll.Materialize(t0)
	if err := g.Step(context.Background(), t0); err != nil {
		return c.fail("transient step at %d: %v", t0, err)
	}
	return checkRead(c, out, t0, db, "transient")
}

// outputsOnly hides existing arrangements, as coord/subscribe.go does for
// a dataflow whose first step may be in the past.
type outputsOnly struct{ render.Imports }

func (outputsOnly) Arrangement(*dataflow.Graph, plan.GlobalID, []expr.Scalar) (*dataflow.Arranged, bool, error) {
	return nil, false, nil
}

// IndexRead reads nothing either: an index read, like an arrangement
// import, delivers no history before its creation.
func (outputsOnly) IndexRead(*dataflow.Graph, plan.GlobalID, []expr.Scalar, []repr.Row) (*dataflow.Collection, bool, error) {
	return nil, false, nil
}

// lirFeatures counts the LIR operators of n (and of join inputs the
// details that matter to rendering: delta or linear, inputs with an MFP,
// arranged intermediate inputs).
func lirFeatures(n plan.Node, f map[string]int) {
	var walk func(n plan.Node)
	walk = func(n plan.Node) {
		switch n := n.(type) {
		case plan.LGet:
			f["lir:get"]++
		case plan.LConstant:
			f["lir:constant"]++
		case plan.LMfp:
			f["lir:mfp"]++
			walk(n.Input)
		case plan.LTemporalFilter:
			f["lir:temporal"]++
			walk(n.Input)
		case plan.LFlatMap:
			f["lir:flatmap"]++
			walk(n.Input)
		case plan.LJoin:
			kind := "linear"
			if _, ok := n.Plan.(plan.DeltaJoinPlan); ok {
				kind = "delta"
			}
			f[fmt.Sprintf("lir:join-%s-%d", kind, len(n.Inputs))]++
			for _, in := range n.Inputs {
				switch in := in.(type) {
				case plan.LGet:
					if !in.MFP.IsIdentity() || in.MFP.InputArity != len(in.MFP.Projection) {
						f["lir:join-"+kind+"-input-mfp"]++
					}
					if in.Local != 0 {
						f["lir:join-"+kind+"-input-local"]++
					}
				case plan.LArrangeBy:
					f["lir:join-"+kind+"-input-arrangeby"]++
				}
				walk(in)
			}
		case plan.LReduce:
			f["lir:reduce-"+n.Plan.Kind.String()]++
			walk(n.Input)
		case plan.LTopK:
			f["lir:topk"]++
			walk(n.Input)
		case plan.LNegate:
			f["lir:negate"]++
			walk(n.Input)
		case plan.LThreshold:
			f["lir:threshold"]++
			walk(n.Input)
		case plan.LUnion:
			f["lir:union"]++
			for _, in := range n.Inputs {
				walk(in)
			}
		case plan.LArrangeBy:
			f["lir:arrangeby"]++
			walk(n.Input)
		case plan.LLet:
			f["lir:let"]++
			walk(n.Value)
			walk(n.Body)
		default:
			f[fmt.Sprintf("lir:%T", n)]++
		}
	}
	walk(n)
}

// stepOrIdle steps g at t as the coordinator does: a Quiet graph advances
// without running its operators (so an operator whose pending work Quiet
// does not see loses updates, and the check against the naive evaluation
// fails).
func stepOrIdle(ctx context.Context, g *dataflow.Graph, t repr.Timestamp) error {
	if g.Quiet(t) {
		g.AdvanceIdle(t)
		return nil
	}
	return g.Step(ctx, t)
}
