package pgsource

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/procstat"
	"github.com/viewd/viewd/internal/viewdtest"
)

// Large transactions and snapshots in bounded memory. A transaction (or
// the initial snapshot) is applied in chunks of about 8 MiB: each chunk is
// appended to viewd's log as pending and staged in the subsources' inputs,
// and the last unit commits them at one timestamp (sources/doc.go,
// coord/sources.go). These tests measure the server's Go heap (sampled
// from /debug/pprof/heap every 25 ms; HeapAlloc, garbage included) and its
// peak RSS during the apply, while readers poll for a partial result.
// With -pgsource.long they move 1M rows of about 230 bytes (over 200 MB
// of row data); CI runs 100K. The figures come from a shared machine.

// memServer starts viewd with its debug HTTP server (pprof) on and the Go
// runtime's GC trace (GODEBUG=gctrace=1) in its log: each collection logs
// the heap when it started (the peak since the previous one) and ended.
func memServer(t *testing.T, dataDir string) (*viewdtest.Server, *pgx.Conn, string) {
	t.Helper()
	addr := viewdtest.FreeAddr(t)
	// Built first: the go command must not run with the GC trace on (it
	// would print it, and its build cache would keep it with the
	// compiler's output).
	viewdtest.Binary(t)
	prev, had := os.LookupEnv("GODEBUG")
	os.Setenv("GODEBUG", strings.TrimPrefix(prev+",gctrace=1", ","))
	srv := viewdtest.Start(t, viewdtest.Options{DataDir: dataDir, Args: []string{"--http-listen", addr}})
	if had {
		os.Setenv("GODEBUG", prev)
	} else {
		os.Unsetenv("GODEBUG")
	}
	return srv, srv.Connect(t), "http://" + addr + "/debug/pprof/heap?debug=1"
}

// heapAlloc reads the server's runtime.MemStats.HeapAlloc after a
// collection (the live heap).
func heapAlloc(url string) (uint64, error) {
	resp, err := http.Get(url + "&gc=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "# HeapAlloc = "); ok {
			_, _ = io.Copy(io.Discard, resp.Body)
			return strconv.ParseUint(v, 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no HeapAlloc in %s", url)
}

// gcLine matches a GC trace line's heap sizes: at the start of the
// collection, at its end, and live (MiB).
var gcLine = regexp.MustCompile(`(?m)^gc \d+ @[^:]*:.* (\d+)->(\d+)->(\d+) MB`)

// memWatch measures the server's memory over an interval: the live heap
// before and after (read after a forced collection), the heap's peak
// (the largest heap any collection in between started or ended at, from
// the GC trace: the Go heap peaks just before a collection) and the peak
// RSS (VmHWM, reset at the start).
type memWatch struct {
	t        *testing.T
	srv      *viewdtest.Server
	url      string
	baseline uint64
	logAt    int
	start    time.Time
}

func watchMemory(t *testing.T, srv *viewdtest.Server, url string) *memWatch {
	t.Helper()
	base, err := heapAlloc(url)
	if err != nil {
		t.Fatalf("reading the server's heap: %v", err)
	}
	if err := procstat.ResetPeakRSS(srv.Pid()); err != nil {
		t.Logf("peak RSS not reset: %v", err)
	}
	return &memWatch{t: t, srv: srv, url: url, baseline: base, logAt: len(srv.Log()), start: time.Now()}
}

// memFigures are what a watch measured.
type memFigures struct {
	baseline, peak, after uint64 // heap: live before, peak (garbage included), live after
	peakLive              uint64 // the largest live heap a collection found
	peakRSS, rss          int64
	took                  time.Duration
	gcs                   int
}

func (f memFigures) String() string {
	mb := func(v uint64) string { return fmt.Sprintf("%.0f MB", float64(v)/1e6) }
	return fmt.Sprintf("heap live before %s, peak %s (+%s; garbage included, %d collections), peak live %s, live after %s; RSS peak %.0f MB, after %.0f MB; took %s",
		mb(f.baseline), mb(f.peak), mb(f.peak-min(f.peak, f.baseline)), f.gcs, mb(f.peakLive), mb(f.after), float64(f.peakRSS)/1e6, float64(f.rss)/1e6, f.took.Round(time.Millisecond))
}

// finish reads the figures of the interval since watchMemory.
func (w *memWatch) finish() memFigures {
	w.t.Helper()
	f := memFigures{baseline: w.baseline, took: time.Since(w.start)}
	f.peakRSS, _ = procstat.PeakRSS(w.srv.Pid())
	// The forced collection of this read logs the heap it found too.
	after, err := heapAlloc(w.url)
	if err != nil {
		w.t.Fatalf("reading the server's heap: %v", err)
	}
	f.after = after
	time.Sleep(100 * time.Millisecond)
	if os.Getenv("PGMEM_GCTRACE") != "" {
		for _, l := range gcLine.FindAllString(w.srv.Log()[w.logAt:], -1) {
			w.t.Log(l)
		}
	}
	for _, m := range gcLine.FindAllStringSubmatch(w.srv.Log()[w.logAt:], -1) {
		for _, x := range m[1:3] {
			v, _ := strconv.ParseUint(x, 10, 64)
			f.peak = max(f.peak, v<<20)
		}
		live, _ := strconv.ParseUint(m[3], 10, 64)
		f.peakLive = max(f.peakLive, live<<20)
		f.gcs++
	}
	f.peakLive = max(f.peakLive, f.after)
	f.peak = max(f.peak, f.baseline, f.after)
	f.rss, _ = procstat.RSS(w.srv.Pid())
	return f
}

// poller reads a query from viewd over and over while a transaction is
// applied, and fails the test if an answer is not one of the allowed
// ones (the state before the transaction, or after it whole). Its
// queries are fast-path reads (a filter over the subsource's
// arrangement), which copy nothing: the memory measured is the apply's,
// not that of reads that would import the whole subsource into a
// dataflow each time.
type poller struct {
	stop  chan struct{}
	done  chan struct{}
	reads int
	seen  map[string]int
	bad   string
}

func startPoller(t *testing.T, v *pgx.Conn, query string, allowed ...string) *poller {
	t.Helper()
	c := viewdConn(t, v)
	p := &poller{stop: make(chan struct{}), done: make(chan struct{}), seen: map[string]int{}}
	ok := map[string]bool{}
	for _, a := range allowed {
		ok[a] = true
	}
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			got, err := query1(c, query)
			if err != nil {
				p.bad = err.Error()
				return
			}
			p.reads++
			p.seen[got]++
			if !ok[got] {
				p.bad = fmt.Sprintf("%s returned %q: part of a transaction (allowed: %q)", query, got, allowed)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	return p
}

// finish stops the poller and fails the test on a partial answer.
func (p *poller) finish(t *testing.T) {
	t.Helper()
	close(p.stop)
	<-p.done
	if p.bad != "" {
		t.Fatal(p.bad)
	}
	t.Logf("%d reads during the apply, answers seen: %v", p.reads, p.seen)
}

func query1(c *pgx.Conn, sql string) (string, error) {
	rs, err := query(c, sql)
	if err != nil {
		return "", err
	}
	return strings.Join(rs, ";"), nil
}

// checkTransient fails the test when the live heap peaked above what the
// result holds after the apply by more than three times the data applied
// plus 64 MiB. The transaction reaches the dataflow as one delta at its
// timestamp: the step holds that delta (the staged queue), the
// arrangement's new batch built from it and the builder's sort entries at
// once, about 2.1-2.7 times the data at 1M rows; a chunk in the reader
// and its log record add a few tens of MB.
// checkResult bounds what the live heap keeps after applying data bytes of
// new rows: one arranged copy of them (about the data's size), never two.
// (Measured with 1M rows, 256 MB of row data: +249 MB; while the reader
// kept a row per key beside the arrangement, +602 MB.)
func checkResult(t *testing.T, f memFigures, data int64) {
	t.Helper()
	if kept := int64(f.after) - int64(f.baseline); kept > data*3/2+32<<20 {
		t.Errorf("the live heap keeps %d bytes more after applying %d bytes of rows: more than one copy of them", kept, data)
	}
}

func checkTransient(t *testing.T, f memFigures, data int64) {
	t.Helper()
	if over := int64(f.peakLive) - int64(f.after); over > 3*data+64<<20 {
		t.Errorf("the live heap peaked %d bytes above what the result holds, applying %d bytes of data", over, data)
	}
}

// memRows is the size of the large cases: 1M rows with -pgsource.long,
// 100K in CI.
func memRows() int {
	if *long {
		return 1_000_000
	}
	return 100_000
}

// padSQL is a 224-byte text value derived from the SQL expression x.
func padSQL(x string) string { return "repeat(md5(" + x + "::text), 7)" }

// pgCopyTime is how long PostgreSQL takes to COPY the query's rows out
// (text format, discarded), its own cost of moving the same data.
func pgCopyTime(t *testing.T, up *pgx.Conn, query string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := up.PgConn().CopyTo(ctxT(t, 120*time.Second), io.Discard, "COPY ("+query+") TO STDOUT"); err != nil {
		t.Fatalf("COPY: %v", err)
	}
	return time.Since(start)
}

// dataBytes is the row data of a query's rows as PostgreSQL counts it.
func dataBytes(t *testing.T, up *pgx.Conn, table string) int64 {
	t.Helper()
	var n int64
	if err := up.QueryRow(ctxT(t, 60*time.Second), "SELECT sum(pg_column_size(x.*))::int8 FROM "+table+" x").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestChurnTransactionMemory: one upstream transaction rewrites a
// 1000-row table 100 times (with -pgsource.long a 10,000-row table 100
// times: 1M row changes, over 200 MB of new row values) while readers
// poll; it is visible whole or not at all, and leaves the table as big
// as it was. Nothing holds the transaction whole (the reader emits it in
// chunks, the log takes it in chunk records, the staged chunks
// consolidate to the net change), so the server's live heap grows by a
// bound that does not depend on the transaction's size: 64 MiB. (Measured: 100K changes, 26 MB: +25-30 MB
// live, +52-56 MB garbage included; 1M changes, 260 MB: +41 MB live, +87
// MB garbage included, RSS peak 150 MB.)
func TestChurnTransactionMemory(t *testing.T) {
	n := memRows()
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE churn (id int PRIMARY KEY, v int, pad text)")
	size := 1000
	if *long {
		size = 10_000 // fewer, larger statements: the upstream's own time
	}
	exec1(t, up, fmt.Sprintf("INSERT INTO churn SELECT g, 0, %s FROM generate_series(1, %d) g", padSQL("g"), size))
	exec1(t, up, "CREATE PUBLICATION pub FOR ALL TABLES")
	srv, v, url := memServer(t, "")
	createSource(t, v, pg, "src", "pub", "FOR ALL TABLES")
	eventually(t, v, 30*time.Second, "SELECT count(*), min(v), max(v) FROM churn", []string{fmt.Sprintf("%d|0|0", size)})

	// The churn: n row changes in one transaction.
	rounds := n / size
	probe := fmt.Sprintf("SELECT v FROM churn WHERE id IN (1, %d, %d) ORDER BY id", size/2, size)
	p := startPoller(t, v, probe, "0;0;0", fmt.Sprintf("%d;%d;%d", rounds, rounds, rounds))
	w := watchMemory(t, srv, url)
	ctx := ctxT(t, 900*time.Second)
	start := time.Now()
	err := pgx.BeginFunc(ctx, up, func(tx pgx.Tx) error {
		for i := 1; i <= rounds; i++ {
			if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE churn SET v = %d, pad = %s", i, padSQL(fmt.Sprintf("random()::text || id || %d", i)))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pgTook := time.Since(start)
	data := int64(rounds) * dataBytes(t, up, "churn")
	eventually(t, v, 600*time.Second, probe, []string{fmt.Sprint(rounds), fmt.Sprint(rounds), fmt.Sprint(rounds)})
	f := w.finish()
	p.finish(t)
	t.Logf("churn: %d row changes, %.0f MB of row data (upstream wrote it in %s): %s", n, float64(data)/1e6, pgTook.Round(time.Millisecond), f)
	if grown := int64(f.peakLive) - int64(f.baseline); grown > 64<<20 {
		t.Errorf("the live heap grew by %d bytes applying a transaction of %d bytes: the bound is 64 MiB whatever its size", grown, data)
	}
	want := pgRows(t, up, "SELECT count(*), sum(v), sum(length(pad)), max(pad) FROM churn")
	eventually(t, v, 10*time.Second, "SELECT count(*), sum(v), sum(length(pad)), max(pad) FROM churn", want)

}

// TestLargeInsertMemory: one upstream transaction inserts memRows() rows
// of about 230 bytes while readers poll; it is visible whole or not at
// all. The subsource keeps the rows once, in its arrangement (the reader
// keeps no copy: checkResult), and what the apply holds beyond that
// result, at its live peak, is bounded by checkTransient. The figures,
// with PostgreSQL's own COPY of the rows, are logged.
func TestLargeInsertMemory(t *testing.T) {
	n := memRows()
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE big (id int PRIMARY KEY, pad text)")
	exec1(t, up, "CREATE PUBLICATION pub FOR ALL TABLES")
	srv, v, url := memServer(t, "")
	createSource(t, v, pg, "src", "pub", "FOR ALL TABLES")
	eventually(t, v, 30*time.Second, "SELECT count(*) FROM big", []string{"0"})
	probe := fmt.Sprintf("SELECT id FROM big WHERE id IN (1, %d, %d) ORDER BY id", n/2, n)
	p := startPoller(t, v, probe, "", fmt.Sprintf("1;%d;%d", n/2, n))
	w := watchMemory(t, srv, url)
	start := time.Now()
	exec1(t, up, fmt.Sprintf("INSERT INTO big SELECT g, %s FROM generate_series(1, %d) g", padSQL("g"), n))
	pgTook := time.Since(start)
	eventually(t, v, 600*time.Second, probe, []string{"1", fmt.Sprint(n / 2), fmt.Sprint(n)})
	f := w.finish()
	p.finish(t)
	data := dataBytes(t, up, "big")
	copyTook := pgCopyTime(t, up, "SELECT * FROM big")
	t.Logf("insert: %d rows, %.0f MB of row data (upstream wrote it in %s, COPY TO of it %s; viewd/COPY %.1fx): %s",
		n, float64(data)/1e6, pgTook.Round(time.Millisecond), copyTook.Round(time.Millisecond), f.took.Seconds()/copyTook.Seconds(), f)
	checkTransient(t, f, data)
	checkResult(t, f, data)
	// The whole contents, as PostgreSQL has them (no DISTINCT: over 1M
	// rows of 230 bytes its read dataflow alone needs a few GB).
	want := pgRows(t, up, "SELECT count(*), sum(id), sum(length(pad)), max(id), min(pad) FROM big")
	eventually(t, v, 120*time.Second, "SELECT count(*), sum(id), sum(length(pad)), max(id), min(pad) FROM big", want)
}

// TestSnapshotMemory: the initial snapshot of a memRows()-row table (about
// 230 bytes a row) becomes visible whole, with readers polling; what the
// apply holds beyond the result is bounded as in TestLargeInsertMemory.
// Logs PostgreSQL's own COPY of the table beside it.
func TestSnapshotMemory(t *testing.T) {
	n := memRows()
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE big (id int PRIMARY KEY, pad text)")
	exec1(t, up, fmt.Sprintf("INSERT INTO big SELECT g, %s FROM generate_series(1, %d) g", padSQL("g"), n))
	exec1(t, up, "CREATE PUBLICATION pub FOR TABLE big")
	data := dataBytes(t, up, "big")
	copyTook := pgCopyTime(t, up, "SELECT * FROM big")
	srv, v, url := memServer(t, "")
	w := watchMemory(t, srv, url)
	createSource(t, v, pg, "src", "pub", "FOR ALL TABLES")
	probe := fmt.Sprintf("SELECT id FROM big WHERE id IN (1, %d, %d) ORDER BY id", n/2, n)
	p := startPoller(t, v, probe, "", fmt.Sprintf("1;%d;%d", n/2, n))
	eventually(t, v, 600*time.Second, probe, []string{"1", fmt.Sprint(n / 2), fmt.Sprint(n)})
	f := w.finish()
	p.finish(t)
	st := status(t, v, "src")
	t.Logf("snapshot: %d rows, %.0f MB of row data (COPY TO of it %s; viewd/COPY %.1fx; snapshot_time %s): %s",
		n, float64(data)/1e6, copyTook.Round(time.Millisecond), f.took.Seconds()/copyTook.Seconds(), st["snapshot_time"], f)
	checkTransient(t, f, data)
	checkResult(t, f, data)
	// The whole contents, as PostgreSQL has them (no DISTINCT: over 1M
	// rows of 230 bytes its read dataflow alone needs a few GB).
	want := pgRows(t, up, "SELECT count(*), sum(id), sum(length(pad)), max(id), min(pad) FROM big")
	eventually(t, v, 120*time.Second, "SELECT count(*), sum(id), sum(length(pad)), max(id), min(pad) FROM big", want)
}

// TestKillDuringLargeTransaction: viewd is killed (kill -9) while it
// applies a large transaction's chunks (once; twice with -pgsource.long:
// the second time while it applies the transaction again); the slot has
// not confirmed the transaction; after the restart the result equals the
// upstream's exactly, the transaction applied once.
func TestKillDuringLargeTransaction(t *testing.T) {
	n := memRows()
	if n < 300_000 {
		n = 300_000 // enough chunks to kill in the middle of
	}
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE big (id int PRIMARY KEY, pad text)")
	exec1(t, up, "INSERT INTO big SELECT g, 'before' FROM generate_series(1, 1000) g")
	exec1(t, up, "CREATE PUBLICATION pub FOR TABLE big")
	srv, v := startViewd(t, "")
	createSource(t, v, pg, "src", "pub", "FOR ALL TABLES")
	eventually(t, v, 30*time.Second, "SELECT count(*) FROM big", []string{"1000"})
	ctx := ctxT(t, 600*time.Second)
	tx, err := up.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Inserts, updates of the rows before and deletes, so that applying
	// any part twice or leaving any part out changes the answer.
	for _, q := range []string{
		fmt.Sprintf("INSERT INTO big SELECT g, %s FROM generate_series(1001, %d) g", padSQL("g"), n),
		"UPDATE big SET pad = 'updated' WHERE id <= 500",
		"DELETE FROM big WHERE id > 500 AND id <= 1000",
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	var beforeCommit string
	if err := tx.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&beforeCommit); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	check := "SELECT count(*), count(DISTINCT id), sum(id), sum(length(pad)), count(*) FILTER (WHERE pad = 'updated') FROM big"
	want := pgRows(t, up, check)
	dataDir := srv.DataDir
	kills := 1
	if *long {
		kills = 2
	}
	for kill := 1; kill <= kills; kill++ {
		waitChunks(t, srv, 3)
		srv.Kill()
		var confirmed string
		if err := up.QueryRow(ctx, "SELECT confirmed_flush_lsn::text FROM pg_replication_slots").Scan(&confirmed); err != nil {
			t.Fatal(err)
		}
		var past bool
		if err := up.QueryRow(ctx, "SELECT $1::pg_lsn > $2::pg_lsn", confirmed, beforeCommit).Scan(&past); err != nil {
			t.Fatal(err)
		}
		if past {
			t.Fatalf("kill %d: the slot confirmed %s, past the transaction's commit (WAL before it: %s) before it was applied", kill, confirmed, beforeCommit)
		}
		srv, v = startViewd(t, dataDir)
		whole := strings.Split(want[0], "|")[0] + "|500"
		if got := rows(t, v, "SELECT count(*), count(*) FILTER (WHERE pad = 'updated') FROM big"); got[0] != "1000|0" && got[0] != whole {
			t.Fatalf("after kill %d: part of the transaction visible at startup: %v", kill, got)
		}
		if !strings.Contains(srv.Log(), "dropping the uncommitted chunks") {
			t.Errorf("after kill %d: no uncommitted chunks were dropped at startup", kill)
		}
	}
	viewdtest.WaitWhole(t, v, 300*time.Second, 5*time.Millisecond, "the transaction after the kills",
		"SELECT count(*), count(*) FILTER (WHERE pad = 'updated') FROM big", "1000|0", strings.Split(want[0], "|")[0]+"|500")
	eventually(t, v, 10*time.Second, check, want)
	// Once more, after a clean restart: nothing applied twice.
	srv.Stop()
	_, v = startViewd(t, dataDir)
	eventually(t, v, 60*time.Second, check, want)
}

// TestDropSubsourceDuringLargeTransaction: a subsource is dropped while
// the source applies a large transaction's chunks; the source's reader
// restarts without it, the chunks staged so far are dropped, and the
// transaction, sent again, lands once in the remaining subsource.
func TestDropSubsourceDuringLargeTransaction(t *testing.T) {
	n := 300_000
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE big (id int PRIMARY KEY, pad text)")
	exec1(t, up, "CREATE TABLE small (id int PRIMARY KEY)")
	exec1(t, up, "CREATE PUBLICATION pub FOR ALL TABLES")
	srv, v := startViewd(t, "")
	createSource(t, v, pg, "src", "pub", "FOR ALL TABLES")
	eventually(t, v, 30*time.Second, "SELECT (SELECT count(*) FROM big), (SELECT count(*) FROM small)", []string{"0|0"})
	ctx := ctxT(t, 300*time.Second)
	err := pgx.BeginFunc(ctx, up, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO small SELECT g FROM generate_series(1, 10) g"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO big SELECT g, %s FROM generate_series(1, %d) g", padSQL("g"), n))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitChunks(t, srv, 3)
	exec1(t, v, "DROP SOURCE small")
	p := startPoller(t, v, fmt.Sprintf("SELECT id FROM big WHERE id IN (1, %d) ORDER BY id", n), "", fmt.Sprintf("1;%d", n))
	check := "SELECT count(*), count(DISTINCT id), sum(id), sum(length(pad)) FROM big"
	want := pgRows(t, up, check)
	eventually(t, v, 300*time.Second, check, want)
	p.finish(t)
}

// waitChunks waits until the server has staged k chunks of a source
// transaction (it logs each at debug level).
func waitChunks(t *testing.T, srv *viewdtest.Server, k int) {
	t.Helper()
	waitFor(t, 300*time.Second, fmt.Sprintf("%d chunks staged", k), func() string {
		if got := strings.Count(srv.Log(), "staged a source transaction chunk"); got < k {
			return fmt.Sprintf("%d chunks staged", got)
		}
		return ""
	})
}
