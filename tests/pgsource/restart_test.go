package pgsource

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestKillRestarts: viewd is killed (kill -9) 20 times while a writer
// commits upstream transactions, each inserting one ledger row (keyed),
// one event row (keyless, so a transaction applied twice would show as a
// duplicate) and incrementing one counter. After each restart reads see
// the three tables agree (no transaction split, lost or doubled), and at
// the end viewd equals the upstream exactly.
func TestKillRestarts(t *testing.T) {
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE ledger (id bigint PRIMARY KEY, v int)")
	exec1(t, up, "CREATE TABLE events (i bigint, note text)")
	exec1(t, up, "CREATE TABLE counters (k int PRIMARY KEY, n bigint)")
	exec1(t, up, "INSERT INTO counters SELECT g, 0 FROM generate_series(0, 9) g")
	exec1(t, up, "CREATE PUBLICATION pub FOR ALL TABLES")
	srv, v := startViewd(t, "")
	dataDir := srv.DataDir
	createSource(t, v, pg, "src", "pub", "FOR ALL TABLES")
	// Before the source's snapshot is durable, a restart shows its tables
	// empty (a consistent, earlier time): counters' sum is then 0, not NULL.
	exec1(t, v, "CREATE MATERIALIZED VIEW agree AS SELECT (SELECT count(*) FROM ledger) AS l, (SELECT count(*) FROM events) AS e, (SELECT coalesce(sum(n), 0) FROM counters) AS c")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var written atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w := connect(t, pg)
		for i := int64(1); ctx.Err() == nil; i++ {
			err := pgx.BeginFunc(ctx, w, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "INSERT INTO ledger VALUES ($1, $2)", i, i%7); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, "INSERT INTO events VALUES ($1, $2)", i, fmt.Sprint("e", i)); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "UPDATE counters SET n = n + 1 WHERE k = $1", i%10)
				return err
			})
			if err != nil {
				if ctx.Err() == nil {
					t.Errorf("writer: %v", err)
				}
				return
			}
			written.Store(i)
			time.Sleep(time.Millisecond)
		}
	}()
	rng := rand.New(rand.NewSource(1))
	checkAgree := func(c *pgx.Conn, step string) {
		t.Helper()
		out, err := query(c, "SELECT l = e AND e = c, l FROM agree")
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if len(out) != 1 || out[0][:1] != "t" {
			t.Fatalf("%s: tables disagree: %v", step, out)
		}
	}
	restarts := 20
	for r := 0; r < restarts; r++ {
		time.Sleep(time.Duration(100+rng.Intn(400)) * time.Millisecond)
		srv.Kill()
		srv, v = startViewd(t, dataDir)
		// Right after the restart: consistent, and catching up.
		for k := 0; k < 5; k++ {
			checkAgree(v, fmt.Sprintf("restart %d", r+1))
			time.Sleep(20 * time.Millisecond)
		}
	}
	cancel()
	wg.Wait()
	// The writer's last COMMIT may have reached the upstream even though its
	// cancelled context made it report an error, so the upstream, not the
	// writer's count, says how many transactions committed: exactly 1..n.
	n := written.Load()
	up2 := connect(t, pg)
	got, err := query(up2, "SELECT count(*), count(DISTINCT i), sum(i), max(i) FROM events")
	if err != nil {
		t.Fatal(err)
	}
	var cnt, distinct, sum, last int64
	if len(got) != 1 {
		t.Fatalf("upstream: %v", got)
	}
	if _, err := fmt.Sscanf(got[0], "%d|%d|%d|%d", &cnt, &distinct, &sum, &last); err != nil {
		t.Fatalf("upstream %q: %v", got[0], err)
	}
	if last < n || last > n+1 || cnt != last || distinct != last || sum != last*(last+1)/2 {
		t.Fatalf("upstream holds %s, want transactions 1..%d (or %d)", got[0], n, n+1)
	}
	n = last
	exec1(t, v, "SET real_time_recency = on")
	want := fmt.Sprintf("%d|%d|%d", n, n, n*(n+1)/2)
	eventually(t, v, 30*time.Second, "SELECT count(*), count(DISTINCT i), sum(i) FROM events", []string{want})
	eventually(t, v, 5*time.Second, "SELECT count(*), sum(id) FROM ledger", []string{fmt.Sprintf("%d|%d", n, n*(n+1)/2)})
	eventually(t, v, 5*time.Second, "SELECT l, e, c FROM agree", []string{fmt.Sprintf("%d|%d|%d", n, n, n)})
	t.Logf("%d kill -9 restarts during the stream; %d upstream transactions, none lost or doubled", restarts, n)
}
