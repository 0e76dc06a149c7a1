package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/procstat"
)

// result is one query's row of the table.
type result struct {
	path, query, what string
	events            int64
	use               usage
	rssBefore         int64
	rows              int64
	check             string // "yes", "NO: ...", "not run", or an error
	err               error
}

// run runs every path's queries and writes the table to out.
func run(ctx context.Context, cfg config, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "nexmark-")
	if err != nil {
		return err
	}
	if !cfg.keep {
		defer os.RemoveAll(tmp)
	} else {
		log.Printf("data directories kept in %s", tmp)
	}
	bin := cfg.viewdBin
	if bin == "" {
		log.Printf("building viewd")
		if bin, err = buildViewd(ctx, tmp); err != nil {
			return err
		}
	}
	start := procstat.ReadMachine()
	if cfg.maxRSS == 0 {
		cfg.maxRSS = start.Avail / 2
	}
	if cfg.memLimit == 0 {
		cfg.memLimit = cfg.maxRSS / 4 * 3
	}
	if cfg.pprofDir != "" {
		if err := os.MkdirAll(cfg.pprofDir, 0o755); err != nil {
			return err
		}
	}
	log.Printf("computing the totals of %d events", cfg.events)
	tot, err := computeTotals(cfg.events, cfg.seed)
	if err != nil {
		return err
	}
	var results []result
	for _, path := range cfg.paths {
		rs, err := runPath(ctx, cfg, bin, filepath.Join(tmp, path), path, tot)
		results = append(results, rs...)
		if err != nil {
			return err
		}
	}
	writeTable(out, cfg, start, procstat.ReadMachine(), results)
	return nil
}

// runPath runs every query of path, each on a viewd process of its own
// with a fresh data directory, so that its CPU time and peak RSS are the
// query's alone. The broker's topics are produced once and their directory
// moved into each query's data directory and back.
func runPath(ctx context.Context, cfg config, bin, dir, path string, tot totals) ([]result, error) {
	kafkaAddr, topics := "", filepath.Join(dir, "kafka")
	if path == pathKafka {
		var err error
		if kafkaAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		s, err := startServer(ctx, bin, filepath.Join(dir, "produce"), kafkaAddr, cfg.workers, cfg.memLimit)
		if err != nil {
			return nil, err
		}
		log.Printf("kafka: producing %d events into the embedded broker", cfg.events)
		began := time.Now()
		err = produce(ctx, s.kafkaAddr, cfg.events, cfg.seed)
		s.stop()
		if err != nil {
			return nil, err
		}
		log.Printf("kafka: produced in %s", time.Since(began).Round(time.Millisecond))
		if err := os.Rename(filepath.Join(dir, "produce", "data", "kafka"), topics); err != nil {
			return nil, fmt.Errorf("keeping the topics: %w", err)
		}
	}
	var results []result
	for _, q := range cfg.queries {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		qdir := filepath.Join(dir, q.name)
		if path == pathKafka {
			if err := os.MkdirAll(filepath.Join(qdir, "data"), 0o755); err != nil {
				return results, err
			}
			if err := os.Rename(topics, filepath.Join(qdir, "data", "kafka")); err != nil {
				return results, fmt.Errorf("moving the topics: %w", err)
			}
		}
		r := runQueryOn(ctx, cfg, bin, qdir, kafkaAddr, path, q, tot)
		if path == pathKafka {
			if err := os.Rename(filepath.Join(qdir, "data", "kafka"), topics); err != nil {
				return results, fmt.Errorf("moving the topics back: %w", err)
			}
		}
		if !cfg.keep {
			os.RemoveAll(qdir)
		}
		if r.err != nil {
			log.Printf("%s %s: %v", path, q.name, r.err)
		} else {
			log.Printf("%s %s: %d events in %.2fs, %.2fs CPU (%.0f/CPU-s), peak RSS %d MiB, %d rows, check %s",
				path, q.name, r.events, r.use.wall.Seconds(), r.use.cpu.Seconds(), perSecond(r.events, r.use.cpu), r.use.peakRSS>>20, r.rows, r.check)
		}
		results = append(results, r)
	}
	return results, nil
}

// runQueryOn starts viewd on qdir, runs q and stops viewd.
func runQueryOn(ctx context.Context, cfg config, bin, qdir, kafkaAddr, path string, q query, tot totals) result {
	s, err := startServer(ctx, bin, qdir, kafkaAddr, cfg.workers, cfg.memLimit)
	if err != nil {
		return result{path: path, query: q.name, what: q.what, err: err}
	}
	defer s.stop()
	if kafkaAddr != "" {
		if _, err := s.conn.Exec(ctx, fmt.Sprintf("CREATE CONNECTION nexmark_kafka TO KAFKA (BROKER '%s')", kafkaAddr)); err != nil {
			return result{path: path, query: q.name, what: q.what, err: fmt.Errorf("kafka connection: %w", err)}
		}
	}
	return runQuery(ctx, cfg, s, path, q, tot)
}

// runQuery measures one query: sources and views created, every event
// consumed, the view checked, everything dropped.
func runQuery(ctx context.Context, cfg config, s *server, path string, q query, tot totals) result {
	r := result{path: path, query: q.name, what: q.what, events: cfg.events}
	c := s.conn
	exec := func(sqls ...string) error {
		for _, sql := range sqls {
			if _, err := c.Exec(ctx, sql); err != nil {
				return fmt.Errorf("%s: %w", firstLine(sql), err)
			}
		}
		return nil
	}
	var err error
	if r.rssBefore, err = procstat.RSS(s.pid()); err != nil {
		r.err = err
		return r
	}
	src, err := sourceDDL(path, cfg.events, cfg.seed)
	if err != nil {
		r.err = err
		return r
	}
	qctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	go watchRSS(qctx, s, cfg.maxRSS)
	m, err := s.startMeter()
	if err != nil {
		r.err = err
		return r
	}
	if r.err = exec(src...); r.err != nil {
		return r
	}
	if r.err = exec(q.statements()...); r.err != nil {
		return r
	}
	if cfg.pprofDir != "" {
		go func() {
			p := filepath.Join(cfg.pprofDir, path+"-"+q.name+".prof")
			if err := s.profile(qctx, cfg.pprofSecs, p); err != nil {
				log.Printf("%s %s: %v", path, q.name, err)
			}
		}()
	}
	if r.err = waitConsumed(qctx, s, path, tot); r.err != nil {
		return r
	}
	if r.use, r.err = m.done(); r.err != nil {
		return r
	}
	if r.err = c.QueryRow(ctx, "SELECT count(*) FROM "+q.name).Scan(&r.rows); r.err != nil {
		return r
	}
	r.check = "not run"
	if cfg.check {
		r.check = checkQuery(ctx, c, q, tot)
	}
	return r
}

// waitConsumed waits until the sources of path hold every event.
func waitConsumed(ctx context.Context, s *server, path string, tot totals) error {
	want := map[string]int64{}
	for name, n := range tot.rows {
		want[name] = n
		if path == pathGenerator {
			want[name] = tot.rows["person"] + tot.rows["auction"] + tot.rows["bid"] // ticks
		}
	}
	for {
		rows, err := s.conn.Query(ctx, "SELECT name, offset_committed, status, coalesce(error, '') FROM mz_internal.mz_source_statuses WHERE name IN ('person', 'auction', 'bid')")
		if err != nil {
			return fmt.Errorf("waiting for the events: %w", err)
		}
		done := 0
		for rows.Next() {
			var name, status, errText string
			var committed int64
			if err := rows.Scan(&name, &committed, &status, &errText); err != nil {
				rows.Close()
				return err
			}
			if errText != "" {
				rows.Close()
				return fmt.Errorf("source %s: %s", name, errText)
			}
			if committed >= want[name] {
				done++
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("waiting for the events: %w", err)
		}
		if done == 3 {
			return nil
		}
		if err := s.alive(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the events: %w", context.Cause(ctx))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// watchRSS kills viewd when its RSS passes limit (the machine is shared).
func watchRSS(ctx context.Context, s *server, limit int64) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		pid := s.pid()
		if pid == 0 {
			return
		}
		if rss, err := procstat.RSS(pid); err == nil && rss > limit {
			log.Printf("viewd's RSS is %d MiB, past the limit of %d MiB: killing it", rss>>20, limit>>20)
			s.kill()
			return
		}
	}
}

// checkQuery compares the view's answer with the recomputation's: the
// whole answer, or q.check over both. q0 is also compared with this
// process's own sums. The view is dropped once its answer is read and
// before the recomputation runs: every event is in, so the sources no
// longer change, and the one-shot dataflow of the recomputation (which
// builds the query's whole state at once) does not have to fit beside the
// view's.
func checkQuery(ctx context.Context, c *pgx.Conn, q query, tot totals) string {
	view, recompute := "SELECT * FROM "+q.name, q.recompute()
	if q.check != "" {
		view = strings.ReplaceAll(q.check, "{v}", q.name)
		recompute = strings.ReplaceAll(q.check, "{v}", "("+q.recompute()+") AS recomputed")
	}
	got, err := textRows(ctx, c, view)
	if err != nil {
		return "error: " + err.Error()
	}
	if _, err := c.Exec(ctx, "DROP MATERIALIZED VIEW "+q.name); err != nil {
		return "error: " + err.Error()
	}
	want, err := textRows(ctx, c, recompute)
	if err != nil {
		return "error: " + err.Error()
	}
	if !slices.Equal(got, want) {
		return fmt.Sprintf("NO: %d rows differ from the recomputation's %d", diffCount(got, want), len(want))
	}
	if q.name == "q0" {
		if g := strings.Join(strings.Split(got[0], "|")[:4], "|"); g != tot.q0() {
			return fmt.Sprintf("NO: count and sums %s, computed from the events %s", g, tot.q0())
		}
	}
	return "yes"
}

// textRows returns a query's rows as text, columns joined by "|", sorted.
func textRows(ctx context.Context, c *pgx.Conn, sql string) ([]string, error) {
	rows, err := c.Query(ctx, sql, pgx.QueryResultFormats{pgx.TextFormatCode})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		raw := rows.RawValues()
		f := make([]string, len(raw))
		for i, v := range raw {
			if v == nil {
				f[i] = "NULL"
			} else {
				f[i] = string(v)
			}
		}
		out = append(out, strings.Join(f, "|"))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return out, nil
}

// diffCount counts the rows of the symmetric difference of two sorted
// multisets.
func diffCount(a, b []string) int {
	n, i, j := 0, 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || i < len(a) && a[i] < b[j]:
			n, i = n+1, i+1
		case i >= len(a) || b[j] < a[i]:
			n, j = n+1, j+1
		default:
			i, j = i+1, j+1
		}
	}
	return n
}

func firstLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return s
}

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// writeTable prints the Markdown table and what the run was.
func writeTable(out io.Writer, cfg config, start, end procstat.Machine, rs []result) {
	model := ""
	if start.Model != "" {
		model = " (" + start.Model + ")"
	}
	limit := "viewd's default memory limit"
	if cfg.memLimit > 0 {
		limit = fmt.Sprintf("viewd --memory-limit %d MiB", cfg.memLimit>>20)
	}
	fmt.Fprintf(out, "Nexmark, %d events per query (1:3:46 person:auction:bid), seed %d, %s; %d CPUs%s, %.1f GiB; load average %s at the start, %s at the end; killed past %d MiB of RSS, %s.\n\n",
		cfg.events, cfg.seed, time.Now().UTC().Format("2006-01-02 15:04 UTC"), start.CPUs, model, float64(start.Memory)/(1<<30), start.LoadAvg, end.LoadAvg, cfg.maxRSS>>20, limit)
	fmt.Fprintln(out, "| query | what | input | events/s | events/CPU-s | CPU s | peak RSS MiB (before) | rows | = recomputation |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		if r.err != nil {
			fmt.Fprintf(out, "| %s | %s | %s | failed: %s | | | | | |\n", r.query, r.what, r.path, strings.ReplaceAll(r.err.Error(), "\n", " "))
			continue
		}
		fmt.Fprintf(out, "| %s | %s | %s | %s | %s | %.1f | %d (%d) | %d | %s |\n", r.query, r.what, r.path,
			thousands(perSecond(r.events, r.use.wall)), thousands(perSecond(r.events, r.use.cpu)), r.use.cpu.Seconds(),
			r.use.peakRSS>>20, r.rssBefore>>20, r.rows, r.check)
	}
}

// thousands formats v as 123K or 1.23M.
func thousands(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fK", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
