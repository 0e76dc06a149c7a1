package render_test

import (
	"fmt"
	"math/rand"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// relGen generates random well-typed MIR over the test tables: Get,
// Filter (including temporal predicates on mz_now()), Map, Project,
// 2- to 4-way Joins with equivalences, Reduce (count, count(*), sum,
// min, max, count/sum distinct), DISTINCT, TopK, Union, EXCEPT ALL
// (Threshold of Union with Negate), FlatMap generate_series and
// constants. Column values stay small so that joins match and
// generate_series stays short.
type relGen struct {
	rng    *rand.Rand
	tables []table
	// joinInputs bounds the join inputs of a plan, which bounds the naive
	// evaluator's products.
	joinInputs int
	// features counts the operators generated, for coverage reports.
	features map[string]int
	// wanted are the indexes that would serve the lookups of the joins
	// generated: the join columns of catalog inputs.
	wanted indexSet
	nextID plan.LocalID
}

func newRelGen(rng *rand.Rand, tables []table) *relGen {
	return &relGen{rng: rng, tables: tables, joinInputs: 5, features: map[string]int{}, wanted: indexSet{}}
}

func (g *relGen) note(f string) { g.features[f]++ }

var tInt8 = repr.ColumnType{Type: repr.TypeInt8}

func lit8(v int64) expr.Scalar { return expr.Literal{Value: repr.Int8Datum(v), Typ: tInt8} }

// call resolves a binary operator as the SQL layer would (implicit casts).
func call(op string, cols []repr.ColumnType, a, b expr.Scalar) expr.Scalar {
	args := []expr.Scalar{a, b}
	types := []repr.ScalarType{a.Type(cols).Type, b.Type(cols).Type}
	res, err := expr.Resolve(op, expr.LookupBinaryOp(op), types)
	if err != nil {
		panic(err)
	}
	for i := range args {
		if i < len(res.ArgTypes) && !types[i].Equal(res.ArgTypes[i]) {
			c, err := expr.NewCast(args[i], types[i], res.ArgTypes[i], expr.Implicit)
			if err != nil {
				panic(err)
			}
			args[i] = c
		}
	}
	return expr.Call{Func: res.Func, Args: args}
}

func colsOfKind(cols []repr.ColumnType, k repr.Kind) []int {
	var out []int
	for i, c := range cols {
		if c.Type.Kind == k {
			out = append(out, i)
		}
	}
	return out
}

func (g *relGen) pick(xs []int) int { return xs[g.rng.Intn(len(xs))] }

func (g *relGen) col(n int) expr.Column { return expr.Column{Index: g.rng.Intn(n)} }

// pred returns a random predicate over cols.
func (g *relGen) pred(cols []repr.ColumnType) expr.Scalar {
	ops := []string{"=", "<", ">", "<>", "<=", ">="}
	op := ops[g.rng.Intn(len(ops))]
	n := len(cols)
	switch g.rng.Intn(5) {
	case 0:
		// Two columns of one type.
		a := g.col(n)
		same := colsOfKind(cols, cols[a.Index].Type.Kind)
		return call(op, cols, a, expr.Column{Index: g.pick(same)})
	case 1:
		return expr.Call{Func: expr.FuncIsNotNull, Args: []expr.Scalar{g.col(n)}}
	}
	a := g.col(n)
	switch cols[a.Index].Type.Kind {
	case repr.KindInt8, repr.KindNumeric:
		return call(op, cols, a, lit8(int64(g.rng.Intn(6))))
	}
	return expr.Call{Func: expr.FuncIsNotNull, Args: []expr.Scalar{a}}
}

// temporal returns a predicate comparing mz_now() with an int8 column plus
// an offset, or nil when there is no int8 column.
func (g *relGen) temporal(cols []repr.ColumnType) expr.Scalar {
	ints := colsOfKind(cols, repr.KindInt8)
	if len(ints) == 0 {
		return nil
	}
	c := expr.Column{Index: g.pick(ints)}
	bound := call("+", cols, c, lit8(int64(g.rng.Intn(12))))
	ops := []string{"<", "<=", ">", ">=", "<", "<="}
	op := ops[g.rng.Intn(len(ops))]
	if g.rng.Intn(2) == 0 {
		return call(op, cols, expr.MzNow{}, bound)
	}
	flip := map[string]string{"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
	return call(flip, cols, bound, expr.MzNow{})
}

// leaf returns a catalog Get (or, rarely, a constant).
func (g *relGen) leaf() plan.Rel {
	if g.rng.Intn(12) == 0 {
		g.note("constant")
		return plan.Constant{Type: plan.RelType{Cols: []repr.ColumnType{int8Col(false), int8Col(true)}},
			Rows: []plan.ConstRow{
				{Row: repr.PackRow(repr.Int8Datum(1), repr.Null), Diff: 1},
				{Row: repr.PackRow(repr.Int8Datum(2), repr.Int8Datum(3)), Diff: 2},
			}}
	}
	return g.tables[g.rng.Intn(len(g.tables))].get
}

// projectInt8 projects r onto k int8 columns (mapping a literal when r has
// none), so that union branches have one type.
func (g *relGen) projectInt8(r plan.Rel, k int) plan.Rel {
	cols := r.Typ().Cols
	ints := colsOfKind(cols, repr.KindInt8)
	if len(ints) == 0 {
		r = plan.Map{Input: r, Scalars: []expr.Scalar{lit8(int64(g.rng.Intn(3)))}}
		ints = []int{len(cols)}
	}
	outs := make([]int, k)
	for i := range outs {
		outs[i] = g.pick(ints)
	}
	return plan.Project{Input: r, Outputs: outs}
}

func (g *relGen) gen(depth int) plan.Rel {
	if depth == 0 || g.rng.Intn(7) == 0 {
		return g.leaf()
	}
	switch g.rng.Intn(18) {
	case 17:
		// A binding read twice: WITH l AS (...) SELECT ... FROM l WHERE p
		// UNION ALL SELECT ... FROM l (or l joined with itself).
		g.nextID++
		id := g.nextID
		v := g.gen(depth - 1)
		get := plan.Get{Local: id, Name: fmt.Sprintf("l%d", id), Type: v.Typ()}
		k := 1 + g.rng.Intn(2)
		var body plan.Rel = plan.Union{Inputs: []plan.Rel{
			g.projectInt8(plan.Filter{Input: get, Predicates: []expr.Scalar{g.pred(get.Type.Cols)}}, k),
			g.projectInt8(get, k),
		}}
		if g.rng.Intn(3) == 0 && g.joinInputs >= 2 {
			g.joinInputs -= 2
			n := get.Type.Arity()
			body = plan.Join{Inputs: []plan.Rel{get, get}, Equivalences: [][]expr.Scalar{{g.col(n), expr.Column{Index: n + g.rng.Intn(n)}}}}
			if !sameTypes(body.Typ().Cols, body.(plan.Join).Equivalences[0]) {
				body = get
			}
		}
		g.note("let")
		return plan.Let{ID: id, Name: get.Name, Value: v, Body: body}
	case 0, 1:
		in := g.gen(depth - 1)
		g.note("filter")
		return plan.Filter{Input: in, Predicates: []expr.Scalar{g.pred(in.Typ().Cols)}}
	case 2:
		in := g.gen(depth - 1)
		if p := g.temporal(in.Typ().Cols); p != nil {
			g.note("temporal")
			preds := []expr.Scalar{p}
			if g.rng.Intn(2) == 0 {
				if q := g.temporal(in.Typ().Cols); q != nil {
					preds = append(preds, q)
				}
			}
			return plan.Filter{Input: in, Predicates: preds}
		}
		return in
	case 3:
		in := g.gen(depth - 1)
		cols := in.Typ().Cols
		g.note("map")
		var s expr.Scalar = lit8(int64(g.rng.Intn(5)))
		if ints := colsOfKind(cols, repr.KindInt8); len(ints) > 0 && g.rng.Intn(3) != 0 {
			s = call("+", cols, expr.Column{Index: g.pick(ints)}, lit8(int64(g.rng.Intn(3))))
		}
		return plan.Map{Input: in, Scalars: []expr.Scalar{s}}
	case 4:
		in := g.gen(depth - 1)
		n := plan.Arity(in)
		outs := make([]int, 1+g.rng.Intn(3))
		for i := range outs {
			outs[i] = g.rng.Intn(n)
		}
		g.note("project")
		return plan.Project{Input: in, Outputs: outs}
	case 5, 6, 7, 16:
		return g.join(depth)
	case 8:
		k := 1 + g.rng.Intn(2)
		g.note("union")
		return plan.Union{Inputs: []plan.Rel{g.projectInt8(g.gen(depth-1), k), g.projectInt8(g.gen(depth-1), k)}}
	case 9:
		k := 1 + g.rng.Intn(2)
		g.note("except_all")
		return plan.Threshold{Input: plan.Union{Inputs: []plan.Rel{
			g.projectInt8(g.gen(depth-1), k),
			plan.Negate{Input: g.projectInt8(g.gen(depth-1), k)},
		}}}
	case 10, 11:
		return g.reduce(g.gen(depth - 1))
	case 12:
		in := g.gen(depth - 1)
		n := plan.Arity(in)
		keys := make([]expr.Scalar, n)
		for i := range keys {
			keys[i] = expr.Column{Index: i}
		}
		g.note("distinct")
		return plan.Reduce{Input: in, GroupKey: keys}
	case 13, 14:
		return g.topK(g.gen(depth - 1))
	default:
		in := g.gen(depth - 1)
		cols := in.Typ().Cols
		ints := colsOfKind(cols, repr.KindInt8)
		if len(ints) == 0 {
			return in
		}
		var lo, hi expr.Scalar
		c := expr.Column{Index: g.pick(ints)}
		if g.rng.Intn(2) == 0 {
			lo, hi = lit8(int64(g.rng.Intn(3))), c
		} else {
			lo, hi = c, call("+", cols, c, lit8(int64(g.rng.Intn(3))))
		}
		tf, err := expr.LookupTableFunc("generate_series", []repr.ScalarType{repr.TypeInt8, repr.TypeInt8})
		if err != nil {
			panic(err)
		}
		g.note("flatmap")
		return plan.FlatMap{Input: in, Func: tf, Args: []expr.Scalar{lo, hi}}
	}
}

// join builds a 2- to 4-way join, mostly of catalog collections (so that
// indexes on the join keys let the planner choose a delta join), chained
// by equivalences between columns of one type.
func (g *relGen) join(depth int) plan.Rel {
	n := 2 + g.rng.Intn(3)
	if n > g.joinInputs {
		n = g.joinInputs
	}
	if n < 2 {
		return g.gen(depth - 1)
	}
	g.joinInputs -= n
	var j plan.Join
	for k := 0; k < n; k++ {
		var in plan.Rel
		switch r := g.rng.Intn(6); {
		case r < 4:
			in = g.tables[g.rng.Intn(len(g.tables))].get
		case r == 4:
			tb := g.tables[g.rng.Intn(len(g.tables))].get
			switch g.rng.Intn(3) {
			case 0:
				in = plan.Filter{Input: tb, Predicates: []expr.Scalar{g.pred(tb.Type.Cols)}}
			case 1:
				// A mapped column (a join on it needs an expression index).
				in = plan.Map{Input: tb, Scalars: []expr.Scalar{call("+", tb.Type.Cols, g.col(tb.Type.Arity()), lit8(1))}}
			default:
				// Columns reordered and dropped.
				n := tb.Type.Arity()
				outs := []int{g.rng.Intn(n), g.rng.Intn(n)}
				if g.rng.Intn(2) == 0 {
					outs = outs[:1]
				}
				in = plan.Project{Input: tb, Outputs: outs}
			}
		default:
			in = g.gen(depth - 1)
		}
		j.Inputs = append(j.Inputs, in)
	}
	offs := make([]int, n+1)
	var cols []repr.ColumnType
	for k, in := range j.Inputs {
		offs[k+1] = offs[k] + plan.Arity(in)
		cols = append(cols, in.Typ().Cols...)
	}
	for k := 1; k < n; k++ {
		if g.rng.Intn(8) == 0 {
			continue // a cross product with input k
		}
		a := g.rng.Intn(k)
		ca := offs[a] + g.rng.Intn(offs[a+1]-offs[a])
		var same []int
		for c := offs[k]; c < offs[k+1]; c++ {
			if cols[c].Type.Equal(cols[ca].Type) {
				same = append(same, c)
			}
		}
		if len(same) == 0 {
			continue
		}
		var ea expr.Scalar = expr.Column{Index: ca}
		if cols[ca].Type.Kind == repr.KindInt8 && g.rng.Intn(10) == 0 {
			ea = call("+", cols, ea, lit8(1))
		}
		class := []expr.Scalar{ea, expr.Column{Index: g.pick(same)}}
		if k+1 < n && g.rng.Intn(5) == 0 {
			// A three-member class reaching the next input.
			for c := offs[k+1]; c < offs[k+2]; c++ {
				if cols[c].Type.Equal(cols[ca].Type) {
					class = append(class, expr.Column{Index: c})
					break
				}
			}
		}
		j.Equivalences = append(j.Equivalences, class)
		if g.rng.Intn(6) == 0 {
			// A second condition between the same inputs: a two-column key.
			cb := offs[a] + g.rng.Intn(offs[a+1]-offs[a])
			for c := offs[k]; c < offs[k+1]; c++ {
				if cols[c].Type.Equal(cols[cb].Type) && c != class[1].(expr.Column).Index {
					j.Equivalences = append(j.Equivalences, []expr.Scalar{expr.Column{Index: cb}, expr.Column{Index: c}})
					break
				}
			}
		}
	}
	if n >= 3 && g.rng.Intn(2) == 0 {
		// A condition over two inputs against a third, as in
		// t JOIN u ON ... JOIN w ON t.b + u.y = w.q: some paths enforce it
		// by a lookup key, others by a closure.
		ints := colsOfKind(cols, repr.KindInt8)
		a, b, c := g.pick(ints), g.pick(ints), g.pick(ints)
		ia, ib, ic := inputAt(offs, a), inputAt(offs, b), inputAt(offs, c)
		if ia != ib && ic != ia && ic != ib {
			j.Equivalences = append(j.Equivalences, []expr.Scalar{call("+", cols, expr.Column{Index: a}, expr.Column{Index: b}), expr.Column{Index: c}})
			g.note("join-nonlocal-condition")
		}
	}
	g.recordWanted(j, offs)
	g.note("join")
	var out plan.Rel = j
	if g.rng.Intn(3) == 0 {
		out = plan.Filter{Input: out, Predicates: []expr.Scalar{g.pred(cols)}}
	}
	return out
}

func (g *relGen) reduce(in plan.Rel) plan.Rel {
	cols := in.Typ().Cols
	r := plan.Reduce{Input: in}
	ints := colsOfKind(cols, repr.KindInt8)
	for i := 0; i < g.rng.Intn(3); i++ {
		if len(ints) > 0 && g.rng.Intn(4) == 0 {
			r.GroupKey = append(r.GroupKey, call("+", cols, expr.Column{Index: g.pick(ints)}, lit8(1)))
			continue
		}
		r.GroupKey = append(r.GroupKey, g.col(len(cols)))
	}
	for i := 0; i < 1+g.rng.Intn(3); i++ {
		c := g.col(len(cols))
		switch g.rng.Intn(6) {
		case 0:
			r.Aggregates = append(r.Aggregates, expr.Aggregate{Func: expr.AggCountStar, Expr: expr.Literal{Value: repr.True, Typ: repr.ColumnType{Type: repr.TypeBool}}, Typ: tInt8})
			g.note("count(*)")
		case 1:
			d := g.rng.Intn(2) == 0
			r.Aggregates = append(r.Aggregates, expr.Aggregate{Func: expr.AggCount, Expr: c, Distinct: d, Typ: tInt8})
			if d {
				g.note("count(distinct)")
			} else {
				g.note("count")
			}
		case 2:
			if len(ints) == 0 {
				continue
			}
			d := g.rng.Intn(3) == 0
			var arg expr.Scalar = expr.Column{Index: g.pick(ints)}
			if g.rng.Intn(3) == 0 {
				arg = call("+", cols, arg, expr.Column{Index: g.pick(ints)})
			}
			r.Aggregates = append(r.Aggregates, expr.Aggregate{Func: expr.AggSum, Expr: arg, Distinct: d,
				Typ: repr.ColumnType{Type: repr.TypeNumeric, Nullable: true}})
			g.note("sum")
		case 3, 4:
			typ := c.Type(cols)
			typ.Nullable = true
			r.Aggregates = append(r.Aggregates, expr.Aggregate{Func: expr.AggMin, Expr: c, Typ: typ})
			g.note("min")
		default:
			typ := c.Type(cols)
			typ.Nullable = true
			r.Aggregates = append(r.Aggregates, expr.Aggregate{Func: expr.AggMax, Expr: c, Typ: typ})
			g.note("max")
		}
	}
	if len(r.GroupKey) == 0 && len(r.Aggregates) == 0 {
		r.GroupKey = []expr.Scalar{g.col(len(cols))}
	}
	g.note("reduce")
	return r
}

func (g *relGen) topK(in plan.Rel) plan.Rel {
	n := plan.Arity(in)
	tk := plan.TopK{Input: in, Limit: int64(g.rng.Intn(4)), Offset: int64(g.rng.Intn(3))}
	if tk.Limit == 0 && g.rng.Intn(4) != 0 {
		tk.Limit = -1
		if tk.Offset == 0 {
			tk.Offset = 1
		}
	}
	if g.rng.Intn(3) == 0 {
		tk.Offset = 0
	}
	for i := 0; i < g.rng.Intn(2); i++ {
		tk.GroupKey = append(tk.GroupKey, g.rng.Intn(n))
	}
	for i := 0; i < 1+g.rng.Intn(2); i++ {
		tk.Order = append(tk.Order, plan.ColumnOrder{Column: g.rng.Intn(n),
			Order: repr.SortOrder{Desc: g.rng.Intn(2) == 0, NullsFirst: g.rng.Intn(2) == 0}})
	}
	g.note("topk")
	return tk
}

// randomIndexes chooses the indexes of a case: each single-column key of
// each table with probability 1/2 (so some joins find every arrangement
// they need and are planned as delta joins, others not).
func randomIndexes(rng *rand.Rand, tables []table) indexSet {
	s := indexSet{}
	for _, tb := range tables {
		for c := 0; c < tb.get.Type.Arity(); c++ {
			if rng.Intn(2) == 0 {
				s[tb.get.Global] = append(s[tb.get.Global], []expr.Scalar{expr.Column{Index: c}})
			}
		}
	}
	return s
}

// baseDef returns column c of a Filter/Project/Map over a catalog Get as
// an expression over the Get's columns.
func baseDef(in plan.Rel, c int) (plan.GlobalID, expr.Scalar, bool) {
	switch r := in.(type) {
	case plan.Get:
		if r.Local != 0 {
			return 0, nil, false
		}
		return r.Global, expr.Column{Index: c}, true
	case plan.Filter:
		return baseDef(r.Input, c)
	case plan.Project:
		return baseDef(r.Input, r.Outputs[c])
	case plan.Map:
		n := plan.Arity(r.Input)
		if c < n {
			return baseDef(r.Input, c)
		}
		// Inline the mapped expression's columns.
		var id plan.GlobalID
		ok := true
		e := expr.Rewrite(r.Scalars[c-n], func(s expr.Scalar) expr.Scalar {
			if col, is := s.(expr.Column); is {
				gid, d, good := baseDef(r.Input, col.Index)
				if !good {
					ok = false
					return s
				}
				id = gid
				return d
			}
			return s
		})
		if !ok || id == 0 {
			return 0, nil, false
		}
		return id, e, true
	}
	return 0, nil, false
}

// add adds the index on key expression e of id unless it exists.
func (s indexSet) add(id plan.GlobalID, e expr.Scalar) {
	for _, k := range s[id] {
		if len(k) == 1 && k[0].String() == e.String() {
			return
		}
	}
	s[id] = append(s[id], []expr.Scalar{e})
}

// merge adds every index of o to s, in a deterministic order.
func (s indexSet) merge(o indexSet) {
	for id := plan.GlobalID(1); id <= 3; id++ {
		for _, k := range o[id] {
			s.addKey(id, k)
		}
	}
}

// sameTypes reports whether the class's members have one scalar type.
func sameTypes(cols []repr.ColumnType, class []expr.Scalar) bool {
	for _, m := range class[1:] {
		if !m.Type(cols).Type.Equal(class[0].Type(cols).Type) {
			return false
		}
	}
	return true
}

// recordWanted records the indexes that let every lookup of every path of
// j use an existing arrangement: for each input over a catalog collection
// and each set of other inputs that may precede it on a path, the key made
// of its members of the classes linking it to that set (as the planner's
// stage keys are), over the collection's columns.
func (g *relGen) recordWanted(j plan.Join, offs []int) {
	n := len(j.Inputs)
	inputOf := func(c int) int {
		k := 0
		for c >= offs[k+1] {
			k++
		}
		return k
	}
	// localTo is the input whose columns alone e reads, or -1.
	localTo := func(e expr.Scalar) int {
		in := -1
		ok := true
		expr.Rewrite(e, func(s expr.Scalar) expr.Scalar {
			if c, is := s.(expr.Column); is {
				k := inputOf(c.Index)
				if in >= 0 && in != k {
					ok = false
				}
				in = k
			}
			return s
		})
		if !ok {
			return -1
		}
		return in
	}
	// Merge classes that share a member, as the planner does.
	var classes [][]expr.Scalar
	for _, c := range j.Equivalences {
		merged := append([]expr.Scalar(nil), c...)
		var rest [][]expr.Scalar
		for _, o := range classes {
			share := false
			for _, a := range o {
				for _, b := range merged {
					if a.String() == b.String() {
						share = true
					}
				}
			}
			if share {
				merged = append(merged, o...)
			} else {
				rest = append(rest, o)
			}
		}
		classes = append(rest, merged)
	}
	for i := 0; i < n; i++ {
		for set := 1; set < 1<<n; set++ {
			if set&(1<<i) != 0 {
				continue
			}
			var key []expr.Scalar
			for _, c := range classes {
				var mine expr.Scalar
				has := false
				for _, m := range c {
					switch l := localTo(m); {
					case l == i:
						if mine == nil {
							mine = m
						}
					case l >= 0 && set&(1<<l) != 0:
						has = true
					}
				}
				if mine != nil && has {
					key = append(key, mine)
				}
			}
			if len(key) == 0 {
				continue
			}
			var id plan.GlobalID
			var base []expr.Scalar
			ok := true
			for _, k := range key {
				e := expr.Rewrite(k, func(s expr.Scalar) expr.Scalar {
					if c, is := s.(expr.Column); is {
						gid, d, good := baseDef(j.Inputs[i], c.Index-offs[i])
						if !good {
							ok = false
							return s
						}
						id = gid
						return d
					}
					return s
				})
				base = append(base, e)
			}
			if ok && id != 0 {
				g.wanted.addKey(id, base)
			}
		}
	}
}

// addKey adds the index on key of id unless it exists.
func (s indexSet) addKey(id plan.GlobalID, key []expr.Scalar) {
	for _, k := range s[id] {
		if keyText(k) == keyText(key) {
			return
		}
	}
	s[id] = append(s[id], key)
}

// inputAt returns the join input whose columns include c.
func inputAt(offs []int, c int) int {
	k := 0
	for c >= offs[k+1] {
		k++
	}
	return k
}
