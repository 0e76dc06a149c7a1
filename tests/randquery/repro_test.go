package randquery

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// servers holds one connection to each server.
type servers struct {
	pg, vd *pgx.Conn
	// state describes the tables' contents after the last check (its
	// tables, rows and DML), so that a check of another query on the
	// same data skips the setup; "" when unknown.
	state *string
}

func exec(c *pgx.Conn, sql string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	tag, err := c.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	return tag.RowsAffected(), err
}

// applyUnit runs u on one server and returns each statement's outcome
// ("ok N" or "error SQLSTATE").
func applyUnit(c *pgx.Conn, u unit) []string {
	var out []string
	if u.tx {
		if _, err := exec(c, "BEGIN"); err != nil {
			return []string{"BEGIN: error " + sqlstate(err) + " " + err.Error()}
		}
	}
	for _, s := range u.stmts {
		n, err := exec(c, s)
		if err != nil {
			out = append(out, "error "+sqlstate(err))
			if u.tx {
				_, _ = exec(c, "ROLLBACK")
				return out
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
			out = append(out, end+": error "+sqlstate(err))
		}
	}
	return out
}

// apply runs u on both servers; it returns "" when every statement had
// the same outcome on both, otherwise the difference.
func (s servers) apply(u unit) string {
	want := applyUnit(s.pg, u)
	got := applyUnit(s.vd, u)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		return fmt.Sprintf("DML differs: %s\n  viewd: %v\n  PostgreSQL: %v", u, got, want)
	}
	return ""
}

const viewName = "rq_v"

// reset drops the views and tables a round or a reproduction made.
func (s servers) reset(tables []*table, views int) error {
	for i := range views {
		if _, err := exec(s.vd, fmt.Sprintf("DROP MATERIALIZED VIEW IF EXISTS %s%d", viewName, i)); err != nil {
			return fmt.Errorf("viewd: drop view: %w", err)
		}
	}
	if _, err := exec(s.vd, "DROP MATERIALIZED VIEW IF EXISTS "+viewName); err != nil {
		return fmt.Errorf("viewd: drop view: %w", err)
	}
	for _, tb := range tables {
		for _, c := range []*pgx.Conn{s.pg, s.vd} {
			if _, err := exec(c, "DROP TABLE IF EXISTS "+tb.name+" CASCADE"); err != nil {
				return fmt.Errorf("drop table %s: %w", tb.name, err)
			}
		}
	}
	return nil
}

// create makes tables on both servers.
func (s servers) create(tables []*table) error {
	for _, tb := range tables {
		for _, c := range []*pgx.Conn{s.pg, s.vd} {
			if _, err := exec(c, tb.ddl()); err != nil {
				return fmt.Errorf("%s: %w", tb.ddl(), err)
			}
		}
	}
	return nil
}

// A repro is a self-contained case: tables, their rows, the query kept as
// a materialized view (view) or run as a plain SELECT after the DML.
type repro struct {
	tables []*table
	rows   []string
	view   bool
	dml    []unit
	q      *node
}

func (rp *repro) clone() *repro {
	c := *rp
	c.rows = append([]string(nil), rp.rows...)
	c.dml = make([]unit, len(rp.dml))
	for i, u := range rp.dml {
		c.dml[i] = unit{stmts: append([]string(nil), u.stmts...), tx: u.tx, rollback: u.rollback}
	}
	return &c
}

// script prints rp as SQL a user can paste into psql (without a query
// when q is nil: a DML difference).
func (rp *repro) script() string {
	var b strings.Builder
	for _, tb := range rp.tables {
		b.WriteString(tb.ddl() + ";\n")
	}
	for _, r := range rp.rows {
		b.WriteString(r + ";\n")
	}
	if rp.view {
		fmt.Fprintf(&b, "CREATE MATERIALIZED VIEW %s AS %s;\n", viewName, rp.q.sql())
	}
	for _, u := range rp.dml {
		for _, s := range u.script() {
			b.WriteString(s + ";\n")
		}
	}
	switch {
	case rp.q == nil:
		// A DML difference: no query.
	case rp.view:
		fmt.Fprintf(&b, "SELECT * FROM %s;\n", viewName)
	default:
		b.WriteString(rp.q.sql() + ";\n")
	}
	return b.String()
}

// check runs rp on both servers from scratch and compares the answers.
// kind is "" when they agree; setup failures (DML differing, DDL
// failing) have kind "setup: ...".
func (s servers) check(rp *repro) (kind, detail string, got, want *result) {
	state := rp.stateKey()
	if *s.state == state && (!rp.view || len(rp.dml) == 0) {
		// Same data, and no DML to keep a view through: only the
		// query changed.
		if _, err := exec(s.vd, "DROP MATERIALIZED VIEW IF EXISTS "+viewName); err != nil {
			return "setup: " + err.Error(), "", nil, nil
		}
		return s.compareQuery(rp, nil)
	}
	*s.state = ""
	if err := s.reset(rp.tables, 0); err != nil {
		return "setup: " + err.Error(), "", nil, nil
	}
	if err := s.create(rp.tables); err != nil {
		return "setup: " + err.Error(), "", nil, nil
	}
	for _, r := range rp.rows {
		if d := s.apply(unit{stmts: []string{r}}); d != "" {
			return "setup: rows", d, nil, nil
		}
	}
	var createErr error
	if rp.view {
		_, createErr = exec(s.vd, fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS %s", viewName, rp.q.sql()))
	}
	for _, u := range rp.dml {
		if d := s.apply(u); d != "" {
			return "setup: dml", d, nil, nil
		}
	}
	*s.state = state
	return s.compareQuery(rp, createErr)
}

// stateKey identifies the data rp sets up.
func (rp *repro) stateKey() string {
	var b strings.Builder
	for _, tb := range rp.tables {
		b.WriteString(tb.ddl() + ";")
	}
	for _, r := range rp.rows {
		b.WriteString(r + ";")
	}
	for _, u := range rp.dml {
		b.WriteString(u.String() + ";")
	}
	return b.String()
}

// compareQuery compares rp's query on the data in place: PostgreSQL's
// answer with viewd's plain SELECT, or with its view (created now unless
// it already is, or failed with createErr).
func (s servers) compareQuery(rp *repro, createErr error) (kind, detail string, got, want *result) {
	if rp.view && createErr == nil && len(rp.dml) == 0 {
		if _, err := exec(s.vd, "DROP MATERIALIZED VIEW IF EXISTS "+viewName); err != nil {
			return "setup: " + err.Error(), "", nil, nil
		}
		_, createErr = exec(s.vd, fmt.Sprintf("CREATE MATERIALIZED VIEW %s AS %s", viewName, rp.q.sql()))
	}
	want = run(s.pg, rp.q.sql())
	switch {
	case createErr != nil:
		got = &result{err: createErr}
	case rp.view:
		got = run(s.vd, "SELECT * FROM "+viewName)
	default:
		got = run(s.vd, rp.q.sql())
	}
	kind, detail = compare(got, want)
	return kind, detail, got, want
}

// shrink makes rp smaller while check still reports a difference of the
// same kind: it drops DML units and statements, rows, and simplifies the
// query (clauses dropped, expressions replaced by their sub-expressions
// or literals), until nothing more can go or the budget is spent.
func (s servers) shrink(rp *repro, kind string, budget time.Duration) (*repro, int) {
	deadline := time.Now().Add(budget)
	tries := 0
	try := func(c *repro) bool {
		if time.Now().After(deadline) {
			return false
		}
		tries++
		// The tables of the last check are still there: a query
		// PostgreSQL cannot plan is refused without running the case.
		if c.q != nil {
			if _, err := exec(s.pg, "EXPLAIN "+c.q.sql()); err != nil {
				return false
			}
		}
		k, _, _, _ := s.check(c)
		return k == kind
	}
	for progress := true; progress && time.Now().Before(deadline); {
		progress = false
		if rp.view {
			c := rp.clone()
			c.view = false
			if try(c) {
				rp, progress = c, true
			}
		}
		if len(rp.dml) > 0 {
			c := rp.clone()
			c.dml = nil
			if try(c) {
				rp, progress = c, true
			}
		}
		for i := len(rp.dml) - 1; i >= 0; i-- {
			c := rp.clone()
			c.dml = append(c.dml[:i], c.dml[i+1:]...)
			if try(c) {
				rp, progress = c, true
				continue
			}
			if u := rp.dml[i]; u.tx {
				for j := len(u.stmts) - 1; j >= 0 && j < len(rp.dml[i].stmts) && len(rp.dml[i].stmts) > 1; j-- {
					c := rp.clone()
					c.dml[i].stmts = append(c.dml[i].stmts[:j], c.dml[i].stmts[j+1:]...)
					if try(c) {
						rp, progress = c, true
					}
				}
				if !rp.dml[i].rollback {
					c := rp.clone()
					c.dml[i].tx = false
					if try(c) {
						rp, progress = c, true
					}
				}
			}
		}
		// Rows: halves first, then one at a time.
		for size := len(rp.rows) / 2; size >= 1; size /= 2 {
			for i := 0; i+size <= len(rp.rows); {
				c := rp.clone()
				c.rows = append(c.rows[:i], c.rows[i+size:]...)
				if try(c) {
					rp, progress = c, true
					continue
				}
				i += size
			}
		}
		// The query: take the first simplification that keeps the
		// difference, and start over from it.
		for changed := true; changed && time.Now().Before(deadline); {
			changed = false
			// After a change, go on from the same position in the new
			// tree's list (earlier variants were tried and failed);
			// another pass starts over.
			for i := 0; ; {
				vs := simplifications(rp.q)
				if i >= len(vs) {
					break
				}
				c := rp.clone()
				c.q = vs[i]
				if try(c) {
					rp, progress, changed = c, true, true
					continue
				}
				i++
			}
		}
	}
	return prune(rp), tries
}

// prune drops the tables (and their rows) that neither the query nor the
// DML mentions.
func prune(rp *repro) *repro {
	text := " " + rp.q.sql() + " "
	for _, u := range rp.dml {
		text += strings.Join(u.stmts, " ") + " "
	}
	c := rp.clone()
	c.tables = nil
	c.rows = nil
	for _, tb := range rp.tables {
		if !regexp.MustCompile(`\b` + tb.name + `\b`).MatchString(text) {
			continue
		}
		c.tables = append(c.tables, tb)
		for _, r := range rp.rows {
			if strings.HasPrefix(r, "INSERT INTO "+tb.name+" ") {
				c.rows = append(c.rows, r)
			}
		}
	}
	return c
}
