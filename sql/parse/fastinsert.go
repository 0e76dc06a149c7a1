package parse

import (
	"strconv"
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v5"
)

// fastInsert builds the parse tree of the bulk-load statement
//
//	INSERT INTO [schema.]table [(col, ...)] VALUES (const, ...), ...
//
// straight from the scanner's tokens, when the statement is exactly that
// shape and every value is a plain constant: an integer or decimal
// number (optionally negated), a '...' string, NULL, TRUE, FALSE or
// DEFAULT. Anything else (an expression, a cast, escape or dollar-quoted
// strings, ON CONFLICT, RETURNING, ...) returns false and goes to
// pg_query.
//
// The tree is the one pg_query builds, node for node (a test compares
// them on random statements): PostgreSQL's parser, through cgo and a
// protobuf round trip, costs more than executing a 1,000-row VALUES list,
// and the scanner has already tokenised it.
func fastInsert(sp Span, toks []token) (*PG, bool) {
	p := &parser{sp: sp, toks: toks}
	// Constants are about every other token: their nodes come from one
	// allocation rather than five each.
	p.consts = make([]constNode, 0, len(toks)/2+1)
	if !p.next().is("insert") || !p.next().is("into") {
		return nil, false
	}
	rel, ok := p.fastRangeVar()
	if !ok {
		return nil, false
	}
	ins := &pg_query.InsertStmt{Relation: rel, Override: pg_query.OverridingKind_OVERRIDING_NOT_SET}
	if p.peek().punct("(") {
		p.next()
		for {
			t := p.next()
			if !isName(t) {
				return nil, false
			}
			ins.Cols = append(ins.Cols, &pg_query.Node{Node: &pg_query.Node_ResTarget{ResTarget: &pg_query.ResTarget{Name: t.val, Location: int32(t.start)}}})
			sep := p.next()
			if sep.punct(")") {
				break
			}
			if !sep.punct(",") {
				return nil, false
			}
		}
	}
	if !p.next().is("values") {
		return nil, false
	}
	sel := &pg_query.SelectStmt{LimitOption: pg_query.LimitOption_LIMIT_OPTION_DEFAULT, Op: pg_query.SetOperation_SETOP_NONE}
	for {
		if !p.next().punct("(") {
			return nil, false
		}
		var items []*pg_query.Node
		for {
			n, ok := p.fastConst()
			if !ok {
				return nil, false
			}
			items = append(items, n)
			sep := p.next()
			if sep.punct(")") {
				break
			}
			if !sep.punct(",") {
				return nil, false
			}
		}
		sel.ValuesLists = append(sel.ValuesLists, &pg_query.Node{Node: &pg_query.Node_List{List: &pg_query.List{Items: items}}})
		t := p.next()
		if t.kind == tokEOF {
			break
		}
		if !t.punct(",") {
			return nil, false
		}
	}
	ins.SelectStmt = &pg_query.Node{Node: &pg_query.Node_SelectStmt{SelectStmt: sel}}
	raw := &pg_query.RawStmt{Stmt: &pg_query.Node{Node: &pg_query.Node_InsertStmt{InsertStmt: ins}}}
	return &PG{Span: sp, Raw: raw}, true
}

// fastRangeVar reads [schema.]table.
func (p *parser) fastRangeVar() (*pg_query.RangeVar, bool) {
	first := p.next()
	if !isName(first) {
		return nil, false
	}
	rv := &pg_query.RangeVar{Relname: first.val, Inh: true, Relpersistence: "p", Location: int32(first.start)}
	if p.peek().punct(".") {
		p.next()
		second := p.next()
		if !isName(second) || p.peek().punct(".") {
			return nil, false
		}
		rv.Schemaname, rv.Relname = first.val, second.val
	}
	return rv, true
}

// isName reports whether t is an identifier that is no keyword at all
// (keywords, even unreserved ones, are left to PostgreSQL's grammar).
func isName(t token) bool { return t.kind == tokWord && (t.quoted || !t.kw) }

// constNode holds the nodes of one constant of a VALUES list.
type constNode struct {
	node pg_query.Node
	wrap pg_query.Node_AConst
	c    pg_query.A_Const
	ival pg_query.A_Const_Ival
	i    pg_query.Integer
	sval pg_query.A_Const_Sval
	s    pg_query.String
}

// newConst returns a node holding an empty A_Const, and the A_Const.
func (p *parser) newConst(loc int) (*constNode, *pg_query.Node) {
	if len(p.consts) == cap(p.consts) {
		p.consts = make([]constNode, 0, 64)
	}
	p.consts = p.consts[:len(p.consts)+1]
	b := &p.consts[len(p.consts)-1]
	b.c.Location = int32(loc)
	b.wrap.AConst = &b.c
	b.node.Node = &b.wrap
	return b, &b.node
}

// fastConst reads one VALUES item.
func (p *parser) fastConst() (*pg_query.Node, bool) {
	t := p.next()
	aconst := func(c *pg_query.A_Const) (*pg_query.Node, bool) {
		return &pg_query.Node{Node: &pg_query.Node_AConst{AConst: c}}, true
	}
	switch {
	case t.kind == tokString:
		if raw := p.sp.Text[t.start:t.end]; !strings.HasPrefix(raw, "'") || strings.Contains(raw, "\\") {
			return nil, false // E'', $$, U&'' or backslashes: leave them to pg_query
		}
		if n := p.peek(); n.kind == tokString {
			return nil, false // 'a' 'b' continues the constant
		}
		b, n := p.newConst(t.start)
		b.s.Sval = t.val
		b.sval.Sval = &b.s
		b.c.Val = &b.sval
		return n, true
	case t.kind == tokNumber:
		return p.fastNumber(t.val, false, t.start)
	case t.punct("-"):
		n := p.next()
		if n.kind != tokNumber {
			return nil, false
		}
		return p.fastNumber(n.val, true, t.start)
	case t.kind == tokWord && t.kw:
		switch t.val {
		case "null":
			return aconst(&pg_query.A_Const{Isnull: true, Location: int32(t.start)})
		case "true", "false":
			return aconst(&pg_query.A_Const{Val: &pg_query.A_Const_Boolval{Boolval: &pg_query.Boolean{Boolval: t.val == "true"}}, Location: int32(t.start)})
		case "default":
			return &pg_query.Node{Node: &pg_query.Node_SetToDefault{SetToDefault: &pg_query.SetToDefault{Location: int32(t.start)}}}, true
		}
	}
	return nil, false
}

// fastNumber builds a numeric constant as PostgreSQL's grammar does: an
// integer that fits int32 is an Integer, anything else keeps its text as
// a Float; negation applies to the value (or prefixes the text).
func (p *parser) fastNumber(text string, neg bool, loc int) (*pg_query.Node, bool) {
	digits, isInt := true, true
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '.' || c == 'e' || c == 'E' || ((c == '+' || c == '-') && i > 0 && (text[i-1] == 'e' || text[i-1] == 'E')):
			isInt = false
		default:
			digits = false // 0x1F, 1_000, ...: leave them to pg_query
		}
	}
	if !digits || text == "" || (!isInt && !strings.ContainsAny(text, "0123456789")) {
		return nil, false
	}
	b, n := p.newConst(loc)
	if isInt {
		if v, err := strconv.ParseInt(text, 10, 32); err == nil {
			if neg {
				v = -v
			}
			b.i.Ival = int32(v)
			b.ival.Ival = &b.i
			b.c.Val = &b.ival
			return n, true
		}
	}
	if neg {
		text = "-" + text
	}
	b.c.Val = &pg_query.A_Const_Fval{Fval: &pg_query.Float{Fval: text}}
	return n, true
}
