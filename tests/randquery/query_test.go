package randquery

import (
	"fmt"
	"math/rand"
)

// gen generates typed expressions and queries over a schema from a small
// grammar: every expression is built for a wanted type, so most queries
// are valid; PostgreSQL's refusals are counted and discarded.
type gen struct {
	r      *rand.Rand
	tables []*table
	alias  int
	// avoid names grammar features that known differences
	// (known_test.go) trigger, so that the fixed seeds stay green.
	avoid map[string]bool
}

func (g *gen) on(feature string) bool { return !g.avoid[feature] }

// scopeCol is a column visible to an expression: qual.name of type t.
type scopeCol struct {
	qual, name string
	t          typ
}

func (c scopeCol) ref() string { return c.qual + "." + c.name }

// scope is the columns of a FROM clause; outer is the enclosing query's
// scope, whose columns a subquery may reference (correlation).
type scope struct {
	cols  []scopeCol
	outer *scope
}

func (s *scope) ofType(t typ) []scopeCol {
	var out []scopeCol
	for _, c := range s.cols {
		if c.t == t {
			out = append(out, c)
		}
	}
	return out
}

// ectx is where an expression is generated.
type ectx struct {
	sc *scope
	// agg: aggregates may appear, and bare columns only among group.
	agg   bool
	group []scopeCol
	// win: window functions may appear (a select list of a query
	// without GROUP BY).
	win   bool
	depth int
	// inner: the expression is an aggregate's argument; one that reads
	// only the enclosing query's columns makes the aggregate that
	// query's (feature "outer-agg").
	inner bool
	// reads, when set, records the levels of the columns an aggregate's
	// arguments read (shared by the contexts derived from this one).
	reads *levelReads
}

// levelReads records whether expressions read columns of their own FROM
// scope, of the enclosing one, or both.
type levelReads struct{ own, outer bool }

func (c *ectx) deeper() *ectx {
	d := *c
	d.depth++
	return &d
}

// rowCtx is c for an aggregate's argument: the rows' columns, no
// aggregates or windows.
func (c *ectx) rowCtx() *ectx {
	return &ectx{sc: c.sc, depth: c.depth + 1, inner: true, reads: c.reads}
}

const maxDepth = 4

func (g *gen) pick(weights ...int) int {
	sum := 0
	for _, w := range weights {
		sum += w
	}
	k := g.r.Intn(sum)
	for i, w := range weights {
		if k < w {
			return i
		}
		k -= w
	}
	return len(weights) - 1
}

func (g *gen) lit(t typ) *node {
	if g.r.Intn(12) == 0 {
		return leaf(t, "NULL::"+t.String())
	}
	return leaf(t, g.literal(t, -1))
}

// column returns a column reference of type t visible in c (sometimes
// an outer one), or nil.
func (g *gen) column(c *ectx, t typ) *node {
	if c.agg {
		var cs []scopeCol
		for _, gc := range c.group {
			if gc.t == t {
				cs = append(cs, gc)
			}
		}
		if len(cs) == 0 {
			return nil
		}
		return leaf(t, cs[g.r.Intn(len(cs))].ref())
	}
	sc := c.sc
	if sc == nil {
		return nil
	}
	if sc.outer != nil && g.r.Intn(4) == 0 && (!c.inner || g.on("outer-agg")) {
		if cs := sc.outer.ofType(t); len(cs) > 0 {
			if c.reads != nil {
				c.reads.outer = true
			}
			return leaf(t, cs[g.r.Intn(len(cs))].ref())
		}
	}
	cs := sc.ofType(t)
	if len(cs) == 0 {
		return nil
	}
	if c.reads != nil {
		c.reads.own = true
	}
	return leaf(t, cs[g.r.Intn(len(cs))].ref())
}

// expr returns an expression of type t.
func (g *gen) expr(c *ectx, t typ) *node {
	if c.depth >= maxDepth || g.r.Intn(10) < 2+c.depth {
		if col := g.column(c, t); col != nil && g.r.Intn(4) != 0 {
			return col
		}
		if c.agg && g.r.Intn(2) == 0 {
			if a := g.aggregate(c, t); a != nil {
				return a
			}
		}
		return g.lit(t)
	}
	d := c.deeper()
	switch g.pick(3, 1, 1, 1, 2, 1) {
	case 0:
		if x := g.typed(d, t); x != nil {
			return x
		}
	case 1:
		return n(t, "CASE WHEN ", g.expr(d, tBool), " THEN ", g.expr(d, t), clause(" ELSE ", g.expr(d, t)), " END")
	case 2:
		if g.r.Intn(3) == 0 {
			return n(t, "CASE ", g.expr(d, t), " WHEN ", g.expr(d, t), " THEN ", g.expr(d, t), " ELSE ", g.expr(d, t), " END")
		}
		return n(t, "COALESCE(", lst(", ", 1, g.expr(d, t), g.expr(d, t)), ")")
	case 3:
		if t != tJsonb {
			return n(t, "NULLIF(", g.expr(d, t), ", ", g.expr(d, t), ")")
		}
	case 4:
		if c.agg {
			if a := g.aggregate(c, t); a != nil {
				return a
			}
		}
		if c.win && g.on("window") {
			if w := g.window(c, t); w != nil {
				return w
			}
		}
	case 5:
		if c.depth <= 2 && c.sc != nil && !c.agg && g.on("subquery") {
			return g.scalarSubquery(c, t)
		}
	}
	if col := g.column(c, t); col != nil {
		return col
	}
	return g.lit(t)
}

// typed returns an operator or function application of type t.
func (g *gen) typed(c *ectx, t typ) *node {
	r := g.r
	switch t {
	case tInt2, tInt4, tInt8, tNum, tFloat:
		switch k := r.Intn(12); {
		case k < 4:
			op := []string{" + ", " - ", " * ", " + "}[r.Intn(4)]
			return n(t, "(", g.expr(c, t), op, g.expr(c, t), ")")
		case k == 4 && t != tFloat:
			op := []string{" / ", " % "}[r.Intn(2)]
			return n(t, "(", g.expr(c, t), op, "NULLIF(", g.expr(c, t), ", ", leaf(t, "0::"+t.String()), "))")
		case k == 5:
			return n(t, "abs(", g.expr(c, t), ")")
		case k == 6:
			return n(t, "(- ", g.expr(c, t), ")")
		case k == 7:
			from := []typ{tInt2, tInt4, tInt8, tNum}[r.Intn(4)]
			switch t {
			case tNum:
				from = []typ{tInt4, tInt8, tNum, tFloat}[r.Intn(4)]
			case tFloat:
				// Integers only: a numeric's decimals are not exact
				// in binary, and sums of them would depend on order.
				from = []typ{tInt2, tInt4, tInt8}[r.Intn(3)]
			}
			return n(t, "CAST(", g.expr(c, from), " AS ", t.String(), ")")
		case k == 8 && t == tNum:
			return n(t, "round(", g.expr(c, t), ", ", fmt.Sprint(r.Intn(4)), ")")
		case k == 8 && t == tInt4:
			return n(t, "length(", g.expr(c, tText), ")")
		case k == 9 && t == tNum:
			return n(t, "(", g.expr(c, tNum), " / NULLIF(", g.expr(c, tInt4), ", 0))")
		case k == 9 && t == tInt4:
			return n(t, "(", g.expr(c, tDate), " - ", g.expr(c, tDate), ")")
		case k == 10 && t == tNum:
			return n(t, "EXTRACT(", []string{"year", "month", "day", "dow", "hour", "epoch"}[r.Intn(6)], " FROM ", g.expr(c, tTs), ")")
		case k == 10 && t == tInt4:
			return n(t, "position(", g.expr(c, tText), " IN ", g.expr(c, tText), ")")
		case k == 11 && t == tNum:
			return n(t, "trunc(", g.expr(c, t), ", ", fmt.Sprint(r.Intn(3)), ")")
		case k == 11 && t == tInt4:
			return n(t, "jsonb_array_length(", g.jsonArray(c), ")")
		}
	case tText:
		switch r.Intn(11) {
		case 0:
			return n(t, "(", g.expr(c, t), " || ", g.expr(c, t), ")")
		case 1:
			return n(t, []string{"upper(", "lower(", "btrim(", "md5("}[r.Intn(4)], g.expr(c, t), ")")
		case 2:
			return n(t, "substr(", g.expr(c, t), ", ", fmt.Sprint(r.Intn(4)), clause(", ", fmt.Sprint(r.Intn(4))), ")")
		case 3:
			return n(t, "replace(", g.expr(c, t), ", ", g.lit(tText), ", ", g.expr(c, t), ")")
		case 4:
			return n(t, []string{"left(", "right("}[r.Intn(2)], g.expr(c, t), ", ", fmt.Sprint(r.Intn(5)-1), ")")
		case 5:
			from := typ(1 + r.Intn(int(nTypes)-1))
			if from == tFloat {
				from = tInt8
			}
			return n(t, "CAST(", g.expr(c, from), " AS text)")
		case 6:
			return n(t, "(", g.expr(c, tJsonb), " ->> ", leaf(tText, []string{"'a'", "'b'", "'c'"}[r.Intn(3)]), ")")
		case 7:
			return n(t, "concat(", lst(", ", 1, g.expr(c, t), g.expr(c, tInt4), g.expr(c, t)), ")")
		case 8:
			return n(t, "lpad(", g.expr(c, t), ", ", fmt.Sprint(r.Intn(6)), ", 'xy')")
		case 9:
			return n(t, "to_char(", g.expr(c, tTs), ", 'YYYY-MM-DD HH24:MI')")
		case 10:
			return n(t, "jsonb_typeof(", g.expr(c, tJsonb), ")")
		}
	case tBool:
		return g.predicate(c)
	case tDate:
		switch r.Intn(3) {
		case 0:
			return n(t, "(", g.expr(c, t), []string{" + ", " - "}[r.Intn(2)], g.expr(c, tInt4), ")")
		case 1:
			return n(t, "CAST(", g.expr(c, tTs), " AS date)")
		default:
			return n(t, "make_date(2024, ", fmt.Sprint(1+r.Intn(12)), ", ", fmt.Sprint(1+r.Intn(28)), ")")
		}
	case tTs:
		switch r.Intn(4) {
		case 0:
			return n(t, "(", g.expr(c, t), []string{" + ", " - "}[r.Intn(2)], g.expr(c, tInterval), ")")
		case 1:
			return n(t, "(", g.expr(c, tDate), " + ", g.expr(c, tInterval), ")")
		case 2:
			return n(t, "date_trunc(", []string{"'day'", "'month'", "'hour'", "'week'"}[r.Intn(4)], ", ", g.expr(c, t), ")")
		default:
			return n(t, "CAST(", g.expr(c, tDate), " AS timestamp)")
		}
	case tInterval:
		switch r.Intn(5) {
		case 0:
			return n(t, "(", g.expr(c, t), []string{" + ", " - "}[r.Intn(2)], g.expr(c, t), ")")
		case 1:
			return n(t, "(", g.expr(c, t), " * ", g.expr(c, tInt4), ")")
		case 2:
			return n(t, "(", g.expr(c, tTs), " - ", g.expr(c, tTs), ")")
		case 3:
			return n(t, "(- ", g.expr(c, t), ")")
		default:
			return n(t, []string{"justify_hours(", "justify_days(", "justify_interval("}[r.Intn(3)], g.expr(c, t), ")")
		}
	case tJsonb:
		switch r.Intn(4) {
		case 0:
			return n(t, "(", g.expr(c, t), " -> ", leaf(tText, []string{"'a'", "'c'", "'d'"}[r.Intn(3)]), ")")
		case 1:
			return n(t, "jsonb_build_object('k', ", g.expr(c, []typ{tInt4, tText, tBool, tNum}[r.Intn(4)]), ", 'j', ", g.expr(c, t), ")")
		case 2:
			return n(t, "(", g.expr(c, t), " || ", g.expr(c, t), ")")
		default:
			return n(t, "to_jsonb(", g.expr(c, []typ{tInt4, tText, tBool, tNum, tDate}[r.Intn(5)]), ")")
		}
	}
	return nil
}

func (g *gen) jsonArray(c *ectx) *node {
	x := g.expr(c, tJsonb)
	return n(tJsonb, "CASE WHEN jsonb_typeof(", x, ") = 'array' THEN ", x, " END")
}

// comparable returns a random type for a comparison, favouring the
// types of columns in scope.
func (g *gen) comparable(c *ectx) typ {
	if c.sc != nil && len(c.sc.cols) > 0 && g.r.Intn(3) != 0 {
		return c.sc.cols[g.r.Intn(len(c.sc.cols))].t
	}
	return typ(1 + g.r.Intn(int(nTypes)-1))
}

func (g *gen) predicate(c *ectx) *node {
	r := g.r
	switch g.pick(5, 2, 2, 1, 1, 1, 1, 1, 3, 1) {
	case 0:
		t := g.comparable(c)
		ops := []string{" = ", " <> ", " < ", " <= ", " > ", " >= ", " IS DISTINCT FROM ", " IS NOT DISTINCT FROM "}
		if t == tJsonb || t == tBool {
			ops = []string{" = ", " <> ", " IS DISTINCT FROM "}
		}
		return n(tBool, "(", g.expr(c, t), ops[r.Intn(len(ops))], g.expr(c, t), ")")
	case 1:
		return n(tBool, "(", g.expr(c, tBool), []string{" AND ", " OR "}[r.Intn(2)], g.expr(c, tBool), ")")
	case 2:
		return n(tBool, "(", g.expr(c, g.comparable(c)), []string{" IS NULL", " IS NOT NULL"}[r.Intn(2)], ")")
	case 3:
		return n(tBool, "(NOT ", g.expr(c, tBool), ")")
	case 4:
		t := g.comparable(c)
		if !t.ordered() {
			t = tInt4
		}
		return n(tBool, "(", g.expr(c, t), " BETWEEN ", g.expr(c, t), " AND ", g.expr(c, t), ")")
	case 5:
		t := g.comparable(c)
		return n(tBool, "(", g.expr(c, t), []string{" IN (", " NOT IN ("}[r.Intn(2)], lst(", ", 1, g.expr(c, t), g.expr(c, t), g.expr(c, t)), "))")
	case 6:
		pat := []string{"'a%'", "'%b%'", "'_'", "'%c'", "'A%'"}[r.Intn(5)]
		return n(tBool, "(", g.expr(c, tText), []string{" LIKE ", " NOT LIKE ", " ILIKE "}[r.Intn(3)], leaf(tText, pat), ")")
	case 7:
		if r.Intn(2) == 0 {
			return n(tBool, "(", g.expr(c, tJsonb), " @> ", g.lit(tJsonb), ")")
		}
		return n(tBool, "(", g.expr(c, tJsonb), " ? ", leaf(tText, []string{"'a'", "'b'", "'c'"}[r.Intn(3)]), ")")
	case 8:
		if c.depth <= 2 && c.sc != nil && !c.agg && g.on("subquery") {
			return g.subqueryPredicate(c)
		}
	}
	if col := g.column(c, tBool); col != nil {
		return col
	}
	return n(tBool, "(", g.expr(c, tInt4), " > ", g.lit(tInt4), ")")
}

// aggregate returns an aggregate call of result type t, or nil when no
// aggregate has that type.
func (g *gen) aggregate(c *ectx, t typ) *node {
	r := g.r
	a := c.rowCtx()
	var call *node
	distinct := func() any {
		if r.Intn(5) == 0 && g.on("agg-distinct") {
			return clause("DISTINCT ")
		}
		return ""
	}
	switch t {
	case tInt8:
		if r.Intn(2) == 0 {
			call = n(t, "count(*)")
		} else {
			call = n(t, "count(", distinct(), g.expr(a, g.comparable(a)), ")")
		}
		if r.Intn(3) == 0 {
			call = n(t, "sum(", distinct(), g.expr(a, []typ{tInt2, tInt4}[r.Intn(2)]), ")")
		}
	case tNum:
		switch r.Intn(3) {
		case 0:
			call = n(t, "sum(", distinct(), g.expr(a, []typ{tNum, tInt8}[r.Intn(2)]), ")")
		case 1:
			call = n(t, "avg(", distinct(), g.expr(a, []typ{tNum, tInt2, tInt4, tInt8}[r.Intn(4)]), ")")
		default:
			call = n(t, []string{"min(", "max("}[r.Intn(2)], g.expr(a, t), ")")
		}
	case tFloat:
		call = n(t, []string{"sum(", "min(", "max("}[r.Intn(3)], distinct(), g.expr(a, t), ")")
	case tInterval:
		call = n(t, []string{"sum(", "avg(", "min(", "max("}[r.Intn(4)], g.expr(a, t), ")")
	case tText:
		switch r.Intn(3) {
		case 0:
			// array_agg keeps NULLs (as elements, and FILTER must not
			// add any): its text shows them.
			x := g.expr(a, []typ{tInt4, tText}[r.Intn(2)])
			call = n(t, "CAST(array_agg(", x, " ORDER BY ", x, clause(" DESC"), ") AS text)")
		case 1:
			x := g.expr(a, t)
			if r.Intn(4) == 0 && g.on("agg-distinct") {
				call = n(t, "string_agg(DISTINCT ", x, ", ',' ORDER BY ", x, ")")
			} else {
				call = n(t, "string_agg(", x, ", ',' ORDER BY ", x, clause(" DESC"), ")")
			}
		default:
			call = n(t, []string{"min(", "max("}[r.Intn(2)], g.expr(a, t), ")")
		}
	case tBool:
		call = n(t, []string{"bool_and(", "bool_or(", "every("}[r.Intn(3)], g.expr(a, t), ")")
	case tJsonb:
		x := g.expr(a, []typ{tInt4, tText}[r.Intn(2)])
		call = n(t, "jsonb_agg(", x, " ORDER BY ", x, ")")
	case tInt2, tInt4, tDate, tTs:
		call = n(t, []string{"min(", "max("}[r.Intn(2)], g.expr(a, t), ")")
	default:
		return nil
	}
	if r.Intn(4) == 0 && g.on("filter") {
		call = n(t, call, clause(" FILTER (WHERE ", g.expr(a, tBool), ")"))
	}
	return call
}

// orderAll returns an ORDER BY list of every column of sc, each with a
// random direction and NULLS placement: a total order of the rows up to
// rows that are equal in every column (which are interchangeable).
func (g *gen) orderAll(sc *scope, first ...*node) *node {
	var items []*node
	for _, f := range first {
		items = append(items, n(tNone, f, g.direction()))
	}
	for _, col := range sc.cols {
		items = append(items, n(tNone, col.ref(), g.direction()))
	}
	return lst(", ", len(items), items...)
}

func (g *gen) direction() string {
	return []string{"", " DESC", " NULLS FIRST", " DESC NULLS LAST"}[g.r.Intn(4)]
}

// window returns a window function call of type t, or nil. Functions
// that depend on the order of peers (row_number, lag, lead, first_value,
// ROWS frames) order by every column of the FROM clause after the
// chosen keys, so that the result is deterministic.
func (g *gen) window(c *ectx, t typ) *node {
	r := g.r
	a := c.rowCtx()
	var parts []any
	if r.Intn(2) == 0 {
		p := c.sc.cols[r.Intn(len(c.sc.cols))]
		parts = append(parts, clause("PARTITION BY ", p.ref(), " "))
	}
	key := g.expr(a, []typ{tInt4, tNum, tDate, tText}[r.Intn(4)])
	total := func() *node { return n(tNone, "ORDER BY ", g.orderAll(c.sc, key)) }
	peers := func() *node { return n(tNone, "ORDER BY ", key, g.direction()) }
	over := func(order *node, frame string) *node {
		ps := append(append([]any{}, parts...), order, frame)
		return n(tNone, " OVER (", n(tNone, ps...), ")")
	}
	// filter is an aggregate's optional FILTER clause.
	filter := func() any {
		if r.Intn(4) == 0 && g.on("filter") {
			return clause(" FILTER (WHERE ", g.expr(a, tBool), ")")
		}
		return ""
	}
	switch t {
	case tInt8:
		switch r.Intn(4) {
		case 0:
			return n(t, "row_number()", over(total(), ""))
		case 1:
			return n(t, []string{"rank()", "dense_rank()"}[r.Intn(2)], over(peers(), ""))
		case 2:
			return n(t, "count(*)", filter(), over(peers(), ""))
		default:
			return n(t, "sum(", g.expr(a, tInt4), ")", filter(), over(total(), g.frame(true)))
		}
	case tFloat:
		return n(t, []string{"percent_rank()", "cume_dist()"}[r.Intn(2)], over(peers(), g.frame(false)))
	case tBool:
		// A comparison of percent_rank or cume_dist (float8: exact
		// fractions of the partition's size) with a half.
		return n(t, "(", []string{"percent_rank()", "cume_dist()"}[r.Intn(2)], over(peers(), ""), []string{" > ", " <= "}[r.Intn(2)], leaf(tFloat, "0.5"), ")")
	case tInt4, tText, tDate, tNum, tTs:
		switch r.Intn(4) {
		case 0:
			fn := []string{"lag(", "lead("}[r.Intn(2)]
			x := g.expr(a, t)
			if r.Intn(2) == 0 {
				return n(t, fn, x, ", ", fmt.Sprint(1+r.Intn(2)), ", ", g.lit(t), ")", over(total(), ""))
			}
			return n(t, fn, x, ")", over(total(), ""))
		case 1:
			return n(t, []string{"first_value(", "last_value("}[r.Intn(2)], g.expr(a, t), ")", over(total(), g.frame(true)))
		case 2:
			if t == tNum && g.on("range-offset") {
				// RANGE with an offset: one numeric ORDER BY key.
				k := g.expr(a, tNum)
				return n(t, "sum(", g.expr(a, tNum), ")", over(n(tNone, "ORDER BY ", k, g.direction()), fmt.Sprintf(" RANGE BETWEEN %d.5 PRECEDING AND %d FOLLOWING", r.Intn(3), r.Intn(3))))
			}
			return n(t, []string{"min(", "max("}[r.Intn(2)], g.expr(a, t), ")", filter(), over(peers(), g.frame(false)))
		default:
			return n(t, []string{"min(", "max("}[r.Intn(2)], g.expr(a, t), ")", over(n(tNone, ""), ""))
		}
	}
	return nil
}

// frame returns a window frame clause (or ""); ROWS only when rows
// says the ORDER BY is total.
func (g *gen) frame(rows bool) string {
	r := g.r
	bound := func() string {
		return []string{"UNBOUNDED PRECEDING", "CURRENT ROW", "UNBOUNDED FOLLOWING", fmt.Sprintf("%d PRECEDING", r.Intn(3)), fmt.Sprintf("%d FOLLOWING", r.Intn(3))}[r.Intn(5)]
	}
	switch r.Intn(4) {
	case 0:
		return ""
	case 1:
		return " RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW"
	case 2:
		if rows {
			return " ROWS BETWEEN " + bound() + " AND " + bound()
		}
		return " RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING"
	default:
		if rows {
			return " ROWS " + []string{"UNBOUNDED PRECEDING", "CURRENT ROW", "2 PRECEDING"}[r.Intn(3)]
		}
		return " GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW"
	}
}

// newAlias returns a table alias unique within the query.
func (g *gen) newAlias() string {
	g.alias++
	return fmt.Sprintf("a%d", g.alias)
}

// baseTable returns a FROM item over a random table and its columns.
func (g *gen) baseTable() (*node, []scopeCol) {
	tb := g.tables[g.r.Intn(len(g.tables))]
	al := g.newAlias()
	var cols []scopeCol
	for _, c := range tb.cols {
		cols = append(cols, scopeCol{qual: al, name: c.name, t: c.t})
	}
	return n(tNone, tb.name, " ", al), cols
}

// fromItem returns a base table or (sometimes) a derived table.
func (g *gen) fromItem(outer *scope, depth int) (*node, []scopeCol) {
	if depth < 2 && g.r.Intn(5) == 0 && g.on("derived") {
		q, types := g.selectQuery(&scope{outer: nil}, depth+1, nil, false)
		al := g.newAlias()
		var cols []scopeCol
		for i, t := range types {
			cols = append(cols, scopeCol{qual: al, name: fmt.Sprintf("c%d", i), t: t})
		}
		return n(tNone, "(", q, ") ", al), cols
	}
	return g.baseTable()
}

// from returns a FROM clause of one to three items joined in random
// ways, and its scope.
func (g *gen) from(outer *scope, depth int) (*node, *scope) {
	item, cols := g.fromItem(outer, depth)
	sc := &scope{cols: cols, outer: outer}
	parts := []any{item}
	for range g.r.Intn(3) {
		if depth > 0 && g.r.Intn(2) == 0 {
			break
		}
		kind := g.pick(4, 3, 1, 1, 1, 2)
		if kind == 5 && !g.on("lateral") {
			kind = 0
		}
		if kind == 5 {
			// LATERAL: a subquery that references the items to its left.
			left := &scope{cols: sc.cols, outer: outer}
			q, types := g.selectQuery(left, depth+1, nil, true)
			al := g.newAlias()
			var lcols []scopeCol
			for i, t := range types {
				lcols = append(lcols, scopeCol{qual: al, name: fmt.Sprintf("c%d", i), t: t})
			}
			sc.cols = append(sc.cols, lcols...)
			if g.r.Intn(2) == 0 {
				parts = append(parts, clause(" CROSS JOIN LATERAL (", q, ") ", al))
			} else {
				parts = append(parts, clause(" LEFT JOIN LATERAL (", q, ") ", al, " ON ", g.expr(&ectx{sc: sc, depth: 2}, tBool)))
			}
			continue
		}
		right, rcols := g.fromItem(outer, depth)
		leftCols := sc.cols
		sc.cols = append(append([]scopeCol{}, sc.cols...), rcols...)
		if kind == 4 {
			parts = append(parts, clause(" CROSS JOIN ", right))
			continue
		}
		on := g.equiJoin(leftCols, rcols)
		if kind != 3 && g.r.Intn(2) == 0 {
			on = n(tBool, "(", on, " AND ", g.expr(&ectx{sc: sc, depth: 2}, tBool), ")")
		}
		if kind == 0 && g.r.Intn(4) == 0 {
			on = g.expr(&ectx{sc: sc, depth: 1}, tBool)
		}
		kw := []string{" JOIN ", " LEFT JOIN ", " RIGHT JOIN ", " FULL JOIN "}[kind]
		parts = append(parts, clause(kw, right, " ON ", on))
	}
	return n(tNone, parts...), sc
}

// equiJoin returns an equality between a left and a right column of one
// type (FULL JOIN needs a hashable condition).
func (g *gen) equiJoin(left, right []scopeCol) *node {
	for range 6 {
		l := left[g.r.Intn(len(left))]
		var same []scopeCol
		for _, rc := range right {
			if rc.t == l.t {
				same = append(same, rc)
			}
		}
		if len(same) > 0 {
			rc := same[g.r.Intn(len(same))]
			return n(tBool, l.ref(), " = ", rc.ref())
		}
	}
	return n(tBool, left[0].ref(), " = ", right[0].ref())
}

// randomTypes returns 1 to 4 result types.
func (g *gen) randomTypes() []typ {
	var out []typ
	for range 1 + g.r.Intn(4) {
		out = append(out, typ(1+g.r.Intn(int(nTypes)-1)))
	}
	return out
}

// selectQuery returns a SELECT over outer (for correlation), with result
// types want (random when nil), and its result types. Columns are named
// c0, c1, ...; lateral says the query is a LATERAL subquery.
func (g *gen) selectQuery(outer *scope, depth int, want []typ, lateral bool) (*node, []typ) {
	r := g.r
	from, sc := g.from(outer, depth)
	if want == nil {
		want = g.randomTypes()
	}
	var where, groupBy, having any = "", "", ""
	if r.Intn(3) != 0 || lateral {
		where = clause(" WHERE ", g.expr(&ectx{sc: sc}, tBool))
	}
	ctx := &ectx{sc: sc, win: depth == 0 && r.Intn(3) == 0}
	if r.Intn(3) == 0 {
		ctx = &ectx{sc: sc, agg: true}
		if r.Intn(4) != 0 {
			for range 1 + r.Intn(2) {
				ctx.group = append(ctx.group, sc.cols[r.Intn(len(sc.cols))])
			}
			var items []*node
			for _, gc := range ctx.group {
				items = append(items, leaf(gc.t, gc.ref()))
			}
			groupBy = clause(" GROUP BY ", lst(", ", 1, items...))
			if r.Intn(3) == 0 {
				having = clause(" HAVING ", g.expr(ctx, tBool))
			}
		}
	}
	var items []*node
	for i, t := range want {
		it := n(tNone, g.expr(ctx, t), fmt.Sprintf(" AS c%d", i))
		it.drop = true
		items = append(items, it)
	}
	var distinct any = ""
	if r.Intn(6) == 0 && g.on("distinct") {
		distinct = clause("DISTINCT ")
	}
	q := n(tNone, "SELECT ", distinct, lst(", ", 1, items...), " FROM ", from, where, groupBy, having)
	if depth > 0 && r.Intn(4) == 0 && g.on("limit") {
		q = n(tNone, q, " ORDER BY ", orderByPositions(g, len(want)), fmt.Sprintf(" LIMIT %d", r.Intn(4)))
		q.unwrap = []int{0}
	}
	return q, want
}

// orderByPositions orders by every output column (1, 2, ...): with
// LIMIT, a deterministic choice of rows, as rows equal in every column
// are interchangeable.
func orderByPositions(g *gen, k int) *node {
	var items []*node
	for i := range k {
		items = append(items, n(tNone, fmt.Sprint(i+1), g.direction()))
	}
	return lst(", ", k, items...)
}

// query returns a top-level query: a SELECT or a set operation of two,
// sometimes ordered and limited.
func (g *gen) query() *node {
	r := g.r
	g.alias = 0
	q, types := g.selectQuery(nil, 0, nil, false)
	if r.Intn(5) == 0 && g.on("setop") {
		q2, _ := g.selectQuery(nil, 1, types, false)
		op := []string{" UNION ", " UNION ALL ", " INTERSECT ", " INTERSECT ALL ", " EXCEPT ", " EXCEPT ALL "}[r.Intn(6)]
		q = n(tNone, "(", q, ")", op, "(", q2, ")")
		q.unwrap = []int{1, 5}
	}
	if r.Intn(4) == 0 && g.on("limit") {
		q = n(tNone, q, " ORDER BY ", orderByPositions(g, len(types)), clause(fmt.Sprintf(" LIMIT %d", r.Intn(6))), clause(fmt.Sprintf(" OFFSET %d", r.Intn(3))))
		q.unwrap = []int{0}
	}
	return q
}

// subqueryPredicate returns EXISTS, NOT EXISTS, IN or NOT IN over a
// subquery that may reference c's columns.
func (g *gen) subqueryPredicate(c *ectx) *node {
	r := g.r
	from, sc := g.from(c.sc, 1)
	sc.outer = c.sc
	var where any = ""
	if r.Intn(5) != 0 {
		where = clause(" WHERE ", g.expr(&ectx{sc: sc, depth: 1}, tBool))
	}
	if r.Intn(2) == 0 {
		kw := []string{"EXISTS (", "NOT EXISTS ("}[r.Intn(2)]
		return n(tBool, "(", kw, "SELECT 1 FROM ", from, where, "))")
	}
	t := g.comparable(c)
	inner := g.expr(&ectx{sc: sc, depth: 2}, t)
	kw := []string{" IN (", " NOT IN ("}[r.Intn(2)]
	return n(tBool, "(", g.expr(c.deeper(), t), kw, "SELECT ", inner, " FROM ", from, where, "))")
}

// scalarSubquery returns a subquery of at most one row and type t: an
// aggregate, or a row picked by LIMIT 1 in a total order.
func (g *gen) scalarSubquery(c *ectx, t typ) *node {
	from, sc := g.from(c.sc, 1)
	sc.outer = c.sc
	var where any = ""
	if g.r.Intn(5) != 0 {
		where = clause(" WHERE ", g.expr(&ectx{sc: sc, depth: 2}, tBool))
	}
	reads := &levelReads{}
	actx := &ectx{sc: sc, agg: true, depth: 2, reads: reads}
	if a := g.aggregate(actx, t); a != nil && g.r.Intn(3) != 0 {
		if reads.outer && !reads.own && !g.on("outer-agg-rows") {
			// Reading only the enclosing query's columns, the
			// aggregate is that query's, and the subquery has a row
			// per row of its FROM: LIMIT 1 keeps one.
			return n(t, "(SELECT ", a, " FROM ", from, where, " LIMIT 1)")
		}
		return n(t, "(SELECT ", a, " FROM ", from, where, ")")
	}
	x := g.expr(&ectx{sc: sc, depth: 2}, t)
	if !g.on("limit") {
		// Every column of the FROM clause orders the rows totally.
		return n(t, "(SELECT ", x, " FROM ", from, where, " ORDER BY ", g.orderAll(sc), " LIMIT 1)")
	}
	return n(t, "(SELECT ", x, " FROM ", from, where, " ORDER BY 1", g.direction(), ", ", g.orderAll(sc), " LIMIT 1)")
}
