// Command nexmark runs the Nexmark benchmark's queries (q0-q9, q15, q16,
// q18, q19, q20) on viewd and prints, per query and input path, events/s,
// events per CPU-second of the viewd process, its peak RSS, and whether the
// view's answer equals a recomputation.
//
// It builds ./cmd/viewd (unless -viewd-bin is given) and, per input path,
// starts one viewd on a fresh data directory:
//
//   - generator: each query gets CREATE SOURCE ... FROM LOAD GENERATOR
//     NEXMARK (RATE UNLIMITED, UP TO -events, SEED -seed) FOR ALL TABLES;
//   - kafka: -events Nexmark events (the same generator's, as JSON) are
//     produced first into topics nexmark-person, nexmark-auction and
//     nexmark-bid of viewd's embedded broker; each query gets three
//     sources FORMAT JSON ENVELOPE NONE with the generator's columns,
//     reading the topics from the start.
//
// For each query the sources and the query's views are created, the
// command waits until every event is in (mz_source_statuses), and takes
// the wall time and the viewd process's CPU time (user+system, from
// /proc/PID/stat) from just before CREATE SOURCE until then, and the peak
// RSS (VmHWM, reset before the query through /proc/PID/clear_refs; on the
// kafka path it includes the broker's copy of the topics, which the
// "RSS before" column shows). Then the check: the materialized view's
// answer (or, for views as large as their input, an aggregate of it) is
// read, the view dropped, and the answer compared with the same defining
// query run as a plain SELECT over the sources, which recomputes it from
// scratch (without the view's state beside it); for q0 also with counts and
// sums computed in this process from the generator's events. Then
// everything is dropped. Events are all events (persons, auctions and
// bids): every query's run reads all three sources.
//
// The default run (200,000 events per query, 30 runs) needs about 90 s
// of viewd CPU plus the checks (scaled from the 500,000-event run in
// README, 215 s): a few minutes on a quiet 2-core machine. Issue #13's
// table is -events 10000000. Progress goes to stderr, the
// Markdown table to stdout. -pprof DIR writes a CPU profile of viewd per
// query (the first -pprof-seconds of it). viewd is killed when its RSS
// passes -max-rss-mib (half the machine's available memory) and runs with
// --memory-limit at three quarters of that (-memory-limit-mib), as it
// would by default on a machine of that size.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// config holds the command's flags.
type config struct {
	events    int64
	seed      int64
	queries   []query
	paths     []string
	viewdBin  string
	workers   int
	check     bool
	timeout   time.Duration
	pprofDir  string
	pprofSecs int
	keep      bool
	maxRSS    int64
	// memLimit is viewd's --memory-limit (<0: not passed; 0: three
	// quarters of maxRSS, as viewd defaults to three quarters of a
	// machine's memory).
	memLimit int64
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "nexmark:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "nexmark:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("nexmark", flag.ContinueOnError)
	var cfg config
	var qs, paths string
	fs.Int64Var(&cfg.events, "events", 200_000, "events per query (persons, auctions and bids); README's table uses 10000000")
	fs.Int64Var(&cfg.seed, "seed", 1, "the generator's SEED")
	fs.StringVar(&qs, "queries", "", "comma-separated queries to run (default all: "+queryNames()+")")
	fs.StringVar(&paths, "paths", "generator,kafka", "input paths: generator, kafka")
	fs.StringVar(&cfg.viewdBin, "viewd-bin", "", "viewd binary (default: go build ./cmd/viewd)")
	fs.IntVar(&cfg.workers, "workers", 0, "viewd's --workers (default: viewd's, one per core)")
	fs.BoolVar(&cfg.check, "check", true, "compare each view's answer with a recomputation")
	fs.DurationVar(&cfg.timeout, "timeout", 30*time.Minute, "the longest one query may take to consume its events")
	fs.StringVar(&cfg.pprofDir, "pprof", "", "write a CPU profile of viewd per query into this directory")
	fs.IntVar(&cfg.pprofSecs, "pprof-seconds", 10, "how much of each query -pprof profiles")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the data directories")
	maxRSS := fs.Int64("max-rss-mib", 0, "kill viewd when its RSS passes this many MiB (default: half the memory available at the start)")
	memLimit := fs.Int64("memory-limit-mib", 0, "viewd's --memory-limit in MiB, the Go runtime's soft limit (default: three quarters of -max-rss-mib, as viewd takes three quarters of a machine's memory; -1: not passed, viewd's default)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.events < 50 {
		return cfg, fmt.Errorf("-events %d: at least 50 (one person, three auctions and 46 bids)", cfg.events)
	}
	cfg.maxRSS = *maxRSS << 20
	cfg.memLimit = *memLimit << 20
	cfg.queries = queries
	if qs != "" {
		cfg.queries = nil
		for _, name := range strings.Split(qs, ",") {
			q, ok := queryNamed(strings.TrimSpace(name))
			if !ok {
				return cfg, fmt.Errorf("-queries: no query %q (have %s)", name, queryNames())
			}
			cfg.queries = append(cfg.queries, q)
		}
	}
	for _, p := range strings.Split(paths, ",") {
		switch p = strings.TrimSpace(p); p {
		case pathGenerator, pathKafka:
			cfg.paths = append(cfg.paths, p)
		default:
			return cfg, fmt.Errorf("-paths: unknown path %q (generator, kafka)", p)
		}
	}
	return cfg, nil
}

func queryNamed(name string) (query, bool) {
	for _, q := range queries {
		if q.name == name {
			return q, true
		}
	}
	return query{}, false
}

func queryNames() string {
	names := make([]string, len(queries))
	for i, q := range queries {
		names[i] = q.name
	}
	return strings.Join(names, ",")
}
