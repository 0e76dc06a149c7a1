package sources

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/repr"
)

func TestMaxwellDocumentedEvents(t *testing.T) {
	desc := mkDesc([]int{0}, "id", ct(repr.TypeInt4), "daemon", nct(repr.TypeText), "born", nct(repr.TypeDate))
	f := newFeeder(t, Config{Sources: []SourceSpec{
		{ID: 1, Name: "maxwell", Topic: "maxwell", Envelope: EnvelopeMaxwell, Collection: "test.maxwell", Desc: desc},
	}})
	// From Maxwell's quickstart.
	f.push("maxwell", "", `{"database":"test","table":"maxwell","type":"insert","ts":1449786310,"xid":940752,"commit":true,"data":{"id":1,"daemon":"Stanislaw Lem","born":"1921-09-12"}}`)
	f.push("maxwell", "", `{"database":"test","table":"maxwell","type":"update","ts":1449786341,"xid":940786,"commit":true,"data":{"id":1,"daemon":"Firebus!  Firebus!","born":"1921-09-12"},"old":{"daemon":"Stanislaw Lem"}}`)
	// Another table on the same topic: not this source's.
	f.push("maxwell", "", `{"database":"test","table":"other","type":"insert","ts":1449786341,"xid":940787,"commit":true,"data":{"x":1}}`)
	// A two-row transaction: nothing is released before its commit.
	f.push("maxwell", "", `{"database":"test","table":"maxwell","type":"insert","ts":1449786400,"xid":940800,"xoffset":0,"data":{"id":2,"daemon":"a"}}`)
	units, errs := f.a.Release()
	if len(errs) > 0 {
		t.Fatal(renderErrs(errs))
	}
	expectText(t, "before commit", renderUnits(units), `
unit 0 coll 1: (1, 'Stanislaw Lem', '1921-09-12') +1
unit 1 coll 1: (1, 'Stanislaw Lem', '1921-09-12') -1
unit 1 coll 1: (1, 'Firebus!  Firebus!', '1921-09-12') +1`)
	f.push("maxwell", "", `{"database":"test","table":"maxwell","type":"delete","ts":1449786400,"xid":940800,"xoffset":1,"commit":true,"data":{"id":1,"daemon":"Firebus!  Firebus!","born":"1921-09-12"}}`)
	f.push("maxwell", "", `{"database":"test","table":"maxwell","type":"bootstrap-insert","ts":1449786500,"data":{"id":3,"daemon":"boot"}}`)
	units, errs = f.a.Release()
	if len(errs) > 0 {
		t.Fatal(renderErrs(errs))
	}
	expectText(t, "after commit", renderUnits(units), `
unit 0 coll 1: (2, 'a', NULL) +1
unit 0 coll 1: (1, 'Firebus!  Firebus!', '1921-09-12') -1
unit 1 coll 1: (3, 'boot', NULL) +1`)
	if units[0].TxnID != "940800" {
		t.Errorf("txn = %q", units[0].TxnID)
	}
}

func TestCockroachChangefeed(t *testing.T) {
	desc := mkDesc([]int{0}, "id", ct(repr.TypeInt8), "name", nct(repr.TypeText))
	f := newFeeder(t, Config{Sources: []SourceSpec{
		{ID: 1, Name: "office_dogs", Topic: "office_dogs", Envelope: EnvelopeCockroach, Desc: desc},
	}})
	f.a.AddPartition("office_dogs", 0, 0)
	f.a.AddPartition("office_dogs", 1, 0)
	push := func(p int32, off int64, v string) {
		f.a.Push(&Message{Topic: "office_dogs", Partition: p, Offset: off, Value: []byte(v)})
	}
	// From CockroachDB's changefeed documentation, spread over two
	// partitions, out of HLC order within a partition.
	push(0, 0, `{"after": {"id": 2, "name": "Carl"}, "key": [2], "updated": "1532377312562986716.0000000000"}`)
	push(0, 1, `{"after": {"id": 1, "name": "Petee H"}, "key": [1], "updated": "1532377312562986715.0000000000"}`)
	push(1, 0, `{"after": {"id": 3, "name": "Lola"}, "key": [3], "updated": "1532377312562986716.0000000000"}`)
	push(0, 2, `{"resolved": "1532377312562986716.0000000000"}`)
	units, _ := f.a.Release()
	if len(units) != 0 {
		t.Fatalf("released before every partition resolved: %s", renderUnits(units))
	}
	push(1, 1, `{"after": {"id": 1, "name": "Petee"}, "key": [1], "updated": "1532377312562986717.0000000000"}`)
	push(1, 2, `{"resolved": "1532377312562986716.0000000000"}`)
	units, errs := f.a.Release()
	if len(errs) > 0 {
		t.Fatal(renderErrs(errs))
	}
	expectText(t, "resolved", renderUnits(units), `
unit 0 coll 1: (1, 'Petee H') +1
unit 1 coll 1: (2, 'Carl') +1
unit 1 coll 1: (3, 'Lola') +1`)
	cp := units[1].Checkpoint
	if cp.Token != "1532377312562986716.0000000000" || cp.Positions[0].Offset != 3 || cp.Positions[1].Offset != 1 {
		t.Errorf("checkpoint = %+v", cp)
	}
	// Delete (after null) and a re-delivered old row (at least once).
	push(0, 3, `{"after": null, "key": [2], "updated": "1532377312562986718.0000000000"}`)
	push(0, 4, `{"after": {"id": 2, "name": "Carl"}, "key": [2], "updated": "1532377312562986716.0000000000"}`)
	push(0, 5, `{"resolved": "1532377312562986720.0000000000"}`)
	push(1, 3, `{"resolved": "1532377312562986720.0000000000"}`)
	units, _ = f.a.Release()
	expectText(t, "delete", renderUnits(units), `
unit 0 coll 1: (1, 'Petee H') -1
unit 0 coll 1: (1, 'Petee') +1
unit 1 coll 1: (2, 'Carl') -1`)
	if f.a.Pending() != 0 {
		t.Errorf("pending %d", f.a.Pending())
	}
}

func TestUpsertEnvelope(t *testing.T) {
	desc := mkDesc([]int{0}, "id", ct(repr.TypeInt4), "name", nct(repr.TypeText), "score", nct(repr.TypeFloat8))
	for _, inline := range []bool{false, true} {
		f := newFeeder(t, Config{Sources: []SourceSpec{
			{ID: 1, Name: "u", Topic: "u", Envelope: EnvelopeUpsert, Desc: desc, InlineErrors: inline},
		}})
		f.push("u", `1`, `{"id":1,"name":"a","score":1.5}`)
		f.push("u", `{"id":2}`, `{"name":"b"}`)
		f.push("u", `1`, `{"id":1,"name":"a2","score":2}`)
		f.push("u", `2`, "")         // tombstone deletes
		f.push("u", `3`, "")         // tombstone of an absent key: nothing
		f.push("u", `1`, `{"name":`) // bad value
		units, errs := f.a.Release()
		want := `
unit 0 coll 1: (1, 'a', 1.5) +1
unit 0 coll 1: (2, 'b', NULL) +1
unit 0 coll 1: (1, 'a', 1.5) -1
unit 0 coll 1: (1, 'a2', 2) +1
unit 0 coll 1: (2, 'b', NULL) -1`
		if inline {
			want = `
unit 0 coll 1: (1, 'a', 1.5, NULL) +1
unit 0 coll 1: (2, 'b', NULL, NULL) +1
unit 0 coll 1: (1, 'a', 1.5, NULL) -1
unit 0 coll 1: (1, 'a2', 2, NULL) +1
unit 0 coll 1: (2, 'b', NULL, NULL) -1
unit 0 coll 1: (1, 'a2', 2, NULL) -1
unit 0 coll 1: (1, NULL, NULL, 'invalid JSON: unexpected end of JSON input') +1`
			if len(errs) != 0 {
				t.Errorf("inline errors reported as source errors: %s", renderErrs(errs))
			}
		} else if len(errs) != 1 || !strings.Contains(errs[0].Error(), "offset 5") {
			t.Errorf("errs = %s", renderErrs(errs))
		}
		expectText(t, "upsert", renderUnits(units), want)
	}
}

func TestUpsertCompactedRebuild(t *testing.T) {
	// A compacted topic read from offset 0 holds only the latest value per
	// key (with gaps in offsets): it rebuilds the table.
	f := newFeeder(t, Config{Sources: []SourceSpec{{ID: 1, Name: "kv", Topic: "kv", Envelope: EnvelopeUpsert, Format: FormatText, KeyFormat: FormatText}}})
	for _, m := range []struct {
		off int64
		k   string
		v   string
	}{{3, "a", "1"}, {7, "b", "2"}, {9, "c", ""}} {
		msg := Message{Topic: "kv", Offset: m.off, Key: []byte(m.k)}
		if m.v != "" {
			msg.Value = []byte(m.v)
		}
		f.a.Push(&msg)
	}
	units, _ := f.a.Release()
	expectText(t, "rebuild", renderUnits(units), `
unit 0 coll 1: ('a', '1') +1
unit 0 coll 1: ('b', '2') +1`)
	if got := units[0].Checkpoint.Positions[0].Offset; got != 10 {
		t.Errorf("checkpoint offset %d", got)
	}
}

func TestNoneEnvelope(t *testing.T) {
	ts := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	f := newFeeder(t, Config{Sources: []SourceSpec{
		{ID: 1, Name: "j", Topic: "j", Envelope: EnvelopeNone, Format: FormatJSON, KeyFormat: FormatText,
			Include: Include{Key: true, Partition: true, Offset: true, Timestamp: true}},
		{ID: 2, Name: "txt", Topic: "txt", Envelope: EnvelopeNone, Format: FormatText},
		{ID: 3, Name: "b", Topic: "b", Envelope: EnvelopeNone, Format: FormatBytes},
		{ID: 4, Name: "cols", Topic: "cols", Envelope: EnvelopeNone, Desc: mkDesc(nil, "a", nct(repr.TypeInt4), "t", nct(repr.TypeTimestamp))},
	}})
	f.a.Push(&Message{Topic: "j", Partition: 2, Offset: 5, Key: []byte("k1"), Value: []byte(`{"b": 1, "a": {"z": [true, null]}}`), Timestamp: ts})
	f.push("txt", "", "hello")
	f.push("b", "", "\x00\xff")
	f.push("cols", "", `{"a": 7, "t": "2024-01-02T03:04:05.5"}`)
	f.push("cols", "", `{"a": 7, "t": 1704164645000000}`)
	f.push("cols", "", `{"a": 1.5}`)
	units, errs := f.a.Release()
	expectText(t, "rows", renderUnits(units), `
unit 0 coll 1: ('{"a": {"z": [true, null]}, "b": 1}', 'k1', 2, 5, '2024-01-02 03:04:05+00') +1
unit 0 coll 2: ('hello') +1
unit 0 coll 3: ('\x00ff') +1
unit 0 coll 4: (7, '2024-01-02 03:04:05.5') +1
unit 0 coll 4: (7, '2024-01-02 03:04:05') +1`)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), `column "a": invalid input syntax for type integer: "1.5"`) {
		t.Errorf("errs = %s", renderErrs(errs))
	}
	d, _ := f.a.Desc(1)
	expectText(t, "desc", d.String(), "(data jsonb?, key text?, partition integer, offset bigint, timestamp timestamp with time zone?)")
}

func TestKeylessRetractionChecks(t *testing.T) {
	// Without a primary key every row's multiplicity is tracked: a
	// retraction of a row that is not there is an error, duplicates are
	// fine, and an update needs a before image.
	desc := mkDesc(nil, "v", ct(repr.TypeInt4))
	f := newFeeder(t, Config{Sources: []SourceSpec{{ID: 1, Name: "bag", Topic: "bag", Envelope: EnvelopeDebezium, Desc: desc}}})
	f.push("bag", "", `{"before":null,"after":{"v":1},"op":"c"}`)
	f.push("bag", "", `{"before":null,"after":{"v":1},"op":"c"}`)
	f.push("bag", "", `{"before":{"v":1},"after":null,"op":"d"}`)
	f.push("bag", "", `{"before":{"v":1},"after":null,"op":"d"}`)
	f.push("bag", "", `{"before":{"v":1},"after":null,"op":"d"}`) // offset 4: would go negative
	f.push("bag", "", `{"before":null,"after":{"v":2},"op":"u"}`) // offset 5: no before
	units, errs := f.a.Release()
	expectText(t, "bag", renderUnits(units), `
unit 0 coll 1: (1) +1
unit 0 coll 1: (1) +1
unit 0 coll 1: (1) -1
unit 0 coll 1: (1) -1`)
	got := renderErrs(errs)
	if !strings.Contains(got, "offset 4: retraction of a row that is not there: (1) (negative multiplicity)") ||
		!strings.Contains(got, "offset 5: update without a before image on a collection with no primary key") {
		t.Errorf("errors:\n%s", got)
	}
}

// TestUpsertReadThroughModel: an UPSERT collection read through its
// collection (Config.Collections, the coordinator's way) keeps only the
// keys changed since the last Applied, yet its updates keep the applied
// collection equal to a model of the topic (the latest value per key),
// whether or not Applied follows each release.
func TestUpsertReadThroughModel(t *testing.T) {
	desc := mkDesc([]int{0}, "id", ct(repr.TypeInt4), "v", nct(repr.TypeText))
	tbl := PGTable{ID: 1, KeyCols: []int{0}}
	for seed := int64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewSource(seed))
		mem := newMemPG([]PGTable{tbl})
		f := newFeeder(t, Config{Collections: mem, Sources: []SourceSpec{{ID: 1, Name: "u", Topic: "u", Envelope: EnvelopeUpsert, Desc: desc}}})
		model := map[int]string{}
		for round := 0; round < 30; round++ {
			for i := rng.Intn(20); i >= 0; i-- {
				k := rng.Intn(12)
				if rng.Intn(4) == 0 {
					f.push("u", strconv.Itoa(k), "")
					delete(model, k)
					continue
				}
				v := fmt.Sprintf("v%d", rng.Intn(5))
				f.push("u", strconv.Itoa(k), fmt.Sprintf(`{"id":%d,"v":%q}`, k, v))
				model[k] = v
			}
			units, errs := f.a.Release()
			if len(errs) > 0 {
				t.Fatalf("seed %d: %s", seed, renderErrs(errs))
			}
			for _, u := range units {
				if err := mem.Emit(context.Background(), u); err != nil {
					t.Fatal(err)
				}
			}
			if rng.Intn(3) > 0 {
				f.a.Applied()
				if n := len(f.a.states[1].rows); n != 0 {
					t.Fatalf("seed %d: %d keys held after Applied", seed, n)
				}
			}
			if mem.bad != nil {
				t.Fatalf("seed %d round %d: %v", seed, round, mem.bad)
			}
			got := map[int]string{}
			for row := range mem.rows[1] {
				got[int(repr.Row(row).Get(0).Int())] = repr.Row(row).Get(1).Str()
			}
			if fmt.Sprint(got) != fmt.Sprint(model) {
				t.Fatalf("seed %d round %d: collection %v, topic %v", seed, round, got, model)
			}
		}
	}
}

// TestNonePacked: an append-only source's rows go out packed, one slab
// per collection and unit, in upstream order; a collection whose slab
// would pass maxPacked goes on in the unit's Updates, with the rows before
// it, never in both.
func TestNonePacked(t *testing.T) {
	defer func(m int) { maxPacked = m }(maxPacked)
	maxPacked = 40
	f := newFeeder(t, Config{Sources: []SourceSpec{
		{ID: 1, Name: "a", Topic: "a", Envelope: EnvelopeNone, Format: FormatText},
		{ID: 2, Name: "b", Topic: "b", Envelope: EnvelopeNone, Format: FormatText},
	}})
	for i := range 6 {
		f.push("a", "", fmt.Sprintf("row %d", i))
	}
	f.push("b", "", "one")
	units, _ := f.a.Release()
	if len(units) != 1 {
		t.Fatalf("%d units, want 1", len(units))
	}
	u := units[0]
	if u.Packed[1] != nil || len(u.Updates[1]) != 6 || u.Packed[2] == nil || u.Updates[2] != nil {
		t.Fatalf("collection 1: %v packed, %d updates; collection 2: %v packed, %d updates", u.Packed[1] != nil, len(u.Updates[1]), u.Packed[2] != nil, len(u.Updates[2]))
	}
	expectText(t, "rows", renderUnits(units), `
unit 0 coll 1: ('row 0') +1
unit 0 coll 1: ('row 1') +1
unit 0 coll 1: ('row 2') +1
unit 0 coll 1: ('row 3') +1
unit 0 coll 1: ('row 4') +1
unit 0 coll 1: ('row 5') +1
unit 0 coll 2: ('one') +1`)
	if u.Len() != 7 {
		t.Fatalf("Len %d, want 7", u.Len())
	}
}
