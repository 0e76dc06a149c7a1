package sql

import (
	"errors"
	"strconv"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql/parse"
)

// Finishing is what the coordinator applies to the rows of a top-level
// SELECT when it reads them: sort by Order, skip Offset rows, keep Limit
// rows (Limit < 0: all), then keep the columns Project. Order refers to
// columns of the planned relation, which may include hidden columns that
// Project drops.
type Finishing struct {
	Order   []plan.ColumnOrder
	Limit   int64
	Offset  int64
	Project []int
}

// IsTrivial reports whether the finishing changes nothing.
func (f Finishing) IsTrivial(arity int) bool {
	if len(f.Order) > 0 || f.Limit >= 0 || f.Offset > 0 || len(f.Project) != arity {
		return false
	}
	for i, p := range f.Project {
		if p != i {
			return false
		}
	}
	return true
}

// queryResult is a planned query: its relation (possibly with hidden
// columns), output names, and the ordering/limit to apply.
type queryResult struct {
	rel    HRel
	names  []string
	finish Finishing
	// origins are the visible columns' origins (as names), nil when
	// none is known.
	origins []repr.ColumnOrigin
}

// planSubquery plans a query used as a subquery or FROM item: ORDER BY and
// LIMIT become a TopK and hidden columns are projected away.
func (q *qctx) planSubquery(outer *scope, n *pg_query.Node) (HRel, []string, error) {
	sel := n.GetSelectStmt()
	if sel == nil {
		return nil, nil, pgcode.New(pgcode.FeatureNotSupported, "subquery %s is not supported", nodeTypeName(n))
	}
	r, err := q.planQuery(outer, sel, nil)
	if err != nil {
		return nil, nil, err
	}
	return r.applyFinishing(), r.names, nil
}

// applyFinishing turns the finishing into TopK and Project.
func (r *queryResult) applyFinishing() HRel {
	rel := r.rel
	f := r.finish
	// ORDER BY without LIMIT/OFFSET does not change a collection.
	if f.Limit >= 0 || f.Offset > 0 {
		rel = HTopK{Input: rel, Order: f.Order, Limit: f.Limit, Offset: f.Offset}
	}
	if len(f.Project) != len(rel.Cols()) || !isIdentity(f.Project) {
		rel = HProject{Input: rel, Outputs: f.Project}
	}
	return rel
}

func isIdentity(p []int) bool {
	for i, c := range p {
		if c != i {
			return false
		}
	}
	return true
}

func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// planQuery plans a SELECT statement (including set operations and
// VALUES) with outer as the enclosing scope and ctes visible.
func (q *qctx) planQuery(outer *scope, s *pg_query.SelectStmt, ctes []*cte) (*queryResult, error) {
	if err := q.enterQuery(); err != nil {
		return nil, err
	}
	defer q.leaveQuery()
	return q.planQueryLevel(outer, s, ctes)
}

// planQueryLevel is planQuery without counting a level of query nesting:
// the arms of a set operation are siblings, however the grammar nests
// them (a chain of UNIONs is left-deep); maxSetOpDepth bounds them.
func (q *qctx) planQueryLevel(outer *scope, s *pg_query.SelectStmt, ctes []*cte) (*queryResult, error) {
	if s.WithClause != nil {
		var err error
		if ctes, err = q.planCTEs(outer, s.WithClause, ctes); err != nil {
			return nil, err
		}
		if len(ctes) > 0 && ctes[len(ctes)-1].recursive {
			return q.planRecursiveBody(outer, s, ctes)
		}
	}
	if len(s.LockingClause) > 0 {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "SELECT ... FOR UPDATE/SHARE is not supported")
	}
	if s.IntoClause != nil {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "SELECT ... INTO is not supported")
	}
	var r *queryResult
	var err error
	switch {
	case s.Op != pg_query.SetOperation_SETOP_NONE:
		r, err = q.planSetOp(outer, s, ctes)
	case len(s.ValuesLists) > 0:
		r, err = q.planValues(outer, s, ctes)
	default:
		return q.planSelect(outer, s, ctes)
	}
	if err != nil {
		return nil, err
	}
	// ORDER BY / LIMIT over a set operation or VALUES: output columns only.
	if err := q.orderOutputs(outer, r, s, ctes); err != nil {
		return nil, err
	}
	return r, nil
}

// orderOutputs plans ORDER BY/LIMIT/OFFSET that may only name output
// columns (by name or ordinal).
func (q *qctx) orderOutputs(outer *scope, r *queryResult, s *pg_query.SelectStmt, ctes []*cte) error {
	sc := &scope{outer: outer, ctes: ctes}
	for i, n := range r.names {
		sc.cols = append(sc.cols, scopeCol{name: n, typ: r.rel.Cols()[i]})
	}
	for _, o := range s.SortClause {
		sb := o.GetSortBy()
		idx := -1
		if c := sb.Node.GetAConst(); c != nil && c.GetIval() != nil {
			k := int(c.GetIval().Ival)
			if k < 1 || k > len(r.names) {
				return q.errAt(pgcode.New(pgcode.InvalidColumnReference, "ORDER BY position %d is not in select list", k), c.Location)
			}
			idx = k - 1
		} else {
			e := &ectx{q: q, sc: sc, clause: "ORDER BY"}
			h, err := e.plan(sb.Node)
			if err != nil {
				return err
			}
			c, ok := h.(HColumn)
			if !ok || c.Level != 0 {
				return q.errAt(pgcode.New(pgcode.FeatureNotSupported, "invalid UNION/INTERSECT/EXCEPT ORDER BY clause").
					WithDetail("Only result column names can be used, not expressions or functions."), nodeLocation(sb.Node))
			}
			idx = c.Index
		}
		r.finish.Order = append(r.finish.Order, plan.ColumnOrder{Column: idx, Order: sortOrder(sb)})
	}
	return q.limitOffset(r, s)
}

// limitOffset plans LIMIT and OFFSET, which must be constants.
func (q *qctx) limitOffset(r *queryResult, s *pg_query.SelectStmt) error {
	r.finish.Limit = -1
	if s.LimitOption == pg_query.LimitOption_LIMIT_OPTION_WITH_TIES {
		return pgcode.New(pgcode.FeatureNotSupported, "FETCH ... WITH TIES is not supported")
	}
	if s.LimitCount != nil {
		v, null, err := q.constInt(s.LimitCount, "LIMIT")
		if err != nil {
			return err
		}
		if !null {
			if v < 0 {
				return pgcode.New(pgcode.InvalidRowCountInLimit, "LIMIT must not be negative")
			}
			r.finish.Limit = v
		}
	}
	if s.LimitOffset != nil {
		v, null, err := q.constInt(s.LimitOffset, "OFFSET")
		if err != nil {
			return err
		}
		if !null {
			if v < 0 {
				return pgcode.New(pgcode.InvalidRowCountInResultOffset, "OFFSET must not be negative")
			}
			r.finish.Offset = v
		}
	}
	return nil
}

// constInt evaluates a constant integer expression (LIMIT, OFFSET).
func (q *qctx) constInt(n *pg_query.Node, clause string) (int64, bool, error) {
	e := &ectx{q: q, sc: &scope{}, clause: clause}
	h, err := e.plan(n)
	if err != nil {
		return 0, false, err
	}
	typ := h.Typ().Type
	if h, err = q.coerce(h, repr.TypeInt8, expr.Assignment, ""); err != nil {
		var pe *pgcode.Error
		if errors.As(err, &pe) && pe.Code != pgcode.DatatypeMismatch {
			// An unknown literal that is not a bigint ('a'): 22P02 as
			// PostgreSQL reports it, not a type mismatch.
			return 0, false, q.errAt(err, nodeLocation(n))
		}
		return 0, false, q.errAt(pgcode.New(pgcode.DatatypeMismatch, "argument of %s must be type bigint, not type %s", clause, typ), nodeLocation(n))
	}
	if hasSubquery([]HScalar{h}) {
		return 0, false, q.errAt(pgcode.New(pgcode.FeatureNotSupported, "%s must be a constant", clause), nodeLocation(n))
	}
	if _, isParam := h.(HParam); isParam && q.params == nil {
		// Describing a statement with LIMIT $n: the value comes later.
		return 0, true, nil
	}
	s, err := (&lowerer{q: q, params: q.params}).lowerPlainScalar(h, 0, colMap{})
	if err != nil {
		return 0, false, q.errAt(pgcode.New(pgcode.FeatureNotSupported, "%s must be a constant", clause), nodeLocation(n))
	}
	d, err := expr.Eval(&expr.EvalCtx{}, s, nil)
	if err != nil {
		return 0, false, err
	}
	if d.IsNull() {
		return 0, true, nil
	}
	return d.Int(), false, nil
}

// planValues plans VALUES (...), (...): each column unified to a common
// type; constant rows become a Constant.
func (q *qctx) planValues(outer *scope, s *pg_query.SelectStmt, ctes []*cte) (*queryResult, error) {
	sc := &scope{outer: outer, ctes: ctes}
	e := &ectx{q: q, sc: sc, clause: "VALUES"}
	var rows [][]HScalar
	for _, l := range s.ValuesLists {
		items := l.GetList().GetItems()
		row, err := e.planAll(items)
		if err != nil {
			return nil, err
		}
		if len(rows) > 0 && len(row) != len(rows[0]) {
			return nil, q.errAt(pgcode.New(pgcode.SyntaxError, "VALUES lists must all be the same length"), nodeLocation(items[0]))
		}
		rows = append(rows, row)
	}
	arity := len(rows[0])
	names := make([]string, arity)
	for c := 0; c < arity; c++ {
		names[c] = "column" + strconv.Itoa(c+1)
		col := make([]HScalar, len(rows))
		for i := range rows {
			col[i] = rows[i][c]
		}
		unified, _, err := q.unify(col, "VALUES")
		if err != nil {
			return nil, err
		}
		for i := range rows {
			rows[i][c] = unified[i]
		}
	}
	return &queryResult{rel: valuesRel(rows), names: names, finish: Finishing{Limit: -1, Project: identity(arity)}}, nil
}

// valuesRel builds a Constant when every value is a literal, else a union
// of one-row maps.
func valuesRel(rows [][]HScalar) HRel {
	arity := len(rows[0])
	types := make([]repr.ColumnType, arity)
	for c := range types {
		types[c] = rows[0][c].Typ()
		for _, r := range rows[1:] {
			if r[c].Typ().Nullable {
				types[c].Nullable = true
			}
		}
	}
	allLit := true
	var data [][]repr.Datum
	for _, r := range rows {
		var dr []repr.Datum
		for _, v := range r {
			l, ok := v.(HLiteral)
			if !ok {
				allLit = false
				break
			}
			dr = append(dr, l.Value)
		}
		data = append(data, dr)
	}
	if allLit {
		return HConstant{Rows: data, Typ: types}
	}
	var ins []HRel
	for _, r := range rows {
		ins = append(ins, HMap{Input: unitRel(), Scalars: r})
	}
	if len(ins) == 1 {
		return ins[0]
	}
	return HUnion{Inputs: ins}
}

func unitRel() HConstant { return HConstant{Rows: [][]repr.Datum{{}}} }

// planSetOp plans UNION / INTERSECT / EXCEPT [ALL].
func (q *qctx) planSetOp(outer *scope, s *pg_query.SelectStmt, ctes []*cte) (*queryResult, error) {
	q.setOpDepth++
	defer func() { q.setOpDepth-- }()
	if q.setOpDepth > maxSetOpDepth {
		return nil, parse.ErrTooComplex()
	}
	l, err := q.planQueryLevel(outer, s.Larg, ctes)
	if err != nil {
		return nil, err
	}
	r, err := q.planQueryLevel(outer, s.Rarg, ctes)
	if err != nil {
		return nil, err
	}
	lrel, rrel := l.applyFinishing(), r.applyFinishing()
	opName := map[pg_query.SetOperation]string{pg_query.SetOperation_SETOP_UNION: "UNION", pg_query.SetOperation_SETOP_INTERSECT: "INTERSECT", pg_query.SetOperation_SETOP_EXCEPT: "EXCEPT"}[s.Op]
	lc, rc := lrel.Cols(), rrel.Cols()
	if len(lc) != len(rc) {
		return nil, pgcode.New(pgcode.SyntaxError, "each %s query must have the same number of columns", opName)
	}
	if lrel, rrel, err = q.unifyRels(lrel, rrel, opName); err != nil {
		return nil, err
	}
	var rel HRel
	switch s.Op {
	case pg_query.SetOperation_SETOP_UNION:
		rel = HUnion{Inputs: []HRel{lrel, rrel}}
		if !s.All {
			rel = HDistinct{Input: rel}
		}
	case pg_query.SetOperation_SETOP_EXCEPT:
		if !s.All {
			lrel, rrel = HDistinct{Input: lrel}, HDistinct{Input: rrel}
		}
		rel = HThreshold{Input: HUnion{Inputs: []HRel{lrel, HNegate{Input: rrel}}}}
	case pg_query.SetOperation_SETOP_INTERSECT:
		if !s.All {
			lrel, rrel = HDistinct{Input: lrel}, HDistinct{Input: rrel}
		}
		// min(m, n) = m - max(m - n, 0).
		rel = HUnion{Inputs: []HRel{lrel, HNegate{Input: HThreshold{Input: HUnion{Inputs: []HRel{lrel, HNegate{Input: rrel}}}}}}}
	}
	return &queryResult{rel: rel, names: l.names, finish: Finishing{Limit: -1, Project: identity(len(lc))}}, nil
}

// unifyRels casts the columns of two relations to common types.
func (q *qctx) unifyRels(l, r HRel, context string) (HRel, HRel, error) {
	lc, rc := l.Cols(), r.Cols()
	var lm, rm []HScalar
	changed := false
	for i := range lc {
		unified, _, err := q.unify([]HScalar{HColumn{Index: i, Type: lc[i]}, HColumn{Index: i, Type: rc[i]}}, context)
		if err != nil {
			return nil, nil, err
		}
		lm, rm = append(lm, unified[0]), append(rm, unified[1])
		if _, ok := unified[0].(HColumn); !ok {
			changed = true
		}
		if _, ok := unified[1].(HColumn); !ok {
			changed = true
		}
	}
	if !changed {
		return l, r, nil
	}
	wrap := func(rel HRel, m []HScalar) HRel {
		n := len(rel.Cols())
		return HProject{Input: HMap{Input: rel, Scalars: m}, Outputs: rangeFrom(n, len(m))}
	}
	return wrap(l, lm), wrap(r, rm), nil
}

func rangeFrom(start, n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = start + i
	}
	return p
}

// planCTEs plans the WITH list; CTEs are inlined at each reference.
func (q *qctx) planCTEs(outer *scope, w *pg_query.WithClause, ctes []*cte) ([]*cte, error) {
	out := append([]*cte(nil), ctes...)
	for _, n := range w.Ctes {
		c := n.GetCommonTableExpr()
		for _, prev := range out[len(ctes):] {
			if prev.name == c.Ctename {
				return nil, q.errAt(pgcode.New("42712", "WITH query name %q specified more than once", c.Ctename), c.Location)
			}
		}
		var cols []string
		for _, a := range c.Aliascolnames {
			cols = append(cols, a.GetString_().GetSval())
		}
		sel := c.Ctequery.GetSelectStmt()
		if sel == nil {
			return nil, q.errAt(pgcode.New(pgcode.FeatureNotSupported, "data-modifying statements in WITH are not supported"), c.Location)
		}
		if w.Recursive && selfReferences(sel, c.Ctename) {
			if len(w.Ctes) != 1 || outer != nil {
				return nil, q.errAt(pgcode.New(pgcode.FeatureNotSupported, "WITH RECURSIVE is supported only with one recursive query at the top level"), c.Location)
			}
			d, err := q.planRecursiveCTE(outer, c, sel, cols, out)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
			continue
		}
		r, err := q.planQuery(outer, sel, out)
		if err != nil {
			return nil, err
		}
		names, err := q.cteColumnNames(c, r.names, cols)
		if err != nil {
			return nil, err
		}
		rel := r.applyFinishing()
		out = append(out, &cte{name: c.Ctename, cols: names, rel: rel, typ: rel.Cols(), owner: outer})
	}
	return out, nil
}

// cteColumnNames applies a WITH query's column list to the names of its
// query's columns: it may rename a prefix of them, not name more (42P10).
func (q *qctx) cteColumnNames(c *pg_query.CommonTableExpr, names, cols []string) ([]string, error) {
	if len(cols) == 0 {
		return names, nil
	}
	if len(cols) > len(names) {
		return nil, q.errAt(pgcode.New(pgcode.InvalidColumnReference, "WITH query %q has %d columns available but %d columns specified", c.Ctename, len(names), len(cols)), c.Location)
	}
	return append(append([]string(nil), cols...), names[len(cols):]...), nil
}

// selfReferences reports whether the query mentions name as a relation.
func selfReferences(s *pg_query.SelectStmt, name string) bool {
	found := false
	walkNodes(&pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: s}}, func(n *pg_query.Node) bool {
		if rv := n.GetRangeVar(); rv != nil && rv.Schemaname == "" && rv.Relname == name {
			found = true
		}
		return !found
	})
	return found
}

// planRecursiveCTE plans "base UNION [ALL] recursive" as a LetRec
// binding: the binding's type is the base term's.
func (q *qctx) planRecursiveCTE(outer *scope, c *pg_query.CommonTableExpr, sel *pg_query.SelectStmt, cols []string, ctes []*cte) (*cte, error) {
	if sel.Op != pg_query.SetOperation_SETOP_UNION {
		return nil, q.errAt(pgcode.New(pgcode.InvalidRecursion, "recursive query %q does not have the form non-recursive-term UNION [ALL] recursive-term", c.Ctename), c.Location)
	}
	if err := q.checkWellFormedRecursion(sel, c.Ctename); err != nil {
		return nil, err
	}
	base, err := q.planQuery(outer, sel.Larg, ctes)
	if err != nil {
		return nil, err
	}
	baseRel := base.applyFinishing()
	names, err := q.cteColumnNames(c, base.names, cols)
	if err != nil {
		return nil, err
	}
	q.nextLocal++
	d := &cte{name: c.Ctename, cols: names, local: q.nextLocal, typ: baseRel.Cols(), recursive: true}
	for i := range d.typ {
		d.typ[i].Nullable = true
	}
	rec, err := q.planQuery(outer, sel.Rarg, append(append([]*cte(nil), ctes...), d))
	if err != nil {
		return nil, err
	}
	recRel := rec.applyFinishing()
	if len(recRel.Cols()) != len(d.typ) {
		return nil, pgcode.New(pgcode.SyntaxError, "each UNION query must have the same number of columns")
	}
	// Cast the recursive term to the base term's types.
	var m []HScalar
	for i, t := range recRel.Cols() {
		s, err := q.coerce(HColumn{Index: i, Type: t}, d.typ[i].Type, expr.Assignment, "")
		if err != nil {
			return nil, q.errAt(pgcode.New(pgcode.DatatypeMismatch, "recursive query %q column %d has type %s in non-recursive term but type %s overall", c.Ctename, i+1, d.typ[i].Type, t.Type), c.Location)
		}
		m = append(m, s)
	}
	recRel = HProject{Input: HMap{Input: recRel, Scalars: m}, Outputs: rangeFrom(len(m), len(m))}
	var value HRel = HUnion{Inputs: []HRel{baseRel, recRel}}
	if !sel.All {
		value = HDistinct{Input: value}
	}
	d.rel = value
	return d, nil
}

// planRecursiveBody plans the main query of WITH RECURSIVE as the body of
// a LetRec.
func (q *qctx) planRecursiveBody(outer *scope, s *pg_query.SelectStmt, ctes []*cte) (*queryResult, error) {
	d := ctes[len(ctes)-1]
	inner := proto.Clone(s).(*pg_query.SelectStmt)
	inner.WithClause = nil
	r, err := q.planQuery(outer, inner, ctes)
	if err != nil {
		return nil, err
	}
	r.rel = HLetRec{IDs: []plan.LocalID{d.local}, Names: []string{d.name}, Values: []HRel{d.rel}, Types: [][]repr.ColumnType{d.typ}, Body: r.rel}
	return r, nil
}
