package sql

import (
	"fmt"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// ectx is the context of planning one scalar expression.
type ectx struct {
	q  *qctx
	sc *scope
	// clause names the clause for "not allowed in" errors: "WHERE",
	// "JOIN conditions", "GROUP BY", "VALUES", ...
	clause string
	// agg, when set, plans the expression over the output of an
	// aggregation: aggregate calls are collected, group expressions map
	// to key columns, other column references are 42803.
	agg   *aggState
	inAgg bool
	// win, when set, allows window functions (the select list and ORDER
	// BY); they are collected and referenced by placeholder.
	win *winState
	// srf, when set, allows a set-returning function at the top.
	srf *srfState
}

func (e *ectx) with(f func(*ectx)) *ectx {
	c := *e
	f(&c)
	return &c
}

// aggState collects the grouping of an aggregate query.
type aggState struct {
	keys    []HScalar // group expressions over the pre-aggregation scope
	keyStrs []string
	aggs    []HAgg
	aggStrs []string
	// hasAggs is set when the query has aggregates or GROUP BY/HAVING.
	pre *scope
}

func (a *aggState) groupColumn(i int) (int, bool) {
	for k, e := range a.keys {
		if c, ok := e.(HColumn); ok && c.Level == 0 && c.Index == i {
			return k, true
		}
	}
	return 0, false
}

func (a *aggState) keyType(k int) repr.ColumnType { return a.keys[k].Typ() }

// winState collects window function calls of a select list.
type winState struct {
	calls []windowCall
}

type windowCall struct {
	fn          HWindowFunc
	partitionBy []HScalar
	orderBy     []HOrderKey
}

// hWinRef is a placeholder for the value of window call K, replaced by a
// column reference once the Window nodes are built.
type hWinRef struct {
	K    int
	Type repr.ColumnType
}

func (hWinRef) hscalar()               {}
func (e hWinRef) Typ() repr.ColumnType { return e.Type }

// srfState records a set-returning function called in a select list.
type srfState struct {
	calls []srfCall
}

type srfCall struct {
	fn   *expr.TableFunc
	args []HScalar
}

// hSRFRef is a placeholder for column Col of SRF call K.
type hSRFRef struct {
	K, Col int
	Type   repr.ColumnType
}

func (hSRFRef) hscalar()               {}
func (e hSRFRef) Typ() repr.ColumnType { return e.Type }

// wallClockFuncs read the statement's wall-clock time: their value changes
// with every read, so a maintained view cannot use them (mz_now() is the
// maintained alternative).
var wallClockFuncs = map[string]bool{
	"now": true, "current_timestamp": true, "current_date": true, "current_time": true,
	"localtime": true, "localtimestamp": true, "statement_timestamp": true,
	"transaction_timestamp": true, "clock_timestamp": true,
}

var aggFuncs = map[string]expr.AggregateFunc{
	"count": expr.AggCount, "sum": expr.AggSum, "avg": expr.AggAvg,
	"min": expr.AggMin, "max": expr.AggMax, "bool_and": expr.AggBoolAnd,
	"every": expr.AggBoolAnd, "bool_or": expr.AggBoolOr,
	"string_agg": expr.AggStringAgg, "array_agg": expr.AggArrayAgg,
	"jsonb_agg": expr.AggJsonbAgg, "jsonb_object_agg": expr.AggJsonbObjectAgg,
	"stddev": expr.AggStddevSamp, "stddev_samp": expr.AggStddevSamp,
	"stddev_pop": expr.AggStddevPop, "variance": expr.AggVarSamp,
	"var_samp": expr.AggVarSamp, "var_pop": expr.AggVarPop,
	"bit_and": expr.AggBitAnd, "bit_or": expr.AggBitOr, "bit_xor": expr.AggBitXor,
	"percentile_disc": expr.AggPercentileDisc, "percentile_cont": expr.AggPercentileCont,
	"mode": expr.AggMode,
}

var windowOnlyFuncs = map[string]bool{
	"row_number": true, "rank": true, "dense_rank": true, "lag": true, "lead": true,
	"first_value": true, "last_value": true, "ntile": false, "percent_rank": true, "cume_dist": true,
}

func funcName(names []*pg_query.Node) string {
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, n.GetString_().GetSval())
	}
	if len(parts) == 2 && (parts[0] == "pg_catalog" || parts[0] == "mz_catalog") {
		parts = parts[1:]
	}
	return strings.Join(parts, ".")
}

func lit(d repr.Datum, t repr.ScalarType) HLiteral {
	return HLiteral{Value: d, Type: repr.ColumnType{Type: t, Nullable: d.IsNull()}}
}

var trueLit = lit(repr.True, repr.TypeBool)
var falseLit = lit(repr.False, repr.TypeBool)

func nullLit(t repr.ScalarType) HLiteral {
	return HLiteral{Value: repr.Null, Type: repr.ColumnType{Type: t, Nullable: true}}
}

func and(args ...HScalar) HScalar {
	var flat []HScalar
	for _, a := range args {
		if c, ok := a.(HCall); ok && c.Func == expr.FuncAnd {
			flat = append(flat, c.Args...)
			continue
		}
		flat = append(flat, a)
	}
	if len(flat) == 1 {
		return flat[0]
	}
	return HCall{Func: expr.FuncAnd, Args: flat}
}

func or(args ...HScalar) HScalar {
	if len(args) == 1 {
		return args[0]
	}
	return HCall{Func: expr.FuncOr, Args: args}
}

func not(e HScalar) HScalar                    { return HCall{Func: expr.FuncNot, Args: []HScalar{e}} }
func isNull(e HScalar) HScalar                 { return HCall{Func: expr.FuncIsNull, Args: []HScalar{e}} }
func hcolumn(i int, t repr.ColumnType) HColumn { return HColumn{Index: i, Type: t} }

// plan plans an expression node.
func (e *ectx) plan(n *pg_query.Node) (HScalar, error) {
	if err := e.q.enterExpr(); err != nil {
		return nil, err
	}
	defer e.q.leaveExpr()
	if e.agg != nil && !e.inAgg {
		if r, ok, err := e.matchGroup(n); err != nil || ok {
			return r, err
		}
	}
	switch x := n.Node.(type) {
	case *pg_query.Node_ColumnRef:
		return e.columnRef(x.ColumnRef)
	case *pg_query.Node_AConst:
		return e.constant(x.AConst)
	case *pg_query.Node_ParamRef:
		return e.param(int(x.ParamRef.Number), x.ParamRef.Location)
	case *pg_query.Node_TypeCast:
		return e.typeCast(x.TypeCast)
	case *pg_query.Node_AExpr:
		return e.aExpr(x.AExpr)
	case *pg_query.Node_BoolExpr:
		return e.boolExpr(x.BoolExpr)
	case *pg_query.Node_NullTest:
		arg, err := e.plan(x.NullTest.Arg)
		if err != nil {
			return nil, err
		}
		if x.NullTest.Nulltesttype == pg_query.NullTestType_IS_NOT_NULL {
			return HCall{Func: expr.FuncIsNotNull, Args: []HScalar{arg}}, nil
		}
		return isNull(arg), nil
	case *pg_query.Node_BooleanTest:
		return e.booleanTest(x.BooleanTest)
	case *pg_query.Node_CaseExpr:
		return e.caseExpr(x.CaseExpr)
	case *pg_query.Node_CoalesceExpr:
		return e.coalesce(x.CoalesceExpr.Args)
	case *pg_query.Node_MinMaxExpr:
		name := "greatest"
		if x.MinMaxExpr.Op == pg_query.MinMaxOp_IS_LEAST {
			name = "least"
		}
		return e.callFunc(name, x.MinMaxExpr.Args, x.MinMaxExpr.Location)
	case *pg_query.Node_FuncCall:
		return e.funcCall(x.FuncCall)
	case *pg_query.Node_SubLink:
		return e.subLink(x.SubLink)
	case *pg_query.Node_SqlvalueFunction:
		return e.sqlValueFunction(x.SqlvalueFunction)
	case *pg_query.Node_AArrayExpr:
		return e.arrayExpr(x.AArrayExpr)
	case *pg_query.Node_RowExpr:
		return e.rowExpr(x.RowExpr.Args, x.RowExpr.Location)
	case *pg_query.Node_CollateClause:
		return e.plan(x.CollateClause.Arg)
	case *pg_query.Node_AIndirection:
		return e.indirection(x.AIndirection)
	}
	return nil, pgcode.New(pgcode.FeatureNotSupported, "expression %s is not supported", nodeTypeName(n))
}

// planAll plans a list of expressions.
func (e *ectx) planAll(ns []*pg_query.Node) ([]HScalar, error) {
	out := make([]HScalar, len(ns))
	for i, n := range ns {
		s, err := e.plan(n)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// planBool plans a condition and coerces it to boolean (42804 "argument of
// WHERE must be type boolean, not type integer").
func (e *ectx) planBool(n *pg_query.Node) (HScalar, error) {
	s, err := e.plan(n)
	if err != nil {
		return nil, err
	}
	return e.toBool(s, n)
}

func (e *ectx) toBool(s HScalar, n *pg_query.Node) (HScalar, error) {
	t := s.Typ().Type
	if t.Kind == repr.KindBool {
		return s, nil
	}
	if t.Kind == repr.KindNull {
		return e.q.coerce(s, repr.TypeBool, expr.Implicit, "")
	}
	return nil, e.q.errAt(pgcode.New(pgcode.DatatypeMismatch, "argument of %s must be type boolean, not type %s", e.clause, t), nodeLocation(n))
}

// matchGroup, in an aggregate query, maps an expression equal to a GROUP
// BY expression to its key column.
func (e *ectx) matchGroup(n *pg_query.Node) (HScalar, bool, error) {
	if len(e.agg.keys) == 0 {
		return nil, false, nil
	}
	if containsAggOrWindow(n) {
		return nil, false, nil
	}
	pre := &ectx{q: e.q, sc: e.agg.pre, clause: e.clause}
	saved := append([]repr.ScalarType(nil), e.q.scx.ParamTypes...)
	s, err := pre.plan(n)
	if err != nil {
		e.q.scx.ParamTypes = saved
		return nil, false, nil
	}
	str := hirScalarString(s)
	for k, ks := range e.agg.keyStrs {
		if ks == str {
			return HColumn{Index: k, Type: e.agg.keys[k].Typ()}, true, nil
		}
	}
	e.q.scx.ParamTypes = saved
	return nil, false, nil
}

func (e *ectx) columnRef(c *pg_query.ColumnRef) (HScalar, error) {
	var parts []string
	for _, f := range c.Fields {
		if f.GetAStar() != nil {
			return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "* is not supported in this position"), c.Location)
		}
		parts = append(parts, f.GetString_().GetSval())
	}
	var table, name string
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		table, name = parts[0], parts[1]
	case 3:
		table, name = parts[1], parts[2]
	default:
		return nil, e.q.errAt(pgcode.New(pgcode.SyntaxError, "improper qualified name (too many dotted names): %s", strings.Join(parts, ".")), c.Location)
	}
	level, idx, typ, err := e.sc.resolveColumn(table, name)
	if err != nil && name == "tableoid" && pgcode.Of(err) == pgcode.UndefinedColumn {
		// The system column: the relation's OID (clients join
		// pg_description.classoid = c.tableoid).
		if o, ok := e.sc.tableOID(table); ok {
			return lit(repr.OidDatum(o), repr.TypeOid), nil
		}
	}
	if err != nil {
		return nil, e.q.errAt(err, c.Location)
	}
	if level == 0 && e.agg != nil && !e.inAgg {
		ref := name
		if t := e.sc.cols[idx].table; t != "" {
			ref = t + "." + name
		}
		return nil, e.q.errAt(pgcode.New(pgcode.GroupingError, "column %q must appear in the GROUP BY clause or be used in an aggregate function", ref), c.Location)
	}
	return HColumn{Level: level, Index: idx, Type: typ}, nil
}

func (e *ectx) constant(c *pg_query.A_Const) (HScalar, error) {
	if c.Isnull {
		return nullLit(repr.TypeUnknown), nil
	}
	switch v := c.Val.(type) {
	case *pg_query.A_Const_Ival:
		return lit(repr.Int4Datum(v.Ival.Ival), repr.TypeInt4), nil
	case *pg_query.A_Const_Fval:
		l, err := numericLiteral(v.Fval.Fval)
		return l, e.q.errAt(err, c.Location)
	case *pg_query.A_Const_Boolval:
		return lit(repr.BoolDatum(v.Boolval.Boolval), repr.TypeBool), nil
	case *pg_query.A_Const_Sval:
		// An unknown-typed literal: the text, typed by its context.
		return HLiteral{Value: repr.TextDatum(v.Sval.Sval), Type: repr.ColumnType{Type: repr.TypeUnknown}}, nil
	case *pg_query.A_Const_Bsval:
		return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "bit string literals are not supported"), c.Location)
	}
	return nil, pgcode.New(pgcode.InternalError, "sql: unknown constant")
}

// maxParams is the most parameters a Bind message can carry (its count is
// 16 bits; PostgreSQL's PQ_QUERY_PARAM_MAX_LIMIT): $n past it cannot be
// given a value.
const maxParams = 65535

func (e *ectx) param(n int, loc int32) (HScalar, error) {
	// Past maxParams before growing ParamTypes to n: $100000000000 made
	// the planner allocate 100 billion entries (FuzzFrontEnd found it).
	if n < 1 || n > maxParams {
		return nil, e.q.errAt(pgcode.New(pgcode.UndefinedParameter, "there is no parameter $%d", n), loc)
	}
	for len(e.q.scx.ParamTypes) < n {
		e.q.scx.ParamTypes = append(e.q.scx.ParamTypes, repr.TypeUnknown)
	}
	for len(e.q.scx.ParamUses) < n {
		e.q.scx.ParamUses = append(e.q.scx.ParamUses, 0)
	}
	e.q.scx.ParamUses[n-1]++
	return HParam{N: n, Type: repr.ColumnType{Type: e.q.scx.ParamTypes[n-1], Nullable: true}}, nil
}

func (e *ectx) typeCast(tc *pg_query.TypeCast) (HScalar, error) {
	if s, ok, err := e.regCast(tc); ok {
		return s, err
	}
	t, err := resolveType(tc.TypeName)
	if err != nil {
		return nil, e.q.errAt(err, tc.TypeName.Location)
	}
	arg, err := e.plan(tc.Arg)
	if err != nil {
		return nil, err
	}
	r, err := e.q.coerce(arg, t, expr.Explicit, "")
	loc := tc.Location
	if tc.Arg.GetAConst() != nil {
		loc = nodeLocation(tc.Arg)
	}
	return r, e.q.errAt(err, loc)
}

func (e *ectx) boolExpr(b *pg_query.BoolExpr) (HScalar, error) {
	name := map[pg_query.BoolExprType]string{pg_query.BoolExprType_AND_EXPR: "AND", pg_query.BoolExprType_OR_EXPR: "OR", pg_query.BoolExprType_NOT_EXPR: "NOT"}[b.Boolop]
	args := make([]HScalar, len(b.Args))
	for i, a := range b.Args {
		s, err := e.plan(a)
		if err != nil {
			return nil, err
		}
		if s, err = e.with(func(c *ectx) { c.clause = name }).toBool(s, a); err != nil {
			return nil, err
		}
		args[i] = s
	}
	switch b.Boolop {
	case pg_query.BoolExprType_AND_EXPR:
		return and(args...), nil
	case pg_query.BoolExprType_OR_EXPR:
		return or(args...), nil
	}
	return not(args[0]), nil
}

func (e *ectx) booleanTest(b *pg_query.BooleanTest) (HScalar, error) {
	arg, err := e.planBool(b.Arg)
	if err != nil {
		return nil, err
	}
	isT := func(v HLiteral) HScalar {
		// x IS TRUE: x IS NOT NULL AND x = v, never NULL.
		return HIf{Cond: isNull(arg), Then: falseLit, Else: e.eqBool(arg, v)}
	}
	switch b.Booltesttype {
	case pg_query.BoolTestType_IS_TRUE:
		return isT(trueLit), nil
	case pg_query.BoolTestType_IS_NOT_TRUE:
		return not(isT(trueLit)), nil
	case pg_query.BoolTestType_IS_FALSE:
		return isT(falseLit), nil
	case pg_query.BoolTestType_IS_NOT_FALSE:
		return not(isT(falseLit)), nil
	case pg_query.BoolTestType_IS_UNKNOWN:
		return isNull(arg), nil
	}
	return not(isNull(arg)), nil
}

func (e *ectx) eqBool(a HScalar, v HLiteral) HScalar {
	if v.Value.Bool() {
		return a
	}
	return not(a)
}

// binaryOp resolves and applies a binary operator.
func (e *ectx) binaryOp(op string, l, r HScalar, loc int32) (HScalar, error) {
	lt, rt := l.Typ().Type, r.Typ().Type
	overloads := expr.LookupBinaryOp(op)
	types := []repr.ScalarType{lt, rt}
	// PostgreSQL's binary_oper_exact: an unknown operand is assumed to
	// have the other operand's type.
	if lt.Kind == repr.KindNull && rt.Kind != repr.KindNull {
		if res, err := expr.Resolve(op, overloads, []repr.ScalarType{rt, rt}); err == nil && res.ArgTypes[0].SameKind(rt) && res.ArgTypes[1].SameKind(rt) {
			types = []repr.ScalarType{rt, rt}
		}
	} else if rt.Kind == repr.KindNull && lt.Kind != repr.KindNull {
		if res, err := expr.Resolve(op, overloads, []repr.ScalarType{lt, lt}); err == nil && res.ArgTypes[0].SameKind(lt) && res.ArgTypes[1].SameKind(lt) {
			types = []repr.ScalarType{lt, lt}
		}
	}
	res, err := expr.Resolve(op, overloads, types)
	if err != nil {
		if pgcode.Of(err) == pgcode.UndefinedFunction || pgcode.Of(err) == pgcode.AmbiguousFunction {
			what := "does not exist"
			hint := "No operator matches the given name and argument types. You might need to add explicit type casts."
			if pgcode.Of(err) == pgcode.AmbiguousFunction {
				what = "is not unique"
				hint = "Could not choose a best candidate operator. You might need to add explicit type casts."
			}
			return nil, e.q.errAt(pgcode.New(pgcode.Of(err), "operator %s: %s %s %s", what, lt, op, rt).WithHint("%s", hint), loc)
		}
		return nil, e.q.errAt(err, loc)
	}
	if l, err = e.q.coerce(l, res.ArgTypes[0], expr.Implicit, ""); err != nil {
		return nil, e.q.errAt(err, loc)
	}
	if r, err = e.q.coerce(r, res.ArgTypes[1], expr.Implicit, ""); err != nil {
		return nil, e.q.errAt(err, loc)
	}
	if (op == "=" || strings.EqualFold(op, "IS NOT DISTINCT FROM")) && l.Typ().Type.Kind == repr.KindInterval && r.Typ().Type.Kind == repr.KindInterval {
		// Equal intervals may differ in their fields: compare spans, so
		// that a join on the equality keys on equal values.
		num := []repr.ScalarType{repr.TypeNumeric, repr.TypeNumeric}
		if eq, err := expr.Resolve(op, overloads, num); err == nil {
			return HCall{Func: eq.Func, Args: []HScalar{HCall{Func: intervalSpan, Args: []HScalar{l}}, HCall{Func: intervalSpan, Args: []HScalar{r}}}}, nil
		}
	}
	return HCall{Func: res.Func, Args: []HScalar{l, r}}, nil
}

func (e *ectx) unaryOp(op string, a HScalar, loc int32) (HScalar, error) {
	res, err := expr.Resolve(op, expr.LookupUnaryOp(op), []repr.ScalarType{a.Typ().Type})
	if err != nil {
		if pgcode.Of(err) == pgcode.UndefinedFunction {
			return nil, e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "operator does not exist: %s %s", op, a.Typ().Type).
				WithHint("No operator matches the given name and argument type. You might need to add an explicit type cast."), loc)
		}
		return nil, e.q.errAt(err, loc)
	}
	if a, err = e.q.coerce(a, res.ArgTypes[0], expr.Implicit, ""); err != nil {
		return nil, e.q.errAt(err, loc)
	}
	return HCall{Func: res.Func, Args: []HScalar{a}}, nil
}

func opName(names []*pg_query.Node) string {
	if len(names) == 0 {
		return ""
	}
	return names[len(names)-1].GetString_().GetSval()
}

func (e *ectx) aExpr(a *pg_query.A_Expr) (HScalar, error) {
	op := opName(a.Name)
	switch a.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP:
		if a.Lexpr == nil {
			r, err := e.plan(a.Rexpr)
			if err != nil {
				return nil, err
			}
			if op == "-" {
				// Fold -constant so that -2147483648 is an integer.
				if c := a.Rexpr.GetAConst(); c != nil && !c.Isnull {
					if iv := c.GetIval(); iv != nil {
						return lit(repr.Int4Datum(-iv.Ival), repr.TypeInt4), nil
					}
					if fv := c.GetFval(); fv != nil {
						l, err := numericLiteral("-" + fv.Fval)
						return l, e.q.errAt(err, a.Location)
					}
				}
			}
			return e.unaryOp(op, r, a.Location)
		}
		if lr, rr := a.Lexpr.GetRowExpr(), a.Rexpr.GetRowExpr(); lr != nil && rr != nil {
			l, err := e.planAll(lr.Args)
			if err != nil {
				return nil, err
			}
			r, err := e.planAll(rr.Args)
			if err != nil {
				return nil, err
			}
			return e.rowCompare(op, l, r, a.Location)
		}
		l, r, err := e.planPair(a)
		if err != nil {
			return nil, err
		}
		return e.binaryOp(op, l, r, a.Location)
	case pg_query.A_Expr_Kind_AEXPR_LIKE, pg_query.A_Expr_Kind_AEXPR_ILIKE:
		l, r, err := e.planPair(a)
		if err != nil {
			return nil, err
		}
		return e.binaryOp(op, l, r, a.Location)
	case pg_query.A_Expr_Kind_AEXPR_DISTINCT, pg_query.A_Expr_Kind_AEXPR_NOT_DISTINCT:
		l, r, err := e.planPair(a)
		if err != nil {
			return nil, err
		}
		eq, err := e.binaryOp("=", l, r, a.Location)
		if err != nil {
			return nil, err
		}
		// a IS NOT DISTINCT FROM b: both NULL, or neither NULL and equal.
		notDistinct := HIf{Cond: isNull(l), Then: isNull(r), Else: HIf{Cond: isNull(r), Then: falseLit, Else: eq}}
		if a.Kind == pg_query.A_Expr_Kind_AEXPR_DISTINCT {
			return not(notDistinct), nil
		}
		return notDistinct, nil
	case pg_query.A_Expr_Kind_AEXPR_NULLIF:
		l, r, err := e.planPair(a)
		if err != nil {
			return nil, err
		}
		eq, err := e.binaryOp("=", l, r, a.Location)
		if err != nil {
			return nil, err
		}
		// The result has the type the left operand is compared as;
		// interval equality compares spans (binaryOp), so look through
		// the span to the interval.
		arg := eq.(HCall).Args[0]
		if span, ok := arg.(HCall); ok && span.Func == intervalSpan {
			arg = span.Args[0]
		}
		t := arg.Typ().Type
		lc, err := e.q.coerce(l, t, expr.Implicit, "")
		if err != nil {
			return nil, err
		}
		return HIf{Cond: eq, Then: nullLit(t), Else: lc}, nil
	case pg_query.A_Expr_Kind_AEXPR_IN:
		l, err := e.plan(a.Lexpr)
		if err != nil {
			return nil, err
		}
		list := a.Rexpr.GetList().GetItems()
		items, err := e.planAll(list)
		if err != nil {
			return nil, err
		}
		all, _, err := e.q.unify(append([]HScalar{l}, items...), "IN")
		if err != nil {
			return nil, e.q.errAt(err, a.Location)
		}
		var ors []HScalar
		for _, it := range all[1:] {
			eq, err := e.binaryOp("=", all[0], it, a.Location)
			if err != nil {
				return nil, err
			}
			ors = append(ors, eq)
		}
		res := or(ors...)
		if op == "<>" {
			return not(res), nil
		}
		return res, nil
	case pg_query.A_Expr_Kind_AEXPR_BETWEEN, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN,
		pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM, pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM:
		x, err := e.plan(a.Lexpr)
		if err != nil {
			return nil, err
		}
		bounds := a.Rexpr.GetList().GetItems()
		lo, err := e.plan(bounds[0])
		if err != nil {
			return nil, err
		}
		hi, err := e.plan(bounds[1])
		if err != nil {
			return nil, err
		}
		ge, err := e.binaryOp(">=", x, lo, a.Location)
		if err != nil {
			return nil, err
		}
		le, err := e.binaryOp("<=", x, hi, a.Location)
		if err != nil {
			return nil, err
		}
		res := and(ge, le)
		if a.Kind == pg_query.A_Expr_Kind_AEXPR_BETWEEN_SYM || a.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			ge2, err := e.binaryOp(">=", x, hi, a.Location)
			if err != nil {
				return nil, err
			}
			le2, err := e.binaryOp("<=", x, lo, a.Location)
			if err != nil {
				return nil, err
			}
			res = or(res, and(ge2, le2))
		}
		if a.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN || a.Kind == pg_query.A_Expr_Kind_AEXPR_NOT_BETWEEN_SYM {
			return not(res), nil
		}
		return res, nil
	case pg_query.A_Expr_Kind_AEXPR_OP_ANY, pg_query.A_Expr_Kind_AEXPR_OP_ALL:
		// x op ANY (array): a quantified comparison over unnest(array).
		l, err := e.plan(a.Lexpr)
		if err != nil {
			return nil, err
		}
		arr, err := e.plan(a.Rexpr)
		if err != nil {
			return nil, err
		}
		if isUnknown(arr) {
			et := l.Typ().Type
			if et.Kind == repr.KindNull {
				et = repr.TypeText
			}
			if arr, err = e.q.coerce(arr, repr.ArrayOf(et), expr.Implicit, ""); err != nil {
				return nil, e.q.errAt(err, a.Location)
			}
		}
		if arr.Typ().Type.Kind != repr.KindArray {
			return nil, e.q.errAt(pgcode.New(pgcode.WrongObjectType, "op ANY/ALL (array) requires array on right side"), a.Location)
		}
		tf, err := expr.LookupTableFunc("unnest", []repr.ScalarType{arr.Typ().Type})
		if err != nil {
			return nil, e.q.errAt(err, a.Location)
		}
		if hasSubquery([]HScalar{arr}) {
			return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "subqueries in op ANY/ALL (array) are not supported"), a.Location)
		}
		isAll := a.Kind == pg_query.A_Expr_Kind_AEXPR_OP_ALL
		if (op == "=" && !isAll) || (op == "<>" && isAll) {
			// A scalar test, not a subquery: catalog queries join on
			// attnum = ANY (indkey).
			elem := *arr.Typ().Type.Elem
			if isUnknown(l) {
				if l, err = e.q.coerce(l, elem, expr.Implicit, ""); err != nil {
					return nil, e.q.errAt(err, a.Location)
				}
			}
			if k := l.Typ().Type.Kind; k == elem.Kind && bytewiseEquality(k) {
				res, err := e.callResolved("mz_eq_any", []HScalar{l, arr}, a.Location)
				if err != nil {
					return nil, err
				}
				if isAll {
					return not(res), nil
				}
				return res, nil
			}
		}
		rel := HCallTable{Func: tf, Args: []HScalar{shiftLevels(arr, 1)}}
		return e.quantified(op, []HScalar{l}, rel, isAll, a.Location)
	}
	return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "operator expression kind %s is not supported", a.Kind), a.Location)
}

func (e *ectx) caseExpr(c *pg_query.CaseExpr) (HScalar, error) {
	var arg HScalar
	var err error
	if c.Arg != nil {
		if arg, err = e.plan(c.Arg); err != nil {
			return nil, err
		}
	}
	var conds, results []HScalar
	var spans [][2]int // aggregates first registered by each WHEN ... THEN
	for _, w := range c.Args {
		cw := w.GetCaseWhen()
		first := e.aggCount()
		var cond HScalar
		if arg != nil {
			v, err := e.plan(cw.Expr)
			if err != nil {
				return nil, err
			}
			if cond, err = e.binaryOp("=", arg, v, cw.Location); err != nil {
				return nil, err
			}
		} else if cond, err = e.with(func(x *ectx) { x.clause = "CASE/WHEN" }).planBool(cw.Expr); err != nil {
			return nil, err
		}
		r, err := e.plan(cw.Result)
		if err != nil {
			return nil, err
		}
		conds = append(conds, cond)
		results = append(results, r)
		spans = append(spans, [2]int{first, e.aggCount()})
	}
	var def HScalar = nullLit(repr.TypeUnknown)
	defFirst := e.aggCount()
	if c.Defresult != nil {
		if def, err = e.plan(c.Defresult); err != nil {
			return nil, err
		}
	}
	spans = append(spans, [2]int{defFirst, e.aggCount()})
	all, _, err := e.q.unify(append(results, def), "CASE")
	if err != nil {
		return nil, e.q.errAt(err, c.Location)
	}
	// PostgreSQL folds a constant WHEN before aggregates are computed: a
	// branch never taken (WHEN false) does not compute its aggregates'
	// arguments (CASE WHEN false THEN max(1/0) ELSE 1 END is 1), and a
	// WHEN true drops the branches after it.
	var keptConds, keptResults, dropped []HScalar
	var droppedSpans [][2]int
	out := all[len(all)-1]
	for i, cond := range conds {
		truth, isConst := e.foldedBool(cond)
		switch {
		case !isConst:
			keptConds, keptResults = append(keptConds, cond), append(keptResults, all[i])
			continue
		case !truth:
			dropped, droppedSpans = append(dropped, all[i]), append(droppedSpans, spans[i])
			continue
		}
		// WHEN true: its result is the ELSE of the branches before it.
		dropped = append(dropped, out)
		droppedSpans = append(droppedSpans, spans[len(spans)-1])
		for j := i + 1; j < len(conds); j++ {
			dropped = append(dropped, conds[j], all[j])
			droppedSpans = append(droppedSpans, spans[j])
		}
		out = all[i]
		break
	}
	if len(dropped) > 0 {
		e.disarmAggregates(droppedSpans, append(append(keptConds, keptResults...), out))
	}
	for i := len(keptConds) - 1; i >= 0; i-- {
		out = HIf{Cond: keptConds[i], Then: keptResults[i], Else: out}
	}
	return out, nil
}

// aggCount is the number of aggregates registered so far (0 outside an
// aggregating query).
func (e *ectx) aggCount() int {
	if e.agg == nil {
		return 0
	}
	return len(e.agg.aggs)
}

// disarmAggregates makes the aggregates first registered in spans (index
// ranges of e.agg.aggs) harmless when no kept expression reads them: no
// argument, filter or ordering is evaluated (they aggregate nothing), and
// no later occurrence of the same aggregate reuses them. Their columns
// stay so that other aggregates keep their positions.
func (e *ectx) disarmAggregates(spans [][2]int, kept []HScalar) {
	if e.agg == nil {
		return
	}
	used := map[int]bool{}
	for _, k := range kept {
		rewriteHScalar(k, 0, func(s HScalar, depth int) HScalar {
			if c, ok := s.(HColumn); ok && c.Level == depth {
				used[c.Index-len(e.agg.keys)] = true
			}
			return s
		})
	}
	for _, sp := range spans {
		for i := sp[0]; i < sp[1]; i++ {
			if used[i] {
				continue
			}
			a := &e.agg.aggs[i]
			for j, arg := range a.Args {
				a.Args[j] = HLiteral{Value: repr.Null, Type: repr.ColumnType{Type: arg.Typ().Type, Nullable: true}}
			}
			a.Filter = HLiteral{Value: repr.False, Type: repr.ColumnType{Type: repr.TypeBool}}
			a.OrderBy = nil
			e.agg.aggStrs[i] = fmt.Sprintf("\x00folded %d", i)
		}
	}
}

// foldedBool evaluates a condition that reads nothing (no column,
// parameter, subquery, mz_now() or non-immutable function), as
// PostgreSQL's planner folds one; isConst is false for any other
// condition and for one whose evaluation fails (the error is left to
// run time). NULL is not true.
func (e *ectx) foldedBool(h HScalar) (truth, isConst bool) {
	isConst = true
	rewriteHScalar(h, 0, func(s HScalar, _ int) HScalar {
		switch x := s.(type) {
		case HColumn, HParam, HExists, HSelect, HMzNow, HError:
			isConst = false
		case HCall:
			if x.Func.Volatility != expr.Immutable {
				isConst = false
			}
		}
		return s
	})
	if !isConst {
		return false, false
	}
	sc, err := (&lowerer{q: e.q, params: e.q.params}).lowerPlainScalar(h, 0, colMap{})
	if err != nil {
		return false, false
	}
	d, err := expr.Eval(&expr.EvalCtx{}, sc, nil)
	if err != nil {
		return false, false
	}
	return !d.IsNull() && d.Bool(), true
}

func (e *ectx) coalesce(ns []*pg_query.Node) (HScalar, error) {
	args, err := e.planAll(ns)
	if err != nil {
		return nil, err
	}
	args, t, err := e.q.unify(args, "COALESCE")
	if err != nil {
		return nil, err
	}
	f := *expr.FuncCoalesce
	f.Ret = t
	return HCall{Func: &f, Args: args}, nil
}

func (e *ectx) sqlValueFunction(f *pg_query.SQLValueFunction) (HScalar, error) {
	name := map[pg_query.SQLValueFunctionOp]string{
		pg_query.SQLValueFunctionOp_SVFOP_CURRENT_DATE:      "current_date",
		pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIMESTAMP: "now",
		pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP:    "localtimestamp",
		pg_query.SQLValueFunctionOp_SVFOP_CURRENT_TIME:      "current_time",
		pg_query.SQLValueFunctionOp_SVFOP_LOCALTIME:         "localtime",
		pg_query.SQLValueFunctionOp_SVFOP_CURRENT_USER:      "current_user",
		pg_query.SQLValueFunctionOp_SVFOP_CURRENT_ROLE:      "current_user",
		pg_query.SQLValueFunctionOp_SVFOP_SESSION_USER:      "session_user",
		pg_query.SQLValueFunctionOp_SVFOP_USER:              "current_user",
		pg_query.SQLValueFunctionOp_SVFOP_CURRENT_CATALOG:   "current_database",
		pg_query.SQLValueFunctionOp_SVFOP_CURRENT_SCHEMA:    "current_schema",
	}[f.Op]
	switch name {
	case "current_user":
		return lit(repr.TextDatum(CurrentUser(e.q.scx.Vars)), repr.TypeText), nil
	case "session_user":
		return lit(repr.TextDatum(SessionUser(e.q.scx.Vars)), repr.TypeText), nil
	case "current_database":
		return lit(repr.TextDatum(e.q.scx.Catalog.DefaultDatabase()), repr.TypeText), nil
	case "current_schema":
		sp := e.q.scx.SearchPath()
		if len(sp) == 0 {
			return nullLit(repr.TypeText), nil
		}
		return lit(repr.TextDatum(sp[0]), repr.TypeText), nil
	case "":
		return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "%s is not supported", f.Op), f.Location)
	}
	return e.callResolved(name, nil, f.Location)
}

func (e *ectx) arrayExpr(a *pg_query.A_ArrayExpr) (HScalar, error) {
	elems, err := e.planAll(a.Elements)
	if err != nil {
		return nil, err
	}
	if len(elems) == 0 {
		return nil, e.q.errAt(pgcode.New(pgcode.IndeterminateDatatype, "cannot determine type of empty array").
			WithHint("Explicitly cast to the desired type, for example ARRAY[]::integer[]."), a.Location)
	}
	return e.callResolved("array", elems, a.Location)
}

func (e *ectx) rowExpr(args []*pg_query.Node, loc int32) (HScalar, error) {
	elems, err := e.planAll(args)
	if err != nil {
		return nil, err
	}
	return e.callResolved("row", elems, loc)
}

// callFunc plans the arguments and calls the function name.
func (e *ectx) callFunc(name string, ns []*pg_query.Node, loc int32) (HScalar, error) {
	args, err := e.planAll(ns)
	if err != nil {
		return nil, err
	}
	return e.callResolved(name, args, loc)
}

// callResolved resolves name over args and builds the call.
func (e *ectx) callResolved(name string, args []HScalar, loc int32) (HScalar, error) {
	overloads := expr.LookupFunc(name)
	types := make([]repr.ScalarType, len(args))
	for i, a := range args {
		types[i] = a.Typ().Type
	}
	if len(overloads) == 0 {
		return nil, e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function %s(%s) does not exist", name, typeList(types)).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), loc)
	}
	res, err := expr.Resolve(name, overloads, types)
	if err != nil {
		return nil, e.q.errAt(err, loc)
	}
	out := make([]HScalar, len(args))
	for i, a := range args {
		if out[i], err = e.q.coerce(a, res.ArgTypes[i], expr.Implicit, ""); err != nil {
			return nil, e.q.errAt(err, loc)
		}
	}
	if res.Func.Volatility == expr.Volatile {
		e.q.volatile = true
	}
	if wallClockFuncs[name] {
		e.q.wallClock = append(e.q.wallClock, name)
	}
	return HCall{Func: res.Func, Args: out}, nil
}

func typeList(ts []repr.ScalarType) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.String()
	}
	return strings.Join(parts, ", ")
}

// calledName is the function a call names: its json form's jsonb
// function for the json aliases (json_agg is jsonb_agg).
func calledName(f *pg_query.FuncCall) string {
	name := funcName(f.Funcname)
	if a, ok := jsonAliases[name]; ok && expr.LookupFunc(name) == nil {
		return a
	}
	return name
}

func (e *ectx) funcCall(f *pg_query.FuncCall) (HScalar, error) {
	name := calledName(f)
	if f.Over != nil {
		return e.windowCall(name, f)
	}
	if af, ok := aggFuncs[name]; ok {
		return e.aggregate(name, af, f)
	}
	if f.AggFilter != nil || f.AggDistinct || len(f.AggOrder) > 0 || f.AggStar {
		if windowOnlyFuncs[name] {
			return nil, e.q.errAt(pgcode.New(pgcode.WrongObjectType, "window function %s requires an OVER clause", name), f.Location)
		}
		return nil, e.q.errAt(pgcode.New(pgcode.WrongObjectType, "%s is not an aggregate function", name), f.Location)
	}
	if windowOnlyFuncs[name] {
		return nil, e.q.errAt(pgcode.New(pgcode.WrongObjectType, "window function %s requires an OVER clause", name), f.Location)
	}
	switch name {
	case "mz_now":
		if len(f.Args) != 0 {
			return nil, e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function mz_now() takes no arguments"), f.Location)
		}
		e.q.mzNow = true
		return HMzNow{}, nil
	case "coalesce":
		return e.coalesce(f.Args)
	case "pg_typeof":
		if len(f.Args) == 1 {
			return e.pgTypeof(f.Args[0])
		}
	case "nullif":
		if len(f.Args) == 2 {
			return e.aExpr(&pg_query.A_Expr{Kind: pg_query.A_Expr_Kind_AEXPR_NULLIF, Name: []*pg_query.Node{pg_query.MakeStrNode("=")}, Lexpr: f.Args[0], Rexpr: f.Args[1], Location: f.Location})
		}
	}
	if expr.IsTableFunc(name) {
		return e.tableFuncInSelect(name, f)
	}
	if s, ok, err := e.sessionFunc(name, f.Args, f.Location); ok {
		return s, err
	}
	if s, ok, err := e.callSQLImpl(name, f.Args, f.Location); ok {
		return s, err
	}
	return e.callFunc(name, f.Args, f.Location)
}

// pgTypeof is pg_typeof(x): the name of x's type, known when planning
// (PostgreSQL returns regtype, which prints as that name; viewd returns
// it as text). The argument is planned for its type only, so an error it
// would raise at run time is not raised, as in PostgreSQL.
func (e *ectx) pgTypeof(arg *pg_query.Node) (HScalar, error) {
	h, err := e.plan(arg)
	if err != nil {
		return nil, err
	}
	t := h.Typ().Type.WithoutTypmod()
	name := t.String()
	if h.Typ().Type.IsVector() {
		name = h.Typ().Type.String()
	}
	switch t.Kind {
	case repr.KindNull:
		name = "unknown"
	case repr.KindChar:
		name = "character"
	case repr.KindVarchar:
		name = "character varying"
	}
	return HLiteral{Value: repr.TextDatum(name), Type: repr.ColumnType{Type: repr.TypeText}}, nil
}

func (e *ectx) tableFuncInSelect(name string, f *pg_query.FuncCall) (HScalar, error) {
	if e.srf == nil {
		return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "set-returning functions are not allowed in %s", e.clause), f.Location)
	}
	srf := e.srf
	args, err := e.with(func(c *ectx) { c.srf = nil }).planAll(f.Args)
	if err != nil {
		return nil, err
	}
	types := make([]repr.ScalarType, len(args))
	for i, a := range args {
		types[i] = a.Typ().Type
	}
	tf, err := expr.LookupTableFunc(name, types)
	if err != nil {
		return nil, e.q.errAt(err, f.Location)
	}
	if args, err = e.q.coerceTableFuncArgs(tf, args); err != nil {
		return nil, e.q.errAt(err, f.Location)
	}
	srf.calls = append(srf.calls, srfCall{fn: tf, args: args})
	k := len(srf.calls) - 1
	if len(tf.Cols) == 1 {
		return hSRFRef{K: k, Col: 0, Type: tf.Cols[0]}, nil
	}
	// Several columns: a record of them, whose type names its fields
	// so that (f(...)).field and (alias.col).field find them.
	refs := make([]HScalar, len(tf.Cols))
	for i, c := range tf.Cols {
		refs[i] = hSRFRef{K: k, Col: i, Type: c}
	}
	rec, err := e.callResolved("row", refs, f.Location)
	if err != nil {
		return nil, err
	}
	call, ok := rec.(HCall)
	if !ok || len(tf.ColNames) != len(tf.Cols) {
		return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "%s with several output columns in the select list is not supported; call it in FROM", name), f.Location)
	}
	fn := *call.Func
	fn.Ret = repr.RecordTypeOf(tf.ColNames, tf.Cols)
	call.Func = &fn
	return call, nil
}

// aggregate plans an aggregate call: its arguments over the
// pre-aggregation scope, registered once per distinct call. A call whose
// arguments read only columns of enclosing levels belongs to the lowest
// of them (outerAggregate).
func (e *ectx) aggregate(name string, af expr.AggregateFunc, f *pg_query.FuncCall) (HScalar, error) {
	if level, sc := e.aggLevel(f); level > 0 {
		return e.outerAggregate(name, af, f, level, sc)
	}
	if e.agg == nil {
		return nil, e.q.errAt(pgcode.New(pgcode.GroupingError, "aggregate functions are not allowed in %s", e.clause), f.Location)
	}
	if e.inAgg {
		return nil, e.q.errAt(pgcode.New(pgcode.GroupingError, "aggregate function calls cannot be nested"), f.Location)
	}
	inner := &ectx{q: e.q, sc: e.agg.pre, clause: "aggregate function calls", agg: e.agg, inAgg: true}
	a := HAgg{Func: af, Distinct: f.AggDistinct}
	if af.OrderedSet() != f.AggWithinGroup {
		// No such function: PostgreSQL looks the call up with the direct
		// and WITHIN GROUP arguments together and finds none.
		var types []repr.ScalarType
		for _, n := range f.Args {
			h, err := inner.plan(n)
			if err != nil {
				return nil, err
			}
			types = append(types, h.Typ().Type)
		}
		for _, o := range f.AggOrder {
			h, err := inner.plan(o.GetSortBy().Node)
			if err != nil {
				return nil, err
			}
			types = append(types, h.Typ().Type)
		}
		return nil, e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function %s(%s) does not exist", name, typeList(types)).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), f.Location)
	}
	if af.OrderedSet() {
		if err := inner.orderedSetArgs(name, &a, f); err != nil {
			return nil, err
		}
	} else if f.AggStar {
		if name != "count" {
			return nil, e.q.errAt(pgcode.New(pgcode.SyntaxError, "%s(*) must be used to call a parameterless aggregate function", name), f.Location)
		}
		a.Func = expr.AggCountStar
		a.Typ = repr.ColumnType{Type: repr.TypeInt8}
	} else {
		args, err := inner.planAll(f.Args)
		if err != nil {
			return nil, err
		}
		want := 1
		if af == expr.AggStringAgg || af == expr.AggJsonbObjectAgg {
			want = 2
		}
		if len(args) != want {
			types := make([]repr.ScalarType, len(args))
			for i, x := range args {
				types[i] = x.Typ().Type
			}
			return nil, e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function %s(%s) does not exist", name, typeList(types)).
				WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), f.Location)
		}
		switch af {
		case expr.AggStringAgg:
			for i := range args {
				if isUnknown(args[i]) {
					args[i], _ = e.q.coerce(args[i], repr.TypeText, expr.Implicit, "")
				}
			}
			if !args[0].Typ().Type.Kind.IsString() || !args[1].Typ().Type.Kind.IsString() {
				return nil, e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function string_agg(%s, %s) does not exist", args[0].Typ().Type, args[1].Typ().Type), f.Location)
			}
		default:
			var err error
			if args[0], err = e.unknownAggArg(af, args[0]); err != nil {
				return nil, err
			}
		}
		t, err := expr.AggregateType(af, args[0].Typ().Type)
		if err != nil {
			return nil, e.q.errAt(err, f.Location)
		}
		a.Args = args
		a.Typ = repr.ColumnType{Type: t, Nullable: af != expr.AggCount}
	}
	if f.AggFilter != nil {
		flt, err := inner.with(func(c *ectx) { c.clause = "FILTER" }).planBool(f.AggFilter)
		if err != nil {
			return nil, err
		}
		a.Filter = flt
	}
	for _, o := range f.AggOrder {
		if af.OrderedSet() {
			break // the WITHIN GROUP order, planned by orderedSetArgs
		}
		sb := o.GetSortBy()
		k, err := inner.plan(sb.Node)
		if err != nil {
			return nil, err
		}
		a.OrderBy = append(a.OrderBy, HOrderKey{Expr: k, Order: sortOrder(sb)})
	}
	key := aggString(a)
	for i, s := range e.agg.aggStrs {
		if s == key {
			return HColumn{Index: len(e.agg.keys) + i, Type: a.Typ}, nil
		}
	}
	e.agg.aggs = append(e.agg.aggs, a)
	e.agg.aggStrs = append(e.agg.aggStrs, key)
	return HColumn{Index: len(e.agg.keys) + len(e.agg.aggs) - 1, Type: a.Typ}, nil
}

// orderedSetArgs plans an ordered-set aggregate's arguments: f(direct)
// WITHIN GROUP (ORDER BY x). percentile_disc(fraction) and
// percentile_cont(fraction) aggregate the record (x, fraction::float8),
// mode() aggregates x; both ordered by x in the WITHIN GROUP direction.
// percentile_cont reads numbers as float8 (it is defined for float8 and
// interval).
func (e *ectx) orderedSetArgs(name string, a *HAgg, f *pg_query.FuncCall) error {
	wantDirect := 1
	if a.Func == expr.AggMode {
		wantDirect = 0
	}
	if len(f.AggOrder) != 1 || len(f.Args) != wantDirect || f.AggDistinct {
		return e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function %s with %d direct and %d ordered arguments does not exist", name, len(f.Args), len(f.AggOrder)).
			WithHint("No function matches the given name and argument types. You might need to add explicit type casts."), f.Location)
	}
	sb := f.AggOrder[0].GetSortBy()
	x, err := e.plan(sb.Node)
	if err != nil {
		return err
	}
	if isUnknown(x) {
		if x, err = e.q.coerce(x, repr.TypeText, expr.Implicit, ""); err != nil {
			return err
		}
	}
	if a.Func == expr.AggPercentileCont && x.Typ().Type.Kind != repr.KindInterval {
		fx, err := e.q.coerce(x, repr.TypeFloat8, expr.Implicit, "")
		if err != nil {
			// x, not fx: coerce returns nil with its error.
			return e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function percentile_cont(double precision ORDER BY %s) does not exist", x.Typ().Type), f.Location)
		}
		x = fx
	}
	t, err := expr.AggregateType(a.Func, x.Typ().Type)
	if err != nil {
		return e.q.errAt(err, f.Location)
	}
	a.Args = []HScalar{x}
	if wantDirect == 1 {
		if containsAgg(f.Args[0]) {
			return e.q.errAt(pgcode.New(pgcode.GroupingError, "aggregate function calls cannot be nested"), nodeLocation(f.Args[0]))
		}
		frac, err := e.plan(f.Args[0])
		if err != nil {
			return err
		}
		if frac, err = e.q.coerce(frac, repr.TypeFloat8, expr.Implicit, ""); err != nil {
			return e.q.errAt(err, nodeLocation(f.Args[0]))
		}
		a.Args = append(a.Args, frac)
	}
	a.OrderBy = []HOrderKey{{Expr: x, Order: sortOrder(sb)}}
	a.Typ = repr.ColumnType{Type: t, Nullable: true}
	return nil
}

// andConjuncts splits a condition into its top-level AND operands.
func andConjuncts(n *pg_query.Node) []*pg_query.Node {
	if b := n.GetBoolExpr(); b != nil && b.Boolop == pg_query.BoolExprType_AND_EXPR {
		var out []*pg_query.Node
		for _, a := range b.Args {
			out = append(out, andConjuncts(a)...)
		}
		return out
	}
	return []*pg_query.Node{n}
}

// inAsExists plans lhs IN (subquery), in a context where NULL and false
// mean the same (a WHERE conjunct), as EXISTS (SELECT FROM subquery WHERE
// col = lhs).
func (e *ectx) inAsExists(s *pg_query.SubLink) (HScalar, error) {
	lhsNodes := []*pg_query.Node{s.Testexpr}
	if r := s.Testexpr.GetRowExpr(); r != nil {
		lhsNodes = r.Args
	}
	lhs, err := e.planAll(lhsNodes)
	if err != nil {
		return nil, err
	}
	rel, _, err := e.q.planSubquery(e.subScope(), s.Subselect)
	if err != nil {
		return nil, err
	}
	cols := rel.Cols()
	if len(cols) != len(lhs) {
		if len(cols) > len(lhs) {
			return nil, e.q.errAt(pgcode.New(pgcode.SyntaxError, "subquery has too many columns"), s.Location)
		}
		return nil, e.q.errAt(pgcode.New(pgcode.SyntaxError, "subquery has too few columns"), s.Location)
	}
	inner := make([]HScalar, len(cols))
	shifted := make([]HScalar, len(lhs))
	for i, c := range cols {
		inner[i] = HColumn{Index: i, Type: c}
		shifted[i] = shiftLevels(lhs[i], 1)
	}
	cmp, err := e.rowCompare("=", shifted, inner, s.Location)
	if err != nil {
		return nil, err
	}
	return HExists{Rel: HFilter{Input: rel, Preds: []HScalar{cmp}}}, nil
}

// rowCompare compares two rows of expressions: one pair is a plain
// comparison; = is the conjunction and <> the disjunction of the pairwise
// comparisons (PostgreSQL's row comparison for these operators).
func (e *ectx) rowCompare(op string, l, r []HScalar, loc int32) (HScalar, error) {
	if len(l) != len(r) {
		return nil, e.q.errAt(pgcode.New(pgcode.SyntaxError, "unequal number of entries in row expressions"), loc)
	}
	if len(l) == 1 {
		return e.binaryOp(op, l[0], r[0], loc)
	}
	if op != "=" && op != "<>" {
		return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "row comparison with %s is not supported", op), loc)
	}
	var parts []HScalar
	for i := range l {
		c, err := e.binaryOp(op, l[i], r[i], loc)
		if err != nil {
			return nil, err
		}
		parts = append(parts, c)
	}
	if op == "=" {
		return and(parts...), nil
	}
	return or(parts...), nil
}

// outerAggregate plans an aggregate call that belongs to the query level
// level scopes out, whose scope (as this expression sees it) is sc: into
// that level's aggregation when it is grouped, returning an outer
// reference to the aggregate's column. While that level is probed for
// such aggregates (levelAggs), the call is planned into a throwaway
// aggregation (for its type and errors) and recorded.
func (e *ectx) outerAggregate(name string, af expr.AggregateFunc, f *pg_query.FuncCall, level int, sc *scope) (HScalar, error) {
	g := sc.grouped
	if g == nil {
		lv := sc.level
		if lv == nil || !lv.probing {
			clause := e.clause
			if lv != nil {
				clause = lv.clause
			}
			return nil, e.q.errAt(pgcode.New(pgcode.GroupingError, "aggregate functions are not allowed in %s", clause), f.Location)
		}
		lv.found = true
		g = &aggState{pre: sc}
	}
	outer := &ectx{q: e.q, sc: g.pre, clause: e.clause, agg: g}
	h, err := outer.aggregate(name, af, f)
	if err != nil {
		return nil, err
	}
	c, ok := h.(HColumn)
	if !ok {
		return nil, e.q.errAt(pgcode.New(pgcode.InternalError, "sql: outer aggregate planned as %T", h), f.Location)
	}
	c.Level += level
	return c, nil
}

// aggLevel returns the query level an aggregate call planned in e
// belongs to (PostgreSQL's agglevelsup) and that level's scope: the
// lowest level among the columns its arguments, FILTER and ORDER BY read
// (0 when they read none). Columns read inside subqueries of those count
// too: when there are any, the arguments are planned here to find them.
func (e *ectx) aggLevel(f *pg_query.FuncCall) (int, *scope) {
	nodes := aggLevelNodes(f)
	level, sc := aggLevelOf(e.sc, nodes)
	if level == 0 || !containsSubLink(nodes) {
		return level, sc
	}
	if l, ok := e.plannedLevel(nodes); ok && l < level {
		level, sc = l, e.sc
		for i := 0; i < l; i++ {
			sc = sc.outer
		}
	}
	return level, sc
}

// aggLevelNodes returns the parts of an aggregate call that decide its
// level: its arguments (the WITHIN GROUP ones of an ordered-set
// aggregate), ORDER BY and FILTER.
func aggLevelNodes(f *pg_query.FuncCall) []*pg_query.Node {
	var nodes []*pg_query.Node
	if !f.AggWithinGroup {
		nodes = append(nodes, f.Args...)
	}
	for _, o := range f.AggOrder {
		nodes = append(nodes, o.GetSortBy().Node)
	}
	if f.AggFilter != nil {
		nodes = append(nodes, f.AggFilter)
	}
	return nodes
}

// plannedLevel plans nodes in e (undoing what that does to the qctx) and
// returns the lowest level of the columns they read, subqueries
// included; ok is false when they do not plan here, or when the
// statement has been planned again too often (maxAggReplans).
func (e *ectx) plannedLevel(nodes []*pg_query.Node) (level int, ok bool) {
	if e.q.aggReplans >= maxAggReplans {
		return 0, false
	}
	e.q.aggReplans++
	saved := e.q.save()
	defer e.q.restore(saved)
	pe := &ectx{q: e.q, sc: e.sc, clause: "aggregate function calls"}
	level = -1
	for _, n := range nodes {
		h, err := pe.plan(n)
		if err != nil {
			return 0, false
		}
		rewriteHScalar(h, 0, func(s HScalar, depth int) HScalar {
			if c, isCol := s.(HColumn); isCol && c.Level >= depth && (level < 0 || c.Level-depth < level) {
				level = c.Level - depth
			}
			return s
		})
	}
	if level < 0 {
		return 0, true
	}
	return level, true
}

// aggLevelOf returns the lowest level, from scope sc, of the columns nodes
// read outside subqueries (0 when none), and that level's scope. A column
// it cannot resolve makes it 0: planning the call reports it.
func aggLevelOf(sc *scope, nodes []*pg_query.Node) (int, *scope) {
	minLevel := -1
	ok := true
	for _, n := range nodes {
		walkNodes(n, func(x *pg_query.Node) bool {
			if !ok || x.GetSubLink() != nil {
				return false
			}
			cr := x.GetColumnRef()
			if cr == nil {
				return true
			}
			var parts []string
			for _, fl := range cr.Fields {
				parts = append(parts, fl.GetString_().GetSval())
			}
			table, name := "", parts[len(parts)-1]
			if len(parts) >= 2 {
				table = parts[len(parts)-2]
			}
			level, found := 0, false
			for s := sc; s != nil && !found; s = s.outer {
				for _, c := range s.cols {
					if (name == "" || c.name == name) && (table == "" && !c.hidden || c.table == table) {
						found = true
						break
					}
				}
				if !found {
					level++
				}
			}
			if !found {
				ok = false
			} else if minLevel < 0 || level < minLevel {
				minLevel = level
			}
			return true
		})
	}
	if !ok || minLevel <= 0 {
		return 0, sc
	}
	s := sc
	for i := 0; i < minLevel; i++ {
		s = s.outer
	}
	return minLevel, s
}

// sortOrder converts ASC/DESC and NULLS FIRST/LAST; PostgreSQL's default
// puts NULLs last ascending and first descending.
func sortOrder(sb *pg_query.SortBy) repr.SortOrder {
	o := repr.SortOrder{Desc: sb.SortbyDir == pg_query.SortByDir_SORTBY_DESC}
	switch sb.SortbyNulls {
	case pg_query.SortByNulls_SORTBY_NULLS_FIRST:
		o.NullsFirst = true
	case pg_query.SortByNulls_SORTBY_NULLS_LAST:
		o.NullsFirst = false
	default:
		o.NullsFirst = o.Desc
	}
	return o
}

// unknownAggArg resolves an aggregate's untyped literal argument as text,
// as PostgreSQL does for min('x') (count takes any type and needs none).
func (e *ectx) unknownAggArg(af expr.AggregateFunc, arg HScalar) (HScalar, error) {
	if !isUnknown(arg) || af == expr.AggCount {
		return arg, nil
	}
	return e.q.coerce(arg, repr.TypeText, expr.Implicit, "")
}

var windowFuncTypes = map[string]bool{"row_number": true, "rank": true, "dense_rank": true}

// windowCall plans f OVER (...).
func (e *ectx) windowCall(name string, f *pg_query.FuncCall) (HScalar, error) {
	if e.win == nil {
		return nil, e.q.errAt(pgcode.New(pgcode.WindowingError, "window functions are not allowed in %s", e.clause), f.Location)
	}
	if f.Over.Name != "" || f.Over.Refname != "" {
		return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "named windows are not supported"), f.Location)
	}
	w := e.win
	inner := e.with(func(c *ectx) { c.win = nil; c.srf = nil })
	call := windowCall{}
	var err error
	if call.partitionBy, err = inner.planAll(f.Over.PartitionClause); err != nil {
		return nil, err
	}
	for _, o := range f.Over.OrderClause {
		sb := o.GetSortBy()
		k, err := inner.plan(sb.Node)
		if err != nil {
			return nil, err
		}
		call.orderBy = append(call.orderBy, HOrderKey{Expr: k, Order: sortOrder(sb)})
	}
	fn := HWindowFunc{Name: name}
	if fn.Frame, err = inner.windowFrame(f.Over, call.orderBy); err != nil {
		return nil, err
	}
	switch name {
	case "row_number", "rank", "dense_rank":
		if len(f.Args) != 0 {
			return nil, e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function %s with arguments does not exist", name), f.Location)
		}
		fn.Typ = repr.ColumnType{Type: repr.TypeInt8}
	case "percent_rank", "cume_dist":
		if len(f.Args) != 0 {
			return nil, e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function %s with arguments does not exist", name), f.Location)
		}
		fn.Typ = repr.ColumnType{Type: repr.TypeFloat8}
	case "lag", "lead", "first_value", "last_value":
		args, err := inner.planAll(f.Args)
		if err != nil {
			return nil, err
		}
		if len(args) == 0 || len(args) > 3 || ((name == "first_value" || name == "last_value") && len(args) != 1) {
			return nil, e.q.errAt(pgcode.New(pgcode.UndefinedFunction, "function %s does not exist with %d arguments", name, len(args)), f.Location)
		}
		if len(args) >= 2 {
			if args[1], err = e.q.coerce(args[1], repr.TypeInt4, expr.Implicit, ""); err != nil {
				return nil, e.q.errAt(err, f.Location)
			}
		}
		if len(args) == 3 {
			all, _, err := e.q.unify([]HScalar{args[0], args[2]}, name)
			if err != nil {
				return nil, e.q.errAt(err, f.Location)
			}
			args[0], args[2] = all[0], all[1]
		} else if isUnknown(args[0]) {
			args[0], _ = e.q.coerce(args[0], repr.TypeText, expr.Implicit, "")
		}
		fn.Args = args
		fn.Typ = repr.ColumnType{Type: args[0].Typ().Type, Nullable: true}
	default:
		af, ok := aggFuncs[name]
		if !ok {
			return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "window function %s is not supported", name), f.Location)
		}
		a := HAgg{Func: af, Distinct: f.AggDistinct}
		if f.AggDistinct {
			return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "DISTINCT is not implemented for window functions"), f.Location)
		}
		if f.AggStar {
			a.Func = expr.AggCountStar
			a.Typ = repr.ColumnType{Type: repr.TypeInt8}
		} else {
			args, err := inner.planAll(f.Args)
			if err != nil {
				return nil, err
			}
			if len(args) != 1 {
				return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "window aggregate %s with %d arguments is not supported", name, len(args)), f.Location)
			}
			if args[0], err = e.unknownAggArg(af, args[0]); err != nil {
				return nil, err
			}
			t, err := expr.AggregateType(af, args[0].Typ().Type)
			if err != nil {
				return nil, e.q.errAt(err, f.Location)
			}
			a.Args = args
			a.Typ = repr.ColumnType{Type: t, Nullable: af != expr.AggCount}
		}
		if f.AggFilter != nil {
			// agg(x) FILTER (WHERE p) is agg(CASE WHEN p THEN x END):
			// the window aggregates (count, sum, avg, min, max) skip
			// NULLs; count(*) counts CASE WHEN p THEN 1 END.
			flt, err := inner.with(func(c *ectx) { c.clause = "FILTER" }).planBool(f.AggFilter)
			if err != nil {
				return nil, err
			}
			if a.Func == expr.AggCountStar {
				a.Func = expr.AggCount
				a.Args = []HScalar{lit(repr.Int4Datum(1), repr.TypeInt4)}
			}
			x := a.Args[0]
			a.Args = []HScalar{HIf{Cond: flt, Then: x, Else: nullLit(x.Typ().Type)}}
		}
		fn.Agg = &a
		fn.Typ = a.Typ
	}
	call.fn = fn
	w.calls = append(w.calls, call)
	return hWinRef{K: len(w.calls) - 1, Type: fn.Typ}, nil
}

// subLink plans EXISTS, scalar, IN/ANY/ALL subqueries.
func (e *ectx) subLink(s *pg_query.SubLink) (HScalar, error) {
	sub := e.subScope()
	switch s.SubLinkType {
	case pg_query.SubLinkType_EXISTS_SUBLINK:
		rel, _, err := e.q.planSubquery(sub, s.Subselect)
		if err != nil {
			return nil, err
		}
		return HExists{Rel: rel}, nil
	case pg_query.SubLinkType_EXPR_SUBLINK:
		rel, names, err := e.q.planSubquery(sub, s.Subselect)
		if err != nil {
			return nil, err
		}
		cols := rel.Cols()
		if len(cols) != 1 {
			return nil, e.q.errAt(pgcode.New(pgcode.SyntaxError, "subquery must return only one column"), s.Location)
		}
		_ = names
		t := cols[0]
		t.Nullable = true
		return HSelect{Rel: rel, Type: t}, nil
	case pg_query.SubLinkType_ANY_SUBLINK, pg_query.SubLinkType_ALL_SUBLINK:
		op := "="
		if len(s.OperName) > 0 {
			op = opName(s.OperName)
		}
		// (a, b) IN (SELECT x, y ...) compares rows.
		lhsNodes := []*pg_query.Node{s.Testexpr}
		if r := s.Testexpr.GetRowExpr(); r != nil {
			lhsNodes = r.Args
		}
		lhs, err := e.planAll(lhsNodes)
		if err != nil {
			return nil, err
		}
		rel, _, err := e.q.planSubquery(sub, s.Subselect)
		if err != nil {
			return nil, err
		}
		cols := rel.Cols()
		if len(cols) != len(lhs) {
			if len(cols) > len(lhs) {
				return nil, e.q.errAt(pgcode.New(pgcode.SyntaxError, "subquery has too many columns"), s.Location)
			}
			return nil, e.q.errAt(pgcode.New(pgcode.SyntaxError, "subquery has too few columns"), s.Location)
		}
		return e.quantified(op, lhs, rel, s.SubLinkType == pg_query.SubLinkType_ALL_SUBLINK, s.Location)
	case pg_query.SubLinkType_ARRAY_SUBLINK:
		// ARRAY(subquery): array_agg of its column, {} over no rows.
		sel := s.Subselect.GetSelectStmt()
		rel, _, err := e.q.planSubquery(sub, s.Subselect)
		if err != nil {
			return nil, err
		}
		cols := rel.Cols()
		if len(cols) != 1 {
			return nil, e.q.errAt(pgcode.New(pgcode.SyntaxError, "subquery must return only one column"), s.Location)
		}
		et := cols[0].Type
		if et.Kind == repr.KindNull {
			et = repr.TypeText
		}
		at, err := expr.AggregateType(expr.AggArrayAgg, et)
		if err != nil {
			return nil, e.q.errAt(err, s.Location)
		}
		agg := HAgg{Func: expr.AggArrayAgg, Args: []HScalar{HColumn{Index: 0, Type: cols[0]}}, Typ: repr.ColumnType{Type: at, Nullable: true}}
		// The subquery's ORDER BY orders the array's elements.
		if sel != nil && len(sel.SortClause) > 0 && sel.LimitCount == nil && sel.LimitOffset == nil && sel.Op == pg_query.SetOperation_SETOP_NONE {
			r, err := e.q.planQuery(sub, sel, nil)
			if err != nil {
				return nil, err
			}
			for _, o := range r.finish.Order {
				agg.OrderBy = append(agg.OrderBy, HOrderKey{Expr: HColumn{Index: o.Column, Type: r.rel.Cols()[o.Column]}, Order: o.Order})
			}
			agg.Args = []HScalar{HColumn{Index: r.finish.Project[0], Type: cols[0]}}
			rel = r.rel
		}
		empty, err := repr.ParseText("{}", at)
		if err != nil {
			return nil, e.q.errAt(err, s.Location)
		}
		arr := HColumn{Index: 0, Type: agg.Typ}
		f := *expr.FuncCoalesce
		f.Ret = at
		val := HCall{Func: &f, Args: []HScalar{arr, HLiteral{Value: empty, Type: repr.ColumnType{Type: at}}}}
		red := HReduce{Input: rel, Aggs: []HAgg{agg}}
		return HSelect{Rel: HProject{Input: HMap{Input: red, Scalars: []HScalar{val}}, Outputs: []int{1}}, Type: repr.ColumnType{Type: at}}, nil
	}
	return nil, e.q.errAt(pgcode.New(pgcode.FeatureNotSupported, "subquery kind %s is not supported", s.SubLinkType), s.Location)
}

// subScope is the scope a subquery in this expression sees as its outer
// scope: the FROM scope, or the aggregation's output in an aggregate
// query. A scope that follows no aggregates of its level (levelAggs) gets
// a state naming this clause, so that such an aggregate in the subquery
// is refused with it ("aggregate functions are not allowed in UPDATE").
func (e *ectx) subScope() *scope {
	if e.agg != nil && !e.inAgg {
		g := *e.agg.pre
		g.grouped = e.agg
		return &g
	}
	if e.sc.level == nil {
		sc := *e.sc
		sc.level = &levelAggs{clause: e.clause}
		return &sc
	}
	return e.sc
}

// shiftLevels adds d to the level of every column reference of e that
// points at or beyond the expression's own scope (used when an
// expression moves into a subquery).
func shiftLevels(e HScalar, d int) HScalar {
	return rewriteHScalar(e, 0, func(s HScalar, depth int) HScalar {
		if c, ok := s.(HColumn); ok && c.Level >= depth {
			c.Level += d
			return c
		}
		return s
	})
}

// rewriteHScalar rewrites e bottom-up; depth counts the subquery levels
// entered (column references at Level >= depth point outside them).
func rewriteHScalar(e HScalar, depth int, f func(HScalar, int) HScalar) HScalar {
	switch x := e.(type) {
	case HCall:
		args := make([]HScalar, len(x.Args))
		for i, a := range x.Args {
			args[i] = rewriteHScalar(a, depth, f)
		}
		return f(HCall{Func: x.Func, Args: args}, depth)
	case HIf:
		return f(HIf{Cond: rewriteHScalar(x.Cond, depth, f), Then: rewriteHScalar(x.Then, depth, f), Else: rewriteHScalar(x.Else, depth, f)}, depth)
	case HExists:
		return f(HExists{Rel: rewriteHRelScalars(x.Rel, depth+1, f)}, depth)
	case HSelect:
		return f(HSelect{Rel: rewriteHRelScalars(x.Rel, depth+1, f), Type: x.Type}, depth)
	}
	return f(e, depth)
}

func nodeTypeName(n *pg_query.Node) string {
	if n == nil || n.Node == nil {
		return "nil"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", n.Node), "*pg_query.Node_")
}

// quantified plans lhs op ANY|ALL (rel), rel having one column: a scalar
// subquery over rel computing the three-valued result.
func (e *ectx) quantified(op string, lhs []HScalar, rel HRel, isAll bool, loc int32) (HScalar, error) {
	cols := rel.Cols()
	inner := make([]HScalar, len(cols))
	for i, c := range cols {
		inner[i] = HColumn{Index: i, Type: c}
	}
	shifted := make([]HScalar, len(lhs))
	for i, l := range lhs {
		shifted[i] = shiftLevels(l, 1)
	}
	cmp, err := e.rowCompare(op, shifted, inner, loc)
	if err != nil {
		return nil, err
	}
	if cmp.Typ().Type.Kind != repr.KindBool {
		return nil, e.q.errAt(pgcode.New(pgcode.DatatypeMismatch, "op ANY/ALL (array) requires operator to yield boolean"), loc)
	}
	_, overArray := rel.(HCallTable)
	if len(lhs) == 1 && !overArray && !hasSubquery(lhs) && (op == "=" && !isAll || op == "<>" && isAll) {
		// x IN (subquery) and x NOT IN (subquery) (= x <> ALL):
		// membership is an equality, so decorrelate it as one (a join
		// on x) instead of comparing x with every row of the subquery
		// (a product of x's distinct values with it). Over an array
		// (unnest, per row anyway) the comparison stays as it is.
		eq := cmp
		if op != "=" {
			if eq, err = e.rowCompare("=", shifted, inner, loc); err != nil {
				return nil, err
			}
		}
		in := membership(lhs[0], inner[0], eq, rel)
		if isAll {
			return not(in), nil
		}
		return in, nil
	}
	// Over the comparisons: ANY is true if one is true, else NULL if
	// one is NULL, else false (also over no rows); ALL is false if one
	// is false, else NULL if one is NULL, else true. Aggregates skip
	// NULLs, so count(*) and count(cmp) detect them.
	all := isAll
	af := expr.AggBoolOr
	if all {
		af = expr.AggBoolAnd
	}
	mapped := HMap{Input: rel, Scalars: []HScalar{cmp}}
	boolT := repr.ColumnType{Type: repr.TypeBool, Nullable: true}
	int8T := repr.ColumnType{Type: repr.TypeInt8}
	cmpCol := HColumn{Index: 0, Type: cmp.Typ()}
	red := HReduce{Input: HProject{Input: mapped, Outputs: []int{len(cols)}}, Aggs: []HAgg{
		{Func: af, Args: []HScalar{cmpCol}, Typ: boolT},
		{Func: expr.AggCountStar, Typ: int8T},
		{Func: expr.AggCount, Args: []HScalar{cmpCol}, Typ: int8T},
	}}
	agg, nRows, nNonNull := HColumn{Index: 0, Type: boolT}, HColumn{Index: 1, Type: int8T}, HColumn{Index: 2, Type: int8T}
	hasNull, err := e.binaryOp("<", nNonNull, nRows, loc)
	if err != nil {
		return nil, err
	}
	// decided: ANY found a true (bool_or true); ALL found a false
	// (bool_and false).
	decided := HScalar(HIf{Cond: isNull(agg), Then: falseLit, Else: agg})
	var val HScalar
	if all {
		decided = HIf{Cond: isNull(agg), Then: falseLit, Else: not(agg)}
		val = HIf{Cond: decided, Then: falseLit, Else: HIf{Cond: hasNull, Then: nullLit(repr.TypeBool), Else: trueLit}}
	} else {
		val = HIf{Cond: decided, Then: trueLit, Else: HIf{Cond: hasNull, Then: nullLit(repr.TypeBool), Else: falseLit}}
	}
	// Over no rows the global aggregate yields bool NULL and counts 0:
	// hasNull is false, so ANY gives false and ALL true.
	sel := HProject{Input: HMap{Input: red, Scalars: []HScalar{val}}, Outputs: []int{3}}
	return HSelect{Rel: sel, Type: boolT}, nil
}

// membership is x IN (rel), rel having the one column col, with SQL's
// three-valued result from three EXISTS subqueries: whether a row equals
// x (eq, the comparison x = col, correlated by x only), whether rel has a
// NULL, and whether it has any row. It is NULL when x is NULL and rel is
// not empty, true when a row equals x, else NULL when rel has a NULL,
// else false. The first is decorrelated as a join on x's value; the
// others read no outer column and are computed once.
func membership(x, col, eq HScalar, rel HRel) HScalar {
	found := HExists{Rel: HFilter{Input: rel, Preds: []HScalar{eq}}}
	hasNull := HExists{Rel: HFilter{Input: rel, Preds: []HScalar{isNull(col)}}}
	nonEmpty := HExists{Rel: rel}
	null := nullLit(repr.TypeBool)
	return HIf{
		Cond: isNull(x),
		Then: HIf{Cond: nonEmpty, Then: null, Else: falseLit},
		Else: HIf{Cond: found, Then: trueLit, Else: HIf{Cond: hasNull, Then: null, Else: falseLit}},
	}
}

// planPair plans the two operands of a binary A_Expr.
func (e *ectx) planPair(a *pg_query.A_Expr) (HScalar, HScalar, error) {
	l, err := e.plan(a.Lexpr)
	if err != nil {
		return nil, nil, err
	}
	r, err := e.plan(a.Rexpr)
	if err != nil {
		return nil, nil, err
	}
	return l, r, nil
}

// coerceTableFuncArgs casts a table function's arguments to the types of
// the overload chosen (generate_series(0, 0.5) is the numeric series: its
// 0 must reach it as a numeric, not an integer).
func (q *qctx) coerceTableFuncArgs(tf *expr.TableFunc, args []HScalar) ([]HScalar, error) {
	if len(tf.ArgTypes) != len(args) {
		return args, nil
	}
	out := args
	for i, a := range args {
		want := tf.ArgTypes[i]
		if a.Typ().Type.Equal(want) {
			continue
		}
		c, err := q.coerce(a, want, expr.Implicit, "")
		if err != nil {
			return nil, err
		}
		if &out[0] == &args[0] {
			out = append([]HScalar(nil), args...)
		}
		out[i] = c
	}
	return out, nil
}
