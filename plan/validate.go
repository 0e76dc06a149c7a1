package plan

import (
	"fmt"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
)

// Validate checks the structural invariants of a MIR tree (see doc.go):
// column references within their input's arity, Project outputs in range,
// Union inputs of equal arity, TopK/Window columns in range, join
// implementations naming existing inputs, and local Gets bound by an
// enclosing Let or LetRec. Optimize and Lower call it first.
func Validate(rel Rel) error {
	return validate(rel, map[LocalID]bool{})
}

func checkScalars(where string, es []expr.Scalar, arity int) error {
	for _, e := range es {
		if e == nil {
			return fmt.Errorf("plan: %s: nil expression", where)
		}
		if !supportBelow(e, arity) {
			return fmt.Errorf("plan: %s: %s reads a column beyond arity %d", where, e, arity)
		}
	}
	return nil
}

func checkCols(where string, cs []int, arity int) error {
	for _, c := range cs {
		if c < 0 || c >= arity {
			return fmt.Errorf("plan: %s: column #%d out of range (arity %d)", where, c, arity)
		}
	}
	return nil
}

func validate(rel Rel, bound map[LocalID]bool) error {
	if rel == nil {
		return fmt.Errorf("plan: nil relation")
	}
	switch r := rel.(type) {
	case Get:
		if r.Local != 0 && !bound[r.Local] {
			return fmt.Errorf("plan: Get of unbound local %s", localName(r.Local))
		}
		return nil
	case Constant:
		return nil
	case Let:
		if err := validate(r.Value, bound); err != nil {
			return err
		}
		inner := copyBound(bound)
		inner[r.ID] = true
		return validate(r.Body, inner)
	case LetRec:
		inner := copyBound(bound)
		for _, id := range r.IDs {
			inner[id] = true
		}
		if len(r.Values) != len(r.IDs) {
			return fmt.Errorf("plan: LetRec has %d ids and %d values", len(r.IDs), len(r.Values))
		}
		for _, v := range r.Values {
			if err := validate(v, inner); err != nil {
				return err
			}
		}
		return validate(r.Body, inner)
	}
	for _, c := range Children(rel) {
		if err := validate(c, bound); err != nil {
			return err
		}
	}
	switch r := rel.(type) {
	case Map:
		n := Arity(r.Input)
		for i, s := range r.Scalars {
			if err := checkScalars("Map", []expr.Scalar{s}, n+i); err != nil {
				return err
			}
		}
	case Filter:
		return checkScalars("Filter", r.Predicates, Arity(r.Input))
	case Project:
		return checkCols("Project", r.Outputs, Arity(r.Input))
	case FlatMap:
		if r.Func == nil {
			return fmt.Errorf("plan: FlatMap without a function")
		}
		return checkScalars("FlatMap", r.Args, Arity(r.Input))
	case Join:
		n := Arity(r)
		for _, c := range r.Equivalences {
			if err := checkScalars("Join", c, n); err != nil {
				return err
			}
		}
		for _, p := range r.Implementation.Paths {
			for _, st := range p {
				if st.Input < 0 || st.Input >= len(r.Inputs) {
					return fmt.Errorf("plan: Join implementation names input %d of %d", st.Input, len(r.Inputs))
				}
			}
		}
	case Reduce:
		n := Arity(r.Input)
		if err := checkScalars("Reduce", r.GroupKey, n); err != nil {
			return err
		}
		for _, a := range r.Aggregates {
			for _, s := range []expr.Scalar{a.Expr, a.Filter} {
				if s == nil {
					continue
				}
				if err := checkScalars("Reduce", []expr.Scalar{s}, n); err != nil {
					return err
				}
			}
			for _, o := range a.OrderBy {
				if err := checkScalars("Reduce", []expr.Scalar{o.Expr}, n); err != nil {
					return err
				}
			}
		}
	case TopK:
		n := Arity(r.Input)
		if err := checkCols("TopK", r.GroupKey, n); err != nil {
			return err
		}
		for _, o := range r.Order {
			if err := checkCols("TopK", []int{o.Column}, n); err != nil {
				return err
			}
		}
	case Union:
		if len(r.Inputs) == 0 {
			return fmt.Errorf("plan: Union without inputs")
		}
		n := Arity(r.Inputs[0])
		for _, in := range r.Inputs[1:] {
			if Arity(in) != n {
				return fmt.Errorf("plan: Union inputs have arities %d and %d", n, Arity(in))
			}
		}
	case ArrangeBy:
		for _, k := range r.Keys {
			if err := checkScalars("ArrangeBy", k, Arity(r.Input)); err != nil {
				return err
			}
		}
	case Window:
		n := Arity(r.Input)
		if err := checkCols("Window", r.PartitionBy, n); err != nil {
			return err
		}
		for _, o := range r.OrderBy {
			if err := checkCols("Window", []int{o.Column}, n); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyBound(m map[LocalID]bool) map[LocalID]bool {
	out := make(map[LocalID]bool, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// recoverInternal turns a panic in the optimiser or lowering into an
// internal error, so no panic crosses the package boundary.
func recoverInternal(err *error) {
	if r := recover(); r != nil {
		*err = pgcode.New(pgcode.InternalError, "plan: internal error: %v", r)
	}
}
