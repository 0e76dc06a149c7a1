package differential

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/pgtest"
	"github.com/viewd/viewd/internal/viewdtest"
)

// knownFailures lists views that viewd is known to reject or get wrong,
// each with the understood cause. The test still runs them and fails if
// one of them starts to pass, so that the entry is removed when the bug is
// fixed, or fails with a different symptom. Only list a view here when the
// cause is understood.
var knownFailures = map[string]knownFailure{}

// knownFailure is an understood failure: why it happens, and a string the
// failure message must contain (so that a different failure is noticed).
type knownFailure struct {
	why, symptom string
}

const (
	defaultBatches = 20
	batchSize      = 15
	queryTimeout   = 60 * time.Second
)

func envInt(t *testing.T, name string, def uint64) uint64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, s, err)
	}
	return v
}

// outcome is what happened to one view.
type outcome struct {
	view
	kind      string // "materialized view", "late materialized view" or "ad hoc SELECT"
	read      string // the query that reads it in viewd
	pgRead    string // the same in PostgreSQL
	createErr error
	phase     string // where it first differed, or "" if it never did
	detail    string
	checks    int // comparisons that agreed
}

func (o *outcome) failed() bool { return o.createErr != nil || o.phase != "" }

// pair holds the connections to both servers.
type pair struct {
	pg, vd *pgx.Conn
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func exec(c *pgx.Conn, sql string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	tag, err := c.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	return tag.RowsAffected(), err
}

// applyUnit runs u on one connection and returns, per statement, its
// outcome ("ok N" or "error"), so that the two servers can be compared.
func applyUnit(c *pgx.Conn, u unit) ([]string, error) {
	var out []string
	if u.tx {
		if _, err := exec(c, "BEGIN"); err != nil {
			return nil, fmt.Errorf("BEGIN: %w", err)
		}
	}
	for _, s := range u.stmts {
		n, err := exec(c, s)
		if err != nil {
			out = append(out, "error "+errCode(err))
			if u.tx {
				_, _ = exec(c, "ROLLBACK")
				return out, nil
			}
			continue
		}
		out = append(out, fmt.Sprintf("ok %d", n))
	}
	if u.tx {
		end := "COMMIT"
		if u.rollback {
			end = "ROLLBACK"
		}
		if _, err := exec(c, end); err != nil {
			return out, fmt.Errorf("%s: %w", end, err)
		}
	}
	return out, nil
}

// applyBatch applies units to PostgreSQL and then to viewd and checks that
// every statement had the same effect (success and rows affected) on both.
func applyBatch(p pair, units []unit) (int, error) {
	n := 0
	for _, u := range units {
		want, err := applyUnit(p.pg, u)
		if err != nil {
			return n, fmt.Errorf("PostgreSQL: %s: %v", u, err)
		}
		got, err := applyUnit(p.vd, u)
		if err != nil {
			return n, fmt.Errorf("viewd: %s: %v", u, err)
		}
		for i := range max(len(got), len(want)) {
			g, w := "(not run)", "(not run)"
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			// Both must succeed with the same row count, or fail with
			// the same SQLSTATE (messages may differ).
			if g != w {
				return n, fmt.Errorf("DML diverged in %q\n  statement %d: %s\n  viewd: %s\n  PostgreSQL: %s", u, i+1, u.stmts[min(i, len(u.stmts)-1)], g, w)
			}
		}
		n += len(u.stmts)
	}
	return n, nil
}

// refreshKeys reloads the generator's belief about existing keys from
// PostgreSQL.
func refreshKeys(g *gen, c *pgx.Conn) error {
	load := func(sql string) (map[int]bool, error) {
		r, err := query(context.Background(), c, sql)
		if err != nil {
			return nil, err
		}
		m := map[int]bool{}
		for _, row := range r.rows {
			k, _ := strconv.Atoi(row[0])
			m[k] = true
		}
		return m, nil
	}
	var errs [3]error
	g.k.customers, errs[0] = load("SELECT id FROM customers")
	g.k.products, errs[1] = load("SELECT id FROM products")
	g.k.orders, errs[2] = load("SELECT id FROM orders")
	r, err := query(context.Background(), c, "SELECT src, dst FROM edges")
	if err != nil {
		return err
	}
	g.k.edges = map[[2]int]bool{}
	for _, row := range r.rows {
		a, _ := strconv.Atoi(row[0])
		b, _ := strconv.Atoi(row[1])
		g.k.edges[[2]int{a, b}] = true
	}
	return errors.Join(errs[:]...)
}

// compareAll compares every view that has not failed yet.
func compareAll(t *testing.T, p pair, outs []*outcome, phase string) {
	t.Helper()
	for _, o := range outs {
		if o.failed() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		want, err := query(ctx, p.pg, o.pgRead)
		cancel()
		if err != nil {
			t.Fatalf("PostgreSQL: %s: %v", o.pgRead, err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), queryTimeout)
		got, err := query(ctx, p.vd, o.read)
		cancel()
		if err != nil {
			o.phase, o.detail = phase, "viewd: "+o.read+": "+err.Error()
			continue
		}
		base := strings.TrimSuffix(strings.TrimSuffix(o.name, "_late"), "_adhoc")
		if d := diff(base, got, want); d != "" {
			o.phase, o.detail = phase, d
			continue
		}
		o.checks++
	}
}

func TestDifferential(t *testing.T) {
	start := time.Now()
	seed := envInt(t, "VIEWD_DIFF_SEED", 1)
	batches := int(envInt(t, "VIEWD_DIFF_BATCHES", defaultBatches))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d, %d batches: rerun with VIEWD_DIFF_SEED=%d VIEWD_DIFF_BATCHES=%d", seed, batches, seed, batches)
		}
	})
	only := map[string]bool{}
	if s := os.Getenv("VIEWD_DIFF_VIEWS"); s != "" {
		for _, n := range strings.Split(s, ",") {
			only[strings.TrimSpace(n)] = true
		}
	}

	pgSrv := pgtest.Start(t)
	t.Logf("PostgreSQL up after %v", time.Since(start).Round(time.Millisecond))
	vdSrv := viewdtest.Start(t, viewdtest.Options{})
	p := pair{pg: connect(t, pgSrv.URL()), vd: connect(t, vdSrv.URL())}
	t.Logf("viewd up after %v", time.Since(start).Round(time.Millisecond))

	for _, s := range schema {
		if _, err := exec(p.pg, s); err != nil {
			t.Fatalf("PostgreSQL: %s: %v", s, err)
		}
		if _, err := exec(p.vd, s); err != nil {
			t.Fatalf("viewd: %s: %v", s, err)
		}
	}
	g := newGen(seed)
	g.overlap = os.Getenv("VIEWD_DIFF_TX_OVERLAP") != "0"
	for _, s := range g.initial() {
		if _, err := applyBatch(p, []unit{{stmts: []string{s}}}); err != nil {
			t.Fatalf("initial data: %v", err)
		}
	}

	var outs []*outcome
	for _, v := range views {
		if len(only) > 0 && !only[v.name] {
			continue
		}
		if _, err := exec(p.pg, "CREATE VIEW "+v.name+" AS "+v.sql); err != nil {
			t.Fatalf("PostgreSQL rejects view %s (a bug in this test): %v\n%s", v.name, err, v.sql)
		}
		o := &outcome{view: v, kind: "materialized view", read: "SELECT * FROM " + v.name, pgRead: "SELECT * FROM " + v.name}
		if _, err := exec(p.vd, "CREATE MATERIALIZED VIEW "+v.name+" AS "+v.sql); err != nil {
			o.createErr = err
		}
		outs = append(outs, o)
	}
	// createLate creates, part way through, a second materialized view of
	// every query over tables with a history of updates.
	createLate := func() {
		for _, v := range views {
			if len(only) > 0 && !only[v.name] {
				continue
			}
			lv := v
			lv.name = v.name + "_late"
			o := &outcome{view: lv, kind: "late materialized view", read: "SELECT * FROM " + lv.name, pgRead: "SELECT * FROM " + v.name}
			if _, err := exec(p.vd, "CREATE MATERIALIZED VIEW "+lv.name+" AS "+v.sql); err != nil {
				o.createErr = err
			}
			outs = append(outs, o)
		}
	}
	t.Logf("%d views created after %v", len(outs), time.Since(start).Round(time.Millisecond))
	compareAll(t, p, outs, "initial snapshot (views created over existing data)")

	restart := func(phase string) {
		vdSrv.Stop()
		p.vd.Close(context.Background())
		vdSrv = viewdtest.Start(t, viewdtest.Options{DataDir: vdSrv.DataDir})
		p.vd = connect(t, vdSrv.URL())
		compareAll(t, p, outs, phase)
	}

	stmts, done := 0, 0
	var dmlErr error
	for b := 1; b <= batches; b++ {
		units := g.batch(batchSize)
		n, err := applyBatch(p, units)
		stmts += n
		if err != nil {
			dmlErr = fmt.Errorf("batch %d: %w", b, err)
			break
		}
		if err := refreshKeys(g, p.pg); err != nil {
			t.Fatalf("refreshing keys: %v", err)
		}
		compareAll(t, p, outs, fmt.Sprintf("after batch %d", b))
		done = b
		if b == max(batches/4, 1) {
			createLate()
			compareAll(t, p, outs, fmt.Sprintf("after creating the late views following batch %d", b))
		}
		if testing.Verbose() {
			t.Logf("batch %d: %d units applied and compared at %v", b, len(units), time.Since(start).Round(time.Millisecond))
		}
		if b == batches/2 {
			restart(fmt.Sprintf("after a restart of viewd following batch %d", b))
		}
	}
	if dmlErr == nil {
		restart("after the final restart of viewd")
	}
	// Finally, every query once more as an ad hoc SELECT (a transient
	// dataflow rather than a maintained view).
	var adhoc []*outcome
	for _, o := range outs {
		if o.kind != "materialized view" {
			continue
		}
		a := &outcome{view: o.view, kind: "ad hoc SELECT", read: o.sql, pgRead: o.sql}
		a.name = o.name + "_adhoc"
		adhoc = append(adhoc, a)
	}
	compareAll(t, p, adhoc, "on the final data")
	outs = append(outs, adhoc...)

	// Figures.
	var counts []string
	for _, tbl := range []string{"customers", "products", "orders", "edges"} {
		r, err := query(context.Background(), p.pg, "SELECT count(*) FROM "+tbl)
		if err == nil {
			counts = append(counts, tbl+"="+r.rows[0][0])
		}
	}
	passed := 0
	for _, o := range outs {
		if !o.failed() {
			passed++
		}
	}
	t.Logf("seed %d: %d batches, %d DML statements, final rows %s; %d/%d agree (materialized views, late materialized views, ad hoc SELECTs); %v",
		seed, done, stmts, strings.Join(counts, " "), passed, len(outs), time.Since(start).Round(time.Millisecond))

	if dmlErr != nil {
		t.Errorf("%v", dmlErr)
	}
	for _, o := range outs {
		t.Run(o.name, func(t *testing.T) {
			why, known := knownFailures[strings.TrimSuffix(strings.TrimSuffix(o.name, "_late"), "_adhoc")]
			var msg string
			switch {
			case o.createErr != nil:
				msg = fmt.Sprintf("viewd rejects the view (%s):\n  CREATE MATERIALIZED VIEW %s AS %s\n  error: %v", o.feature, o.name, o.sql, o.createErr)
			case o.phase != "":
				msg = fmt.Sprintf("viewd's %s differs from PostgreSQL %s (%s; %d earlier checks agreed):\n  %s\n%s", o.kind, o.phase, o.feature, o.checks, o.sql, o.detail)
			}
			switch {
			case known && msg == "":
				t.Errorf("listed in knownFailures (%s) but now agrees with PostgreSQL in %d checks: remove it from the map", why.why, o.checks)
			case known && !strings.Contains(msg, why.symptom):
				t.Errorf("listed in knownFailures (%s, symptom %q) but fails differently:\n%s", why.why, why.symptom, msg)
			case known:
				t.Logf("known failure: %s\n%s", why.why, msg)
			case msg != "":
				t.Error(msg)
			default:
				t.Logf("agrees with PostgreSQL in %d checks", o.checks)
			}
		})
	}
	if dmlErr == nil && len(only) == 0 {
		for _, d := range deviations {
			if !d.used {
				t.Errorf("deviation %s.%s (%s) was never needed: viewd and PostgreSQL agree on it; remove it from deviations", d.view, d.column, d.why)
			}
		}
	}
}

// errCode describes a failed statement by its SQLSTATE, which both servers
// must agree on; the message is kept only when there is none.
func errCode(err error) string {
	if c := sqlstate(err); c != "" {
		return c
	}
	return "without SQLSTATE: " + err.Error()
}
