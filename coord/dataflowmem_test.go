package coord

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"weak"

	"github.com/viewd/viewd/pgcode"
)

// TestMaxDataflowMemory: a materialized view whose dataflow passes
// Config.MaxDataflowMemory fails with 53200, reported by reads of it and of
// everything built on it; writes, other views and the server go on; the
// failed view can be dropped and created again.
func TestMaxDataflowMemory(t *testing.T) {
	c := openTest(t, Config{MaxDataflowMemory: 2 << 20})
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE a (k int PRIMARY KEY, v text)",
		"CREATE TABLE b (k int PRIMARY KEY, v text)",
		"CREATE MATERIALIZED VIEW small AS SELECT count(*) AS n FROM a",
		// A cross product: 1000 x 1000 rows of two texts, about 40 MB.
		"CREATE MATERIALIZED VIEW cross_ab AS SELECT a.v AS av, b.v AS bv FROM a, b",
		"CREATE MATERIALIZED VIEW on_cross AS SELECT count(*) AS n FROM cross_ab",
		"CREATE VIEW plain_on_cross AS SELECT av FROM cross_ab WHERE bv = 'x'",
	)
	s.exec("INSERT INTO a SELECT i, 'row ' || i FROM generate_series(1, 1000) i")
	s.want("SELECT count(*) FROM cross_ab", "0") // b is empty
	// This write makes cross_ab's step produce about 40 MB: the write
	// succeeds, the view fails.
	s.exec("INSERT INTO b SELECT i, 'row ' || i FROM generate_series(1, 1000) i")
	for _, q := range []string{
		"SELECT count(*) FROM cross_ab",
		"SELECT * FROM on_cross",
		"SELECT * FROM plain_on_cross",
	} {
		e := s.fails(q, pgcode.OutOfMemory)
		if !strings.Contains(e.Message, `materialized view "cross_ab" exceeded the dataflow memory limit of 2 MB`) {
			t.Errorf("%s: message %q", q, e.Message)
		}
	}
	s.want("SELECT n FROM small", "1000")
	s.want("SELECT status, state_bytes IS NULL FROM mz_internal.mz_dataflow_memory WHERE name = 'cross_ab'", "failed t")
	s.want("SELECT status, state_bytes > 0 FROM mz_internal.mz_dataflow_memory WHERE name = 'small'", "running t")
	s.exec("INSERT INTO a VALUES (1001, 'more')")
	s.want("SELECT n FROM small", "1001")
	s.want("SELECT count(*) FROM b", "1000")

	// Created over data that already exceeds the bound: the view exists,
	// its reads fail.
	s.exec("CREATE MATERIALIZED VIEW cross_again AS SELECT a.k AS ak, b.k AS bk FROM a, b")
	s.fails("SELECT count(*) FROM cross_again", pgcode.OutOfMemory)

	// A view whose state is within the bound is unaffected by its
	// neighbours' failures; a failed one can be dropped and created
	// again.
	s.exec("DROP MATERIALIZED VIEW on_cross", "DROP VIEW plain_on_cross", "DROP MATERIALIZED VIEW cross_ab")
	s.exec("DELETE FROM b WHERE k > 10")
	s.exec("CREATE MATERIALIZED VIEW cross_ab AS SELECT a.v AS av, b.v AS bv FROM a, b")
	s.want("SELECT count(*) FROM cross_ab", "10010")
}

// TestMaxDataflowMemoryState: state that grows step by step (an
// arrangement of a table's rows, each write small) fails the view once its
// arrangements hold more than the bound.
func TestMaxDataflowMemoryState(t *testing.T) {
	c := openTest(t, Config{MaxDataflowMemory: 1 << 20})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE t (k int PRIMARY KEY, v text)",
		"CREATE MATERIALIZED VIEW copy_t AS SELECT k, v || v AS vv FROM t")
	pad := strings.Repeat("p", 200)
	for i := 0; i < 40; i++ {
		s.exec(fmt.Sprintf("INSERT INTO t SELECT i, '%s' || i FROM generate_series(%d, %d) i", pad, i*200+1, i*200+200))
	}
	e := s.fails("SELECT count(*) FROM copy_t", pgcode.OutOfMemory)
	if !strings.Contains(e.Detail, "its arrangements and group state hold") {
		t.Errorf("detail %q: want the arrangements' size (the state check, not a step's growth)", e.Detail)
	}
	s.want("SELECT count(*) FROM t", "8000")
}

// TestDropFreesDataflow: dropping a materialized view lets its dataflow
// (and every byte of its state) be collected, whichever of the server's
// dataflows it was. Removing it from the dataflow list by filtering in
// place left the dropped one in the list's backing array, past its length.
func TestDropFreesDataflow(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE t (a int, b text)",
		"INSERT INTO t SELECT g, 'x' || g FROM generate_series(1, 1000) g",
		"CREATE MATERIALIZED VIEW v1 AS SELECT b, count(*) FROM t GROUP BY b",
		"CREATE MATERIALIZED VIEW v2 AS SELECT a % 7, max(b) FROM t GROUP BY 1")
	for _, name := range []string{"v2", "v1"} {
		c.mu.Lock()
		var w weak.Pointer[dataflowState]
		for _, d := range c.dataflows {
			if it := c.cat.items[d.owner]; it != nil && it.Name.Item == name {
				w = weak.Make(d)
			}
		}
		c.mu.Unlock()
		if w.Value() == nil {
			t.Fatalf("no dataflow for %s", name)
		}
		s.exec("DROP MATERIALIZED VIEW " + name)
		for range 3 {
			runtime.GC()
		}
		if w.Value() != nil {
			t.Fatalf("the dataflow of %s is still reachable after DROP", name)
		}
	}
}
