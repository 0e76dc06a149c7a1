package sqllogictest

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/viewd/viewd/internal/pgtest"
	"github.com/viewd/viewd/internal/testenv"
)

// Integration tests against a private PostgreSQL (internal/pgtest). They
// skip when PostgreSQL is not installed, unless $CI is set. The full corpus
// run is long and only happens with -slt.corpus or VIEWD_SLT_LONG=1.

var longCorpus = flag.Bool("slt.corpus", false, "run the SQLite corpus (select1-5, evidence) against PostgreSQL")

var (
	pgOnce sync.Once
	pgSrv  *pgtest.Server
	pgErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgSrv != nil {
		if err := pgSrv.Stop(); err != nil {
			slog.Error("stopping PostgreSQL", "err", err)
		}
	}
	os.Exit(code)
}

// postgres returns a target on a PostgreSQL server shared by this
// package's tests; every file run gets a fresh database.
func postgres(t *testing.T) Target {
	t.Helper()
	if _, err := pgtest.FindBinDir(); err != nil {
		testenv.SkipUnlessCI(t, "%v", err)
	}
	pgOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		pgSrv, pgErr = pgtest.StartServer(ctx, "")
	})
	if pgErr != nil {
		t.Fatal(pgErr)
	}
	return &URLTarget{URL: pgSrv.URL(), Log: quietLog()}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// corpusDir locates SQLite's sqllogictest corpus: $VIEWD_SLT_DIR, else the
// shared directory next to the repository.
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("VIEWD_SLT_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "slt", "sqlite")
	}
	if _, err := os.Stat(filepath.Join(dir, "test", "select1.test")); err != nil {
		testenv.SkipUnlessCI(t, "sqllogictest corpus not found at %s (set VIEWD_SLT_DIR): %v", dir, err)
	}
	return filepath.Join(dir, "test")
}

func runOn(t *testing.T, target Target, cfg Config, path string) *FileResult {
	t.Helper()
	ctx := context.Background()
	dial, cleanup, err := target.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if cfg.Log == nil {
		cfg.Log = quietLog()
	}
	res := RunFile(ctx, cfg, path, dial)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	return res
}

func logFailures(t *testing.T, res *FileResult, max int) {
	t.Helper()
	for i, f := range res.Failures {
		if i == max {
			t.Logf("... %d more", len(res.Failures)-max)
			return
		}
		t.Log(f.String())
	}
}

// TestPostgresSelect1 runs select1.test in select mode: PostgreSQL passes
// every record, so any failure is a runner bug (parsing, formatting,
// sorting or hashing).
func TestPostgresSelect1(t *testing.T) {
	path := filepath.Join(corpusDir(t), "select1.test")
	target := postgres(t)
	res := runOn(t, target, Config{Engine: "postgresql"}, path)
	if res.Failed != 0 || res.Passed != 1031 {
		logFailures(t, res, 10)
		t.Fatalf("select1.test: %d passed, %d failed; want 1031 passed, 0 failed", res.Passed, res.Failed)
	}
	t.Logf("select1.test: %d passed, %.0f records/s", res.Passed, res.QPS())
}

// TestPostgresViewModeNeedsMaintenance shows that view mode tests
// maintenance: testdata/maintenance.slt writes its rows after creating its
// tables, so PostgreSQL, whose materialized views are not maintained,
// passes it in select mode and fails it in view mode. With views created
// just before each query (LateViews) it passes again, which checks that
// the view-mode machinery itself (view columns, ORDER BY translation,
// dropping views before DROP TABLE) is sound.
func TestPostgresViewModeNeedsMaintenance(t *testing.T) {
	target := postgres(t)
	path := filepath.Join("testdata", "maintenance.slt")

	sel := runOn(t, target, Config{Mode: SelectMode}, path)
	if sel.Failed != 0 {
		logFailures(t, sel, 10)
		t.Fatalf("select mode: %d failed, want 0", sel.Failed)
	}

	view := runOn(t, target, Config{Mode: ViewMode}, path)
	// Five queries read tables through views created before their rows
	// were written; the constant query falls back to a SELECT; the last
	// query's view is created after its table is re-created but before its
	// INSERT.
	if view.ViewsEarly != 6 || view.SelectFallback != 1 {
		t.Errorf("view mode: %d early views, %d select-fallbacks; want 6 and 1", view.ViewsEarly, view.SelectFallback)
	}
	if view.Failed != 6 {
		logFailures(t, view, 10)
		t.Errorf("view mode on PostgreSQL: %d failed, want 6 (every query read through a view)", view.Failed)
	}

	late := runOn(t, target, Config{Mode: ViewMode, LateViews: true}, path)
	if late.Failed != 0 || late.ViewsLate != 6 {
		logFailures(t, late, 10)
		t.Errorf("late views: %d failed, %d late views; want 0 and 6", late.Failed, late.ViewsLate)
	}
}

// TestPostgresCorpus runs select1-5 and evidence in select mode, and
// select1-4 in view mode with late views. Long: enable with -slt.corpus or
// VIEWD_SLT_LONG=1.
func TestPostgresCorpus(t *testing.T) {
	if !*longCorpus && os.Getenv("VIEWD_SLT_LONG") == "" {
		t.Skip("long: run with -slt.corpus or VIEWD_SLT_LONG=1")
	}
	dir := corpusDir(t)
	target := postgres(t)
	expected, err := LoadExpectedFailures(filepath.Join("testdata", "expected-failures-postgresql.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"select1.test": 1031, "select2.test": 1031, "select3.test": 3351, "select4.test": 3857, "select5.test": 1436}
	for name, n := range want {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			res := runOn(t, target, Config{}, filepath.Join(dir, name))
			if res.Failed != 0 || res.Passed != n {
				logFailures(t, res, 10)
				t.Errorf("%s: %d passed, %d failed; want %d passed", name, res.Passed, res.Failed, n)
			}
			t.Logf("%s: %d passed in %s, %.0f records/s", name, res.Passed, res.Elapsed.Round(time.Millisecond), res.QPS())
		})
	}
	t.Run("evidence", func(t *testing.T) {
		t.Parallel()
		files, err := filepath.Glob(filepath.Join(dir, "evidence", "*.test"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no evidence files: %v", err)
		}
		var tot Totals
		for _, f := range files {
			res := runOn(t, target, Config{Expected: expected}, f)
			logFailures(t, &FileResult{Failures: unexpected(res.Failures)}, 10)
			tot.Add(res)
		}
		if tot.Failed != 0 || tot.Known != expected.Len() {
			t.Errorf("evidence: %d failed, %d known; want 0 failed, %d known", tot.Failed, tot.Known, expected.Len())
		}
		t.Logf("evidence: %s, %d known", tot.Summary(), tot.Known)
	})
	for _, name := range []string{"select1.test", "select2.test", "select3.test", "select4.test"} {
		t.Run("late-views/"+name, func(t *testing.T) {
			t.Parallel()
			res := runOn(t, target, Config{Mode: ViewMode, LateViews: true}, filepath.Join(dir, name))
			if res.Failed != 0 || res.Passed != want[name] {
				logFailures(t, res, 10)
				t.Errorf("%s: %d passed, %d failed; want %d passed", name, res.Passed, res.Failed, want[name])
			}
		})
	}
}

func unexpected(fs []Failure) []Failure {
	var out []Failure
	for _, f := range fs {
		if !f.Known {
			out = append(out, f)
		}
	}
	return out
}

// TestPostgresTimeout checks that a statement that outlives the timeout
// fails with a timeout and that the file goes on.
func TestPostgresTimeout(t *testing.T) {
	target := postgres(t)
	ctx := context.Background()
	dial, cleanup, err := target.Open(ctx, "timeout")
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	recs := ParseString("statement ok\nSELECT pg_sleep(10)\n\nquery I nosort\nSELECT 1\n----\n1\n")
	start := time.Now()
	res := RunRecords(ctx, Config{Timeout: 300 * time.Millisecond, Log: quietLog()}, "timeout.slt", recs, dial)
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if res.Failed != 1 || res.Passed != 1 {
		logFailures(t, res, 5)
		t.Fatalf("%d passed, %d failed; want 1 and 1", res.Passed, res.Failed)
	}
	if msg := res.Failures[0].Msg; !strings.Contains(msg, "timed out after 300ms") {
		t.Errorf("failure %q does not mention the timeout", msg)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s; the timeout did not cancel the statement", d)
	}
}
