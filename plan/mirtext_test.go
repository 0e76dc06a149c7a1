package plan

// A compact s-expression syntax for MIR, used by the golden tests while
// the SQL front end is not available.
//
//	catalog:  (table t ((a int8) (b int8?)) (key 0) (index 0) (index 1 0) (append-only))
//	rels:     (get t)  (constant (int8 text?) (1 'x') (2 null x3))
//	          (map R e...)  (filter R p...)  (project R (0 2))
//	          (join (R...) ((e e ...) ...))  (reduce R (k...) ((sum #1) (count*) (min distinct #2)))
//	          (topk R (group 0) (order 1 desc nulls_first) (limit 3) (offset 1))
//	          (negate R) (threshold R) (union R...) (arrange R (#0) (#1 #2))
//	          (let l1 R R) (letrec ((l1 (int8) R) ...) R) (flatmap R generate_series e e)
//	scalars:  #3  7  null  true  'text'  (mz_now)  (if c t e)  (= a b)  (+ a b)
//	          (and p q)  (or p q)  (not p)  (isnull e)  (isnotnull e)

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/viewd/viewd/expr"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// sexp is a parsed s-expression: an atom or a list.
type sexp struct {
	atom   string
	list   []sexp
	isList bool
}

func (s sexp) String() string {
	if !s.isList {
		return s.atom
	}
	parts := make([]string, len(s.list))
	for i, x := range s.list {
		parts[i] = x.String()
	}
	return "(" + strings.Join(parts, " ") + ")"
}

func tokenize(src string) ([]string, error) {
	var toks []string
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
		case c == '(' || c == ')':
			toks = append(toks, string(c))
			i++
		case c == '\'':
			j := i + 1
			for j < len(src) && src[j] != '\'' {
				j++
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated string")
			}
			toks = append(toks, src[i:j+1])
			i = j + 1
		default:
			j := i
			for j < len(src) && !strings.ContainsRune(" \n\t\r()", rune(src[j])) {
				j++
			}
			toks = append(toks, src[i:j])
			i = j
		}
	}
	return toks, nil
}

func parseSexps(src string) ([]sexp, error) {
	toks, err := tokenize(src)
	if err != nil {
		return nil, err
	}
	var out []sexp
	pos := 0
	var parse func() (sexp, error)
	parse = func() (sexp, error) {
		if pos >= len(toks) {
			return sexp{}, fmt.Errorf("unexpected end of input")
		}
		t := toks[pos]
		pos++
		if t == ")" {
			return sexp{}, fmt.Errorf("unexpected )")
		}
		if t != "(" {
			return sexp{atom: t}, nil
		}
		l := sexp{isList: true}
		for {
			if pos >= len(toks) {
				return sexp{}, fmt.Errorf("missing )")
			}
			if toks[pos] == ")" {
				pos++
				return l, nil
			}
			x, err := parse()
			if err != nil {
				return sexp{}, err
			}
			l.list = append(l.list, x)
		}
	}
	for pos < len(toks) {
		x, err := parse()
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// testCatalog holds the tables declared by a test file.
type testCatalog struct {
	tables     map[string]Get
	indexes    map[GlobalID][][]expr.Scalar
	appendOnly map[GlobalID]bool
	next       GlobalID
}

func newTestCatalog() *testCatalog {
	return &testCatalog{tables: map[string]Get{}, indexes: map[GlobalID][][]expr.Scalar{}, appendOnly: map[GlobalID]bool{}, next: 1}
}

// Monotonic implements MonotonicOracle: tables defined (append-only).
func (c *testCatalog) Monotonic(id GlobalID) bool { return c.appendOnly[id] }

// Indexes implements IndexOracle.
func (c *testCatalog) Indexes(id GlobalID) [][]expr.Scalar { return c.indexes[id] }

func parseType(s string) (repr.ColumnType, error) {
	nullable := strings.HasSuffix(s, "?")
	s = strings.TrimSuffix(s, "?")
	var t repr.ScalarType
	switch s {
	case "int8":
		t = repr.TypeInt8
	case "int4":
		t = repr.TypeInt4
	case "text":
		t = repr.TypeText
	case "bool":
		t = repr.TypeBool
	case "numeric":
		t = repr.TypeNumeric
	case "timestamp":
		t = repr.TypeTimestamp
	default:
		return repr.ColumnType{}, fmt.Errorf("unknown type %q", s)
	}
	return repr.ColumnType{Type: t, Nullable: nullable}, nil
}

func (c *testCatalog) define(x sexp) error {
	if !x.isList || len(x.list) < 3 || x.list[0].atom != "table" {
		return fmt.Errorf("expected (table name (cols...) ...), got %s", x)
	}
	name := x.list[1].atom
	g := Get{Global: c.next, Name: name}
	c.next++
	for _, col := range x.list[2].list {
		if len(col.list) != 2 {
			return fmt.Errorf("bad column %s", col)
		}
		t, err := parseType(col.list[1].atom)
		if err != nil {
			return err
		}
		g.Type.Cols = append(g.Type.Cols, t)
	}
	for _, opt := range x.list[3:] {
		var cols []int
		for _, a := range opt.list[1:] {
			n, err := strconv.Atoi(a.atom)
			if err != nil {
				return err
			}
			cols = append(cols, n)
		}
		switch opt.list[0].atom {
		case "append-only":
			c.appendOnly[g.Global] = true
		case "key":
			g.Type.Keys = append(g.Type.Keys, cols)
		case "index":
			key := make([]expr.Scalar, len(cols))
			for i, c := range cols {
				key[i] = expr.Column{Index: c}
			}
			c.indexes[g.Global] = append(c.indexes[g.Global], key)
		default:
			return fmt.Errorf("unknown table option %s", opt)
		}
	}
	c.tables[name] = g
	return nil
}

func init() {
	// Equalities built by the optimiser use expr's catalog; the tests
	// exercise the default resolver (see eqfunc.go).
	_ = pgcode.InternalError
}

// mirParser turns s-expressions into MIR against a catalog.
type mirParser struct {
	cat    *testCatalog
	locals map[string]Get
	// cols are the column types scalars are typed against.
	cols []repr.ColumnType
}

func (p *mirParser) rel(x sexp) (Rel, error) {
	if !x.isList || len(x.list) == 0 {
		return nil, fmt.Errorf("expected a relation, got %s", x)
	}
	head := x.list[0].atom
	args := x.list[1:]
	need := func(n int) error {
		if len(args) < n {
			return fmt.Errorf("%s needs %d arguments: %s", head, n, x)
		}
		return nil
	}
	switch head {
	case "get":
		if err := need(1); err != nil {
			return nil, err
		}
		if g, ok := p.locals[args[0].atom]; ok {
			return g, nil
		}
		g, ok := p.cat.tables[args[0].atom]
		if !ok {
			return nil, fmt.Errorf("unknown table %s", args[0].atom)
		}
		return g, nil
	case "constant":
		if err := need(1); err != nil {
			return nil, err
		}
		c := Constant{}
		for _, t := range args[0].list {
			ct, err := parseType(t.atom)
			if err != nil {
				return nil, err
			}
			c.Type.Cols = append(c.Type.Cols, ct)
		}
		for _, r := range args[1:] {
			diff := repr.Diff(1)
			vals := r.list
			if n := len(vals); n > 0 && !vals[n-1].isList && strings.HasPrefix(vals[n-1].atom, "x") {
				d, err := strconv.ParseInt(vals[n-1].atom[1:], 10, 64)
				if err != nil {
					return nil, err
				}
				diff, vals = repr.Diff(d), vals[:n-1]
			}
			var ds []repr.Datum
			for _, v := range vals {
				s, err := p.scalar(v)
				if err != nil {
					return nil, err
				}
				l, ok := s.(expr.Literal)
				if !ok {
					return nil, fmt.Errorf("constant rows hold literals, got %s", v)
				}
				ds = append(ds, l.Value)
			}
			c.Rows = append(c.Rows, ConstRow{Row: repr.PackRow(ds...), Diff: diff})
		}
		return c, nil
	case "map", "filter":
		if err := need(1); err != nil {
			return nil, err
		}
		in, err := p.rel(args[0])
		if err != nil {
			return nil, err
		}
		p.cols = in.Typ().Cols
		var es []expr.Scalar
		for _, a := range args[1:] {
			e, err := p.scalar(a)
			if err != nil {
				return nil, err
			}
			es = append(es, e)
			if head == "map" {
				p.cols = append(p.cols, e.Type(p.cols))
			}
		}
		if head == "map" {
			return Map{Input: in, Scalars: es}, nil
		}
		return Filter{Input: in, Predicates: es}, nil
	case "project":
		if err := need(2); err != nil {
			return nil, err
		}
		in, err := p.rel(args[0])
		if err != nil {
			return nil, err
		}
		outs, err := ints(args[1].list)
		if err != nil {
			return nil, err
		}
		return Project{Input: in, Outputs: outs}, nil
	case "join":
		if err := need(1); err != nil {
			return nil, err
		}
		var j Join
		for _, a := range args[0].list {
			in, err := p.rel(a)
			if err != nil {
				return nil, err
			}
			j.Inputs = append(j.Inputs, in)
		}
		p.cols = j.Typ().Cols
		if len(args) > 1 {
			for _, c := range args[1].list {
				es, err := p.scalars(c.list)
				if err != nil {
					return nil, err
				}
				j.Equivalences = append(j.Equivalences, es)
			}
		}
		return j, nil
	case "reduce":
		if err := need(3); err != nil {
			return nil, err
		}
		in, err := p.rel(args[0])
		if err != nil {
			return nil, err
		}
		p.cols = in.Typ().Cols
		keys, err := p.scalars(args[1].list)
		if err != nil {
			return nil, err
		}
		r := Reduce{Input: in, GroupKey: keys}
		for _, a := range args[2].list {
			agg, err := p.aggregate(a, p.cols)
			if err != nil {
				return nil, err
			}
			r.Aggregates = append(r.Aggregates, agg)
		}
		return r, nil
	case "topk":
		if err := need(1); err != nil {
			return nil, err
		}
		in, err := p.rel(args[0])
		if err != nil {
			return nil, err
		}
		t := TopK{Input: in, Limit: -1}
		for _, opt := range args[1:] {
			vals := opt.list[1:]
			switch opt.list[0].atom {
			case "group":
				if t.GroupKey, err = ints(vals); err != nil {
					return nil, err
				}
			case "order":
				o, err := columnOrder(vals)
				if err != nil {
					return nil, err
				}
				t.Order = append(t.Order, o)
			case "limit", "offset":
				n, err := strconv.ParseInt(vals[0].atom, 10, 64)
				if err != nil {
					return nil, err
				}
				if opt.list[0].atom == "limit" {
					t.Limit = n
				} else {
					t.Offset = n
				}
			}
		}
		return t, nil
	case "window":
		// (window INPUT (partition COL...) (order COL [desc] [nulls_first])...
		// (row_number)...): row_number() functions only.
		if err := need(1); err != nil {
			return nil, err
		}
		in, err := p.rel(args[0])
		if err != nil {
			return nil, err
		}
		w := Window{Input: in}
		for _, opt := range args[1:] {
			vals := opt.list[1:]
			switch opt.list[0].atom {
			case "partition":
				if w.PartitionBy, err = ints(vals); err != nil {
					return nil, err
				}
			case "order":
				o, err := columnOrder(vals)
				if err != nil {
					return nil, err
				}
				w.OrderBy = append(w.OrderBy, o)
			case "row_number":
				w.Funcs = append(w.Funcs, WindowFunc{Name: "row_number", Typ: repr.ColumnType{Type: repr.TypeInt8}})
			default:
				return nil, fmt.Errorf("window: unknown option %s", opt)
			}
		}
		return w, nil
	case "negate", "threshold":
		if err := need(1); err != nil {
			return nil, err
		}
		in, err := p.rel(args[0])
		if err != nil {
			return nil, err
		}
		if head == "negate" {
			return Negate{Input: in}, nil
		}
		return Threshold{Input: in}, nil
	case "union":
		var u Union
		for _, a := range args {
			in, err := p.rel(a)
			if err != nil {
				return nil, err
			}
			u.Inputs = append(u.Inputs, in)
		}
		return u, nil
	case "arrange":
		if err := need(1); err != nil {
			return nil, err
		}
		in, err := p.rel(args[0])
		if err != nil {
			return nil, err
		}
		a := ArrangeBy{Input: in}
		p.cols = in.Typ().Cols
		for _, k := range args[1:] {
			es, err := p.scalars(k.list)
			if err != nil {
				return nil, err
			}
			a.Keys = append(a.Keys, es)
		}
		return a, nil
	case "let":
		if err := need(3); err != nil {
			return nil, err
		}
		id, err := localID(args[0].atom)
		if err != nil {
			return nil, err
		}
		v, err := p.rel(args[1])
		if err != nil {
			return nil, err
		}
		p.locals[args[0].atom] = Get{Local: id, Name: args[0].atom, Type: v.Typ()}
		b, err := p.rel(args[2])
		if err != nil {
			return nil, err
		}
		return Let{ID: id, Name: args[0].atom, Value: v, Body: b}, nil
	case "letrec":
		if err := need(2); err != nil {
			return nil, err
		}
		var lr LetRec
		for _, bnd := range args[0].list {
			id, err := localID(bnd.list[0].atom)
			if err != nil {
				return nil, err
			}
			var t RelType
			for _, ts := range bnd.list[1].list {
				ct, err := parseType(ts.atom)
				if err != nil {
					return nil, err
				}
				t.Cols = append(t.Cols, ct)
			}
			p.locals[bnd.list[0].atom] = Get{Local: id, Name: bnd.list[0].atom, Type: t}
			lr.IDs = append(lr.IDs, id)
			lr.Names = append(lr.Names, bnd.list[0].atom)
			lr.Types = append(lr.Types, t)
		}
		for _, bnd := range args[0].list {
			v, err := p.rel(bnd.list[2])
			if err != nil {
				return nil, err
			}
			lr.Values = append(lr.Values, v)
		}
		b, err := p.rel(args[1])
		if err != nil {
			return nil, err
		}
		lr.Body = b
		return lr, nil
	case "flatmap":
		if err := need(2); err != nil {
			return nil, err
		}
		in, err := p.rel(args[0])
		if err != nil {
			return nil, err
		}
		p.cols = in.Typ().Cols
		es, err := p.scalars(args[2:])
		if err != nil {
			return nil, err
		}
		types := make([]repr.ScalarType, len(es))
		for i, e := range es {
			types[i] = e.Type(p.cols).Type
		}
		f, err := expr.LookupTableFunc(args[1].atom, types)
		if err != nil {
			return nil, err
		}
		return FlatMap{Input: in, Func: f, Args: es}, nil
	}
	return nil, fmt.Errorf("unknown relation %s", head)
}

func localID(s string) (LocalID, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "l"))
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("local names are l1, l2, ...: %q", s)
	}
	return LocalID(n), nil
}

func ints(xs []sexp) ([]int, error) {
	out := []int{}
	for _, x := range xs {
		n, err := strconv.Atoi(strings.TrimPrefix(x.atom, "#"))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func (p *mirParser) aggregate(x sexp, cols []repr.ColumnType) (expr.Aggregate, error) {
	names := map[string]expr.AggregateFunc{
		"count": expr.AggCount, "count*": expr.AggCountStar, "sum": expr.AggSum, "avg": expr.AggAvg,
		"min": expr.AggMin, "max": expr.AggMax, "bool_and": expr.AggBoolAnd, "bool_or": expr.AggBoolOr,
		"string_agg": expr.AggStringAgg, "array_agg": expr.AggArrayAgg,
	}
	f, ok := names[x.list[0].atom]
	if !ok {
		return expr.Aggregate{}, fmt.Errorf("unknown aggregate %s", x)
	}
	a := expr.Aggregate{Func: f}
	rest := x.list[1:]
	if len(rest) > 0 && rest[0].atom == "distinct" {
		a.Distinct = true
		rest = rest[1:]
	}
	if f == expr.AggCountStar {
		a.Expr = expr.Literal{Value: repr.True, Typ: repr.ColumnType{Type: repr.TypeBool}}
	} else {
		if len(rest) != 1 {
			return a, fmt.Errorf("aggregate %s takes one argument", x)
		}
		e, err := p.scalar(rest[0])
		if err != nil {
			return a, err
		}
		a.Expr = e
	}
	argT := a.Expr.Type(cols)
	switch f {
	case expr.AggCount, expr.AggCountStar:
		a.Typ = repr.ColumnType{Type: repr.TypeInt8}
	case expr.AggSum, expr.AggAvg:
		a.Typ = repr.ColumnType{Type: repr.TypeNumeric, Nullable: true}
	case expr.AggMin, expr.AggMax, expr.AggBoolAnd, expr.AggBoolOr:
		a.Typ = argT
	default:
		a.Typ = repr.ColumnType{Type: repr.TypeText, Nullable: true}
	}
	return a, nil
}

func (p *mirParser) scalars(xs []sexp) ([]expr.Scalar, error) {
	var out []expr.Scalar
	for _, x := range xs {
		e, err := p.scalar(x)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (p *mirParser) scalar(x sexp) (expr.Scalar, error) {
	if !x.isList {
		a := x.atom
		switch {
		case strings.HasPrefix(a, "#"):
			n, err := strconv.Atoi(a[1:])
			if err != nil {
				return nil, err
			}
			return expr.Column{Index: n}, nil
		case a == "null":
			return expr.Literal{Value: repr.Null, Typ: repr.ColumnType{Type: repr.TypeInt8, Nullable: true}}, nil
		case a == "true" || a == "false":
			return expr.Literal{Value: repr.BoolDatum(a == "true"), Typ: repr.ColumnType{Type: repr.TypeBool}}, nil
		case strings.HasPrefix(a, "'"):
			return expr.Literal{Value: repr.TextDatum(strings.Trim(a, "'")), Typ: repr.ColumnType{Type: repr.TypeText}}, nil
		}
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("bad scalar %q", a)
		}
		return expr.Literal{Value: repr.Int8Datum(n), Typ: repr.ColumnType{Type: repr.TypeInt8}}, nil
	}
	if len(x.list) == 0 {
		return nil, fmt.Errorf("empty scalar")
	}
	head := x.list[0].atom
	args, err := p.scalars(x.list[1:])
	if err != nil {
		return nil, err
	}
	switch head {
	case "mz_now":
		return expr.MzNow{}, nil
	case "if":
		if len(args) != 3 {
			return nil, fmt.Errorf("if takes 3 arguments")
		}
		return expr.If{Cond: args[0], Then: args[1], Else: args[2]}, nil
	}
	switch head {
	case "and":
		return expr.And(args...), nil
	case "or":
		return expr.Or(args...), nil
	case "not":
		return expr.Not(args[0]), nil
	case "isnull":
		return expr.IsNull(args[0]), nil
	case "isnotnull":
		return expr.Call{Func: expr.FuncIsNotNull, Args: args}, nil
	}
	// Operators and functions resolve through expr's catalog.
	ovs := expr.LookupBinaryOp(head)
	if len(args) != 2 || len(ovs) == 0 {
		ovs = expr.LookupFunc(head)
	}
	if len(ovs) == 0 {
		return nil, fmt.Errorf("unknown function %s", head)
	}
	return resolveCall(head, ovs, args, p.cols)
}

// resolveCall resolves an overload for args (typed over cols) and casts
// the arguments to its parameter types, as the SQL layer does.
func resolveCall(name string, ovs []expr.Overload, args []expr.Scalar, cols []repr.ColumnType) (expr.Scalar, error) {
	types := make([]repr.ScalarType, len(args))
	for i, a := range args {
		types[i] = a.Type(cols).Type
	}
	res, err := expr.Resolve(name, ovs, types)
	if err != nil {
		return nil, err
	}
	cast := make([]expr.Scalar, len(args))
	for i, a := range args {
		cast[i] = a
		if i < len(res.ArgTypes) && types[i].Kind != repr.KindNull && !types[i].Equal(res.ArgTypes[i]) {
			c, err := expr.NewCast(a, types[i], res.ArgTypes[i], expr.Implicit)
			if err != nil {
				return nil, err
			}
			cast[i] = c
		}
	}
	return expr.Call{Func: res.Func, Args: cast}, nil
}

func sortedTableNames(c *testCatalog) []string {
	var names []string
	for n := range c.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// columnOrder parses COL [desc] [nulls_first].
func columnOrder(vals []sexp) (ColumnOrder, error) {
	if len(vals) == 0 {
		return ColumnOrder{}, fmt.Errorf("order needs a column")
	}
	col, err := strconv.Atoi(vals[0].atom)
	if err != nil {
		return ColumnOrder{}, err
	}
	o := ColumnOrder{Column: col}
	for _, v := range vals[1:] {
		switch v.atom {
		case "desc":
			o.Order.Desc = true
		case "nulls_first":
			o.Order.NullsFirst = true
		}
	}
	return o, nil
}
