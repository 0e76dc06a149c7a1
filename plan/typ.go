package plan

import (
	"sort"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// Typ implements Rel.
func (g Get) Typ() RelType { return g.Type }

// Typ implements Rel.
func (c Constant) Typ() RelType { return c.Type }

// Typ implements Rel: the input's columns followed by one column per scalar
// (each typed over the columns before it). Unique keys are preserved.
func (m Map) Typ() RelType {
	in := m.Input.Typ()
	cols := append([]repr.ColumnType(nil), in.Cols...)
	for _, s := range m.Scalars {
		cols = append(cols, s.Type(cols))
	}
	return RelType{Cols: cols, Keys: cloneKeys(in.Keys)}
}

// Typ implements Rel: the input's type, with columns that a predicate
// requires to be non-NULL (see NonNullRequirements) marked non-nullable.
func (f Filter) Typ() RelType {
	in := f.Input.Typ()
	cols := append([]repr.ColumnType(nil), in.Cols...)
	for _, p := range f.Predicates {
		for _, c := range NonNullRequirements(p) {
			if c < len(cols) {
				cols[c].Nullable = false
			}
		}
	}
	return RelType{Cols: cols, Keys: cloneKeys(in.Keys)}
}

// Typ implements Rel: the listed columns; a unique key of the input all of
// whose columns survive remains a key (over their first output positions).
func (p Project) Typ() RelType {
	in := p.Input.Typ()
	cols := make([]repr.ColumnType, len(p.Outputs))
	for i, o := range p.Outputs {
		if o >= 0 && o < len(in.Cols) {
			cols[i] = in.Cols[o]
		} else {
			cols[i] = repr.ColumnType{Type: repr.TypeUnknown, Nullable: true}
		}
	}
	var keys [][]int
	for _, k := range in.Keys {
		nk := make([]int, 0, len(k))
		ok := true
		for _, c := range k {
			pos := indexOf(p.Outputs, c)
			if pos < 0 {
				ok = false
				break
			}
			nk = append(nk, pos)
		}
		if ok {
			keys = addKey(keys, nk)
		}
	}
	return RelType{Cols: cols, Keys: keys}
}

// Typ implements Rel: the input's columns followed by the table function's.
// A table function may emit several rows per input row, so no key survives.
func (f FlatMap) Typ() RelType {
	in := f.Input.Typ()
	cols := append([]repr.ColumnType(nil), in.Cols...)
	if f.Func != nil {
		cols = append(cols, f.Func.Cols...)
	}
	return RelType{Cols: cols}
}

// Typ implements Rel: the concatenation of the inputs' columns. Columns
// named directly in an equivalence class are non-nullable (NULL never
// joins). When every input has a unique key, the concatenation of their
// first keys is a key of the join.
func (j Join) Typ() RelType {
	var cols []repr.ColumnType
	allKeyed := true
	var key []int
	for _, in := range j.Inputs {
		t := in.Typ()
		if len(t.Keys) == 0 {
			allKeyed = false
		} else {
			for _, c := range t.Keys[0] {
				key = append(key, c+len(cols))
			}
		}
		cols = append(cols, t.Cols...)
	}
	for _, class := range j.Equivalences {
		if len(class) < 2 {
			continue
		}
		for _, e := range class {
			for _, c := range NonNullRequirements(e) {
				if c < len(cols) {
					cols[c].Nullable = false
				}
			}
		}
	}
	var keys [][]int
	if allKeyed {
		keys = addKey(nil, key)
	}
	return RelType{Cols: cols, Keys: keys}
}

// Typ implements Rel: the group key columns then one column per aggregate;
// the group key columns form a unique key (the empty key, at most one row,
// for a global aggregate).
func (r Reduce) Typ() RelType {
	in := r.Input.Typ()
	cols := make([]repr.ColumnType, 0, len(r.GroupKey)+len(r.Aggregates))
	key := make([]int, 0, len(r.GroupKey))
	for i, k := range r.GroupKey {
		cols = append(cols, k.Type(in.Cols))
		key = append(key, i)
	}
	for _, a := range r.Aggregates {
		cols = append(cols, a.Typ)
	}
	return RelType{Cols: cols, Keys: [][]int{key}}
}

// Typ implements Rel: the input's type; with Limit 1 the group key columns
// are also a unique key.
func (t TopK) Typ() RelType {
	in := t.Input.Typ()
	keys := cloneKeys(in.Keys)
	if t.Limit == 1 {
		keys = addKey(keys, append([]int(nil), t.GroupKey...))
	}
	return RelType{Cols: append([]repr.ColumnType(nil), in.Cols...), Keys: keys}
}

// Typ implements Rel.
func (n Negate) Typ() RelType { return cloneType(n.Input.Typ()) }

// Typ implements Rel.
func (t Threshold) Typ() RelType { return cloneType(t.Input.Typ()) }

// Typ implements Rel: the first input's column types, nullable where any
// input's is; a scalar type of unknown kind (an untyped NULL) takes the
// first known one. A union of several inputs has no known key.
func (u Union) Typ() RelType {
	if len(u.Inputs) == 0 {
		return RelType{}
	}
	first := u.Inputs[0].Typ()
	if len(u.Inputs) == 1 {
		return cloneType(first)
	}
	cols := append([]repr.ColumnType(nil), first.Cols...)
	for _, in := range u.Inputs[1:] {
		t := in.Typ()
		for i := range cols {
			if i >= len(t.Cols) {
				break
			}
			cols[i] = unionColumnType(cols[i], t.Cols[i])
		}
	}
	return RelType{Cols: cols}
}

func unionColumnType(a, b repr.ColumnType) repr.ColumnType {
	if a.Type.Kind == repr.KindNull {
		a.Type = b.Type
	}
	a.Nullable = a.Nullable || b.Nullable
	return a
}

// Typ implements Rel.
func (a ArrangeBy) Typ() RelType { return cloneType(a.Input.Typ()) }

// Typ implements Rel: the body's type.
func (l Let) Typ() RelType { return l.Body.Typ() }

// Typ implements Rel: the body's type.
func (l LetRec) Typ() RelType { return l.Body.Typ() }

// Typ implements Rel: the input's columns followed by one per window
// function; keys are preserved.
func (w Window) Typ() RelType {
	in := w.Input.Typ()
	cols := append([]repr.ColumnType(nil), in.Cols...)
	for _, f := range w.Funcs {
		cols = append(cols, f.Typ)
	}
	return RelType{Cols: cols, Keys: cloneKeys(in.Keys)}
}

// Arity returns the number of columns of rel.
//
// It follows the structure (a Project's outputs, a Map's input plus its
// scalars, ...) rather than computing the whole type: the optimiser asks
// for arities at every node, and Typ recomputes a subtree's types.
func Arity(rel Rel) int {
	switch r := rel.(type) {
	case Get:
		return len(r.Type.Cols)
	case Constant:
		return len(r.Type.Cols)
	case Map:
		return Arity(r.Input) + len(r.Scalars)
	case Filter:
		return Arity(r.Input)
	case Project:
		return len(r.Outputs)
	case FlatMap:
		n := Arity(r.Input)
		if r.Func != nil {
			n += len(r.Func.Cols)
		}
		return n
	case Join:
		n := 0
		for _, in := range r.Inputs {
			n += Arity(in)
		}
		return n
	case Reduce:
		return len(r.GroupKey) + len(r.Aggregates)
	case TopK:
		return Arity(r.Input)
	case Negate:
		return Arity(r.Input)
	case Threshold:
		return Arity(r.Input)
	case Union:
		if len(r.Inputs) == 0 {
			return 0
		}
		return Arity(r.Inputs[0])
	case ArrangeBy:
		return Arity(r.Input)
	case Let:
		return Arity(r.Body)
	case LetRec:
		return Arity(r.Body)
	case Window:
		return Arity(r.Input) + len(r.Funcs)
	}
	return len(rel.Typ().Cols)
}

// NonNullRequirements returns the input columns that must be non-NULL for
// the predicate p to be true: a column itself (as a boolean), the arguments
// of a strict function and the conjuncts of AND, recursively, and the
// operand of IS NOT NULL.
// The result is sorted and without duplicates.
func NonNullRequirements(p expr.Scalar) []int {
	set := map[int]bool{}
	var walk func(e expr.Scalar)
	walk = func(e expr.Scalar) {
		switch e := e.(type) {
		case expr.Column:
			set[e.Index] = true
		case expr.Call:
			if e.Func == nil {
				return
			}
			if e.Func.Strict || isFuncNamed(e.Func, "and") {
				// A strict call is NULL when an argument is; a
				// conjunction is true only when every conjunct is.
				for _, a := range e.Args {
					walk(a)
				}
			} else if isFuncNamed(e.Func, "is not null") && len(e.Args) == 1 {
				walk(e.Args[0])
			}
		}
	}
	walk(p)
	out := make([]int, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

// UniqueKeyOf reports whether the columns cols (in any order) contain a
// unique key of t.
func UniqueKeyOf(t RelType, cols []int) bool {
	for _, k := range t.Keys {
		all := true
		for _, c := range k {
			if indexOf(cols, c) < 0 {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

func cloneType(t RelType) RelType {
	return RelType{Cols: append([]repr.ColumnType(nil), t.Cols...), Keys: cloneKeys(t.Keys)}
}

func cloneKeys(keys [][]int) [][]int {
	if keys == nil {
		return nil
	}
	out := make([][]int, len(keys))
	for i, k := range keys {
		out[i] = append([]int{}, k...)
	}
	return out
}

// addKey adds key k (sorted, deduplicated) unless an equal key is present.
func addKey(keys [][]int, k []int) [][]int {
	k = sortedUnique(k)
	for _, e := range keys {
		if equalInts(e, k) {
			return keys
		}
	}
	return append(keys, k)
}

func sortedUnique(xs []int) []int {
	out := append([]int{}, xs...)
	sort.Ints(out)
	n := 0
	for i, x := range out {
		if i == 0 || x != out[n-1] {
			out[n] = x
			n++
		}
	}
	return out[:n]
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func indexOf(xs []int, x int) int {
	for i, y := range xs {
		if y == x {
			return i
		}
	}
	return -1
}
