package differential

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// result is a query's rows, each normalised to one comparable string per
// column, plus the column names and type OIDs as the server reported them.
type result struct {
	cols []string
	oids []uint32
	rows [][]string // raw text values; nil for NULL (as "\x00")
}

const null = "\x00NULL"

// query runs sql with the simple protocol so that every value comes back in
// text format, whatever its type.
func query(ctx context.Context, c *pgx.Conn, sql string) (*result, error) {
	rows, err := c.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	res := &result{}
	for _, fd := range rows.FieldDescriptions() {
		res.cols = append(res.cols, fd.Name)
		res.oids = append(res.oids, fd.DataTypeOID)
	}
	for rows.Next() {
		raw := rows.RawValues()
		row := make([]string, len(raw))
		for i, v := range raw {
			if v == nil {
				row[i] = null
			} else {
				row[i] = string(v)
			}
		}
		res.rows = append(res.rows, row)
	}
	return res, rows.Err()
}

// normalise returns v in a canonical form for a column whose type in
// PostgreSQL (the reference) is oid:
//   - integers and numerics are compared numerically (viewd prints 1.5
//     where PostgreSQL prints 1.50); non-integral numerics are rounded to
//     15 significant digits, because avg() and division have no single
//     correct number of digits;
//   - floats are rounded to 12 significant digits;
//   - timestamps, timestamptz and dates are parsed and printed in one form;
//   - booleans accept t/f and true/false.
//
// A value that does not parse as its type is kept verbatim (prefixed with
// "?"), so it differs from any well-formed value.
func normalise(oid uint32, v string) string {
	if v == null {
		return v
	}
	switch oid {
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.NumericOID:
		f, ok := new(big.Float).SetPrec(200).SetString(v)
		if !ok {
			return "?" + v
		}
		if f.IsInt() {
			i, _ := f.Int(nil)
			return i.String()
		}
		return f.Text('g', 15)
	case pgtype.Float4OID, pgtype.Float8OID:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return "?" + v
		}
		return strconv.FormatFloat(f, 'g', 12, 64)
	case pgtype.BoolOID:
		switch v {
		case "t", "true":
			return "t"
		case "f", "false":
			return "f"
		}
		return "?" + v
	case pgtype.TimestampOID:
		for _, l := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
			if t, err := time.Parse(l, v); err == nil {
				return t.Format(time.RFC3339Nano)
			}
		}
		return "?" + v
	case pgtype.TimestamptzOID:
		for _, l := range []string{"2006-01-02 15:04:05.999999999-07", "2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano} {
			if t, err := time.Parse(l, v); err == nil {
				return t.UTC().Format(time.RFC3339Nano)
			}
		}
		return "?" + v
	case pgtype.DateOID:
		if t, err := time.Parse("2006-01-02", v); err == nil {
			return t.Format("2006-01-02")
		}
		if t, err := time.Parse("2006-01-02 15:04:05", v); err == nil && t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
			return t.Format("2006-01-02")
		}
		return "?" + v
	}
	return v
}

// canon returns r's rows normalised by the reference column types, each row
// joined into one string, sorted: a canonical multiset.
func canon(r *result, oids []uint32) []string {
	out := make([]string, len(r.rows))
	for i, row := range r.rows {
		vals := make([]string, len(row))
		for j, v := range row {
			vals[j] = normalise(oids[j], v)
		}
		out[i] = strings.Join(vals, " | ")
	}
	slices.Sort(out)
	return out
}

// diff compares viewd's result with PostgreSQL's as multisets and returns
// "" when they are equal, otherwise a description of the difference.
func diff(got, want *result) string {
	if len(got.cols) != len(want.cols) {
		return fmt.Sprintf("column count differs: viewd %d %v, PostgreSQL %d %v", len(got.cols), got.cols, len(want.cols), want.cols)
	}
	g, w := canon(got, want.oids), canon(want, want.oids)
	var onlyG, onlyW []string
	i, j := 0, 0
	for i < len(g) || j < len(w) {
		switch {
		case j == len(w) || i < len(g) && g[i] < w[j]:
			onlyG = append(onlyG, g[i])
			i++
		case i == len(g) || w[j] < g[i]:
			onlyW = append(onlyW, w[j])
			j++
		default:
			i++
			j++
		}
	}
	if len(onlyG) == 0 && len(onlyW) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "viewd has %d rows, PostgreSQL %d; columns (%s)\n", len(g), len(w), strings.Join(want.cols, ", "))
	show := func(title string, rows []string) {
		if len(rows) == 0 {
			return
		}
		fmt.Fprintf(&b, "  %s (%d):\n", title, len(rows))
		for k, r := range rows {
			if k == 10 {
				fmt.Fprintf(&b, "    ... %d more\n", len(rows)-10)
				break
			}
			fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(r, null, "NULL"))
		}
	}
	show("only in viewd", onlyG)
	show("only in PostgreSQL", onlyW)
	return b.String()
}

// typeNote describes columns whose type OIDs differ, or "".
func typeNote(got, want *result) string {
	var notes []string
	for i := range min(len(got.oids), len(want.oids)) {
		if got.oids[i] != want.oids[i] {
			notes = append(notes, fmt.Sprintf("%s: viewd oid %d, PostgreSQL oid %d", want.cols[i], got.oids[i], want.oids[i]))
		}
	}
	return strings.Join(notes, "; ")
}
