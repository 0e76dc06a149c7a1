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

// ColumnDef is a column of CREATE TABLE or of a source with declared
// columns.
type ColumnDef struct {
	Name    string
	Type    repr.ColumnType // Nullable false for NOT NULL / PRIMARY KEY
	Default string          // DEFAULT expression text ("" for none)
	// DefaultExpr is the planned DEFAULT (nil for none): a constant
	// expression, evaluated by the coordinator per inserted row.
	DefaultExpr expr.Scalar
}

// CreateTablePlan is CREATE TABLE.
type CreateTablePlan struct {
	Name        PartialName
	IfNotExists bool
	Temporary   bool
	Columns     []ColumnDef
	// Keys are the PRIMARY KEY (first, when present) and UNIQUE column
	// sets.
	Keys       [][]int
	PrimaryKey []int
	// ForeignKeys are the FOREIGN KEY constraints, in declaration order
	// (column REFERENCES and table constraints as they come).
	ForeignKeys []ForeignKeyDef
	Desc        repr.RelationDesc
	SQL         string
}

// CreateViewPlan is CREATE [OR REPLACE] [MATERIALIZED] VIEW.
type CreateViewPlan struct {
	Name         PartialName
	Materialized bool
	OrReplace    bool
	IfNotExists  bool
	Temporary    bool
	// Columns are the declared column names (nil when not given).
	Columns   []string
	Query     QueryPlan
	InCluster string
	Options   []parse.Option
	SQL       string
}

// CreateIndexPlan is CREATE [DEFAULT] INDEX.
type CreateIndexPlan struct {
	Name        string // "" when the coordinator must choose one
	On          *CatalogItem
	IfNotExists bool
	// Keys are expressions over the object's columns; for a default
	// index, its primary key or all its columns.
	Keys     []expr.Scalar
	KeyNames []string
	Default  bool
	// Unique is CREATE UNIQUE INDEX: the key columns are a unique key of
	// the table, enforced on writes (tables only).
	Unique    bool
	InCluster string
	SQL       string
}

// CreateSchemaPlan is CREATE SCHEMA.
type CreateSchemaPlan struct {
	Database    string
	Name        string
	IfNotExists bool
	// Owner is AUTHORIZATION's role ("" for the creator).
	Owner string
}

// CreateDatabasePlan is CREATE DATABASE.
type CreateDatabasePlan struct {
	Name        string
	IfNotExists bool
}

// CreateConnectionPlan is CREATE CONNECTION.
type CreateConnectionPlan struct {
	Name        []string
	IfNotExists bool
	Type        string
	Options     []parse.Option
	SQL         string
}

// CreateSecretPlan is CREATE SECRET. SQL is the statement with the value
// replaced by asterisks (what SHOW CREATE and introspection may show);
// Value is the secret itself, which the coordinator stores and never
// returns through SQL.
type CreateSecretPlan struct {
	Name        []string
	IfNotExists bool
	Value       string
	SQL         string
}

// CreateSourcePlan is CREATE SOURCE: the options as parsed, the resolved
// connection, and the declared columns and key.
type CreateSourcePlan struct {
	Name        PartialName
	IfNotExists bool
	Source      *parse.CreateSource
	Connection  *CatalogItem // nil for load generators
	Columns     []ColumnDef
	Keys        [][]int
	SQL         string
}

// DropPlan is DROP ... [IF EXISTS] names [CASCADE | RESTRICT].
type DropPlan struct {
	Kind     string // "table", "view", "materialized view", "source", "index", "connection", "secret", "schema", "database", "type"
	Names    []PartialName
	IfExists bool
	Cascade  bool
}

// AlterRenamePlan is ALTER ... RENAME TO.
type AlterRenamePlan struct {
	Kind     string
	Name     PartialName
	NewName  string
	IfExists bool
}

func (*CreateTablePlan) isPlan()      {}
func (*CreateViewPlan) isPlan()       {}
func (*CreateIndexPlan) isPlan()      {}
func (*CreateSchemaPlan) isPlan()     {}
func (*CreateDatabasePlan) isPlan()   {}
func (*CreateConnectionPlan) isPlan() {}
func (*CreateSourcePlan) isPlan()     {}
func (*CreateSecretPlan) isPlan()     {}
func (*DropPlan) isPlan()             {}
func (*AlterRenamePlan) isPlan()      {}

// planColumns plans column definitions and table constraints (CREATE
// TABLE, declared source columns). FOREIGN KEY constraints are returned
// as declared, for planForeignKeys.
func planColumns(scx *StatementContext, span parse.Span, elts []*pg_query.Node) ([]ColumnDef, [][]int, []int, []fkDecl, error) {
	var cols []ColumnDef
	var keys [][]int
	var pk []int
	var fks []fkDecl
	index := map[string]int{}
	var pending [][]string
	var pendingPK []string
	for _, n := range elts {
		switch x := n.Node.(type) {
		case *pg_query.Node_ColumnDef:
			cd := x.ColumnDef
			if _, dup := index[cd.Colname]; dup {
				return nil, nil, nil, nil, pgcode.New(pgcode.DuplicateColumn, "column %q specified more than once", cd.Colname)
			}
			t, err := resolveType(cd.TypeName)
			if err != nil {
				return nil, nil, nil, nil, err
			}
			c := ColumnDef{Name: cd.Colname, Type: repr.ColumnType{Type: t, Nullable: !cd.IsNotNull}}
			for _, cn := range cd.Constraints {
				con := cn.GetConstraint()
				switch con.Contype {
				case pg_query.ConstrType_CONSTR_NOTNULL:
					c.Type.Nullable = false
				case pg_query.ConstrType_CONSTR_NULL:
				case pg_query.ConstrType_CONSTR_DEFAULT:
					c.Default = deparseExpr(con.RawExpr)
					def, err := planDefault(scx, span, con.RawExpr, t)
					if err != nil {
						return nil, nil, nil, nil, err
					}
					c.DefaultExpr = def
				case pg_query.ConstrType_CONSTR_PRIMARY:
					pendingPK = []string{cd.Colname}
				case pg_query.ConstrType_CONSTR_UNIQUE:
					pending = append(pending, []string{cd.Colname})
				case pg_query.ConstrType_CONSTR_CHECK:
					return nil, nil, nil, nil, pgcode.New(pgcode.FeatureNotSupported, "CHECK constraints are not supported")
				case pg_query.ConstrType_CONSTR_FOREIGN:
					fks = append(fks, fkDecl{con: con, column: cd.Colname})
				default:
					return nil, nil, nil, nil, pgcode.New(pgcode.FeatureNotSupported, "column constraint %s is not supported", con.Contype)
				}
			}
			index[cd.Colname] = len(cols)
			cols = append(cols, c)
		case *pg_query.Node_Constraint:
			con := x.Constraint
			var names []string
			for _, k := range con.Keys {
				names = append(names, k.GetString_().GetSval())
			}
			switch con.Contype {
			case pg_query.ConstrType_CONSTR_PRIMARY:
				if pendingPK != nil {
					return nil, nil, nil, nil, pgcode.New(pgcode.InvalidTableDefinition, "multiple primary keys for table are not allowed")
				}
				pendingPK = names
			case pg_query.ConstrType_CONSTR_UNIQUE:
				pending = append(pending, names)
			case pg_query.ConstrType_CONSTR_FOREIGN:
				fks = append(fks, fkDecl{con: con})
			default:
				return nil, nil, nil, nil, pgcode.New(pgcode.FeatureNotSupported, "table constraint %s is not supported", con.Contype)
			}
		default:
			return nil, nil, nil, nil, pgcode.New(pgcode.FeatureNotSupported, "table element %s is not supported", nodeTypeName(n))
		}
	}
	resolve := func(names []string) ([]int, error) {
		var out []int
		for _, n := range names {
			i, ok := index[n]
			if !ok {
				return nil, pgcode.New(pgcode.UndefinedColumn, "column %q named in key does not exist", n)
			}
			out = append(out, i)
		}
		return out, nil
	}
	if pendingPK != nil {
		k, err := resolve(pendingPK)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		for _, i := range k {
			cols[i].Type.Nullable = false
		}
		pk = k
		keys = append(keys, k)
	}
	for _, u := range pending {
		k, err := resolve(u)
		if err != nil {
			return nil, nil, nil, nil, err
		}
		keys = append(keys, k)
	}
	return cols, keys, pk, fks, nil
}

// deparseExpr prints an expression as SQL (PostgreSQL's deparser), for
// storing DEFAULT expressions in the catalog.
func deparseExpr(n *pg_query.Node) string {
	sel := &pg_query.SelectStmt{TargetList: []*pg_query.Node{{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Val: n}}}}}
	tree := &pg_query.ParseResult{Stmts: []*pg_query.RawStmt{{Stmt: &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}}}}
	text, err := pg_query.Deparse(tree)
	if err != nil {
		return ""
	}
	return strings.TrimPrefix(text, "SELECT ")
}

// planDefault plans a DEFAULT expression with an assignment cast to the
// column's type; it may not reference columns.
func planDefault(scx *StatementContext, span parse.Span, n *pg_query.Node, t repr.ScalarType) (expr.Scalar, error) {
	q := newQctx(scx, span)
	e := &ectx{q: q, sc: &scope{}, clause: "DEFAULT expressions"}
	h, err := e.plan(n)
	if err != nil {
		if pgcode.Of(err) == pgcode.UndefinedColumn {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "cannot use column reference in DEFAULT expression")
		}
		return nil, err
	}
	if h, err = q.coerce(h, t, expr.Assignment, "column"); err != nil {
		return nil, err
	}
	if hasSubquery([]HScalar{h}) {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "cannot use subquery in DEFAULT expression")
	}
	return lowerConstScalar(h)
}

func planCreateTable(scx *StatementContext, s *parse.PG, c *pg_query.CreateStmt) (Plan, error) {
	if len(c.InhRelations) > 0 || c.Partspec != nil || c.OfTypename != nil {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "CREATE TABLE with inheritance, partitions or OF type is not supported")
	}
	cols, keys, pk, fkDecls, err := planColumns(scx, s.Span, c.TableElts)
	if err != nil {
		return nil, err
	}
	name := nameParts(c.Relation)
	fks, err := planForeignKeys(scx, name, cols, keys, pk, fkDecls)
	if err != nil {
		return nil, err
	}
	p := &CreateTablePlan{Name: name, IfNotExists: c.IfNotExists, Temporary: c.Relation.Relpersistence == "t",
		Columns: cols, Keys: keys, PrimaryKey: pk, ForeignKeys: fks, SQL: s.Text}
	for _, col := range cols {
		p.Desc.Names = append(p.Desc.Names, col.Name)
		p.Desc.Types = append(p.Desc.Types, col.Type)
	}
	p.Desc.Keys = keys
	return p, nil
}

// planView plans the query of a view: ORDER BY/LIMIT become TopK; column
// names may be renamed; volatile functions are rejected.
func planView(scx *StatementContext, span parse.Span, query *pg_query.Node, colNames []string, materialized bool, params []repr.Datum) (*QueryPlan, error) {
	q := newQctx(scx, span)
	qp, err := q.planTopQuery(query, params, false)
	if err != nil {
		return nil, err
	}
	if len(scx.ParamTypes) > 0 {
		return nil, pgcode.New(pgcode.UndefinedParameter, "there is no parameter $1")
	}
	what := "views"
	if materialized {
		what = "materialized views"
	}
	if qp.Volatile {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "volatile functions (such as random()) are not allowed in %s", what).
			WithDetail("A maintained result must be a function of its inputs.")
	}
	if materialized {
		if err := checkNoWallClock(scx, q.wallClock, q.dependsOn(), "materialized views"); err != nil {
			return nil, err
		}
	}
	if len(colNames) > len(qp.Desc.Names) {
		return nil, pgcode.New(pgcode.SyntaxError, "CREATE VIEW specifies more column names than columns")
	}
	for i, n := range colNames {
		qp.Desc.Names[i] = n
	}
	seen := map[string]bool{}
	for _, n := range qp.Desc.Names {
		if seen[n] {
			return nil, pgcode.New(pgcode.DuplicateColumn, "column %q specified more than once", n)
		}
		seen[n] = true
	}
	return qp, nil
}

func planCreateMaterializedView(scx *StatementContext, s *parse.CreateMaterializedView, params []repr.Datum) (Plan, error) {
	name, err := partialFromParts(s.Name)
	if err != nil {
		return nil, err
	}
	qp, err := planView(scx, s.Query.Span, s.Query.Node, s.Columns, true, params)
	if err != nil {
		return nil, err
	}
	return &CreateViewPlan{Name: name, Materialized: true, OrReplace: s.OrReplace, IfNotExists: s.IfNotExists,
		Columns: s.Columns, Query: *qp, InCluster: s.InCluster, Options: s.Options, SQL: s.Text}, nil
}

func planCreateIndex(scx *StatementContext, s *parse.PG, ix *pg_query.IndexStmt) (Plan, error) {
	item, err := scx.Catalog.ResolveItem(nameParts(ix.Relation), scx.SearchPath())
	if err != nil {
		return nil, err
	}
	if !item.Kind.IsRelation() {
		return nil, pgcode.New(pgcode.WrongObjectType, "cannot create index on %s %q", item.Kind, item.Name.Item)
	}
	if ix.Unique && item.Kind != KindTable {
		return nil, pgcode.New(pgcode.WrongObjectType, "cannot create a unique index on %s %q", item.Kind, item.Name.Item).
			WithDetail("Unique indexes enforce a key on writes, which only tables take.")
	}
	if ix.WhereClause != nil {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "partial indexes are not supported")
	}
	q := newQctx(scx, s.Span)
	sc := &scope{}
	for i, n := range item.Desc.Names {
		sc.cols = append(sc.cols, scopeCol{table: item.Name.Item, name: n, typ: item.Desc.Types[i]})
	}
	p := &CreateIndexPlan{Name: ix.Idxname, On: item, IfNotExists: ix.IfNotExists, Unique: ix.Unique, SQL: s.Text}
	for _, param := range ix.IndexParams {
		ie := param.GetIndexElem()
		var h HScalar
		if ie.Name != "" {
			h, err = (&ectx{q: q, sc: sc, clause: "index expressions"}).columnRef(&pg_query.ColumnRef{Fields: []*pg_query.Node{pg_query.MakeStrNode(ie.Name)}, Location: -1})
			p.KeyNames = append(p.KeyNames, ie.Name)
		} else {
			h, err = (&ectx{q: q, sc: sc, clause: "index expressions"}).plan(ie.Expr)
			p.KeyNames = append(p.KeyNames, "expr")
		}
		if err != nil {
			return nil, err
		}
		k, err := (&lowerer{q: q}).lowerPlainScalar(h, 0, colMap{})
		if err != nil {
			return nil, err
		}
		p.Keys = append(p.Keys, k)
	}
	if err := checkNoWallClock(scx, q.wallClock, []plan.GlobalID{item.ID}, "indexes"); err != nil {
		return nil, err
	}
	return p, nil
}

func planCreateDefaultIndex(scx *StatementContext, s *parse.CreateDefaultIndex) (Plan, error) {
	name, err := partialFromParts(s.On)
	if err != nil {
		return nil, err
	}
	item, err := scx.Catalog.ResolveItem(name, scx.SearchPath())
	if err != nil {
		return nil, err
	}
	if !item.Kind.IsRelation() {
		return nil, pgcode.New(pgcode.WrongObjectType, "cannot create index on %s %q", item.Kind, item.Name.Item)
	}
	if err := checkNoWallClock(scx, nil, []plan.GlobalID{item.ID}, "indexes"); err != nil {
		return nil, err
	}
	p := &CreateIndexPlan{Name: s.Name, On: item, IfNotExists: s.IfNotExists, Default: true, InCluster: s.InCluster, SQL: s.Text}
	cols := identity(item.Desc.Arity())
	if len(item.Desc.Keys) > 0 {
		cols = item.Desc.Keys[0]
	}
	for _, c := range cols {
		p.Keys = append(p.Keys, expr.Column{Index: c})
		p.KeyNames = append(p.KeyNames, item.Desc.Names[c])
	}
	return p, nil
}

func planCreateSource(scx *StatementContext, s *parse.CreateSource) (Plan, error) {
	name, err := partialFromParts(s.Name)
	if err != nil {
		return nil, err
	}
	p := &CreateSourcePlan{Name: name, IfNotExists: s.IfNotExists, Source: s, SQL: s.Text}
	if s.Connection != nil {
		cn, err := partialFromParts(s.Connection)
		if err != nil {
			return nil, err
		}
		item, err := scx.Catalog.ResolveItem(cn, scx.SearchPath())
		if err != nil {
			return nil, err
		}
		if item.Kind != KindConnection {
			return nil, pgcode.New(pgcode.WrongObjectType, "%q is not a connection", cn.Item)
		}
		p.Connection = item
	}
	switch s.Kind {
	case "load generator":
		switch s.Generator {
		case "counter", "auction", "tpch", "nexmark":
		default:
			return nil, pgcode.New(pgcode.FeatureNotSupported, "load generator %s is not supported", strings.ToUpper(s.Generator))
		}
	}
	if s.Columns != nil {
		cols, keys, _, fks, err := planColumns(scx, s.Span, s.Columns.TableElts)
		if err != nil {
			return nil, err
		}
		if len(fks) > 0 {
			return nil, pgcode.New(pgcode.FeatureNotSupported, "foreign keys are only supported on tables")
		}
		p.Columns, p.Keys = cols, keys
	}
	return p, nil
}

var objectKinds = map[pg_query.ObjectType]string{
	pg_query.ObjectType_OBJECT_TABLE: "table", pg_query.ObjectType_OBJECT_VIEW: "view",
	pg_query.ObjectType_OBJECT_MATVIEW: "materialized view", pg_query.ObjectType_OBJECT_INDEX: "index",
	pg_query.ObjectType_OBJECT_SCHEMA: "schema", pg_query.ObjectType_OBJECT_DATABASE: "database",
	pg_query.ObjectType_OBJECT_TYPE: "type", pg_query.ObjectType_OBJECT_FOREIGN_TABLE: "source",
}

func planDrop(d *pg_query.DropStmt) (Plan, error) {
	kind, ok := objectKinds[d.RemoveType]
	if !ok {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "DROP %s is not supported", strings.TrimPrefix(d.RemoveType.String(), "OBJECT_"))
	}
	p := &DropPlan{Kind: kind, IfExists: d.MissingOk, Cascade: d.Behavior == pg_query.DropBehavior_DROP_CASCADE}
	for _, o := range d.Objects {
		var parts []string
		if l := o.GetList(); l != nil {
			for _, it := range l.Items {
				parts = append(parts, it.GetString_().GetSval())
			}
		} else if s := o.GetString_(); s != nil {
			parts = []string{s.Sval}
		} else if tn := o.GetTypeName(); tn != nil {
			for _, it := range tn.Names {
				parts = append(parts, it.GetString_().GetSval())
			}
		}
		if kind == "schema" || kind == "database" {
			p.Names = append(p.Names, PartialName{Item: strings.Join(parts, ".")})
			continue
		}
		n, err := partialFromParts(parts)
		if err != nil {
			return nil, err
		}
		p.Names = append(p.Names, n)
	}
	return p, nil
}

func planRename(r *pg_query.RenameStmt) (Plan, error) {
	kind, ok := objectKinds[r.RenameType]
	if !ok || r.Relation == nil {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "ALTER ... RENAME of this kind is not supported")
	}
	if r.Subname != "" {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "ALTER ... RENAME COLUMN is not supported")
	}
	return &AlterRenamePlan{Kind: kind, Name: nameParts(r.Relation), NewName: r.Newname, IfExists: r.MissingOk}, nil
}

// checkNoWallClock refuses now() and the like in a maintained object
// (what: "materialized views"): called by its own query (direct, the
// names it calls) or by a view among ids, at any depth. A dataflow has no
// statement time, so a view's now() read 1970-01-01 there.
func checkNoWallClock(scx *StatementContext, direct []string, ids []plan.GlobalID, what string) error {
	name := ""
	if len(direct) > 0 {
		name = direct[0]
	} else {
		name = viewsWallClock(scx, ids, map[plan.GlobalID]bool{})
	}
	if name == "" {
		return nil
	}
	return pgcode.New(pgcode.FeatureNotSupported, "%s() is not allowed in %s", name, what).
		WithHint("Use mz_now() to compare against the time at which the view is maintained.")
}

// viewsWallClock returns the first wall-clock function (now(),
// current_date, ...) called by the views among ids, directly or through
// the views they read; "" when none does. Each view's definition is
// planned again from its SQL (views are not inlined into the plans of
// the queries that read them).
func viewsWallClock(scx *StatementContext, ids []plan.GlobalID, seen map[plan.GlobalID]bool) string {
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		item, ok := scx.Catalog.ItemByID(id)
		if !ok || item.Kind != KindView {
			continue
		}
		stmts, err := parse.Parse(item.SQL)
		if err != nil || len(stmts) != 1 {
			continue
		}
		pg, ok := stmts[0].(*parse.PG)
		if !ok || pg.Raw.GetStmt().GetViewStmt() == nil {
			continue
		}
		vq := newQctx(scx, pg.Span)
		if _, err := vq.planTopQuery(pg.Raw.GetStmt().GetViewStmt().Query, nil, false); err != nil {
			continue
		}
		if len(vq.wallClock) > 0 {
			return vq.wallClock[0]
		}
		if name := viewsWallClock(scx, vq.dependsOn(), seen); name != "" {
			return name
		}
	}
	return ""
}

// RedactedSecretSQL is CREATE SECRET as SHOW CREATE, the catalog and
// pg_stat_activity show it: the value replaced by asterisks.
func RedactedSecretSQL(name []string) string {
	parts := make([]string, len(name))
	for i, n := range name {
		parts[i] = quoteIdent(n)
	}
	return "CREATE SECRET " + strings.Join(parts, ".") + " AS '********'"
}

// CreateTableAsPlan is CREATE TABLE ... AS query (and SELECT ... INTO):
// a table with the query's columns, and the query's rows written into it.
// The table is created as Create says (its SQL is a plain CREATE TABLE,
// which is what the catalog keeps); unless WithData is false, the
// executor then writes Query's rows, committed at once whatever the
// session's transaction (viewd's DDL is not transactional).
type CreateTableAsPlan struct {
	Create   CreateTablePlan
	Query    QueryPlan
	WithData bool
}

func (*CreateTableAsPlan) isPlan() {}

// planCreateTableAs plans CREATE TABLE name [(columns)] AS query [WITH
// [NO] DATA]: the columns are the query's (an unknown-typed one is text,
// as in PostgreSQL), without keys or NOT NULL.
func planCreateTableAs(scx *StatementContext, s *parse.PG, c *pg_query.CreateTableAsStmt, params []repr.Datum) (Plan, error) {
	into := c.Into
	if into == nil || into.Rel == nil {
		return nil, pgcode.New(pgcode.SyntaxError, "CREATE TABLE AS without a table name")
	}
	if len(into.Options) > 0 || into.AccessMethod != "" || into.TableSpaceName != "" {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "CREATE TABLE AS with storage options is not supported")
	}
	if into.OnCommit != pg_query.OnCommitAction_ONCOMMIT_NOOP && into.OnCommit != pg_query.OnCommitAction_ON_COMMIT_ACTION_UNDEFINED {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "CREATE TABLE AS ... ON COMMIT is not supported")
	}
	q := newQctx(scx, s.Span)
	qp, err := q.planTopQuery(c.Query, params, false)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, n := range into.ColNames {
		names = append(names, n.GetString_().GetSval())
	}
	if len(names) > len(qp.Desc.Names) {
		return nil, pgcode.New(pgcode.SyntaxError, "too many column names were specified")
	}
	var b strings.Builder
	b.WriteString("CREATE ")
	if into.Rel.Relpersistence == "t" {
		b.WriteString("TEMPORARY ")
	}
	b.WriteString("TABLE ")
	if c.IfNotExists {
		b.WriteString("IF NOT EXISTS ")
	}
	name := nameParts(into.Rel)
	for _, part := range []string{name.Database, name.Schema} {
		if part != "" {
			b.WriteString(quoteIdent(part) + ".")
		}
	}
	b.WriteString(quoteIdent(name.Item) + " (")
	for i, typ := range qp.Desc.Types {
		col := qp.Desc.Names[i]
		if i < len(names) {
			col = names[i]
		}
		t := typ.Type
		switch t.Kind {
		case repr.KindNull:
			t = repr.TypeText
		case repr.KindRecord:
			return nil, pgcode.New(pgcode.InvalidTableDefinition, "column %q has pseudo-type record", col)
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteIdent(col) + " " + t.String())
	}
	b.WriteString(")")
	stmts, err := parse.Parse(b.String())
	if err != nil || len(stmts) != 1 {
		return nil, pgcode.New(pgcode.InternalError, "CREATE TABLE AS: the table's definition %q does not parse: %v", b.String(), err)
	}
	pg, ok := stmts[0].(*parse.PG)
	if !ok || pg.Raw.GetStmt().GetCreateStmt() == nil {
		return nil, pgcode.New(pgcode.InternalError, "CREATE TABLE AS: the table's definition %q is not a CREATE TABLE", b.String())
	}
	created, err := planCreateTable(scx, pg, pg.Raw.GetStmt().GetCreateStmt())
	if err != nil {
		return nil, err
	}
	ct, ok := created.(*CreateTablePlan)
	if !ok {
		return nil, pgcode.New(pgcode.InternalError, "CREATE TABLE AS: planned %T", created)
	}
	return &CreateTableAsPlan{Create: *ct, Query: *qp, WithData: !into.SkipData}, nil
}
