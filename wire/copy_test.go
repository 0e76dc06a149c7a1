package wire

import (
	"strings"
	"testing"

	"github.com/viewd/viewd/repr"
)

// parseCopy feeds input to a copyParser in chunks of size chunk (as
// CopyData messages may split it anywhere) and returns the rows printed.
func parseCopy(t *testing.T, opts CopyOptions, input string, chunk int) ([]string, error) {
	t.Helper()
	f, err := resolveCopyOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	desc := repr.RelationDesc{Names: []string{"a", "b"}, Types: []repr.ColumnType{col(repr.TypeInt4), col(repr.TypeText)}}
	p := copyParser{f: f, desc: &desc, skipHeader: f.csv && f.header}
	var out []string
	drain := func(final bool) error {
		for {
			row, ok, err := p.next(final)
			if err != nil {
				return err
			}
			if !ok {
				return nil
			}
			out = append(out, row.String())
		}
	}
	for i := 0; i < len(input); i += chunk {
		p.buf = append(p.buf, input[i:min(i+chunk, len(input))]...)
		if err := drain(false); err != nil {
			return out, err
		}
	}
	return out, drain(true)
}

func TestCopyParser(t *testing.T) {
	cases := []struct {
		name  string
		opts  CopyOptions
		input string
		want  string
		err   string
	}{
		{"text", CopyOptions{}, "1\tx\n2\t\\N\n", "(1, 'x')|(2, NULL)", ""},
		{"text escapes", CopyOptions{}, "1\ta\\tb\\\\c\\nd\\101\\x42\\q\n", `(1, 'a	b\c` + "\n" + `dABq')`, ""},
		{"text escaped delimiter", CopyOptions{}, "1\ta\\\tb\n", "(1, 'a\tb')", ""},
		{"text crlf and no final newline", CopyOptions{}, "1\tx\r\n2\ty", "(1, 'x')|(2, 'y')", ""},
		{"text end marker", CopyOptions{}, "1\tx\n\\.\n2\ty\n", "(1, 'x')", ""},
		{"text empty string is not null", CopyOptions{}, "1\t\n", "(1, '')", ""},
		{"text custom delimiter and null", CopyOptions{Delimiter: "|", Null: "NULL"}, "1|NULL\n2|\\N\n", `(1, NULL)|(2, 'N')`, ""},
		{"text missing column", CopyOptions{}, "1\tx\n2\n", "(1, 'x')", `missing data for column "b" (COPY line 2, column b)`},
		{"text extra column", CopyOptions{}, "1\tx\ty\n", "", "extra data after last expected column (COPY line 1)"},
		{"text bad int", CopyOptions{}, "x\ty\n", "", "COPY line 1, column a"},
		{"csv", CopyOptions{Format: CopyCSV}, "1,x\n2,\n3,\"\"\n", "(1, 'x')|(2, NULL)|(3, '')", ""},
		{"csv header", CopyOptions{Format: CopyCSV, Header: true}, "a,b\n1,x\n", "(1, 'x')", ""},
		{"csv quotes", CopyOptions{Format: CopyCSV}, "1,\"a,\"\"b\"\"\nc\"\r\n2,\"\"\"\"\n", "(1, 'a,\"b\"\nc')|(2, '\"')", ""},
		{"csv unterminated", CopyOptions{Format: CopyCSV}, "1,\"abc\n", "", "unterminated CSV quoted field"},
		{"csv escape", CopyOptions{Format: CopyCSV, Escape: `\`}, "1,\"a\\\"b\"\n", `(1, 'a"b')`, ""},
		{"binary", CopyOptions{Format: CopyBinary}, binaryCopyInput, "(1, 'x')|(2, NULL)", ""},
		{"binary without trailer", CopyOptions{Format: CopyBinary}, binaryCopyInput[:len(binaryCopyInput)-2], "(1, 'x')|(2, NULL)", ""},
		{"binary truncated tuple", CopyOptions{Format: CopyBinary}, binaryCopyInput[:len(binaryCopyInput)-4], "(1, 'x')", "unexpected EOF in COPY data"},
		{"binary bad signature", CopyOptions{Format: CopyBinary}, "1\tx\n", "", "COPY file signature not recognized"},
		{"binary field count", CopyOptions{Format: CopyBinary}, binaryCopyInput[:19] + "\x00\x01\x00\x00\x00\x04\x00\x00\x00\x01", "", "row field count is 1, expected 2 (COPY line 1)"},
		{"binary bad int", CopyOptions{Format: CopyBinary}, binaryCopyInput[:19] + "\x00\x02\x00\x00\x00\x02\x00\x01\xff\xff\xff\xff", "", "invalid binary data for type integer"},
	}
	for _, c := range cases {
		for _, chunk := range []int{1, 2, 3, 7, 1000} {
			rows, err := parseCopy(t, c.opts, c.input, chunk)
			got := strings.Join(rows, "|")
			if got != c.want {
				t.Errorf("%s (chunk %d): rows %q, want %q", c.name, chunk, got, c.want)
			}
			switch {
			case c.err == "" && err != nil:
				t.Errorf("%s (chunk %d): %v", c.name, chunk, err)
			case c.err != "":
				if err == nil {
					t.Errorf("%s (chunk %d): no error", c.name, chunk)
					break
				}
				pe := errorResponse(err, "", 0)
				if msg := pe.Message + " (" + pe.Detail + ")"; !strings.Contains(msg, c.err) {
					t.Errorf("%s (chunk %d): error %q, want %q", c.name, chunk, msg, c.err)
				}
			}
		}
	}
}

// binaryCopyInput is (1, 'x'), (2, NULL) of (int4, text) in binary COPY
// format, as PostgreSQL 15 writes it for
// COPY (VALUES (1, 'x'), (2, NULL)) TO STDOUT (FORMAT binary).
const binaryCopyInput = "PGCOPY\n\xff\r\n\x00" + "\x00\x00\x00\x00" + "\x00\x00\x00\x00" +
	"\x00\x02" + "\x00\x00\x00\x04\x00\x00\x00\x01" + "\x00\x00\x00\x01x" +
	"\x00\x02" + "\x00\x00\x00\x04\x00\x00\x00\x02" + "\xff\xff\xff\xff" +
	"\xff\xff"

// TestCopyOutBinary checks that the binary COPY writer produces the bytes
// PostgreSQL does, and that binary mode refuses the text options.
func TestCopyOutBinary(t *testing.T) {
	desc := repr.RelationDesc{Names: []string{"a", "b"}, Types: []repr.ColumnType{col(repr.TypeInt4), col(repr.TypeText)}}
	out := appendBinaryCopyHeader(nil)
	var err error
	for _, r := range []repr.Row{repr.PackRow(repr.Int4Datum(1), repr.TextDatum("x")), repr.PackRow(repr.Int4Datum(2), repr.Null)} {
		if out, err = appendBinaryCopyRow(out, r, desc); err != nil {
			t.Fatal(err)
		}
	}
	out = append(out, 0xFF, 0xFF)
	if string(out) != binaryCopyInput {
		t.Errorf("binary COPY output\n%q, want\n%q", out, binaryCopyInput)
	}
	if _, err := resolveCopyOptions(CopyOptions{Format: CopyBinary, Header: true}); err == nil || !strings.Contains(err.Error(), "cannot specify HEADER in BINARY mode") {
		t.Errorf("binary with HEADER: %v", err)
	}
}

func TestCopyOutEscaping(t *testing.T) {
	if got := string(appendCopyText(nil, "a\tb\\c\nd\re|f\x0b", '|')); got != `a\tb\\c\nd\re\|f\v` {
		t.Errorf("text escaping: %q", got)
	}
	f, _ := resolveCopyOptions(CopyOptions{Format: CopyCSV})
	for in, want := range map[string]string{"plain": "plain", "": `""`, "a,b": `"a,b"`, `q"`: `"q"""`, "l\nf": "\"l\nf\"", `\.`: `"\."`} {
		if got := string(appendCopyCSV(nil, in, f)); got != want {
			t.Errorf("csv %q: %q, want %q", in, got, want)
		}
	}
	if _, err := resolveCopyOptions(CopyOptions{Delimiter: "ab"}); err == nil {
		t.Error("two-byte delimiter accepted")
	}
	if _, err := resolveCopyOptions(CopyOptions{Delimiter: "\n"}); err == nil {
		t.Error("newline delimiter accepted")
	}
}
