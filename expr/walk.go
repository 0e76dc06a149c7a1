package expr

import (
	"sort"
)

// Columns returns the input columns e reads, sorted and without duplicates.
func Columns(e Scalar) []int {
	seen := map[int]bool{}
	visitColumns(e, func(c int) { seen[c] = true })
	out := make([]int, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Ints(out)
	return out
}

// MaxColumn returns the largest column index e reads, or -1 when it reads
// none.
func MaxColumn(e Scalar) int {
	m := -1
	visitColumns(e, func(c int) {
		if c > m {
			m = c
		}
	})
	return m
}

// visitColumns calls f for each column reference in e.
func visitColumns(e Scalar, f func(int)) {
	switch e := e.(type) {
	case Column:
		f(e.Index)
	case *Column:
		f(e.Index)
	case Call:
		for _, a := range e.Args {
			visitColumns(a, f)
		}
	case *Call:
		for _, a := range e.Args {
			visitColumns(a, f)
		}
	case If:
		visitColumns(e.Cond, f)
		visitColumns(e.Then, f)
		visitColumns(e.Else, f)
	case *If:
		visitColumns(e.Cond, f)
		visitColumns(e.Then, f)
		visitColumns(e.Else, f)
	}
}

// MapColumns returns e with every column reference c replaced by f(c).
// Nodes without column references are shared, not copied.
func MapColumns(e Scalar, f func(int) int) Scalar {
	return Rewrite(e, func(s Scalar) Scalar {
		switch c := s.(type) {
		case Column:
			return Column{Index: f(c.Index)}
		case *Column:
			return Column{Index: f(c.Index)}
		}
		return s
	})
}

// SubstituteColumns returns e with column reference c replaced by the
// expression subst(c) (subst returns nil to keep the reference).
func SubstituteColumns(e Scalar, subst func(int) Scalar) Scalar {
	return Rewrite(e, func(s Scalar) Scalar {
		var idx int
		switch c := s.(type) {
		case Column:
			idx = c.Index
		case *Column:
			idx = c.Index
		default:
			return s
		}
		if r := subst(idx); r != nil {
			return r
		}
		return s
	})
}

// Rewrite rebuilds e bottom-up, applying f to each node after its
// children have been rewritten. Pointer nodes (*Call, *If, ...) are
// normalised to values.
func Rewrite(e Scalar, f func(Scalar) Scalar) Scalar {
	switch n := e.(type) {
	case *Call:
		return Rewrite(*n, f)
	case *If:
		return Rewrite(*n, f)
	case *Column:
		return f(*n)
	case *Literal:
		return f(*n)
	case *MzNow:
		return f(MzNow{})
	case Call:
		args := make([]Scalar, len(n.Args))
		for i, a := range n.Args {
			args[i] = Rewrite(a, f)
		}
		return f(Call{Func: n.Func, Args: args})
	case If:
		return f(If{Cond: Rewrite(n.Cond, f), Then: Rewrite(n.Then, f), Else: Rewrite(n.Else, f)})
	}
	return f(e)
}

// ContainsMzNow reports whether e calls mz_now().
func ContainsMzNow(e Scalar) bool {
	found := false
	Rewrite(e, func(s Scalar) Scalar {
		if _, ok := s.(MzNow); ok {
			found = true
		}
		return s
	})
	return found
}

// MaxVolatility returns the highest volatility of any function e calls
// (mz_now() counts as Stable).
func MaxVolatility(e Scalar) Volatility {
	v := Immutable
	Rewrite(e, func(s Scalar) Scalar {
		switch n := s.(type) {
		case Call:
			if n.Func != nil && n.Func.Volatility > v {
				v = n.Func.Volatility
			}
		case MzNow:
			if v < Stable {
				v = Stable
			}
		}
		return s
	})
	return v
}
