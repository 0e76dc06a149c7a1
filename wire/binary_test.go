package wire

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cockroachdb/apd/v3"
	"github.com/viewd/viewd/repr"
)

// TestBinaryGolden checks encodings byte for byte against what
// PostgreSQL's send functions produce (values from a PostgreSQL 15
// server's binary COPY / SELECT output).
func TestBinaryGolden(t *testing.T) {
	ts := func(s string) int64 {
		us, err := repr.ParseTimestamp(s, false)
		if err != nil {
			t.Fatal(err)
		}
		return us
	}
	cases := []struct {
		name string
		d    repr.Datum
		t    repr.ScalarType
		hex  string
	}{
		{"bool", repr.True, repr.TypeBool, "01"},
		{"int2", repr.Int2Datum(-2), repr.TypeInt2, "fffe"},
		{"int4", repr.Int4Datum(258), repr.TypeInt4, "00000102"},
		{"int8", repr.Int8Datum(-1), repr.TypeInt8, "ffffffffffffffff"},
		{"float4", repr.Float4Datum(1.5), repr.TypeFloat4, "3fc00000"},
		{"float8", repr.Float8Datum(-2.25), repr.TypeFloat8, "c002000000000000"},
		// ndigits, weight, sign, dscale, digits (base 10000)
		{"numeric", mustNumeric("12345.6789"), repr.TypeNumeric, "0003" + "0001" + "0000" + "0004" + "0001" + "0929" + "1a85"},
		{"numeric small", mustNumeric("-0.00012"), repr.TypeNumeric, "0002" + "ffff" + "4000" + "0005" + "0001" + "07d0"},
		{"numeric big", mustNumeric("100000000"), repr.TypeNumeric, "0001" + "0002" + "0000" + "0000" + "0001"},
		{"numeric zero scale 2", mustNumeric("0.00"), repr.TypeNumeric, "0000" + "0000" + "0000" + "0002"},
		{"numeric typed scale", mustNumeric("2.5"), repr.NumericType(10, 3), "0002" + "0000" + "0000" + "0003" + "0002" + "1388"},
		{"numeric NaN", repr.NumericDatum(&apd.Decimal{Form: apd.NaN}), repr.TypeNumeric, "0000" + "0000" + "c000" + "0000"},
		{"numeric -Inf", repr.NumericDatum(&apd.Decimal{Form: apd.Infinite, Negative: true}), repr.TypeNumeric, "0000" + "0000" + "f000" + "0000"},
		{"text", repr.TextDatum("hé"), repr.TypeText, "68c3a9"},
		{"bytea", repr.ByteaDatum([]byte{0, 0xff}), repr.TypeBytea, "00ff"},
		{"date epoch", repr.DateDatum(10957), repr.TypeDate, "00000000"},
		{"date 1970", repr.DateDatum(0), repr.TypeDate, "ffffd533"},
		{"time", repr.TimeDatum(1), repr.TypeTime, "0000000000000001"},
		{"timestamp", repr.TimestampDatum(ts("2000-01-01 00:00:01")), repr.TypeTimestamp, "00000000000f4240"},
		{"timestamptz", repr.TimestampTzDatum(ts("1999-12-31 23:59:59")), repr.TypeTimestampTz, "fffffffffff0bdc0"},
		{"interval", repr.IntervalDatum(repr.Interval{Months: 2, Days: -1, Micros: 5}), repr.TypeInterval, "0000000000000005" + "ffffffff" + "00000002"},
		{"uuid", repr.UUIDDatum([16]byte{15: 1}), repr.TypeUUID, "00000000000000000000000000000001"},
		{"jsonb", repr.JsonbDatum(`{"a": 1}`), repr.TypeJsonb, "01" + hex.EncodeToString([]byte(`{"a": 1}`))},
		{"oid", repr.OidDatum(4000000000), repr.TypeOid, "ee6b2800"},
		{"int4[]", repr.ArrayDatum([]repr.Datum{repr.Int4Datum(1), repr.Null}), repr.ArrayOf(repr.TypeInt4),
			"00000001" + "00000001" + "00000017" + "00000002" + "00000001" + "00000004" + "00000001" + "ffffffff"},
		{"empty text[]", repr.ArrayDatum(nil), repr.ArrayOf(repr.TypeText), "00000000" + "00000000" + "00000019"},
		{"record", repr.RecordDatum([]repr.Datum{repr.Int4Datum(7), repr.TextDatum("x"), repr.Null}), repr.TypeRecord,
			"00000003" + "00000017" + "00000004" + "00000007" + "00000019" + "00000001" + "78" + "00000019" + "ffffffff"},
	}
	for _, c := range cases {
		got, err := appendBinary(nil, c.d, c.t)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if hex.EncodeToString(got) != c.hex {
			t.Errorf("%s: encoded %x, want %s", c.name, got, c.hex)
			continue
		}
		back, err := decodeBinary(got, c.t, c.t.Oid())
		if err != nil {
			t.Errorf("%s: decode: %v", c.name, err)
			continue
		}
		if c.t.Kind == repr.KindNumeric {
			// Compare the text the column shows: the scale is part of it.
			if a, b := string(repr.AppendTextTyped(nil, c.d, c.t)), string(repr.AppendText(nil, back)); a != b {
				t.Errorf("%s: decoded %s, want %s", c.name, b, a)
			}
			continue
		}
		if !repr.Equal(back, c.d) || back.Kind() != c.d.Kind() {
			t.Errorf("%s: decoded %v (%v), want %v", c.name, back, back.Kind(), c.d)
		}
	}
}

// TestNumericBinaryRandom round-trips random decimals through
// numeric_send/recv's format.
func TestNumericBinaryRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		if r.IntN(2) == 0 {
			b.WriteByte('-')
		}
		for n := 1 + r.IntN(25); n > 0; n-- {
			b.WriteByte(byte('0' + r.IntN(10)))
		}
		if r.IntN(3) > 0 {
			b.WriteByte('.')
			for n := 1 + r.IntN(25); n > 0; n-- {
				b.WriteByte(byte('0' + r.IntN(10)))
			}
		}
		in, _, err := apd.NewFromString(b.String())
		if err != nil {
			t.Fatal(err)
		}
		enc, err := appendNumericBinary(nil, in, -1)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, err := decodeNumericBinary(enc)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if out.Cmp(in) != 0 || out.Exponent != min(in.Exponent, 0) {
			t.Fatalf("%s came back as %s", in, out)
		}
	}
}

func TestDecodeBinaryErrors(t *testing.T) {
	cases := []struct {
		name string
		b    string
		t    repr.ScalarType
		code string
	}{
		{"short int4", "0001", repr.TypeInt4, "22P03"},
		{"numeric bad digit", "0001" + "0000" + "0000" + "0000" + "2710", repr.TypeNumeric, "22P03"},
		{"numeric bad sign", "0000" + "0000" + "1234" + "0000", repr.TypeNumeric, "22P03"},
		{"jsonb version", "02" + "7b7d", repr.TypeJsonb, "22P03"},
		{"invalid utf8", "ff", repr.TypeText, "22021"},
		{"array 2-D", "00000002" + "00000000" + "00000017", repr.ArrayOf(repr.TypeInt4), "0A000"},
		{"array short", "00000001" + "00000000" + "00000017" + "00000002" + "00000001" + "00000004", repr.ArrayOf(repr.TypeInt4), "22P03"},
		{"array elem type", "00000001" + "00000000" + "00000019" + "00000000" + "00000001", repr.ArrayOf(repr.TypeInt4), "42804"},
		{"time range", "0000001500000000", repr.TypeTime, "22P03"},
	}
	for _, c := range cases {
		b, _ := hex.DecodeString(c.b)
		_, err := decodeBinary(b, c.t, c.t.Oid())
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		if got := string(errorResponse(err, "", 0).Code); got != c.code {
			t.Errorf("%s: code %s (%v), want %s", c.name, got, err, c.code)
		}
	}
	// json (OID 114) parameters carry no version byte.
	d, err := decodeBinary([]byte(`{"b":2, "a":1}`), repr.TypeJsonb, repr.OidJSON)
	if err != nil || d.Str() != `{"a": 1, "b": 2}` {
		t.Errorf("json param: %q %v", d.Str(), err)
	}
}

func TestBinaryKindMismatch(t *testing.T) {
	if _, err := appendBinary(nil, repr.Int4Datum(1), repr.TypeNumeric); err == nil {
		t.Error("int4 datum sent as numeric")
	}
	if _, err := appendBinary(nil, repr.Int2Datum(1), repr.TypeInt8); err != nil {
		t.Errorf("int2 datum as int8: %v", err)
	}
	if _, err := appendBinary(nil, repr.ArrayDatum([]repr.Datum{repr.TextDatum("x")}), repr.ArrayOf(repr.TypeInt4)); err == nil {
		t.Error("text element sent as int4")
	}
}
