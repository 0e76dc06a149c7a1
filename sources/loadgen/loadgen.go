// Package loadgen holds viewd's load generators (CREATE SOURCE ... FROM
// LOAD GENERATOR COUNTER | AUCTION | TPCH | NEXMARK): sources that need no
// upstream system, so that a new user can try viewd at once, and that feed
// benchmarks at whatever rate the dataflows take.
//
// A generator is a deterministic state machine: tick 0 emits the initial
// data (the snapshot), every later tick one upstream transaction (TPCH's
// new order with its lineitems, an auction with its bids, one NEXMARK
// event), and the sequence of ticks depends only on the Kind and Options
// (Seed, Scale factor, Epoch, TickInterval), never on the wall clock or on
// how ticks are grouped.
//
// Ticks are emitted in Units of many ticks: each Unit holds every tick
// due since the last one (at most MaxBatch), lands at one timestamp and is
// made durable with one write. A Unit carries each collection's rows
// packed back to back in one slab (sources.PackedRows), written once by
// the machine and taken as it is by the dataflow's input queue. A tick is never split across Units. The
// Unit's checkpoint is the position {Topic: "loadgen.<kind>", Partition:
// 0, Offset: the first tick not in it}; resuming at a tick rebuilds the
// state of the ticks before it silently (NEXMARK needs none: each event is
// computed from its number), so the output after a restart is exactly the
// output the first run would have produced.
//
// Pacing (Run): with Rate, tick i is due Rate ticks per second after the
// start; with Unlimited, ticks are produced as fast as the sink takes
// them, a Unit growing while the previous one is being applied (so a slow
// step gets a larger next Unit, a fast one a smaller); otherwise one tick
// per TickInterval. Ticks before AsOf are due at once and go out together
// as the first Unit; UpTo stops the generator before that tick.
package loadgen

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sources"
)

// Kind selects a generator.
type Kind string

// The generators.
const (
	Counter Kind = "COUNTER"
	Auction Kind = "AUCTION"
	TPCH    Kind = "TPCH"
	Nexmark Kind = "NEXMARK"
)

// Options configure a generator.
type Options struct {
	// TickInterval is the event time between ticks: tick i's timestamps
	// are Epoch + i*TickInterval. Without Rate or Unlimited it is also the
	// wall-clock time between ticks (TICK INTERVAL). Default 1s; for
	// NEXMARK, whose ticks are single events, 1s/Rate, else 100us (the
	// Nexmark generator's default first-event rate of 10,000 events/s).
	TickInterval time.Duration
	// Rate is ticks (for NEXMARK and COUNTER: events) per wall-clock
	// second (RATE n); 0 paces by TickInterval.
	Rate float64
	// Unlimited emits ticks as fast as the sink takes them (RATE
	// UNLIMITED).
	Unlimited bool
	// Seed makes the output deterministic (default 0).
	Seed int64
	// ScaleFactor is TPCH's SCALE FACTOR (default 0.01: 1,500 customers,
	// 15,000 orders).
	ScaleFactor float64
	// Epoch is the time of tick 0 in generated timestamps (default
	// 2024-01-01 UTC).
	Epoch time.Time
	// AsOf is the first tick emitted at its own pace (AS OF): the ticks
	// before it are due at once and form the first Unit, however many.
	AsOf int64
	// UpTo stops the generator before that tick (UP TO, MAX EVENTS, MAX
	// CARDINALITY); 0: never.
	UpTo int64
	// MaxBatch bounds the ticks of a Unit after the first (default
	// 65,536).
	MaxBatch int
	// IDs maps collection names to the coordinator's ids; by default the
	// i-th collection of Collections gets id i+1.
	IDs map[string]sources.CollectionID
}

// defaultMaxBatch is Options.MaxBatch's default: a NEXMARK Unit of it is
// about 10 MB of rows.
const defaultMaxBatch = 1 << 16

// minBatch is the fewest ticks an unlimited generator hands over while the
// sink is idle: fewer would make steps that cost more than their data.
const minBatch = 1024

// minPause is the least time between paced Units.
const minPause = time.Millisecond

// Collection is one relation a generator produces.
type Collection struct {
	Name string
	Desc repr.RelationDesc
}

// machine is a generator's deterministic core.
type machine interface {
	collections() []Collection
	// tick appends tick i's changes to b. Ticks come in order from 0,
	// or from where seek put the machine.
	tick(i int64, b *batch)
}

// seeker is a machine whose state at a tick can be set without running
// the ticks before it.
type seeker interface {
	seek(i int64)
}

// Generator drives a machine at its pace.
type Generator struct {
	kind Kind
	opts Options
	m    machine
	ids  []sources.CollectionID
	cols []Collection
	// sizes are the last Unit's rows and bytes per collection: the next
	// batch's slabs start with that room.
	sizes []slabSize
	// pos is the next tick the machine computes.
	pos int64
}

// New returns the generator kind with opts.
func New(kind Kind, opts Options) (*Generator, error) {
	kind = Kind(strings.ToUpper(string(kind)))
	if opts.TickInterval < 0 || opts.Rate < 0 || opts.AsOf < 0 || opts.UpTo < 0 || opts.MaxBatch < 0 {
		return nil, pgcode.New(pgcode.InvalidParameterValue, "loadgen: negative TICK INTERVAL, RATE, AS OF, UP TO or batch size")
	}
	if opts.TickInterval == 0 {
		switch {
		case kind == Nexmark && opts.Rate > 0:
			opts.TickInterval = time.Duration(float64(time.Second) / opts.Rate)
		case kind == Nexmark:
			opts.TickInterval = 100 * time.Microsecond
		default:
			opts.TickInterval = time.Second
		}
		opts.TickInterval = max(opts.TickInterval, time.Nanosecond)
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opts.ScaleFactor <= 0 {
		opts.ScaleFactor = 0.01
	}
	if opts.MaxBatch == 0 {
		opts.MaxBatch = defaultMaxBatch
	}
	m, err := newMachine(kind, opts)
	if err != nil {
		return nil, err
	}
	g := &Generator{kind: kind, opts: opts, m: m, cols: m.collections()}
	for i, c := range g.cols {
		id := sources.CollectionID(i + 1)
		if opts.IDs != nil {
			v, ok := opts.IDs[c.Name]
			if !ok {
				return nil, pgcode.New(pgcode.InvalidParameterValue, "loadgen: no collection id for %q", c.Name)
			}
			id = v
		}
		g.ids = append(g.ids, id)
	}
	return g, nil
}

// newMachine returns a kind's machine at tick 0.
func newMachine(kind Kind, opts Options) (machine, error) {
	switch kind {
	case Counter:
		return &counter{}, nil
	case Auction:
		return newAuction(opts), nil
	case TPCH:
		if opts.ScaleFactor > 10 {
			return nil, pgcode.New(pgcode.InvalidParameterValue, "loadgen: SCALE FACTOR %g is too large for an in-memory generator (at most 10)", opts.ScaleFactor)
		}
		return newTPCH(opts), nil
	case Nexmark:
		return newNexmark(opts), nil
	}
	return nil, pgcode.New(pgcode.InvalidParameterValue, "loadgen: unknown load generator %q", kind)
}

// Collections returns the generator's relations, declared up front.
func (g *Generator) Collections() []Collection { return g.cols }

// Options returns the generator's options with their defaults filled in.
func (g *Generator) Options() Options { return g.opts }

// AppendOnly reports whether the generator only ever inserts rows: every
// kind but TPCH, whose order refreshes delete orders and their lines.
func (g *Generator) AppendOnly() bool { return g.kind != TPCH }

// Topic is the name positions carry.
func (g *Generator) Topic() string { return "loadgen." + strings.ToLower(string(g.kind)) }

// Tick computes tick i's unit.
func (g *Generator) Tick(i int64) sources.Unit { return g.Ticks(i, i+1) }

// Ticks computes the unit of ticks [from, to). Asking for ticks in order
// is cheapest; asking for an earlier tick than the last one restarts the
// machine (NEXMARK's is free to move).
func (g *Generator) Ticks(from, to int64) sources.Unit {
	_ = g.seekTo(context.Background(), from)
	b := g.newBatch()
	for i := from; i < to; i++ {
		g.m.tick(i, b)
	}
	return g.unit(b, from, to)
}

// Replay computes ticks [0, upTo) — what a run emitted before its
// checkpoint upTo — and passes them to emit in Units of at most MaxBatch
// ticks, leaving the generator at upTo for Run. A coordinator that keeps
// only the checkpoint durably rebuilds a source's contents with it.
func (g *Generator) Replay(ctx context.Context, upTo int64, emit func(sources.Unit) error) error {
	for from := int64(0); from < upTo; {
		if err := ctx.Err(); err != nil {
			return err
		}
		to := min(upTo, from+int64(g.opts.MaxBatch))
		if err := emit(g.Ticks(from, to)); err != nil {
			return err
		}
		from = to
	}
	return nil
}

// seekTo brings the machine to tick i without emitting anything.
func (g *Generator) seekTo(ctx context.Context, i int64) error {
	if i == g.pos {
		return nil
	}
	if s, ok := g.m.(seeker); ok {
		s.seek(i)
		g.pos = i
		return nil
	}
	if i < g.pos {
		m, err := newMachine(g.kind, g.opts)
		if err != nil {
			return err
		}
		g.m, g.pos = m, 0
	}
	b := &batch{cols: make([]packedCol, len(g.cols))}
	for ; g.pos < i; g.pos++ {
		if g.pos%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			b = &batch{cols: make([]packedCol, len(g.cols))} // the rows are not wanted
		}
		g.m.tick(g.pos, b)
	}
	return nil
}

// newBatch returns an empty batch whose slabs have the room the last
// Unit's took and a quarter more (Units of an unlimited generator are
// alike in size, so most slabs never regrow: a regrowth copies the slab).
func (g *Generator) newBatch() *batch {
	b := &batch{cols: make([]packedCol, len(g.cols))}
	for c := range b.cols {
		if c < len(g.sizes) {
			sz := g.sizes[c]
			rows, bytes := sz.rows+sz.rows/4, sz.bytes+sz.bytes/4
			b.cols[c] = packedCol{data: make([]byte, 0, bytes), ends: make([]uint32, 0, rows), diffs: make([]repr.Diff, 0, rows)}
		}
	}
	return b
}

// unit turns the batch of ticks [from, to) into a Unit; the machine is
// at to.
func (g *Generator) unit(b *batch, from, to int64) sources.Unit {
	g.pos = to
	u := sources.Unit{Updates: make(map[sources.CollectionID][]sources.Update), TxnID: fmt.Sprint(from), Records: int(to - from),
		Checkpoint: sources.Checkpoint{Positions: []sources.Position{{Topic: g.Topic(), Offset: to}}}}
	// A Unit of more than MaxBatch ticks (the ticks before AS OF, a
	// snapshot) is no guide to the next.
	keep := to-from <= int64(g.opts.MaxBatch)
	if keep {
		g.sizes = g.sizes[:0]
	}
	for c := range b.cols {
		col := &b.cols[c]
		if keep {
			g.sizes = append(g.sizes, slabSize{rows: len(col.diffs), bytes: len(col.data)})
		}
		switch {
		case col.spilled != nil:
			col.spill()
			u.Updates[g.ids[c]] = col.spilled
		case len(col.diffs) > 0:
			if u.Packed == nil {
				u.Packed = make(map[sources.CollectionID]*sources.PackedRows, len(g.cols))
			}
			u.Packed[g.ids[c]] = &sources.PackedRows{Data: col.data, Ends: col.ends, Diffs: col.diffs}
		}
	}
	return u
}

// slabSize is what one collection's rows took in the last Unit.
type slabSize struct{ rows, bytes int }

// Run emits ticks from resume (the Offset of a stored checkpoint; 0 for a
// fresh start) at the generator's pace until ctx is cancelled (returning
// nil), UpTo is reached, or the sink fails. Ticks are computed on a
// goroutine of their own while the previous Unit is being emitted.
func (g *Generator) Run(ctx context.Context, resume int64, sink sources.Sink) error {
	if err := g.seekTo(ctx, resume); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	pctx := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	units := make(chan sources.Unit)
	go func() {
		defer close(units)
		g.produce(ctx, resume, units)
	}()
	for u := range units {
		if err := sink.Emit(ctx, u); err != nil {
			cancel()
			for range units { // until produce sees the cancel
			}
			if pctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("loadgen: emitting ticks: %w", err)
		}
	}
	return nil
}

// produce computes Units from tick next on and sends them to units until
// UpTo or ctx's end.
func (g *Generator) produce(ctx context.Context, next int64, units chan<- sources.Unit) {
	start := time.Now()
	first := max(next, g.opts.AsOf)
	// due returns how many ticks are due at now: all of them before
	// first, then one per pacing interval.
	due := func(now time.Time) int64 {
		el := now.Sub(start)
		if g.opts.Rate > 0 {
			return first + int64(el.Seconds()*g.opts.Rate) + 1
		}
		return first + int64(el/g.opts.TickInterval) + 1
	}
	// at is when tick i is due.
	at := func(i int64) time.Time {
		if g.opts.Rate > 0 {
			return start.Add(time.Duration(float64(i-first) / g.opts.Rate * float64(time.Second)))
		}
		return start.Add(time.Duration(i-first) * g.opts.TickInterval)
	}
	var sent time.Time // when the last Unit was handed over
	timer := time.NewTimer(0)
	defer timer.Stop()
	for !g.done(next) {
		if ctx.Err() != nil {
			return
		}
		from := next
		b := g.newBatch()
		switch {
		case next < first:
			for ; next < first && !g.done(next); next++ {
				g.m.tick(next, b)
			}
		case g.opts.Unlimited:
			// Fill until the emitter is idle and the Unit is worth a
			// step, or until it is full: a Unit grows while the previous
			// one is being applied.
			handed := false
			for n := 0; n < g.opts.MaxBatch && !g.done(next); n++ {
				if n >= minBatch && n%256 == 0 {
					select {
					case units <- g.unit(b, from, next):
						handed = true
					default:
					}
					if handed {
						break
					}
				}
				g.m.tick(next, b)
				next++
			}
			if handed {
				continue
			}
		default:
			last := due(time.Now())
			if g.opts.UpTo > 0 {
				last = min(last, g.opts.UpTo)
			}
			if now := time.Now(); last <= next || now.Before(sent.Add(minPause)) {
				// Wait for the next tick, and at least minPause
				// after the last Unit: at high rates ticks then
				// come in Units of a millisecond's worth.
				timer.Reset(max(at(next).Sub(now), sent.Add(minPause).Sub(now)))
				select {
				case <-ctx.Done():
					return
				case <-timer.C:
				}
				continue
			}
			for n := 0; next < last && n < g.opts.MaxBatch; n++ {
				g.m.tick(next, b)
				next++
			}
		}
		select {
		case units <- g.unit(b, from, next):
			sent = time.Now()
		case <-ctx.Done():
			return
		}
	}
}

// done reports whether tick i is past the end (UpTo).
func (g *Generator) done(i int64) bool { return g.opts.UpTo > 0 && i >= g.opts.UpTo }

// batch collects ticks' updates by collection index, each collection's
// rows packed back to back into a slab of its own (the layout of
// sources.PackedRows), which the Unit hands over whole: a row is written
// once, where the dataflow's input queue will read it.
type batch struct {
	cols []packedCol
	// cur is the collection of the row being packed (begin to end).
	cur *packedCol
}

// packedCol is one collection's rows in a batch.
type packedCol struct {
	data  []byte
	ends  []uint32
	diffs []repr.Diff
	// spilled holds the rows of slabs that grew past maxSlab, as
	// updates aliasing them: such a collection goes out in Unit.Updates.
	spilled []sources.Update
}

// maxSlab bounds a collection's slab: row ends are uint32
// (sources.PackedRows). A Unit of ticks holds megabytes; only a huge first
// tick (a TPCH snapshot) comes near, and its rows then go out as Updates
// over several slabs.
const maxSlab = 1 << 30

// spill moves the slab's rows to spilled and starts an empty slab.
func (c *packedCol) spill() {
	p := sources.PackedRows{Data: c.data, Ends: c.ends, Diffs: c.diffs}
	c.spilled = append(c.spilled, p.Updates()...)
	c.data, c.ends, c.diffs = nil, nil, nil
}

// begin starts a row of collection coll; push its datums, then end.
func (b *batch) begin(coll int) { b.cur = &b.cols[coll] }

// push appends a datum to the row being packed.
func (b *batch) push(d repr.Datum) { b.cur.data = repr.AppendDatum(b.cur.data, d) }

// end finishes the row being packed with diff.
func (b *batch) end(diff repr.Diff) {
	c := b.cur
	b.cur = nil
	if len(c.data) > maxSlab {
		start := 0
		if n := len(c.ends); n > 0 {
			start = int(c.ends[n-1])
		}
		row := c.data[start:]
		c.data = c.data[:start]
		c.spill()
		c.data = append(c.data, row...)
	}
	c.ends = append(c.ends, uint32(len(c.data)))
	c.diffs = append(c.diffs, diff)
}

// add appends a packed row with diff.
func (b *batch) add(coll int, row repr.Row, diff repr.Diff) {
	b.begin(coll)
	b.cur.data = append(b.cur.data, row...)
	b.end(diff)
}

func (b *batch) insert(coll int, ds ...repr.Datum) {
	b.begin(coll)
	for _, d := range ds {
		b.push(d)
	}
	b.end(1)
}

func (b *batch) delete(coll int, row repr.Row) { b.add(coll, row, -1) }

func (b *batch) insertRow(coll int, row repr.Row) { b.add(coll, row, 1) }

// desc builds a RelationDesc from name/type pairs; every column NOT NULL.
func desc(key []int, cols ...any) repr.RelationDesc {
	var d repr.RelationDesc
	for i := 0; i < len(cols); i += 2 {
		d.Names = append(d.Names, cols[i].(string))
		d.Types = append(d.Types, repr.ColumnType{Type: cols[i+1].(repr.ScalarType)})
	}
	if key != nil {
		d.Keys = [][]int{key}
	}
	return d
}

func i8(v int64) repr.Datum   { return repr.Int8Datum(v) }
func i4(v int64) repr.Datum   { return repr.Int4Datum(int32(v)) }
func txt(s string) repr.Datum { return repr.TextDatum(s) }

func tstz(t time.Time) repr.Datum { return repr.TimestampTzDatum(t.UnixMicro()) }

// pick returns a random element.
func pick[T any](r *rand.Rand, xs []T) T { return xs[r.Intn(len(xs))] }

var words = []string{"furiously", "quickly", "carefully", "blithely", "slyly", "regular", "express", "final", "pending",
	"ironic", "bold", "special", "even", "silent", "deposits", "requests", "accounts", "packages", "theodolites", "pinto", "beans"}

func sentence(r *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = pick(r, words)
	}
	return strings.Join(ws, " ")
}

// counter is COUNTER: one column `counter` that counts ticks from 1.
type counter struct{}

func (counter) collections() []Collection {
	return []Collection{{Name: "counter", Desc: desc(nil, "counter", repr.TypeInt8)}}
}

func (counter) tick(i int64, b *batch) { b.insert(0, i8(i+1)) }
