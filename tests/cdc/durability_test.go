package cdc

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/viewd/viewd/internal/viewdtest"
)

// startEmbeddedAt starts viewd with its embedded broker on a fixed address
// (the connection stored in the catalog names it) and a fixed data
// directory, so that a restart finds both again.
func startEmbeddedAt(t *testing.T, dir, kafkaAddr string, args ...string) (*viewdtest.Server, *pgx.Conn) {
	t.Helper()
	srv := viewdtest.Start(t, viewdtest.Options{DataDir: dir, Args: append([]string{"--embedded-kafka-listen", kafkaAddr}, args...)})
	srv.KafkaAddr = kafkaAddr
	return srv, srv.Connect(t)
}

func jsonEvents(topic string, from, n int) []rec {
	var rs []rec
	for i := from; i < from+n; i++ {
		rs = append(rs, kv(topic, "", fmt.Sprintf(`{"n":%d}`, i)))
	}
	return rs
}

// TestEmbeddedBrokerRestart is issue #14's scenario with README's first
// command (viewd and its embedded broker): 100 messages, a source and a
// count view, a restart, 50 more messages: the view reaches 150 and the
// source is running without error.
func TestEmbeddedBrokerRestart(t *testing.T) {
	dir, kaddr := t.TempDir()+"/data", viewdtest.FreeAddr(t)
	srv, c := startEmbeddedAt(t, dir, kaddr)
	cl := producer(t, kaddr)
	produceSync(t, cl, jsonEvents("ev", 0, 100)...)
	exec1(t, c, fmt.Sprintf("CREATE CONNECTION k TO KAFKA (BROKER '%s')", kaddr))
	exec1(t, c, "CREATE SOURCE ev FROM KAFKA CONNECTION k (TOPIC 'ev') FORMAT JSON")
	exec1(t, c, "CREATE MATERIALIZED VIEW ev_count AS SELECT count(*) AS n, count(DISTINCT data->>'n') AS d FROM ev")
	eventually(t, c, 20*time.Second, "SELECT n, d FROM ev_count", []string{"100|100"})
	cl.Close()
	c.Close(context.Background())
	srv.Stop()

	srv, c = startEmbeddedAt(t, dir, kaddr)
	cl = producer(t, kaddr)
	produceSync(t, cl, jsonEvents("ev", 100, 50)...)
	eventually(t, c, 20*time.Second, "SELECT n, d FROM ev_count", []string{"150|150"})
	// The reader reports its position after the data it emitted is
	// applied, so the status may trail the view for a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		s := statuses(t, c)["ev"]
		if s.status == "running" && s.err == "" && s.committed == "150" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status of ev after the restart: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = srv
}

// TestEmbeddedBrokerKill9: producers write to the embedded broker (with
// per-batch fsync, the default) while viewd is killed with SIGKILL; after
// a restart every message the broker acknowledged is in the view, and the
// view holds exactly the topic's records (its high-water mark of them).
func TestEmbeddedBrokerKill9(t *testing.T) {
	dir, kaddr := t.TempDir()+"/data", viewdtest.FreeAddr(t)
	srv, c := startEmbeddedAt(t, dir, kaddr, "--embedded-kafka-sync=true")
	exec1(t, c, fmt.Sprintf("CREATE CONNECTION k TO KAFKA (BROKER '%s')", kaddr))
	// The topic does not exist yet: the producers create it, in the run
	// that is killed.
	exec1(t, c, "CREATE SOURCE acks FROM KAFKA CONNECTION k (TOPIC 'acks') FORMAT JSON")
	exec1(t, c, "CREATE MATERIALIZED VIEW acked AS SELECT (data->>'w')::int AS w, (data->>'n')::int AS n FROM acks")

	const writers = 3
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl, err := kgo.NewClient(kgo.SeedBrokers(kaddr), kgo.AllowAutoTopicCreation(), kgo.ProducerLinger(time.Millisecond),
				// Not idempotent: franz-go never gives up on an idempotent
				// batch in flight, and the broker dies with viewd. A retried
				// batch may then be in the log twice; both copies are
				// records the view must hold.
				kgo.DisableIdempotentWrite(), kgo.RecordRetries(1),
				kgo.RecordDeliveryTimeout(3*time.Second), kgo.ProduceRequestTimeout(2*time.Second), kgo.RetryTimeout(2*time.Second))
			if err != nil {
				t.Error(err)
				return
			}
			defer cl.Close()
			for n := 0; ; n += 5 {
				select {
				case <-stop:
					return
				default:
				}
				var rs []*kgo.Record
				for i := n; i < n+5; i++ {
					rs = append(rs, &kgo.Record{Topic: "acks", Value: fmt.Appendf(nil, `{"w":%d,"n":%d}`, w, i)})
				}
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				res := cl.ProduceSync(ctx, rs...)
				cancel()
				if res.FirstErr() != nil {
					continue // not acknowledged (the broker died with viewd)
				}
				mu.Lock()
				for i := n; i < n+5; i++ {
					acked[fmt.Sprintf("%d|%d", w, i)] = true
				}
				mu.Unlock()
			}
		}()
	}
	// Let them write, with viewd ingesting, then kill it mid-stream.
	waitFor(t, 20*time.Second, "acknowledged messages", func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(acked) < 300 {
			return fmt.Sprintf("%d acknowledged", len(acked))
		}
		return ""
	})
	srv.Kill()
	close(stop)
	wg.Wait()
	mu.Lock()
	want := len(acked)
	mu.Unlock()
	t.Logf("%d messages acknowledged before kill -9", want)

	_, c = startEmbeddedAt(t, dir, kaddr, "--embedded-kafka-sync=true")
	var missing []string
	waitFor(t, 30*time.Second, "acknowledged messages in the view", func() string {
		got, err := query(c, "SELECT w, n FROM acked")
		if err != nil {
			return err.Error()
		}
		seen := map[string]int{}
		for _, r := range got {
			seen[r]++
		}
		missing = missing[:0]
		for k := range acked {
			if seen[k] == 0 {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			return fmt.Sprintf("%d of %d acknowledged messages missing (e.g. %v); view has %d rows", len(missing), want, missing[:min(5, len(missing))], len(got))
		}
		if hwm := highWatermark(t, kaddr, "acks"); int64(len(got)) != hwm {
			return fmt.Sprintf("view has %d rows, topic %d records", len(got), hwm)
		}
		return ""
	})
	if s := statuses(t, c)["acks"]; s.status != "running" || s.err != "" {
		t.Errorf("status of acks after kill -9: %+v", s)
	}
}

// highWatermark returns partition 0's high-water mark.
func highWatermark(t *testing.T, addr, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t, 10*time.Second), cl)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("list offsets of %s: %+v", topic, resp.Topics)
	}
	return resp.Topics[0].Partitions[0].Offset
}

// deleteTopic deletes topic through the Kafka protocol.
func deleteTopic(t *testing.T, cl *kgo.Client, topic string) {
	t.Helper()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 10000
	req.TopicNames = []string{topic}
	rt := kmsg.NewDeleteTopicsRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctxT(t, 30*time.Second), cl)
	if err != nil {
		t.Fatalf("delete topic %s: %v", topic, err)
	}
	for _, r := range resp.Topics {
		if r.ErrorCode != 0 {
			t.Fatalf("delete topic %s: error code %d", topic, r.ErrorCode)
		}
	}
}

// expectOffsetError waits for source to be in status error with a message
// containing every part, and checks that reading view fails with 55000.
func expectOffsetError(t *testing.T, c *pgx.Conn, source, view string, parts ...string) {
	t.Helper()
	waitFor(t, 20*time.Second, "status of "+source, func() string {
		s := statuses(t, c)[source]
		if s.status != "error" {
			return fmt.Sprintf("%+v", s)
		}
		for _, p := range parts {
			if !strings.Contains(s.err, p) {
				return fmt.Sprintf("error %q without %q", s.err, p)
			}
		}
		return ""
	})
	t.Logf("status error: %s", statuses(t, c)[source].err)
	_, err := query(c, "SELECT * FROM "+view)
	if err == nil || sqlstate(err) != "55000" {
		t.Fatalf("SELECT from %s over an errored source: err %v (SQLSTATE %q), want 55000", view, err, sqlstate(err))
	}
}

// TestTopicRecreatedUnderSource: a topic is deleted and created again
// (with fewer records) while a source reads it: the source goes to error,
// its view's reads fail, and it never reads the new records as if they
// followed the old ones.
func TestTopicRecreatedUnderSource(t *testing.T) {
	srv, c := startKafka(t)
	cl := producer(t, srv.KafkaAddr)
	produceSync(t, cl, jsonEvents("re", 0, 100)...)
	exec1(t, c, "CREATE SOURCE re FROM KAFKA CONNECTION k (TOPIC 're') FORMAT JSON")
	exec1(t, c, "CREATE MATERIALIZED VIEW re_count AS SELECT count(*) AS n FROM re")
	eventually(t, c, 20*time.Second, "SELECT n FROM re_count", []string{"100"})

	deleteTopic(t, cl, "re")
	createTopics(t, cl, map[string]int32{"re": 1})
	cl = producer(t, srv.KafkaAddr) // the old client knows the old topic ID
	produceSync(t, cl, jsonEvents("re", 1000, 30)...)
	expectOffsetError(t, c, "re", "re_count", `topic "re" partition 0`, "100")

	// Knowingly resuming: recreate the source; it reads the new topic.
	exec1(t, c, "DROP SOURCE re CASCADE")
	exec1(t, c, "CREATE SOURCE re FROM KAFKA CONNECTION k (TOPIC 're') FORMAT JSON")
	eventually(t, c, 20*time.Second, "SELECT count(*), min((data->>'n')::int) FROM re", []string{"30|1000"})
}

// TestRestartAgainstRecreatedTopic: while viewd is down its source's topic
// is deleted and created again with fewer records than the source had
// read; after the restart the source is in error, naming the topic,
// partition and both offsets, before it reads anything. The broker runs in
// the test so that it outlives viewd.
func TestRestartAgainstRecreatedTopic(t *testing.T) {
	addr, start := outsideBroker(t)
	srv, c := start()
	cl := producer(t, addr)
	produceSync(t, cl, jsonEvents("rr", 0, 100)...)
	exec1(t, c, fmt.Sprintf("CREATE CONNECTION k TO KAFKA (BROKER '%s')", addr))
	exec1(t, c, "CREATE SOURCE rr FROM KAFKA CONNECTION k (TOPIC 'rr') FORMAT JSON")
	exec1(t, c, "CREATE MATERIALIZED VIEW rr_count AS SELECT count(*) AS n FROM rr")
	eventually(t, c, 20*time.Second, "SELECT n FROM rr_count", []string{"100"})
	c.Close(context.Background())
	srv.Stop()

	deleteTopic(t, cl, "rr")
	createTopics(t, cl, map[string]int32{"rr": 1})
	cl = producer(t, addr) // the old client knows the old topic ID
	produceSync(t, cl, jsonEvents("rr", 1000, 40)...)

	_, c = start()
	expectOffsetError(t, c, "rr", "rr_count", `topic "rr" partition 0`, "high-water mark 40", "resume offset 100")
	// It stays so: nothing is read from the new topic.
	produceSync(t, cl, jsonEvents("rr", 1040, 100)...)
	time.Sleep(1500 * time.Millisecond)
	if s := statuses(t, c)["rr"]; s.status != "error" || s.messages != "0" {
		t.Errorf("status after more records: %+v", s)
	}
}
