package coord

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/wire"
)

// TestConcurrentReadersWriters: writers transfer between accounts (each
// transfer one transaction) and append to a log with an acknowledged
// sequence, while readers read the sum, the log and point lookups. Every
// read sees whole transactions (the sum never changes), and a read that
// starts after a write was acknowledged sees it (strict serializability).
// Run with -race, this also checks that reads outside the lock race with
// nothing.
func TestConcurrentReadersWriters(t *testing.T) {
	c := openTest(t, Config{})
	setup := newTestSession(t, c)
	setup.exec(
		"CREATE TABLE acct (id int PRIMARY KEY, bal int)",
		"INSERT INTO acct SELECT g, 100 FROM generate_series(1, 20) g",
		"CREATE TABLE log (seq int PRIMARY KEY)",
		"CREATE MATERIALIZED VIEW total AS SELECT sum(bal) AS s, count(*) AS n FROM acct",
	)
	var acked atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
		cancel()
	}
	// Writer: transfers and log appends.
	wg.Add(1)
	go func() {
		defer wg.Done()
		s := newTestSession(t, c)
		for seq := 1; ctx.Err() == nil; seq++ {
			a, b := seq%20+1, (seq*7)%20+1
			for _, q := range []string{
				"BEGIN",
				fmt.Sprintf("UPDATE acct SET bal = bal - 1 WHERE id = %d", a),
				fmt.Sprintf("UPDATE acct SET bal = bal + 1 WHERE id = %d", b),
				"COMMIT",
				fmt.Sprintf("INSERT INTO log VALUES (%d)", seq),
			} {
				if _, _, err := s.run(context.Background(), q); err != nil {
					fail(fmt.Errorf("writer %q: %w", q, err))
					return
				}
			}
			acked.Store(int64(seq))
		}
	}()
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newTestSession(t, c)
			for i := 0; ctx.Err() == nil; i++ {
				want := acked.Load()
				var q string
				switch (i + r) % 3 {
				case 0:
					q = "SELECT s, n FROM total"
				case 1:
					q = "SELECT sum(bal) FROM acct"
				case 2:
					q = fmt.Sprintf("SELECT count(*) FROM log WHERE seq = %d", want)
				}
				rows, _, err := s.run(context.Background(), q)
				if err != nil {
					fail(fmt.Errorf("reader %q: %w", q, err))
					return
				}
				switch (i + r) % 3 {
				case 0:
					if len(rows) != 1 || rows[0] != "2000 20" {
						fail(fmt.Errorf("%s: %v, want 2000 20 (a transaction seen in part)", q, rows))
						return
					}
				case 1:
					if len(rows) != 1 || rows[0] != "2000" {
						fail(fmt.Errorf("%s: %v, want 2000", q, rows))
						return
					}
				case 2:
					if want > 0 && (len(rows) != 1 || rows[0] != "1") {
						fail(fmt.Errorf("%s: %v: write %d was acknowledged before the read began", q, rows, want))
						return
					}
				}
				// Reads are strict serializable: max(seq) never goes back
				// below what was acknowledged.
				if i%10 == 0 {
					rows, _, err := s.run(context.Background(), "SELECT coalesce(max(seq), 0) FROM log")
					if err != nil {
						fail(err)
						return
					}
					if got, _ := strconv.ParseInt(rows[0], 10, 64); got < want {
						fail(fmt.Errorf("max(seq) = %d after write %d was acknowledged", got, want))
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	if acked.Load() < 10 {
		t.Fatalf("only %d writes in 3 s", acked.Load())
	}
	t.Logf("%d transfers acknowledged", acked.Load())
}

// TestReadsDoNotBlockWrites: while a long transient dataflow runs (a
// self-join of billions of pairs), writes commit and point lookups answer
// promptly: the read computes outside the coordinator's lock. Cancelling
// it stops it within 100 ms (allowing for a loaded machine).
func TestReadsDoNotBlockWrites(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE big (id int PRIMARY KEY, k int)",
		"INSERT INTO big SELECT g, g % 10 FROM generate_series(1, 100000) g",
	)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	long := newTestSession(t, c)
	go func() {
		_, _, err := long.run(ctx, "SELECT count(*) FROM big a JOIN big b ON a.k = b.k WHERE a.id + b.id > 0")
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	var worst time.Duration
	for i := range 50 {
		start := time.Now()
		s.exec(fmt.Sprintf("UPDATE big SET k = k WHERE id = %d", i+1))
		if rows := s.query(fmt.Sprintf("SELECT k FROM big WHERE id = %d", i+1)); len(rows) != 1 {
			t.Fatalf("lookup: %v", rows)
		}
		worst = max(worst, time.Since(start))
	}
	select {
	case err := <-done:
		t.Fatalf("the long join ended before it was cancelled: %v", err)
	default:
	}
	if worst > 500*time.Millisecond {
		t.Fatalf("a write and a lookup took %v while a long read ran", worst)
	}
	start := time.Now()
	cancel()
	err := <-done
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled join: %v", err)
	}
	t.Logf("worst write+lookup %v during the join; cancel took %v", worst, took)
	if took > 300*time.Millisecond {
		t.Fatalf("cancel took %v", took)
	}
}

// TestStatementTimeout: statement_timeout stops a long dataflow read with
// 57014, a write that times out before it is durable leaves no trace, and
// the table stays consistent.
func TestStatementTimeout(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE big (id int PRIMARY KEY, k int)",
		"INSERT INTO big SELECT g, g % 10 FROM generate_series(1, 100000) g",
		"SET statement_timeout = '300ms'",
	)
	start := time.Now()
	_, _, err := s.run(context.Background(), "SELECT count(*) FROM big a JOIN big b ON a.k = b.k WHERE a.id + b.id > 0")
	took := time.Since(start)
	if errCode(err) != string(pgcode.QueryCanceled) {
		t.Fatalf("timed out join: %v", err)
	}
	if took > 800*time.Millisecond {
		t.Fatalf("a 300ms statement_timeout fired after %v", took)
	}
	// The server and the table are intact.
	s.exec("SET statement_timeout = 0", "INSERT INTO big VALUES (100001, 1)")
	if rows := s.query("SELECT count(*) FROM big"); rows[0] != "100001" {
		t.Fatalf("count after timeout: %v", rows)
	}
	if _, _, err := s.run(context.Background(), "INSERT INTO big VALUES (5, 5)"); errCode(err) != string(pgcode.UniqueViolation) {
		t.Fatalf("duplicate key after timeout: %v", err)
	}
}

// TestStreamedResultMemory: a 3-million-row generate_series streams with
// memory bounded by a batch, not by the result: the live heap (measured
// after a collection, so that the garbage the collector's pacing leaves,
// up to the heap ballast's size, does not count) grows by less than 32 MB
// while every row is read.
func TestStreamedResultMemory(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	ctx := context.Background()
	st, err := s.s.Prepare(ctx, "SELECT i, 'row ' || i FROM generate_series(1, 3000000) i", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.s.Execute(ctx, st, nil, wire.ExecuteOptions{Protocol: wire.ProtocolExtended, StatementsInQuery: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Rows.Close()
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak uint64
	n := 0
	for {
		_, err := res.Rows.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if n%250000 == 0 {
			runtime.GC()
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapAlloc)
		}
	}
	if n != 3000000 {
		t.Fatalf("%d rows", n)
	}
	grew := int64(peak) - int64(base.HeapAlloc)
	t.Logf("heap grew by at most %d KB over 3M streamed rows", grew>>10)
	if grew > 32<<20 {
		t.Fatalf("heap grew by %d MB while streaming", grew>>20)
	}
}

// TestOrderByMemoryLimit: a sort past --max-query-memory fails with 53200
// and the server goes on.
func TestOrderByMemoryLimit(t *testing.T) {
	c := openTest(t, Config{MaxQueryMemory: 4 << 20})
	s := newTestSession(t, c)
	_, _, err := s.run(context.Background(), "SELECT i FROM generate_series(1, 1000000) i ORDER BY i DESC")
	if errCode(err) != string(pgcode.OutOfMemory) {
		t.Fatalf("sort past the limit: %v", err)
	}
	if rows := s.query("SELECT i FROM generate_series(1, 1000000) i ORDER BY i DESC LIMIT 2"); len(rows) != 2 {
		t.Fatalf("top-2: %v", rows)
	}
	if _, _, err := s.run(context.Background(), "SELECT count(*) FROM (SELECT DISTINCT i FROM generate_series(1, 1000000) i) x"); errCode(err) != string(pgcode.OutOfMemory) {
		t.Fatalf("dataflow past the limit: %v", err)
	}
}

// TestGroupCommit: concurrent writers share durable writes. Each key is
// inserted by two writers: exactly one succeeds and the other gets 23505;
// every acknowledged row is there; and fewer durable groups than
// transactions were written.
func TestGroupCommit(t *testing.T) {
	c := openTest(t, Config{})
	newTestSession(t, c).exec("CREATE TABLE kv (k int PRIMARY KEY, w int)")
	const writers, keys = 16, 40
	var wg sync.WaitGroup
	var ok, dup atomic.Int64
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := newTestSession(t, c)
			for k := range keys {
				// Writers w and w^1 insert the same keys.
				key := (w/2)*keys + k
				_, _, err := s.run(context.Background(), fmt.Sprintf("INSERT INTO kv VALUES (%d, %d)", key, w))
				switch errCode(err) {
				case "":
					ok.Add(1)
				case string(pgcode.UniqueViolation):
					dup.Add(1)
				default:
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s := newTestSession(t, c)
	want := writers / 2 * keys
	if got := s.query("SELECT count(*), count(DISTINCT k) FROM kv"); got[0] != fmt.Sprintf("%d %d", want, want) {
		t.Fatalf("rows: %v, want %d", got, want)
	}
	if ok.Load() != int64(want) || dup.Load() != int64(want) {
		t.Fatalf("%d inserted, %d duplicates; want %d each", ok.Load(), dup.Load(), want)
	}
	commits, groups := c.commits.Load(), c.commitGroups.Load()
	t.Logf("%d transactions in %d durable writes", commits, groups)
	if groups >= commits {
		t.Fatalf("no group commit: %d transactions, %d groups", commits, groups)
	}
}

// TestCompactionRestart: with a tiny compaction threshold the log is
// compacted after every write; a restart replays the snapshot and gives
// the same contents (tables with and without a primary key, deletes and
// updates, a view), and writes after it go on.
func TestCompactionRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, CompactLogBytes: 1, CompactSnapshotRatio: -1}
	c := openTest(t, cfg)
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE p (id int PRIMARY KEY, v text)",
		"CREATE TABLE n (a int, b int)",
		"INSERT INTO p SELECT g, 'v' || g FROM generate_series(1, 500) g",
		"INSERT INTO n VALUES (1, 1), (1, 1), (2, 2)",
		"UPDATE p SET v = 'new' WHERE id <= 10",
		"DELETE FROM p WHERE id > 490",
		"DELETE FROM n WHERE a = 2",
		"CREATE MATERIALIZED VIEW pv AS SELECT v, count(*) AS c FROM p GROUP BY v HAVING count(*) > 1",
	)
	want := [][]string{s.query("SELECT * FROM p"), s.query("SELECT * FROM n"), s.query("SELECT * FROM pv")}
	// The tick loop compacts shortly after the write that grew the log.
	waitCompacted(t, c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := openTest(t, cfg)
	s2 := newTestSession(t, c2)
	got := [][]string{s2.query("SELECT * FROM p"), s2.query("SELECT * FROM n"), s2.query("SELECT * FROM pv")}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Fatalf("after restart, query %d:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
	s2.exec("INSERT INTO p VALUES (1000, 'x')")
	if _, _, err := s2.run(context.Background(), "INSERT INTO p VALUES (1, 'dup')"); errCode(err) != string(pgcode.UniqueViolation) {
		t.Fatalf("duplicate after restart: %v", err)
	}
}

// TestCompactionWithSource: a load generator's rows are not in the log
// (only its checkpoint): compactions leave them out (the store's digests
// agree), and a restart computes them again up to the checkpoint, exactly.
func TestCompactionWithSource(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir, CompactLogBytes: 1, CompactSnapshotRatio: -1}
	c := openTest(t, cfg)
	s := newTestSession(t, c)
	s.exec("CREATE TABLE tb (x int)")
	s.exec("CREATE SOURCE cnt FROM LOAD GENERATOR COUNTER (TICK INTERVAL '5ms')")
	deadline := time.Now().Add(5 * time.Second)
	var before int
	for i := 0; time.Now().Before(deadline); i++ {
		s.exec(fmt.Sprintf("INSERT INTO tb VALUES (%d)", i)) // grows the log
		rows := s.query("SELECT count(*) FROM cnt")
		before, _ = strconv.Atoi(rows[0])
		c.mu.Lock()
		done := c.compactions >= 3
		c.mu.Unlock()
		if before >= 20 && done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.mu.Lock()
	compactions, failures := c.compactions, c.compactFailures
	c.mu.Unlock()
	if compactions < 3 || failures > 0 || before < 20 {
		t.Fatalf("%d compactions, %d failures, %d rows", compactions, failures, before)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := openTest(t, cfg)
	s2 := newTestSession(t, c2)
	rows := s2.query("SELECT count(*), count(DISTINCT counter), min(counter), max(counter) FROM cnt")
	var n, distinct, lo, hi int
	fmt.Sscan(rows[0], &n, &distinct, &lo, &hi)
	if n < before || n != distinct || lo != 1 || hi != n {
		t.Fatalf("after restart: %v (had %d rows)", rows, before)
	}
}

// TestGeneratorRestart: a NEXMARK generator at full speed stops at UP TO
// in units of many events, reports its ticks in mz_source_statuses, and
// a restart rebuilds exactly the same contents from its checkpoint.
func TestGeneratorRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{DataDir: dir}
	c := openTest(t, cfg)
	s := newTestSession(t, c)
	s.exec("CREATE SOURCE nx FROM LOAD GENERATOR NEXMARK (RATE UNLIMITED, UP TO 20000, SEED 5) FOR ALL TABLES")
	s.exec("CREATE MATERIALIZED VIEW q AS SELECT auction, count(*) AS n, sum(price) AS total FROM bid GROUP BY auction")
	const contents = "SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM auction), (SELECT count(*) FROM bid), (SELECT sum(total) FROM q), (SELECT count(*) FROM q)"
	waitFor(t, 20*time.Second, "the generator at UP TO", func() bool {
		return s.query("SELECT offset_committed, offset_known FROM mz_internal.mz_source_statuses WHERE name = 'bid'")[0] == "20000 20000"
	})
	before := s.query(contents)
	if !strings.HasPrefix(before[0], "400 1200 18400 ") {
		t.Fatalf("contents %v, want 400 persons, 1,200 auctions and 18,400 bids", before)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := openTest(t, cfg)
	s2 := newTestSession(t, c2)
	if after := s2.query(contents); !reflect.DeepEqual(after, before) {
		t.Fatalf("after restart %v, before %v", after, before)
	}
}

// TestBulkKeyChecks: batches of 64 or more inserted rows check their
// primary keys by one sorted merge: a key repeated within the batch or
// already in the table is 23505 (and nothing is written), others commit.
func TestBulkKeyChecks(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE b (id int PRIMARY KEY, v int)", "INSERT INTO b SELECT g, g FROM generate_series(1, 1000, 3) g")
	cases := []struct {
		q    string
		code string
	}{
		{"INSERT INTO b SELECT g, 0 FROM generate_series(2000, 2100) g UNION ALL SELECT 2050, 1", string(pgcode.UniqueViolation)},
		{"INSERT INTO b SELECT g, 0 FROM generate_series(2000, 2100) g UNION ALL SELECT 302, 1", ""},
		{"INSERT INTO b SELECT g, 0 FROM generate_series(3000, 3100) g UNION ALL SELECT 304, 1", string(pgcode.UniqueViolation)},
		{"INSERT INTO b SELECT g, 0 FROM generate_series(4000, 4100) g", ""},
	}
	for _, tc := range cases {
		before := s.query("SELECT count(*) FROM b")[0]
		_, _, err := s.run(context.Background(), tc.q)
		if errCode(err) != tc.code {
			t.Fatalf("%s: %v, want %q", tc.q, err, tc.code)
		}
		if after := s.query("SELECT count(*) FROM b")[0]; tc.code != "" && after != before {
			t.Fatalf("%s failed but changed the table: %s -> %s rows", tc.q, before, after)
		}
	}
	if got := s.query("SELECT count(*), count(DISTINCT id) FROM b")[0]; got != "537 537" {
		t.Fatalf("rows: %s", got)
	}
}
