package randquery

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

// result is one server's answer to a query: its rows as exact text
// (viewdtest.Null for NULL), column names and type OIDs, or its error.
type result struct {
	cols []string
	oids []uint32
	rows [][]string
	err  error
}

func run(c *pgx.Conn, sql string) *result {
	ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
	defer cancel()
	cols, oids, rows, err := viewdtest.QueryText(ctx, c, sql)
	return &result{cols: cols, oids: oids, rows: rows, err: err}
}

// sqlstate returns err's SQLSTATE, or "" when it carries none (a
// connection or protocol failure, a timeout).
func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// canon returns r's rows joined into strings and sorted: a multiset.
func canon(r *result) []string {
	out := make([]string, len(r.rows))
	for i, row := range r.rows {
		out[i] = strings.Join(row, " | ")
	}
	slices.Sort(out)
	return out
}

// compare compares viewd's answer with PostgreSQL's as tests/differential
// does: column names and type OIDs exactly, rows as multisets of exact
// text, errors by SQLSTATE (an error on one side only is a difference).
// It returns the kind of difference ("" when they agree) — what the
// shrinker must preserve — and a description.
func compare(got, want *result) (kind, detail string) {
	switch {
	case got.err != nil && want.err != nil:
		g, w := sqlstate(got.err), sqlstate(want.err)
		if g == w && g != "" {
			return "", ""
		}
		return "error " + g + " vs " + w, fmt.Sprintf("viewd fails with %s (%v), PostgreSQL with %s (%v)", g, got.err, w, want.err)
	case got.err != nil:
		g := sqlstate(got.err)
		return "viewd error " + g, fmt.Sprintf("viewd fails with %s: %v; PostgreSQL returns %d rows", g, got.err, len(want.rows))
	case want.err != nil:
		w := sqlstate(want.err)
		return "PostgreSQL error " + w, fmt.Sprintf("PostgreSQL fails with %s: %v; viewd returns %d rows", w, want.err, len(got.rows))
	}
	if !slices.Equal(got.cols, want.cols) {
		return "column names", fmt.Sprintf("column names differ: viewd %v, PostgreSQL %v", got.cols, want.cols)
	}
	if !slices.Equal(got.oids, want.oids) {
		return "column types", fmt.Sprintf("column type OIDs differ: viewd %v, PostgreSQL %v", got.oids, want.oids)
	}
	g, w := canon(got), canon(want)
	onlyG, onlyW := viewdtest.MultisetDiff(g, w)
	if len(onlyG) == 0 && len(onlyW) == 0 {
		return "", ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "viewd has %d rows, PostgreSQL %d\n", len(g), len(w))
	viewdtest.WriteRows(&b, "only in viewd", onlyG)
	viewdtest.WriteRows(&b, "only in PostgreSQL", onlyW)
	return "rows", strings.TrimSuffix(b.String(), "\n")
}

// answer prints a result for a reproduction: its error, or its columns
// and up to 20 rows in canonical order.
func answer(r *result) string {
	if r.err != nil {
		return fmt.Sprintf("ERROR %s: %v", sqlstate(r.err), r.err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (type OIDs %v), %d rows", strings.Join(r.cols, ", "), r.oids, len(r.rows))
	for k, row := range canon(r) {
		if k == 20 {
			b.WriteString("\n--   ...")
			break
		}
		b.WriteString("\n--   " + strings.ReplaceAll(row, viewdtest.Null, "NULL"))
	}
	return b.String()
}
