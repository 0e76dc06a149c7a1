package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/viewd/viewd/internal/procstat"
)

const (
	lookupSQL = "SELECT * FROM tv WHERE k = $1"
	updateSQL = "UPDATE t SET v = $2 WHERE id = $1"
	// cancelGrace is how long a statement may take to end after a
	// CancelRequest before the connection is closed under it.
	cancelGrace = 5 * time.Second
	// idleWait bounds the wait for viewd to stop using CPU after a
	// cancelled statement.
	idleWait = 30 * time.Second
)

// timed is the outcome of running one statement repeatedly.
type timed struct {
	done     int
	elapsed  time.Duration // from the start until the last statement ended
	lats     []time.Duration
	errs     int
	firstErr string
}

func (r *timed) add(o timed) {
	r.done += o.done
	r.elapsed = max(r.elapsed, o.elapsed)
	r.lats = append(r.lats, o.lats...)
	r.errs += o.errs
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
}

func (r *timed) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.done) / r.elapsed.Seconds()
}

// repeat runs one statement on each connection until dur has passed
// (statements in flight then run to their end, each bounded by the
// statement timeout), and collects latencies of the successful ones. A
// client stops at its first error that is not the server's (a timeout, a
// broken connection).
func (b *bench) repeat(ctx context.Context, conns []*pgx.Conn, dur time.Duration, stmt func(ctx context.Context, c *pgx.Conn, r *rand.Rand) error) timed {
	start := time.Now()
	end := start.Add(dur)
	results := make([]timed, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), uint64(start.UnixNano())))
			res := &results[i]
			for time.Now().Before(end) && ctx.Err() == nil {
				qctx, cancel := context.WithTimeout(ctx, b.cfg.stmtTimeout)
				t0 := time.Now()
				err := stmt(qctx, c, r)
				lat := time.Since(t0)
				cancel()
				if err != nil {
					res.errs++
					if res.firstErr == "" {
						res.firstErr = errText(qctx, err)
						if lat >= b.cfg.stmtTimeout {
							res.firstErr = fmt.Sprintf("no answer within %s (-stmt-timeout)", b.cfg.stmtTimeout)
						}
					}
					var pe *pgconn.PgError
					if !errors.As(err, &pe) || c.IsClosed() {
						break
					}
					continue
				}
				res.done++
				res.lats = append(res.lats, lat)
			}
			res.elapsed = time.Since(start)
		}()
	}
	wg.Wait()
	var total timed
	for _, r := range results {
		total.add(r)
	}
	slices.Sort(total.lats)
	return total
}

// connectN opens n connections and prepares name as sql on each.
func connectN(ctx context.Context, t *target, n int, name, sql string) ([]*pgx.Conn, error) {
	var conns []*pgx.Conn
	for range n {
		c, err := t.connect(ctx)
		if err != nil {
			closeAll(conns)
			return nil, err
		}
		conns = append(conns, c)
		if _, err := c.Prepare(ctx, name, sql); err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("PREPARE %s: %s", sql, errText(ctx, err))
		}
	}
	return conns, nil
}

func closeAll(conns []*pgx.Conn) {
	for _, c := range conns {
		closeConn(c)
	}
}

// lookup runs the prepared point lookup for a random key and checks that
// it found the key's one row.
func (b *bench) lookup(ctx context.Context, c *pgx.Conn, r *rand.Rand) error {
	k := r.IntN(int(b.expectedKeys()))
	rows, err := c.Query(ctx, "lookup", k)
	if err != nil {
		return err
	}
	n := 0
	for rows.Next() {
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n != 1 {
		return fmt.Errorf("k = %d returned %d rows, want 1", k, n)
	}
	return nil
}

// timedCell turns repeated statements into a cell, with a note on errors.
func (b *bench) timedCell(t *target, n int, res timed, unit string, withLatency bool) cell {
	if res.errs > 0 {
		b.rep.notef("Row %d, %s: %d statements failed; the first: %s.", n, t.name, res.errs, res.firstErr)
	}
	if res.done == 0 {
		msg := fmt.Sprintf("none completed in %s", seconds(res.elapsed))
		if res.firstErr != "" {
			msg += ": " + res.firstErr
		}
		return failed(msg)
	}
	text := sig3(res.rate()) + " " + unit
	if withLatency {
		text += fmt.Sprintf(" (p50 %s, p99 %s)", latency(percentile(res.lats, 0.5)), latency(percentile(res.lats, 0.99)))
	}
	if res.errs > 0 {
		text += fmt.Sprintf(", %d failed", res.errs)
	}
	return figure(res.rate(), text)
}

// Row 1: point lookups on tv's index, 8 clients.
func (b *bench) rowLookups(ctx context.Context, t *target) cell {
	ctx, cancel := t.step(ctx, b.cfg.duration+b.cfg.stmtTimeout+time.Minute)
	defer cancel()
	conns, err := connectN(ctx, t, 8, "lookup", lookupSQL)
	if err != nil {
		return failed(errText(ctx, err))
	}
	defer closeAll(conns)
	res := b.repeat(ctx, conns, b.cfg.duration, b.lookup)
	return b.timedCell(t, 1, res, "q/s", true)
}

// Row 2: single-row UPDATEs by key, one client.
func (b *bench) rowUpdates(ctx context.Context, t *target) cell {
	ctx, cancel := t.step(ctx, b.cfg.duration+b.cfg.stmtTimeout+time.Minute)
	defer cancel()
	conns, err := connectN(ctx, t, 1, "update", updateSQL)
	if err != nil {
		return failed(errText(ctx, err))
	}
	defer closeAll(conns)
	res := b.repeat(ctx, conns, b.cfg.duration, func(ctx context.Context, c *pgx.Conn, r *rand.Rand) error {
		tag, err := c.Exec(ctx, "update", 1+r.IntN(b.cfg.rows), randomValue(r))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("UPDATE affected %d rows, want 1", tag.RowsAffected())
		}
		return nil
	})
	c := b.timedCell(t, 2, res, "updates/s", false)
	if c.ok {
		c.text += fmt.Sprintf(" (p50 %s; %s in %s)", latency(percentile(res.lats, 0.5)), commas(int64(res.done)), seconds(res.elapsed))
	}
	return c
}

// freshTable creates table name shaped like t, and returns a function
// that drops it (so that it does not weigh on later rows and the restart).
func (b *bench) freshTable(ctx context.Context, t *target, c *pgx.Conn, name string) (func(), error) {
	if _, err := c.Exec(ctx, "CREATE TABLE "+name+" (id int PRIMARY KEY, k int, v text)"); err != nil {
		return nil, fmt.Errorf("CREATE TABLE %s: %s", name, errText(ctx, err))
	}
	return func() {
		dctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		dc, err := t.connect(dctx)
		if err == nil {
			defer closeConn(dc)
			_, err = dc.Exec(dctx, "DROP TABLE "+name)
		}
		if err != nil {
			b.rep.notef("%s: DROP TABLE %s failed: %s.", t.name, name, errText(dctx, err))
		}
	}, nil
}

// Row 3: COPY of all rows into a fresh table.
func (b *bench) rowCopyIn(ctx context.Context, t *target) cell {
	ctx, cancel := t.step(ctx, b.cfg.loadTimeout)
	defer cancel()
	c, err := t.connect(ctx)
	if err != nil {
		return failed(errText(ctx, err))
	}
	defer closeConn(c)
	drop, err := b.freshTable(ctx, t, c, "t_copy")
	if err != nil {
		return failed(err.Error())
	}
	defer drop()
	start := time.Now()
	tag, err := c.PgConn().CopyFrom(ctx, newRowReader(1, b.cfg.rows, b.cfg.keys), "COPY t_copy FROM STDIN")
	d := time.Since(start)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return failed(fmt.Sprintf("not done after %s (-load-timeout)", seconds(d)))
		}
		return failed(fmt.Sprintf("after %s: %s", seconds(d), errText(ctx, err)))
	}
	if tag.RowsAffected() != int64(b.cfg.rows) {
		return failed(fmt.Sprintf("%q, want %d rows", tag.String(), b.cfg.rows))
	}
	return figure(d.Seconds(), fmt.Sprintf("%s (%s rows/s)", seconds(d), sig3(float64(b.cfg.rows)/d.Seconds())))
}

// Row 4: INSERTs of 1,000-row VALUES lists into a fresh table.
func (b *bench) rowInserts(ctx context.Context, t *target) cell {
	const per = 1000
	ctx, cancel := t.step(ctx, time.Duration(b.cfg.insertBatches)*b.cfg.stmtTimeout+time.Minute)
	defer cancel()
	c, err := t.connect(ctx)
	if err != nil {
		return failed(errText(ctx, err))
	}
	defer closeConn(c)
	drop, err := b.freshTable(ctx, t, c, "t_ins")
	if err != nil {
		return failed(err.Error())
	}
	defer drop()
	stmts := make([]string, b.cfg.insertBatches)
	for i := range stmts {
		stmts[i] = insertStatement("t_ins", i*per+1, (i+1)*per, b.cfg.keys)
	}
	start := time.Now()
	inserted := 0
	for i, s := range stmts {
		qctx, qcancel := context.WithTimeout(ctx, b.cfg.stmtTimeout)
		tag, err := c.Exec(qctx, s)
		msg := ""
		if err != nil {
			msg = errText(qctx, err)
		}
		qcancel()
		if err != nil {
			b.rep.notef("Row 4, %s: statement %d of %d failed after %s: %s.", t.name, i+1, len(stmts), seconds(time.Since(start)), msg)
			break
		}
		inserted += int(tag.RowsAffected())
	}
	d := time.Since(start)
	if inserted == 0 {
		return failed(fmt.Sprintf("none inserted in %s", seconds(d)))
	}
	rate := float64(inserted) / d.Seconds()
	return figure(rate, fmt.Sprintf("%s rows/s (%s rows in %s)", sig3(rate), commas(int64(inserted)), seconds(d)))
}

// cancelRunning asks the server to cancel the statement running on c (a
// CancelRequest, as psql sends on Ctrl-C) and waits up to cancelGrace for
// it to end (done closed). If it does not, hard is called, which closes
// the connection under it. It describes what happened.
func cancelRunning(c *pgx.Conn, done <-chan struct{}, hard context.CancelFunc) string {
	start := time.Now()
	cctx, cancel := context.WithTimeout(context.Background(), cancelGrace)
	err := c.PgConn().CancelRequest(cctx)
	cancel()
	if err != nil {
		hard()
		<-done
		return fmt.Sprintf("the CancelRequest failed (%v); closed the connection", err)
	}
	select {
	case <-done:
		return fmt.Sprintf("the statement ended %s after a CancelRequest", latency(time.Since(start)))
	case <-time.After(cancelGrace):
		hard()
		<-done
		return fmt.Sprintf("the statement had not ended %s after a CancelRequest; closed the connection", seconds(cancelGrace))
	}
}

// settle waits for viewd to stop using CPU after a cancelled statement
// and notes when it does not.
func (b *bench) settle(ctx context.Context, t *target, n int) {
	if !t.isViewd() {
		return
	}
	pid := t.viewd.pid()
	if pid == 0 {
		return
	}
	d, idle := waitIdle(ctx, pid, idleWait)
	switch {
	case t.viewd.alive() != nil:
		// Killed by the watchdog or crashed: the next step says so.
	case !idle:
		b.rep.notef("Row %d, viewd: still busy (over 10%% of a core) %s after the statement was cancelled; later rows ran against a busy server.", n, seconds(d))
	case d > 2*time.Second:
		b.rep.notef("Row %d, viewd: busy for about %s after the statement was cancelled.", n, seconds(d))
	}
}

// firstRowWriter records when the first COPY data arrives.
type firstRowWriter struct {
	once  sync.Once
	first chan time.Time
}

func (w *firstRowWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		w.once.Do(func() { w.first <- time.Now() })
	}
	return len(p), nil
}

// Row 5: time to the first row of a huge COPY TO STDOUT, and peak RSS.
func (b *bench) rowFirstRow(outer context.Context, t *target) cell {
	ctx, cancel := t.step(outer, b.cfg.firstRowWait+cancelGrace+time.Minute)
	defer cancel()
	c, err := t.connect(ctx)
	if err != nil {
		return failed(errText(ctx, err))
	}
	defer closeConn(c)
	pid, who := 0, "viewd"
	if t.isViewd() {
		pid = t.viewd.pid()
	} else {
		who = "backend"
		var p int32
		if err := c.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&p); err != nil {
			return failed(errText(ctx, err))
		}
		pid = int(p)
	}
	before, _ := procstat.RSS(pid)
	stopSampling := samplePeak(pid)
	sql := fmt.Sprintf("COPY (SELECT i FROM generate_series(1, %d) i) TO STDOUT", b.cfg.series)
	w := &firstRowWriter{first: make(chan time.Time, 1)}
	qctx, hard := context.WithCancel(ctx)
	defer hard()
	done := make(chan struct{})
	var copyErr error
	start := time.Now()
	go func() {
		defer close(done)
		_, copyErr = c.PgConn().CopyTo(qctx, w, sql)
	}()
	var result cell
	var cancelled string
	select {
	case at := <-w.first:
		d := at.Sub(start)
		result = figure(d.Seconds(), seconds(d))
		cancelled = cancelRunning(c, done, hard)
	case <-done:
		d := time.Since(start)
		select {
		case at := <-w.first:
			d = at.Sub(start)
			result = figure(d.Seconds(), seconds(d))
		default:
			if copyErr != nil {
				result = failed(fmt.Sprintf("failed after %s: %s", seconds(d), errText(qctx, copyErr)))
			} else {
				result = failed(fmt.Sprintf("ended without rows after %s", seconds(d)))
			}
		}
	case <-time.After(b.cfg.firstRowWait):
		result = failed(fmt.Sprintf("none after %s", seconds(b.cfg.firstRowWait)))
		cancelled = cancelRunning(c, done, hard)
	case <-ctx.Done():
		hard()
		<-done
		result = failed(fmt.Sprintf("no row; after %s: %s", seconds(time.Since(start)), errText(ctx, ctx.Err())))
	}
	peak := stopSampling()
	if peak > 0 {
		result.text += fmt.Sprintf(" (%s peak RSS %s, %s before)", who, mib(peak), mib(before))
	}
	if cancelled != "" {
		b.rep.notef("Row 5, %s: %s.", t.name, cancelled)
	}
	b.settle(outer, t, 5)
	return result
}

// Row 6: statement_timeout on a long join.
func (b *bench) rowStatementTimeout(outer context.Context, t *target) cell {
	ctx, cancel := t.step(outer, b.cfg.cancelWait+cancelGrace+time.Minute)
	defer cancel()
	c, err := t.connect(ctx)
	if err != nil {
		return failed(errText(ctx, err))
	}
	defer closeConn(c)
	if _, err := c.Exec(ctx, "SET statement_timeout = '1s'"); err != nil {
		return failed("SET statement_timeout: " + errText(ctx, err))
	}
	qctx, hard := context.WithCancel(ctx)
	defer hard()
	done := make(chan struct{})
	var joinErr error
	start := time.Now()
	go func() {
		defer close(done)
		_, joinErr = c.Exec(qctx, b.cfg.join)
	}()
	var result cell
	select {
	case <-done:
		d := time.Since(start)
		var pe *pgconn.PgError
		switch {
		case errors.As(joinErr, &pe):
			result = figure(d.Seconds(), fmt.Sprintf("%s (%s)", seconds(d), pe.Code))
			if pe.Code != "57014" {
				b.rep.notef("Row 6, %s: the error was %s, not 57014 query_canceled.", t.name, errText(qctx, joinErr))
			}
		case joinErr != nil:
			result = failed(fmt.Sprintf("after %s: %s", seconds(d), errText(qctx, joinErr)))
		default:
			result = failed(fmt.Sprintf("finished in %s without an error (make -rows larger)", seconds(d)))
		}
	case <-time.After(b.cfg.cancelWait):
		result = failed(fmt.Sprintf("no error after %s", seconds(b.cfg.cancelWait)))
		b.rep.notef("Row 6, %s: %s.", t.name, cancelRunning(c, done, hard))
	case <-ctx.Done():
		hard()
		<-done
		result = failed(fmt.Sprintf("no error; after %s: %s", seconds(time.Since(start)), errText(ctx, ctx.Err())))
	}
	b.settle(outer, t, 6)
	return result
}

// Row 7: point lookups, one client, while another session runs a long
// join without a timeout.
func (b *bench) rowLookupsUnderJoin(outer context.Context, t *target) cell {
	const warmup = time.Second
	ctx, cancel := t.step(outer, warmup+b.cfg.duration+b.cfg.stmtTimeout+cancelGrace+time.Minute)
	defer cancel()
	jc, err := t.connect(ctx)
	if err != nil {
		return failed(errText(ctx, err))
	}
	defer closeConn(jc)
	conns, err := connectN(ctx, t, 1, "lookup", lookupSQL)
	if err != nil {
		return failed(errText(ctx, err))
	}
	defer closeAll(conns)
	jctx, hard := context.WithCancel(ctx)
	defer hard()
	done := make(chan struct{})
	var joinErr error
	var joinEnd time.Time
	go func() {
		defer close(done)
		_, joinErr = jc.Exec(jctx, b.cfg.join)
		joinEnd = time.Now()
	}()
	select { // let the join get going
	case <-time.After(warmup):
	case <-ctx.Done():
	}
	lookupsStart := time.Now()
	res := b.repeat(ctx, conns, b.cfg.duration, b.lookup)
	select {
	case <-done:
		if ctx.Err() != nil { // the step was cut short, and the join with it
			break
		}
		msg := "finished"
		if joinErr != nil {
			msg = "failed (" + errText(jctx, joinErr) + ")"
		}
		if at := joinEnd.Sub(lookupsStart); at > 0 {
			b.rep.notef("Row 7, %s: the join %s %s into the %s of lookups; the figure is partly without load.",
				t.name, msg, seconds(at), seconds(res.elapsed))
		} else {
			b.rep.notef("Row 7, %s: the join %s before the lookups began; the figure is without load (make -rows larger).", t.name, msg)
		}
	default:
		if ctx.Err() != nil { // the step was cut short: the join's connection is closing
			hard()
			<-done
			break
		}
		b.rep.notef("Row 7, %s: after the lookups %s.", t.name, cancelRunning(jc, done, hard))
	}
	b.settle(outer, t, 7)
	if res.errs > 0 {
		b.rep.notef("Row 7, %s: %d lookups failed; the first: %s.", t.name, res.errs, res.firstErr)
	}
	if res.done == 0 {
		return failed(fmt.Sprintf("no lookup completed in %s: %s", seconds(res.elapsed), res.firstErr))
	}
	p99 := percentile(res.lats, 0.99)
	return figure(p99.Seconds(), fmt.Sprintf("%s (p50 %s, %s lookups)", latency(p99), latency(percentile(res.lats, 0.5)), commas(int64(res.done))))
}

// Row 8: memory per row, from the load.
func (b *bench) rowMemory(t *target) cell {
	n := float64(b.cfg.rows)
	if t.isViewd() {
		grow := t.rssAfter - t.rssBefore
		per := float64(grow) / n
		return figure(per, fmt.Sprintf("%s bytes/row RSS (%s → %s)", sig3(per), mib(t.rssBefore), mib(t.rssAfter)))
	}
	per := float64(t.diskSize) / n
	return figure(per, fmt.Sprintf("%s bytes/row on disk (%s)", sig3(per), mib(t.diskSize)))
}

// Row 9: viewd restart until tv answers.
func (b *bench) rowRestart(ctx context.Context, t *target) cell {
	if d, idle := waitIdle(ctx, t.viewd.pid(), idleWait); !idle {
		b.rep.notef("Row 9: viewd was still busy %s after the previous rows when it was sent SIGTERM.", seconds(d))
	}
	log.Printf("viewd: SIGTERM")
	stopTime, killed := t.viewd.stop(30 * time.Second)
	if killed {
		b.rep.notef("Row 9: viewd did not exit within 30 s of SIGTERM and was killed.")
	}
	ctx, cancel := t.step(ctx, b.cfg.loadTimeout)
	defer cancel()
	start := time.Now()
	if err := t.viewd.start(ctx); err != nil {
		t.loadErr = err
		return failed(errText(ctx, err))
	}
	listen := time.Since(start)
	if _, err := b.waitView(ctx, t); err != nil {
		t.loadErr = fmt.Errorf("after the restart: %w", err)
		return failed(fmt.Sprintf("no right answer %s after the start: %s", seconds(time.Since(start)), errText(ctx, err)))
	}
	up := time.Since(start)
	total := stopTime + up
	return figure(total.Seconds(), fmt.Sprintf("%s (exit %s, listening %s, tv right %s after the start)",
		seconds(total), seconds(stopTime), seconds(listen), seconds(up)))
}
