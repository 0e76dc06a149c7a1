package e2e

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/viewd/viewd/internal/viewdtest"
)

// TestCopyTable copies a plain table out in text, CSV and binary format
// (COPY kk TO STDOUT was a nil-pointer internal error), and loads one
// with pgx's CopyFrom, which uses binary COPY FROM STDIN.
func TestCopyTable(t *testing.T) {
	srv := viewdtest.Start(t, viewdtest.Options{})
	c := srv.Connect(t)
	ctx := ctxT(t)
	exec1(t, c, "CREATE TABLE kk (a int PRIMARY KEY, b text)")
	exec1(t, c, "INSERT INTO kk VALUES (1, 'x'), (2, NULL)")
	copyOut := func(sql string) string {
		t.Helper()
		var buf bytes.Buffer
		tag, err := c.PgConn().CopyTo(ctx, &buf, sql)
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if tag.String() != "COPY 2" {
			t.Fatalf("%s: tag %q", sql, tag)
		}
		return buf.String()
	}
	if got := copyOut("COPY kk TO STDOUT"); got != "1\tx\n2\t\\N\n" {
		t.Errorf("text: %q", got)
	}
	if got := copyOut("COPY kk TO STDOUT (FORMAT csv, HEADER)"); got != "a,b\n1,x\n2,\n" {
		t.Errorf("csv: %q", got)
	}
	// The bytes PostgreSQL 15 writes for the same table.
	wantBin := "PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
		"\x00\x02\x00\x00\x00\x04\x00\x00\x00\x01\x00\x00\x00\x01x" +
		"\x00\x02\x00\x00\x00\x04\x00\x00\x00\x02\xff\xff\xff\xff" +
		"\xff\xff"
	if got := copyOut("COPY kk TO STDOUT (FORMAT binary)"); got != wantBin {
		t.Errorf("binary:\n%q, want\n%q", got, wantBin)
	}

	exec1(t, c, `CREATE TABLE typed (i int8 PRIMARY KEY, n numeric(10,2), f float8, b bool, d date,
		ts timestamptz, s text, j jsonb, iv interval)`)
	ts := time.Date(2024, 2, 29, 12, 30, 0, 0, time.UTC)
	src := [][]any{
		{int64(1), "12.50", 1.5, true, time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), ts, "tab\there", map[string]any{"k": 1}, "1 day 02:00:00"},
		{int64(2), nil, nil, nil, nil, nil, nil, nil, nil},
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"typed"}, []string{"i", "n", "f", "b", "d", "ts", "s", "j", "iv"}, pgx.CopyFromRows(src))
	if err != nil || n != 2 {
		t.Fatalf("CopyFrom: %d rows, %v", n, err)
	}
	expectRows(t, c, "SELECT i, n, f, b, d, ts, s, j, iv FROM typed ORDER BY i",
		"1|12.50|1.5|t|2024-01-02|2024-02-29 12:30:00+00|tab\there|{\"k\": 1}|1 day 02:00:00",
		"2|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL")

	// Binary out and back in: the round trip keeps every value.
	bin := copyOut("COPY typed TO STDOUT (FORMAT binary)")
	exec1(t, c, "CREATE TABLE typed2 (i int8 PRIMARY KEY, n numeric(10,2), f float8, b bool, d date, ts timestamptz, s text, j jsonb, iv interval)")
	tag, err := c.PgConn().CopyFrom(ctx, strings.NewReader(bin), "COPY typed2 FROM STDIN (FORMAT binary)")
	if err != nil || tag.String() != "COPY 2" {
		t.Fatalf("COPY typed2 FROM STDIN (FORMAT binary): %q, %v", tag, err)
	}
	expectRows(t, c, "SELECT count(*) FROM (SELECT * FROM typed EXCEPT SELECT * FROM typed2) x", "0")
	expectRows(t, c, "SELECT count(*) FROM typed2", "2")

	// Text options make no sense in binary mode.
	_, err = c.PgConn().CopyTo(ctx, &bytes.Buffer{}, "COPY kk TO STDOUT (FORMAT binary, HEADER)")
	if sqlstate(err) != "42601" {
		t.Errorf("binary with HEADER: %v, want 42601", err)
	}
	// A binary stream that is not one.
	_, err = c.PgConn().CopyFrom(ctx, strings.NewReader("1\tx\n"), "COPY kk FROM STDIN (FORMAT binary)")
	if sqlstate(err) != "22P04" {
		t.Errorf("text data in binary COPY FROM: %v, want 22P04", err)
	}
}
