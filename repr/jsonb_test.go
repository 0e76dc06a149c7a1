package repr

import (
	"errors"
	"strings"
	"testing"

	"github.com/viewd/viewd/pgcode"
)

// Expected outputs checked against PostgreSQL 15's jsonb input and output.
func TestCanonicalJSON(t *testing.T) {
	cases := []struct{ in, want string }{
		{`{"b":1,"a":2,"b":3}`, `{"a": 2, "b": 3}`},
		{`[1.000, 1e-2, 1E+2, -0]`, `[1.000, 0.01, 100, 0]`},
		{`"\ud83d\ude00"`, `"😀"`},
		{`{"aaa":1,"bb":2,"c":3}`, `{"c": 3, "bb": 2, "aaa": 1}`},
		{` true `, `true`},
		{`{"a": {"b": [1, 2.50, {"c": null}]}}`, `{"a": {"b": [1, 2.50, {"c": null}]}}`},
		{`"a\"b\\c\/d\n\u0001é"`, `"a\"b\\c/d\n\u0001é"`},
		{`[]`, `[]`},
		{`{}`, `{}`},
		{`-0.0`, `0.0`},
		{`1e40`, "1" + strings.Repeat("0", 40)},
	}
	for _, c := range cases {
		got, err := CanonicalJSON(c.in)
		if err != nil || got != c.want {
			t.Errorf("CanonicalJSON(%s) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestCanonicalJSONErrors(t *testing.T) {
	cases := []struct{ in, code, detail string }{
		{`{"a":1,}`, "22P02", `Expected string, but found "}".`},
		{`[1 2]`, "22P02", `Expected "," or "]", but found "2".`},
		{`"\u0000"`, "22P05", `\u0000 cannot be converted to text.`},
		{`01`, "22P02", `Token "01" is invalid.`},
		{"\"\t\"", "22P02", `Character with value 0x09 must be escaped.`},
		{`{"a"`, "22P02", `The input string ended unexpectedly.`},
		{`nul`, "22P02", `Token "nul" is invalid.`},
		{`[1] x`, "22P02", `Expected end of input, but found "x".`},
		{`"\x"`, "22P02", `Escape sequence "\x" is invalid.`},
		{``, "22P02", `The input string ended unexpectedly.`},
	}
	for _, c := range cases {
		_, err := CanonicalJSON(c.in)
		var pe *pgcode.Error
		if !errors.As(err, &pe) || string(pe.Code) != c.code || pe.Detail != c.detail {
			t.Errorf("CanonicalJSON(%q) error = %#v, want %s %q", c.in, err, c.code, c.detail)
		}
	}
}

func TestJSONValueModel(t *testing.T) {
	v, err := ParseJSON(`{"b": [10, 20, 30], "a": "x", "ccc": {"d": null}}`)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := v.Get("a"); !ok || got.Kind != JSONString || got.Str != "x" {
		t.Errorf("Get(a) = %v %v", got, ok)
	}
	if _, ok := v.Get("zz"); ok {
		t.Error("Get of a missing key succeeded")
	}
	b, _ := v.Get("b")
	if e, ok := b.Index(-1); !ok || e.Str != "30" {
		t.Errorf("Index(-1) = %v %v", e, ok)
	}
	if _, ok := b.Index(3); ok {
		t.Error("Index past the end succeeded")
	}
	if n := b.Elems[1].Decimal(); n.String() != "20" {
		t.Errorf("Decimal = %s", n)
	}
	built := JSONObjectValue([]JSONPair{{"z", JSONTrueValue}, {"a", JSONNullValue}, {"z", JSONFalseValue}})
	if got := built.String(); got != `{"a": null, "z": false}` {
		t.Errorf("JSONObjectValue = %s", got)
	}
	if got := string(v.AppendPretty(nil, 0)); got != "{\n    \"a\": \"x\",\n    \"b\": [\n        10,\n        20,\n        30\n    ],\n    \"ccc\": {\n        \"d\": null\n    }\n}" {
		t.Errorf("pretty:\n%s", got)
	}
	if d := v.Datum(); d.Kind() != KindJsonb || d.Str() != v.String() {
		t.Errorf("Datum = %v", d)
	}
	for _, k := range []JSONKind{JSONNull, JSONString, JSONNumber, JSONBool, JSONArray, JSONObject} {
		if k.String() == "unknown" {
			t.Errorf("kind %d has no name", k)
		}
	}
}

// Canonical text is a fixed point: parsing it again yields it again.
func TestCanonicalJSONIdempotent(t *testing.T) {
	for _, in := range []string{`{"b":[1,{"y":2,"x":1}],"a":"\n"}`, `[1e5, -2.50, "é", null, true]`, `{"":{}}`} {
		once, err := CanonicalJSON(in)
		if err != nil {
			t.Fatal(err)
		}
		twice, err := CanonicalJSON(once)
		if err != nil || twice != once {
			t.Errorf("not idempotent: %q -> %q -> %q (%v)", in, once, twice, err)
		}
	}
}
