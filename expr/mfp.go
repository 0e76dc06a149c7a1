package expr

// MapFilterProject is a fused map, filter and project (Materialize's MFP):
// starting from an input row of InputArity columns, it appends the value of
// each of Expressions in order (an expression may read the input and the
// expressions before it), keeps the row only if every predicate is true
// (NULL and false drop it; an error becomes an error of the output), and
// finally emits the columns listed in Projection.
//
// Predicates are evaluated as early as possible: Predicate.Support is the
// number of columns (input plus appended expressions) that must exist before
// it can be evaluated, so a filter on input columns runs before any
// expression is computed.
type MapFilterProject struct {
	InputArity  int
	Expressions []Scalar
	Predicates  []Predicate
	Projection  []int
}

// Predicate is a filter condition evaluated once Support columns exist.
type Predicate struct {
	Support int
	Expr    Scalar
}

// Identity returns the MFP that passes rows of arity n unchanged.
func Identity(n int) MapFilterProject {
	proj := make([]int, n)
	for i := range proj {
		proj[i] = i
	}
	return MapFilterProject{InputArity: n, Projection: proj}
}

// IsIdentity reports whether m passes its input unchanged.
func (m *MapFilterProject) IsIdentity() bool {
	if len(m.Expressions) != 0 || len(m.Predicates) != 0 || len(m.Projection) != m.InputArity {
		return false
	}
	for i, p := range m.Projection {
		if p != i {
			return false
		}
	}
	return true
}
