// Command servebench measures viewd's serving against PostgreSQL's on the
// same data in one run, and prints a Markdown table of both columns and
// their ratio, for README's Performance section.
//
// It starts a private PostgreSQL (internal/pgtest: initdb in a temporary
// directory, a free loopback port) and a viewd binary (built from ./cmd/viewd
// unless -viewd-bin is given) on a fresh data directory, loads
// t(id int primary key, k int, v text) with -rows rows into both, defines
// the materialized view tv (k, count(*), sum(id)) with an index on k, and
// runs the measurements one server at a time:
//
//  1. point lookups on the view's index, 8 clients, prepared: queries/s, p50, p99
//  2. prepared single-row UPDATEs by key, one client: updates/s
//  3. COPY FROM STDIN of -rows rows into a fresh table: seconds
//  4. INSERT of 1,000-row VALUES lists into a fresh table: rows/s
//  5. time to the first row of a 30M-row COPY TO STDOUT, and viewd's peak RSS
//  6. statement_timeout = '1s' on a long join: seconds until the error
//  7. point-lookup p99 (one client) while another session runs a long join
//  8. viewd's RSS per table row (PostgreSQL: on-disk size per row)
//  9. viewd restart: SIGTERM, start again, time until the view answers
//
// Every step has a timeout, and a slow or failing server yields "none after
// …" or an error note instead of a hang. viewd's RSS is watched throughout:
// past -max-rss the running step is cancelled (and viewd killed if its
// memory does not come down), so a runaway server cannot take the machine.
// Ctrl-C cancels the run and stops both servers.
//
// Progress goes to stderr; the table alone goes to stdout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config holds the command's flags.
type config struct {
	rows          int
	keys          int
	duration      time.Duration
	only          map[int]bool
	viewdBin      string
	keep          bool
	stmtTimeout   time.Duration
	loadTimeout   time.Duration
	firstRowWait  time.Duration
	cancelWait    time.Duration
	series        int
	insertBatches int
	maxRSS        int64 // bytes; 0 means a third of the machine's memory
	pgDurable     bool
	join          string
}

// defaultJoin is the long query of rows 6 and 7. The filter on columns of
// both sides makes every one of the rows²/keys pairs pass through the
// join: without it, `SELECT count(*) FROM t a JOIN t b ON a.k = b.k` is
// not long in viewd (it answers it in about a second, counting per key
// before joining), while PostgreSQL runs it for minutes.
const defaultJoin = "SELECT count(*) FROM t a JOIN t b ON a.k = b.k WHERE a.v < b.v"

const allRows = "1,2,3,4,5,6,7,8,9"

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "servebench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "servebench:", err)
		stop()
		os.Exit(1)
	}
}

func parseFlags(args []string, errOut io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("servebench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	fs.IntVar(&cfg.rows, "rows", 1_000_000, "rows in table t (ids 1..rows)")
	fs.IntVar(&cfg.keys, "keys", 1000, "distinct keys: k = id % keys")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "length of each timed row (1, 2, 7)")
	only := fs.String("only", allRows, "comma-separated rows to run, e.g. 1,2,5")
	fs.StringVar(&cfg.viewdBin, "viewd-bin", "", "viewd binary (default: go build ./cmd/viewd into a temporary directory)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the servers' directories (and leave their logs) instead of removing them")
	fs.DurationVar(&cfg.stmtTimeout, "stmt-timeout", 30*time.Second, "client-side timeout of one statement in rows 1, 2, 4 and 7")
	fs.DurationVar(&cfg.loadTimeout, "load-timeout", 15*time.Minute, "timeout of loading t and its view, and of row 3's COPY, per server")
	fs.DurationVar(&cfg.firstRowWait, "first-row-wait", 30*time.Second, "row 5: give up waiting for the first row after this long")
	fs.DurationVar(&cfg.cancelWait, "timeout-wait", 60*time.Second, "row 6: give up waiting for the statement_timeout error after this long")
	fs.IntVar(&cfg.series, "series", 30_000_000, "row 5: rows of generate_series to COPY out")
	fs.IntVar(&cfg.insertBatches, "insert-batches", 20, "row 4: INSERT statements of 1,000 rows each")
	fs.StringVar(&cfg.join, "join", defaultJoin, "rows 6 and 7: the long query")
	maxRSS := fs.String("max-rss", "", "cancel the step (then kill viewd) when viewd's RSS passes this many bytes, e.g. 8GiB (default: a third of the machine's memory or half of what is available at the start, whichever is less)")
	fs.BoolVar(&cfg.pgDurable, "pg-durable", true, "run PostgreSQL with fsync, synchronous_commit and full_page_writes on, as viewd acknowledges only durable writes (false: pgtest's throwaway settings)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.rows < 1 || cfg.keys < 1 || cfg.duration <= 0 || cfg.series < 1 || cfg.insertBatches < 1 {
		return cfg, errors.New("-rows, -keys, -series, -insert-batches and -duration must be positive")
	}
	cfg.only = map[int]bool{}
	for _, f := range strings.Split(*only, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 9 {
			return cfg, fmt.Errorf("-only: %q is not a row number 1..9", f)
		}
		cfg.only[n] = true
	}
	if len(cfg.only) == 0 {
		return cfg, errors.New("-only selects no rows")
	}
	if *maxRSS != "" {
		n, err := parseBytes(*maxRSS)
		if err != nil {
			return cfg, fmt.Errorf("-max-rss: %w", err)
		}
		cfg.maxRSS = n
	}
	return cfg, nil
}

// parseBytes parses a byte count with an optional KiB/MiB/GiB suffix.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(f * float64(mult)), nil
}
