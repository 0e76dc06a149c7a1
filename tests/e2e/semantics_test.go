package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/internal/viewdtest"
)

// TestKeyFreedInItsTransaction: a key inserted and deleted in one
// transaction is free once it commits, and stays free across a restart
// (it once stayed taken, 23505, until a restart).
func TestKeyFreedInItsTransaction(t *testing.T) {
	dir := t.TempDir() + "/data"
	srv := viewdtest.Start(t, viewdtest.Options{DataDir: dir})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE kd (k int PRIMARY KEY, v text)")
	exec1(t, c, "BEGIN")
	exec1(t, c, "INSERT INTO kd VALUES (1, 'a'), (5, 'a')")
	exec1(t, c, "DELETE FROM kd WHERE k = 1")
	exec1(t, c, "UPDATE kd SET k = 6 WHERE k = 5")
	exec1(t, c, "DELETE FROM kd WHERE k = 6")
	exec1(t, c, "COMMIT")
	exec1(t, c, "INSERT INTO kd VALUES (1, 'b')")
	expectRows(t, c, "SELECT k, v FROM kd ORDER BY k", "1|b")
	c.Close(ctxT(t))
	srv.Stop()

	srv = viewdtest.Start(t, viewdtest.Options{DataDir: dir})
	c = srv.Connect(t)
	exec1(t, c, "INSERT INTO kd VALUES (5, 'c'), (6, 'c')")
	if _, err := c.Exec(ctxT(t), "INSERT INTO kd VALUES (1, 'd')"); sqlstate(err) != "23505" {
		t.Fatalf("duplicate key after restart: %v, want 23505", err)
	}
	exec1(t, c, "BEGIN")
	exec1(t, c, "INSERT INTO kd VALUES (7, 'e')")
	exec1(t, c, "DELETE FROM kd WHERE k = 7")
	exec1(t, c, "COMMIT")
	exec1(t, c, "INSERT INTO kd VALUES (7, 'f')")
	expectRows(t, c, "SELECT k, v FROM kd ORDER BY k", "1|b", "5|c", "6|c", "7|f")
}

// TestNowIsWallClock: now(), current_timestamp and current_date are the
// statement's wall-clock time (they once read 1970-01-01), in a plain
// SELECT, a SELECT computed by a dataflow and a view's SELECT list.
func TestNowIsWallClock(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE tn (a int)")
	exec1(t, c, "INSERT INTO tn VALUES (1), (2)")
	exec1(t, c, "CREATE VIEW vn AS SELECT a, extract(epoch FROM now())::int8 AS e, current_date AS d FROM tn")
	today := time.Now().UTC().Format("2006-01-02")
	for _, q := range []string{
		"SELECT extract(epoch FROM now())::int8, extract(epoch FROM current_timestamp)::int8, current_date",
		"SELECT max(extract(epoch FROM now())::int8), max(extract(epoch FROM now())::int8), max(current_date) FROM tn x JOIN tn y ON x.a = y.a",
		"SELECT max(e), min(e), max(d) FROM vn",
	} {
		before := time.Now().Unix()
		got := rows(t, c, q)
		after := time.Now().Unix()
		var e1, e2 int64
		var d string
		if len(got) != 1 {
			t.Fatalf("%s: %q", q, got)
		}
		parts := strings.Split(got[0], "|")
		e1, _ = strconv.ParseInt(parts[0], 10, 64)
		e2, _ = strconv.ParseInt(parts[1], 10, 64)
		d = parts[2]
		for _, e := range []int64{e1, e2} {
			if e < before-1 || e > after+1 {
				t.Errorf("%s: now() is %d, the clock read %d..%d", q, e, before, after)
			}
		}
		if d != today && d != time.Unix(after, 0).UTC().Format("2006-01-02") {
			t.Errorf("%s: current_date %s, want %s", q, d, today)
		}
	}
}

// TestPgSleepCancels: pg_sleep sleeps, and a cancelled statement (the
// client's CancelRequest, statement_timeout) stops it at once, whether it
// runs over a constant or over a table's rows.
func TestPgSleepCancels(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE ts (a int)")
	exec1(t, c, "INSERT INTO ts VALUES (1), (2)")
	start := time.Now()
	exec1(t, c, "SELECT pg_sleep(0.2)")
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("pg_sleep(0.2) returned after %v", d)
	}
	for _, q := range []string{"SELECT pg_sleep(60)", "SELECT a, pg_sleep(60) FROM ts", "SELECT count(*) FROM ts x, ts y WHERE pg_sleep(60) IS NOT NULL"} {
		// A CancelRequest, as psql's Ctrl-C sends it.
		timer := time.AfterFunc(300*time.Millisecond, func() { _ = c.PgConn().CancelRequest(context.Background()) })
		start := time.Now()
		_, err := c.Exec(ctxT(t), q)
		timer.Stop()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: cancelled after 300ms, returned after %v", q, d)
		}
		if sqlstate(err) != "57014" {
			t.Errorf("%s: %v after a cancel, want 57014", q, err)
		}
		expectRows(t, c, "SELECT 1", "1")
	}
	exec1(t, c, "SET statement_timeout = '300ms'")
	start = time.Now()
	_, err := c.Exec(ctxT(t), "SELECT pg_sleep(60)")
	if sqlstate(err) != "57014" || time.Since(start) > 5*time.Second {
		t.Errorf("pg_sleep under statement_timeout: %v after %v, want 57014 at once", err, time.Since(start))
	}
}
