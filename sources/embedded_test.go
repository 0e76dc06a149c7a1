package sources

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/viewd/viewd/internal/testenv"
)

func startTestBroker(t *testing.T, opts ...EmbeddedOption) *Embedded {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	e, err := StartEmbedded(ctx, "127.0.0.1:0", append(opts, WithEmbeddedLogger(quietLogger()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// consumeAll reads topic partition 0 from the start until n records.
func consumeAll(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %s", len(out), n, topic)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func TestEmbeddedAutoCreateFranzGo(t *testing.T) {
	e := startTestBroker(t)
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	for _, v := range []string{"one", "two", "three"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "fresh", Key: []byte("k"), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatalf("produce to a new topic: %v", err)
		}
	}
	recs := consumeAll(t, e.Addrs(), "fresh", 3)
	var got []string
	for _, r := range recs {
		got = append(got, string(r.Value))
	}
	if strings.Join(got, ",") != "one,two,three" {
		t.Errorf("read back %v", got)
	}
}

func TestEmbeddedKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		testenv.SkipUnlessCI(t, "kcat is not installed (Debian kcat) for the librdkafka interoperability test")
	}
	e := startTestBroker(t)
	addr := e.Addrs()[0]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// kcat (librdkafka) produces into a topic that does not exist yet.
	prod := exec.CommandContext(ctx, kcat, "-b", addr, "-P", "-t", "from_kcat", "-K", ":")
	prod.Stdin = strings.NewReader("k1:{\"a\":1}\nk2:{\"a\":2}\n")
	if out, err := prod.CombinedOutput(); err != nil {
		t.Fatalf("kcat produce: %v\n%s", err, out)
	}
	recs := consumeAll(t, e.Addrs(), "from_kcat", 2)
	if string(recs[0].Key) != "k1" || string(recs[1].Value) != `{"a":2}` {
		t.Errorf("franz-go read %q=%q, %q=%q", recs[0].Key, recs[0].Value, recs[1].Key, recs[1].Value)
	}

	// franz-go produces; kcat reads.
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, v := range []string{"x", "y"} {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "from_go", Key: []byte("k-" + v), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cons := exec.CommandContext(ctx, kcat, "-b", addr, "-C", "-t", "from_go", "-o", "beginning", "-e", "-f", "%k=%s\n")
	var stderr bytes.Buffer
	cons.Stderr = &stderr
	out, err := cons.Output()
	if err != nil {
		t.Fatalf("kcat consume: %v\n%s", err, stderr.String())
	}
	if string(out) != "k-x=x\nk-y=y\n" {
		t.Errorf("kcat read %q", out)
	}
}

// TestEmbeddedDataDir: with a data directory the broker's topics and
// records survive a clean restart and a crash. A crash is simulated by
// starting another broker on the directory while the previous one still
// runs (closed only at the end, so it has not written its shutdown state):
// what the new one loads is what a restart after kill -9 finds. The topics
// are created by their first produce, which kfake does not record in
// topics.json until a clean shutdown (see recoverAutoCreatedTopics).
func TestEmbeddedDataDir(t *testing.T) {
	for _, sync := range []bool{false, true} {
		t.Run(map[bool]string{false: "nosync", true: "sync"}[sync], func(t *testing.T) {
			dir := brokerDir(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			start := func() *Embedded {
				t.Helper()
				e, err := StartEmbedded(ctx, "127.0.0.1:0", WithDataDir(dir), WithSyncWrites(sync), WithEmbeddedLogger(quietLogger()))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(e.Close)
				return e
			}
			produce := func(e *Embedded, topic string, vals ...string) {
				t.Helper()
				cl, err := kgo.NewClient(kgo.SeedBrokers(e.Addrs()...), kgo.AllowAutoTopicCreation())
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				for _, v := range vals {
					if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(v)}).FirstErr(); err != nil {
						t.Fatalf("produce: %v", err)
					}
				}
			}
			check := func(e *Embedded, topic string, want ...string) {
				t.Helper()
				got := consumeAll(t, e.Addrs(), topic, len(want))
				for i, r := range got {
					if i >= len(want) || string(r.Value) != want[i] || r.Offset != int64(i) {
						t.Fatalf("%s: record %d is %q at offset %d; want %q", topic, i, r.Value, r.Offset, want)
					}
				}
			}

			first := start()
			produce(first, "clean", "a", "b")
			first.Close()
			second := start()
			check(second, "clean", "a", "b")
			produce(second, "crashed", "c", "d")

			// "kill -9" of second: it is left running, unsaved.
			third := start()
			check(third, "clean", "a", "b")
			check(third, "crashed", "c", "d")
			produce(third, "crashed", "e")
			check(third, "crashed", "c", "d", "e")
		})
	}
}

// brokerDir is a temporary data directory for embedded brokers. Unlike
// t.TempDir, its removal retries for a while: a broker left running to
// simulate a crash (closed only at cleanup) may still be writing its
// files in the background just after Close returns.
func brokerDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "viewd-broker-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		var err error
		for range 50 {
			if err = os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("remove %s: %v", dir, err)
	})
	return dir
}
