package plan

import (
	"github.com/viewd/viewd/expr"
)

// mfpBuilder composes Map, Filter and Project operators, applied in order,
// into one expr.MapFilterProject. Columns of the operators are the
// current output columns; Projection maps them to MFP columns (input
// columns, then Expressions).
type mfpBuilder struct {
	m expr.MapFilterProject
}

func newMFPBuilder(inputArity int) *mfpBuilder {
	return &mfpBuilder{m: expr.Identity(inputArity)}
}

// fromProjection starts an MFP over inputArity columns whose current
// output columns are proj.
func fromProjection(inputArity int, proj []int) *mfpBuilder {
	return &mfpBuilder{m: expr.MapFilterProject{InputArity: inputArity, Projection: append([]int(nil), proj...)}}
}

func (b *mfpBuilder) width() int { return b.m.InputArity + len(b.m.Expressions) }

func (b *mfpBuilder) mapScalars(scalars []expr.Scalar) {
	cur := append([]int(nil), b.m.Projection...)
	for _, s := range scalars {
		s2 := permuteColumns(s, func(c int) int { return cur[c] })
		b.m.Expressions = append(b.m.Expressions, s2)
		cur = append(cur, b.width()-1)
	}
	b.m.Projection = cur
}

func (b *mfpBuilder) filter(preds []expr.Scalar) {
	for _, p := range preds {
		p2 := permuteColumns(p, func(c int) int { return b.m.Projection[c] })
		b.addPredicate(p2)
	}
}

// addPredicate adds p (over MFP columns) with its support.
func (b *mfpBuilder) addPredicate(p expr.Scalar) {
	sup := 0
	for _, c := range support(p) {
		if c+1 > sup {
			sup = c + 1
		}
	}
	for _, q := range b.m.Predicates {
		if scalarsEqual(q.Expr, p) {
			return
		}
	}
	b.m.Predicates = append(b.m.Predicates, expr.Predicate{Support: sup, Expr: p})
}

func (b *mfpBuilder) project(outs []int) {
	proj := make([]int, len(outs))
	for i, o := range outs {
		proj[i] = b.m.Projection[o]
	}
	b.m.Projection = proj
}

// apply composes one MIR operator (Map, Filter or Project) on top.
func (b *mfpBuilder) apply(rel Rel) bool {
	switch r := rel.(type) {
	case Map:
		b.mapScalars(r.Scalars)
	case Filter:
		b.filter(r.Predicates)
	case Project:
		b.project(r.Outputs)
	default:
		return false
	}
	return true
}

// build returns the composed MFP, simplified by expr's MFP optimisation
// (column copies inlined, unneeded expressions dropped, predicates ordered
// by support).
func (b *mfpBuilder) build() expr.MapFilterProject {
	m := b.m
	m.Expressions = append([]expr.Scalar(nil), m.Expressions...)
	m.Predicates = append([]expr.Predicate(nil), m.Predicates...)
	m.Projection = append([]int{}, m.Projection...)
	m.Optimize()
	return m
}

// peelMFP splits rel into the chain of Map/Filter/Project operators on top
// (outermost first) and the node below them.
func peelMFP(rel Rel) (chain []Rel, base Rel) {
	for {
		switch r := rel.(type) {
		case Map:
			chain = append(chain, r)
			rel = r.Input
		case Filter:
			chain = append(chain, r)
			rel = r.Input
		case Project:
			chain = append(chain, r)
			rel = r.Input
		default:
			return chain, rel
		}
	}
}

// applyChain composes chain (outermost first) onto b, innermost first.
func (b *mfpBuilder) applyChain(chain []Rel) {
	for i := len(chain) - 1; i >= 0; i-- {
		b.apply(chain[i])
	}
}
