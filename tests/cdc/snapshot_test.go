package cdc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/internal/viewdtest"
)

// TestDebeziumSnapshotWithoutTxnTopic (issue #9's finding): a Debezium
// connector that has only taken its snapshot has written its data topics
// but no transaction topic yet. Sources declared with TRANSACTION
// METADATA ingest the snapshot (op "r", no transaction block) anyway,
// the whole snapshot of both tables becoming visible at once, and their
// status says what they wait for; the transaction source itself, whose
// topic is missing, says so too. The first streamed transaction, which
// creates the topic, is then applied whole.
func TestDebeziumSnapshotWithoutTxnTopic(t *testing.T) {
	srv, c := startKafka(t)
	cl := producer(t, srv.KafkaAddr)
	createTopics(t, cl, map[string]int32{"snap.public.a": 2, "snap.public.b": 2})
	n := 300
	ev := func(table, op string, id int, before, after, snapshot, txn string) rec {
		v := fmt.Sprintf(`{"before":%s,"after":%s,"source":{"version":"2.5.4.Final","connector":"postgresql","name":"snap","ts_ms":1700000000000,"snapshot":%q,"db":"bank","schema":"public","table":%q,"txId":7,"lsn":1,"xmin":null},"op":%q,"ts_ms":1700000000001,"transaction":%s}`,
			before, after, snapshot, table, op, txn)
		return rec{topic: "snap.public." + table, partition: int32(id % 2), key: []byte(fmt.Sprintf(`{"id":%d}`, id)), value: []byte(v)}
	}
	var snap []rec
	for id := 0; id < n; id++ {
		for _, table := range []string{"a", "b"} {
			mark := "true"
			if id == 0 && table == "a" {
				mark = "first"
			}
			if id == n-1 && table == "b" {
				mark = "last"
			}
			snap = append(snap, ev(table, "r", id, "null", acct(id, 100), mark, "null"))
		}
	}
	// The snapshot is produced in two halves, the second after the
	// sources exist, so a reader could see half of it.
	produceSync(t, cl, snap[:n]...)
	exec1(t, c, "CREATE SOURCE tx FROM KAFKA CONNECTION k (TOPIC 'snap.transaction') FORMAT JSON ENVELOPE NONE")
	exec1(t, c, "CREATE SOURCE a "+acctCols+" FROM KAFKA CONNECTION k (TOPIC 'snap.public.a') FORMAT JSON ENVELOPE DEBEZIUM (TRANSACTION METADATA (SOURCE tx, COLLECTION 'public.a'))")
	exec1(t, c, "CREATE SOURCE b "+acctCols+" FROM KAFKA CONNECTION k (TOPIC 'snap.public.b') FORMAT JSON ENVELOPE DEBEZIUM (TRANSACTION METADATA (SOURCE tx, COLLECTION 'public.b'))")
	exec1(t, c, "CREATE VIEW total AS SELECT count(*) AS n, sum(balance) AS s FROM (SELECT balance FROM a UNION ALL SELECT balance FROM b) u")
	time.Sleep(300 * time.Millisecond)
	produceSync(t, cl, snap[n:]...)
	want := fmt.Sprintf("%d|%d", 2*n, 2*n*100)
	viewdtest.WaitWhole(t, c, 30*time.Second, 5*time.Millisecond, "the snapshot", "SELECT n, s FROM total", "0|NULL", want)
	// Status: the data sources run and say they wait for the topic; the
	// transaction source says its topic is missing.
	waitFor(t, 10*time.Second, "statuses naming the missing topic", func() string {
		st := statuses(t, c)
		if a := st["a"]; a.status != "running" || !strings.Contains(a.err, "waiting for the transaction metadata topic \"snap.transaction\"") {
			return fmt.Sprintf("a: %+v", a)
		}
		if tx := st["tx"]; tx.status != "stalled" || !strings.Contains(tx.err, "snap.transaction") {
			return fmt.Sprintf("tx: %+v", tx)
		}
		return ""
	})
	// The first streamed transaction creates the topic: a transfer.
	tid := "900:1"
	txn := fmt.Sprintf(`{"id":%q,"total_order":1,"data_collection_order":1}`, tid)
	produceSync(t, cl,
		rec{topic: "snap.transaction", value: []byte(fmt.Sprintf(`{"status":"BEGIN","id":%q,"ts_ms":1700000000000,"event_count":null,"data_collections":null}`, tid))},
		ev("a", "u", 1, acct(1, 100), acct(1, 40), "false", txn),
		ev("b", "u", 2, acct(2, 100), acct(2, 160), "false", txn),
		rec{topic: "snap.transaction", value: []byte(fmt.Sprintf(`{"status":"END","id":%q,"ts_ms":1700000000002,"event_count":2,"data_collections":[{"data_collection":"public.a","event_count":1},{"data_collection":"public.b","event_count":1}]}`, tid))})
	eventually(t, c, 20*time.Second, "SELECT (SELECT balance FROM a WHERE id = 1), (SELECT balance FROM b WHERE id = 2)", []string{"40|160"})
	eventually(t, c, 5*time.Second, "SELECT n, s FROM total", []string{want})
	waitFor(t, 10*time.Second, "statuses after the topic appeared", func() string {
		st := statuses(t, c)
		if a := st["a"]; a.status != "running" || a.err != "" {
			return fmt.Sprintf("a: %+v", a)
		}
		return ""
	})
}
