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

// randDatum returns a random datum of a random kind.
func randDatum(r *rand.Rand) Datum {
	switch r.IntN(16) {
	case 0:
		return Null
	case 1:
		return BoolDatum(r.IntN(2) == 0)
	case 2:
		return Int2Datum(int16(r.Int32()))
	case 3:
		return Int4Datum(r.Int32())
	case 4:
		return Int8Datum(r.Int64() - r.Int64())
	case 5:
		return Float8Datum(r.NormFloat64() * 1e6)
	case 6:
		d, _, _ := apd.NewFromString([]string{"0", "1.50", "-3.25", "12345678901234567890.5", "1e-20", "-0.001"}[r.IntN(6)])
		return NumericDatum(d)
	case 7:
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return TextDatum(string(b))
	case 8:
		return ByteaDatum([]byte{0, 1, byte(r.IntN(256))})
	case 9:
		return DateDatum(r.Int32N(100000) - 50000)
	case 10:
		return TimestampDatum(r.Int64N(1 << 50))
	case 11:
		return IntervalDatum(Interval{Months: r.Int32N(100), Days: r.Int32N(60) - 30, Micros: r.Int64N(1 << 40)})
	case 12:
		var u [16]byte
		for i := range u {
			u[i] = byte(r.IntN(256))
		}
		return UUIDDatum(u)
	case 13:
		return JsonbDatum(`{"a": 1}`)
	case 14:
		return ArrayDatum([]Datum{Int8Datum(r.Int64N(10)), Null, TextDatum("x")})
	}
	return RecordDatum([]Datum{Int4Datum(r.Int32N(5)), TextDatum("y")})
}

// TestRowRoundTrip: packing then unpacking gives equal datums, and
// repacking gives the same bytes (the encoding is canonical).
func TestRowRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 5000 {
		n := r.IntN(8)
		ds := make([]Datum, n)
		for j := range ds {
			ds[j] = randDatum(r)
		}
		row := PackRow(ds...)
		got := row.Datums()
		if len(got) != n || row.Arity() != n {
			t.Fatalf("case %d: arity %d/%d, want %d", i, len(got), row.Arity(), n)
		}
		for j := range ds {
			if Compare(ds[j], got[j]) != 0 || ds[j].Kind() != got[j].Kind() {
				t.Fatalf("case %d col %d: packed %v, unpacked %v", i, j, ds[j], got[j])
			}
			if Compare(row.Get(j), ds[j]) != 0 {
				t.Fatalf("case %d: Get(%d) = %v, want %v", i, j, row.Get(j), ds[j])
			}
		}
		if !bytes.Equal(PackRow(got...), row) {
			t.Fatalf("case %d: repacking changed the bytes", i)
		}
		// Skip agrees with Next on every datum's length.
		it1, it2 := row.Iter(), row.Iter()
		for {
			_, ok := it1.Next()
			ok2 := it2.Skip()
			if ok != ok2 || it1.Offset() != it2.Offset() {
				t.Fatalf("case %d: Skip and Next disagree at offset %d/%d", i, it1.Offset(), it2.Offset())
			}
			if !ok {
				break
			}
		}
	}
}

// TestRowCanonical: values equal in SQL pack to equal bytes where the
// encoding promises it (NaN, -0, numeric trailing zeros), which is what
// lets arrangements compare keys bytewise.
func TestRowCanonical(t *testing.T) {
	nan1, nan2 := math.NaN(), math.Float64frombits(0x7ff8000000000001)
	if !bytes.Equal(PackRow(Float8Datum(nan1)), PackRow(Float8Datum(nan2))) {
		t.Error("NaNs pack differently")
	}
	// -0 keeps its sign (PostgreSQL prints it) but keys fold it to +0.
	negZero := PackRow(Float8Datum(math.Copysign(0, -1)))
	if got := negZero.Get(0).Text(); got != "-0" {
		t.Errorf("-0 unpacks as %s", got)
	}
	cz0, changed := negZero.Canonical(nil)
	if !changed || !bytes.Equal(cz0, PackRow(Float8Datum(0))) {
		t.Error("-0 and +0 have different canonical packings")
	}
	var kp Packer
	if !kp.PushKey(Float8Datum(math.Copysign(0, -1))) || !bytes.Equal(kp.Row(), PackRow(Float8Datum(0))) {
		t.Error("PushKey(-0) is not +0")
	}
	if !PreferShown(Float8Datum(0), Float8Datum(math.Copysign(0, -1))) || PreferShown(Float8Datum(math.Copysign(0, -1)), Float8Datum(0)) {
		t.Error("PreferShown: -0 over +0")
	}
	// Numerics keep their display scale in the row; their canonical
	// packing (keys) drops it.
	a, _, _ := apd.NewFromString("1.50")
	b, _, _ := apd.NewFromString("1.5")
	ca, _ := PackRow(NumericDatum(a)).Canonical(nil)
	if !bytes.Equal(ca, PackRow(NumericDatum(b))) {
		t.Error("1.50 and 1.5 have different canonical packings")
	}
	z1, _, _ := apd.NewFromString("-0.00")
	cz, _ := PackRow(NumericDatum(z1)).Canonical(nil)
	if !bytes.Equal(cz, PackRow(NumericDatum(apd.New(0, 0)))) {
		t.Error("-0.00 and 0 have different canonical packings")
	}
	if got := PackRow(Int8Datum(1), TextDatum("a'b"), Null).String(); got != "(1, 'a''b', NULL)" {
		t.Errorf("String() = %s", got)
	}
}

// TestRowConcat: packed rows concatenate by appending bytes (joins rely
// on it).
func TestRowConcat(t *testing.T) {
	a, b := PackRow(Int8Datum(1), TextDatum("x")), PackRow(Null, Int4Datum(7))
	var p Packer
	p.PushRow(a)
	p.PushRow(b)
	want := PackRow(Int8Datum(1), TextDatum("x"), Null, Int4Datum(7))
	if !bytes.Equal(p.Row(), want) {
		t.Fatalf("concatenation %s != %s", p.Row(), want)
	}
}

// TestRowMalformed: truncated or corrupt rows stop the iterator with an
// error, never panic.
func TestRowMalformed(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		ds := []Datum{randDatum(r), randDatum(r), randDatum(r)}
		row := PackRow(ds...)
		cut := row[:r.IntN(len(row)+1)]
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Fatalf("decoding a truncated row %x panicked: %v", []byte(cut), p)
				}
			}()
			it := cut.Iter()
			for {
				if _, ok := it.Next(); !ok {
					break
				}
			}
			_ = cut.String()
		}()
	}
	bad := Row{0xff, 1, 2}
	bit := bad.Iter()
	if _, ok := bit.Next(); ok {
		t.Fatal("an unknown tag decoded")
	}
}

// TestRowSkipTruncated: Skip must not walk past the end of a truncated
// row; it stops with an error instead.
func TestRowSkipTruncated(t *testing.T) {
	row := PackRow(Int8Datum(1), TextDatum("hello world"), Float8Datum(1), UUIDDatum([16]byte{1}))
	for cut := 0; cut < len(row); cut++ {
		it := row[:cut].Iter()
		for it.Skip() {
		}
		if it.Offset() > cut {
			t.Fatalf("cut at %d: Skip moved to offset %d", cut, it.Offset())
		}
		if it.Offset() < cut && it.Err() == nil {
			t.Fatalf("cut at %d: Skip stopped at %d without an error", cut, it.Offset())
		}
	}
}

func TestOffsets(t *testing.T) {
	r := PackRow(Int4Datum(7), Null, TextDatum("abc"), Int8Datum(-1))
	offs, err := r.Offsets(nil)
	if err != nil || len(offs) != 5 || offs[4] != len(r) {
		t.Fatalf("offsets %v, %v", offs, err)
	}
	for i, want := range []Datum{Int4Datum(7), Null, TextDatum("abc"), Int8Datum(-1)} {
		got := Row(r[offs[i]:offs[i+1]]).Get(0)
		if Compare(got, want) != 0 || got.IsNull() != want.IsNull() || r.NullAt(offs[i]) != want.IsNull() {
			t.Fatalf("datum %d: %v, want %v", i, got, want)
		}
	}
}

func TestUnpackPrefix(t *testing.T) {
	var p Packer
	p.PushAll([]Datum{Int4Datum(1), TextDatum("two"), Null, Int8Datum(4)})
	row := p.Row()
	for n := 0; n <= 5; n++ {
		got := row.UnpackPrefix(nil, n)
		want := row.Datums()[:min(n, 4)]
		if len(got) != len(want) {
			t.Fatalf("prefix %d: %d datums, want %d", n, len(got), len(want))
		}
		for i := range got {
			if Compare(got[i], want[i]) != 0 || got[i].IsNull() != want[i].IsNull() {
				t.Fatalf("prefix %d: datum %d is %v, want %v", n, i, got[i], want[i])
			}
		}
	}
}

// TestRowPrefix: comparing prefixes never contradicts bytes.Compare.
func TestRowPrefix(t *testing.T) {
	rows := []Row{nil, {0}, {0, 0}, {1}, {1, 0, 0, 0, 0, 0, 0, 0}, {1, 0, 0, 0, 0, 0, 0, 0, 5}, {0xff}, {2, 3, 4}, {2, 3, 4, 0}}
	for _, a := range rows {
		for _, b := range rows {
			pa, pb := a.Prefix(), b.Prefix()
			if c := bytes.Compare(a, b); (pa < pb && c >= 0) || (pa > pb && c <= 0) {
				t.Errorf("%v vs %v: prefixes %x, %x disagree with bytes.Compare %d", a, b, pa, pb, c)
			}
		}
	}
}

// TestNumericDisplayScale: a packed numeric keeps its display scale
// through pack and unpack; its canonical packing (Row.Canonical,
// Packer.PushKey, AppendCanonical) is the same for every scale of a
// value and is what it packed as before scales were kept; the
// memcomparable key ignores the scale.
func TestNumericDisplayScale(t *testing.T) {
	cases := []struct{ in, text, canon string }{
		{"1.10", "1.10", "1.1"},
		{"1.1", "1.1", "1.1"},
		{"617.20", "617.20", "617.2"},
		{"0.00", "0.00", "0"},
		{"-0.000", "0.000", "0"},
		{"100", "100", "100"},
		{"1e2", "100", "100"},
		{"1.50e1", "15.0", "15"},
		{"-2.500", "-2.500", "-2.5"},
		{"12345678901234567890.1234567890000", "12345678901234567890.1234567890000", "12345678901234567890.123456789"},
		{"NaN", "NaN", "NaN"},
		{"Infinity", "Infinity", "Infinity"},
	}
	for _, c := range cases {
		n, err := ParseNumeric(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		row := PackRow(Int4Datum(1), NumericDatum(n), TextDatum("x"))
		got := row.Get(1)
		if txt := got.Text(); txt != c.text {
			t.Errorf("%s: unpacked prints %s, want %s", c.in, txt, c.text)
		}
		cn, err := ParseNumeric(c.canon)
		if err != nil {
			t.Fatal(err)
		}
		want := PackRow(Int4Datum(1), NumericDatum(cn), TextDatum("x"))
		canon, changed := row.Canonical(nil)
		if !bytes.Equal(canon, want) {
			t.Errorf("%s: canonical packing %x, want %x", c.in, canon, want)
		}
		if changed != (c.text != c.canon) {
			t.Errorf("%s: Canonical reports changed=%v", c.in, changed)
		}
		var p Packer
		p.Push(Int4Datum(1))
		p.PushKey(NumericDatum(n))
		p.Push(TextDatum("x"))
		if !bytes.Equal(p.Row(), want) {
			t.Errorf("%s: PushKey packs %x, want %x", c.in, p.Row(), want)
		}
		offs, err := row.Offsets(nil)
		if err != nil {
			t.Fatal(err)
		}
		var q Packer
		for i := range len(offs) - 1 {
			q.PushCanonical(row[offs[i]:offs[i+1]])
		}
		if !bytes.Equal(q.Row(), want) {
			t.Errorf("%s: PushCanonical packs %x, want %x", c.in, q.Row(), want)
		}
		if !Equal(got, NumericDatum(cn)) {
			t.Errorf("%s: not Equal to %s", c.in, c.canon)
		}
		if !bytes.Equal(AppendKey(nil, got, SortOrder{}), AppendKey(nil, NumericDatum(cn), SortOrder{})) {
			t.Errorf("%s: memcomparable key depends on the scale", c.in)
		}
	}
	// A truncated scale suffix is malformed, not a panic.
	n, _ := ParseNumeric("1.10")
	row := PackRow(NumericDatum(n))
	if _, err := row[:len(row)-1].Offsets(nil); err == nil {
		t.Error("truncated scaled numeric: no error")
	}
}

// TestReduceNumeric checks ReduceNumeric against apd's Reduce on
// coefficients past 64 bits and below, and that a 70,901-digit
// coefficient reduces in linear-ish time (apd's took 1.9 s).
func TestReduceNumeric(t *testing.T) {
	for _, s := range []string{
		"0", "-0", "0.000", "1E70900", "-1E70900", "-0.0", "123000", "1.2300",
		"184467440737095516150000", "-18446744073709551616000000000000000000E-7",
		"100000000000000000000000000000000000001", "12345678901234567890123456789E20",
		"NaN", "Infinity", "-Infinity",
	} {
		x, _, err := apd.NewFromString(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		var want, got apd.Decimal
		want.Reduce(x)
		ReduceNumeric(&got, x)
		if want.String() != got.String() || want.Exponent != got.Exponent || want.Negative != got.Negative {
			t.Errorf("ReduceNumeric(%s) = %s (exp %d), apd's Reduce %s (exp %d)", s, got.String(), got.Exponent, want.String(), want.Exponent)
		}
	}
	big, _, _ := apd.NewFromString("1E70900")
	var sub apd.Decimal
	if _, err := apd.BaseContext.WithPrecision(80000).Sub(&sub, apd.New(0, -1), big); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var red apd.Decimal
	ReduceNumeric(&red, &sub)
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("reducing a %d-digit coefficient took %v", sub.NumDigits(), d)
	}
	if red.Exponent != 70900 || red.Coeff.Int64() != 1 || !red.Negative {
		t.Errorf("ReduceNumeric(-1E70900 as 0.0 - 1E70900) = %s", red.String())
	}
}

// TestPushShortcuts: PushNull, PushInt and PushString pack what Push
// packs for the same datums.
func TestPushShortcuts(t *testing.T) {
	var a, b Packer
	for _, v := range []int64{0, 1, -1, 63, -64, 64, 1 << 40, -1 << 62, math.MaxInt64, math.MinInt64} {
		for _, k := range []Kind{KindInt2, KindInt4, KindInt8, KindOid, KindDate, KindTime, KindTimestamp, KindTimestampTz} {
			a.Push(Datum{kind: k, i: v})
			b.PushInt(k, v)
		}
	}
	for _, s := range []string{"", "a", "héllo", strings.Repeat("x", 200)} {
		for _, k := range []Kind{KindText, KindVarchar, KindChar, KindBytea} {
			a.Push(Datum{kind: k, s: s})
			b.PushString(k, []byte(s))
		}
	}
	a.Push(Null)
	b.PushNull()
	if !bytes.Equal(a.Row(), b.Row()) {
		t.Fatalf("Push %x\nshortcuts %x", a.Row(), b.Row())
	}
}
