package expr

import (
	"errors"
	"testing"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

func TestLookupCastContexts(t *testing.T) {
	const none = CastContext(99)
	cases := []struct {
		from, to string
		want     CastContext
	}{
		{"int4", "int8", Implicit},
		{"int2", "numeric", Implicit},
		{"int8", "int4", Assignment},
		{"int8", "float4", Implicit},
		{"float4", "float8", Implicit},
		{"float8", "float4", Assignment},
		{"float8", "int4", Assignment},
		{"numeric", "float8", Implicit},
		{"float8", "numeric", Assignment},
		{"numeric", "int8", Assignment},
		{"text", "int4", Explicit},
		{"int4", "text", Assignment},
		{"int4", "varchar", Assignment},
		{"text", "varchar", Implicit},
		{"varchar", "text", Implicit},
		{"bpchar", "text", Implicit},
		{"text", "bpchar", Implicit},
		{"varchar", "bpchar", Implicit},
		{"bool", "int4", Explicit},
		{"int4", "bool", Explicit},
		{"bool", "text", Assignment},
		{"date", "timestamp", Implicit},
		{"date", "timestamptz", Implicit},
		{"timestamp", "timestamptz", Implicit},
		{"timestamptz", "timestamp", Assignment},
		{"timestamp", "date", Assignment},
		{"time", "interval", Implicit},
		{"interval", "time", Assignment},
		{"jsonb", "int4", Explicit},
		{"jsonb", "bool", Explicit},
		{"jsonb", "text", Assignment},
		{"text", "jsonb", Explicit},
		{"int4", "oid", Implicit},
		{"oid", "int4", Assignment},
		{"int4[]", "int8[]", Implicit},
		{"int8[]", "int4[]", Assignment},
		{"text", "int4[]", Explicit},
		{"varchar(3)", "varchar", Implicit},
		{"varchar", "varchar(3)", Implicit},
		{"unknown", "date", Implicit},
		{"uuid", "bytea", none},
		{"date", "int4", none},
		{"bool", "numeric", none},
		{"interval", "date", none},
	}
	for _, c := range cases {
		from, to := bType(t, c.from), bType(t, c.to)
		cast, ok := LookupCast(from, to)
		got := none
		if ok {
			got = cast.Context
		}
		if got != c.want {
			t.Errorf("LookupCast(%s, %s) context = %v, want %v", c.from, c.to, got, c.want)
		}
		if ok && (cast.Func == nil || !cast.Func.Ret.Equal(to)) {
			t.Errorf("LookupCast(%s, %s): bad function %+v", c.from, c.to, cast.Func)
		}
	}
	// Lookups are cached: the same function comes back.
	a, _ := LookupCast(tInt4, tInt8)
	b, _ := LookupCast(tInt4, tInt8)
	if a != b {
		t.Errorf("LookupCast is not cached")
	}
}

func bCast(t *testing.T, spec, to string, ctx CastContext) string {
	t.Helper()
	arg, from := bArg(t, spec)
	typ := bType(t, to)
	e, err := NewCast(arg, from, typ, ctx)
	if err != nil {
		return bShow(repr.Null, typ, err)
	}
	d, err := Eval(&EvalCtx{}, e, nil)
	return bShow(d, typ, err)
}

// Expected values checked against PostgreSQL 15.
func TestCastEvaluation(t *testing.T) {
	cases := []struct {
		arg, to string
		ctx     CastContext
		want    string
	}{
		{"abcdef::text", "varchar(3)", Explicit, "abc"},
		{"abcdef::text", "varchar(3)", Assignment, "error 22001: value too long for type character varying(3)"},
		{"abc   ::text", "varchar(3)", Assignment, "abc"},
		{"ab::text", "bpchar(3)", Assignment, "ab "},
		{"abcd::text", "bpchar(3)", Assignment, "error 22001: value too long for type character(3)"},
		{"abcd::text", "bpchar(3)", Explicit, "abc"},
		{"ab ::bpchar", "text", Implicit, "ab"},
		{"12.345::numeric", "numeric(5,2)", Assignment, "12.35"},
		{"-12.345::numeric", "numeric(5,2)", Assignment, "-12.35"},
		{"1234.5::numeric", "numeric(5,2)", Assignment, "error 22003: numeric field overflow"},
		{"999.995::numeric", "numeric(5,2)", Assignment, "error 22003: numeric field overflow"},
		{"NaN::numeric", "numeric(5,2)", Assignment, "NaN"},
		{"1.5::float8", "int4", Assignment, "2"},
		{"2.5::float8", "int4", Assignment, "2"},
		{"-2.5::numeric", "int4", Assignment, "-3"},
		{"1e10::float8", "int4", Assignment, "error 22003: integer out of range"},
		{"NaN::float8", "int8", Assignment, "error 22003: bigint out of range"},
		{"NaN::numeric", "int4", Assignment, "error 0A000: cannot convert NaN to integer"},
		{"70000::int4", "int2", Assignment, "error 22003: smallint out of range"},
		{"1e39::float8", "float4", Assignment, "error 22003: value out of range: overflow"},
		{"0.1::float4", "numeric", Assignment, "0.1"},
		{"1e20::float8", "numeric", Assignment, "100000000000000000000"},
		{"0.333333333333333314829616256247::float8", "numeric", Assignment, "0.333333333333333"},
		{"Infinity::numeric", "float8", Implicit, "Infinity"},
		{"true::bool", "text", Assignment, "true"},
		{"1::int4", "bool", Explicit, "t"},
		{"abc::text", "int4", Explicit, `error 22P02: invalid input syntax for type integer: "abc"`},
		{" 42 ::text", "int4", Explicit, "42"},
		{"2020-01-01 23:59:59.5::timestamp", "time", Assignment, "23:59:59.5"},
		{"2020-01-01 23:59:59.5::timestamp", "date", Assignment, "2020-01-01"},
		{"1969-12-31 23:00:00::timestamp", "date", Assignment, "1969-12-31"},
		{"26 hours::interval", "time", Assignment, "02:00:00"},
		{"42::jsonb", "int4", Explicit, "42"},
		{"4.7::jsonb", "int4", Explicit, "5"},
		{`"x"::jsonb`, "int4", Explicit, "error 22023: cannot cast jsonb string to type integer"},
		{"{1,2}::int4[]", "int8[]", Implicit, "{1,2}"},
		{"{1.5,NULL}::numeric[]", "int4[]", Assignment, "{2,NULL}"},
		{"{abcd}::text[]", "varchar(3)[]", Explicit, "{abc}"},
		{"{1,2}::text", "int4[]", Explicit, "{1,2}"},
		{"2020-02-30::unknown", "date", Implicit, `error 22008: date/time field value out of range: "2020-02-30"`},
		{"12::int4", "text", Implicit, "error 42846: cannot cast type integer to text"},
	}
	for _, c := range cases {
		if got := bCast(t, c.arg, c.to, c.ctx); got != c.want {
			t.Errorf("CAST(%s AS %s) in %v = %q, want %q", c.arg, c.to, c.ctx, got, c.want)
		}
	}
}

func TestNumericTypmodDetail(t *testing.T) {
	arg, from := bArg(t, "123.45::numeric")
	e, err := NewCast(arg, from, repr.NumericType(4, 2), Assignment)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Eval(nil, e, nil)
	var pe *pgcode.Error
	if !errors.As(err, &pe) || pe.Code != pgcode.NumericValueOutOfRange ||
		pe.Detail != "A field with precision 4, scale 2 must round to an absolute value less than 10^2." {
		t.Fatalf("got %#v", err)
	}
}
