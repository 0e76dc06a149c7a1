package sql

import (
	"fmt"
	"strings"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/sql/parse"
)

// testCatalog is an in-memory Catalog for tests: items live in
// materialize.public unless created with a schema.
type testCatalog struct {
	items  []*CatalogItem
	nextID plan.GlobalID
}

var _ Catalog = (*testCatalog)(nil)

func (c *testCatalog) ResolveItem(name PartialName, searchPath []string) (*CatalogItem, error) {
	schemas := searchPath
	if name.Schema != "" {
		schemas = []string{name.Schema}
	}
	for _, s := range schemas {
		for _, it := range c.items {
			if it.Name.Schema == s && it.Name.Item == name.Item {
				return it, nil
			}
		}
	}
	return nil, pgcode.New(pgcode.UndefinedTable, "relation %q does not exist", name.String())
}

func (c *testCatalog) ResolveSchema(db, schema string) bool {
	return schema == "public" || schema == "other"
}

func (c *testCatalog) ItemByID(id plan.GlobalID) (*CatalogItem, bool) {
	for _, it := range c.items {
		if it.ID == id {
			return it, true
		}
	}
	return nil, false
}

func (c *testCatalog) DefaultDatabase() string { return "materialize" }

// exec runs DDL against the catalog: CREATE TABLE, VIEW, MATERIALIZED
// VIEW, SOURCE (with columns) and CONNECTION register items.
func (c *testCatalog) exec(sqlText string) error {
	stmts, err := parse.Parse(sqlText)
	if err != nil {
		return err
	}
	for _, st := range stmts {
		scx := &StatementContext{Catalog: c, Vars: map[string]string{}}
		p, err := PlanStatement(scx, st, nil)
		if err != nil {
			return err
		}
		c.nextID++
		item := &CatalogItem{ID: c.nextID, SQL: st.SQL()}
		var name PartialName
		switch x := p.(type) {
		case *CreateTablePlan:
			name, item.Kind, item.Desc, item.PrimaryKey = x.Name, KindTable, x.Desc, x.PrimaryKey
			for _, col := range x.Columns {
				item.Defaults = append(item.Defaults, col.Default)
			}
		case *CreateViewPlan:
			name, item.Kind, item.Desc = x.Name, KindView, x.Query.Desc
			if x.Materialized {
				item.Kind = KindMaterializedView
			}
		case *CreateSourcePlan:
			name, item.Kind = x.Name, KindSource
			for _, col := range x.Columns {
				item.Desc.Names = append(item.Desc.Names, col.Name)
				item.Desc.Types = append(item.Desc.Types, col.Type)
			}
			item.Desc.Keys = x.Keys
		case *CreateConnectionPlan:
			name = PartialName{Item: x.Name[len(x.Name)-1]}
			item.Kind = KindConnection
		default:
			return fmt.Errorf("exec-ddl: unexpected plan %T", p)
		}
		schema := name.Schema
		if schema == "" {
			schema = "public"
		}
		item.Name = QualifiedName{Database: "materialize", Schema: schema, Item: name.Item}
		c.items = append(c.items, item)
	}
	return nil
}

func formatErr(err error) string {
	pe := pgcode.As(err)
	var b strings.Builder
	fmt.Fprintf(&b, "error %s: %s", pe.Code, pe.Message)
	if pe.Position > 0 {
		fmt.Fprintf(&b, " (position %d)", pe.Position)
	}
	if pe.Hint != "" {
		fmt.Fprintf(&b, "\nhint: %s", pe.Hint)
	}
	return b.String() + "\n"
}
