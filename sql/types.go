package sql

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// typeByName maps PostgreSQL's type names (as pg_query normalises them,
// and their common aliases) to kinds.
var typeByName = map[string]repr.ScalarType{
	"bool": repr.TypeBool, "boolean": repr.TypeBool,
	"int2": repr.TypeInt2, "smallint": repr.TypeInt2,
	"int4": repr.TypeInt4, "int": repr.TypeInt4, "integer": repr.TypeInt4,
	"int8": repr.TypeInt8, "bigint": repr.TypeInt8,
	"float4": repr.TypeFloat4, "real": repr.TypeFloat4,
	"float8": repr.TypeFloat8, "double precision": repr.TypeFloat8, "float": repr.TypeFloat8,
	"numeric": repr.TypeNumeric, "decimal": repr.TypeNumeric,
	"text": repr.TypeText, "varchar": repr.TypeVarchar, "character varying": repr.TypeVarchar,
	"bpchar": repr.TypeChar, "char": repr.TypeChar, "character": repr.TypeChar,
	"bytea": repr.TypeBytea, "date": repr.TypeDate,
	"time": repr.TypeTime, "timestamp": repr.TypeTimestamp, "timestamptz": repr.TypeTimestampTz,
	"interval": repr.TypeInterval, "uuid": repr.TypeUUID,
	"jsonb": repr.TypeJsonb, "json": repr.TypeJsonb,
	"oid": repr.TypeOid, "record": repr.TypeRecord,
	"mz_timestamp": repr.TypeNumeric,
	"name":         repr.TypeText, "regclass": repr.TypeOid, "regtype": repr.TypeOid, "regproc": repr.TypeOid,
	"regnamespace": repr.TypeOid, "regrole": repr.TypeOid, "regprocedure": repr.TypeOid, "regoper": repr.TypeOid,
	"regoperator": repr.TypeOid, "regconfig": repr.TypeOid, "xid": repr.TypeOid, "cid": repr.TypeOid,
	"int2vector": repr.ArrayOf(repr.TypeInt2), "oidvector": repr.ArrayOf(repr.TypeOid),
}

// resolveType converts a TypeName to a ScalarType, applying modifiers
// (varchar(n), char(n), numeric(p,s)) and array bounds.
func resolveType(tn *pg_query.TypeName) (repr.ScalarType, error) {
	var names []string
	for _, n := range tn.Names {
		names = append(names, n.GetString_().GetSval())
	}
	if len(names) == 2 && names[0] == "pg_catalog" {
		names = names[1:]
	}
	name := strings.Join(names, ".")
	t, ok := typeByName[name]
	if !ok {
		return repr.ScalarType{}, pgcode.New(pgcode.UndefinedObject, "type %q does not exist", name).WithPosition(0)
	}
	var mods []int64
	for _, m := range tn.Typmods {
		c := m.GetAConst()
		if c == nil || c.GetIval() == nil {
			return repr.ScalarType{}, pgcode.New(pgcode.SyntaxError, "type modifiers must be simple constants or identifiers")
		}
		mods = append(mods, int64(c.GetIval().Ival))
	}
	switch t.Kind {
	case repr.KindVarchar, repr.KindChar:
		if len(mods) > 1 {
			return repr.ScalarType{}, pgcode.New(pgcode.SyntaxError, "invalid type modifier")
		}
		if len(mods) == 1 {
			if mods[0] < 1 {
				return repr.ScalarType{}, pgcode.New(pgcode.InvalidParameterValue, "length for type %s must be at least 1", name)
			}
			t.Typmod = int32(mods[0])
		} else if t.Kind == repr.KindChar && name != "bpchar" {
			t.Typmod = 1
		}
	case repr.KindNumeric:
		switch len(mods) {
		case 0:
		case 1, 2:
			p, s := mods[0], int64(0)
			if len(mods) == 2 {
				s = mods[1]
			}
			if p < 1 || p > 1000 {
				return repr.ScalarType{}, pgcode.New(pgcode.InvalidParameterValue, "NUMERIC precision %d must be between 1 and 1000", p)
			}
			if s < 0 || s > p {
				return repr.ScalarType{}, pgcode.New(pgcode.InvalidParameterValue, "NUMERIC scale %d must be between 0 and precision %d", s, p)
			}
			t = repr.NumericType(int32(p), int32(s))
		default:
			return repr.ScalarType{}, pgcode.New(pgcode.SyntaxError, "invalid NUMERIC type modifier")
		}
	case repr.KindInterval:
		// interval MONTH, DAY TO SECOND(3), interval(3): the grammar gives
		// the field mask and, optionally, the precision.
		rng, prec := repr.IntervalFullRange, repr.IntervalFullPrecision
		switch len(mods) {
		case 0:
		case 1, 2:
			rng = int32(mods[0])
			if len(mods) == 2 {
				prec = int32(mods[1])
			}
		default:
			return repr.ScalarType{}, pgcode.New(pgcode.SyntaxError, "invalid INTERVAL type modifier")
		}
		prec, err := repr.CheckIntervalTypmod(rng, prec)
		if err != nil {
			return repr.ScalarType{}, err
		}
		t = repr.IntervalType(rng, prec)
	case repr.KindFloat8:
		// float(p): p < 25 is real.
		if len(mods) == 1 && mods[0] < 25 {
			t = repr.TypeFloat4
		}
	}
	for range tn.ArrayBounds {
		if t.Kind == repr.KindArray {
			break // multi-dimensional arrays are one type in PostgreSQL
		}
		t = repr.ArrayOf(t)
	}
	return t, nil
}

// typeForOid maps a ParameterDescription OID to a type.
func typeForOid(oid uint32) (repr.ScalarType, bool) { return repr.TypeForOid(oid) }

// unknownAsText reads an unknown-typed value (a string literal's text, or
// NULL) as text.
var unknownAsText = &expr.Func{
	Name:   "unknown_to_text",
	Ret:    repr.TypeText,
	Strict: true,
	Eval: func(_ *expr.EvalCtx, args []repr.Datum) (repr.Datum, error) {
		return args[0].WithKind(repr.KindText), nil
	},
}

// intervalSpan maps an interval to its span (repr.Interval.SpanMicros),
// a numeric equal for equal intervals: grouping, DISTINCT and equality
// joins on intervals key on it, because packed intervals keep their
// fields ('1 day' and '24 hours' pack differently but are equal, one
// group in PostgreSQL).
var intervalSpan = &expr.Func{
	Name:   "interval_span",
	Ret:    repr.TypeNumeric,
	Strict: true,
	Eval: func(_ *expr.EvalCtx, args []repr.Datum) (repr.Datum, error) {
		return repr.NumericDatum(args[0].Interval().SpanMicros()), nil
	},
}

// isUnknown reports whether e is an untyped literal or parameter: a
// string literal or NULL that adopts the type its context asks for.
func isUnknown(e HScalar) bool { return e.Typ().Type.Kind == repr.KindNull }

// coerce converts e to type to in cast context ctx: an unknown literal is
// parsed as to, an untyped parameter gets the type, other expressions are
// cast (42804 when the cast is not allowed in ctx).
func (q *qctx) coerce(e HScalar, to repr.ScalarType, ctx expr.CastContext, what string) (HScalar, error) {
	from := e.Typ().Type
	if to.Kind == repr.KindNull {
		return e, nil
	}
	switch x := e.(type) {
	case HLiteral:
		if from.Kind == repr.KindNull {
			if x.Value.IsNull() {
				return HLiteral{Value: repr.Null, Type: repr.ColumnType{Type: to, Nullable: true}}, nil
			}
			parseAs := to.WithoutTypmod()
			if to.Kind == repr.KindInterval {
				// interval '3' MONTH: the qualifier decides what a bare
				// number counts.
				parseAs = to
			}
			d, err := repr.ParseText(x.Value.Str(), parseAs)
			if err != nil {
				return nil, err
			}
			lit := HLiteral{Value: d, Type: repr.ColumnType{Type: to.WithoutTypmod()}}
			if to.Typmod != repr.NoTypmod {
				return q.coerce(lit, to, expr.Explicit, what)
			}
			return lit, nil
		}
	case HParam:
		if from.Kind == repr.KindNull {
			q.setParamType(x.N, to)
			return HParam{N: x.N, Type: repr.ColumnType{Type: to, Nullable: true}}, nil
		}
	}
	if from.Equal(to) {
		return e, nil
	}
	if from.Kind == repr.KindNull {
		// An unknown-typed non-literal: a column of a subquery or UNION
		// branch made of string literals, or an all-NULL CASE. Its values
		// are text or NULL, so it is read as text.
		// Like an unknown literal, it adopts the type its context asks
		// for: the text is read as that type (an explicit-context cast).
		asText := HCall{Func: unknownAsText, Args: []HScalar{e}}
		if to.Kind == repr.KindText && to.Typmod == repr.NoTypmod {
			return asText, nil
		}
		return q.coerce(asText, to, expr.Explicit, what)
	}
	c, ok := expr.LookupCast(from, to)
	if !ok || c.Context > ctx {
		if ctx == expr.Explicit {
			return nil, pgcode.New("42846", "cannot cast type %s to %s", from, to)
		}
		if what != "" {
			return nil, pgcode.New(pgcode.DatatypeMismatch, "%s is of type %s but expression is of type %s", what, to, from).
				WithHint("You will need to rewrite or cast the expression.")
		}
		return nil, pgcode.New(pgcode.DatatypeMismatch, "cannot convert type %s to %s", from, to)
	}
	return HCall{Func: c.FuncFor(ctx), Args: []HScalar{e}}, nil
}

// setParamType fixes the type of $n when it is still unknown.
func (q *qctx) setParamType(n int, t repr.ScalarType) {
	for len(q.scx.ParamTypes) < n {
		q.scx.ParamTypes = append(q.scx.ParamTypes, repr.TypeUnknown)
	}
	if q.scx.ParamTypes[n-1].Kind == repr.KindNull {
		q.scx.ParamTypes[n-1] = t
	}
}

// commonType unifies the types of exprs (CASE, COALESCE, UNION, IN,
// VALUES) with PostgreSQL's select_common_type and coerces each to it.
func (q *qctx) unify(exprs []HScalar, context string) ([]HScalar, repr.ScalarType, error) {
	types := make([]repr.ScalarType, len(exprs))
	for i, e := range exprs {
		types[i] = e.Typ().Type
	}
	t, err := expr.CommonType(types)
	if err != nil {
		if pe, ok := err.(*pgcode.Error); ok && context != "" && strings.HasPrefix(pe.Message, "types ") {
			return nil, t, pgcode.New(pe.Code, "%s %s", context, pe.Message)
		}
		return nil, t, err
	}
	out := make([]HScalar, len(exprs))
	for i, e := range exprs {
		c, err := q.coerce(e, t, expr.Implicit, "")
		if err != nil {
			return nil, t, err
		}
		out[i] = c
	}
	return out, t, nil
}

// numericLiteral types a numeric constant as PostgreSQL does: integers
// that fit int4 are integer, larger ones bigint, then numeric; decimals
// are numeric.
func numericLiteral(text string) (HLiteral, error) {
	if v, err := strconv.ParseInt(text, 10, 32); err == nil {
		return HLiteral{Value: repr.Int4Datum(int32(v)), Type: repr.ColumnType{Type: repr.TypeInt4}}, nil
	}
	if v, err := strconv.ParseInt(text, 10, 64); err == nil {
		return HLiteral{Value: repr.Int8Datum(v), Type: repr.ColumnType{Type: repr.TypeInt8}}, nil
	}
	d, err := repr.ParseText(text, repr.TypeNumeric)
	if err != nil {
		return HLiteral{}, err
	}
	return HLiteral{Value: d, Type: repr.ColumnType{Type: repr.TypeNumeric}}, nil
}
