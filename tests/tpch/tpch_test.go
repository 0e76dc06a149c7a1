package tpch

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"maps"
	"math/big"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/pgtest"
	"github.com/viewd/viewd/internal/viewdtest"
)

var (
	flagSF     = flag.Float64("tpch.sf", 0.01, "TPC-H scale factor (CI: 0.01; 0.1 takes minutes)")
	flagSeed   = flag.Uint64("tpch.seed", 1, "seed of the generated data and updates")
	flagRSSCap = flag.Int64("tpch.rsscap", 4<<30, "bytes of resident memory past which the test kills viewd and fails")
	flagOnly   = flag.String("tpch.queries", "", "comma-separated query numbers to run (default all 22)")
	flagArgs   = flag.String("tpch.viewd-args", "", "extra viewd flags, space-separated (e.g. --http-listen 127.0.0.1:27400 for pprof)")
)

const stmtTimeout = 10 * time.Minute

// step is a group of statements applied to both servers, after which
// every view is compared: one transaction, or for bulk loads consecutive
// transactions of at most txnSize statements each (viewd checks a
// statement in a transaction against all of the transaction's earlier
// writes, so one transaction of 240,000 rows takes minutes at SF 0.1).
type step struct {
	name    string
	stmts   []string
	txnSize int // 0: one transaction
}

// loadTxn is the transaction size of bulk-load steps: 40 INSERTs of 500
// rows.
const loadTxn = 40

// steps returns the workload: the dimension tables, orders in two steps,
// a transaction of updates and deletes (refresh function RF2 plus updates
// of every table the queries read), and a last step that inserts the
// remaining orders (RF1) and, in its last transaction, deletes others.
func steps(g *gen) []step {
	first := g.orders * 2 / 5
	rest := g.orders - 2*first
	s := []step{
		{"dimensions", g.dimensions(), loadTxn},
		{"orders 1", g.moreOrders(first), loadTxn},
		{"orders 2", g.moreOrders(first), loadTxn},
	}
	s = append(s, step{"updates+RF2", append(g.deleteOrders(19), g.updates()...), 0})
	s = append(s, step{"RF1+RF2", append(g.moreOrders(rest), g.deleteOrders(23)...), loadTxn})
	return s
}

type result struct {
	cols []string
	oids []uint32
	rows [][]string
}

const null = viewdtest.Null

func run(ctx context.Context, c *pgx.Conn, sql string) (*result, error) {
	cols, oids, rows, err := viewdtest.QueryText(ctx, c, sql)
	if err != nil {
		return nil, err
	}
	return &result{cols: cols, oids: oids, rows: rows}, nil
}

// comparison is the outcome of comparing viewd's rows with PostgreSQL's.
type comparison struct {
	diff       string // "" when equal
	typeDiffer string
}

// compare compares got (viewd) and want (PostgreSQL) as multisets of rows,
// exactly: the same text in every column, numerics with the same display
// scale (1.10 and 1.1 differ).
func compare(got, want *result) comparison {
	var c comparison
	if len(got.cols) != len(want.cols) {
		c.diff = fmt.Sprintf("column count differs: viewd %v, PostgreSQL %v", got.cols, want.cols)
		return c
	}
	var notes []string
	for i := range got.oids {
		if got.oids[i] != want.oids[i] {
			notes = append(notes, fmt.Sprintf("%s: viewd oid %d, PostgreSQL oid %d", want.cols[i], got.oids[i], want.oids[i]))
		}
	}
	c.typeDiffer = strings.Join(notes, "; ")
	if len(got.rows) != len(want.rows) {
		c.diff = fmt.Sprintf("viewd has %d rows, PostgreSQL %d\n%s", len(got.rows), len(want.rows), showDiff(got, want))
		return c
	}
	g, w := sortedRows(got), sortedRows(want)
	for i := range g {
		for j := range g[i] {
			a, b := g[i][j], w[i][j]
			if a == b {
				continue
			}
			c.diff = fmt.Sprintf("row %d column %s: viewd %q, PostgreSQL %q\n%s", i, want.cols[j], a, b, showDiff(got, want))
			return c
		}
	}
	return c
}

// sortedRows returns r's rows sorted by their columns in a canonical order
// (numerics by value, so that the rows of a difference in display scale
// pair up and the difference shows as one value).
func sortedRows(r *result) [][]string {
	rows := slices.Clone(r.rows)
	key := func(row []string) string {
		parts := make([]string, len(row))
		for i, v := range row {
			parts[i] = v
			if x, ok := new(big.Rat).SetString(v); ok && v != null {
				parts[i] = x.RatString()
			}
		}
		return strings.Join(parts, "\x01")
	}
	slices.SortFunc(rows, func(a, b []string) int { return strings.Compare(key(a), key(b)) })
	return rows
}

// showDiff lists up to ten rows of each side.
func showDiff(got, want *result) string {
	var b strings.Builder
	for _, side := range []struct {
		name string
		r    *result
	}{{"viewd", got}, {"PostgreSQL", want}} {
		fmt.Fprintf(&b, "  %s (%d rows):\n", side.name, len(side.r.rows))
		for i, row := range sortedRows(side.r) {
			if i == 10 {
				fmt.Fprintf(&b, "    ...\n")
				break
			}
			fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(strings.Join(row, " | "), null, "NULL"))
		}
	}
	return b.String()
}

// rssWatch samples a process's resident set every 50 ms, keeps its peak,
// and kills the process (through kill) when it passes limit.
type rssWatch struct {
	mu    sync.Mutex
	peak  int64
	over  bool
	stop  chan struct{}
	done  chan struct{}
	pid   int
	limit int64
}

func watchRSS(pid int, limit int64, kill func()) *rssWatch {
	w := &rssWatch{pid: pid, limit: limit, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			rss := readRSS(pid, "VmRSS:")
			w.mu.Lock()
			w.peak = max(w.peak, rss)
			over := rss > limit && !w.over
			w.over = w.over || over
			w.mu.Unlock()
			if over {
				kill()
				return
			}
		}
	}()
	return w
}

func (w *rssWatch) Peak() (peak int64, over bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// The kernel's high-water mark catches peaks between samples.
	return max(w.peak, readRSS(w.pid, "VmHWM:")), w.over
}

func (w *rssWatch) Stop() {
	close(w.stop)
	<-w.done
}

// readRSS reads a size field (VmRSS:, VmHWM:) of /proc/pid/status, in
// bytes; 0 when the process is gone.
func readRSS(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func exec(ctx context.Context, c *pgx.Conn, sql string) error {
	_, err := c.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	return err
}

// apply runs a step's statements in its transactions and returns the
// time its slowest statement took, and which it was (COMMIT included).
func apply(ctx context.Context, c *pgx.Conn, s step) (time.Duration, string, error) {
	var slowest time.Duration
	var which string
	stmts := s.stmts
	for len(stmts) > 0 {
		n := len(stmts)
		if s.txnSize > 0 && n > s.txnSize {
			n = s.txnSize
		}
		if err := exec(ctx, c, "BEGIN"); err != nil {
			return 0, "", err
		}
		for _, q := range append(slices.Clone(stmts[:n]), "COMMIT") {
			t0 := time.Now()
			if err := exec(ctx, c, q); err != nil {
				_ = exec(ctx, c, "ROLLBACK")
				return 0, "", fmt.Errorf("%.200s: %w", q, err)
			}
			if d := time.Since(t0); d > slowest {
				slowest, which = d, q
			}
		}
		stmts = stmts[n:]
	}
	return slowest, which, nil
}

// stateReport summarises mz_internal.mz_dataflow_memory: the bytes the
// tables' and the views' dataflows hold in their own arrangements, and
// the top dataflows.
func stateReport(ctx context.Context, t *testing.T, c *pgx.Conn, top int) string {
	res, err := run(ctx, c, "SELECT name, type, coalesce(state_bytes, 0), status FROM mz_internal.mz_dataflow_memory ORDER BY 3 DESC, 1")
	if err != nil {
		t.Errorf("mz_dataflow_memory: %v", err)
		return "?"
	}
	totals := map[string]int64{}
	var tops []string
	for _, r := range res.rows {
		n, _ := strconv.ParseInt(r[2], 10, 64)
		totals[r[1]] += n
		if len(tops) < top {
			e := fmt.Sprintf("%s %s", r[0], mb(n))
			if r[3] != "running" {
				e += " (" + r[3] + ")"
			}
			tops = append(tops, e)
		}
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(totals)) {
		parts = append(parts, fmt.Sprintf("%s %s", k, mb(totals[k])))
	}
	return strings.Join(parts, ", ") + "; largest: " + strings.Join(tops, ", ")
}

func mb(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }

// TestTPCH creates the 22 TPC-H queries as materialized views in viewd on
// empty tables, applies the workload of steps in transactions to viewd
// and to a private PostgreSQL, and after each step compares every view
// with PostgreSQL's answer to its query.
func TestTPCH(t *testing.T) {
	sf := *flagSF
	only := map[int]bool{}
	if *flagOnly != "" {
		for _, f := range strings.Split(*flagOnly, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil {
				t.Fatalf("-tpch.queries: %v", err)
			}
			only[n] = true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	pgSrv := pgtest.Start(t)
	// viewd's Go heap is bounded so that a plan whose state runs away
	// fails here rather than starving the machine.
	t.Setenv("GOMEMLIMIT", fmt.Sprint(*flagRSSCap))
	vdSrv := viewdtest.Start(t, viewdtest.Options{Args: append([]string{"--log-level", "info"}, strings.Fields(*flagArgs)...)})
	pg, err := pgx.Connect(ctx, pgSrv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	vd := vdSrv.Connect(t)
	watch := watchRSS(vdSrv.Pid(), *flagRSSCap, vdSrv.Kill)
	defer watch.Stop()

	for _, s := range schema {
		if err := exec(ctx, pg, s); err != nil {
			t.Fatalf("PostgreSQL: %v", err)
		}
		if err := exec(ctx, vd, s); err != nil {
			t.Fatalf("viewd: %s: %v", s, err)
		}
	}
	for _, s := range preViews {
		if err := exec(ctx, pg, s); err != nil {
			t.Fatalf("PostgreSQL: %v", err)
		}
		if err := exec(ctx, vd, s); err != nil {
			t.Fatalf("viewd: %s: %v", s, err)
		}
	}
	var qs []query
	start := time.Now()
	for _, q := range queries(sf) {
		if len(only) > 0 && !only[q.n] {
			continue
		}
		if err := exec(ctx, vd, "CREATE MATERIALIZED VIEW "+q.name()+" AS "+q.sql); err != nil {
			t.Errorf("%s: CREATE MATERIALIZED VIEW: %v", q.name(), err)
			continue
		}
		qs = append(qs, q)
	}
	t.Logf("SF %g: %d materialized views created in %v", sf, len(qs), time.Since(start).Round(time.Millisecond))

	g := newGen(sf, *flagSeed)
	failed := map[string]bool{}
	for _, s := range steps(g) {
		t0 := time.Now()
		if _, _, err := apply(ctx, pg, s); err != nil {
			t.Fatalf("PostgreSQL: step %s: %v", s.name, err)
		}
		if s.name == "dimensions" {
			for _, q := range pgIndexes {
				if err := exec(ctx, pg, q); err != nil {
					t.Fatalf("PostgreSQL: %v", err)
				}
			}
		}
		pgWrite := time.Since(t0)
		t0 = time.Now()
		slowest, which, err := apply(ctx, vd, s)
		if err != nil {
			if _, over := watch.Peak(); over {
				t.Fatalf("viewd passed %s of RSS during step %s and was killed", mb(*flagRSSCap), s.name)
			}
			t.Fatalf("viewd: step %s: %v", s.name, err)
		}
		vdWrite := time.Since(t0)
		// A read waits until the view is complete at a time after the
		// write: the first read of each view after the step measures its
		// maintenance.
		t0 = time.Now()
		for _, q := range qs {
			qctx, qcancel := context.WithTimeout(ctx, stmtTimeout)
			_, err := run(qctx, vd, "SELECT count(*) FROM "+q.name())
			qcancel()
			if err != nil && !failed[q.name()] {
				failed[q.name()] = true
				t.Errorf("step %s: %s: viewd: %v", s.name, q.name(), err)
			}
		}
		vdMaintain := time.Since(t0)
		var pgQueries time.Duration
		rowCounts := make([]string, 0, len(qs))
		for _, q := range qs {
			if failed[q.name()] {
				continue
			}
			qctx, qcancel := context.WithTimeout(ctx, stmtTimeout)
			t1 := time.Now()
			want, err := run(qctx, pg, q.sql)
			pgQueries += time.Since(t1)
			if err != nil {
				qcancel()
				t.Fatalf("PostgreSQL: %s: %v", q.name(), err)
			}
			got, err := run(qctx, vd, "SELECT * FROM "+q.name())
			qcancel()
			if err != nil {
				failed[q.name()] = true
				t.Errorf("step %s: %s: viewd: %v", s.name, q.name(), err)
				continue
			}
			c := compare(got, want)
			if c.typeDiffer != "" {
				t.Errorf("step %s: %s: column types differ: %s", s.name, q.name(), c.typeDiffer)
			}
			if c.diff != "" {
				failed[q.name()] = true
				t.Errorf("step %s: %s differs from PostgreSQL:\n%s\nquery:\n%s", s.name, q.name(), c.diff, q.sql)
				continue
			}
			rowCounts = append(rowCounts, fmt.Sprintf("%s:%d", q.name(), len(want.rows)))
		}
		rss := readRSS(vdSrv.Pid(), "VmRSS:")
		t.Logf("step %-12s %6d statements: viewd write %8v + maintain %8v (PostgreSQL: write %8v, 22 queries %8v); viewd RSS %s",
			s.name, len(s.stmts), vdWrite.Round(time.Millisecond), vdMaintain.Round(time.Millisecond),
			pgWrite.Round(time.Millisecond), pgQueries.Round(time.Millisecond), mb(rss))
		t.Logf("  slowest viewd statement %v: %.60s", slowest.Round(time.Millisecond), which)
		t.Logf("  arranged state: %s", stateReport(ctx, t, vd, 6))
		t.Logf("  rows: %s", strings.Join(rowCounts, " "))
	}
	t.Logf("arranged state by dataflow: %s", stateReport(ctx, t, vd, 100))
	peak, over := watch.Peak()
	if over {
		t.Errorf("viewd passed the RSS cap of %s", mb(*flagRSSCap))
	}
	t.Logf("SF %g: viewd peak RSS %s with %d views live", sf, mb(peak), len(qs))
}
