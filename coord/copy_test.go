package coord

import (
	"context"
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/wire"
)

// copyIn runs a COPY FROM STDIN statement and feeds it rows in batches of
// batch rows, as the wire layer does; abort stops after the first batch.
func (ts *testSession) copyIn(stmt string, rows [][]repr.Datum, batch int, abort bool) error {
	ts.t.Helper()
	return ts.copyInCtx(context.Background(), stmt, rows, batch, abort)
}

// copyInCtx is copyIn whose rows are appended and committed under ctx (the
// context of the statement, which a cancel ends).
func (ts *testSession) copyInCtx(ctx context.Context, stmt string, rows [][]repr.Datum, batch int, abort bool) error {
	ts.t.Helper()
	st, err := ts.s.Prepare(ctx, stmt, nil)
	if err != nil {
		return err
	}
	res, err := ts.s.Execute(ctx, st, nil, wire.ExecuteOptions{Protocol: wire.ProtocolSimple, StatementsInQuery: 1})
	if err != nil {
		ts.s.Sync(ctx, true)
		return err
	}
	if res.CopyIn == nil {
		ts.t.Fatalf("%s: not a COPY FROM STDIN", stmt)
	}
	sink := res.CopyIn.Sink
	fail := func(err error) error {
		sink.Abort(err)
		ts.s.Sync(ctx, true)
		return err
	}
	for start := 0; start < len(rows); start += batch {
		end := min(start+batch, len(rows))
		// One slab per batch, as the wire layer hands them over.
		var p repr.Packer
		var packed []repr.Row
		for _, r := range rows[start:end] {
			p.Reset()
			p.PushAll(r)
			packed = append(packed, p.Clone())
		}
		if err := sink.Append(ctx, packed); err != nil {
			return fail(err)
		}
		if abort {
			return fail(pgcode.New(pgcode.QueryCanceled, "COPY from stdin failed: test"))
		}
	}
	if err := sink.Commit(ctx); err != nil {
		return fail(err)
	}
	return ts.s.Sync(ctx, false)
}

// TestCopyFromSorted: COPY sorts its rows by the table's key in runs
// while they arrive and merges the runs at commit. Whatever the order and
// the number of runs, the table ends up with exactly the rows copied, its
// key checks see every row (duplicates across runs, NULL keys), a failed
// or aborted COPY leaves nothing, and tables without a primary key keep
// every duplicate row.
func TestCopyFromSorted(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec(
		"CREATE TABLE p (id int PRIMARY KEY, k int, v text)",
		"CREATE TABLE n (a int, b text)",
		"CREATE TABLE d (id int PRIMARY KEY, v text DEFAULT 'dflt', k int)",
		"CREATE MATERIALIZED VIEW pk AS SELECT k, count(*) AS c, sum(id) AS s FROM p GROUP BY k",
	)
	rng := rand.New(rand.NewSource(1))
	// More rows than three runs, in random order.
	const n = 3*copyRunRows + 1234
	ids := rng.Perm(n)
	rows := make([][]repr.Datum, n)
	for i, id := range ids {
		rows[i] = []repr.Datum{repr.Int4Datum(int32(id - n/2)), repr.Int4Datum(int32(id % 7)), repr.TextDatum("v" + strconv.Itoa(id))}
	}
	if err := s.copyIn("COPY p FROM STDIN", rows, 1000, false); err != nil {
		t.Fatalf("copy: %v", err)
	}
	wantSum := 0
	for _, id := range ids {
		wantSum += id - n/2
	}
	if got, want := s.query("SELECT count(*), sum(id), count(DISTINCT v) FROM p"), fmt.Sprintf("%d %d %d", n, wantSum, n); got[0] != want {
		t.Fatalf("after COPY: %s, want %s", got[0], want)
	}
	if got := s.query("SELECT sum(c), sum(s) FROM pk"); got[0] != fmt.Sprintf("%d %d", n, wantSum) {
		t.Fatalf("view after COPY: %s", got[0])
	}
	// Point lookups go to the primary arrangement.
	for _, id := range []int{0, n - 1, n / 3} {
		got := s.query(fmt.Sprintf("SELECT v FROM p WHERE id = %d", id-n/2))
		if len(got) != 1 || got[0] != "v"+strconv.Itoa(id) {
			t.Fatalf("lookup %d: %v", id-n/2, got)
		}
	}

	// A key already in the table, in the last run: 23505, nothing written.
	more := make([][]repr.Datum, copyRunRows+10)
	for i := range more {
		more[i] = []repr.Datum{repr.Int4Datum(int32(n + i)), repr.Int4Datum(1), repr.TextDatum("x")}
	}
	more[len(more)-1][0] = repr.Int4Datum(5)
	if err := s.copyIn("COPY p FROM STDIN", more, 1024, false); errCode(err) != string(pgcode.UniqueViolation) {
		t.Fatalf("duplicate of an existing key: %v", err)
	}
	// The same key twice within the COPY, in different runs.
	more[len(more)-1][0] = repr.Int4Datum(int32(n + 3))
	if err := s.copyIn("COPY p FROM STDIN", more, 1024, false); errCode(err) != string(pgcode.UniqueViolation) {
		t.Fatalf("duplicate within the COPY: %v", err)
	}
	// A NULL key.
	more[len(more)-1][0] = repr.Null
	if err := s.copyIn("COPY p FROM STDIN", more, 1024, false); errCode(err) != string(pgcode.NotNullViolation) {
		t.Fatalf("NULL key: %v", err)
	}
	// Aborted after its first batch.
	more[len(more)-1][0] = repr.Int4Datum(int32(n + len(more)))
	if err := s.copyIn("COPY p FROM STDIN", more, 1024, true); errCode(err) != string(pgcode.QueryCanceled) {
		t.Fatalf("aborted COPY: %v", err)
	}
	if got := s.query("SELECT count(*) FROM p"); got[0] != strconv.Itoa(n) {
		t.Fatalf("failed COPYs wrote rows: count %s, want %d", got[0], n)
	}
	// Now it goes in whole.
	if err := s.copyIn("COPY p FROM STDIN", more, 1024, false); err != nil {
		t.Fatalf("copy: %v", err)
	}
	if got := s.query("SELECT count(*) FROM p"); got[0] != strconv.Itoa(n+len(more)) {
		t.Fatalf("count %s, want %d", got[0], n+len(more))
	}

	// No primary key: duplicates are rows like any other.
	var dup [][]repr.Datum
	want := map[string]int{}
	for i := 0; i < copyRunRows+5000; i++ {
		a := rng.Intn(50)
		dup = append(dup, []repr.Datum{repr.Int4Datum(int32(a)), repr.TextDatum(strconv.Itoa(a % 3))})
		want[fmt.Sprintf("%d %d %d", a, a%3, 0)]++
	}
	if err := s.copyIn("COPY n FROM STDIN", dup, 777, false); err != nil {
		t.Fatalf("copy n: %v", err)
	}
	got := s.query("SELECT a, b, count(*) FROM n GROUP BY a, b")
	var wantRows []string
	for k, c := range want {
		var a, b, z int
		fmt.Sscan(k, &a, &b, &z)
		wantRows = append(wantRows, fmt.Sprintf("%d %d %d", a, b, c))
	}
	sort.Strings(wantRows)
	if fmt.Sprint(got) != fmt.Sprint(wantRows) {
		t.Fatalf("n after COPY:\n got %v\nwant %v", got, wantRows)
	}

	// A column list: the others take their defaults.
	var part [][]repr.Datum
	for i := 0; i < 3000; i++ {
		part = append(part, []repr.Datum{repr.Int4Datum(int32(i % 10)), repr.Int4Datum(int32(3000 - i))})
	}
	if err := s.copyIn("COPY d (k, id) FROM STDIN", part, 500, false); err != nil {
		t.Fatalf("copy d: %v", err)
	}
	if got := s.query("SELECT count(*), min(id), max(id), sum(k), min(v), max(v) FROM d"); got[0] != "3000 1 3000 13500 dflt dflt" {
		t.Fatalf("d after COPY: %v", got)
	}
}
