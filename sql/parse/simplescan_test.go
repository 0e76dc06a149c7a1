package parse

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// checkScanners fails when scanSimple accepts text but its tokens differ
// from those built from pg_query's scanner. It reports whether
// scanSimple accepted it.
func checkScanners(t *testing.T, text string) bool {
	t.Helper()
	got, ok := scanSimple(text)
	if !ok {
		return false
	}
	want, err := scanPG(text)
	if err != nil {
		t.Errorf("scanSimple accepted %q, which pg_query rejects: %v", text, err)
		return true
	}
	if len(want) == 0 {
		want = nil
	}
	if len(got) == 0 {
		got = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tokens of %q:\n got %+v\nwant %+v", text, got, want)
	}
	return true
}

// TestScanSimpleMatchesPgQuery: wherever the plain scanner accepts a text
// its tokens are pg_query's, on every line of the repository's SQL test
// data, on random INSERT statements, and on cases at the edges of what it
// accepts.
func TestScanSimpleMatchesPgQuery(t *testing.T) {
	edges := []string{
		"", " ", "select 1", "SELECT a, b FROM t", "insert into t values (1, 'a''b', -2.5e3, .5, 1., null)",
		"insert into \"T\"\"x\" (\"a b\") values ('x')", "values (1)\n;\n", "select e'x'", "select E'x'", "select U&'x'",
		"select x'1F'", "select b'01'", "select n'x'", "select $1", "select $$x$$", "select 'a'\n'b'", "select 'a' 'b'",
		"select 1_000", "select 0x1F", "select 1e", "select 12abc", "select 1..2", "select 1.2.3", "select -1", "select --c\n1",
		"select /* c */ 1", "select 1+-2", "select +1", "select a.b.c", "select t.*", "select a.5", "select 'unterminated",
		"select \"\"", "select \"unterminated", "select \"a\"\"\"", "select ñ", "select 'ñ'", "select \"ñ\"", "SELECT Value",
		"select 'a'b", "select 1'a'", "select a'b'", "(1,2),(3,4);", "select _x, x_1, X$", "select 1e+5, 1E-5, 1.5e10",
		"INSERT INTO t VALUES (DEFAULT, TRUE, FALSE)", "select 'a\\'", "select 'it''s'", "select '\x00'",
	}
	for _, e := range edges {
		checkScanners(t, e)
	}

	// Every line and every statement of the SQL test data.
	accepted, total := 0, 0
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); name == ".git" || name == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.Contains(path, "testdata") && !strings.HasSuffix(path, ".slt") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil || len(b) > 4<<20 {
			return err
		}
		text := string(b)
		for _, chunk := range strings.Split(text, "\n\n") {
			total++
			if checkScanners(t, chunk) {
				accepted++
			}
		}
		for _, line := range strings.Split(text, "\n") {
			total++
			if checkScanners(t, line) {
				accepted++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scanSimple accepted %d of %d texts from test data", accepted, total)
	if accepted == 0 {
		t.Fatal("scanSimple accepted nothing from the test data")
	}

	// Random texts over the characters at the edges of the grammar.
	r := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"insert", "into", "t", "values", "(", ")", ",", ";", ".", "-", "+", " ", "\n", "'a'", "''", "'", "\"x\"",
		"\"", "1", "1.5", ".5", "e", "E", "5e3", "_", "select", "null", "default", "$", "x", "--", "/*", "*/", "ñ", "'\n'"}
	accepted = 0
	for range 20000 {
		var b strings.Builder
		for range 1 + r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		if checkScanners(t, b.String()) {
			accepted++
		}
	}
	t.Logf("scanSimple accepted %d of 20000 random texts", accepted)
	if accepted < 1000 {
		t.Fatalf("scanSimple accepted only %d random texts", accepted)
	}
}

// FuzzScanSimple: the plain scanner never disagrees with pg_query's.
func FuzzScanSimple(f *testing.F) {
	for _, s := range []string{"insert into t values (1, 'a')", "select 1.5e3", "\"q\"\"x\"", "'a'\n'b'", "-1", "a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkScanners(t, text)
	})
}

func ExampleParse_insert() {
	stmts, err := Parse("INSERT INTO t VALUES (1, 'one'), (2, 'two')")
	fmt.Println(len(stmts), err)
	// Output: 1 <nil>
}

// TestUnicodeEscapeTokens: pg_query's scanner gives U&'...' and U&"..."
// tokens no length; scanPG measures them, and their values decode the
// escapes as PostgreSQL does with the default escape character.
func TestUnicodeEscapeTokens(t *testing.T) {
	for _, c := range []struct {
		text, raw, val string
		quoted         bool
	}{
		{`U&''`, `U&''`, ``, false},
		{`select 1, U&'ab'`, `U&'ab'`, `ab`, false},
		{`select u&'d\0061t\+000061'`, `u&'d\0061t\+000061'`, `data`, false},
		{`select U&'it''s\\'`, `U&'it''s\\'`, `it's\`, false},
		{`select U&'\D83D\DE00'`, `U&'\D83D\DE00'`, "\U0001F600", false},
		{`select U&'\zz'`, `U&'\zz'`, `\zz`, false},
		{`select 1 as U&"d\0061t"`, `U&"d\0061t"`, `dat`, true},
		{`select U&'unterminated`, `U&'unterminated`, ``, false},
	} {
		toks, err := scanPG(c.text)
		if err != nil {
			if c.val == "" && strings.Contains(c.text, "unterminated") {
				continue // the scanner refuses it: fine
			}
			t.Fatalf("%s: %v", c.text, err)
		}
		last := toks[len(toks)-1]
		if got := c.text[last.start:last.end]; got != c.raw {
			t.Errorf("%s: last token %q, want %q", c.text, got, c.raw)
		}
		if last.val != c.val || last.quoted != c.quoted {
			t.Errorf("%s: value %q (quoted %v), want %q (%v)", c.text, last.val, last.quoted, c.val, c.quoted)
		}
	}
}
