// Command slt runs sqllogictest files against viewd or any PostgreSQL-wire
// server.
//
//	go run ./tests/sqllogictest/cmd/slt [flags] FILE|DIR...
//
// Without --url or --postgres it builds ./cmd/viewd and starts a fresh
// viewd (fresh data directory, free port) for every file. With --url each
// file runs in a fresh database on that server; --postgres starts a private
// PostgreSQL first (see internal/pgtest). Directories are searched for
// *.test and *.slt files.
//
// It prints one line per file and mode, the unexpected failures, and ends
// with a line "N passed, N failed, N skipped", where failed counts the
// unexpected failures only (failures listed with --expected-failures are
// counted on the line before it). The exit code is 1 when there are
// unexpected failures or a file could not be run, 2 on bad usage.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/viewd/viewd/internal/pgtest"
	slt "github.com/viewd/viewd/tests/sqllogictest"
)

type options struct {
	mode        string
	url         string
	postgres    bool
	viewdBin    string
	viewdUser   string
	viewdDB     string
	viewdArgs   string
	pgSettings  string
	engine      string
	report      string
	expected    string
	verbose     bool
	maxFailures int
	timeout     time.Duration
	jobs        int
	shown       int
	lateViews   bool
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fset := flag.NewFlagSet("slt", flag.ContinueOnError)
	fset.SetOutput(stderr)
	fset.StringVar(&o.mode, "mode", "select", "select, view or both: run queries as written, through materialized views created before the data, or both")
	fset.StringVar(&o.url, "url", "", "connection URL of a running server (each file gets a fresh database when the server allows CREATE DATABASE)")
	fset.BoolVar(&o.postgres, "postgres", false, "start a private PostgreSQL (internal/pgtest) and run against it")
	fset.StringVar(&o.viewdBin, "viewd-bin", "", "viewd binary to start (default: build ./cmd/viewd)")
	fset.StringVar(&o.viewdUser, "viewd-user", "viewd", "user name to connect to a started viewd as")
	fset.StringVar(&o.viewdDB, "viewd-db", "viewd", "database to connect to on a started viewd")
	fset.StringVar(&o.pgSettings, "postgres-settings", "", "with --postgres: server settings, space-separated name=value (e.g. \"geqo_threshold=4 geqo_effort=1\" plans select5.test's many-way joins faster)")
	fset.StringVar(&o.viewdArgs, "viewd-args", "--embedded-kafka-listen=", "extra arguments for a started viewd, split on spaces (default: no embedded Kafka broker, so that runs do not compete for its port)")
	fset.StringVar(&o.engine, "engine", "postgresql", "engine name matched by skipif/onlyif")
	fset.StringVar(&o.report, "report", "", "write a markdown report of pass rates by directory and mode to this file")
	fset.StringVar(&o.expected, "expected-failures", "", "file of known failures, lines of '[mode] path:line reason'")
	fset.BoolVar(&o.verbose, "verbose", false, "print every failure (known ones too) and view fallbacks")
	fset.IntVar(&o.maxFailures, "max-failures-per-file", 0, "stop a file after this many unexpected failures (0: no limit)")
	fset.DurationVar(&o.timeout, "timeout", slt.DefaultTimeout, "time limit for each statement and query")
	fset.IntVar(&o.jobs, "jobs", 1, "files to run in parallel")
	fset.IntVar(&o.shown, "show-failures", 20, "unexpected failures to print per file without --verbose")
	fset.BoolVar(&o.lateViews, "late-views", false, "view mode: create each view right before its query (tests the runner, not maintenance)")
	fset.Usage = func() {
		fmt.Fprintf(stderr, "usage: slt [flags] FILE|DIR...\n")
		fset.PrintDefaults()
	}
	// Accept flags after file names too.
	var paths []string
	for {
		if err := fset.Parse(args); err != nil {
			return 2
		}
		if fset.NArg() == 0 {
			break
		}
		paths = append(paths, fset.Arg(0))
		args = fset.Args()[1:]
	}
	if len(paths) == 0 {
		fset.Usage()
		return 2
	}
	var modes []slt.RunMode
	switch o.mode {
	case "select":
		modes = []slt.RunMode{slt.SelectMode}
	case "view":
		modes = []slt.RunMode{slt.ViewMode}
	case "both":
		modes = []slt.RunMode{slt.SelectMode, slt.ViewMode}
	default:
		fmt.Fprintf(stderr, "slt: --mode must be select, view or both, not %q\n", o.mode)
		return 2
	}
	if o.url != "" && o.postgres {
		fmt.Fprintln(stderr, "slt: --url and --postgres exclude each other")
		return 2
	}
	if o.jobs < 1 {
		o.jobs = 1
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	files, err := collect(paths)
	if err != nil {
		fmt.Fprintf(stderr, "slt: %v\n", err)
		return 2
	}
	var expected *slt.ExpectedFailures
	if o.expected != "" {
		expected, err = slt.LoadExpectedFailures(o.expected)
		if err != nil {
			fmt.Fprintf(stderr, "slt: %v\n", err)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	target, closeTarget, err := openTarget(ctx, o, log)
	if err != nil {
		fmt.Fprintf(stderr, "slt: %v\n", err)
		return 1
	}
	defer closeTarget()

	cfg := slt.Config{
		Engine:      o.engine,
		Timeout:     o.timeout,
		MaxFailures: o.maxFailures,
		Expected:    expected,
		Log:         log,
		Verbose:     o.verbose,
		LateViews:   o.lateViews,
	}
	if u, ok := target.(*slt.URLTarget); ok {
		// Find out whether each file can get a database of its own; if
		// not, files share one and must run one at a time, each dropping
		// what it created.
		if _, cleanup, err := u.Open(ctx, "probe"); err == nil {
			cleanup()
		}
		if u.Shared() {
			cfg.DropCreated = true
			if o.jobs > 1 {
				log.Warn("the server cannot create a database per file; running files one at a time")
				o.jobs = 1
			}
		}
	}
	results := runAll(ctx, cfg, target, files, modes, o, stdout)

	var totals slt.Totals
	for _, r := range results {
		totals.Add(r)
	}
	if o.report != "" {
		if err := writeReport(o.report, results); err != nil {
			fmt.Fprintf(stderr, "slt: %v\n", err)
		}
	}
	if expected.Len() > 0 {
		fmt.Fprintf(stdout, "%d known failures (listed in %s), %d listed records passed\n", totals.Known, o.expected, totals.Fixed)
	}
	if totals.ViewsEarly+totals.ViewsLate+totals.SelectFallback > 0 {
		fmt.Fprintf(stdout, "view mode: %d queries checked through views (%d early, %d late), %d run as SELECTs (no maintained view can check them), %d refused by viewd although PostgreSQL keeps them (failures)\n",
			totals.ViewsEarly+totals.ViewsLate, totals.ViewsEarly, totals.ViewsLate, totals.SelectFallback, totals.ViewRefused)
	}
	if totals.Errors > 0 {
		fmt.Fprintf(stdout, "%d runs could not be completed\n", totals.Errors)
	}
	fmt.Fprintln(stdout, totals.Summary())
	if totals.Fixed > 0 {
		// A listed failure that passes is stale: the list must say
		// exactly what fails (give the entry a mode if it fails in
		// one mode only).
		fmt.Fprintf(stdout, "%d records listed in %s passed: remove them from the list (or restrict them to the mode that fails)\n", totals.Fixed, o.expected)
	}
	if totals.Failed > 0 || totals.Errors > 0 || totals.Fixed > 0 {
		return 1
	}
	return 0
}

// collect expands directories into their *.test and *.slt files.
func collect(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".test") || strings.HasSuffix(path, ".slt")) {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, nil
}

func openTarget(ctx context.Context, o options, log *slog.Logger) (slt.Target, func(), error) {
	switch {
	case o.url != "":
		t := &slt.URLTarget{URL: o.url, Log: log}
		return t, func() {}, nil
	case o.postgres:
		srv, err := pgtest.StartServer(ctx, "", strings.Fields(o.pgSettings)...)
		if err != nil {
			return nil, nil, err
		}
		log.Info("started a private PostgreSQL", "url", srv.URL())
		t := &slt.URLTarget{URL: srv.URL(), Log: log}
		return t, func() {
			if err := srv.Stop(); err != nil {
				log.Warn("stopping PostgreSQL", "err", err)
			}
		}, nil
	default:
		bin := o.viewdBin
		cleanup := func() {}
		if bin == "" {
			root, err := slt.RepoRoot()
			if err != nil {
				return nil, nil, err
			}
			dir, err := os.MkdirTemp("", "slt-bin-")
			if err != nil {
				return nil, nil, err
			}
			cleanup = func() { _ = os.RemoveAll(dir) }
			bin, err = slt.BuildViewd(ctx, root, dir)
			if err != nil {
				cleanup()
				return nil, nil, err
			}
		}
		return &slt.ViewdTarget{Bin: bin, User: o.viewdUser, Database: o.viewdDB, Args: strings.Fields(o.viewdArgs), Log: log}, cleanup, nil
	}
}

type job struct {
	file string
	mode slt.RunMode
}

// runAll runs every file in every mode, o.jobs at a time, and prints the
// results in order.
func runAll(ctx context.Context, cfg slt.Config, target slt.Target, files []string, modes []slt.RunMode, o options, out io.Writer) []*slt.FileResult {
	var jobs []job
	for _, f := range files {
		for _, m := range modes {
			jobs = append(jobs, job{f, m})
		}
	}
	results := make([]*slt.FileResult, len(jobs))
	done := make([]chan struct{}, len(jobs))
	for i := range done {
		done[i] = make(chan struct{})
	}
	sem := make(chan struct{}, o.jobs)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[i])
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results[i] = &slt.FileResult{Path: j.file, Mode: j.mode, Err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			results[i] = runOne(ctx, cfg, target, j)
		}()
	}
	for i := range jobs {
		<-done[i]
		printResult(out, results[i], o)
	}
	wg.Wait()
	return results
}

func runOne(ctx context.Context, cfg slt.Config, target slt.Target, j job) *slt.FileResult {
	cfg.Mode = j.mode
	dial, cleanup, err := target.Open(ctx, j.file)
	if err != nil {
		return &slt.FileResult{Path: j.file, Mode: j.mode, Err: err}
	}
	defer cleanup()
	return slt.RunFile(ctx, cfg, j.file, dial)
}

func printResult(w io.Writer, r *slt.FileResult, o options) {
	if r.Err != nil && r.Ran() == 0 {
		fmt.Fprintf(w, "%-6s %s: ERROR: %v\n", r.Mode, r.Path, r.Err)
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-6s %s: %d passed, %d failed", r.Mode, r.Path, r.Passed, r.Failed)
	if r.Known > 0 {
		fmt.Fprintf(&b, ", %d known", r.Known)
	}
	fmt.Fprintf(&b, ", %d skipped", r.Skipped)
	if r.Mode == slt.ViewMode {
		fmt.Fprintf(&b, ", views %d early/%d late, %d select-fallback", r.ViewsEarly, r.ViewsLate, r.SelectFallback)
		if r.ViewRefused > 0 {
			fmt.Fprintf(&b, ", %d view-refused", r.ViewRefused)
		}
	}
	fmt.Fprintf(&b, ", %.0f records/s (%s)", r.QPS(), r.Elapsed.Round(time.Millisecond))
	if r.Halted {
		b.WriteString(", halted")
	}
	if r.Stopped {
		fmt.Fprintf(&b, ", stopped after %d failures", r.Failed)
	}
	if r.Err != nil {
		fmt.Fprintf(&b, ", ERROR: %v", r.Err)
	}
	fmt.Fprintln(w, b.String())
	for _, l := range r.FixedLines {
		fmt.Fprintf(w, "  PASSED BUT LISTED %s:%d (%s): an expected failure that no longer fails\n", r.Path, l, r.Mode)
	}
	shown := 0
	for _, f := range r.Failures {
		if f.Known && !o.verbose {
			continue
		}
		if !o.verbose && shown == o.shown {
			fmt.Fprintf(w, "  ... %d more unexpected failures (use --verbose to see all)\n", r.Failed-shown)
			break
		}
		shown++
		prefix := "FAIL"
		if f.Known {
			prefix = "KNOWN"
		}
		fmt.Fprintf(w, "  %s %s\n", prefix, indent(f.String()))
	}
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n    ") }

func writeReport(path string, results []*slt.FileResult) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := slt.WriteReport(f, results); err != nil {
		return errors.Join(err, fmt.Errorf("writing %s", path))
	}
	return nil
}
