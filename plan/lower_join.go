package plan

import (
	"fmt"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// lowerJoin lowers a Join, fusing chain (Map/Filter/Project operators
// above it, outermost first) into the final MFP of each path.
func (l *lowerer) lowerJoin(j Join, chain []Rel) (Node, error) {
	impl := j.Implementation
	if impl.Kind == Unimplemented || len(impl.Paths) == 0 {
		impl = planJoin(j, l.oracle)
	}
	p := newJoinPlanner(j, l.oracle)
	n := len(j.Inputs)

	// The keys each input is looked up by, over its output columns.
	needed := make([][][]expr.Scalar, n)
	for _, path := range impl.Paths {
		for si, st := range path {
			if si == 0 {
				continue
			}
			if st.Key == nil {
				st.Key = []expr.Scalar{} // a cross product: arranged by ()
			}
			dup := false
			for _, k := range needed[st.Input] {
				if joinScalars(k, ",") == joinScalars(st.Key, ",") {
					dup = true
				}
			}
			if !dup {
				needed[st.Input] = append(needed[st.Input], st.Key)
			}
		}
	}

	nodes := make([]Node, n)
	lookupKeys := make([]map[string][]expr.Scalar, n)
	for i, in := range j.Inputs {
		node, err := l.lower(in)
		if err != nil {
			return nil, err
		}
		lookupKeys[i] = map[string][]expr.Scalar{}
		served := true
		switch nd := node.(type) {
		case LGet:
			for _, k := range needed[i] {
				arr, _, ok := p.arranged[i].match(k)
				if !p.isArr[i] || !ok || !containsKey(nd.Keys, arr) {
					served = false
					break
				}
				lookupKeys[i][joinScalars(k, ",")] = arr
			}
		case LArrangeBy:
			for _, k := range needed[i] {
				if !containsKey(nd.Keys, k) {
					served = false
					break
				}
				lookupKeys[i][joinScalars(k, ",")] = k
			}
		default:
			served = len(needed[i]) == 0
		}
		if !served {
			node = LArrangeBy{Input: node, Keys: needed[i]}
			for _, k := range needed[i] {
				lookupKeys[i][joinScalars(k, ",")] = k
			}
		}
		nodes[i] = node
	}

	pb := pathBuilder{p: p, cols: j.Typ().Cols, lookupKeys: lookupKeys}
	switch impl.Kind {
	case DeltaJoin:
		var dp DeltaJoinPlan
		for _, path := range impl.Paths {
			src, smfp, stages, final, err := pb.build(path, chain, false)
			if err != nil {
				return nil, err
			}
			dp.Paths = append(dp.Paths, DeltaPath{Source: src, SourceMFP: smfp, Stages: stages, FinalMFP: final})
		}
		return LJoin{Inputs: nodes, Plan: dp}, nil
	default:
		var path []JoinStage
		if len(impl.Paths) > 0 {
			path = impl.Paths[0]
		}
		src, smfp, stages, final, err := pb.build(path, chain, true)
		if err != nil {
			return nil, err
		}
		return LJoin{Inputs: nodes, Plan: LinearJoinPlan{Source: src, SourceMFP: smfp, Stages: stages, FinalMFP: final}}, nil
	}
}

func containsKey(keys [][]expr.Scalar, k []expr.Scalar) bool {
	for _, x := range keys {
		if joinScalars(x, ",") == joinScalars(k, ",") {
			return true
		}
	}
	return false
}

// pathBuilder turns one MIR join path into LIR stages.
type pathBuilder struct {
	p          *joinPlanner
	cols       []repr.ColumnType // the join's column types (input order)
	lookupKeys []map[string][]expr.Scalar
}

// build lays out the stream in path order and places each equivalence
// check at the first stage where both sides are available: the first
// available member of a class becomes its representative; the lookup key
// enforces representative = key member; every other member becomes a
// closure predicate representative = member.
//
// With early set (a linear join, whose every stage's output is
// materialised and arranged), the predicates of chain that read only the
// joined inputs' columns move into the source MFP or the closure of the
// first stage where their columns are bound, as PostgreSQL places a qual
// at the lowest join level that has its variables: a filter over a
// join's output then never materialises the pairs it drops. (A delta
// join's stages are not materialised; its renderer applies all closures
// once, at the end.)
func (pb pathBuilder) build(path []JoinStage, chain []Rel, early bool) (int, expr.MapFilterProject, []LookupStage, expr.MapFilterProject, error) {
	p := pb.p
	n := len(p.j.Inputs)
	if len(path) != n {
		return 0, expr.MapFilterProject{}, nil, expr.MapFilterProject{}, fmt.Errorf("plan: join path visits %d of %d inputs", len(path), n)
	}
	total := p.lay.offsets[n]
	pos := make([]int, total)
	bound := make([]bool, n)
	width := 0
	reps := make([]expr.Scalar, len(p.classes)) // over the join's columns
	done := make([][]bool, len(p.classes))
	for ci, c := range p.classes {
		done[ci] = make([]bool, len(c))
	}
	toStream := func(e expr.Scalar) expr.Scalar {
		return permuteColumns(e, func(c int) int { return pos[c] })
	}
	// settle returns the predicates that become evaluable now.
	settle := func() ([]expr.Scalar, error) {
		var preds []expr.Scalar
		for ci, c := range p.classes {
			for mi, m := range c {
				if done[ci][mi] || !boundBy(p.members[ci][mi].inputs, bound) {
					continue
				}
				done[ci][mi] = true
				if reps[ci] == nil {
					reps[ci] = m
					continue
				}
				eq, ok := mkEquality(reps[ci], m, pb.cols)
				if !ok {
					return nil, fmt.Errorf("plan: no equality function for %s = %s (call SetEqualityResolver)", reps[ci], m)
				}
				preds = append(preds, toStream(eq))
			}
		}
		return preds, nil
	}
	closure := func(inputArity int, preds []expr.Scalar) expr.MapFilterProject {
		b := newMFPBuilder(inputArity)
		for _, q := range preds {
			b.addPredicate(q)
		}
		return b.build()
	}
	bind := func(i int) {
		bound[i] = true
		for c := 0; c < p.lay.offsets[i+1]-p.lay.offsets[i]; c++ {
			pos[p.lay.offsets[i]+c] = width + c
		}
		width += p.lay.offsets[i+1] - p.lay.offsets[i]
	}

	// Literals are available before any input.
	pre, err := settle()
	if err != nil {
		return 0, expr.MapFilterProject{}, nil, expr.MapFilterProject{}, err
	}
	src := path[0].Input
	bind(src)
	srcPreds, err := settle()
	if err != nil {
		return 0, expr.MapFilterProject{}, nil, expr.MapFilterProject{}, err
	}
	// preds[0] are the source MFP's predicates, preds[s+1] stage s's;
	// widths the stream's arity after each.
	preds := [][]expr.Scalar{append(pre, srcPreds...)}
	widths := []int{width}

	var stages []LookupStage
	for _, st := range path[1:] {
		jn := st.Input
		var streamKey []expr.Scalar
		for _, k := range st.Key {
			global := shiftColumns(k, p.lay.offsets[jn])
			found := false
			for ci, c := range p.classes {
				mi := -1
				for x, m := range c {
					if scalarsEqual(m, global) {
						mi = x
						break
					}
				}
				if mi < 0 || reps[ci] == nil {
					continue
				}
				streamKey = append(streamKey, toStream(reps[ci]))
				done[ci][mi] = true
				found = true
				break
			}
			if !found {
				return 0, expr.MapFilterProject{}, nil, expr.MapFilterProject{}, fmt.Errorf("plan: join key %s of input %d is not bound by an equivalence", k, jn)
			}
		}
		lookupKey := pb.lookupKeys[jn][joinScalars(st.Key, ",")]
		if len(st.Key) > 0 && lookupKey == nil {
			return 0, expr.MapFilterProject{}, nil, expr.MapFilterProject{}, fmt.Errorf("plan: input %d has no arrangement by [%s]", jn, joinScalars(st.Key, ", "))
		}
		bind(jn)
		stagePreds, err := settle()
		if err != nil {
			return 0, expr.MapFilterProject{}, nil, expr.MapFilterProject{}, err
		}
		preds = append(preds, stagePreds)
		widths = append(widths, width)
		stages = append(stages, LookupStage{Lookup: jn, StreamKey: streamKey, LookupKey: lookupKey})
	}
	b := fromProjection(width, pos)
	b.applyChain(chain)
	final := b.build()
	if early {
		// The final MFP's input is the last stream, whose columns keep
		// their positions from the stage that bound them.
		var rest []expr.Predicate
		for _, q := range final.Predicates {
			at := -1
			if mc := expr.MaxColumn(q.Expr); mc < final.InputArity {
				for at = 0; widths[at] <= mc; at++ {
				}
			}
			if at < 0 {
				rest = append(rest, q)
				continue
			}
			preds[at] = append(preds[at], q.Expr)
		}
		final.Predicates = rest
	}
	sourceMFP := closure(widths[0], preds[0])
	for s := range stages {
		stages[s].Closure = closure(widths[s+1], preds[s+1])
	}
	return src, sourceMFP, stages, final, nil
}
