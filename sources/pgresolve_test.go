package sources

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"testing"

	"github.com/viewd/viewd/repr"
)

// unchanged marks an unchanged TOASTed value in pgTupleU.
var unchanged = sp("\x00unchanged")

// pgTupleU is pgTuple with unchanged TOASTed values ('u').
func pgTupleU(b []byte, vals ...*string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(vals)))
	for _, v := range vals {
		switch {
		case v == nil:
			b = append(b, 'n')
		case v == unchanged:
			b = append(b, 'u')
		default:
			b = append(b, 't')
			b = binary.BigEndian.AppendUint32(b, uint32(len(*v)))
			b = append(b, *v...)
		}
	}
	return b
}

// TestPGResolveAgainstModel: random upstream transactions on a keyed table
// (REPLICA IDENTITY DEFAULT: an update names its old key only when the key
// changes, a delete names the key, unchanged TOASTed values are left out)
// and on a table without a key (REPLICA IDENTITY FULL), with TRUNCATEs,
// transactions large enough to be spilled and chunked (resolved in two
// passes) and flushes at random points: the reader keeps no copy of the
// tables, yet what the sink applied equals a model of the upstream after
// every flush, and nothing is left pending once everything is applied.
func TestPGResolveAgainstModel(t *testing.T) {
	twoPasses := 0
	for seed := int64(1); seed <= 60; seed++ {
		t.Run(strconv.FormatInt(seed, 10), func(t *testing.T) { resolveAgainstModel(t, seed, &twoPasses) })
	}
	if twoPasses < 20 {
		t.Fatalf("%d transactions resolved in two passes, want at least 20", twoPasses)
	}
	t.Logf("%d transactions resolved in two passes", twoPasses)
}

func resolveAgainstModel(t *testing.T, seed int64, twoPasses *int) {
	rng := rand.New(rand.NewSource(seed))
	tables := []PGTable{
		{ID: 21, Schema: "public", Name: "k", KeyCols: []int{0}, Identity: "d", Columns: []PGColumn{{Name: "id", Type: repr.TypeInt4}, {Name: "v", Type: repr.TypeText}}},
		{ID: 22, Schema: "public", Name: "n", Identity: "f", Columns: []PGColumn{{Name: "a", Type: repr.TypeInt4}, {Name: "b", Type: repr.TypeText}}},
	}
	sink := newMemPG(tables)
	r, err := NewPGReader(PGReaderConfig{Tables: tables, ChunkBytes: 1 << 10, SpillBytes: 2 << 10, SpillDir: t.TempDir(), Collections: sink}, sink)
	if err != nil {
		t.Fatal(err)
	}
	r.byRel[1], r.byRel[2] = r.names["public.k"], r.names["public.n"]
	s := &pgStream{r: r, streams: map[uint32]*pgTxn{}}
	ctx := context.Background()

	keyed := map[int]string{} // upstream: id -> v
	keyless := map[string]int{}
	nextID, lsn, xid := 1, uint64(100), uint32(1)
	val := func() string { return fmt.Sprintf("v%d-%0*d", rng.Intn(1000), rng.Intn(40), 0) }
	pick := func() (int, bool) {
		if len(keyed) == 0 {
			return 0, false
		}
		ids := make([]int, 0, len(keyed))
		for id := range keyed {
			ids = append(ids, id)
		}
		sort.Ints(ids)
		return ids[rng.Intn(len(ids))], true
	}
	pickRow := func() (string, bool) {
		if len(keyless) == 0 {
			return "", false
		}
		rows := make([]string, 0, len(keyless))
		for row := range keyless {
			rows = append(rows, row)
		}
		sort.Strings(rows)
		return rows[rng.Intn(len(rows))], true
	}
	rel := func(kind byte, id uint32) []byte { return binary.BigEndian.AppendUint32([]byte{kind}, id) }
	splitRow := func(row string) (*string, *string) {
		var a int
		var b string
		fmt.Sscanf(row, "%d|%s", &a, &b)
		return sp(strconv.Itoa(a)), sp(b)
	}
	for txn := 0; txn < 60; txn++ {
		msgs := [][]byte{pgBegin(xid)}
		n, truncates := 1+rng.Intn(6), true
		if rng.Intn(6) == 0 {
			// Spilled and chunked; resolved in two passes unless it
			// truncates.
			n, truncates = 40+rng.Intn(80), rng.Intn(3) == 0
		}
		for i := 0; i < n; i++ {
			switch op := rng.Intn(20); {
			case op < 7:
				id := nextID
				nextID++
				v := val()
				keyed[id] = v
				msgs = append(msgs, pgTupleU(append(rel('I', 1), 'N'), sp(strconv.Itoa(id)), sp(v)))
			case op < 10:
				id, ok := pick()
				if !ok {
					continue
				}
				v, newV := keyed[id], val()
				if rng.Intn(3) == 0 {
					newV = v // unchanged TOASTed value: not sent
					msgs = append(msgs, pgTupleU(append(rel('U', 1), 'N'), sp(strconv.Itoa(id)), unchanged))
				} else {
					msgs = append(msgs, pgTupleU(append(rel('U', 1), 'N'), sp(strconv.Itoa(id)), sp(newV)))
				}
				keyed[id] = newV
			case op < 11:
				id, ok := pick()
				if !ok {
					continue
				}
				to := nextID
				nextID++
				v := keyed[id]
				delete(keyed, id)
				keyed[to] = v
				old := pgTupleU(append(rel('U', 1), 'K'), sp(strconv.Itoa(id)), nil)
				msgs = append(msgs, pgTupleU(append(old, 'N'), sp(strconv.Itoa(to)), unchanged))
			case op < 13:
				id, ok := pick()
				if !ok {
					continue
				}
				delete(keyed, id)
				msgs = append(msgs, pgTupleU(append(rel('D', 1), 'K'), sp(strconv.Itoa(id)), nil))
			case op < 16:
				row := fmt.Sprintf("%d|%s", rng.Intn(5), val())
				keyless[row]++
				a, b := splitRow(row)
				msgs = append(msgs, pgTupleU(append(rel('I', 2), 'N'), a, b))
			case op < 18:
				row, ok := pickRow()
				if !ok {
					continue
				}
				if keyless[row]--; keyless[row] == 0 {
					delete(keyless, row)
				}
				a, b := splitRow(row)
				if rng.Intn(2) == 0 {
					msgs = append(msgs, pgTupleU(append(rel('D', 2), 'O'), a, b))
					continue
				}
				to := fmt.Sprintf("%d|%s", rng.Intn(5), val())
				keyless[to]++
				a2, b2 := splitRow(to)
				old := pgTupleU(append(rel('U', 2), 'O'), a, b)
				msgs = append(msgs, pgTupleU(append(old, 'N'), a2, b2))
			case op < 19 && truncates && rng.Intn(4) == 0:
				clear(keyed)
				msgs = append(msgs, pgTruncate(1))
			case op == 19 && truncates && rng.Intn(4) == 0:
				clear(keyless)
				msgs = append(msgs, pgTruncate(2))
			}
		}
		msgs = append(msgs, pgCommit(lsn))
		lsn += 10
		xid++
		for _, m := range msgs {
			if err := s.handle(ctx, nil, xlogFrame(m)); err != nil {
				t.Fatalf("txn %d: %v", txn, err)
			}
		}
		if rng.Intn(3) == 0 || txn == 59 {
			if err := s.flush(ctx); err != nil {
				t.Fatal(err)
			}
			checkModel(t, sink, txn, keyed, keyless)
		}
	}
	*twoPasses += s.twoPasses
	for _, pt := range r.list {
		if pt.err != nil {
			t.Fatalf("table %s errored: %v", pt.t.Name, pt.err)
		}
		if len(pt.pend.rows)+len(pt.pend.counts) != 0 || pt.pend.truncated != 0 {
			t.Fatalf("table %s: %d rows, %d counts pending after the last flush", pt.t.Name, len(pt.pend.rows), len(pt.pend.counts))
		}
	}
}

func checkModel(t *testing.T, sink *memPG, txn int, keyed map[int]string, keyless map[string]int) {
	t.Helper()
	if sink.bad != nil {
		t.Fatalf("after txn %d: %v", txn, sink.bad)
	}
	got := map[string]int{}
	for row, n := range sink.rows[21] {
		got[fmt.Sprintf("%d|%s", repr.Row(row).Get(0).Int(), repr.Row(row).Get(1).Str())] += int(n)
	}
	want := map[string]int{}
	for id, v := range keyed {
		want[fmt.Sprintf("%d|%s", id, v)]++
	}
	compareCounts(t, txn, "k", got, want)
	got = map[string]int{}
	for row, n := range sink.rows[22] {
		got[fmt.Sprintf("%d|%s", repr.Row(row).Get(0).Int(), repr.Row(row).Get(1).Str())] += int(n)
	}
	compareCounts(t, txn, "n", got, keyless)
}

func compareCounts(t *testing.T, txn int, name string, got, want map[string]int) {
	t.Helper()
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("after txn %d: table %s holds %q %d times, upstream %d", txn, name, k, got[k], n)
		}
	}
	for k, n := range got {
		if want[k] != n {
			t.Fatalf("after txn %d: table %s holds %q %d times, upstream %d", txn, name, k, n, want[k])
		}
	}
}
