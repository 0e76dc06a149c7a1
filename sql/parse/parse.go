package parse

import (
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v5"

	"github.com/viewd/viewd/pgcode"
)

// Parse splits sqlText into statements and parses each one. Empty
// statements (";;") are skipped. Errors are *pgcode.Error (42601 with the
// 1-based character position within sqlText; 54001 for a statement nested
// too deeply, see MaxNestingDepth).
func Parse(sqlText string) ([]Statement, error) {
	toks, err := scan(sqlText)
	if err != nil {
		return nil, err
	}
	// Before any of it reaches pg_query's C code, which recurses over the
	// tree without a stack check.
	if err := checkDepth(toks); err != nil {
		return nil, err
	}
	var out []Statement
	start, depth, first := 0, 0, 0
	flush := func(end, lastTok int) error {
		if first == lastTok {
			return nil
		}
		text := strings.TrimRight(sqlText[start:end], " \t\r\n")
		lead := len(text) - len(strings.TrimLeft(text, " \t\r\n"))
		// Keep leading comments out of the span: start at the first token.
		lead = toks[first].start - start
		text = text[lead:]
		s0 := start + lead
		chunk := toks[first:lastTok]
		if s0 != 0 {
			chunk = make([]token, lastTok-first)
			for i, t := range toks[first:lastTok] {
				t.start -= s0
				t.end -= s0
				chunk[i] = t
			}
		}
		// Trim a trailing comment-only tail: end at the last token.
		text = text[:chunk[len(chunk)-1].end]
		sp := Span{Text: text, Start: s0, CharBase: utf8.RuneCountInString(sqlText[:s0])}
		st, err := parseOne(sp, chunk)
		if err != nil {
			return err
		}
		out = append(out, st)
		return nil
	}
	for i, t := range toks {
		switch {
		case t.punct("(") || t.punct("["):
			depth++
		case t.punct(")") || t.punct("]"):
			depth--
		case t.punct(";") && depth <= 0:
			if err := flush(t.start, i); err != nil {
				return nil, err
			}
			start, first, depth = t.end, i+1, 0
		}
	}
	if err := flush(len(sqlText), len(toks)); err != nil {
		return nil, err
	}
	return out, nil
}

// errNotMine says the extension parser does not recognise the statement.
var errNotMine = errors.New("parse: not a viewd statement")

// parseOne parses one statement's text.
func parseOne(sp Span, toks []token) (Statement, error) {
	p := &parser{sp: sp, toks: toks}
	if st, err := p.intercept(); err != errNotMine {
		return st, err
	}
	if st, ok := fastInsert(sp, toks); ok {
		return st, nil
	}
	res, perr := pg_query.Parse(sp.Text)
	if perr == nil {
		if len(res.Stmts) != 1 {
			// pg_query accepts some text PostgreSQL's server refuses and
			// returns no statement for it (FuzzFrontEnd: U&''), or more
			// than one where the split at top-level semicolons saw one:
			// either way a syntax error, as the server gives it.
			return nil, p.errAt(toks[0])
		}
		return &PG{Span: sp, Raw: res.Stmts[0]}, nil
	}
	p.i = 0
	st, err := p.extension()
	if err == errNotMine {
		return nil, convertError(perr, sp.Text, sp.CharBase)
	}
	return st, err
}

type parser struct {
	sp   Span
	toks []token
	i    int
	// consts holds the nodes of fastInsert's constants.
	consts []constNode
}

func (p *parser) peekN(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return token{kind: tokEOF, start: len(p.sp.Text), end: len(p.sp.Text)}
}

func (p *parser) peek() token { return p.peekN(0) }

func (p *parser) next() token {
	t := p.peek()
	if p.i < len(p.toks) {
		p.i++
	}
	return t
}

func (p *parser) atEOF() bool { return p.i >= len(p.toks) }

// errAt is a syntax error at the current token, positioned in the input.
func (p *parser) errAt(t token) error {
	e := syntaxErrorAt(p.sp.Text, t)
	e.Position += p.sp.CharBase
	return e
}

func (p *parser) fail() error { return p.errAt(p.peek()) }

// accept consumes the words ws if they come next.
func (p *parser) accept(ws ...string) bool {
	for k, w := range ws {
		if !p.peekN(k).is(w) {
			return false
		}
	}
	p.i += len(ws)
	return true
}

func (p *parser) expect(ws ...string) error {
	for _, w := range ws {
		if !p.accept(w) {
			return p.fail()
		}
	}
	return nil
}

func (p *parser) acceptPunct(s string) bool {
	if p.peek().punct(s) {
		p.i++
		return true
	}
	return false
}

func (p *parser) expectPunct(s string) error {
	if !p.acceptPunct(s) {
		return p.fail()
	}
	return nil
}

func (p *parser) expectEOF() error {
	if !p.atEOF() {
		return p.fail()
	}
	return nil
}

// ident reads one identifier (keywords allowed, as in ColLabel).
func (p *parser) ident() (string, error) {
	t := p.peek()
	if t.kind != tokWord {
		return "", p.fail()
	}
	p.i++
	return t.val, nil
}

// name reads a possibly qualified name a[.b[.c]].
func (p *parser) name() ([]string, error) {
	n, err := p.ident()
	if err != nil {
		return nil, err
	}
	parts := []string{n}
	for p.acceptPunct(".") {
		n, err := p.ident()
		if err != nil {
			return nil, err
		}
		parts = append(parts, n)
	}
	return parts, nil
}

// sub returns the span of the statement text between byte offsets s and e.
func (p *parser) sub(s, e int) Span {
	return Span{Text: p.sp.Text[s:e], Start: p.sp.Start + s, CharBase: p.sp.CharBase + utf8.RuneCountInString(p.sp.Text[:s])}
}

// query parses the tokens [from, to) as one query with pg_query.
func (p *parser) query(from, to int) (Query, error) {
	if from >= to {
		return Query{}, p.errAt(p.tokAt(from))
	}
	sp := p.sub(p.toks[from].start, p.toks[to-1].end)
	res, err := pg_query.Parse(sp.Text)
	if err != nil {
		return Query{}, convertError(err, sp.Text, sp.CharBase)
	}
	if len(res.Stmts) != 1 || res.Stmts[0].Stmt.GetSelectStmt() == nil {
		return Query{}, p.errAt(p.toks[from])
	}
	return Query{Span: sp, Node: res.Stmts[0].Stmt}, nil
}

func (p *parser) tokAt(i int) token {
	if i < len(p.toks) {
		return p.toks[i]
	}
	return token{kind: tokEOF, start: len(p.sp.Text), end: len(p.sp.Text)}
}

// expr parses the tokens [from, to) as one scalar expression.
func (p *parser) expr(from, to int) (Expr, error) {
	if from >= to {
		return Expr{}, p.errAt(p.tokAt(from))
	}
	sp := p.sub(p.toks[from].start, p.toks[to-1].end)
	res, err := pg_query.Parse("SELECT " + sp.Text)
	if err != nil {
		e := convertError(err, sp.Text, sp.CharBase)
		if pe, ok := e.(*pgcode.Error); ok && pe.Position > 0 {
			pe.Position -= 7
		}
		return Expr{}, e
	}
	sel := res.Stmts[0].Stmt.GetSelectStmt()
	if len(res.Stmts) != 1 || sel == nil || len(sel.TargetList) != 1 || sel.FromClause != nil {
		return Expr{}, p.errAt(p.toks[from])
	}
	sp.Adjust = 7
	return Expr{Span: sp, Node: sel.TargetList[0].GetResTarget().Val}, nil
}

// closeParen returns the index of the token closing the parenthesis at
// index open.
func (p *parser) closeParen(open int) (int, error) {
	depth := 0
	for j := open; j < len(p.toks); j++ {
		switch {
		case p.toks[j].punct("("):
			depth++
		case p.toks[j].punct(")"):
			depth--
			if depth == 0 {
				return j, nil
			}
		}
	}
	return 0, p.errAt(p.tokAt(len(p.toks)))
}

// findWordsAtDepth0 returns the index of the first occurrence of the word
// sequence ws at parenthesis depth 0 at or after from, or -1.
func (p *parser) findWords(from int, ws ...string) int {
	depth := 0
	for j := from; j < len(p.toks); j++ {
		t := p.toks[j]
		switch {
		case t.punct("(") || t.punct("["):
			depth++
		case t.punct(")") || t.punct("]"):
			depth--
		case depth == 0 && t.is(ws[0]):
			ok := true
			for k := 1; k < len(ws); k++ {
				if !p.tokAt(j + k).is(ws[k]) {
					ok = false
					break
				}
			}
			if ok {
				return j
			}
		}
	}
	return -1
}

// options parses "(" option {"," option} ")".
func (p *parser) options() ([]Option, error) {
	if err := p.expectPunct("("); err != nil {
		return nil, err
	}
	var opts []Option
	if p.acceptPunct(")") {
		return opts, nil
	}
	for {
		o, err := p.option()
		if err != nil {
			return nil, err
		}
		opts = append(opts, o)
		if p.acceptPunct(",") {
			continue
		}
		if err := p.expectPunct(")"); err != nil {
			return nil, err
		}
		return opts, nil
	}
}

// option parses NAME words [=] [value]. Without "=", when several words
// and nothing else come, the last word is the value (SOURCE tx).
func (p *parser) option() (Option, error) {
	var words []string
	for p.peek().kind == tokWord {
		words = append(words, strings.ToUpper(p.next().val))
	}
	if len(words) == 0 {
		return Option{}, p.fail()
	}
	var v Value
	if p.acceptPunct("=") {
		var err error
		if v, err = p.value(); err != nil {
			return Option{}, err
		}
	} else if t := p.peek(); t.kind == tokString || t.kind == tokNumber || t.punct("(") || t.punct("-") {
		var err error
		if v, err = p.value(); err != nil {
			return Option{}, err
		}
	} else if len(words) > 1 {
		v = Value{Kind: ValueWord, Str: strings.ToLower(words[len(words)-1])}
		words = words[:len(words)-1]
	}
	return Option{Name: strings.Join(words, " "), Value: v}, nil
}

// value parses a literal, a word, a parenthesised list of values or
// options, or words followed by a literal (FOR '1h').
func (p *parser) value() (Value, error) {
	var words []string
	for p.peek().kind == tokWord {
		t := p.peek()
		nt := p.peekN(1)
		if nt.kind == tokString || nt.kind == tokNumber || nt.kind == tokWord {
			words = append(words, t.val)
			p.i++
			continue
		}
		p.i++
		if len(words) > 0 {
			return Value{}, p.errAt(nt)
		}
		str := t.val
		// A qualified name (TEXT COLUMNS (t.c, s.t.c)) is one word.
		for p.peek().punct(".") && p.peekN(1).kind == tokWord {
			str += "." + p.peekN(1).val
			p.i += 2
		}
		return Value{Kind: ValueWord, Str: str}, nil
	}
	t := p.peek()
	switch {
	case t.kind == tokString:
		p.i++
		return Value{Kind: ValueString, Str: t.val, Words: words}, nil
	case t.kind == tokNumber:
		p.i++
		return Value{Kind: ValueNumber, Str: t.val, Words: words}, nil
	case t.punct("-") && p.peekN(1).kind == tokNumber:
		p.i += 2
		return Value{Kind: ValueNumber, Str: "-" + p.toks[p.i-1].val, Words: words}, nil
	case t.punct("(") && len(words) == 0:
		// A list of options when the first element starts with a word
		// followed by something other than "," or ")".
		if p.peekN(1).kind == tokWord && !p.peekN(2).punct(".") {
			opts, err := p.options()
			if err != nil {
				return Value{}, err
			}
			return Value{Kind: ValueOptions, Options: opts}, nil
		}
		p.i++
		var items []Value
		if p.acceptPunct(")") {
			return Value{Kind: ValueList}, nil
		}
		for {
			v, err := p.value()
			if err != nil {
				return Value{}, err
			}
			items = append(items, v)
			if p.acceptPunct(",") {
				continue
			}
			if err := p.expectPunct(")"); err != nil {
				return Value{}, err
			}
			return Value{Kind: ValueList, Items: items}, nil
		}
	}
	return Value{}, p.fail()
}

// intercept handles statements viewd always parses itself, before
// pg_query sees them: SUBSCRIBE, EXPLAIN and SHOW of viewd objects.
func (p *parser) intercept() (Statement, error) {
	t := p.peek()
	switch {
	case t.is("subscribe"):
		return p.subscribe(len(p.toks))
	case t.is("explain"):
		return p.explain()
	case t.is("show"):
		return p.show()
	}
	return nil, errNotMine
}

// extension handles statements pg_query rejected.
func (p *parser) extension() (Statement, error) {
	t := p.peek()
	switch {
	case t.is("select") || t.is("with") || t.is("values") || t.is("table") || t.punct("("):
		return p.selectAsOf()
	case t.is("create"):
		return p.create()
	case t.is("declare"):
		return p.declare()
	case t.is("fetch"):
		return p.fetch()
	case t.is("copy"):
		return p.copyTo()
	case t.is("drop"):
		return p.drop()
	case t.is("alter"):
		return p.alterRename()
	case t.is("grant") || t.is("revoke"):
		return p.grantOn()
	}
	return nil, errNotMine
}

// grantKinds are the object kinds of GRANT ... ON that PostgreSQL's
// grammar does not know.
var grantKinds = map[string]bool{"connection": true, "secret": true, "source": true}

func (p *parser) grantOn() (Statement, error) {
	g := &GrantOn{Span: p.sp, Grant: p.next().is("grant")}
	if !g.Grant && p.accept("grant", "option", "for") {
		g.GrantOption = true
	}
	if p.accept("all") {
		p.accept("privileges")
	} else {
		for {
			w, err := p.ident()
			if err != nil {
				return nil, errNotMine
			}
			g.Privileges = append(g.Privileges, strings.ToUpper(w))
			if !p.acceptPunct(",") {
				break
			}
		}
	}
	if !p.accept("on") || p.peek().kind != tokWord || !grantKinds[p.peek().val] {
		return nil, errNotMine
	}
	g.Kind = p.next().val
	for {
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		g.Names = append(g.Names, n)
		if !p.acceptPunct(",") {
			break
		}
	}
	if g.Grant {
		if err := p.expect("to"); err != nil {
			return nil, err
		}
	} else if err := p.expect("from"); err != nil {
		return nil, err
	}
	for {
		r, err := p.ident()
		if err != nil {
			return nil, err
		}
		g.Grantees = append(g.Grantees, r)
		if !p.acceptPunct(",") {
			break
		}
	}
	switch {
	case g.Grant && p.accept("with", "grant", "option"):
		g.GrantOption = true
	case !g.Grant && p.accept("cascade"):
		g.Cascade = true
	case !g.Grant:
		p.accept("restrict")
	}
	return g, p.expectEOF()
}

var viewdObjectKinds = map[string]bool{"source": true, "connection": true, "sink": true, "cluster": true, "secret": true}

func (p *parser) drop() (Statement, error) {
	p.i = 1
	kind := p.peek()
	if kind.kind != tokWord || !viewdObjectKinds[kind.val] {
		return nil, errNotMine
	}
	p.i++
	d := &Drop{Span: p.sp, Kind: kind.val, IfExists: p.accept("if", "exists")}
	for {
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		d.Names = append(d.Names, n)
		if !p.acceptPunct(",") {
			break
		}
	}
	if p.accept("cascade") {
		d.Cascade = true
	} else {
		p.accept("restrict")
	}
	return d, p.expectEOF()
}

func (p *parser) alterRename() (Statement, error) {
	p.i = 1
	kind := p.peek()
	if kind.kind != tokWord || !viewdObjectKinds[kind.val] {
		return nil, errNotMine
	}
	p.i++
	a := &AlterRename{Span: p.sp, Kind: kind.val, IfExists: p.accept("if", "exists")}
	var err error
	if a.Name, err = p.name(); err != nil {
		return nil, err
	}
	if err := p.expect("rename", "to"); err != nil {
		return nil, err
	}
	if a.NewName, err = p.ident(); err != nil {
		return nil, err
	}
	return a, p.expectEOF()
}

// subscribe parses SUBSCRIBE ... up to token index end.
func (p *parser) subscribe(end int) (*Subscribe, error) {
	startTok := p.i
	if err := p.expect("subscribe"); err != nil {
		return nil, err
	}
	p.accept("to")
	s := &Subscribe{}
	if p.peek().punct("(") {
		closeAt, err := p.closeParen(p.i)
		if err != nil {
			return nil, err
		}
		q, err := p.query(p.i+1, closeAt)
		if err != nil {
			return nil, err
		}
		s.Query = &q
		p.i = closeAt + 1
	} else {
		n, err := p.name()
		if err != nil {
			return nil, err
		}
		s.Object = n
	}
	if p.accept("with") {
		opts, err := p.options()
		if err != nil {
			return nil, err
		}
		s.Options = opts
		for _, o := range opts {
			switch o.Name {
			case "SNAPSHOT", "PROGRESS":
				b, err := boolValue(o)
				if err != nil {
					return nil, err
				}
				if o.Name == "SNAPSHOT" {
					s.Snapshot = &b
				} else {
					s.Progress = &b
				}
			}
		}
	}
	upTo := -1
	if p.peek().is("as") && p.peekN(1).is("of") {
		p.i += 2
		a := &AsOf{AtLeast: p.accept("at", "least")}
		e := p.findWords(p.i, "up", "to")
		stop := end
		if e >= 0 && e < end {
			stop, upTo = e, e
		}
		x, err := p.expr(p.i, stop)
		if err != nil {
			return nil, err
		}
		a.Expr = x
		s.AsOf = a
		p.i = stop
	}
	if upTo >= 0 || p.peek().is("up") {
		if err := p.expect("up", "to"); err != nil {
			return nil, err
		}
		x, err := p.expr(p.i, end)
		if err != nil {
			return nil, err
		}
		s.UpTo = &x
		p.i = end
	}
	if p.i != end {
		return nil, p.fail()
	}
	s.Span = p.sub(p.toks[startTok].start, p.tokAt(end-1).end)
	return s, nil
}

func boolValue(o Option) (bool, error) {
	switch o.Value.Kind {
	case ValueNone:
		return true, nil
	case ValueWord, ValueString:
		switch strings.ToLower(o.Value.Str) {
		case "true", "on", "t", "yes", "1":
			return true, nil
		case "false", "off", "f", "no", "0":
			return false, nil
		}
	case ValueNumber:
		switch o.Value.Str {
		case "1":
			return true, nil
		case "0":
			return false, nil
		}
	}
	return false, pgcode.New(pgcode.InvalidParameterValue, "invalid %s option value: expected a boolean", o.Name)
}

// selectAsOf splits "query AS OF [AT LEAST] expr".
func (p *parser) selectAsOf() (Statement, error) {
	at := p.findWords(0, "as", "of")
	if at < 0 {
		return nil, errNotMine
	}
	q, err := p.query(0, at)
	if err != nil {
		return nil, err
	}
	p.i = at + 2
	a := AsOf{AtLeast: p.accept("at", "least")}
	x, err := p.expr(p.i, len(p.toks))
	if err != nil {
		return nil, err
	}
	a.Expr = x
	return &SelectAsOf{Span: p.sp, Query: q, AsOf: a}, nil
}

func (p *parser) ifNotExists() bool { return p.accept("if", "not", "exists") }

func (p *parser) create() (Statement, error) {
	p.i = 1
	switch {
	case p.accept("connection"):
		return p.createConnection()
	case p.accept("secret"):
		return p.createSecret()
	case p.accept("source"):
		return p.createSource()
	case p.accept("default", "index"):
		return p.createDefaultIndex()
	case p.accept("materialized", "view"):
		return p.createMaterializedView(false)
	case p.accept("or", "replace", "materialized", "view"):
		return p.createMaterializedView(true)
	}
	return nil, errNotMine
}

func (p *parser) createConnection() (Statement, error) {
	c := &CreateConnection{Span: p.sp, IfNotExists: p.ifNotExists()}
	var err error
	if c.Name, err = p.name(); err != nil {
		return nil, err
	}
	if err := p.expect("to"); err != nil {
		return nil, err
	}
	if c.Type, err = p.ident(); err != nil {
		return nil, err
	}
	if p.peek().punct("(") {
		if c.Options, err = p.options(); err != nil {
			return nil, err
		}
	}
	return c, p.expectEOF()
}

// createSecret parses CREATE SECRET [IF NOT EXISTS] name AS 'value'.
func (p *parser) createSecret() (Statement, error) {
	c := &CreateSecret{Span: p.sp, IfNotExists: p.ifNotExists()}
	var err error
	if c.Name, err = p.name(); err != nil {
		return nil, err
	}
	if err := p.expect("as"); err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tokString {
		return nil, p.fail()
	}
	p.i++
	c.Value = t.val
	return c, p.expectEOF()
}

func (p *parser) createSource() (Statement, error) {
	s := &CreateSource{Span: p.sp, IfNotExists: p.ifNotExists()}
	var err error
	if s.Name, err = p.name(); err != nil {
		return nil, err
	}
	if p.peek().punct("(") {
		closeAt, err := p.closeParen(p.i)
		if err != nil {
			return nil, err
		}
		body := p.sp.Text[p.toks[p.i].start:p.toks[closeAt].end]
		prefix := "CREATE TABLE t "
		res, perr := pg_query.Parse(prefix + body)
		if perr != nil {
			e := convertError(perr, body, p.sub(p.toks[p.i].start, p.toks[closeAt].end).CharBase)
			if pe, ok := e.(*pgcode.Error); ok && pe.Position > 0 {
				pe.Position -= len(prefix)
			}
			return nil, e
		}
		s.Columns = res.Stmts[0].Stmt.GetCreateStmt()
		p.i = closeAt + 1
	}
	if p.accept("in", "cluster") {
		if s.InCluster, err = p.ident(); err != nil {
			return nil, err
		}
	}
	if err := p.expect("from"); err != nil {
		return nil, err
	}
	switch {
	case p.accept("kafka", "connection"):
		s.Kind = "kafka"
	case p.accept("postgres", "connection"):
		s.Kind = "postgres"
	case p.accept("load", "generator"):
		s.Kind = "load generator"
		if s.Generator, err = p.ident(); err != nil {
			return nil, err
		}
	default:
		return nil, p.fail()
	}
	if s.Kind != "load generator" {
		if s.Connection, err = p.name(); err != nil {
			return nil, err
		}
	}
	if p.peek().punct("(") {
		if s.ConnectionOptions, err = p.options(); err != nil {
			return nil, err
		}
	}
	for !p.atEOF() {
		switch {
		case p.accept("for", "all", "tables"):
			s.ForAllTables = true
		case p.accept("for", "tables"):
			if err := p.expectPunct("("); err != nil {
				return nil, err
			}
			for {
				n, err := p.name()
				if err != nil {
					return nil, err
				}
				alias := ""
				if p.accept("as") {
					if alias, err = p.ident(); err != nil {
						return nil, err
					}
				}
				s.ForTables = append(s.ForTables, n)
				s.ForTableAliases = append(s.ForTableAliases, alias)
				if p.acceptPunct(",") {
					continue
				}
				if err := p.expectPunct(")"); err != nil {
					return nil, err
				}
				break
			}
		case p.accept("for", "schemas"):
			if err := p.expectPunct("("); err != nil {
				return nil, err
			}
			for {
				n, err := p.ident()
				if err != nil {
					return nil, err
				}
				s.ForSchemas = append(s.ForSchemas, n)
				if p.acceptPunct(",") {
					continue
				}
				if err := p.expectPunct(")"); err != nil {
					return nil, err
				}
				break
			}
		case p.accept("key", "format"):
			if s.KeyFormat, err = p.format(); err != nil {
				return nil, err
			}
		case p.accept("value", "format"):
			if s.ValueFormat, err = p.format(); err != nil {
				return nil, err
			}
		case p.accept("format"):
			if s.ValueFormat, err = p.format(); err != nil {
				return nil, err
			}
		case p.accept("include"):
			for {
				w, err := p.ident()
				if err != nil {
					return nil, err
				}
				inc := Include{What: w}
				if p.accept("as") {
					if inc.Alias, err = p.ident(); err != nil {
						return nil, err
					}
				}
				s.Include = append(s.Include, inc)
				if !p.acceptPunct(",") {
					break
				}
			}
		case p.accept("envelope"):
			if s.Envelope, err = p.ident(); err != nil {
				return nil, err
			}
			switch s.Envelope {
			case "none", "debezium", "maxwell", "cockroachdb", "upsert":
			default:
				return nil, p.errAt(p.toks[p.i-1])
			}
			if p.peek().punct("(") {
				if s.EnvelopeOptions, err = p.options(); err != nil {
					return nil, err
				}
			}
		case p.accept("with"):
			if s.With, err = p.options(); err != nil {
				return nil, err
			}
		default:
			return nil, p.fail()
		}
	}
	return s, nil
}

func (p *parser) format() (*Format, error) {
	n, err := p.ident()
	if err != nil {
		return nil, err
	}
	f := &Format{Name: n}
	if p.peek().punct("(") {
		if f.Options, err = p.options(); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (p *parser) createDefaultIndex() (Statement, error) {
	c := &CreateDefaultIndex{Span: p.sp, IfNotExists: p.ifNotExists()}
	var err error
	if !p.peek().is("on") && !p.peek().is("in") {
		if c.Name, err = p.ident(); err != nil {
			return nil, err
		}
	}
	if p.accept("in", "cluster") {
		if c.InCluster, err = p.ident(); err != nil {
			return nil, err
		}
	}
	if err := p.expect("on"); err != nil {
		return nil, err
	}
	if c.On, err = p.name(); err != nil {
		return nil, err
	}
	return c, p.expectEOF()
}

func (p *parser) createMaterializedView(orReplace bool) (Statement, error) {
	m := &CreateMaterializedView{Span: p.sp, OrReplace: orReplace, IfNotExists: p.ifNotExists()}
	var err error
	if m.Name, err = p.name(); err != nil {
		return nil, err
	}
	if p.acceptPunct("(") {
		for {
			c, err := p.ident()
			if err != nil {
				return nil, err
			}
			m.Columns = append(m.Columns, c)
			if p.acceptPunct(",") {
				continue
			}
			if err := p.expectPunct(")"); err != nil {
				return nil, err
			}
			break
		}
	}
	if p.accept("in", "cluster") {
		if m.InCluster, err = p.ident(); err != nil {
			return nil, err
		}
	}
	if p.accept("with") {
		if m.Options, err = p.options(); err != nil {
			return nil, err
		}
	}
	if err := p.expect("as"); err != nil {
		return nil, err
	}
	if m.Query, err = p.query(p.i, len(p.toks)); err != nil {
		return nil, err
	}
	return m, nil
}

func (p *parser) declare() (Statement, error) {
	p.i = 1
	name, err := p.ident()
	if err != nil {
		return nil, err
	}
	if err := p.expect("cursor"); err != nil {
		return nil, err
	}
	hold := p.accept("with", "hold")
	if !hold {
		p.accept("without", "hold")
	}
	if err := p.expect("for"); err != nil {
		return nil, err
	}
	if !p.peek().is("subscribe") {
		return nil, errNotMine
	}
	s, err := p.subscribe(len(p.toks))
	if err != nil {
		return nil, err
	}
	return &DeclareSubscribe{Span: p.sp, Cursor: name, Hold: hold, Subscribe: s}, nil
}

func (p *parser) fetch() (Statement, error) {
	p.i = 1
	f := &Fetch{Span: p.sp, Count: 1}
	p.accept("forward")
	switch t := p.peek(); {
	case t.is("all"):
		p.i++
		f.Count = -1
	case t.kind == tokNumber:
		p.i++
		n, err := strconv.ParseInt(t.val, 10, 64)
		if err != nil {
			return nil, p.errAt(t)
		}
		f.Count = n
	case t.is("next"):
		p.i++
	}
	if !p.accept("from") {
		p.accept("in")
	}
	var err error
	if f.Cursor, err = p.ident(); err != nil {
		return nil, err
	}
	if p.accept("with") {
		if f.Options, err = p.options(); err != nil {
			return nil, err
		}
	}
	return f, p.expectEOF()
}

func (p *parser) copyTo() (Statement, error) {
	p.i = 1
	if !p.peek().punct("(") || !p.peekN(1).is("subscribe") {
		return nil, errNotMine
	}
	closeAt, err := p.closeParen(p.i)
	if err != nil {
		return nil, err
	}
	p.i++
	s, err := p.subscribe(closeAt)
	if err != nil {
		return nil, err
	}
	p.i = closeAt + 1
	if err := p.expect("to", "stdout"); err != nil {
		return nil, err
	}
	c := &CopyTo{Span: p.sp, Subscribe: s}
	if p.accept("with") || p.peek().punct("(") {
		if c.Options, err = p.options(); err != nil {
			return nil, err
		}
	}
	return c, p.expectEOF()
}

var explainStages = map[string]bool{
	"raw": true, "hir": true, "decorrelated": true, "mir": true,
	"optimized": true, "lir": true, "physical": true,
}

func (p *parser) explain() (Statement, error) {
	p.i = 1
	e := &Explain{Span: p.sp, Stage: "optimized"}
	if t := p.peek(); t.kind == tokWord && explainStages[t.val] {
		e.Stage = t.val
		p.i++
	}
	p.accept("plan")
	p.accept("for")
	if p.atEOF() {
		return nil, p.fail()
	}
	inner := p.toks[p.i:]
	off := inner[0].start
	sp := p.sub(off, len(p.sp.Text))
	shifted := make([]token, len(inner))
	for k, t := range inner {
		t.start -= off
		t.end -= off
		shifted[k] = t
	}
	st, err := parseOne(sp, shifted)
	if err != nil {
		return nil, err
	}
	e.Inner = st
	return e, nil
}

func (p *parser) show() (Statement, error) {
	p.i = 1
	s := &Show{Span: p.sp}
	var err error
	switch {
	case p.accept("sources"):
		s.What = "sources"
	case p.accept("views"):
		s.What = "views"
	case p.accept("materialized", "views"):
		s.What = "materialized views"
	case p.accept("indexes") || p.accept("indices"):
		s.What = "indexes"
	case p.accept("tables"):
		s.What = "tables"
	case p.accept("connections"):
		s.What = "connections"
	case p.accept("secrets"):
		s.What = "secrets"
	case p.accept("schemas"):
		s.What = "schemas"
	case p.accept("objects"):
		s.What = "objects"
	case p.accept("columns"):
		s.What = "columns"
		if !p.accept("from") && !p.accept("in") {
			return nil, p.fail()
		}
		if s.From, err = p.name(); err != nil {
			return nil, err
		}
		return s, p.expectEOF()
	case p.peek().is("create"):
		p.i++
		for _, k := range []string{"table", "view", "source", "index", "connection", "secret"} {
			if p.accept(k) {
				s.What = "create " + k
			}
		}
		if s.What == "" && p.accept("materialized", "view") {
			s.What = "create materialized view"
		}
		if s.What == "" {
			return nil, p.fail()
		}
		if s.Name, err = p.name(); err != nil {
			return nil, err
		}
		return s, p.expectEOF()
	default:
		return nil, errNotMine
	}
	if p.accept("from") || p.accept("on") || p.accept("in") {
		if s.From, err = p.name(); err != nil {
			return nil, err
		}
	}
	return s, p.expectEOF()
}
