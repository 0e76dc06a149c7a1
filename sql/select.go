package sql

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql/parse"
)

// planSelect plans a simple SELECT: FROM, WHERE, GROUP BY, HAVING, window
// functions, the select list, DISTINCT [ON], ORDER BY, LIMIT/OFFSET.
func (q *qctx) planSelect(outer *scope, s *pg_query.SelectStmt, ctes []*cte) (*queryResult, error) {
	rel, cols, err := q.planFromList(outer, s.FromClause, ctes)
	if err != nil {
		return nil, err
	}
	fs := &scope{cols: cols, outer: outer, ctes: ctes, level: &levelAggs{clause: "WHERE"}}
	if s.WhereClause != nil {
		e := &ectx{q: q, sc: fs, clause: "WHERE"}
		if containsWindow(s.WhereClause) {
			return nil, q.errAt(pgcode.New(pgcode.WindowingError, "window functions are not allowed in WHERE"), nodeLocation(s.WhereClause))
		}
		var preds []HScalar
		for _, c := range andConjuncts(s.WhereClause) {
			var pred HScalar
			var err error
			if sl := c.GetSubLink(); sl != nil && sl.SubLinkType == pg_query.SubLinkType_ANY_SUBLINK && (len(sl.OperName) == 0 || opName(sl.OperName) == "=") {
				// In WHERE, a NULL result filters like false, so
				// x IN (subquery) is EXISTS (subquery WHERE col = x): a
				// semijoin rather than an aggregate per row.
				pred, err = e.inAsExists(sl)
			} else {
				pred, err = e.planBool(c)
			}
			if err != nil {
				return nil, err
			}
			preds = append(preds, pred)
		}
		rel = HFilter{Input: rel, Preds: preds}
	}

	targets, err := q.expandTargets(fs, s.TargetList)
	if err != nil {
		return nil, err
	}

	// Aggregation: the query aggregates when it has GROUP BY or HAVING,
	// or an aggregate of its level in its select list or ORDER BY, even
	// one written in a subquery (levelAggs). Planning without
	// aggregation finds the latter; the query is then planned again as
	// an aggregate query.
	grouped := len(s.GroupClause) > 0 || s.HavingClause != nil
	le := &ectx{q: q, sc: fs, clause: "SELECT"}
	for _, t := range targets {
		if t.node != nil && containsAggOf(t.node, le) {
			grouped = true
		}
	}
	for _, o := range s.SortClause {
		if containsAggOf(o.GetSortBy().Node, le) {
			grouped = true
		}
	}
	saved := q.save()
	fs.level.probing = !grouped
	x, err := q.planSelectExprs(fs, s, targets, grouped)
	fs.level.probing = false
	if !grouped && fs.level.found {
		q.restore(saved)
		if q.aggReplans++; q.aggReplans > maxAggReplans {
			return nil, parse.ErrTooComplex()
		}
		x, err = q.planSelectExprs(fs, s, targets, true)
	}
	if err != nil {
		return nil, err
	}
	grouped = x.agg != nil
	agg, win, srf, outs, names, origins := x.agg, x.win, x.srf, x.outs, x.names, x.origins
	having, orders, distinctOn, isDistinct := x.having, x.orders, x.distinctOn, x.isDistinct

	// Build: aggregation, HAVING, windows, select list, hidden columns.
	if grouped {
		keyCols := make([]int, len(agg.keys))
		base := len(rel.Cols())
		mapped := HMap{Input: rel, Scalars: append([]HScalar(nil), agg.keys...)}
		for i := range keyCols {
			keyCols[i] = base + i
		}
		rel = HReduce{Input: mapped, GroupKey: keyCols, Aggs: agg.aggs}
		if having != nil {
			rel = HFilter{Input: rel, Preds: []HScalar{having}}
		}
	}
	if len(win.calls) > 0 {
		var err error
		if rel, err = q.buildWindows(rel, win); err != nil {
			return nil, err
		}
	}
	// srfOffsets[k] is where call k's columns start among the calls'.
	srfOffsets := make([]int, len(srf.calls))
	srfCols := 0
	if len(srf.calls) > 0 {
		// Several calls run in lockstep (PostgreSQL 10+), the shorter
		// ones padded with NULLs: one zipped table function.
		var args []HScalar
		fns := make([]*expr.TableFunc, len(srf.calls))
		nargs := make([]int, len(srf.calls))
		for k, c := range srf.calls {
			srfOffsets[k] = srfCols
			srfCols += len(c.fn.Cols)
			fns[k], nargs[k] = c.fn, len(c.args)
			for _, a := range c.args {
				args = append(args, shiftLevels(a, 1))
			}
		}
		fn := fns[0]
		if len(fns) > 1 {
			fn = expr.ZipTableFuncs(fns, nargs)
		}
		rel = HJoin{Left: rel, Right: HCallTable{Func: fn, Args: args}, On: trueLit, Kind: JoinInner, Lateral: true}
	}
	base := len(rel.Cols())
	winBase := base - len(win.calls) - srfCols
	srfBase := base - srfCols
	fix := func(h HScalar) HScalar {
		return rewriteHScalar(h, 0, func(s HScalar, depth int) HScalar {
			switch x := s.(type) {
			case hWinRef:
				return HColumn{Level: depth, Index: winBase + x.K, Type: x.Type}
			case hSRFRef:
				t := x.Type
				if len(srf.calls) > 1 {
					t.Nullable = true // padded
				}
				return HColumn{Level: depth, Index: srfBase + srfOffsets[x.K] + x.Col, Type: t}
			}
			return s
		})
	}
	var mapExprs []HScalar
	for _, o := range outs {
		mapExprs = append(mapExprs, fix(o))
	}
	visible := len(outs)
	for i := range orders {
		if orders[i].col < 0 {
			if isDistinct {
				return nil, pgcode.New(pgcode.InvalidColumnReference, "for SELECT DISTINCT, ORDER BY expressions must appear in select list")
			}
			mapExprs = append(mapExprs, fix(orders[i].expr))
			orders[i].col = len(mapExprs) - 1
		}
	}
	nDistinctOn := len(distinctOn)
	for _, d := range distinctOn {
		mapExprs = append(mapExprs, fix(d))
	}
	rel = HProject{Input: HMap{Input: rel, Scalars: mapExprs}, Outputs: rangeFrom(base, len(mapExprs))}
	if isDistinct {
		rel = HDistinct{Input: rel}
	}
	r := &queryResult{rel: rel, names: names, finish: Finishing{Limit: -1}, origins: origins}
	for _, o := range orders {
		r.finish.Order = append(r.finish.Order, plan.ColumnOrder{Column: o.col, Order: o.order})
	}
	if nDistinctOn > 0 {
		keys := rangeFrom(len(mapExprs)-nDistinctOn, nDistinctOn)
		rel = HTopK{Input: rel, GroupKey: keys, Order: r.finish.Order, Limit: 1}
		r.rel = rel
	}
	r.finish.Project = identity(visible)
	if err := q.limitOffset(r, s); err != nil {
		return nil, err
	}
	return r, nil
}

// orderItem is one ORDER BY item of a SELECT.
type orderItem struct {
	expr  HScalar
	col   int // >= 0 when it names an output column
	order repr.SortOrder
}

// selectExprs are a SELECT's expressions planned over its FROM scope:
// the aggregation (nil when the query does not aggregate), window and
// set-returning calls, the select list with its names and origins,
// HAVING, ORDER BY and DISTINCT [ON].
type selectExprs struct {
	agg        *aggState
	win        *winState
	srf        *srfState
	outs       []HScalar
	names      []string
	origins    []repr.ColumnOrigin
	having     HScalar
	orders     []orderItem
	distinctOn []HScalar
	isDistinct bool
}

// planSelectExprs plans the expressions of SELECT s over its FROM scope
// fs, as an aggregate query when grouped: GROUP BY keys, the select
// list, HAVING, ORDER BY and DISTINCT ON.
func (q *qctx) planSelectExprs(fs *scope, s *pg_query.SelectStmt, targets []target, grouped bool) (*selectExprs, error) {
	var err error
	var agg *aggState
	if grouped {
		agg = &aggState{pre: fs}
		fs.level.clause = "GROUP BY"
		ge := &ectx{q: q, sc: fs, clause: "GROUP BY"}
		for _, g := range s.GroupClause {
			var key HScalar
			if c := g.GetAConst(); c != nil && c.GetIval() != nil {
				// GROUP BY ordinal.
				k := int(c.GetIval().Ival)
				if k < 1 || k > len(targets) {
					return nil, q.errAt(pgcode.New(pgcode.InvalidColumnReference, "GROUP BY position %d is not in select list", k), c.Location)
				}
				if targets[k-1].node == nil {
					key = targets[k-1].star
				} else if key, err = ge.plan(targets[k-1].node); err != nil {
					return nil, err
				}
			} else if g.GetGroupingSet() != nil {
				return nil, q.errAt(pgcode.New(pgcode.FeatureNotSupported, "GROUPING SETS, ROLLUP and CUBE are not supported"), nodeLocation(g))
			} else {
				if containsAgg(g) {
					return nil, q.errAt(pgcode.New(pgcode.GroupingError, "aggregate functions are not allowed in GROUP BY"), nodeLocation(g))
				}
				key, err = ge.plan(g)
				if err != nil && pgcode.Of(err) == pgcode.UndefinedColumn {
					// GROUP BY an output column alias, as PostgreSQL allows.
					if cr := g.GetColumnRef(); cr != nil && len(cr.Fields) == 1 {
						name := cr.Fields[0].GetString_().GetSval()
						found := false
						for _, t := range targets {
							if t.name != name || t.node == nil {
								continue
							}
							if containsAgg(t.node) {
								return nil, q.errAt(pgcode.New(pgcode.GroupingError, "aggregate functions are not allowed in GROUP BY"), nodeLocation(g))
							}
							k, kerr := ge.plan(t.node)
							if kerr != nil {
								return nil, kerr
							}
							if found && hirScalarString(k) != hirScalarString(key) {
								// Two output columns of that name with
								// different values (PostgreSQL's
								// findTargetlistEntrySQL92).
								return nil, q.errAt(pgcode.New(pgcode.AmbiguousColumn, "GROUP BY %q is ambiguous", name), cr.Location)
							}
							key, err, found = k, nil, true
						}
					}
				}
				if err != nil {
					return nil, err
				}
			}
			str := hirScalarString(key)
			dup := false
			for _, ks := range agg.keyStrs {
				if ks == str {
					dup = true
				}
			}
			if !dup {
				agg.keys = append(agg.keys, key)
				agg.keyStrs = append(agg.keyStrs, str)
			}
		}
	}

	win := &winState{}
	srf := &srfState{}
	se := &ectx{q: q, sc: fs, clause: "SELECT", agg: agg, win: win, srf: srf}
	var outs []HScalar
	var names []string
	for _, t := range targets {
		if t.node == nil {
			if grouped {
				c := t.star.(HColumn)
				k, ok := agg.groupColumn(c.Index)
				if !ok {
					ref := fs.cols[c.Index].name
					if tb := fs.cols[c.Index].table; tb != "" {
						ref = tb + "." + ref
					}
					return nil, pgcode.New(pgcode.GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", ref)
				}
				outs = append(outs, HColumn{Index: k, Type: agg.keyType(k)})
			} else {
				outs = append(outs, t.star)
			}
			names = append(names, t.name)
			continue
		}
		h, err := se.plan(t.node)
		if err != nil {
			return nil, err
		}
		outs = append(outs, h)
		names = append(names, t.name)
	}
	// Columns read straight from a relation's column keep its origin
	// (not through GROUP BY, where a column is the group's key).
	var origins []repr.ColumnOrigin
	for i, o := range outs {
		c, ok := o.(HColumn)
		if !ok || c.Level != 0 || grouped || c.Index >= len(fs.cols) || fs.cols[c.Index].relOID == 0 {
			continue
		}
		if origins == nil {
			origins = make([]repr.ColumnOrigin, len(outs))
		}
		origins[i] = repr.ColumnOrigin{TableOID: fs.cols[c.Index].relOID, Attnum: fs.cols[c.Index].attnum}
	}
	var having HScalar
	if s.HavingClause != nil {
		he := &ectx{q: q, sc: fs, clause: "HAVING", agg: agg}
		if having, err = he.planBool(s.HavingClause); err != nil {
			return nil, err
		}
	}

	// ORDER BY: output names and ordinals, else expressions over the input
	// (hidden columns).
	var orders []orderItem
	oe := se.with(func(c *ectx) { c.clause = "ORDER BY"; c.srf = nil })
	for _, o := range s.SortClause {
		sb := o.GetSortBy()
		if sb.SortbyDir == pg_query.SortByDir_SORTBY_USING {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "ORDER BY ... USING is not supported")
		}
		it := orderItem{col: -1, order: sortOrder(sb)}
		if c := sb.Node.GetAConst(); c != nil && c.GetIval() != nil {
			k := int(c.GetIval().Ival)
			if k < 1 || k > len(outs) {
				return nil, q.errAt(pgcode.New(pgcode.InvalidColumnReference, "ORDER BY position %d is not in select list", k), c.Location)
			}
			it.col = k - 1
		} else if cr := sb.Node.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetString_() != nil {
			name := cr.Fields[0].GetString_().GetSval()
			matches := 0
			for i, n := range names {
				if n == name {
					if matches == 0 {
						it.col = i
					} else if hirScalarString(outs[i]) != hirScalarString(outs[it.col]) {
						return nil, q.errAt(pgcode.New(pgcode.AmbiguousColumn, "ORDER BY %q is ambiguous", name), cr.Location)
					}
					matches++
				}
			}
		}
		if it.col < 0 {
			h, err := oe.plan(sb.Node)
			if err != nil {
				return nil, err
			}
			it.expr = h
			str := hirScalarString(h)
			for i, o := range outs {
				if hirScalarString(o) == str {
					it.col = i
					break
				}
			}
		}
		orders = append(orders, it)
	}
	var distinctOn []HScalar
	isDistinct := s.DistinctClause != nil
	if isDistinct && len(s.DistinctClause) > 0 && s.DistinctClause[0].GetNode() != nil {
		de := oe.with(func(c *ectx) { c.clause = "DISTINCT ON" })
		for _, d := range s.DistinctClause {
			if c := d.GetAConst(); c != nil && c.GetIval() != nil {
				k := int(c.GetIval().Ival)
				if k < 1 || k > len(outs) {
					return nil, q.errAt(pgcode.New(pgcode.InvalidColumnReference, "SELECT DISTINCT ON position %d is not in select list", k), c.Location)
				}
				distinctOn = append(distinctOn, outs[k-1])
				continue
			}
			h, err := de.plan(d)
			if err != nil {
				return nil, err
			}
			distinctOn = append(distinctOn, h)
		}
		isDistinct = false
	}

	return &selectExprs{agg: agg, win: win, srf: srf, outs: outs, names: names, origins: origins,
		having: having, orders: orders, distinctOn: distinctOn, isDistinct: isDistinct}, nil
}

// buildWindows appends one Window node per window call: its partition and
// order expressions are mapped to columns first; the window's values end
// up as the last len(win.calls) columns.
func (q *qctx) buildWindows(rel HRel, win *winState) (HRel, error) {
	base := len(rel.Cols())
	// Columns of rel kept at the end of each step: the original ones plus
	// the window values computed so far.
	cur := rel
	var keep []int
	for i := 0; i < base; i++ {
		keep = append(keep, i)
	}
	for _, c := range win.calls {
		arity := len(cur.Cols())
		var m []HScalar
		var part []int
		for _, p := range c.partitionBy {
			m = append(m, p)
			part = append(part, arity+len(m)-1)
		}
		var order []plan.ColumnOrder
		for _, o := range c.orderBy {
			m = append(m, o.Expr)
			order = append(order, plan.ColumnOrder{Column: arity + len(m) - 1, Order: o.Order})
		}
		in := HRel(HMap{Input: cur, Scalars: m})
		cur = HWindow{Input: in, PartitionBy: part, OrderBy: order, Funcs: []HWindowFunc{c.fn}}
		keep = append(keep, arity+len(m))
		cur = HProject{Input: cur, Outputs: keep}
		keep = identity(len(keep))
	}
	return cur, nil
}

// target is one select-list item after * expansion: node is nil for a
// column produced by *, whose reference is star.
type target struct {
	node *pg_query.Node
	star HScalar
	name string
}

// expandTargets expands * and t.* and names each output column as
// PostgreSQL's FigureColname does.
func (q *qctx) expandTargets(fs *scope, list []*pg_query.Node) ([]target, error) {
	var out []target
	for _, n := range list {
		rt := n.GetResTarget()
		if cr := rt.Val.GetColumnRef(); cr != nil && cr.Fields[len(cr.Fields)-1].GetAStar() != nil {
			table := ""
			if len(cr.Fields) >= 2 {
				table = cr.Fields[len(cr.Fields)-2].GetString_().GetSval()
			}
			found := false
			for i, c := range fs.cols {
				if table == "" && c.hidden {
					continue
				}
				if table != "" && c.table != table {
					continue
				}
				found = true
				out = append(out, target{star: HColumn{Index: i, Type: c.typ}, name: c.name})
			}
			if table != "" && !found {
				return nil, q.errAt(pgcode.New(pgcode.UndefinedTable, "missing FROM-clause entry for table %q", table), cr.Location)
			}
			if table == "" && len(fs.cols) == 0 && len(list) == 1 {
				return nil, q.errAt(pgcode.New(pgcode.SyntaxError, "SELECT * with no tables specified is not valid"), cr.Location)
			}
			continue
		}
		name := rt.Name
		if name == "" {
			name = figureColname(rt.Val)
		}
		out = append(out, target{node: rt.Val, name: name})
	}
	return out, nil
}

// figureColname names an output column as PostgreSQL does.
func figureColname(n *pg_query.Node) string {
	if name, _ := figureColnameInner(n); name != "" {
		return name
	}
	return "?column?"
}

// figureColnameInner returns the name PostgreSQL's FigureColnameInternal
// gives n and its strength: 2 for a name from a column, function or
// keyword, 1 for one from a type cast or CASE, which an enclosing cast
// replaces ('5'::text::interval is "interval"); 0 for none.
func figureColnameInner(n *pg_query.Node) (string, int) {
	switch x := n.Node.(type) {
	case *pg_query.Node_ColumnRef:
		last := x.ColumnRef.Fields[len(x.ColumnRef.Fields)-1]
		if s := last.GetString_(); s != nil {
			return s.Sval, 2
		}
	case *pg_query.Node_FuncCall:
		names := x.FuncCall.Funcname
		return names[len(names)-1].GetString_().GetSval(), 2
	case *pg_query.Node_AIndirection:
		// (rec).field is named after the field.
		ind := x.AIndirection.Indirection
		if s := ind[len(ind)-1].GetString_(); s != nil {
			return s.Sval, 2
		}
	case *pg_query.Node_TypeCast:
		if name, strength := figureColnameInner(x.TypeCast.Arg); strength > 1 {
			return name, strength
		}
		names := x.TypeCast.TypeName.Names
		t := names[len(names)-1].GetString_().GetSval()
		if rt, err := resolveType(x.TypeCast.TypeName); err == nil && rt.Kind != repr.KindArray {
			switch t {
			case "int4", "int2", "int8", "float4", "float8", "bool", "bpchar", "varchar", "timestamptz":
				// PostgreSQL names the column after the type's SQL name.
				return map[string]string{"int4": "int4", "int2": "int2", "int8": "int8", "float4": "float4", "float8": "float8", "bool": "bool", "bpchar": "bpchar", "varchar": "varchar", "timestamptz": "timestamptz"}[t], 1
			}
		}
		return t, 1
	case *pg_query.Node_CaseExpr:
		if x.CaseExpr.Defresult != nil {
			if name, strength := figureColnameInner(x.CaseExpr.Defresult); strength > 1 {
				return name, strength
			}
		}
		return "case", 1
	case *pg_query.Node_CoalesceExpr:
		return "coalesce", 2
	case *pg_query.Node_MinMaxExpr:
		if x.MinMaxExpr.Op == pg_query.MinMaxOp_IS_GREATEST {
			return "greatest", 2
		}
		return "least", 2
	case *pg_query.Node_AExpr:
		if x.AExpr.Kind == pg_query.A_Expr_Kind_AEXPR_NULLIF {
			return "nullif", 2
		}
	case *pg_query.Node_SubLink:
		switch x.SubLink.SubLinkType {
		case pg_query.SubLinkType_EXISTS_SUBLINK:
			return "exists", 2
		case pg_query.SubLinkType_ARRAY_SUBLINK:
			return "array", 2
		case pg_query.SubLinkType_EXPR_SUBLINK:
			if sel := x.SubLink.Subselect.GetSelectStmt(); sel != nil && len(sel.TargetList) == 1 {
				rt := sel.TargetList[0].GetResTarget()
				if rt.Name != "" {
					return rt.Name, 2
				}
				// The subquery's own column name, "?column?" included,
				// as PostgreSQL reads it from the analysed subquery.
				return figureColname(rt.Val), 2
			}
		}
	case *pg_query.Node_AArrayExpr:
		return "array", 2
	case *pg_query.Node_RowExpr:
		return "row", 2
	case *pg_query.Node_SqlvalueFunction:
		return strings.ToLower(strings.TrimPrefix(strings.TrimSuffix(x.SqlvalueFunction.Op.String(), "_N"), "SVFOP_")), 2
	}
	return "", 0
}

// planFromList plans a FROM list: a cross join of its items, each item
// seeing the ones before it when LATERAL.
func (q *qctx) planFromList(outer *scope, items []*pg_query.Node, ctes []*cte) (HRel, []scopeCol, error) {
	if len(items) == 0 {
		return unitRel(), nil, nil
	}
	var rel HRel
	var cols []scopeCol
	for i, it := range items {
		if i == 0 {
			r, c, err := q.planFromItem(outer, it, ctes, nil)
			if err != nil {
				return nil, nil, err
			}
			rel, cols = r, c
			continue
		}
		left := &scope{cols: cols, outer: outer, ctes: ctes, level: &levelAggs{clause: lateralClause}}
		r, c, lateral, err := q.planJoinRight(outer, it, ctes, left)
		if err != nil {
			return nil, nil, err
		}
		if err := checkDuplicateAliases(cols, c); err != nil {
			return nil, nil, q.errAt(err, nodeLocation(it))
		}
		rel = HJoin{Left: rel, Right: r, On: trueLit, Kind: JoinInner, Lateral: lateral}
		cols = append(append([]scopeCol(nil), cols...), c...)
	}
	return rel, cols, nil
}

func checkDuplicateAliases(left, right []scopeCol) error {
	seen := map[string]bool{}
	for _, c := range left {
		if c.table != "" {
			seen[c.table] = true
		}
	}
	done := map[string]bool{}
	for _, c := range right {
		if c.table != "" && seen[c.table] && !done[c.table] {
			return pgcode.New("42712", "table name %q specified more than once", c.table)
		}
		done[c.table] = true
	}
	return nil
}

// planJoinRight plans a FROM item that follows others: LATERAL items (and
// functions) see the left side's columns at level 1.
func (q *qctx) planJoinRight(outer *scope, it *pg_query.Node, ctes []*cte, left *scope) (HRel, []scopeCol, bool, error) {
	lateral := false
	switch x := it.Node.(type) {
	case *pg_query.Node_RangeSubselect:
		lateral = x.RangeSubselect.Lateral
	case *pg_query.Node_RangeFunction:
		lateral = true
	}
	if lateral {
		r, c, err := q.planFromItem(left, it, ctes, left)
		return r, c, true, err
	}
	r, c, err := q.planFromItem(outer, it, ctes, nil)
	return r, c, false, err
}

// planFromItem plans one FROM item with outer as its enclosing scope.
func (q *qctx) planFromItem(outer *scope, it *pg_query.Node, ctes []*cte, lateralLeft *scope) (HRel, []scopeCol, error) {
	switch x := it.Node.(type) {
	case *pg_query.Node_RangeVar:
		return q.planRangeVar(outer, x.RangeVar, ctes)
	case *pg_query.Node_RangeSubselect:
		rs := x.RangeSubselect
		sel := rs.Subquery.GetSelectStmt()
		r, err := q.planQuery(outer, sel, ctes)
		if err != nil {
			return nil, nil, err
		}
		rel := r.applyFinishing()
		alias := ""
		var colAliases []*pg_query.Node
		if rs.Alias != nil {
			alias = rs.Alias.Aliasname
			colAliases = rs.Alias.Colnames
		}
		cols, err := aliasCols(alias, r.names, rel.Cols(), colAliases)
		return rel, cols, err
	case *pg_query.Node_JoinExpr:
		return q.planJoin(outer, x.JoinExpr, ctes)
	case *pg_query.Node_RangeFunction:
		return q.planRangeFunction(outer, x.RangeFunction)
	}
	return nil, nil, pgcode.New(pgcode.FeatureNotSupported, "FROM item %s is not supported", nodeTypeName(it))
}

func aliasCols(alias string, names []string, types []repr.ColumnType, colAliases []*pg_query.Node) ([]scopeCol, error) {
	if len(colAliases) > len(names) {
		return nil, pgcode.New(pgcode.InvalidColumnReference, "table %q has %d columns available but %d columns specified", alias, len(names), len(colAliases))
	}
	cols := make([]scopeCol, len(names))
	for i, n := range names {
		if i < len(colAliases) {
			n = colAliases[i].GetString_().GetSval()
		}
		cols[i] = scopeCol{table: alias, name: n, typ: types[i]}
	}
	return cols, nil
}

func (q *qctx) planRangeVar(outer *scope, rv *pg_query.RangeVar, ctes []*cte) (HRel, []scopeCol, error) {
	alias := rv.Relname
	var colAliases []*pg_query.Node
	if rv.Alias != nil {
		alias = rv.Alias.Aliasname
		colAliases = rv.Alias.Colnames
	}
	if rv.Schemaname == "" && rv.Catalogname == "" {
		sc := &scope{outer: outer, ctes: ctes}
		if c := sc.lookupCTE(rv.Relname); c != nil {
			var rel HRel
			if c.recursive {
				rel = HGet{Local: c.local, Name: c.name, Typ: c.typ}
			} else {
				rel = c.rel
				// The CTE was planned in the scope that defines it; a
				// reference from a deeper subquery sees enclosing scopes
				// one level further out per level of nesting.
				if d := cteDepth(outer, c); d > 0 {
					rel = shiftRel(rel, d)
				}
			}
			cols, err := aliasCols(alias, c.cols, c.typ, colAliases)
			return rel, cols, err
		}
	}
	if text, ok := q.sessionView(rv); ok {
		return q.planSessionView(outer, text, alias, colAliases)
	}
	item, err := q.scx.Catalog.ResolveItem(PartialName{Database: rv.Catalogname, Schema: rv.Schemaname, Item: rv.Relname}, q.scx.SearchPath())
	if err != nil {
		return nil, nil, q.errAt(err, rv.Location)
	}
	if !item.Kind.IsRelation() {
		return nil, nil, q.errAt(pgcode.New(pgcode.WrongObjectType, "%q is not a relation", rv.Relname).WithDetail("%q is a %s.", rv.Relname, item.Kind), rv.Location)
	}
	q.depends[item.ID] = true
	cols, err := aliasCols(alias, item.Desc.Names, item.Desc.Types, colAliases)
	if err != nil {
		return nil, nil, q.errAt(err, rv.Location)
	}
	if oc, ok := q.scx.Catalog.(OIDCatalog); ok {
		if o, err := oc.RelationOID(PartialName{Schema: item.Name.Schema, Item: item.Name.Item}, nil); err == nil {
			for i := range cols {
				cols[i].relOID, cols[i].attnum = o, int16(i+1)
			}
		}
	}
	return HGet{ID: item.ID, Name: item.Name.String(), Typ: item.Desc.Types, Keys: item.Desc.Keys}, cols, nil
}

// cteDepth counts the scopes between the enclosing scope of a reference
// and the enclosing scope the CTE's query was planned in (0 when
// referenced at its own level).
func cteDepth(from *scope, c *cte) int {
	d := 0
	for sc := from; sc != c.owner; sc = sc.outer {
		if sc == nil {
			return 0
		}
		d++
	}
	return d
}

func (q *qctx) planRangeFunction(outer *scope, rf *pg_query.RangeFunction) (HRel, []scopeCol, error) {
	if rf.IsRowsfrom || len(rf.Functions) != 1 {
		return nil, nil, pgcode.New(pgcode.FeatureNotSupported, "ROWS FROM is not supported")
	}
	fc := rf.Functions[0].GetList().GetItems()[0].GetFuncCall()
	if fc == nil {
		return nil, nil, pgcode.New(pgcode.FeatureNotSupported, "this function call in FROM is not supported")
	}
	name := funcName(fc.Funcname)
	// The arguments see no columns of their own: the left side of a
	// LATERAL join (or the enclosing query) is at level 1.
	e := &ectx{q: q, sc: &scope{outer: outer}, clause: "FROM"}
	args, err := e.planAll(fc.Args)
	if err != nil {
		return nil, nil, err
	}
	alias := name
	var colAliases []*pg_query.Node
	if rf.Alias != nil {
		alias = rf.Alias.Aliasname
		colAliases = rf.Alias.Colnames
	}
	var rel HRel
	var names []string
	var types []repr.ColumnType
	if expr.IsTableFunc(name) {
		ts := make([]repr.ScalarType, len(args))
		for i, a := range args {
			ts[i] = a.Typ().Type
		}
		tf, err := expr.LookupTableFunc(name, ts)
		if err != nil {
			return nil, nil, q.errAt(err, fc.Location)
		}
		if args, err = q.coerceTableFuncArgs(tf, args); err != nil {
			return nil, nil, q.errAt(err, fc.Location)
		}
		// Lateral: column references of the arguments point at the left
		// side (level 1 within the join's right input), already so since
		// the arguments were planned in the lateral scope.
		switch {
		case len(tf.Cols) == 1:
			names = []string{name}
		case len(tf.ColNames) == len(tf.Cols):
			names = tf.ColNames
		default:
			names = tableFuncColNames(name, len(tf.Cols))
		}
		if rf.Ordinality {
			tf = tf.WithOrdinality()
			names = append(names, "ordinality")
		}
		rel = HCallTable{Func: tf, Args: args}
		types = tf.Cols
	} else {
		// A scalar function in FROM is a one-row relation.
		h, err := e.callResolved(name, args, fc.Location)
		if err != nil {
			return nil, nil, err
		}
		rel = HMap{Input: unitRel(), Scalars: []HScalar{h}}
		names = []string{name}
		types = []repr.ColumnType{h.Typ()}
	}
	if rf.Ordinality && !expr.IsTableFunc(name) {
		return nil, nil, pgcode.New(pgcode.FeatureNotSupported, "WITH ORDINALITY of a scalar function is not supported")
	}
	if len(names) == 1 && len(colAliases) == 0 && rf.Alias != nil {
		names = []string{alias}
	}
	cols, err := aliasCols(alias, names, types, colAliases)
	return rel, cols, err
}

func tableFuncColNames(name string, n int) []string {
	switch name {
	case "jsonb_each", "jsonb_each_text":
		return []string{"key", "value"}
	}
	out := make([]string, n)
	for i := range out {
		out[i] = "column" + string(rune('1'+i))
	}
	return out
}

// planJoin plans JOIN ... ON / USING / NATURAL, and CROSS JOIN.
func (q *qctx) planJoin(outer *scope, j *pg_query.JoinExpr, ctes []*cte) (HRel, []scopeCol, error) {
	lrel, lcols, err := q.planFromItem(outer, j.Larg, ctes, nil)
	if err != nil {
		return nil, nil, err
	}
	left := &scope{cols: lcols, outer: outer, ctes: ctes, level: &levelAggs{clause: lateralClause}}
	rrel, rcols, lateral, err := q.planJoinRight(outer, j.Rarg, ctes, left)
	if err != nil {
		return nil, nil, err
	}
	kind := map[pg_query.JoinType]JoinKind{pg_query.JoinType_JOIN_INNER: JoinInner, pg_query.JoinType_JOIN_LEFT: JoinLeft,
		pg_query.JoinType_JOIN_RIGHT: JoinRight, pg_query.JoinType_JOIN_FULL: JoinFull}[j.Jointype]
	if lateral && (kind == JoinRight || kind == JoinFull) {
		return nil, nil, pgcode.New(pgcode.InvalidColumnReference, "the combining JOIN type must be INNER or LEFT for a LATERAL reference")
	}
	if err := checkDuplicateAliases(lcols, rcols); err != nil {
		return nil, nil, err
	}
	all := append(append([]scopeCol(nil), lcols...), rcols...)
	js := &scope{cols: all, outer: outer, ctes: ctes, level: &levelAggs{clause: "JOIN conditions"}}
	var using []string
	if j.IsNatural {
		for _, l := range lcols {
			for _, r := range rcols {
				if l.name == r.name && !l.hidden && !r.hidden {
					using = append(using, l.name)
				}
			}
		}
	}
	for _, u := range j.UsingClause {
		using = append(using, u.GetString_().GetSval())
	}
	var on HScalar = trueLit
	cols := all
	var rel HRel
	if j.IsNatural || len(j.UsingClause) > 0 {
		var conds []HScalar
		var merged []HScalar
		var mergedCols []scopeCol
		hide := map[int]bool{}
		for _, name := range using {
			li, ri := -1, -1
			for i, c := range lcols {
				if c.name == name && !c.hidden {
					if li >= 0 {
						return nil, nil, pgcode.New(pgcode.AmbiguousColumn, "common column name %q appears more than once in left table", name)
					}
					li = i
				}
			}
			for i, c := range rcols {
				if c.name == name && !c.hidden {
					if ri >= 0 {
						return nil, nil, pgcode.New(pgcode.AmbiguousColumn, "common column name %q appears more than once in right table", name)
					}
					ri = i
				}
			}
			if li < 0 {
				return nil, nil, pgcode.New(pgcode.UndefinedColumn, "column %q specified in USING clause does not exist in left table", name)
			}
			if ri < 0 {
				return nil, nil, pgcode.New(pgcode.UndefinedColumn, "column %q specified in USING clause does not exist in right table", name)
			}
			e := &ectx{q: q, sc: js, clause: "JOIN/USING"}
			lc := HColumn{Index: li, Type: lcols[li].typ}
			rc := HColumn{Index: len(lcols) + ri, Type: rcols[ri].typ}
			unified, t, err := q.unify([]HScalar{lc, rc}, "JOIN/USING")
			if err != nil {
				return nil, nil, err
			}
			eq, err := e.binaryOp("=", unified[0], unified[1], -1)
			if err != nil {
				return nil, nil, err
			}
			conds = append(conds, eq)
			var m HScalar
			switch kind {
			case JoinInner, JoinLeft:
				m = unified[0]
			case JoinRight:
				m = unified[1]
			default:
				f := *expr.FuncCoalesce
				f.Ret = t
				m = HCall{Func: &f, Args: unified}
			}
			merged = append(merged, m)
			mt := m.Typ()
			if kind == JoinLeft || kind == JoinFull {
				mt.Nullable = lcols[li].typ.Nullable || kind == JoinFull && rcols[ri].typ.Nullable
			}
			mc := scopeCol{name: name, typ: mt}
			if j.JoinUsingAlias != nil {
				// JOIN ... USING (a) AS x: x.a names the merged column.
				mc.table = j.JoinUsingAlias.Aliasname
			}
			mergedCols = append(mergedCols, mc)
			hide[li] = true
			hide[len(lcols)+ri] = true
		}
		if len(conds) > 0 {
			on = and(conds...)
		}
		join := HJoin{Left: lrel, Right: rrel, On: on, Kind: kind, Lateral: lateral}
		jc := join.Cols()
		n := len(jc)
		var outputs []int
		for i := range merged {
			outputs = append(outputs, n+i)
		}
		cols = append([]scopeCol(nil), mergedCols...)
		for i, c := range all {
			outputs = append(outputs, i)
			c.typ = jc[i]
			if hide[i] {
				c.hidden = true
			}
			cols = append(cols, c)
		}
		rel = HProject{Input: HMap{Input: join, Scalars: merged}, Outputs: outputs}
	} else {
		if j.Quals != nil {
			e := &ectx{q: q, sc: js, clause: "JOIN/ON"}
			if containsAgg(j.Quals) {
				return nil, nil, q.errAt(pgcode.New(pgcode.GroupingError, "aggregate functions are not allowed in JOIN conditions"), nodeLocation(j.Quals))
			}
			if on, err = e.planBool(j.Quals); err != nil {
				return nil, nil, err
			}
		}
		join := HJoin{Left: lrel, Right: rrel, On: on, Kind: kind, Lateral: lateral}
		jc := join.Cols()
		cols = make([]scopeCol, len(all))
		for i, c := range all {
			c.typ = jc[i]
			cols[i] = c
		}
		rel = join
	}
	if j.Alias != nil {
		for i := range cols {
			cols[i].table = j.Alias.Aliasname
			if i < len(j.Alias.Colnames) {
				cols[i].name = j.Alias.Colnames[i].GetString_().GetSval()
			}
		}
	}
	return rel, cols, nil
}
