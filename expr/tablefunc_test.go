package expr

import (
	"strings"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// runTableFunc calls a table function on textual arguments (parsed as the
// function's parameter types) and renders its rows "a=b|c=d" style.
func runTableFunc(t *testing.T, name string, types []repr.ScalarType, args ...string) (string, error) {
	t.Helper()
	tf, err := LookupTableFunc(name, types)
	if err != nil {
		return "", err
	}
	ds := make([]repr.Datum, len(args))
	for i, a := range args {
		d, err := repr.ParseText(a, tf.ArgTypes[i])
		if err != nil {
			t.Fatalf("parse %q as %s: %v", a, tf.ArgTypes[i], err)
		}
		ds[i] = d
	}
	var rows []string
	err = tf.Eval(&EvalCtx{}, ds, func(row []repr.Datum) bool {
		if len(row) != len(tf.Cols) {
			t.Fatalf("%s emitted %d columns, declares %d", name, len(row), len(tf.Cols))
		}
		parts := make([]string, len(row))
		for i, d := range row {
			parts[i] = d.Text()
		}
		rows = append(rows, strings.Join(parts, "="))
		return true
	})
	return strings.Join(rows, "|"), err
}

func TestTableFuncs(t *testing.T) {
	i4, i8, num := repr.TypeInt4, repr.TypeInt8, repr.TypeNumeric
	ts, iv, jb, tx := repr.TypeTimestamp, repr.TypeInterval, repr.TypeJsonb, repr.TypeText
	// Expected outputs from PostgreSQL 15.
	cases := []struct {
		name  string
		types []repr.ScalarType
		args  []string
		want  string
		code  pgcode.Code
	}{
		{"generate_series", []repr.ScalarType{i4, i4, i4}, []string{"1", "10", "3"}, "1|4|7|10", ""},
		{"generate_series", []repr.ScalarType{i4, i4, i4}, []string{"5", "1", "-2"}, "5|3|1", ""},
		{"generate_series", []repr.ScalarType{i4, i4}, []string{"3", "1"}, "", ""},
		{"generate_series", []repr.ScalarType{i4, i4}, []string{"2147483645", "2147483647"}, "2147483645|2147483646|2147483647", ""},
		{"generate_series", []repr.ScalarType{i4, i8}, []string{"1", "3"}, "1|2|3", ""},
		{"generate_series", []repr.ScalarType{i4, i4, i4}, []string{"1", "2", "0"}, "", pgcode.InvalidParameterValue},
		{"generate_series", []repr.ScalarType{num, num, num}, []string{"1.5", "3", "0.5"}, "1.5|2.0|2.5|3.0", ""},
		{"generate_series", []repr.ScalarType{ts, ts, iv}, []string{"2020-01-31", "2020-05-01", "1 month"},
			"2020-01-31 00:00:00|2020-02-29 00:00:00|2020-03-29 00:00:00|2020-04-29 00:00:00", ""},
		{"generate_series", []repr.ScalarType{ts, ts, iv}, []string{"2020-01-01 00:00", "2020-01-01 01:00", "20 minutes"},
			"2020-01-01 00:00:00|2020-01-01 00:20:00|2020-01-01 00:40:00|2020-01-01 01:00:00", ""},
		{"generate_series", []repr.ScalarType{ts, ts, iv}, []string{"2020-01-01", "2020-01-01", "-1 day"}, "2020-01-01 00:00:00", ""},
		{"generate_series", []repr.ScalarType{repr.TypeDate, repr.TypeDate, iv}, []string{"2020-01-01", "2020-01-02", "1 day"},
			"2020-01-01 00:00:00+00|2020-01-02 00:00:00+00", ""},
		{"generate_series", []repr.ScalarType{repr.TypeUnknown, repr.TypeUnknown, iv}, []string{"2020-01-01", "2020-01-02", "1 day"},
			"2020-01-01 00:00:00+00|2020-01-02 00:00:00+00", ""},
		{"unnest", []repr.ScalarType{repr.ArrayOf(i4)}, []string{"{1,NULL,3}"}, "1|NULL|3", ""},
		{"jsonb_array_elements", []repr.ScalarType{jb}, []string{`[1, "a", null, {"b": 2}]`}, `1|"a"|null|{"b": 2}`, ""},
		{"jsonb_array_elements_text", []repr.ScalarType{jb}, []string{`[1, "a", null, {"b": 2}]`}, `1|a|NULL|{"b": 2}`, ""},
		{"jsonb_array_elements", []repr.ScalarType{jb}, []string{`{"a": 1}`}, "", pgcode.InvalidParameterValue},
		{"jsonb_each", []repr.ScalarType{jb}, []string{`{"b": [1], "a": "x", "aa": null}`}, `a="x"|b=[1]|aa=null`, ""},
		{"jsonb_each_text", []repr.ScalarType{jb}, []string{`{"b": [1], "a": "x", "aa": null}`}, `a=x|b=[1]|aa=NULL`, ""},
		{"jsonb_each", []repr.ScalarType{jb}, []string{`[1]`}, "", pgcode.InvalidParameterValue},
		{"jsonb_object_keys", []repr.ScalarType{jb}, []string{`{"b": 1, "a": 2, "aa": 3}`}, "a|b|aa", ""},
		{"jsonb_object_keys", []repr.ScalarType{jb}, []string{`1`}, "", pgcode.InvalidParameterValue},
		{"regexp_split_to_table", []repr.ScalarType{tx, tx}, []string{"hello world  foo", `\s+`}, "hello|world|foo", ""},
		{"regexp_split_to_table", []repr.ScalarType{tx, tx}, []string{"abc", ""}, "a|b|c", ""},
		{"regexp_split_to_table", []repr.ScalarType{tx, tx}, []string{"a1b22c", "[0-9]*"}, "a|b|c", ""},
		{"regexp_split_to_table", []repr.ScalarType{tx, tx, tx}, []string{"aXbxc", "x", "i"}, "a|b|c", ""},
	}
	for _, c := range cases {
		got, err := runTableFunc(t, c.name, c.types, c.args...)
		if c.code != "" {
			if pgcode.Of(err) != c.code {
				t.Errorf("%s%v: want error %s, got %q, %v", c.name, c.args, c.code, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s%v = %q (%v), want %q", c.name, c.args, got, err, c.want)
		}
	}
}

func TestLookupTableFuncErrors(t *testing.T) {
	for _, c := range []struct {
		name  string
		types []repr.ScalarType
	}{
		{"generate_series", []repr.ScalarType{repr.TypeText, repr.TypeText}},
		{"unnest", []repr.ScalarType{repr.TypeInt4}},
		{"no_such_function", nil},
	} {
		if _, err := LookupTableFunc(c.name, c.types); pgcode.Of(err) != pgcode.UndefinedFunction {
			t.Errorf("%s%v: want 42883, got %v", c.name, c.types, err)
		}
	}
	tf, err := LookupTableFunc("jsonb_each", []repr.ScalarType{repr.TypeUnknown})
	if err != nil || len(tf.Cols) != 2 || tf.ColNames[0] != "key" || tf.ArgTypes[0].Kind != repr.KindJsonb {
		t.Fatalf("jsonb_each(unknown): %v %v", tf, err)
	}
	if !IsTableFunc("UNNEST") || IsTableFunc("lower") {
		t.Fatal("IsTableFunc")
	}
}
