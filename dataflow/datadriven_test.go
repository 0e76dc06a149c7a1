package dataflow

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/repr"
)

// TestDataDriven runs the scenarios under testdata/. Commands:
//
//	input name=a arity=2
//	update                      lines: a (1,'x') t=3 +1
//	step t=3                    steps the graph
//	advance a upper=5
//	read x as_of=3              x's rows (and errors) as of 3
//	arrange name=ax in=a key=(1)
//	join name=j left=ax right=bx [filter=#0<#3] [project=(0,3)]
//	union name=u in=(a,b) | negate name=n in=a | distinct ... | threshold ...
//	filter name=f in=a pred=#0<3     map name=m in=a expr=#0/#1
//	reduce name=r in=a key=(0) aggs=(count(*),sum(#1),min(#1))
//	topk name=k in=a group=(0) order=(1 desc) limit=2 offset=0
//	temporal name=t in=a lower=#0 upper=#0+#1
//	next-scheduled
//	subscribe x  /  log x        updates delivered to a subscription
//
// Every collection a command names is materialized from time 0, so any of
// them can be read.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata", func(t *testing.T, path string) {
		for _, w := range []int{1, 4} {
			d := &ddRun{g: NewGraph(Options{Workers: w, ParallelMin: 2}), inputs: map[string]*Input{}, colls: map[string]*Collection{},
				arrs: map[string]*Arranged{}, outs: map[string]*Output{}, logs: map[string]*[]string{}}
			datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
				out, err := d.run(td)
				if err != nil {
					return "error: " + err.Error() + "\n"
				}
				return out
			})
		}
	})
}

type ddRun struct {
	g      *Graph
	inputs map[string]*Input
	colls  map[string]*Collection
	arrs   map[string]*Arranged
	outs   map[string]*Output
	logs   map[string]*[]string
}

func (d *ddRun) arg(td *datadriven.TestData, k string) string {
	for _, a := range td.CmdArgs {
		if a.Key == k {
			return strings.Join(a.Vals, ",")
		}
	}
	return ""
}

func (d *ddRun) ints(s string) []int {
	s = strings.Trim(s, "()")
	if s == "" {
		return nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(f))
		out = append(out, n)
	}
	return out
}

func (d *ddRun) coll(name string) (*Collection, error) {
	if c, ok := d.colls[name]; ok {
		return c, nil
	}
	return nil, fmt.Errorf("no collection %q", name)
}

func (d *ddRun) define(name string, c *Collection) string {
	d.colls[name] = c
	d.outs[name] = c.Materialize(0)
	return ""
}

func (d *ddRun) run(td *datadriven.TestData) (string, error) {
	name := d.arg(td, "name")
	in := d.arg(td, "in")
	switch td.Cmd {
	case "input":
		n, _ := strconv.Atoi(d.arg(td, "arity"))
		i := d.g.NewInput(name, n)
		d.inputs[name] = i
		return d.define(name, i.Collection()), nil
	case "update":
		for _, line := range strings.Split(strings.TrimSpace(td.Input), "\n") {
			f := strings.Fields(line)
			if len(f) < 3 {
				return "", fmt.Errorf("bad update %q", line)
			}
			i, ok := d.inputs[f[0]]
			if !ok {
				return "", fmt.Errorf("no input %q", f[0])
			}
			row, err := parseRow(strings.Join(f[1:len(f)-2], " "))
			if err != nil {
				return "", err
			}
			tm, _ := strconv.ParseUint(strings.TrimPrefix(f[len(f)-2], "t="), 10, 64)
			diff, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
			if err := i.Send(repr.Update{Row: row, Time: repr.Timestamp(tm), Diff: repr.Diff(diff)}); err != nil {
				return "", err
			}
		}
		return "", nil
	case "step":
		tm, _ := strconv.ParseUint(d.arg(td, "t"), 10, 64)
		return "", d.g.Step(context.Background(), repr.Timestamp(tm))
	case "advance":
		u, _ := strconv.ParseUint(d.arg(td, "upper"), 10, 64)
		d.inputs[td.CmdArgs[0].Key].Advance(repr.Timestamp(u))
		return "", nil
	case "read":
		o, ok := d.outs[td.CmdArgs[0].Key]
		if !ok {
			return "", fmt.Errorf("no output %q", td.CmdArgs[0].Key)
		}
		tm, _ := strconv.ParseUint(d.arg(td, "as_of"), 10, 64)
		rows, errs, err := o.Read(repr.Timestamp(tm))
		if err != nil {
			return "", err
		}
		var b strings.Builder
		for i := range rows.Len() {
			fmt.Fprintf(&b, "%s x%d\n", rows.Row(i), rows.Diff(i))
		}
		for i := range errs.Len() {
			e := DecodeErrRow(errs.Row(i))
			fmt.Fprintf(&b, "error %s: %s x%d\n", e.Code, e.Message, errs.Diff(i))
		}
		if b.Len() == 0 {
			return "(empty)\n", nil
		}
		return b.String(), nil
	case "next-scheduled":
		if t, ok := d.g.NextScheduled(); ok {
			return fmt.Sprintf("%d\n", t), nil
		}
		return "none\n", nil
	case "subscribe":
		src := td.CmdArgs[0].Key
		c, err := d.coll(src)
		if err != nil {
			return "", err
		}
		log := &[]string{}
		d.logs[src] = log
		c.Subscribe(func(t repr.Timestamp, ok, errs []repr.Update) error {
			for _, u := range ok {
				*log = append(*log, fmt.Sprintf("t=%d %s %+d", t, u.Row, u.Diff))
			}
			for _, u := range errs {
				*log = append(*log, fmt.Sprintf("t=%d error %s %+d", t, DecodeErrRow(u.Row).Message, u.Diff))
			}
			return nil
		})
		return "", nil
	case "log":
		log := d.logs[td.CmdArgs[0].Key]
		s := strings.Join(*log, "\n")
		*log = (*log)[:0]
		if s == "" {
			return "(empty)\n", nil
		}
		return s + "\n", nil
	case "arrange":
		c, err := d.coll(in)
		if err != nil {
			return "", err
		}
		a := c.ArrangeColumns(d.ints(d.arg(td, "key"))...)
		d.arrs[name] = a
		return "", nil
	case "join":
		l, r := d.arrs[d.arg(td, "left")], d.arrs[d.arg(td, "right")]
		if l == nil || r == nil {
			return "", fmt.Errorf("join needs arrangements")
		}
		m := expr.Identity(l.arity + r.arity)
		if f := d.arg(td, "filter"); f != "" {
			e, err := parseExpr(f)
			if err != nil {
				return "", err
			}
			m.Predicates = []expr.Predicate{{Support: m.InputArity, Expr: e}}
		}
		if p := d.arg(td, "project"); p != "" {
			m.Projection = d.ints(p)
		}
		j, err := Join(l, r, m)
		if err != nil {
			return "", err
		}
		return d.define(name, j), nil
	case "union":
		var cs []*Collection
		for _, n := range strings.Split(strings.Trim(in, "()"), ",") {
			c, err := d.coll(n)
			if err != nil {
				return "", err
			}
			cs = append(cs, c)
		}
		u, err := Union(cs...)
		if err != nil {
			return "", err
		}
		return d.define(name, u), nil
	case "negate", "distinct", "threshold":
		c, err := d.coll(in)
		if err != nil {
			return "", err
		}
		switch td.Cmd {
		case "negate":
			return d.define(name, c.Negate()), nil
		case "distinct":
			return d.define(name, c.Distinct()), nil
		}
		return d.define(name, c.Threshold()), nil
	case "filter", "map":
		c, err := d.coll(in)
		if err != nil {
			return "", err
		}
		m := expr.Identity(c.arity)
		if td.Cmd == "filter" {
			e, err := parseExpr(d.arg(td, "pred"))
			if err != nil {
				return "", err
			}
			m.Predicates = []expr.Predicate{{Support: c.arity, Expr: e}}
		} else {
			e, err := parseExpr(d.arg(td, "expr"))
			if err != nil {
				return "", err
			}
			m.Expressions = []expr.Scalar{e}
			m.Projection = append(m.Projection, c.arity)
		}
		return d.define(name, c.MFP(m)), nil
	case "reduce":
		c, err := d.coll(in)
		if err != nil {
			return "", err
		}
		var key []expr.Scalar
		for _, k := range d.ints(d.arg(td, "key")) {
			key = append(key, col(k))
		}
		var aggs []expr.Aggregate
		for _, a := range strings.Split(strings.Trim(d.arg(td, "aggs"), "()"), ",") {
			agg, err := parseAgg(a)
			if err != nil {
				return "", err
			}
			aggs = append(aggs, agg)
		}
		r, err := c.Reduce(key, aggs)
		if err != nil {
			return "", err
		}
		return d.define(name, r), nil
	case "topk":
		c, err := d.coll(in)
		if err != nil {
			return "", err
		}
		var order []ColumnOrder
		for _, o := range strings.Split(strings.Trim(d.arg(td, "order"), "()"), ",") {
			f := strings.Fields(o)
			n, _ := strconv.Atoi(f[0])
			order = append(order, ColumnOrder{Column: n, Order: repr.SortOrder{Desc: len(f) > 1 && f[1] == "desc"}})
		}
		limit, offset := -1, 0
		if s := d.arg(td, "limit"); s != "" {
			limit, _ = strconv.Atoi(s)
		}
		if s := d.arg(td, "offset"); s != "" {
			offset, _ = strconv.Atoi(s)
		}
		k, err := c.TopK(d.ints(d.arg(td, "group")), order, limit, offset)
		if err != nil {
			return "", err
		}
		return d.define(name, k), nil
	case "temporal":
		c, err := d.coll(in)
		if err != nil {
			return "", err
		}
		var lo, hi expr.Scalar
		if s := d.arg(td, "lower"); s != "" {
			if lo, err = parseExpr(s); err != nil {
				return "", err
			}
		}
		if s := d.arg(td, "upper"); s != "" {
			if hi, err = parseExpr(s); err != nil {
				return "", err
			}
		}
		return d.define(name, c.TemporalFilter(lo, hi)), nil
	}
	return "", fmt.Errorf("unknown command %q", td.Cmd)
}

// parseRow parses (1, 'x', NULL).
func parseRow(s string) (repr.Row, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "(") || !strings.HasSuffix(s, ")") {
		return nil, fmt.Errorf("bad row %q", s)
	}
	var p repr.Packer
	body := strings.TrimSpace(s[1 : len(s)-1])
	if body == "" {
		return p.Row(), nil
	}
	for _, f := range strings.Split(body, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "NULL":
			p.Push(repr.Null)
		case strings.HasPrefix(f, "'"):
			p.Push(repr.TextDatum(strings.Trim(f, "'")))
		default:
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("bad value %q", f)
			}
			p.Push(repr.Int8Datum(n))
		}
	}
	return p.Clone(), nil
}

// parseExpr parses an atom or "atom op atom" with atoms #n or integers and
// op one of + / < =.
func parseExpr(s string) (expr.Scalar, error) {
	atom := func(a string) (expr.Scalar, error) {
		a = strings.TrimSpace(a)
		if strings.HasPrefix(a, "#") {
			n, err := strconv.Atoi(a[1:])
			return col(n), err
		}
		n, err := strconv.ParseInt(a, 10, 64)
		return lit(n), err
	}
	for _, op := range []struct {
		sym string
		f   *expr.Func
	}{{"<", fnLt}, {"=", fnEq}, {"+", fnAdd}, {"/", fnDiv}} {
		if i := strings.Index(s, op.sym); i > 0 {
			l, err := atom(s[:i])
			if err != nil {
				return nil, err
			}
			r, err := atom(s[i+1:])
			if err != nil {
				return nil, err
			}
			return call(op.f, l, r), nil
		}
	}
	return atom(s)
}

// parseAgg parses count(*), count(#1), count(distinct #1), sum(#1),
// min(#1), max(#1), array_agg(#1).
func parseAgg(s string) (expr.Aggregate, error) {
	s = strings.TrimSpace(s)
	open := strings.Index(s, "(")
	if open < 0 {
		return expr.Aggregate{}, fmt.Errorf("bad aggregate %q", s)
	}
	fname, arg := s[:open], strings.TrimSuffix(s[open+1:], ")")
	a := expr.Aggregate{Typ: repr.ColumnType{Type: repr.TypeInt8, Nullable: true}}
	if strings.HasPrefix(arg, "distinct ") {
		a.Distinct = true
		arg = strings.TrimPrefix(arg, "distinct ")
	}
	fns := map[string]expr.AggregateFunc{"count": expr.AggCount, "sum": expr.AggSum, "min": expr.AggMin, "max": expr.AggMax, "array_agg": expr.AggArrayAgg}
	f, ok := fns[fname]
	if !ok {
		return a, fmt.Errorf("unknown aggregate %q", fname)
	}
	a.Func = f
	if arg == "*" {
		a.Func = expr.AggCountStar
		return a, nil
	}
	if f == expr.AggSum {
		a.Typ.Type = repr.TypeNumeric
	}
	if f == expr.AggArrayAgg {
		a.Typ.Type = repr.ArrayOf(repr.TypeInt8)
	}
	e, err := parseExpr(arg)
	a.Expr = e
	return a, err
}
