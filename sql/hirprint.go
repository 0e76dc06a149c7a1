package sql

import (
	"fmt"
	"strings"

	"github.com/viewd/viewd/plan"
	"github.com/viewd/viewd/repr"
)

// HIRString prints a HIR relation as an indented tree, deterministically
// (EXPLAIN HIR and golden tests). Columns print as #i, outer columns as
// #^level.i.
func HIRString(r HRel) string {
	var b strings.Builder
	printHRel(&b, r, 0)
	return b.String()
}

// hirPrinter prints scalars; when collecting, subqueries print as $k and
// are gathered to be printed below the current line.
type hirPrinter struct {
	collect bool
	subs    []HRel
}

func printHRel(b *strings.Builder, r HRel, depth int) {
	pad := strings.Repeat("  ", depth)
	p := &hirPrinter{collect: true}
	hirScalarString := p.scalar
	hirScalars := p.scalars
	aggString := p.agg
	// The arguments of line are printed (collecting subqueries) before
	// line runs.
	line := func(format string, args ...any) {
		subs := p.subs
		p.subs = nil
		fmt.Fprintf(b, pad+format+"\n", args...)
		for k, sq := range subs {
			fmt.Fprintf(b, "%s  $%d:\n", pad, k)
			printHRel(b, sq, depth+2)
		}
	}
	switch x := r.(type) {
	case HGet:
		if x.Local != 0 {
			line("Get l%d (%s)", x.Local, x.Name)
		} else {
			line("Get %s (u%d)", x.Name, x.ID)
		}
	case HConstant:
		var rows []string
		for _, row := range x.Rows {
			parts := make([]string, len(row))
			for i, d := range row {
				parts[i] = d.String()
			}
			rows = append(rows, "("+strings.Join(parts, ", ")+")")
		}
		line("Constant %s", strings.Join(rows, " "))
	case HMap:
		line("Map (%s)", hirScalars(x.Scalars))
		printHRel(b, x.Input, depth+1)
	case HFilter:
		line("Filter %s", hirScalars(x.Preds))
		printHRel(b, x.Input, depth+1)
	case HProject:
		line("Project (%s)", colList(x.Outputs))
		printHRel(b, x.Input, depth+1)
	case HCallTable:
		line("CallTable %s(%s)", x.Func.Name, hirScalars(x.Args))
	case HJoin:
		lat := ""
		if x.Lateral {
			lat = " lateral"
		}
		line("%sJoin%s on=%s", strings.Title(joinKindNames[x.Kind]), lat, hirScalarString(x.On))
		printHRel(b, x.Left, depth+1)
		printHRel(b, x.Right, depth+1)
	case HReduce:
		aggs := make([]string, len(x.Aggs))
		for i, a := range x.Aggs {
			aggs[i] = aggString(a)
		}
		line("Reduce group_by=(%s) aggregates=[%s]", colList(x.GroupKey), strings.Join(aggs, ", "))
		printHRel(b, x.Input, depth+1)
	case HDistinct:
		line("Distinct")
		printHRel(b, x.Input, depth+1)
	case HTopK:
		line("TopK group_by=(%s) order_by=(%s) limit=%d offset=%d", colList(x.GroupKey), orderList(x.Order), x.Limit, x.Offset)
		printHRel(b, x.Input, depth+1)
	case HNegate:
		line("Negate")
		printHRel(b, x.Input, depth+1)
	case HThreshold:
		line("Threshold")
		printHRel(b, x.Input, depth+1)
	case HUnion:
		line("Union")
		for _, in := range x.Inputs {
			printHRel(b, in, depth+1)
		}
	case HLet:
		line("Let l%d = %s", x.ID, x.Name)
		printHRel(b, x.Value, depth+1)
		line("In")
		printHRel(b, x.Body, depth+1)
	case HLetRec:
		for i, id := range x.IDs {
			line("LetRec l%d = %s", id, x.Names[i])
			printHRel(b, x.Values[i], depth+1)
		}
		line("In")
		printHRel(b, x.Body, depth+1)
	case HWindow:
		fs := make([]string, len(x.Funcs))
		for i, f := range x.Funcs {
			if f.Agg != nil {
				fs[i] = aggString(*f.Agg)
			} else {
				fs[i] = f.Name + "(" + hirScalars(f.Args) + ")"
			}
		}
		line("Window partition_by=(%s) order_by=(%s) [%s]", colList(x.PartitionBy), orderList(x.OrderBy), strings.Join(fs, ", "))
		printHRel(b, x.Input, depth+1)
	default:
		line("?%T", r)
	}
}

func colList(cs []int) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("#%d", c)
	}
	return strings.Join(parts, ", ")
}

func orderList(os []plan.ColumnOrder) string {
	parts := make([]string, len(os))
	for i, o := range os {
		parts[i] = fmt.Sprintf("#%d", o.Column) + orderSuffix(o.Order)
	}
	return strings.Join(parts, ", ")
}

func orderSuffix(o repr.SortOrder) string {
	s := " asc"
	if o.Desc {
		s = " desc"
	}
	if o.NullsFirst != o.Desc {
		if o.NullsFirst {
			s += " nulls_first"
		} else {
			s += " nulls_last"
		}
	}
	return s
}

func hirScalars(es []HScalar) string { return (&hirPrinter{}).scalars(es) }

// hirScalarString prints a HIR scalar; it also serves as the identity of
// an expression when matching GROUP BY expressions and aggregates.
func hirScalarString(e HScalar) string { return (&hirPrinter{}).scalar(e) }

func aggString(a HAgg) string { return (&hirPrinter{}).agg(a) }

func (p *hirPrinter) scalars(es []HScalar) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = p.scalar(e)
	}
	return strings.Join(parts, ", ")
}

func (p *hirPrinter) scalar(e HScalar) string {
	hirScalarString, hirScalars := p.scalar, p.scalars
	switch x := e.(type) {
	case HColumn:
		if x.Level > 0 {
			return fmt.Sprintf("#^%d.%d", x.Level, x.Index)
		}
		return fmt.Sprintf("#%d", x.Index)
	case HLiteral:
		if x.Value.IsNull() {
			return "null::" + x.Type.Type.String()
		}
		if x.Type.Type.Kind == repr.KindNull {
			return repr.QuoteString(x.Value.Str()) + "::unknown"
		}
		return x.Value.String()
	case HCall:
		if x.Func.Infix && len(x.Args) == 2 {
			return "(" + hirScalarString(x.Args[0]) + " " + x.Func.Name + " " + hirScalarString(x.Args[1]) + ")"
		}
		if x.Func.Postfix && len(x.Args) == 1 {
			return "(" + hirScalarString(x.Args[0]) + ") " + x.Func.Name
		}
		return x.Func.Name + "(" + hirScalars(x.Args) + ")"
	case HIf:
		return "case when " + hirScalarString(x.Cond) + " then " + hirScalarString(x.Then) + " else " + hirScalarString(x.Else) + " end"
	case HMzNow:
		return "mz_now()"
	case HParam:
		return fmt.Sprintf("$%d", x.N)
	case HExists:
		return "exists(" + p.subquery(x.Rel) + ")"
	case HSelect:
		return "select(" + p.subquery(x.Rel) + ")"
	case HError:
		return fmt.Sprintf("error(%q)", x.Err.Error())
	case hWinRef:
		return fmt.Sprintf("window#%d", x.K)
	case hSRFRef:
		return fmt.Sprintf("srf#%d.%d", x.K, x.Col)
	}
	return fmt.Sprintf("?%T", e)
}

// subqueryRef names a subquery in a printed scalar: $k when a printer
// line collects it, else the subquery printed inline (expression
// identities for GROUP BY matching).
func (p *hirPrinter) subquery(r HRel) string {
	if p.collect {
		p.subs = append(p.subs, r)
		return fmt.Sprintf("$%d", len(p.subs)-1)
	}
	return strings.ReplaceAll(strings.TrimSpace(HIRString(r)), "\n", "; ")
}

func (p *hirPrinter) agg(a HAgg) string {
	hirScalarString, hirScalars := p.scalar, p.scalars
	if a.Func.String() == "count(*)" {
		s := "count(*)"
		if a.Filter != nil {
			s += " filter (where " + hirScalarString(a.Filter) + ")"
		}
		return s
	}
	s := a.Func.String() + "("
	if a.Distinct {
		s += "distinct "
	}
	s += hirScalars(a.Args)
	for i, k := range a.OrderBy {
		if i == 0 {
			s += " order by "
		} else {
			s += ", "
		}
		s += hirScalarString(k.Expr) + orderSuffix(k.Order)
	}
	s += ")"
	if a.Filter != nil {
		s += " filter (where " + hirScalarString(a.Filter) + ")"
	}
	return s
}

// rewriteHRelScalars rewrites every scalar of r; depth is the number of
// scopes between r's own columns and the scope the rewrite started in.
func rewriteHRelScalars(r HRel, depth int, f func(HScalar, int) HScalar) HRel {
	rs := func(e HScalar) HScalar { return rewriteHScalar(e, depth, f) }
	all := func(es []HScalar) []HScalar {
		out := make([]HScalar, len(es))
		for i, e := range es {
			out[i] = rs(e)
		}
		return out
	}
	switch x := r.(type) {
	case HMap:
		return HMap{Input: rewriteHRelScalars(x.Input, depth, f), Scalars: all(x.Scalars)}
	case HFilter:
		return HFilter{Input: rewriteHRelScalars(x.Input, depth, f), Preds: all(x.Preds)}
	case HProject:
		return HProject{Input: rewriteHRelScalars(x.Input, depth, f), Outputs: x.Outputs}
	case HCallTable:
		return HCallTable{Func: x.Func, Args: all(x.Args)}
	case HJoin:
		rd := depth
		if x.Lateral {
			rd = depth + 1
		}
		return HJoin{Left: rewriteHRelScalars(x.Left, depth, f), Right: rewriteHRelScalars(x.Right, rd, f), On: rs(x.On), Kind: x.Kind, Lateral: x.Lateral}
	case HReduce:
		aggs := make([]HAgg, len(x.Aggs))
		for i, a := range x.Aggs {
			a.Args = all(a.Args)
			if a.Filter != nil {
				a.Filter = rs(a.Filter)
			}
			ks := make([]HOrderKey, len(a.OrderBy))
			for j, k := range a.OrderBy {
				ks[j] = HOrderKey{Expr: rs(k.Expr), Order: k.Order}
			}
			a.OrderBy = ks
			aggs[i] = a
		}
		return HReduce{Input: rewriteHRelScalars(x.Input, depth, f), GroupKey: x.GroupKey, Aggs: aggs}
	case HDistinct:
		return HDistinct{Input: rewriteHRelScalars(x.Input, depth, f)}
	case HTopK:
		x.Input = rewriteHRelScalars(x.Input, depth, f)
		return x
	case HNegate:
		return HNegate{Input: rewriteHRelScalars(x.Input, depth, f)}
	case HThreshold:
		return HThreshold{Input: rewriteHRelScalars(x.Input, depth, f)}
	case HUnion:
		ins := make([]HRel, len(x.Inputs))
		for i, in := range x.Inputs {
			ins[i] = rewriteHRelScalars(in, depth, f)
		}
		return HUnion{Inputs: ins}
	case HLet:
		return HLet{ID: x.ID, Name: x.Name, Value: rewriteHRelScalars(x.Value, depth, f), Body: rewriteHRelScalars(x.Body, depth, f)}
	case HLetRec:
		vals := make([]HRel, len(x.Values))
		for i, v := range x.Values {
			vals[i] = rewriteHRelScalars(v, depth, f)
		}
		return HLetRec{IDs: x.IDs, Names: x.Names, Values: vals, Types: x.Types, Body: rewriteHRelScalars(x.Body, depth, f)}
	case HWindow:
		fs := make([]HWindowFunc, len(x.Funcs))
		for i, fn := range x.Funcs {
			fn.Args = all(fn.Args)
			if fn.Agg != nil {
				a := *fn.Agg
				a.Args = all(a.Args)
				fn.Agg = &a
			}
			fs[i] = fn
		}
		return HWindow{Input: rewriteHRelScalars(x.Input, depth, f), PartitionBy: x.PartitionBy, OrderBy: x.OrderBy, Funcs: fs}
	}
	return r
}

// shiftRel adds d to the level of r's references to enclosing scopes.
func shiftRel(r HRel, d int) HRel {
	return rewriteHRelScalars(r, 1, func(s HScalar, depth int) HScalar {
		if c, ok := s.(HColumn); ok && c.Level >= depth {
			c.Level += d
			return c
		}
		return s
	})
}
