// Package loadgen holds viewd's load generators (CREATE SOURCE ... FROM
// LOAD GENERATOR COUNTER | AUCTION | TPCH | NEXMARK): sources that need no
// upstream system, so that a new user can try viewd at once.
//
// A generator is a deterministic state machine: tick 0 emits the initial
// data (the snapshot), every later tick one Unit of changes, and the
// sequence of Units depends only on the Kind and Options (Seed, Scale
// factor, Epoch), never on the wall clock. Each Unit is one upstream
// transaction: TPCH's new order with its lineitems lands at one timestamp,
// as does an auction's bid. The Unit's checkpoint is the position
// {Topic: "loadgen.<kind>", Partition: 0, Offset: next tick}; resuming at a
// tick replays the ticks before it silently, so the output after a restart
// is exactly the output the first run would have produced.
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
	// TickInterval is the wall-clock time between ticks (TICK INTERVAL);
	// default 1s. Zero-cost ticks: the data does not depend on it.
	TickInterval time.Duration
	// Seed makes the output deterministic (default 0).
	Seed int64
	// ScaleFactor is TPCH's SCALE FACTOR (default 0.01: 1,500 customers,
	// 15,000 orders).
	ScaleFactor float64
	// Epoch is the time of tick 0 in generated timestamps (default
	// 2024-01-01 UTC); tick i is Epoch + i*TickInterval.
	Epoch time.Time
	// MaxTicks stops the generator after that many ticks (0: never).
	MaxTicks int64
	// IDs maps collection names to the coordinator's ids; by default the
	// i-th collection of Collections gets id i+1.
	IDs map[string]sources.CollectionID
}

// Collection is one relation a generator produces.
type Collection struct {
	Name string
	Desc repr.RelationDesc
}

// machine is a generator's deterministic core.
type machine interface {
	collections() []Collection
	// tick appends tick i's changes to b.
	tick(i int64, b *batch)
}

// Generator drives a machine at its tick interval.
type Generator struct {
	kind Kind
	opts Options
	m    machine
	ids  []sources.CollectionID
	cols []Collection
}

// New returns the generator kind with opts.
func New(kind Kind, opts Options) (*Generator, error) {
	if opts.TickInterval <= 0 {
		opts.TickInterval = time.Second
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if opts.ScaleFactor <= 0 {
		opts.ScaleFactor = 0.01
	}
	var m machine
	switch Kind(strings.ToUpper(string(kind))) {
	case Counter:
		m = &counter{}
	case Auction:
		m = newAuction(opts)
	case TPCH:
		if opts.ScaleFactor > 10 {
			return nil, pgcode.New(pgcode.InvalidParameterValue, "loadgen: SCALE FACTOR %g is too large for an in-memory generator (at most 10)", opts.ScaleFactor)
		}
		m = newTPCH(opts)
	case Nexmark:
		m = newNexmark(opts)
	default:
		return nil, pgcode.New(pgcode.InvalidParameterValue, "loadgen: unknown load generator %q", kind)
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

// Collections returns the generator's relations, declared up front.
func (g *Generator) Collections() []Collection { return g.cols }

// Topic is the name positions carry.
func (g *Generator) Topic() string { return "loadgen." + strings.ToLower(string(g.kind)) }

// Tick computes tick i's unit. Ticks must be asked for in order from 0.
func (g *Generator) Tick(i int64) sources.Unit {
	b := &batch{rows: map[int][]sources.Update{}}
	g.m.tick(i, b)
	u := sources.Unit{Updates: map[sources.CollectionID][]sources.Update{}, TxnID: fmt.Sprint(i), Records: 1,
		Checkpoint: sources.Checkpoint{Positions: []sources.Position{{Topic: g.Topic(), Offset: i + 1}}}}
	for c, ups := range b.rows {
		u.Updates[g.ids[c]] = ups
	}
	return u
}

// Run emits ticks from resume (the Offset of a stored checkpoint; 0 for a
// fresh start) at the tick interval until ctx is cancelled (returning nil),
// MaxTicks is reached, or the sink fails.
func (g *Generator) Run(ctx context.Context, resume int64, sink sources.Sink) error {
	for i := int64(0); i < resume; i++ {
		g.Tick(i) // rebuild the state; output already emitted
	}
	t := time.NewTicker(g.opts.TickInterval)
	defer t.Stop()
	for i := resume; g.opts.MaxTicks == 0 || i < g.opts.MaxTicks; i++ {
		if err := sink.Emit(ctx, g.Tick(i)); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("loadgen: emitting tick %d: %w", i, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return nil
}

// batch collects one tick's updates by collection index.
type batch struct {
	rows map[int][]sources.Update
}

func (b *batch) insert(coll int, ds ...repr.Datum) {
	b.rows[coll] = append(b.rows[coll], sources.Update{Row: repr.PackRow(ds...), Diff: 1})
}

func (b *batch) delete(coll int, row repr.Row) {
	b.rows[coll] = append(b.rows[coll], sources.Update{Row: row, Diff: -1})
}

func (b *batch) insertRow(coll int, row repr.Row) {
	b.rows[coll] = append(b.rows[coll], sources.Update{Row: row, Diff: 1})
}

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
