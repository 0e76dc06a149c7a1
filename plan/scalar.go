package plan

import (
	"sort"
	"strconv"
	"strings"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// Plan-level helpers over scalar expressions: column support, column
// remapping, recognition of the few functions the optimiser reasons about
// (=, AND, comparisons, IS NOT NULL) by their printed name, and constant
// folding. Scalars are compared by their deterministic String().

// support returns the sorted, distinct columns e reads.
func support(es ...expr.Scalar) []int {
	var out []int
	for _, e := range es {
		visitScalar(e, func(s expr.Scalar) {
			if c, ok := s.(expr.Column); ok {
				out = append(out, c.Index)
			}
		})
	}
	if len(out) < 2 {
		return out
	}
	sort.Ints(out)
	u := out[:1]
	for _, c := range out[1:] {
		if c != u[len(u)-1] {
			u = append(u, c)
		}
	}
	return u
}

// supportBelow reports whether every column e reads is < n.
func supportBelow(e expr.Scalar, n int) bool {
	ok := true
	visitScalar(e, func(s expr.Scalar) {
		if c, isCol := s.(expr.Column); isCol && c.Index >= n {
			ok = false
		}
	})
	return ok
}

// supportWithin reports whether every column e reads lies in [lo, hi).
func supportWithin(e expr.Scalar, lo, hi int) bool {
	ok := true
	visitScalar(e, func(s expr.Scalar) {
		if c, isCol := s.(expr.Column); isCol && (c.Index < lo || c.Index >= hi) {
			ok = false
		}
	})
	return ok
}

// visitScalar calls f on e and every subexpression, parents first.
func visitScalar(e expr.Scalar, f func(expr.Scalar)) {
	if e == nil {
		return
	}
	f(e)
	switch e := e.(type) {
	case expr.Call:
		for _, a := range e.Args {
			visitScalar(a, f)
		}
	case expr.If:
		visitScalar(e.Cond, f)
		visitScalar(e.Then, f)
		visitScalar(e.Else, f)
	}
}

// replaceColumns rewrites every column reference of e with f(index).
func replaceColumns(e expr.Scalar, f func(int) expr.Scalar) expr.Scalar {
	switch e := e.(type) {
	case expr.Column:
		return f(e.Index)
	case expr.Call:
		args := make([]expr.Scalar, len(e.Args))
		for i, a := range e.Args {
			args[i] = replaceColumns(a, f)
		}
		return expr.Call{Func: e.Func, Args: args}
	case expr.If:
		return expr.If{Cond: replaceColumns(e.Cond, f), Then: replaceColumns(e.Then, f), Else: replaceColumns(e.Else, f)}
	}
	return e
}

// permuteColumns rewrites column i of e to column m(i).
func permuteColumns(e expr.Scalar, m func(int) int) expr.Scalar {
	return replaceColumns(e, func(i int) expr.Scalar { return expr.Column{Index: m(i)} })
}

// shiftColumns adds delta to every column reference of e.
func shiftColumns(e expr.Scalar, delta int) expr.Scalar {
	if delta == 0 {
		return e
	}
	return permuteColumns(e, func(i int) int { return i + delta })
}

func shiftAll(es []expr.Scalar, delta int) []expr.Scalar {
	out := make([]expr.Scalar, len(es))
	for i, e := range es {
		out[i] = shiftColumns(e, delta)
	}
	return out
}

// substituteColumns replaces column i by defs[i] (for i < len(defs)).
func substituteColumns(e expr.Scalar, defs []expr.Scalar) expr.Scalar {
	return replaceColumns(e, func(i int) expr.Scalar {
		if i < len(defs) {
			return defs[i]
		}
		return expr.Column{Index: i}
	})
}

func isFuncNamed(f *expr.Func, names ...string) bool {
	if f == nil {
		return false
	}
	for _, n := range names {
		if strings.EqualFold(f.Name, n) {
			return true
		}
	}
	return false
}

// splitConjunction flattens nested ANDs into their conjuncts.
func splitConjunction(e expr.Scalar) []expr.Scalar {
	if c, ok := e.(expr.Call); ok && isFuncNamed(c.Func, "and") {
		var out []expr.Scalar
		for _, a := range c.Args {
			out = append(out, splitConjunction(a)...)
		}
		return out
	}
	return []expr.Scalar{e}
}

// asEquality returns the operands of an `a = b` call.
func asEquality(e expr.Scalar) (a, b expr.Scalar, ok bool) {
	c, isCall := e.(expr.Call)
	if !isCall || len(c.Args) != 2 || !isFuncNamed(c.Func, "=") {
		return nil, nil, false
	}
	return c.Args[0], c.Args[1], true
}

func containsMzNow(e expr.Scalar) bool {
	found := false
	visitScalar(e, func(s expr.Scalar) {
		if _, ok := s.(expr.MzNow); ok {
			found = true
		}
	})
	return found
}

func isLiteral(e expr.Scalar) bool {
	_, ok := e.(expr.Literal)
	return ok
}

// literalBool reports the value of e when it is a non-error boolean or NULL
// literal: known is false otherwise.
func literalBool(e expr.Scalar) (val, isNull, known bool) {
	l, ok := e.(expr.Literal)
	if !ok || l.Err != nil {
		return false, false, false
	}
	if l.Value.IsNull() {
		return false, true, true
	}
	if l.Value.Kind() != repr.KindBool {
		return false, false, false
	}
	return l.Value.Bool(), false, true
}

func scalarKey(e expr.Scalar) string { return e.String() }

func scalarsEqual(a, b expr.Scalar) bool {
	switch x := a.(type) {
	case *expr.Column:
		return scalarsEqual(*x, b)
	case *expr.Literal:
		return scalarsEqual(*x, b)
	case *expr.Call:
		return scalarsEqual(*x, b)
	case *expr.If:
		return scalarsEqual(*x, b)
	}
	switch y := b.(type) {
	case *expr.Column:
		return scalarsEqual(a, *y)
	case *expr.Literal:
		return scalarsEqual(a, *y)
	case *expr.Call:
		return scalarsEqual(a, *y)
	case *expr.If:
		return scalarsEqual(a, *y)
	}
	switch x := a.(type) {
	case expr.Column:
		y, ok := b.(expr.Column)
		return ok && x.Index == y.Index
	case expr.Literal:
		y, ok := b.(expr.Literal)
		if !ok || (x.Err == nil) != (y.Err == nil) {
			return false
		}
		if x.Err != nil {
			return x.Err.Message == y.Err.Message
		}
		return x.Value.Kind() == y.Value.Kind() && x.Typ.Type.Equal(y.Typ.Type) && repr.Equal(x.Value, y.Value) && x.Value.String() == y.Value.String()
	case expr.Call:
		y, ok := b.(expr.Call)
		if !ok || len(x.Args) != len(y.Args) || (x.Func != y.Func && (x.Func == nil || y.Func == nil || x.Func.Name != y.Func.Name || !x.Func.Ret.Equal(y.Func.Ret))) {
			return false
		}
		for i := range x.Args {
			if !scalarsEqual(x.Args[i], y.Args[i]) {
				return false
			}
		}
		return true
	case expr.If:
		y, ok := b.(expr.If)
		return ok && scalarsEqual(x.Cond, y.Cond) && scalarsEqual(x.Then, y.Then) && scalarsEqual(x.Else, y.Else)
	case expr.MzNow:
		_, ok := b.(expr.MzNow)
		return ok
	}
	return a.String() == b.String()
}

// containsScalar reports whether list holds an expression equal to e.
func containsScalar(list []expr.Scalar, e expr.Scalar) bool {
	for _, x := range list {
		if scalarsEqual(x, e) {
			return true
		}
	}
	return false
}

func dedupScalars(list []expr.Scalar) []expr.Scalar {
	var out []expr.Scalar
	seen := map[string][]expr.Scalar{} // by signature
	for _, e := range list {
		sig := scalarSig(e)
		if containsScalar(seen[sig], e) {
			continue
		}
		seen[sig] = append(seen[sig], e)
		out = append(out, e)
	}
	return out
}

// scalarSig is a signature of e that equal expressions (scalarsEqual)
// share: the column, the literal's text, the function's name over its
// arguments' signatures. Unequal expressions may share one, so it
// narrows comparisons without replacing them.
func scalarSig(e expr.Scalar) string {
	var b strings.Builder
	writeSig(&b, e)
	return b.String()
}

func writeSig(b *strings.Builder, e expr.Scalar) {
	switch x := e.(type) {
	case *expr.Column:
		writeSig(b, *x)
	case *expr.Literal:
		writeSig(b, *x)
	case *expr.Call:
		writeSig(b, *x)
	case *expr.If:
		writeSig(b, *x)
	case expr.Column:
		b.WriteByte('#')
		b.WriteString(strconv.Itoa(x.Index))
	case expr.Literal:
		if x.Err != nil {
			b.WriteByte('!')
			b.WriteString(x.Err.Message)
		} else {
			// The packed datum (kind tag and payload): cheaper than its
			// text, which for a long array literal (psql's
			// pg_table_is_visible) was most of dedupScalars' time.
			b.WriteByte('\'')
			var buf [64]byte
			b.Write(repr.AppendDatum(buf[:0], x.Value))
		}
	case expr.Call:
		if x.Func != nil {
			b.WriteString(x.Func.Name)
		}
		b.WriteByte('(')
		for _, a := range x.Args {
			writeSig(b, a)
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case expr.If:
		b.WriteString("if(")
		writeSig(b, x.Cond)
		writeSig(b, x.Then)
		writeSig(b, x.Else)
		b.WriteByte(')')
	case expr.MzNow:
		b.WriteString("mz_now()")
	default:
		b.WriteString(e.String())
	}
}

// foldScalar folds constant subexpressions of e with expr.FoldConstants:
// calls of immutable functions over literals are evaluated (an error
// becomes an error literal), CASE with a literal condition picks a branch,
// AND/OR drop neutral literals and collapse to an absorbing one. mz_now()
// and non-immutable functions are never folded.
func foldScalar(e expr.Scalar) expr.Scalar { return expr.FoldConstants(e, nil) }
