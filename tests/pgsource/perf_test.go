package pgsource

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/viewdtest"
)

// TestSnapshot100K: the initial snapshot of a 100K-row table (1M with
// -pgsource.long) becomes visible whole; the test logs how long it took
// from CREATE SOURCE to the rows being readable, and the snapshot's own
// time as mz_source_statuses reports it. The machine is shared: the
// figures are noisy.
func TestSnapshot100K(t *testing.T) {
	n := 100_000
	if *long {
		n = 1_000_000
	}
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE big (id int PRIMARY KEY, a int, b text, c numeric(10,2), d timestamptz)")
	exec1(t, up, fmt.Sprintf("INSERT INTO big SELECT g, g %% 100, 'row ' || g, g / 100.0, '2026-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, %d) g", n))
	exec1(t, up, "CREATE PUBLICATION pub FOR TABLE big")
	_, v := startViewd(t, "")
	start := time.Now()
	createSource(t, v, pg, "src", "pub", "FOR ALL TABLES")
	want := fmt.Sprintf("%d|%d|%d", n, n, int64(n)*int64(n+1)/2)
	// The snapshot is one unit: a read sees none of it or all of it.
	viewdtest.WaitWhole(t, v, 120*time.Second, 10*time.Millisecond, "the snapshot",
		"SELECT count(*), count(DISTINCT b), sum(id) FROM big", "0|0|NULL", want)
	visible := time.Since(start)
	st := status(t, v, "src")
	t.Logf("snapshot of %d rows: visible %s after CREATE SOURCE (snapshot_time %s, %.0f rows/s)", n, visible.Round(time.Millisecond), st["snapshot_time"], float64(n)/visible.Seconds())
	// The pg answer for the same rows.
	var pgSum string
	if err := up.QueryRow(ctxT(t, 10*time.Second), "SELECT sum(c)::text FROM big").Scan(&pgSum); err != nil {
		t.Fatal(err)
	}
	eventually(t, v, 5*time.Second, "SELECT sum(c) = "+pgSum+" FROM big", []string{"t"})
}

// TestThroughputLag: a writer commits transactions of 10 rows at a steady
// rate; a poller in viewd records when each transaction becomes visible.
// The test logs the lag from upstream commit to visible in viewd (p50,
// p99) and then the throughput of a backlog of rows inserted in 1000-row
// transactions. Figures are from a shared machine.
func TestThroughputLag(t *testing.T) {
	dur, rate := 5*time.Second, 200 // transactions per second
	backlog := 100_000
	if *long {
		dur, rate, backlog = 30*time.Second, 500, 1_000_000
	}
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE tick (txn int, k int, payload text, PRIMARY KEY (txn, k))")
	exec1(t, up, "CREATE TABLE bulk (id int PRIMARY KEY, payload text)")
	exec1(t, up, "CREATE PUBLICATION pub FOR ALL TABLES")
	_, v := startViewd(t, "")
	createSource(t, v, pg, "src", "pub", "FOR ALL TABLES")
	eventually(t, v, 20*time.Second, "SELECT count(*) FROM tick", []string{"0"})

	ctx, cancel := context.WithTimeout(context.Background(), dur+60*time.Second)
	defer cancel()
	total := int(dur.Seconds()) * rate
	committed := make([]time.Time, total+1)
	var mu sync.Mutex
	go func() {
		w := connect(t, pg)
		tk := time.NewTicker(time.Second / time.Duration(rate))
		defer tk.Stop()
		for i := 1; i <= total && ctx.Err() == nil; i++ {
			<-tk.C
			b := &pgx.Batch{}
			b.Queue("BEGIN")
			b.Queue("INSERT INTO tick SELECT $1, g, repeat('x', 40) FROM generate_series(1, 10) g", i)
			b.Queue("COMMIT")
			if err := w.SendBatch(ctx, b).Close(); err != nil {
				if ctx.Err() == nil {
					t.Errorf("writer: %v", err)
				}
				return
			}
			mu.Lock()
			committed[i] = time.Now()
			mu.Unlock()
		}
	}()
	visible := make([]time.Time, total+1)
	seen := 0
	for seen < total && ctx.Err() == nil {
		out, err := query(v, "SELECT coalesce(max(txn), 0) FROM tick")
		if err != nil {
			t.Fatal(err)
		}
		m, _ := strconv.Atoi(out[0])
		now := time.Now()
		for i := seen + 1; i <= m; i++ {
			visible[i] = now
		}
		if m > seen {
			seen = m
		}
		time.Sleep(time.Millisecond)
	}
	var lags []time.Duration
	mu.Lock()
	for i := 1; i <= total; i++ {
		if !committed[i].IsZero() && !visible[i].IsZero() {
			lags = append(lags, visible[i].Sub(committed[i]))
		}
	}
	mu.Unlock()
	if len(lags) < total/2 {
		t.Fatalf("only %d of %d transactions measured", len(lags), total)
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	pct := func(p float64) time.Duration { return lags[int(p*float64(len(lags)-1))] }
	t.Logf("steady %d txn/s (%d rows/s) for %s: lag commit->visible p50 %s p99 %s max %s (%d txns)",
		rate, rate*10, dur, pct(0.5).Round(100*time.Microsecond), pct(0.99).Round(100*time.Microsecond), lags[len(lags)-1].Round(time.Millisecond), len(lags))
	eventually(t, v, 20*time.Second, "SELECT count(*) FROM tick", []string{fmt.Sprint(total * 10)})

	// Throughput: a backlog of 1000-row transactions, from the first
	// commit to all rows visible.
	start := time.Now()
	for i := 0; i < backlog; i += 1000 {
		exec1(t, up, fmt.Sprintf("INSERT INTO bulk SELECT g, repeat('y', 40) FROM generate_series(%d, %d) g", i+1, i+1000))
	}
	written := time.Since(start)
	eventually(t, v, 300*time.Second, "SELECT count(*) FROM bulk", []string{fmt.Sprint(backlog)})
	took := time.Since(start)
	t.Logf("backlog of %d rows in %d transactions: upstream wrote it in %s, visible in viewd after %s: %.0f rows/s replicated",
		backlog, backlog/1000, written.Round(time.Millisecond), took.Round(time.Millisecond), float64(backlog)/took.Seconds())
}
