package sources

import (
	"fmt"
	"strings"
	"testing"

	"github.com/viewd/viewd/repr"
)

func acctDesc() *repr.RelationDesc {
	return mkDesc([]int{0}, "id", ct(repr.TypeInt4), "balance", ct(repr.TypeInt8))
}

func dbzAcct(op string, txid string, before, after string, coll string) string {
	tx := "null"
	if txid != "" {
		tx = fmt.Sprintf(`{"id":%q,"total_order":1,"data_collection_order":1}`, txid)
	}
	schema, table, _ := cut(coll)
	return fmt.Sprintf(`{"before":%s,"after":%s,"source":{"schema":%q,"table":%q,"txId":1,"lsn":2},"op":%q,"transaction":%s}`, before, after, schema, table, op, tx)
}

func cut(s string) (string, string, bool) {
	for i := range s {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func txnBegin(id string) string {
	return fmt.Sprintf(`{"status":"BEGIN","id":%q,"event_count":null,"data_collections":null}`, id)
}
func txnEnd(id string, counts ...any) string {
	dcs := ""
	total := 0
	for i := 0; i < len(counts); i += 2 {
		if dcs != "" {
			dcs += ","
		}
		dcs += fmt.Sprintf(`{"data_collection":%q,"event_count":%d}`, counts[i], counts[i+1])
		total += counts[i+1].(int)
	}
	return fmt.Sprintf(`{"status":"END","id":%q,"event_count":%d,"data_collections":[%s]}`, id, total, dcs)
}

func dbzTxnConfig() Config {
	return Config{
		Sources: []SourceSpec{
			{ID: 1, Name: "a", Topic: "srv.public.a", Envelope: EnvelopeDebezium, Collection: "public.a", Desc: acctDesc()},
			{ID: 2, Name: "b", Topic: "srv.public.b", Envelope: EnvelopeDebezium, Desc: acctDesc()}, // collection from the topic name
		},
		TxnTopic: "srv.transaction",
	}
}

func TestDebeziumTransactionAssembly(t *testing.T) {
	f := newFeeder(t, dbzTxnConfig())
	// Snapshot reads: no transaction; held until the one marked last
	// (snapshot.go), then released together.
	f.push("srv.public.a", "", dbzAcct("r", "", "null", `{"id":1,"balance":100}`, "public.a"))
	if units, _ := f.a.Release(); len(units) != 0 || f.a.SnapshotHeld() != 1 {
		t.Fatalf("snapshot released before its last record: %s", renderUnits(units))
	}
	f.push("srv.public.b", "", strings.Replace(dbzAcct("r", "", "null", `{"id":1,"balance":100}`, "public.b"), `"txId"`, `"snapshot":"last","txId"`, 1))
	units, errs := f.a.Release()
	if len(errs) > 0 {
		t.Fatal(renderErrs(errs))
	}
	expectText(t, "snapshot", renderUnits(units), `
unit 0 coll 1: (1, 100) +1
unit 0 coll 2: (1, 100) +1`)

	// Transaction 10 moves 5 from a to b; 11 moves 7 from b to a. Their
	// records arrive interleaved: 11's END and a's record before 10's b
	// record.
	f.push("srv.transaction", "", txnBegin("10"))
	f.push("srv.public.a", "", dbzAcct("u", "10", `{"id":1,"balance":100}`, `{"id":1,"balance":95}`, "public.a"))
	f.push("srv.transaction", "", txnEnd("10", "public.a", 1, "public.b", 1))
	f.push("srv.transaction", "", txnBegin("11"))
	f.push("srv.transaction", "", txnEnd("11", "public.a", 1, "public.b", 1, "public.unrelated", 3))
	units, _ = f.a.Release()
	if len(units) != 0 {
		t.Fatalf("released an incomplete transaction: %s", renderUnits(units))
	}
	cp := f.a.Checkpoint()
	// Nothing of 10 is released: a's position stays at its update, the
	// metadata topic's at 10's BEGIN.
	wantPos := map[string]int64{"srv.public.a": 1, "srv.public.b": 1, "srv.transaction": 0}
	for _, p := range cp.Positions {
		if wantPos[p.Topic] != p.Offset {
			t.Errorf("checkpoint %v, want %v", cp.Positions, wantPos)
		}
	}
	f.push("srv.public.a", "", dbzAcct("u", "11", `{"id":1,"balance":95}`, `{"id":1,"balance":102}`, "public.a"))
	f.push("srv.public.b", "", dbzAcct("u", "10", `{"id":1,"balance":100}`, `{"id":1,"balance":105}`, "public.b"))
	units, _ = f.a.Release()
	expectText(t, "txn 10 only", renderUnits(units), `
unit 0 coll 1: (1, 100) -1
unit 0 coll 1: (1, 95) +1
unit 0 coll 2: (1, 100) -1
unit 0 coll 2: (1, 105) +1`)
	if units[0].TxnID != "10" || units[0].Records != 4 {
		t.Errorf("unit = %q records %d", units[0].TxnID, units[0].Records)
	}
	f.push("srv.public.b", "", dbzAcct("u", "11", `{"id":1,"balance":105}`, `{"id":1,"balance":98}`, "public.b"))
	units, _ = f.a.Release()
	expectText(t, "txn 11", renderUnits(units), `
unit 0 coll 1: (1, 95) -1
unit 0 coll 1: (1, 102) +1
unit 0 coll 2: (1, 105) -1
unit 0 coll 2: (1, 98) +1`)
	cp = units[0].Checkpoint
	wantPos = map[string]int64{"srv.public.a": 3, "srv.public.b": 3, "srv.transaction": 4}
	for _, p := range cp.Positions {
		if wantPos[p.Topic] != p.Offset {
			t.Errorf("checkpoint %v, want %v", cp.Positions, wantPos)
		}
	}
	if f.a.Pending() != 0 {
		t.Errorf("pending = %d", f.a.Pending())
	}
}

func TestDebeziumTransactionOverCount(t *testing.T) {
	// A transaction whose END arrives before its events stays held; one
	// whose END lists a collection not read here does not wait for it.
	f := newFeeder(t, dbzTxnConfig())
	f.push("srv.transaction", "", txnBegin("5"))
	f.push("srv.transaction", "", txnEnd("5", "public.other", 2))
	units, _ := f.a.Release()
	if len(units) != 1 || !units[0].empty() {
		t.Fatalf("units = %v", units)
	}
	if units[0].Checkpoint.Positions[len(units[0].Checkpoint.Positions)-1].Offset != 2 {
		t.Errorf("checkpoint = %v", units[0].Checkpoint)
	}
}
