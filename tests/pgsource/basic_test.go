package pgsource

import (
	"strings"
	"testing"
	"time"
)

// TestBasic: the SQL surface (secret, connection, source FOR ALL TABLES
// with a subsource per table), the snapshot, streamed inserts, updates
// and deletes, SHOW CREATE redacting the secret, DROP SOURCE dropping the
// subsources and the slot.
func TestBasic(t *testing.T) {
	t.Parallel()
	pg, up := upstream(t)
	exec1(t, up, "CREATE TABLE accounts (id int PRIMARY KEY, owner text, balance numeric(12,2))")
	exec1(t, up, "CREATE TABLE events (n int, note text)")
	exec1(t, up, "ALTER TABLE events REPLICA IDENTITY FULL")
	exec1(t, up, "INSERT INTO accounts SELECT g, 'o' || g, g * 1.5 FROM generate_series(1, 10) g")
	exec1(t, up, "INSERT INTO events VALUES (1, 'a'), (2, 'b')")
	exec1(t, up, "CREATE PUBLICATION pub FOR ALL TABLES")
	srv, v := startViewd(t, "")
	createSource(t, v, pg, "src", "pub", "FOR ALL TABLES")
	// The first read after CREATE SOURCE waits for the snapshot: it never
	// sees the subsources empty (as Materialize holds reads until a new
	// source's first timestamp).
	if got := strings.Join(rows(t, v, "SELECT count(*), sum(balance) = 82.50 FROM accounts"), ";"); got != "10|t" {
		t.Fatalf("first read after CREATE SOURCE: %s, want 10|t", got)
	}
	eventually(t, v, 5*time.Second, "SELECT n, note FROM events ORDER BY n", []string{"1|a", "2|b"})

	exec1(t, up, "UPDATE accounts SET balance = balance + 1 WHERE id <= 2")
	exec1(t, up, "DELETE FROM accounts WHERE id = 10")
	exec1(t, up, "UPDATE events SET note = 'bb' WHERE n = 2")
	exec1(t, up, "DELETE FROM events WHERE n = 1")
	exec1(t, up, "UPDATE accounts SET id = 100 WHERE id = 9")
	eventually(t, v, 10*time.Second, "SELECT count(*), sum(balance) = 69.50, max(id) FROM accounts", []string{"9|t|100"})
	eventually(t, v, 10*time.Second, "SELECT n, note FROM events ORDER BY n", []string{"2|bb"})

	got := strings.Join(rows(t, v, "SHOW CREATE SECRET pgpass"), "\n")
	if strings.Contains(got, "unused-with-trust") || !strings.Contains(got, "********") {
		t.Fatalf("SHOW CREATE SECRET shows %q", got)
	}
	for _, q := range []string{"SELECT query FROM pg_stat_activity", "SELECT * FROM mz_catalog.mz_objects"} {
		if out, err := query(v, q); err == nil && strings.Contains(strings.Join(out, " "), "unused-with-trust") {
			t.Fatalf("%s shows the secret: %v", q, out)
		}
	}
	st := status(t, v, "src")
	if st["status"] != "running" || st["committed_lsn"] == "NULL" {
		t.Fatalf("status: %v", st)
	}
	var slots int
	if err := up.QueryRow(ctxT(t, 5*time.Second), "SELECT count(*) FROM pg_replication_slots").Scan(&slots); err != nil || slots != 1 {
		t.Fatalf("slots before drop: %d %v", slots, err)
	}
	exec1(t, v, "DROP SOURCE src")
	if out, err := query(v, "SELECT * FROM accounts"); err == nil {
		t.Fatalf("accounts still readable after DROP SOURCE: %v", out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := up.QueryRow(ctxT(t, 5*time.Second), "SELECT count(*) FROM pg_replication_slots").Scan(&slots); err != nil {
			t.Fatal(err)
		}
		if slots == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replication slot outlived DROP SOURCE")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t0 := time.Now()
	srv.Stop()
	t.Logf("stop took %s", time.Since(t0))
}
