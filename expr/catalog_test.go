package expr

import (
	"strings"
	"testing"

	"github.com/viewd/viewd/repr"
)

func TestTypeCategories(t *testing.T) {
	cases := []struct {
		typ       string
		cat       byte
		preferred bool
	}{
		{"int4", 'N', false}, {"float8", 'N', true}, {"numeric", 'N', false}, {"oid", 'N', true},
		{"text", 'S', true}, {"varchar", 'S', false}, {"bpchar", 'S', false},
		{"date", 'D', false}, {"timestamptz", 'D', true}, {"interval", 'T', true},
		{"bool", 'B', true}, {"int4[]", 'A', false}, {"jsonb", 'U', false}, {"unknown", 'X', false},
	}
	for _, c := range cases {
		typ := bType(t, c.typ)
		if got := TypeCategory(typ); got != c.cat {
			t.Errorf("TypeCategory(%s) = %c, want %c", c.typ, got, c.cat)
		}
		if got := IsPreferredType(typ); got != c.preferred {
			t.Errorf("IsPreferredType(%s) = %v", c.typ, got)
		}
	}
}

func TestCommonType(t *testing.T) {
	cases := []struct {
		types []string
		want  string // type name, or "error CODE: ..."
	}{
		{[]string{"int4", "int8"}, "bigint"},
		{[]string{"int8", "int4"}, "bigint"},
		{[]string{"int4", "numeric"}, "numeric"},
		{[]string{"int4", "float4"}, "real"},
		{[]string{"int4", "numeric", "float8"}, "double precision"},
		{[]string{"unknown", "unknown"}, "text"},
		{[]string{"unknown", "int4"}, "integer"},
		{[]string{"varchar(3)", "varchar(3)"}, "character varying(3)"},
		{[]string{"varchar(3)", "bpchar(3)"}, "character varying"},
		{[]string{"text", "varchar"}, "text"},
		{[]string{"varchar", "text"}, "character varying"},
		{[]string{"bpchar(3)", "varchar(3)"}, "bpchar"},
		{[]string{"date", "timestamptz"}, "timestamp with time zone"},
		{[]string{"timestamp", "date"}, "timestamp without time zone"},
		{[]string{"int4[]", "int8[]"}, "bigint[]"},
		{[]string{"text", "int4"}, "error 42804: types text and integer cannot be matched"},
		{[]string{"bool", "int4"}, "error 42804: types boolean and integer cannot be matched"},
		{[]string{"interval", "date"}, "error 42804: types interval and date cannot be matched"},
	}
	for _, c := range cases {
		types := make([]repr.ScalarType, len(c.types))
		for i, n := range c.types {
			types[i] = bType(t, n)
		}
		got, err := CommonType(types)
		s := got.String()
		if err != nil {
			s = bShow(repr.Null, got, err)
		}
		if s != c.want {
			t.Errorf("CommonType(%v) = %s, want %s", c.types, s, c.want)
		}
	}
}

func TestResolve(t *testing.T) {
	cases := []struct {
		kind, name string
		args       []string
		want       string // the resolved signature "(params) -> ret", or an error
	}{
		// Exact matches and implicit widening.
		{"b", "+", []string{"int4", "int4"}, "(integer, integer) -> integer"},
		{"b", "+", []string{"int4", "int8"}, "(integer, bigint) -> bigint"},
		{"b", "+", []string{"int4", "numeric"}, "(numeric, numeric) -> numeric"},
		{"b", "+", []string{"float4", "int4"}, "(real, double precision) -> double precision"},
		{"b", "+", []string{"date", "int4"}, "(date, integer) -> date"},
		{"b", "+", []string{"timestamptz", "interval"}, "(timestamp with time zone, interval) -> timestamp with time zone"},
		// One unknown side of a binary operator takes the other side's type.
		{"b", "=", []string{"int4", "unknown"}, "(integer, integer) -> boolean"},
		{"b", "=", []string{"unknown", "date"}, "(date, date) -> boolean"},
		{"b", "||", []string{"unknown", "unknown"}, "(text, text) -> text"},
		{"b", "||", []string{"unknown", "int4"}, "(text, integer) -> text"},
		{"b", "->>", []string{"jsonb", "unknown"}, "(jsonb, text) -> text"},
		// Unknown arguments: string category first, then preferred types.
		{"f", "length", []string{"unknown"}, "(text) -> integer"},
		{"f", "abs", []string{"unknown"}, "(double precision) -> double precision"},
		{"f", "lower", []string{"varchar"}, "(text) -> text"},
		{"f", "round", []string{"numeric"}, "(numeric) -> numeric"},
		{"f", "round", []string{"int4"}, "(double precision) -> double precision"},
		{"f", "date_part", []string{"unknown", "date"}, "(text, date) -> double precision"},
		{"f", "date_part", []string{"unknown", "timestamp"}, "(text, timestamp without time zone) -> double precision"},
		// Polymorphic.
		{"f", "array_length", []string{"int4[]", "int4"}, "(integer[], integer) -> integer"},
		{"f", "array_append", []string{"int4[]", "int8"}, "(bigint[], bigint) -> bigint[]"},
		{"f", "coalesce", []string{"int4", "numeric"}, "(numeric, numeric) -> numeric"},
		{"f", "coalesce", []string{"unknown", "unknown"}, "(text, text) -> text"},
		{"f", "array_subscript", []string{"text[]", "int4"}, "(text[], integer) -> text"},
		{"b", "= ANY", []string{"int4", "int8[]"}, "(bigint, bigint[]) -> boolean"},
		{"f", "concat", []string{"int4", "bool", "unknown"}, "(integer, boolean, text) -> text"},
		// Failures.
		{"f", "lower", []string{"int4"}, "error 42883: function lower(integer) does not exist"},
		{"b", "+", []string{"text", "text"}, "error 42883: operator does not exist: text + text"},
		{"b", "+", []string{"oid", "int4"}, "error 42883: operator does not exist: oid + integer"},
		{"f", "abs", []string{}, "error 42883: function abs() does not exist"},
	}
	for _, c := range cases {
		var ovs []Overload
		switch c.kind {
		case "f":
			ovs = LookupFunc(c.name)
		case "b":
			ovs = LookupBinaryOp(c.name)
		}
		types := make([]repr.ScalarType, len(c.args))
		for i, n := range c.args {
			types[i] = bType(t, n)
		}
		res, err := Resolve(c.name, ovs, types)
		var got string
		if err != nil {
			got = bShow(repr.Null, repr.TypeUnknown, err)
		} else {
			parts := make([]string, len(res.ArgTypes))
			for i, a := range res.ArgTypes {
				parts[i] = a.String()
			}
			got = "(" + strings.Join(parts, ", ") + ") -> " + res.Func.Ret.String()
		}
		if got != c.want {
			t.Errorf("Resolve(%s %s %v) = %s, want %s", c.kind, c.name, c.args, got, c.want)
		}
	}
}

func TestOverloadMatchAndString(t *testing.T) {
	ovs := LookupFunc("array_position")
	if len(ovs) == 0 {
		t.Fatal("array_position not catalogued")
	}
	o := ovs[0]
	if got := o.String(); got != "(anycompatiblearray, anycompatible) -> integer" {
		t.Errorf("String = %s", got)
	}
	if !o.Match([]repr.ScalarType{repr.ArrayOf(tInt4), tInt4}) {
		t.Error("exact polymorphic match failed")
	}
	if o.Match([]repr.ScalarType{repr.ArrayOf(tInt4), tText}) {
		t.Error("mismatched element type matched")
	}
	if o.Match([]repr.ScalarType{tInt4, tInt4}) {
		t.Error("non-array matched anycompatiblearray")
	}
	conc := LookupFunc("concat")[0]
	if !conc.Match([]repr.ScalarType{tInt4, tText, tBool}) {
		t.Error("variadic any should match anything")
	}
	if conc.Match(nil) {
		t.Error("a variadic parameter needs at least one argument")
	}
}

// Every catalogued function must be instantiable for its own parameter
// types (binding polymorphic ones to int4) and carry a name and an Eval.
func TestCatalogWellFormed(t *testing.T) {
	check := func(kind, name string, ovs []Overload) {
		for _, o := range ovs {
			args := make([]repr.ScalarType, len(o.Params))
			for i, p := range o.Params {
				switch p.Kind {
				case ParamExact:
					args[i] = p.Type
				case ParamAnyArray, ParamAnyCompatibleArray:
					args[i] = repr.ArrayOf(tInt4)
				default:
					args[i] = tInt4
				}
			}
			if name == "jsonb_build_object" {
				args = []repr.ScalarType{tText, tInt4}
			}
			f, err := o.Instantiate(args)
			if err != nil {
				t.Errorf("%s %s%s: %v", kind, name, o, err)
				continue
			}
			if f.Name == "" || f.Eval == nil && f.special == specialNone {
				t.Errorf("%s %s%s: incomplete function %+v", kind, name, o, f)
			}
		}
	}
	for _, n := range FuncNames() {
		check("function", n, LookupFunc(n))
	}
	for op, ovs := range binopCatalog {
		check("operator", op, ovs)
	}
	for op, ovs := range unopCatalog {
		check("prefix operator", op, ovs)
	}
	for _, want := range []string{"abs", "ceil", "ceiling", "floor", "round", "trunc", "sqrt", "cbrt", "power", "pow",
		"exp", "ln", "log", "log10", "mod", "sign", "pi", "random", "greatest", "least", "coalesce", "nullif",
		"length", "char_length", "octet_length", "lower", "upper", "substr", "substring", "position", "strpos",
		"replace", "trim", "btrim", "ltrim", "rtrim", "lpad", "rpad", "left", "right", "repeat", "reverse",
		"concat", "concat_ws", "split_part", "starts_with", "initcap", "md5", "to_hex", "ascii", "chr",
		"regexp_replace", "regexp_match", "now", "current_timestamp", "date_trunc", "date_part", "extract",
		"to_char", "make_date", "age", "jsonb_build_object", "jsonb_build_array", "jsonb_typeof",
		"jsonb_array_length", "jsonb_extract_path", "jsonb_extract_path_text", "to_jsonb", "jsonb_strip_nulls",
		"jsonb_pretty", "array_length", "cardinality", "array_position", "array_to_string", "array_append",
		"array_prepend", "array_cat", "array", "array_subscript", "mz_now"} {
		if len(LookupFunc(want)) == 0 {
			t.Errorf("function %s is not catalogued", want)
		}
	}
	for _, op := range []string{"+", "-", "*", "/", "%", "^", "||", "=", "<>", "<", "<=", ">", ">=", "~~", "!~~",
		"~~*", "!~~*", "~", "~*", "!~", "!~*", "@>", "<@", "->", "->>", "#>", "#>>", "?", "IS DISTINCT FROM",
		"IS NOT DISTINCT FROM", "= ANY", "<> ALL"} {
		if len(LookupBinaryOp(op)) == 0 {
			t.Errorf("operator %s is not catalogued", op)
		}
	}
	for _, op := range []string{"-", "+", "NOT", "IS NULL", "IS NOT NULL", "IS TRUE", "IS NOT TRUE", "IS FALSE", "IS NOT FALSE"} {
		if len(LookupUnaryOp(op)) == 0 {
			t.Errorf("unary operator %s is not catalogued", op)
		}
	}
}

// Eval must not allocate for column references, literals, integer
// arithmetic, comparisons and the connectives.
func TestEvalNoAllocConnectives(t *testing.T) {
	plus, _ := Resolve("+", LookupBinaryOp("+"), []repr.ScalarType{tInt4, tInt4})
	lt, _ := Resolve("<", LookupBinaryOp("<"), []repr.ScalarType{tInt8, tInt8})
	eq, _ := Resolve("=", LookupBinaryOp("="), []repr.ScalarType{tText, tText})
	// (#0 + 1 < #1) AND #2 = 'x' AND #0 IS NOT NULL
	e := And(
		Call{Func: lt.Func, Args: []Scalar{Call{Func: plus.Func, Args: []Scalar{Column{Index: 0}, NewLiteral(repr.Int4Datum(1), tInt4)}}, Column{Index: 1}}},
		Call{Func: eq.Func, Args: []Scalar{Column{Index: 2}, NewLiteral(repr.TextDatum("x"), tText)}},
		Call{Func: FuncIsNotNull, Args: []Scalar{Column{Index: 0}}},
	)
	row := []repr.Datum{repr.Int4Datum(1), repr.Int8Datum(5), repr.TextDatum("x")}
	ctx := &EvalCtx{}
	var got repr.Datum
	allocs := testing.AllocsPerRun(1000, func() {
		got, _ = Eval(ctx, e, row)
	})
	if allocs != 0 {
		t.Errorf("Eval allocated %.1f times per run", allocs)
	}
	if !got.Bool() {
		t.Errorf("got %v, want true", got)
	}
}

// Errors in arguments whose value cannot matter are not raised; others are.
func TestEvalErrorSemantics(t *testing.T) {
	div, _ := Resolve("/", LookupBinaryOp("/"), []repr.ScalarType{tInt4, tInt4})
	eq, _ := Resolve("=", LookupBinaryOp("="), []repr.ScalarType{tInt4, tInt4})
	boom := Call{Func: eq.Func, Args: []Scalar{Call{Func: div.Func, Args: []Scalar{NewLiteral(repr.Int4Datum(1), tInt4), NewLiteral(repr.Int4Datum(0), tInt4)}}, NewLiteral(repr.Int4Datum(1), tInt4)}}
	f := NewLiteral(repr.False, tBool)
	tr := NewLiteral(repr.True, tBool)
	null := NullLiteral(tBool)
	cases := []struct {
		e    Scalar
		want string
	}{
		{And(boom, f), "f"},
		{And(f, boom), "f"},
		{And(tr, boom), "error 22012: division by zero"},
		{And(null, boom), "error 22012: division by zero"},
		{Or(boom, tr), "t"},
		{Or(null, f), "NULL"},
		{If{Cond: f, Then: boom, Else: tr}, "t"},
		{If{Cond: null, Then: boom, Else: f}, "f"},
		{NewCoalesce(tBool, null, tr, boom), "t"},
		{Not(null), "NULL"},
		{ErrorLiteral(errDivByZero(), tInt4), "error 22012: division by zero"},
	}
	for _, c := range cases {
		d, err := Eval(nil, c.e, nil)
		if got := bShow(d, tBool, err); got != c.want {
			t.Errorf("%s = %s, want %s", c.e, got, c.want)
		}
	}
	if _, err := Eval(nil, Column{Index: 3}, nil); err == nil {
		t.Error("out-of-range column did not fail")
	}
}

// bEdgeValues returns edge-case datums of a type, for the no-panic sweep.
func bEdgeValues(t repr.ScalarType) []repr.Datum {
	parse := func(ss ...string) []repr.Datum {
		var out []repr.Datum
		for _, s := range ss {
			if d, err := repr.ParseText(s, t); err == nil {
				out = append(out, d)
			}
		}
		return out
	}
	switch t.Kind {
	case repr.KindBool:
		return parse("t", "f")
	case repr.KindInt2:
		return parse("0", "-1", "1", "32767", "-32768")
	case repr.KindInt4:
		return parse("0", "-1", "1", "2147483647", "-2147483648", "1000")
	case repr.KindInt8, repr.KindOid:
		return parse("0", "-1", "1", "9223372036854775807", "-9223372036854775808", "4294967295")
	case repr.KindFloat4, repr.KindFloat8:
		return parse("0", "-0", "1", "-1.5", "NaN", "Infinity", "-Infinity", "1e38", "1e-38")
	case repr.KindNumeric:
		return parse("0", "-1", "1.5", "NaN", "Infinity", "-Infinity", "1e100", "-1e-100", "123456789012345678901234567890.123")
	case repr.KindText, repr.KindVarchar, repr.KindChar, repr.KindNull:
		return parse("", "a", "héllo wörld", "%", "_\\", "(", "[", "*", "{1,2}", "1", "day", "epoch", `{"a":1}`, "ll")
	case repr.KindBytea:
		return parse("", `\x00ff`)
	case repr.KindDate:
		return parse("2020-02-29", "4713-11-24 BC", "5874897-12-31", "1970-01-01")
	case repr.KindTime:
		return parse("00:00", "24:00:00", "12:34:56.789")
	case repr.KindTimestamp, repr.KindTimestampTz:
		return parse("2020-02-29 12:00", "4713-11-24 00:00 BC", "294246-12-31 23:59:59", "1970-01-01")
	case repr.KindInterval:
		return parse("0", "-178000000 years", "178000000 years", "1 mon -1 day 00:00:01", "2147483647 days")
	case repr.KindUUID:
		return parse("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
	case repr.KindJsonb:
		return parse(`null`, `1`, `"s"`, `[]`, `{}`, `[1,[2],{"a":null}]`, `{"a":{"b":[1,2]},"c":1.50}`)
	case repr.KindArray:
		if t.Elem == nil {
			return nil
		}
		elems := bEdgeValues(*t.Elem)
		out := []repr.Datum{repr.ArrayDatum(nil), repr.ArrayDatum([]repr.Datum{repr.Null})}
		if len(elems) > 0 {
			out = append(out, repr.ArrayDatum(elems), repr.ArrayDatum(append(elems[:1:1], repr.Null)))
		}
		return out
	case repr.KindRecord:
		return []repr.Datum{repr.RecordDatum([]repr.Datum{repr.Int4Datum(1), repr.Null})}
	}
	return nil
}

// TestCatalogNoPanics calls every catalogued function and operator with
// edge-case arguments (extremes, NaN, infinities, empty strings and
// arrays, NULLs): errors are fine, panics are not, and results must have
// the declared kind.
func TestCatalogNoPanics(t *testing.T) {
	ctx := &EvalCtx{StmtTime: 1_589_710_272_500_000}
	calls := 0
	sweep := func(kind, name string, ovs []Overload) {
		for _, o := range ovs {
			args := make([]repr.ScalarType, len(o.Params))
			for i, p := range o.Params {
				switch p.Kind {
				case ParamExact:
					args[i] = p.Type
					if p.Type.Kind == repr.KindArray && p.Type.Elem == nil {
						args[i] = repr.ArrayOf(tInt4)
					}
				case ParamAnyArray, ParamAnyCompatibleArray:
					args[i] = repr.ArrayOf(tInt4)
				default:
					args[i] = tInt4
				}
			}
			if name == "jsonb_build_object" && len(args) == 1 {
				args = []repr.ScalarType{tText, tInt4}
			}
			f, err := o.Instantiate(args)
			if err != nil {
				t.Errorf("%s %s%s: %v", kind, name, o, err)
				continue
			}
			if f.Eval == nil {
				continue
			}
			// Every combination of up to 3 edge values per argument, plus
			// NULL for non-strict functions.
			vals := make([][]repr.Datum, len(args))
			for i, a := range args {
				v := bEdgeValues(a)
				if len(v) > 5 {
					v = v[:5]
				}
				if !f.Strict {
					v = append(v, repr.Null)
				}
				vals[i] = v
			}
			idx := make([]int, len(args))
			for {
				in := make([]repr.Datum, len(args))
				for i := range args {
					if len(vals[i]) == 0 {
						goto next
					}
					in[i] = vals[i][idx[i]]
				}
				func() {
					defer func() {
						if r := recover(); r != nil {
							t.Errorf("%s %s%s panicked on %v: %v", kind, name, o, in, r)
						}
					}()
					calls++
					d, err := f.Eval(ctx, in)
					if err == nil && !d.IsNull() && d.Kind() != f.Ret.Kind && f.Ret.Kind != repr.KindNull {
						t.Errorf("%s %s%s on %v returned kind %v, declared %v", kind, name, o, in, d.Kind(), f.Ret)
					}
				}()
				// advance the odometer
				for i := 0; ; i++ {
					if i == len(idx) {
						goto next
					}
					idx[i]++
					if idx[i] < len(vals[i]) {
						break
					}
					idx[i] = 0
				}
			}
		next:
		}
	}
	for _, n := range FuncNames() {
		sweep("function", n, LookupFunc(n))
	}
	for op, ovs := range binopCatalog {
		sweep("operator", op, ovs)
	}
	for op, ovs := range unopCatalog {
		sweep("prefix operator", op, ovs)
	}
	t.Logf("%d calls", calls)
}
