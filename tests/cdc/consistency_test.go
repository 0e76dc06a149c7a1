package cdc

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/viewd/viewd/internal/viewdtest"
)

// The bank: 100 accounts split over two upstream tables a and b (50
// each), carried on two topics, and transfers each moving money between
// one account of a and one of b in one upstream transaction. The two
// topics (and Debezium's transaction topic) are produced by independent
// goroutines with random bursts and pauses, so viewd sees them arbitrarily
// interleaved. Meanwhile readers sum every balance, by SELECT over both
// sources, from a materialized view, and through SUBSCRIBE: a transaction
// split across timestamps would show a total other than the initial one.

const (
	bankAccounts = 100 // 50 per table
	bankInitial  = 1000
	bankTotal    = bankAccounts * bankInitial
)

func transferCount() int {
	if s := os.Getenv("VIEWD_CDC_TRANSFERS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 500
}

type transfer struct {
	seq        int
	a, b       int
	aOld, aNew int64
	bOld, bNew int64
}

// bankWorkload returns n transfers with the balances before and after
// each, and the final balances of a and b.
func bankWorkload(n int, seed int64) ([]transfer, [2][]int64) {
	rng := rand.New(rand.NewSource(seed))
	var bal [2][]int64
	for i := range bal {
		bal[i] = make([]int64, bankAccounts/2)
		for j := range bal[i] {
			bal[i][j] = bankInitial
		}
	}
	out := make([]transfer, n)
	for i := range out {
		a, b := rng.Intn(bankAccounts/2), rng.Intn(bankAccounts/2)
		amt := int64(rng.Intn(100) - 50) // either direction: a debit in a and a credit in b, or vice versa
		if amt == 0 {
			amt = 7
		}
		tr := transfer{seq: i + 1, a: a, b: b, aOld: bal[0][a], bOld: bal[1][b]}
		bal[0][a] -= amt
		bal[1][b] += amt
		tr.aNew, tr.bNew = bal[0][a], bal[1][b]
		out[i] = tr
	}
	return out, bal
}

func acct(id int, bal int64) string { return fmt.Sprintf(`{"id":%d,"balance":%d}`, id, bal) }

// bankScenario is one envelope's rendering of the bank.
type bankScenario struct {
	name   string
	topics map[string]int32
	ddl    []string
	// initial creates the accounts (one upstream transaction); work holds
	// the transfers; both per topic in that topic's order.
	initial map[string][]rec
	work    map[string][]rec
}

func (s *bankScenario) add(m map[string][]rec, r rec) { m[r.topic] = append(m[r.topic], r) }

const acctCols = "(id int, balance bigint, PRIMARY KEY (id))"

func debeziumBank(transfers []transfer) *bankScenario {
	s := &bankScenario{name: "debezium", topics: map[string]int32{"bank.public.a": 2, "bank.public.b": 2, "bank.transaction": 1},
		initial: map[string][]rec{}, work: map[string][]rec{}}
	s.ddl = []string{
		"CREATE SOURCE tx FROM KAFKA CONNECTION k (TOPIC 'bank.transaction') FORMAT JSON ENVELOPE NONE",
		"CREATE SOURCE a " + acctCols + " FROM KAFKA CONNECTION k (TOPIC 'bank.public.a') FORMAT JSON ENVELOPE DEBEZIUM (TRANSACTION METADATA (SOURCE tx, COLLECTION 'public.a'))",
		"CREATE SOURCE b " + acctCols + " FROM KAFKA CONNECTION k (TOPIC 'bank.public.b') FORMAT JSON ENVELOPE DEBEZIUM (TRANSACTION METADATA (SOURCE tx, COLLECTION 'public.b'))",
	}
	lsn := int64(33000000)
	txid := func(seq int) string { return fmt.Sprintf("%d:%d", 600+seq, lsn) }
	ev := func(m map[string][]rec, table, op string, id int, before, after string, tid string, order int) {
		lsn += 16
		v := fmt.Sprintf(`{"before":%s,"after":%s,"source":{"version":"2.5.4.Final","connector":"postgresql","name":"bank","ts_ms":1700000000000,"snapshot":"false","db":"bank","schema":"public","table":%q,"txId":%s,"lsn":%d,"xmin":null},"op":%q,"ts_ms":1700000000001,"transaction":{"id":%q,"total_order":%d,"data_collection_order":%d}}`,
			before, after, table, strings.Split(tid, ":")[0], lsn, op, tid, order, order)
		s.add(m, rec{topic: "bank.public." + table, partition: int32(id % 2), key: []byte(fmt.Sprintf(`{"id":%d}`, id)), value: []byte(v)})
	}
	meta := func(m map[string][]rec, v string) { s.add(m, rec{topic: "bank.transaction", value: []byte(v)}) }
	begin := func(m map[string][]rec, id string) {
		meta(m, fmt.Sprintf(`{"status":"BEGIN","id":%q,"ts_ms":1700000000000,"event_count":null,"data_collections":null}`, id))
	}
	end := func(m map[string][]rec, id string, na, nb int) {
		meta(m, fmt.Sprintf(`{"status":"END","id":%q,"ts_ms":1700000000002,"event_count":%d,"data_collections":[{"data_collection":"public.a","event_count":%d},{"data_collection":"public.b","event_count":%d}]}`, id, na+nb, na, nb))
	}
	id0 := txid(0)
	begin(s.initial, id0)
	for id := 0; id < bankAccounts/2; id++ {
		ev(s.initial, "a", "c", id, "null", acct(id, bankInitial), id0, 2*id+1)
		ev(s.initial, "b", "c", id, "null", acct(id, bankInitial), id0, 2*id+2)
	}
	end(s.initial, id0, bankAccounts/2, bankAccounts/2)
	for _, tr := range transfers {
		id := txid(tr.seq)
		begin(s.work, id)
		beforeA := acct(tr.a, tr.aOld)
		if tr.seq%3 == 0 {
			beforeA = "null" // REPLICA IDENTITY DEFAULT
		}
		if tr.seq%2 == 0 {
			ev(s.work, "a", "u", tr.a, beforeA, acct(tr.a, tr.aNew), id, 1)
			ev(s.work, "b", "u", tr.b, acct(tr.b, tr.bOld), acct(tr.b, tr.bNew), id, 2)
		} else {
			ev(s.work, "b", "u", tr.b, acct(tr.b, tr.bOld), acct(tr.b, tr.bNew), id, 1)
			ev(s.work, "a", "u", tr.a, beforeA, acct(tr.a, tr.aNew), id, 2)
		}
		end(s.work, id, 1, 1)
	}
	return s
}

// maxwellBank: Maxwell with output_xoffset, so a transaction whose rows
// span two topics is known complete once xoffset+1 rows are in (see
// sources/maxwell.go and the Maxwell section of sources/doc.go).
func maxwellBank(transfers []transfer) *bankScenario {
	s := &bankScenario{name: "maxwell", topics: map[string]int32{"maxwell_a": 2, "maxwell_b": 2},
		initial: map[string][]rec{}, work: map[string][]rec{}}
	s.ddl = []string{
		"CREATE SOURCE a " + acctCols + " FROM KAFKA CONNECTION k (TOPIC 'maxwell_a') FORMAT JSON ENVELOPE MAXWELL (COLLECTION 'bank.a')",
		"CREATE SOURCE b " + acctCols + " FROM KAFKA CONNECTION k (TOPIC 'maxwell_b') FORMAT JSON ENVELOPE MAXWELL (COLLECTION 'bank.b')",
	}
	ts := int64(1700000000)
	add := func(m map[string][]rec, table string, id int, typ string, xid int64, xoff int, commit bool, data, old string) {
		c := ""
		if commit {
			c = `"commit":true,`
		}
		o := ""
		if old != "" {
			o = `,"old":` + old
		}
		v := fmt.Sprintf(`{"database":"bank","table":%q,"type":%q,"ts":%d,"xid":%d,"xoffset":%d,%s"data":%s%s}`, table, typ, ts, xid, xoff, c, data, o)
		s.add(m, rec{topic: "maxwell_" + table, partition: int32(id % 2), key: []byte(fmt.Sprintf(`{"database":"bank","table":%q,"pk.id":%d}`, table, id)), value: []byte(v)})
	}
	const base = 940000
	for id := 0; id < bankAccounts/2; id++ {
		add(s.initial, "a", id, "insert", base, 2*id, false, acct(id, bankInitial), "")
		add(s.initial, "b", id, "insert", base, 2*id+1, id == bankAccounts/2-1, acct(id, bankInitial), "")
	}
	for _, tr := range transfers {
		xid := int64(base + 7*tr.seq)
		ts += int64(tr.seq % 2)
		// The commit row is on b's topic for odd transactions, on a's for even.
		if tr.seq%2 == 1 {
			add(s.work, "a", tr.a, "update", xid, 0, false, acct(tr.a, tr.aNew), fmt.Sprintf(`{"balance":%d}`, tr.aOld))
			add(s.work, "b", tr.b, "update", xid, 1, true, acct(tr.b, tr.bNew), fmt.Sprintf(`{"balance":%d}`, tr.bOld))
		} else {
			add(s.work, "b", tr.b, "update", xid, 0, false, acct(tr.b, tr.bNew), fmt.Sprintf(`{"balance":%d}`, tr.bOld))
			add(s.work, "a", tr.a, "update", xid, 1, true, acct(tr.a, tr.aNew), fmt.Sprintf(`{"balance":%d}`, tr.aOld))
		}
	}
	return s
}

// cockroachBank: a changefeed WITH updated, resolved (envelope wrapped):
// rows of one transaction share their updated HLC, and every partition
// carries resolved timestamps.
func cockroachBank(transfers []transfer) *bankScenario {
	s := &bankScenario{name: "cockroachdb", topics: map[string]int32{"crdb_a": 2, "crdb_b": 2},
		initial: map[string][]rec{}, work: map[string][]rec{}}
	s.ddl = []string{
		"CREATE SOURCE a " + acctCols + " FROM KAFKA CONNECTION k (TOPIC 'crdb_a') FORMAT JSON ENVELOPE COCKROACHDB",
		"CREATE SOURCE b " + acctCols + " FROM KAFKA CONNECTION k (TOPIC 'crdb_b') FORMAT JSON ENVELOPE COCKROACHDB",
	}
	const wall = 1712345678901234567
	hlc := func(seq int) string { return fmt.Sprintf("%d.%010d", wall+int64(seq)*1000, seq%3) }
	row := func(m map[string][]rec, table string, id int, bal int64, seq int) {
		s.add(m, rec{topic: "crdb_" + table, partition: int32(id % 2), key: []byte(fmt.Sprintf("[%d]", id)),
			value: []byte(fmt.Sprintf(`{"after":%s,"updated":%q}`, acct(id, bal), hlc(seq)))})
	}
	resolved := func(m map[string][]rec, seq int) {
		for _, table := range []string{"a", "b"} {
			for p := int32(0); p < 2; p++ {
				s.add(m, rec{topic: "crdb_" + table, partition: p, value: []byte(fmt.Sprintf(`{"resolved":%q}`, hlc(seq)))})
			}
		}
	}
	for id := 0; id < bankAccounts/2; id++ {
		row(s.initial, "a", id, bankInitial, 0)
		row(s.initial, "b", id, bankInitial, 0)
	}
	resolved(s.initial, 0)
	rng := rand.New(rand.NewSource(5))
	for i, tr := range transfers {
		row(s.work, "a", tr.a, tr.aNew, tr.seq)
		row(s.work, "b", tr.b, tr.bNew, tr.seq)
		if i > 0 && rng.Intn(20) == 0 {
			// At-least-once delivery: an earlier row again, before the
			// next resolved timestamp.
			p := transfers[i-1]
			row(s.work, "b", p.b, p.bNew, p.seq)
		}
		if rng.Intn(8) == 0 || i == len(transfers)-1 {
			resolved(s.work, tr.seq)
		}
	}
	return s
}

// produceInterleaved produces each topic's records in order from its own
// goroutine, with random bursts and pauses.
func produceInterleaved(t *testing.T, cl *kgo.Client, recs map[string][]rec, seed int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var failed atomic.Value
	i := int64(0)
	for topic, rs := range recs {
		i++
		wg.Add(1)
		go func(topic string, rs []rec, rng *rand.Rand) {
			defer wg.Done()
			for j := 0; j < len(rs); {
				for burst := 1 + rng.Intn(60); burst > 0 && j < len(rs); burst, j = burst-1, j+1 {
					r := rs[j]
					cl.Produce(ctx, &kgo.Record{Topic: r.topic, Partition: r.partition, Key: r.key, Value: r.value}, func(_ *kgo.Record, err error) {
						if err != nil {
							failed.CompareAndSwap(nil, err)
						}
					})
				}
				// Pauses of up to 30 ms spread the transfers over dozens of
				// ticks, so readers and SUBSCRIBE observe many timestamps.
				time.Sleep(time.Duration(rng.Intn(30000)) * time.Microsecond)
			}
		}(topic, rs, rand.New(rand.NewSource(seed+i)))
	}
	wg.Wait()
	if err := cl.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func produceAll(t *testing.T, cl *kgo.Client, recs map[string][]rec) {
	for _, rs := range recs {
		produceSync(t, cl, rs...)
	}
}

const sumQuery = "SELECT sum(balance) FROM (SELECT balance FROM a UNION ALL SELECT balance FROM b) u"

// readerStats collects what the concurrent readers saw.
type readerStats struct {
	mu         sync.Mutex
	violations []string
	reads      atomic.Int64
	subTimes   atomic.Int64
}

func (r *readerStats) violate(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.violations) < 20 {
		r.violations = append(r.violations, fmt.Sprintf(format, args...))
	}
}

// selectReader repeatedly reads the total over both sources, from the
// materialized view, and mz_now(), on its own connection, until ctx ends.
func selectReader(ctx context.Context, srv *viewdtest.Server, name string, st *readerStats) {
	c, err := pgx.Connect(ctx, srv.URL())
	if err != nil {
		st.violate("%s: connect: %v", name, err)
		return
	}
	defer c.Close(context.Background())
	var lastNow uint64
	want := strconv.Itoa(bankTotal)
	for i := 0; ctx.Err() == nil; i++ {
		var q string
		switch i % 3 {
		case 0:
			q = sumQuery
		case 1:
			q = "SELECT s FROM bank_total"
		case 2:
			q = "SELECT mz_now(), (" + sumQuery + ")"
		}
		got, err := query(c, q)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			st.violate("%s: %s: %v", name, q, err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		st.reads.Add(1)
		if len(got) != 1 {
			st.violate("%s: %s: %q", name, q, got)
			continue
		}
		f := strings.Split(got[0], "|")
		if f[len(f)-1] != want {
			st.violate("%s: %s read a total of %s, want %s", name, q, f[len(f)-1], want)
		}
		if len(f) == 2 {
			now, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				st.violate("%s: mz_now() = %q", name, f[0])
			} else if now < lastNow {
				st.violate("%s: mz_now() went back from %d to %d", name, lastNow, now)
			} else {
				lastNow = now
			}
		}
	}
}

// subscribeReader streams the total with SUBSCRIBE ... WITH (PROGRESS) and
// checks that at every complete timestamp the total is the initial one and
// that timestamps never decrease.
func subscribeReader(ctx context.Context, srv *viewdtest.Server, st *readerStats, ready chan<- struct{}, q string, ncols int, valid func(map[string]int64) string) {
	defer close(ready)
	c, err := pgx.Connect(context.Background(), srv.URL())
	if err != nil {
		st.violate("subscribe: connect: %v", err)
		return
	}
	defer c.Close(context.Background())
	tx, err := c.Begin(context.Background())
	if err != nil {
		st.violate("subscribe: begin: %v", err)
		return
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), "DECLARE c CURSOR FOR SUBSCRIBE ("+q+") WITH (PROGRESS)"); err != nil {
		st.violate("subscribe: declare: %v", err)
		return
	}
	ready <- struct{}{}
	contents := map[string]int64{} // value -> multiplicity
	var lastTS, pendingTS uint64
	pending := false
	check := func(upTo uint64, why string) {
		// Every timestamp below upTo is complete.
		if !pending || pendingTS >= upTo {
			return
		}
		pending = false
		st.subTimes.Add(1)
		if msg := valid(contents); msg != "" {
			st.violate("subscribe %q: at %d (%s): %s", q, pendingTS, why, msg)
		}
	}
	for {
		rs, err := tx.Query(context.Background(), "FETCH ALL c WITH (timeout = '1s')", pgx.QueryExecModeSimpleProtocol)
		if err != nil {
			st.violate("subscribe: fetch: %v", err)
			return
		}
		for rs.Next() {
			raw := rs.RawValues()
			if len(raw) != 3+ncols {
				st.violate("subscribe: row with %d columns", len(raw))
				continue
			}
			ts, err := strconv.ParseUint(string(raw[0]), 10, 64)
			if err != nil {
				st.violate("subscribe: mz_timestamp %q", raw[0])
				continue
			}
			if ts < lastTS {
				st.violate("subscribe: timestamp went back from %d to %d", lastTS, ts)
			}
			lastTS = max(lastTS, ts)
			if string(raw[1]) == "t" {
				check(ts, "progress")
				continue
			}
			check(ts, "next timestamp")
			diff, err := strconv.ParseInt(string(raw[2]), 10, 64)
			if err != nil {
				st.violate("subscribe: mz_diff %q", raw[2])
				continue
			}
			vals := make([]string, ncols)
			for i := range vals {
				vals[i] = "NULL"
				if raw[3+i] != nil {
					vals[i] = string(raw[3+i])
				}
			}
			v := strings.Join(vals, "|")
			contents[v] += diff
			if contents[v] == 0 {
				delete(contents, v)
			}
			pending, pendingTS = true, ts
		}
		if err := rs.Err(); err != nil {
			if ctx.Err() == nil {
				st.violate("subscribe: fetch: %v", err)
			}
			return
		}
		if ctx.Err() != nil {
			check(^uint64(0), "end")
			return
		}
	}
}

// validTotal: the one row is the initial total.
func validTotal(contents map[string]int64) string {
	n := int64(0)
	for v, m := range contents {
		if v != strconv.Itoa(bankTotal) || m != 1 {
			return fmt.Sprintf("the total is %s x%d, want %d", v, m, bankTotal)
		}
		n += m
	}
	if n != 1 {
		return fmt.Sprintf("%d rows: %v", n, contents)
	}
	return ""
}

// validRows: 100 accounts, each once, summing to the initial total.
func validRows(contents map[string]int64) string {
	n, sum := int64(0), int64(0)
	ids := map[string]bool{}
	for v, m := range contents {
		if m != 1 {
			return fmt.Sprintf("row %s has multiplicity %d", v, m)
		}
		f := strings.Split(v, "|")
		b, _ := strconv.ParseInt(f[2], 10, 64)
		sum += b
		n++
		if ids[f[0]+f[1]] {
			return fmt.Sprintf("account %s/%s twice", f[0], f[1])
		}
		ids[f[0]+f[1]] = true
	}
	if n != bankAccounts || sum != bankTotal {
		return fmt.Sprintf("%d accounts summing to %d, want %d summing to %d", n, sum, bankAccounts, bankTotal)
	}
	return ""
}

func TestBankConsistency(t *testing.T) {
	n := transferCount()
	for _, mk := range []func([]transfer) *bankScenario{debeziumBank, maxwellBank, cockroachBank} {
		transfers, final := bankWorkload(n, 11)
		sc := mk(transfers)
		t.Run(sc.name, func(t *testing.T) { runBank(t, sc, final, n) })
	}
}

func runBank(t *testing.T, sc *bankScenario, final [2][]int64, n int) {
	srv, c := startKafka(t)
	cl := producer(t, srv.KafkaAddr)
	createTopics(t, cl, sc.topics)
	for _, ddl := range sc.ddl {
		exec1(t, c, ddl)
	}
	exec1(t, c, "CREATE MATERIALIZED VIEW bank_total AS "+strings.Replace(sumQuery, "sum(balance)", "sum(balance) AS s", 1))
	produceAll(t, cl, sc.initial)
	eventually(t, c, 30*time.Second, "SELECT count(*), sum(balance) FROM (SELECT balance FROM a UNION ALL SELECT balance FROM b) u",
		[]string{fmt.Sprintf("%d|%d", bankAccounts, bankTotal)})

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	st := &readerStats{}
	var wg sync.WaitGroup
	// SUBSCRIBE to the total (which never changes, so only progress
	// follows the snapshot) and to every balance (the total of the rows at
	// each complete timestamp must be the initial one).
	ready1, ready2 := make(chan struct{}, 1), make(chan struct{}, 1)
	wg.Add(2)
	go func() { defer wg.Done(); subscribeReader(ctx, srv, st, ready1, sumQuery, 1, validTotal) }()
	go func() {
		defer wg.Done()
		subscribeReader(ctx, srv, st, ready2, "SELECT 'a'::text AS t, id, balance FROM a UNION ALL SELECT 'b'::text, id, balance FROM b", 3, validRows)
	}()
	<-ready1
	<-ready2
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); selectReader(ctx, srv, fmt.Sprintf("reader%d", i), st) }()
	}
	began := time.Now()
	produceInterleaved(t, cl, sc.work, 42)
	produced := time.Since(began)
	var wantA, wantB []string
	for id := 0; id < bankAccounts/2; id++ {
		wantA = append(wantA, fmt.Sprintf("%d|%d", id, final[0][id]))
		wantB = append(wantB, fmt.Sprintf("%d|%d", id, final[1][id]))
	}
	timeout := 60*time.Second + time.Duration(n)*20*time.Millisecond
	eventually(t, c, timeout, "SELECT id, balance FROM a ORDER BY id", wantA)
	eventually(t, c, timeout, "SELECT id, balance FROM b ORDER BY id", wantB)
	ingested := time.Since(began)
	time.Sleep(1500 * time.Millisecond) // let the readers see the final state
	stop()
	wg.Wait()
	t.Logf("%s: %d transfers produced in %v, ingested in %v (%.0f transactions/s); %d reads, %d complete SUBSCRIBE timestamps",
		sc.name, n, produced.Round(time.Millisecond), ingested.Round(time.Millisecond), float64(n)/ingested.Seconds(), st.reads.Load(), st.subTimes.Load())
	for _, v := range st.violations {
		t.Error(v)
	}
	// The check must have seen the transfers in flight, not only the
	// end: SUBSCRIBE counts the timestamps at which rows changed, which a
	// loaded machine (CI under -race) batches into fewer steps (8 seen
	// at a load average of 8), so its bar is lower than the reads'.
	if st.reads.Load() < 10 || st.subTimes.Load() < 4 {
		t.Errorf("too few observations: %d reads, %d SUBSCRIBE timestamps", st.reads.Load(), st.subTimes.Load())
	}
	for name, s := range statuses(t, c) {
		if s.status != "running" || s.err != "" {
			t.Errorf("status of %s: %+v", name, s)
		}
	}
}
