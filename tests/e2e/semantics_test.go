package e2e

import (
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
