package expr

import (
	"math"
	"regexp"

	"github.com/cockroachdb/apd/v3"
	"strings"
	"time"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// TableFunc is a set-returning function used by FlatMap: for each input row
// it evaluates Args and emits zero or more rows of Cols.Types columns,
// appended to the input row.
type TableFunc struct {
	// Name prints in plans, e.g. "generate_series", "unnest",
	// "jsonb_array_elements".
	Name string
	Cols []repr.ColumnType
	// Eval emits the output rows for one set of argument values; emit must
	// not retain the slice it is given. When emit returns false, Eval stops
	// and returns nil (the consumer has enough rows, or was cancelled).
	Eval func(ctx *EvalCtx, args []repr.Datum, emit func(row []repr.Datum) bool) error
	// ColNames are the default output column names (PostgreSQL names a
	// single-column table function's column after the function).
	ColNames []string
	// ArgTypes are the parameter types the arguments must be cast to
	// before the call (set by LookupTableFunc).
	ArgTypes []repr.ScalarType
}

// String prints the function's name and output types.
func (tf *TableFunc) String() string {
	parts := make([]string, len(tf.Cols))
	for i, c := range tf.Cols {
		parts[i] = c.String()
	}
	return tf.Name + " -> (" + strings.Join(parts, ", ") + ")"
}

// WithOrdinality returns tf with a last column, ordinality (int8), that
// numbers each argument set's rows from 1 (FROM f(...) WITH ORDINALITY).
func (tf *TableFunc) WithOrdinality() *TableFunc {
	out := *tf
	out.Name = tf.Name + " with ordinality"
	out.Cols = append(append([]repr.ColumnType(nil), tf.Cols...), repr.ColumnType{Type: repr.TypeInt8})
	out.ColNames = append(append([]string(nil), tf.ColNames...), "ordinality")
	out.Eval = func(ctx *EvalCtx, args []repr.Datum, emit func([]repr.Datum) bool) error {
		var n int64
		var row []repr.Datum
		return tf.Eval(ctx, args, func(r []repr.Datum) bool {
			n++
			row = append(append(row[:0], r...), repr.Int8Datum(n))
			return emit(row)
		})
	}
	return &out
}

// TableFuncNames lists the table functions LookupTableFunc knows.
var TableFuncNames = []string{
	"generate_series", "unnest", "jsonb_array_elements", "jsonb_array_elements_text",
	"jsonb_each", "jsonb_each_text", "jsonb_object_keys", "regexp_split_to_table",
	"pg_get_keywords", "information_schema._pg_expandarray", "pg_partition_ancestors",
}

// IsTableFunc reports whether name is a known table function.
func IsTableFunc(name string) bool {
	for _, n := range TableFuncNames {
		if n == strings.ToLower(name) {
			return true
		}
	}
	return false
}

// LookupTableFunc resolves a table function for argument types:
//
//	generate_series(int4, int4 [, int4])           -> int4
//	generate_series(int8, int8 [, int8])           -> int8 (any int8 argument)
//	generate_series(numeric, numeric [, numeric])  -> numeric
//	generate_series(ts, ts, interval)              -> timestamp / timestamptz
//	generate_series(date, date, interval)          -> timestamptz
//	unnest(anyarray)                               -> element
//	jsonb_array_elements(jsonb)                    -> jsonb
//	jsonb_array_elements_text(jsonb)               -> text
//	jsonb_each(jsonb)                              -> (key text, value jsonb)
//	jsonb_each_text(jsonb)                         -> (key text, value text)
//	jsonb_object_keys(jsonb)                       -> text
//	regexp_split_to_table(text, text [, text])     -> text
//	pg_partition_ancestors(regclass)               -> regclass (none: no partitions)
//
// Unknown-typed arguments (string literals) take the parameter's type.
// ArgTypes of the result says what to cast the arguments to. An unknown
// name or signature is 42883.
func LookupTableFunc(name string, argTypes []repr.ScalarType) (*TableFunc, error) {
	name = strings.ToLower(name)
	undefined := func() (*TableFunc, error) {
		parts := make([]string, len(argTypes))
		for i, t := range argTypes {
			parts[i] = t.String()
		}
		return nil, pgcode.New(pgcode.UndefinedFunction, "function %s(%s) does not exist", name, strings.Join(parts, ", ")).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts.")
	}
	fits := func(want ...repr.ScalarType) bool {
		if len(argTypes) != len(want) {
			return false
		}
		for i, a := range argTypes {
			if a.Kind == repr.KindNull {
				continue
			}
			if !a.SameKind(want[i]) && !implicitNumericWidening(a, want[i]) && !(a.Kind.IsString() && want[i].Kind == repr.KindText) {
				return false
			}
		}
		return true
	}
	n := len(argTypes)
	switch name {
	case "generate_series":
		if n != 2 && n != 3 {
			return undefined()
		}
		for _, t := range []repr.ScalarType{repr.TypeInt4, repr.TypeInt8, repr.TypeNumeric} {
			want := []repr.ScalarType{t, t, t}[:n]
			if fits(want...) {
				return seriesNumeric(t, want), nil
			}
		}
		if n == 3 {
			// timestamptz first: unknown literals resolve to the preferred
			// type of the datetime category, as in PostgreSQL.
			for _, t := range []repr.ScalarType{repr.TypeTimestampTz, repr.TypeTimestamp} {
				if fits(t, t, repr.TypeInterval) {
					return seriesTime(t), nil
				}
			}
		}
		// A date series is a timestamptz series (date casts implicitly to
		// the preferred datetime type), as in PostgreSQL.
		if n == 3 && fits(repr.TypeDate, repr.TypeDate, repr.TypeInterval) {
			return seriesTime(repr.TypeTimestampTz), nil
		}
	case "pg_partition_ancestors":
		// viewd has no partitions; PostgreSQL lists nothing for a
		// relation that is not a partition (psql's \d reads it).
		if n == 1 && fits(repr.TypeOid) {
			return &TableFunc{
				Name: "pg_partition_ancestors", Cols: []repr.ColumnType{{Type: repr.TypeOid}}, ColNames: []string{"relid"},
				ArgTypes: []repr.ScalarType{repr.TypeOid},
				Eval:     func(*EvalCtx, []repr.Datum, func([]repr.Datum) bool) error { return nil },
			}, nil
		}
	case "unnest":
		if n == 1 && argTypes[0].Kind == repr.KindArray && argTypes[0].Elem != nil {
			elem := *argTypes[0].Elem
			return &TableFunc{
				Name: "unnest", Cols: []repr.ColumnType{{Type: elem, Nullable: true}}, ColNames: []string{"unnest"},
				ArgTypes: []repr.ScalarType{argTypes[0]},
				Eval: func(_ *EvalCtx, args []repr.Datum, emit func([]repr.Datum) bool) error {
					if args[0].IsNull() {
						return nil
					}
					it := args[0].ElementsRow().Iter()
					var row [1]repr.Datum
					for {
						d, ok := it.Next()
						if !ok {
							return nil
						}
						row[0] = d
						if !emit(row[:]) {
							return nil
						}
					}
				},
			}, nil
		}
	case "jsonb_array_elements", "jsonb_array_elements_text":
		if fits(repr.TypeJsonb) {
			asText := strings.HasSuffix(name, "_text")
			col := repr.ColumnType{Type: repr.TypeJsonb}
			if asText {
				col = repr.ColumnType{Type: repr.TypeText, Nullable: true}
			}
			return &TableFunc{
				Name: name, Cols: []repr.ColumnType{col}, ColNames: []string{"value"},
				ArgTypes: []repr.ScalarType{repr.TypeJsonb},
				Eval: func(_ *EvalCtx, args []repr.Datum, emit func([]repr.Datum) bool) error {
					if args[0].IsNull() {
						return nil
					}
					j, err := repr.ParseJSONB(args[0])
					if err != nil {
						return err
					}
					switch j.Kind {
					case repr.JSONArray:
					case repr.JSONObject:
						return pgcode.New(pgcode.InvalidParameterValue, "cannot extract elements from an object")
					default:
						return pgcode.New(pgcode.InvalidParameterValue, "cannot extract elements from a scalar")
					}
					var row [1]repr.Datum
					for _, e := range j.Elems {
						row[0] = jsonOut(e, asText)
						if !emit(row[:]) {
							return nil
						}
					}
					return nil
				},
			}, nil
		}
	case "jsonb_each", "jsonb_each_text":
		if fits(repr.TypeJsonb) {
			asText := strings.HasSuffix(name, "_text")
			val := repr.ColumnType{Type: repr.TypeJsonb}
			if asText {
				val = repr.ColumnType{Type: repr.TypeText, Nullable: true}
			}
			return &TableFunc{
				Name: name, Cols: []repr.ColumnType{{Type: repr.TypeText}, val}, ColNames: []string{"key", "value"},
				ArgTypes: []repr.ScalarType{repr.TypeJsonb},
				Eval: func(_ *EvalCtx, args []repr.Datum, emit func([]repr.Datum) bool) error {
					if args[0].IsNull() {
						return nil
					}
					j, err := repr.ParseJSONB(args[0])
					if err != nil {
						return err
					}
					if j.Kind != repr.JSONObject {
						return pgcode.New(pgcode.InvalidParameterValue, "cannot call %s on a non-object", name)
					}
					var row [2]repr.Datum
					for _, p := range j.Pairs {
						row[0] = repr.TextDatum(p.Key)
						row[1] = jsonOut(p.Value, asText)
						if !emit(row[:]) {
							return nil
						}
					}
					return nil
				},
			}, nil
		}
	case "pg_get_keywords":
		if len(argTypes) == 0 {
			return keywordsFunc(), nil
		}
	case "information_schema._pg_expandarray":
		// Each element x of a one-dimensional array with its index n
		// (from 1); JDBC's getPrimaryKeys and getIndexInfo expand
		// pg_index.indkey with it.
		if len(argTypes) == 1 && argTypes[0].Kind == repr.KindArray && argTypes[0].Elem != nil {
			elem := *argTypes[0].Elem
			return &TableFunc{
				Name: name, Cols: []repr.ColumnType{{Type: elem, Nullable: true}, {Type: repr.TypeInt4}}, ColNames: []string{"x", "n"},
				ArgTypes: []repr.ScalarType{argTypes[0]},
				Eval: func(_ *EvalCtx, args []repr.Datum, emit func([]repr.Datum) bool) error {
					if args[0].IsNull() {
						return nil
					}
					it := args[0].ElementsRow().Iter()
					for n := int32(1); ; n++ {
						e, ok := it.Next()
						if !ok || !emit([]repr.Datum{e, repr.Int4Datum(n)}) {
							return nil
						}
					}
				},
			}, nil
		}
	case "jsonb_object_keys":
		if fits(repr.TypeJsonb) {
			return &TableFunc{
				Name: name, Cols: []repr.ColumnType{{Type: repr.TypeText}}, ColNames: []string{"jsonb_object_keys"},
				ArgTypes: []repr.ScalarType{repr.TypeJsonb},
				Eval: func(_ *EvalCtx, args []repr.Datum, emit func([]repr.Datum) bool) error {
					if args[0].IsNull() {
						return nil
					}
					j, err := repr.ParseJSONB(args[0])
					if err != nil {
						return err
					}
					switch j.Kind {
					case repr.JSONObject:
					case repr.JSONArray:
						return pgcode.New(pgcode.InvalidParameterValue, "cannot call jsonb_object_keys on an array")
					default:
						return pgcode.New(pgcode.InvalidParameterValue, "cannot call jsonb_object_keys on a scalar")
					}
					var row [1]repr.Datum
					for _, p := range j.Pairs {
						row[0] = repr.TextDatum(p.Key)
						if !emit(row[:]) {
							return nil
						}
					}
					return nil
				},
			}, nil
		}
	case "regexp_split_to_table":
		if fits(repr.TypeText, repr.TypeText) || fits(repr.TypeText, repr.TypeText, repr.TypeText) {
			at := []repr.ScalarType{repr.TypeText, repr.TypeText, repr.TypeText}[:n]
			return &TableFunc{
				Name: name, Cols: []repr.ColumnType{{Type: repr.TypeText}}, ColNames: []string{"regexp_split_to_table"},
				ArgTypes: at,
				Eval: func(_ *EvalCtx, args []repr.Datum, emit func([]repr.Datum) bool) error {
					for _, a := range args {
						if a.IsNull() {
							return nil
						}
					}
					flags := ""
					if len(args) == 3 {
						flags = args[2].Str()
					}
					re, err := compileSplitRegex(args[1].Str(), flags)
					if err != nil {
						return err
					}
					var row [1]repr.Datum
					for _, part := range regexpSplit(re, args[0].Str()) {
						row[0] = repr.TextDatum(part)
						if !emit(row[:]) {
							return nil
						}
					}
					return nil
				},
			}, nil
		}
	}
	return undefined()
}

// implicitNumericWidening reports whether an integer argument widens
// implicitly to the numeric parameter want (int2 -> int4 -> int8 ->
// numeric).
func implicitNumericWidening(a, want repr.ScalarType) bool {
	rank := func(k repr.Kind) int {
		switch k {
		case repr.KindInt2:
			return 1
		case repr.KindInt4:
			return 2
		case repr.KindInt8:
			return 3
		case repr.KindNumeric:
			return 4
		}
		return 0
	}
	ra, rw := rank(a.Kind), rank(want.Kind)
	return ra > 0 && rw > 0 && ra <= rw
}

// jsonOut returns a JSON value as jsonb, or as text (->> style: strings
// unquoted, null as SQL NULL) when asText.
func jsonOut(v repr.JSONValue, asText bool) repr.Datum {
	if !asText {
		return v.Datum()
	}
	switch v.Kind {
	case repr.JSONNull:
		return repr.Null
	case repr.JSONString:
		return repr.TextDatum(v.Str)
	}
	return repr.TextDatum(v.String())
}

func seriesNumeric(t repr.ScalarType, argTypes []repr.ScalarType) *TableFunc {
	tf := &TableFunc{
		Name: "generate_series", Cols: []repr.ColumnType{{Type: t}}, ColNames: []string{"generate_series"},
		ArgTypes: argTypes,
	}
	if t.Kind == repr.KindNumeric {
		tf.Eval = func(ctx *EvalCtx, args []repr.Datum, emit func([]repr.Datum) bool) error {
			return seriesDecimal(args, emit)
		}
		return tf
	}
	k := t.Kind
	tf.Eval = func(_ *EvalCtx, args []repr.Datum, emit func([]repr.Datum) bool) error {
		for _, a := range args {
			if a.IsNull() {
				return nil
			}
		}
		start, stop, step := args[0].Int(), args[1].Int(), int64(1)
		if len(args) == 3 {
			step = args[2].Int()
		}
		if step == 0 {
			return pgcode.New(pgcode.InvalidParameterValue, "step size cannot equal zero")
		}
		var row [1]repr.Datum
		for v := start; (step > 0 && v <= stop) || (step < 0 && v >= stop); {
			row[0] = repr.IntDatum(k, v)
			if !emit(row[:]) {
				return nil
			}
			next := v + step
			if (step > 0 && next < v) || (step < 0 && next > v) {
				break // overflow: the series ends, as PostgreSQL's does
			}
			v = next
		}
		return nil
	}
	return tf
}

func seriesTime(t repr.ScalarType) *TableFunc {
	k := t.Kind
	return &TableFunc{
		Name: "generate_series", Cols: []repr.ColumnType{{Type: t}}, ColNames: []string{"generate_series"},
		ArgTypes: []repr.ScalarType{t, t, repr.TypeInterval},
		Eval: func(_ *EvalCtx, args []repr.Datum, emit func([]repr.Datum) bool) error {
			for _, a := range args {
				if a.IsNull() {
					return nil
				}
			}
			start, stop, step := args[0].Micros(), args[1].Micros(), args[2].Interval()
			if step.Duration() == 0 {
				return pgcode.New(pgcode.InvalidParameterValue, "step size cannot equal zero")
			}
			up := step.Duration() > 0
			var row [1]repr.Datum
			// Like PostgreSQL, each value is the previous one plus step
			// (so a month step from Jan 31 goes Feb 29, Mar 29, ...).
			for v := start; (up && v <= stop) || (!up && v >= stop); {
				if k == repr.KindTimestamp {
					row[0] = repr.TimestampDatum(v)
				} else {
					row[0] = repr.TimestampTzDatum(v)
				}
				if !emit(row[:]) {
					return nil
				}
				next, err := TimestampAddInterval(v, step, 1)
				if err != nil {
					return err
				}
				v = next
			}
			return nil
		},
	}
}

// TimestampAddInterval returns ts + n*iv (microseconds since the epoch, UTC
// wall clock): months are added on the calendar (clamping the day to the
// month's end, as PostgreSQL does), then days, then microseconds.
func TimestampAddInterval(ts int64, iv repr.Interval, n int) (int64, error) {
	months := int64(iv.Months) * int64(n)
	days := int64(iv.Days) * int64(n)
	micros := iv.Micros * int64(n)
	if months != 0 {
		dayPart := floorDivI(ts, repr.MicrosPerDay)
		tod := ts - dayPart*repr.MicrosPerDay
		y, m, d := repr.CivilFromDays(dayPart)
		total := y*12 + (m - 1) + months
		ny, nm := floorDivI(total, 12), total-floorDivI(total, 12)*12+1
		if dim := repr.DaysInMonth(ny, nm); d > dim {
			d = dim
		}
		ts = repr.DaysFromCivil(ny, nm, d)*repr.MicrosPerDay + tod
	}
	dm, ok1 := mulOK(days, repr.MicrosPerDay)
	r, ok2 := addOK(ts, dm)
	r, ok3 := addOK(r, micros)
	if !ok1 || !ok2 || !ok3 || r < tfMinMicros {
		return 0, pgcode.New(pgcode.DatetimeFieldOverflow, "timestamp out of range")
	}
	return r, nil
}

// tfMinMicros is 4714-11-24 BC, PostgreSQL's earliest timestamp; the
// latest is bounded by the int64 microsecond encoding.
var tfMinMicros = time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC).UnixMicro()

func addOK(a, b int64) (int64, bool) {
	s := a + b
	return s, (s > a) == (b > 0)
}

func mulOK(a, b int64) (int64, bool) {
	if a == 0 || b == 0 {
		return 0, true
	}
	p := a * b
	return p, p/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64)
}

func floorDivI(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func seriesDecimal(args []repr.Datum, emit func([]repr.Datum) bool) error {
	for _, a := range args {
		if a.IsNull() {
			return nil
		}
	}
	start, stop := args[0].Numeric(), args[1].Numeric()
	step := apd.New(1, 0)
	if len(args) == 3 {
		step = args[2].Numeric()
	}
	if step.IsZero() {
		return pgcode.New(pgcode.InvalidParameterValue, "step size cannot equal zero")
	}
	for _, d := range []*apd.Decimal{start, stop, step} {
		if d.Form != 0 {
			return pgcode.New(pgcode.InvalidParameterValue, "start, stop and step values cannot be NaN or infinity")
		}
	}
	up := !step.Negative
	cur := new(apd.Decimal)
	cur.Set(start)
	var row [1]repr.Datum
	for {
		c := cur.Cmp(stop)
		if (up && c > 0) || (!up && c < 0) {
			return nil
		}
		v := new(apd.Decimal)
		v.Set(cur)
		row[0] = repr.NumericDatum(v)
		if !emit(row[:]) {
			return nil
		}
		next := new(apd.Decimal)
		if _, err := apd.BaseContext.WithPrecision(1000).Add(next, cur, step); err != nil {
			return pgcode.New(pgcode.NumericValueOutOfRange, "value overflows numeric format")
		}
		cur = next
	}
}

// compileSplitRegex compiles a PostgreSQL regular expression with flags
// (i: case-insensitive, c: case-sensitive, n/s/m: newline handling, x:
// expanded) as Go's RE2 syntax. The g flag is rejected, as PostgreSQL
// does for the split functions.
func compileSplitRegex(pattern, flags string) (*regexp.Regexp, error) {
	prefix := ""
	for _, f := range flags {
		switch f {
		case 'i':
			prefix += "(?i)"
		case 'c':
		case 'n', 'm':
			prefix += "(?m)"
		case 's':
			prefix += "(?s)"
		case 'g':
			return nil, pgcode.New(pgcode.InvalidParameterValue, "regexp_split_to_table() does not support the \"global\" option")
		default:
			return nil, pgcode.New(pgcode.InvalidParameterValue, "invalid regular expression option: \"%c\"", f)
		}
	}
	re, err := regexp.Compile(prefix + pattern)
	if err != nil {
		return nil, pgcode.New(pgcode.InvalidRegularExpression, "invalid regular expression: %v", err)
	}
	return re, nil
}

// regexpSplit splits s at the matches of re as PostgreSQL's
// regexp_split_to_table does: a match counts only if it starts before the
// end of the string and ends after the previous match (so empty matches at
// the start and end, or right after another match, do not split).
func regexpSplit(re *regexp.Regexp, s string) []string {
	var out []string
	start, prevEnd := 0, 0
	for _, m := range re.FindAllStringIndex(s, -1) {
		if m[0] < len(s) && m[1] > prevEnd {
			out = append(out, s[start:m[0]])
			start = m[1]
		}
		prevEnd = m[1]
	}
	return append(out, s[start:])
}

// ZipTableFuncs returns the table function that calls fns in lockstep,
// as PostgreSQL 10+ runs several set-returning functions of one select
// list (and ROWS FROM): row i holds the i-th row of every function, the
// ones that ran out padded with NULLs, until the longest ends. Its
// arguments are those of fns in order, nargs[k] for fns[k]. Each
// function's rows for one call are buffered, so the memory a call takes
// is that of its longest function's output.
func ZipTableFuncs(fns []*TableFunc, nargs []int) *TableFunc {
	z := &TableFunc{}
	names := make([]string, len(fns))
	for k, f := range fns {
		names[k] = f.Name
		for _, c := range f.Cols {
			c.Nullable = true
			z.Cols = append(z.Cols, c)
		}
		z.ColNames = append(z.ColNames, f.ColNames...)
		z.ArgTypes = append(z.ArgTypes, f.ArgTypes...)
	}
	z.Name = "rows_from(" + strings.Join(names, ", ") + ")"
	z.Eval = func(ctx *EvalCtx, args []repr.Datum, emit func(row []repr.Datum) bool) error {
		outs := make([][][]repr.Datum, len(fns))
		longest, at := 0, 0
		for k, f := range fns {
			err := f.Eval(ctx, args[at:at+nargs[k]], func(row []repr.Datum) bool {
				outs[k] = append(outs[k], append([]repr.Datum(nil), row...))
				return true
			})
			if err != nil {
				return err
			}
			at += nargs[k]
			longest = max(longest, len(outs[k]))
		}
		row := make([]repr.Datum, len(z.Cols))
		for i := 0; i < longest; i++ {
			row = row[:0]
			for k, f := range fns {
				if i < len(outs[k]) {
					row = append(row, outs[k][i]...)
					continue
				}
				for range f.Cols {
					row = append(row, repr.Null)
				}
			}
			if !emit(row) {
				return nil
			}
		}
		return nil
	}
	return z
}
