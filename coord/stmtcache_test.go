package coord

import (
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/wire"
)

// runSimple runs one simple Query message as the wire layer does: Split,
// then Prepare and Execute of each statement, then Sync. It returns the
// rows of the last statement as text.
func (ts *testSession) runSimple(ctx context.Context, msg string) ([]string, error) {
	stmts, err := ts.s.Split(ctx, msg)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, st := range stmts {
		prep, err := ts.s.Prepare(ctx, st.SQL, nil)
		if err != nil {
			ts.s.Sync(ctx, true)
			return nil, err
		}
		res, err := ts.s.Execute(ctx, prep, nil, wire.ExecuteOptions{Protocol: wire.ProtocolSimple, StatementsInQuery: len(stmts)})
		if err != nil {
			ts.s.Sync(ctx, true)
			return nil, err
		}
		out = nil
		if res.Rows != nil {
			if out, err = drainRows(ctx, res.Rows, -1); err != nil {
				res.Rows.Close()
				ts.s.Sync(ctx, true)
				return nil, err
			}
			res.Rows.Close()
		}
	}
	return out, ts.s.Sync(ctx, false)
}

func readCacheHits(c *Coordinator) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads.hits
}

// mustHit runs q (as a simple Query message and with the extended
// protocol) and checks that both took the cached plan and gave want.
func mustHit(t *testing.T, c *Coordinator, s *testSession, q string, want []string) {
	t.Helper()
	ctx := context.Background()
	before := readCacheHits(c)
	got, err := s.runSimple(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s (simple): got %v, want %v", q, got, want)
	}
	got, _, err = s.run(ctx, q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%s (extended): got %v, want %v", q, got, want)
	}
	if readCacheHits(c) == before {
		t.Fatalf("%s: the read cache was not used", q)
	}
}

// TestReadCacheSeesCatalogChanges: the same catalog query, run again
// after DDL, sees the change (the catalog version moved), and a query
// that the change makes invalid fails as it would uncached.
func TestReadCacheSeesCatalogChanges(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	ctx := context.Background()
	q := "SELECT c.relname, a.attname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid WHERE c.relname LIKE 'rc%' AND a.attnum > 0 ORDER BY 1, 2"
	s.exec("CREATE TABLE rc1 (a int)")
	if _, err := s.runSimple(ctx, q); err != nil {
		t.Fatal(err)
	}
	mustHit(t, c, s, q, []string{"rc1 a"})
	s.exec("CREATE TABLE rc2 (b text)")
	mustHit(t, c, s, q, []string{"rc1 a", "rc2 b"})
	s.exec("ALTER TABLE rc1 RENAME TO xx1")
	mustHit(t, c, s, q, []string{"rc2 b"})

	// A user relation: dropped and created again with another type.
	s.exec("CREATE TABLE u (x int)", "INSERT INTO u VALUES (1)")
	mustHit(t, c, s, "SELECT x + 1 FROM u", []string{"2"})
	s.exec("DROP TABLE u")
	if _, err := s.runSimple(ctx, "SELECT x + 1 FROM u"); errCode(err) != string(pgcode.UndefinedTable) {
		t.Fatalf("read of a dropped table: %v", err)
	}
	s.exec("CREATE TABLE u (x numeric)", "INSERT INTO u VALUES (1.5)")
	mustHit(t, c, s, "SELECT x + 1 FROM u", []string{"2.5"})
}

// TestReadCacheSessionContext: an entry is used only with the variables
// it was planned with (search_path, the role) and is shared by sessions
// that have them; the relations computed when read (pg_stat_activity)
// and the functions that name the session (pg_backend_pid) are never
// answered from another read's plan.
func TestReadCacheSessionContext(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	ctx := context.Background()
	s.exec("CREATE SCHEMA a", "CREATE TABLE a.t (x int)", "INSERT INTO a.t VALUES (1)",
		"CREATE TABLE t (x int)", "INSERT INTO t VALUES (2)")
	mustHit(t, c, s, "SELECT x FROM t", []string{"2"})
	s.exec("SET search_path = a, public")
	mustHit(t, c, s, "SELECT x FROM t", []string{"1"})
	s.exec("RESET search_path")
	mustHit(t, c, s, "SELECT x FROM t", []string{"2"})

	// The role: refused for a role without the privilege, then granted.
	s.exec("CREATE ROLE rc_reader")
	s.exec("SET ROLE rc_reader")
	if _, err := s.runSimple(ctx, "SELECT x FROM t"); errCode(err) != string(pgcode.InsufficientPrivilege) {
		t.Fatalf("read without the privilege: %v", err)
	}
	s.exec("RESET ROLE", "GRANT SELECT ON t TO rc_reader", "SET ROLE rc_reader")
	mustHit(t, c, s, "SELECT x FROM t", []string{"2"})
	s.exec("RESET ROLE", "REVOKE SELECT ON t FROM rc_reader", "SET ROLE rc_reader")
	if _, err := s.runSimple(ctx, "SELECT x FROM t"); errCode(err) != string(pgcode.InsufficientPrivilege) {
		t.Fatalf("read after REVOKE: %v", err)
	}
	s.exec("RESET ROLE")

	// Another session with the same variables shares the entry.
	mustHit(t, c, s, "SELECT x FROM t", []string{"2"})
	s2 := newTestSession(t, c)
	before := readCacheHits(c)
	if got, err := s2.runSimple(ctx, "SELECT x FROM t"); err != nil || !slices.Equal(got, []string{"2"}) {
		t.Fatalf("second session: %v %v", got, err)
	}
	if readCacheHits(c) == before {
		t.Fatal("a second session with the same variables did not share the entry")
	}

	// Sessions come and go between two identical reads of
	// pg_stat_activity (computed when read): the second sees them.
	q := "SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend'"
	n1, err := s.runSimple(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	newTestSession(t, c)
	n2, err := s.runSimple(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(n1) != 1 || len(n2) != 1 || n1[0] == n2[0] {
		t.Fatalf("pg_stat_activity before and after a new session: %v %v", n1, n2)
	}

	// pg_backend_pid() is the session's own.
	p1, err1 := s.runSimple(ctx, "SELECT pg_backend_pid()")
	p2, err2 := s2.runSimple(ctx, "SELECT pg_backend_pid()")
	if err1 != nil || err2 != nil || slices.Equal(p1, p2) {
		t.Fatalf("pg_backend_pid in two sessions: %v %v (%v %v)", p1, p2, err1, err2)
	}
}

// TestReadCacheTransactionOverlay: a read in a transaction that wrote
// sees its own writes even when its statement's plan is cached.
func TestReadCacheTransactionOverlay(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	ctx := context.Background()
	s.exec("CREATE TABLE w (x int)", "INSERT INTO w VALUES (1)")
	mustHit(t, c, s, "SELECT sum(x) FROM w", []string{"1"})
	if got, err := s.runSimple(ctx, "BEGIN; INSERT INTO w VALUES (10); SELECT sum(x) FROM w"); err != nil || !slices.Equal(got, []string{"11"}) {
		t.Fatalf("read of the transaction's own write: %v %v", got, err)
	}
	s.exec("ROLLBACK")
	mustHit(t, c, s, "SELECT sum(x) FROM w", []string{"1"})
}

// TestHeapBallast: once a coordinator is open, the collector's heap goal
// is at least the ballast's size (a small live heap no longer collects
// every few MB), and the memory loop's figures leave the ballast out.
func TestHeapBallast(t *testing.T) {
	openTest(t, Config{})
	if ballastBytes() != gcBallastBytes {
		t.Fatalf("ballast of %d bytes, want %d", ballastBytes(), gcBallastBytes)
	}
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if goal := s[0].Value.Uint64(); goal < gcBallastBytes {
		t.Fatalf("heap goal %d below the ballast's %d", goal, gcBallastBytes)
	}
	if m := readMemory(); m.live >= s[1].Value.Uint64() {
		t.Fatalf("the memory loop's live heap %d includes the ballast (runtime: %d)", m.live, s[1].Value.Uint64())
	}
}

// TestReadCacheConcurrentSessions: sessions running the same statements at
// once share their cached plans (run with -race) and each gets the right
// rows, while another session changes the catalog under them.
func TestReadCacheConcurrentSessions(t *testing.T) {
	c := openTest(t, Config{})
	admin := newTestSession(t, c)
	admin.exec("CREATE TABLE cc (id int PRIMARY KEY, v text)", "INSERT INTO cc VALUES (1, 'a'), (2, 'b')")
	queries := []struct{ q, want string }{
		{"SELECT v FROM cc WHERE id = 2", "b"},
		{"SELECT count(*) FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid WHERE c.relname = 'cc' AND a.attnum > 0", "2"},
		{"SELECT string_agg(v, ',' ORDER BY v) FROM cc", "a,b"},
	}
	ctx := context.Background()
	errs := make(chan error, 4)
	for w := 0; w < 3; w++ {
		s := newTestSession(t, c)
		go func() {
			for i := 0; i < 40; i++ {
				q := queries[(i+w)%len(queries)]
				got, err := s.runSimple(ctx, q.q)
				if err != nil || len(got) != 1 || got[0] != q.want {
					errs <- fmt.Errorf("%s: %v %v", q.q, got, err)
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		// Catalog changes that leave the queries' answers alone.
		for i := 0; i < 10; i++ {
			if _, err := admin.runSimple(ctx, fmt.Sprintf("CREATE TABLE other%d (x int)", i)); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if readCacheHits(c) == 0 {
		t.Fatal("no statement took a cached plan")
	}
}
