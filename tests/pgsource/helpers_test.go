package pgsource

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/pgtest"
	"github.com/viewd/viewd/internal/viewdtest"
)

// upstream starts a private PostgreSQL 15 with logical replication on and
// returns a connection to it. logical_decoding_work_mem is small so that
// transactions of a few thousand rows are streamed (protocol v2) before
// they commit. synchronous_commit is on (pgtest turns it off): the
// walsender decodes only flushed WAL, so with it off every commit would
// wait up to wal_writer_delay (200 ms) before it can be replicated.
func upstream(t testing.TB) (*pgtest.Server, *pgx.Conn) {
	t.Helper()
	pg := pgtest.StartWith(t, "wal_level=logical", "max_replication_slots=20", "max_wal_senders=20", "logical_decoding_work_mem=64kB", "synchronous_commit=on")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatalf("connect upstream: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return pg, c
}

// connect opens one more connection to the upstream.
func connect(t testing.TB, pg *pgtest.Server) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, pg.URL())
	if err != nil {
		t.Fatalf("connect upstream: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// startViewd starts viewd on dataDir ("" for a fresh one).
func startViewd(t testing.TB, dataDir string) (*viewdtest.Server, *pgx.Conn) {
	t.Helper()
	srv := viewdtest.Start(t, viewdtest.Options{DataDir: dataDir})
	return srv, srv.Connect(t)
}

// createSource declares the secret, the connection and a source over
// publication pub.
func createSource(t testing.TB, v *pgx.Conn, pg *pgtest.Server, name, pub, forClause string) {
	t.Helper()
	exec1(t, v, "CREATE SECRET IF NOT EXISTS pgpass AS 'unused-with-trust'")
	exec1(t, v, fmt.Sprintf("CREATE CONNECTION IF NOT EXISTS pgconn TO POSTGRES (HOST '127.0.0.1', PORT %d, USER 'postgres', PASSWORD SECRET pgpass, DATABASE 'postgres', SSL MODE 'disable')", pg.Port()))
	exec1(t, v, fmt.Sprintf("CREATE SOURCE %s FROM POSTGRES CONNECTION pgconn (PUBLICATION '%s') %s", name, pub, forClause))
}

func exec1(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	viewdtest.Exec(t, c, sql, args...)
}

// query runs sql and returns its rows as text lines "a|b|c" (NULL for
// null), in result order.
func query(c *pgx.Conn, sql string) ([]string, error) { return viewdtest.Query(c, sql) }

func rows(t testing.TB, c *pgx.Conn, sql string) []string {
	t.Helper()
	return viewdtest.Rows(t, c, sql)
}

// eventually polls sql until it returns want.
func eventually(t testing.TB, c *pgx.Conn, timeout time.Duration, sql string, want []string) {
	t.Helper()
	viewdtest.Eventually(t, c, timeout, 20*time.Millisecond, sql, want)
}

func abbrev(lines []string) string { return viewdtest.Abbrev(lines) }

// status returns a source's row of mz_source_statuses as name -> value.
func status(t testing.TB, c *pgx.Conn, name string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := c.PgConn().ExecParams(ctx, "SELECT * FROM mz_internal.mz_source_statuses WHERE name = '"+name+"'", nil, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatalf("mz_source_statuses: %v", res.Err)
	}
	out := map[string]string{}
	if len(res.Rows) == 0 {
		return out
	}
	for i, f := range res.FieldDescriptions {
		v := res.Rows[0][i]
		if v == nil {
			out[f.Name] = "NULL"
		} else {
			out[f.Name] = string(v)
		}
	}
	return out
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// viewdConn opens another connection to the viewd that v talks to.
func viewdConn(t testing.TB, v *pgx.Conn) *pgx.Conn {
	t.Helper()
	cfg := v.Config()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		t.Fatalf("connect viewd: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// waitFor polls f until it returns "" or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, f func() string) {
	t.Helper()
	viewdtest.WaitFor(t, timeout, 20*time.Millisecond, what, f)
}
