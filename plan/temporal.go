package plan

import (
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
)

// temporalParts is an MFP whose predicates compare mz_now() with row
// expressions, split into the non-temporal part and the bounds.
type temporalParts struct {
	pre          expr.MapFilterProject // Projection keeps every column
	lower, upper []TemporalBound
	projection   []int
	// post, when set, computes the expressions that no predicate or bound
	// reads over the filter's output (pre's columns), so that they are
	// evaluated only for rows that pass the bounds, then projects.
	post *expr.MapFilterProject
}

// node returns the LIR of the parts over input.
func (tp temporalParts) node(input Node) Node {
	f := LTemporalFilter{Input: input, Pre: tp.pre, Lower: tp.lower, Upper: tp.upper, Projection: tp.projection}
	if tp.post == nil {
		return f
	}
	return LMfp{Input: f, MFP: *tp.post}
}

// extractTemporal splits the temporal predicates of m into bounds. ok is
// false when m has none. A predicate that mentions mz_now() other than as
// one side of a comparison (=, <, <=, >, >=) whose other side does not is
// an error with code 0A000.
func extractTemporal(m expr.MapFilterProject) (temporalParts, bool, error) {
	var tp temporalParts
	found := false
	// mz_now() in a map expression is evaluated at the step's time; only
	// predicates become bounds.
	pre := m
	pre.Predicates = nil
	for _, p := range m.Predicates {
		if !containsMzNow(p.Expr) {
			pre.Predicates = append(pre.Predicates, p)
			continue
		}
		found = true
		for _, c := range splitConjunction(p.Expr) {
			if !containsMzNow(c) {
				pre.Predicates = append(pre.Predicates, expr.Predicate{Support: p.Support, Expr: c})
				continue
			}
			lo, hi, err := temporalBound(c)
			if err != nil {
				return tp, false, err
			}
			tp.lower = append(tp.lower, lo...)
			tp.upper = append(tp.upper, hi...)
		}
	}
	if !found {
		return tp, false, nil
	}
	width := m.InputArity + len(m.Expressions)
	need := m.InputArity
	for _, p := range m.Predicates {
		need = max(need, expr.MaxColumn(p.Expr)+1)
	}
	if need < width {
		pre.Expressions = m.Expressions[:need-m.InputArity]
		pre.Projection = allCols(need)
		tp.pre = pre
		tp.projection = allCols(need)
		post := expr.MapFilterProject{InputArity: need, Expressions: m.Expressions[need-m.InputArity:], Projection: append([]int(nil), m.Projection...)}
		tp.post = &post
		return tp, true, nil
	}
	pre.Projection = allCols(width)
	tp.pre = pre
	tp.projection = append([]int(nil), m.Projection...)
	return tp, true, nil
}

func temporalBound(p expr.Scalar) (lower, upper []TemporalBound, err error) {
	bad := func() error {
		return pgcode.New(pgcode.FeatureNotSupported,
			"plan: unsupported temporal predicate %s: mz_now() may only be compared (=, <, <=, >, >=) with an expression that does not involve mz_now()",
			p.String())
	}
	c, ok := p.(expr.Call)
	if !ok || len(c.Args) != 2 || c.Func == nil {
		return nil, nil, bad()
	}
	op := c.Func.Name
	a, b := c.Args[0], c.Args[1]
	if _, isNow := a.(expr.MzNow); !isNow {
		// e op mz_now() is mz_now() flip(op) e.
		if _, bNow := b.(expr.MzNow); !bNow {
			return nil, nil, bad()
		}
		a, b = b, a
		switch op {
		case "<":
			op = ">"
		case "<=":
			op = ">="
		case ">":
			op = "<"
		case ">=":
			op = "<="
		}
	}
	if containsMzNow(b) {
		return nil, nil, bad()
	}
	switch op {
	case "=":
		return []TemporalBound{{Expr: b, Inclusive: true}}, []TemporalBound{{Expr: b, Inclusive: true}}, nil
	case ">=":
		return []TemporalBound{{Expr: b, Inclusive: true}}, nil, nil
	case ">":
		return []TemporalBound{{Expr: b}}, nil, nil
	case "<=":
		return nil, []TemporalBound{{Expr: b, Inclusive: true}}, nil
	case "<":
		return nil, []TemporalBound{{Expr: b}}, nil
	}
	return nil, nil, bad()
}
