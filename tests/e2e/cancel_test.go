package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/viewd/viewd/internal/viewdtest"
)

// Cancellation of running queries, seen from a client: each kind of long
// read (a transient dataflow, a streamed result, a wait for a future
// timestamp) is stopped each way a client can stop it (CancelRequest,
// statement_timeout, pg_cancel_backend, pg_terminate_backend, going
// away), promptly, and the server goes on serving.

// cancelSlack is how soon after the cancel a query must end: DESIGN.md
// asks for 100 ms; the slack is for a shared 2-core machine.
const cancelSlack = 300 * time.Millisecond

// cancelWay is one way to stop a running query.
type cancelWay string

const (
	viaCancelRequest cancelWay = "CancelRequest"
	viaTimeout       cancelWay = "statement_timeout"
	viaPgCancel      cancelWay = "pg_cancel_backend"
	viaPgTerminate   cancelWay = "pg_terminate_backend"
	viaDisconnect    cancelWay = "disconnect"
)

var cancelWays = []cancelWay{viaCancelRequest, viaTimeout, viaPgCancel, viaPgTerminate, viaDisconnect}

// longRead is one kind of long-running read.
type longRead struct {
	sql string
	// copy: the statement is a COPY TO STDOUT whose rows stream; the
	// read counts as running once minRows rows have arrived.
	copy    bool
	minRows int64
	// warmup is how long the read runs before the cancel, once active.
	warmup time.Duration
}

// running is a long read in flight on the victim's connection.
type running struct {
	started time.Time
	done    chan struct{}
	err     error
	end     time.Time
	rows    atomic.Int64
	first   atomic.Int64 // unix nanos of the first byte, 0 before
}

// lineCounter is COPY's destination: it counts rows (lines).
type lineCounter struct{ r *running }

func (w lineCounter) Write(p []byte) (int, error) {
	if w.r.first.Load() == 0 {
		w.r.first.Store(time.Now().UnixNano())
	}
	w.r.rows.Add(int64(bytes.Count(p, []byte{'\n'})))
	return len(p), nil
}

func startRead(conn *pgx.Conn, rd longRead) *running {
	r := &running{started: time.Now(), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		if rd.copy {
			_, r.err = conn.PgConn().CopyTo(ctx, lineCounter{r}, rd.sql)
		} else {
			r.err = conn.PgConn().Exec(ctx, rd.sql).Close()
		}
		r.end = time.Now()
	}()
	return r
}

// backendPid returns the session's pg_backend_pid().
func backendPid(t *testing.T, c *pgx.Conn) int32 {
	t.Helper()
	var pid int32
	if err := c.QueryRow(ctxT(t), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatalf("pg_backend_pid(): %v", err)
	}
	if pid <= 0 {
		t.Fatalf("pg_backend_pid() = %d", pid)
	}
	return pid
}

// activityOf returns pid's state and query in pg_stat_activity, or
// ok=false when the session is not listed.
func activityOf(t *testing.T, c *pgx.Conn, pid int32) (state, query string, ok bool) {
	t.Helper()
	err := c.QueryRow(ctxT(t), "SELECT state, query FROM pg_stat_activity WHERE pid = $1", pid).Scan(&state, &query)
	if err == pgx.ErrNoRows {
		return "", "", false
	}
	if err != nil {
		t.Fatalf("pg_stat_activity: %v", err)
	}
	return state, query, true
}

// waitActive waits until pid runs sql (pg_stat_activity says 'active').
func waitActive(t *testing.T, admin *pgx.Conn, pid int32, r *running, sql string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			t.Fatalf("%s ended before it was cancelled: %v", sql, r.err)
		default:
		}
		if state, query, ok := activityOf(t, admin, pid); ok && state == "active" && query == sql {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d never showed as active running %s", pid, sql)
}

// vmRSS returns the resident set size of process pid, failing the test
// when it cannot be read (call it from the test's goroutine).
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	n, err := readRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// readRSS returns the resident set size of process pid.
func readRSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// cancelEnv is a server with the table t(id, k) of 200K rows, k = id % 100,
// indexed by id.
type cancelEnv struct {
	srv   *viewdtest.Server
	admin *pgx.Conn
}

func newCancelEnv(t *testing.T) *cancelEnv {
	srv := viewdtest.Start(t, viewdtest.Options{})
	admin := srv.Connect(t)
	exec1(t, admin, "CREATE TABLE t (id int PRIMARY KEY, k int)")
	exec1(t, admin, "INSERT INTO t SELECT i, i % 100 FROM generate_series(1, 200000) i")
	// Point lookups read this index (the table's primary key alone gives a
	// scan).
	exec1(t, admin, "CREATE INDEX t_id ON t (id)")
	return &cancelEnv{srv: srv, admin: admin}
}

// pointLookup times a primary-key lookup on the admin connection.
func (e *cancelEnv) pointLookup(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	var k int32
	if err := e.admin.QueryRow(ctxT(t), "SELECT k FROM t WHERE id = 4242").Scan(&k); err != nil || k != 42 {
		t.Fatalf("point lookup: k=%d err=%v", k, err)
	}
	return time.Since(start)
}

// cancelOne runs rd on a fresh connection, stops it the given way and
// checks that it ends within cancelSlack with the right error, and that
// the server (and, when it survives, the session) keeps working. check,
// if set, runs while the read streams, before the cancel.
func (e *cancelEnv) cancelOne(t *testing.T, rd longRead, way cancelWay, check func(r *running)) {
	ctx := ctxT(t)
	victim := e.srv.Connect(t)
	pid := backendPid(t, victim)
	if way == viaTimeout {
		exec1(t, victim, "SET statement_timeout = '1s'")
	}
	r := startRead(victim, rd)
	if rd.copy {
		deadline := time.Now().Add(15 * time.Second)
		for r.rows.Load() < rd.minRows {
			select {
			case <-r.done:
				t.Fatalf("%s ended after %d rows: %v", rd.sql, r.rows.Load(), r.err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: only %d rows within 15s", rd.sql, r.rows.Load())
			}
			time.Sleep(2 * time.Millisecond)
		}
		first := time.Duration(r.first.Load() - r.started.UnixNano())
		t.Logf("first rows after %v", first.Round(time.Millisecond))
		if first > time.Second {
			t.Errorf("first rows arrived after %v, want < 1s", first)
		}
	} else if way != viaTimeout {
		waitActive(t, e.admin, pid, r, rd.sql)
		time.Sleep(rd.warmup) // deep in its work
	}
	if check != nil {
		check(r)
	}

	var cancelAt time.Time
	switch way {
	case viaCancelRequest:
		cancelAt = time.Now()
		if err := victim.PgConn().CancelRequest(ctx); err != nil {
			t.Fatalf("CancelRequest: %v", err)
		}
	case viaTimeout:
		cancelAt = r.started.Add(time.Second)
	case viaPgCancel, viaPgTerminate:
		var ok bool
		cancelAt = time.Now()
		if err := e.admin.QueryRow(ctx, "SELECT "+string(way)+"($1)", pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("%s(%d) = %v, %v", way, pid, ok, err)
		}
	case viaDisconnect:
		cancelAt = time.Now()
		if err := victim.PgConn().Conn().Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}

	if way == viaDisconnect {
		// The server must notice and stop the work: the session goes away
		// and a point lookup stays fast meanwhile.
		var slowest time.Duration
		for {
			slowest = max(slowest, e.pointLookup(t))
			if _, _, ok := activityOf(t, e.admin, pid); !ok {
				break
			}
			if time.Since(cancelAt) > 5*time.Second {
				t.Fatalf("session %d still listed 5s after its client went away", pid)
			}
			time.Sleep(5 * time.Millisecond)
		}
		took := time.Since(cancelAt)
		t.Logf("%s: session gone %v after the disconnect; slowest point lookup meanwhile %v", way, took.Round(time.Millisecond), slowest.Round(time.Millisecond))
		if took > cancelSlack {
			t.Errorf("session ended %v after the disconnect, want < %v", took, cancelSlack)
		}
		if slowest > 100*time.Millisecond {
			t.Errorf("a point lookup took %v while the disconnected read stopped", slowest)
		}
		<-r.done
	} else {
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: still running 10s after %s", rd.sql, way)
		}
		took := r.end.Sub(cancelAt)
		t.Logf("%s: ended %v after the cancel (%v after it started; %d rows)", way, took.Round(time.Millisecond), r.end.Sub(r.started).Round(time.Millisecond), r.rows.Load())
		if took > cancelSlack {
			t.Errorf("ended %v after %s, want < %v", took, way, cancelSlack)
		}
		if way == viaTimeout && took < 0 {
			t.Errorf("statement_timeout fired %v early", -took)
		}
		wantCode, wantMsg := "57014", "canceling statement due to user request"
		switch way {
		case viaTimeout:
			wantMsg = "canceling statement due to statement timeout"
		case viaPgTerminate:
			wantCode, wantMsg = "57P01", "terminating connection due to administrator command"
		}
		if r.err == nil || sqlstate(r.err) != wantCode || !strings.Contains(r.err.Error(), wantMsg) {
			t.Fatalf("%s: got %v, want %s %q", way, r.err, wantCode, wantMsg)
		}
		if way == viaPgTerminate {
			if !victim.PgConn().IsClosed() {
				// pgx closes the connection on a FATAL; the server must too.
				if err := victim.Ping(ctx); err == nil {
					t.Fatalf("the terminated connection still answers")
				}
			}
			if _, _, ok := activityOf(t, e.admin, pid); ok {
				time.Sleep(50 * time.Millisecond)
				if _, _, ok := activityOf(t, e.admin, pid); ok {
					t.Fatalf("terminated session %d is still listed", pid)
				}
			}
		} else {
			// The session goes on, idle.
			var one int
			if err := victim.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("the session does not go on after %s: %v", way, err)
			}
			if state, query, ok := activityOf(t, e.admin, pid); !ok || state != "idle" || query != "SELECT 1" {
				t.Fatalf("after %s, pg_stat_activity shows %q %q %v, want idle SELECT 1", way, state, query, ok)
			}
		}
	}
	// The server keeps working.
	var n int64
	if err := e.admin.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 200000 {
		t.Fatalf("after %s: count(*) = %d, %v", way, n, err)
	}
}

// TestCancelStream cancels a COPY whose rows stream to the client. The
// first rows arrive within 1 s and the server's memory stays bounded while
// 5 M rows stream.
func TestCancelStream(t *testing.T) {
	e := newCancelEnv(t)
	pid := e.srv.Pid()
	base := vmRSS(t, pid)
	rd := longRead{sql: "COPY (SELECT i FROM generate_series(1, 30000000) i) TO STDOUT", copy: true, minRows: 200_000}
	for _, way := range cancelWays {
		t.Run(string(way), func(t *testing.T) {
			rd := rd
			var check func(*running)
			if way == viaCancelRequest {
				// Let 5 M rows stream, watching the server's RSS.
				rd.minRows = 5_000_000
				peak := watchRSS(pid)
				check = func(r *running) {
					p := peak()
					took := time.Since(r.started)
					t.Logf("%d rows streamed in %v; viewd RSS %d MB before, peak %d MB", r.rows.Load(), took.Round(time.Millisecond), base>>20, p>>20)
					if p >= 300<<20 {
						t.Errorf("viewd's RSS peaked at %d MB while rows streamed, want < 300 MB", p>>20)
					}
				}
			}
			e.cancelOne(t, rd, way, check)
		})
	}
}

// TestCancelDataflow cancels a transient dataflow: a join of 400 M pairs
// (k = id % 100), each pair filtered inside the join (the filter reads
// both sides), so that the work is real but its state is not: the
// server's RSS stays bounded while it runs, and point lookups stay fast.
func TestCancelDataflow(t *testing.T) {
	e := newCancelEnv(t)
	pid := e.srv.Pid()
	base := vmRSS(t, pid)
	rd := longRead{sql: "SELECT count(*) FROM t a JOIN t b ON a.k = b.k WHERE a.id + b.id < 0", warmup: 500 * time.Millisecond}
	for _, way := range cancelWays {
		t.Run(string(way), func(t *testing.T) {
			rd := rd
			var check func(*running)
			if way == viaCancelRequest {
				// Let it run 2 s, watching the server's RSS.
				rd.warmup = 2 * time.Second
				peak := watchRSS(pid)
				check = func(*running) {
					p := peak()
					t.Logf("viewd RSS %d MB before, peak %d MB while the join ran", base>>20, p>>20)
					// Materialising the pairs before filtering them took
					// it past 1 GB.
					if p >= 300<<20 {
						t.Errorf("viewd's RSS peaked at %d MB while the join ran, want < 300 MB", p>>20)
					}
				}
			}
			e.cancelOne(t, rd, way, check)
		})
	}
}

// watchRSS samples process pid's RSS every 20 ms until the returned
// function is called, which returns the peak.
func watchRSS(pid int) (peak func() int64) {
	var top atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			// Not t.Fatal: this goroutine is not the test's.
			if n, err := readRSS(pid); err == nil && n > top.Load() {
				top.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() int64 {
		close(stop)
		wg.Wait()
		return top.Load()
	}
}

// TestCancelAsOfWait cancels a read waiting for a timestamp 60 s ahead.
func TestCancelAsOfWait(t *testing.T) {
	e := newCancelEnv(t)
	for _, way := range cancelWays {
		t.Run(string(way), func(t *testing.T) {
			rd := longRead{sql: fmt.Sprintf("SELECT count(*) FROM t AS OF %d", time.Now().Add(60*time.Second).UnixMilli()), warmup: 100 * time.Millisecond}
			e.cancelOne(t, rd, way, nil)
		})
	}
}

// TestPgStatActivity checks pg_stat_activity's rows for two sessions, and
// pg_cancel_backend and pg_terminate_backend as PostgreSQL has them.
func TestPgStatActivity(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	ctx := ctxT(t)
	var mu sync.Mutex
	var notices []string
	connect := func(app string) *pgx.Conn {
		cfg, err := pgx.ParseConfig(srv.URL() + "&application_name=" + app)
		if err != nil {
			t.Fatal(err)
		}
		cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) {
			mu.Lock()
			notices = append(notices, n.Severity+" "+n.Code+" "+n.Message)
			mu.Unlock()
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	a, b := connect("watcher"), connect("worker")
	pidA, pidB := backendPid(t, a), backendPid(t, b)
	if pidA == pidB {
		t.Fatalf("two sessions share pid %d", pidA)
	}

	// The columns are PostgreSQL 15's.
	res := a.PgConn().ExecParams(ctx, "SELECT * FROM pg_stat_activity", nil, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var names []string
	for _, f := range res.FieldDescriptions {
		names = append(names, f.Name)
	}
	want := "datid datname pid leader_pid usesysid usename application_name client_addr client_hostname client_port " +
		"backend_start xact_start query_start state_change wait_event_type wait_event state backend_xid backend_xmin query_id query backend_type"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("pg_stat_activity columns:\n got %s\nwant %s", got, want)
	}

	// Both sessions, each with its pid, user, application, address; the
	// reader's own row is active with its own text, the other idle with
	// its last statement.
	q := "SELECT pid, datname, usename, application_name, client_addr, client_port, backend_type, state, query, " +
		"backend_start <= now(), xact_start IS NOT NULL, wait_event FROM pg_stat_activity ORDER BY application_name"
	expectRows(t, a, q,
		fmt.Sprintf("%d|viewd|viewd|watcher|127.0.0.1|%s|client backend|active|%s|t|t|NULL", pidA, portOf(a), q),
		fmt.Sprintf("%d|viewd|viewd|worker|127.0.0.1|%s|client backend|idle|SELECT pg_backend_pid()|t|f|ClientRead", pidB, portOf(b)))

	stateOf := func() (string, string, bool) {
		var state, query string
		var inTxn bool
		if err := a.QueryRow(ctx, "SELECT state, query, xact_start IS NOT NULL FROM pg_stat_activity WHERE pid = $1", pidB).Scan(&state, &query, &inTxn); err != nil {
			t.Fatalf("pg_stat_activity: %v", err)
		}
		return state, query, inTxn
	}
	expectState := func(state, query string, inTxn bool) {
		t.Helper()
		if s, q, x := stateOf(); s != state || q != query || x != inTxn {
			t.Fatalf("worker: got %q %q xact=%v, want %q %q xact=%v", s, q, x, state, query, inTxn)
		}
	}
	exec1(t, b, "BEGIN")
	expectState("idle in transaction", "BEGIN", true)
	if _, err := b.Exec(ctx, "SELECT 1/0"); sqlstate(err) != "22012" {
		t.Fatalf("SELECT 1/0: %v", err)
	}
	expectState("idle in transaction (aborted)", "SELECT 1/0", true)
	exec1(t, b, "ROLLBACK")
	expectState("idle", "ROLLBACK", false)

	// A long statement shows as active with its text until cancelled.
	long := fmt.Sprintf("SELECT 1 AS OF %d", time.Now().Add(60*time.Second).UnixMilli())
	r := startRead(b, longRead{sql: long})
	waitActive(t, a, pidB, r, long)
	expectState("active", long, true)
	var ok bool
	if err := a.QueryRow(ctx, "SELECT pg_cancel_backend($1)", pidB).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_cancel_backend = %v, %v", ok, err)
	}
	<-r.done
	if sqlstate(r.err) != "57014" {
		t.Fatalf("cancelled statement: %v", r.err)
	}
	expectState("idle", long, false)

	// Unknown pids: false, with PostgreSQL's WARNING.
	expectRows(t, a, "SELECT pg_cancel_backend(999999), pg_terminate_backend(999999)", "f|f")
	mu.Lock()
	got := strings.Join(notices, "\n")
	mu.Unlock()
	if want := "WARNING 01000 PID 999999 is not a PostgreSQL backend process\nWARNING 01000 PID 999999 is not a PostgreSQL backend process"; got != want {
		t.Fatalf("notices:\n got %q\nwant %q", got, want)
	}
	if _, err := a.Exec(ctx, "SELECT pg_terminate_backend(1, -1)"); sqlstate(err) != "22023" {
		t.Fatalf("negative timeout: %v", err)
	}
	// The functions are volatile: no maintained view may call them.
	if _, err := a.Exec(ctx, "CREATE MATERIALIZED VIEW mv AS SELECT pg_cancel_backend(1)"); err == nil {
		t.Fatalf("a materialized view calls pg_cancel_backend")
	}

	// application_name follows SET.
	exec1(t, a, "SET application_name = 'renamed'")
	expectRows(t, a, "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()", "renamed")

	// Terminating with a timeout waits until the session is gone.
	expectRows(t, a, fmt.Sprintf("SELECT pg_terminate_backend(%d, 5000)", pidB), "t")
	expectRows(t, a, "SELECT count(*), min(pid) FROM pg_stat_activity", fmt.Sprintf("1|%d", pidA))
	if err := b.Ping(ctx); err == nil {
		t.Fatalf("the terminated session still answers")
	}
}

// portOf returns the local port of a client connection.
func portOf(c *pgx.Conn) string {
	_, port, _ := strings.Cut(c.PgConn().Conn().LocalAddr().String(), ":")
	return port
}
