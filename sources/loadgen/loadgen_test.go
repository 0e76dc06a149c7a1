package loadgen

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sources"
)

// tables applies units and keeps each collection's rows by primary key.
type tables struct {
	t     *testing.T
	cols  []Collection
	ids   map[sources.CollectionID]int
	rows  []map[string]repr.Row // pk bytes -> row
	multi []map[string]int64    // keyless: row bytes -> count
}

func newTables(t *testing.T, g *Generator) *tables {
	tb := &tables{t: t, cols: g.Collections(), ids: map[sources.CollectionID]int{}}
	for i := range tb.cols {
		tb.ids[g.ids[i]] = i
		tb.rows = append(tb.rows, map[string]repr.Row{})
		tb.multi = append(tb.multi, map[string]int64{})
	}
	return tb
}

func pkOf(d repr.RelationDesc, row repr.Row) string {
	ds := row.Datums()
	var p repr.Packer
	for _, c := range d.Keys[0] {
		p.Push(ds[c])
	}
	return string(p.Row())
}

func (tb *tables) apply(u sources.Unit) {
	tb.t.Helper()
	for id, ups := range u.All() {
		c := tb.ids[id]
		d := tb.cols[c].Desc
		for _, up := range ups {
			if row := up.Row.Datums(); len(row) != d.Arity() {
				tb.t.Fatalf("%s: row %s has %d columns, want %d", tb.cols[c].Name, up.Row, len(row), d.Arity())
			} else {
				for i, dt := range row {
					if dt.IsNull() || dt.Kind() != d.Types[i].Type.Kind {
						tb.t.Fatalf("%s.%s: %s is not %s", tb.cols[c].Name, d.Names[i], dt, d.Types[i].Type)
					}
				}
			}
			if len(d.Keys) == 0 {
				tb.multi[c][string(up.Row)] += int64(up.Diff)
				if tb.multi[c][string(up.Row)] < 0 {
					tb.t.Fatalf("%s: negative multiplicity of %s", tb.cols[c].Name, up.Row)
				}
				continue
			}
			k := pkOf(d, up.Row)
			switch {
			case up.Diff == 1:
				if _, ok := tb.rows[c][k]; ok {
					tb.t.Fatalf("%s: duplicate key %s", tb.cols[c].Name, repr.Row(k))
				}
				tb.rows[c][k] = up.Row
			case up.Diff == -1:
				if !repr.SameBytes(tb.rows[c][k], up.Row) {
					tb.t.Fatalf("%s: retraction of absent row %s", tb.cols[c].Name, up.Row)
				}
				delete(tb.rows[c], k)
			default:
				tb.t.Fatalf("diff %d", up.Diff)
			}
		}
	}
}

func (tb *tables) index(name string) int {
	for i, c := range tb.cols {
		if c.Name == name {
			return i
		}
	}
	tb.t.Fatalf("no collection %s", name)
	return -1
}

// each calls fn for every row of name.
func (tb *tables) each(name string, fn func(ds []repr.Datum)) {
	c := tb.index(name)
	for _, r := range tb.rows[c] {
		fn(r.Datums())
	}
	for r, n := range tb.multi[c] {
		for ; n > 0; n-- {
			fn(repr.Row(r).Datums())
		}
	}
}

// checkFK checks that every child.cols value is a key of parent.
func (tb *tables) checkFK(child string, cols []int, parent string) {
	tb.t.Helper()
	pc := tb.index(parent)
	tb.each(child, func(ds []repr.Datum) {
		var p repr.Packer
		for _, c := range cols {
			p.Push(ds[c])
		}
		if _, ok := tb.rows[pc][string(p.Row())]; !ok {
			tb.t.Fatalf("%s row %v references missing %s %s", child, ds, parent, p.Row())
		}
	})
}

// checkAhead checks that every child.col value is at most lead past the
// largest id of parent (column 0) and at least its smallest.
func (tb *tables) checkAhead(child string, col int, parent string, lead int64) {
	tb.t.Helper()
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	tb.each(parent, func(ds []repr.Datum) { lo, hi = min(lo, ds[0].Int()), max(hi, ds[0].Int()) })
	tb.each(child, func(ds []repr.Datum) {
		if v := ds[col].Int(); v < lo || v > hi+lead {
			tb.t.Fatalf("%s row %v references %s %d outside [%d, %d+%d]", child, ds, parent, v, lo, hi, lead)
		}
	})
}

func (tb *tables) count(name string) int {
	n := 0
	tb.each(name, func([]repr.Datum) { n++ })
	return n
}

func TestCounter(t *testing.T) {
	g, err := New(Counter, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < 3; i++ {
		u := g.Tick(i)
		if got := u.UpdatesOf(1)[0].Row.String(); got != fmt.Sprintf("(%d)", i+1) || u.Checkpoint.Positions[0].Offset != i+1 {
			t.Errorf("tick %d: %s %v", i, got, u.Checkpoint)
		}
	}
}

func TestReferentialIntegrity(t *testing.T) {
	for _, tc := range []struct {
		kind  Kind
		ticks int64
		check func(t *testing.T, tb *tables, final bool)
	}{
		{Auction, 300, func(t *testing.T, tb *tables, final bool) {
			tb.checkFK("users", []int{1}, "organizations")
			tb.checkFK("accounts", []int{1}, "organizations")
			tb.checkFK("auctions", []int{1}, "users")
			tb.checkFK("bids", []int{1}, "users")
			tb.checkFK("bids", []int{2}, "auctions")
			ends := map[int64]int64{}
			tb.each("auctions", func(ds []repr.Datum) { ends[ds[0].Int()] = ds[3].Micros() })
			tb.each("bids", func(ds []repr.Datum) {
				if ds[4].Micros() >= ends[ds[2].Int()] {
					t.Fatalf("bid %v after its auction ended", ds)
				}
			})
		}},
		{TPCH, 200, func(t *testing.T, tb *tables, final bool) {
			tb.checkFK("nation", []int{2}, "region")
			tb.checkFK("supplier", []int{3}, "nation")
			tb.checkFK("customer", []int{3}, "nation")
			tb.checkFK("partsupp", []int{0}, "part")
			tb.checkFK("partsupp", []int{1}, "supplier")
			tb.checkFK("orders", []int{1}, "customer")
			tb.checkFK("lineitem", []int{0}, "orders")
			tb.checkFK("lineitem", []int{1, 2}, "partsupp")
			// Every order has its lineitems (deletes take both).
			lines := map[int64]int{}
			tb.each("lineitem", func(ds []repr.Datum) { lines[ds[0].Int()]++ })
			tb.each("orders", func(ds []repr.Datum) {
				if lines[ds[0].Int()] == 0 {
					t.Fatalf("order %d has no lineitems", ds[0].Int())
				}
			})
			if n := tb.count("orders"); final && n != 1500 {
				t.Fatalf("orders = %d, want the steady 1,500 at scale factor 0.001", n)
			}
		}},
		{Nexmark, 3000, func(t *testing.T, tb *tables, final bool) {
			// The model lets an auction's seller and a bid's bidder and
			// auction be up to 10 ids ahead of the newest.
			tb.checkAhead("auction", 7, "person", nexPersonIDLead)
			tb.checkAhead("bid", 0, "auction", nexAuctionIDLead)
			tb.checkAhead("bid", 1, "person", nexPersonIDLead)
			if p, a, b := tb.count("person"), tb.count("auction"), tb.count("bid"); final && (p != 60 || a != 180 || b != 2760) {
				t.Fatalf("person/auction/bid = %d/%d/%d, want 60/180/2760", p, a, b)
			}
		}},
	} {
		t.Run(string(tc.kind), func(t *testing.T) {
			g, err := New(tc.kind, Options{Seed: 7, ScaleFactor: 0.001})
			if err != nil {
				t.Fatal(err)
			}
			tb := newTables(t, g)
			for i := int64(0); i < tc.ticks; i++ {
				u := g.Tick(i)
				tb.apply(u)
				if i == 0 || i%50 == 0 || i == tc.ticks-1 {
					tc.check(t, tb, i == tc.ticks-1)
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for _, k := range []Kind{Counter, Auction, TPCH, Nexmark} {
		run := func(seed int64) []sources.Unit {
			g, err := New(k, Options{Seed: seed, ScaleFactor: 0.001})
			if err != nil {
				t.Fatal(err)
			}
			var us []sources.Unit
			for i := int64(0); i < 20; i++ {
				us = append(us, g.Tick(i))
			}
			return us
		}
		a, b, c := run(1), run(1), run(2)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: same seed, different output", k)
		}
		if k != Counter && reflect.DeepEqual(a, c) {
			t.Errorf("%s: different seeds, same output", k)
		}
	}
}

type unitSink struct {
	mu    sync.Mutex
	units []sources.Unit
}

func (s *unitSink) Emit(_ context.Context, u sources.Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.units = append(s.units, u)
	return nil
}
func (s *unitSink) ReportError(*sources.SourceError) {}

// flatten lists a run's updates per collection in order, and checks that
// the units' checkpoints advance by the ticks each covers.
func flatten(t *testing.T, us []sources.Unit, from int64) map[sources.CollectionID][]string {
	t.Helper()
	out := map[sources.CollectionID][]string{}
	at := from
	for _, u := range us {
		at += int64(u.Records)
		if got := u.Checkpoint.Positions[0].Offset; got != at {
			t.Fatalf("unit of %d ticks ends at offset %d, want %d", u.Records, got, at)
		}
		for id, ups := range u.All() {
			for _, up := range ups {
				out[id] = append(out[id], fmt.Sprintf("%s %+d", up.Row, up.Diff))
			}
		}
	}
	return out
}

// TestRunResume: a run resumed at a tick emits exactly what the first run
// emitted after it, whatever the grouping of ticks into units, for every
// pacing.
func TestRunResume(t *testing.T) {
	for _, k := range []Kind{Counter, Auction, TPCH, Nexmark} {
		for _, pace := range []Options{{TickInterval: time.Millisecond}, {Rate: 20_000}, {Unlimited: true}} {
			opts := pace
			opts.Seed, opts.UpTo, opts.ScaleFactor, opts.MaxBatch = 3, 1200, 0.001, 200
			t.Run(fmt.Sprintf("%s/%+v", k, pace), func(t *testing.T) {
				if pace.TickInterval > 0 {
					opts.UpTo = 30
				}
				ref, _ := New(k, opts)
				want := flatten(t, []sources.Unit{ref.Ticks(0, 12)}, 0)
				wantRest := flatten(t, []sources.Unit{ref.Ticks(12, opts.UpTo)}, 12)
				for id, rows := range wantRest {
					want[id] = append(want[id], rows...)
				}
				g, _ := New(k, opts)
				all := &unitSink{}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				if err := g.Run(ctx, 0, all); err != nil || ctx.Err() != nil {
					t.Fatal(err, ctx.Err())
				}
				if got := flatten(t, all.units, 0); !reflect.DeepEqual(got, want) {
					t.Errorf("run from 0 differs from the ticks computed one by one")
				}
				g2, _ := New(k, opts)
				resumed := &unitSink{}
				if err := g2.Run(ctx, 12, resumed); err != nil || ctx.Err() != nil {
					t.Fatal(err, ctx.Err())
				}
				if got := flatten(t, resumed.units, 12); !reflect.DeepEqual(got, wantRest) {
					t.Errorf("resumed run differs")
				}
				for _, u := range all.units {
					if u.Records > opts.MaxBatch && u.Checkpoint.Positions[0].Offset > 1 {
						t.Errorf("a unit of %d ticks, past MaxBatch %d", u.Records, opts.MaxBatch)
					}
				}
				if pace.TickInterval == 0 && len(all.units) > int(opts.UpTo)/10 {
					t.Errorf("%d units for %d ticks: ticks are not batched", len(all.units), opts.UpTo)
				}
			})
		}
	}
}

// TestRunAsOf: the ticks before AS OF go out as one unit.
func TestRunAsOf(t *testing.T) {
	g, _ := New(Nexmark, Options{AsOf: 5000, UpTo: 5001, TickInterval: time.Hour})
	s := &unitSink{}
	if err := g.Run(context.Background(), 0, s); err != nil {
		t.Fatal(err)
	}
	if len(s.units) != 2 || s.units[0].Records != 5000 || s.units[1].Records != 1 {
		t.Fatalf("units %d, want 2 of 5000 and 1 ticks", len(s.units))
	}
}

// TestRunRate: RATE paces ticks by the wall clock.
func TestRunRate(t *testing.T) {
	g, _ := New(Counter, Options{Rate: 2000, UpTo: 400})
	s := &unitSink{}
	began := time.Now()
	if err := g.Run(context.Background(), 0, s); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(began); el < 190*time.Millisecond || el > 5*time.Second {
		t.Errorf("400 ticks at 2000/s took %s", el)
	}
}

// TestNexmarkModel checks the standard model's shapes on 50,000 events.
func TestNexmarkModel(t *testing.T) {
	g, _ := New(Nexmark, Options{Seed: 1})
	u := g.Ticks(0, 50_000)
	ps, as, bs := u.UpdatesOf(1), u.UpdatesOf(2), u.UpdatesOf(3)
	if len(ps) != 1000 || len(as) != 3000 || len(bs) != 46000 {
		t.Fatalf("person/auction/bid = %d/%d/%d, want 1000/3000/46000", len(ps), len(as), len(bs))
	}
	delay := int64(100) // microseconds, the default inter-event delay
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for i, p := range ps {
		ds := p.Row.Datums()
		if ds[0].Int() != int64(1000+i) || ds[6].Micros() != epoch+int64(i)*50*delay {
			t.Fatalf("person %d: %v", i, ds)
		}
	}
	var bytes, hotAuction, hotBidder, hotChannel int
	for _, b := range bs {
		ds := b.Row.Datums()
		bytes += len(b.Row)
		if (ds[0].Int()-1000)%100 == 0 {
			hotAuction++
		}
		if (ds[1].Int()-1000)%100 == 1 {
			hotBidder++
		}
		if !strings.HasPrefix(ds[3].Str(), "channel-") {
			hotChannel++
		}
		if ds[2].Int() < 100 || ds[2].Int() > 100_000_000 {
			t.Fatalf("price %d outside the model's range", ds[2].Int())
		}
	}
	for _, a := range as {
		ds := a.Row.Datums()
		if ds[6].Micros() <= ds[5].Micros() {
			t.Fatalf("auction %v expires before it starts", ds)
		}
		if c := ds[8].Int(); c < 10 || c > 14 {
			t.Fatalf("category %d", c)
		}
	}
	frac := func(n int) float64 { return float64(n) / float64(len(bs)) }
	// Hot auctions 1/2 of bids, hot bidders 3/4 (plus the cold draws that
	// land on them), hot channels 1/2.
	if frac(hotAuction) < 0.45 || frac(hotBidder) < 0.7 || frac(hotChannel) < 0.45 || frac(hotChannel) > 0.55 {
		t.Errorf("hot auctions %.2f, hot bidders %.2f, hot channels %.2f", frac(hotAuction), frac(hotBidder), frac(hotChannel))
	}
	if avg := bytes / len(bs); avg < 90 || avg > 200 {
		t.Errorf("a packed bid is %d bytes on average", avg)
	}
}

// BenchmarkNexmark measures computing NEXMARK events into units.
func BenchmarkNexmark(b *testing.B) {
	g, _ := New(Nexmark, Options{})
	b.ReportAllocs()
	for i := 0; i < b.N; i += 10_000 {
		g.Ticks(int64(i), int64(i+10_000))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestAppendOnly: a generator that says it only inserts (the optimiser
// then keeps bounded state for min, max and TopK over it) emits no
// retraction over many ticks; TPCH, which deletes, says so.
func TestAppendOnly(t *testing.T) {
	for _, k := range []Kind{Counter, Auction, Nexmark, TPCH} {
		g, err := New(k, Options{Seed: 3, ScaleFactor: 0.001})
		if err != nil {
			t.Fatal(err)
		}
		retractions := 0
		for i := range int64(3000) {
			u := g.Tick(i)
			for _, ups := range u.All() {
				for _, u := range ups {
					if u.Diff < 0 {
						retractions++
					}
				}
			}
		}
		if g.AppendOnly() && retractions > 0 {
			t.Errorf("%s says it is append-only but retracted %d rows in 3000 ticks", k, retractions)
		}
		if !g.AppendOnly() && retractions == 0 {
			t.Errorf("%s says it retracts but did not in 3000 ticks", k)
		}
	}
}

// TestNexmarkGolden pins NEXMARK's output: the events of seed 1 and 42,
// their order and their timestamps, hashed, are those the generator has
// produced since its model was fixed, whatever the grouping of ticks into
// Units (one Unit, Units of 777 ticks, single ticks).
func TestNexmarkGolden(t *testing.T) {
	for _, tc := range []struct {
		seed int64
		want string
	}{
		{1, "a6d3afce211726cd363dd3b68ee279cdd2129c2d758105b5ca2ff26986f06610"},
		{42, "ed0c41be4e6d22c52486acf9aad75f8fb2bf682b26d6f8ee0a30588e5f69a0b6"},
	} {
		const n = 20_000
		for _, step := range []int64{n, 777, 1} {
			g, err := New(Nexmark, Options{Seed: tc.seed})
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			var us []sources.Unit
			for from := int64(0); from < n; from += step {
				us = append(us, g.Ticks(from, min(from+step, n)))
			}
			rows := flatten(t, us, 0)
			for _, c := range g.Collections() {
				id := sources.CollectionID(0)
				for i, cc := range g.Collections() {
					if cc.Name == c.Name {
						id = g.ids[i]
					}
				}
				fmt.Fprintf(h, "%s %d\n", c.Name, len(rows[id]))
				for _, r := range rows[id] {
					fmt.Fprintln(h, r)
				}
			}
			if got := fmt.Sprintf("%x", h.Sum(nil)); got != tc.want {
				t.Errorf("seed %d, units of %d ticks: output hash %s, want %s", tc.seed, step, got, tc.want)
			}
		}
	}
}
