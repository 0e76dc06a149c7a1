package expr

import (
	"bytes"
	"strings"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// Array functions work on one-dimensional arrays (a nested array is an
// array whose elements are arrays). Subscripts are 1-based; an out-of-range
// subscript yields NULL, as in PostgreSQL.

// FuncArray returns the ARRAY[...] constructor for elements of type elem:
// non-strict (NULL elements are kept).
func FuncArray(elem repr.ScalarType) *Func {
	return &Func{Name: "array", Ret: repr.ArrayOf(elem), NullableFn: func([]repr.ColumnType) bool { return false },
		Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) { return repr.ArrayDatum(a), nil }}
}

// FuncSubscript returns a[i] for arrays of elem.
func FuncSubscript(elem repr.ScalarType) *Func {
	return &Func{Name: "array_subscript", Ret: elem, Strict: true, Nullable: true, Eval: subscript}
}

func subscript(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
	i := a[1].Int()
	if i < 1 {
		return repr.Null, nil
	}
	it := a[0].ElementsRow().Iter()
	for ; i > 1; i-- {
		if !it.Skip() {
			return repr.Null, nil
		}
	}
	d, ok := it.Next()
	if !ok {
		return repr.Null, nil
	}
	return d, nil
}

func arrayLen(d repr.Datum) int { return d.ElementsRow().Arity() }

func cardinality(d repr.Datum) int {
	n := 0
	it := d.ElementsRow().Iter()
	for {
		e, ok := it.Next()
		if !ok {
			return n
		}
		if e.Kind() == repr.KindArray {
			n += cardinality(e)
		} else {
			n++
		}
	}
}

func init() {
	elemFunc := func(name string, strict bool, nullable bool, eval evalFn) func([]repr.ScalarType, repr.ScalarType) (*Func, error) {
		return func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			f := &Func{Name: name, Ret: ret, Strict: strict, Nullable: nullable, Eval: eval}
			if !strict && !nullable {
				f.NullableFn = func([]repr.ColumnType) bool { return false }
			}
			return f, nil
		}
	}
	defPoly(funcCatalog, "array", []ParamType{AnyCompatible}, AnyCompatibleArray, true,
		func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			// At most PostgreSQL's 6 dimensions (54000), as text input.
			dims := 0
			for t := &ret; t != nil && t.Kind == repr.KindArray; t = t.Elem {
				dims++
			}
			if dims > repr.MaxArrayDims {
				return nil, repr.ErrArrayDims(dims)
			}
			return FuncArray(*ret.Elem), nil
		})
	defPoly(funcCatalog, "array_subscript", []ParamType{AnyArray, Exact(tInt4)}, AnyElement, false,
		elemFunc("array_subscript", true, true, subscript))
	defPoly(funcCatalog, "array_length", []ParamType{AnyArray, Exact(tInt4)}, Exact(tInt4), false,
		elemFunc("array_length", true, true, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			dim := a[1].Int()
			d := a[0]
			for ; dim > 1; dim-- {
				it := d.ElementsRow().Iter()
				first, ok := it.Next()
				if !ok || first.Kind() != repr.KindArray {
					return repr.Null, nil
				}
				d = first
			}
			if dim != 1 {
				return repr.Null, nil
			}
			n := arrayLen(d)
			if n == 0 {
				return repr.Null, nil
			}
			return repr.Int4Datum(int32(n)), nil
		}))
	defPoly(funcCatalog, "array_lower", []ParamType{AnyArray, Exact(tInt4)}, Exact(tInt4), false,
		elemFunc("array_lower", true, true, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			if a[1].Int() != 1 || arrayLen(a[0]) == 0 {
				return repr.Null, nil
			}
			return repr.Int4Datum(1), nil
		}))
	defPoly(funcCatalog, "array_upper", []ParamType{AnyArray, Exact(tInt4)}, Exact(tInt4), false,
		elemFunc("array_upper", true, true, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			n := arrayLen(a[0])
			if a[1].Int() != 1 || n == 0 {
				return repr.Null, nil
			}
			return repr.Int4Datum(int32(n)), nil
		}))
	defPoly(funcCatalog, "cardinality", []ParamType{AnyArray}, Exact(tInt4), false,
		elemFunc("cardinality", true, false, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.Int4Datum(int32(cardinality(a[0]))), nil
		}))
	position := func(ctx *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if a[0].IsNull() {
			return repr.Null, nil
		}
		start := int64(1)
		if len(a) > 2 {
			if a[2].IsNull() {
				return repr.Null, errorf(pgcode.NullValueNotAllowed, "initial position must not be null")
			}
			start = a[2].Int()
		} else if pos, ok := ctx.findPosition(a[0].ElementsRow(), a[1]); ok {
			if pos == 0 {
				return repr.Null, nil
			}
			return repr.Int4Datum(pos), nil
		}
		it := a[0].ElementsRow().Iter()
		for i := int64(1); ; i++ {
			e, ok := it.Next()
			if !ok {
				return repr.Null, nil
			}
			if i >= start && repr.Equal(e, a[1]) {
				return repr.Int4Datum(int32(i)), nil
			}
		}
	}
	defPoly(funcCatalog, "array_position", []ParamType{AnyCompatibleArray, AnyCompatible}, Exact(tInt4), false,
		elemFunc("array_position", false, true, position))
	// mz_eq_any(x, a) is x = ANY (a) for element types whose equality is
	// datum equality: true when an element equals x, else NULL when x or
	// an element is NULL (and a is not empty), else false. The planner
	// calls it instead of a quantified subquery over unnest(a).
	defPoly(funcCatalog, "mz_eq_any", []ParamType{AnyCompatible, AnyCompatibleArray}, Exact(tBool), false,
		elemFunc("mz_eq_any", false, true, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			if a[1].IsNull() {
				return repr.Null, nil
			}
			sawNull, n := false, 0
			it := a[1].ElementsRow().Iter()
			for {
				e, ok := it.Next()
				if !ok {
					break
				}
				n++
				switch {
				case e.IsNull():
					sawNull = true
				case !a[0].IsNull() && repr.Equal(e, a[0]):
					return repr.True, nil
				}
			}
			if n > 0 && (sawNull || a[0].IsNull()) {
				return repr.Null, nil
			}
			return repr.False, nil
		}))
	// array_remove(a, x) removes every element equal to x (IS NOT
	// DISTINCT FROM: NULL removes the NULLs).
	defPoly(funcCatalog, "array_remove", []ParamType{AnyCompatibleArray, AnyCompatible}, AnyCompatibleArray, false,
		elemFunc("array_remove", false, true, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			if a[0].IsNull() {
				return repr.Null, nil
			}
			var out []repr.Datum
			it := a[0].ElementsRow().Iter()
			for {
				e, ok := it.Next()
				if !ok {
					break
				}
				if e.Kind() == repr.KindArray {
					return repr.Null, errorf(pgcode.FeatureNotSupported, "removing elements from multidimensional arrays is not supported")
				}
				if (e.IsNull() && a[1].IsNull()) || (!e.IsNull() && !a[1].IsNull() && repr.Equal(e, a[1])) {
					continue
				}
				out = append(out, e)
			}
			return repr.ArrayDatum(out), nil
		}))
	defPoly(funcCatalog, "array_position", []ParamType{AnyCompatibleArray, AnyCompatible, Exact(tInt4)}, Exact(tInt4), false,
		elemFunc("array_position", false, true, position))
	toString := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if a[0].IsNull() || a[1].IsNull() {
			return repr.Null, nil
		}
		sep := a[1].Str()
		nullStr, haveNull := "", false
		if len(a) > 2 && !a[2].IsNull() {
			nullStr, haveNull = a[2].Str(), true
		}
		var b []byte
		first := true
		var walk func(d repr.Datum)
		walk = func(d repr.Datum) {
			it := d.ElementsRow().Iter()
			for {
				e, ok := it.Next()
				if !ok {
					return
				}
				if e.Kind() == repr.KindArray {
					walk(e)
					continue
				}
				if e.IsNull() && !haveNull {
					continue
				}
				if !first {
					b = append(b, sep...)
				}
				first = false
				if e.IsNull() {
					b = append(b, nullStr...)
				} else {
					b = repr.AppendText(b, e)
				}
			}
		}
		walk(a[0])
		return repr.TextDatum(string(b)), nil
	}
	defPoly(funcCatalog, "array_to_string", []ParamType{AnyArray, Exact(tText)}, Exact(tText), false,
		elemFunc("array_to_string", true, false, toString))
	defPoly(funcCatalog, "array_to_string", []ParamType{AnyArray, Exact(tText), Exact(tText)}, Exact(tText), false,
		elemFunc("array_to_string", false, true, toString))
	appendFn := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		var elems []repr.Datum
		if !a[0].IsNull() {
			elems = a[0].Elements(nil)
		}
		return repr.ArrayDatum(append(elems, a[1])), nil
	}
	prependFn := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		elems := []repr.Datum{a[0]}
		if !a[1].IsNull() {
			elems = a[1].Elements(elems)
		}
		return repr.ArrayDatum(elems), nil
	}
	catFn := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if a[0].IsNull() && a[1].IsNull() {
			return repr.Null, nil
		}
		var elems []repr.Datum
		for _, d := range a[:2] {
			if !d.IsNull() {
				elems = d.Elements(elems)
			}
		}
		return repr.ArrayDatum(elems), nil
	}
	defPoly(funcCatalog, "array_append", []ParamType{AnyCompatibleArray, AnyCompatible}, AnyCompatibleArray, false,
		elemFunc("array_append", false, false, appendFn))
	defPoly(funcCatalog, "array_prepend", []ParamType{AnyCompatible, AnyCompatibleArray}, AnyCompatibleArray, false,
		elemFunc("array_prepend", false, false, prependFn))
	defPoly(funcCatalog, "array_cat", []ParamType{AnyCompatibleArray, AnyCompatibleArray}, AnyCompatibleArray, false,
		elemFunc("array_cat", false, true, catFn))
	defPoly(binopCatalog, "||", []ParamType{AnyCompatibleArray, AnyCompatible}, AnyCompatibleArray, false,
		func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			return &Func{Name: "||", Infix: true, Ret: ret, NullableFn: func([]repr.ColumnType) bool { return false }, Eval: appendFn}, nil
		})
	defPoly(binopCatalog, "||", []ParamType{AnyCompatible, AnyCompatibleArray}, AnyCompatibleArray, false,
		func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			return &Func{Name: "||", Infix: true, Ret: ret, NullableFn: func([]repr.ColumnType) bool { return false }, Eval: prependFn}, nil
		})
	defPoly(binopCatalog, "||", []ParamType{AnyCompatibleArray, AnyCompatibleArray}, AnyCompatibleArray, false,
		func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			return &Func{Name: "||", Infix: true, Ret: ret, Nullable: true, Eval: catFn}, nil
		})
	defPoly(binopCatalog, "@>", []ParamType{AnyCompatibleArray, AnyCompatibleArray}, Exact(tBool), false,
		elemFunc("@>", true, false, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.BoolDatum(arrayContains(a[0], a[1])), nil
		}))
	defPoly(binopCatalog, "<@", []ParamType{AnyCompatibleArray, AnyCompatibleArray}, Exact(tBool), false,
		elemFunc("<@", true, false, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.BoolDatum(arrayContains(a[1], a[0])), nil
		}))
	defPoly(binopCatalog, "&&", []ParamType{AnyCompatibleArray, AnyCompatibleArray}, Exact(tBool), false,
		elemFunc("&&", true, false, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.BoolDatum(arrayOverlaps(a[0], a[1])), nil
		}))
	defFunc("string_to_array", ts(tText, tText), tTextArray, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		s, sep := a[0].Str(), a[1].Str()
		if s == "" {
			return repr.ArrayDatum(nil), nil
		}
		var parts []string
		if sep == "" {
			parts = []string{s}
		} else {
			parts = strings.Split(s, sep)
		}
		elems := make([]repr.Datum, len(parts))
		for i, p := range parts {
			elems[i] = repr.TextDatum(p)
		}
		return repr.ArrayDatum(elems), nil
	})
	// Mark Infix for the binary @>/<@ array operators built by elemFunc.
	for _, op := range []string{"@>", "<@", "&&"} {
		ovs := binopCatalog[op]
		for i := range ovs {
			if ovs[i].Make != nil {
				mk := ovs[i].Make
				ovs[i].Make = func(argTypes []repr.ScalarType) (*Func, error) {
					f, err := mk(argTypes)
					if f != nil {
						f.Infix = true
					}
					return f, err
				}
			}
		}
	}
}

// arrayOverlaps reports whether a and b have a non-NULL element in common.
func arrayOverlaps(a, b repr.Datum) bool {
	as := a.Elements(nil)
	it := b.ElementsRow().Iter()
	for {
		e, ok := it.Next()
		if !ok {
			return false
		}
		if e.IsNull() {
			continue
		}
		for _, x := range as {
			if !x.IsNull() && repr.Compare(x, e) == 0 {
				return true
			}
		}
	}
}

// arrayContains reports whether every non-NULL element of b is in a (a
// NULL element of b is never contained).
func arrayContains(a, b repr.Datum) bool {
	as := a.Elements(nil)
	it := b.ElementsRow().Iter()
	for {
		e, ok := it.Next()
		if !ok {
			return true
		}
		if e.IsNull() {
			return false
		}
		found := false
		for _, x := range as {
			if !x.IsNull() && repr.Compare(x, e) == 0 {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
}

// positionIndex maps the elements of one array of integers (or OIDs) to
// their first positions, so that array_position over the same array for
// every row (psql's pg_table_is_visible is one over the visible
// relations' OIDs, evaluated for each row of pg_class) costs a comparison
// of the array's bytes and a map lookup, not a walk of the array. An
// EvalCtx keeps the last one; it is built on the second call with the
// same array, so arrays that change from row to row cost one comparison.
type positionIndex struct {
	arr  []byte // the array's elements, packed (a private copy)
	seen int    // calls with arr so far
	kind repr.Kind
	pos  map[int64]int32
}

// findPosition is positionIndex.find on ctx's index (made on first use);
// a nil ctx has none.
func (ctx *EvalCtx) findPosition(arr repr.Row, needle repr.Datum) (int32, bool) {
	if ctx == nil {
		return 0, false
	}
	if ctx.positions == nil {
		ctx.positions = &positionIndex{}
	}
	return ctx.positions.find(arr, needle)
}

// positionIndexMin is the least number of elements worth indexing.
const positionIndexMin = 32

// find returns the first position of needle in arr (0 when absent), or
// ok false when it cannot answer: needle or an element is not an integer
// or OID, or arr is not yet indexed.
func (p *positionIndex) find(arr repr.Row, needle repr.Datum) (int32, bool) {
	k := needle.Kind()
	if !(k.IsInteger() || k == repr.KindOid) {
		return 0, false
	}
	if !bytes.Equal(p.arr, arr) {
		if len(arr) < positionIndexMin*2 {
			return 0, false
		}
		p.arr = append(p.arr[:0], arr...)
		p.seen, p.pos = 1, nil
		return 0, false
	}
	if p.pos == nil {
		p.seen++
		if p.seen < 2 {
			return 0, false
		}
		pos := map[int64]int32{}
		it := arr.Iter()
		for i := int32(1); ; i++ {
			e, ok := it.Next()
			if !ok {
				break
			}
			if e.Kind() != k {
				// NULL, or another kind: not indexable.
				p.arr = p.arr[:0]
				return 0, false
			}
			if _, dup := pos[e.Int()]; !dup {
				pos[e.Int()] = i
			}
		}
		if len(pos) < positionIndexMin {
			p.arr = p.arr[:0]
			return 0, false
		}
		p.pos, p.kind = pos, k
	}
	if k != p.kind {
		return 0, false
	}
	return p.pos[needle.Int()], true
}
