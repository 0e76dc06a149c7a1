package sql

import (
	"fmt"
	"sort"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql/parse"
)

// Plan is a statement plan the coordinator executes: one of the *...Plan
// types of this package.
type Plan interface{ isPlan() }

// QueryPlan is a planned query: the MIR relation, the finishing applied
// when reading it, and the description of the rows the client sees.
type QueryPlan struct {
	// Expr computes the result (with hidden ORDER BY columns, if any).
	Expr plan.Rel
	// HIR is the query before decorrelation, for EXPLAIN HIR.
	HIR HRel
	// Finishing orders, limits and projects the rows of Expr.
	Finishing Finishing
	// Desc describes the rows after finishing.
	Desc repr.RelationDesc
	// DependsOn lists the catalog items the query reads.
	DependsOn []plan.GlobalID
	// Volatile is set when the query calls a volatile function (random()).
	Volatile bool
	// UsesMzNow is set when the query calls mz_now().
	UsesMzNow bool
}

// SelectPlan is a SELECT (or VALUES, TABLE, set operation).
type SelectPlan struct {
	Query QueryPlan
	// AsOf is the AS OF expression, nil when absent; AtLeast for AS OF AT
	// LEAST.
	AsOf    *TimestampExpr
	AtLeast bool
}

// TimestampExpr is a constant expression evaluated by the coordinator to a
// timestamp (AS OF, UP TO): mz_now() may appear in it.
type TimestampExpr struct {
	Expr plan.Rel // a one-row, one-column relation
	Text string
}

func (*SelectPlan) isPlan() {}

// PlanQuery plans a SELECT-like statement node (SelectStmt) into a
// QueryPlan. span locates the query in the statement text for error
// positions.
func PlanQuery(scx *StatementContext, span parse.Span, n *pg_query.Node, params []repr.Datum) (qp *QueryPlan, err error) {
	defer recoverInternal(&err)
	q := newQctx(scx, span)
	return q.planTopQuery(n, params, true)
}

func (q *qctx) planTopQuery(n *pg_query.Node, params []repr.Datum, finish bool) (*QueryPlan, error) {
	sel := n.GetSelectStmt()
	if sel == nil {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "%s is not a query", nodeTypeName(n))
	}
	q.params = params
	if finish {
		sel = regOutputAsText(sel)
	}
	r, err := q.planQuery(nil, sel, nil)
	if err != nil {
		return nil, err
	}
	hir := r.rel
	fin := r.finish
	if !finish {
		hir = r.applyFinishing()
		fin = Finishing{Limit: -1, Project: identity(len(hir.Cols()))}
	}
	l := &lowerer{q: q, params: params}
	mir, err := l.lowerTop(hir)
	if err != nil {
		return nil, err
	}
	cols := hir.Cols()
	desc := repr.RelationDesc{Keys: projectKeys(mir.Typ().Keys, fin.Project)}
	for i, p := range fin.Project {
		t := cols[p]
		if t.Type.Kind == repr.KindNull {
			t.Type = repr.TypeText
		}
		desc.Types = append(desc.Types, t)
		desc.Names = append(desc.Names, r.names[i])
		if i < len(r.origins) && r.origins[i] != (repr.ColumnOrigin{}) {
			if desc.Origins == nil {
				desc.Origins = make([]repr.ColumnOrigin, len(fin.Project))
			}
			desc.Origins[i] = r.origins[i]
		}
	}
	return &QueryPlan{Expr: mir, HIR: hir, Finishing: fin, Desc: desc, DependsOn: q.dependsOn(), Volatile: q.volatile, UsesMzNow: q.mzNow}, nil
}

// projectKeys maps unique keys through a projection, keeping those whose
// columns all survive it.
func projectKeys(keys [][]int, project []int) [][]int {
	pos := map[int]int{}
	for i, c := range project {
		if _, ok := pos[c]; !ok {
			pos[c] = i
		}
	}
	var out [][]int
	for _, k := range keys {
		var nk []int
		ok := true
		for _, c := range k {
			p, found := pos[c]
			if !found {
				ok = false
				break
			}
			nk = append(nk, p)
		}
		if ok {
			out = append(out, nk)
		}
	}
	return out
}

func (q *qctx) dependsOn() []plan.GlobalID {
	var ids []plan.GlobalID
	for id := range q.depends {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// recoverInternal turns a panic into an internal error so that none
// crosses the package boundary.
func recoverInternal(err *error) {
	if r := recover(); r != nil {
		*err = pgcode.New(pgcode.InternalError, "sql: internal error: %v", r)
	}
}

// PlanStatement plans one parsed statement. params are the values of $n,
// of the types in scx.ParamTypes. With nil params the statement is only
// described: scx.ParamTypes is filled in (parameters whose type nothing
// determines become text, as in PostgreSQL) and $n are NULL placeholders
// in the MIR, so the plan must be made again with values to execute.
func PlanStatement(scx *StatementContext, stmt parse.Statement, params []repr.Datum) (p Plan, err error) {
	defer recoverInternal(&err)
	if scx.Vars == nil {
		scx.Vars = map[string]string{}
	}
	p, err = planStatement(scx, stmt, params)
	for i, t := range scx.ParamTypes {
		if t.Kind == repr.KindNull {
			scx.ParamTypes[i] = repr.TypeText
		}
	}
	return p, err
}

func planStatement(scx *StatementContext, stmt parse.Statement, params []repr.Datum) (p Plan, err error) {
	switch s := stmt.(type) {
	case *parse.PG:
		return planPG(scx, s, params)
	case *parse.SelectAsOf:
		return planSelectAsOf(scx, s, params)
	case *parse.Subscribe:
		return planSubscribe(scx, s, params)
	case *parse.Explain:
		return planExplain(scx, s, params)
	case *parse.CreateConnection:
		return &CreateConnectionPlan{Name: s.Name, IfNotExists: s.IfNotExists, Type: s.Type, Options: s.Options, SQL: s.Text}, nil
	case *parse.CreateSource:
		return planCreateSource(scx, s)
	case *parse.CreateSecret:
		return &CreateSecretPlan{Name: s.Name, IfNotExists: s.IfNotExists, Value: s.Value, SQL: RedactedSecretSQL(s.Name)}, nil
	case *parse.CreateDefaultIndex:
		return planCreateDefaultIndex(scx, s)
	case *parse.CreateMaterializedView:
		return planCreateMaterializedView(scx, s, params)
	case *parse.DeclareSubscribe:
		sub, err := planSubscribe(scx, s.Subscribe, params)
		if err != nil {
			return nil, err
		}
		return &DeclarePlan{Name: s.Cursor, Subscribe: sub, Hold: s.Hold}, nil
	case *parse.Fetch:
		return planFetchExt(s)
	case *parse.Show:
		return planShow(scx, s)
	case *parse.Drop:
		d := &DropPlan{Kind: s.Kind, IfExists: s.IfExists, Cascade: s.Cascade}
		for _, n := range s.Names {
			pn, err := partialFromParts(n)
			if err != nil {
				return nil, err
			}
			d.Names = append(d.Names, pn)
		}
		return d, nil
	case *parse.AlterRename:
		pn, err := partialFromParts(s.Name)
		if err != nil {
			return nil, err
		}
		return &AlterRenamePlan{Kind: s.Kind, Name: pn, NewName: s.NewName, IfExists: s.IfExists}, nil
	case *parse.GrantOn:
		return planGrantOn(scx, s)
	case *parse.CopyTo:
		sub, err := planSubscribe(scx, s.Subscribe, params)
		if err != nil {
			return nil, err
		}
		return &CopyToPlan{Subscribe: sub, Options: s.Options}, nil
	}
	return nil, pgcode.New(pgcode.FeatureNotSupported, "statement %T is not supported", stmt)
}

func planSelectAsOf(scx *StatementContext, s *parse.SelectAsOf, params []repr.Datum) (Plan, error) {
	q := newQctx(scx, s.Query.Span)
	qp, err := q.planTopQuery(s.Query.Node, params, true)
	if err != nil {
		return nil, err
	}
	ts, err := planTimestampExpr(scx, s.AsOf.Expr, params)
	if err != nil {
		return nil, err
	}
	return &SelectPlan{Query: *qp, AsOf: ts, AtLeast: s.AsOf.AtLeast}, nil
}

// planTimestampExpr plans an AS OF / UP TO expression as a one-row
// constant query.
func planTimestampExpr(scx *StatementContext, x parse.Expr, params []repr.Datum) (*TimestampExpr, error) {
	q := newQctx(scx, x.Span)
	e := &ectx{q: q, sc: &scope{}, clause: "AS OF"}
	h, err := e.plan(x.Node)
	if err != nil {
		return nil, err
	}
	t := h.Typ().Type
	if !(t.Kind.IsNumeric() || t.Kind == repr.KindNull || t.Kind == repr.KindTimestamp || t.Kind == repr.KindTimestampTz) {
		return nil, pgcode.New(pgcode.DatatypeMismatch, "can't use type %s as a timestamp", t)
	}
	if t.Kind == repr.KindNull {
		if h, err = q.coerce(h, repr.TypeNumeric, 0, ""); err != nil {
			return nil, err
		}
	}
	l := &lowerer{q: q, params: params}
	rel, err := l.lowerTop(HMap{Input: unitRel(), Scalars: []HScalar{h}})
	if err != nil {
		return nil, err
	}
	return &TimestampExpr{Expr: rel, Text: x.Text}, nil
}

func nameParts(rv *pg_query.RangeVar) PartialName {
	return PartialName{Database: rv.Catalogname, Schema: rv.Schemaname, Item: rv.Relname}
}

func partialFromParts(parts []string) (PartialName, error) {
	switch len(parts) {
	case 1:
		return PartialName{Item: parts[0]}, nil
	case 2:
		return PartialName{Schema: parts[0], Item: parts[1]}, nil
	case 3:
		return PartialName{Database: parts[0], Schema: parts[1], Item: parts[2]}, nil
	}
	return PartialName{}, pgcode.New(pgcode.SyntaxError, "improper qualified name (too many dotted names)")
}

// String helpers for plans in tests.
func (p *SelectPlan) String() string { return fmt.Sprintf("Select %s", p.Query.Desc) }

// regOutputTypes are the object identifier types whose output function
// prints a name: viewd keeps them as oid, so a query's result columns of
// these types are printed through their text casts (x::regclass::text).
var regOutputTypes = map[string]bool{"regclass": true, "regtype": true, "regnamespace": true, "regrole": true, "regproc": true}

// regOutputAsText returns sel with each top-level result column of the
// form x::regclass (regtype, regnamespace, regrole, regproc) replaced by
// x::regclass::text under the name PostgreSQL gives the column, so that a
// client sees the object's name, as PostgreSQL's output functions print
// it (psql's \d prints "Referenced by: TABLE c ..." from
// conrelid::regclass). The column's type is text rather than regclass.
// Only the statement's own result is rewritten: views keep the oid.
func regOutputAsText(sel *pg_query.SelectStmt) *pg_query.SelectStmt {
	var out *pg_query.SelectStmt
	rewritten := map[int]bool{}
	for i, t := range sel.TargetList {
		rt := t.GetResTarget()
		if rt == nil || rt.Val.GetTypeCast() == nil {
			continue
		}
		tc := rt.Val.GetTypeCast()
		if tc.TypeName == nil || len(tc.TypeName.ArrayBounds) > 0 || !regOutputTypes[typeNameString(tc.TypeName)] {
			continue
		}
		if out == nil {
			out = proto.Clone(sel).(*pg_query.SelectStmt)
		}
		rewritten[i] = true
		name := rt.Name
		if name == "" {
			name = figureColname(rt.Val)
		}
		out.TargetList[i] = &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{
			Name:     name,
			Location: rt.Location,
			Val: &pg_query.Node{Node: &pg_query.Node_TypeCast{TypeCast: &pg_query.TypeCast{
				Arg:      rt.Val,
				TypeName: &pg_query.TypeName{Names: []*pg_query.Node{{Node: &pg_query.Node_String_{String_: &pg_query.String{Sval: "text"}}}}, Typemod: -1, Location: -1},
				Location: -1,
			}}},
		}}}
	}
	if out == nil {
		return sel
	}
	if len(sel.DistinctClause) == 0 && len(sel.GroupClause) == 0 && len(sel.SortClause) > 0 {
		// ORDER BY 2 or ORDER BY name of such a column still sorts by
		// the OID, as in PostgreSQL: the sort key is the original
		// expression. (Under DISTINCT or GROUP BY the key must be a
		// result or grouped column: there it sorts by the name.)
		for _, n := range out.SortClause {
			sb := n.GetSortBy()
			if sb == nil {
				continue
			}
			i := -1
			if c := sb.Node.GetAConst(); c != nil && c.GetIval() != nil {
				i = int(c.GetIval().Ival) - 1
			} else if cr := sb.Node.GetColumnRef(); cr != nil && len(cr.Fields) == 1 && cr.Fields[0].GetString_() != nil {
				for k, t := range out.TargetList {
					if t.GetResTarget() != nil && t.GetResTarget().Name == cr.Fields[0].GetString_().Sval {
						i = k
						break
					}
				}
			}
			if !rewritten[i] {
				continue
			}
			sb.Node = sel.TargetList[i].GetResTarget().Val
		}
	}
	return out
}
