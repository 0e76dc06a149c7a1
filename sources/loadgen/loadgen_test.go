package loadgen

import (
	"context"
	"fmt"
	"reflect"
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
	for id, ups := range u.Updates {
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
		if got := u.Updates[1][0].Row.String(); got != fmt.Sprintf("(%d)", i+1) || u.Checkpoint.Positions[0].Offset != i+1 {
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
		{Nexmark, 300, func(t *testing.T, tb *tables, final bool) {
			tb.checkFK("auction", []int{7}, "person")
			tb.checkFK("bid", []int{0}, "auction")
			tb.checkFK("bid", []int{1}, "person")
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

func TestRunResume(t *testing.T) {
	opts := Options{Seed: 3, TickInterval: time.Millisecond, MaxTicks: 30}
	g, _ := New(Auction, opts)
	all := &unitSink{}
	if err := g.Run(context.Background(), 0, all); err != nil {
		t.Fatal(err)
	}
	g2, _ := New(Auction, opts)
	resumed := &unitSink{}
	if err := g2.Run(context.Background(), 12, resumed); err != nil {
		t.Fatal(err)
	}
	if len(all.units) != 30 || !reflect.DeepEqual(all.units[12:], resumed.units) {
		t.Errorf("resumed output differs: %d vs %d units", len(all.units)-12, len(resumed.units))
	}
}
