package dataflow

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/viewd/viewd/repr"
)

type kvtd struct {
	k, v string
	t    repr.Timestamp
}

// accumulate sums a batch's updates at times <= asOf per (key, val).
func accumulateBatch(b *Batch, asOf repr.Timestamp, into map[[2]string]repr.Diff) {
	for k := range b.Keys() {
		s, e := b.updRange(k)
		for u := s; u < e; u++ {
			if b.time(u) <= asOf {
				into[[2]string{string(b.key(k)), string(b.val(u))}] += b.diff(u)
			}
		}
	}
}

func checkInvariants(t *testing.T, seed uint64, b *Batch) {
	t.Helper()
	for k := range b.Keys() {
		if k > 0 && bytes.Compare(b.key(k-1), b.key(k)) >= 0 {
			t.Fatalf("seed %d: keys not strictly sorted at %d", seed, k)
		}
		s, e := b.updRange(k)
		if s >= e {
			t.Fatalf("seed %d: key %d has no updates", seed, k)
		}
		for u := s; u < e; u++ {
			if b.diff(u) == 0 {
				t.Fatalf("seed %d: zero diff", seed)
			}
			if u > s {
				c := bytes.Compare(b.val(u-1), b.val(u))
				if c > 0 || (c == 0 && b.time(u-1) >= b.time(u)) {
					t.Fatalf("seed %d: updates of key %d not sorted by (val, time)", seed, k)
				}
			}
		}
	}
}

func TestBatchBuildMerge(t *testing.T) {
	for i := range cases(200) {
		seed := uint64(i)
		r := rand.New(rand.NewPCG(seed, 1))
		want := map[kvtd]repr.Diff{}
		var b1, b2 Builder
		for range r.IntN(200) {
			k, v := irow(r.Int64N(8)), irow(r.Int64N(4), r.Int64N(3))
			tm := repr.Timestamp(r.IntN(300))
			d := repr.Diff(r.IntN(5) - 2)
			if r.IntN(40) == 0 {
				d = 1 << 40
			}
			bd := &b1
			if r.IntN(2) == 0 {
				bd = &b2
			}
			bd.Add(k, v, tm, d)
			want[kvtd{string(k), string(v), tm}] += d
		}
		x, y := b1.Build(), b2.Build()
		checkInvariants(t, seed, x)
		checkInvariants(t, seed, y)
		since := repr.Timestamp(r.IntN(300))
		m := mergeBatches(x, y, since)
		checkInvariants(t, seed, m)
		for _, asOf := range []repr.Timestamp{since, since + 7, 299} {
			got := map[[2]string]repr.Diff{}
			accumulateBatch(m, asOf, got)
			exp := map[[2]string]repr.Diff{}
			for u, d := range want {
				if u.t <= asOf {
					exp[[2]string{u.k, u.v}] += d
				}
			}
			for k, d := range exp {
				if got[k] != d {
					t.Fatalf("seed %d: as of %d (since %d) %s/%s: want %d got %d", seed, asOf, since, repr.Row(k[0]), repr.Row(k[1]), d, got[k])
				}
			}
			for k, d := range got {
				if exp[k] != d {
					t.Fatalf("seed %d: as of %d: extra %v %d", seed, asOf, k, d)
				}
			}
		}
	}
}

// TestBatchOverhead: a batch of unique keys at one time with +1 diffs costs
// 13.5 bytes per update beyond the packed bytes: 12 of offsets, 1 of key
// filter and 0.5 of fence.
func TestBatchOverhead(t *testing.T) {
	var bd Builder
	const n = 10000
	for i := range int64(n) {
		k := irow(i)
		bd.Add(k, repr.PackRow(repr.Int8Datum(i), repr.TextDatum(fmt.Sprint("name-", i))), 7, 1)
	}
	b := bd.Build()
	if per := float64(b.OverheadBytes()) / n; per > 13.6 {
		t.Fatalf("overhead %.1f bytes per update, want <= 13.5", per)
	}
	if b.time(n-1) != 7 || b.diff(0) != 1 || b.times.width != 0 || b.diffs.small != nil {
		t.Fatal("time and diff columns should be constant")
	}
}

func TestSpineCompaction(t *testing.T) {
	tr := NewTrace(1, 1)
	r := tr.Reader(0)
	for tm := repr.Timestamp(1); tm <= 64; tm++ {
		var bd Builder
		bd.Add(irow(1), irow(int64(tm)), tm, 1)
		if tm > 1 {
			bd.Add(irow(1), irow(int64(tm-1)), tm, -1)
		}
		tr.Insert([]*Batch{bd.Build()}, tm)
	}
	if n := len(tr.shards[0].snapshot()); n > 8 {
		t.Fatalf("spine holds %d batches for 64 inserts; want O(log n)", n)
	}
	for _, asOf := range []repr.Timestamp{1, 30, 64} {
		rows, err := Peek(r, asOf)
		must(t, err)
		if rows.Len() != 1 || !bytes.Equal(rows.Row(0), irow(int64(asOf))) {
			t.Fatalf("as of %d: %s", asOf, fromRows(rows))
		}
	}
	// Advancing the only reader lets merges collapse history.
	r.SetSince(64)
	for tm := repr.Timestamp(65); tm <= 200; tm++ {
		tr.Insert([]*Batch{{}}, tm)
		var bd Builder
		tr.Insert([]*Batch{bd.Build()}, tm)
	}
	var bd Builder
	bd.Add(irow(2), irow(0), 201, 1)
	tr.Insert([]*Batch{bd.Build()}, 201)
	var bd2 Builder
	bd2.Add(irow(3), irow(0), 202, 1)
	tr.Insert([]*Batch{bd2.Build()}, 202)
	updates, _, _ := tr.Stats()
	if updates > 10 {
		t.Fatalf("after compaction the trace still holds %d updates", updates)
	}
	if _, err := Peek(r, 10); err == nil {
		t.Fatal("reading before since must fail")
	}
}

// TestSpineFuelledMerge: with every merge fuelled and no idle fuel,
// random inserts (with retractions, under a moving compaction frontier)
// read back exactly at every time while merges span many inserts; no merge
// is ever needed before its fuel finished it; and steps without data
// finish the merges left within a few steps, leaving O(log n) batches.
func TestSpineFuelledMerge(t *testing.T) {
	defer func(m, f, i int) { fuelMergeMin, mergeFuel, idleFuel = m, f, i }(fuelMergeMin, mergeFuel, idleFuel)
	fuelMergeMin, idleFuel = 2, 0
	r := rand.New(rand.NewPCG(7, 8))
	tr := NewTrace(2, 1)
	rd := tr.Reader(0)
	want := map[repr.Timestamp]coll{}
	cur := coll{}
	spanned := 0
	for tm := repr.Timestamp(1); tm <= 400; tm++ {
		bs := make([]Builder, 2)
		for range r.IntN(40) {
			k := irow(r.Int64N(5000))
			v := irow(r.Int64N(5))
			d := repr.Diff(1)
			if r.IntN(3) == 0 {
				d = -1
			}
			bs[shardOf(k, 2)].Add(k, v, tm, d)
			cur.add(v, d)
		}
		tr.Insert([]*Batch{bs[0].Build(), bs[1].Build()}, tm)
		want[tm] = cur.clone()
		for _, s := range tr.shards {
			s.mu.Lock()
			merging := false
			for _, p := range s.levels {
				merging = merging || p.m != nil
				if p.m != nil && p.m.i+p.m.j > 0 {
					spanned++ // a merge advanced by an earlier insert
				}
			}
			s.mu.Unlock()
			if merging && s.mergingBytes() == 0 {
				t.Fatal("a merge in progress holds no bytes by mergingBytes: Stats would not count it")
			}
		}
		if tm%10 == 0 {
			for x := rd.Since(); x <= tm; x += 7 {
				got, err := Peek(rd, x)
				must(t, err)
				if d := diffColls(want[x], fromRows(got)); d != "" {
					t.Fatalf("as of %d after %d inserts:\n%s", x, tm, d)
				}
			}
		}
		if tm%50 == 0 {
			rd.SetSince(tm - 20)
		}
	}
	if spanned == 0 {
		t.Fatal("no merge spanned inserts: the test does not exercise fuel")
	}
	// Steps where nothing changes only advance the upper.
	tm := repr.Timestamp(400)
	for ; ; tm++ {
		tr.Advance(tm + 1)
		merging := false
		for _, s := range tr.shards {
			s.mu.Lock()
			for _, p := range s.levels {
				merging = merging || p.m != nil
			}
			s.mu.Unlock()
		}
		if !merging {
			break
		}
		if tm > 400+8*20 { // an eighth per step, for each level a cascade reaches
			t.Fatal("idle steps do not finish the merges in progress")
		}
	}
	got, err := Peek(rd, tm)
	must(t, err)
	if d := diffColls(cur, fromRows(got)); d != "" {
		t.Fatalf("after the merges finished:\n%s", d)
	}
	for i, s := range tr.shards {
		if s.forced != 0 {
			t.Errorf("shard %d: %d merges were needed before their fuel finished them", i, s.forced)
		}
		if n := len(s.snapshot()); n > 12 {
			t.Errorf("shard %d holds %d batches after its merges finished", i, n)
		}
	}
}

// TestBatchSeek checks seek, gallop and the key filter against a sorted
// list of raw keys chosen to defeat 8-byte prefix comparison: short keys
// that differ only by trailing zero bytes, and long keys sharing their
// first 8 bytes (so that runs of equal fence prefixes span blocks).
func TestBatchSeek(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	set := map[string]bool{}
	for len(set) < 3000 {
		var k []byte
		switch r.IntN(4) {
		case 0:
			k = make([]byte, r.IntN(9))
			for i := range k {
				k[i] = byte(r.IntN(3))
			}
		case 1:
			k = append([]byte("prefix00"), byte(r.IntN(256)), byte(r.IntN(256)))
		case 2:
			k = append([]byte("prefix00"), make([]byte, r.IntN(4))...)
		default:
			k = binary.BigEndian.AppendUint64(nil, r.Uint64())[:1+r.IntN(12)%8]
		}
		set[string(k)] = true
	}
	keys := slices.Sorted(maps.Keys(set))
	var present, absent []string
	for i, k := range keys {
		if i%3 == 0 {
			absent = append(absent, k)
		} else {
			present = append(present, k)
		}
	}
	var w batchWriter
	for _, k := range present {
		w.push(repr.Row(k), repr.Row("v"), 1, 1)
	}
	b := w.finish()
	if b.fence == nil || b.filter == nil {
		t.Fatal("a batch of thousands of keys should have a fence and a filter")
	}
	for i, k := range present {
		if got := b.seek(repr.Row(k)); got != i {
			t.Fatalf("seek(%q) = %d, want %d", k, got, i)
		}
		if !b.mayHold(keyHash(repr.Row(k))) {
			t.Fatalf("filter rules out present key %q", k)
		}
	}
	for _, k := range absent {
		if got := b.seek(repr.Row(k)); got != -1 {
			t.Fatalf("seek(%q) = %d, want -1", k, got)
		}
		want, _ := slices.BinarySearch(present, k)
		if got := gallop(b, 0, repr.Row(k)); got != want {
			t.Fatalf("gallop(%q) = %d, want %d", k, got, want)
		}
	}
}
