package expr

// The golden tests evaluate SQL scalar expressions written in a small
// subset of PostgreSQL's syntax, planned by a miniature planner built on
// the catalog (Resolve, LookupBinaryOp, NewCast, CommonType), and compare
// "type value" (or "error SQLSTATE: message") with the expected output.
//
// Directive "eval": the expected output was produced by a real PostgreSQL
// 15, so these files are a conformance check. To regenerate them from a
// server:
//
//	EXPR_PG='-h /tmp/exprpg -p 54329 -U postgres' go test ./expr -run TestGolden -rewrite
//
// (`go test -rewrite` leaves "eval" blocks alone unless EXPR_REWRITE_OURS is
// set, which records viewd's output instead, for diffing against git.)
//
// Directive "eval-local": behaviour PostgreSQL cannot show the same way
// (now() at a fixed statement time, mz_now(), viewd-specific functions);
// the expected output is viewd's, reviewed by hand.

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/cockroachdb/datadriven"
	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/eval_*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	pg := os.Getenv("EXPR_PG")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			datadriven.RunTest(t, f, func(t *testing.T, d *datadriven.TestData) string {
				lines := nonEmptyLines(d.Input)
				switch d.Cmd {
				case "eval":
					if pg != "" {
						return pgEvalLines(t, pg, lines)
					}
					if f := flag.Lookup("rewrite"); f != nil && f.Value.String() == "true" && os.Getenv("EXPR_REWRITE_OURS") == "" {
						// Never replace PostgreSQL's answers with ours.
						return d.Expected
					}
					return evalLines(lines)
				case "eval-local":
					return evalLines(lines)
				case "assign":
					var typName string
					d.ScanArgs(t, "type", &typName)
					if pg != "" {
						return pgAssignLines(t, pg, typName, lines)
					}
					if f := flag.Lookup("rewrite"); f != nil && f.Value.String() == "true" && os.Getenv("EXPR_REWRITE_OURS") == "" {
						return d.Expected
					}
					return assignLines(t, typName, lines)
				}
				t.Fatalf("unknown directive %q", d.Cmd)
				return ""
			})
		})
	}
}

func nonEmptyLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// goldenCtx is the evaluation context of the golden tests: statement time
// 2024-02-29 12:34:56.789 UTC, logical time 1700000000000.
func goldenCtx() *EvalCtx {
	return &EvalCtx{TimeZone: "UTC", StmtTime: 1709210096789000, LogicalNow: 1700000000000}
}

func evalLines(lines []string) string {
	var b strings.Builder
	ctx := goldenCtx()
	for _, l := range lines {
		b.WriteString(evalSQL(ctx, l))
		b.WriteByte('\n')
	}
	return b.String()
}

// evalSQL plans and evaluates one expression, printing "type value".
func evalSQL(ctx *EvalCtx, src string) string {
	e, typ, err := planSQL(src)
	if err != nil {
		return formatErr(err)
	}
	result := func(e Scalar) string {
		d, err := Eval(ctx, e, nil)
		if err != nil {
			return formatErr(err)
		}
		return pgTypeName(typ) + " " + textOf(d, typ)
	}
	out := result(e)
	if MaxVolatility(e) != Immutable {
		return out
	}
	// Folding must give what PostgreSQL gives: its planner's
	// simplification (refFold, the oracle of TestFoldPreservesEvaluation)
	// then evaluation. Where that differs from evaluating the expression
	// unfolded (an error in a constant subexpression PostgreSQL simplifies
	// first), both are shown.
	folded := result(FoldConstants(e, ctx))
	want := ""
	if ref, err := refFold(e); err != nil {
		want = formatErr(err)
	} else {
		want = result(ref)
	}
	if folded != want {
		return fmt.Sprintf("FOLD MISMATCH: folded %s, PostgreSQL's order %s", folded, want)
	}
	if folded != out {
		return out + " (folded, as PostgreSQL plans it: " + folded + ")"
	}
	return out
}

func textOf(d repr.Datum, t repr.ScalarType) string {
	if d.IsNull() {
		return "NULL"
	}
	return string(repr.AppendTextTyped(nil, d, t))
}

func formatErr(err error) string {
	pe := pgcode.As(err)
	return "error " + string(pe.Code) + ": " + pe.Message
}

// pgTypeName is pg_typeof's name for t (no modifiers).
func pgTypeName(t repr.ScalarType) string {
	t = t.WithoutTypmod()
	switch t.Kind {
	case repr.KindChar:
		return "character"
	case repr.KindArray:
		if t.Elem != nil {
			return pgTypeName(*t.Elem) + "[]"
		}
	}
	return t.String()
}

// assignLines plans each expression and casts it to typName in assignment
// context, as INSERT into a column of that type does.
func assignLines(t *testing.T, typName string, lines []string) string {
	_, target, err := planSQL("null::" + typName)
	if err != nil {
		t.Fatalf("type %q: %v", typName, err)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(assignSQL(target, l))
		b.WriteByte('\n')
	}
	return b.String()
}

func assignSQL(target repr.ScalarType, src string) string {
	toks, err := lexSQL(src)
	if err != nil {
		return formatErr(err)
	}
	p := &sqlParser{toks: toks}
	n, err := p.expr(0)
	if err != nil {
		return formatErr(err)
	}
	e, err := coerceIn(n, target, Assignment)
	if err != nil {
		return fmt.Sprintf("error 42804: column \"c\" is of type %s but expression is of type %s",
			pgTypeName(target), pgTypeName(n.t))
	}
	d, err := Eval(goldenCtx(), e, nil)
	if err != nil {
		return formatErr(err)
	}
	return pgTypeName(target) + " " + textOf(d, target)
}

// pgAssignLines asks PostgreSQL what INSERT stores for each expression.
func pgAssignLines(t *testing.T, args, typName string, lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		q := fmt.Sprintf("begin; create temp table t (c %s); insert into t values (%s) returning "+
			"pg_typeof(c)::text || ' ' || case when c is null then 'NULL' else format('%%s', c) end; rollback;", typName, l)
		out, _ := exec.Command("psql", append(strings.Fields(args), "-X", "-q", "-At", "-v", "VERBOSITY=verbose", "-c", q)...).CombinedOutput()
		s := strings.TrimRight(string(out), "\n")
		if i := strings.Index(s, "ERROR:  "); i >= 0 {
			msg := strings.SplitN(s[i+len("ERROR:  "):], "\n", 2)[0]
			code, text, _ := strings.Cut(msg, ": ")
			b.WriteString("error " + code + ": " + text + "\n")
			continue
		}
		b.WriteString(s + "\n")
	}
	return b.String()
}

// pgEvalLines asks a PostgreSQL server for the expected output.
func pgEvalLines(t *testing.T, args string, lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		q := fmt.Sprintf("select pg_typeof(%s)::text || ' ' || case when (%s) is null then 'NULL' else format('%%s', %s) end", l, l, l)
		cmd := exec.Command("psql", append(strings.Fields(args), "-X", "-At", "-v", "VERBOSITY=verbose",
			"-c", "set timezone = 'UTC'", "-c", q)...)
		out, err := cmd.CombinedOutput()
		s := strings.TrimSpace(string(out))
		if i := strings.Index(s, "ERROR:  "); i >= 0 {
			msg := strings.SplitN(s[i+len("ERROR:  "):], "\n", 2)[0]
			code, text, _ := strings.Cut(msg, ": ")
			b.WriteString("error " + code + ": " + text + "\n")
			continue
		}
		if err != nil {
			t.Fatalf("psql: %v: %s", err, out)
		}
		// The first line is the SET's "SET".
		parts := strings.SplitN(s, "\n", 2)
		b.WriteString(parts[len(parts)-1] + "\n")
	}
	return b.String()
}

// ---- a miniature SQL expression parser and planner ----

type tok struct {
	kind byte // 'i' ident/keyword, 'n' number, 's' string, 'o' operator, 'p' punctuation
	text string
}

func lexSQL(s string) ([]tok, error) {
	var out []tok
	const opChars = "+-*/<>=~!@#%^&|`?"
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '\'':
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated string")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			out = append(out, tok{'s', b.String()})
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.') {
				j++
			}
			if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
				j++
				if j < len(s) && (s[j] == '+' || s[j] == '-') {
					j++
				}
				for j < len(s) && s[j] >= '0' && s[j] <= '9' {
					j++
				}
			}
			out = append(out, tok{'n', s[i:j]})
			i = j
		case unicode.IsLetter(rune(c)) || c == '_':
			j := i
			for j < len(s) && (unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j])) || s[j] == '_') {
				j++
			}
			out = append(out, tok{'i', strings.ToLower(s[i:j])})
			i = j
		case c == '#' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && s[j] >= '0' && s[j] <= '9' {
				j++
			}
			out = append(out, tok{'c', s[i+1 : j]})
			i = j
		case c == ':' && i+1 < len(s) && s[i+1] == ':':
			out = append(out, tok{'p', "::"})
			i += 2
		case strings.IndexByte("(),[]", c) >= 0:
			out = append(out, tok{'p', string(c)})
			i++
		case strings.IndexByte(opChars, c) >= 0:
			j := i
			for j < len(s) && strings.IndexByte(opChars, s[j]) >= 0 {
				j++
			}
			op := s[i:j]
			// PostgreSQL: a multi-character operator cannot end in + or -
			// unless it contains one of ~ ! @ # % ^ & | ` ?.
			for len(op) > 1 && (op[len(op)-1] == '+' || op[len(op)-1] == '-') && !strings.ContainsAny(op, "~!@#%^&|`?") {
				op = op[:len(op)-1]
			}
			out = append(out, tok{'o', op})
			i += len(op)
		default:
			return nil, fmt.Errorf("unexpected %q", c)
		}
	}
	return out, nil
}

type sqlParser struct {
	toks []tok
	i    int
	cols []repr.ColumnType // types of #0, #1, ... (input columns)
}

// node is a parsed expression: its planned scalar and type, or an
// unknown-typed literal not yet coerced.
type node struct {
	e       Scalar
	t       repr.ScalarType
	unknown *string // a string literal of unknown type
	isNull  bool    // the NULL keyword
	numText string  // a numeric literal's text, typed as PostgreSQL's make_const does
}

func planSQL(src string) (Scalar, repr.ScalarType, error) {
	return planSQLCols(src, nil)
}

// planSQLCols plans an expression that may read columns #i of types cols.
func planSQLCols(src string, cols []repr.ColumnType) (Scalar, repr.ScalarType, error) {
	toks, err := lexSQL(src)
	if err != nil {
		return nil, repr.ScalarType{}, err
	}
	p := &sqlParser{toks: toks, cols: cols}
	n, err := p.expr(0)
	if err != nil {
		return nil, repr.ScalarType{}, err
	}
	if p.i != len(p.toks) {
		return nil, repr.ScalarType{}, fmt.Errorf("trailing tokens at %v", p.toks[p.i:])
	}
	if n.unknown != nil || n.isNull {
		// A bare literal of unknown type resolves to text (or stays
		// unknown for NULL, as pg_typeof shows).
		if n.isNull {
			return Literal{Typ: repr.ColumnType{Type: repr.TypeUnknown, Nullable: true}}, repr.TypeUnknown, nil
		}
		return Literal{Value: repr.TextDatum(*n.unknown), Typ: repr.ColumnType{Type: repr.TypeUnknown}}, repr.TypeUnknown, nil
	}
	return n.e, n.t, nil
}

func (p *sqlParser) peek() tok {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return tok{}
}

func (p *sqlParser) peekN(n int) tok {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return tok{}
}

func (p *sqlParser) accept(kind byte, text string) bool {
	if t := p.peek(); t.kind == kind && t.text == text {
		p.i++
		return true
	}
	return false
}

func (p *sqlParser) expect(kind byte, text string) error {
	if !p.accept(kind, text) {
		return fmt.Errorf("expected %q at %v", text, p.peek())
	}
	return nil
}

// Precedence levels, lowest first, after PostgreSQL's gram.y.
const (
	precOr = iota + 1
	precAnd
	precNot
	precIs
	precCmp
	precLike
	precOther
	precAdd
	precMul
	precExp
	precUnary
)

func binaryPrec(t tok) int {
	switch t.kind {
	case 'i':
		switch t.text {
		case "or":
			return precOr
		case "and":
			return precAnd
		case "is":
			return precIs
		case "like", "ilike", "not", "between":
			return precLike
		}
	case 'o':
		switch t.text {
		case "<", ">", "=", "<=", ">=", "<>", "!=":
			return precCmp
		case "+", "-":
			return precAdd
		case "*", "/", "%":
			return precMul
		case "^":
			return precExp
		}
		return precOther
	}
	return 0
}

func (p *sqlParser) expr(minPrec int) (node, error) {
	var left node
	var err error
	switch {
	case p.peek().kind == 'i' && p.peek().text == "not":
		p.i++
		operand, err := p.expr(precNot)
		if err != nil {
			return node{}, err
		}
		e, err := coerce(operand, repr.TypeBool)
		if err != nil {
			return node{}, err
		}
		left = node{e: Not(e), t: repr.TypeBool}
	case p.peek().kind == 'o' && (p.peek().text == "-" || p.peek().text == "+"):
		op := p.peek().text
		p.i++
		operand, err := p.expr(precUnary)
		if err != nil {
			return node{}, err
		}
		// A negated numeric literal is a constant (gram.y's doNegate).
		if op == "-" && operand.numText != "" {
			text := "-" + operand.numText
			if strings.HasPrefix(operand.numText, "-") {
				text = operand.numText[1:]
			}
			if left, err = numLiteral(text); err != nil {
				return node{}, err
			}
			break
		}
		left, err = applyOp(LookupUnaryOp(op), op, []node{operand})
		if err != nil {
			return node{}, err
		}
	case p.peek().kind == 'o':
		// Another prefix operator: @ (abs), ~ (bitwise not), |/ (sqrt).
		op := p.peek().text
		p.i++
		operand, err := p.expr(precOther)
		if err != nil {
			return node{}, err
		}
		if left, err = applyOp(LookupUnaryOp(op), op, []node{operand}); err != nil {
			return node{}, err
		}
	default:
		left, err = p.postfix()
		if err != nil {
			return node{}, err
		}
	}
	for {
		t := p.peek()
		prec := binaryPrec(t)
		if prec == 0 || prec <= minPrec {
			return left, nil
		}
		p.i++
		switch {
		case t.kind == 'i' && t.text == "is":
			left, err = p.isTest(left)
		case t.kind == 'i' && (t.text == "and" || t.text == "or"):
			var right node
			right, err = p.expr(prec)
			if err != nil {
				return node{}, err
			}
			var a, b Scalar
			if a, err = coerce(left, repr.TypeBool); err != nil {
				return node{}, err
			}
			if b, err = coerce(right, repr.TypeBool); err != nil {
				return node{}, err
			}
			if t.text == "and" {
				left = node{e: Call{Func: FuncAnd, Args: []Scalar{a, b}}, t: repr.TypeBool}
			} else {
				left = node{e: Call{Func: FuncOr, Args: []Scalar{a, b}}, t: repr.TypeBool}
			}
		case t.kind == 'i' && t.text == "between":
			// a BETWEEN b AND c is a >= b AND a <= c.
			var lo, hi node
			if lo, err = p.expr(precLike); err != nil {
				return node{}, err
			}
			if err = p.expect('i', "and"); err != nil {
				return node{}, err
			}
			if hi, err = p.expr(precLike); err != nil {
				return node{}, err
			}
			var ge, le node
			if ge, err = applyOp(LookupBinaryOp(">="), ">=", []node{left, lo}); err != nil {
				return node{}, err
			}
			if le, err = applyOp(LookupBinaryOp("<="), "<=", []node{left, hi}); err != nil {
				return node{}, err
			}
			left = node{e: And(ge.e, le.e), t: repr.TypeBool}
		case t.kind == 'i' && (t.text == "like" || t.text == "ilike" || t.text == "not"):
			op := map[string]string{"like": "~~", "ilike": "~~*"}[t.text]
			if t.text == "not" {
				switch {
				case p.accept('i', "like"):
					op = "!~~"
				case p.accept('i', "ilike"):
					op = "!~~*"
				default:
					return node{}, fmt.Errorf("expected LIKE after NOT")
				}
			}
			var right node
			if right, err = p.expr(prec); err != nil {
				return node{}, err
			}
			left, err = applyOp(LookupBinaryOp(op), op, []node{left, right})
		default:
			op := t.text
			if op == "!=" {
				op = "<>"
			}
			// x op ANY (array), x op ALL (array).
			if q := p.peek(); q.kind == 'i' && (q.text == "any" || q.text == "some" || q.text == "all") && p.peekN(1).text == "(" {
				p.i++
				if q.text == "all" {
					op += " ALL"
				} else {
					op += " ANY"
				}
			}
			var right node
			if right, err = p.expr(prec); err != nil {
				return node{}, err
			}
			left, err = applyOp(LookupBinaryOp(op), op, []node{left, right})
		}
		if err != nil {
			return node{}, err
		}
	}
}

func (p *sqlParser) isTest(left node) (node, error) {
	not := p.accept('i', "not")
	t := p.peek()
	p.i++
	switch t.text {
	case "null":
		e, err := coerce(left, orText(left))
		if err != nil {
			return node{}, err
		}
		f := FuncIsNull
		if not {
			f = FuncIsNotNull
		}
		return node{e: Call{Func: f, Args: []Scalar{e}}, t: repr.TypeBool}, nil
	case "true", "false", "unknown":
		op := "IS "
		if not {
			op += "NOT "
		}
		op += strings.ToUpper(t.text)
		return applyOp(LookupUnaryOp(op), op, []node{left})
	case "distinct":
		if err := p.expect('i', "from"); err != nil {
			return node{}, err
		}
		right, err := p.expr(precIs)
		if err != nil {
			return node{}, err
		}
		op := "IS DISTINCT FROM"
		if not {
			op = "IS NOT DISTINCT FROM"
		}
		return applyOp(LookupBinaryOp(op), op, []node{left, right})
	}
	return node{}, fmt.Errorf("unexpected IS %s", t.text)
}

func orText(n node) repr.ScalarType {
	if n.unknown != nil || n.isNull {
		return repr.TypeText
	}
	return n.t
}

func (p *sqlParser) postfix() (node, error) {
	n, err := p.primary()
	if err != nil {
		return node{}, err
	}
	for {
		switch {
		case p.accept('p', "::"):
			typ, err := p.typeName()
			if err != nil {
				return node{}, err
			}
			n, err = castNode(n, typ)
			if err != nil {
				return node{}, err
			}
		case p.accept('p', "["):
			idx, err := p.expr(0)
			if err != nil {
				return node{}, err
			}
			if err := p.expect('p', "]"); err != nil {
				return node{}, err
			}
			n, err = applyOp(LookupFunc("array_subscript"), "array_subscript", []node{n, idx})
			if err != nil {
				return node{}, err
			}
		default:
			return n, nil
		}
	}
}

var typeWords = map[string]repr.ScalarType{
	"int": repr.TypeInt4, "integer": repr.TypeInt4, "int4": repr.TypeInt4, "smallint": repr.TypeInt2, "int2": repr.TypeInt2,
	"bigint": repr.TypeInt8, "int8": repr.TypeInt8, "real": repr.TypeFloat4, "float4": repr.TypeFloat4,
	"float8": repr.TypeFloat8, "float": repr.TypeFloat8, "numeric": repr.TypeNumeric, "decimal": repr.TypeNumeric,
	"text": repr.TypeText, "varchar": repr.TypeVarchar, "char": repr.TypeChar, "bpchar": repr.TypeChar,
	"boolean": repr.TypeBool, "bool": repr.TypeBool, "bytea": repr.TypeBytea, "date": repr.TypeDate,
	"time": repr.TypeTime, "timestamp": repr.TypeTimestamp, "timestamptz": repr.TypeTimestampTz,
	"interval": repr.TypeInterval, "uuid": repr.TypeUUID, "jsonb": repr.TypeJsonb, "oid": repr.TypeOid,
}

func (p *sqlParser) typeName() (repr.ScalarType, error) {
	t := p.peek()
	if t.kind != 'i' {
		return repr.ScalarType{}, fmt.Errorf("expected a type at %v", t)
	}
	p.i++
	name := t.text
	switch {
	case name == "double" && p.accept('i', "precision"):
		name = "float8"
	case name == "character" && p.accept('i', "varying"):
		name = "varchar"
	case name == "character":
		name = "char"
	}
	typ, ok := typeWords[name]
	if !ok {
		return repr.ScalarType{}, fmt.Errorf("unknown type %q", name)
	}
	if p.accept('p', "(") {
		var mods []int32
		for {
			nt := p.peek()
			v, err := strconv.Atoi(nt.text)
			if err != nil {
				return repr.ScalarType{}, fmt.Errorf("bad type modifier %v", nt)
			}
			p.i++
			mods = append(mods, int32(v))
			if !p.accept('p', ",") {
				break
			}
		}
		if err := p.expect('p', ")"); err != nil {
			return repr.ScalarType{}, err
		}
		switch typ.Kind {
		case repr.KindNumeric:
			s := int32(0)
			if len(mods) > 1 {
				s = mods[1]
			}
			typ = repr.NumericType(mods[0], s)
		default:
			typ.Typmod = mods[0]
		}
	} else if name == "char" && t.text != "bpchar" {
		typ.Typmod = 1
	}
	if name == "timestamp" || name == "time" {
		if p.peek().text == "with" && p.peekN(1).text == "time" {
			p.i += 3 // with time zone
			if name == "timestamp" {
				typ = repr.TypeTimestampTz
			}
		} else if p.peek().text == "without" {
			p.i += 3
		}
	}
	for p.peek().text == "[" && p.peekN(1).text == "]" {
		p.i += 2
		typ = repr.ArrayOf(typ)
	}
	return typ, nil
}

func (p *sqlParser) primary() (node, error) {
	t := p.peek()
	switch t.kind {
	case 'n':
		p.i++
		return numLiteral(t.text)
	case 's':
		p.i++
		s := t.text
		return node{unknown: &s, t: repr.TypeUnknown}, nil
	case 'c':
		p.i++
		i, _ := strconv.Atoi(t.text)
		if i >= len(p.cols) {
			return node{}, fmt.Errorf("column #%d out of range (%d columns)", i, len(p.cols))
		}
		return node{e: Column{Index: i}, t: p.cols[i].Type}, nil
	case 'p':
		if t.text == "(" {
			p.i++
			n, err := p.expr(0)
			if err != nil {
				return node{}, err
			}
			return n, p.expect('p', ")")
		}
	case 'i':
		switch t.text {
		case "null":
			p.i++
			return node{isNull: true, t: repr.TypeUnknown}, nil
		case "true", "false":
			p.i++
			return node{e: NewLiteral(repr.BoolDatum(t.text == "true"), repr.TypeBool), t: repr.TypeBool}, nil
		case "cast":
			p.i++
			if err := p.expect('p', "("); err != nil {
				return node{}, err
			}
			n, err := p.expr(0)
			if err != nil {
				return node{}, err
			}
			if err := p.expect('i', "as"); err != nil {
				return node{}, err
			}
			typ, err := p.typeName()
			if err != nil {
				return node{}, err
			}
			if err := p.expect('p', ")"); err != nil {
				return node{}, err
			}
			return castNode(n, typ)
		case "case":
			p.i++
			return p.caseExpr()
		case "current_timestamp", "current_date", "localtimestamp":
			if p.peekN(1).text != "(" {
				p.i++
				return callFunc(t.text, nil)
			}
		case "mz_now":
			p.i++
			if err := p.expect('p', "("); err != nil {
				return node{}, err
			}
			return node{e: MzNow{}, t: repr.TypeNumeric}, p.expect('p', ")")
		}
		// A typed literal: date '2020-01-01', interval '1 day'.
		if _, ok := typeWords[t.text]; ok && (p.peekN(1).kind == 's' || t.text == "double" || t.text == "timestamp" && p.peekN(1).text == "with") {
			save := p.i
			typ, err := p.typeName()
			if err == nil && p.peek().kind == 's' {
				s := p.peek().text
				p.i++
				return castNode(node{unknown: &s, t: repr.TypeUnknown}, typ)
			}
			p.i = save
		}
		if p.peekN(1).text == "(" {
			switch t.text {
			case "substring", "position", "extract", "trim":
				if n, ok, err := p.specialCall(t.text); ok || err != nil {
					return n, err
				}
			}
			p.i += 2
			var args []node
			if !p.accept('p', ")") {
				for {
					a, err := p.expr(0)
					if err != nil {
						return node{}, err
					}
					args = append(args, a)
					if p.accept('p', ")") {
						break
					}
					if err := p.expect('p', ","); err != nil {
						return node{}, err
					}
				}
			}
			return callFunc(t.text, args)
		}
	}
	return node{}, fmt.Errorf("unexpected token %v", t)
}

// numLiteral types a numeric literal as PostgreSQL's make_const does:
// integer if it fits, else bigint, else numeric.
func numLiteral(text string) (node, error) {
	if !strings.ContainsAny(text, ".eE") {
		if v, err := strconv.ParseInt(text, 10, 64); err == nil {
			if v >= -1<<31 && v < 1<<31 {
				return node{e: NewLiteral(repr.Int4Datum(int32(v)), repr.TypeInt4), t: repr.TypeInt4, numText: text}, nil
			}
			return node{e: NewLiteral(repr.Int8Datum(v), repr.TypeInt8), t: repr.TypeInt8, numText: text}, nil
		}
	}
	d, err := repr.ParseText(text, repr.TypeNumeric)
	if err != nil {
		return node{}, err
	}
	return node{e: NewLiteral(d, repr.TypeNumeric), t: repr.TypeNumeric, numText: text}, nil
}

// specialCall parses the SQL-standard call syntaxes: substring(a from b
// [for c]), position(a in b), extract(field from x), trim([both|leading|
// trailing] [chars] from s). ok is false when the call uses plain
// syntax.
func (p *sqlParser) specialCall(name string) (node, bool, error) {
	save := p.i
	p.i += 2
	fail := func() (node, bool, error) { p.i = save; return node{}, false, nil }
	switch name {
	case "extract":
		field := p.peek()
		if field.kind != 'i' || p.peekN(1).text != "from" {
			return fail()
		}
		p.i += 2
		x, err := p.expr(0)
		if err != nil {
			return node{}, true, err
		}
		if err := p.expect('p', ")"); err != nil {
			return node{}, true, err
		}
		f := field.text
		n, err := callFunc("extract", []node{{unknown: &f, t: repr.TypeUnknown}, x})
		return n, true, err
	case "trim":
		fn := "btrim"
		switch {
		case p.accept('i', "both"):
		case p.accept('i', "leading"):
			fn = "ltrim"
		case p.accept('i', "trailing"):
			fn = "rtrim"
		}
		var chars *node
		if !p.accept('i', "from") {
			c, err := p.expr(0)
			if err != nil {
				return node{}, true, err
			}
			if !p.accept('i', "from") {
				// trim(s) or trim(s, chars) in plain syntax.
				if fn == "btrim" && (p.peek().text == ")" || p.peek().text == ",") {
					return fail()
				}
				return node{}, true, fmt.Errorf("expected FROM in trim")
			}
			chars = &c
		}
		s, err := p.expr(0)
		if err != nil {
			return node{}, true, err
		}
		if err := p.expect('p', ")"); err != nil {
			return node{}, true, err
		}
		args := []node{s}
		if chars != nil {
			args = append(args, *chars)
		}
		n, err := callFunc(fn, args)
		return n, true, err
	}
	a, err := p.expr(precLike)
	if err != nil {
		return fail()
	}
	switch {
	case name == "position" && p.accept('i', "in"):
		b, err := p.expr(0)
		if err != nil {
			return node{}, true, err
		}
		if err := p.expect('p', ")"); err != nil {
			return node{}, true, err
		}
		n, err := callFunc("position", []node{b, a})
		return n, true, err
	case name == "substring" && p.accept('i', "from"):
		b, err := p.expr(0)
		if err != nil {
			return node{}, true, err
		}
		args := []node{a, b}
		if p.accept('i', "for") {
			c, err := p.expr(0)
			if err != nil {
				return node{}, true, err
			}
			args = append(args, c)
		}
		if err := p.expect('p', ")"); err != nil {
			return node{}, true, err
		}
		n, err := callFunc("substring", args)
		return n, true, err
	}
	return fail()
}

func (p *sqlParser) caseExpr() (node, error) {
	var conds, results []node
	var operand *node
	if !(p.peek().kind == 'i' && p.peek().text == "when") {
		o, err := p.expr(0)
		if err != nil {
			return node{}, err
		}
		operand = &o
	}
	for p.accept('i', "when") {
		c, err := p.expr(0)
		if err != nil {
			return node{}, err
		}
		if operand != nil {
			if c, err = applyOp(LookupBinaryOp("="), "=", []node{*operand, c}); err != nil {
				return node{}, err
			}
		}
		if err := p.expect('i', "then"); err != nil {
			return node{}, err
		}
		r, err := p.expr(0)
		if err != nil {
			return node{}, err
		}
		conds, results = append(conds, c), append(results, r)
	}
	elseN := node{isNull: true, t: repr.TypeUnknown}
	if p.accept('i', "else") {
		var err error
		if elseN, err = p.expr(0); err != nil {
			return node{}, err
		}
	}
	if err := p.expect('i', "end"); err != nil {
		return node{}, err
	}
	all := append(append([]node(nil), results...), elseN)
	typ, err := commonOf(all)
	if err != nil {
		return node{}, err
	}
	e, err := coerce(elseN, typ)
	if err != nil {
		return node{}, err
	}
	for i := len(conds) - 1; i >= 0; i-- {
		c, err := coerce(conds[i], repr.TypeBool)
		if err != nil {
			return node{}, err
		}
		r, err := coerce(results[i], typ)
		if err != nil {
			return node{}, err
		}
		e = If{Cond: c, Then: r, Else: e}
	}
	return node{e: e, t: typ}, nil
}

func commonOf(ns []node) (repr.ScalarType, error) {
	ts := make([]repr.ScalarType, len(ns))
	for i, n := range ns {
		ts[i] = n.t
	}
	return CommonType(ts)
}

// coerce converts n to type t implicitly; unknown literals are parsed as t.
func coerce(n node, t repr.ScalarType) (Scalar, error) {
	return coerceIn(n, t, Implicit)
}

func coerceIn(n node, t repr.ScalarType, ctx CastContext) (Scalar, error) {
	if n.isNull {
		return NullLiteral(t), nil
	}
	if n.unknown != nil {
		if t.Kind == repr.KindNull {
			t = repr.TypeText
		}
		base := t.WithoutTypmod()
		d, err := repr.ParseText(*n.unknown, base)
		if err != nil {
			return ErrorLiteral(err, t), nil
		}
		if base.Equal(t) {
			return NewLiteral(d, t), nil
		}
		// The literal is read as the base type, then the modifier is
		// applied in the cast's context (explicit casts truncate).
		c, err := NewCast(NewLiteral(d, base), base, t, ctx)
		if err != nil {
			return nil, err
		}
		v, err := Eval(nil, c, nil)
		if err != nil {
			return ErrorLiteral(err, t), nil
		}
		return NewLiteral(v, t), nil
	}
	if n.t.Equal(t) {
		return n.e, nil
	}
	return NewCast(n.e, n.t, t, ctx)
}

func castNode(n node, t repr.ScalarType) (node, error) {
	e, err := coerceIn(n, t, Explicit)
	if err != nil {
		return node{}, err
	}
	if l, ok := e.(Literal); ok && l.Err != nil {
		return node{}, l.Err
	}
	return node{e: e, t: t}, nil
}

func applyOp(overloads []Overload, name string, args []node) (node, error) {
	types := make([]repr.ScalarType, len(args))
	for i, a := range args {
		types[i] = a.t
	}
	res, err := Resolve(name, overloads, types)
	if err != nil {
		return node{}, err
	}
	scalars := make([]Scalar, len(args))
	for i, a := range args {
		if scalars[i], err = coerce(a, res.ArgTypes[i]); err != nil {
			return node{}, err
		}
		if l, ok := scalars[i].(Literal); ok && l.Err != nil {
			return node{}, l.Err
		}
	}
	return node{e: Call{Func: res.Func, Args: scalars}, t: res.Func.Ret}, nil
}

func callFunc(name string, args []node) (node, error) {
	switch name {
	case "coalesce":
		typ, err := commonOf(args)
		if err != nil {
			return node{}, err
		}
		es := make([]Scalar, len(args))
		for i, a := range args {
			if es[i], err = coerce(a, typ); err != nil {
				return node{}, err
			}
		}
		return node{e: NewCoalesce(typ, es...), t: typ}, nil
	}
	return applyOp(LookupFunc(name), name, args)
}
