package pgsource

import (
	"context"
	"flag"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

var long = flag.Bool("pgsource.long", false, "run the long variants (more reads, rows and time)")

// TestBank: 100 accounts in two upstream tables; each transfer moves an
// amount between two accounts (often across the tables) in one upstream
// transaction. Concurrent readers of a view and of a materialized view of
// the total must never see a total other than the initial one: each
// upstream transaction lands at one viewd timestamp across both tables.
func TestBank(t *testing.T) {
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE accounts_a (id int PRIMARY KEY, bal bigint NOT NULL)")
	exec1(t, up, "CREATE TABLE accounts_b (id int PRIMARY KEY, bal bigint NOT NULL)")
	exec1(t, up, "INSERT INTO accounts_a SELECT g, 1000 FROM generate_series(0, 49) g")
	exec1(t, up, "INSERT INTO accounts_b SELECT g, 1000 FROM generate_series(50, 99) g")
	exec1(t, up, "CREATE PUBLICATION bank FOR TABLE accounts_a, accounts_b")
	_, v := startViewd(t, "")
	createSource(t, v, pg, "bank", "bank", "FOR TABLES (public.accounts_a, accounts_b)")
	exec1(t, v, "CREATE VIEW total AS SELECT sum(bal) AS s, count(*) AS n FROM (SELECT bal FROM accounts_a UNION ALL SELECT bal FROM accounts_b) u")
	exec1(t, v, "CREATE MATERIALIZED VIEW total_mv AS SELECT sum(bal) AS s, count(*) AS n FROM (SELECT bal FROM accounts_a UNION ALL SELECT bal FROM accounts_b) u")
	eventually(t, v, 20*time.Second, "SELECT s, n FROM total", []string{"100000|100"})

	reads := 10000
	if *long {
		reads = 100000
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var transfers atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			c := connect(t, pg)
			rng := rand.New(rand.NewSource(seed))
			for ctx.Err() == nil {
				from, to := rng.Intn(100), rng.Intn(100)
				if from == to {
					continue
				}
				amt := 1 + rng.Intn(50)
				tbl := func(id int) string {
					if id < 50 {
						return "accounts_a"
					}
					return "accounts_b"
				}
				err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
					// Lock in id order: no deadlocks between the writers.
					a, b := from, to
					if a > b {
						a, b = b, a
					}
					for _, id := range []int{a, b} {
						if _, err := tx.Exec(ctx, fmt.Sprintf("SELECT 1 FROM %s WHERE id = $1 FOR UPDATE", tbl(id)), id); err != nil {
							return err
						}
					}
					if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s SET bal = bal - $1 WHERE id = $2", tbl(from)), amt, from); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s SET bal = bal + $1 WHERE id = $2", tbl(to)), amt, to)
					return err
				})
				if err != nil {
					if ctx.Err() == nil {
						t.Errorf("transfer: %v", err)
					}
					return
				}
				transfers.Add(1)
				// A steady rate rather than saturation: the point is
				// consistency while transactions stream.
				time.Sleep(2 * time.Millisecond)
			}
		}(int64(w + 1))
	}
	var done, anomalies atomic.Int64
	var rwg sync.WaitGroup
	start := time.Now()
	for r := 0; r < 4; r++ {
		rwg.Add(1)
		go func(r int) {
			defer rwg.Done()
			c := viewdConn(t, v)
			q := "SELECT s, n FROM total"
			if r%2 == 1 {
				q = "SELECT s, n FROM total_mv"
			}
			for done.Load() < int64(reads) {
				out, err := query(c, q)
				if err != nil {
					t.Errorf("read: %v", err)
					return
				}
				if len(out) != 1 || out[0] != "100000|100" {
					anomalies.Add(1)
					t.Errorf("anomaly: %s gave %v", q, out)
				}
				done.Add(1)
			}
		}(r)
	}
	rwg.Wait()
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	if transfers.Load() < 100 {
		t.Fatalf("only %d transfers ran during the reads", transfers.Load())
	}
	t.Logf("%d reads of the total (view and materialized view) in %s during %d upstream transfers: %d anomalies",
		done.Load(), elapsed.Round(time.Millisecond), transfers.Load(), anomalies.Load())
	// And the final balances are upstream's.
	var want []string
	rs, err := up.Query(ctxT(t, 10*time.Second), "SELECT id, bal FROM accounts_a UNION ALL SELECT id, bal FROM accounts_b ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var id int
		var bal int64
		if err := rs.Scan(&id, &bal); err != nil {
			t.Fatal(err)
		}
		want = append(want, fmt.Sprintf("%d|%d", id, bal))
	}
	// The backlog first (a race-built viewd may be minutes behind), then
	// a real-time-recency read must agree at once.
	q := "SELECT id, bal FROM accounts_a UNION ALL SELECT id, bal FROM accounts_b ORDER BY id"
	eventually(t, v, 5*time.Minute, q, want)
	exec1(t, v, "SET real_time_recency = on")
	if got := rows(t, v, q); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("real-time-recency read of the final balances: %s", abbrev(got))
	}
}
