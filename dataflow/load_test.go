package dataflow

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/viewd/viewd/repr"
)

// loadUpd is one update of a load: key, val, diff.
type loadUpd struct {
	k, v repr.Row
	d    repr.Diff
}

// randomLoad returns a consolidated collection of rows (k, v) keyed by k,
// in arrangement order (key bytes, then val bytes).
func randomLoad(r *rand.Rand, n int) []loadUpd {
	seen := map[string]bool{}
	var ups []loadUpd
	for range n {
		row := irow(r.Int64N(50), r.Int64N(8))
		if seen[string(row)] {
			continue
		}
		seen[string(row)] = true
		d := repr.Diff(1 + r.Int64N(3))
		if r.IntN(5) == 0 {
			d = -d
		}
		ups = append(ups, loadUpd{irow(row.Datums()[0].Int()), row, d})
	}
	slices.SortFunc(ups, func(a, b loadUpd) int {
		if c := bytes.Compare(a.k, b.k); c != 0 {
			return c
		}
		return bytes.Compare(a.v, b.v)
	})
	return ups
}

// checkTrace checks that every batch of tr is well formed, holds only keys
// of its shard, and that tr as of t holds want (val -> diff).
func checkTrace(t *testing.T, tr *Trace, at repr.Timestamp, want coll) {
	t.Helper()
	for s, sp := range tr.shards {
		for _, b := range sp.snapshot() {
			checkInvariants(t, 0, b)
			for k := range b.Keys() {
				if shardOf(b.key(k), len(tr.shards)) != s {
					t.Fatalf("key %s in shard %d", b.key(k), s)
				}
			}
		}
	}
	r := tr.Reader(0)
	defer r.Release()
	rows, err := Peek(r, at)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffColls(want, fromRows(rows)); d != "" {
		t.Fatal(d)
	}
}

// TestLoaderArranged loads sorted and shuffled snapshots into a keyed
// arrangement, together with updates sent to its input for the same step,
// and checks the trace, the arrangement's delta as a collection, and a
// graph importing the trace.
func TestLoaderArranged(t *testing.T) {
	for i := range cases(40) {
		seed := uint64(i)
		for _, shuffled := range []bool{false, true} {
			r := rand.New(rand.NewPCG(seed, 7))
			ups := randomLoad(r, 1+r.IntN(300))
			var logBuf bytes.Buffer
			g := NewGraph(Options{Workers: 1 + i%3, Logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
			in := g.NewInput("t", 2)
			a := in.Collection().ArrangeColumns(0)
			var delta coll
			a.AsCollection().Subscribe(func(_ repr.Timestamp, ok, _ []repr.Update) error {
				delta = coll{}
				for _, u := range ok {
					delta.add(u.Row, u.Diff)
				}
				return nil
			})
			want := coll{}
			order := slices.Clone(ups)
			if shuffled {
				r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
			}
			l := a.Loader("t")
			l.Reserve(len(order), 100, 1000)
			for _, u := range order {
				l.Push(u.k, u.v, u.d)
				want.add(u.v, u.d)
			}
			// An update sent to the input for the same step merges with
			// the load (and may cancel a loaded row).
			extra := ups[r.IntN(len(ups))]
			if err := in.Send(repr.Update{Row: extra.v, Time: 1, Diff: -extra.d}, repr.Update{Row: irow(99, 1), Time: 1, Diff: 1}); err != nil {
				t.Fatal(err)
			}
			want.add(extra.v, -extra.d)
			want.add(irow(99, 1), 1)
			sorted, err := l.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if wantSorted := !shuffled || slices.EqualFunc(order, ups, func(a, b loadUpd) bool { return bytes.Equal(a.v, b.v) }); sorted != wantSorted {
				t.Fatalf("seed %d: Finish says sorted=%v, want %v", seed, sorted, wantSorted)
			}
			if warned := strings.Contains(logBuf.String(), "not in arrangement order"); warned == sorted {
				t.Fatalf("seed %d: sorted=%v but warning logged=%v", seed, sorted, warned)
			}
			if _, err := l.Finish(); err == nil {
				t.Fatal("a second Finish succeeded")
			}
			if g.Quiet(1) {
				t.Fatal("a graph with a load waiting is quiet")
			}
			if err := g.Step(context.Background(), 1); err != nil {
				t.Fatal(err)
			}
			checkTrace(t, a.Trace(), 1, want)
			if d := diffColls(want, delta); d != "" {
				t.Fatalf("seed %d: the step's delta: %s", seed, d)
			}
			if a.load.pending() {
				t.Fatal("the load was not consumed by the step")
			}

			// Another graph imports the loaded trace.
			g2 := NewGraph(Options{Workers: g.Workers()})
			imp, err := g2.Import(a.Trace().Reader(1), 1)
			if err != nil {
				t.Fatal(err)
			}
			out := imp.AsCollection().Materialize(0)
			in.Advance(3)
			if err := g.Step(context.Background(), 2); err != nil {
				t.Fatal(err)
			}
			if err := g2.Step(context.Background(), 2); err != nil {
				t.Fatal(err)
			}
			ok, _, err := out.Read(2)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffColls(want, fromRows(ok)); d != "" {
				t.Fatalf("seed %d: the importing graph: %s", seed, d)
			}
			g2.Close()
			g.Close()
		}
	}
}

// TestLoaderOutput loads rows into a materialized output (rows as keys,
// empty vals), as a table without a primary key holds them.
func TestLoaderOutput(t *testing.T) {
	for i := range cases(20) {
		r := rand.New(rand.NewPCG(uint64(i), 3))
		ups := randomLoad(r, 1+r.IntN(200))
		slices.SortFunc(ups, func(a, b loadUpd) int { return bytes.Compare(a.v, b.v) })
		g := NewGraph(Options{Workers: 1 + i%3})
		in := g.NewInput("t", 2)
		o := in.Collection().Materialize(0)
		l := o.Loader("t")
		want := coll{}
		for _, u := range ups {
			l.Push(u.v, nil, u.d)
			want.add(u.v, u.d)
		}
		if sorted, err := l.Finish(); err != nil || !sorted {
			t.Fatalf("Finish: sorted=%v, %v", sorted, err)
		}
		if err := g.Step(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		ok, _, err := o.Read(1)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffColls(want, fromRows(ok)); d != "" {
			t.Fatal(d)
		}
		for _, sp := range o.ok.shards {
			for _, b := range sp.snapshot() {
				checkInvariants(t, uint64(i), b)
			}
		}
		g.Close()
	}
}

// TestLoaderConsolidates: equal adjacent updates are summed and zero diffs
// dropped, as a batch requires.
func TestLoaderConsolidates(t *testing.T) {
	g := NewGraph(Options{Workers: 2})
	in := g.NewInput("t", 2)
	a := in.Collection().ArrangeColumns(0)
	l := a.Loader("t")
	k, v := irow(1), irow(1, 1)
	l.Push(k, v, 2)
	l.Push(k, v, 3)
	l.Push(irow(2), irow(2, 1), 0)
	l.Push(irow(3), irow(3, 1), 1)
	l.Push(irow(3), irow(3, 1), -1)
	if sorted, err := l.Finish(); err != nil || !sorted {
		t.Fatalf("Finish: sorted=%v, %v", sorted, err)
	}
	if err := g.Step(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	want := coll{}
	want.add(v, 5)
	checkTrace(t, a.Trace(), 1, want)
}
