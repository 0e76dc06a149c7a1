package coord

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/wire"
)

// Writes (dml.go, commit in coord.go): a commit is atomic and free of
// its client's context. A cancel or statement_timeout that lands before
// the transaction passed its checks leaves no trace; once it passed them
// the write completes (durable, stepped into the table, its indexes and
// views) and the client is told it committed. The tests below drive a
// cancel or a timeout to each point of a commit with the coordinator's
// test hook, and after each check the table against a model, a
// materialized view and an index against a recount of the model, the
// primary key, and a restart.

// writeFixture is a table pk with a materialized view and an index over
// it, and the model of its contents.
type writeFixture struct {
	t     *testing.T
	c     *Coordinator
	s     *testSession
	model map[int]int // id -> v
}

func newWriteFixture(t *testing.T) *writeFixture {
	c := openTest(t, Config{})
	f := &writeFixture{t: t, c: c, s: newTestSession(t, c), model: map[int]int{}}
	f.s.exec(
		"CREATE TABLE pk (id int PRIMARY KEY, v int NOT NULL)",
		"CREATE MATERIALIZED VIEW pk_buckets AS SELECT v % 7 AS b, count(*) AS n, sum(id) AS s FROM pk GROUP BY v % 7",
		"CREATE INDEX pk_v ON pk (v)",
		"INSERT INTO pk SELECT g, g % 13 FROM generate_series(1, 300) g",
	)
	for g := 1; g <= 300; g++ {
		f.model[g] = g % 13
	}
	// Reads by v go through the index, so check compares it too.
	if plan := f.s.one("EXPLAIN PHYSICAL PLAN FOR SELECT id FROM pk WHERE v = 5"); !strings.Contains(plan, "Fast path: lookup in the index of viewd.public.pk on (#1)") {
		t.Fatalf("a read by v does not use the index pk_v:\n%s", plan)
	}
	return f
}

// check compares the table with the model, the materialized view and
// index lookups with a recount of the model, and checks that the primary
// key still rejects an existing id.
func (f *writeFixture) check(what string) {
	f.t.Helper()
	var want []string
	type bucket struct{ n, s int }
	buckets := map[int]*bucket{}
	for id, v := range f.model {
		want = append(want, fmt.Sprintf("%d %d", id, v))
		b := buckets[v%7]
		if b == nil {
			b = &bucket{}
			buckets[v%7] = b
		}
		b.n++
		b.s += id
	}
	sort.Strings(want)
	sameRows(f.t, what+": table pk", f.s.query("SELECT id, v FROM pk"), want)
	var wantBuckets []string
	for k, b := range buckets {
		wantBuckets = append(wantBuckets, fmt.Sprintf("%d %d %d", k, b.n, b.s))
	}
	sort.Strings(wantBuckets)
	sameRows(f.t, what+": materialized view pk_buckets", f.s.query("SELECT b, n, s FROM pk_buckets"), wantBuckets)
	for _, v := range []int{0, 5, 12, 105, 5301, 5401} {
		var ids []string
		for id, mv := range f.model {
			if mv == v {
				ids = append(ids, fmt.Sprint(id))
			}
		}
		sort.Strings(ids)
		sameRows(f.t, fmt.Sprintf("%s: index lookup v = %d", what, v), f.s.query(fmt.Sprintf("SELECT id FROM pk WHERE v = %d", v)), ids)
	}
	for id := range f.model {
		f.s.fails(fmt.Sprintf("INSERT INTO pk VALUES (%d, 0)", id), pgcode.UniqueViolation)
		break
	}
}

// sortedIDs returns the model's ids in order.
func (f *writeFixture) sortedIDs() []int {
	ids := make([]int, 0, len(f.model))
	for id := range f.model {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// writeOp is one write under test.
type writeOp struct {
	// setup runs first (a transaction block's BEGIN and writes).
	setup []string
	// sql is the statement under test; copyRows are a COPY's rows instead.
	sql      string
	copyRows [][]repr.Datum
	// slow is a statement of the same kind whose read outlasts a 50ms
	// statement_timeout ("" when the kind has no read).
	slow string
	// apply is the write's effect on the model when it commits.
	apply func(m map[int]int)
	// returning are the RETURNING rows of a commit, sorted (nil: none).
	returning []string
	// tag is the command tag of a commit ("" for COPY).
	tag string
}

// writeKinds build the i-th write of each kind from the model.
var writeKinds = []struct {
	name string
	op   func(i int, f *writeFixture) writeOp
}{
	{"insert-select", func(i int, f *writeFixture) writeOp {
		base := 1000 * (i + 1)
		var ret []string
		for g := base; g < base+300; g++ {
			ret = append(ret, fmt.Sprint(g))
		}
		sort.Strings(ret)
		return writeOp{
			sql:  fmt.Sprintf("INSERT INTO pk SELECT g, g %% 13 FROM generate_series(%d, %d) g RETURNING id", base, base+299),
			slow: "INSERT INTO pk SELECT g, 0 FROM generate_series(10000000, 13000000) g",
			apply: func(m map[int]int) {
				for g := base; g < base+300; g++ {
					m[g] = g % 13
				}
			},
			returning: ret, tag: "INSERT 0",
		}
	}},
	{"copy", func(i int, f *writeFixture) writeOp {
		base := 1000 * (i + 1)
		var rows [][]repr.Datum
		for g := base; g < base+300; g++ {
			rows = append(rows, []repr.Datum{repr.Int4Datum(int32(g)), repr.Int4Datum(int32(g % 13))})
		}
		return writeOp{copyRows: rows, apply: func(m map[int]int) {
			for g := base; g < base+300; g++ {
				m[g] = g % 13
			}
		}}
	}},
	{"update", func(i int, f *writeFixture) writeOp {
		r := i % 5
		return writeOp{
			sql:  fmt.Sprintf("UPDATE pk SET v = v + 100 WHERE id %% 5 = %d", r),
			slow: "UPDATE pk SET v = v + 1 WHERE id IN (SELECT g FROM generate_series(1, 3000000) g)",
			apply: func(m map[int]int) {
				for id, v := range m {
					if id%5 == r {
						m[id] = v + 100
					}
				}
			},
			tag: fmt.Sprintf("UPDATE %d", countWhere(f.model, func(id int) bool { return id%5 == r })),
		}
	}},
	{"delete", func(i int, f *writeFixture) writeOp {
		return writeOp{
			sql:  fmt.Sprintf("DELETE FROM pk WHERE id %% 11 = %d", i),
			slow: "DELETE FROM pk WHERE id IN (SELECT g FROM generate_series(1, 3000000) g)",
			apply: func(m map[int]int) {
				for id := range m {
					if id%11 == i {
						delete(m, id)
					}
				}
			},
			tag: fmt.Sprintf("DELETE %d", countWhere(f.model, func(id int) bool { return id%11 == i })),
		}
	}},
	{"upsert", func(i int, f *writeFixture) writeOp {
		// Half the keys exist: those are updated, the others inserted.
		lo := 250 + 20*i
		return writeOp{
			sql:  fmt.Sprintf("INSERT INTO pk SELECT g, g + 5000 FROM generate_series(%d, %d) g ON CONFLICT (id) DO UPDATE SET v = excluded.v + 100", lo, lo+99),
			slow: "INSERT INTO pk SELECT g, 0 FROM generate_series(1, 3000000) g ON CONFLICT (id) DO NOTHING",
			apply: func(m map[int]int) {
				for g := lo; g <= lo+99; g++ {
					if _, ok := m[g]; ok {
						m[g] = g + 5100
					} else {
						m[g] = g + 5000
					}
				}
			},
			tag: "INSERT 0 100",
		}
	}},
	{"transaction", func(i int, f *writeFixture) writeOp {
		ids := f.sortedIDs()
		up, del, ins := ids[2*i], ids[2*i+1], 90000+i
		return writeOp{
			setup: []string{
				"BEGIN",
				fmt.Sprintf("INSERT INTO pk VALUES (%d, 1)", ins),
				fmt.Sprintf("UPDATE pk SET v = v * 2 WHERE id = %d", up),
				fmt.Sprintf("DELETE FROM pk WHERE id = %d", del),
			},
			sql:  "COMMIT",
			slow: "SELECT count(*) FROM generate_series(1, 3000000) g WHERE g % 2 = 0",
			apply: func(m map[int]int) {
				m[ins] = 1
				m[up] *= 2
				delete(m, del)
			},
			tag: "COMMIT",
		}
	}},
}

func countWhere(m map[int]int, pred func(id int) bool) int {
	n := 0
	for id := range m {
		if pred(id) {
			n++
		}
	}
	return n
}

// timerSlack is how long past statement_timeout a hook waits for the
// timeout to have fired: 50 ms was too little on a loaded machine
// (load average 30 on 2 cores), where the timer fired later and the
// write committed.
const timerSlack = 400 * time.Millisecond

// The points a cancel or a timeout reaches, in commit order.
var writePhases = []string{
	"read-timeout",    // statement_timeout fires while the statement reads
	"cancelled",       // the client's context is cancelled before it starts
	"queued-cancel",   // cancelled once queued for group commit
	"queued-timeout",  // statement_timeout fires once queued
	"append-cancel",   // cancelled after the checks, before the log append
	"durable-timeout", // statement_timeout fires once the record is durable
}

// TestWriteCancelAtomic runs each kind of write with a cancel or a
// statement_timeout at each point of its commit. Before the checks the
// write fails and leaves no trace; after them it commits and the client
// is told so (with its RETURNING rows). After each, and after a restart,
// the table, its materialized view and its index agree with the model and
// the primary key holds; DELETE works after it all.
func TestWriteCancelAtomic(t *testing.T) {
	for _, kind := range writeKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			f := newWriteFixture(t)
			f.check("start")
			for i, phase := range writePhases {
				op := kind.op(i, f)
				if phase == "read-timeout" && op.slow == "" || strings.HasSuffix(phase, "timeout") && op.copyRows != nil {
					continue // COPY has no read and no statement_timeout on its commit
				}
				f.runPhase(phase, op)
				f.check(phase)
			}
			// Later deletes work, and everything survives a restart.
			f.s.exec("DELETE FROM pk WHERE id % 3 = 0")
			for id := range f.model {
				if id%3 == 0 {
					delete(f.model, id)
				}
			}
			f.check("delete after the phases")
			f.c = reopen(t, f.c)
			f.s = newTestSession(t, f.c)
			f.check("after restart")
			f.s.exec("DELETE FROM pk WHERE id % 3 = 1")
			for id := range f.model {
				if id%3 == 1 {
					delete(f.model, id)
				}
			}
			f.check("delete after restart")
		})
	}
}

// runPhase runs op with a cancel or timeout at phase and checks what the
// client is told; it applies op to the model when it committed.
func (f *writeFixture) runPhase(phase string, op writeOp) {
	t, s := f.t, f.s
	t.Helper()
	const timeout = 300 * time.Millisecond
	if phase == "read-timeout" {
		if len(op.setup) > 0 {
			s.exec(op.setup...)
		}
		s.exec("SET statement_timeout = '50ms'")
		_, _, err := s.run(context.Background(), op.slow)
		if errCode(err) != string(pgcode.QueryCanceled) {
			t.Fatalf("%s: %s: %v, want 57014", phase, op.slow, err)
		}
		if len(op.setup) > 0 {
			// The block is aborted until it ends, and ends rolled back.
			if got := s.s.TxnStatus(); got != wire.TxnFailed {
				t.Fatalf("%s: transaction status %c after a failed statement, want E", phase, got)
			}
			s.fails("INSERT INTO pk VALUES (-1, -1)", pgcode.InFailedSQLTransaction)
			if tag := s.tag("COMMIT"); tag != "ROLLBACK" {
				t.Fatalf("COMMIT of a failed block: tag %q, want ROLLBACK", tag)
			}
		}
		s.exec("SET statement_timeout = 0")
		return
	}
	if strings.HasSuffix(phase, "timeout") {
		s.exec(fmt.Sprintf("SET statement_timeout = '%dms'", timeout.Milliseconds()))
		defer s.exec("SET statement_timeout = 0")
	}
	if len(op.setup) > 0 {
		s.exec(op.setup...)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	point, act := "", func() {}
	switch phase {
	case "cancelled":
		cancel()
	case "queued-cancel":
		point, act = "queued", cancel
	case "queued-timeout":
		point, act = "queued", func() { time.Sleep(timeout + timerSlack) }
	case "append-cancel":
		point, act = "append", cancel
	case "durable-timeout":
		point, act = "durable", func() { time.Sleep(timeout + timerSlack) }
	}
	var reached atomic.Bool
	if point != "" {
		hook := func(p string) {
			if p == point && !reached.Swap(true) {
				act()
			}
		}
		f.c.testHook.Store(&hook)
	}
	var rows []string
	var tag string
	var err error
	if op.copyRows != nil {
		err = s.copyInCtx(ctx, "COPY pk FROM STDIN", op.copyRows, len(op.copyRows), false)
	} else {
		rows, tag, err = s.run(ctx, op.sql)
	}
	f.c.testHook.Store(nil)
	if s.s.TxnStatus() != wire.TxnIdle {
		t.Fatalf("%s: transaction status %c after the write, want idle", phase, s.s.TxnStatus())
	}
	// A write that got past its checks commits; one that did not fails.
	committed := phase == "append-cancel" || phase == "durable-timeout" && reached.Load()
	if phase == "durable-timeout" && !reached.Load() {
		t.Logf("%s: the timeout fired before the commit's checks (slow machine): the write must fail", phase)
	}
	if !committed {
		wantCode := string(pgcode.QueryCanceled)
		if strings.HasSuffix(phase, "cancel") || phase == "cancelled" {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: %v, want the context's cancellation", phase, err)
			}
		} else if errCode(err) != wantCode {
			t.Fatalf("%s: %v, want 57014", phase, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: the write got past its checks, so it committed, but the client was told %v", phase, err)
	}
	if op.tag != "" && tag != op.tag {
		t.Fatalf("%s: tag %q, want %q", phase, tag, op.tag)
	}
	if op.returning != nil {
		sort.Strings(rows)
		sameRows(t, phase+": RETURNING", rows, op.returning)
	}
	op.apply(f.model)
}

// TestWriteCancelledWhileQueued: a transaction queued behind a group
// commit's leader and cancelled there is dropped from the group: the
// leader's group commits the others in one durable write, and the
// cancelled one leaves no trace.
func TestWriteCancelledWhileQueued(t *testing.T) {
	c := openTest(t, Config{})
	a, b := newTestSession(t, c), newTestSession(t, c)
	a.exec("CREATE TABLE q (k int PRIMARY KEY, who text)")
	// a queues and waits in the hook (before taking the lock) until b
	// has committed; b, the leader, finds a in its group, cancelled.
	var calls atomic.Int32
	release := make(chan struct{})
	queued := make(chan struct{})
	hook := func(p string) {
		if p == "queued" && calls.Add(1) == 1 {
			close(queued)
			<-release
		}
	}
	c.testHook.Store(&hook)
	defer c.testHook.Store(nil)
	actx, cancel := context.WithCancel(context.Background())
	aErr := make(chan error, 1)
	go func() {
		_, _, err := a.run(actx, "INSERT INTO q VALUES (1, 'a'), (2, 'a')")
		aErr <- err
	}()
	<-queued
	cancel()
	groups := c.commitGroups.Load()
	if tag := b.tag("INSERT INTO q VALUES (3, 'b')"); tag != "INSERT 0 1" {
		t.Fatalf("leader's tag %q", tag)
	}
	close(release)
	if err := <-aErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("transaction cancelled while queued: %v", err)
	}
	if n := c.commitGroups.Load() - groups; n != 1 {
		t.Fatalf("%d durable writes for the group, want 1", n)
	}
	sameRows(t, "after the group", b.query("SELECT k, who FROM q"), []string{"3 b"})
	c = reopen(t, c)
	sameRows(t, "after restart", newTestSession(t, c).query("SELECT k, who FROM q"), []string{"3 b"})
}

// TestWriteTimeoutRepro is issue 8's reproduction: a 100,000-row INSERT
// ... SELECT under a statement_timeout close to its running time (the
// report's 1400ms; here measured on a first insert, so that the timeout
// lands inside the statement on any machine: at a tenth, a half and
// nine tenths of it). Under the race detector, which slows the coordinator
// some tenfold, 10,000 rows. Whichever way each insert ends, its outcome
// is whole: an error and none of its rows, or success and all of them;
// the primary key holds, the view agrees with the table, a restart gives
// the same state, and DELETE works.
func TestWriteTimeoutRepro(t *testing.T) {
	rows := 100000
	if raceEnabled {
		rows = 10000
	}
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE pk (a int PRIMARY KEY, b int)",
		"CREATE MATERIALIZED VIEW pkv AS SELECT count(*) AS n, sum(b) AS s FROM pk",
	)
	model := map[int]bool{}
	insert := func(from int) error {
		_, _, err := s.run(context.Background(), fmt.Sprintf("INSERT INTO pk SELECT g, g FROM generate_series(%d, %d) g", from, from+rows-1))
		switch {
		case err == nil:
			for a := from; a < from+rows; a++ {
				model[a] = true
			}
		case errCode(err) != string(pgcode.QueryCanceled):
			t.Fatalf("insert: %v", err)
		}
		return err
	}
	start := time.Now()
	insert(1)
	took := time.Since(start)
	for i, frac := range []float64{0.1, 0.5, 0.9} {
		timeout := time.Duration(frac * float64(took))
		s.exec(fmt.Sprintf("SET statement_timeout = %d", max(timeout.Milliseconds(), 1)))
		err := insert((i+1)*rows + 1)
		s.exec("SET statement_timeout = 0")
		t.Logf("INSERT of %d rows (%v without a timeout) under a %v timeout: %v", rows, took.Round(time.Millisecond), timeout.Round(time.Millisecond), err)
	}
	check := func(s *testSession, what string) {
		t.Helper()
		sum := 0
		for a := range model {
			sum += a
		}
		want := fmt.Sprintf("%d %d", len(model), sum)
		s.want("SELECT count(*), sum(b) FROM pk", want)
		s.want("SELECT n, s FROM pkv", want)
		for _, a := range []int{5, rows + 5, 2*rows + 5, 3*rows + 5} {
			if model[a] {
				s.fails(fmt.Sprintf("INSERT INTO pk VALUES (%d, 0)", a), pgcode.UniqueViolation)
			}
		}
	}
	check(s, "after the inserts")
	c = reopen(t, c)
	s = newTestSession(t, c)
	check(s, "after restart")
	deleted := 0
	for a := range model {
		if a%10 == 0 {
			delete(model, a)
			deleted++
		}
	}
	if tag, want := s.tag("DELETE FROM pk WHERE a % 10 = 0"), fmt.Sprintf("DELETE %d", deleted); tag != want {
		t.Fatalf("delete: %s, want %s", tag, want)
	}
	check(s, "after the delete")
}

// TestReturningDuringSubscribe: INSERT ... RETURNING evaluates mz_now()
// (the evaluation context reads the clock) while a SUBSCRIBE makes the
// clock tick at every TickInterval. Under -race this checks the clock is
// read safely (issue 8 found evalCtx reading it without the lock). The
// returned time is never before the write's own timestamp (SUBSCRIBE
// reports it: the write is visible when RETURNING runs), and sequential
// writes commit at increasing timestamps.
func TestReturningDuringSubscribe(t *testing.T) {
	c := openTest(t, Config{TickInterval: time.Millisecond})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE r (k int PRIMARY KEY)")
	sub := newTestSession(t, c)
	res := sub.start(context.Background(), "SUBSCRIBE r")
	defer res.Rows.Close()
	const n = 200
	var wg sync.WaitGroup
	wg.Add(1)
	committedAt := map[string]int64{} // k -> its write's timestamp
	var subErr error
	go func() {
		defer wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		rows, err := drainRows(ctx, res.Rows, n)
		subErr = err
		for _, r := range rows {
			var at, diff int64
			var k string
			fmt.Sscan(r, &at, &diff, &k)
			committedAt[k] = at
		}
	}()
	returned := map[string]int64{}
	for k := range n {
		rows, _, err := s.run(context.Background(), fmt.Sprintf("INSERT INTO r VALUES (%d) RETURNING k, mz_now()", k))
		if err != nil {
			t.Fatal(err)
		}
		var key string
		var now int64
		fmt.Sscan(rows[0], &key, &now)
		returned[key] = now
	}
	wg.Wait()
	if subErr != nil {
		t.Fatalf("subscribe: %v", subErr)
	}
	if len(committedAt) != n {
		t.Fatalf("subscribe saw %d inserts, want %d", len(committedAt), n)
	}
	var last int64
	for k := range n {
		key := fmt.Sprint(k)
		at, now := committedAt[key], returned[key]
		if now < at {
			t.Fatalf("insert %d: RETURNING mz_now() = %d is before its own write's timestamp %d", k, now, at)
		}
		if at <= last {
			t.Fatalf("insert %d committed at %d, not after the previous one (%d)", k, at, last)
		}
		last = at
	}
}

// TestWriteConstraints: NOT NULL, primary key and UNIQUE violations within
// one statement and across the statements of a transaction, ON CONFLICT,
// and retractions of rows a concurrent transaction changed first each
// fail with PostgreSQL's SQLSTATE and leave the table as it was; the
// constraints hold again after a restart.
func TestWriteConstraints(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE u (id int PRIMARY KEY, e text UNIQUE, n int NOT NULL, d int DEFAULT 7)",
		"INSERT INTO u VALUES (1, 'a', 10), (2, 'b', 20)",
	)
	want := []string{"1 a 10 7", "2 b 20 7"}
	unchanged := func(what string) {
		t.Helper()
		sameRows(t, what, s.query("SELECT * FROM u"), want)
	}
	unchanged("start")
	for _, tc := range []struct {
		q    string
		code pgcode.Code
		msg  string // a part of the message (the constraint or column)
	}{
		{"INSERT INTO u VALUES (3, 'c', NULL)", pgcode.NotNullViolation, `column "n"`},
		{"INSERT INTO u (id, e) VALUES (3, 'c')", pgcode.NotNullViolation, `column "n"`},
		{"INSERT INTO u VALUES (NULL, 'c', 1)", pgcode.NotNullViolation, `column "id"`},
		{"UPDATE u SET n = NULL WHERE id = 1", pgcode.NotNullViolation, `column "n"`},
		{"INSERT INTO u VALUES (1, 'c', 1)", pgcode.UniqueViolation, "u_pkey"},
		{"INSERT INTO u VALUES (3, 'c', 1), (3, 'd', 1)", pgcode.UniqueViolation, "u_pkey"},
		{"INSERT INTO u VALUES (3, 'a', 1)", pgcode.UniqueViolation, "u_e_key"},
		{"INSERT INTO u VALUES (3, 'c', 1), (4, 'c', 1)", pgcode.UniqueViolation, "u_e_key"},
		{"UPDATE u SET id = 2 WHERE id = 1", pgcode.UniqueViolation, "u_pkey"},
		{"UPDATE u SET e = 'b' WHERE id = 1", pgcode.UniqueViolation, "u_e_key"},
		// 64 rows or more check the primary key by one sorted merge.
		{"INSERT INTO u SELECT g, 'x' || g, g FROM generate_series(3, 100) g UNION ALL SELECT 2, 'y', 1", pgcode.UniqueViolation, "u_pkey"},
		{"INSERT INTO u SELECT g, 'x' || g, g FROM generate_series(3, 100) g UNION ALL SELECT 50, 'y', 1", pgcode.UniqueViolation, "u_pkey"},
		// ON CONFLICT DO UPDATE may not touch a row twice, nor break
		// another unique key; its target must be a unique key.
		{"INSERT INTO u VALUES (21, 'r', 1), (21, 's', 1) ON CONFLICT (id) DO UPDATE SET e = excluded.e", pgcode.CardinalityViolation, "a second time"},
		{"INSERT INTO u VALUES (1, 'q', 1) ON CONFLICT (id) DO UPDATE SET e = 'b'", pgcode.UniqueViolation, "u_e_key"},
		{"INSERT INTO u VALUES (1, 'x', 1) ON CONFLICT (n) DO NOTHING", pgcode.InvalidColumnReference, "ON CONFLICT"},
	} {
		pe := s.fails(tc.q, tc.code)
		if !strings.Contains(pe.Message, tc.msg) {
			t.Errorf("%s: message %q does not name %s", tc.q, pe.Message, tc.msg)
		}
		unchanged(tc.q)
	}
	// What the constraints allow: NULLs never conflict in a UNIQUE
	// column; a row deleted and inserted again in one statement or
	// transaction; keys swapped by one UPDATE (checked on the statement's
	// result, as the SQL standard says; PostgreSQL checks row by row and
	// rejects this swap unless the constraint is deferrable).
	s.exec("INSERT INTO u VALUES (3, NULL, 1), (4, NULL, 1)")
	s.exec("UPDATE u SET id = 3 - id WHERE id IN (1, 2)")
	want = []string{"1 b 20 7", "2 a 10 7", "3 NULL 1 7", "4 NULL 1 7"}
	unchanged("after the swap")

	// Across the statements of a transaction: the second insert of a key
	// fails the statement and aborts the block (25P02 until it ends).
	s.exec("BEGIN", "INSERT INTO u VALUES (10, 'j', 1)")
	s.fails("INSERT INTO u VALUES (10, 'k', 1)", pgcode.UniqueViolation)
	s.fails("INSERT INTO u VALUES (11, 'k', 1)", pgcode.InFailedSQLTransaction)
	s.fails("SELECT * FROM u", pgcode.InFailedSQLTransaction)
	if tag := s.tag("ROLLBACK"); tag != "ROLLBACK" {
		t.Fatalf("ROLLBACK: %s", tag)
	}
	unchanged("after the failed block")
	s.exec("BEGIN", "INSERT INTO u VALUES (10, 'j', 1)", "DELETE FROM u WHERE id = 10", "INSERT INTO u VALUES (10, 'k', 1)")
	s.exec("DELETE FROM u WHERE id = 1", "INSERT INTO u VALUES (1, 'b', 5)", "COMMIT")
	want = []string{"1 b 5 7", "10 k 1 7", "2 a 10 7", "3 NULL 1 7", "4 NULL 1 7"}
	unchanged("after the block")

	// ON CONFLICT.
	for _, tc := range []struct{ q, tag string }{
		{"INSERT INTO u VALUES (1, 'zz', 0) ON CONFLICT (id) DO NOTHING", "INSERT 0 0"},
		{"INSERT INTO u VALUES (20, 'p', 1), (20, 'q', 1) ON CONFLICT (id) DO NOTHING", "INSERT 0 1"},
		{"INSERT INTO u VALUES (1, 'zz', 99) ON CONFLICT (id) DO UPDATE SET n = excluded.n WHERE u.n > 1000", "INSERT 0 0"},
		{"INSERT INTO u VALUES (1, 'zz', 99) ON CONFLICT (id) DO UPDATE SET n = u.n + excluded.n", "INSERT 0 1"},
		{"INSERT INTO u VALUES (30, 'a', 1) ON CONFLICT (e) DO UPDATE SET n = 0", "INSERT 0 1"},
	} {
		if tag := s.tag(tc.q); tag != tc.tag {
			t.Fatalf("%s: tag %q, want %q", tc.q, tag, tc.tag)
		}
	}
	want = []string{"1 b 104 7", "10 k 1 7", "2 a 0 7", "20 p 1 7", "3 NULL 1 7", "4 NULL 1 7"}
	unchanged("after ON CONFLICT")
	if rows, _, err := s.run(context.Background(), "INSERT INTO u VALUES (4, 'w', 2) ON CONFLICT (id) DO UPDATE SET n = excluded.n RETURNING id, e, n"); err != nil || !slices.Equal(rows, []string{"4 NULL 2"}) {
		t.Fatalf("ON CONFLICT ... RETURNING: %v %v", rows, err)
	}
	want[5] = "4 NULL 2 7"

	// A retraction of a row that is not there any more: another session
	// changed it after this transaction read it. The commit fails with
	// 40001, ends the block, and applies nothing.
	o := newTestSession(t, c)
	s.exec("BEGIN", "UPDATE u SET n = n + 1 WHERE id = 1")
	o.exec("DELETE FROM u WHERE id = 1")
	want = want[1:]
	s.fails("COMMIT", pgcode.SerializationFailure)
	if st := s.s.TxnStatus(); st != wire.TxnIdle {
		t.Fatalf("status %c after a failed COMMIT", st)
	}
	unchanged("after a conflicting update")
	s.exec("BEGIN", "DELETE FROM u WHERE id = 2", "INSERT INTO u VALUES (50, 'm', 1)")
	o.exec("UPDATE u SET n = 5 WHERE id = 2")
	s.fails("COMMIT", pgcode.SerializationFailure)
	want[1] = "2 a 5 7"
	unchanged("after a conflicting delete")
	// A delete that finds nothing is no conflict.
	if tag := s.tag("DELETE FROM u WHERE id = 12345"); tag != "DELETE 0" {
		t.Fatalf("delete of nothing: %s", tag)
	}

	// A table without a key is a multiset: both copies of a row go, and
	// deleting them concurrently conflicts.
	s.exec("CREATE TABLE bag (a int, b text)", "INSERT INTO bag VALUES (1, 'x'), (1, 'x'), (2, 'y')")
	s.exec("BEGIN", "DELETE FROM bag WHERE a = 1")
	o.exec("DELETE FROM bag WHERE a = 1")
	s.fails("COMMIT", pgcode.SerializationFailure)
	o.exec("INSERT INTO bag VALUES (2, 'y')")
	if tag := s.tag("DELETE FROM bag WHERE a = 2"); tag != "DELETE 2" {
		t.Fatalf("delete of a row held twice: %s", tag)
	}
	sameRows(t, "bag", s.query("SELECT * FROM bag"), nil)

	// After a restart the contents and the constraints are the same.
	c = reopen(t, c)
	s = newTestSession(t, c)
	unchanged("after restart")
	s.fails("INSERT INTO u VALUES (2, 'new', 1)", pgcode.UniqueViolation)
	s.fails("INSERT INTO u VALUES (60, 'a', 1)", pgcode.UniqueViolation)
	s.fails("INSERT INTO u VALUES (60, 'new', NULL)", pgcode.NotNullViolation)
	unchanged("after restart and failed writes")
}

// TestOnConflictRace: another session commits a conflicting key after an
// INSERT ... ON CONFLICT resolved its conflicts and before it commits.
// The statement resolves again and does what its clause says (DO NOTHING
// skips the key, DO UPDATE updates the new row) instead of failing with
// 23505; a violation of another unique key still fails.
func TestOnConflictRace(t *testing.T) {
	c := openTest(t, Config{})
	a, b := newTestSession(t, c), newTestSession(t, c)
	a.exec("CREATE TABLE r (k int PRIMARY KEY, u int UNIQUE, who text)")
	race := func(stmt, other string) (string, error) {
		t.Helper()
		var once atomic.Bool
		hook := func(p string) {
			if p == "resolved" && once.CompareAndSwap(false, true) {
				b.exec(other)
			}
		}
		c.testHook.Store(&hook)
		defer c.testHook.Store(nil)
		_, tag, err := a.run(context.Background(), stmt)
		if !once.Load() {
			t.Fatalf("%s: the hook never ran", stmt)
		}
		return tag, err
	}
	tag, err := race("INSERT INTO r VALUES (1, 1, 'a') ON CONFLICT DO NOTHING", "INSERT INTO r VALUES (1, 10, 'b')")
	if err != nil || tag != "INSERT 0 0" {
		t.Fatalf("DO NOTHING after a racing insert: %q, %v", tag, err)
	}
	sameRows(t, "after DO NOTHING", a.query("SELECT k, u, who FROM r"), []string{"1 10 b"})
	tag, err = race("INSERT INTO r VALUES (2, 2, 'a') ON CONFLICT (k) DO UPDATE SET who = r.who || '+a'", "INSERT INTO r VALUES (2, 20, 'b')")
	if err != nil || tag != "INSERT 0 1" {
		t.Fatalf("DO UPDATE after a racing insert: %q, %v", tag, err)
	}
	sameRows(t, "after DO UPDATE", a.query("SELECT k, u, who FROM r"), []string{"1 10 b", "2 20 b+a"})
	// The racing insert takes u = 3: k = 3 is new, u = 3 is a real
	// violation of the other key.
	if _, err := race("INSERT INTO r VALUES (3, 3, 'a') ON CONFLICT (k) DO NOTHING", "INSERT INTO r VALUES (4, 3, 'b')"); errCode(err) != string(pgcode.UniqueViolation) {
		t.Fatalf("violation of another key: %v", err)
	}
	sameRows(t, "at the end", a.query("SELECT k, u, who FROM r"), []string{"1 10 b", "2 20 b+a", "4 3 b"})
}
