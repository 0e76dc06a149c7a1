package dataflow

import (
	"math/rand/v2"
	"testing"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// TestOracleGroupChurn: reduce, distinct, TopK and window over groups that
// die and come back. Each step empties some of a few thousand groups
// (every row of the group retracted) and fills others afresh, so the key
// tables grow through several doublings, free slots and reuse them for
// other keys, and compact their arenas; the results must stay those of
// the naive evaluation.
func TestOracleGroupChurn(t *testing.T) {
	typ8 := repr.ColumnType{Type: repr.TypeInt8, Nullable: true}
	forSeedsHeavy(t, 3, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 2)
		const keys = 3000
		r := rand.New(rand.NewPCG(seed, 17))
		created := 0 // groups filled from empty
		h.updates = func(cur coll, _ int) []repr.Update {
			byKey := map[int64][]string{}
			for row, d := range cur {
				if d > 0 {
					k := ints(row)[0]
					byKey[k] = append(byKey[k], row)
				}
			}
			var ups []repr.Update
			for _, k := range r.Perm(keys)[:300] {
				if rows := byKey[int64(k)]; len(rows) > 0 {
					for _, row := range rows {
						ups = append(ups, repr.Update{Row: repr.Row(row), Diff: -cur[row]})
					}
					continue
				}
				created++
				for v := range int64(1 + r.IntN(3)) {
					ups = append(ups, repr.Update{Row: irow(int64(k), v*7+r.Int64N(7)), Diff: 1})
				}
			}
			return ups
		}
		red, err := h.in(0).Reduce([]expr.Scalar{col(0)}, []expr.Aggregate{
			{Func: expr.AggCountStar, Typ: typ8},
			{Func: expr.AggSum, Expr: col(1), Typ: typ8},
			{Func: expr.AggMin, Expr: col(1), Typ: typ8},
			{Func: expr.AggCount, Expr: col(1), Distinct: true, Typ: typ8},
		})
		if err != nil {
			t.Fatal(err)
		}
		h.check(red, func(ins []coll) coll {
			type st struct{ n, sum, mn int64 }
			groups := map[int64]*st{}
			distinct := map[[2]int64]bool{}
			for row, d := range ins[0] {
				v := ints(row)
				s := groups[v[0]]
				if s == nil {
					s = &st{mn: 1 << 62}
					groups[v[0]] = s
				}
				s.n += int64(d)
				s.sum += v[1] * int64(d)
				s.mn = min(s.mn, v[1])
				distinct[[2]int64{v[0], v[1]}] = true
			}
			nd := map[int64]int64{}
			for kv := range distinct {
				nd[kv[0]]++
			}
			out := coll{}
			for k, s := range groups {
				out.add(irow(k, s.n, s.sum, s.mn, nd[k]), 1)
			}
			return out
		})
		keysOnly := h.in(0).MFP(expr.MapFilterProject{InputArity: 2, Projection: []int{0}}).Distinct()
		h.check(keysOnly, func(ins []coll) coll {
			out := coll{}
			for row := range ins[0] {
				out[string(irow(ints(row)[0]))] = 1
			}
			return out
		})
		order := []ColumnOrder{{Column: 1, Order: repr.SortOrder{Desc: true}}}
		top, err := h.in(0).TopK([]int{0}, order, 2, 0)
		if err != nil {
			t.Fatal(err)
		}
		h.check(top, func(ins []coll) coll { return naiveTopK(ins[0], []int{0}, order, 2, 0) })
		funcs := []WindowFunc{{Kind: WinRowNumber, Arg: -1}}
		win, err := h.in(0).Window([]int{0}, order, funcs)
		if err != nil {
			t.Fatal(err)
		}
		h.check(win, func(ins []coll) coll { return naiveWindow(ins[0], []int{0}, order, funcs) })
		h.run(20, 0)
		checkSideBytes(t, h.g)

		// Groups died and their slots went to other keys: each table has
		// fewer slots than the groups it has held.
		for _, op := range h.g.ops {
			var slots, live int
			switch op := op.(type) {
			case *reduceOp:
				for i := range op.shards {
					slots += op.shards[i].groups.keys.slots()
					live += op.shards[i].groups.len()
				}
			case *thresholdOp:
				for i := range op.shards {
					slots += op.shards[i].rows.keys.slots()
					live += op.shards[i].rows.len()
				}
			case *topkOp:
				for i := range op.shards {
					slots += op.shards[i].groups.keys.keys.slots()
					live += op.shards[i].groups.keys.len()
				}
			case *windowOp:
				slots, live = op.groups.keys.keys.slots(), op.groups.keys.len()
			default:
				continue
			}
			if live == 0 || slots >= created {
				t.Errorf("%T: %d live groups in %d slots, after %d groups made", op, live, slots, created)
			}
		}
	})
}

// sideBytes returns an operator's running count of its side state.
func sideBytes(op operator) int64 {
	switch op := op.(type) {
	case *reduceOp:
		var n int64
		for i := range op.shards {
			n += op.shards[i].sideBytes + op.shards[i].sets.bigBytes
		}
		return n
	case *topkOp:
		var n int64
		for i := range op.shards {
			n += op.shards[i].groups.sets.bigBytes
		}
		return n
	case *windowOp:
		return op.groups.sets.bigBytes
	}
	return 0
}

// countSideBytes walks an operator's side state and sums what sideBytes
// counts.
func countSideBytes(op operator) int64 {
	var n int64
	sets := func(g *msGroups) {
		// The multisets kept apart count their entries; packed ones
		// count as their slab.
		for slot := range g.keys.all() {
			if i := g.sets.bigIndex(slot); i >= 0 {
				n += entryBytes(&g.sets.big[i])
			}
		}
	}
	switch op := op.(type) {
	case *reduceOp:
		for i := range op.shards {
			s := &op.shards[i]
			for slot := range s.groups.all() {
				if r := s.repsOf(&s.st[slot], false); r != nil {
					n += int64(r.bytes())
				}
				for _, acc := range op.accsOf(s, slot) {
					if acc.ms != 0 {
						if i := s.sets.bigIndex(acc.ms - 1); i >= 0 {
							n += entryBytes(&s.sets.big[i])
						}
					}
					sd := s.sideOf(&acc)
					if sd == nil {
						continue
					}
					if sd.dsum != nil {
						n += decimalBytes
					}
					if sd.dsq != nil {
						n += decimalBytes
					}
				}
			}
		}
	case *topkOp:
		for i := range op.shards {
			sets(&op.shards[i].groups)
		}
	case *windowOp:
		sets(&op.groups)
	}
	return n
}

// checkSideBytes checks that g's operators' running counts of their side
// state equal what they hold.
func checkSideBytes(t *testing.T, g *Graph) {
	t.Helper()
	for _, op := range g.ops {
		if got, want := sideBytes(op), countSideBytes(op); got != want {
			t.Errorf("%T: side state counted %d bytes, holds %d", op, got, want)
		}
	}
}
