package coord

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/wire"
)

// Sessions (session.go, vars.go, activity.go, cursor.go): variables,
// transaction blocks, prepared statements, portals and cursors, and
// pg_stat_activity / pg_cancel_backend / pg_terminate_backend, through
// the wire.Session interface the wire layer calls.

// TestSessionVars: SET, SHOW and RESET with PostgreSQL's normalisation and
// errors, ParameterStatus for reported variables, and RESET ALL.
func TestSessionVars(t *testing.T) {
	c := openTest(t, Config{})
	client := newRecClient()
	s := newClientSession(t, c, client)
	for _, tc := range []struct{ set, show, want string }{
		{"SET statement_timeout = '5s'", "SHOW statement_timeout", "5s"},
		{"SET statement_timeout = 250", "SHOW statement_timeout", "250ms"},
		{"SET statement_timeout TO '1min'", "SHOW statement_timeout", "1m0s"},
		{"SET statement_timeout TO DEFAULT", "SHOW statement_timeout", "0"},
		{"SET TIME ZONE 'Europe/Paris'", "SHOW timezone", "Europe/Paris"},
		{"SET timezone = 'utc'", "SHOW TIME ZONE", "UTC"},
		{"SET extra_float_digits = 2", "SHOW extra_float_digits", "2"},
		{"SET default_transaction_isolation = 'SERIALIZABLE'", "SHOW default_transaction_isolation", "serializable"},
		{"SET application_name = 'tests'", "SHOW application_name", "tests"},
		{"SET search_path = a,B,  public", "SHOW search_path", "a, b, public"},
		{"SET client_min_messages = warning", "SHOW client_min_messages", "warning"},
	} {
		if tag := s.tag(tc.set); tag != "SET" {
			t.Fatalf("%s: tag %q", tc.set, tag)
		}
		s.want(tc.show, tc.want)
	}
	if got := client.param("TimeZone"); got != "UTC" {
		t.Fatalf("ParameterStatus TimeZone = %q after SET timezone = 'utc'", got)
	}
	if got := client.param("application_name"); got != "tests" {
		t.Fatalf("ParameterStatus application_name = %q", got)
	}
	for _, tc := range []struct {
		q    string
		code pgcode.Code
	}{
		{"SET statement_timeout = 'soon'", pgcode.InvalidParameterValue},
		{"SET extra_float_digits = 10", pgcode.InvalidParameterValue},
		{"SET client_encoding = 'LATIN1'", pgcode.InvalidParameterValue},
		{"SET TimeZone = 'Mars/Olympus_Mons'", pgcode.InvalidParameterValue},
		{"SET standard_conforming_strings = off", pgcode.InvalidParameterValue},
		{"SET default_transaction_read_only = maybe", pgcode.InvalidParameterValue},
		{"SET nosuch = 1", pgcode.UndefinedObject},
		{"SHOW nosuch", pgcode.UndefinedObject},
		{"RESET nosuch", pgcode.UndefinedObject},
		{"SET server_version = '16'", pgcode.CantChangeRuntimeParam},
		{"SET LOCAL server_version = '16'", pgcode.CantChangeRuntimeParam},
	} {
		s.fails(tc.q, tc.code)
	}
	// Failed SETs changed nothing.
	s.want("SHOW extra_float_digits", "2")
	all := s.query("SHOW ALL")
	if len(all) != len(sessionVars) {
		t.Fatalf("SHOW ALL: %d rows for %d variables", len(all), len(sessionVars))
	}
	// RESET ALL restores every default, for planning too (search_path).
	s.exec("CREATE SCHEMA s", "CREATE TABLE s.a (x int)", "INSERT INTO s.a VALUES (1)", "CREATE TABLE a (x int)", "INSERT INTO a VALUES (2)")
	s.exec("SET search_path = s, public")
	s.want("SELECT x FROM a", "1")
	s.exec("RESET ALL")
	s.want("SELECT x FROM a", "2")
	for _, q := range []string{"SHOW statement_timeout", "SHOW extra_float_digits", "SHOW application_name", "SHOW search_path"} {
		want := map[string]string{"SHOW statement_timeout": "0", "SHOW extra_float_digits": "1", "SHOW application_name": "", "SHOW search_path": "public"}[q]
		s.want(q, want)
	}
	if got := client.param("application_name"); got != "" {
		t.Fatalf("ParameterStatus application_name = %q after RESET ALL", got)
	}
}

// TestSessionSetInTransaction: SET LOCAL lasts until the end of its
// transaction block; a plain SET in a block is kept by COMMIT and undone
// by ROLLBACK (or a failed block); SET LOCAL outside a block only warns.
func TestSessionSetInTransaction(t *testing.T) {
	c := openTest(t, Config{})
	client := newRecClient()
	s := newClientSession(t, c, client)
	show := func(want string) {
		t.Helper()
		s.want("SHOW statement_timeout", want)
	}
	client.takeNotices()
	s.exec("SET LOCAL statement_timeout = '5s'")
	if n := client.takeNotices(); len(n) != 1 || !strings.Contains(n[0].Message, "SET LOCAL can only be used in transaction blocks") {
		t.Fatalf("notices for SET LOCAL outside a block: %v", n)
	}
	show("0")
	s.exec("BEGIN", "SET LOCAL statement_timeout = '7s'")
	show("7s")
	s.exec("COMMIT")
	show("0")
	s.exec("BEGIN", "SET statement_timeout = '9s'", "ROLLBACK")
	show("0")
	s.exec("BEGIN", "SET statement_timeout = '9s'", "COMMIT")
	show("9s")
	s.exec("BEGIN", "SET statement_timeout = '3s'", "SET LOCAL statement_timeout = '4s'")
	show("4s")
	s.exec("COMMIT")
	show("3s")
	s.exec("BEGIN", "SET LOCAL statement_timeout = '4s'", "RESET statement_timeout", "COMMIT")
	show("0")
	s.exec("SET statement_timeout = '9s'", "BEGIN", "RESET ALL", "ROLLBACK")
	show("9s")
	// A failed block ends rolled back: its SETs are undone.
	s.exec("BEGIN", "SET statement_timeout = '1s'", "SET TimeZone = 'Asia/Tokyo'")
	if got := client.param("TimeZone"); got != "Asia/Tokyo" {
		t.Fatalf("ParameterStatus TimeZone = %q", got)
	}
	s.fails("SELECT 1/0", pgcode.DivisionByZero)
	s.exec("COMMIT")
	show("9s")
	s.want("SHOW TimeZone", "UTC")
	if got := client.param("TimeZone"); got != "UTC" {
		t.Fatalf("ParameterStatus TimeZone = %q after the block was rolled back", got)
	}
	// SET LOCAL applies to the block's statements: a 50ms timeout stops a
	// read waiting for a far timestamp, then the block ends and with it
	// the timeout.
	s.exec("BEGIN", "SET LOCAL statement_timeout = '50ms'")
	s.fails(fmt.Sprintf("SELECT 1 AS OF %d", nowOf(c)+1_000_000_000), pgcode.QueryCanceled)
	s.exec("ROLLBACK")
	show("9s")
	// SET LOCAL search_path: name resolution in the block only.
	s.exec("CREATE SCHEMA s", "CREATE TABLE s.a (x int)", "INSERT INTO s.a VALUES (1)", "CREATE TABLE a (x int)", "INSERT INTO a VALUES (2)")
	s.exec("BEGIN", "SET LOCAL search_path = s")
	s.want("SELECT x FROM a", "1")
	// A write prepared in the block (Prepare keeps its plan for the
	// first execution) and executed after it: planned again with the
	// path the block's end restored.
	ins, err := s.s.Prepare(context.Background(), "INSERT INTO a VALUES (3)", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.exec("COMMIT")
	s.want("SELECT x FROM a", "2")
	if _, _, err := s.runPrepared(context.Background(), ins, nil); err != nil {
		t.Fatal(err)
	}
	s.want("SELECT count(*) FROM public.a WHERE x = 3", "1")
	s.want("SELECT count(*) FROM s.a WHERE x = 3", "0")
}

// TestSessionTransactions: transaction blocks. The status the wire layer
// reports; an error aborts the block (25P02 until it ends, COMMIT then
// rolls back); reads in a block see one snapshot plus the block's own
// writes, which no other session sees before COMMIT; DDL may not follow
// writes; READ ONLY blocks and default_transaction_read_only refuse
// writes with 25006.
func TestSessionTransactions(t *testing.T) {
	c := openTest(t, Config{})
	client := newRecClient()
	s := newClientSession(t, c, client)
	o := newTestSession(t, c)
	s.exec("CREATE TABLE t (k int PRIMARY KEY)", "CREATE MATERIALIZED VIEW tc AS SELECT count(*) AS n FROM t", "INSERT INTO t VALUES (1)")
	status := func(want wire.TxnStatus) {
		t.Helper()
		if got := s.s.TxnStatus(); got != want {
			t.Fatalf("status %c, want %c", got, want)
		}
	}
	status(wire.TxnIdle)
	if tag := s.tag("BEGIN"); tag != "BEGIN" {
		t.Fatalf("BEGIN: %s", tag)
	}
	status(wire.TxnActive)
	client.takeNotices()
	s.exec("BEGIN")
	if n := client.takeNotices(); len(n) != 1 || n[0].Code != pgcode.ActiveSQLTransaction {
		t.Fatalf("BEGIN in a block: notices %v", n)
	}
	s.fails("SELECT k / 0 FROM t", pgcode.DivisionByZero)
	status(wire.TxnFailed)
	s.fails("SELECT 1", pgcode.InFailedSQLTransaction)
	s.fails("INSERT INTO t VALUES (2)", pgcode.InFailedSQLTransaction)
	if tag := s.tag("COMMIT"); tag != "ROLLBACK" {
		t.Fatalf("COMMIT of a failed block: %s", tag)
	}
	status(wire.TxnIdle)
	for _, q := range []string{"COMMIT", "ROLLBACK"} {
		s.exec(q)
		if n := client.takeNotices(); len(n) != 1 || n[0].Code != pgcode.NoActiveSQLTransaction {
			t.Fatalf("%s outside a block: notices %v", q, n)
		}
	}

	// One snapshot per block, plus its own writes.
	s.exec("BEGIN")
	s.want("SELECT count(*) FROM t", "1")
	o.exec("INSERT INTO t VALUES (2)")
	s.want("SELECT count(*) FROM t", "1")
	s.exec("INSERT INTO t VALUES (3)")
	s.want("SELECT (SELECT count(*) FROM t), (SELECT n FROM tc)", "2 2")
	if got := o.one("SELECT count(*) FROM t WHERE k = 3"); got != "0" {
		t.Fatal("another session saw an uncommitted write")
	}
	s.fails("CREATE TABLE x (a int)", pgcode.ActiveSQLTransaction)
	s.exec("ROLLBACK")
	s.want("SELECT count(*) FROM t", "2")

	// READ ONLY.
	for _, begin := range []string{"BEGIN READ ONLY", "START TRANSACTION READ ONLY", "BEGIN; SET TRANSACTION READ ONLY", "BEGIN; SET transaction_read_only = on"} {
		for _, q := range strings.Split(begin, "; ") {
			s.exec(q)
		}
		s.want("SHOW transaction_read_only", "on")
		s.want("SELECT count(*) FROM t", "2")
		pe := s.fails("INSERT INTO t VALUES (9)", pgcode.ReadOnlySQLTransaction)
		if pe.Message != "cannot execute INSERT in a read-only transaction" {
			t.Fatalf("message %q", pe.Message)
		}
		status(wire.TxnFailed)
		s.exec("ROLLBACK")
	}
	s.exec("BEGIN READ WRITE", "INSERT INTO t VALUES (4)", "COMMIT")
	s.want("SHOW transaction_read_only", "off")
	s.exec("SET transaction_read_only = on") // outside a block: ends with the statement
	s.exec("INSERT INTO t VALUES (5)")
	s.exec("SET default_transaction_read_only = on")
	s.want("SHOW transaction_read_only", "on")
	for _, q := range []string{"INSERT INTO t VALUES (9)", "UPDATE t SET k = 9 WHERE k = 1", "DELETE FROM t", "CREATE TABLE x (a int)", "DROP TABLE t CASCADE", "ALTER TABLE t RENAME TO t2", "CREATE INDEX ON t (k)"} {
		s.fails(q, pgcode.ReadOnlySQLTransaction)
	}
	s.exec("BEGIN READ WRITE", "INSERT INTO t VALUES (6)", "COMMIT")
	s.exec("BEGIN")
	s.fails("INSERT INTO t VALUES (9)", pgcode.ReadOnlySQLTransaction)
	s.exec("ROLLBACK", "RESET default_transaction_read_only", "INSERT INTO t VALUES (7)")
	sameRows(t, "rows written", s.query("SELECT k FROM t"), []string{"1", "2", "4", "5", "6", "7"})
}

// TestSessionPrepared: prepared statements of the extended protocol
// (parameter types inferred, result columns described) and of SQL
// (PREPARE, EXECUTE, DEALLOCATE), with their errors.
func TestSessionPrepared(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t VALUES (1, 'a'), (2, 'b')")
	ctx := context.Background()
	st, err := s.s.Prepare(ctx, "SELECT v, id + $2 AS next FROM t WHERE id = $1", nil)
	if err != nil {
		t.Fatal(err)
	}
	if pt := st.ParamTypes(); len(pt) != 2 || pt[0].Kind != repr.KindInt4 || pt[1].Kind != repr.KindInt4 {
		t.Fatalf("parameter types %v", pt)
	}
	if cols := st.Columns(); cols == nil || strings.Join(cols.Names, ",") != "v,next" {
		t.Fatalf("columns %v", cols)
	}
	for id, want := range map[int32]string{1: "a 11", 2: "b 12", 3: ""} {
		rows, _, err := s.runPrepared(ctx, st, []repr.Datum{repr.Int4Datum(id), repr.Int4Datum(10)})
		if err != nil || strings.Join(rows, "") != want {
			t.Fatalf("execute with %d: %v %v, want %q", id, rows, err, want)
		}
	}
	ins, err := s.s.Prepare(ctx, "INSERT INTO t VALUES ($1, $2) RETURNING id", []uint32{0, 25})
	if err != nil {
		t.Fatal(err)
	}
	if rows, _, err := s.runPrepared(ctx, ins, []repr.Datum{repr.Int4Datum(3), repr.TextDatum("c")}); err != nil || len(rows) != 1 || rows[0] != "3" {
		t.Fatalf("prepared insert: %v %v", rows, err)
	}
	if _, err := s.s.Prepare(ctx, "SELECT 1; SELECT 2", nil); errCode(err) != string(pgcode.SyntaxError) {
		t.Fatalf("two statements: %v", err)
	}
	if _, err := s.s.Prepare(ctx, "SELECT * FROM nope", nil); errCode(err) != string(pgcode.UndefinedTable) {
		t.Fatalf("missing table: %v", err)
	}
	if _, err := s.s.Prepare(ctx, "SELECT $1", []uint32{999999}); errCode(err) != string(pgcode.UndefinedObject) {
		t.Fatalf("unknown parameter type: %v", err)
	}
	empty, err := s.s.Prepare(ctx, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := s.s.Execute(ctx, empty, nil, wire.ExecuteOptions{Protocol: wire.ProtocolExtended, StatementsInQuery: 1}); err != nil || !res.Empty {
		t.Fatalf("empty statement: %+v %v", res, err)
	}

	// SQL-level prepared statements.
	s.exec("PREPARE q (int) AS SELECT v FROM t WHERE id = $1", "PREPARE w AS INSERT INTO t VALUES ($1, $2)")
	s.want("EXECUTE q(2)", "b")
	s.exec("EXECUTE w(4, 'd')")
	s.want("EXECUTE q(4)", "d")
	s.fails("PREPARE q AS SELECT 1", pgcode.DuplicatePreparedStatement)
	s.fails("EXECUTE nosuch", pgcode.UndefinedPreparedStatement)
	s.fails("DEALLOCATE nosuch", pgcode.UndefinedPreparedStatement)
	s.exec("DEALLOCATE q")
	s.fails("EXECUTE q(1)", pgcode.UndefinedPreparedStatement)
	s.exec("DEALLOCATE ALL")
	s.fails("EXECUTE w(5, 'e')", pgcode.UndefinedPreparedStatement)
	// DISCARD ALL forgets prepared statements, cursors and settings.
	s.exec("PREPARE q AS SELECT 1", "DECLARE cur CURSOR WITH HOLD FOR SELECT 1", "SET statement_timeout = '1s'", "DISCARD ALL")
	s.fails("EXECUTE q", pgcode.UndefinedPreparedStatement)
	s.fails("FETCH cur", pgcode.InvalidCursorName)
	s.want("SHOW statement_timeout", "0")
	s.exec("BEGIN")
	s.fails("DISCARD ALL", pgcode.ActiveSQLTransaction)
	s.exec("ROLLBACK")
}

// TestSessionPortalsAndCursors: a portal's rows are read by several
// Execute messages, each with its own context: one cancelled stops the
// stream. Cursors: FETCH counts, FETCH ALL, the end, CLOSE and their
// errors.
func TestSessionPortalsAndCursors(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE t (k int PRIMARY KEY)", "INSERT INTO t SELECT g FROM generate_series(1, 20) g")
	res := s.start(context.Background(), "SELECT g FROM generate_series(1, 100000000) g")
	first, err := drainRows(context.Background(), res.Rows, 5)
	if err != nil || strings.Join(first, ",") != "1,2,3,4,5" {
		t.Fatalf("first rows of the portal: %v %v", first, err)
	}
	more, err := drainRows(context.Background(), res.Rows, 3)
	if err != nil || strings.Join(more, ",") != "6,7,8" {
		t.Fatalf("next Execute of the portal: %v %v", more, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	began := time.Now()
	n, err := drainRows(ctx, res.Rows, -1)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("reading the portal with a cancelled context: %d rows, %v", len(n), err)
	}
	if took := time.Since(began); took > 500*time.Millisecond {
		t.Fatalf("a cancelled portal read stopped after %v and %d rows", took, len(n))
	}
	res.Rows.Close()

	s.exec("DECLARE cur CURSOR WITH HOLD FOR SELECT k FROM t ORDER BY k")
	for _, tc := range []struct{ q, want string }{
		{"FETCH cur", "1"},
		{"FETCH 3 cur", "2,3,4"},
		{"FETCH 2 FROM cur", "5,6"},
		{"FETCH ALL cur", "7,8,9,10,11,12,13,14,15,16,17,18,19,20"},
		{"FETCH cur", ""},
	} {
		rows, tag, err := s.run(context.Background(), tc.q)
		if err != nil || strings.Join(rows, ",") != tc.want || tag != "FETCH" {
			t.Fatalf("%s: %v %q %v, want %s", tc.q, rows, tag, err, tc.want)
		}
	}
	s.fails("DECLARE cur CURSOR WITH HOLD FOR SELECT 1", pgcode.DuplicateCursor)
	s.exec("CLOSE cur")
	s.fails("FETCH cur", pgcode.InvalidCursorName)
	s.fails("CLOSE cur", pgcode.InvalidCursorName)
	s.exec("BEGIN", "DECLARE a CURSOR FOR SELECT 1", "DECLARE b CURSOR FOR SELECT 2", "CLOSE ALL", "COMMIT")
	s.fails("FETCH a", pgcode.InvalidCursorName)
}

// TestSessionCursorLifetimes: as in PostgreSQL, a cursor without WITH
// HOLD needs a transaction block (25P01 outside one) and COMMIT or
// ROLLBACK closes it; WITH HOLD outlives COMMIT but not the ROLLBACK of
// the block that declared it. Closing a SUBSCRIBE cursor stops its
// dataflow: issue 12 saw 3,000 leaked ones slow a 99-row UPDATE to 15 s.
func TestSessionCursorLifetimes(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE t (k int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")
	s.fails("DECLARE c CURSOR FOR SELECT k FROM t", pgcode.NoActiveSQLTransaction)
	s.fails("DECLARE c CURSOR FOR SUBSCRIBE t", pgcode.NoActiveSQLTransaction)
	for _, end := range []string{"COMMIT", "ROLLBACK"} {
		s.exec("BEGIN", "DECLARE c CURSOR FOR SELECT k FROM t ORDER BY k")
		s.want("FETCH c", "1")
		s.exec(end)
		s.fails("FETCH c", pgcode.InvalidCursorName)
	}
	// A failed block's COMMIT is a ROLLBACK: it closes the cursor too.
	s.exec("BEGIN", "DECLARE c CURSOR FOR SELECT k FROM t")
	s.fails("SELECT 1/0", pgcode.DivisionByZero)
	s.exec("COMMIT")
	s.fails("FETCH c", pgcode.InvalidCursorName)

	s.exec("DECLARE h CURSOR WITH HOLD FOR SELECT k FROM t ORDER BY k")
	s.want("FETCH h", "1")
	s.exec("BEGIN", "DECLARE h2 CURSOR WITH HOLD FOR SELECT k FROM t ORDER BY k", "COMMIT")
	s.want("FETCH h2", "1")
	s.exec("BEGIN", "DECLARE h3 CURSOR WITH HOLD FOR SELECT k FROM t", "ROLLBACK")
	s.fails("FETCH h3", pgcode.InvalidCursorName)
	s.want("FETCH h", "2") // the earlier WITH HOLD cursors survive both
	s.exec("CLOSE ALL")

	live := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.subscribes)
	}
	s.exec("BEGIN")
	for i := 0; i < 20; i++ {
		s.exec(fmt.Sprintf("DECLARE s%d CURSOR FOR SUBSCRIBE t", i))
	}
	if n := live(); n != 20 {
		t.Fatalf("%d subscriptions running after 20 DECLAREs", n)
	}
	s.exec("COMMIT")
	if n := live(); n != 0 {
		t.Fatalf("%d subscriptions still running after COMMIT", n)
	}
	s.exec("DECLARE hs CURSOR WITH HOLD FOR SUBSCRIBE t")
	if n := live(); n != 1 {
		t.Fatalf("%d subscriptions running for one WITH HOLD cursor", n)
	}
	s.exec("CLOSE hs")
	if n := live(); n != 0 {
		t.Fatalf("%d subscriptions running after CLOSE", n)
	}
}

// TestSessionActivity: pg_stat_activity shows each session's pid, state
// and query; pg_cancel_backend cancels another session's running
// statement (through its wire.Client, as a CancelRequest does) and the
// session goes on; pg_terminate_backend asks its connection to end.
func TestSessionActivity(t *testing.T) {
	c := openTest(t, Config{})
	aClient := newRecClient()
	// a's session is closed by the test (as the wire layer closes it
	// when its connection ends).
	ws, err := c.NewSession(context.Background(), wire.StartupParams{User: "viewd", Database: "viewd"}, aClient)
	if err != nil {
		t.Fatal(err)
	}
	a := &testSession{t: t, s: ws.(*session)}
	bClient := newRecClient()
	b := newClientSession(t, c, bClient)
	a.exec("SET application_name = 'worker'", "CREATE TABLE t (k int)")
	pid := a.one("SELECT pg_backend_pid()")
	if pid != fmt.Sprint(a.s.id) {
		t.Fatalf("pg_backend_pid() = %s, session id %d", pid, a.s.id)
	}
	activity := func() string {
		t.Helper()
		return b.one(fmt.Sprintf("SELECT state, application_name, query FROM pg_stat_activity WHERE pid = %s", pid))
	}
	if got := activity(); got != "idle worker SELECT pg_backend_pid()" {
		t.Fatalf("idle: %q", got)
	}
	a.exec("BEGIN", "SELECT 1")
	if got := activity(); got != "idle in transaction worker SELECT 1" {
		t.Fatalf("in a block: %q", got)
	}
	a.fails("SELECT 1/0", pgcode.DivisionByZero)
	if got := activity(); got != "idle in transaction (aborted) worker SELECT 1/0" {
		t.Fatalf("in a failed block: %q", got)
	}
	a.exec("ROLLBACK")
	me := b.one("SELECT state, query FROM pg_stat_activity WHERE pid = pg_backend_pid()")
	if !strings.HasPrefix(me, "active SELECT state, query FROM pg_stat_activity") {
		t.Fatalf("the reading session itself: %q", me)
	}

	// A running statement: active, and cancelled by pg_cancel_backend.
	long := fmt.Sprintf("SELECT * FROM t AS OF %d", nowOf(c)+1_000_000_000)
	ctx, cancel := aClient.running()
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, _, err := a.run(ctx, long)
		done <- err
	}()
	waitFor(t, 2*time.Second, "the statement to wait", func() bool { return waitersOf(c) == 1 })
	if got := activity(); got != "active worker "+long {
		t.Fatalf("running: %q", got)
	}
	b.want("SELECT pg_cancel_backend("+pid+")", "t")
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled statement: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("pg_cancel_backend did not stop the statement")
	}
	a.want("SELECT count(*) FROM t", "0")
	bClient.takeNotices()
	b.want("SELECT pg_cancel_backend(999999)", "f")
	if n := bClient.takeNotices(); len(n) != 1 || !strings.Contains(n[0].Message, "999999 is not a PostgreSQL backend process") {
		t.Fatalf("notices: %v", n)
	}
	b.want("SELECT pg_terminate_backend("+pid+")", "t")
	aClient.mu.Lock()
	cancels, terminates := aClient.cancels, aClient.terminates
	aClient.mu.Unlock()
	if cancels != 1 || terminates != 1 {
		t.Fatalf("client saw %d cancels and %d terminates, want 1 and 1", cancels, terminates)
	}
	// The connection ends (the wire layer closes the session): it leaves
	// pg_stat_activity.
	a.s.Close()
	if got := b.query(fmt.Sprintf("SELECT state FROM pg_stat_activity WHERE pid = %s", pid)); len(got) != 0 {
		t.Fatalf("a closed session in pg_stat_activity: %v", got)
	}
}
