package dataflow

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/viewd/viewd/repr"
)

// kv is a (key, val) pair of a naive trace.
type kv struct{ k, v string }

// TestCursorOracle: random updates with retractions at increasing times,
// inserted into a trace of W shards; at random times the merging cursor,
// SeekKey, Lookup and CountKeys agree with a naive accumulation of every update at
// times <= asOf, in key then val order, with no zero multiplicities.
func TestCursorOracle(t *testing.T) {
	forSeeds(t, 50, func(t *testing.T, seed uint64, w int) {
		r := rand.New(rand.NewPCG(seed, 99))
		tr := NewTrace(w, 1)
		rd := tr.Reader(0)
		defer rd.Release()
		type upd struct {
			kv
			t repr.Timestamp
			d repr.Diff
		}
		var all []upd
		present := map[kv]repr.Diff{}
		for tm := repr.Timestamp(1); tm <= 40; tm++ {
			bds := make([]Builder, w)
			for range r.IntN(30) {
				k, v := irow(r.Int64N(12)), irow(r.Int64N(4))
				d := repr.Diff(1 + r.IntN(2))
				p := kv{string(k), string(v)}
				if present[p] > 0 && r.IntN(2) == 0 {
					d = -present[p]
				}
				present[p] += d
				bds[shardOf(k, w)].Add(k, v, tm, d)
				all = append(all, upd{p, tm, d})
			}
			bs := make([]*Batch, w)
			for i := range bs {
				bs[i] = bds[i].Build()
			}
			tr.Insert(bs, tm)
			if r.IntN(4) == 0 {
				rd.SetSince(tm / 2)
			}
			if tm%5 != 0 {
				continue
			}
			asOf := rd.Since() + repr.Timestamp(r.Int64N(int64(tm-rd.Since()+1)))
			want := map[kv]repr.Diff{}
			for _, u := range all {
				if u.t <= asOf {
					want[u.kv] += u.d
				}
			}
			var order []kv
			for p, d := range want {
				if d != 0 {
					order = append(order, p)
				}
			}
			sort.Slice(order, func(i, j int) bool {
				if order[i].k != order[j].k {
					return order[i].k < order[j].k
				}
				return order[i].v < order[j].v
			})
			c, err := rd.Cursor(asOf)
			must(t, err)
			var got []string
			for ; c.KeyValid(); c.StepKey() {
				for ; c.ValValid(); c.StepVal() {
					v, d := c.Val()
					got = append(got, fmt.Sprintf("%s:%s x%d", c.Key(), v, d))
				}
			}
			var exp []string
			for _, p := range order {
				exp = append(exp, fmt.Sprintf("%s:%s x%d", repr.Row(p.k), repr.Row(p.v), want[p]))
			}
			if fmt.Sprint(got) != fmt.Sprint(exp) {
				t.Fatalf("as of %d (since %d):\n got %v\nwant %v", asOf, rd.Since(), got, exp)
			}
			// SeekKey lands on the first key >= the target; Lookup
			// returns exactly that key's vals.
			for range 5 {
				target := irow(r.Int64N(14))
				c.Rewind()
				c.SeekKey(target)
				i := sort.Search(len(order), func(i int) bool { return order[i].k >= string(target) })
				switch {
				case i == len(order) && c.KeyValid():
					t.Fatalf("seek %s: got key %s, want end", target, c.Key())
				case i < len(order) && (!c.KeyValid() || !bytes.Equal(c.Key(), repr.Row(order[i].k))):
					t.Fatalf("seek %s: want key %s", target, repr.Row(order[i].k))
				}
				var lk []string
				must(t, rd.Lookup(asOf, target, func(v repr.Row, d repr.Diff) bool {
					lk = append(lk, fmt.Sprintf("%s x%d", v, d))
					return true
				}))
				var wk []string
				for _, p := range order {
					if p.k == string(target) {
						wk = append(wk, fmt.Sprintf("%s x%d", repr.Row(p.v), want[p]))
					}
				}
				if fmt.Sprint(lk) != fmt.Sprint(wk) {
					t.Fatalf("lookup %s as of %d: got %v want %v", target, asOf, lk, wk)
				}
			}
			// CountKeys sums each key's multiplicities, keys absent or
			// retracted counting zero, and leaves the cursor where it was.
			c.Rewind()
			before := c.KeyValid()
			var keys []repr.Row
			for k := int64(0); k < 14; k++ {
				if r.IntN(2) == 0 {
					keys = append(keys, irow(k))
				}
			}
			sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) < 0 })
			counts := make([]repr.Diff, len(keys))
			c.CountKeys(keys, counts)
			for i, k := range keys {
				var n repr.Diff
				for p, d := range want {
					if p.k == string(k) {
						n += d
					}
				}
				if counts[i] != n {
					t.Fatalf("CountKeys %s as of %d: got %d want %d", k, asOf, counts[i], n)
				}
			}
			if c.KeyValid() != before || (before && !bytes.Equal(c.Key(), repr.Row(order[0].k))) {
				t.Fatal("CountKeys moved the cursor")
			}
		}
	})
}

// TestCursorReadHold: a cursor taken under a hold reads the same contents
// while the trace moves on and compacts past other readers.
func TestCursorReadHold(t *testing.T) {
	tr := NewTrace(2, 1)
	writer := tr.Reader(0)
	ins := func(tm repr.Timestamp, k int64, d repr.Diff) {
		bs := []*Batch{{}, {}}
		var bd Builder
		bd.Add(irow(k), irow(k), tm, d)
		bs[shardOf(irow(k), 2)] = bd.Build()
		tr.Insert(bs, tm)
	}
	for i := range int64(10) {
		ins(repr.Timestamp(i+1), i, 1)
	}
	hold := tr.Reader(10)
	c, err := hold.Cursor(10)
	must(t, err)
	writer.Release()
	for i := range int64(10) {
		ins(repr.Timestamp(i+11), i, -1)
	}
	n := 0
	for ; c.KeyValid(); c.StepKey() {
		n += int(c.Count())
	}
	if n != 10 {
		t.Fatalf("held cursor saw %d rows, want 10", n)
	}
	c2, err := hold.Cursor(10)
	must(t, err)
	if !c2.KeyValid() {
		t.Fatal("a new cursor at the held time must still see the rows")
	}
	hold.Release()
	if _, err := hold.Cursor(10); err != ErrReleased {
		t.Fatalf("released reader: %v", err)
	}
}

// BenchmarkTraceLookup measures point lookups in a 1M-update trace of 2
// shards built by 100 inserts, and a full scan with the merging cursor.
func BenchmarkTraceLookup(b *testing.B) {
	const n = 1 << 20
	tr := NewTrace(2, 1)
	rd := tr.Reader(0)
	defer rd.Release()
	per := n / 100
	for step := range 100 {
		bds := make([]Builder, 2)
		for i := step * per; i < (step+1)*per; i++ {
			k := irow(int64(i))
			bds[shardOf(k, 2)].Add(k, irow(int64(i), int64(i)), repr.Timestamp(step+1), 1)
		}
		tr.Insert([]*Batch{bds[0].Build(), bds[1].Build()}, repr.Timestamp(step+1))
	}
	for _, s := range tr.shards {
		s.finishMerges()
	}
	b.Run("lookup", func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2))
		for b.Loop() {
			found := false
			_ = rd.Lookup(100, irow(r.Int64N(int64(per*100))), func(repr.Row, repr.Diff) bool { found = true; return true })
			if !found {
				b.Fatal("key not found")
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	})
	b.Run("scan", func(b *testing.B) {
		rows := 0
		for b.Loop() {
			c, _ := rd.Cursor(100)
			for ; c.KeyValid(); c.StepKey() {
				rows++
			}
		}
		b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
	})
}
