package plan

import "fmt"

// Children returns the direct relation inputs of rel, in a fixed order:
// Join and Union inputs in order; Let: Value, Body; LetRec: Values..., Body.
func Children(rel Rel) []Rel {
	switch r := rel.(type) {
	case Get, Constant:
		return nil
	case Map:
		return []Rel{r.Input}
	case Filter:
		return []Rel{r.Input}
	case Project:
		return []Rel{r.Input}
	case FlatMap:
		return []Rel{r.Input}
	case Join:
		return append([]Rel(nil), r.Inputs...)
	case Reduce:
		return []Rel{r.Input}
	case TopK:
		return []Rel{r.Input}
	case Negate:
		return []Rel{r.Input}
	case Threshold:
		return []Rel{r.Input}
	case Union:
		return append([]Rel(nil), r.Inputs...)
	case ArrangeBy:
		return []Rel{r.Input}
	case Let:
		return []Rel{r.Value, r.Body}
	case LetRec:
		return append(append([]Rel(nil), r.Values...), r.Body)
	case Window:
		return []Rel{r.Input}
	}
	return nil
}

// WithChildren returns rel with its children replaced by cs (in the order
// Children returns them). It fails if the count does not match.
func WithChildren(rel Rel, cs []Rel) (Rel, error) {
	want := len(Children(rel))
	if len(cs) != want {
		return nil, fmt.Errorf("plan: %T has %d children, got %d", rel, want, len(cs))
	}
	switch r := rel.(type) {
	case Get, Constant:
		return rel, nil
	case Map:
		r.Input = cs[0]
		return r, nil
	case Filter:
		r.Input = cs[0]
		return r, nil
	case Project:
		r.Input = cs[0]
		return r, nil
	case FlatMap:
		r.Input = cs[0]
		return r, nil
	case Join:
		r.Inputs = append([]Rel(nil), cs...)
		return r, nil
	case Reduce:
		r.Input = cs[0]
		return r, nil
	case TopK:
		r.Input = cs[0]
		return r, nil
	case Negate:
		r.Input = cs[0]
		return r, nil
	case Threshold:
		r.Input = cs[0]
		return r, nil
	case Union:
		r.Inputs = append([]Rel(nil), cs...)
		return r, nil
	case ArrangeBy:
		r.Input = cs[0]
		return r, nil
	case Let:
		r.Value, r.Body = cs[0], cs[1]
		return r, nil
	case LetRec:
		n := len(r.Values)
		r.Values = append([]Rel(nil), cs[:n]...)
		r.Body = cs[n]
		return r, nil
	case Window:
		r.Input = cs[0]
		return r, nil
	}
	return nil, fmt.Errorf("plan: unknown relation %T", rel)
}

// mustWithChildren is WithChildren for callers that pass Children's own
// count; the error cannot occur for known node types.
func mustWithChildren(rel Rel, cs []Rel) Rel {
	out, err := WithChildren(rel, cs)
	if err != nil {
		return rel
	}
	return out
}

// Rewrite applies f bottom-up: children first, then f on the node rebuilt
// with the rewritten children.
func Rewrite(rel Rel, f func(Rel) (Rel, error)) (Rel, error) {
	cs := Children(rel)
	if len(cs) > 0 {
		out := make([]Rel, len(cs))
		for i, c := range cs {
			n, err := Rewrite(c, f)
			if err != nil {
				return nil, err
			}
			out[i] = n
		}
		var err error
		if rel, err = WithChildren(rel, out); err != nil {
			return nil, err
		}
	}
	return f(rel)
}

// Visit calls f on rel and every descendant, parents first.
func Visit(rel Rel, f func(Rel)) {
	f(rel)
	for _, c := range Children(rel) {
		Visit(c, f)
	}
}
