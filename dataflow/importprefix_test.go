package dataflow

import (
	"bytes"
	"testing"

	"github.com/viewd/viewd/repr"
)

// TestImportPrefixesOracle imports the entries of an arrangement by
// (#0, #1) whose keys start with random literal prefixes (one column or
// both, NULL included, one prefix extending another), first at a random
// step of a random update stream with retractions, and checks the
// imported collection, materialized, against a naive filter of the
// arranged collection at every later step. The importing graph skips
// steps at random and, as the coordinator does, advances without running
// its operators when it is Quiet.
func TestImportPrefixesOracle(t *testing.T) {
	forSeeds(t, 40, func(t *testing.T, seed uint64, w int) {
		ctx := t.Context()
		gen := newGen(seed, 4)
		g := NewGraph(Options{Workers: w, ParallelMin: 8})
		defer g.Close()
		in := g.NewInput("in", 3)
		arr := in.Collection().ArrangeColumns(0, 1)
		candidates := []repr.Row{irow(1), irow(2, 3), irow(0), irow(0, 1), irow(nullInt), irow(3, nullInt), irow(7)}
		var prefixes []repr.Row
		for _, p := range candidates {
			if gen.r.IntN(2) == 0 {
				prefixes = append(prefixes, p)
			}
		}
		if len(prefixes) == 0 {
			prefixes = candidates[:1]
		}
		matches := func(row string) bool {
			ds := repr.Row(row).Datums()
			var pk repr.Packer
			pk.PushKey(ds[0])
			pk.PushKey(ds[1])
			for _, p := range prefixes {
				if bytes.HasPrefix(pk.Row(), p) {
					return true
				}
			}
			return false
		}
		state := coll{}
		start := repr.Timestamp(1 + gen.r.IntN(8))
		h := NewGraph(Options{Workers: w, ParallelMin: 8})
		defer h.Close()
		var out *Output
		for ts := repr.Timestamp(1); ts <= 16; ts++ {
			ups := gen.updates(state, 3, 12)
			for i := range ups {
				ups[i].Time = ts
				state.add(ups[i].Row, ups[i].Diff)
			}
			if err := in.Send(ups...); err != nil {
				t.Fatal(err)
			}
			if err := g.Step(ctx, ts); err != nil {
				t.Fatal(err)
			}
			if ts == start {
				c, err := h.ImportPrefixes(arr.Trace().Reader(ts), prefixes)
				if err != nil {
					t.Fatal(err)
				}
				out = c.Materialize(ts)
			}
			if out == nil || gen.r.IntN(3) == 0 && ts < 16 {
				continue // the importing graph may skip steps
			}
			// As the coordinator steps its graphs: a quiet one advances
			// without running its operators.
			if h.Quiet(ts) {
				h.AdvanceIdle(ts)
			} else if err := h.Step(ctx, ts); err != nil {
				t.Fatalf("seed %d W=%d: step %d: %v", seed, w, ts, err)
			}
			want := coll{}
			for r, d := range state {
				if matches(r) {
					want.add(repr.Row(r), d)
				}
			}
			ok, errs, err := out.Read(ts)
			if err != nil || errs.Len() > 0 {
				t.Fatalf("seed %d W=%d: read at %d: %v, %d errors", seed, w, ts, err, errs.Len())
			}
			if d := diffColls(want, fromRows(ok)); d != "" {
				t.Fatalf("seed %d W=%d: prefixes %v at %d (imported at %d) differ from the naive filter:\n%s", seed, w, prefixes, ts, start, d)
			}
		}
	})
}
