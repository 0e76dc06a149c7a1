package dataflow

import (
	"slices"
	"testing"

	"github.com/viewd/viewd/repr"
)

// naiveWindow recomputes every window function of every partition from
// scratch, frames by explicit peer comparison (O(n²) per partition).
func naiveWindow(c coll, part []int, order []ColumnOrder, funcs []WindowFunc) coll {
	parts := map[string][]string{}
	for k, d := range c {
		ds := repr.Row(k).Datums()
		var p repr.Packer
		for _, x := range part {
			p.Push(ds[x])
		}
		for range d {
			parts[string(p.Row())] = append(parts[string(p.Row())], k)
		}
	}
	out := coll{}
	// peer compares two rows by the order columns (0: peers), with the
	// oracles' own comparison (compareOrder), not the operator's keys.
	peer := func(a, b string) int {
		return comparePeers(repr.Row(a).Datums(), repr.Row(b).Datums(), order)
	}
	for _, rows := range parts {
		slices.SortFunc(rows, func(a, b string) int { return compareOrder(a, b, order) })
		for i, r := range rows {
			var p repr.Packer
			p.PushRow(repr.Row(r))
			for _, f := range funcs {
				arg := func(j int) repr.Datum { return repr.Row(rows[j]).Datums()[f.Arg] }
				switch f.Kind {
				case WinRowNumber:
					p.Push(repr.Int8Datum(int64(i + 1)))
				case WinRank:
					n := 0
					for j := range rows {
						if peer(rows[j], r) < 0 {
							n++
						}
					}
					p.Push(repr.Int8Datum(int64(n + 1)))
				case WinDenseRank:
					seen := map[string]bool{}
					for j := range rows {
						if peer(rows[j], r) < 0 {
							seen[peerKey(rows[j], order)] = true
						}
					}
					p.Push(repr.Int8Datum(int64(len(seen) + 1)))
				case WinPercentRank, WinCumeDist:
					// Rows before the row (percent_rank) or before or
					// peer with it (cume_dist), over the partition's.
					before, upTo := 0, 0
					for j := range rows {
						switch c := peer(rows[j], r); {
						case c < 0:
							before++
							upTo++
						case c == 0:
							upTo++
						}
					}
					n := len(rows)
					switch {
					case f.Kind == WinCumeDist:
						p.Push(repr.Float8Datum(float64(upTo) / float64(n)))
					case n == 1:
						p.Push(repr.Float8Datum(0))
					default:
						p.Push(repr.Float8Datum(float64(before) / float64(n-1)))
					}
				case WinLag:
					if i > 0 {
						p.Push(arg(i - 1))
					} else {
						p.Push(repr.Null)
					}
				case WinLead:
					if i+1 < len(rows) {
						p.Push(arg(i + 1))
					} else {
						p.Push(repr.Null)
					}
				case WinFirstValue:
					p.Push(arg(0))
				default:
					var frame []int
					for j := range rows {
						if peer(rows[j], r) <= 0 {
							frame = append(frame, j)
						}
					}
					switch f.Kind {
					case WinLastValue:
						p.Push(arg(frame[len(frame)-1]))
					case WinCount:
						p.Push(repr.Int8Datum(int64(len(frame))))
					case WinSum, WinMin, WinMax:
						// NULL arguments are skipped; NULL when the
						// frame has no other.
						var s, best int64
						some := false
						for _, j := range frame {
							if arg(j).IsNull() {
								continue
							}
							v := arg(j).Int()
							switch {
							case f.Kind == WinSum:
								s += v
							case !some, f.Kind == WinMin && v < best, f.Kind == WinMax && v > best:
								best = v
							}
							some = true
						}
						switch {
						case !some:
							p.Push(repr.Null)
						case f.Kind == WinSum:
							p.Push(repr.Int8Datum(s))
						default:
							p.Push(repr.Int8Datum(best))
						}
					}
				}
			}
			out.add(p.Row(), 1)
		}
	}
	return out
}

// peerKey is a string equal for peers (the order columns' values).
func peerKey(r string, order []ColumnOrder) string {
	ds := repr.Row(r).Datums()
	var p repr.Packer
	for _, o := range order {
		p.Push(ds[o.Column])
	}
	return string(p.Row())
}

func TestOracleWindow(t *testing.T) {
	compactEagerly(t) // multisets compact at every deletion
	forSeeds(t, 10, func(t *testing.T, seed uint64, w int) {
		h := newHarness(t, seed, w, 3)
		order := []ColumnOrder{{Column: 1}}
		funcs := []WindowFunc{
			{Kind: WinRowNumber, Arg: -1}, {Kind: WinRank, Arg: -1}, {Kind: WinDenseRank, Arg: -1},
			{Kind: WinLag, Arg: 2}, {Kind: WinLead, Arg: 2}, {Kind: WinFirstValue, Arg: 2}, {Kind: WinLastValue, Arg: 2},
			{Kind: WinSum, Arg: 2}, {Kind: WinCount, Arg: -1}, {Kind: WinMin, Arg: 2}, {Kind: WinMax, Arg: 2},
			{Kind: WinPercentRank, Arg: -1}, {Kind: WinCumeDist, Arg: -1},
		}
		win, err := h.in(0).Window([]int{0}, order, funcs)
		if err != nil {
			t.Fatal(err)
		}
		h.check(win, func(ins []coll) coll { return naiveWindow(ins[0], []int{0}, order, funcs) })
		// percent_rank and cume_dist over two order columns (fewer
		// ties) and over none (every row a peer of every other: 0 and
		// 1), partitioned and not.
		ranks := []WindowFunc{{Kind: WinPercentRank, Arg: -1}, {Kind: WinCumeDist, Arg: -1}}
		order2 := []ColumnOrder{{Column: 2, Order: repr.SortOrder{Desc: true}}, {Column: 1}}
		for _, c := range []struct {
			part  []int
			order []ColumnOrder
		}{{[]int{0}, order2}, {nil, order2}, {[]int{0}, nil}} {
			win, err := h.in(0).Window(c.part, c.order, ranks)
			if err != nil {
				t.Fatal(err)
			}
			h.check(win, func(ins []coll) coll { return naiveWindow(ins[0], c.part, c.order, ranks) })
		}
		h.run(20, 5)
	})
}
