package sqllogictest

import (
	"testing"
)

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		typ  byte
		oid  uint32
		v    string
		null bool
		mode Mode
		want string
	}{
		{typ: 'I', oid: oidInt4, null: true, want: "NULL"},
		{typ: 'T', oid: 25, null: true, want: "NULL"},
		{typ: 'I', oid: oidInt8, v: "-42", want: "-42"},
		{typ: 'I', oid: oidNumeric, v: "12.9", want: "12"},
		{typ: 'I', oid: oidNumeric, v: "-12.9", want: "-12"},
		{typ: 'I', oid: oidNumeric, v: "-0.5", want: "0"},
		{typ: 'I', oid: oidNumeric, v: "123456789012345678901234.5", want: "123456789012345678901234"},
		{typ: 'I', oid: oidNumeric, v: "12.5", mode: ModeCockroach, want: "13"},
		{typ: 'I', oid: oidNumeric, v: "99.5", mode: ModeCockroach, want: "100"},
		{typ: 'I', oid: oidNumeric, v: "NaN", want: "NaN"},
		{typ: 'I', oid: oidFloat8, v: "2.75", want: "2"},
		{typ: 'I', oid: oidFloat8, v: "-2.75", want: "-2"},
		{typ: 'I', oid: oidFloat8, v: "-0.25", want: "0"},
		{typ: 'I', oid: oidFloat8, v: "2.75", mode: ModeCockroach, want: "3"},
		{typ: 'I', oid: oidBool, v: "t", want: "1"},
		{typ: 'I', oid: oidBool, v: "f", want: "0"},
		{typ: 'I', oid: 25, v: "12abc", want: "12"},
		{typ: 'I', oid: 25, v: "abc", want: "0"},
		{typ: 'R', oid: oidInt4, v: "7", want: "7.000"},
		{typ: 'R', oid: oidFloat8, v: "0.1", want: "0.100"},
		{typ: 'R', oid: oidFloat8, v: "-1.23456", want: "-1.235"},
		{typ: 'R', oid: oidNumeric, v: "41.5000000000000000", want: "41.500"},
		{typ: 'R', oid: oidNumeric, v: "41.5000000000000000", mode: ModeCockroach, want: "41.5000000000000000"},
		{typ: 'R', oid: oidFloat8, v: "Infinity", want: "Infinity"},
		{typ: 'R', oid: 25, v: "x", want: "0.000"},
		{typ: 'T', oid: 25, v: "", want: "(empty)"},
		{typ: 'T', oid: 25, v: "a b", want: "a b"},
		{typ: 'T', oid: 25, v: "a\tb\nc\x7f", want: "a@b@c@"},
		{typ: 'T', oid: 25, v: "é", want: "@@"},
		{typ: 'T', oid: 25, v: "é", mode: ModeCockroach, want: "é"},
		{typ: 'T', oid: oidFloat8, v: "2.5", want: "2.500"},
		{typ: 'T', oid: oidNumeric, v: "2.5", want: "2.5"},
		{typ: 'T', oid: oidBool, v: "t", want: "true"},
		{typ: 'T', oid: oidInt4, v: "3", want: "3"},
		{typ: 'B', oid: oidBool, v: "f", want: "false"},
		{typ: 'O', oid: oidOID, v: "16384", want: "16384"},
	} {
		var v []byte
		if !tc.null {
			v = []byte(tc.v)
		}
		if got := FormatValue(tc.typ, tc.oid, v, tc.mode); got != tc.want {
			t.Errorf("FormatValue(%c, %d, %q, %s) = %q, want %q", tc.typ, tc.oid, tc.v, tc.mode, got, tc.want)
		}
	}
}

func TestHashValues(t *testing.T) {
	// No values: the MD5 of the empty string.
	if got := hashValues(nil); got != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Errorf("hash of nothing = %s", got)
	}
	// md5("1\n2\n"), as `printf '1\n2\n' | md5sum` prints it.
	if got := hashValues([]string{"1", "2"}); got != "6ddb4095eb719e2a9f0a3f95677d24e0" {
		t.Errorf("hash of 1, 2 = %s", got)
	}
}

func TestSortRows(t *testing.T) {
	rows := [][]string{{"2", "b"}, {"10", "a"}, {"2", "a"}, {"NULL", "c"}}
	for _, tc := range []struct {
		mode SortMode
		want string
	}{
		{NoSort, "2 b 10 a 2 a NULL c"},
		{RowSort, "10 a 2 a 2 b NULL c"},
		{ValueSort, "10 2 2 NULL a a b c"},
	} {
		got := sortRows(rows, tc.mode)
		if s := join(got); s != tc.want {
			t.Errorf("%s: got %q, want %q", tc.mode, s, tc.want)
		}
	}
	if join(rows[0]) != "2 b" {
		t.Error("sortRows changed its input")
	}
}

func join(v []string) string {
	s := ""
	for i, x := range v {
		if i > 0 {
			s += " "
		}
		s += x
	}
	return s
}
