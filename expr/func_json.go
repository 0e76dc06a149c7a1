package expr

import (
	"math"
	"strconv"
	"strings"

	"github.com/cockroachdb/apd/v3"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// jsonb values are canonical text (repr.CanonicalJSON); functions parse
// them into repr.JSONValue trees, work on the trees and print the result
// canonically.

func jsonArg(d repr.Datum) (repr.JSONValue, error) {
	v, err := repr.ParseJSONB(d)
	if err != nil {
		return repr.JSONValue{}, errorf(pgcode.DataCorrupted, "expr: stored jsonb is not valid JSON: %v", err)
	}
	return v, nil
}

// DatumToJSON converts a datum to JSON as to_jsonb does: numbers as
// numbers (NaN and infinities as strings), booleans, strings, arrays as
// arrays, records as objects with keys f1, f2, ..., date/time types in ISO
// 8601 form, everything else as its text output string.
func DatumToJSON(d repr.Datum) (repr.JSONValue, error) {
	switch d.Kind() {
	case repr.KindNull:
		return repr.JSONNullValue, nil
	case repr.KindBool:
		return repr.JSONValue{Kind: repr.JSONBool, Bool: d.Bool()}, nil
	case repr.KindInt2, repr.KindInt4, repr.KindInt8, repr.KindOid:
		return repr.JSONNumberValue(apd.New(d.Int(), 0)), nil
	case repr.KindFloat4, repr.KindFloat8:
		f := d.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return repr.JSONStringValue(d.Text()), nil
		}
		n, _, err := apd.NewFromString(d.Text())
		if err != nil {
			return repr.JSONValue{}, errorf(pgcode.InternalError, "expr: float to json: %v", err)
		}
		return repr.JSONNumberValue(n), nil
	case repr.KindNumeric:
		if d.Numeric().Form != apd.Finite {
			return repr.JSONStringValue(d.Text()), nil
		}
		return repr.JSONNumberValue(d.Numeric()), nil
	case repr.KindText, repr.KindVarchar, repr.KindChar:
		return repr.JSONStringValue(d.Str()), nil
	case repr.KindJsonb:
		return jsonArg(d)
	case repr.KindTimestamp:
		return repr.JSONStringValue(isoTimestamp(d.Micros(), false)), nil
	case repr.KindTimestampTz:
		return repr.JSONStringValue(isoTimestamp(d.Micros(), true)), nil
	case repr.KindArray:
		elems := d.Elements(nil)
		out := make([]repr.JSONValue, len(elems))
		for i, e := range elems {
			v, err := DatumToJSON(e)
			if err != nil {
				return repr.JSONValue{}, err
			}
			out[i] = v
		}
		return repr.JSONArrayValue(out), nil
	case repr.KindRecord:
		fields := d.Elements(nil)
		pairs := make([]repr.JSONPair, len(fields))
		for i, f := range fields {
			v, err := DatumToJSON(f)
			if err != nil {
				return repr.JSONValue{}, err
			}
			pairs[i] = repr.JSONPair{Key: "f" + strconv.Itoa(i+1), Value: v}
		}
		return repr.JSONObjectValue(pairs), nil
	}
	return repr.JSONStringValue(d.Text()), nil
}

// isoTimestamp prints a timestamp as JSON does: 2024-01-02T03:04:05[.f][+00:00].
func isoTimestamp(us int64, tz bool) string {
	b := repr.AppendTimestamp(nil, us, false)
	s := string(b)
	bc := ""
	if len(s) > 3 && s[len(s)-3:] == " BC" {
		s, bc = s[:len(s)-3], " BC"
	}
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			s = s[:i] + "T" + s[i+1:]
			break
		}
	}
	if tz {
		s += "+00:00"
	}
	return s + bc
}

// jsonEqual compares JSON values, numbers by value.
func jsonEqual(a, b repr.JSONValue) bool {
	if a.Kind != b.Kind {
		return false
	}
	switch a.Kind {
	case repr.JSONNull:
		return true
	case repr.JSONBool:
		return a.Bool == b.Bool
	case repr.JSONString:
		return a.Str == b.Str
	case repr.JSONNumber:
		return a.Decimal().Cmp(b.Decimal()) == 0
	case repr.JSONArray:
		if len(a.Elems) != len(b.Elems) {
			return false
		}
		for i := range a.Elems {
			if !jsonEqual(a.Elems[i], b.Elems[i]) {
				return false
			}
		}
		return true
	case repr.JSONObject:
		if len(a.Pairs) != len(b.Pairs) {
			return false
		}
		for i := range a.Pairs {
			if a.Pairs[i].Key != b.Pairs[i].Key || !jsonEqual(a.Pairs[i].Value, b.Pairs[i].Value) {
				return false
			}
		}
		return true
	}
	return false
}

// jsonContains implements jsonb @>: objects contain objects whose every
// member they contain; arrays contain arrays whose every element some
// element contains (and a top-level array contains a scalar it holds);
// scalars contain equal scalars.
func jsonContains(a, b repr.JSONValue, top bool) bool {
	switch {
	case a.Kind == repr.JSONObject && b.Kind == repr.JSONObject:
		for _, p := range b.Pairs {
			v, ok := a.Get(p.Key)
			if !ok || !jsonContains(v, p.Value, false) {
				return false
			}
		}
		return true
	case a.Kind == repr.JSONArray && b.Kind == repr.JSONArray:
		for _, be := range b.Elems {
			found := false
			for _, ae := range a.Elems {
				if be.Kind == repr.JSONArray || be.Kind == repr.JSONObject {
					if ae.Kind == be.Kind && jsonContains(ae, be, false) {
						found = true
						break
					}
				} else if jsonEqual(ae, be) {
					found = true
					break
				}
			}
			if !found {
				return false
			}
		}
		return true
	case a.Kind == repr.JSONArray && top && b.Kind != repr.JSONObject && b.Kind != repr.JSONArray:
		for _, ae := range a.Elems {
			if jsonEqual(ae, b) {
				return true
			}
		}
		return false
	}
	return jsonEqual(a, b)
}

// jsonExists implements jsonb ?: a key of an object, a string element of
// an array, or an equal string scalar.
func jsonExists(v repr.JSONValue, key string) bool {
	switch v.Kind {
	case repr.JSONObject:
		_, ok := v.Get(key)
		return ok
	case repr.JSONArray:
		for _, e := range v.Elems {
			if e.Kind == repr.JSONString && e.Str == key {
				return true
			}
		}
		return false
	case repr.JSONString:
		return v.Str == key
	}
	return false
}

// jsonText returns ->>'s text of a value: strings unquoted, null as SQL
// NULL, other values canonically printed.
func jsonText(v repr.JSONValue) repr.Datum {
	switch v.Kind {
	case repr.JSONNull:
		return repr.Null
	case repr.JSONString:
		return repr.TextDatum(v.Str)
	}
	return repr.TextDatum(v.String())
}

// jsonPath follows a #> path: object keys, or array indexes (which may be
// negative).
func jsonPath(v repr.JSONValue, path []repr.Datum) (repr.JSONValue, bool) {
	for _, p := range path {
		if p.IsNull() {
			return repr.JSONValue{}, false
		}
		switch v.Kind {
		case repr.JSONObject:
			nv, ok := v.Get(p.Str())
			if !ok {
				return repr.JSONValue{}, false
			}
			v = nv
		case repr.JSONArray:
			i, err := strconv.Atoi(p.Str())
			if err != nil {
				return repr.JSONValue{}, false
			}
			nv, ok := v.Index(i)
			if !ok {
				return repr.JSONValue{}, false
			}
			v = nv
		default:
			return repr.JSONValue{}, false
		}
	}
	return v, true
}

// jsonTypeRank orders JSON kinds as jsonb's btree ordering does: null <
// string < number < boolean < array < object.
func jsonTypeRank(k repr.JSONKind) int {
	switch k {
	case repr.JSONNull:
		return 0
	case repr.JSONString:
		return 1
	case repr.JSONNumber:
		return 2
	case repr.JSONBool:
		return 3
	case repr.JSONArray:
		return 4
	}
	return 5
}

// JSONCompare orders JSON values as PostgreSQL's jsonb comparison does:
// by kind (Object > Array > Boolean > Number > String > Null), numbers by
// value, strings bytewise, arrays by length then element-wise, objects by
// pair count then pair-wise in storage order (keys compared bytewise).
// Equal numbers of different scales (1 and 1.0) are equal. At the top
// level a scalar is stored as a one-element "raw scalar" array: it
// compares with arrays by element count first and is smaller than an
// array of one element.
func JSONCompare(a, b repr.JSONValue) int {
	as, bs := isJSONScalar(a), isJSONScalar(b)
	switch {
	case as && b.Kind == repr.JSONArray:
		if len(b.Elems) != 1 {
			return cmpInt(1, len(b.Elems))
		}
		return -1
	case bs && a.Kind == repr.JSONArray:
		if len(a.Elems) != 1 {
			return cmpInt(len(a.Elems), 1)
		}
		return 1
	}
	return jsonCompareNested(a, b)
}

func isJSONScalar(v repr.JSONValue) bool {
	return v.Kind != repr.JSONArray && v.Kind != repr.JSONObject
}

func jsonCompareNested(a, b repr.JSONValue) int {
	if ra, rb := jsonTypeRank(a.Kind), jsonTypeRank(b.Kind); ra != rb {
		return cmpInt(ra, rb)
	}
	switch a.Kind {
	case repr.JSONString:
		return strings.Compare(a.Str, b.Str)
	case repr.JSONNumber:
		return a.Decimal().Cmp(b.Decimal())
	case repr.JSONBool:
		switch {
		case a.Bool == b.Bool:
			return 0
		case b.Bool:
			return -1
		}
		return 1
	case repr.JSONArray:
		if len(a.Elems) != len(b.Elems) {
			return cmpInt(len(a.Elems), len(b.Elems))
		}
		for i := range a.Elems {
			if c := jsonCompareNested(a.Elems[i], b.Elems[i]); c != 0 {
				return c
			}
		}
		return 0
	case repr.JSONObject:
		if len(a.Pairs) != len(b.Pairs) {
			return cmpInt(len(a.Pairs), len(b.Pairs))
		}
		for i := range a.Pairs {
			ka, kb := a.Pairs[i].Key, b.Pairs[i].Key
			if ka != kb {
				return strings.Compare(ka, kb)
			}
			if c := jsonCompareNested(a.Pairs[i].Value, b.Pairs[i].Value); c != 0 {
				return c
			}
		}
	}
	return 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// jsonIndex is -> with an integer: an array element (negative counts
// from the end); a top-level scalar, stored as a one-element array, is its
// own element 0 (and -1), as in PostgreSQL.
func jsonIndex(v repr.JSONValue, i int) (repr.JSONValue, bool) {
	if isJSONScalar(v) {
		if i == 0 || i == -1 {
			return v, true
		}
		return repr.JSONValue{}, false
	}
	return v.Index(i)
}

func nullableFunc(f *Func) *Func {
	f.Nullable = true
	return f
}

func init() {
	// Comparisons with jsonb's semantics (not the canonical text's).
	for _, c := range cmpOps {
		test := c.test
		defBinOp(c.op, tJsonb, tJsonb, tBool, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			if a[0].Str() == a[1].Str() {
				return repr.BoolDatum(test(0)), nil
			}
			x, err := jsonArg(a[0])
			if err != nil {
				return repr.Null, err
			}
			y, err := jsonArg(a[1])
			if err != nil {
				return repr.Null, err
			}
			return repr.BoolDatum(test(JSONCompare(x, y))), nil
		})
	}
	// -> and ->>.
	nullableFunc(defBinOp("->", tJsonb, tText, tJsonb, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		r, ok := v.Get(a[1].Str())
		if !ok {
			return repr.Null, nil
		}
		return r.Datum(), nil
	}))
	nullableFunc(defBinOp("->", tJsonb, tInt4, tJsonb, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		r, ok := jsonIndex(v, int(a[1].Int()))
		if !ok {
			return repr.Null, nil
		}
		return r.Datum(), nil
	}))
	nullableFunc(defBinOp("->>", tJsonb, tText, tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		r, ok := v.Get(a[1].Str())
		if !ok {
			return repr.Null, nil
		}
		return jsonText(r), nil
	}))
	nullableFunc(defBinOp("->>", tJsonb, tInt4, tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		r, ok := jsonIndex(v, int(a[1].Int()))
		if !ok {
			return repr.Null, nil
		}
		return jsonText(r), nil
	}))
	pathOp := func(text bool) evalFn {
		return func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			v, err := jsonArg(a[0])
			if err != nil {
				return repr.Null, err
			}
			r, ok := jsonPath(v, a[1].Elements(nil))
			if !ok {
				return repr.Null, nil
			}
			if text {
				return jsonText(r), nil
			}
			return r.Datum(), nil
		}
	}
	nullableFunc(defBinOp("#>", tJsonb, tTextArray, tJsonb, pathOp(false)))
	nullableFunc(defBinOp("#>>", tJsonb, tTextArray, tText, pathOp(true)))
	// jsonb_extract_path(jsonb, variadic text[]).
	for _, text := range []bool{false, true} {
		name, ret := "jsonb_extract_path", tJsonb
		if text {
			name, ret = "jsonb_extract_path_text", tText
		}
		op := pathOp(text)
		f := &Func{Name: name, Ret: ret, Strict: true, Nullable: true, Eval: func(ctx *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			for _, p := range a[1:] {
				if p.IsNull() {
					return repr.Null, nil
				}
			}
			return op(ctx, []repr.Datum{a[0], repr.ArrayDatum(a[1:])})
		}}
		addOverload(funcCatalog, name, Overload{Params: []ParamType{Exact(tJsonb), Exact(tText)}, Ret: Exact(ret), Variadic: true, Func: f})
	}
	defBinOp("@>", tJsonb, tJsonb, tBool, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		x, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		y, err := jsonArg(a[1])
		if err != nil {
			return repr.Null, err
		}
		return repr.BoolDatum(jsonContains(x, y, true)), nil
	})
	defBinOp("<@", tJsonb, tJsonb, tBool, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		x, err := jsonArg(a[1])
		if err != nil {
			return repr.Null, err
		}
		y, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		return repr.BoolDatum(jsonContains(x, y, true)), nil
	})
	defBinOp("?", tJsonb, tText, tBool, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		return repr.BoolDatum(jsonExists(v, a[1].Str())), nil
	})
	for _, all := range []bool{false, true} {
		op := "?|"
		if all {
			op = "?&"
		}
		isAll := all
		defBinOp(op, tJsonb, tTextArray, tBool, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			v, err := jsonArg(a[0])
			if err != nil {
				return repr.Null, err
			}
			for _, k := range a[1].Elements(nil) {
				if k.IsNull() {
					continue
				}
				e := jsonExists(v, k.Str())
				if e && !isAll {
					return repr.True, nil
				}
				if !e && isAll {
					return repr.False, nil
				}
			}
			return repr.BoolDatum(isAll), nil
		})
	}
	defBinOp("||", tJsonb, tJsonb, tJsonb, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		x, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		y, err := jsonArg(a[1])
		if err != nil {
			return repr.Null, err
		}
		if x.Kind == repr.JSONObject && y.Kind == repr.JSONObject {
			pairs := append(append([]repr.JSONPair{}, x.Pairs...), y.Pairs...)
			return repr.JSONObjectValue(pairs).Datum(), nil
		}
		wrap := func(v repr.JSONValue) []repr.JSONValue {
			if v.Kind == repr.JSONArray {
				return v.Elems
			}
			return []repr.JSONValue{v}
		}
		elems := append(append([]repr.JSONValue{}, wrap(x)...), wrap(y)...)
		return repr.JSONArrayValue(elems).Datum(), nil
	})
	defBinOp("-", tJsonb, tText, tJsonb, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		key := a[1].Str()
		switch v.Kind {
		case repr.JSONObject:
			var pairs []repr.JSONPair
			for _, p := range v.Pairs {
				if p.Key != key {
					pairs = append(pairs, p)
				}
			}
			return repr.JSONObjectValue(pairs).Datum(), nil
		case repr.JSONArray:
			elems := []repr.JSONValue{}
			for _, e := range v.Elems {
				if !(e.Kind == repr.JSONString && e.Str == key) {
					elems = append(elems, e)
				}
			}
			return repr.JSONArrayValue(elems).Datum(), nil
		}
		return repr.Null, errorf(pgcode.InvalidParameterValue, "cannot delete from scalar")
	})
	defBinOp("-", tJsonb, tInt4, tJsonb, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		switch v.Kind {
		case repr.JSONArray:
			i := int(a[1].Int())
			if i < 0 {
				i += len(v.Elems)
			}
			if i < 0 || i >= len(v.Elems) {
				return a[0], nil
			}
			elems := append(append([]repr.JSONValue{}, v.Elems[:i]...), v.Elems[i+1:]...)
			return repr.JSONArrayValue(elems).Datum(), nil
		case repr.JSONObject:
			return repr.Null, errorf(pgcode.InvalidParameterValue, "cannot delete from object using integer index")
		}
		return repr.Null, errorf(pgcode.InvalidParameterValue, "cannot delete from scalar")
	})

	defFunc("jsonb_typeof", ts(tJsonb), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		return repr.TextDatum(v.Kind.String()), nil
	})
	defFunc("jsonb_array_length", ts(tJsonb), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		switch v.Kind {
		case repr.JSONArray:
			return repr.Int4Datum(int32(len(v.Elems))), nil
		case repr.JSONObject:
			return repr.Null, errorf(pgcode.InvalidParameterValue, "cannot get array length of a non-array")
		}
		return repr.Null, errorf(pgcode.InvalidParameterValue, "cannot get array length of a scalar")
	})
	defFunc("jsonb_strip_nulls", ts(tJsonb), tJsonb, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		return stripNulls(v).Datum(), nil
	})
	defFunc("jsonb_pretty", ts(tJsonb), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v, err := jsonArg(a[0])
		if err != nil {
			return repr.Null, err
		}
		return repr.TextDatum(string(v.AppendPretty(nil, 0))), nil
	})
	toJSON := func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
		return &Func{Name: "to_jsonb", Ret: ret, Strict: true, Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			v, err := DatumToJSON(a[0])
			if err != nil {
				return repr.Null, err
			}
			return v.Datum(), nil
		}}, nil
	}
	// anyelement, as in PostgreSQL: an unknown literal alone is an error
	// (42804), not text.
	defPoly(funcCatalog, "to_jsonb", []ParamType{AnyElement}, Exact(tJsonb), false, toJSON)
	// The zero-argument forms are separate functions, as in PostgreSQL.
	defFunc("jsonb_build_array", nil, tJsonb, func(*EvalCtx, []repr.Datum) (repr.Datum, error) {
		return repr.JsonbDatum("[]"), nil
	})
	defFunc("jsonb_build_object", nil, tJsonb, func(*EvalCtx, []repr.Datum) (repr.Datum, error) {
		return repr.JsonbDatum("{}"), nil
	})
	defPoly(funcCatalog, "jsonb_build_array", []ParamType{Any}, Exact(tJsonb), true,
		func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			return &Func{Name: "jsonb_build_array", Ret: ret, NullableFn: func([]repr.ColumnType) bool { return false },
				Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
					elems := make([]repr.JSONValue, len(a))
					for i, d := range a {
						v, err := DatumToJSON(d)
						if err != nil {
							return repr.Null, err
						}
						elems[i] = v
					}
					return repr.JSONArrayValue(elems).Datum(), nil
				}}, nil
		})
	defPoly(funcCatalog, "jsonb_build_object", []ParamType{Any}, Exact(tJsonb), true,
		func(argTypes []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			if len(argTypes)%2 != 0 {
				return nil, errorf(pgcode.InvalidParameterValue, "argument list must have even number of elements").
					WithHint("The arguments of jsonb_build_object() must consist of alternating keys and values.")
			}
			return &Func{Name: "jsonb_build_object", Ret: ret, NullableFn: func([]repr.ColumnType) bool { return false },
				Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
					pairs := make([]repr.JSONPair, 0, len(a)/2)
					for i := 0; i+1 < len(a); i += 2 {
						if a[i].IsNull() {
							return repr.Null, errorf(pgcode.InvalidParameterValue, "argument %d: key must not be null", i+1)
						}
						v, err := DatumToJSON(a[i+1])
						if err != nil {
							return repr.Null, err
						}
						key, err := jsonKeyText(a[i])
						if err != nil {
							return repr.Null, err
						}
						pairs = append(pairs, repr.JSONPair{Key: key, Value: v})
					}
					return repr.JSONObjectValue(pairs).Datum(), nil
				}}, nil
		})
}

// jsonKeyText is the object key a datum makes in jsonb_build_object: its
// JSON scalar's text (true, 1.5, 2020-01-01T10:00:00); arrays, records and
// jsonb are not allowed.
func jsonKeyText(d repr.Datum) (string, error) {
	switch d.Kind() {
	case repr.KindArray, repr.KindRecord, repr.KindJsonb:
		return "", errorf(pgcode.InvalidParameterValue, "key value must be scalar, not array, composite, or json")
	}
	v, err := DatumToJSON(d)
	if err != nil {
		return "", err
	}
	if v.Kind == repr.JSONString {
		return v.Str, nil
	}
	return v.String(), nil
}

func stripNulls(v repr.JSONValue) repr.JSONValue {
	switch v.Kind {
	case repr.JSONObject:
		var pairs []repr.JSONPair
		for _, p := range v.Pairs {
			if p.Value.Kind == repr.JSONNull {
				continue
			}
			pairs = append(pairs, repr.JSONPair{Key: p.Key, Value: stripNulls(p.Value)})
		}
		return repr.JSONValue{Kind: repr.JSONObject, Pairs: pairs}
	case repr.JSONArray:
		elems := make([]repr.JSONValue, len(v.Elems))
		for i, e := range v.Elems {
			elems[i] = stripNulls(e)
		}
		return repr.JSONArrayValue(elems)
	}
	return v
}
