package sqllogictest

import (
	"strconv"
	"strings"
)

// tokKind classifies a lexical token of SQL text.
type tokKind int

const (
	tokIdent  tokKind = iota // unquoted identifier or keyword; norm is lower case
	tokQIdent                // "quoted" or [bracketed] identifier; norm is verbatim
	tokNumber                // numeric literal
	tokString                // string literal of any flavour
	tokPunct                 // operator or punctuation
)

// token is one lexical token. depth is the parenthesis nesting depth at which
// the token starts; a parenthesis itself has the depth outside it.
type token struct {
	kind  tokKind
	norm  string // identifiers: the name as PostgreSQL folds it; others: the text
	start int    // byte offset in the scanned text
	end   int
	depth int
}

// is reports whether t is the unquoted keyword kw (lower case).
func (t token) is(kw string) bool { return t.kind == tokIdent && t.norm == kw }

// scanSQL splits SQL text into tokens. It understands PostgreSQL's comments,
// string literals (including E” and dollar quoting), quoted identifiers and
// SQLite's [bracketed] identifiers. It never fails: malformed input yields
// best-effort tokens, which is all the runner needs to find table names and
// clause boundaries.
func scanSQL(s string) []token {
	var toks []token
	depth := 0
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			nest := 0
			for i < len(s) {
				if strings.HasPrefix(s[i:], "/*") {
					nest++
					i += 2
				} else if strings.HasPrefix(s[i:], "*/") {
					nest--
					i += 2
					if nest == 0 {
						break
					}
				} else {
					i++
				}
			}
		case c == '\'':
			j := scanQuoted(s, i, '\'', false)
			toks = append(toks, token{kind: tokString, norm: s[i:j], start: i, end: j, depth: depth})
			i = j
		case (c == 'e' || c == 'E') && i+1 < len(s) && s[i+1] == '\'':
			j := scanQuoted(s, i+1, '\'', true)
			toks = append(toks, token{kind: tokString, norm: s[i:j], start: i, end: j, depth: depth})
			i = j
		case c == '"':
			j := scanQuoted(s, i, '"', false)
			name := s[i+1 : j]
			name = strings.TrimSuffix(name, "\"")
			name = strings.ReplaceAll(name, `""`, `"`)
			toks = append(toks, token{kind: tokQIdent, norm: name, start: i, end: j, depth: depth})
			i = j
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				toks = append(toks, token{kind: tokPunct, norm: "[", start: i, end: i + 1, depth: depth})
				i++
				continue
			}
			toks = append(toks, token{kind: tokQIdent, norm: s[i+1 : i+j], start: i, end: i + j + 1, depth: depth})
			i += j + 1
		case c == '$' && dollarTag(s[i:]) != "":
			tag := dollarTag(s[i:])
			j := strings.Index(s[i+len(tag):], tag)
			end := len(s)
			if j >= 0 {
				end = i + len(tag) + j + len(tag)
			}
			toks = append(toks, token{kind: tokString, norm: s[i:end], start: i, end: end, depth: depth})
			i = end
		case isIdentStart(c):
			j := i + 1
			for j < len(s) && isIdentPart(s[j]) {
				j++
			}
			toks = append(toks, token{kind: tokIdent, norm: strings.ToLower(s[i:j]), start: i, end: j, depth: depth})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) {
				d := s[j]
				if d >= '0' && d <= '9' || d == '.' || d == '_' {
					j++
				} else if (d == 'e' || d == 'E') && j+1 < len(s) && (s[j+1] >= '0' && s[j+1] <= '9' || s[j+1] == '+' || s[j+1] == '-') {
					j += 2
				} else {
					break
				}
			}
			toks = append(toks, token{kind: tokNumber, norm: s[i:j], start: i, end: j, depth: depth})
			i = j
		case c == '(':
			toks = append(toks, token{kind: tokPunct, norm: "(", start: i, end: i + 1, depth: depth})
			depth++
			i++
		case c == ')':
			if depth > 0 {
				depth--
			}
			toks = append(toks, token{kind: tokPunct, norm: ")", start: i, end: i + 1, depth: depth})
			i++
		case strings.ContainsRune(",;.[]", rune(c)):
			toks = append(toks, token{kind: tokPunct, norm: string(c), start: i, end: i + 1, depth: depth})
			i++
		default:
			// Operators: a maximal run of operator characters.
			j := i + 1
			for j < len(s) && strings.IndexByte("+-*/<>=~!@#%^&|`?:", s[j]) >= 0 &&
				!strings.HasPrefix(s[j:], "--") && !strings.HasPrefix(s[j:], "/*") {
				j++
			}
			toks = append(toks, token{kind: tokPunct, norm: s[i:j], start: i, end: j, depth: depth})
			i = j
		}
	}
	return toks
}

// scanQuoted returns the offset just past the literal that opens at s[i]
// with quote q. A doubled quote is an escaped quote; with backslash set, a
// backslash escapes the next byte too.
func scanQuoted(s string, i int, q byte, backslash bool) int {
	j := i + 1
	for j < len(s) {
		switch {
		case backslash && s[j] == '\\':
			j += 2
		case s[j] == q && j+1 < len(s) && s[j+1] == q:
			j += 2
		case s[j] == q:
			return j + 1
		default:
			j++
		}
	}
	return len(s)
}

// dollarTag returns the opening tag ("$$" or "$name$") if s starts with one.
func dollarTag(s string) string {
	if len(s) < 2 || s[0] != '$' {
		return ""
	}
	for j := 1; j < len(s); j++ {
		if s[j] == '$' {
			return s[:j+1]
		}
		if !isIdentPart(s[j]) || s[j] == '$' || (j == 1 && s[j] >= '0' && s[j] <= '9') {
			return ""
		}
	}
	return ""
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '$'
}

// identNames returns the set of identifiers (as PostgreSQL folds them) that
// occur in SQL text. Keywords are included; callers intersect the set with
// names they know to be relations.
func identNames(toks []token) map[string]bool {
	names := make(map[string]bool)
	for _, t := range toks {
		if t.kind == tokIdent || t.kind == tokQIdent {
			names[t.norm] = true
		}
	}
	return names
}

// nondeterministic lists functions whose result may differ between two
// evaluations of the same query over the same data. A query that calls one
// cannot be checked through a materialized view.
var nondeterministic = map[string]bool{
	"random": true, "setseed": true, "now": true, "current_timestamp": true,
	"current_date": true, "current_time": true, "localtime": true,
	"localtimestamp": true, "clock_timestamp": true, "statement_timestamp": true,
	"transaction_timestamp": true, "timeofday": true, "nextval": true,
	"currval": true, "lastval": true, "gen_random_uuid": true, "uuid_generate_v4": true,
	"mz_now": true, "pg_backend_pid": true, "txid_current": true,
}

// hasNondeterminism reports the first non-deterministic function in toks.
func hasNondeterminism(toks []token) (string, bool) {
	for _, t := range toks {
		if t.kind == tokIdent && nondeterministic[t.norm] {
			return t.norm, true
		}
	}
	return "", false
}

// ddlKind classifies a statement for view-mode bookkeeping.
type ddlKind int

const (
	ddlOther  ddlKind = iota
	ddlCreate         // creates the relation in names[0]
	ddlDrop           // drops the relations in names
	ddlAlter          // drops, renames or retypes part of the relation in names[0]
)

// classifyDDL recognises CREATE/DROP/ALTER of relations (tables, views,
// materialized views, sources) and returns the relation names involved,
// unqualified and folded.
func classifyDDL(toks []token) (ddlKind, []string) {
	i := 0
	next := func() (token, bool) {
		if i >= len(toks) {
			return token{}, false
		}
		t := toks[i]
		i++
		return t, true
	}
	peekIs := func(kws ...string) bool {
		for _, kw := range kws {
			if i < len(toks) && toks[i].is(kw) {
				return true
			}
		}
		return false
	}
	skip := func(kws ...string) {
		for peekIs(kws...) {
			i++
		}
	}
	// name reads a possibly qualified name and returns its last part.
	name := func() (string, bool) {
		t, ok := next()
		if !ok || (t.kind != tokIdent && t.kind != tokQIdent) {
			return "", false
		}
		n := t.norm
		for i+1 < len(toks) && toks[i].norm == "." && toks[i].kind == tokPunct {
			i++
			t, ok = next()
			if !ok {
				return "", false
			}
			n = t.norm
		}
		return n, true
	}
	first, ok := next()
	if !ok {
		return ddlOther, nil
	}
	switch {
	case first.is("create"):
		if peekIs("or") {
			i++
			skip("replace")
		}
		skip("temp", "temporary", "unlogged", "global", "local", "materialized")
		if !peekIs("table", "view", "source") {
			return ddlOther, nil
		}
		i++
		if peekIs("if") {
			i += 3 // IF NOT EXISTS
		}
		if n, ok := name(); ok {
			return ddlCreate, []string{n}
		}
	case first.is("drop"):
		skip("materialized")
		if !peekIs("table", "view", "source") {
			return ddlOther, nil
		}
		i++
		if peekIs("if") {
			i += 2 // IF EXISTS
		}
		var names []string
		for {
			n, ok := name()
			if !ok {
				break
			}
			names = append(names, n)
			if i < len(toks) && toks[i].norm == "," {
				i++
				continue
			}
			break
		}
		if len(names) > 0 {
			return ddlDrop, names
		}
	case first.is("alter"):
		skip("materialized")
		if !peekIs("table", "view") {
			return ddlOther, nil
		}
		i++
		if peekIs("if") {
			i += 2
		}
		n, ok := name()
		if !ok {
			return ddlOther, nil
		}
		// Adding columns or constraints leaves views over the relation
		// valid; dropping, renaming or retyping may not.
		for _, t := range toks[i:] {
			if t.is("drop") || t.is("rename") || t.is("type") {
				return ddlAlter, []string{n}
			}
		}
	}
	return ddlOther, nil
}

// clauseEnd lists keywords that end an ORDER BY clause at depth 0.
var orderByEnd = map[string]bool{"limit": true, "offset": true, "fetch": true, "for": true}

// orderByItem is one item of a top-level ORDER BY clause.
type orderByItem struct {
	expr []token // the sort expression
	mods string  // ASC/DESC/NULLS FIRST/LAST as written, normalised
}

// topLevelOrderBy finds the last ORDER BY clause at parenthesis depth 0 and
// splits it into items. ok is false if there is none.
func topLevelOrderBy(toks []token) (items []orderByItem, ok bool) {
	at := -1
	for i := 0; i+1 < len(toks); i++ {
		if toks[i].depth == 0 && toks[i].is("order") && toks[i+1].is("by") {
			at = i + 2
		}
	}
	if at < 0 {
		return nil, false
	}
	var cur []token
	flush := func() {
		if len(cur) == 0 {
			return
		}
		it := orderByItem{}
		// Peel trailing modifiers.
		end := len(cur)
		var mods []string
		for end > 0 {
			t := cur[end-1]
			switch {
			case t.is("asc") || t.is("desc"):
				mods = append([]string{strings.ToUpper(t.norm)}, mods...)
				end--
				continue
			case (t.is("first") || t.is("last")) && end >= 2 && cur[end-2].is("nulls"):
				mods = append([]string{"NULLS", strings.ToUpper(t.norm)}, mods...)
				end -= 2
				continue
			}
			break
		}
		it.expr = cur[:end]
		it.mods = strings.Join(mods, " ")
		items = append(items, it)
		cur = nil
	}
	for _, t := range toks[at:] {
		if t.depth == 0 && (t.norm == ";" || t.kind == tokIdent && orderByEnd[t.norm]) {
			break
		}
		if t.depth == 0 && t.norm == "," && t.kind == tokPunct {
			flush()
			continue
		}
		cur = append(cur, t)
	}
	flush()
	return items, len(items) > 0
}

// selectItem is one item of the first top-level select list.
type selectItem struct {
	expr  []token
	alias string // explicit alias, or the column name of a bare column reference
}

// topLevelSelectList returns the items of the first SELECT at depth 0.
func topLevelSelectList(toks []token) []selectItem {
	start := -1
	for i, t := range toks {
		if t.depth == 0 && t.is("select") {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil
	}
	if start < len(toks) && (toks[start].is("distinct") || toks[start].is("all")) {
		start++
		if start < len(toks) && toks[start].is("on") { // DISTINCT ON (...)
			start++
			if start < len(toks) && toks[start].norm == "(" {
				start++
				for start < len(toks) && toks[start].depth > 0 {
					start++
				}
				start++ // the closing parenthesis
			}
		}
	}
	if start > len(toks) {
		return nil
	}
	stop := map[string]bool{"from": true, "where": true, "group": true, "having": true,
		"order": true, "limit": true, "offset": true, "union": true, "intersect": true,
		"except": true, "window": true, "into": true, "fetch": true}
	var items []selectItem
	var cur []token
	flush := func() {
		if len(cur) == 0 {
			return
		}
		it := selectItem{expr: cur}
		n := len(cur)
		switch {
		case n >= 3 && cur[n-2].is("as") && (cur[n-1].kind == tokIdent || cur[n-1].kind == tokQIdent):
			it.expr, it.alias = cur[:n-2], cur[n-1].norm
		case n >= 2 && (cur[n-1].kind == tokIdent || cur[n-1].kind == tokQIdent) &&
			(cur[n-2].kind == tokIdent || cur[n-2].kind == tokQIdent || cur[n-2].norm == ")") &&
			!isExprKeyword(cur[n-1]) && !isExprKeyword(cur[n-2]):
			it.expr, it.alias = cur[:n-1], cur[n-1].norm
		case n == 1 && (cur[0].kind == tokIdent || cur[0].kind == tokQIdent):
			it.alias = cur[0].norm
		case n == 3 && cur[1].norm == "." && (cur[2].kind == tokIdent || cur[2].kind == tokQIdent):
			it.alias = cur[2].norm
		}
		items = append(items, it)
		cur = nil
	}
	for _, t := range toks[start:] {
		if t.depth == 0 && (t.norm == ";" || t.kind == tokIdent && stop[t.norm]) {
			break
		}
		if t.depth == 0 && t.norm == "," && t.kind == tokPunct {
			flush()
			continue
		}
		cur = append(cur, t)
	}
	flush()
	return items
}

// isExprKeyword reports keywords that end an expression rather than name an
// alias (so "CASE ... END" is not read as an alias "end").
func isExprKeyword(t token) bool {
	if t.kind != tokIdent {
		return false
	}
	switch t.norm {
	case "end", "null", "true", "false", "and", "or", "not", "is", "in", "between",
		"like", "ilike", "then", "else", "when", "case", "distinct", "all", "any", "some",
		"exists", "collate", "desc", "asc":
		return true
	}
	return false
}

// sameTokens reports whether two token runs are the same expression text,
// ignoring spacing and the case of unquoted words.
func sameTokens(a, b []token) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].kind != b[i].kind || a[i].norm != b[i].norm {
			return false
		}
	}
	return true
}

// positionalOrderBy translates the top-level ORDER BY of a query into an
// ORDER BY over output column positions ("ORDER BY 2 DESC, 1"), so that the
// rows of a materialized view over the query can be read back in the
// query's order. ok is false when an item cannot be matched to a column.
func positionalOrderBy(toks []token) (clause string, hasOrder, ok bool) {
	items, has := topLevelOrderBy(toks)
	if !has {
		return "", false, false
	}
	sel := topLevelSelectList(toks)
	parts := make([]string, 0, len(items))
	for _, it := range items {
		pos := ""
		switch {
		case len(it.expr) == 1 && it.expr[0].kind == tokNumber:
			pos = it.expr[0].norm
		default:
			for k, s := range sel {
				if sameTokens(it.expr, s.expr) {
					pos = strconv.Itoa(k + 1)
					break
				}
			}
			if pos == "" {
				name := ""
				switch {
				case len(it.expr) == 1 && (it.expr[0].kind == tokIdent || it.expr[0].kind == tokQIdent):
					name = it.expr[0].norm
				}
				if name != "" {
					for k, s := range sel {
						if s.alias == name {
							if pos != "" { // ambiguous
								return "", true, false
							}
							pos = strconv.Itoa(k + 1)
						}
					}
				}
			}
		}
		if pos == "" {
			return "", true, false
		}
		if it.mods != "" {
			pos += " " + it.mods
		}
		parts = append(parts, pos)
	}
	return "ORDER BY " + strings.Join(parts, ", "), true, true
}
