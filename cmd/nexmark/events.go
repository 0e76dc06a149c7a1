package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sources"
	"github.com/viewd/viewd/sources/loadgen"
)

// The input paths.
const (
	pathGenerator = "generator"
	pathKafka     = "kafka"
)

// topicPrefix names the Kafka topics: nexmark-person and so on.
const topicPrefix = "nexmark-"

// totals is what this process computes of the events, independently of
// viewd: the rows per collection, and q0's counts and sums.
type totals struct {
	rows map[string]int64 // per collection name
	// bids, and the sums of their auction, bidder and price columns.
	bids, auction, bidder, price int64
}

// q0 is the answer of q0's check without its last two columns, as text.
func (t totals) q0() string {
	return fmt.Sprintf("%d|%d|%d|%d", t.bids, t.auction, t.bidder, t.price)
}

// generator returns the NEXMARK generator the benchmark reads.
func generator(seed int64) (*loadgen.Generator, error) {
	return loadgen.New(loadgen.Nexmark, loadgen.Options{Seed: seed})
}

// eachUnit computes events [0, n) in units of 64K and calls fn with each.
func eachUnit(g *loadgen.Generator, n int64, fn func(u sources.Unit) error) error {
	for from := int64(0); from < n; from += 1 << 16 {
		if err := fn(g.Ticks(from, min(n, from+1<<16))); err != nil {
			return err
		}
	}
	return nil
}

// collectionNames maps the generator's collection ids to names.
func collectionNames(g *loadgen.Generator) map[sources.CollectionID]loadgen.Collection {
	out := map[sources.CollectionID]loadgen.Collection{}
	for i, c := range g.Collections() {
		out[sources.CollectionID(i+1)] = c // New's default ids
	}
	return out
}

// computeTotals computes n events' totals.
func computeTotals(n, seed int64) (totals, error) {
	g, err := generator(seed)
	if err != nil {
		return totals{}, err
	}
	names := collectionNames(g)
	t := totals{rows: map[string]int64{}}
	err = eachUnit(g, n, func(u sources.Unit) error {
		for id, ups := range u.All() {
			name := names[id].Name
			t.rows[name] += int64(len(ups))
			if name != "bid" {
				continue
			}
			var ds []repr.Datum
			for _, up := range ups {
				ds = up.Row.Unpack(ds[:0])
				t.bids++
				t.auction += ds[0].Int()
				t.bidder += ds[1].Int()
				t.price += ds[2].Int()
			}
		}
		return nil
	})
	return t, err
}

// produce writes n events as JSON objects (one per message, the columns'
// names as keys, timestamps in ISO 8601) to the nexmark-* topics of the
// broker at addr, one partition each, in event order.
func produce(ctx context.Context, addr string, n, seed int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(1<<18), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()
	g, err := generator(seed)
	if err != nil {
		return err
	}
	names := collectionNames(g)
	var mu sync.Mutex
	var perr error
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			perr = err
			mu.Unlock()
		}
	}
	var ds []repr.Datum
	err = eachUnit(g, n, func(u sources.Unit) error {
		for id, ups := range u.All() {
			c := names[id]
			topic := topicPrefix + c.Name
			for _, up := range ups {
				ds = up.Row.Unpack(ds[:0])
				cl.Produce(ctx, &kgo.Record{Topic: topic, Value: appendJSON(nil, c.Desc, ds)}, done)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		return perr
	})
	if err != nil {
		return fmt.Errorf("producing: %w", err)
	}
	if err := cl.Flush(ctx); err != nil {
		return fmt.Errorf("producing: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if perr != nil {
		return fmt.Errorf("producing: %w", perr)
	}
	return nil
}

// appendJSON appends the row as a JSON object keyed by column name.
func appendJSON(b []byte, d repr.RelationDesc, ds []repr.Datum) []byte {
	b = append(b, '{')
	for i, v := range ds {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, d.Names[i])
		b = append(b, ':')
		switch v.Kind() {
		case repr.KindInt8, repr.KindInt4:
			b = strconv.AppendInt(b, v.Int(), 10)
		case repr.KindTimestampTz:
			b = append(b, '"')
			b = time.UnixMicro(v.Micros()).UTC().AppendFormat(b, "2006-01-02T15:04:05.999999Z07:00")
			b = append(b, '"')
		default:
			b = appendJSONString(b, v.Str())
		}
	}
	return append(b, '}')
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, fmt.Sprintf(`\u%04x`, r)...)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}

// sourceDDL returns the statements that create the benchmark's sources on
// path: the generator, or the three Kafka sources with the generator's
// columns.
func sourceDDL(path string, n, seed int64) ([]string, error) {
	if path == pathGenerator {
		return []string{fmt.Sprintf("CREATE SOURCE nexmark FROM LOAD GENERATOR NEXMARK (RATE UNLIMITED, UP TO %d, SEED %d) FOR ALL TABLES", n, seed)}, nil
	}
	g, err := generator(seed)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range g.Collections() {
		cols := make([]string, len(c.Desc.Names))
		for i, name := range c.Desc.Names {
			cols[i] = name + " " + c.Desc.Types[i].Type.String()
		}
		out = append(out, fmt.Sprintf("CREATE SOURCE %s (%s) FROM KAFKA CONNECTION nexmark_kafka (TOPIC '%s%s') FORMAT JSON ENVELOPE NONE",
			c.Name, strings.Join(cols, ", "), topicPrefix, c.Name))
	}
	return out, nil
}
