package plan

import (
	"fmt"
	"slices"

	"github.com/viewd/viewd/expr"
)

// Lower turns optimised MIR into LIR. Joins that are not yet planned are
// planned with oracle (nil: no existing arrangements). Chains of
// Map/Filter/Project are fused into one MFP, which is pushed into the Get,
// FlatMap or Join below when there is one; predicates comparing mz_now()
// become an LTemporalFilter.
func Lower(rel Rel, oracle IndexOracle) (n Node, err error) {
	defer recoverInternal(&err)
	if err := Validate(rel); err != nil {
		return nil, err
	}
	l := &lowerer{oracle: oracle, localKeys: map[LocalID][][]expr.Scalar{}, localMono: map[LocalID]bool{}}
	return l.lower(rel)
}

type lowerer struct {
	oracle    IndexOracle
	localKeys map[LocalID][][]expr.Scalar
	// localMono holds the Let bindings whose values only grow.
	localMono map[LocalID]bool
}

func (l *lowerer) lower(rel Rel) (Node, error) {
	chain, base := peelMFP(rel)
	if len(chain) > 0 {
		return l.lowerMFP(chain, base)
	}
	switch r := rel.(type) {
	case Get, FlatMap, Join:
		return l.lowerMFP(nil, r)
	case Constant:
		return LConstant{Rows: r.Rows, Type: r.Type, Err: r.Err}, nil
	case Reduce:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return LReduce{Input: in, Key: r.GroupKey, Aggregates: r.Aggregates, Plan: planReduce(r), Monotonic: l.monotonic(r.Input)}, nil
	case TopK:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		kind := TopKBasic
		if r.Limit == 1 && r.Offset == 0 {
			kind = TopKTop1
		}
		return LTopK{Input: in, GroupKey: r.GroupKey, Order: r.Order, Limit: r.Limit, Offset: r.Offset, Kind: kind, Monotonic: l.monotonic(r.Input)}, nil
	case Negate:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return LNegate{Input: in}, nil
	case Threshold:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return LThreshold{Input: in}, nil
	case Union:
		u := LUnion{}
		for _, in := range r.Inputs {
			n, err := l.lower(in)
			if err != nil {
				return nil, err
			}
			if _, neg := in.(Negate); neg {
				u.ConsolidateOutput = true
			}
			u.Inputs = append(u.Inputs, n)
		}
		return u, nil
	case ArrangeBy:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return LArrangeBy{Input: in, Keys: r.Keys}, nil
	case Let:
		v, err := l.lower(r.Value)
		if err != nil {
			return nil, err
		}
		if a, ok := v.(LArrangeBy); ok {
			l.localKeys[r.ID] = a.Keys
		}
		l.localMono[r.ID] = l.monotonic(r.Value)
		b, err := l.lower(r.Body)
		if err != nil {
			return nil, err
		}
		return LLet{ID: r.ID, Value: v, Body: b}, nil
	case LetRec:
		out := LLetRec{IDs: r.IDs}
		for _, v := range r.Values {
			n, err := l.lower(v)
			if err != nil {
				return nil, err
			}
			out.Values = append(out.Values, n)
		}
		b, err := l.lower(r.Body)
		if err != nil {
			return nil, err
		}
		out.Body = b
		return out, nil
	case Window:
		if t, cols, ok := numberingTopK(r); ok {
			// The Window only numbers the rows of a TopK by its own
			// partition and order: the TopK numbers them as it emits
			// its windows, and the Window's second copy of every
			// partition's rows is not kept (Nexmark q19: half its
			// state). Ties are numbered by the TopK's whole row, one of
			// the numberings SQL allows (the Window would break them by
			// its own, possibly narrower, input row).
			in, err := l.lower(t.Input)
			if err != nil {
				return nil, err
			}
			top := LTopK{Input: in, GroupKey: t.GroupKey, Order: t.Order, Limit: t.Limit, Offset: t.Offset, Kind: TopKBasic, Monotonic: l.monotonic(t.Input), RowNumber: true}
			if t.Limit == 1 && t.Offset == 0 {
				top.Kind = TopKTop1
			}
			n := Arity(t)
			proj := slices.Clone(cols)
			for range r.Funcs {
				proj = append(proj, n)
			}
			if slices.Equal(proj, allCols(n+1)) {
				return top, nil
			}
			return LMfp{Input: top, MFP: expr.MapFilterProject{InputArity: n + 1, Projection: proj}}, nil
		}
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		return LWindow{Input: in, PartitionBy: r.PartitionBy, OrderBy: r.OrderBy, Funcs: r.Funcs}, nil
	}
	return nil, fmt.Errorf("plan: cannot lower %T", rel)
}

// lowerMFP lowers the Map/Filter/Project chain (outermost first) over
// base, fusing it into base when base is a Get, FlatMap or Join.
func (l *lowerer) lowerMFP(chain []Rel, base Rel) (Node, error) {
	var node Node
	var b *mfpBuilder
	switch r := base.(type) {
	case Get:
		b = newMFPBuilder(r.Type.Arity())
		b.applyChain(chain)
		g := LGet{Global: r.Global, Local: r.Local, Name: getName(r), Type: r.Type}
		if r.Local != 0 {
			g.Keys = l.localKeys[r.Local]
		} else if l.oracle != nil {
			g.Keys = l.oracle.Indexes(r.Global)
		}
		m := b.build()
		tp, temporal, err := extractTemporal(m)
		if err != nil {
			return nil, err
		}
		if !temporal {
			g.MFP = m
			return g, nil
		}
		g.MFP = expr.Identity(r.Type.Arity())
		return tp.node(g), nil
	case FlatMap:
		in, err := l.lower(r.Input)
		if err != nil {
			return nil, err
		}
		b = newMFPBuilder(Arity(r))
		b.applyChain(chain)
		m := b.build()
		if _, temporal, err := extractTemporal(m); err != nil {
			return nil, err
		} else if !temporal {
			return LFlatMap{Input: in, Func: r.Func, Args: r.Args, MFP: m}, nil
		}
		node = LFlatMap{Input: in, Func: r.Func, Args: r.Args, MFP: expr.Identity(Arity(r))}
		b = newMFPBuilder(Arity(r))
		b.applyChain(chain)
	case Join:
		// Fuse the chain into the join's final MFP unless it is temporal.
		cb := newMFPBuilder(Arity(r))
		cb.applyChain(chain)
		if _, temporal, err := extractTemporal(cb.build()); err != nil {
			return nil, err
		} else if !temporal {
			return l.lowerJoin(r, chain)
		}
		n, err := l.lowerJoin(r, nil)
		if err != nil {
			return nil, err
		}
		node, b = n, cb
	default:
		n, err := l.lower(base)
		if err != nil {
			return nil, err
		}
		node = n
		b = newMFPBuilder(n.Arity())
		b.applyChain(chain)
	}
	m := b.build()
	tp, temporal, err := extractTemporal(m)
	if err != nil {
		return nil, err
	}
	if temporal {
		return tp.node(node), nil
	}
	if m.IsIdentity() {
		return node, nil
	}
	return LMfp{Input: node, MFP: m}, nil
}

// planReduce classifies a Reduce's aggregates.
func planReduce(r Reduce) ReducePlan {
	var p ReducePlan
	if len(r.Aggregates) == 0 {
		return ReducePlan{Kind: ReduceDistinct}
	}
	for i, a := range r.Aggregates {
		switch {
		case a.Func.Accumulable():
			p.Accumulable = append(p.Accumulable, i)
		case a.Func == expr.AggMin || a.Func == expr.AggMax:
			p.Hierarchical = append(p.Hierarchical, i)
		default:
			p.Basic = append(p.Basic, i)
		}
	}
	kinds := 0
	if len(p.Accumulable) > 0 {
		kinds++
		p.Kind = ReduceAccumulable
	}
	if len(p.Hierarchical) > 0 {
		kinds++
		p.Kind = ReduceHierarchical
		p.Buckets = hierarchicalBuckets(r.ExpectedGroupSize)
	}
	if len(p.Basic) > 0 {
		kinds++
		p.Kind = ReduceBasic
	}
	if kinds > 1 {
		p.Kind = ReduceCollation
	}
	return p
}

// hierarchicalBuckets returns the bucket sizes of a min/max tower: powers
// of 16 below the expected group size (default 2^32), largest first.
func hierarchicalBuckets(expected uint64) []uint64 {
	if expected == 0 {
		expected = 1 << 32
	}
	var bs []uint64
	for b := uint64(16); b < expected; b *= 16 {
		bs = append([]uint64{b}, bs...)
		if b > (1<<64-1)/16 {
			break
		}
	}
	return bs
}

// numberingTopK reports whether w only numbers the rows of a TopK by the
// TopK's own group and order: every function is row_number() and w's
// input is, through Projects, such a TopK. It returns the TopK and, for
// each of w's input columns, the TopK column it is.
func numberingTopK(w Window) (TopK, []int, bool) {
	if len(w.Funcs) == 0 {
		return TopK{}, nil, false
	}
	for _, f := range w.Funcs {
		if f.Name != "row_number" || f.Aggregate != nil || len(f.Args) > 0 {
			return TopK{}, nil, false
		}
	}
	cols := allCols(Arity(w.Input))
	r := w.Input
	for {
		switch x := r.(type) {
		case Project:
			for i, c := range cols {
				cols[i] = x.Outputs[c]
			}
			r = x.Input
			continue
		case TopK:
			if len(x.GroupKey) != len(w.PartitionBy) || len(x.Order) != len(w.OrderBy) {
				return TopK{}, nil, false
			}
			for i, c := range w.PartitionBy {
				if cols[c] != x.GroupKey[i] {
					return TopK{}, nil, false
				}
			}
			for i, o := range w.OrderBy {
				if cols[o.Column] != x.Order[i].Column || o.Order != x.Order[i].Order {
					return TopK{}, nil, false
				}
			}
			return x, cols, true
		}
		return TopK{}, nil, false
	}
}
