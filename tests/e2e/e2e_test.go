// Package e2e tests viewd as a user sees it: a viewd process started from
// the built binary, driven over pgwire by pgx and psql.
package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/viewd/viewd/internal/testenv"
	"github.com/viewd/viewd/internal/viewdtest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func exec1(t *testing.T, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(ctxT(t), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// rows returns the result as text lines "a|b|c", in result order.
func rows(t *testing.T, c *pgx.Conn, sql string, args ...any) []string {
	t.Helper()
	res := c.PgConn().ExecParams(ctxT(t), sql, nil, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatalf("%s: %v", sql, res.Err)
	}
	var out []string
	for _, r := range res.Rows {
		var vals []string
		for _, v := range r {
			if v == nil {
				vals = append(vals, "NULL")
			} else {
				vals = append(vals, string(v))
			}
		}
		out = append(out, strings.Join(vals, "|"))
	}
	return out
}

func expectRows(t *testing.T, c *pgx.Conn, sql string, want ...string) {
	t.Helper()
	got := rows(t, c, sql)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got: %q\nwant: %q", sql, got, want)
	}
}

func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

const schema = `
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, region text);
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, product_id int, qty int);
CREATE TABLE products (id int PRIMARY KEY, name text, price numeric(10,2));
INSERT INTO customers VALUES (1, 'ann', 'eu'), (2, 'bob', 'us'), (3, 'cy', 'eu');
INSERT INTO products VALUES (10, 'widget', 2.50), (11, 'gadget', 10.00);
INSERT INTO orders VALUES (100, 1, 10, 4), (101, 2, 11, 1), (102, 3, 11, 3), (103, 1, 11, 1);
CREATE MATERIALIZED VIEW revenue AS
  SELECT c.region, count(*) AS n, sum(o.qty * p.price) AS total
  FROM customers c JOIN orders o ON o.customer_id = c.id JOIN products p ON p.id = o.product_id
  GROUP BY c.region HAVING sum(o.qty * p.price) > 5;
`

// TestQuickstart is the README's tour: three tables, a maintained 3-way
// join with GROUP BY and HAVING, and changes that show up in the next read.
func TestQuickstart(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, schema)
	expectRows(t, c, "SELECT * FROM revenue ORDER BY region", "eu|3|50.00", "us|1|10.00") // sum of numeric(10,2) products keeps scale 2, as in PostgreSQL
	exec1(t, c, "INSERT INTO orders VALUES (104, 2, 10, 10)")
	exec1(t, c, "UPDATE products SET price = 1.00 WHERE id = 10")
	exec1(t, c, "DELETE FROM orders WHERE id = 102")
	expectRows(t, c, "SELECT * FROM revenue ORDER BY region", "eu|2|14.00", "us|2|20.00")
	// Rows that fall below the HAVING threshold leave the view.
	exec1(t, c, "DELETE FROM orders WHERE customer_id = 2")
	expectRows(t, c, "SELECT * FROM revenue ORDER BY region", "eu|2|14.00")

	// The same through psql, as the README shows.
	if _, err := exec.LookPath("psql"); err == nil {
		host, port, _ := strings.Cut(srv.Addr, ":")
		out, err := exec.Command("psql", "-h", host, "-p", port, "-U", "viewd", "-d", "viewd", "-A", "-t", "-c", "SELECT region, n FROM revenue").CombinedOutput()
		if err != nil {
			t.Fatalf("psql: %v\n%s", err, out)
		}
		if strings.TrimSpace(string(out)) != "eu|2" {
			t.Fatalf("psql output %q", out)
		}
	}
}

func TestConstraintsAndErrors(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE t (a int PRIMARY KEY, b text NOT NULL)")
	exec1(t, c, "INSERT INTO t VALUES (1, 'x')")
	cases := []struct{ sql, code string }{
		{"INSERT INTO t VALUES (1, 'y')", "23505"},
		{"INSERT INTO t VALUES (2, NULL)", "23502"},
		{"SELECT * FROM nope", "42P01"},
		{"SELECT nope FROM t", "42703"},
		{"SELEC 1", "42601"},
		{"SELECT 1/0", "22012"},
		{"SELECT 'abc'::int", "22P02"},
	}
	for _, tc := range cases {
		_, err := c.Exec(ctxT(t), tc.sql)
		if got := sqlstate(err); got != tc.code {
			t.Errorf("%s: SQLSTATE %q (%v), want %s", tc.sql, got, err, tc.code)
		}
	}
	// The syntax error carries the cursor position.
	_, err := c.Exec(ctxT(t), "SELECT 1 FROM t WHERE")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Position == 0 {
		t.Errorf("syntax error without a position: %v", err)
	}
	// Nothing of the failed statements took effect; the session goes on.
	expectRows(t, c, "SELECT * FROM t", "1|x")
	exec1(t, c, "INSERT INTO t VALUES (1, 'z') ON CONFLICT (a) DO UPDATE SET b = excluded.b")
	expectRows(t, c, "SELECT * FROM t", "1|z")
}

// TestStrictSerializable checks that a write acknowledged on one connection
// is visible to a read that starts afterwards on another.
func TestStrictSerializable(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	w, r := srv.Connect(t), srv.Connect(t)
	exec1(t, w, "CREATE TABLE t (a int)")
	exec1(t, w, "CREATE MATERIALIZED VIEW s AS SELECT count(*) AS n, sum(a) AS total FROM t")
	for i := 1; i <= 50; i++ {
		exec1(t, w, "INSERT INTO t VALUES ($1)", i)
		want := fmt.Sprintf("%d|%d", i, i*(i+1)/2)
		expectRows(t, r, "SELECT * FROM s", want)
	}
}

// TestTransactionsAtOneTimestamp: all writes of a transaction appear
// together; a concurrent SUBSCRIBE never sees half of one.
func TestTransactionsAtOneTimestamp(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE acct (id int PRIMARY KEY, bal int)")
	exec1(t, c, "INSERT INTO acct SELECT g, 100 FROM generate_series(1, 10) g")
	exec1(t, c, "CREATE MATERIALIZED VIEW total AS SELECT sum(bal) AS s FROM acct")
	sub := srv.Connect(t)
	tx, err := sub.Begin(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctxT(t), "DECLARE c CURSOR FOR SUBSCRIBE total"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		from, to := i%10+1, (i+3)%10+1
		exec1(t, c, "BEGIN")
		exec1(t, c, "UPDATE acct SET bal = bal - 7 WHERE id = $1", from)
		exec1(t, c, "UPDATE acct SET bal = bal + 7 WHERE id = $1", to)
		exec1(t, c, "COMMIT")
	}
	// Replay the subscription: the running total must stay 1000 at every
	// timestamp, and timestamps must not decrease.
	total := int64(0)
	lastTS := ""
	seen := 0
	for seen < 41 {
		rs, err := tx.Query(ctxT(t), "FETCH ALL c WITH (timeout = '2s')")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		byTS := map[string]int64{}
		var order []string
		for rs.Next() {
			var ts string
			var diff, s int64
			if err := rs.Scan(&ts, &diff, &s); err != nil {
				t.Fatal(err)
			}
			if _, ok := byTS[ts]; !ok {
				order = append(order, ts)
			}
			byTS[ts] += diff * s
			n++
		}
		if rs.Err() != nil {
			t.Fatal(rs.Err())
		}
		if n == 0 {
			break
		}
		for _, ts := range order {
			if lastTS != "" && len(ts) == len(lastTS) && ts < lastTS {
				t.Fatalf("timestamp went back: %s after %s", ts, lastTS)
			}
			lastTS = ts
			total += byTS[ts]
			if total != 1000 {
				t.Fatalf("at %s the subscribed total is %d, want 1000", ts, total)
			}
		}
		seen += n
	}
	if total != 1000 {
		t.Fatalf("total %d", total)
	}
}

// TestSubscribe streams changes through COPY (as psql does) with progress.
func TestSubscribe(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE t (a int, b text)")
	exec1(t, c, "INSERT INTO t VALUES (1, 'one')")
	sub := srv.Connect(t)
	ctx, cancel := context.WithCancel(ctxT(t))
	pr, pw := ioPipe()
	var wg sync.WaitGroup
	wg.Add(1)
	var copyErr error
	go func() {
		defer wg.Done()
		_, copyErr = sub.PgConn().CopyTo(ctx, pw, "COPY (SUBSCRIBE t WITH (PROGRESS)) TO STDOUT")
		pw.Close()
	}()
	lines := make(chan string, 1000)
	go func() {
		for {
			l, err := pr.ReadLine()
			if err != nil {
				close(lines)
				return
			}
			lines <- l
		}
	}()
	next := func(pred func([]string) bool) []string {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended: %v", copyErr)
				}
				f := strings.Split(l, "\t")
				if pred(f) {
					return f
				}
			case <-deadline:
				t.Fatal("timed out waiting for a SUBSCRIBE row")
			}
		}
	}
	data := func(f []string) bool { return len(f) == 5 && f[1] == "f" }
	snap := next(data)
	if snap[2] != "1" || snap[3] != "1" || snap[4] != "one" {
		t.Fatalf("snapshot row %q", snap)
	}
	prog := next(func(f []string) bool { return len(f) == 5 && f[1] == "t" })
	if prog[2] != `\N` {
		t.Fatalf("progress row %q", prog)
	}
	exec1(t, c, "INSERT INTO t VALUES (2, 'two')")
	ins := next(data)
	exec1(t, c, "DELETE FROM t WHERE a = 1")
	del := next(data)
	if ins[2] != "1" || ins[3] != "2" || del[2] != "-1" || del[3] != "1" {
		t.Fatalf("changes %q %q", ins, del)
	}
	if !(tsLess(snap[0], ins[0]) && tsLess(ins[0], del[0])) {
		t.Fatalf("timestamps not increasing: %s %s %s", snap[0], ins[0], del[0])
	}
	cancel()
	wg.Wait()
}

func tsLess(a, b string) bool { return len(a) < len(b) || (len(a) == len(b) && a < b) }

// TestRestartAndKill checks durability: acknowledged writes survive a
// clean restart and a kill -9, and views come back with them.
func TestRestartAndKill(t *testing.T) {
	dir := t.TempDir() + "/data"
	srv := viewdtest.Start(t, viewdtest.Options{DataDir: dir})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE t (a int PRIMARY KEY, b text)")
	exec1(t, c, "CREATE VIEW odd AS SELECT a FROM t WHERE a % 2 = 1")
	exec1(t, c, "CREATE MATERIALIZED VIEW cnt AS SELECT count(*) AS n FROM odd")
	exec1(t, c, "CREATE INDEX t_b ON t (b)")
	for i := 1; i <= 20; i++ {
		exec1(t, c, "INSERT INTO t VALUES ($1, $2)", i, fmt.Sprint("v", i))
	}
	exec1(t, c, "DELETE FROM t WHERE a > 15")
	c.Close(ctxT(t))
	srv.Stop()

	srv = viewdtest.Start(t, viewdtest.Options{DataDir: dir})
	c = srv.Connect(t)
	expectRows(t, c, "SELECT n FROM cnt", "8")
	expectRows(t, c, "SELECT count(*) FROM t", "15")
	for i := 16; i <= 30; i++ {
		exec1(t, c, "INSERT INTO t VALUES ($1, 'x')", i)
	}
	srv.Kill()

	srv = viewdtest.Start(t, viewdtest.Options{DataDir: dir})
	c = srv.Connect(t)
	expectRows(t, c, "SELECT count(*), max(a) FROM t", "30|30")
	expectRows(t, c, "SELECT n FROM cnt", "15")
	expectRows(t, c, "SHOW INDEXES", "t_b|t|default|{b}")
}

// TestExplainDeltaJoin: a 3-way join over inputs indexed on the join keys
// is planned as a delta join.
func TestExplainDeltaJoin(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, `CREATE TABLE a (id int, x int); CREATE TABLE b (id int, y int); CREATE TABLE c (id int, z int);
		CREATE INDEX a_id ON a (id); CREATE INDEX b_id ON b (id); CREATE INDEX c_id ON c (id)`)
	out := strings.Join(rows(t, c, "EXPLAIN PHYSICAL PLAN FOR SELECT a.x, b.y, c.z FROM a JOIN b ON a.id = b.id JOIN c ON b.id = c.id"), "\n")
	if !strings.Contains(strings.ToLower(out), "delta") {
		t.Fatalf("no delta join in:\n%s", out)
	}
	exec1(t, c, "INSERT INTO a VALUES (1, 10); INSERT INTO b VALUES (1, 20); INSERT INTO c VALUES (1, 30), (1, 31)")
	exec1(t, c, "CREATE MATERIALIZED VIEW abc AS SELECT a.x, b.y, c.z FROM a JOIN b ON a.id = b.id JOIN c ON b.id = c.id")
	expectRows(t, c, "SELECT * FROM abc ORDER BY z", "10|20|30", "10|20|31")
	exec1(t, c, "INSERT INTO b VALUES (1, 21)")
	expectRows(t, c, "SELECT count(*) FROM abc", "4")
}

// TestSubscribeThroughPsql streams a SUBSCRIBE with psql's COPY, as a user
// would type it, and checks the rows it prints before being stopped.
func TestSubscribeThroughPsql(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		testenv.SkipUnlessCI(t, "psql is not installed (Debian postgresql-client)")
	}
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE t (a int)")
	exec1(t, c, "INSERT INTO t VALUES (1)")
	host, port, _ := strings.Cut(srv.Addr, ":")
	ctx, cancel := context.WithTimeout(ctxT(t), 3*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", "-X", "-h", host, "-p", port, "-U", "viewd", "-d", "viewd", "-c", "COPY (SUBSCRIBE t) TO STDOUT")
	// Ctrl-C, as a user stops it: psql cancels the COPY and flushes what it
	// printed (a SIGKILL would lose its buffered output).
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1 * time.Second)
	exec1(t, c, "INSERT INTO t VALUES (2)")
	exec1(t, c, "DELETE FROM t WHERE a = 1")
	_ = cmd.Wait() // interrupted by the context after 3s
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var got []string
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) == 3 {
			got = append(got, f[1]+" "+f[2])
		}
	}
	if strings.Join(got, ",") != "1 1,1 2,-1 1" {
		t.Fatalf("psql printed %q", out.String())
	}
}
