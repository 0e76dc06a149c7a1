package sql

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
	"github.com/viewd/viewd/sql/parse"
)

// TestPlanner runs the golden files under testdata/:
//
//	exec-ddl        declare tables, views, sources in the test catalog
//	build           print the HIR of a query and its output description
//	lower           print the decorrelated MIR (plan.Explain) and finishing
//	opt             print the decorrelated MIR after plan.Optimize (no
//	                indexes) and finishing
//	plan            print a summary of any statement's plan
//
// Errors print as "error <SQLSTATE>: message (position n)".
func TestPlanner(t *testing.T) { runPlannerFiles(t, false) }

// runPlannerFiles runs the datadriven files. With optimized, only the
// eval and data commands run, through the optimised plan (plan.Optimize)
// instead of the lowered one, against the same expected results; the
// other commands are skipped (their expected output is returned as is).
func runPlannerFiles(t *testing.T, optimized bool) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		if strings.HasPrefix(path, filepath.Join("testdata", "fuzz")+string(filepath.Separator)) {
			t.Skip("go test's fuzz corpus (FuzzFrontEnd), not a datadriven file")
		}
		cat := &testCatalog{}
		ev := &evaluator{tables: map[plan.GlobalID][]evalRow{}, lets: map[plan.LocalID][]evalRow{}, ctx: &expr.EvalCtx{}}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			switch d.Cmd {
			case "data":
				// data table=t: the input is a query whose rows become t's.
				var table string
				d.ScanArgs(t, "table", &table)
				item, err := cat.ResolveItem(PartialName{Item: table}, []string{"public"})
				if err != nil {
					return formatErr(err)
				}
				rows, _, err := evalQuery(cat, ev, d.Input, optimized)
				if err != nil {
					return formatErr(err)
				}
				ev.tables[item.ID] = rows
				return ""
			case "eval":
				rows, qp, err := evalQuery(cat, ev, d.Input, optimized)
				if err != nil {
					return formatErr(err)
				}
				return formatRows(rows, qp)
			case "exec-ddl":
				if err := cat.exec(d.Input); err != nil {
					return formatErr(err)
				}
				return ""
			case "build", "lower", "opt", "plan":
				if optimized {
					return d.Expected
				}
				stmts, err := parse.Parse(d.Input)
				if err != nil {
					return formatErr(err)
				}
				var b strings.Builder
				for _, st := range stmts {
					scx := &StatementContext{Catalog: cat, Vars: map[string]string{}}
					p, err := PlanStatement(scx, st, nil)
					if err != nil {
						b.WriteString(formatErr(err))
						continue
					}
					b.WriteString(describePlan(d.Cmd, p))
					if len(scx.ParamTypes) > 0 {
						fmt.Fprintf(&b, "params: %v\n", scx.ParamTypes)
					}
				}
				return b.String()
			}
			t.Fatalf("unknown command %s", d.Cmd)
			return ""
		})
	})
}

// evalQuery plans a query and evaluates its MIR with the naive
// evaluator, or with optimized the MIR plan.Optimize makes of it; the rows
// are finished (ordered, limited, projected).
func evalQuery(cat *testCatalog, ev *evaluator, sqlText string, optimized bool) ([]evalRow, *QueryPlan, error) {
	stmts, err := parse.Parse(sqlText)
	if err != nil {
		return nil, nil, err
	}
	scx := &StatementContext{Catalog: cat, Vars: map[string]string{}}
	p, err := PlanStatement(scx, stmts[0], nil)
	if err != nil {
		return nil, nil, err
	}
	sp, ok := p.(*SelectPlan)
	if !ok {
		return nil, nil, fmt.Errorf("eval: not a query")
	}
	qp := &sp.Query
	if err := plan.Validate(qp.Expr); err != nil {
		return nil, nil, fmt.Errorf("invalid MIR: %v\n%s", err, plan.Explain(qp.Expr))
	}
	rel := qp.Expr
	if optimized {
		opt, err := plan.Optimize(rel, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("optimize: %w", err)
		}
		if err := plan.Validate(opt); err != nil {
			return nil, nil, fmt.Errorf("invalid optimised MIR: %v\n%s", err, plan.Explain(opt))
		}
		rel = opt
	}
	rows, err := ev.eval(rel)
	if err != nil {
		return nil, nil, err
	}
	rows = consolidate(rows)
	var flat [][]repr.Datum
	for _, r := range rows {
		if r.diff < 0 {
			return nil, nil, fmt.Errorf("eval: negative multiplicity %d for (%s)", r.diff, rowKey(r.vals))
		}
		for i := int64(0); i < r.diff; i++ {
			flat = append(flat, r.vals)
		}
	}
	f := qp.Finishing
	sort.SliceStable(flat, func(i, j int) bool {
		for _, o := range f.Order {
			if c := compareOrdered(flat[i][o.Column], flat[j][o.Column], o.Order); c != 0 {
				return c < 0
			}
		}
		return false
	})
	if f.Offset > 0 {
		if int(f.Offset) > len(flat) {
			flat = nil
		} else {
			flat = flat[f.Offset:]
		}
	}
	if f.Limit >= 0 && int(f.Limit) < len(flat) {
		flat = flat[:f.Limit]
	}
	var out []evalRow
	for _, vals := range flat {
		pv := make([]repr.Datum, len(f.Project))
		for i, c := range f.Project {
			pv[i] = vals[c]
		}
		out = append(out, evalRow{vals: pv, diff: 1})
	}
	return out, qp, nil
}

// formatRows prints rows one per line; unordered results are sorted.
func formatRows(rows []evalRow, qp *QueryPlan) string {
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = rowKey(r.vals)
	}
	if len(qp.Finishing.Order) == 0 {
		sort.Strings(lines)
	}
	if len(lines) == 0 {
		return "(no rows)\n"
	}
	return strings.Join(lines, "\n") + "\n"
}

func describePlan(cmd string, p Plan) string {
	var b strings.Builder
	query := func(q *QueryPlan) {
		switch cmd {
		case "build":
			b.WriteString(HIRString(q.HIR))
		case "lower", "opt":
			rel := q.Expr
			if cmd == "opt" {
				opt, rep, err := plan.OptimizeReport(rel, nil)
				if err != nil {
					fmt.Fprintf(&b, "optimize: %v\n", err)
					return
				}
				if len(rep.Unconverged) > 0 {
					fmt.Fprintf(&b, "optimiser batches %v did not reach a fixed point\n", rep.Unconverged)
				}
				rel = opt
			}
			b.WriteString(plan.Explain(rel))
			if !q.Finishing.IsTrivial(q.Expr.Typ().Arity()) {
				fmt.Fprintf(&b, "finishing: order=(%s) limit=%d offset=%d project=(%s)\n",
					orderList(q.Finishing.Order), q.Finishing.Limit, q.Finishing.Offset, colList(q.Finishing.Project))
			}
		}
		fmt.Fprintf(&b, "desc: %s\n", q.Desc)
	}
	switch x := p.(type) {
	case *SelectPlan:
		if cmd != "plan" {
			query(&x.Query)
		} else {
			fmt.Fprintf(&b, "Select %s depends=%v\n", x.Query.Desc, x.Query.DependsOn)
		}
		if x.AsOf != nil {
			fmt.Fprintf(&b, "as of (at least=%v): %s", x.AtLeast, plan.Explain(x.AsOf.Expr))
		}
	case *CreateViewPlan:
		fmt.Fprintf(&b, "CreateView %s materialized=%v or_replace=%v if_not_exists=%v depends=%v\n", x.Name, x.Materialized, x.OrReplace, x.IfNotExists, x.Query.DependsOn)
		if cmd != "plan" {
			query(&x.Query)
		} else {
			fmt.Fprintf(&b, "desc: %s\n", x.Query.Desc)
		}
	case *CreateTablePlan:
		fmt.Fprintf(&b, "CreateTable %s %s keys=%v if_not_exists=%v\n", x.Name, x.Desc, x.Keys, x.IfNotExists)
		for _, c := range x.Columns {
			if c.DefaultExpr != nil {
				fmt.Fprintf(&b, "  default %s: %s (%s)\n", c.Name, c.Default, c.DefaultExpr)
			}
		}
		for _, fk := range x.ForeignKeys {
			fmt.Fprintf(&b, "  foreign key %s cols=%v references %s cols=%v key=%d on_update=%c on_delete=%c match=%c to_ref=%v exact=%v\n",
				fk.Name, fk.Columns, fk.RefName, fk.RefColumns, fk.RefKey, fk.OnUpdate, fk.OnDelete, fk.Match, fk.ToRef, fk.Exact)
		}
	case *InsertPlan:
		if x.Rows != nil {
			fmt.Fprintf(&b, "Insert into %s\nValues (no relation)\n", x.Table.Name)
			for _, r := range x.Rows {
				parts := make([]string, len(r))
				for i, e := range r {
					parts[i] = fmt.Sprint(e)
				}
				fmt.Fprintf(&b, "  - (%s)\n", strings.Join(parts, ", "))
			}
		} else {
			fmt.Fprintf(&b, "Insert into %s\n%s", x.Table.Name, plan.Explain(x.Values))
		}
		if x.OnConflict != nil {
			fmt.Fprintf(&b, "on conflict cols=%v do_nothing=%v set=%v where=%v\n", x.OnConflict.Columns, x.OnConflict.DoNothing, x.OnConflict.Set, x.OnConflict.Where)
		}
		if x.Returning != nil {
			fmt.Fprintf(&b, "returning %v %s\n", x.Returning, x.ReturningDesc)
		}
	case *UpdatePlan:
		fmt.Fprintf(&b, "Update %s\n%s", x.Table.Name, plan.Explain(x.Selection))
		if x.Returning != nil {
			fmt.Fprintf(&b, "returning %v %s\n", x.Returning, x.ReturningDesc)
		}
	case *DeletePlan:
		fmt.Fprintf(&b, "Delete from %s\n%s", x.Table.Name, plan.Explain(x.Selection))
		if x.Returning != nil {
			fmt.Fprintf(&b, "returning %v %s\n", x.Returning, x.ReturningDesc)
		}
	case *CreateIndexPlan:
		fmt.Fprintf(&b, "CreateIndex %q on %s keys=%v names=%v default=%v\n", x.Name, x.On.Name, x.Keys, x.KeyNames, x.Default)
	case *SubscribePlan:
		obj := ""
		if x.Object != nil {
			obj = x.Object.Name.String()
		}
		fmt.Fprintf(&b, "Subscribe object=%q snapshot=%v progress=%v at_least=%v\n", obj, x.Snapshot, x.Progress, x.AtLeast)
		if cmd == "plan" {
			fmt.Fprintf(&b, "%sdesc: %s\n", plan.Explain(x.Query.Expr), x.Query.Desc)
		} else {
			query(&x.Query)
		}
		if x.AsOf != nil {
			fmt.Fprintf(&b, "as of: %s", plan.Explain(x.AsOf.Expr))
		}
		if x.UpTo != nil {
			fmt.Fprintf(&b, "up to: %s", plan.Explain(x.UpTo.Expr))
		}
	case *ExplainPlan:
		txt, ok := x.Text()
		fmt.Fprintf(&b, "Explain %s (has text: %v)\n%s", x.Stage, ok, txt)
	case *ShowObjectsPlan:
		obj := ""
		if x.Object != nil {
			obj = x.Object.Name.String()
		}
		fmt.Fprintf(&b, "ShowObjects %s from=%v object=%q desc=%s\n", x.What, x.From, obj, x.Desc)
	case *DeclarePlan:
		fmt.Fprintf(&b, "Declare %s query=%v subscribe=%v\n", x.Name, x.Query != nil, x.Subscribe != nil)
	case *CopyToPlan:
		fmt.Fprintf(&b, "CopyTo query=%v subscribe=%v format=%v\n", x.Query != nil, x.Subscribe != nil, x.Format)
	case *CopyFromPlan:
		fmt.Fprintf(&b, "CopyFrom %s columns=%v options=%v\n", x.Table.Name, x.Columns, x.Options)
	case *CreateSourcePlan:
		conn := ""
		if x.Connection != nil {
			conn = x.Connection.Name.String()
		}
		fmt.Fprintf(&b, "CreateSource %s kind=%s connection=%q envelope=%s keys=%v\n", x.Name, x.Source.Kind, conn, x.Source.Envelope, x.Keys)
		for _, c := range x.Columns {
			fmt.Fprintf(&b, "  column %s %s\n", c.Name, c.Type)
		}
	case *PreparePlan:
		fmt.Fprintf(&b, "Prepare %s types=%v stmt=%s\n", x.Name, x.Types, parse.Dump(x.Stmt))
	case *ExecutePlan:
		fmt.Fprintf(&b, "Execute %s\n", x.Name)
		for _, p := range x.Params {
			b.WriteString(plan.Explain(p))
		}
	default:
		fmt.Fprintf(&b, "%T %+v\n", p, p)
	}
	return b.String()
}

// TestOptimizedAgrees evaluates every eval case of the datadriven files
// through its optimised plan (plan.Optimize) and checks the rows against
// the files' expected results: results computed by hand when the cases
// were written, an oracle independent of both the lowering and the
// optimiser. Any optimiser rule that changes a result fails here, with the
// file and case.
func TestOptimizedAgrees(t *testing.T) { runPlannerFiles(t, true) }
