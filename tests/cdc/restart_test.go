package cdc

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/viewdtest"
	"github.com/viewd/viewd/sources"
)

// TestRestart: sources and their join views survive a clean restart and a
// kill -9 of viewd, and ingestion resumes where it stopped, with nothing
// lost or doubled. The embedded broker lives in viewd's process and keeps
// data in memory only, so this test runs its own broker (kfake, as
// sources.StartEmbedded does) that outlives viewd.
func TestRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	broker, err := sources.StartEmbedded(ctx, "127.0.0.1:0", sources.WithEmbeddedLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	addr := broker.Addrs()[0]
	dir := t.TempDir() + "/data"
	start := func() (*viewdtest.Server, *pgx.Conn) {
		srv := viewdtest.Start(t, viewdtest.Options{DataDir: dir, Args: []string{"--kafka-brokers", addr}})
		return srv, srv.Connect(t)
	}
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
	// After an idle restart the sources say "starting" until a message
	// arrives: pinned by TestBugIdleSourceStaysStarting, so only errors
	// and stalls fail here.
	for name, s := range statuses(t, c) {
		if s.status == "error" || s.status == "stalled" || s.err != "" || s.lag != "0" {
			t.Errorf("status of %s: %+v", name, s)
		}
	}
}
