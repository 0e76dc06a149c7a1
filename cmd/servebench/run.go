package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/viewd/viewd/internal/pgtest"

	"github.com/viewd/viewd/internal/procstat"
)

// target is one of the two servers under test.
type target struct {
	name  string
	url   string
	viewd *viewdProc // nil for PostgreSQL
	dog   *watchdog  // nil for PostgreSQL

	loadErr   error // why t and tv are not usable; nil once loaded
	rssBefore int64 // viewd: RSS before loading t and tv
	rssAfter  int64 // viewd: RSS after
	diskSize  int64 // PostgreSQL: pg_total_relation_size('t')
}

func (t *target) isViewd() bool { return t.viewd != nil }

// step returns the context of one step: bounded by timeout and, for
// viewd, cancelled by the memory watchdog.
func (t *target) step(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if t.dog != nil {
		return t.dog.step(ctx, timeout)
	}
	return context.WithTimeout(ctx, timeout)
}

func (t *target) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(t.url)
	if err != nil {
		return nil, fmt.Errorf("%s: parsing %s: %w", t.name, t.url, err)
	}
	cfg.ConnectTimeout = 10 * time.Second
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: connect: %w", t.name, err)
	}
	return c, nil
}

// closeConn closes a connection without waiting long for a busy server.
func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.Close(ctx)
}

// bench is one run.
type bench struct {
	cfg     config
	rep     *report
	targets []*target // viewd first, then PostgreSQL
}

// expectedKeys is the number of rows of tv.
func (b *bench) expectedKeys() int64 { return int64(min(b.cfg.rows, b.cfg.keys)) }

// order is the order rows run in: the ones that need t first, the ones
// that may leave viewd busy or dead (long joins, a huge COPY out) late,
// the restart last.
var order = []int{8, 1, 2, 3, 4, 6, 7, 5, 9}

var titles = map[int]string{
	1: "point lookup on the view's index (`SELECT * FROM tv WHERE k = $1`), 8 clients, prepared: queries/s (p50, p99)",
	2: "`UPDATE t SET v = $2 WHERE id = $1`, 1 client, prepared, random id: updates/s",
	3: "`COPY … FROM STDIN` of all rows into a fresh table: seconds",
	4: "INSERT of 1,000-row VALUES lists into a fresh table: rows/s",
	5: "time to first row of `COPY (SELECT i FROM generate_series(1, N) i) TO STDOUT` (peak RSS while it runs)",
	6: "`SET statement_timeout = '1s'`, then a long self-join (below): seconds until the error (SQLSTATE)",
	7: "point lookup p99 (p50), 1 client, while another session runs the long self-join",
	8: "memory per row of t: viewd's RSS growth from loading t and tv; PostgreSQL's pg_total_relation_size('t'), on disk",
	9: "restart: SIGTERM, start on the same data directory, until `SELECT count(*) FROM tv` is right: seconds",
}

var senses = map[int]sense{1: higherBetter, 2: higherBetter, 3: lowerBetter, 4: higherBetter, 5: lowerBetter,
	6: lowerBetter, 7: lowerBetter, 8: lowerBetter, 9: noRatio}

func run(ctx context.Context, cfg config, out, errOut io.Writer) error {
	log.SetOutput(errOut)
	log.SetFlags(log.Ltime)
	log.SetPrefix("servebench: ")
	h := header{cfg: cfg, date: time.Now(), start: procstat.ReadMachine(), commit: gitDescribe()}
	b := &bench{cfg: cfg, rep: &report{rows: map[int]*row{}}}
	if b.cfg.maxRSS == 0 {
		b.cfg.maxRSS = h.start.Memory / 3
		if h.start.Avail > 0 {
			b.cfg.maxRSS = min(b.cfg.maxRSS, h.start.Avail/2)
		}
		if b.cfg.maxRSS <= 0 {
			b.cfg.maxRSS = 8 << 30
		}
	}

	dir, err := os.MkdirTemp("", "servebench-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	// As root, PostgreSQL runs as another user who must reach pg/.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer func() {
		if cfg.keep {
			log.Printf("kept the servers' directories in %s", dir)
			return
		}
		if err := os.RemoveAll(dir); err != nil {
			log.Printf("removing %s: %v", dir, err)
		}
	}()

	h.viewdBin = cfg.viewdBin
	if h.viewdBin == "" {
		log.Printf("building ./cmd/viewd")
		if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
			return fmt.Errorf("temporary directory: %w", err)
		}
		if h.viewdBin, err = buildViewd(ctx, filepath.Join(dir, "bin")); err != nil {
			return err
		}
	} else {
		h.commit = "" // the binary need not be the checked-out code
	}

	log.Printf("starting PostgreSQL")
	var settings []string
	if cfg.pgDurable {
		settings = []string{"fsync=on", "synchronous_commit=on", "full_page_writes=on"}
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	pg, err := pgtest.StartServer(pctx, filepath.Join(dir, "pg"), settings...)
	cancel()
	if err != nil {
		return fmt.Errorf("starting PostgreSQL: %w", err)
	}
	defer func() {
		if err := pg.Stop(); err != nil {
			log.Printf("stopping PostgreSQL: %v", err)
		}
	}()
	pgT := &target{name: "PostgreSQL", url: pg.URL()}

	log.Printf("starting viewd (%s)", h.viewdBin)
	vdir := filepath.Join(dir, "viewd")
	if err := os.Mkdir(vdir, 0o755); err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	vp, err := newViewd(h.viewdBin, vdir)
	if err != nil {
		return err
	}
	if err := vp.start(ctx); err != nil {
		vp.kill()
		return err
	}
	defer func() {
		if d, killed := vp.stop(15 * time.Second); killed {
			log.Printf("viewd did not stop within %s of SIGTERM; killed it", seconds(d))
		}
	}()
	dog := &watchdog{proc: vp, limit: b.cfg.maxRSS}
	dogCtx, stopDog := context.WithCancel(ctx)
	defer stopDog()
	go dog.run(dogCtx)
	vT := &target{name: "viewd", url: vp.connString(), viewd: vp, dog: dog}
	b.targets = []*target{vT, pgT}

	h.pgVersion = pgVersion(ctx, pgT)

	needLoad := false
	for _, n := range []int{1, 2, 6, 7, 8, 9} {
		needLoad = needLoad || cfg.only[n]
	}
	if needLoad {
		for _, t := range b.targets {
			if ctx.Err() != nil {
				break
			}
			log.Printf("%s: loading %s rows into t, then the view", t.name, commas(int64(cfg.rows)))
			if err := b.load(ctx, t); err != nil {
				t.loadErr = err
				log.Printf("%s: %v", t.name, err)
				b.rep.notef("%s: loading t and tv failed: %v", t.name, err)
			}
		}
	}

	for _, n := range order {
		if !cfg.only[n] || ctx.Err() != nil {
			continue
		}
		r := row{num: n, what: titles[n], sense: senses[n]}
		if n == 5 {
			r.what = strings.Replace(r.what, "N", commas(int64(cfg.series)), 1)
		}
		for _, t := range b.targets {
			if ctx.Err() != nil {
				break
			}
			c := b.measure(ctx, n, t)
			if t.isViewd() {
				r.viewd = c
			} else {
				r.pg = c
			}
		}
		b.rep.set(r)
	}

	h.end = procstat.ReadMachine()
	if peak := dog.peakRSS(); peak > 0 {
		tripped, kills := dog.counts()
		b.rep.notef("viewd's peak RSS over the whole run: %s (-max-rss %s; steps cancelled for memory: %d; viewd killed: %d).",
			mib(peak), mib(b.cfg.maxRSS), tripped, kills)
	}
	b.rep.notef("The long query of rows 6 and 7: `%s`.", cfg.join)
	if ctx.Err() != nil {
		b.rep.notef("The run was interrupted; rows missing from the table did not run.")
	}
	b.rep.print(out, h)
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	return nil
}

// measure runs row n against one server.
func (b *bench) measure(ctx context.Context, n int, t *target) cell {
	if n == 9 && !t.isViewd() {
		return cell{text: "-"}
	}
	if t.isViewd() {
		if err := b.ensureUp(ctx, t, n); err != nil {
			return failed(err.Error())
		}
	}
	needsT := n == 1 || n == 2 || n == 6 || n == 7 || n == 8 || n == 9
	if needsT && t.loadErr != nil {
		return failed("no data: loading failed")
	}
	log.Printf("row %d: %s", n, t.name)
	switch n {
	case 1:
		return b.rowLookups(ctx, t)
	case 2:
		return b.rowUpdates(ctx, t)
	case 3:
		return b.rowCopyIn(ctx, t)
	case 4:
		return b.rowInserts(ctx, t)
	case 5:
		return b.rowFirstRow(ctx, t)
	case 6:
		return b.rowStatementTimeout(ctx, t)
	case 7:
		return b.rowLookupsUnderJoin(ctx, t)
	case 8:
		return b.rowMemory(t)
	case 9:
		return b.rowRestart(ctx, t)
	}
	return failed("no such row")
}

// ensureUp restarts viewd when an earlier step left it dead (killed by
// the watchdog, or crashed), so that later rows still run; the report
// says so.
func (b *bench) ensureUp(ctx context.Context, t *target, n int) error {
	err := t.viewd.alive()
	if err == nil {
		return nil
	}
	tail := ""
	if !strings.HasPrefix(err.Error(), "servebench killed") {
		tail = " " + lastLogLine(t.viewd)
	}
	b.rep.notef("viewd was down before row %d (%v); restarted it on the same data directory.%s", n, err, tail)
	log.Printf("viewd is down (%v); restarting it", err)
	sctx, cancel := t.step(ctx, b.cfg.loadTimeout)
	defer cancel()
	if err := t.viewd.start(sctx); err != nil {
		return fmt.Errorf("viewd is down and did not restart: %w", err)
	}
	if t.loadErr == nil {
		if _, err := b.waitView(sctx, t); err != nil {
			t.loadErr = fmt.Errorf("after a restart: %w", err)
			return fmt.Errorf("viewd restarted but tv did not answer: %s", errText(sctx, err))
		}
	}
	return nil
}

func lastLogLine(p *viewdProc) string {
	tail := p.logTail(3)
	if tail == "" {
		return ""
	}
	return "Its log ended: `" + strings.ReplaceAll(strings.TrimSpace(tail[strings.Index(tail, "\n")+1:]), "\n", " ") + "`"
}

// pgVersion returns "PostgreSQL 15.x", or "".
func pgVersion(ctx context.Context, t *target) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, err := t.connect(ctx)
	if err != nil {
		return ""
	}
	defer closeConn(c)
	var v string
	if err := c.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
		return ""
	}
	return "PostgreSQL " + strings.Fields(v + " ")[0]
}

// load creates t with the configured rows, tv and its index, and waits
// until tv answers with every key.
func (b *bench) load(ctx context.Context, t *target) error {
	ctx, cancel := t.step(ctx, b.cfg.loadTimeout)
	defer cancel()
	c, err := t.connect(ctx)
	if err != nil {
		return err
	}
	defer closeConn(c)
	if t.isViewd() {
		if t.rssBefore, err = procstat.RSS(t.viewd.pid()); err != nil {
			return err
		}
	}
	if _, err := c.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY, k int, v text)"); err != nil {
		return fmt.Errorf("CREATE TABLE t: %s", errText(ctx, err))
	}
	start := time.Now()
	tag, err := c.PgConn().CopyFrom(ctx, newRowReader(1, b.cfg.rows, b.cfg.keys), "COPY t FROM STDIN")
	if err != nil {
		return fmt.Errorf("COPY t FROM STDIN after %s: %s", seconds(time.Since(start)), errText(ctx, err))
	}
	if tag.RowsAffected() != int64(b.cfg.rows) {
		return fmt.Errorf("COPY t FROM STDIN: %q, want %d rows", tag.String(), b.cfg.rows)
	}
	copyTime := time.Since(start)
	start = time.Now()
	for _, q := range []string{
		"CREATE MATERIALIZED VIEW tv AS SELECT k, count(*) AS n, sum(id) AS s FROM t GROUP BY k",
		"CREATE INDEX ON tv (k)",
	} {
		if _, err := c.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %s", q, errText(ctx, err))
		}
	}
	if !t.isViewd() {
		for _, q := range []string{"VACUUM ANALYZE t", "VACUUM ANALYZE tv"} {
			if _, err := c.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %s", q, errText(ctx, err))
			}
		}
	}
	if _, err := b.waitView(ctx, t); err != nil {
		return fmt.Errorf("waiting for tv: %s", errText(ctx, err))
	}
	viewTime := time.Since(start)
	var total int64
	if err := c.QueryRow(ctx, "SELECT sum(n)::bigint FROM tv").Scan(&total); err != nil {
		return fmt.Errorf("SELECT sum(n) FROM tv: %s", errText(ctx, err))
	}
	if total != int64(b.cfg.rows) {
		return fmt.Errorf("tv counts %d rows of t, want %d", total, b.cfg.rows)
	}
	b.rep.notef("%s loaded t with COPY in %s; CREATE MATERIALIZED VIEW and its index, until tv answered, took %s.",
		t.name, seconds(copyTime), seconds(viewTime))
	if t.isViewd() {
		// Let background work (merges, GC) settle before reading RSS.
		waitIdle(ctx, t.viewd.pid(), 30*time.Second)
		if t.rssAfter, err = procstat.RSS(t.viewd.pid()); err != nil {
			return err
		}
	} else if err := c.QueryRow(ctx, "SELECT pg_total_relation_size('t')").Scan(&t.diskSize); err != nil {
		return fmt.Errorf("pg_total_relation_size: %s", errText(ctx, err))
	}
	return nil
}

// waitView polls `SELECT count(*) FROM tv` until it returns the number of
// keys, and returns how long that took. Connection errors are retried:
// after a restart the server may still be opening.
func (b *bench) waitView(ctx context.Context, t *target) (time.Duration, error) {
	start := time.Now()
	var last error
	for {
		got, err := countView(ctx, t)
		if err == nil && got == b.expectedKeys() {
			return time.Since(start), nil
		}
		if err == nil {
			err = fmt.Errorf("count(*) FROM tv is %d, want %d", got, b.expectedKeys())
		}
		last = err
		select {
		case <-ctx.Done():
			return time.Since(start), fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func countView(ctx context.Context, t *target) (int64, error) {
	c, err := t.connect(ctx)
	if err != nil {
		return 0, err
	}
	defer closeConn(c)
	var n int64
	err = c.QueryRow(ctx, "SELECT count(*) FROM tv").Scan(&n)
	return n, err
}

// errText is a one-line description of a step's error: the server's
// message and SQLSTATE, or why the step was cut short.
func errText(ctx context.Context, err error) string {
	if c := context.Cause(ctx); errors.Is(c, errRSS) {
		return c.Error()
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timed out"
	}
	s := strings.Join(strings.Fields(err.Error()), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
