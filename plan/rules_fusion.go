package plan

import "github.com/viewd/viewd/expr"

// Fusion merges adjacent operators of the same kind and removes no-ops:
//   - Map∘Map → one Map; an empty Map disappears;
//   - Filter∘Filter → one Filter (predicates deduplicated); an empty
//     Filter disappears;
//   - Project∘Project → one Project; an identity Project disappears;
//   - Union inputs that are Unions are spliced in; a one-input Union is its
//     input;
//   - Negate∘Negate → the input;
//   - a Join input that is an unplanned Join is flattened into its parent
//     (equivalences shifted to the parent's column numbering).
type Fusion struct{}

// Name implements Rule.
func (Fusion) Name() string { return "fusion" }

// Transform implements Rule.
func (Fusion) Transform(rel Rel) (Rel, error) {
	return Rewrite(rel, func(r Rel) (Rel, error) { return fuse(r), nil })
}

func fuse(rel Rel) Rel {
	switch r := rel.(type) {
	case Map:
		if len(r.Scalars) == 0 {
			return r.Input
		}
		if in, ok := r.Input.(Map); ok {
			return Map{Input: in.Input, Scalars: append(append([]expr.Scalar(nil), in.Scalars...), r.Scalars...)}
		}
	case Filter:
		if len(r.Predicates) == 0 {
			return r.Input
		}
		preds := dedupScalars(r.Predicates)
		if in, ok := r.Input.(Filter); ok {
			return Filter{Input: in.Input, Predicates: dedupScalars(append(append([]expr.Scalar(nil), in.Predicates...), preds...))}
		}
		return Filter{Input: r.Input, Predicates: preds}
	case Project:
		if in, ok := r.Input.(Project); ok {
			outs := make([]int, len(r.Outputs))
			for i, o := range r.Outputs {
				outs[i] = in.Outputs[o]
			}
			return fuse(Project{Input: in.Input, Outputs: outs})
		}
		if isIdentity(r.Outputs, Arity(r.Input)) {
			return r.Input
		}
	case Union:
		var ins []Rel
		for _, in := range r.Inputs {
			if u, ok := in.(Union); ok {
				ins = append(ins, u.Inputs...)
			} else {
				ins = append(ins, in)
			}
		}
		if len(ins) == 1 {
			return ins[0]
		}
		return Union{Inputs: ins}
	case Negate:
		if in, ok := r.Input.(Negate); ok {
			return in.Input
		}
	case Join:
		if r.Implementation.Kind != Unimplemented {
			return r
		}
		return flattenJoin(r)
	}
	return rel
}

// flattenJoin splices unplanned Join inputs into j.
func flattenJoin(j Join) Rel {
	nested := false
	for _, in := range j.Inputs {
		if inner, ok := in.(Join); ok && inner.Implementation.Kind == Unimplemented {
			nested = true
		}
	}
	if !nested {
		return j
	}
	var ins []Rel
	var eqs [][]expr.Scalar
	off := 0
	for _, in := range j.Inputs {
		if inner, ok := in.(Join); ok && inner.Implementation.Kind == Unimplemented {
			ins = append(ins, inner.Inputs...)
			for _, c := range inner.Equivalences {
				eqs = append(eqs, shiftAll(c, off))
			}
		} else {
			ins = append(ins, in)
		}
		off += Arity(in)
	}
	eqs = append(eqs, j.Equivalences...)
	return Join{Inputs: ins, Equivalences: eqs}
}

func isIdentity(outs []int, arity int) bool {
	if len(outs) != arity {
		return false
	}
	for i, o := range outs {
		if o != i {
			return false
		}
	}
	return true
}
