package coord

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// The clock (coord.go): the timestamp oracle, stepping, AS OF, since, and
// when the tick loop advances. The tests run the coordinator on a fake
// wall clock, so that timestamps are exact: with the wall clock frozen,
// nothing advances time but writes (each takes the next millisecond) and
// readers waiting for a later time.

// fakeClock is a wall clock the test sets (Config.Now).
type fakeClock struct{ ms atomic.Uint64 }

func newFakeClock() *fakeClock {
	f := &fakeClock{}
	f.ms.Store(1_700_000_000_000)
	return f
}

func (f *fakeClock) now() repr.Timestamp  { return repr.Timestamp(f.ms.Load()) }
func (f *fakeClock) add(ms uint64) uint64 { return f.ms.Add(ms) }
func (f *fakeClock) set(ms uint64)        { f.ms.Store(ms) }

// nowOf returns the coordinator's latest complete timestamp.
func nowOf(c *Coordinator) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uint64(c.now)
}

func sinceOf(c *Coordinator) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return uint64(c.since)
}

func waitersOf(c *Coordinator) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.waiters
}

// TestClockOracle: each write commits at a timestamp after every earlier
// one, and a read that starts after it was acknowledged, in any session,
// reads at that timestamp or later and sees it. With the wall clock
// frozen each write takes the next millisecond; when the wall clock jumps,
// an idle tick catches up with it; when it goes back, timestamps do not.
func TestClockOracle(t *testing.T) {
	clk := newFakeClock()
	c := openTest(t, Config{Now: clk.now})
	s, o := newTestSession(t, c), newTestSession(t, c)
	s.exec("CREATE TABLE t (k int PRIMARY KEY)", "CREATE MATERIALIZED VIEW tc AS SELECT count(*) AS n FROM t")
	last := nowOf(c)
	if last != uint64(clk.now()) {
		t.Fatalf("opened at %d, wall clock %d", last, clk.now())
	}
	write := func(k int) uint64 {
		t.Helper()
		s.exec(fmt.Sprintf("INSERT INTO t VALUES (%d)", k))
		ts := nowOf(c)
		// Another session's read, started after the acknowledgement,
		// reads at the write's timestamp and sees the write, in the
		// table and in the view.
		want := fmt.Sprintf("%d %d %d", k, k, ts)
		o.want("SELECT (SELECT count(*) FROM t), (SELECT n FROM tc), mz_now()", want)
		return ts
	}
	for k := 1; k <= 20; k++ {
		if ts := write(k); ts != last+1 {
			t.Fatalf("write %d at %d, want %d (the next millisecond)", k, ts, last+1)
		} else {
			last = ts
		}
	}
	// The wall clock jumps: an idle tick catches up with it.
	wall := clk.add(1000)
	waitFor(t, 2*time.Second, "an idle tick", func() bool { return nowOf(c) == wall })
	if ts := write(21); ts != wall+1 {
		t.Fatalf("write after the jump at %d, want %d", ts, wall+1)
	}
	// The wall clock goes back: timestamps still increase.
	clk.set(wall - 5000)
	last = nowOf(c)
	for k := 22; k <= 24; k++ {
		if ts := write(k); ts != last+1 {
			t.Fatalf("write %d at %d with the wall clock behind, want %d", k, ts, last+1)
		} else {
			last = ts
		}
	}
	// After a restart the clock starts after every durable timestamp.
	c = reopen(t, c)
	if now := nowOf(c); now <= last {
		t.Fatalf("reopened at %d, at or before the last write's %d", now, last)
	}
}

// TestClockAsOf: AS OF reads the past exactly, by dataflow, lookup and
// scan alike; a time before since fails with 22023 (AS OF AT LEAST reads
// at the latest instead); a time in the future waits until it is
// complete, sees every write committed before it, and is cancellable by
// the client and by statement_timeout.
func TestClockAsOf(t *testing.T) {
	clk := newFakeClock()
	c := openTest(t, Config{Now: clk.now})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE t (k int PRIMARY KEY, v int)", "CREATE MATERIALIZED VIEW tm AS SELECT sum(v) AS s FROM t")
	start := nowOf(c)
	s.exec("INSERT INTO t VALUES (1, 10)")
	ts1 := nowOf(c)
	s.exec("INSERT INTO t VALUES (2, 20)", "UPDATE t SET v = 11 WHERE k = 1")
	ts2 := nowOf(c)
	for _, tc := range []struct {
		q    string
		at   uint64
		want []string
	}{
		{"SELECT k, v FROM t", start, nil},
		{"SELECT k, v FROM t", ts1, []string{"1 10"}},
		{"SELECT k, v FROM t", ts1 + 1, []string{"1 10", "2 20"}},
		{"SELECT k, v FROM t", ts2, []string{"1 11", "2 20"}},
		{"SELECT v FROM t WHERE k = 1", ts1, []string{"10"}},     // a lookup
		{"SELECT v FROM t WHERE k = 2", ts1, nil},                // a lookup
		{"SELECT k FROM t WHERE v > 10", ts1 + 1, []string{"2"}}, // a scan
		{"SELECT count(*) FROM t a, t b", ts1, []string{"1"}},    // a dataflow
		{"SELECT count(*) FROM t a, t b", ts2, []string{"4"}},    // a dataflow
		{"SELECT s FROM tm", ts1, []string{"10"}},                // a view's output
		{"SELECT s FROM tm", ts2, []string{"31"}},                // a view's output
		{"SELECT mz_now()", ts1, []string{strconv.FormatUint(ts1, 10)}},
	} {
		sameRows(t, fmt.Sprintf("%s AS OF %d", tc.q, tc.at), s.query(fmt.Sprintf("%s AS OF %d", tc.q, tc.at)), tc.want)
	}
	// Before since: an error that names the earliest readable time.
	pe := s.fails(fmt.Sprintf("SELECT * FROM t AS OF %d", start-1), pgcode.InvalidParameterValue)
	if !strings.Contains(pe.Message, "earliest readable timestamp is "+strconv.FormatUint(sinceOf(c), 10)) {
		t.Fatalf("error %q does not name since %d", pe.Message, sinceOf(c))
	}
	s.fails(fmt.Sprintf("SUBSCRIBE t AS OF %d", start-1), pgcode.InvalidParameterValue)
	s.fails("SELECT * FROM t AS OF -1", pgcode.InvalidParameterValue)
	sameRows(t, "AS OF AT LEAST a time before since", s.query(fmt.Sprintf("SELECT k, v FROM t AS OF AT LEAST %d", start-1)), []string{"1 11", "2 20"})

	// The future: the read waits, and sees a write committed meanwhile.
	future := nowOf(c) + 100_000
	done := make(chan []string, 1)
	o := newTestSession(t, c)
	go func() {
		rows, _, err := o.run(context.Background(), fmt.Sprintf("SELECT k, mz_now() FROM t AS OF %d", future))
		if err != nil {
			rows = []string{err.Error()}
		}
		done <- rows
	}()
	waitFor(t, 2*time.Second, "the read to wait", func() bool { return waitersOf(c) == 1 })
	s.exec("INSERT INTO t VALUES (3, 30)")
	select {
	case rows := <-done:
		t.Fatalf("a read AS OF %d returned at %d: %v", future, nowOf(c), rows)
	case <-time.After(50 * time.Millisecond):
	}
	clk.set(future)
	select {
	case rows := <-done:
		f := fmt.Sprint(future)
		sameRows(t, "the future read", rows, []string{"1 " + f, "2 " + f, "3 " + f})
	case <-time.After(5 * time.Second):
		t.Fatal("a read AS OF a time that passed did not return")
	}

	// Waiting for the future is cancellable: by the client, and by
	// statement_timeout.
	far := fmt.Sprintf("SELECT * FROM t AS OF %d", nowOf(c)+1_000_000_000)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := o.run(ctx, far)
		errc <- err
	}()
	waitFor(t, 2*time.Second, "the read to wait", func() bool { return waitersOf(c) == 1 })
	began := time.Now()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled wait: %v", err)
	}
	if took := time.Since(began); took > 300*time.Millisecond {
		t.Fatalf("a cancelled wait for a timestamp took %v to stop", took)
	}
	o.exec("SET statement_timeout = '100ms'")
	began = time.Now()
	if _, _, err := o.run(context.Background(), far); errCode(err) != string(pgcode.QueryCanceled) {
		t.Fatalf("wait under statement_timeout: %v", err)
	}
	if took := time.Since(began); took > time.Second {
		t.Fatalf("a 100ms statement_timeout stopped a wait after %v", took)
	}
	waitFor(t, time.Second, "no reader waiting", func() bool { return waitersOf(c) == 0 })
}

// TestClockSinceAndHolds: history is kept for RetainHistory behind the
// latest timestamp: past it, since advances and AS OF before since fails
// (at since it reads). A read that started before holds its timestamp:
// a cursor and a portal opened before the table was emptied and since
// moved past them still return every row.
func TestClockSinceAndHolds(t *testing.T) {
	clk := newFakeClock()
	c := openTest(t, Config{Now: clk.now, RetainHistory: 300 * time.Millisecond})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE t (k int PRIMARY KEY)", "INSERT INTO t SELECT g FROM generate_series(1, 100) g")
	ts1 := nowOf(c)
	s.exec("BEGIN", "DECLARE cur CURSOR FOR SELECT k FROM t")
	// The portal: an Execute whose rows are read in parts, later.
	o := newTestSession(t, c)
	res := o.start(context.Background(), "SELECT k FROM t")
	defer res.Rows.Close()
	first, err := drainRows(context.Background(), res.Rows, 10)
	if err != nil || len(first) != 10 {
		t.Fatalf("first 10 rows of the portal: %v %v", first, err)
	}
	newTestSession(t, c).exec("DELETE FROM t")
	wall := clk.add(2000)
	waitFor(t, 2*time.Second, "since to move", func() bool { return sinceOf(c) >= wall-300 })
	since := sinceOf(c)
	if since <= ts1 {
		t.Fatalf("since %d did not pass %d", since, ts1)
	}
	w := newTestSession(t, c)
	w.fails(fmt.Sprintf("SELECT count(*) FROM t AS OF %d", ts1), pgcode.InvalidParameterValue)
	w.fails(fmt.Sprintf("SELECT count(*) FROM t AS OF %d", since-1), pgcode.InvalidParameterValue)
	w.want(fmt.Sprintf("SELECT count(*) FROM t AS OF %d", since), "0")
	rest, err := drainRows(context.Background(), res.Rows, -1)
	if err != nil || len(first)+len(rest) != 100 {
		t.Fatalf("the portal after since moved past it: %d+%d rows, %v", len(first), len(rest), err)
	}
	fetched := s.query("FETCH ALL FROM cur")
	if len(fetched) != 100 {
		t.Fatalf("the cursor after since moved past it: %d rows", len(fetched))
	}
	s.exec("COMMIT")
}

// TestClockIdleTicks: an idle coordinator does not step at every tick: it
// advances only once the wall clock is idleAdvance ahead of it, or
// earlier when a dataflow has work scheduled (a temporal filter's
// retraction), or at every tick while a reader waits.
func TestClockIdleTicks(t *testing.T) {
	clk := newFakeClock()
	c := openTest(t, Config{Now: clk.now, TickInterval: 2 * time.Millisecond})
	s := newTestSession(t, c)
	n0 := nowOf(c)
	stays := func(what string, want uint64) {
		t.Helper()
		time.Sleep(40 * time.Millisecond) // 20 ticks
		if now := nowOf(c); now != want {
			t.Fatalf("%s: the clock moved from %d to %d", what, want, now)
		}
	}
	stays("idle, wall clock frozen", n0)
	clk.add(idleAdvance - 1)
	stays("idle, wall clock less than idleAdvance ahead", n0)
	wall := clk.add(1)
	waitFor(t, 2*time.Second, "an idle tick", func() bool { return nowOf(c) == wall })

	// A temporal filter schedules a retraction: the clock advances to it
	// without waiting for idleAdvance.
	s.exec(
		"CREATE TABLE e (id int, until bigint)",
		"CREATE MATERIALIZED VIEW live AS SELECT id FROM e WHERE mz_now() <= until",
		fmt.Sprintf("INSERT INTO e VALUES (1, %d), (2, %d)", wall+50, wall+1_000_000),
	)
	sameRows(t, "live", s.query("SELECT id FROM live"), []string{"1", "2"})
	n1 := nowOf(c)
	stays("a retraction scheduled later", n1)
	wall = clk.add(100) // past the retraction, less than idleAdvance
	waitFor(t, 2*time.Second, "the scheduled step", func() bool { return nowOf(c) == wall })
	sameRows(t, "live after its row expired", s.query("SELECT id FROM live"), []string{"2"})
}

// TestClockQuietDataflows: a step at which a dataflow's inputs did not
// change only advances its frontiers. A view over a table that does not
// change stays readable and exact at every timestamp, a SUBSCRIBE to it
// reports progress and no change, and the view follows the table again
// when it changes.
func TestClockQuietDataflows(t *testing.T) {
	clk := newFakeClock()
	c := openTest(t, Config{Now: clk.now})
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE a (x int)", "CREATE TABLE b (y int)",
		"CREATE MATERIALIZED VIEW ma AS SELECT count(*) AS n, sum(x) AS s FROM a",
		"CREATE INDEX ma_n ON ma (n)",
		"INSERT INTO a VALUES (5)",
	)
	from := nowOf(c)
	sub := newTestSession(t, c)
	res := sub.start(context.Background(), fmt.Sprintf("SUBSCRIBE ma WITH (PROGRESS) AS OF %d", from))
	defer res.Rows.Close()
	for i := range 20 {
		s.exec(fmt.Sprintf("INSERT INTO b VALUES (%d)", i))
		ts := nowOf(c)
		s.want(fmt.Sprintf("SELECT n, s FROM ma AS OF %d", ts), "1 5")
		s.want(fmt.Sprintf("SELECT s FROM ma WHERE n = 1 AS OF %d", ts), "5")
	}
	// (The SUBSCRIBE makes the clock tick: a's write commits after
	// before, at or before after.)
	before := nowOf(c)
	s.exec("INSERT INTO a VALUES (7)")
	after := nowOf(c)
	sameRows(t, "ma after a changed", s.query("SELECT n, s FROM ma"), []string{"2 12"})
	// The subscription: its snapshot at from, progress past every write
	// to b with no change, then the change at a's write.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var changes []string
	progressed := uint64(0)
	for progressed <= after {
		row, err := res.Rows.Next(ctx)
		if err != nil {
			t.Fatalf("subscribe: %v (changes %v, progress %d)", err, changes, progressed)
		}
		f := strings.Fields(rowText(row)) // mz_timestamp mz_progressed mz_diff n s
		ts, _ := strconv.ParseUint(f[0], 10, 64)
		if f[1] == "t" {
			progressed = ts
			continue
		}
		changes = append(changes, strings.Join(append([]string{f[0]}, f[2:]...), " "))
	}
	if len(changes) != 3 {
		t.Fatalf("subscription changes %v, want the snapshot and one change", changes)
	}
	changed := strings.Fields(changes[1])[0]
	if at, _ := strconv.ParseUint(changed, 10, 64); at <= before || at > after {
		t.Fatalf("the change at %d, not in (%d, %d]", at, before, after)
	}
	sameRows(t, "subscription changes", changes, []string{fmt.Sprintf("%d 1 1 5", from), changed + " -1 1 5", changed + " 1 2 12"})
}
