package viewdtest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Exec runs sql (with args) and fails the test on error.
func Exec(t testing.TB, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Query runs sql and returns its rows as text lines "a|b|c" (NULL for
// null), in result order. It works against viewd and PostgreSQL alike.
func Query(c *pgx.Conn, sql string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := c.PgConn().ExecParams(ctx, sql, nil, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, res.Err
	}
	out := []string{}
	for _, r := range res.Rows {
		vals := make([]string, len(r))
		for i, v := range r {
			if v == nil {
				vals[i] = "NULL"
			} else {
				vals[i] = string(v)
			}
		}
		out = append(out, strings.Join(vals, "|"))
	}
	return out, nil
}

// Rows is Query that fails the test on error.
func Rows(t testing.TB, c *pgx.Conn, sql string) []string {
	t.Helper()
	out, err := Query(c, sql)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return out
}

// Eventually polls sql every poll until it returns want (rows in result
// order) or the timeout passes, which fails the test.
func Eventually(t testing.TB, c *pgx.Conn, timeout, poll time.Duration, sql string, want []string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var got []string
	var err error
	for {
		got, err = Query(c, sql)
		if err == nil && strings.Join(got, "\n") == strings.Join(want, "\n") {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(poll)
	}
	if err != nil {
		t.Fatalf("%s: after %v: error %v", sql, timeout, err)
	}
	t.Fatalf("%s: after %v:\n got: %s\nwant: %s", sql, timeout, Abbrev(got), Abbrev(want))
}

// Abbrev prints rows for a failure message, cut at 3000 characters.
func Abbrev(lines []string) string {
	s := fmt.Sprintf("%q", lines)
	if len(s) > 3000 {
		s = s[:3000] + "..."
	}
	return s
}

// WaitFor polls f every poll until it returns "" or the timeout passes,
// which fails the test with f's last message.
func WaitFor(t testing.TB, timeout, poll time.Duration, what string, f func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := f()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after %v", what, msg, timeout)
		}
		time.Sleep(poll)
	}
}

// Null stands for SQL NULL in the rows QueryText returns (a NUL byte
// cannot occur in PostgreSQL text values).
const Null = "\x00NULL"

// QueryText runs sql with the simple protocol, so that every value comes
// back as the server's text, whatever its type, and returns the column
// names and type OIDs the server reported with the rows (NULL as Null).
// It is for comparing two servers' answers exactly.
func QueryText(ctx context.Context, c *pgx.Conn, sql string) (cols []string, oids []uint32, rows [][]string, err error) {
	rs, err := c.Query(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, nil, nil, err
	}
	defer rs.Close()
	for _, fd := range rs.FieldDescriptions() {
		cols = append(cols, fd.Name)
		oids = append(oids, fd.DataTypeOID)
	}
	for rs.Next() {
		raw := rs.RawValues()
		row := make([]string, len(raw))
		for i, v := range raw {
			row[i] = Null
			if v != nil {
				row[i] = string(v)
			}
		}
		rows = append(rows, row)
	}
	return cols, oids, rows, rs.Err()
}

// WaitWhole polls sql (one row) every poll until it reads want, and fails
// the test if any read shows something other than before or want (a part
// of what must become visible at once: a snapshot, a transaction) or if
// want is not there within timeout.
func WaitWhole(t testing.TB, c *pgx.Conn, timeout, poll time.Duration, what, sql, before, want string) {
	t.Helper()
	for start := time.Now(); ; {
		got := Rows(t, c, sql)
		if len(got) == 1 && got[0] == want {
			return
		}
		if len(got) != 1 || got[0] != before {
			t.Fatalf("part of %s is visible: %v (before %q, whole %q)", what, got, before, want)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s not visible after %v: %v", what, timeout, got)
		}
		time.Sleep(poll)
	}
}

// MultisetDiff compares two sorted lists of rows (each row one string, as
// a canonical multiset) and returns the rows only in got and only in
// want, with multiplicity. Both are empty when the multisets are equal.
func MultisetDiff(got, want []string) (onlyGot, onlyWant []string) {
	i, j := 0, 0
	for i < len(got) || j < len(want) {
		switch {
		case j == len(want) || i < len(got) && got[i] < want[j]:
			onlyGot = append(onlyGot, got[i])
			i++
		case i == len(got) || want[j] < got[i]:
			onlyWant = append(onlyWant, want[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyGot, onlyWant
}

// WriteRows writes, for a failure message, a title line with the number
// of rows and then at most 10 of them, indented, NULL for Null; nothing
// when rows is empty.
func WriteRows(b *strings.Builder, title string, rows []string) {
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "  %s (%d):\n", title, len(rows))
	for k, r := range rows {
		if k == 10 {
			fmt.Fprintf(b, "    ... %d more\n", len(rows)-10)
			break
		}
		fmt.Fprintf(b, "    %s\n", strings.ReplaceAll(r, Null, "NULL"))
	}
}
