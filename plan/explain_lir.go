package plan

import (
	"fmt"
	"strings"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// ExplainLIR prints an LIR plan as an indented tree, deterministically.
// Joins print their kind ("Join::Linear" / "Join::Delta"), each path's
// source and lookups with the arrangement key used (key=) and the stream
// expressions looked up (stream_key=); reduces print their reduce plan.
func ExplainLIR(n Node) string {
	var b strings.Builder
	explainNode(&b, n, 0)
	return b.String()
}

// formatMFP prints an MFP's parts: map=(...) filter=(...) project=(...);
// "identity" when it passes rows unchanged.
func formatMFP(m expr.MapFilterProject) string {
	if m.IsIdentity() {
		return "identity"
	}
	var parts []string
	if len(m.Expressions) > 0 {
		parts = append(parts, "map=("+joinScalars(m.Expressions, ", ")+")")
	}
	if len(m.Predicates) > 0 {
		ps := make([]string, len(m.Predicates))
		for i, p := range m.Predicates {
			ps[i] = p.Expr.String()
		}
		parts = append(parts, "filter=("+strings.Join(ps, " AND ")+")")
	}
	if !isIdentity(m.Projection, m.InputArity+len(m.Expressions)) {
		parts = append(parts, "project=("+joinCols(m.Projection)+")")
	}
	if len(parts) == 0 {
		return "identity"
	}
	return strings.Join(parts, " ")
}

func formatBounds(bs []TemporalBound, lower bool) string {
	parts := make([]string, len(bs))
	for i, bd := range bs {
		op := "<"
		if lower {
			op = ">"
		}
		if bd.Inclusive {
			op += "="
		}
		parts[i] = "mz_now() " + op + " " + bd.Expr.String()
	}
	return strings.Join(parts, " AND ")
}

func nodeName(n Node) string {
	for {
		switch x := n.(type) {
		case LGet:
			return x.Name
		case LArrangeBy:
			n = x.Input
		case LMfp:
			n = x.Input
		case LTemporalFilter:
			n = x.Input
		default:
			return ""
		}
	}
}

func inputLabel(inputs []Node, i int) string {
	s := fmt.Sprintf("%%%d", i)
	if i >= 0 && i < len(inputs) {
		if name := nodeName(inputs[i]); name != "" {
			s += ":" + name
		}
	}
	return s
}

func explainStages(b *strings.Builder, inputs []Node, d int, src int, smfp expr.MapFilterProject, stages []LookupStage, final expr.MapFilterProject) {
	line(b, d, "source %s", inputLabel(inputs, src))
	if !smfp.IsIdentity() {
		line(b, d+1, "mfp %s", formatMFP(smfp))
	}
	for _, st := range stages {
		s := fmt.Sprintf("lookup %s key=[%s] stream_key=[%s]", inputLabel(inputs, st.Lookup), joinScalars(st.LookupKey, ", "), joinScalars(st.StreamKey, ", "))
		if len(st.LookupKey) == 0 {
			s = fmt.Sprintf("lookup %s cross", inputLabel(inputs, st.Lookup))
		}
		if !st.Closure.IsIdentity() {
			s += " closure=" + formatMFP(st.Closure)
		}
		line(b, d, "%s", s)
	}
	line(b, d, "final %s", formatMFP(final))
}

func explainNode(b *strings.Builder, n Node, d int) {
	switch x := n.(type) {
	case LGet:
		s := "Get " + x.Name
		if len(x.Keys) > 0 {
			s += " arrangements=[" + joinKeys(x.Keys) + "]"
		}
		if key, tuples, ok := x.LiteralPrefix(); ok {
			s += " index_read=" + formatIndexRead(key, tuples)
		}
		if !x.MFP.IsIdentity() {
			s += " mfp=" + formatMFP(x.MFP)
		}
		line(b, d, "%s", s)
	case LConstant:
		explainConstant(b, Constant{Rows: x.Rows, Type: x.Type, Err: x.Err}, d)
	case LMfp:
		line(b, d, "Mfp %s", formatMFP(x.MFP))
		explainNode(b, x.Input, d+1)
	case LTemporalFilter:
		s := "TemporalFilter"
		if len(x.Lower) > 0 {
			s += " lower=(" + formatBounds(x.Lower, true) + ")"
		}
		if len(x.Upper) > 0 {
			s += " upper=(" + formatBounds(x.Upper, false) + ")"
		}
		if !x.Pre.IsIdentity() {
			s += " pre=" + formatMFP(x.Pre)
		}
		s += " project=(" + joinCols(x.Projection) + ")"
		line(b, d, "%s", s)
		explainNode(b, x.Input, d+1)
	case LFlatMap:
		name := "?"
		if x.Func != nil {
			name = x.Func.Name
		}
		s := fmt.Sprintf("FlatMap %s(%s)", name, joinScalars(x.Args, ", "))
		if !x.MFP.IsIdentity() {
			s += " mfp=" + formatMFP(x.MFP)
		}
		line(b, d, "%s", s)
		explainNode(b, x.Input, d+1)
	case LJoin:
		switch p := x.Plan.(type) {
		case LinearJoinPlan:
			line(b, d, "Join::Linear")
			explainStages(b, x.Inputs, d+1, p.Source, p.SourceMFP, p.Stages, p.FinalMFP)
		case DeltaJoinPlan:
			line(b, d, "Join::Delta")
			for _, path := range p.Paths {
				line(b, d+1, "path %s", inputLabel(x.Inputs, path.Source))
				explainStages(b, x.Inputs, d+2, path.Source, path.SourceMFP, path.Stages, path.FinalMFP)
			}
		}
		line(b, d+1, "inputs")
		for _, in := range x.Inputs {
			explainNode(b, in, d+2)
		}
	case LReduce:
		aggs := make([]string, len(x.Aggregates))
		for i, a := range x.Aggregates {
			aggs[i] = a.String()
		}
		s := fmt.Sprintf("Reduce::%s key=[%s]", titleCase(x.Plan.Kind.String()), joinScalars(x.Key, ", "))
		if len(aggs) > 0 {
			s += " aggregates=[" + strings.Join(aggs, ", ") + "]"
		}
		if x.Plan.Kind == ReduceCollation {
			s += fmt.Sprintf(" accumulable=%v hierarchical=%v basic=%v", x.Plan.Accumulable, x.Plan.Hierarchical, x.Plan.Basic)
		}
		if len(x.Plan.Buckets) > 0 {
			s += fmt.Sprintf(" buckets=%v", x.Plan.Buckets)
		}
		if x.Monotonic {
			s += " monotonic"
		}
		line(b, d, "%s", s)
		explainNode(b, x.Input, d+1)
	case LTopK:
		kind := "Basic"
		if x.Kind == TopKTop1 {
			kind = "Top1"
		}
		s := "TopK::" + kind
		if len(x.GroupKey) > 0 {
			s += " group_by=[" + joinCols(x.GroupKey) + "]"
		}
		if len(x.Order) > 0 {
			s += " order_by=[" + joinOrder(x.Order) + "]"
		}
		if x.Limit >= 0 {
			s += fmt.Sprintf(" limit=%d", x.Limit)
		}
		if x.Offset > 0 {
			s += fmt.Sprintf(" offset=%d", x.Offset)
		}
		if x.Monotonic {
			s += " monotonic"
		}
		if x.RowNumber {
			s += " row_number"
		}
		line(b, d, "%s", s)
		explainNode(b, x.Input, d+1)
	case LNegate:
		line(b, d, "Negate")
		explainNode(b, x.Input, d+1)
	case LThreshold:
		line(b, d, "Threshold")
		explainNode(b, x.Input, d+1)
	case LUnion:
		s := "Union"
		if x.ConsolidateOutput {
			s += " consolidate_output=true"
		}
		line(b, d, "%s", s)
		for _, in := range x.Inputs {
			explainNode(b, in, d+1)
		}
	case LArrangeBy:
		line(b, d, "ArrangeBy keys=[%s]", joinKeys(x.Keys))
		explainNode(b, x.Input, d+1)
	case LLet:
		line(b, d, "With")
		line(b, d+1, "cte %s =", localName(x.ID))
		explainNode(b, x.Value, d+2)
		line(b, d, "Return")
		explainNode(b, x.Body, d+1)
	case LLetRec:
		line(b, d, "With Mutually Recursive")
		for i, id := range x.IDs {
			line(b, d+1, "cte %s =", localName(id))
			if i < len(x.Values) {
				explainNode(b, x.Values[i], d+2)
			}
		}
		line(b, d, "Return")
		explainNode(b, x.Body, d+1)
	case LWindow:
		fs := make([]string, len(x.Funcs))
		for i, f := range x.Funcs {
			fs[i] = f.String()
		}
		line(b, d, "Window partition_by=[%s] order_by=[%s] funcs=[%s]", joinCols(x.PartitionBy), joinOrder(x.OrderBy), strings.Join(fs, ", "))
		explainNode(b, x.Input, d+1)
	default:
		line(b, d, "?%T", n)
	}
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// formatIndexRead describes the entries a Get reads from its index: the
// key columns the literals fix, then the literal tuples (a count past 5).
func formatIndexRead(key []expr.Scalar, tuples [][]repr.Datum) string {
	cols := make([]string, len(tuples[0]))
	for i := range cols {
		cols[i] = key[i].String()
	}
	s := "[" + strings.Join(cols, ", ") + "]"
	if len(tuples) > 5 {
		return s + fmt.Sprintf(" in %d tuples", len(tuples))
	}
	ts := make([]string, len(tuples))
	for i, t := range tuples {
		vs := make([]string, len(t))
		for j, d := range t {
			vs[j] = expr.Literal{Value: d}.String()
		}
		ts[i] = "(" + strings.Join(vs, ", ") + ")"
	}
	return s + " = " + strings.Join(ts, " | ")
}
