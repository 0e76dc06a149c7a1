package coord

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// TestForeignKeyMessages checks the DETAIL lines of foreign-key errors,
// which PostgreSQL's clients show (the .slt files see only messages).
func TestForeignKeyMessages(t *testing.T) {
	c := openTest(t, Config{})
	ts := newTestSession(t, c)
	ts.exec("CREATE TABLE p (a int, b text, PRIMARY KEY (a, b))",
		"CREATE TABLE c (x int, y text, FOREIGN KEY (y, x) REFERENCES p (b, a))",
		"INSERT INTO p VALUES (1, 'one')", "INSERT INTO c VALUES (1, 'one')")
	e := ts.fails("INSERT INTO c VALUES (2, 'two')", pgcode.ForeignKeyViolation)
	if want := `Key (y, x)=(two, 2) is not present in table "p".`; e.Detail != want {
		t.Errorf("detail %q, want %q", e.Detail, want)
	}
	e = ts.fails("DELETE FROM p", pgcode.ForeignKeyViolation)
	if want := `Key (b, a)=(one, 1) is still referenced from table "c".`; e.Detail != want {
		t.Errorf("detail %q, want %q", e.Detail, want)
	}
	e = ts.fails("DROP TABLE p", pgcode.DependentObjectsStillExist)
	if want := "constraint c_y_x_fkey on table c depends on table p"; e.Detail != want {
		t.Errorf("detail %q, want %q", e.Detail, want)
	}
}

// TestForeignKeysDurable: foreign keys, their enforcement and a DROP
// ... CASCADE that removed one survive a restart, and the index of the
// referencing rows is rebuilt from the table's contents.
func TestForeignKeysDurable(t *testing.T) {
	c := openTest(t, Config{})
	ts := newTestSession(t, c)
	ts.exec("CREATE TABLE p (id int PRIMARY KEY)",
		"CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p ON DELETE CASCADE)",
		"CREATE TABLE q (id int PRIMARY KEY)",
		"CREATE TABLE d (qid int REFERENCES q)",
		"INSERT INTO p VALUES (1), (2)", "INSERT INTO c VALUES (10, 1), (11, 2)",
		"INSERT INTO q VALUES (1)", "INSERT INTO d VALUES (1)",
		"DROP TABLE q CASCADE")
	c = reopen(t, c)
	ts = newTestSession(t, c)
	ts.fails("INSERT INTO c VALUES (12, 3)", pgcode.ForeignKeyViolation)
	ts.exec("DELETE FROM p WHERE id = 1")
	ts.want("SELECT count(*) FROM c", "1")
	// d's key went with q: any value is accepted.
	ts.exec("INSERT INTO d VALUES (42)")
	ts.want("SELECT count(*) FROM pg_constraint WHERE contype = 'f'", "1")
	ts.want("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f'", "FOREIGN KEY (pid) REFERENCES p(id) ON DELETE CASCADE")
}

// TestForeignKeyConcurrentCommit: a transaction that inserts a child row
// and one that deletes its parent concurrently cannot both commit.
func TestForeignKeyConcurrentCommit(t *testing.T) {
	c := openTest(t, Config{})
	a, b := newTestSession(t, c), newTestSession(t, c)
	a.exec("CREATE TABLE p (id int PRIMARY KEY)", "CREATE TABLE c (pid int REFERENCES p)", "INSERT INTO p VALUES (1)")
	a.exec("BEGIN", "INSERT INTO c VALUES (1)")
	b.exec("BEGIN", "DELETE FROM p")
	b.exec("COMMIT")
	_, _, err := a.run(context.Background(), "COMMIT")
	if pgcode.Of(err) != pgcode.ForeignKeyViolation {
		t.Fatalf("commit of the child after its parent's deletion: %v, want 23503", err)
	}
	a.want("SELECT count(*) FROM c", "0")
}

// TestForeignKeyCascadeOneTimestamp: a cascade commits at the timestamp
// of the write that caused it, so a materialized view over parent and
// child never shows an orphan: a SUBSCRIBE to the orphans sees no change
// through deletes and key updates that cascade.
func TestForeignKeyCascadeOneTimestamp(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE p (id int PRIMARY KEY)",
		"CREATE TABLE c (id int PRIMARY KEY, pid int REFERENCES p ON DELETE CASCADE ON UPDATE CASCADE)",
		"CREATE MATERIALIZED VIEW orphans AS SELECT c.id, c.pid FROM c LEFT JOIN p ON p.id = c.pid WHERE c.pid IS NOT NULL AND p.id IS NULL",
		"CREATE MATERIALIZED VIEW children AS SELECT pid, count(*) AS n FROM c GROUP BY pid",
		"INSERT INTO p SELECT generate_series(1, 50)",
		"INSERT INTO c SELECT i, 1 + i % 50 FROM generate_series(1, 500) i")
	from := nowOf(c)
	sub := newTestSession(t, c)
	res := sub.start(context.Background(), fmt.Sprintf("SUBSCRIBE orphans WITH (PROGRESS) AS OF %d", from))
	defer res.Rows.Close()
	for i := 1; i <= 10; i++ {
		s.exec(fmt.Sprintf("DELETE FROM p WHERE id = %d", i), fmt.Sprintf("UPDATE p SET id = %d WHERE id = %d", 100+i, 10+i))
	}
	after := nowOf(c)
	s.want("SELECT count(*) FROM c", "400")
	s.want("SELECT n FROM children WHERE pid = 110", "10")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for progressed := uint64(0); progressed <= after; {
		row, err := res.Rows.Next(ctx)
		if err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		f := strings.Fields(rowText(row)) // mz_timestamp mz_progressed mz_diff id pid
		if f[1] != "t" {
			t.Fatalf("an orphan appeared: %v", f)
		}
		progressed, _ = strconv.ParseUint(f[0], 10, 64)
	}
}

// TestForeignKeyCopy: COPY FROM checks the rows it loads like an INSERT,
// in a transaction block too, and a violation leaves none of them.
func TestForeignKeyCopy(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE p (id int PRIMARY KEY)", "CREATE TABLE ch (id int PRIMARY KEY, pid int REFERENCES p)",
		"INSERT INTO p SELECT generate_series(1, 100)")
	var rows [][]repr.Datum
	for i := range 5000 {
		rows = append(rows, []repr.Datum{repr.Int4Datum(int32(i)), repr.Int4Datum(int32(1 + i%100))})
	}
	if err := s.copyIn("COPY ch FROM STDIN", rows, 1000, false); err != nil {
		t.Fatalf("COPY: %v", err)
	}
	s.want("SELECT count(*) FROM ch", "5000")
	bad := [][]repr.Datum{{repr.Int4Datum(9000), repr.Int4Datum(1)}, {repr.Int4Datum(9001), repr.Int4Datum(101)}}
	if err := s.copyIn("COPY ch FROM STDIN", bad, 1, false); pgcode.Of(err) != pgcode.ForeignKeyViolation {
		t.Fatalf("COPY of a row without parent: %v, want 23503", err)
	}
	s.exec("BEGIN")
	if err := s.copyIn("COPY ch FROM STDIN", bad, 1, false); pgcode.Of(err) != pgcode.ForeignKeyViolation {
		t.Fatalf("COPY in a block of a row without parent: %v, want 23503", err)
	}
	s.exec("ROLLBACK")
	s.want("SELECT count(*) FROM ch", "5000")
}

// TestForeignKeyCascadeChain: a cascade down a chain (each row references
// the one before) deletes it whole, one round per link, and a cascade to
// many rows of one key deletes them all.
func TestForeignKeyCascadeChain(t *testing.T) {
	c := openTest(t, Config{})
	s := newTestSession(t, c)
	s.exec("CREATE TABLE chain (id int PRIMARY KEY, prev int REFERENCES chain ON DELETE CASCADE)",
		"INSERT INTO chain SELECT i, NULLIF(i - 1, 0) FROM generate_series(1, 20000) i",
		"CREATE TABLE hub (id int PRIMARY KEY)", "CREATE TABLE spoke (id int PRIMARY KEY, hub int REFERENCES hub ON DELETE CASCADE)",
		"INSERT INTO hub VALUES (1), (2)", "INSERT INTO spoke SELECT i, 1 + i % 2 FROM generate_series(1, 50000) i")
	start := time.Now()
	s.exec("DELETE FROM chain WHERE id = 1", "DELETE FROM hub WHERE id = 1")
	t.Logf("chain of 20,000 and 25,000 spokes deleted in %v", time.Since(start))
	s.want("SELECT count(*) FROM chain", "0")
	s.want("SELECT count(*) FROM spoke", "25000")
}
