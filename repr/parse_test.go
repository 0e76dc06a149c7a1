package repr

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/viewd/viewd/pgcode"
)

// ptShow parses s as t and prints the result's text output, or
// "error CODE: message".
func ptShow(s string, t ScalarType) string {
	d, err := ParseText(s, t)
	if err != nil {
		var pe *pgcode.Error
		if errors.As(err, &pe) {
			return fmt.Sprintf("error %s: %s", pe.Code, pe.Message)
		}
		return "error ?: " + err.Error()
	}
	if d.IsNull() {
		return "NULL"
	}
	return string(AppendText(nil, d))
}

// Expected outputs checked against PostgreSQL 15 (except where noted).
func TestParseText(t *testing.T) {
	intArr := ArrayOf(TypeInt4)
	textArr := ArrayOf(TypeText)
	cases := []struct {
		in   string
		typ  ScalarType
		want string
	}{
		{"yes", TypeBool, "t"},
		{" on ", TypeBool, "t"},
		{"of", TypeBool, "f"},
		{"TRU", TypeBool, "t"},
		{"1", TypeBool, "t"},
		{"o", TypeBool, `error 22P02: invalid input syntax for type boolean: "o"`},
		{" -12 ", TypeInt2, "-12"},
		{"+7", TypeInt8, "7"},
		{"2147483648", TypeInt4, `error 22003: value "2147483648" is out of range for type integer`},
		{"1_000", TypeInt4, `error 22P02: invalid input syntax for type integer: "1_000"`},
		{"", TypeInt4, `error 22P02: invalid input syntax for type integer: ""`},
		{"12a", TypeInt8, `error 22P02: invalid input syntax for type bigint: "12a"`},
		{" 1.5e3 ", TypeFloat8, "1500"},
		{"inf", TypeFloat8, "Infinity"},
		{"-Infinity", TypeFloat4, "-Infinity"},
		{"nan", TypeFloat8, "NaN"},
		{"1e-400", TypeFloat8, `error 22003: "1e-400" is out of range for type double precision`},
		{"3.4e39", TypeFloat4, `error 22003: "3.4e39" is out of range for type real`},
		{"0x10", TypeFloat8, `error 22P02: invalid input syntax for type double precision: "0x10"`},
		{" 1.50 ", TypeNumeric, "1.50"},
		{"1e3", TypeNumeric, "1000"},
		{"-0.0", TypeNumeric, "0.0"},
		{"Infinity", TypeNumeric, "Infinity"},
		{".5", TypeNumeric, "0.5"},
		{"5.", TypeNumeric, "5"},
		{"1e", TypeNumeric, `error 22P02: invalid input syntax for type numeric: "1e"`},
		{"January 2, 2024", TypeDate, "2024-01-02"},
		{"2 Jan 2024", TypeDate, "2024-01-02"},
		{"0044-03-15 BC", TypeDate, "0044-03-15 BC"},
		{"epoch", TypeDate, "1970-01-01"},
		{"2024-02-30", TypeDate, `error 22008: date/time field value out of range: "2024-02-30"`},
		{"hello", TypeDate, `error 22007: invalid input syntax for type date: "hello"`},
		{"24:00:00", TypeTime, "24:00:00"},
		{"1:02", TypeTime, "01:02:00"},
		{"12:00:00.1234567", TypeTime, "12:00:00.123457"},
		{"25:00", TypeTime, `error 22008: date/time field value out of range: "25:00"`},
		{"2024-01-02T03:04:05.678Z", TypeTimestampTz, "2024-01-02 03:04:05.678+00"},
		{"2024-01-02 03:04:05+05:30", TypeTimestampTz, "2024-01-01 21:34:05+00"},
		{"2024-01-02 03:04:05 UTC", TypeTimestampTz, "2024-01-02 03:04:05+00"},
		{"2024-01-02 03:04:05-0800", TypeTimestampTz, "2024-01-02 11:04:05+00"},
		{"2024-01-02 03:04:05+05", TypeTimestamp, "2024-01-02 03:04:05"},
		{"2024-07-01 12:00:00 Europe/Paris", TypeTimestampTz, "2024-07-01 10:00:00+00"},
		{"0001-01-01 00:00:00 BC", TypeTimestamp, "0001-01-01 00:00:00 BC"},
		{"2024-01-02 03:04", TypeTimestamp, "2024-01-02 03:04:00"},
		{"2024-01-02 junk", TypeTimestamp, `error 22007: invalid input syntax for type timestamp: "2024-01-02 junk"`},
		{"1 year 2 mons 3 days 04:05:06", TypeInterval, "1 year 2 mons 3 days 04:05:06"},
		{"P1Y2M3DT4H5M6S", TypeInterval, "1 year 2 mons 3 days 04:05:06"},
		{"P1W", TypeInterval, "7 days"},
		{"1.5 years", TypeInterval, "1 year 6 mons"},
		{"3 hours 2 minutes", TypeInterval, "03:02:00"},
		{"100", TypeInterval, "00:01:40"},
		{"1 d 2 h", TypeInterval, "1 day 02:00:00"},
		{"-04:05:06", TypeInterval, "-04:05:06"},
		{"PT1.5S", TypeInterval, "00:00:01.5"},
		{"1 fortnight", TypeInterval, `error 22007: invalid input syntax for type interval: "1 fortnight"`},
		{"1:02.37", TypeInterval, "00:01:02.37"},
		// Qualified intervals (interval '3' MONTH): a bare number counts
		// in the rightmost field, lower fields are dropped; each checked
		// against PostgreSQL 15.
		{"3", IntervalType(IntervalMonth, IntervalFullPrecision), "3 mons"},
		{"71", IntervalType(IntervalDay, IntervalFullPrecision), "71 days"},
		{"40", IntervalType(IntervalMonth, IntervalFullPrecision), "3 years 4 mons"},
		{"40 months", IntervalType(IntervalYear, IntervalFullPrecision), "3 years"},
		{"-1.5", IntervalType(IntervalYear, IntervalFullPrecision), "-1 years"},
		{"1-2", IntervalType(IntervalYear|IntervalMonth, IntervalFullPrecision), "1 year 2 mons"},
		{"2.5", IntervalType(IntervalDay, IntervalFullPrecision), "2 days"},
		{"2 days 3 hours", IntervalType(IntervalDay, IntervalFullPrecision), "2 days"},
		{"3", IntervalType(IntervalHour|IntervalMinute, IntervalFullPrecision), "00:03:00"},
		{"1 2", IntervalType(IntervalDay|IntervalHour, IntervalFullPrecision), "1 day 02:00:00"},
		{"1 2", TypeInterval, `error 22007: invalid input syntax for type interval: "1 2"`},
		{"1 day 2", TypeInterval, "1 day 00:00:02"},
		{"1 2:03:04.5678", IntervalType(IntervalDay|IntervalHour|IntervalMinute|IntervalSecond, 2), "1 day 02:03:04.57"},
		{"1:30", IntervalType(IntervalMinute|IntervalSecond, IntervalFullPrecision), "00:01:30"},
		{"1:02.37", IntervalType(IntervalMinute|IntervalSecond, 1), "00:01:02.4"},
		{"1.23456", IntervalType(IntervalFullRange, 2), "00:00:01.23"},
		{"-1.235", IntervalType(IntervalFullRange, 2), "-00:00:01.24"},
		{"{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}", TypeUUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"a0eebc999c0b4ef8bb6d6bb9bd380a11", TypeUUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11", TypeUUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{"a0eebc99", TypeUUID, `error 22P02: invalid input syntax for type uuid: "a0eebc99"`},
		{`\x 01 02`, TypeBytea, `\x0102`},
		{`\x1`, TypeBytea, `error 22023: invalid hexadecimal data: odd number of digits`},
		{`\x0102`, TypeBytea, `\x0102`},
		{`a\134b\\c`, TypeBytea, `\x615c625c63`},
		{`a\b`, TypeBytea, "error 22P02: invalid input syntax for type bytea"},
		{"{{1,2},{3,4}}", ArrayOf(intArr), "{{1,2},{3,4}}"},
		{`{"a,b", "c\\d", "", NULL, null, "NULL"}`, textArr, `{"a,b","c\\d","",NULL,NULL,"NULL"}`},
		{"{}", textArr, "{}"},
		{"[1:2]={7,8}", intArr, "{7,8}"},
		{"{1,{2}}", intArr, `error 22P02: malformed array literal: "{1,{2}}"`},
		{"{1,2", intArr, `error 22P02: malformed array literal: "{1,2"`},
		{"{1,x}", intArr, `error 22P02: invalid input syntax for type integer: "x"`},
		{"12", TypeOid, "12"},
		{`{"b":1,"a":2,"b":3}`, TypeJsonb, `{"a": 2, "b": 3}`},
		{"(1,2)", TypeRecord, "error 0A000: input of anonymous composite types is not implemented"},
	}
	for _, c := range cases {
		if got := ptShow(c.in, c.typ); got != c.want {
			t.Errorf("ParseText(%q, %s) = %s, want %s", c.in, c.typ, got, c.want)
		}
	}
}

func TestParseTextValues(t *testing.T) {
	// Values that the text output does not show fully.
	d, err := ParseText("-1 day +02:03", TypeInterval)
	if err != nil || d.Interval() != (Interval{Days: -1, Micros: 2*MicrosPerHour + 3*MicrosPerMinute}) {
		t.Errorf("interval: %v %v", d.Interval(), err)
	}
	d, err = ParseText("@ 1 day 2 hours ago", TypeInterval)
	if err != nil || d.Interval() != (Interval{Days: -1, Micros: -2 * MicrosPerHour}) {
		t.Errorf("interval ago: %v %v", d.Interval(), err)
	}
	d, err = ParseText("1 mon -1 day", TypeInterval)
	if err != nil || d.Interval() != (Interval{Months: 1, Days: -1}) {
		t.Errorf("interval mixed signs: %v %v", d.Interval(), err)
	}
	d, err = ParseText("  abc ", TypeVarchar)
	if err != nil || d.Kind() != KindVarchar || d.Str() != "  abc " {
		t.Errorf("varchar keeps its text: %q %v", d.Str(), err)
	}
}

func TestCivilDays(t *testing.T) {
	for _, c := range []struct{ y, m, d, days int64 }{
		{1970, 1, 1, 0}, {2000, 3, 1, 11017}, {1969, 12, 31, -1}, {0, 12, 31, -719163}, {0, 1, 1, -719528}, {1, 1, 1, -719162}, {-4713, 11, 24, -2440588},
	} {
		if got := DaysFromCivil(c.y, c.m, c.d); got != c.days {
			t.Errorf("DaysFromCivil(%d-%d-%d) = %d, want %d", c.y, c.m, c.d, got, c.days)
		}
		y, m, d := CivilFromDays(c.days)
		if y != c.y || m != c.m || d != c.d {
			t.Errorf("CivilFromDays(%d) = %d-%d-%d", c.days, y, m, d)
		}
	}
	for z := int64(-800000); z < 800000; z += 997 {
		y, m, d := CivilFromDays(z)
		if DaysFromCivil(y, m, d) != z || d > DaysInMonth(y, m) {
			t.Fatalf("civil round trip failed at %d: %d-%d-%d", z, y, m, d)
		}
	}
}

// TestParseTextNoPanics feeds random and mutated strings to every input
// function: each must return a datum of its type or a *pgcode.Error.
func TestParseTextNoPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	types := []ScalarType{TypeBool, TypeInt2, TypeInt4, TypeInt8, TypeFloat4, TypeFloat8, TypeNumeric,
		TypeText, TypeBytea, TypeDate, TypeTime, TypeTimestamp, TypeTimestampTz, TypeInterval, TypeUUID,
		TypeJsonb, TypeOid, ArrayOf(TypeInt4), ArrayOf(ArrayOf(TypeText)), ArrayOf(TypeJsonb)}
	seeds := []string{"1", "-1.5e3", "2020-01-02 03:04:05+05:30", "1 year 2 mons -3 days 04:05:06.7",
		"P1Y2M3DT4H5M6S", `{"a":[1,{"b":null}],"c":"\u00e9"}`, `{1,"a b",NULL,{2}}`, `\x0aff`,
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "January 2, 2024 BC", "12:00 pm", "1/2/2020", "1-2", "@ 3 days ago"}
	const alphabet = "0123456789-+.:eE ,{}[]\"\\/TZPYMDHSnulltrfaxbc@"
	for i := 0; i < 20000; i++ {
		var s string
		if i%2 == 0 {
			b := []byte(seeds[rng.IntN(len(seeds))])
			for k := rng.IntN(4); k >= 0 && len(b) > 0; k-- {
				j := rng.IntN(len(b))
				switch rng.IntN(3) {
				case 0:
					b[j] = alphabet[rng.IntN(len(alphabet))]
				case 1:
					b = append(b[:j], b[j+1:]...)
				default:
					b = append(b[:j], append([]byte{alphabet[rng.IntN(len(alphabet))]}, b[j:]...)...)
				}
			}
			s = string(b)
		} else {
			b := make([]byte, rng.IntN(16))
			for j := range b {
				b[j] = alphabet[rng.IntN(len(alphabet))]
			}
			s = string(b)
		}
		for _, typ := range types {
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("ParseText(%q, %s) panicked: %v", s, typ, r)
					}
				}()
				d, err := ParseText(s, typ)
				if err != nil {
					var pe *pgcode.Error
					if !errors.As(err, &pe) {
						t.Fatalf("ParseText(%q, %s): error %v is not a *pgcode.Error", s, typ, err)
					}
					return
				}
				if d.Kind() != typ.Kind {
					t.Fatalf("ParseText(%q, %s) = kind %v", s, typ, d.Kind())
				}
				// Whatever parses must print and parse back to an equal value.
				back, err := ParseText(string(AppendText(nil, d)), typ)
				if err != nil || Compare(back, d) != 0 {
					t.Fatalf("ParseText(%q, %s) = %s does not read back: %v %v", s, typ, d.Text(), back.Text(), err)
				}
			}()
		}
	}
}
