package plan

import "github.com/viewd/viewd/expr"

// ProjectionPushdown computes, top-down, which columns each node's parent
// demands and rewrites every node to produce only those: unused Map
// expressions, aggregates, FlatMap inputs and join input columns are
// dropped, and the remaining columns are renumbered; a Let's value keeps
// only the columns its Gets read; a Window reads only the columns its
// parent, its keys and its functions read. A Project is left
// where a node cannot drop columns itself (a Get, a Constant, or a node
// whose semantics depend on whole rows: Threshold, ArrangeBy).
// The root keeps all its columns.
type ProjectionPushdown struct{}

// Name implements Rule.
func (ProjectionPushdown) Name() string { return "projection-pushdown" }

// Transform implements Rule.
func (ProjectionPushdown) Transform(rel Rel) (Rel, error) {
	return demand(rel, allCols(Arity(rel))), nil
}

func allCols(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// projectTo returns rel restricted to the columns cols (in order). A
// Project of a Project is composed into one, as Fusion would: stacking
// them made this rule and Fusion undo each other on every pass.
func projectTo(rel Rel, cols []int) Rel {
	if isIdentity(cols, Arity(rel)) {
		return rel
	}
	if p, ok := rel.(Project); ok {
		outs := make([]int, len(cols))
		for i, c := range cols {
			outs[i] = p.Outputs[c]
		}
		return projectTo(p.Input, outs)
	}
	return Project{Input: rel, Outputs: cols}
}

// positions maps each of need to its index in have.
func positions(need, have []int) []int {
	out := make([]int, len(need))
	for i, c := range need {
		out[i] = indexOf(have, c)
	}
	return out
}

func remapAll(es []expr.Scalar, m func(int) int) []expr.Scalar {
	if es == nil {
		return nil
	}
	out := make([]expr.Scalar, len(es))
	for i, e := range es {
		out[i] = permuteColumns(e, m)
	}
	return out
}

// demand returns rel rewritten to output exactly the columns need (sorted,
// distinct), in that order.
func demand(rel Rel, need []int) Rel {
	switch r := rel.(type) {
	case Project:
		inner := make([]int, len(need))
		for i, c := range need {
			inner[i] = r.Outputs[c]
		}
		have := sortedUnique(inner)
		return projectTo(demand(r.Input, have), positions(inner, have))
	case Map:
		n := Arity(r.Input)
		keep := make([]bool, len(r.Scalars))
		inNeed := []int{}
		for _, c := range need {
			if c >= n {
				keep[c-n] = true
			} else {
				inNeed = append(inNeed, c)
			}
		}
		for k := len(r.Scalars) - 1; k >= 0; k-- {
			if !keep[k] {
				continue
			}
			for _, c := range support(r.Scalars[k]) {
				if c >= n {
					keep[c-n] = true
				} else {
					inNeed = append(inNeed, c)
				}
			}
		}
		inNeed = sortedUnique(inNeed)
		newPos := map[int]int{}
		for i, c := range inNeed {
			newPos[c] = i
		}
		var scalars []expr.Scalar
		for k, s := range r.Scalars {
			if !keep[k] {
				continue
			}
			scalars = append(scalars, permuteColumns(s, func(c int) int { return newPos[c] }))
			newPos[n+k] = len(inNeed) + len(scalars) - 1
		}
		var out Rel = demand(r.Input, inNeed)
		if len(scalars) > 0 {
			out = Map{Input: out, Scalars: scalars}
		}
		pos := make([]int, len(need))
		for i, c := range need {
			pos[i] = newPos[c]
		}
		return projectTo(out, pos)
	case Filter:
		have := sortedUnique(append(append([]int(nil), need...), support(r.Predicates...)...))
		in := demand(r.Input, have)
		if p, ok := in.(Project); ok {
			// The input could only narrow itself with a Project (a Get,
			// a Constant, a Threshold...): keep the Filter below it, as
			// PredicatePushdown would move it. Putting the Project
			// between them made the two rules and Fusion undo each
			// other on every pass until MaxPasses (psql's \d queries
			// spent most of their planning time in that cycle).
			inner := func(c int) int { return p.Outputs[indexOf(have, c)] }
			outs := make([]int, len(need))
			for i, c := range need {
				outs[i] = inner(c)
			}
			return projectTo(Filter{Input: p.Input, Predicates: remapAll(r.Predicates, inner)}, outs)
		}
		m := func(c int) int { return indexOf(have, c) }
		return projectTo(Filter{Input: in, Predicates: remapAll(r.Predicates, m)}, positions(need, have))
	case FlatMap:
		n := Arity(r.Input)
		inNeed := support(r.Args...)
		for _, c := range need {
			if c < n {
				inNeed = append(inNeed, c)
			}
		}
		inNeed = sortedUnique(inNeed)
		m := func(c int) int { return indexOf(inNeed, c) }
		fm := FlatMap{Input: demand(r.Input, inNeed), Func: r.Func, Args: remapAll(r.Args, m)}
		pos := make([]int, len(need))
		for i, c := range need {
			if c < n {
				pos[i] = m(c)
			} else {
				pos[i] = len(inNeed) + c - n
			}
		}
		return projectTo(fm, pos)
	case Join:
		lay := layoutOf(r.Inputs)
		var eqCols []int
		for _, c := range r.Equivalences {
			eqCols = append(eqCols, support(c...)...)
		}
		all := sortedUnique(append(append([]int(nil), need...), eqCols...))
		// all is grouped by input, in input order: its index is the new
		// column number.
		ins := make([]Rel, len(r.Inputs))
		for i, in := range r.Inputs {
			var local []int
			for _, c := range all {
				if lay.inputOf(c) == i {
					local = append(local, c-lay.offsets[i])
				}
			}
			if local == nil {
				local = []int{}
			}
			ins[i] = demand(in, local)
		}
		m := func(c int) int { return indexOf(all, c) }
		eqs := make([][]expr.Scalar, len(r.Equivalences))
		for i, c := range r.Equivalences {
			eqs[i] = remapAll(c, m)
		}
		nj := Join{Inputs: ins, Equivalences: eqs, Implementation: r.Implementation}
		if len(all) != lay.offsets[len(r.Inputs)] {
			nj.Implementation = JoinImplementation{}
		}
		return projectTo(nj, positions(need, all))
	case Reduce:
		k := len(r.GroupKey)
		var aggs []expr.Aggregate
		aggPos := map[int]int{}
		for _, c := range need {
			if c >= k {
				aggPos[c] = k + len(aggs)
				aggs = append(aggs, r.Aggregates[c-k])
			}
		}
		var used []expr.Scalar
		used = append(used, r.GroupKey...)
		for _, a := range aggs {
			if a.Expr != nil {
				used = append(used, a.Expr)
			}
			if a.Filter != nil {
				used = append(used, a.Filter)
			}
			for _, o := range a.OrderBy {
				used = append(used, o.Expr)
			}
		}
		inNeed := support(used...)
		m := func(c int) int { return indexOf(inNeed, c) }
		for i := range aggs {
			if aggs[i].Expr != nil {
				aggs[i].Expr = permuteColumns(aggs[i].Expr, m)
			}
			if aggs[i].Filter != nil {
				aggs[i].Filter = permuteColumns(aggs[i].Filter, m)
			}
			if aggs[i].OrderBy != nil {
				ob := make([]expr.OrderKey, len(aggs[i].OrderBy))
				for j, o := range aggs[i].OrderBy {
					ob[j] = expr.OrderKey{Expr: permuteColumns(o.Expr, m), Order: o.Order}
				}
				aggs[i].OrderBy = ob
			}
		}
		nr := Reduce{Input: demand(r.Input, inNeed), GroupKey: remapAll(r.GroupKey, m), Aggregates: aggs, ExpectedGroupSize: r.ExpectedGroupSize}
		pos := make([]int, len(need))
		for i, c := range need {
			if c < k {
				pos[i] = c
			} else {
				pos[i] = aggPos[c]
			}
		}
		return projectTo(nr, pos)
	case Union:
		ins := make([]Rel, len(r.Inputs))
		for i, in := range r.Inputs {
			ins[i] = demand(in, need)
		}
		return Union{Inputs: ins}
	case Negate:
		return Negate{Input: demand(r.Input, need)}
	case Let:
		r.Body = demand(r.Body, need)
		// The value keeps only the columns the body reads.
		arity := Arity(r.Value)
		used := letDemand(r.Body, r.ID, arity)
		r.Value = demand(r.Value, used)
		if len(used) < arity {
			r.Body = narrowGets(r.Body, r.ID, used, r.Value.Typ())
		}
		return r
	case LetRec:
		vals := make([]Rel, len(r.Values))
		for i, v := range r.Values {
			vals[i] = demand(v, allCols(Arity(v)))
		}
		r.Values = vals
		r.Body = demand(r.Body, need)
		return r
	case Get, Constant:
		return projectTo(rel, need)
	case Window:
		return demandWindow(r, need)
	}
	// Threshold, TopK, ArrangeBy: all input columns are needed.
	cs := Children(rel)
	out := make([]Rel, len(cs))
	for i, c := range cs {
		out[i] = demand(c, allCols(Arity(c)))
	}
	return projectTo(mustWithChildren(rel, out), need)
}

// letDemand returns the columns of local id that body reads: the union of
// the Projects directly over its Gets, or every column (of arity) when a
// Get is read whole. demand has already put a Project over every Get
// whose parent needs fewer columns, so this is what the body demands.
func letDemand(body Rel, id LocalID, arity int) []int {
	gets, projected := 0, 0
	seen := make([]bool, arity)
	Visit(body, func(r Rel) {
		switch x := r.(type) {
		case Get:
			if x.Local == id {
				gets++
			}
		case Project:
			if g, ok := x.Input.(Get); ok && g.Local == id {
				projected++
				for _, c := range x.Outputs {
					seen[c] = true
				}
			}
		}
	})
	if gets != projected {
		return allCols(arity)
	}
	var used []int
	for c, ok := range seen {
		if ok {
			used = append(used, c)
		}
	}
	return used
}

// narrowGets rewrites body for a local id whose value now has only the
// columns used (sorted) of the old one, typed typ: each Project over a Get
// of id reads the new positions. letDemand guarantees every Get of id is
// under such a Project. used is a strict subset of the old columns, so an
// old Get is told from a narrowed one by its arity.
func narrowGets(body Rel, id LocalID, used []int, typ RelType) Rel {
	out, _ := Rewrite(body, func(r Rel) (Rel, error) {
		p, ok := r.(Project)
		if !ok {
			return r, nil
		}
		g, ok := p.Input.(Get)
		// A Get already narrowed (under a Project that became the
		// identity and was dropped) has the new arity: leave the
		// Project above it alone.
		if !ok || g.Local != id || len(g.Type.Cols) == len(typ.Cols) {
			return r, nil
		}
		g.Type = typ
		return projectTo(g, positions(p.Outputs, used)), nil
	})
	return out
}

// demandWindow narrows a Window to the input columns its parent, its
// partition and order keys and its functions' arguments read, and drops
// the functions whose values nobody reads. A window over a wide join
// (JDBC's getColumns numbers each table's columns with row_number over
// the join of pg_attribute, pg_class, pg_type and four outer joins) then
// no longer carries every joined column through the joins below it.
//
// Rows that tie on the partition and order keys are still told apart by
// the (narrower) row, as the runtime breaks ties by the whole input row:
// which of two tied rows gets which row_number may change, as SQL allows,
// but never the multiset of the columns read above.
func demandWindow(r Window, need []int) Rel {
	n := Arity(r.Input)
	var inNeed []int
	keepFn := make([]bool, len(r.Funcs))
	for _, c := range need {
		if c < n {
			inNeed = append(inNeed, c)
		} else {
			keepFn[c-n] = true
		}
	}
	inNeed = append(inNeed, r.PartitionBy...)
	for _, o := range r.OrderBy {
		inNeed = append(inNeed, o.Column)
	}
	for k, f := range r.Funcs {
		if !keepFn[k] {
			continue
		}
		inNeed = append(inNeed, support(f.Args...)...)
		if f.Aggregate != nil {
			if f.Aggregate.Expr != nil {
				inNeed = append(inNeed, support(f.Aggregate.Expr)...)
			}
			if f.Aggregate.Filter != nil {
				inNeed = append(inNeed, support(f.Aggregate.Filter)...)
			}
			for _, o := range f.Aggregate.OrderBy {
				inNeed = append(inNeed, support(o.Expr)...)
			}
		}
	}
	inNeed = sortedUnique(inNeed)
	m := func(c int) int { return indexOf(inNeed, c) }
	w := Window{Input: demand(r.Input, inNeed), PartitionBy: make([]int, len(r.PartitionBy)), OrderBy: make([]ColumnOrder, len(r.OrderBy))}
	for i, c := range r.PartitionBy {
		w.PartitionBy[i] = m(c)
	}
	for i, o := range r.OrderBy {
		w.OrderBy[i] = ColumnOrder{Column: m(o.Column), Order: o.Order}
	}
	fnPos := make([]int, len(r.Funcs))
	for k, f := range r.Funcs {
		if !keepFn[k] {
			continue
		}
		f.Args = remapAll(f.Args, m)
		if f.Aggregate != nil {
			a := *f.Aggregate
			if a.Expr != nil {
				a.Expr = permuteColumns(a.Expr, m)
			}
			if a.Filter != nil {
				a.Filter = permuteColumns(a.Filter, m)
			}
			if a.OrderBy != nil {
				ob := make([]expr.OrderKey, len(a.OrderBy))
				for j, o := range a.OrderBy {
					ob[j] = expr.OrderKey{Expr: permuteColumns(o.Expr, m), Order: o.Order}
				}
				a.OrderBy = ob
			}
			f.Aggregate = &a
		}
		fnPos[k] = len(inNeed) + len(w.Funcs)
		w.Funcs = append(w.Funcs, f)
	}
	if len(w.Funcs) == 0 {
		// No function's value is read: the window adds nothing.
		return projectTo(w.Input, positions(need, inNeed))
	}
	pos := make([]int, len(need))
	for i, c := range need {
		if c < n {
			pos[i] = m(c)
		} else {
			pos[i] = fnPos[c-n]
		}
	}
	return projectTo(w, pos)
}
