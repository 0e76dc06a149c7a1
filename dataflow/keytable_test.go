package dataflow

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestKeyTableModel runs random inserts, finds and deletes against a Go
// map: keys of varied lengths (the empty key too) from a domain small
// enough that keys are deleted and come back, through growth, slot reuse
// and arena compactions.
func TestKeyTableModel(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3, 4, 5} {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 99))
			var kt keyTable
			model := map[string]uint32{}
			domain := 50 + r.IntN(5000)
			mkKey := func() []byte {
				i := r.IntN(domain)
				// Lengths from 0 to about 300 bytes, fixed per key.
				n := (i * 7919) % 300
				if i%10 == 0 {
					n = 0
				}
				b := bytes.Repeat([]byte{byte(i)}, n)
				return fmt.Appendf(b, "k%d", i)
			}
			compactions := 0
			for op := range 60000 {
				k := mkKey()
				// A compaction (at an insert that would grow a
				// slab a quarter garbage, or a delete that leaves
				// more garbage than live keys) clears the garbage.
				garbage := kt.keys.garbage
				switch r.IntN(3) {
				case 0, 1:
					slot, added := kt.insert(k)
					want, had := model[string(k)]
					if added == had || (had && slot != want) {
						t.Fatalf("op %d: insert %q = %d, %v; model %d, %v", op, k, slot, added, want, had)
					}
					if !had {
						for k2, s2 := range model {
							if s2 == slot {
								t.Fatalf("op %d: slot %d given to %q, held by %q", op, slot, k, k2)
							}
						}
						model[string(k)] = slot
					}
				case 2:
					slot, ok := kt.find(k)
					want, had := model[string(k)]
					if ok != had || (had && slot != want) {
						t.Fatalf("op %d: find %q = %d, %v; model %d, %v", op, k, slot, ok, want, had)
					}
					if ok {
						kt.delete(slot)
						delete(model, string(k))
					}
				}
				if kt.keys.garbage < garbage {
					compactions++
				}
				if kt.len() != len(model) {
					t.Fatalf("op %d: len %d, model %d", op, kt.len(), len(model))
				}
			}
			n := 0
			for s := range kt.all() {
				n++
				if want, ok := model[string(kt.key(s))]; !ok || want != s {
					t.Fatalf("slot %d holds %q: model %d, %v", s, kt.key(s), want, ok)
				}
			}
			if n != len(model) {
				t.Fatalf("iterated %d slots, model %d", n, len(model))
			}
			for k, s := range model {
				if got, ok := kt.find([]byte(k)); !ok || got != s {
					t.Fatalf("find %q = %d, %v; want %d", k, got, ok, s)
				}
			}
			if compactions == 0 {
				t.Errorf("no compaction in %d keys of domain %d", len(model), domain)
			}
			t.Logf("domain %d: %d live, %d compactions, index %d", domain, len(model), compactions, len(kt.index))
		})
	}
}

// TestKeyTableDrain deletes every key and inserts them again: the table
// ends empty with its slots on the free list, and refills reusing them.
func TestKeyTableDrain(t *testing.T) {
	var kt keyTable
	const n = 100_000
	for i := range n {
		if _, added := kt.insert(fmt.Appendf(nil, "key-%d", i)); !added {
			t.Fatalf("key %d not added", i)
		}
	}
	for i := range n {
		s, ok := kt.find(fmt.Appendf(nil, "key-%d", i))
		if !ok {
			t.Fatalf("key %d lost", i)
		}
		kt.delete(s)
	}
	if kt.len() != 0 || len(kt.free) != n {
		t.Fatalf("after deleting all: len %d, free %d", kt.len(), len(kt.free))
	}
	for _, e := range kt.index {
		if e != 0 {
			t.Fatal("index entry left after deleting all")
		}
	}
	for i := range n {
		if s, added := kt.insert(fmt.Appendf(nil, "again-%d", i)); !added || int(s) >= n {
			t.Fatalf("refill %d: slot %d, added %v", i, s, added)
		}
	}
	if len(kt.keys.buf)-kt.keys.garbage > n*12 {
		t.Errorf("arena holds %d live bytes for %d short keys", len(kt.keys.buf)-kt.keys.garbage, n)
	}
}

// TestSpanArenaInPlace: a string no longer than the slot's last one
// overwrites it; a longer one moves, leaving garbage that compaction
// reclaims.
func TestSpanArenaInPlace(t *testing.T) {
	var a spanArena
	for i := range 1000 {
		a.set(uint32(i), bytes.Repeat([]byte{'x'}, 100))
	}
	a.set(3, []byte("short"))
	if string(a.get(3)) != "short" || len(a.buf) != 101_000 {
		t.Fatalf("in place: %q, buf %d", a.get(3), len(a.buf))
	}
	for i := range 1000 {
		a.set(uint32(i), bytes.Repeat([]byte{byte(i)}, 150))
	}
	if a.garbage > len(a.buf)-a.garbage {
		t.Fatalf("garbage %d of %d not compacted", a.garbage, len(a.buf))
	}
	for i := range 1000 {
		if !bytes.Equal(a.get(uint32(i)), bytes.Repeat([]byte{byte(i)}, 150)) {
			t.Fatalf("slot %d: %q", i, a.get(uint32(i)))
		}
	}
	a.clear(7)
	if a.has(7) || a.get(7) != nil {
		t.Fatal("cleared slot still holds a string")
	}
}

func TestUvarintLen(t *testing.T) {
	for _, x := range []uint64{0, 1, 127, 128, 16383, 16384, 1 << 35, math.MaxUint64} {
		if got, want := uvarintLen(x), len(binary.AppendUvarint(nil, x)); got != want {
			t.Errorf("uvarintLen(%d) = %d, want %d", x, got, want)
		}
	}
}
