package expr

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// The helpers of this file are prefixed with b so that they do not collide
// with the golden test's miniature planner.

// bTypes names the types test cases use.
var bTypes = map[string]repr.ScalarType{
	"unknown": repr.TypeUnknown, "bool": tBool, "int2": tInt2, "int4": tInt4, "int8": tInt8,
	"float4": tFloat4, "float8": tFloat8, "numeric": tNumeric, "text": tText, "varchar": tVarchar,
	"bpchar": tChar, "bytea": tBytea, "date": tDate, "time": tTime, "timestamp": tTimestamp,
	"timestamptz": tTimestampTz, "interval": tInterval, "uuid": tUUID, "jsonb": tJsonb, "oid": tOid,
	"varchar(3)":   repr.ScalarType{Kind: repr.KindVarchar, Typmod: 3},
	"bpchar(4)":    repr.ScalarType{Kind: repr.KindChar, Typmod: 4},
	"bpchar(5)":    repr.ScalarType{Kind: repr.KindChar, Typmod: 5},
	"bpchar(3)":    repr.ScalarType{Kind: repr.KindChar, Typmod: 3},
	"numeric(5,2)": repr.NumericType(5, 2),
}

func bType(t testing.TB, name string) repr.ScalarType {
	t.Helper()
	if strings.HasSuffix(name, "[]") {
		return repr.ArrayOf(bType(t, strings.TrimSuffix(name, "[]")))
	}
	typ, ok := bTypes[name]
	if !ok {
		t.Fatalf("unknown test type %q", name)
	}
	return typ
}

// bArg parses "text::type" (or "null::type") into a literal; the text goes
// through the type's input function.
func bArg(t testing.TB, spec string) (Scalar, repr.ScalarType) {
	t.Helper()
	i := strings.LastIndex(spec, "::")
	if i < 0 {
		t.Fatalf("bad argument %q: want text::type", spec)
	}
	text, typ := spec[:i], bType(t, spec[i+2:])
	if text == "null" {
		return NullLiteral(typ), typ
	}
	if typ.Kind == repr.KindNull {
		return Literal{Value: repr.TextDatum(text), Typ: repr.ColumnType{Type: typ}}, typ
	}
	d, err := repr.ParseText(text, typ)
	if err != nil {
		t.Fatalf("argument %q: %v", spec, err)
	}
	return NewLiteral(d, typ), typ
}

// bBuild resolves name among overloads for the arguments, casting them to
// the chosen parameter types as the planner does.
func bBuild(t testing.TB, name string, overloads []Overload, specs []string) (Scalar, repr.ScalarType, error) {
	t.Helper()
	args := make([]Scalar, len(specs))
	types := make([]repr.ScalarType, len(specs))
	for i, s := range specs {
		args[i], types[i] = bArg(t, s)
	}
	res, err := Resolve(name, overloads, types)
	if err != nil {
		return nil, repr.ScalarType{}, err
	}
	for i := range args {
		if types[i].Kind == repr.KindNull && res.ArgTypes[i].Kind != repr.KindNull {
			c, err := NewCast(args[i], types[i], res.ArgTypes[i], Implicit)
			if err != nil {
				return nil, repr.ScalarType{}, err
			}
			args[i] = c
			continue
		}
		c, err := NewCast(args[i], types[i], res.ArgTypes[i], Implicit)
		if err != nil {
			return nil, repr.ScalarType{}, err
		}
		args[i] = c
	}
	return Call{Func: res.Func, Args: args}, res.Func.Ret, nil
}

// bShow prints a result as "value" (NULL for NULL) or "error CODE: msg".
func bShow(d repr.Datum, typ repr.ScalarType, err error) string {
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
	return string(repr.AppendTextTyped(nil, d, typ))
}

type bCase struct {
	kind string // "f" function, "b" binary operator, "u" unary operator
	name string
	args []string
	want string
}

func bRun(t *testing.T, cases []bCase) {
	t.Helper()
	ctx := &EvalCtx{StmtTime: 1_589_710_272_500_000, LogicalNow: 1234}
	for _, c := range cases {
		var ovs []Overload
		switch c.kind {
		case "f":
			ovs = LookupFunc(c.name)
		case "b":
			ovs = LookupBinaryOp(c.name)
		case "u":
			ovs = LookupUnaryOp(c.name)
		}
		label := fmt.Sprintf("%s %s(%s)", c.kind, c.name, strings.Join(c.args, ", "))
		e, typ, err := bBuild(t, c.name, ovs, c.args)
		var got string
		if err != nil {
			got = bShow(repr.Null, typ, err)
		} else {
			d, err := Eval(ctx, e, nil)
			got = bShow(d, typ, err)
		}
		if got != c.want {
			t.Errorf("%s = %q, want %q", label, got, c.want)
		}
	}
}

// Expected values below were checked against PostgreSQL 15.

func TestNumericScales(t *testing.T) {
	bRun(t, []bCase{
		{"b", "/", []string{"1::numeric", "3::numeric"}, "0.33333333333333333333"},
		{"b", "/", []string{"10::numeric", "4::numeric"}, "2.5000000000000000"},
		{"b", "/", []string{"1::numeric", "7000::numeric"}, "0.00014285714285714286"},
		{"b", "/", []string{"123456789::numeric", "0.001::numeric"}, "123456789000.00000000"},
		{"b", "/", []string{"2::numeric", "3.000::numeric"}, "0.66666666666666666667"},
		{"b", "/", []string{"1::numeric", "0::numeric"}, "error 22012: division by zero"},
		{"b", "%", []string{"7.5::numeric", "2::numeric"}, "1.5"},
		{"b", "^", []string{"2::numeric", "10::numeric"}, "1024.0000000000000000"},
		{"f", "power", []string{"2::numeric", "0.5::numeric"}, "1.4142135623730950"},
		{"f", "power", []string{"1.5::numeric", "3::numeric"}, "3.3750000000000000"},
		{"f", "sqrt", []string{"2::numeric"}, "1.414213562373095"},
		{"f", "sqrt", []string{"100::numeric"}, "10.000000000000000"},
		{"f", "exp", []string{"1::numeric"}, "2.7182818284590452"},
		{"f", "ln", []string{"2::numeric"}, "0.6931471805599453"},
		{"f", "ln", []string{"1.05::numeric"}, "0.048790164169432003"},
		{"f", "log", []string{"100::numeric"}, "2.0000000000000000"},
		{"f", "log", []string{"2::numeric", "8::numeric"}, "3.0000000000000000"},
		{"f", "log", []string{"Infinity::numeric", "Infinity::numeric"}, "NaN"},
		{"f", "log", []string{"2::numeric", "Infinity::numeric"}, "Infinity"},
		{"f", "log", []string{"Infinity::numeric", "2::numeric"}, "0"},
		{"f", "power", []string{"Infinity::numeric", "0::numeric"}, "1"},
		{"f", "power", []string{"2::numeric", "Infinity::numeric"}, "Infinity"},
		{"f", "power", []string{"0.5::numeric", "Infinity::numeric"}, "0"},
		{"f", "power", []string{"1::numeric", "NaN::numeric"}, "1"},
		{"f", "round", []string{"2.5::numeric"}, "3"},
		{"f", "round", []string{"-2.5::numeric"}, "-3"},
		{"f", "round", []string{"1234.5::numeric", "-2::int4"}, "1200"},
		{"f", "trunc", []string{"-1.99::numeric"}, "-1"},
		{"f", "ceil", []string{"1e-30::numeric"}, "1"},
		{"f", "floor", []string{"-1e-30::numeric"}, "-1"},
		{"f", "ceil", []string{"-0.5::numeric"}, "0"},
		{"f", "floor", []string{"1e3::numeric"}, "1000"},
		{"b", "*", []string{"1.50::numeric", "2.0::numeric"}, "3.000"},
		{"b", "+", []string{"1.5::numeric", "2.25::numeric"}, "3.75"},
	})
}

func TestIntegerAndFloatArithmetic(t *testing.T) {
	bRun(t, []bCase{
		{"b", "+", []string{"2147483647::int4", "1::int4"}, "error 22003: integer out of range"},
		{"b", "-", []string{"-32768::int2", "1::int2"}, "error 22003: smallint out of range"},
		{"b", "*", []string{"4611686018427387904::int8", "2::int8"}, "error 22003: bigint out of range"},
		{"b", "*", []string{"-4611686018427387904::int8", "2::int8"}, "-9223372036854775808"},
		{"b", "/", []string{"-9223372036854775808::int8", "-1::int8"}, "error 22003: bigint out of range"},
		{"b", "/", []string{"-7::int4", "2::int4"}, "-3"},
		{"b", "%", []string{"-7::int4", "3::int4"}, "-1"},
		{"b", "+", []string{"1::int2", "1::int8"}, "2"},
		{"u", "-", []string{"-2147483648::int4"}, "error 22003: integer out of range"},
		{"u", "@", []string{"-5::int4"}, "5"},
		{"u", "~", []string{"5::int4"}, "-6"},
		{"b", "<<", []string{"1::int4", "4::int4"}, "16"},
		{"b", ">>", []string{"-17::int4", "2::int4"}, "-5"},
		{"b", "*", []string{"1e308::float8", "10::float8"}, "error 22003: value out of range: overflow"},
		{"b", "*", []string{"1e-300::float8", "1e-300::float8"}, "error 22003: value out of range: underflow"},
		{"b", "/", []string{"1::float8", "0::float8"}, "error 22012: division by zero"},
		{"b", "+", []string{"Infinity::float8", "1::float8"}, "Infinity"},
		{"b", "*", []string{"3e38::float4", "10::float4"}, "error 22003: value out of range: overflow"},
		{"f", "cbrt", []string{"27::float8"}, "3.0000000000000004"},
		{"f", "round", []string{"2.5::float8"}, "2"},
		{"f", "sqrt", []string{"-1::float8"}, "error 2201F: cannot take square root of a negative number"},
		{"f", "ln", []string{"0::float8"}, "error 2201E: cannot take logarithm of zero"},
		{"f", "power", []string{"0::float8", "-1::float8"}, "error 2201F: zero raised to a negative power is undefined"},
		{"f", "power", []string{"-8::float8", "0.5::float8"}, "error 2201F: a negative number raised to a non-integer power yields a complex result"},
		{"f", "mod", []string{"7::int4", "0::int4"}, "error 22012: division by zero"},
		{"f", "to_hex", []string{"-1::int4"}, "ffffffff"},
		{"f", "to_hex", []string{"255::int8"}, "ff"},
	})
}

func TestStringFunctions(t *testing.T) {
	bRun(t, []bCase{
		{"f", "split_part", []string{"a,b,c::text", ",::text", "-1::int4"}, "c"},
		{"f", "split_part", []string{"a,b,c::text", ",::text", "0::int4"}, "error 22023: field position must not be zero"},
		{"f", "initcap", []string{"hello wORLD foo-bar::text"}, "Hello World Foo-Bar"},
		{"f", "concat", []string{"a::text", "1::int4", "null::text", "true::bool"}, "a1t"},
		{"f", "concat_ws", []string{"-::text", "a::text", "null::text", "2::int4"}, "a-2"},
		{"f", "concat_ws", []string{"null::text", "a::text"}, "NULL"},
		{"f", "lpad", []string{"abc::text", "2::int4"}, "ab"},
		{"f", "lpad", []string{"hi::text", "5::int4", "xy::text"}, "xyxhi"},
		{"f", "rpad", []string{"hi::text", "5::int4", "*::text"}, "hi***"},
		{"f", "translate", []string{"12345::text", "143::text", "ax::text"}, "a2x5"},
		{"f", "substr", []string{"hello::text", "0::int4", "3::int4"}, "he"},
		{"f", "substr", []string{"hello::text", "-1::int4", "3::int4"}, "h"},
		{"f", "substr", []string{"hello::text", "2::int4", "-1::int4"}, "error 22011: negative substring length not allowed"},
		{"f", "substr", []string{"héllo::text", "2::int4", "2::int4"}, "él"},
		{"f", "length", []string{"héllo::text"}, "5"},
		{"f", "length", []string{"ab  ::bpchar(4)"}, "2"},
		{"f", "octet_length", []string{"ab  ::bpchar(4)"}, "4"},
		{"b", "||", []string{"abc::bpchar(5)", "x::unknown"}, "abcx"},
		{"f", "concat", nil, "error 42883: function concat() does not exist"},
		{"f", "octet_length", []string{"héllo::text"}, "6"},
		{"f", "strpos", []string{"héllo::text", "l::text"}, "3"},
		{"f", "position", []string{"hello::text", "ll::text"}, "3"},
		{"f", "left", []string{"hello::text", "-2::int4"}, "hel"},
		{"f", "right", []string{"hello::text", "-2::int4"}, "llo"},
		{"f", "repeat", []string{"ab::text", "-1::int4"}, ""},
		{"f", "reverse", []string{"abç::text"}, "çba"},
		{"f", "md5", []string{"abc::text"}, "900150983cd24fb0d6963f7d28e17f72"},
		{"f", "ascii", []string{"é::text"}, "233"},
		{"f", "chr", []string{"233::int4"}, "é"},
		{"f", "chr", []string{"0::int4"}, "error 54000: null character not permitted"},
		{"f", "btrim", []string{"xxabxx::text", "x::text"}, "ab"},
		{"f", "starts_with", []string{"alphabet::text", "alph::text"}, "t"},
		{"f", "replace", []string{"abcabc::text", "b::text", "XY::text"}, "aXYcaXYc"},
		{"b", "||", []string{"abc::unknown", "1::int4"}, "abc1"},
		{"b", "||", []string{"1::int4", "abc::unknown"}, "1abc"},
		{"b", "||", []string{"abc::text", "null::text"}, "NULL"},
		{"b", "||", []string{"true::bool", "x::unknown"}, "truex"},
		{"f", "quote_ident", []string{"Foo bar::text"}, `"Foo bar"`},
		{"f", "quote_ident", []string{"select::text"}, `"select"`},
		{"f", "substring", []string{"hello::text", "l+::text"}, "ll"},
		{"f", "substring", []string{"foobar::text", "o(.)b::text"}, "o"},
		{"f", "substring", []string{"foobar::text", "z::text"}, "NULL"},
		{"f", "overlay", []string{"Txxxxas::text", "hom::text", "2::int4", "4::int4"}, "Thomas"},
		{"f", "overlay", []string{"Txxxxas::text", "hom::text", "2::int4"}, "Thomxas"},
		{"f", "quote_literal", []string{"it's::text"}, `'it''s'`},
	})
}

func TestLikeAndRegex(t *testing.T) {
	bRun(t, []bCase{
		{"b", "~~", []string{"abc::text", "a%::text"}, "t"},
		{"b", "~~", []string{"abc::text", `a\_c::text`}, "f"},
		{"b", "~~", []string{"a_c::text", `a\_c::text`}, "t"},
		{"b", "~~", []string{"abc::text", "%b%::text"}, "t"},
		{"b", "~~", []string{"abc::text", "_::text"}, "f"},
		{"b", "~~", []string{"abc::text", `ab\::text`}, "error 22025: LIKE pattern must not end with escape character"},
		{"b", "~~*", []string{"ABC::text", "a%c::text"}, "t"},
		{"b", "!~~", []string{"abc::text", "a%::text"}, "f"},
		{"f", "like", []string{"a%c::text", "a#%c::text", "#::text"}, "t"},
		{"b", "~", []string{"abc::text", "^a.c$::text"}, "t"},
		{"b", "~*", []string{"ABC::text", "b::text"}, "t"},
		{"b", "!~", []string{"abc::text", "z::text"}, "t"},
		{"b", "~", []string{"abc::text", "(::text"}, "error 2201B: invalid regular expression: parentheses () not balanced"},
		{"f", "regexp_replace", []string{"foobarbaz::text", "b(..)::text", `X\1Y::text`, "g::text"}, "fooXarYXazY"},
		{"f", "regexp_replace", []string{"foobarbaz::text", "b(..)::text", `X\1Y::text`}, "fooXarYbaz"},
		{"f", "regexp_match", []string{"foobarbequebaz::text", "(bar)(beque)::text"}, "{bar,beque}"},
		{"f", "regexp_match", []string{"abc::text", "z::text"}, "NULL"},
		{"f", "regexp_replace", []string{"aaa::text", "a*::text", "X::text", "g::text"}, "XX"},
		{"f", "regexp_replace", []string{"abc::text", "x*::text", "-::text", "g::text"}, "-a-b-c-"},
		{"f", "regexp_match", []string{"abc::text", "B::text", "i::text"}, "{b}"},
	})
}

func TestComparisonsAndLogic(t *testing.T) {
	bRun(t, []bCase{
		{"b", "=", []string{"1::int4", "null::unknown"}, "NULL"},
		{"b", "=", []string{"1::int2", "1::int8"}, "t"},
		{"b", "=", []string{"ab::bpchar(3)", "ab::bpchar(5)"}, "t"},
		{"b", "<", []string{"ab ::bpchar(3)", "ab::bpchar(5)"}, "f"},
		{"b", "<", []string{"NaN::float8", "Infinity::float8"}, "f"},
		{"b", "=", []string{"NaN::float8", "NaN::float8"}, "t"},
		{"b", "=", []string{"1 day::interval", "24 hours::interval"}, "t"},
		{"b", "<", []string{"{1,2}::int4[]", "{1,3}::int4[]"}, "t"},
		{"b", "= ANY", []string{"1::int4", "{1,2,NULL}::int4[]"}, "t"},
		{"b", "= ANY", []string{"3::int4", "{1,2,NULL}::int4[]"}, "NULL"},
		{"b", "<> ALL", []string{"3::int4", "{1,2}::int4[]"}, "t"},
		{"b", "< ALL", []string{"1::int4", "{2,NULL}::int4[]"}, "NULL"},
		{"b", "< ALL", []string{"3::int4", "{2,NULL}::int4[]"}, "f"},
		{"b", "IS DISTINCT FROM", []string{"1::int4", "null::int4"}, "t"},
		{"b", "IS NOT DISTINCT FROM", []string{"null::int4", "null::int4"}, "t"},
		{"u", "IS NULL", []string{"null::int4"}, "t"},
		{"u", "IS NOT TRUE", []string{"null::bool"}, "t"},
		{"u", "IS FALSE", []string{"null::bool"}, "f"},
		{"u", "NOT", []string{"null::bool"}, "NULL"},
		{"f", "and", []string{"true::bool", "null::bool"}, "NULL"},
		{"f", "and", []string{"false::bool", "null::bool"}, "f"},
		{"f", "or", []string{"true::bool", "null::bool"}, "t"},
		{"f", "or", []string{"false::bool", "null::bool"}, "NULL"},
		{"f", "greatest", []string{"1::int4", "null::int4", "3::int4"}, "3"},
		{"f", "least", []string{"b::text", "a::text"}, "a"},
		{"f", "greatest", []string{"1::int4", "2.5::numeric"}, "2.5"},
		{"f", "nullif", []string{"1::int4", "1::int4"}, "NULL"},
		{"f", "coalesce", []string{"null::int4", "2::int4"}, "2"},
	})
}

func TestDatetimeFunctions(t *testing.T) {
	bRun(t, []bCase{
		{"b", "*", []string{"1 day 2 hours::interval", "2.5::float8"}, "2 days 17:00:00"},
		{"b", "*", []string{"1 mon::interval", "1.5::float8"}, "1 mon 15 days"},
		{"b", "/", []string{"1 mon::interval", "3::float8"}, "10 days"},
		{"b", "/", []string{"1 year::interval", "7::float8"}, "1 mon 21 days 10:17:08.5344"},
		{"b", "+", []string{"2020-01-31::date", "1 month::interval"}, "2020-02-29 00:00:00"},
		{"b", "+", []string{"2019-02-28::timestamp", "1 year 1 day::interval"}, "2020-02-29 00:00:00"},
		{"b", "-", []string{"2020-03-01::timestamp", "2020-02-01 12:00::timestamp"}, "28 days 12:00:00"},
		{"b", "+", []string{"5874897-12-31::date", "1::int4"}, "error 22008: date out of range"},
		{"b", "+", []string{"2020-01-01::timestamp", "2000000000 days::interval"}, "error 22008: timestamp out of range"},
		{"f", "date_trunc", []string{"week::text", "2020-01-01::timestamp"}, "2019-12-30 00:00:00"},
		{"f", "date_trunc", []string{"fortnight::text", "2020-01-01::timestamp"}, `error 22023: unit "fortnight" not recognized for type timestamp without time zone`},
		{"f", "date_part", []string{"isoyear::text", "2021-01-01::timestamp"}, "2020"},
		{"f", "extract", []string{"week::text", "2021-01-01::timestamp"}, "53"},
		{"f", "extract", []string{"dow::text", "2021-01-03::date"}, "0"},
		{"f", "extract", []string{"epoch::text", "1 year 1 mon::interval"}, "34149600.000000"},
		{"f", "extract", []string{"decade::text", "0005-01-01::date"}, "0"},
		{"f", "extract", []string{"century::text", "2001-01-01::date"}, "21"},
		{"f", "extract", []string{"millennium::text", "2000-12-31::date"}, "2"},
		{"f", "extract", []string{"hour::text", "2000-12-31::date"}, `error 0A000: unit "hour" not supported for type date`},
		{"f", "age", []string{"2020-05-17::timestamp", "2019-03-20 10:00::timestamp"}, "1 year 1 mon 27 days 14:00:00"},
		{"f", "make_date", []string{"2021::int4", "2::int4", "29::int4"}, "error 22008: date field value out of range: 2021-02-29"},
		{"f", "to_char", []string{"2020-05-07 13:04:05.123::timestamp", "DD/MM/YY HH12:MI AM::text"}, "07/05/20 01:04 PM"},
		{"f", "to_char", []string{"-1234.567::numeric", "9,999.99::text"}, "-1,234.57"},
		{"f", "to_char", []string{"0.5::numeric", "9.99::text"}, "  .50"},
		{"f", "to_char", []string{"0.5::numeric", "FM9.99::text"}, ".5"},
		{"f", "to_char", []string{"5::int4", "0999::text"}, " 0005"},
		{"f", "to_char", []string{"-5::int4", "999::text"}, "  -5"},
		{"f", "to_char", []string{"123456::int4", "999::text"}, " ###"},
		{"f", "to_char", []string{"12::int4", "S999::text"}, " +12"},
		{"f", "to_char", []string{"1234::int4", "FM9999.99::text"}, "1234."},
		{"f", "to_char", []string{"0::int4", "99.99::text"}, "   .00"},
		{"f", "to_char", []string{"0::int4", "999::text"}, "   0"},
		{"f", "to_char", []string{"0::int4", "FM99.99::text"}, "0."},
		{"f", "to_char", []string{"-0.4::numeric", "9::text"}, " 0"},
		{"f", "to_char", []string{"5::int4", "9,999::text"}, "     5"},
		// to_timestamp(text, text) and to_date, checked on PostgreSQL 15.
		{"f", "to_timestamp", []string{"2024-01-02 03:04:05::text", "YYYY-MM-DD HH24:MI:SS::text"}, "2024-01-02 03:04:05+00"},
		{"f", "to_timestamp", []string{"20240102::text", "YYYYMMDD::text"}, "2024-01-02 00:00:00+00"},
		{"f", "to_timestamp", []string{"05 Dec 2000::text", "DD Mon YYYY::text"}, "2000-12-05 00:00:00+00"},
		{"f", "to_timestamp", []string{"1/2/99 3:04 pm::text", "MM/DD/YY HH:MI am::text"}, "1999-01-02 15:04:00+00"},
		{"f", "to_timestamp", []string{"2024-01-02 03:04:05+05:30::text", "YYYY-MM-DD HH24:MI:SSTZH:TZM::text"}, "2024-01-01 21:34:05+00"},
		{"f", "to_timestamp", []string{"12:30::text", "HH24:MI::text"}, "0001-01-01 12:30:00+00 BC"},
		{"f", "to_timestamp", []string{"13 pm::text", "HH PM::text"}, `error 22007: hour "13" is invalid for the 12-hour clock`},
		{"f", "to_timestamp", []string{"2024-13-01::text", "YYYY-MM-DD::text"}, `error 22008: date/time field value out of range: "2024-13-01"`},
		{"f", "to_date", []string{"March 5, 2021::text", "Month DD, YYYY::text"}, "2021-03-05"},
		{"f", "sha256", []string{"abc::bytea"}, `\xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad`},
		{"f", "now", nil, "2020-05-17 10:11:12.5+00"},
		{"f", "current_date", nil, "2020-05-17"},
		{"f", "mz_now", nil, "1234"},
	})
}

func TestJSONBFunctions(t *testing.T) {
	bRun(t, []bCase{
		{"b", "=", []string{`{"a":1}::jsonb`, `{"a":1.0}::jsonb`}, "t"},
		{"b", "<", []string{`"b"::jsonb`, `1::jsonb`}, "t"},
		{"b", "<", []string{`[1,2]::jsonb`, `[3]::jsonb`}, "f"},
		{"b", "<", []string{`{"b":1}::jsonb`, `{"aa":1}::jsonb`}, "f"},
		{"b", ">", []string{`true::jsonb`, `[]::jsonb`}, "t"},
		{"b", "<", []string{`true::jsonb`, `[1]::jsonb`}, "t"},
		{"b", "<", []string{` null::jsonb`, `""::jsonb`}, "t"}, // leading space: JSON null, not SQL NULL
		{"b", "<", []string{`[null]::jsonb`, `[false]::jsonb`}, "t"},
		{"b", "@>", []string{`{"a":[1,{"b":2}]}::jsonb`, `{"a":[{"b":2}]}::jsonb`}, "t"},
		{"b", "@>", []string{`[1,[2,3]]::jsonb`, `[2]::jsonb`}, "f"},
		{"b", "@>", []string{`[1,2,3]::jsonb`, `2::jsonb`}, "t"},
		{"b", "@>", []string{`{"a":1.0}::jsonb`, `{"a":1}::jsonb`}, "t"},
		{"b", "?", []string{`"a"::jsonb`, "a::text"}, "t"},
		{"b", "?|", []string{`{"a":1}::jsonb`, "{b,a}::text[]"}, "t"},
		{"b", "?&", []string{`{"a":1}::jsonb`, "{b,a}::text[]"}, "f"},
		{"b", "-", []string{`[1,2,3]::jsonb`, "1::int4"}, "[1, 3]"},
		{"b", "-", []string{`[1,2,3]::jsonb`, "-1::int4"}, "[1, 2]"},
		{"b", "-", []string{`["a","b"]::jsonb`, "a::text"}, `["b"]`},
		{"b", "||", []string{`{"a":1}::jsonb`, `[2]::jsonb`}, `[{"a": 1}, 2]`},
		{"b", "||", []string{`1::jsonb`, `2::jsonb`}, `[1, 2]`},
		{"b", "->", []string{`{"a":{"b":[1,2,3]}}::jsonb`, "a::text"}, `{"b": [1, 2, 3]}`},
		{"b", "->>", []string{`{"a":null}::jsonb`, "a::text"}, "NULL"},
		{"b", "->>", []string{`[1,"x"]::jsonb`, "-1::int4"}, "x"},
		{"b", "->", []string{`"s"::jsonb`, "0::int4"}, `"s"`},
		{"b", "->", []string{`[1,2,3]::jsonb`, "-4::int4"}, "NULL"},
		{"b", "#>", []string{`{"a":{"b":[1,2,3]}}::jsonb`, "{a,b,2}::text[]"}, "3"},
		{"b", "#>>", []string{`{"a":{"b":[1,2,3]}}::jsonb`, "{a,b}::text[]"}, "[1, 2, 3]"},
		{"f", "jsonb_extract_path_text", []string{`{"a":{"b":"x"}}::jsonb`, "a::text", "b::text"}, "x"},
		{"f", "jsonb_array_length", []string{`{"a":1}::jsonb`}, "error 22023: cannot get array length of a non-array"},
		{"f", "jsonb_typeof", []string{`1.5::jsonb`}, "number"},
		{"f", "to_jsonb", []string{"2020-01-01 10:00:00+00::timestamptz"}, `"2020-01-01T10:00:00+00:00"`},
		{"f", "to_jsonb", []string{"NaN::numeric"}, `"NaN"`},
		{"f", "to_jsonb", []string{"1.5::float4"}, "1.5"},
		{"f", "to_jsonb", []string{"{1,NULL}::int4[]"}, "[1, null]"},
		{"f", "jsonb_build_object", []string{"b::text", "1::int4", "a::text", "x::text", "c::text", "null::text"}, `{"a": "x", "b": 1, "c": null}`},
		{"f", "jsonb_build_object", []string{"null::text", "1::int4"}, "error 22023: argument 1: key must not be null"},
		{"f", "jsonb_build_array", []string{"1::int4", "two::text", "null::text", "false::bool"}, `[1, "two", null, false]`},
		{"f", "jsonb_strip_nulls", []string{`{"a":1,"b":null,"c":{"d":null,"e":[null]}}::jsonb`}, `{"a": 1, "c": {"e": [null]}}`},
		{"f", "jsonb_pretty", []string{`{"a":[1,{"b":2}],"c":{}}::jsonb`}, "{\n    \"a\": [\n        1,\n        {\n            \"b\": 2\n        }\n    ],\n    \"c\": {\n    }\n}"},
	})
}

func TestArrayFunctions(t *testing.T) {
	bRun(t, []bCase{
		{"f", "array_length", []string{"{1,2,3}::int4[]", "1::int4"}, "3"},
		{"f", "array_length", []string{"{}::int4[]", "1::int4"}, "NULL"},
		{"f", "cardinality", []string{"{{1,2},{3,4}}::int4[]"}, "4"},
		{"f", "array_position", []string{"{a,b,c}::text[]", "b::text"}, "2"},
		{"f", "array_position", []string{"{a,NULL,c}::text[]", "null::text"}, "2"},
		{"f", "array_to_string", []string{"{1,2,NULL,3}::int4[]", ",::text"}, "1,2,3"},
		{"f", "array_to_string", []string{"{1,2,NULL,3}::int4[]", ",::text", "*::text"}, "1,2,*,3"},
		{"f", "array_append", []string{"null::int4[]", "1::int4"}, "{1}"},
		{"f", "array_prepend", []string{"0::int4", "{1,2}::int4[]"}, "{0,1,2}"},
		{"f", "array_cat", []string{"{1,2}::int4[]", "{3}::int4[]"}, "{1,2,3}"},
		{"f", "array_subscript", []string{"{10,20,30}::int4[]", "2::int4"}, "20"},
		{"f", "array_subscript", []string{"{10,20,30}::int4[]", "0::int4"}, "NULL"},
		{"f", "array", []string{"1::int4", "null::int4", "2.5::numeric"}, "{1,NULL,2.5}"},
		{"b", "||", []string{"{1,2}::int4[]", "3::int4"}, "{1,2,3}"},
		{"b", "@>", []string{"{1,2,3}::int4[]", "{3,1}::int4[]"}, "t"},
		{"b", "&&", []string{"{1,2}::int4[]", "{2,3}::int4[]"}, "t"},
		{"b", "&&", []string{"{1,NULL}::int4[]", "{NULL,3}::int4[]"}, "f"},
		{"b", "<@", []string{"{1,NULL}::int4[]", "{1,2}::int4[]"}, "f"},
		{"f", "row", []string{"1::int4", "a b::text", "null::text"}, `(1,"a b",)`},
		{"f", "string_to_array", []string{"a,b,,c::text", ",::text"}, `{a,b,"",c}`},
	})
}
