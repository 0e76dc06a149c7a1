package sources

import (
	"context"
	"fmt"
	"math/rand"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/repr"
)

// polls renders a scenario's records as the polls a reader might get:
// topics and partitions interleaved at random, each partition's records
// in offset order, cut into polls of 1 to 600 records.
func polls(s scenario, seed int64) [][]Message {
	rng := rand.New(rand.NewSource(seed))
	type queue struct {
		topic string
		part  int32
		recs  []produced
	}
	var qs []*queue
	topics := make([]string, 0, len(s.records))
	for t := range s.records {
		topics = append(topics, t)
	}
	sort.Strings(topics)
	for _, t := range topics {
		byPart := map[int32]*queue{}
		for _, r := range s.records[t] {
			q := byPart[r.partition]
			if q == nil {
				q = &queue{topic: t, part: r.partition}
				byPart[r.partition] = q
				qs = append(qs, q)
			}
			q.recs = append(q.recs, r)
		}
	}
	next := map[tp]int64{}
	var all []Message
	for len(qs) > 0 {
		i := rng.Intn(len(qs))
		q := qs[i]
		n := min(len(q.recs), 1+rng.Intn(50))
		for _, r := range q.recs[:n] {
			k := tp{q.topic, q.part}
			m := Message{Topic: q.topic, Partition: q.part, Offset: next[k]}
			next[k]++
			if r.key != "" {
				m.Key = []byte(r.key)
			}
			if r.value != "" {
				m.Value = []byte(r.value)
			}
			all = append(all, m)
		}
		q.recs = q.recs[n:]
		if len(q.recs) == 0 {
			qs = append(qs[:i], qs[i+1:]...)
		}
	}
	var out [][]Message
	for len(all) > 0 {
		n := min(len(all), 1+rng.Intn(600))
		out = append(out, all[:n])
		all = all[n:]
	}
	return out
}

// TestPushBatchMatchesPush: decoding a poll on four workers releases
// exactly the units, checkpoints and errors that pushing its records one
// by one does, for every envelope's transaction assembly.
func TestPushBatchMatchesPush(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, s := range []scenario{debeziumScenario(300), maxwellScenario(300), cockroachScenario(300)} {
		t.Run(s.name, func(t *testing.T) {
			// A record that does not decode, on each data topic.
			for topic := range s.records {
				if topic != s.config().TxnTopic {
					s.records[topic] = append(s.records[topic], produced{partition: 0, key: `{"id":1}`, value: `{"before":`})
				}
			}
			cfg := s.config()
			cfg.Logger, cfg.DecodeWorkers = quietLogger(), 1
			seq, err := NewAssembler(cfg)
			if err != nil {
				t.Fatal(err)
			}
			cfg.DecodeWorkers = 4
			par, err := NewAssembler(cfg)
			if err != nil {
				t.Fatal(err)
			}
			par.StartDecoders(ctx)
			render := func(units []Unit, errs []*SourceError) string {
				var b strings.Builder
				b.WriteString(renderUnits(units))
				for _, u := range units {
					fmt.Fprintf(&b, "%s %v %s\n", u.TxnID, u.Checkpoint.Positions, u.Checkpoint.Token)
				}
				b.WriteString(renderErrs(errs))
				return b.String()
			}
			var released, parallel int
			for i, poll := range polls(s, 7) {
				for j := range poll {
					seq.Push(&poll[j])
				}
				par.PushBatch(ctx, poll)
				su, se := seq.Release()
				pu, pe := par.Release()
				if want, got := render(su, se), render(pu, pe); want != got {
					t.Fatalf("poll %d (%d records): sequential:\n%s\nparallel:\n%s", i, len(poll), want, got)
				}
				released += len(su)
				if len(poll) >= minParallelDecode {
					parallel++
				}
			}
			if released == 0 || parallel == 0 || seq.Pending() != 0 {
				t.Errorf("%d units released, %d polls decoded in parallel, %d records pending", released, parallel, seq.Pending())
			}
		})
	}
}

// TestDecodersStopOnCancel: the decode workers end with their context.
func TestDecodersStopOnCancel(t *testing.T) {
	a, err := NewAssembler(Config{Logger: quietLogger(), DecodeWorkers: 4, Sources: []SourceSpec{{ID: 1, Topic: "t"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The workers are counted by their stacks: runtime.NumGoroutine also
	// counts goroutines of earlier tests still ending (it failed so once).
	// Earlier tests' decode workers may be ending too (6 counted once, at
	// load 13): wait for them first.
	for deadline := time.Now().Add(5 * time.Second); decodeWorkers() > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d decode workers of earlier tests still running", decodeWorkers())
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.StartDecoders(ctx)
	if n := decodeWorkers(); n != 3 {
		t.Fatalf("%d decode workers running after starting 3", n)
	}
	// Work still flows while they run.
	msgs := make([]Message, 500)
	for i := range msgs {
		msgs[i] = Message{Topic: "t", Offset: int64(i), Value: []byte(`{"i":1}`)}
	}
	a.PushBatch(ctx, msgs)
	if units, _ := a.Release(); len(units) != 1 || units[0].Len() != 500 {
		t.Fatalf("released %d units", len(units))
	}
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for decodeWorkers() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d decode workers still running 5s after cancel", decodeWorkers())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Once they are gone, a batch is decoded on the caller's goroutine.
	for i := range msgs {
		msgs[i].Offset += 500
	}
	a.PushBatch(ctx, msgs)
	if units, _ := a.Release(); len(units) != 1 || units[0].Len() != 500 {
		t.Fatalf("after cancel: released %d units", len(units))
	}
}

// decodeWorkers counts the goroutines running StartDecoders' workers.
func decodeWorkers() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "sources.(*Assembler).StartDecoders.func")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// TestKeptRowsRecycled: the decode workers' row chunks are reused once
// every record is released, and the rows of units released before (in
// packed slabs, or in Updates past maxPacked) are copies that later polls
// do not overwrite.
func TestKeptRowsRecycled(t *testing.T) {
	for _, limit := range []int{maxPacked, 300} {
		t.Run(fmt.Sprintf("maxPacked=%d", limit), func(t *testing.T) {
			defer func(m int) { maxPacked = m }(maxPacked)
			maxPacked = limit
			desc := mkDesc(nil, "id", ct(repr.TypeInt8), "note", nct(repr.TypeText))
			a, err := NewAssembler(Config{Logger: quietLogger(), DecodeWorkers: 2,
				Sources: []SourceSpec{{ID: 1, Name: "t", Topic: "t", Desc: desc}}})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			a.StartDecoders(ctx)
			type kept struct {
				unit  Unit
				first int
			}
			var all []kept
			offset := int64(0)
			for poll := range 30 {
				var msgs []Message
				// Enough rows to fill several 64 KiB chunks per worker.
				for range 3000 {
					v := fmt.Sprintf(`{"id":%d,"note":"poll %d %s"}`, offset, poll, strings.Repeat("x", 200+int(offset%40)))
					msgs = append(msgs, Message{Topic: "t", Offset: offset, Value: []byte(v)})
					offset++
				}
				a.PushBatch(ctx, msgs)
				units, errs := a.Release()
				if len(errs) > 0 || len(units) != 1 {
					t.Fatalf("poll %d: %d units, errors %v", poll, len(units), errs)
				}
				all = append(all, kept{units[0], int(msgs[0].Offset)})
			}
			if n := len(a.ws[0].free) + len(a.ws[1].free); n == 0 {
				t.Errorf("no chunk was recycled")
			}
			for _, k := range all {
				ups := k.unit.All()[1]
				if len(ups) != 3000 {
					t.Fatalf("unit from offset %d: %d updates", k.first, len(ups))
				}
				for i, up := range ups {
					ds := up.Row.Unpack(nil)
					id := int64(k.first + i)
					want := fmt.Sprintf("poll %d %s", k.first/3000, strings.Repeat("x", 200+int(id%40)))
					if ds[0].Int() != id || ds[1].Str() != want {
						t.Fatalf("unit from offset %d, row %d: %s, want (%d, %q)", k.first, i, up.Row, id, want)
					}
				}
			}
		})
	}
}
