package plan

import (
	"fmt"
	"strings"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// Explain prints rel as an indented tree, one operator per line, children
// indented by two spaces below their parent, in the style of Materialize's
// EXPLAIN. The output is deterministic: it depends only on the plan.
//
//	Project (#0, #2)
//	  Filter (#1 > 5)
//	    Join on=(#0 = #3) type=delta
//	      implementation
//	        %0:t » %1:u[#0]
//	        %1:u » %0:t[#0]
//	      Get t
//	      Get u
func Explain(rel Rel) string {
	var b strings.Builder
	explainRel(&b, rel, 0)
	return b.String()
}

func line(b *strings.Builder, depth int, format string, args ...any) {
	b.WriteString(strings.Repeat("  ", depth))
	fmt.Fprintf(b, format, args...)
	b.WriteByte('\n')
}

func explainRel(b *strings.Builder, rel Rel, d int) {
	switch r := rel.(type) {
	case Get:
		line(b, d, "Get %s", getName(r))
	case Constant:
		explainConstant(b, r, d)
	case Map:
		line(b, d, "Map (%s)", joinScalars(r.Scalars, ", "))
		explainRel(b, r.Input, d+1)
	case Filter:
		line(b, d, "Filter %s", joinScalars(r.Predicates, " AND "))
		explainRel(b, r.Input, d+1)
	case Project:
		line(b, d, "Project (%s)", joinCols(r.Outputs))
		explainRel(b, r.Input, d+1)
	case FlatMap:
		name := "?"
		if r.Func != nil {
			name = r.Func.Name
		}
		line(b, d, "FlatMap %s(%s)", name, joinScalars(r.Args, ", "))
		explainRel(b, r.Input, d+1)
	case Join:
		explainJoin(b, r, d)
	case Reduce:
		if len(r.Aggregates) == 0 {
			line(b, d, "Distinct group_by=[%s]", joinScalars(r.GroupKey, ", "))
		} else {
			aggs := make([]string, len(r.Aggregates))
			for i, a := range r.Aggregates {
				aggs[i] = a.String()
			}
			s := fmt.Sprintf("Reduce group_by=[%s] aggregates=[%s]", joinScalars(r.GroupKey, ", "), strings.Join(aggs, ", "))
			if r.ExpectedGroupSize > 0 {
				s += fmt.Sprintf(" exp_group_size=%d", r.ExpectedGroupSize)
			}
			line(b, d, "%s", s)
		}
		explainRel(b, r.Input, d+1)
	case TopK:
		s := "TopK"
		if len(r.GroupKey) > 0 {
			s += " group_by=[" + joinCols(r.GroupKey) + "]"
		}
		if len(r.Order) > 0 {
			s += " order_by=[" + joinOrder(r.Order) + "]"
		}
		if r.Limit >= 0 {
			s += fmt.Sprintf(" limit=%d", r.Limit)
		}
		if r.Offset > 0 {
			s += fmt.Sprintf(" offset=%d", r.Offset)
		}
		line(b, d, "%s", s)
		explainRel(b, r.Input, d+1)
	case Negate:
		line(b, d, "Negate")
		explainRel(b, r.Input, d+1)
	case Threshold:
		line(b, d, "Threshold")
		explainRel(b, r.Input, d+1)
	case Union:
		line(b, d, "Union")
		for _, in := range r.Inputs {
			explainRel(b, in, d+1)
		}
	case ArrangeBy:
		line(b, d, "ArrangeBy keys=[%s]", joinKeys(r.Keys))
		explainRel(b, r.Input, d+1)
	case Let:
		line(b, d, "With")
		var cur Rel = r
		for {
			l, ok := cur.(Let)
			if !ok {
				break
			}
			line(b, d+1, "cte %s =", localName(l.ID))
			explainRel(b, l.Value, d+2)
			cur = l.Body
		}
		line(b, d, "Return")
		explainRel(b, cur, d+1)
	case LetRec:
		line(b, d, "With Mutually Recursive")
		for i, id := range r.IDs {
			line(b, d+1, "cte %s =", localName(id))
			if i < len(r.Values) {
				explainRel(b, r.Values[i], d+2)
			}
		}
		line(b, d, "Return")
		explainRel(b, r.Body, d+1)
	case Window:
		fs := make([]string, len(r.Funcs))
		for i, f := range r.Funcs {
			fs[i] = f.String()
		}
		s := "Window"
		if len(r.PartitionBy) > 0 {
			s += " partition_by=[" + joinCols(r.PartitionBy) + "]"
		}
		if len(r.OrderBy) > 0 {
			s += " order_by=[" + joinOrder(r.OrderBy) + "]"
		}
		line(b, d, "%s funcs=[%s]", s, strings.Join(fs, ", "))
		explainRel(b, r.Input, d+1)
	default:
		line(b, d, "?%T", rel)
	}
}

func explainConstant(b *strings.Builder, c Constant, d int) {
	if c.Err != nil {
		line(b, d, "Error %q", c.Err.Error())
		return
	}
	if len(c.Rows) == 0 {
		line(b, d, "Constant <empty>")
		return
	}
	line(b, d, "Constant")
	for _, r := range c.Rows {
		if r.Diff == 1 {
			line(b, d+1, "- %s", formatRow(r.Row))
		} else {
			line(b, d+1, "- (%s x %d)", formatRow(r.Row), r.Diff)
		}
	}
}

func formatRow(r repr.Row) string {
	ds := r.Datums()
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.String()
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func explainJoin(b *strings.Builder, j Join, d int) {
	var classes []string
	for _, c := range j.Equivalences {
		classes = append(classes, joinScalars(c, " = "))
	}
	s := "Join"
	if len(classes) > 0 {
		s += " on=(" + strings.Join(classes, " AND ") + ")"
	} else {
		s += " cross"
	}
	switch j.Implementation.Kind {
	case LinearJoin:
		s += " type=linear"
	case DeltaJoin:
		s += " type=delta"
	}
	line(b, d, "%s", s)
	if j.Implementation.Kind != Unimplemented {
		line(b, d+1, "implementation")
		for _, p := range j.Implementation.Paths {
			line(b, d+2, "%s", formatPath(j, p))
		}
	}
	for _, in := range j.Inputs {
		explainRel(b, in, d+1)
	}
}

func formatPath(j Join, p []JoinStage) string {
	parts := make([]string, len(p))
	for i, st := range p {
		s := fmt.Sprintf("%%%d", st.Input)
		if st.Input >= 0 && st.Input < len(j.Inputs) {
			if n := relName(j.Inputs[st.Input]); n != "" {
				s += ":" + n
			}
		}
		if i > 0 {
			s += "[" + joinScalars(st.Key, ", ") + "]"
		}
		parts[i] = s
	}
	return strings.Join(parts, " » ")
}

// relName names a join input for printing: the collection it reads when it
// is a Get, possibly under Map/Filter/Project.
func relName(r Rel) string {
	for {
		switch x := r.(type) {
		case Get:
			return getName(x)
		case Filter:
			r = x.Input
		case Project:
			r = x.Input
		case Map:
			r = x.Input
		case ArrangeBy:
			r = x.Input
		default:
			return ""
		}
	}
}

func getName(g Get) string {
	if g.Local != 0 {
		return localName(g.Local)
	}
	if g.Name != "" {
		return g.Name
	}
	return fmt.Sprintf("u%d", g.Global)
}

func localName(id LocalID) string { return fmt.Sprintf("l%d", id) }

func joinScalars(es []expr.Scalar, sep string) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.String()
	}
	return strings.Join(parts, sep)
}

func joinCols(cs []int) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = fmt.Sprintf("#%d", c)
	}
	return strings.Join(parts, ", ")
}

func joinOrder(os []ColumnOrder) string {
	parts := make([]string, len(os))
	for i, o := range os {
		parts[i] = fmt.Sprintf("#%d %s", o.Column, formatSortOrder(o.Order))
	}
	return strings.Join(parts, ", ")
}

func formatSortOrder(o repr.SortOrder) string {
	s := "asc"
	if o.Desc {
		s = "desc"
	}
	if o.NullsFirst {
		return s + " nulls_first"
	}
	return s + " nulls_last"
}

func joinKeys(keys [][]expr.Scalar) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = "[" + joinScalars(k, ", ") + "]"
	}
	return strings.Join(parts, ", ")
}

// ExplainType prints a relation type: column types ("int8?" when nullable)
// and unique keys, e.g. "(int8, text?) keys=[[0]]".
func ExplainType(t RelType) string {
	parts := make([]string, len(t.Cols))
	for i, c := range t.Cols {
		parts[i] = c.String()
	}
	s := "(" + strings.Join(parts, ", ") + ")"
	if len(t.Keys) > 0 {
		ks := make([]string, len(t.Keys))
		for i, k := range t.Keys {
			ks[i] = "[" + joinCols(k) + "]"
		}
		s += " keys=[" + strings.Join(ks, ", ") + "]"
	}
	return s
}

// String names the join strategy: "unimplemented", "linear" or "delta".
func (k JoinKind) String() string {
	switch k {
	case LinearJoin:
		return "linear"
	case DeltaJoin:
		return "delta"
	}
	return "unimplemented"
}
