package cdc

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/viewdtest"
	"github.com/viewd/viewd/sources"
)

// TestRestart: sources and their join views survive a clean restart and a
// kill -9 of viewd, and ingestion resumes where it stopped, with nothing
// lost or doubled. The broker runs in the test (outsideBroker), as a real
// cluster would, so that it outlives viewd; durability_test.go restarts
// viewd with its embedded broker.
func TestRestart(t *testing.T) {
	addr, start := outsideBroker(t)
	srv, c := start()
	exec1(t, c, fmt.Sprintf("CREATE CONNECTION k TO KAFKA (BROKER '%s')", addr))
	cl := producer(t, addr)

	// A keyless, stateless source: any record read twice or skipped
	// changes count(*) or sum.
	events := 0
	produceEvents := func(n int) {
		var rs []rec
		for i := 0; i < n; i++ {
			events++
			rs = append(rs, kv("events", "", fmt.Sprintf(`{"n":%d}`, events)))
		}
		produceSync(t, cl, rs...)
	}
	checkEvents := func(step string) {
		t.Helper()
		eventually(t, c, 20*time.Second, "SELECT count(*), count(DISTINCT (data->>'n')::int), sum((data->>'n')::int) FROM events",
			[]string{fmt.Sprintf("%d|%d|%d", events, events, events*(events+1)/2)})
	}

	m := newDebeziumModel()
	debeziumSnapshot(m)
	m.flush(t, cl)
	debeziumViews(t, c)
	exec1(t, c, "CREATE SOURCE events FROM KAFKA CONNECTION k (TOPIC 'events') FORMAT JSON ENVELOPE NONE")
	exec1(t, c, "CREATE MATERIALIZED VIEW event_count AS SELECT count(*) AS n FROM events")
	produceEvents(150)
	m.check(t, c, "snapshot")
	checkEvents("snapshot")

	debeziumBatches(m, func(step string) {
		switch step {
		case "updates":
			// Clean restart; the batch arrives while viewd is down.
			c.Close(context.Background())
			srv.Stop()
			m.flush(t, cl)
			produceEvents(100)
			srv, c = start()
		case "reinsert":
			// kill -9 right after producing, while viewd may be mid-batch.
			m.flush(t, cl)
			produceEvents(100)
			time.Sleep(20 * time.Millisecond)
			srv.Kill()
			srv, c = start()
		default:
			m.flush(t, cl)
			produceEvents(50)
		}
		m.check(t, c, step)
		checkEvents(step)
		eventually(t, c, 10*time.Second, "SELECT n FROM event_count", []string{fmt.Sprint(events)})
	})
	// And once more, a restart with nothing new: the same contents.
	before := rows(t, c, joinQuery)
	c.Close(context.Background())
	srv.Stop()
	srv, c = start()
	eventually(t, c, 20*time.Second, joinQuery, before)
	checkEvents("idle restart")
	// After an idle restart the sources are running (once their readers
	// have found their topics, shortly after the restart), without
	// errors, stalls or lag.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var bad []string
		for name, s := range statuses(t, c) {
			if s.status != "running" || s.err != "" || s.lag != "0" {
				bad = append(bad, fmt.Sprintf("%s: %+v", name, s))
			}
		}
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("statuses 10 s after an idle restart: %v", bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRestartMidStream: viewd is killed (kill -9) and later stopped
// cleanly while it is still ingesting the bank's transfers, with
// transactions half-received across topics; after each restart every read
// still sees the initial total, and the final balances are the
// workload's: no transaction lost, doubled or split.
func TestRestartMidStream(t *testing.T) {
	n := 400
	for _, mk := range []func([]transfer) *bankScenario{debeziumBank, maxwellBank, cockroachBank} {
		transfers, final := bankWorkload(n, 17)
		sc := mk(transfers)
		t.Run(sc.name, func(t *testing.T) { runBankRestart(t, sc, final) })
	}
}

func runBankRestart(t *testing.T, sc *bankScenario, final [2][]int64) {
	addr, start := outsideBroker(t)
	srv, c := start()
	exec1(t, c, fmt.Sprintf("CREATE CONNECTION k TO KAFKA (BROKER '%s')", addr))
	cl := producer(t, addr)
	createTopics(t, cl, sc.topics)
	for _, ddl := range sc.ddl {
		exec1(t, c, ddl)
	}
	exec1(t, c, "CREATE MATERIALIZED VIEW bank_total AS "+strings.Replace(sumQuery, "sum(balance)", "sum(balance) AS s", 1))
	produceAll(t, cl, sc.initial)
	eventually(t, c, 30*time.Second, "SELECT count(*), sum(balance) FROM (SELECT balance FROM a UNION ALL SELECT balance FROM b) u",
		[]string{fmt.Sprintf("%d|%d", bankAccounts, bankTotal)})
	produceInterleaved(t, cl, sc.work, 7)

	// checkTotal reads the total until d passes; every read must be the
	// initial total.
	checkTotal := func(d time.Duration, when string) {
		t.Helper()
		reads := 0
		for end := time.Now().Add(d); time.Now().Before(end); reads++ {
			for _, q := range []string{sumQuery, "SELECT s FROM bank_total"} {
				got, err := query(c, q)
				if err != nil {
					t.Fatalf("%s: %s: %v", when, q, err)
				}
				if len(got) != 1 || got[0] != fmt.Sprint(bankTotal) {
					t.Fatalf("%s: %s = %q, want %d", when, q, got, bankTotal)
				}
			}
		}
		if reads == 0 {
			t.Fatalf("%s: no reads", when)
		}
	}
	var wantA, wantB []string
	for id := 0; id < bankAccounts/2; id++ {
		wantA = append(wantA, fmt.Sprintf("%d|%d", id, final[0][id]))
		wantB = append(wantB, fmt.Sprintf("%d|%d", id, final[1][id]))
	}
	checkTotal(1500*time.Millisecond, "before the kill")
	if strings.Join(rows(t, c, "SELECT id, balance FROM a ORDER BY id"), ",") == strings.Join(wantA, ",") {
		t.Logf("%s: every transfer was in before the kill; the kill did not interrupt ingestion", sc.name)
	}
	srv.Kill()
	srv, c = start()
	checkTotal(1500*time.Millisecond, "after kill -9")
	c.Close(context.Background())
	srv.Stop()
	srv, c = start()
	checkTotal(500*time.Millisecond, "after a clean restart")
	eventually(t, c, 60*time.Second, "SELECT id, balance FROM a ORDER BY id", wantA)
	eventually(t, c, 60*time.Second, "SELECT id, balance FROM b ORDER BY id", wantB)
	checkTotal(200*time.Millisecond, "at the end")
	for name, s := range statuses(t, c) {
		if s.status == "error" || s.err != "" {
			t.Errorf("status of %s: %+v", name, s)
		}
	}
}

// outsideBroker starts a Kafka-compatible broker in the test process (it
// outlives viewd's restarts and is closed when the test ends) and returns
// its address and a function that starts viewd against it on one data
// directory, as often as a test restarts it.
func outsideBroker(t *testing.T) (string, func() (*viewdtest.Server, *pgx.Conn)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	broker, err := sources.StartEmbedded(ctx, "127.0.0.1:0", sources.WithEmbeddedLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(broker.Close)
	addr := broker.Addrs()[0]
	dir := t.TempDir() + "/data"
	return addr, func() (*viewdtest.Server, *pgx.Conn) {
		srv := viewdtest.Start(t, viewdtest.Options{DataDir: dir, Args: []string{"--kafka-brokers", addr}})
		return srv, srv.Connect(t)
	}
}
