package plan

import "github.com/viewd/viewd/expr"

// LiteralLifting moves columns whose value is a literal upwards, so that
// the literal meets (and folds into) the expressions that read it and the
// operators below carry fewer columns:
//   - within a Map, a reference to an earlier literal column is replaced
//     by the literal;
//   - the trailing literal columns of a Map that is a Join input are
//     lifted above the Join (references in equivalences become the
//     literal; a Project restores the column order);
//   - they are lifted through Negate and Threshold, through a Union
//     whose inputs all end in the same literals, and out of a Let's value
//     into each Get of it (a left join's NULL columns then meet the
//     joins that read them: psql's and JDBC's joins of pg_class with the
//     NULL classoid of an empty pg_description fold away);
//   - Reduce group keys and aggregate arguments reading them get the
//     literal substituted.
type LiteralLifting struct{}

// Name implements Rule.
func (LiteralLifting) Name() string { return "literal-lifting" }

// Transform implements Rule.
func (LiteralLifting) Transform(rel Rel) (Rel, error) {
	return Rewrite(rel, func(r Rel) (Rel, error) { return liftLiterals(r), nil })
}

// literalSuffix splits m's scalars into the leading ones and the trailing
// run of non-error literals.
func literalSuffix(m Map) (head []expr.Scalar, lits []expr.Scalar) {
	k := len(m.Scalars)
	for k > 0 {
		if l, ok := m.Scalars[k-1].(expr.Literal); ok && l.Err == nil {
			k--
			continue
		}
		break
	}
	return m.Scalars[:k], m.Scalars[k:]
}

// mapDefs returns, for each output column of m, its literal value when it
// is a literal column, else nil.
func mapDefs(in Rel, scalars []expr.Scalar) ([]expr.Scalar, int) {
	n := Arity(in)
	defs := make([]expr.Scalar, n+len(scalars))
	for i, s := range scalars {
		if l, ok := s.(expr.Literal); ok && l.Err == nil {
			defs[n+i] = l
		}
	}
	return defs, n
}

func substituteDefs(e expr.Scalar, defs []expr.Scalar) expr.Scalar {
	return replaceColumns(e, func(c int) expr.Scalar {
		if c < len(defs) && defs[c] != nil {
			return defs[c]
		}
		return expr.Column{Index: c}
	})
}

func withMap(rel Rel, scalars []expr.Scalar) Rel {
	if len(scalars) == 0 {
		return rel
	}
	return Map{Input: rel, Scalars: scalars}
}

func liftLiterals(rel Rel) Rel {
	switch r := rel.(type) {
	case Map:
		defs, n := mapDefs(r.Input, r.Scalars)
		out := make([]expr.Scalar, len(r.Scalars))
		for i, s := range r.Scalars {
			out[i] = substituteDefs(s, defs[:n+i])
		}
		r.Scalars = out
		return r
	case Negate:
		if m, ok := r.Input.(Map); ok {
			if head, lits := literalSuffix(m); len(lits) > 0 {
				return Map{Input: Negate{Input: withMap(m.Input, head)}, Scalars: lits}
			}
		}
	case Threshold:
		if m, ok := r.Input.(Map); ok {
			if head, lits := literalSuffix(m); len(lits) > 0 {
				return Map{Input: Threshold{Input: withMap(m.Input, head)}, Scalars: lits}
			}
		}
	case Let:
		return liftLetLiterals(r)
	case Union:
		var common []expr.Scalar
		ins := make([]Rel, len(r.Inputs))
		for i, in := range r.Inputs {
			m, ok := in.(Map)
			if !ok {
				return r
			}
			head, lits := literalSuffix(m)
			if i == 0 {
				common = lits
			}
			if len(lits) == 0 || len(lits) != len(common) || joinScalars(lits, ",") != joinScalars(common, ",") {
				return r
			}
			ins[i] = withMap(m.Input, head)
		}
		if len(common) > 0 {
			return Map{Input: Union{Inputs: ins}, Scalars: common}
		}
	case Reduce:
		m, ok := r.Input.(Map)
		if !ok {
			return r
		}
		defs, _ := mapDefs(m.Input, m.Scalars)
		r.GroupKey = substituteAll(r.GroupKey, defs)
		aggs := append([]expr.Aggregate(nil), r.Aggregates...)
		for i := range aggs {
			if aggs[i].Expr != nil {
				aggs[i].Expr = substituteDefs(aggs[i].Expr, defs)
			}
			if aggs[i].Filter != nil {
				aggs[i].Filter = substituteDefs(aggs[i].Filter, defs)
			}
		}
		r.Aggregates = aggs
		return r
	case Join:
		return liftJoinLiterals(r)
	}
	return rel
}

func substituteAll(es []expr.Scalar, defs []expr.Scalar) []expr.Scalar {
	out := make([]expr.Scalar, len(es))
	for i, e := range es {
		out[i] = substituteDefs(e, defs)
	}
	return out
}

func liftJoinLiterals(j Join) Rel {
	type lifted struct {
		oldCol int
		lit    expr.Scalar
	}
	var lits []lifted
	var ins []Rel
	oldOff, newOff := 0, 0
	newPos := map[int]int{} // old column -> column of the new join
	found := false
	for _, in := range j.Inputs {
		arity := Arity(in)
		keep := arity
		if m, ok := in.(Map); ok {
			head, ls := literalSuffix(m)
			if len(ls) > 0 {
				found = true
				keep = arity - len(ls)
				for k, l := range ls {
					lits = append(lits, lifted{oldCol: oldOff + keep + k, lit: l})
				}
				in = withMap(m.Input, head)
			}
		}
		for c := 0; c < keep; c++ {
			newPos[oldOff+c] = newOff + c
		}
		ins = append(ins, in)
		oldOff += arity
		newOff += keep
	}
	if !found {
		return j
	}
	defs := make([]expr.Scalar, oldOff)
	for _, l := range lits {
		defs[l.oldCol] = l.lit
	}
	eqs := make([][]expr.Scalar, len(j.Equivalences))
	for i, c := range j.Equivalences {
		eqs[i] = remapAll(substituteAll(c, defs), func(c int) int { return newPos[c] })
	}
	var scalars []expr.Scalar
	for k, l := range lits {
		scalars = append(scalars, l.lit)
		newPos[l.oldCol] = newOff + k
	}
	outs := make([]int, oldOff)
	for c := range outs {
		outs[c] = newPos[c]
	}
	return Project{Input: Map{Input: Join{Inputs: ins, Equivalences: eqs}, Scalars: scalars}, Outputs: outs}
}

// liftLetLiterals moves the trailing literal columns of a Let's value to
// every Get of it: the value loses them and each Get becomes a Map of the
// literals over the narrower Get.
func liftLetLiterals(r Let) Rel {
	m, ok := r.Value.(Map)
	if !ok {
		return r
	}
	head, lits := literalSuffix(m)
	if len(lits) == 0 {
		return r
	}
	value := withMap(m.Input, head)
	typ := value.Typ()
	body, err := Rewrite(r.Body, func(x Rel) (Rel, error) {
		g, ok := x.(Get)
		if !ok || g.Local == 0 || g.Local != r.ID {
			return x, nil
		}
		g.Type = typ
		return Map{Input: g, Scalars: lits}, nil
	})
	if err != nil {
		return r
	}
	r.Value, r.Body = value, body
	return r
}
