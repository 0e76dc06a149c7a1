package dataflow

import (
	"math/rand/v2"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// TestImportOutputChunked: a one-shot dataflow (a join, then a distinct)
// over two append logs imported in chunks of a few rows, stepped until no
// chunk is left, answers as a single-step import does and as the naive
// join of the logs as of the import's time: rows appended after that time
// never enter, whatever steps follow.
func TestImportOutputChunked(t *testing.T) {
	ctx := t.Context()
	for seed := range uint64(10) {
		rng := rand.New(rand.NewPCG(seed, 3))
		workers := 1 + int(seed%2)
		src := NewGraph(Options{Workers: workers})
		ina, inb := src.NewInput("a", 2), src.NewInput("b", 2)
		la := ina.Collection().MaterializeAppendOnly(0)
		lb := inb.Collection().MaterializeAppendOnly(0)
		var ha, hb appendHistory
		const asOf = 20
		var chunked, whole *Graph
		var outC, outW *Output
		for s := repr.Timestamp(1); s <= 30; s++ {
			for range rng.IntN(30) {
				u := repr.Update{Row: irow(int64(rng.IntN(8)), int64(rng.IntN(50))), Time: s, Diff: 1}
				if rng.IntN(2) == 0 {
					ha = append(ha, u)
					if err := ina.Send(u); err != nil {
						t.Fatal(err)
					}
				} else {
					hb = append(hb, u)
					if err := inb.Send(u); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := src.Step(ctx, s); err != nil {
				t.Fatal(err)
			}
			if s != asOf {
				continue
			}
			build := func(chunk int) (*Graph, *Output) {
				g := NewGraph(Options{Workers: workers})
				ca, err := g.ImportOutputChunked(la, asOf, chunk)
				if err != nil {
					t.Fatal(err)
				}
				cb, err := g.ImportOutputChunked(lb, asOf, chunk)
				if err != nil {
					t.Fatal(err)
				}
				j, err := Join(ca.ArrangeColumns(0), cb.ArrangeColumns(0), expr.Identity(4))
				if err != nil {
					t.Fatal(err)
				}
				return g, j.Distinct().Materialize(asOf)
			}
			chunked, outC = build(5 + rng.IntN(40))
			whole, outW = build(0)
			whole.UnchunkImports()
			if err := whole.Step(ctx, asOf); err != nil {
				t.Fatal(err)
			}
			if whole.ImportsPending() {
				t.Fatal("an unchunked import is still pending after its step")
			}
		}
		// The chunked graph steps on after the sources moved past asOf.
		last, steps := repr.Timestamp(asOf), 0
		for ; steps == 0 || chunked.ImportsPending(); steps++ {
			if steps > 0 {
				last++
			}
			if err := chunked.Step(ctx, last); err != nil {
				t.Fatal(err)
			}
		}
		if len(ha)+len(hb) > 40 && steps < 2 {
			t.Fatalf("seed %d: %d rows imported in %d step", seed, len(ha)+len(hb), steps)
		}
		want := coll{}
		for r := range naiveJoin(ha.asOf(asOf), hb.asOf(asOf), 0, 0) {
			want[r] = 1
		}
		okC, _, err := outC.Read(last)
		if err != nil {
			t.Fatal(err)
		}
		okW, _, err := outW.Read(asOf)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffColls(want, fromRows(okC)); d != "" {
			t.Fatalf("seed %d: chunked (%d steps) differs from the naive join:\n%s", seed, steps, d)
		}
		if d := diffColls(want, fromRows(okW)); d != "" {
			t.Fatalf("seed %d: whole differs from the naive join:\n%s", seed, d)
		}
		chunked.Close()
		whole.Close()
		src.Close()
	}
}
