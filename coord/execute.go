package coord

import (
	"context"
	"fmt"
	"strings"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/sql/parse"
	"github.com/viewd/viewd/storage"
	"github.com/viewd/viewd/wire"
)

var (
	textType  = repr.ColumnType{Type: repr.TypeText, Nullable: true}
	boolType  = repr.ColumnType{Type: repr.TypeBool}
	numType   = repr.ColumnType{Type: repr.TypeNumeric}
	oneColumn = func(name string) *repr.RelationDesc {
		return &repr.RelationDesc{Names: []string{name}, Types: []repr.ColumnType{textType}}
	}
)

// describe returns the columns a plan's execution returns, nil for none.
func (s *session) describe(p sql.Plan) (*repr.RelationDesc, error) {
	switch p := p.(type) {
	case *sql.SelectPlan:
		return &p.Query.Desc, nil
	case *sql.SubscribePlan:
		return subscribeDesc(p), nil
	case *sql.ExplainPlan:
		return oneColumn(explainColumn(p.Stage)), nil
	case *sql.ShowVariablePlan:
		if p.Name == "all" {
			return &repr.RelationDesc{Names: []string{"name", "setting", "description"}, Types: []repr.ColumnType{textType, textType, textType}}, nil
		}
		v, err := lookupVar(p.Name)
		if err != nil {
			return nil, err
		}
		return oneColumn(strings.ToLower(v.name)), nil
	case *sql.ShowObjectsPlan:
		return &p.Desc, nil
	case *sql.InsertPlan:
		if p.Returning != nil {
			return &p.ReturningDesc, nil
		}
	case *sql.UpdatePlan:
		if p.Returning != nil {
			return &p.ReturningDesc, nil
		}
	case *sql.DeletePlan:
		if p.Returning != nil {
			return &p.ReturningDesc, nil
		}
	case *sql.FetchPlan:
		cur, ok := s.cursors[p.Name]
		if !ok {
			return nil, pgcode.New(pgcode.InvalidCursorName, "cursor %q does not exist", p.Name)
		}
		return &cur.desc, nil
	case *sql.ExecutePlan:
		ps, ok := s.prepared[p.Name]
		if !ok {
			return nil, pgcode.New(pgcode.UndefinedPreparedStatement, "prepared statement %q does not exist", p.Name)
		}
		inner, err := sql.PlanStatement(s.statementContext(append([]repr.ScalarType(nil), ps.types...)), ps.stmt, nil)
		if err != nil {
			return nil, err
		}
		return s.describe(inner)
	}
	return nil, nil
}

func explainColumn(stage string) string {
	switch stage {
	case "raw", "hir":
		return "Raw Plan"
	case "decorrelated", "mir":
		return "Decorrelated Plan"
	case "lir", "physical":
		return "Physical Plan"
	}
	return "Optimized Plan"
}

// execute plans and runs one statement.
func (s *session) execute(ctx context.Context, parsed parse.Statement, params []repr.Datum, paramTypes []repr.ScalarType) (wire.Result, error) {
	if s.txn.explicit && s.txn.failed {
		if tp, ok := parsed.(*parse.PG); ok && isTxnEnd(tp) {
			// COMMIT or ROLLBACK of a failed transaction rolls back.
		} else {
			return wire.Result{}, pgcode.New(pgcode.InFailedSQLTransaction, "current transaction is aborted, commands ignored until end of transaction block")
		}
	}
	s.c.mu.Lock()
	p, err := sql.PlanStatement(s.statementContext(append([]repr.ScalarType(nil), paramTypes...)), parsed, params)
	s.c.mu.Unlock()
	if err != nil {
		return wire.Result{}, err
	}
	return s.run(ctx, p)
}

func isTxnEnd(p *parse.PG) bool {
	t := p.Raw.GetStmt().GetTransactionStmt()
	if t == nil {
		return false
	}
	k := t.Kind.String()
	return strings.Contains(k, "COMMIT") || strings.Contains(k, "ROLLBACK")
}

// run executes a plan.
func (s *session) run(ctx context.Context, p sql.Plan) (wire.Result, error) {
	c := s.c
	if what := writeKind(p); what != "" && s.readOnlyNow() {
		return wire.Result{}, pgcode.New(pgcode.ReadOnlySQLTransaction, "cannot execute %s in a read-only transaction", what)
	}
	if err := s.authorize(p); err != nil {
		return wire.Result{}, err
	}
	switch p := p.(type) {
	case *sql.SelectPlan:
		rows, err := s.selectRows(ctx, &p.Query, p.AsOf, p.AtLeast)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Rows: rows}, nil
	case *sql.CreateTablePlan:
		return s.ddl(ctx, "CREATE TABLE", func() error { return c.createTable(ctx, p, true) })
	case *sql.CreateTableAsPlan:
		return s.createTableAs(ctx, p)
	case *sql.CreateViewPlan:
		tag := "CREATE VIEW"
		if p.Materialized {
			tag = "CREATE MATERIALIZED VIEW"
		}
		return s.ddl(ctx, tag, func() error { return c.createView(ctx, p, true) })
	case *sql.CreateIndexPlan:
		return s.ddl(ctx, "CREATE INDEX", func() error { return c.createIndex(ctx, p, true) })
	case *sql.CreateSchemaPlan:
		return s.ddl(ctx, "CREATE SCHEMA", func() error { return c.createSchema(ctx, p, true) })
	case *sql.CreateDatabasePlan:
		if p.Name == defaultDatabase && p.IfNotExists {
			s.client.Notice(&pgcode.Error{Code: pgcode.DuplicateDatabase, Severity: pgcode.SeverityNotice, Message: fmt.Sprintf("database %q already exists, skipping", p.Name)})
			return wire.Result{Tag: "CREATE DATABASE"}, nil
		}
		return wire.Result{}, pgcode.New(pgcode.FeatureNotSupported, "CREATE DATABASE is not supported: viewd serves one database, %q", defaultDatabase)
	case *sql.CreateConnectionPlan:
		return s.ddl(ctx, "CREATE CONNECTION", func() error { return c.createConnection(ctx, p, true) })
	case *sql.CreateSourcePlan:
		return s.ddl(ctx, "CREATE SOURCE", func() error { return c.createSource(ctx, p, true) })
	case *sql.CreateSecretPlan:
		return s.ddl(ctx, "CREATE SECRET", func() error { return c.createSecret(ctx, p, true) })
	case *sql.DropPlan:
		return s.ddl(ctx, "DROP "+strings.ToUpper(p.Kind), func() error { return c.drop(ctx, s, p) })
	case *sql.AlterRenamePlan:
		return s.ddl(ctx, "ALTER "+strings.ToUpper(p.Kind), func() error { return c.rename(ctx, p, true) })
	case *sql.CreateRolePlan:
		return s.ddl(ctx, "CREATE ROLE", func() error { return c.createRole(ctx, s, p) })
	case *sql.AlterRolePlan:
		return s.ddl(ctx, "ALTER ROLE", func() error { return c.alterRole(ctx, s, p) })
	case *sql.RenameRolePlan:
		return s.ddl(ctx, "ALTER ROLE", func() error { return c.renameRole(ctx, s, p) })
	case *sql.DropRolePlan:
		return s.ddl(ctx, "DROP ROLE", func() error { return c.dropRoles(ctx, s, p) })
	case *sql.GrantRolePlan:
		return s.ddl(ctx, grantTag(p.Grant, "ROLE"), func() error { return c.grantRoles(ctx, s, p) })
	case *sql.GrantPlan:
		return s.ddl(ctx, grantTag(p.Grant, ""), func() error { return c.grant(ctx, s, p) })
	case *sql.AlterOwnerPlan:
		return s.ddl(ctx, "ALTER "+strings.ToUpper(p.Kind), func() error { return c.alterOwner(ctx, s, p) })
	case *sql.ReassignOwnedPlan:
		return s.ddl(ctx, "REASSIGN OWNED", func() error { return c.reassignOwned(ctx, s, p) })
	case *sql.AlterDefaultPrivilegesPlan:
		return s.ddl(ctx, "ALTER DEFAULT PRIVILEGES", func() error { return c.alterDefaultPrivileges(ctx, s, p) })
	case *sql.DropOwnedPlan:
		return s.ddl(ctx, "DROP OWNED", func() error { return c.dropOwned(ctx, s, p) })
	case *sql.InsertPlan:
		return s.insert(ctx, p)
	case *sql.UpdatePlan:
		return s.update(ctx, p)
	case *sql.DeletePlan:
		return s.delete(ctx, p)
	case *sql.SubscribePlan:
		sub, err := s.subscribe(ctx, p)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Rows: sub, Tag: "SUBSCRIBE"}, nil
	case *sql.ExplainPlan:
		text, err := s.explain(p)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Rows: &sliceRows{rows: []repr.Row{repr.PackRow(repr.TextDatum(text))}}}, nil
	case *sql.SetVariablePlan:
		return s.setVar(p)
	case *sql.ResetVariablePlan:
		return s.resetVar(p.Name)
	case *sql.ShowVariablePlan:
		return s.showVar(p.Name)
	case *sql.TransactionPlan:
		return s.transactionModes(ctx, p)
	case *sql.ShowObjectsPlan:
		rows, err := s.showObjects(p)
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Rows: &sliceRows{rows: rows}}, nil
	case *sql.CopyFromPlan:
		return s.copyFrom(p)
	case *sql.CopyToPlan:
		return s.copyTo(ctx, p)
	case *sql.DeclarePlan:
		return s.declare(ctx, p)
	case *sql.FetchPlan:
		return s.fetch(ctx, p)
	case *sql.ClosePlan:
		if p.Name == "" {
			for n, cur := range s.cursors {
				cur.close()
				delete(s.cursors, n)
			}
			return wire.Result{Tag: "CLOSE CURSOR ALL"}, nil
		}
		cur, ok := s.cursors[p.Name]
		if !ok {
			return wire.Result{}, pgcode.New(pgcode.InvalidCursorName, "cursor %q does not exist", p.Name)
		}
		cur.close()
		delete(s.cursors, p.Name)
		return wire.Result{Tag: "CLOSE CURSOR"}, nil
	case *sql.DiscardPlan:
		if p.What == "all" {
			if s.txn.explicit {
				return wire.Result{}, pgcode.New(pgcode.ActiveSQLTransaction, "DISCARD ALL cannot run inside a transaction block")
			}
			for n, cur := range s.cursors {
				cur.close()
				delete(s.cursors, n)
			}
			s.prepared = map[string]*preparedSQL{}
			s.vars = newVars()
			s.startAuth()
		}
		return wire.Result{Tag: "DISCARD " + strings.ToUpper(p.What)}, nil
	case *sql.PreparePlan:
		if _, dup := s.prepared[p.Name]; dup {
			return wire.Result{}, pgcode.New(pgcode.DuplicatePreparedStatement, "prepared statement %q already exists", p.Name)
		}
		s.prepared[p.Name] = &preparedSQL{stmt: p.Stmt, types: p.Types}
		return wire.Result{Tag: "PREPARE"}, nil
	case *sql.ExecutePlan:
		return s.executePrepared(ctx, p)
	case *sql.DeallocatePlan:
		if p.Name == "" {
			s.prepared = map[string]*preparedSQL{}
		} else if _, ok := s.prepared[p.Name]; !ok {
			return wire.Result{}, pgcode.New(pgcode.UndefinedPreparedStatement, "prepared statement %q does not exist", p.Name)
		} else {
			delete(s.prepared, p.Name)
		}
		return wire.Result{Tag: "DEALLOCATE"}, nil
	}
	return wire.Result{}, pgcode.New(pgcode.FeatureNotSupported, "statement %T is not supported", p)
}

// writeKind names the statement a read-only transaction may not run
// ("" for statements it may).
func writeKind(p sql.Plan) string {
	switch p := p.(type) {
	case *sql.InsertPlan:
		return "INSERT"
	case *sql.UpdatePlan:
		return "UPDATE"
	case *sql.DeletePlan:
		return "DELETE"
	case *sql.CopyFromPlan:
		return "COPY FROM"
	case *sql.CreateTablePlan:
		return "CREATE TABLE"
	case *sql.CreateTableAsPlan:
		return "CREATE TABLE AS"
	case *sql.CreateViewPlan:
		if p.Materialized {
			return "CREATE MATERIALIZED VIEW"
		}
		return "CREATE VIEW"
	case *sql.CreateIndexPlan:
		return "CREATE INDEX"
	case *sql.CreateSchemaPlan:
		return "CREATE SCHEMA"
	case *sql.CreateConnectionPlan:
		return "CREATE CONNECTION"
	case *sql.CreateSourcePlan:
		return "CREATE SOURCE"
	case *sql.DropPlan:
		return "DROP " + strings.ToUpper(p.Kind)
	case *sql.AlterRenamePlan:
		return "ALTER " + strings.ToUpper(p.Kind)
	case *sql.CreateRolePlan:
		return "CREATE ROLE"
	case *sql.AlterRolePlan, *sql.RenameRolePlan:
		return "ALTER ROLE"
	case *sql.DropRolePlan:
		return "DROP ROLE"
	case *sql.GrantRolePlan:
		return grantTag(p.Grant, "ROLE")
	case *sql.GrantPlan:
		return grantTag(p.Grant, "")
	case *sql.AlterOwnerPlan:
		return "ALTER " + strings.ToUpper(p.Kind)
	case *sql.ReassignOwnedPlan:
		return "REASSIGN OWNED"
	case *sql.AlterDefaultPrivilegesPlan:
		return "ALTER DEFAULT PRIVILEGES"
	case *sql.DropOwnedPlan:
		return "DROP OWNED"
	}
	return ""
}

// grantTag is the command tag of GRANT and REVOKE (of roles: GRANT ROLE).
func grantTag(grant bool, what string) string {
	tag := "REVOKE"
	if grant {
		tag = "GRANT"
	}
	if what != "" {
		tag += " " + what
	}
	return tag
}

// transactionModes runs a transaction statement and what PostgreSQL ties
// to the block around it: its READ ONLY mode (BEGIN READ ONLY, SET
// TRANSACTION READ ONLY, default_transaction_read_only) and the end of
// the SETs made in it.
func (s *session) transactionModes(ctx context.Context, p *sql.TransactionPlan) (wire.Result, error) {
	explicit, failed := s.txn.explicit, s.txn.failed
	res, err := s.transaction(ctx, p)
	switch {
	case p.Kind == "begin" && !explicit && s.txn.explicit:
		s.varUndo = nil
		s.txn.readOnly = s.vars.must("default_transaction_read_only") == "on"
		s.applyModes(p.Options)
	case p.Kind == "set transaction" && s.txn.explicit:
		s.applyModes(p.Options)
	case explicit && !s.txn.explicit:
		s.endBlockVars(p.Kind == "commit" && !failed && err == nil)
		// A ROLLBACK may have undone a SET ROLE.
		s.syncSuperuser()
	}
	return res, err
}

// applyModes applies BEGIN's or SET TRANSACTION's READ ONLY / READ WRITE.
func (s *session) applyModes(opts map[string]string) {
	if v, ok := opts["transaction_read_only"]; ok {
		s.txn.readOnly = v == "1" || v == "on" || v == "true"
	}
}

// ddl runs a catalog change. DDL is not allowed inside an explicit
// transaction that has written (viewd transactions are either reads, or
// writes to tables).
func (s *session) ddl(ctx context.Context, tag string, f func() error) (wire.Result, error) {
	if s.txn.explicit && len(s.txn.writes) > 0 {
		return wire.Result{}, pgcode.New(pgcode.ActiveSQLTransaction, "%s cannot run inside a transaction block that has written", tag)
	}
	s.c.mu.Lock()
	s.c.planningPath, s.c.notice, s.c.ddlSession = s.vars.searchPath(), s.client.Notice, s
	if r := s.actorLocked(); r != nil {
		s.c.cat.ddlOwner = r.OID
	}
	err := f()
	s.c.planningPath, s.c.notice, s.c.ddlSession, s.c.cat.ddlOwner = nil, nil, nil, 0
	s.c.mu.Unlock()
	if err != nil {
		return wire.Result{}, err
	}
	return wire.Result{Tag: tag}, nil
}

// createTableAs runs CREATE TABLE ... AS: the table is created (DDL,
// which takes effect at once), then the query's rows, read as a SELECT of
// the session would read them, are committed into it at once, whatever
// the session's transaction (like the table itself, they survive its
// rollback). If the write fails the table is dropped again. The tag is
// PostgreSQL's: SELECT and the row count.
func (s *session) createTableAs(ctx context.Context, p *sql.CreateTableAsPlan) (wire.Result, error) {
	c := s.c
	c.mu.Lock()
	err := c.cat.requireRead(s.actorLocked(), p.Query.DependsOn)
	c.mu.Unlock()
	if err != nil {
		return wire.Result{}, err
	}
	var created *item
	if _, err := s.ddl(ctx, "CREATE TABLE AS", func() error {
		before := c.cat.version
		if err := c.createTable(ctx, &p.Create, true); err != nil {
			return err
		}
		if c.cat.version != before {
			schema, name, err := c.resolveNewName(p.Create.Name, c.searchPathFor(p.Create.Name))
			if err != nil {
				return err
			}
			created, _ = c.exists(schema, name)
		}
		return nil
	}); err != nil {
		return wire.Result{}, err
	}
	if created == nil || !p.WithData {
		// IF NOT EXISTS over an existing relation (a notice said so), or
		// WITH NO DATA.
		return wire.Result{Tag: "CREATE TABLE AS"}, nil
	}
	rows, err := s.selectRows(ctx, &p.Query, nil, false)
	var all []repr.Row
	if err == nil {
		all, err = drain(ctx, rows)
	}
	if err == nil && len(all) > 0 {
		ups := make([]storage.TableUpdate, len(all))
		for i, r := range all {
			ups[i] = storage.TableUpdate{Table: uint64(created.ID), Row: r, Diff: 1}
		}
		err = c.commitWrites(ctx, ups)
	}
	if err != nil {
		n := created.Name
		drop := &sql.DropPlan{Kind: "table", Names: []sql.PartialName{{Database: n.Database, Schema: n.Schema, Item: n.Item}}, IfExists: true}
		if _, derr := s.ddl(ctx, "DROP TABLE", func() error { return c.drop(ctx, s, drop) }); derr != nil {
			c.log.Warn("coord: dropping the table of a failed CREATE TABLE AS", "table", created.Name.String(), "err", derr)
		}
		return wire.Result{}, err
	}
	return wire.Result{Tag: fmt.Sprintf("SELECT %d", len(all))}, nil
}

func (s *session) executePrepared(ctx context.Context, p *sql.ExecutePlan) (wire.Result, error) {
	ps, ok := s.prepared[p.Name]
	if !ok {
		return wire.Result{}, pgcode.New(pgcode.UndefinedPreparedStatement, "prepared statement %q does not exist", p.Name)
	}
	var params []repr.Datum
	types := append([]repr.ScalarType(nil), ps.types...)
	for i, rel := range p.Params {
		d, typ, err := s.c.evalConstant(ctx, rel)
		if err != nil {
			return wire.Result{}, err
		}
		params = append(params, d)
		if i >= len(types) {
			types = append(types, typ)
		}
	}
	return s.execute(ctx, ps.stmt, params, types)
}

// evalConstant evaluates a one-row, one-column relation at the current
// time.
func (c *Coordinator) evalConstant(ctx context.Context, rel plan.Rel) (repr.Datum, repr.ScalarType, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.freshCatalogLocked(rel); err != nil {
		return repr.Null, repr.TypeUnknown, err
	}
	rows, err := c.peekLocked(ctx, rel, c.now)
	if err != nil {
		return repr.Null, repr.TypeUnknown, err
	}
	typ := rel.Typ().Cols[0].Type
	if len(rows) != 1 {
		return repr.Null, typ, pgcode.New(pgcode.CardinalityViolation, "expected one value, got %d", len(rows))
	}
	return rows[0].Get(0), typ, nil
}
