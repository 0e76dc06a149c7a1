package coord

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/viewd/viewd/sources"
)

// sourceOrdered reports whether the named source's (or materialized
// view's) output is arranged (true) or an append log (false).
func sourceOrdered(t *testing.T, c *Coordinator, name string) bool {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range c.cat.items {
		if it.Name.Item == name && it.rt != nil && it.rt.out != nil {
			return it.rt.out.Ordered()
		}
	}
	t.Fatalf("no source %s", name)
	return false
}

// TestAppendOnlySourceReads: the collections of an append-only source (the
// NEXMARK generator) are kept as append logs, and every kind of read gives
// what it gives over a table holding the same rows (arranged, as before):
// SELECTs on the fast path (scans, filters, LIMIT) and through dataflows
// (aggregates, joins, DISTINCT), COPY TO, materialized views, indexes
// and lookups created after the rows arrived, EXPLAIN, and
// mz_dataflow_memory's figure.
func TestAppendOnlySourceReads(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE SOURCE nex FROM LOAD GENERATOR NEXMARK (RATE UNLIMITED, UP TO 6000, SEED 11) FOR ALL TABLES")
	waitFor(t, 60*time.Second, "the generator's events", func() bool {
		return s.one("SELECT (SELECT count(*) FROM person) + (SELECT count(*) FROM auction) + (SELECT count(*) FROM bid)") == "6000"
	})
	for _, n := range []string{"bid", "auction", "person"} {
		if sourceOrdered(t, c, n) {
			t.Fatalf("%s is arranged, not an append log", n)
		}
	}
	s.exec("CREATE TABLE bidt (auction int8, bidder int8, price int8, channel text, url text, date_time timestamptz, extra text)",
		"INSERT INTO bidt SELECT * FROM bid",
		"CREATE TABLE auctiont (id int8, category int8)",
		"INSERT INTO auctiont SELECT id, category FROM auction")
	queries := []string{
		"SELECT * FROM %b",
		"SELECT auction, price FROM %b WHERE price > 1000",
		"SELECT count(*) FROM (SELECT * FROM %b LIMIT 100) x",
		"SELECT count(*), sum(price), min(date_time), max(price) FROM %b",
		"SELECT auction, count(*), max(price) FROM %b GROUP BY auction",
		"SELECT DISTINCT bidder FROM %b",
		"SELECT a.category, count(*) FROM %b b JOIN %a a ON a.id = b.auction GROUP BY a.category",
		"COPY (SELECT auction, bidder, price FROM %b) TO STDOUT",
		"COPY %b TO STDOUT",
	}
	read := func(q string) []string {
		t.Helper()
		if !strings.HasPrefix(q, "COPY") {
			return s.query(q)
		}
		res := s.start(context.Background(), q)
		if res.CopyOut == nil {
			t.Fatalf("%s: not a COPY TO", q)
		}
		defer res.CopyOut.Rows.Close()
		rows, err := drainRows(context.Background(), res.CopyOut.Rows, -1)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if err := s.s.Sync(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		slices.Sort(rows)
		return rows
	}
	check := func(what string) {
		t.Helper()
		for _, q := range queries {
			got, want := read(bidQuery(q, "bid", "auction")), read(bidQuery(q, "bidt", "auctiont"))
			if len(want) == 0 {
				t.Fatalf("%s: %s: no rows", what, q)
			}
			sameRows(t, what+": "+bidQuery(q, "bid", "auction"), got, want)
		}
	}
	check("over the sources")
	// Views and indexes created after the rows arrived read the log's
	// snapshot as of their start.
	for _, src := range []string{"bid", "bidt"} {
		s.exec(fmt.Sprintf("CREATE MATERIALIZED VIEW mv_%s AS SELECT auction, count(*) AS n, sum(price) AS s FROM %s GROUP BY auction", src, src),
			fmt.Sprintf("CREATE MATERIALIZED VIEW pass_%s AS SELECT auction, price, date_time FROM %s", src, src),
			fmt.Sprintf("CREATE MATERIALIZED VIEW join_%s AS SELECT b.auction, b.price, a.category FROM %s b JOIN auction a ON a.id = b.auction WHERE b.price > 500", src, src),
			fmt.Sprintf("CREATE MATERIALIZED VIEW over_%s AS SELECT auction FROM pass_%s WHERE price > 100", src, src),
			fmt.Sprintf("CREATE INDEX %s_auction ON %s (auction)", src, src),
			fmt.Sprintf("CREATE INDEX pass_%s_auction ON pass_%s (auction)", src, src))
	}
	for _, q := range []string{"SELECT * FROM mv_%s", "SELECT * FROM pass_%s", "SELECT * FROM join_%s", "SELECT * FROM over_%s",
		"SELECT * FROM %s WHERE auction = 1001", "SELECT * FROM %s WHERE auction IN (1000, 1002, 1003)",
		"SELECT * FROM pass_%s WHERE auction = 1001", "SELECT category, count(*), sum(price) FROM join_%s GROUP BY category"} {
		sameRows(t, q, s.query(fmt.Sprintf(q, "bid")), s.query(fmt.Sprintf(q, "bidt")))
	}
	// The views over the sources that only grow (a pass-through, a
	// join, a filter of the pass-through) are append logs too; an
	// aggregate is arranged, as are all over bidt.
	for name, ordered := range map[string]bool{"pass_bid": false, "join_bid": false, "over_bid": false, "mv_bid": true, "pass_bidt": true, "join_bidt": true, "over_bidt": true} {
		if got := sourceOrdered(t, c, name); got != ordered {
			t.Errorf("%s: arranged %v, want %v", name, got, ordered)
		}
	}
	// Over such a view, min/max are planned monotonic, as over a source.
	q := "SELECT auction, max(price), min(price) FROM pass_%s GROUP BY auction"
	sameRows(t, q, s.query(fmt.Sprintf(q, "bid")), s.query(fmt.Sprintf(q, "bidt")))
	if p := strings.Join(s.query("EXPLAIN PHYSICAL PLAN FOR "+fmt.Sprintf(q, "bid")), "\n"); !strings.Contains(p, "monotonic") {
		t.Errorf("max over an append-only view is not monotonic:\n%s", p)
	}
	if p := strings.Join(s.query("EXPLAIN PHYSICAL PLAN FOR "+fmt.Sprintf(q, "bidt")), "\n"); strings.Contains(p, "monotonic") {
		t.Errorf("max over a view of a table is monotonic:\n%s", p)
	}
	plan := strings.Join(s.query("EXPLAIN SELECT auction, price FROM bid WHERE price > 1000"), "\n")
	if !strings.Contains(plan, "bid") {
		t.Fatalf("EXPLAIN does not name the source:\n%s", plan)
	}
	var srcBytes int64
	for _, r := range s.query("SELECT name, state_bytes FROM mz_internal.mz_dataflow_memory WHERE name IN ('bid', 'bidt')") {
		f := strings.Fields(r)
		n, _ := strconv.ParseInt(f[1], 10, 64)
		if n <= 0 {
			t.Fatalf("mz_dataflow_memory: %s", r)
		}
		if f[0] == "bid" {
			srcBytes = n
		}
	}
	if srcBytes == 0 {
		t.Fatal("mz_dataflow_memory has no row for bid")
	}
	check("after the views")
}

// TestAppendOnlySourceAsOfAndSubscribe: over an append-only source that
// keeps growing (the COUNTER generator), reads AS OF past times see
// exactly the rows of that time, a read inside a transaction keeps its
// time, and a SUBSCRIBE gives its snapshot, then each new row once, and
// one AS OF a past time the rows from then on.
func TestAppendOnlySourceAsOfAndSubscribe(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE SOURCE cnt FROM LOAD GENERATOR COUNTER (TICK INTERVAL '2ms')")
	if sourceOrdered(t, c, "cnt") {
		t.Fatal("the counter source is arranged, not an append log")
	}
	counts := map[uint64]int{}
	waitFor(t, 20*time.Second, "counter rows", func() bool {
		ts := nowOf(c)
		n, _ := strconv.Atoi(s.one(fmt.Sprintf("SELECT count(*) FROM cnt AS OF %d", ts)))
		if n > 0 {
			counts[ts] = n
		}
		return n >= 50 && len(counts) >= 5
	})
	from := nowOf(c)
	nFrom, _ := strconv.Atoi(s.one(fmt.Sprintf("SELECT count(*) FROM cnt AS OF %d", from)))
	counts[from] = nFrom
	subS := newTestSession(t, c)
	res := subS.start(context.Background(), fmt.Sprintf("SUBSCRIBE (SELECT counter FROM cnt) AS OF %d", from))
	defer res.Rows.Close()
	waitFor(t, 20*time.Second, "more counter rows", func() bool {
		n, _ := strconv.Atoi(s.one("SELECT count(*) FROM cnt"))
		return n >= nFrom+30
	})
	for ts, n := range counts {
		// The rows as of ts: the counter's values 1..n.
		got := s.query(fmt.Sprintf("SELECT counter FROM cnt AS OF %d", ts))
		want := make([]string, n)
		for i := range n {
			want[i] = strconv.Itoa(i + 1)
		}
		slices.Sort(want)
		sameRows(t, fmt.Sprintf("AS OF %d", ts), got, want)
		s.want(fmt.Sprintf("SELECT count(*), count(DISTINCT counter), max(counter) FROM cnt AS OF %d", ts), fmt.Sprintf("%d %d %d", n, n, n))
	}
	// A transaction's reads keep its first read's time.
	s.exec("BEGIN")
	n1 := s.one("SELECT count(*) FROM cnt")
	time.Sleep(30 * time.Millisecond)
	s.want("SELECT count(*) FROM cnt", n1)
	s.want("SELECT count(*) FROM (SELECT DISTINCT counter FROM cnt) x", n1)
	s.exec("COMMIT")

	// The subscription: the snapshot as of from (counts[from] rows at
	// from), then each later value once, at increasing times.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	seen := map[int]bool{}
	var last uint64
	for len(seen) < nFrom+20 {
		row, err := res.Rows.Next(ctx)
		if err != nil {
			t.Fatalf("subscribe: %v after %d rows", err, len(seen))
		}
		f := strings.Fields(rowText(row)) // mz_timestamp mz_diff counter
		ts, _ := strconv.ParseUint(f[0], 10, 64)
		v, _ := strconv.Atoi(f[2])
		switch {
		case f[1] != "1":
			t.Fatalf("subscribe: a retraction %v", f)
		case ts < last:
			t.Fatalf("subscribe: time %d after %d", ts, last)
		case seen[v]:
			t.Fatalf("subscribe: %d twice", v)
		case v <= nFrom && ts != from:
			t.Fatalf("subscribe: snapshot row %d at %d, not at %d", v, ts, from)
		case v > nFrom && ts <= from:
			t.Fatalf("subscribe: row %d of a later time at %d", v, ts)
		}
		seen[v], last = true, ts
	}
}

// TestAppendOnlyKafkaSourceRestart: a Kafka source with ENVELOPE NONE
// (rows repeated included) is kept as an append log; compaction writes it
// to its snapshot file in the log's order (viewd.order "none"), and two
// restarts load it back without a sort or a warning, with the same
// answers, the views following the rows produced in between.
func TestAppendOnlyKafkaSourceRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	broker, err := sources.StartEmbedded(ctx, "127.0.0.1:0", sources.WithEmbeddedLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker.Addrs()[0]), kgo.DefaultProduceTopic("ev"), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	events := 0
	produce := func(n int) {
		t.Helper()
		var recs []*kgo.Record
		for range n {
			events++
			// Every tenth event is sent twice: a row the log holds twice.
			v := fmt.Sprintf(`{"n": %d, "k": %d}`, events, events%7)
			recs = append(recs, &kgo.Record{Value: []byte(v)})
			if events%10 == 0 {
				recs = append(recs, &kgo.Record{Value: []byte(v)})
			}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	wantCount := func() string {
		return fmt.Sprintf("%d %d %d", events+events/10, events, events*(events+1)/2+10*(events/10)*(events/10+1)/2)
	}
	dir := t.TempDir()
	var logs syncBuffer
	cfg := Config{DataDir: dir, CompactLogBytes: 1, CompactSnapshotRatio: -1,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	c := openTest(t, cfg)
	s := newTestSession(t, c)
	s.exec(fmt.Sprintf("CREATE CONNECTION k TO KAFKA (BROKER '%s')", broker.Addrs()[0]),
		"CREATE SOURCE ev (n int8, k int8) FROM KAFKA CONNECTION k (TOPIC 'ev') FORMAT JSON ENVELOPE NONE",
		"CREATE MATERIALIZED VIEW ev_k AS SELECT k, count(*) AS c, sum(n) AS s FROM ev GROUP BY k")
	if sourceOrdered(t, c, "ev") {
		t.Fatal("the ENVELOPE NONE source is arranged, not an append log")
	}
	q := "SELECT count(*), count(DISTINCT n), sum(n) FROM ev"
	produce(300)
	waitFor(t, 20*time.Second, "the events", func() bool { return s.one(q) == wantCount() })
	waitCompacted(t, c)
	// The next compactions write the source's rows appended since the
	// last one, keeping its files: the snapshot holds the source in
	// parts.
	c.mu.Lock()
	first := c.compactions
	c.mu.Unlock()
	produce(100)
	waitFor(t, 20*time.Second, "more events", func() bool { return s.one(q) == wantCount() })
	waitFor(t, 10*time.Second, "a second compaction", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.compactions > first && !c.compacting && c.store.LogSize() == 0
	})
	all := s.query("SELECT n, k FROM ev")
	byK := s.query("SELECT * FROM ev_k")
	sameRows(t, "the view", byK, s.query("SELECT k, count(*), sum(n) FROM ev GROUP BY k"))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "snap.*.arrow"))
	if len(files) < 2 {
		t.Fatalf("table files %v: want the source in parts", files)
	}
	for round := range 2 {
		c = openTest(t, cfg)
		s = newTestSession(t, c)
		waitFor(t, 20*time.Second, "the events after a restart", func() bool { return s.one(q) == wantCount() })
		if round == 0 {
			sameRows(t, "the rows after a restart", s.query("SELECT n, k FROM ev"), all)
			sameRows(t, "the view after a restart", s.query("SELECT * FROM ev_k"), byK)
		}
		if sourceOrdered(t, c, "ev") {
			t.Fatal("the restarted source is arranged")
		}
		produce(100)
		waitFor(t, 20*time.Second, "new events after a restart", func() bool { return s.one(q) == wantCount() })
		sameRows(t, "the view", s.query("SELECT * FROM ev_k"), s.query("SELECT k, count(*), sum(n) FROM ev GROUP BY k"))
		waitCompacted(t, c)
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// (The temporary directory's permissions are warned of.)
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "dataflow:") || strings.Contains(l, "coord:") {
			t.Fatalf("warning: %s", l)
		}
	}
}

// TestOneShotChunked: one-shot SELECTs over append-only sources take the
// sources in chunks of a few hundred bytes, over many steps (joins,
// aggregates, DISTINCT, the top-k idiom, count(DISTINCT)), and answer as
// the same queries over tables of the same rows; a read that also imports
// a table takes everything in one step.
func TestOneShotChunked(t *testing.T) {
	defer func(n int, hook func(int)) { oneShotChunkBytes, oneShotStepsHook = n, hook }(oneShotChunkBytes, oneShotStepsHook)
	oneShotChunkBytes = 300
	var steps []int
	oneShotStepsHook = func(n int) { steps = append(steps, n) }
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE SOURCE nex FROM LOAD GENERATOR NEXMARK (RATE UNLIMITED, UP TO 4000, SEED 5) FOR ALL TABLES")
	waitFor(t, 60*time.Second, "the generator's events", func() bool {
		return s.one("SELECT (SELECT count(*) FROM person) + (SELECT count(*) FROM auction) + (SELECT count(*) FROM bid)") == "4000"
	})
	s.exec("CREATE TABLE bidt (auction int8, bidder int8, price int8, channel text, url text, date_time timestamptz, extra text)",
		"INSERT INTO bidt SELECT * FROM bid",
		"CREATE TABLE auctiont (id int8, seller int8, category int8, date_time timestamptz, expires timestamptz)",
		"INSERT INTO auctiont SELECT id, seller, category, date_time, expires FROM auction")
	queries := []string{
		"SELECT a.category, count(*), sum(b.price) FROM %b b JOIN %a a ON a.id = b.auction GROUP BY a.category",
		"SELECT a.id, b.price, b.bidder FROM %a a JOIN %b b ON a.id = b.auction WHERE b.date_time BETWEEN a.date_time AND a.expires",
		"SELECT auction, count(*), max(price), min(bidder) FROM %b GROUP BY auction",
		"SELECT DISTINCT bidder FROM %b",
		"SELECT channel, count(DISTINCT bidder), count(DISTINCT auction) FILTER (WHERE price > 1000) FROM %b GROUP BY channel",
		"SELECT auction, price, bidder FROM (SELECT *, row_number() OVER (PARTITION BY auction ORDER BY price DESC, bidder) AS rn FROM %b) r WHERE rn <= 2",
		"SELECT auction, price, rn FROM (SELECT *, row_number() OVER (PARTITION BY auction ORDER BY price DESC, bidder, date_time) AS rn FROM %b) r WHERE rn <= 3",
	}
	for _, q := range queries {
		steps = nil
		got := s.query(bidQuery(q, "bid", "auction"))
		if len(steps) != 1 || steps[0] < 10 {
			t.Fatalf("%s: one-shot steps %v, want one dataflow of many steps", q, steps)
		}
		want := s.query(bidQuery(q, "bidt", "auctiont"))
		if len(want) == 0 {
			t.Fatalf("%s: no rows", q)
		}
		sameRows(t, bidQuery(q, "bid", "auction"), got, want)
	}
	// A source joined with a table: one step.
	steps = nil
	q := "SELECT a.category, count(*) FROM bid b JOIN auctiont a ON a.id = b.auction GROUP BY a.category"
	sameRows(t, q, s.query(q), s.query("SELECT a.category, count(*) FROM bidt b JOIN auctiont a ON a.id = b.auction GROUP BY a.category"))
	if len(steps) < 1 || steps[0] != 1 {
		t.Fatalf("%s: one-shot steps %v, want 1", q, steps)
	}
}

// bidQuery fills a query's %b with the bid relation and %a with the
// auction relation (a source's or a table's).
func bidQuery(q, b, a string) string {
	return strings.ReplaceAll(strings.ReplaceAll(q, "%b", b), "%a", a)
}
