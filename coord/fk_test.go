package coord

import (
	"context"
	"testing"

	"github.com/viewd/viewd/pgcode"
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
