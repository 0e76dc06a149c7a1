package plan

import (
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// PredicatePushdown moves filter predicates as close to the data as they
// can go, splitting conjunctions:
//   - through Map when they read only the Map's input (or read map columns
//     defined as a column or literal, which are substituted);
//   - through Project (columns renumbered), Union (into every input),
//     Negate, Threshold and Let (into the body; and the predicates that
//     filter every use of the binding, into its value);
//   - through Reduce when they read only group key columns (the group key
//     expressions are substituted), through TopK and Window when they read
//     only group / partition columns, through FlatMap when they read only
//     its input;
//   - into Join: a predicate over one input's columns moves into that
//     input; an equality between expressions over different inputs becomes
//     an equivalence class of the join; a column = literal predicate also
//     filters the input of every other plain-column member of its class
//     (of the same type) by the literal; the rest stays above the join.
type PredicatePushdown struct{}

// Name implements Rule.
func (PredicatePushdown) Name() string { return "predicate-pushdown" }

// Transform implements Rule.
func (PredicatePushdown) Transform(rel Rel) (Rel, error) { return pushDown(rel), nil }

func pushDown(rel Rel) Rel {
	if f, ok := rel.(Filter); ok {
		return sink(pushDown(f.Input), f.Predicates)
	}
	if l, ok := rel.(Let); ok {
		l.Value, l.Body = pushDown(l.Value), pushDown(l.Body)
		if common := commonUsePredicates(l.Body, l.ID); len(common) > 0 {
			// Every use of the binding filters it by these: filter the
			// value once instead (where they sink further, into its
			// inputs' index reads, say: psql's LEFT JOINs of pg_class
			// filtered by oid scanned and joined all of pg_class).
			l.Value = sink(l.Value, common)
			l.Body = dropUsePredicates(l.Body, l.ID, common, l.Value.Typ())
		}
		return l
	}
	cs := Children(rel)
	if len(cs) == 0 {
		return rel
	}
	out := make([]Rel, len(cs))
	for i, c := range cs {
		out[i] = pushDown(c)
	}
	return mustWithChildren(rel, out)
}

func withFilter(rel Rel, preds []expr.Scalar) Rel {
	if len(preds) == 0 {
		return rel
	}
	return Filter{Input: rel, Predicates: preds}
}

// sink places preds (over rel's columns) as deep into rel as possible.
func sink(rel Rel, preds []expr.Scalar) Rel {
	var split []expr.Scalar
	for _, p := range preds {
		split = append(split, splitConjunction(p)...)
	}
	preds = dedupScalars(split)
	if len(preds) == 0 {
		return rel
	}
	switch r := rel.(type) {
	case Filter:
		return sink(r.Input, append(append([]expr.Scalar(nil), r.Predicates...), preds...))
	case Map:
		n := Arity(r.Input)
		defs := make([]expr.Scalar, n+len(r.Scalars))
		for i := 0; i < n; i++ {
			defs[i] = expr.Column{Index: i}
		}
		for i, s := range r.Scalars {
			switch s := s.(type) {
			case expr.Literal:
				defs[n+i] = s
			case expr.Column:
				if s.Index < n+i {
					defs[n+i] = defs[s.Index]
				}
			}
		}
		var down, stay []expr.Scalar
		for _, p := range preds {
			if supportBelow(p, n) {
				down = append(down, p)
				continue
			}
			simple := true
			for _, c := range support(p) {
				if defs[c] == nil {
					simple = false
				}
			}
			if simple {
				down = append(down, substituteColumns(p, defs))
			} else {
				stay = append(stay, p)
			}
		}
		return withFilter(Map{Input: sink(r.Input, down), Scalars: r.Scalars}, stay)
	case Project:
		down := make([]expr.Scalar, len(preds))
		for i, p := range preds {
			down[i] = permuteColumns(p, func(c int) int { return r.Outputs[c] })
		}
		return Project{Input: sink(r.Input, down), Outputs: r.Outputs}
	case Union:
		ins := make([]Rel, len(r.Inputs))
		for i, in := range r.Inputs {
			ins[i] = sink(in, preds)
		}
		return Union{Inputs: ins}
	case Negate:
		return Negate{Input: sink(r.Input, preds)}
	case Threshold:
		return Threshold{Input: sink(r.Input, preds)}
	case Let:
		r.Body = sink(r.Body, preds)
		return r
	case Reduce:
		var down, stay []expr.Scalar
		for _, p := range preds {
			if supportBelow(p, len(r.GroupKey)) {
				down = append(down, substituteColumns(p, r.GroupKey))
			} else {
				stay = append(stay, p)
			}
		}
		r.Input = sink(r.Input, down)
		return withFilter(r, stay)
	case TopK:
		down, stay := partitionBySupport(preds, r.GroupKey)
		r.Input = sink(r.Input, down)
		return withFilter(r, stay)
	case Window:
		down, stay := partitionBySupport(preds, r.PartitionBy)
		r.Input = sink(r.Input, down)
		return withFilter(r, stay)
	case FlatMap:
		n := Arity(r.Input)
		var down, stay []expr.Scalar
		for _, p := range preds {
			if supportBelow(p, n) {
				down = append(down, p)
			} else {
				stay = append(stay, p)
			}
		}
		r.Input = sink(r.Input, down)
		return withFilter(r, stay)
	case Join:
		return sinkJoin(r, preds)
	}
	return withFilter(rel, preds)
}

// partitionBySupport splits preds into those reading only cols and the rest.
func partitionBySupport(preds []expr.Scalar, cols []int) (in, out []expr.Scalar) {
	for _, p := range preds {
		ok := true
		for _, c := range support(p) {
			if indexOf(cols, c) < 0 {
				ok = false
			}
		}
		if ok {
			in = append(in, p)
		} else {
			out = append(out, p)
		}
	}
	return in, out
}

// joinLayout describes the column offsets of a Join's inputs.
type joinLayout struct {
	offsets []int // offsets[i] is input i's first column; offsets[n] the arity
}

func layoutOf(inputs []Rel) joinLayout {
	offs := make([]int, len(inputs)+1)
	for i, in := range inputs {
		offs[i+1] = offs[i] + Arity(in)
	}
	return joinLayout{offsets: offs}
}

// inputOf returns the input containing column c.
func (l joinLayout) inputOf(c int) int {
	for i := 0; i+1 < len(l.offsets); i++ {
		if c < l.offsets[i+1] {
			return i
		}
	}
	return -1
}

// localTo returns the single input whose columns e reads, -1 when e reads
// none (a constant expression) and -2 when it reads several inputs.
func (l joinLayout) localTo(e expr.Scalar) int {
	in := -1
	for _, c := range support(e) {
		i := l.inputOf(c)
		if in == -1 {
			in = i
		} else if in != i {
			return -2
		}
	}
	return in
}

// sameTypeOperands returns the operands of a cross-type equality (int2 =
// int4, oid = int4) cast to one type, as the operator compares them: a
// join compares its keys' encodings, which differ between types for the
// same value. ok is false when neither casts implicitly to the other's
// type (the equality then stays a filter).
func sameTypeOperands(a, b expr.Scalar, cols []repr.ColumnType) (expr.Scalar, expr.Scalar, bool) {
	ta, tb := a.Type(cols).Type, b.Type(cols).Type
	if ta.Kind == tb.Kind {
		return a, b, true
	}
	if c, err := expr.NewCast(a, ta, tb, expr.Implicit); err == nil {
		return c, b, true
	}
	if c, err := expr.NewCast(b, tb, ta, expr.Implicit); err == nil {
		return a, c, true
	}
	return a, b, false
}

func sinkJoin(j Join, preds []expr.Scalar) Rel {
	lay := layoutOf(j.Inputs)
	perInput := make([][]expr.Scalar, len(j.Inputs))
	eqs := append([][]expr.Scalar(nil), j.Equivalences...)
	var stay []expr.Scalar
	var cols []repr.ColumnType
	for _, p := range preds {
		// An equality becomes a join key only between values of one type
		// (sameTypeOperands casts one side when it can): arrangements
		// compare keys by their packed bytes, so an int8 and an int4 would
		// never meet.
		if a, b, ok := asEquality(p); ok && !containsMzNow(p) && !isLiteral(a) && !isLiteral(b) {
			la, lb := lay.localTo(a), lay.localTo(b)
			if !(la >= 0 && la == lb) && la != -1 && lb != -1 {
				if cols == nil {
					cols = Join{Inputs: j.Inputs}.Typ().Cols
				}
				if a, b, ok = sameTypeOperands(a, b, cols); ok {
					eqs = append(eqs, []expr.Scalar{a, b})
					continue
				}
			}
		}
		if i := lay.localTo(p); i >= 0 {
			perInput[i] = append(perInput[i], shiftColumns(p, -lay.offsets[i]))
			continue
		}
		stay = append(stay, p)
	}
	if cols == nil {
		cols = Join{Inputs: j.Inputs}.Typ().Cols
	}
	for i := range perInput {
		for _, p := range perInput[i] {
			for _, d := range literalThroughClasses(p, lay.offsets[i], eqs, cols) {
				k := lay.inputOf(d.col)
				perInput[k] = append(perInput[k], shiftColumns(d.eq, -lay.offsets[k]))
			}
		}
	}
	ins := make([]Rel, len(j.Inputs))
	for i, in := range j.Inputs {
		ins[i] = sink(in, perInput[i])
	}
	return withFilter(Join{Inputs: ins, Equivalences: eqs}, stay)
}

// classLiteral is a predicate col = literal (over the join's columns)
// derived from an equivalence class.
type classLiteral struct {
	col int
	eq  expr.Scalar
}

// literalThroughClasses derives, from p (a predicate over one input,
// whose columns start at off) of the form column = literal, the
// predicate member = literal for every other plain-column member of an
// equivalence class of the join that holds the column, when that member
// has the column's type: every joined row has member = column = literal,
// so the member's input may be filtered by it before the join (and read
// by an index on the member: `t JOIN u ON u.id = t.k WHERE u.id = 42`
// reads t's index on k instead of scanning t).
func literalThroughClasses(p expr.Scalar, off int, eqs [][]expr.Scalar, cols []repr.ColumnType) []classLiteral {
	a, b, ok := asEquality(p)
	if !ok {
		return nil
	}
	if isLiteral(a) {
		a, b = b, a
	}
	c, isCol := a.(expr.Column)
	l, isLit := b.(expr.Literal)
	if !isCol || !isLit || l.Err != nil || l.Value.IsNull() {
		return nil
	}
	global := c.Index + off
	var out []classLiteral
	for _, class := range eqs {
		holds := false
		for _, m := range class {
			if mc, ok := m.(expr.Column); ok && mc.Index == global {
				holds = true
			}
		}
		if !holds {
			continue
		}
		for _, m := range class {
			mc, ok := m.(expr.Column)
			if !ok || mc.Index == global || !cols[mc.Index].Type.Equal(cols[global].Type) {
				continue
			}
			if eq, ok := mkEquality(mc, l, cols); ok {
				out = append(out, classLiteral{col: mc.Index, eq: eq})
			}
		}
	}
	return out
}

// commonUsePredicates returns the predicates that every use of local id
// in rel is filtered by (a Filter directly over the Get): none when some
// use is not filtered, or rel does not use id.
func commonUsePredicates(rel Rel, id LocalID) []expr.Scalar {
	var common []expr.Scalar
	uses, unfiltered := 0, false
	var walk func(Rel)
	walk = func(r Rel) {
		if unfiltered {
			return
		}
		switch x := r.(type) {
		case Filter:
			if g, ok := x.Input.(Get); ok && g.Local == id {
				var preds []expr.Scalar
				for _, p := range x.Predicates {
					preds = append(preds, splitConjunction(p)...)
				}
				if uses == 0 {
					common = dedupScalars(preds)
				} else {
					common = intersectScalars(common, preds)
				}
				uses++
				return
			}
		case Get:
			if x.Local == id {
				unfiltered = true
				return
			}
		}
		for _, c := range Children(r) {
			walk(c)
		}
	}
	walk(rel)
	if unfiltered || uses == 0 {
		return nil
	}
	return common
}

// intersectScalars returns the members of a that b has too.
func intersectScalars(a, b []expr.Scalar) []expr.Scalar {
	var out []expr.Scalar
	for _, x := range a {
		for _, y := range b {
			if scalarsEqual(x, y) {
				out = append(out, x)
				break
			}
		}
	}
	return out
}

// dropUsePredicates removes preds from the Filters directly over each use
// of local id in rel, and types each use typ, the filtered value's type
// (the predicates may have made columns non-nullable).
func dropUsePredicates(rel Rel, id LocalID, preds []expr.Scalar, typ RelType) Rel {
	if f, ok := rel.(Filter); ok {
		if g, ok := f.Input.(Get); ok && g.Local == id {
			var keep []expr.Scalar
			for _, p := range f.Predicates {
				for _, q := range splitConjunction(p) {
					if len(intersectScalars([]expr.Scalar{q}, preds)) == 0 {
						keep = append(keep, q)
					}
				}
			}
			g.Type = typ
			return withFilter(g, keep)
		}
	}
	cs := Children(rel)
	if len(cs) == 0 {
		return rel
	}
	out := make([]Rel, len(cs))
	for i, c := range cs {
		out[i] = dropUsePredicates(c, id, preds, typ)
	}
	return mustWithChildren(rel, out)
}
