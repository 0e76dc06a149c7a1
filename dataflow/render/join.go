package render

import (
	"fmt"

	"github.com/viewd/viewd/dataflow"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
)

// joinInput is one input of a join as the runtime sees it: a raw
// collection (whose arrangements the lookups use) and the MFP that turns a
// raw row into the input's output columns.
type joinInput struct {
	node plan.Node
	raw  *dataflow.Collection
	mfp  expr.MapFilterProject
	// global is set when raw is a catalog object's collection, whose
	// existing arrangements (indexes) lookups may use.
	global plan.GlobalID
}

func (r *renderer) joinInputs(nodes []plan.Node) ([]joinInput, error) {
	ins := make([]joinInput, len(nodes))
	for i, n := range nodes {
		ji := joinInput{node: n}
		switch n := n.(type) {
		case plan.LGet:
			c, err := r.source(n)
			if err != nil {
				return nil, err
			}
			ji.raw, ji.mfp = c, n.MFP
			if n.Local == 0 {
				ji.global = n.Global
			}
		case plan.LArrangeBy:
			c, err := r.render(n.Input)
			if err != nil {
				return nil, err
			}
			ji.raw, ji.mfp = c, expr.Identity(c.Arity())
		default:
			c, err := r.render(n)
			if err != nil {
				return nil, err
			}
			ji.raw, ji.mfp = c, expr.Identity(c.Arity())
		}
		if ji.mfp.InputArity != ji.raw.Arity() {
			return nil, fmt.Errorf("render: join input %d: MFP over %d columns, collection has %d", i, ji.mfp.InputArity, ji.raw.Arity())
		}
		ins[i] = ji
	}
	return ins, nil
}

// arrangement returns input in's raw collection arranged by key (over raw
// columns): an imported index when one exists, otherwise one built here.
func (r *renderer) arrangement(in joinInput, key []expr.Scalar) (*dataflow.Arranged, error) {
	if in.global != 0 {
		a, ok, err := r.imp.Arrangement(r.g, in.global, key)
		if err != nil {
			return nil, err
		}
		if ok {
			return a, nil
		}
	}
	return r.arrange(in.raw, key), nil
}

// lift returns the MFP over prefix+m.InputArity columns that passes the
// first prefix columns through and applies m to the rest.
func lift(m expr.MapFilterProject, prefix int) expr.MapFilterProject {
	perm := make([]int, m.InputArity)
	for i := range perm {
		perm[i] = prefix + i
	}
	out := m.Permute(perm, prefix+m.InputArity)
	proj := make([]int, 0, prefix+len(out.Projection))
	for i := 0; i < prefix; i++ {
		proj = append(proj, i)
	}
	out.Projection = append(proj, out.Projection...)
	return out
}

// linearJoin renders a chain of binary joins: the stream starts as the
// source input's output, and each stage arranges the stream by its stream
// key and joins it with the looked-up input's arrangement, applying the
// looked-up input's MFP and the stage's closure to each match.
func (r *renderer) linearJoin(nodes []plan.Node, p plan.LinearJoinPlan) (*dataflow.Collection, error) {
	ins, err := r.joinInputs(nodes)
	if err != nil {
		return nil, err
	}
	if p.Source < 0 || p.Source >= len(ins) {
		return nil, fmt.Errorf("render: linear join source %d of %d inputs", p.Source, len(ins))
	}
	src := ins[p.Source]
	stream := mfp(mfp(src.raw, src.mfp), p.SourceMFP)
	if len(p.Stages) == 0 {
		return mfp(stream, p.FinalMFP), nil
	}
	for i, st := range p.Stages {
		if st.Lookup < 0 || st.Lookup >= len(ins) {
			return nil, fmt.Errorf("render: linear join stage looks up input %d of %d", st.Lookup, len(ins))
		}
		look := ins[st.Lookup]
		b, err := r.arrangement(look, st.LookupKey)
		if err != nil {
			return nil, err
		}
		a := r.arrange(stream, st.StreamKey)
		residual := lift(look.mfp, stream.Arity()).Compose(st.Closure)
		if i == len(p.Stages)-1 {
			// The last stage applies the final MFP to each match: the
			// joined rows are never materialised whole.
			residual = residual.Compose(p.FinalMFP)
		}
		if stream, err = dataflow.Join(a, b, residual); err != nil {
			return nil, fmt.Errorf("render: linear join stage of input %d: %w", st.Lookup, err)
		}
	}
	return stream, nil
}

// deltaJoin renders a delta join. The runtime concatenates raw rows in
// input order; LIR's expressions are over each path's stream (output
// columns in path order), so they are rewritten over the raw layout.
func (r *renderer) deltaJoin(nodes []plan.Node, p plan.DeltaJoinPlan) (*dataflow.Collection, error) {
	ins, err := r.joinInputs(nodes)
	if err != nil {
		return nil, err
	}
	n := len(ins)
	if len(p.Paths) != n {
		return nil, fmt.Errorf("render: delta join of %d inputs has %d paths", n, len(p.Paths))
	}
	rawOff := make([]int, n+1)
	outOff := make([]int, n+1)
	for i, in := range ins {
		rawOff[i+1] = rawOff[i] + in.raw.Arity()
		outOff[i+1] = outOff[i] + len(in.mfp.Projection)
	}
	// seg maps the raw layout to the inputs' output columns in input order.
	seg := segments(ins, rawOff)
	// rawCol rewrites an output column (input order) as an expression over
	// the raw layout.
	rawCol := func(c int) expr.Scalar {
		i := 0
		for c >= outOff[i+1] {
			i++
		}
		return inlineOutput(ins[i].mfp, c-outOff[i], rawOff[i])
	}
	var paths []dataflow.DeltaPath
	// filters applies the inputs' MFPs, then every path's source MFP and
	// closures: each path enforces some join conditions by its lookup keys
	// and the rest by filters, and which ones differs between paths, so
	// the output (one final MFP for all paths) applies all of them. Each
	// is a condition of the join, true of every joined row.
	total := outOff[n]
	filters := seg
	var fin expr.MapFilterProject
	for pi, path := range p.Paths {
		order := append([]int{path.Source}, make([]int, 0, len(path.Stages))...)
		for _, st := range path.Stages {
			order = append(order, st.Lookup)
		}
		if len(order) != n {
			return nil, fmt.Errorf("render: delta join path %d has %d stages for %d inputs", pi, len(path.Stages), n)
		}
		// perm maps a stream column (path order) to an output column
		// (input order).
		var perm []int
		for _, in := range order {
			for j := 0; j < len(ins[in].mfp.Projection); j++ {
				perm = append(perm, outOff[in]+j)
			}
		}
		src, err := r.anyArrangement(ins[path.Source], p, path.Source)
		if err != nil {
			return nil, err
		}
		dp := dataflow.DeltaPath{Source: path.Source, Arr: src}
		for _, st := range path.Stages {
			arr, err := r.arrangement(ins[st.Lookup], st.LookupKey)
			if err != nil {
				return nil, err
			}
			key := make([]expr.Scalar, len(st.StreamKey))
			for i, k := range st.StreamKey {
				key[i] = expr.Rewrite(k, func(s expr.Scalar) expr.Scalar {
					if c, ok := s.(expr.Column); ok {
						if c.Index < len(perm) {
							return rawCol(perm[c.Index])
						}
					}
					return s
				})
			}
			dp.Stages = append(dp.Stages, dataflow.DeltaStage{Input: st.Lookup, Arr: arr, Key: key})
		}
		paths = append(paths, dp)
		filters = filters.Compose(asFilter(path.SourceMFP, perm, total))
		for _, st := range path.Stages {
			filters = filters.Compose(asFilter(st.Closure, perm, total))
		}
		if pi == 0 {
			// Every path's final MFP, in input order, is the same.
			fin = path.FinalMFP.Permute(perm, total)
		}
	}
	return dataflow.DeltaJoin(n, paths, filters.Compose(fin))
}

// anyArrangement returns an arrangement of input i whose delta is input
// i's changes: the one another path looks it up by.
func (r *renderer) anyArrangement(in joinInput, p plan.DeltaJoinPlan, i int) (*dataflow.Arranged, error) {
	for _, path := range p.Paths {
		for _, st := range path.Stages {
			if st.Lookup == i {
				return r.arrangement(in, st.LookupKey)
			}
		}
	}
	return r.arrange(in.raw, nil), nil
}

// segments returns the MFP over the raw layout that applies each input's
// MFP to its segment and outputs the inputs' output columns in order.
func segments(ins []joinInput, rawOff []int) expr.MapFilterProject {
	total := rawOff[len(ins)]
	out := expr.MapFilterProject{InputArity: total}
	for i, in := range ins {
		m := in.mfp
		base := total + len(out.Expressions)
		remap := func(c int) int {
			if c < m.InputArity {
				return rawOff[i] + c
			}
			return base + (c - m.InputArity)
		}
		for _, e := range m.Expressions {
			out.Expressions = append(out.Expressions, expr.MapColumns(e, remap))
		}
		for _, pr := range m.Predicates {
			e := expr.MapColumns(pr.Expr, remap)
			out.Predicates = append(out.Predicates, expr.Predicate{Support: expr.MaxColumn(e) + 1, Expr: e})
		}
		for _, c := range m.Projection {
			out.Projection = append(out.Projection, remap(c))
		}
	}
	return out
}

// asFilter moves a stage MFP (over a prefix of a path's stream, identity
// projection) to the full output layout in input order, keeping every
// column.
func asFilter(m expr.MapFilterProject, perm []int, total int) expr.MapFilterProject {
	out := m.Permute(perm[:m.InputArity], total)
	out.Projection = make([]int, total)
	for i := range out.Projection {
		out.Projection[i] = i
	}
	return out
}

// inlineOutput returns output column c of m as an expression over raw
// columns offset by off, inlining m's expressions.
func inlineOutput(m expr.MapFilterProject, c int, off int) expr.Scalar {
	var col func(int) expr.Scalar
	col = func(i int) expr.Scalar {
		if i < m.InputArity {
			return expr.Column{Index: off + i}
		}
		return expr.Rewrite(m.Expressions[i-m.InputArity], func(s expr.Scalar) expr.Scalar {
			if cc, ok := s.(expr.Column); ok {
				return col(cc.Index)
			}
			return s
		})
	}
	return col(m.Projection[c])
}
