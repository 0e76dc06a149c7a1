package expr

import (
	"sort"
	"strconv"
	"strings"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

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

// OutputArity is the number of columns m emits.
func (m *MapFilterProject) OutputArity() int { return len(m.Projection) }

// Arity is the number of columns available to predicates and the
// projection: the input's and the expressions'.
func (m *MapFilterProject) Arity() int { return m.InputArity + len(m.Expressions) }

// Map returns m followed by appending exprs, which read m's output columns
// (and earlier exprs); the new columns are projected after m's.
func (m MapFilterProject) Map(exprs ...Scalar) MapFilterProject {
	out := len(m.Projection)
	next := Identity(out)
	for i, e := range exprs {
		next.Expressions = append(next.Expressions, e)
		next.Projection = append(next.Projection, out+i)
	}
	return m.Compose(next)
}

// Filter returns m followed by keeping rows where every pred (over m's
// output columns) is true.
func (m MapFilterProject) Filter(preds ...Scalar) MapFilterProject {
	next := Identity(len(m.Projection))
	for _, p := range preds {
		next.Predicates = append(next.Predicates, Predicate{Support: MaxColumn(p) + 1, Expr: p})
	}
	return m.Compose(next)
}

// Project returns m followed by keeping cols of its output, in order.
func (m MapFilterProject) Project(cols ...int) MapFilterProject {
	next := MapFilterProject{InputArity: len(m.Projection), Projection: append([]int(nil), cols...)}
	return m.Compose(next)
}

// Apply evaluates m over one input row. datums holds the InputArity input
// values; scratch is reused across calls to hold the input and computed
// columns. When the row is kept, Apply appends the projected datums to out
// (the caller Resets out beforehand) and reports true. An evaluation error
// (of an expression needed so far, or of a predicate) is returned as err;
// the caller turns it into an error of the output collection.
//
// Predicates are evaluated in order as soon as Support columns exist, so a
// row dropped by a cheap filter on the input costs no expression work.
func (m *MapFilterProject) Apply(ctx *EvalCtx, datums []repr.Datum, scratch *[]repr.Datum, out *repr.Packer) (keep bool, err error) {
	if len(datums) < m.InputArity {
		return false, pgcode.New(pgcode.InternalError, "expr: MFP expects %d input columns, got %d", m.InputArity, len(datums))
	}
	row := append((*scratch)[:0], datums[:m.InputArity]...)
	row, keep, err = m.apply(ctx, row, out)
	// Keep the capacity, drop references into the input's memory.
	clear(row[:cap(row)])
	*scratch = row[:0]
	return keep, err
}

// apply runs m over row (the input columns), appending computed columns;
// it returns the extended row so its capacity is kept for the next call.
func (m *MapFilterProject) apply(ctx *EvalCtx, row []repr.Datum, out *repr.Packer) ([]repr.Datum, bool, error) {
	p := 0
	for i := 0; ; i++ {
		for p < len(m.Predicates) && m.Predicates[p].Support <= len(row) {
			d, err := Eval(ctx, m.Predicates[p].Expr, row)
			if err != nil {
				return row, false, err
			}
			if d.IsNull() || !d.Bool() {
				return row, false, nil
			}
			p++
		}
		if i == len(m.Expressions) {
			break
		}
		d, err := Eval(ctx, m.Expressions[i], row)
		if err != nil {
			return row, false, err
		}
		row = append(row, d)
	}
	// Predicates whose Support overstates the arity (or is out of order)
	// still run.
	for ; p < len(m.Predicates); p++ {
		d, err := Eval(ctx, m.Predicates[p].Expr, row)
		if err != nil {
			return row, false, err
		}
		if d.IsNull() || !d.Bool() {
			return row, false, nil
		}
	}
	if out != nil {
		for _, c := range m.Projection {
			out.Push(row[c])
		}
	}
	return row, true, nil
}

// Compose returns the MFP that applies m and then next (whose InputArity
// must be m's output arity).
func (m MapFilterProject) Compose(next MapFilterProject) MapFilterProject {
	base := m.InputArity + len(m.Expressions)
	remap := func(c int) int {
		if c < next.InputArity {
			return m.Projection[c]
		}
		return base + (c - next.InputArity)
	}
	out := MapFilterProject{
		InputArity:  m.InputArity,
		Expressions: append([]Scalar(nil), m.Expressions...),
		Predicates:  append([]Predicate(nil), m.Predicates...),
	}
	for _, e := range next.Expressions {
		out.Expressions = append(out.Expressions, MapColumns(e, remap))
	}
	for _, p := range next.Predicates {
		e := MapColumns(p.Expr, remap)
		out.Predicates = append(out.Predicates, Predicate{Support: MaxColumn(e) + 1, Expr: e})
	}
	out.Projection = make([]int, len(next.Projection))
	for i, c := range next.Projection {
		out.Projection[i] = remap(c)
	}
	return out
}

// Optimize rewrites m in place to an equivalent, cheaper MFP:
// expressions that merely copy a column are inlined, expressions no
// predicate or projected column needs are removed (and the remaining ones
// renumbered), and each predicate's Support is its true support, with
// predicates stably sorted by it so each runs at its earliest point.
func (m *MapFilterProject) Optimize() {
	// 1. Inline expressions that are plain column references.
	subst := make(map[int]int)
	resolve := func(c int) int {
		for {
			t, ok := subst[c]
			if !ok {
				return c
			}
			c = t
		}
	}
	for i, e := range m.Expressions {
		e = MapColumns(e, resolve)
		m.Expressions[i] = e
		if c, ok := e.(Column); ok {
			subst[m.InputArity+i] = c.Index
		}
	}
	for i := range m.Predicates {
		m.Predicates[i].Expr = MapColumns(m.Predicates[i].Expr, resolve)
	}
	for i, c := range m.Projection {
		m.Projection[i] = resolve(c)
	}

	// 2. Find the expressions that are needed.
	needed := make([]bool, m.InputArity+len(m.Expressions))
	var mark func(c int)
	mark = func(c int) {
		if c < 0 || c >= len(needed) || needed[c] {
			return
		}
		needed[c] = true
		if c >= m.InputArity {
			visitColumns(m.Expressions[c-m.InputArity], mark)
		}
	}
	for _, c := range m.Projection {
		mark(c)
	}
	for _, p := range m.Predicates {
		visitColumns(p.Expr, mark)
	}

	// 3. Renumber, dropping unneeded expressions.
	renum := make([]int, len(needed))
	for c := 0; c < m.InputArity; c++ {
		renum[c] = c
	}
	next := m.InputArity
	var exprs []Scalar
	for i, e := range m.Expressions {
		c := m.InputArity + i
		if !needed[c] {
			renum[c] = -1
			continue
		}
		renum[c] = next
		next++
		exprs = append(exprs, MapColumns(e, func(c int) int { return renum[c] }))
	}
	m.Expressions = exprs
	for i := range m.Predicates {
		e := MapColumns(m.Predicates[i].Expr, func(c int) int { return renum[c] })
		m.Predicates[i] = Predicate{Support: MaxColumn(e) + 1, Expr: e}
	}
	for i, c := range m.Projection {
		m.Projection[i] = renum[c]
	}

	// 4. Drop literal-true predicates; order by support.
	preds := m.Predicates[:0]
	for _, p := range m.Predicates {
		if l, ok := p.Expr.(Literal); ok && l.Err == nil && !l.Value.IsNull() && l.Value.Kind() == repr.KindBool && l.Value.Bool() {
			continue
		}
		preds = append(preds, p)
	}
	m.Predicates = preds
	sort.SliceStable(m.Predicates, func(i, j int) bool { return m.Predicates[i].Support < m.Predicates[j].Support })
}

// Demand returns the input columns m reads (for projection pushdown),
// sorted: those the projection passes through, and those read by the
// predicates and by the expressions that are needed.
func (m *MapFilterProject) Demand() []int {
	needed := make([]bool, m.InputArity+len(m.Expressions))
	var mark func(c int)
	mark = func(c int) {
		if c < 0 || c >= len(needed) || needed[c] {
			return
		}
		needed[c] = true
		if c >= m.InputArity {
			visitColumns(m.Expressions[c-m.InputArity], mark)
		}
	}
	for _, c := range m.Projection {
		mark(c)
	}
	for _, p := range m.Predicates {
		visitColumns(p.Expr, mark)
	}
	var out []int
	for c := 0; c < m.InputArity; c++ {
		if needed[c] {
			out = append(out, c)
		}
	}
	return out
}

// InputPrefix returns the number of leading input columns m can read:
// one past the highest input column that its projection, predicates or
// any of its expressions (needed or not) refer to. An evaluator may
// decode only that prefix of each input row (the rest may be NULL).
func (m *MapFilterProject) InputPrefix() int {
	n := 0
	mark := func(c int) {
		if c < m.InputArity && c+1 > n {
			n = c + 1
		}
	}
	for _, c := range m.Projection {
		mark(c)
	}
	for _, p := range m.Predicates {
		visitColumns(p.Expr, mark)
	}
	for _, e := range m.Expressions {
		visitColumns(e, mark)
	}
	return n
}

// Permute renumbers m's input columns: input column c of the old input is
// column perm[c] of a new input of arity newArity (after projection
// pushdown removed undemanded columns). Columns m does not demand may map
// to -1.
func (m MapFilterProject) Permute(perm []int, newArity int) MapFilterProject {
	shift := newArity - m.InputArity
	remap := func(c int) int {
		if c < m.InputArity {
			return perm[c]
		}
		return c + shift
	}
	out := MapFilterProject{InputArity: newArity}
	for _, e := range m.Expressions {
		out.Expressions = append(out.Expressions, MapColumns(e, remap))
	}
	for _, p := range m.Predicates {
		e := MapColumns(p.Expr, remap)
		out.Predicates = append(out.Predicates, Predicate{Support: MaxColumn(e) + 1, Expr: e})
	}
	for _, c := range m.Projection {
		out.Projection = append(out.Projection, remap(c))
	}
	return out
}

// String prints m deterministically, e.g.
// "mfp(in=2 map=[(#0 + #1)] filter=[(#2 > 5)@3] project=[0, 2])"; empty
// parts are omitted.
func (m *MapFilterProject) String() string {
	var b strings.Builder
	b.WriteString("mfp(in=")
	b.WriteString(strconv.Itoa(m.InputArity))
	if len(m.Expressions) > 0 {
		b.WriteString(" map=[")
		for i, e := range m.Expressions {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e.String())
		}
		b.WriteByte(']')
	}
	if len(m.Predicates) > 0 {
		b.WriteString(" filter=[")
		for i, p := range m.Predicates {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p.Expr.String())
			b.WriteByte('@')
			b.WriteString(strconv.Itoa(p.Support))
		}
		b.WriteByte(']')
	}
	b.WriteString(" project=[")
	for i, c := range m.Projection {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Itoa(c))
	}
	b.WriteString("])")
	return b.String()
}

// OutputTypes returns the column types m emits for input column types in.
func (m *MapFilterProject) OutputTypes(in []repr.ColumnType) []repr.ColumnType {
	cols := append([]repr.ColumnType(nil), in...)
	for _, e := range m.Expressions {
		cols = append(cols, e.Type(cols))
	}
	out := make([]repr.ColumnType, len(m.Projection))
	for i, c := range m.Projection {
		out[i] = cols[c]
	}
	return out
}
