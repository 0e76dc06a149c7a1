package differential

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/viewd/viewd/internal/viewdtest"
)

// result is a query's rows, each normalised to one comparable string per
// column, plus the column names and type OIDs as the server reported them.
type result struct {
	cols []string
	oids []uint32
	rows [][]string // text values; NULL as null
}

const null = viewdtest.Null

// query runs sql with the simple protocol so that every value comes back in
// text format, whatever its type.
func query(ctx context.Context, c *pgx.Conn, sql string) (*result, error) {
	cols, oids, rows, err := viewdtest.QueryText(ctx, c, sql)
	if err != nil {
		return nil, err
	}
	return &result{cols: cols, oids: oids, rows: rows}, nil
}

// A deviation is an intended, reviewed difference between viewd's output
// and PostgreSQL's in one column of one view: how both sides' values are
// rewritten before they are compared, and why. Every other value is
// compared as exact text, every column name and type OID exactly. A
// deviation that no comparison needed (the two servers printed the column
// alike throughout) fails the test, so that the list only holds
// differences that still exist.
type deviation struct {
	// view and column name the column; view "" matches every view.
	view, column string
	why          string
	// norm rewrites a value of the column (not NULL) on both sides.
	norm func(string) string
	// oid, when set, is the type OID viewd reports for the column
	// instead of PostgreSQL's.
	oid uint32
	// used records that a comparison needed the deviation.
	used bool
}

// deviations is the reviewed list. Keep it short: each entry hides a
// difference a user would see.
var deviations = []*deviation{}

// deviationFor returns the deviation of column col of view v, or nil.
func deviationFor(v, col string) *deviation {
	for _, d := range deviations {
		if (d.view == "" || d.view == v) && d.column == col {
			return d
		}
	}
	return nil
}

// canon returns r's rows, each joined into one string of its exact text
// values (through norms[j] for a column with a deviation), sorted: a
// canonical multiset.
func canon(r *result, norms []func(string) string) []string {
	out := make([]string, len(r.rows))
	for i, row := range r.rows {
		vals := make([]string, len(row))
		for j, v := range row {
			if j < len(norms) && norms[j] != nil && v != null {
				v = norms[j](v)
			}
			vals[j] = v
		}
		out[i] = strings.Join(vals, " | ")
	}
	slices.Sort(out)
	return out
}

// diff compares viewd's result for view v with PostgreSQL's: column
// names and type OIDs exactly, rows as multisets of exact text (except
// where deviations say otherwise). It returns "" when they are equal,
// otherwise a description of the difference.
func diff(v string, got, want *result) string {
	if !slices.Equal(got.cols, want.cols) {
		return fmt.Sprintf("column names differ: viewd %v, PostgreSQL %v", got.cols, want.cols)
	}
	norms := make([]func(string) string, len(want.cols))
	var devs []*deviation
	for j, c := range want.cols {
		d := deviationFor(v, c)
		if d == nil {
			if got.oids[j] != want.oids[j] {
				return fmt.Sprintf("column %s: viewd's type OID is %d, PostgreSQL's %d", c, got.oids[j], want.oids[j])
			}
			continue
		}
		devs = append(devs, d)
		if d.oid != 0 && got.oids[j] == d.oid && want.oids[j] != d.oid {
			d.used = true
		} else if got.oids[j] != want.oids[j] {
			return fmt.Sprintf("column %s: viewd's type OID is %d, PostgreSQL's %d (deviation %q allows %d)", c, got.oids[j], want.oids[j], d.why, d.oid)
		}
		norms[j] = d.norm
	}
	g, w := canon(got, norms), canon(want, norms)
	if len(devs) > 0 && !slices.Equal(canon(got, nil), canon(want, nil)) && slices.Equal(g, w) {
		for _, d := range devs {
			if d.norm != nil {
				d.used = true
			}
		}
	}
	onlyG, onlyW := viewdtest.MultisetDiff(g, w)
	if len(onlyG) == 0 && len(onlyW) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "viewd has %d rows, PostgreSQL %d; columns (%s)\n", len(g), len(w), strings.Join(want.cols, ", "))
	viewdtest.WriteRows(&b, "only in viewd", onlyG)
	viewdtest.WriteRows(&b, "only in PostgreSQL", onlyW)
	return b.String()
}

// sqlstate returns err's SQLSTATE, or "" when it carries none (a
// connection or protocol failure).
func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
