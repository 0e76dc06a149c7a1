package sources

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"math/rand"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/viewd/viewd/repr"
)

// The decoding benchmarks measure one message decoded into rows (ops) by a
// source's decoder, with Nexmark-shaped plain JSON (ENVELOPE NONE with
// declared columns, as the issue #13 measurement declares its sources) and
// Debezium change events (before/after, op c/u/d, with and without the
// JsonConverter schema block). One op is one event: ns/op is ns per
// event, B/op and allocs/op are per event; events/s is per core.
//
//	go test ./sources -run '^$' -bench Decode -benchmem

// nexmarkDescs are the loadgen NEXMARK collections' columns.
func nexmarkDescs() (person, auction, bid *repr.RelationDesc) {
	ts := ct(repr.TypeTimestampTz)
	i8, txt := ct(repr.TypeInt8), ct(repr.TypeText)
	person = mkDesc([]int{0}, "id", i8, "name", txt, "email_address", txt, "credit_card", txt, "city", txt, "state", txt, "date_time", ts, "extra", txt)
	auction = mkDesc([]int{0}, "id", i8, "item_name", txt, "description", txt, "initial_bid", i8, "reserve", i8, "date_time", ts, "expires", ts, "seller", i8, "category", i8, "extra", txt)
	bid = mkDesc(nil, "auction", i8, "bidder", i8, "price", i8, "channel", txt, "url", txt, "date_time", ts, "extra", txt)
	return person, auction, bid
}

// nexmarkJSON returns n Nexmark events as JSON objects in the generator's
// 1:3:46 person:auction:bid mix, each tagged with its kind (0 person,
// 1 auction, 2 bid). Times are ISO 8601 strings with milliseconds, as
// Nexmark's JSON producers write them.
func nexmarkJSON(n int, seed int64) (kinds []int, msgs [][]byte) {
	rng := rand.New(rand.NewSource(seed))
	cities := []string{"Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"}
	states := []string{"AZ", "CA", "ID", "OR", "WA", "WY"}
	channels := []string{"Google", "Facebook", "Baidu", "Apple"}
	at := time.Date(2015, 7, 15, 0, 0, 0, 0, time.UTC)
	var persons, auctions int64
	for i := 0; i < n; i++ {
		at = at.Add(time.Duration(rng.Intn(20)) * time.Millisecond)
		ts := at.Format("2006-01-02T15:04:05.000Z")
		slot := i % 50
		var m string
		var k int
		switch {
		case slot == 0 || persons == 0:
			persons++
			k = 0
			m = fmt.Sprintf(`{"id":%d,"name":"person %d","email_address":"p%d@example.com","credit_card":"%04d %04d %04d %04d","city":%q,"state":%q,"date_time":%q,"extra":""}`,
				persons, persons, persons, rng.Intn(10000), rng.Intn(10000), rng.Intn(10000), rng.Intn(10000), cities[rng.Intn(len(cities))], states[rng.Intn(len(states))], ts)
		case slot <= 3 || auctions == 0:
			auctions++
			k = 1
			initial := 1 + rng.Intn(1000)
			m = fmt.Sprintf(`{"id":%d,"item_name":"item %d","description":"a fine %s item","initial_bid":%d,"reserve":%d,"date_time":%q,"expires":%q,"seller":%d,"category":%d,"extra":""}`,
				auctions, auctions, cities[rng.Intn(len(cities))], initial, initial+rng.Intn(1000), ts, at.Add(time.Duration(10+rng.Intn(20))*time.Second).Format("2006-01-02T15:04:05.000Z"),
				1+rng.Int63n(persons), 10+rng.Intn(5))
		default:
			k = 2
			m = fmt.Sprintf(`{"auction":%d,"bidder":%d,"price":%d,"channel":%q,"url":"https://www.nexmark.com/item.htm?query=%d","date_time":%q,"extra":""}`,
				1+rng.Int63n(auctions), 1+rng.Int63n(persons), 1+rng.Intn(10_000), channels[rng.Intn(len(channels))], rng.Intn(1000), ts)
		}
		kinds = append(kinds, k)
		msgs = append(msgs, []byte(m))
	}
	return kinds, msgs
}

// dbzOrdersSchema is the JsonConverter schema block of a PostgreSQL
// orders table as Debezium 2.x writes it.
const dbzOrdersSchema = `{"type":"struct","fields":[` +
	`{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"int32","optional":false,"field":"customer_id"},{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"12"},"field":"amount"},{"type":"string","optional":true,"field":"status"},{"type":"boolean","optional":true,"field":"paid"},{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"created_at"},{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"updated_at"},{"type":"string","optional":true,"field":"note"}],"optional":true,"name":"pg.public.orders.Value","field":"before"},` +
	`{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"},{"type":"int32","optional":false,"field":"customer_id"},{"type":"bytes","optional":true,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"12"},"field":"amount"},{"type":"string","optional":true,"field":"status"},{"type":"boolean","optional":true,"field":"paid"},{"type":"int64","optional":true,"name":"io.debezium.time.MicroTimestamp","version":1,"field":"created_at"},{"type":"string","optional":true,"name":"io.debezium.time.ZonedTimestamp","version":1,"field":"updated_at"},{"type":"string","optional":true,"field":"note"}],"optional":true,"name":"pg.public.orders.Value","field":"after"},` +
	`{"type":"struct","fields":[{"type":"string","optional":false,"field":"version"},{"type":"string","optional":false,"field":"connector"},{"type":"string","optional":false,"field":"name"},{"type":"int64","optional":false,"field":"ts_ms"},{"type":"string","optional":true,"name":"io.debezium.data.Enum","version":1,"parameters":{"allowed":"true,last,false,incremental"},"default":"false","field":"snapshot"},{"type":"string","optional":false,"field":"db"},{"type":"string","optional":true,"field":"sequence"},{"type":"string","optional":false,"field":"schema"},{"type":"string","optional":false,"field":"table"},{"type":"int64","optional":true,"field":"txId"},{"type":"int64","optional":true,"field":"lsn"},{"type":"int64","optional":true,"field":"xmin"}],"optional":false,"name":"io.debezium.connector.postgresql.Source","field":"source"},` +
	`{"type":"string","optional":false,"field":"op"},{"type":"int64","optional":true,"field":"ts_ms"},` +
	`{"type":"struct","fields":[{"type":"string","optional":false,"field":"id"},{"type":"int64","optional":false,"field":"total_order"},{"type":"int64","optional":false,"field":"data_collection_order"}],"optional":true,"name":"event.block","version":1,"field":"transaction"}],` +
	`"optional":false,"name":"pg.public.orders.Envelope","version":1}`

func dbzOrdersDesc() *repr.RelationDesc {
	return mkDesc([]int{0}, "id", ct(repr.TypeInt8), "customer_id", ct(repr.TypeInt4), "amount", nct(repr.NumericType(12, 2)),
		"status", nct(repr.TypeText), "paid", nct(repr.TypeBool), "created_at", nct(repr.TypeTimestamp),
		"updated_at", nct(repr.TypeTimestampTz), "note", nct(repr.TypeText))
}

// debeziumJSON returns n Debezium change events of the orders table:
// each order is created, updated (full before image) and deleted, in
// transaction blocks, wrapped with the schema block when withSchema.
func debeziumJSON(n int, seed int64, withSchema bool) [][]byte {
	rng := rand.New(rand.NewSource(seed))
	statuses := []string{"new", "paid", "shipped", "cancelled", "returned"}
	row := func(id int) string {
		cents := int64(rng.Intn(10_000_000))
		amount := base64.StdEncoding.EncodeToString(bigEndianTwos(cents))
		created := int64(1_700_000_000_000_000) + int64(rng.Intn(1e9))
		return fmt.Sprintf(`{"id":%d,"customer_id":%d,"amount":%q,"status":%q,"paid":%t,"created_at":%d,"updated_at":"2024-03-0%dT10:%02d:%02d.%06dZ","note":"order n\u00b0%d \"rush\""}`,
			id, rng.Intn(100_000), amount, statuses[rng.Intn(len(statuses))], rng.Intn(2) == 0, created, 1+rng.Intn(9), rng.Intn(60), rng.Intn(60), rng.Intn(1e6), id)
	}
	var out [][]byte
	for i := 0; i < n; i++ {
		id := 1 + i/3
		before, after, op := "null", row(id), "c"
		switch i % 3 {
		case 1:
			before, op = row(id), "u"
		case 2:
			before, after, op = row(id), "null", "d"
		}
		txID := 1000 + i/4
		payload := fmt.Sprintf(`{"before":%s,"after":%s,"source":{"version":"2.5.0.Final","connector":"postgresql","name":"pg","ts_ms":1710000000%03d,"snapshot":"false","db":"shop","sequence":"[\"24023119\",\"24023128\"]","schema":"public","table":"orders","txId":%d,"lsn":%d,"xmin":null},"op":%q,"ts_ms":1710000000%03d,"transaction":{"id":"%d:%d","total_order":%d,"data_collection_order":%d}}`,
			before, after, i%1000, txID, 24023128+i*64, op, i%1000, txID, 24023128+i*64, 1+i%4, 1+i%4)
		if withSchema {
			payload = `{"schema":` + dbzOrdersSchema + `,"payload":` + payload + `}`
		}
		out = append(out, []byte(payload))
	}
	return out
}

// bigEndianTwos is v as Connect's Decimal bytes: minimal big-endian two's
// complement.
func bigEndianTwos(v int64) []byte {
	var b []byte
	for {
		b = append([]byte{byte(v)}, b...)
		v >>= 8
		if (v == 0 && b[0]&0x80 == 0) || (v == -1 && b[0]&0x80 != 0) {
			return b
		}
	}
}

// benchDecode decodes msgs round-robin, each with the decoder of its kind.
func benchDecode(b *testing.B, decs []decoder, kinds []int, msgs [][]byte) {
	b.Helper()
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	b.SetBytes(int64(total / len(msgs)))
	b.ReportAllocs()
	w := newWorkspace()
	cpu := startCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(msgs)
		k := 0
		if kinds != nil {
			k = kinds[j]
		}
		m := Message{Topic: "t", Offset: int64(i), Value: msgs[j]}
		d, err := decs[k].decode(&m, w)
		if err != nil || len(d.ops) != 1 {
			b.Fatalf("message %d: %v (%d ops)\n%s", j, err, len(d.ops), msgs[j])
		}
	}
	b.StopTimer()
	cpu.report(b)
}

// cpuClock measures the process's CPU time (user and system, every
// thread: GC included), which a loaded machine disturbs less than the
// wall clock ns/op is measured by.
type cpuClock struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() cpuClock { return cpuClock{processCPU()} }

// report adds events/s (wall clock) and cpu-ns/event.
func (c cpuClock) report(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(processCPU()-c.start)/float64(b.N), "cpu-ns/event")
}

func BenchmarkDecode(b *testing.B) {
	person, auction, bid := nexmarkDescs()
	newDec := func(spec SourceSpec) decoder {
		d, err := newDecoder(&spec)
		if err != nil {
			b.Fatal(err)
		}
		return d
	}
	nexDecs := func() []decoder {
		return []decoder{
			newDec(SourceSpec{ID: 1, Topic: "person", Desc: person}),
			newDec(SourceSpec{ID: 2, Topic: "auction", Desc: auction}),
			newDec(SourceSpec{ID: 3, Topic: "bid", Desc: bid}),
		}
	}
	kinds, msgs := nexmarkJSON(5000, 1)
	only := func(k int) ([]int, [][]byte) {
		var ks []int
		var ms [][]byte
		for i := range msgs {
			if kinds[i] == k {
				ks, ms = append(ks, k), append(ms, msgs[i])
			}
		}
		return ks, ms
	}
	for _, c := range []struct {
		name string
		kind int
	}{{"nexmark-person", 0}, {"nexmark-auction", 1}, {"nexmark-bid", 2}} {
		b.Run(c.name, func(b *testing.B) {
			ks, ms := only(c.kind)
			benchDecode(b, nexDecs(), ks, ms)
		})
	}
	b.Run("nexmark-mix", func(b *testing.B) { benchDecode(b, nexDecs(), kinds, msgs) })
	// The same events with the Nexmark model's padding in extra (letters
	// bringing a person to about 200 bytes, an auction to 500, a bid to
	// 100, as the NEXMARK load generator and cmd/nexmark make them): most
	// of such a message is one long string.
	b.Run("nexmark-mix-padded", func(b *testing.B) {
		avg := []int{200, 500, 100}
		padded := make([][]byte, len(msgs))
		for i, m := range msgs {
			l := max(avg[kinds[i]]-len(m)+len(`"extra":""`), 0)
			padded[i] = bytes.Replace(m, []byte(`"extra":""`), []byte(`"extra":"`+strings.Repeat("q", l)+`"`), 1)
		}
		benchDecode(b, nexDecs(), kinds, padded)
	})
	for _, withSchema := range []bool{false, true} {
		name := "debezium-cud"
		if withSchema {
			name += "-schema"
		}
		b.Run(name, func(b *testing.B) {
			dec := newDec(SourceSpec{ID: 1, Topic: "pg.public.orders", Envelope: EnvelopeDebezium, Desc: dbzOrdersDesc()})
			benchDecode(b, []decoder{dec}, nil, debeziumJSON(3000, 2, withSchema))
		})
	}
}

// BenchmarkIngest measures the whole of sources' work per event on the
// path a Reader takes: a poll of records pushed (decoded on the workers)
// and released as units, for Nexmark plain JSON (three sources) and
// Debezium change events in transactions. One op is one event.
func BenchmarkIngest(b *testing.B) {
	person, auction, bid := nexmarkDescs()
	kinds, nex := nexmarkJSON(5000, 1)
	topics := []string{"person", "auction", "bid"}
	dbz := debeziumJSON(3000, 2, false)
	for _, c := range []struct {
		name string
		cfg  Config
		msg  func(i int) (string, []byte)
	}{
		{"nexmark", Config{Sources: []SourceSpec{
			{ID: 1, Name: "person", Topic: "person", Desc: person},
			{ID: 2, Name: "auction", Topic: "auction", Desc: auction},
			{ID: 3, Name: "bid", Topic: "bid", Desc: bid},
		}}, func(i int) (string, []byte) { j := i % len(nex); return topics[kinds[j]], nex[j] }},
		// Keyed by id: the state holds the current row per order.
		{"debezium", Config{Sources: []SourceSpec{
			{ID: 1, Name: "orders", Topic: "orders", Envelope: EnvelopeDebezium, Desc: dbzOrdersDesc()},
		}}, func(i int) (string, []byte) {
			// A pass deletes every order it creates: passes repeat.
			return "orders", dbz[i%len(dbz)]
		}},
	} {
		for _, workers := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/workers=%d", c.name, workers), func(b *testing.B) {
				cfg := c.cfg
				cfg.Logger, cfg.DecodeWorkers = quietLogger(), workers
				a, err := NewAssembler(cfg)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				a.StartDecoders(ctx)
				const poll = 1000
				msgs := make([]Message, 0, poll)
				next := map[string]int64{}
				b.ReportAllocs()
				cpu := startCPU()
				b.ResetTimer()
				for i := 0; i < b.N; i += poll {
					msgs = msgs[:0]
					for j := i; j < min(i+poll, b.N); j++ {
						topic, v := c.msg(j)
						msgs = append(msgs, Message{Topic: topic, Offset: next[topic], Value: v})
						next[topic]++
					}
					a.PushBatch(ctx, msgs)
					a.Release()
				}
				b.StopTimer()
				cpu.report(b)
			})
		}
	}
}
