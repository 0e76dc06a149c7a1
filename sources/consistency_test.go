package sources

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/viewd/viewd/repr"
)

// The consistency test: accounts split over two tables (two topics), and
// transfers each moving money between the tables in one upstream
// transaction. The records of each topic are produced in order, but the
// topics are produced independently with random delays, so the reader sees
// them arbitrarily interleaved. A test sink applies every unit and checks
// that the total never changes (units never split a transaction) and that
// transactions arrive in commit order, exactly once, across a restart.

const (
	numAccounts     = 100 // 50 per table
	initialBalance  = 1000
	consistencyTxns = 10000
)

func transferCount() int {
	if s := os.Getenv("VIEWD_SOURCES_TRANSFERS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return consistencyTxns
}

// produced is one record to produce.
type produced struct {
	partition int32
	key       string
	value     string // "" is a tombstone
}

// scenario describes one envelope's rendering of the bank workload.
type scenario struct {
	name   string
	topics map[string]int32 // topic -> partitions
	config func() Config
	// records renders the workload per topic, in per-topic order.
	records map[string][]produced
	// txnOrder extracts the commit sequence number from a unit's TxnID.
	txnOrder func(id string) int
	// perKeyOrder: units arrive in commit order per key only (Maxwell,
	// whose transactions may commute across partitions).
	perKeyOrder bool
}

type transfer struct {
	seq        int
	a, b       int // account ids in table a and table b
	aOld, aNew int64
	bOld, bNew int64
}

// bankWorkload returns the transfers with the balances before and after.
func bankWorkload(n int, seed int64) []transfer {
	rng := rand.New(rand.NewSource(seed))
	bal := [2][numAccounts / 2]int64{}
	for i := range bal[0] {
		bal[0][i], bal[1][i] = initialBalance, initialBalance
	}
	out := make([]transfer, n)
	for i := range out {
		a, b := rng.Intn(numAccounts/2), rng.Intn(numAccounts/2)
		amt := int64(rng.Intn(100) - 50)
		if amt == 0 {
			amt = 7 // every transfer changes both rows
		}
		t := transfer{seq: i + 1, a: a, b: b, aOld: bal[0][a], bOld: bal[1][b]}
		bal[0][a] -= amt
		bal[1][b] += amt
		t.aNew, t.bNew = bal[0][a], bal[1][b]
		out[i] = t
	}
	return out
}

func acctRow(id int, bal int64) string { return fmt.Sprintf(`{"id":%d,"balance":%d}`, id, bal) }

func debeziumScenario(n int) scenario {
	s := scenario{name: "debezium", topics: map[string]int32{"bank.public.a": 2, "bank.public.b": 2, "bank.transaction": 1}, records: map[string][]produced{}}
	s.config = func() Config {
		return Config{Sources: []SourceSpec{
			{ID: 1, Name: "a", Topic: "bank.public.a", Envelope: EnvelopeDebezium, Collection: "public.a", Desc: acctDesc()},
			{ID: 2, Name: "b", Topic: "bank.public.b", Envelope: EnvelopeDebezium, Collection: "public.b", Desc: acctDesc()},
		}, TxnTopic: "bank.transaction"}
	}
	ev := func(table, op, txid string, before, after string, order int) string {
		return fmt.Sprintf(`{"before":%s,"after":%s,"source":{"connector":"postgresql","db":"bank","schema":"public","table":%q,"txId":%s,"lsn":%d},"op":%q,"ts_ms":0,"transaction":{"id":%q,"total_order":%d,"data_collection_order":%d}}`,
			before, after, table, txid, order, op, txid, order, order)
	}
	add := func(topic string, id int, v string) {
		s.records[topic] = append(s.records[topic], produced{partition: int32(id % 2), key: fmt.Sprintf(`{"id":%d}`, id), value: v})
	}
	meta := func(v string) {
		s.records["bank.transaction"] = append(s.records["bank.transaction"], produced{value: v})
	}
	// Transaction 0 creates every account.
	meta(txnBegin("0"))
	for id := 0; id < numAccounts/2; id++ {
		add("bank.public.a", id, ev("a", "c", "0", "null", acctRow(id, initialBalance), id))
		add("bank.public.b", id, ev("b", "c", "0", "null", acctRow(id, initialBalance), id))
	}
	meta(txnEnd("0", "public.a", numAccounts/2, "public.b", numAccounts/2))
	for _, t := range bankWorkload(n, 1) {
		id := strconv.Itoa(t.seq)
		meta(txnBegin(id))
		before := acctRow(t.a, t.aOld)
		if t.seq%3 == 0 {
			before = "null" // REPLICA IDENTITY DEFAULT: no before image
		}
		add("bank.public.a", t.a, ev("a", "u", id, before, acctRow(t.a, t.aNew), 1))
		add("bank.public.b", t.b, ev("b", "u", id, acctRow(t.b, t.bOld), acctRow(t.b, t.bNew), 2))
		add("bank.public.b", t.b, "") // a stray tombstone, as after deletes: ignored
		meta(txnEnd(id, "public.a", 1, "public.b", 1))
	}
	s.txnOrder = func(id string) int { v, _ := strconv.Atoi(id); return v }
	return s
}

func maxwellScenario(n int) scenario {
	s := scenario{name: "maxwell", topics: map[string]int32{"maxwell_bank_a": 2, "maxwell_bank_b": 2}, records: map[string][]produced{}, perKeyOrder: true}
	s.config = func() Config {
		return Config{Sources: []SourceSpec{
			{ID: 1, Name: "a", Topic: "maxwell_bank_a", Envelope: EnvelopeMaxwell, Collection: "bank.a", Desc: acctDesc()},
			{ID: 2, Name: "b", Topic: "maxwell_bank_b", Envelope: EnvelopeMaxwell, Collection: "bank.b", Desc: acctDesc()},
		}}
	}
	add := func(table string, id int, typ string, xid, xoff int, commit bool, data, old string) {
		c := ""
		if commit {
			c = `"commit":true,`
		}
		o := ""
		if old != "" {
			o = `,"old":` + old
		}
		v := fmt.Sprintf(`{"database":"bank","table":%q,"type":%q,"ts":1700000000,"xid":%d,"xoffset":%d,%s"data":%s%s}`, table, typ, xid, xoff, c, data, o)
		topic := "maxwell_bank_" + table
		s.records[topic] = append(s.records[topic], produced{partition: int32(id % 2), key: fmt.Sprintf(`{"database":"bank","table":%q,"pk.id":%d}`, table, id), value: v})
	}
	const base = 5000 // xids need not start at 0
	for id := 0; id < numAccounts/2; id++ {
		add("a", id, "insert", base, 2*id, false, acctRow(id, initialBalance), "")
		add("b", id, "insert", base, 2*id+1, id == numAccounts/2-1, acctRow(id, initialBalance), "")
	}
	for _, t := range bankWorkload(n, 2) {
		xid := base + t.seq
		// The commit record is on table b's topic for odd transactions, on
		// a's for even ones.
		if t.seq%2 == 1 {
			add("a", t.a, "update", xid, 0, false, acctRow(t.a, t.aNew), fmt.Sprintf(`{"balance":%d}`, t.aOld))
			add("b", t.b, "update", xid, 1, true, acctRow(t.b, t.bNew), fmt.Sprintf(`{"balance":%d}`, t.bOld))
		} else {
			add("b", t.b, "update", xid, 0, false, acctRow(t.b, t.bNew), fmt.Sprintf(`{"balance":%d}`, t.bOld))
			add("a", t.a, "update", xid, 1, true, acctRow(t.a, t.aNew), fmt.Sprintf(`{"balance":%d}`, t.aOld))
		}
	}
	s.txnOrder = func(id string) int { v, _ := strconv.Atoi(id); return v - base }
	return s
}

func cockroachScenario(n int) scenario {
	s := scenario{name: "cockroach", topics: map[string]int32{"crdb_a": 2, "crdb_b": 2}, records: map[string][]produced{}}
	s.config = func() Config {
		return Config{Sources: []SourceSpec{
			{ID: 1, Name: "a", Topic: "crdb_a", Envelope: EnvelopeCockroach, Desc: acctDesc()},
			{ID: 2, Name: "b", Topic: "crdb_b", Envelope: EnvelopeCockroach, Desc: acctDesc()},
		}}
	}
	const wall = 1712345678901234567
	hlcOf := func(seq int) string { return fmt.Sprintf("%d.%010d", wall+int64(seq)*1000, seq%3) }
	add := func(topic string, id int, row string, seq int) {
		s.records[topic] = append(s.records[topic], produced{partition: int32(id % 2), key: fmt.Sprintf("[%d]", id),
			value: fmt.Sprintf(`{"after":%s,"key":[%d],"updated":%q}`, row, id, hlcOf(seq))})
	}
	resolved := func(seq int) {
		for _, topic := range []string{"crdb_a", "crdb_b"} {
			for p := int32(0); p < 2; p++ {
				s.records[topic] = append(s.records[topic], produced{partition: p, value: fmt.Sprintf(`{"resolved":%q}`, hlcOf(seq))})
			}
		}
	}
	for id := 0; id < numAccounts/2; id++ {
		add("crdb_a", id, acctRow(id, initialBalance), 0)
		add("crdb_b", id, acctRow(id, initialBalance), 0)
	}
	rng := rand.New(rand.NewSource(3))
	ts := bankWorkload(n, 3)
	for i, t := range ts {
		add("crdb_a", t.a, acctRow(t.a, t.aNew), t.seq)
		add("crdb_b", t.b, acctRow(t.b, t.bNew), t.seq)
		if i > 0 && rng.Intn(20) == 0 {
			// At-least-once: an earlier row delivered again.
			p := ts[i-1]
			add("crdb_b", p.b, acctRow(p.b, p.bNew), p.seq)
		}
		if rng.Intn(10) == 0 || i == len(ts)-1 {
			resolved(t.seq)
		}
	}
	s.txnOrder = func(id string) int {
		w, _, _ := strings.Cut(id, ".")
		v, _ := strconv.ParseInt(w, 10, 64)
		return int((v - wall) / 1000)
	}
	return s
}

// bankSink applies units and checks the invariants after each.
type bankSink struct {
	t       *testing.T
	order   func(string) int
	perKey  bool
	seen    map[int]bool
	keySeq  map[string]int // collection/key -> last seq applied
	keys    map[CollectionID][]int
	mu      sync.Mutex
	rows    map[CollectionID]map[string]int64 // row bytes -> multiplicity
	total   int64
	lastSeq int
	units   int
	last    Checkpoint
	errs    []*SourceError
	stopAt  int // cancel after this many units (0: never)
	cancel  context.CancelFunc
	done    chan struct{}
	doneSeq int
	failed  error
}

func newBankSink(t *testing.T, order func(string) int, doneSeq int) *bankSink {
	return &bankSink{t: t, order: order, rows: map[CollectionID]map[string]int64{1: {}, 2: {}}, lastSeq: -1, done: make(chan struct{}), doneSeq: doneSeq,
		seen: map[int]bool{}, keySeq: map[string]int{}}
}

func (s *bankSink) fail(format string, args ...any) error {
	if s.failed == nil {
		s.failed = fmt.Errorf(format, args...)
		close(s.done)
	}
	return s.failed
}

func (s *bankSink) Emit(ctx context.Context, u Unit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	if s.stopAt > 0 && s.units == s.stopAt {
		s.cancel() // "crash" before this unit is durable
		return ctx.Err()
	}
	if u.empty() {
		s.last = u.Checkpoint
		return nil
	}
	for coll, ups := range u.All() {
		for _, up := range ups {
			c := s.rows[coll][string(up.Row)] + int64(up.Diff)
			if c < 0 || c > 1 {
				return s.fail("unit %q: row %s of %d has multiplicity %d", u.TxnID, up.Row, coll, c)
			}
			if c == 0 {
				delete(s.rows[coll], string(up.Row))
			} else {
				s.rows[coll][string(up.Row)] = c
			}
			s.total += int64(up.Diff) * up.Row.Get(1).Int()
		}
	}
	seq := s.order(u.TxnID)
	if s.seen[seq] {
		return s.fail("unit %q (seq %d) duplicated", u.TxnID, seq)
	}
	s.seen[seq] = true
	if s.perKey {
		for coll, ups := range u.All() {
			for _, up := range ups {
				k := fmt.Sprintf("%d/%d", coll, up.Row.Get(0).Int())
				if last, ok := s.keySeq[k]; ok && last > seq {
					return s.fail("unit %q (seq %d) touches %s after seq %d: out of commit order", u.TxnID, seq, k, last)
				}
				s.keySeq[k] = seq
			}
		}
	} else if seq != s.lastSeq+1 {
		return s.fail("unit %q (seq %d) after seq %d: out of commit order, lost or duplicated", u.TxnID, seq, s.lastSeq)
	}
	s.lastSeq = max(s.lastSeq, seq)
	if want := int64(numAccounts * initialBalance); s.total != want {
		return s.fail("after unit %q the total is %d, want %d: a transaction was split", u.TxnID, s.total, want)
	}
	if n := len(s.rows[1]) + len(s.rows[2]); n != numAccounts {
		return s.fail("after unit %q there are %d accounts", u.TxnID, n)
	}
	s.units++
	s.last = u.Checkpoint
	if len(s.seen) == s.doneSeq+1 {
		close(s.done)
	}
	return nil
}

func (s *bankSink) ReportError(e *SourceError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, e)
}

// Rows implements CollectionReader over the rows the sink holds.
func (s *bankSink) Rows(id CollectionID, key repr.Row, fn func(repr.Row, repr.Diff)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for r, c := range s.rows[id] {
		var p repr.Packer
		for _, col := range s.keys[id] {
			p.PushKey(repr.Row(r).Get(col))
		}
		if string(p.Row()) == string(key) {
			fn(repr.Row(r), repr.Diff(c))
		}
	}
	return nil
}

// Scan implements CollectionReader.
func (s *bankSink) Scan(id CollectionID, fn func(repr.Row, repr.Diff) error) error {
	us, _ := s.contents(id)
	for _, u := range us {
		if err := fn(u.Row, u.Diff); err != nil {
			return err
		}
	}
	return nil
}

// KeyColumns implements CollectionReader.
func (s *bankSink) KeyColumns(id CollectionID) ([]int, bool) {
	k, ok := s.keys[id]
	return k, ok
}

func (s *bankSink) contents(id CollectionID) ([]Update, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Update
	for r, c := range s.rows[id] {
		out = append(out, Update{Row: repr.Row(r), Diff: repr.Diff(c)})
	}
	return out, nil
}

// produceInterleaved produces every topic's records in order, topics
// concurrently with random pauses so their interleaving is arbitrary.
func produceInterleaved(ctx context.Context, t *testing.T, brokers []string, recs map[string][]produced, seed int64) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var wg sync.WaitGroup
	errc := make(chan error, len(recs))
	i := int64(0)
	for topic, rs := range recs {
		i++
		wg.Add(1)
		go func(topic string, rs []produced, rng *rand.Rand) {
			defer wg.Done()
			for j := 0; j < len(rs); {
				burst := 1 + rng.Intn(400)
				for ; burst > 0 && j < len(rs); burst, j = burst-1, j+1 {
					r := &kgo.Record{Topic: topic, Partition: rs[j].partition, Key: []byte(rs[j].key)}
					if rs[j].value != "" {
						r.Value = []byte(rs[j].value)
					}
					cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
						if err != nil {
							select {
							case errc <- err:
							default:
							}
						}
					})
				}
				// Pauses of up to 15ms between bursts: each topic runs
				// ahead of or behind the others by hundreds of records.
				time.Sleep(time.Duration(rng.Intn(15000)) * time.Microsecond)
			}
		}(topic, rs, rand.New(rand.NewSource(seed+i)))
	}
	wg.Wait()
	if err := cl.Flush(ctx); err != nil {
		t.Errorf("flush: %v", err)
	}
	select {
	case err := <-errc:
		t.Errorf("produce: %v", err)
	default:
	}
}

// Each scenario runs twice: with the reader keeping each collection's
// rows (restored from the sink's contents on restart), and reading them
// through the sink instead (Config.Collections: the coordinator's way).
func TestConsistencyOverKafka(t *testing.T) {
	n := transferCount()
	for _, sc := range []scenario{debeziumScenario(n), maxwellScenario(n), cockroachScenario(n)} {
		t.Run(sc.name, func(t *testing.T) { runConsistency(t, sc, n, false) })
		t.Run(sc.name+"/read-through", func(t *testing.T) { runConsistency(t, sc, n, true) })
	}
}

func runConsistency(t *testing.T, sc scenario, n int, readThrough bool) {
	// Generous: only a failure waits this long (the race detector on a
	// loaded machine is ~10x slower).
	ctx, cancel := context.WithTimeout(context.Background(), 240*time.Second)
	defer cancel()
	var opts []EmbeddedOption
	for topic, p := range sc.topics {
		opts = append(opts, WithTopic(topic, p))
	}
	opts = append(opts, WithEmbeddedLogger(quietLogger()))
	broker, err := StartEmbedded(ctx, "127.0.0.1:0", opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()

	// First run: stop ("crash") after a third of the transactions.
	sink := newBankSink(t, sc.txnOrder, n)
	sink.perKey = sc.perKeyOrder
	runCtx, stop := context.WithCancel(ctx)
	sink.cancel, sink.stopAt = stop, n/3
	cfg := ReaderConfig{Config: sc.config(), Brokers: broker.Addrs()}
	cfg.Logger = quietLogger()
	if readThrough {
		asm, err := NewAssembler(sc.config())
		if err != nil {
			t.Fatal(err)
		}
		sink.keys = map[CollectionID][]int{}
		for _, spec := range cfg.Sources {
			key, tracked := asm.KeyColumns(spec.ID)
			if !tracked || key == nil {
				t.Fatalf("%s: collection %d is not keyed", sc.name, spec.ID)
			}
			sink.keys[spec.ID] = key
		}
		cfg.Collections = sink
	}
	r, err := NewReader(cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- r.Run(runCtx) }()
	began := time.Now()
	produceInterleaved(ctx, t, broker.Addrs(), sc.records, 42)
	t.Logf("%s: produced in %v", sc.name, time.Since(began))
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("first run: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("first run did not stop")
	}
	if sink.failed != nil {
		t.Fatal(sink.failed)
	}
	if len(sink.seen) < 2 || len(sink.seen) > n {
		t.Fatalf("first run stopped after %d transactions", len(sink.seen))
	}
	t.Logf("%s: first run stopped after seq %d at %v", sc.name, sink.lastSeq, sink.last.Positions)

	// Restart from the last durable checkpoint, with the state the
	// coordinator holds at it.
	sink.stopAt = 0
	cp := sink.last
	cfg2 := ReaderConfig{Config: sc.config(), Brokers: broker.Addrs()}
	cfg2.Logger = quietLogger()
	cfg2.Resume = &cp
	if readThrough {
		cfg2.Collections = sink
	} else {
		cfg2.Contents = sink.contents
	}
	r2, err := NewReader(cfg2, sink)
	if err != nil {
		t.Fatal(err)
	}
	runCtx2, stop2 := context.WithCancel(ctx)
	go func() { runErr <- r2.Run(runCtx2) }()
	select {
	case <-sink.done:
	case <-ctx.Done():
		t.Fatalf("timed out at seq %d", sink.lastSeq)
	}
	stop2()
	t.Logf("%s: all transactions in after %v", sc.name, time.Since(began))
	if err := <-runErr; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if sink.failed != nil {
		t.Fatal(sink.failed)
	}
	if len(sink.errs) > 0 {
		t.Fatalf("source errors: %s", renderErrs(sink.errs))
	}
	st := r2.Status()
	for _, s := range st {
		if s.State != StateRunning || s.MessagesRead == 0 {
			t.Errorf("status %+v", s)
		}
	}
	// The final state is the workload's.
	want := bankWorkload(n, map[string]int64{"debezium": 1, "maxwell": 2, "cockroach": 3}[sc.name])
	final := [2]map[int]int64{{}, {}}
	for i := 0; i < numAccounts/2; i++ {
		final[0][i], final[1][i] = initialBalance, initialBalance
	}
	for _, tr := range want {
		final[0][tr.a], final[1][tr.b] = tr.aNew, tr.bNew
	}
	for coll := CollectionID(1); coll <= 2; coll++ {
		for rb := range sink.rows[coll] {
			row := repr.Row(rb)
			id, bal := int(row.Get(0).Int()), row.Get(1).Int()
			if final[coll-1][id] != bal {
				t.Errorf("table %d account %d = %d, want %d", coll, id, bal, final[coll-1][id])
			}
		}
	}
}
