package coord

import (
	"sort"
	"strings"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql"
	"github.com/viewd/viewd/wire"
)

// explain renders the requested stage of a plan.
func (s *session) explain(p *sql.ExplainPlan) (string, error) {
	if text, ok := p.Text(); ok {
		return text, nil
	}
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var rel plan.Rel
	switch {
	case p.Query != nil:
		rel = p.Query.Expr
	default:
		switch in := p.Inner.(type) {
		case *sql.InsertPlan:
			var err error
			if rel, err = in.ValuesRel(); err != nil {
				return "", err
			}
		case *sql.UpdatePlan:
			rel = in.Selection
		case *sql.DeletePlan:
			rel = in.Selection
		case *sql.CreateIndexPlan:
			rel = plan.ArrangeBy{Input: plan.Get{Global: in.On.ID, Name: in.On.Name.String(), Type: plan.RelType{Cols: in.On.Desc.Types, Keys: in.On.Desc.Keys}}, Keys: [][]expr.Scalar{in.Keys}}
		default:
			return "", pgcode.New(pgcode.FeatureNotSupported, "EXPLAIN of this statement is not supported")
		}
	}
	inl, err := c.inlineLocked(rel, 0)
	if err != nil {
		return "", err
	}
	oracle := indexOracle{c.cat}
	opt, err := plan.Optimize(inl, oracle)
	if err != nil {
		return "", err
	}
	switch p.Stage {
	case "lir", "physical":
		lir, err := plan.Lower(opt, oracle)
		if err != nil {
			return "", err
		}
		// The last line says how a one-shot read of the plan runs (a fast
		// path, or a transient dataflow).
		return plan.ExplainLIR(lir) + plan.PlanPeek(lir).String() + "\n", nil
	}
	return plan.Explain(opt), nil
}

// setVar executes SET.
func (s *session) setVar(p *sql.SetVariablePlan) (wire.Result, error) {
	name := p.Name
	if name == "role" || name == "session_authorization" {
		return s.setRole(p, "SET")
	}
	switch name {
	case "time zone", "timezone":
		name = "TimeZone"
	case "names":
		name = "client_encoding"
	case "transaction_isolation", "transaction isolation level":
		name = "transaction_isolation"
	}
	value := strings.Join(p.Value, ", ")
	if p.Local && !s.txn.explicit {
		// As in PostgreSQL: a warning, and no effect beyond the checks.
		s.client.Notice(warning("SET LOCAL can only be used in transaction blocks"))
		var err error
		if p.Default {
			_, err = lookupVar(name)
		} else {
			_, _, err = validate(name, value)
		}
		if err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Tag: "SET"}, nil
	}
	if p.Default {
		// SET name TO DEFAULT is RESET name, but for its tag and LOCAL.
		if err := s.resetOne(name, p.Local); err != nil {
			return wire.Result{}, err
		}
		return wire.Result{Tag: "SET"}, nil
	}
	if strings.EqualFold(name, "transaction_read_only") {
		// The current transaction's mode (SET TRANSACTION READ ONLY);
		// outside a block it ends with the statement.
		norm, err := boolValue(name)(value)
		if err != nil {
			return wire.Result{}, err
		}
		if s.txn.explicit {
			s.txn.readOnly = norm == "on"
		}
		return wire.Result{Tag: "SET"}, nil
	}
	lower := strings.ToLower(name)
	if v, ok := sessionVars[lower]; ok && !v.readOnly {
		s.changingVar(lower)
	}
	canonical, val, reported, err := s.vars.set(name, value)
	if err != nil {
		return wire.Result{}, err
	}
	if !p.Local {
		s.changedVar(lower)
	}
	if reported {
		s.client.ParameterStatus(canonical, val)
	}
	return wire.Result{Tag: "SET"}, nil
}

func (s *session) resetVar(name string) (wire.Result, error) {
	if name == "role" || name == "session_authorization" {
		return s.setRole(&sql.SetVariablePlan{Name: name, Default: true}, "RESET")
	}
	if name == "all" {
		for lower, v := range sessionVars {
			// RESET ALL leaves the role and session user alone, as in
			// PostgreSQL, and read-only variables have no value to reset.
			if _, set := s.vars.values[lower]; set && !v.readOnly {
				s.changingVar(lower)
				s.vars.restore(lower, nil)
				s.changedVar(lower)
				if v.reported {
					s.client.ParameterStatus(v.name, v.def)
				}
			}
		}
		return wire.Result{Tag: "RESET"}, nil
	}
	if name == "time zone" {
		name = "TimeZone"
	}
	if err := s.resetOne(name, false); err != nil {
		return wire.Result{}, err
	}
	return wire.Result{Tag: "RESET"}, nil
}

// resetOne restores a variable's default, for the rest of the session or
// (local) of the transaction block.
func (s *session) resetOne(name string, local bool) error {
	lower := strings.ToLower(name)
	if _, ok := sessionVars[lower]; ok {
		s.changingVar(lower)
	}
	canonical, val, reported, err := s.vars.reset(name)
	if err != nil {
		return err
	}
	if !local {
		s.changedVar(lower)
	}
	if reported {
		s.client.ParameterStatus(canonical, val)
	}
	return nil
}

func (s *session) showVar(name string) (wire.Result, error) {
	if name == "all" {
		var rows []repr.Row
		for _, v := range s.vars.all() {
			rows = append(rows, repr.PackRow(repr.TextDatum(v[0]), repr.TextDatum(v[1]), repr.TextDatum(v[2])))
		}
		return wire.Result{Rows: &sliceRows{rows: rows}, Tag: "SHOW"}, nil
	}
	if name == "time zone" {
		name = "TimeZone"
	}
	if strings.EqualFold(name, "transaction_read_only") {
		val := "off"
		if s.readOnlyNow() {
			val = "on"
		}
		return wire.Result{Rows: &sliceRows{rows: []repr.Row{repr.PackRow(repr.TextDatum(val))}}, Tag: "SHOW"}, nil
	}
	val, err := s.vars.get(name)
	if err != nil {
		return wire.Result{}, err
	}
	return wire.Result{Rows: &sliceRows{rows: []repr.Row{repr.PackRow(repr.TextDatum(val))}}, Tag: "SHOW"}, nil
}

// showObjects answers SHOW TABLES | VIEWS | ... from the catalog.
func (s *session) showObjects(p *sql.ShowObjectsPlan) ([]repr.Row, error) {
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	schemaFilter := func(it *item) bool {
		if len(p.From) > 0 {
			return it.Name.Schema == p.From[len(p.From)-1]
		}
		for _, sp := range s.vars.searchPath() {
			if it.Name.Schema == sp {
				return true
			}
		}
		return false
	}
	var rows []repr.Row
	items := c.sortedItems()
	switch p.What {
	case "columns":
		it := c.cat.items[p.Object.ID]
		if it == nil {
			return nil, pgcode.New(pgcode.UndefinedTable, "relation %q does not exist", p.Object.Name.Item)
		}
		for i, n := range it.Desc.Names {
			t := it.Desc.Types[i]
			rows = append(rows, repr.PackRow(repr.TextDatum(n), repr.BoolDatum(t.Nullable), repr.TextDatum(t.Type.String())))
		}
		return rows, nil
	case "indexes":
		for _, it := range items {
			if it.Kind != sql.KindIndex || (p.Object != nil && it.On != p.Object.ID) || (p.Object == nil && !schemaFilter(it)) {
				continue
			}
			on := c.cat.items[it.On]
			var keys []string
			for _, k := range it.indexKeys {
				keys = append(keys, keyText(k, on))
			}
			rows = append(rows, repr.PackRow(repr.TextDatum(it.Name.Item), repr.TextDatum(on.Name.Item), repr.TextDatum("default"), repr.TextDatum("{"+strings.Join(keys, ",")+"}")))
		}
		return rows, nil
	case "schemas":
		var names []string
		for n := range c.cat.schemas {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			rows = append(rows, repr.PackRow(repr.TextDatum(n)))
		}
		return rows, nil
	}
	if strings.HasPrefix(p.What, "create ") {
		it := c.cat.items[p.Object.ID]
		return []repr.Row{repr.PackRow(repr.TextDatum(it.Name.String()), repr.TextDatum(it.createSQL))}, nil
	}
	kinds := map[string]sql.ItemKind{"tables": sql.KindTable, "views": sql.KindView, "materialized views": sql.KindMaterializedView, "sources": sql.KindSource, "connections": sql.KindConnection, "secrets": sql.KindSecret}
	want, ok := kinds[p.What]
	if !ok && p.What != "objects" {
		return nil, pgcode.New(pgcode.FeatureNotSupported, "SHOW %s is not supported", strings.ToUpper(p.What))
	}
	for _, it := range items {
		if it.system || !schemaFilter(it) || (ok && it.Kind != want) {
			continue
		}
		switch p.What {
		case "sources":
			rows = append(rows, repr.PackRow(repr.TextDatum(it.Name.Item), repr.TextDatum(it.sourceType())))
		case "connections":
			rows = append(rows, repr.PackRow(repr.TextDatum(it.Name.Item), repr.TextDatum(strings.ToLower(it.conn.Type))))
		case "materialized views":
			rows = append(rows, repr.PackRow(repr.TextDatum(it.Name.Item), repr.TextDatum("default")))
		default:
			rows = append(rows, repr.PackRow(repr.TextDatum(it.Name.Item)))
		}
	}
	return rows, nil
}

func keyText(k expr.Scalar, on *item) string {
	if col, ok := k.(expr.Column); ok && on != nil && col.Index < len(on.Desc.Names) {
		return on.Desc.Names[col.Index]
	}
	return k.String()
}

// sortedItems returns the catalog's items by schema and name.
func (c *Coordinator) sortedItems() []*item {
	items := make([]*item, 0, len(c.cat.items))
	for _, it := range c.cat.items {
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool {
		if items[i].Name.Schema != items[j].Name.Schema {
			return items[i].Name.Schema < items[j].Name.Schema
		}
		return items[i].Name.Item < items[j].Name.Item
	})
	return items
}
