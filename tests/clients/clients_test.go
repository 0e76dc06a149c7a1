// Package clients checks viewd with the real clients people connect with —
// psql, psycopg2 and SQLAlchemy, the PostgreSQL JDBC driver, node-postgres,
// pgx, lib/pq, psqlODBC — and with the connect-time catalog queries of BI
// tools, each run against viewd and a private PostgreSQL 15 loaded with
// the same schema (testdata/schema.sql).
//
// Each client reports, per call, a result (or its error) and the call's
// time. The test compares viewd's results with PostgreSQL's and writes
// the differences to a golden file per client (testdata/*.golden): the
// differences there are the intended or known ones, and any change —
// a new difference or one that went away — fails the test. Regenerate
// with
//
//	go test ./tests/clients -rewrite
//
// and read the diff before committing it. With VIEWD_CLIENTS_TIMES=FILE
// the test also writes a table of each client's slowest introspection
// call on both servers (the table in README).
//
// A client whose program is not installed is skipped with a message when
// $CI is unset; in CI it fails (.ci/run installs them).
package clients

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/pgtest"
	"github.com/viewd/viewd/internal/testenv"
	"github.com/viewd/viewd/internal/viewdtest"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files with the differences found")

// servers are the two servers a client runs against, loaded with the
// same schema, both reached as user viewd in database viewd.
type servers struct {
	viewd, pg target
}

// target is one server's address.
type target struct {
	name string // "viewd" or "postgres"
	host string
	port string
}

func (t target) url() string {
	return fmt.Sprintf("postgres://viewd@%s:%s/viewd?sslmode=disable", t.host, t.port)
}

// call is one client call's outcome.
type call struct {
	name   string
	result string // the value, or "ERROR ..."
	ms     float64
}

// timing is a client's slowest introspection call on both servers.
type timing struct {
	client           string
	call             string
	viewdMs, pgMs    float64
	calls, identical int
	capabilities     string
}

var (
	timingsMu sync.Mutex
	timings   []timing
)

// TestClients starts both servers once and runs every client against
// them, each in a subtest.
func TestClients(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv := startServers(t, ctx)
	t.Run("psql", func(t *testing.T) { testPsql(t, ctx, srv) })
	t.Run("pgx", func(t *testing.T) { testPgx(t, ctx, srv) })
	t.Run("bi-queries", func(t *testing.T) { testBIQueries(t, ctx, srv) })
	t.Run("sqlalchemy", func(t *testing.T) { testSQLAlchemy(t, ctx, srv) })
	t.Run("jdbc", func(t *testing.T) { testJDBC(t, ctx, srv) })
	t.Run("odbc", func(t *testing.T) { testODBC(t, ctx, srv) })
	t.Run("node-postgres", func(t *testing.T) { testNodePostgres(t, ctx, srv) })
	t.Run("lib-pq", func(t *testing.T) { testLibPQ(t, ctx, srv) })
	writeTimings(t)
}

// startServers starts viewd and PostgreSQL and loads the schema into both.
func startServers(t *testing.T, ctx context.Context) servers {
	schema, err := os.ReadFile(filepath.Join("testdata", "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	// A client's transaction may read for longer than the default 5 s of
	// history on a loaded machine (SQLAlchemy holds one open while it
	// reflects).
	v := viewdtest.Start(t, viewdtest.Options{Args: []string{"-retain-history", "2m"}})
	p := pgtest.Start(t)
	admin, err := pgx.Connect(ctx, p.URL())
	if err != nil {
		t.Fatalf("clients: connect to postgres: %v", err)
	}
	defer admin.Close(ctx)
	// The same user and database names on both, so that outputs that
	// print them (owners in psql's \dt) compare equal.
	for _, s := range []string{"CREATE ROLE viewd SUPERUSER LOGIN", "CREATE DATABASE viewd OWNER viewd"} {
		if _, err := admin.Exec(ctx, s); err != nil {
			t.Fatalf("clients: postgres: %s: %v", s, err)
		}
	}
	vh, vp, _ := strings.Cut(v.Addr, ":")
	srv := servers{
		viewd: target{name: "viewd", host: vh, port: vp},
		pg:    target{name: "postgres", host: "127.0.0.1", port: fmt.Sprint(p.Port())},
	}
	for _, tg := range []target{srv.viewd, srv.pg} {
		c, err := pgx.Connect(ctx, tg.url())
		if err != nil {
			t.Fatalf("clients: connect to %s: %v", tg.name, err)
		}
		for _, stmt := range splitStatements(string(schema)) {
			if _, err := c.Exec(ctx, stmt); err != nil {
				t.Fatalf("clients: %s: %s: %v", tg.name, stmt, err)
			}
		}
		c.Close(ctx)
	}
	return srv
}

// splitStatements splits a file of statements that end with ";" at the
// end of a line (no semicolons inside strings at line ends).
func splitStatements(s string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(strings.TrimSpace(line), ";") {
			if st := strings.TrimSpace(cur.String()); st != ";" {
				out = append(out, st)
			}
			cur.Reset()
		}
	}
	if st := strings.TrimSpace(cur.String()); st != "" {
		out = append(out, st)
	}
	return out
}

// need returns the path of a client program, or skips the test (fails it
// in CI) when it is not installed.
func need(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		testenv.SkipUnlessCI(t, "%s is not installed (Debian package %s; .ci/run installs it)", prog, pkg)
	}
	return p
}

// compare checks a client's calls on viewd against PostgreSQL's, writes
// or checks the golden file of their differences, and records the
// slowest introspection call. capabilities names what the calls cover.
func compare(t *testing.T, client, capabilities string, onViewd, onPG []call) {
	t.Helper()
	pg := map[string]call{}
	for _, c := range onPG {
		pg[c.name] = c
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: each call whose result on viewd differs from PostgreSQL 15's.\n", client)
	fmt.Fprintf(&b, "# Generated by go test ./tests/clients -rewrite; an intended difference stays here.\n")
	tm := timing{client: client, capabilities: capabilities}
	for _, c := range onViewd {
		p, ok := pg[c.name]
		tm.calls++
		if ok && p.result == c.result {
			tm.identical++
		} else if strings.Contains(c.result+p.result, "\n") {
			// Multi-line output (psql): the lines that differ.
			fmt.Fprintf(&b, "\n%s (- postgres, + viewd)\n", c.name)
			for _, l := range strings.Split(strings.TrimRight(lineDiff(p.result, c.result), "\n"), "\n") {
				b.WriteString("  " + l + "\n")
			}
		} else {
			fmt.Fprintf(&b, "\n%s\n  viewd:    %s\n  postgres: %s\n", c.name, clip(c.result), clip(p.result))
		}
		if c.ms > tm.viewdMs && !strings.HasPrefix(c.name, "connect") {
			tm.call, tm.viewdMs, tm.pgMs = c.name, c.ms, p.ms
		}
	}
	timingsMu.Lock()
	timings = append(timings, tm)
	timingsMu.Unlock()
	t.Logf("%s: %d of %d calls give PostgreSQL's result; slowest on viewd: %s %.1f ms (PostgreSQL %.1f ms)",
		client, tm.identical, tm.calls, tm.call, tm.viewdMs, tm.pgMs)
	golden := filepath.Join("testdata", client+".golden")
	got := b.String()
	if *rewrite {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./tests/clients -rewrite)", err)
	}
	if string(want) != got {
		t.Errorf("%s: the differences from PostgreSQL changed (go test ./tests/clients -rewrite, then read the diff):\n%s", client, lineDiff(string(want), got))
	}
}

// clip shortens a long result for the golden file.
func clip(s string) string {
	s = strings.ReplaceAll(s, "\n", "\\n")
	if len(s) > 400 {
		return s[:400] + "..."
	}
	return s
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	in := func(l []string) map[string]int {
		m := map[string]int{}
		for _, s := range l {
			m[s]++
		}
		return m
	}
	wm, gm := in(wl), in(gl)
	var b strings.Builder
	for _, s := range wl {
		if gm[s] == 0 {
			b.WriteString("- " + s + "\n")
		}
	}
	for _, s := range gl {
		if wm[s] == 0 {
			b.WriteString("+ " + s + "\n")
		}
	}
	return b.String()
}

// writeTimings logs the table of slowest calls, and writes it to
// $VIEWD_CLIENTS_TIMES as markdown when set.
func writeTimings(t *testing.T) {
	timingsMu.Lock()
	defer timingsMu.Unlock()
	sort.Slice(timings, func(i, j int) bool { return timings[i].client < timings[j].client })
	var b strings.Builder
	b.WriteString("| client | covers | calls as PostgreSQL | slowest introspection call | viewd | PostgreSQL 15 |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, tm := range timings {
		fmt.Fprintf(&b, "| %s | %s | %d of %d | %s | %.0f ms | %.0f ms |\n", tm.client, tm.capabilities, tm.identical, tm.calls, tm.call, tm.viewdMs, tm.pgMs)
	}
	t.Logf("\n%s", b.String())
	if f := os.Getenv("VIEWD_CLIENTS_TIMES"); f != "" {
		if err := os.WriteFile(f, []byte(b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}

// run runs a client program and returns its standard output.
func run(ctx context.Context, t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// parseTabbed reads "name\tms\tresult" lines.
func parseTabbed(t *testing.T, out string) []call {
	t.Helper()
	var calls []call
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.SplitN(line, "\t", 3)
		if len(f) != 3 {
			t.Fatalf("bad client output line %q", line)
		}
		var ms float64
		fmt.Sscan(f[1], &ms)
		calls = append(calls, call{name: f[0], ms: ms, result: f[2]})
	}
	return calls
}
