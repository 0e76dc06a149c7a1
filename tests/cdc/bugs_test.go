package cdc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/internal/viewdtest"
)

// Regression tests for bugs this package found (each was first pinned as a
// failing test, then fixed), and one known deviation from PostgreSQL.

// TestSourceStatusErrorLocation: mz_source_statuses.error must say where
// the bad record is (topic, partition, offset), as DESIGN.md ("the source
// reports the error in its status") and sources/doc.go promise. It shows
// only `source "s": <cause>`: coord.sourceStatusRows renders
// it.rt.sourceErr.Error(), the *pgcode.Error made by SourceError.PgError(),
// whose message leaves the location to the Detail field, which the status
// row drops. (Queries that read the source do get the location, as
// DETAIL.)
func TestSourceStatusErrorLocation(t *testing.T) {
	srv, c := startKafka(t)
	cl := producer(t, srv.KafkaAddr)
	produceSync(t, cl, kv("s", "", `{"n":1}`), kv("s", "", "not json"))
	exec1(t, c, "CREATE SOURCE s (n int) FROM KAFKA CONNECTION k (TOPIC 's') FORMAT JSON ENVELOPE DEBEZIUM")
	waitFor(t, 20*time.Second, "status of s", func() string {
		if st := statuses(t, c)["s"]; st.status != "error" {
			return st.status
		}
		return ""
	})
	st := statuses(t, c)["s"]
	if want := "s partition 0 offset 1"; !strings.Contains(st.err, want) {
		t.Errorf("mz_source_statuses.error = %q, want it to contain %q", st.err, want)
	}
}

// TestUnionUnknownLiteral: string literals in a UNION ALL branch come
// out NULL (PostgreSQL resolves the unknown literals to text: 'a', 'b').
// Found as a SUBSCRIBE over two sources tagged by table; a plain SELECT
// over tables shows it.
func TestUnionUnknownLiteral(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE a (id int)")
	exec1(t, c, "CREATE TABLE b (id int)")
	exec1(t, c, "INSERT INTO a VALUES (1)")
	exec1(t, c, "INSERT INTO b VALUES (2)")
	got := rows(t, c, "SELECT 'a' AS t, id FROM a UNION ALL SELECT 'b', id FROM b ORDER BY id")
	if strings.Join(got, ",") != "a|1,b|2" {
		t.Errorf("got %q, want [a|1 b|2]", got)
	}
	got = rows(t, c, "SELECT 'x' UNION ALL SELECT 'y' ORDER BY 1")
	if strings.Join(got, ",") != "x,y" {
		t.Errorf("constant union: got %q, want [x y]", got)
	}
}

// TestNumericDisplayScale: arithmetic and sum over numeric(10,2) keep
// PostgreSQL's display scale (2 * 49.50 = 99.00, 49.50 * 1 = 49.50, sum
// keeps scale 2, 1250.50 - 219.00 = 1031.50); viewd printed 99, 49.5, 219,
// 1031.5 while packed rows held numerics without trailing zeros. Found
// through a Debezium decimal column; reproduced with a table. Rows now
// keep the scale and keys drop it (repr.Row.Canonical).
func TestNumericDisplayScale(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE p (v numeric(10,2))")
	exec1(t, c, "INSERT INTO p VALUES (49.5), (120)")
	for _, tc := range []struct{ q, want string }{
		{"SELECT v FROM p ORDER BY v", "49.50,120.00"},
		{"SELECT 2 * v FROM p ORDER BY v", "99.00,240.00"},
		{"SELECT v * 1 FROM p ORDER BY v", "49.50,120.00"},
		{"SELECT sum(v) FROM p", "169.50"},
		{"SELECT 1250.50 - 219.00", "1031.50"},
	} {
		if got := strings.Join(rows(t, c, tc.q), ","); got != tc.want {
			t.Errorf("%s = %s, want %s", tc.q, got, tc.want)
		}
	}
}

// TestIdleSourceIsRunning: a Kafka source whose topic exists but
// has no new messages (an empty topic, or every source after a restart
// once it has caught up) reports status "starting" ("connecting, reading
// metadata") forever, though the reader has connected, read metadata and
// fetched. Cause: the collection's state moves from StateStarting to
// StateRunning only in Assembler.Push (sources/txn.go, "if st.State ==
// StateStarting"), that is when a message is read.
func TestIdleSourceIsRunning(t *testing.T) {
	srv, c := startKafka(t)
	cl := producer(t, srv.KafkaAddr)
	createTopics(t, cl, map[string]int32{"quiet": 1})
	exec1(t, c, "CREATE SOURCE quiet FROM KAFKA CONNECTION k (TOPIC 'quiet') FORMAT JSON ENVELOPE NONE")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && statuses(t, c)["quiet"].status != "running" {
		time.Sleep(100 * time.Millisecond)
	}
	if st := statuses(t, c)["quiet"]; st.status != "running" {
		t.Errorf("after 5s on a reachable broker, status of a caught-up source is %q, want running (%+v)", st.status, st)
	}
}

// TestTransactionBacklog: a backlog of upstream transactions
// (here 1,000 Debezium transactions with transaction metadata, already in
// Kafka when the sources are created, as after downtime) is ingested at
// one transaction per coordinator tick (10ms): about 75 transactions/s,
// so a million-transaction backlog would take hours. Non-transactional
// records are not limited (3,000 ENVELOPE NONE or plain Debezium records
// take ~0.5s). Cause: sources.Reader.Run (sources/kafka.go) calls
// Sink.Emit once per released Unit and waits for it, and coord's
// groupSink.Emit (coord/sources.go) returns only after the next tick's
// applyUnitsLocked, though applyUnitsLocked could apply every queued unit
// of a group at one timestamp (each still whole). The fix is to hand all
// units released by one Assembler.Release to the sink at once (e.g. a
// Sink.EmitAll(ctx, []Unit) that queues them all, then waits for the
// last).
func TestTransactionBacklog(t *testing.T) {
	const n = 1000
	transfers, final := bankWorkload(n, 23)
	sc := debeziumBank(transfers)
	srv, c := startKafka(t)
	cl := producer(t, srv.KafkaAddr)
	createTopics(t, cl, sc.topics)
	produceAll(t, cl, sc.initial)
	produceAll(t, cl, sc.work)
	began := time.Now()
	for _, ddl := range sc.ddl {
		exec1(t, c, ddl)
	}
	var wantA []string
	for id := 0; id < bankAccounts/2; id++ {
		wantA = append(wantA, fmt.Sprintf("%d|%d", id, final[0][id]))
	}
	done := false
	for !done && time.Since(began) < 5*time.Second {
		got, err := query(c, "SELECT id, balance FROM a ORDER BY id")
		done = err == nil && strings.Join(got, ",") == strings.Join(wantA, ",")
		time.Sleep(20 * time.Millisecond)
	}
	if !done {
		t.Errorf("a backlog of %d upstream transactions is not ingested after 5s; the same number of records without transactions takes under 1s", n)
	} else {
		t.Logf("%d transactions of backlog ingested in %v", n, time.Since(began).Round(time.Millisecond))
	}
}
