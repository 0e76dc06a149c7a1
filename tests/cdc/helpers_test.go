package cdc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/viewd/viewd/internal/viewdtest"
)

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func exec1(t testing.TB, c *pgx.Conn, sql string) {
	t.Helper()
	viewdtest.Exec(t, c, sql)
}

// query runs sql and returns its rows as text lines "a|b|c" (NULL for
// null), in result order.
func query(c *pgx.Conn, sql string) ([]string, error) { return viewdtest.Query(c, sql) }

func rows(t testing.TB, c *pgx.Conn, sql string) []string {
	t.Helper()
	return viewdtest.Rows(t, c, sql)
}

// eventually polls sql until it returns want (rows in result order) or the
// timeout passes.
func eventually(t testing.TB, c *pgx.Conn, timeout time.Duration, sql string, want []string) {
	t.Helper()
	viewdtest.Eventually(t, c, timeout, 50*time.Millisecond, sql, want)
}

// waitFor polls f until it returns "" or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, f func() string) {
	t.Helper()
	viewdtest.WaitFor(t, timeout, 50*time.Millisecond, what, f)
}

func abbrev(lines []string) string { return viewdtest.Abbrev(lines) }

func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// sourceStatus is a row of mz_internal.mz_source_statuses.
type sourceStatus struct {
	name, typ, status, err string
	known, committed, lag  string
	messages               string
}

func statuses(t testing.TB, c *pgx.Conn) map[string]sourceStatus {
	t.Helper()
	out := map[string]sourceStatus{}
	for _, l := range rows(t, c, "SELECT name, type, status, coalesce(error, ''), offset_known, offset_committed, lag, messages_received FROM mz_internal.mz_source_statuses") {
		f := strings.Split(l, "|")
		if len(f) < 8 {
			t.Fatalf("mz_source_statuses row %q", l)
		}
		out[f[0]] = sourceStatus{name: f[0], typ: f[1], status: f[2], err: strings.Join(f[3:len(f)-4], "|"), known: f[len(f)-4], committed: f[len(f)-3], lag: f[len(f)-2], messages: f[len(f)-1]}
	}
	return out
}

// startKafka starts viewd with its embedded broker and names it as
// connection k.
func startKafka(t testing.TB) (*viewdtest.Server, *pgx.Conn) {
	t.Helper()
	srv := viewdtest.Start(t, viewdtest.Options{Kafka: true})
	c := srv.Connect(t)
	exec1(t, c, fmt.Sprintf("CREATE CONNECTION k TO KAFKA (BROKER '%s')", srv.KafkaAddr))
	return srv, c
}

// producer returns a franz-go client that produces to explicit partitions.
func producer(t testing.TB, addr string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// rec is one record to produce; a nil value is a tombstone.
type rec struct {
	topic     string
	partition int32
	key       []byte
	value     []byte
}

func kv(topic string, key, value string) rec {
	r := rec{topic: topic}
	if key != "" {
		r.key = []byte(key)
	}
	if value != "" {
		r.value = []byte(value)
	}
	return r
}

// produceSync produces records in order and waits for them.
func produceSync(t testing.TB, cl *kgo.Client, recs ...rec) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = &kgo.Record{Topic: r.topic, Partition: r.partition, Key: r.key, Value: r.value}
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// createTopics creates topics with the given partition counts.
func createTopics(t testing.TB, cl *kgo.Client, topics map[string]int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	for name, n := range topics {
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = name
		rt.NumPartitions = n
		rt.ReplicationFactor = 1
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctxT(t, 30*time.Second), cl)
	if err != nil {
		t.Fatalf("create topics: %v", err)
	}
	for _, rt := range resp.Topics {
		if rt.ErrorCode != 0 && rt.ErrorCode != 36 { // 36: TOPIC_ALREADY_EXISTS
			t.Fatalf("create topic %s: error code %d", rt.Topic, rt.ErrorCode)
		}
	}
}
