package e2e

import (
	"strconv"
	"strings"
	"testing"

	"github.com/viewd/viewd/internal/viewdtest"
)

// TestHostileInput sends what issue 12 found or kept: a 30,000-term
// expression (it killed the server with SIGSEGV in pg_query's C code),
// 10,000 nested parentheses, a 100 MB query, and a long IN list, which
// must keep working as in PostgreSQL. After each refusal the same
// connection and a new one are served.
func TestHostileInput(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	outer := t
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE t (id int PRIMARY KEY)")
	exec1(t, c, "INSERT INTO t SELECT generate_series(1, 100)")

	stillServing := func(t *testing.T) {
		t.Helper()
		expectRows(t, c, "SELECT count(*) FROM t", "100")
		c2 := srv.Connect(t)
		defer c2.Close(ctxT(t))
		expectRows(t, c2, "SELECT 1", "1")
	}
	for _, q := range []struct {
		name, text, code string
	}{
		{"30,000 terms", "SELECT 1" + strings.Repeat(" + 1", 30000), "54001"},
		{"10,000 parentheses", "SELECT " + strings.Repeat("(", 10000) + "1" + strings.Repeat(")", 10000), "54001"},
		// The string is parsed as a type name by pg_query: it passes the
		// same guard (this one killed the server too).
		{"30,000 terms in a regtype string", "SELECT 'int4" + strings.Repeat(" + 1", 30000) + "'::regtype", "42704"},
		{"300 nested subqueries", strings.Repeat("SELECT (", 300) + "SELECT 1" + strings.Repeat(")", 300), "54001"},
		// Past the 64 MiB message limit: the server answers 54000 and
		// closes the connection while the client is still writing, so
		// the client may see only the reset.
		{"100 MB query", "SELECT length('" + strings.Repeat("x", 100<<20) + "')", ""},
	} {
		t.Run(q.name, func(t *testing.T) {
			_, err := c.Exec(ctxT(t), q.text)
			if err == nil {
				t.Fatal("want an error, got none")
			}
			if got := sqlstate(err); q.code != "" && got != q.code {
				t.Fatalf("want SQLSTATE %s, got %.200v", q.code, err)
			}
			if c.IsClosed() {
				c = srv.Connect(outer) // closed when the whole test ends
			}
			stillServing(t)
		})
	}
	// A long statement's text is left out of failure messages.
	expectShort := func(t *testing.T, text, want string) {
		t.Helper()
		var got string
		if err := c.QueryRow(ctxT(t), text).Scan(&got); err != nil || got != want {
			t.Fatalf("%.80s...: got %q, %.200v; want %s", text, got, err, want)
		}
	}
	t.Run("IN list of 10,000", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("SELECT count(*)::text FROM t WHERE id IN (")
		for i := 1; i <= 10000; i++ {
			if i > 1 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Itoa(i))
		}
		b.WriteString(")")
		expectShort(t, b.String(), "100")
	})
	t.Run("1,000 terms", func(t *testing.T) {
		expectShort(t, "SELECT (1"+strings.Repeat(" + 1", 1000)+")::text", "1001")
	})
}

// TestCursorLifetimes over pgwire: DECLARE without WITH HOLD outside a
// transaction block is 25P01; COMMIT closes a SUBSCRIBE cursor; a WITH
// HOLD cursor outlives its transaction.
func TestCursorLifetimes(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	exec1(t, c, "CREATE TABLE t (id int PRIMARY KEY)")
	exec1(t, c, "INSERT INTO t VALUES (1), (2), (3)")
	if _, err := c.Exec(ctxT(t), "DECLARE s CURSOR FOR SUBSCRIBE t"); sqlstate(err) != "25P01" {
		t.Fatalf("DECLARE outside a block: want 25P01, got %v", err)
	}
	exec1(t, c, "BEGIN")
	exec1(t, c, "DECLARE s CURSOR FOR SUBSCRIBE t")
	exec1(t, c, "FETCH ALL s WITH (timeout = '1s')")
	exec1(t, c, "COMMIT")
	if _, err := c.Exec(ctxT(t), "FETCH ALL s WITH (timeout = '0s')"); sqlstate(err) != "34000" {
		t.Fatalf("FETCH after COMMIT: want 34000, got %v", err)
	}
	// Several statements in one Query message are an implicit block: the
	// cursor lives until its end, as in PostgreSQL.
	res, err := c.PgConn().Exec(ctxT(t), "DECLARE m CURSOR FOR SELECT id FROM t ORDER BY id; FETCH 2 m").ReadAll()
	if err != nil || len(res) != 2 || len(res[1].Rows) != 2 {
		t.Fatalf("DECLARE; FETCH in one message: %v %v", res, err)
	}
	if _, err := c.Exec(ctxT(t), "FETCH m"); sqlstate(err) != "34000" {
		t.Fatalf("FETCH after the implicit block: want 34000, got %v", err)
	}
	exec1(t, c, "DECLARE h CURSOR WITH HOLD FOR SELECT id FROM t ORDER BY id")
	expectRows(t, c, "FETCH 2 h", "1", "2")
	exec1(t, c, "BEGIN")
	exec1(t, c, "COMMIT")
	expectRows(t, c, "FETCH h", "3")
	exec1(t, c, "CLOSE h")
}
