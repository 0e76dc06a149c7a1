package sql

import (
	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql/parse"
)

// InsertPlan is INSERT INTO table ... : Values computes the full-width
// rows to insert (defaults filled in, assignment casts applied, NOT NULL
// violations as errors).
type InsertPlan struct {
	Table *CatalogItem
	// Values is the relation of rows to insert, full width. It is nil
	// when Rows holds them: a VALUES list whose items need no relation
	// (literals, parameters, DEFAULT, functions of those) is planned
	// without the optimiser, as one expression per column per row, for
	// the executor to evaluate (they may depend on the session: casts to
	// timestamptz, now()). ValuesRel builds the relation on demand.
	Values plan.Rel
	Rows   [][]expr.Scalar
	values func() (plan.Rel, error)
	// OnConflict is nil without ON CONFLICT.
	OnConflict *OnConflict
	// Returning, when non-nil, computes the returned row from an inserted
	// row (expressions over the table's columns).
	Returning     []expr.Scalar
	ReturningDesc repr.RelationDesc
	DependsOn     []plan.GlobalID
}

// ValuesRel returns the relation of rows to insert (Values, built when
// Rows holds them).
func (p *InsertPlan) ValuesRel() (plan.Rel, error) {
	if p.Values == nil && p.values != nil {
		return p.values()
	}
	return p.Values, nil
}

// OnConflict is ON CONFLICT [(cols)] DO NOTHING | DO UPDATE SET ...
type OnConflict struct {
	// Columns is the conflict target (the primary key when not given).
	Columns   []int
	DoNothing bool
	// Set holds, for DO UPDATE, the new value of every column as an
	// expression over the existing row followed by the excluded row
	// (2 x arity columns); Where filters over the same columns.
	Set   []expr.Scalar
	Where expr.Scalar
}

// UpdatePlan is UPDATE: Selection yields, for every row to change, the old
// row followed by the new row (read-then-write): 2 x arity columns.
type UpdatePlan struct {
	Table         *CatalogItem
	Selection     plan.Rel
	Returning     []expr.Scalar // over the new row
	ReturningDesc repr.RelationDesc
	DependsOn     []plan.GlobalID
	// ReadsTarget is set when the statement reads columns (in WHERE, SET
	// or RETURNING), which PostgreSQL lets only roles with SELECT do.
	ReadsTarget bool
}

// DeletePlan is DELETE: Selection yields the rows to delete.
type DeletePlan struct {
	Table         *CatalogItem
	Selection     plan.Rel
	Returning     []expr.Scalar
	ReturningDesc repr.RelationDesc
	DependsOn     []plan.GlobalID
	// ReadsTarget: as UpdatePlan's.
	ReadsTarget bool
}

// mentionsColumns reports whether any of nodes refers to a column (a
// conservative test of whether a write reads its target).
func mentionsColumns(nodes ...*pg_query.Node) bool {
	return anyNode(nodes, func(x *pg_query.Node) bool { return x.GetColumnRef() != nil })
}

func (*InsertPlan) isPlan() {}
func (*UpdatePlan) isPlan() {}
func (*DeletePlan) isPlan() {}

// resolveTable resolves a DML target, which must be a table.
func resolveTable(scx *StatementContext, q *qctx, rv *pg_query.RangeVar) (*CatalogItem, error) {
	item, err := scx.Catalog.ResolveItem(nameParts(rv), scx.SearchPath())
	if err != nil {
		return nil, q.errAt(err, rv.Location)
	}
	if item.Kind != KindTable {
		return nil, q.errAt(pgcode.New(pgcode.WrongObjectType, "cannot modify %s %q", item.Kind, item.Name.Item).
			WithDetail("Only tables can be written to."), rv.Location)
	}
	q.depends[item.ID] = true
	return item, nil
}

func tableScope(item *CatalogItem, alias string) *scope {
	sc := &scope{}
	if alias == "" {
		alias = item.Name.Item
	}
	for i, n := range item.Desc.Names {
		sc.cols = append(sc.cols, scopeCol{table: alias, name: n, typ: item.Desc.Types[i]})
	}
	return sc
}

func tableGet(item *CatalogItem) HGet {
	return HGet{ID: item.ID, Name: item.Name.String(), Typ: item.Desc.Types, Keys: item.Desc.Keys}
}

// defaultFor returns the planned DEFAULT of column i, NULL when none.
func (q *qctx) defaultFor(item *CatalogItem, i int) (HScalar, error) {
	t := item.Desc.Types[i].Type
	if i < len(item.Defaults) && item.Defaults[i] != "" {
		stmts, err := parse.Parse("SELECT " + item.Defaults[i])
		if err != nil {
			return nil, err
		}
		n := stmts[0].(*parse.PG).Raw.Stmt.GetSelectStmt().TargetList[0].GetResTarget().Val
		sub := newQctx(q.scx, stmts[0].(*parse.PG).Span)
		h, err := (&ectx{q: sub, sc: &scope{}, clause: "DEFAULT expressions"}).plan(n)
		if err != nil {
			return nil, err
		}
		return q.coerce(h, t, expr.Assignment, "column")
	}
	return nullLit(t), nil
}

// notNullCheck wraps the value of a NOT NULL column so that NULL is an
// error (23502).
func notNullCheck(item *CatalogItem, i int, h HScalar) HScalar {
	if item.Desc.Types[i].Nullable || !h.Typ().Nullable {
		return h
	}
	err := pgcode.New(pgcode.NotNullViolation, "null value in column %q of relation %q violates not-null constraint", item.Desc.Names[i], item.Name.Item)
	return HIf{Cond: isNull(h), Then: HError{Err: err, Type: item.Desc.Types[i]}, Else: h}
}

func planInsert(scx *StatementContext, s *parse.PG, ins *pg_query.InsertStmt, params []repr.Datum) (Plan, error) {
	q := newQctx(scx, s.Span)
	if ins.WithClause != nil {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "WITH in INSERT is not supported")
	}
	item, err := resolveTable(scx, q, ins.Relation)
	if err != nil {
		return nil, err
	}
	arity := item.Desc.Arity()
	// Target columns.
	var targets []int
	if len(ins.Cols) == 0 {
		targets = identity(arity)
	} else {
		seen := map[int]bool{}
		for _, c := range ins.Cols {
			rt := c.GetResTarget()
			idx := -1
			for i, n := range item.Desc.Names {
				if n == rt.Name {
					idx = i
				}
			}
			if idx < 0 {
				return nil, q.errAt(pgcode.New(pgcode.UndefinedColumn, "column %q of relation %q does not exist", rt.Name, item.Name.Item), rt.Location)
			}
			if seen[idx] {
				return nil, q.errAt(pgcode.New(pgcode.DuplicateColumn, "column %q specified more than once", rt.Name), rt.Location)
			}
			seen[idx] = true
			targets = append(targets, idx)
		}
	}
	// Source rows, as a relation of len(targets) columns cast to the
	// target types; VALUES items may be DEFAULT.
	var src HRel
	var valueRows [][]HScalar // a VALUES list's items
	sel := ins.SelectStmt.GetSelectStmt()
	switch {
	case sel == nil:
		// DEFAULT VALUES.
		targets = nil
		src = unitRel()
	case len(sel.ValuesLists) > 0 && sel.Op == pg_query.SetOperation_SETOP_NONE && len(sel.SortClause) == 0 && sel.LimitCount == nil:
		e := &ectx{q: q, sc: &scope{}, clause: "VALUES"}
		if len(ins.Cols) == 0 {
			// Without a column list, the values fill the first columns.
			if n := len(sel.ValuesLists[0].GetList().GetItems()); n < arity {
				targets = identity(n)
			}
		}
		var rows [][]HScalar
		what := make([]string, arity) // for errors, made once per column
		for _, col := range targets {
			what[col] = "column \"" + item.Desc.Names[col] + "\""
		}
		for _, l := range sel.ValuesLists {
			items := l.GetList().GetItems()
			if len(items) > len(targets) {
				return nil, q.errAt(pgcode.New(pgcode.SyntaxError, "INSERT has more expressions than target columns"), nodeLocation(items[len(targets)]))
			}
			if len(items) < len(targets) {
				return nil, q.errAt(pgcode.New(pgcode.SyntaxError, "INSERT has more target columns than expressions"), nodeLocation(items[0]))
			}
			var row []HScalar
			for k, it := range items {
				col := targets[k]
				var h HScalar
				if it.GetSetToDefault() != nil {
					if h, err = q.defaultFor(item, col); err != nil {
						return nil, err
					}
				} else {
					if h, err = e.plan(it); err != nil {
						return nil, err
					}
					if h, err = q.coerce(h, item.Desc.Types[col].Type, expr.Assignment, what[col]); err != nil {
						return nil, q.errAt(err, nodeLocation(it))
					}
				}
				row = append(row, h)
			}
			rows = append(rows, row)
		}
		// src is built only when the rows need a relation (lowerValues).
		valueRows = rows
	default:
		r, err := q.planQuery(nil, sel, nil)
		if err != nil {
			return nil, err
		}
		rel := r.applyFinishing()
		cols := rel.Cols()
		if len(ins.Cols) == 0 && len(cols) < arity {
			targets = identity(len(cols))
		}
		if len(cols) > len(targets) {
			return nil, pgcode.New(pgcode.SyntaxError, "INSERT has more expressions than target columns")
		}
		if len(cols) < len(targets) {
			return nil, pgcode.New(pgcode.SyntaxError, "INSERT has more target columns than expressions")
		}
		var m []HScalar
		for k, c := range cols {
			col := targets[k]
			h, err := q.coerce(HColumn{Index: k, Type: c}, item.Desc.Types[col].Type, expr.Assignment, "column \""+item.Desc.Names[col]+"\"")
			if err != nil {
				return nil, err
			}
			m = append(m, h)
		}
		src = HProject{Input: HMap{Input: rel, Scalars: m}, Outputs: rangeFrom(len(cols), len(cols))}
	}
	// Full-width rows: source columns, defaults elsewhere.
	pos := make([]int, arity)
	defaults := make([]HScalar, arity)
	for i := range pos {
		pos[i] = -1
	}
	for k, t := range targets {
		pos[t] = k
	}
	for i := range arity {
		if pos[i] < 0 {
			if defaults[i], err = q.defaultFor(item, i); err != nil {
				return nil, err
			}
		}
	}
	l := &lowerer{q: q, params: params}
	lowerValues := func() (plan.Rel, error) {
		if src == nil {
			src = valuesRel(valueRows)
		}
		srcArity := len(src.Cols())
		var full []HScalar
		for i := range arity {
			h := defaults[i]
			if k := pos[i]; k >= 0 {
				h = HColumn{Index: k, Type: src.Cols()[k]}
			}
			full = append(full, notNullCheck(item, i, h))
		}
		return l.lowerTop(HProject{Input: HMap{Input: src, Scalars: full}, Outputs: rangeFrom(srcArity, arity)})
	}
	p := &InsertPlan{Table: item}
	if valueRows != nil {
		p.Rows, err = rowFreeValues(l, item, valueRows, pos, defaults)
		if err != nil {
			return nil, err
		}
		p.values = lowerValues
	}
	if p.Rows == nil {
		if p.Values, err = lowerValues(); err != nil {
			return nil, err
		}
	}
	if ins.OnConflictClause != nil {
		oc, err := planOnConflict(q, item, ins.OnConflictClause, params)
		if err != nil {
			return nil, err
		}
		p.OnConflict = oc
	}
	if len(ins.ReturningList) > 0 {
		if p.Returning, p.ReturningDesc, err = planReturning(q, item, ins.ReturningList, params); err != nil {
			return nil, err
		}
	}
	p.DependsOn = q.dependsOn()
	return p, nil
}

// rowFreeValues lowers the rows of a VALUES list to one expression per
// table column (pos: the VALUES item of each column, or -1 for its
// default), or returns nil when an item needs a relation (a subquery, a
// column reference, mz_now()).
func rowFreeValues(l *lowerer, item *CatalogItem, rows [][]HScalar, pos []int, defaults []HScalar) ([][]expr.Scalar, error) {
	for _, d := range defaults {
		if d != nil && !rowFree(d) {
			return nil, nil
		}
	}
	for _, row := range rows {
		for _, h := range row {
			if !rowFree(h) {
				return nil, nil
			}
		}
	}
	// Defaults are lowered once and shared by every row.
	lowered := make([]expr.Scalar, len(defaults))
	for i, d := range defaults {
		if d == nil {
			continue
		}
		e, err := l.scalar(notNullCheck(item, i, d), 0, colMap{}, nil)
		if err != nil {
			return nil, err
		}
		lowered[i] = e
	}
	out := make([][]expr.Scalar, len(rows))
	for r, row := range rows {
		es := make([]expr.Scalar, len(pos))
		for i, k := range pos {
			if k < 0 {
				es[i] = lowered[i]
				continue
			}
			e, err := l.scalar(notNullCheck(item, i, row[k]), 0, colMap{}, nil)
			if err != nil {
				return nil, err
			}
			es[i] = e
		}
		out[r] = es
	}
	return out, nil
}

// rowFree reports whether h can be evaluated without a row: literals,
// parameters, errors, and calls and conditionals over those.
func rowFree(h HScalar) bool {
	switch x := h.(type) {
	case HLiteral, HParam, HError:
		return true
	case HCall:
		for _, a := range x.Args {
			if !rowFree(a) {
				return false
			}
		}
		return true
	case HIf:
		return rowFree(x.Cond) && rowFree(x.Then) && rowFree(x.Else)
	}
	return false
}

func planOnConflict(q *qctx, item *CatalogItem, oc *pg_query.OnConflictClause, params []repr.Datum) (*OnConflict, error) {
	out := &OnConflict{}
	if oc.Infer != nil {
		if oc.Infer.Conname != "" {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "ON CONFLICT ON CONSTRAINT is not supported")
		}
		for _, e := range oc.Infer.IndexElems {
			name := e.GetIndexElem().Name
			idx := -1
			for i, n := range item.Desc.Names {
				if n == name {
					idx = i
				}
			}
			if idx < 0 {
				return nil, pgcode.New(pgcode.UndefinedColumn, "column %q does not exist", name)
			}
			out.Columns = append(out.Columns, idx)
		}
		match := false
		for _, k := range item.Desc.Keys {
			if sameSet(k, out.Columns) {
				match = true
			}
		}
		if !match {
			return nil, pgcode.New(pgcode.InvalidColumnReference, "there is no unique or exclusion constraint matching the ON CONFLICT specification")
		}
	} else if len(item.Desc.Keys) > 0 {
		out.Columns = item.Desc.Keys[0]
	}
	if oc.Action == pg_query.OnConflictAction_ONCONFLICT_NOTHING {
		out.DoNothing = true
		return out, nil
	}
	if oc.Infer == nil {
		return nil, pgcode.New(pgcode.SyntaxError, "ON CONFLICT DO UPDATE requires inference specification or constraint name").
			WithHint("For example, ON CONFLICT (column_name).")
	}
	// Scope: the existing row (table name) then EXCLUDED.
	sc := tableScope(item, "")
	for i, n := range item.Desc.Names {
		sc.cols = append(sc.cols, scopeCol{table: "excluded", name: n, typ: item.Desc.Types[i]})
	}
	arity := item.Desc.Arity()
	set := make([]HScalar, arity)
	for i := range set {
		set[i] = HColumn{Index: i, Type: item.Desc.Types[i]}
	}
	e := &ectx{q: q, sc: sc, clause: "UPDATE"}
	if err := assignSet(q, e, item, oc.TargetList, set); err != nil {
		return nil, err
	}
	l := &lowerer{q: q, params: params}
	for i := range set {
		if hasSubquery([]HScalar{set[i]}) {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "subqueries in ON CONFLICT DO UPDATE are not supported")
		}
		s, err := l.lowerPlainScalar(notNullCheck(item, i, set[i]), 0, colMap{})
		if err != nil {
			return nil, err
		}
		out.Set = append(out.Set, s)
	}
	if oc.WhereClause != nil {
		w, err := e.with(func(c *ectx) { c.clause = "WHERE" }).planBool(oc.WhereClause)
		if err != nil {
			return nil, err
		}
		if out.Where, err = l.lowerPlainScalar(w, 0, colMap{}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sameSet(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[int]bool{}
	for _, x := range a {
		m[x] = true
	}
	for _, x := range b {
		if !m[x] {
			return false
		}
	}
	return true
}

// assignSet plans SET col = expr items into set (indexed by column).
func assignSet(q *qctx, e *ectx, item *CatalogItem, list []*pg_query.Node, set []HScalar) error {
	seen := map[int]bool{}
	for _, n := range list {
		rt := n.GetResTarget()
		if len(rt.Indirection) > 0 {
			return q.errAt(pgcode.New(pgcode.FeatureNotSupported, "assignment to a subfield or array element is not supported"), rt.Location)
		}
		idx := -1
		for i, c := range item.Desc.Names {
			if c == rt.Name {
				idx = i
			}
		}
		if idx < 0 {
			return q.errAt(pgcode.New(pgcode.UndefinedColumn, "column %q of relation %q does not exist", rt.Name, item.Name.Item), rt.Location)
		}
		if seen[idx] {
			return q.errAt(pgcode.New(pgcode.DuplicateColumn, "multiple assignments to same column %q", rt.Name), rt.Location)
		}
		seen[idx] = true
		var h HScalar
		var err error
		if rt.Val.GetSetToDefault() != nil {
			h, err = q.defaultFor(item, idx)
		} else if h, err = e.plan(rt.Val); err == nil {
			h, err = q.coerce(h, item.Desc.Types[idx].Type, expr.Assignment, "column \""+rt.Name+"\"")
			err = q.errAt(err, nodeLocation(rt.Val))
		}
		if err != nil {
			return err
		}
		set[idx] = h
	}
	return nil
}

// planReturning plans RETURNING expressions over a row of the table.
func planReturning(q *qctx, item *CatalogItem, list []*pg_query.Node, params []repr.Datum) ([]expr.Scalar, repr.RelationDesc, error) {
	sc := tableScope(item, "")
	targets, err := q.expandTargets(sc, list)
	if err != nil {
		return nil, repr.RelationDesc{}, err
	}
	e := &ectx{q: q, sc: sc, clause: "RETURNING"}
	l := &lowerer{q: q, params: params}
	var out []expr.Scalar
	var desc repr.RelationDesc
	for _, t := range targets {
		h := t.star
		if t.node != nil {
			if h, err = e.plan(t.node); err != nil {
				return nil, desc, err
			}
		}
		if hasSubquery([]HScalar{h}) {
			return nil, desc, pgcode.New(pgcode.FeatureNotSupported, "subqueries in RETURNING are not supported")
		}
		s, err := l.lowerPlainScalar(h, 0, colMap{})
		if err != nil {
			return nil, desc, err
		}
		out = append(out, s)
		typ := h.Typ()
		if typ.Type.Kind == repr.KindNull {
			typ.Type = repr.TypeText
		}
		desc.Names = append(desc.Names, t.name)
		desc.Types = append(desc.Types, typ)
	}
	return out, desc, nil
}

func alias(a *pg_query.Alias) string {
	if a == nil {
		return ""
	}
	return a.Aliasname
}

func planUpdate(scx *StatementContext, s *parse.PG, up *pg_query.UpdateStmt, params []repr.Datum) (Plan, error) {
	q := newQctx(scx, s.Span)
	if up.WithClause != nil {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "UPDATE with WITH is not supported")
	}
	item, err := resolveTable(scx, q, up.Relation)
	if err != nil {
		return nil, err
	}
	reads := mentionsColumns(append(append([]*pg_query.Node{up.WhereClause}, up.TargetList...), up.ReturningList...)...)
	sc := tableScope(item, alias(up.Relation.Alias))
	var rel HRel = tableGet(item)
	if len(up.FromClause) > 0 {
		// UPDATE ... FROM: each target row joins the first (by row order)
		// FROM row satisfying WHERE; rows with none are not updated. SET
		// and RETURNING see the table's columns then the FROM columns.
		frel, fcols, err := q.planFromList(sc, up.FromClause, nil)
		if err != nil {
			return nil, err
		}
		fs := &scope{cols: fcols, outer: sc}
		if up.WhereClause != nil {
			w, err := (&ectx{q: q, sc: fs, clause: "WHERE"}).planBool(up.WhereClause)
			if err != nil {
				return nil, err
			}
			frel = HFilter{Input: frel, Preds: []HScalar{w}}
		}
		frel = HTopK{Input: frel, Limit: 1}
		rel = HJoin{Left: rel, Right: frel, On: trueLit, Kind: JoinInner, Lateral: true}
		sc = &scope{cols: append(append([]scopeCol(nil), sc.cols...), fcols...)}
		up.WhereClause = nil
	}
	if up.WhereClause != nil {
		w, err := (&ectx{q: q, sc: sc, clause: "WHERE"}).planBool(up.WhereClause)
		if err != nil {
			return nil, err
		}
		rel = HFilter{Input: rel, Preds: []HScalar{w}}
	}
	arity := item.Desc.Arity()
	set := make([]HScalar, arity)
	for i := range set {
		set[i] = HColumn{Index: i, Type: item.Desc.Types[i]}
	}
	if err := assignSet(q, &ectx{q: q, sc: sc, clause: "UPDATE"}, item, up.TargetList, set); err != nil {
		return nil, err
	}
	for i := range set {
		set[i] = notNullCheck(item, i, set[i])
	}
	// Selection: the old row then the new row.
	width := len(rel.Cols())
	rel = HProject{Input: HMap{Input: rel, Scalars: set}, Outputs: append(identity(arity), rangeFrom(width, arity)...)}
	l := &lowerer{q: q, params: params}
	mir, err := l.lowerTop(rel)
	if err != nil {
		return nil, err
	}
	p := &UpdatePlan{Table: item, Selection: mir, ReadsTarget: reads}
	if len(up.ReturningList) > 0 {
		if p.Returning, p.ReturningDesc, err = planReturning(q, item, up.ReturningList, params); err != nil {
			return nil, err
		}
	}
	p.DependsOn = q.dependsOn()
	return p, nil
}

func planDelete(scx *StatementContext, s *parse.PG, del *pg_query.DeleteStmt, params []repr.Datum) (Plan, error) {
	q := newQctx(scx, s.Span)
	if del.WithClause != nil {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "DELETE with WITH is not supported")
	}
	item, err := resolveTable(scx, q, del.Relation)
	if err != nil {
		return nil, err
	}
	reads := mentionsColumns(append([]*pg_query.Node{del.WhereClause}, del.ReturningList...)...)
	sc := tableScope(item, alias(del.Relation.Alias))
	var rel HRel = tableGet(item)
	if len(del.UsingClause) > 0 {
		// DELETE ... USING deletes the rows for which some USING row
		// satisfies WHERE: WHERE EXISTS (SELECT FROM using WHERE ...).
		urel, ucols, err := q.planFromList(sc, del.UsingClause, nil)
		if err != nil {
			return nil, err
		}
		if del.WhereClause != nil {
			w, err := (&ectx{q: q, sc: &scope{cols: ucols, outer: sc}, clause: "WHERE"}).planBool(del.WhereClause)
			if err != nil {
				return nil, err
			}
			urel = HFilter{Input: urel, Preds: []HScalar{w}}
		}
		rel = HFilter{Input: rel, Preds: []HScalar{HExists{Rel: urel}}}
		del.WhereClause = nil
	}
	if del.WhereClause != nil {
		w, err := (&ectx{q: q, sc: sc, clause: "WHERE"}).planBool(del.WhereClause)
		if err != nil {
			return nil, err
		}
		rel = HFilter{Input: rel, Preds: []HScalar{w}}
	}
	l := &lowerer{q: q, params: params}
	mir, err := l.lowerTop(rel)
	if err != nil {
		return nil, err
	}
	p := &DeletePlan{Table: item, Selection: mir, ReadsTarget: reads}
	if len(del.ReturningList) > 0 {
		if p.Returning, p.ReturningDesc, err = planReturning(q, item, del.ReturningList, params); err != nil {
			return nil, err
		}
	}
	p.DependsOn = q.dependsOn()
	return p, nil
}
