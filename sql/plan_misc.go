package sql

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	"google.golang.org/protobuf/proto"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql/parse"
)

// SubscribePlan is SUBSCRIBE to an object or a query.
type SubscribePlan struct {
	// Object is set when subscribing to a catalog item; Query otherwise
	// (for an object, Query reads it).
	Object   *CatalogItem
	Query    QueryPlan
	Snapshot bool // default true
	Progress bool
	Options  []parse.Option
	AsOf     *TimestampExpr
	AtLeast  bool
	UpTo     *TimestampExpr
}

// ExplainPlan is EXPLAIN [stage] stmt: the inner statement's plan and
// the text of each stage the planner produces (HIR and decorrelated MIR;
// the coordinator renders the optimised and LIR stages with plan/).
type ExplainPlan struct {
	Stage string
	Inner Plan
	// Query is the explained query (nil for statements without one).
	Query *QueryPlan
}

// Text returns the HIR ("raw", "hir") or MIR ("decorrelated", "mir")
// text of the explained query; ok is false for other stages.
func (p *ExplainPlan) Text() (string, bool) {
	if p.Query == nil {
		return "", false
	}
	switch p.Stage {
	case "raw", "hir":
		return HIRString(p.Query.HIR), true
	case "decorrelated", "mir":
		return plan.Explain(p.Query.Expr), true
	}
	return "", false
}

// SetVariablePlan is SET [LOCAL] name = value | TO DEFAULT, SET TIME ZONE.
type SetVariablePlan struct {
	Name  string
	Value []string // the values as text (SET search_path TO a, b)
	Local bool
	// Default is SET name TO DEFAULT.
	Default bool
}

// ResetVariablePlan is RESET name | RESET ALL (Name "all").
type ResetVariablePlan struct{ Name string }

// ShowVariablePlan is SHOW name | SHOW ALL (Name "all").
type ShowVariablePlan struct{ Name string }

// TransactionPlan is BEGIN / START TRANSACTION / COMMIT / ROLLBACK / SET
// TRANSACTION; Options are the transaction modes.
type TransactionPlan struct {
	Kind    string // "begin", "commit", "rollback", "set transaction"
	Options map[string]string
	Chain   bool
}

// ShowObjectsPlan is SHOW SOURCES | VIEWS | ... | COLUMNS | CREATE ...:
// the coordinator answers it from its catalog.
type ShowObjectsPlan struct {
	What   string
	From   []string
	Object *CatalogItem // SHOW COLUMNS / SHOW CREATE
	Desc   repr.RelationDesc
}

// CopyFromPlan is COPY table [(cols)] FROM STDIN [WITH (...)].
type CopyFromPlan struct {
	Table   *CatalogItem
	Columns []int
	Options map[string]string
}

// CopyToPlan is COPY (query | SUBSCRIBE) TO STDOUT.
type CopyToPlan struct {
	Query     *QueryPlan
	Subscribe *SubscribePlan
	Options   []parse.Option
	Format    map[string]string
}

// DeclarePlan is DECLARE c CURSOR [WITH HOLD] FOR query | SUBSCRIBE.
type DeclarePlan struct {
	Name      string
	Query     *QueryPlan
	Subscribe *SubscribePlan
	// Hold is WITH HOLD: the cursor stays open past the end of its
	// transaction; without it COMMIT and ROLLBACK close it, and DECLARE
	// outside a transaction block is an error (25P01).
	Hold bool
}

// FetchPlan is FETCH [n | ALL] [FROM] c [WITH (timeout = ...)].
type FetchPlan struct {
	Name    string
	Count   int64 // -1 for ALL
	Timeout string
}

// ClosePlan is CLOSE c | CLOSE ALL (Name "").
type ClosePlan struct{ Name string }

// DiscardPlan is DISCARD ALL | PLANS | TEMP | SEQUENCES.
type DiscardPlan struct{ What string }

// PreparePlan is PREPARE name [(types)] AS stmt.
type PreparePlan struct {
	Name  string
	Types []repr.ScalarType
	Stmt  parse.Statement
}

// ExecutePlan is EXECUTE name [(params)]: the parameters as constant
// expressions.
type ExecutePlan struct {
	Name   string
	Params []plan.Rel // each a one-row, one-column constant relation
}

// DeallocatePlan is DEALLOCATE [PREPARE] name | ALL (Name "").
type DeallocatePlan struct{ Name string }

func (*SubscribePlan) isPlan()     {}
func (*ExplainPlan) isPlan()       {}
func (*SetVariablePlan) isPlan()   {}
func (*ResetVariablePlan) isPlan() {}
func (*ShowVariablePlan) isPlan()  {}
func (*TransactionPlan) isPlan()   {}
func (*ShowObjectsPlan) isPlan()   {}
func (*CopyFromPlan) isPlan()      {}
func (*CopyToPlan) isPlan()        {}
func (*DeclarePlan) isPlan()       {}
func (*FetchPlan) isPlan()         {}
func (*ClosePlan) isPlan()         {}
func (*DiscardPlan) isPlan()       {}
func (*PreparePlan) isPlan()       {}
func (*ExecutePlan) isPlan()       {}
func (*DeallocatePlan) isPlan()    {}

func planPG(scx *StatementContext, s *parse.PG, params []repr.Datum) (Plan, error) {
	n := s.Raw.Stmt
	if p, ok, err := planRoleStmt(scx, n); ok {
		return p, err
	}
	switch x := n.Node.(type) {
	case *pg_query.Node_SelectStmt:
		if into := x.SelectStmt.IntoClause; into != nil {
			// SELECT ... INTO t FROM ...: CREATE TABLE t AS SELECT ...
			sel := proto.Clone(x.SelectStmt).(*pg_query.SelectStmt)
			sel.IntoClause = nil
			return planCreateTableAs(scx, s, &pg_query.CreateTableAsStmt{Into: into, Objtype: pg_query.ObjectType_OBJECT_TABLE,
				Query: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}}, params)
		}
		q := newQctx(scx, s.Span)
		qp, err := q.planTopQuery(n, params, true)
		if err != nil {
			return nil, err
		}
		return &SelectPlan{Query: *qp}, nil
	case *pg_query.Node_CreateStmt:
		return planCreateTable(scx, s, x.CreateStmt)
	case *pg_query.Node_ViewStmt:
		v := x.ViewStmt
		var cols []string
		for _, a := range v.Aliases {
			cols = append(cols, a.GetString_().GetSval())
		}
		qp, err := planView(scx, s.Span, v.Query, cols, false, params)
		if err != nil {
			return nil, err
		}
		return &CreateViewPlan{Name: nameParts(v.View), OrReplace: v.Replace, Temporary: v.View.Relpersistence == "t", Columns: cols, Query: *qp, SQL: s.Text}, nil
	case *pg_query.Node_CreateTableAsStmt:
		c := x.CreateTableAsStmt
		if c.Objtype == pg_query.ObjectType_OBJECT_TABLE {
			return planCreateTableAs(scx, s, c, params)
		}
		if c.Objtype != pg_query.ObjectType_OBJECT_MATVIEW {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "CREATE %s AS is not supported", strings.TrimPrefix(c.Objtype.String(), "OBJECT_"))
		}
		var cols []string
		for _, a := range c.Into.ColNames {
			cols = append(cols, a.GetString_().GetSval())
		}
		qp, err := planView(scx, s.Span, c.Query, cols, true, params)
		if err != nil {
			return nil, err
		}
		return &CreateViewPlan{Name: nameParts(c.Into.Rel), Materialized: true, IfNotExists: c.IfNotExists, Columns: cols, Query: *qp, SQL: s.Text}, nil
	case *pg_query.Node_IndexStmt:
		return planCreateIndex(scx, s, x.IndexStmt)
	case *pg_query.Node_CreateSchemaStmt:
		c := x.CreateSchemaStmt
		if len(c.SchemaElts) > 0 {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "CREATE SCHEMA with elements is not supported")
		}
		db, name := "", c.Schemaname
		if i := strings.IndexByte(name, '.'); i >= 0 {
			db, name = name[:i], name[i+1:]
		}
		owner := ""
		if c.Authrole != nil {
			var err error
			if owner, err = roleSpecName(scx, c.Authrole); err != nil {
				return nil, err
			}
			if name == "" {
				name = owner
			}
		}
		return &CreateSchemaPlan{Database: db, Name: name, IfNotExists: c.IfNotExists, Owner: owner}, nil
	case *pg_query.Node_CreatedbStmt:
		return &CreateDatabasePlan{Name: x.CreatedbStmt.Dbname}, nil
	case *pg_query.Node_DropStmt:
		return planDrop(x.DropStmt)
	case *pg_query.Node_DropdbStmt:
		return &DropPlan{Kind: "database", Names: []PartialName{{Item: x.DropdbStmt.Dbname}}, IfExists: x.DropdbStmt.MissingOk}, nil
	case *pg_query.Node_RenameStmt:
		return planRename(x.RenameStmt)
	case *pg_query.Node_InsertStmt:
		return planInsert(scx, s, x.InsertStmt, params)
	case *pg_query.Node_UpdateStmt:
		return planUpdate(scx, s, x.UpdateStmt, params)
	case *pg_query.Node_DeleteStmt:
		return planDelete(scx, s, x.DeleteStmt, params)
	case *pg_query.Node_VariableSetStmt:
		return planSet(x.VariableSetStmt)
	case *pg_query.Node_VariableShowStmt:
		name := strings.ToLower(x.VariableShowStmt.Name)
		switch name {
		case "sources", "views", "tables", "indexes", "connections", "schemas", "objects":
			return planShow(scx, &parse.Show{Span: s.Span, What: name})
		}
		return &ShowVariablePlan{Name: name}, nil
	case *pg_query.Node_TransactionStmt:
		return planTransaction(x.TransactionStmt)
	case *pg_query.Node_CopyStmt:
		return planCopy(scx, s, x.CopyStmt, params)
	case *pg_query.Node_DeclareCursorStmt:
		d := x.DeclareCursorStmt
		q := newQctx(scx, s.Span)
		qp, err := q.planTopQuery(d.Query, params, true)
		if err != nil {
			return nil, err
		}
		const cursorOptHold = 0x0020 // CURSOR_OPT_HOLD
		return &DeclarePlan{Name: d.Portalname, Query: qp, Hold: d.Options&cursorOptHold != 0}, nil
	case *pg_query.Node_FetchStmt:
		f := x.FetchStmt
		if f.Ismove {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "MOVE is not supported")
		}
		if f.Direction != pg_query.FetchDirection_FETCH_FORWARD {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "FETCH %s is not supported", strings.TrimPrefix(f.Direction.String(), "FETCH_"))
		}
		count := f.HowMany
		if count == 0x7fffffffffffffff || count < 0 {
			count = -1
		}
		return &FetchPlan{Name: f.Portalname, Count: count}, nil
	case *pg_query.Node_ClosePortalStmt:
		return &ClosePlan{Name: x.ClosePortalStmt.Portalname}, nil
	case *pg_query.Node_DiscardStmt:
		return &DiscardPlan{What: strings.ToLower(strings.TrimPrefix(x.DiscardStmt.Target.String(), "DISCARD_"))}, nil
	case *pg_query.Node_PrepareStmt:
		p := x.PrepareStmt
		var types []repr.ScalarType
		for _, t := range p.Argtypes {
			st, err := resolveType(t.GetTypeName())
			if err != nil {
				return nil, err
			}
			types = append(types, st)
		}
		start := int(nodeLocation(p.Query))
		inner := &parse.PG{Span: s.Span, Raw: &pg_query.RawStmt{Stmt: p.Query, StmtLocation: int32(start)}}
		return &PreparePlan{Name: p.Name, Types: types, Stmt: inner}, nil
	case *pg_query.Node_ExecuteStmt:
		e := x.ExecuteStmt
		var ps []plan.Rel
		for _, a := range e.Params {
			q := newQctx(scx, s.Span)
			h, err := (&ectx{q: q, sc: &scope{}, clause: "EXECUTE parameter"}).plan(a)
			if err != nil {
				return nil, err
			}
			rel, err := (&lowerer{q: q, params: params}).lowerTop(HMap{Input: unitRel(), Scalars: []HScalar{h}})
			if err != nil {
				return nil, err
			}
			ps = append(ps, rel)
		}
		return &ExecutePlan{Name: e.Name, Params: ps}, nil
	case *pg_query.Node_DeallocateStmt:
		return &DeallocatePlan{Name: x.DeallocateStmt.Name}, nil
	}
	return nil, pgcode.New(pgcode.FeatureNotSupported, "%s is not supported", strings.TrimSuffix(nodeTypeName(n), "Stmt"))
}

// constantText returns the text of a SET value: a string, number or
// identifier.
func constantText(n *pg_query.Node) (string, error) {
	if c := n.GetAConst(); c != nil {
		switch v := c.Val.(type) {
		case *pg_query.A_Const_Sval:
			return v.Sval.Sval, nil
		case *pg_query.A_Const_Ival:
			return strconv.Itoa(int(v.Ival.Ival)), nil
		case *pg_query.A_Const_Fval:
			return v.Fval.Fval, nil
		case *pg_query.A_Const_Boolval:
			if v.Boolval.Boolval {
				return "on", nil
			}
			return "off", nil
		}
	}
	if tc := n.GetTypeCast(); tc != nil {
		// SET TIME ZONE INTERVAL '...'
		return constantText(tc.Arg)
	}
	return "", pgcode.New(pgcode.SyntaxError, "SET value must be a constant")
}

func planSet(v *pg_query.VariableSetStmt) (Plan, error) {
	name := strings.ToLower(v.Name)
	switch v.Kind {
	case pg_query.VariableSetKind_VAR_SET_VALUE:
		var vals []string
		for _, a := range v.Args {
			t, err := constantText(a)
			if err != nil {
				return nil, err
			}
			vals = append(vals, t)
		}
		if name == "timezone" && len(vals) == 1 && strings.EqualFold(vals[0], "local") {
			return &SetVariablePlan{Name: name, Default: true, Local: v.IsLocal}, nil
		}
		return &SetVariablePlan{Name: name, Value: vals, Local: v.IsLocal}, nil
	case pg_query.VariableSetKind_VAR_SET_DEFAULT:
		return &SetVariablePlan{Name: name, Default: true, Local: v.IsLocal}, nil
	case pg_query.VariableSetKind_VAR_RESET:
		return &ResetVariablePlan{Name: name}, nil
	case pg_query.VariableSetKind_VAR_RESET_ALL:
		return &ResetVariablePlan{Name: "all"}, nil
	case pg_query.VariableSetKind_VAR_SET_MULTI:
		if name == "transaction" || name == "session characteristics" {
			p := &TransactionPlan{Kind: "set transaction", Options: map[string]string{}}
			for _, a := range v.Args {
				if de := a.GetDefElem(); de != nil {
					val, _ := constantText(de.Arg)
					p.Options[de.Defname] = val
				}
			}
			return p, nil
		}
	}
	return nil, pgcode.New(pgcode.FeatureNotSupported, "SET %s is not supported", name)
}

func planTransaction(t *pg_query.TransactionStmt) (Plan, error) {
	p := &TransactionPlan{Options: map[string]string{}, Chain: t.Chain}
	switch t.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START:
		p.Kind = "begin"
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		p.Kind = "commit"
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		p.Kind = "rollback"
	default:
		return nil, pgcode.New(pgcode.FeatureNotSupported, "%s is not supported", strings.TrimPrefix(t.Kind.String(), "TRANS_STMT_"))
	}
	for _, o := range t.Options {
		if de := o.GetDefElem(); de != nil {
			val, _ := constantText(de.Arg)
			p.Options[de.Defname] = val
		}
	}
	return p, nil
}

func planCopy(scx *StatementContext, s *parse.PG, c *pg_query.CopyStmt, params []repr.Datum) (Plan, error) {
	opts := map[string]string{}
	for _, o := range c.Options {
		de := o.GetDefElem()
		if de == nil {
			continue
		}
		val := ""
		if de.Arg != nil {
			if v, err := constantText(de.Arg); err == nil {
				val = v
			} else if sv := de.Arg.GetString_(); sv != nil {
				val = sv.Sval
			}
		}
		opts[de.Defname] = val
	}
	if c.Filename != "" || c.IsProgram {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "COPY to or from a file or program is not supported").WithHint("Use STDIN or STDOUT.")
	}
	if c.IsFrom {
		q := newQctx(scx, s.Span)
		item, err := resolveTable(scx, q, c.Relation)
		if err != nil {
			return nil, err
		}
		p := &CopyFromPlan{Table: item, Options: opts}
		for _, a := range c.Attlist {
			name := a.GetString_().GetSval()
			idx := -1
			for i, n := range item.Desc.Names {
				if n == name {
					idx = i
				}
			}
			if idx < 0 {
				return nil, pgcode.New(pgcode.UndefinedColumn, "column %q of relation %q does not exist", name, item.Name.Item)
			}
			p.Columns = append(p.Columns, idx)
		}
		if p.Columns == nil {
			p.Columns = identity(item.Desc.Arity())
		}
		return p, nil
	}
	q := newQctx(scx, s.Span)
	var qp *QueryPlan
	var err error
	if c.Query != nil {
		qp, err = q.planTopQuery(c.Query, params, true)
	} else {
		// COPY table TO STDOUT reads the whole relation.
		sel := &pg_query.SelectStmt{
			Op:          pg_query.SetOperation_SETOP_NONE,
			LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT,
			TargetList:  []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: &pg_query.Node{Node: &pg_query.Node_ColumnRef{ColumnRef: &pg_query.ColumnRef{Fields: []*pg_query.Node{{Node: &pg_query.Node_AStar{AStar: &pg_query.A_Star{}}}}}}}}}}},
			FromClause:  []*pg_query.Node{{Node: &pg_query.Node_RangeVar{RangeVar: c.Relation}}},
		}
		qp, err = q.planTopQuery(&pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}, params, true)
	}
	if err != nil {
		return nil, err
	}
	return &CopyToPlan{Query: qp, Format: opts}, nil
}

func planFetchExt(f *parse.Fetch) (Plan, error) {
	p := &FetchPlan{Name: f.Cursor, Count: f.Count}
	for _, o := range f.Options {
		switch o.Name {
		case "TIMEOUT":
			p.Timeout = o.Value.Str
		default:
			return nil, pgcode.New(pgcode.InvalidParameterValue, "unrecognized FETCH option %s", o.Name)
		}
	}
	return p, nil
}

func planSubscribe(scx *StatementContext, s *parse.Subscribe, params []repr.Datum) (*SubscribePlan, error) {
	p := &SubscribePlan{Snapshot: true, Options: s.Options}
	if s.Snapshot != nil {
		p.Snapshot = *s.Snapshot
	}
	if s.Progress != nil {
		p.Progress = *s.Progress
	}
	for _, o := range s.Options {
		if o.Name != "SNAPSHOT" && o.Name != "PROGRESS" {
			return nil, pgcode.New(pgcode.InvalidParameterValue, "unrecognized SUBSCRIBE option %s", o.Name)
		}
	}
	if s.Object != nil {
		name, err := partialFromParts(s.Object)
		if err != nil {
			return nil, err
		}
		item, err := scx.Catalog.ResolveItem(name, scx.SearchPath())
		if err != nil {
			return nil, err
		}
		if !item.Kind.IsRelation() {
			return nil, pgcode.New(pgcode.WrongObjectType, "cannot subscribe to %s %q", item.Kind, item.Name.Item)
		}
		p.Object = item
		p.Query = QueryPlan{
			Expr:      plan.Get{Global: item.ID, Name: item.Name.String(), Type: plan.RelType{Cols: item.Desc.Types, Keys: item.Desc.Keys}},
			HIR:       HGet{ID: item.ID, Name: item.Name.String(), Typ: item.Desc.Types, Keys: item.Desc.Keys},
			Finishing: Finishing{Limit: -1, Project: identity(item.Desc.Arity())},
			Desc:      item.Desc,
			DependsOn: []plan.GlobalID{item.ID},
		}
	} else {
		q := newQctx(scx, s.Query.Span)
		qp, err := q.planTopQuery(s.Query.Node, params, false)
		if err != nil {
			return nil, err
		}
		p.Query = *qp
	}
	var err error
	if s.AsOf != nil {
		if p.AsOf, err = planTimestampExpr(scx, s.AsOf.Expr, params); err != nil {
			return nil, err
		}
		p.AtLeast = s.AsOf.AtLeast
	}
	if s.UpTo != nil {
		if p.UpTo, err = planTimestampExpr(scx, *s.UpTo, params); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func planExplain(scx *StatementContext, s *parse.Explain, params []repr.Datum) (Plan, error) {
	inner, err := planStatement(scx, s.Inner, params)
	if err != nil {
		return nil, err
	}
	p := &ExplainPlan{Stage: s.Stage, Inner: inner}
	switch x := inner.(type) {
	case *SelectPlan:
		p.Query = &x.Query
	case *CreateViewPlan:
		p.Query = &x.Query
	case *SubscribePlan:
		p.Query = &x.Query
	case *CreateIndexPlan, *InsertPlan, *UpdatePlan, *DeletePlan:
	default:
		return nil, pgcode.New(pgcode.FeatureNotSupported, "EXPLAIN of this statement is not supported")
	}
	return p, nil
}

var textCol = repr.ColumnType{Type: repr.TypeText}

func planShow(scx *StatementContext, s *parse.Show) (Plan, error) {
	p := &ShowObjectsPlan{What: s.What, From: s.From}
	switch {
	case s.What == "columns":
		name, err := partialFromParts(s.From)
		if err != nil {
			return nil, err
		}
		if p.Object, err = scx.Catalog.ResolveItem(name, scx.SearchPath()); err != nil {
			return nil, err
		}
		p.Desc = repr.RelationDesc{Names: []string{"name", "nullable", "type"}, Types: []repr.ColumnType{textCol, {Type: repr.TypeBool}, textCol}}
	case strings.HasPrefix(s.What, "create "):
		name, err := partialFromParts(s.Name)
		if err != nil {
			return nil, err
		}
		if p.Object, err = scx.Catalog.ResolveItem(name, scx.SearchPath()); err != nil {
			return nil, err
		}
		kind := strings.TrimPrefix(s.What, "create ")
		if p.Object.Kind.String() != kind {
			return nil, pgcode.New(pgcode.WrongObjectType, "%s is not a %s", p.Object.Name, kind)
		}
		p.Desc = repr.RelationDesc{Names: []string{"name", "create_sql"}, Types: []repr.ColumnType{textCol, textCol}}
	case s.What == "indexes":
		if len(s.From) > 0 {
			name, err := partialFromParts(s.From)
			if err != nil {
				return nil, err
			}
			if p.Object, err = scx.Catalog.ResolveItem(name, scx.SearchPath()); err != nil {
				return nil, err
			}
		}
		p.Desc = repr.RelationDesc{Names: []string{"name", "on", "cluster", "key"}, Types: []repr.ColumnType{textCol, textCol, textCol, textCol}}
	default:
		if len(s.From) > 0 {
			db, schema := "", s.From[len(s.From)-1]
			if len(s.From) == 2 {
				db = s.From[0]
			}
			if !scx.Catalog.ResolveSchema(db, schema) {
				return nil, pgcode.New(pgcode.InvalidSchemaName, "unknown schema '%s'", schema)
			}
		}
		p.Desc = repr.RelationDesc{Names: []string{"name"}, Types: []repr.ColumnType{textCol}}
		switch s.What {
		case "sources":
			p.Desc = repr.RelationDesc{Names: []string{"name", "type"}, Types: []repr.ColumnType{textCol, textCol}}
		case "connections":
			p.Desc = repr.RelationDesc{Names: []string{"name", "type"}, Types: []repr.ColumnType{textCol, textCol}}
		case "materialized views":
			p.Desc = repr.RelationDesc{Names: []string{"name", "cluster"}, Types: []repr.ColumnType{textCol, textCol}}
		}
	}
	return p, nil
}
