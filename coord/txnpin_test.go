package coord

import (
	"testing"
	"time"
)

// TestWriteTransactionHoldsSince: a transaction that has read and written
// keeps reading at its timestamp however long it runs (since stops
// there), where before its later UPDATE failed with 22023 once the
// retained history moved past it; after COMMIT since moves on.
func TestWriteTransactionHoldsSince(t *testing.T) {
	clk := newFakeClock()
	c := openTest(t, Config{Now: clk.now, RetainHistory: 300 * time.Millisecond})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE t (k int PRIMARY KEY, v int)", "INSERT INTO t SELECT g, 0 FROM generate_series(1, 10) g")
	s.exec("BEGIN", "DELETE FROM t WHERE k = 1")
	pinned := sinceOf(c)
	newTestSession(t, c).exec("INSERT INTO t VALUES (11, 0)")
	clk.add(5000)
	// Time passes well beyond the retained history; writes by others
	// move the clock on.
	for i := 0; i < 5; i++ {
		newTestSession(t, c).exec("UPDATE t SET v = v + 1 WHERE k = 11")
		clk.add(500)
	}
	s.exec("UPDATE t SET v = 7 WHERE k = 2")
	s.want("SELECT count(*) FROM t", "9") // its snapshot (10 rows, no k = 11) less its own DELETE
	s.exec("COMMIT")
	wall := clk.add(2000)
	newTestSession(t, c).exec("INSERT INTO t VALUES (12, 0)")
	waitFor(t, 2*time.Second, "since to move after COMMIT", func() bool { return sinceOf(c) >= wall-300 })
	if sinceOf(c) <= pinned {
		t.Fatalf("since %d did not move past %d", sinceOf(c), pinned)
	}
	newTestSession(t, c).want("SELECT v FROM t WHERE k = 2", "7")
}
