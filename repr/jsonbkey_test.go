package repr

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
)

// jsonbOrderTable is PostgreSQL 15's order of these jsonb values: each
// value's dense_rank() OVER (ORDER BY x), from a private server (initdb
// --no-locale) given them all in one VALUES list. Equal ranks are equal
// values (0 = 0.0, 1 = 1.0, 100 = 1e2).
var jsonbOrderTable = []struct {
	rank int
	text string
}{
	{1, `[]`},
	{2, `null`},
	{3, `""`},
	{4, `"a"`},
	{5, `"ab"`},
	{6, `"b"`},
	{7, `"z"`},
	{8, `"é"`},
	{9, `-2.5`},
	{10, `0`},
	{10, `0.0`},
	{11, `1`},
	{11, `1.0`},
	{12, `100`},
	{12, `1e2`},
	{13, `false`},
	{14, `true`},
	{15, `[null]`},
	{16, `["a"]`},
	{17, `[1]`},
	{18, `[9]`},
	{19, `[[]]`},
	{20, `[{}]`},
	{21, `["a", 1]`},
	{22, `[1, "a"]`},
	{23, `[1, 2]`},
	{23, `[1.0, 2]`},
	{24, `[1, [2]]`},
	{25, `[2, 1]`},
	{26, `[false, true]`},
	{27, `[true, false]`},
	{28, `[[1], 2]`},
	{29, `{}`},
	{30, `{"a": null}`},
	{31, `{"a": "x"}`},
	{32, `{"a": 1}`},
	{33, `{"a": 1.50}`},
	{33, `{"a": 1.5}`},
	{34, `{"a": true}`},
	{35, `{"a": [1]}`},
	{36, `{"a": {}}`},
	{37, `{"aa": 1}`},
	{38, `{"b": 1}`},
	{39, `{"j": {}}`},
	{40, `{"j": {"a": 1}}`},
	{41, `{"a": 1, "b": 2}`},
	{42, `{"b": 1, "d": 1}`},
	{43, `{"c": 1, "aa": 1}`},
}

// TestJSONBOrder: Compare and AppendKey (both directions) order every pair
// of jsonbOrderTable as PostgreSQL ranks them, and equal values get equal
// keys.
func TestJSONBOrder(t *testing.T) {
	ds := make([]Datum, len(jsonbOrderTable))
	for i, c := range jsonbOrderTable {
		canon, err := CanonicalJSON(c.text)
		if err != nil {
			t.Fatalf("%s: %v", c.text, err)
		}
		ds[i] = JsonbDatum(canon)
	}
	for i, a := range jsonbOrderTable {
		for j, b := range jsonbOrderTable {
			want := sign(a.rank - b.rank)
			if got := Compare(ds[i], ds[j]); sign(got) != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", a.text, b.text, got, want)
			}
			if got := Equal(ds[i], ds[j]); got != (want == 0) {
				t.Errorf("Equal(%s, %s) = %v", a.text, b.text, got)
			}
			for _, o := range []SortOrder{{}, {Desc: true}} {
				got := sign(bytes.Compare(AppendKey(nil, ds[i], o), AppendKey(nil, ds[j], o)))
				if o.Desc {
					got = -got
				}
				if got != want {
					t.Errorf("keys of %s, %s under %+v compare %d, want %d", a.text, b.text, o, got, want)
				}
			}
		}
	}
}

// TestJSONBKeyComposite: a jsonb key is prefix-free, so a column after it
// does not change the order ('[1]' before '[1, 2]' whatever follows), in
// arrays and records too.
func TestJSONBKeyComposite(t *testing.T) {
	k := func(j string, n int64) []byte {
		return AppendKey(AppendKey(nil, JsonbDatum(j), SortOrder{}), Int8Datum(n), SortOrder{})
	}
	for _, c := range [][2]string{{`[9]`, `[1, 2]`}, {`"a"`, `"ab"`}, {`1`, `1.5`}, {`{"a": 1}`, `{"a": 1, "b": 1}`}, {`[]`, `null`}} {
		if bytes.Compare(k(c[0], 9), k(c[1], 0)) >= 0 {
			t.Errorf("(%s, 9) should sort before (%s, 0)", c[0], c[1])
		}
	}
	arr := func(js ...string) Datum {
		var ds []Datum
		for _, j := range js {
			ds = append(ds, JsonbDatum(j))
		}
		return ArrayDatum(ds)
	}
	a, b := arr(`[9]`, `{}`), arr(`[1, 2]`)
	if Compare(a, b) >= 0 || bytes.Compare(AppendKey(nil, a, SortOrder{}), AppendKey(nil, b, SortOrder{})) >= 0 {
		t.Error("ARRAY['[9]', '{}'] should sort before ARRAY['[1, 2]']")
	}
}

// TestJSONBCanonicalPacking: a jsonb holding numbers with trailing zeros
// packs, as a key, as the equal jsonb without them, through every path that
// builds keys (PushKey, AppendCanonical, Row.Canonical), while its own
// packing and text keep the zeros; strings that look like such numbers are
// left alone.
func TestJSONBCanonicalPacking(t *testing.T) {
	cases := []struct{ in, key string }{
		{`1.0`, `1`},
		{`0.00`, `0`},
		{`[1.50, "2.50", {"a": 10, "b.0": -3.100}]`, `[1.5, "2.50", {"a": 10, "b.0": -3.1}]`},
		{`{"x": 1.5}`, `{"x": 1.5}`},
		{`"1.0"`, `"1.0"`},
		{`[100, 0.5]`, `[100, 0.5]`},
		{`["a\"1.0", 2.0]`, `["a\"1.0", 2]`},
	}
	for _, c := range cases {
		d := JsonbDatum(c.in)
		want := PackRow(JsonbDatum(c.key))
		var p Packer
		scaled := p.PushKey(d)
		if !bytes.Equal(p.Row(), want) || scaled != (c.in != c.key) {
			t.Errorf("PushKey(%s) = %v, %v; want %v", c.in, p.Row(), scaled, want)
		}
		packed := PackRow(Int4Datum(7), d)
		canon, changed := packed.Canonical(nil)
		if !bytes.Equal(canon, PackRow(Int4Datum(7), JsonbDatum(c.key))) || changed != (c.in != c.key) {
			t.Errorf("Row.Canonical(%s) = %v, %v", c.in, canon, changed)
		}
		if got := AppendCanonical(nil, PackRow(d)); !bytes.Equal(got, want) {
			t.Errorf("AppendCanonical(%s) = %v; want %v", c.in, got, want)
		}
		if got := packed.Get(1).Str(); got != c.in {
			t.Errorf("packing %s keeps %s", c.in, got)
		}
		if !Equal(d, JsonbDatum(c.key)) {
			t.Errorf("%s and %s should be equal", c.in, c.key)
		}
		if c.in != c.key && (!PreferShown(JsonbDatum(c.key), d) || PreferShown(d, JsonbDatum(c.key))) {
			t.Errorf("PreferShown should show %s over %s", c.in, c.key)
		}
	}
}

// randomJSONText returns random JSON text, not necessarily canonical:
// spacing, escapes (\n, \", \u00e9, \u0001), exponents, keys out of
// storage order and repeated, numbers with leading and trailing zeros.
func randomJSONText(r *rand.Rand, depth int) string {
	ws := func() string { return []string{"", "", " ", "\n\t"}[r.IntN(4)] }
	kinds := 6
	if depth >= 3 {
		kinds = 4
	}
	switch r.IntN(kinds) {
	case 0:
		return []string{"null", "true", "false"}[r.IntN(3)]
	case 1:
		return []string{"0", "-0", "0.0", "1", "1.0", "1e0", "1E+2", "-1", "-0.50", "10", "2.50", "100", "0.0010", "-100.00", "123456789012345678901234567890.5", "-1e-3", "7.25e1"}[r.IntN(17)]
	case 2, 3:
		return []string{`""`, `"a"`, `"ab"`, `"a\"b"`, `"\\"`, `"\n"`, `"\u00e9"`, `"é"`, `"\u0001"`, `"a\/b"`, `"\t"`, `"zz"`}[r.IntN(12)]
	case 4:
		n := r.IntN(4)
		elems := make([]string, n)
		for i := range elems {
			elems[i] = ws() + randomJSONText(r, depth+1) + ws()
		}
		return "[" + strings.Join(elems, ",") + "]"
	}
	n := r.IntN(4)
	pairs := make([]string, n)
	for i := range pairs {
		k := []string{`""`, `"a"`, `"b"`, `"aa"`, `"ab"`, `"a\"b"`, `"\u00e9"`, `"c"`}[r.IntN(8)]
		pairs[i] = ws() + k + ws() + ":" + ws() + randomJSONText(r, depth+1)
	}
	return "{" + strings.Join(pairs, ",") + "}"
}

// TestJSONBKeyReader: the one-pass key of jsonb text equals the key of its
// parsed value, for canonical text (which it reads itself, unless it holds
// a \u escape) and for any other JSON text (where it may give up).
func TestJSONBKeyReader(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	read := 0
	for i := range 20000 {
		text := randomJSONText(r, 0)
		canon, err := CanonicalJSON(text)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		for _, s := range []string{text, canon} {
			want := appendJSONBKeyParsed(nil, s)
			if got := appendJSONBKey([]byte("prefix"), s); !bytes.Equal(got[6:], want) {
				t.Fatalf("case %d: key of %q:\n got %x\nwant %x", i, s, got[6:], want)
			}
		}
		kr := jsonbKeyReader{s: canon}
		if kr.top() {
			read++
		} else if !strings.Contains(canon, `\u`) {
			t.Fatalf("case %d: the reader gave up on canonical %q", i, canon)
		}
	}
	if read < 15000 {
		t.Fatalf("the reader read %d of 20000 canonical texts itself", read)
	}
}

// TestNestedCanonicalPacking: an array or record packs, as a key, with its
// elements in their canonical packing (numerics without display scale,
// jsonb numbers reduced, -0 as 0), nested arrays too, so that equal arrays
// key equal (ARRAY[1.50] = ARRAY[1.5] in PostgreSQL); its own packing keeps
// what it prints, and PreferShown shows it over the canonical one.
func TestNestedCanonicalPacking(t *testing.T) {
	num := func(s string) Datum {
		d, _, err := apd.NewFromString(s)
		if err != nil {
			t.Fatal(err)
		}
		return NumericDatum(d)
	}
	cases := []struct {
		exact, canon Datum
	}{
		{ArrayDatum([]Datum{num("1.50"), num("2")}), ArrayDatum([]Datum{num("1.5"), num("2")})},
		{ArrayDatum([]Datum{JsonbDatum(`[1.0]`), Null}), ArrayDatum([]Datum{JsonbDatum(`[1]`), Null})},
		{RecordDatum([]Datum{TextDatum("a"), Float8Datum(math.Copysign(0, -1))}), RecordDatum([]Datum{TextDatum("a"), Float8Datum(0)})},
		{ArrayDatum([]Datum{ArrayDatum([]Datum{num("0.00")})}), ArrayDatum([]Datum{ArrayDatum([]Datum{num("0")})})},
		{ArrayDatum([]Datum{num("3"), TextDatum("1.0")}), ArrayDatum([]Datum{num("3"), TextDatum("1.0")})},
	}
	for _, c := range cases {
		same := bytes.Equal(PackRow(c.exact), PackRow(c.canon))
		want := PackRow(c.canon)
		var p Packer
		if scaled := p.PushKey(c.exact); !bytes.Equal(p.Row(), want) || scaled == same {
			t.Errorf("PushKey(%v) = %v, %v; want %v", c.exact, p.Row(), scaled, want)
		}
		packed := PackRow(Int4Datum(1), c.exact)
		if canon, changed := packed.Canonical(nil); !bytes.Equal(canon, PackRow(Int4Datum(1), c.canon)) || changed == same {
			t.Errorf("Row.Canonical(%v) = %v, %v", c.exact, canon, changed)
		}
		if got := AppendCanonical(nil, PackRow(c.exact)); !bytes.Equal(got, want) {
			t.Errorf("AppendCanonical(%v) = %v; want %v", c.exact, got, want)
		}
		if !Equal(c.exact, c.canon) || !bytes.Equal(AppendKey(nil, c.exact, SortOrder{}), AppendKey(nil, c.canon, SortOrder{})) {
			t.Errorf("%v and %v should be equal, with equal sort keys", c.exact, c.canon)
		}
		if !same && (!PreferShown(c.canon, c.exact) || PreferShown(c.exact, c.canon)) {
			t.Errorf("PreferShown should show %v over %v", c.exact, c.canon)
		}
	}
}

// TestJSONBLongNumber: a jsonb number of 70,000 digits with trailing zeros
// keys and canonicalises in linear time (apd's Reduce divides once per
// trailing zero: seconds).
func TestJSONBLongNumber(t *testing.T) {
	text := "[1." + strings.Repeat("0", 70000) + "]"
	d := JsonbDatum(text)
	start := time.Now()
	var p Packer
	if !p.PushKey(d) || !bytes.Equal(p.Row(), PackRow(JsonbDatum("[1]"))) {
		t.Fatalf("PushKey of [1.000...] = %q", p.Row().Get(0).Str())
	}
	if Compare(d, JsonbDatum("[1]")) != 0 || !bytes.Equal(AppendKey(nil, d, SortOrder{}), AppendKey(nil, JsonbDatum("[1]"), SortOrder{})) {
		t.Fatal("[1.000...] should equal [1]")
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("took %v", el)
	}
}

// TestIntervalElementsCanonical: intervals inside arrays and records key
// by their span, as PostgreSQL compares them ('1 day' = '24 hours' =
// '-1 mons +31 days'): for random pairs, equal values have equal canonical
// packings and unequal ones different packings; a top-level interval
// keeps its fields (the planner keys it by span).
func TestIntervalElementsCanonical(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	iv := func() Datum {
		return IntervalDatum(Interval{
			Months: int32(rng.IntN(5) - 2),
			Days:   int32(rng.IntN(121) - 60),
			Micros: int64(rng.IntN(97)-48) * MicrosPerHour,
		})
	}
	key := func(d Datum) []byte {
		var p Packer
		p.PushKey(d)
		return p.Row()
	}
	equalPairs := 0
	// reexpress moves whole months into days and days into hours: the
	// same span in other fields.
	reexpress := func(d Datum) Datum {
		v := d.Interval()
		k, j := int32(rng.IntN(3)-1), int32(rng.IntN(3)-1)
		v.Months -= k
		v.Days += 30*k - j
		v.Micros += int64(j) * MicrosPerDay
		return IntervalDatum(v)
	}
	for i := 0; i < 20000; i++ {
		a, b := iv(), iv()
		if i%2 == 0 {
			b = reexpress(a)
		}
		for _, wrap := range []func(Datum) Datum{
			func(d Datum) Datum { return ArrayDatum([]Datum{d}) },
			func(d Datum) Datum { return RecordDatum([]Datum{TextDatum("x"), d}) },
			func(d Datum) Datum { return ArrayDatum([]Datum{ArrayDatum([]Datum{d, Null})}) },
		} {
			wa, wb := wrap(a), wrap(b)
			eq := Compare(wa, wb) == 0
			if got := bytes.Equal(key(wa), key(wb)); got != eq {
				t.Fatalf("%v vs %v: equal %v, canonical packings equal %v", wa, wb, eq, got)
			}
			ca, _ := PackRow(wa).Canonical(nil)
			cb, _ := PackRow(wb).Canonical(nil)
			if got := bytes.Equal(ca, cb); got != eq {
				t.Fatalf("%v vs %v: equal %v, Row.Canonical equal %v", wa, wb, eq, got)
			}
			if eq {
				equalPairs++
			}
			// The shown value is a row's own: the span form only when
			// it is the row's.
			var p Packer
			if p.PushKey(wa) {
				canon := p.Row().Get(0)
				if !PreferShown(canon, wa) || PreferShown(wa, canon) {
					t.Fatalf("PreferShown should show %v over its canonical form %v", wa, canon)
				}
			}
		}
	}
	if equalPairs < 10000 {
		t.Fatalf("only %d equal pairs: the generator misses the case", equalPairs)
	}
	top := PackRow(IntervalDatum(Interval{Micros: 24 * MicrosPerHour}))
	if c, changed := top.Canonical(nil); changed || !bytes.Equal(c, top) {
		t.Fatalf("a top-level interval changed: %v", c)
	}
}
