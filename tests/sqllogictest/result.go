package sqllogictest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// sortRows orders formatted rows as a sort mode requires and returns the
// values in that order, flattened row by row.
//
// rowsort orders rows by comparing their values column by column as byte
// strings (strcmp), as SQLite's runner does; valuesort orders all values
// individually. nosort keeps the server's order.
func sortRows(rows [][]string, mode SortMode) []string {
	switch mode {
	case RowSort:
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, compareRows)
	}
	var vals []string
	for _, r := range rows {
		vals = append(vals, r...)
	}
	if mode == ValueSort {
		slices.Sort(vals)
	}
	return vals
}

func compareRows(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// hashValues is SQLite's result hash: the MD5 of every value, each followed
// by a newline, in result order.
func hashValues(vals []string) string {
	h := md5.New()
	for _, v := range vals {
		h.Write([]byte(v))
		h.Write([]byte("\n"))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// resultCheck is the outcome of comparing a query result with a record.
type resultCheck struct {
	ok   bool
	hash string   // hash of the sorted values
	vals []string // sorted values
	msg  string   // why it failed
}

// checkResult compares formatted rows with the record's expectation.
// Expected values may be given one per line (SQLite) or a row per line with
// values separated by white space (CockroachDB); a hash line compares count
// and hash. Column names (colnames) must have been checked by the caller.
func checkResult(rec *Record, expected []string, rows [][]string) resultCheck {
	vals := sortRows(rows, rec.Sort)
	rc := resultCheck{hash: hashValues(vals), vals: vals}
	switch {
	case !rec.HasResult:
		rc.ok = true
	case rec.ExpectedHash != "":
		rc.ok = rec.ExpectedHashCount == len(vals) && rec.ExpectedHash == rc.hash
	default:
		rc.ok = slices.Equal(expected, vals) || rowsMatch(rec.Sort, expected, rows, vals)
	}
	if !rc.ok {
		rc.msg = describeMismatch(rec, expected, vals, rc.hash)
	}
	return rc
}

// rowsMatch accepts CockroachDB's layout: one line per row, values
// separated by spaces or tabs, compared token by token.
func rowsMatch(mode SortMode, expected []string, rows [][]string, vals []string) bool {
	if mode == ValueSort {
		var e []string
		for _, l := range expected {
			e = append(e, strings.Fields(l)...)
		}
		a := strings.Fields(strings.Join(vals, " "))
		slices.Sort(e)
		slices.Sort(a)
		return slices.Equal(e, a)
	}
	if len(expected) != len(rows) {
		return false
	}
	if mode == RowSort {
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, compareRows)
	}
	for i, r := range rows {
		if !slices.Equal(strings.Fields(expected[i]), strings.Fields(strings.Join(r, " "))) {
			return false
		}
	}
	return true
}

// maxShown bounds how many values a failure message prints.
const maxShown = 40

func describeMismatch(rec *Record, expected, vals []string, hash string) string {
	var b strings.Builder
	b.WriteString("result mismatch\n")
	if rec.ExpectedHash != "" {
		fmt.Fprintf(&b, "expected: %d values hashing to %s\n", rec.ExpectedHashCount, rec.ExpectedHash)
	} else {
		b.WriteString("expected:\n")
		writeValues(&b, expected)
	}
	fmt.Fprintf(&b, "got: %d values hashing to %s\n", len(vals), hash)
	writeValues(&b, vals)
	return strings.TrimRight(b.String(), "\n")
}

func writeValues(b *strings.Builder, vals []string) {
	for i, v := range vals {
		if i == maxShown {
			fmt.Fprintf(b, "    ... %d more\n", len(vals)-maxShown)
			return
		}
		fmt.Fprintf(b, "    %s\n", v)
	}
}

// multisetEqual reports whether two row lists hold the same rows with the
// same multiplicities, in any order.
func multisetEqual(a, b [][]string) bool {
	if len(a) != len(b) {
		return false
	}
	a = slices.Clone(a)
	b = slices.Clone(b)
	slices.SortFunc(a, compareRows)
	slices.SortFunc(b, compareRows)
	for i := range a {
		if !slices.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
