package parse

import (
	"strings"
	"sync"

	pg_query "github.com/pganalyze/pg_query_go/v5"
)

// scanSimple tokenises text without PostgreSQL's scanner when text uses
// only the plain part of the lexical grammar: ASCII words and "quoted"
// identifiers, decimal numbers, '...' strings, whitespace and the
// punctuation ( ) , ; . + -. It returns false at anything else (comments,
// parameters, operators, escape, dollar-quoted, bit or Unicode strings,
// numbers in other bases or with underscores, non-ASCII text outside
// strings), and the caller uses pg_query's scanner; where it returns
// true its tokens are exactly the ones scan builds from pg_query's (a test
// compares them). Words are classified as keywords by asking pg_query
// once per distinct word.
//
// A 1,000-row INSERT ... VALUES list, which fastInsert then builds
// without pg_query at all, spends most of its parse time in the cgo call
// and protobuf decoding of pg_query's scanner otherwise.
func scanSimple(text string) ([]token, bool) {
	if strings.IndexByte(text, 0) >= 0 {
		return nil, false // the C scanner stops at NUL
	}
	toks := make([]token, 0, len(text)/4)
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case isIdentStart(c):
			j := i + 1
			for j < len(text) && isIdentCont(text[j]) {
				j++
			}
			if j < len(text) && (text[j] == '\'' || text[j] == '"' || text[j] == '$' || text[j] == '&' || text[j] >= 0x80) {
				return nil, false // E'..', U&'..', x$y, non-ASCII: pg_query's
			}
			word := strings.ToLower(text[i:j])
			kw, ok := keywordKind(word)
			if !ok {
				return nil, false
			}
			toks = append(toks, token{kind: tokWord, val: word, kw: kw, start: i, end: j})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(text) && text[i+1] >= '0' && text[i+1] <= '9':
			j, ok := scanNumber(text, i)
			if !ok {
				return nil, false
			}
			toks = append(toks, token{kind: tokNumber, val: text[i:j], start: i, end: j})
			i = j
		case c == '\'':
			if i > 0 && !isSpace(text[i-1]) && !strings.ContainsRune("(),;", rune(text[i-1])) {
				return nil, false // a prefixed or adjoining string constant
			}
			val, j, ok := scanQuoted(text, i)
			if !ok {
				return nil, false // unterminated: pg_query reports it
			}
			if continuesString(text, j) {
				return nil, false
			}
			toks = append(toks, token{kind: tokString, val: val, start: i, end: j})
			i = j
		case c == '"':
			val, j, ok := scanQuoted(text, i)
			if !ok || val == "" || j < len(text) && (text[j] == '"' || text[j] == '\'') {
				return nil, false
			}
			toks = append(toks, token{kind: tokWord, val: val, quoted: true, start: i, end: j})
			i = j
		case c == '.' && i+1 < len(text) && text[i+1] == '.':
			return nil, false // ".." is a token of its own
		case c == '(' || c == ')' || c == ',' || c == ';' || c == '.':
			toks = append(toks, token{kind: tokPunct, val: text[i : i+1], start: i, end: i + 1})
			i++
		case c == '+' || c == '-':
			// A lone sign; sequences of operator characters (and "--"
			// comments) follow rules of their own.
			if i+1 < len(text) && strings.IndexByte("+-*/<>=~!@#%^&|`?", text[i+1]) >= 0 {
				return nil, false
			}
			toks = append(toks, token{kind: tokPunct, val: text[i : i+1], start: i, end: i + 1})
			i++
		default:
			return nil, false
		}
	}
	return toks, true
}

// scanQuoted reads the text quoted by text[i] (' or "), where a doubled
// quote stands for one; it returns the value and the end of the quote.
func scanQuoted(text string, i int) (string, int, bool) {
	q := text[i]
	j := i + 1
	if k := strings.IndexByte(text[j:], q); k >= 0 && (j+k+1 >= len(text) || text[j+k+1] != q) {
		// No doubled quote: the value is a substring of text.
		return text[j : j+k], j + k + 1, true
	}
	var b strings.Builder
	for {
		k := strings.IndexByte(text[j:], q)
		if k < 0 {
			return "", 0, false
		}
		b.WriteString(text[j : j+k])
		j += k + 1
		if j < len(text) && text[j] == q {
			b.WriteByte(q)
			j++
			continue
		}
		return b.String(), j, true
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func isIdentCont(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// scanNumber returns the end of the decimal number at text[i:]: digits,
// an optional fraction and exponent. It fails where PostgreSQL's lexer
// would read something else or report junk (1_000, 0x1F, 1e, 12abc, 1..2).
func scanNumber(text string, i int) (int, bool) {
	digits := func(j int) int {
		for j < len(text) && text[j] >= '0' && text[j] <= '9' {
			j++
		}
		return j
	}
	j := digits(i)
	if j < len(text) && text[j] == '.' {
		j = digits(j + 1)
	}
	if j < len(text) && (text[j] == 'e' || text[j] == 'E') {
		k := j + 1
		if k < len(text) && (text[k] == '+' || text[k] == '-') {
			k++
		}
		if k >= len(text) || text[k] < '0' || text[k] > '9' {
			return 0, false
		}
		j = digits(k)
	}
	if j < len(text) && (isIdentCont(text[j]) || text[j] == '.' || text[j] == '$' || text[j] >= 0x80) {
		return 0, false
	}
	return j, true
}

// continuesString reports whether a string constant ending at j is
// continued by another after whitespace with a newline ('a'\n'b' is one
// constant).
func continuesString(text string, j int) bool {
	newline := false
	for ; j < len(text) && isSpace(text[j]); j++ {
		if text[j] == '\n' || text[j] == '\r' {
			newline = true
		}
	}
	return newline && j < len(text) && text[j] == '\''
}

// keywords caches, for each lower-case word seen, whether PostgreSQL's
// scanner reads it as a keyword. It stops growing at maxKeywordCache
// words; others are then left to pg_query.
var keywords struct {
	sync.RWMutex
	m map[string]bool
}

const maxKeywordCache = 1 << 14

// keywordKind reports whether word (lower case ASCII) is a keyword, asking
// pg_query's scanner the first time; ok is false when it cannot tell.
func keywordKind(word string) (kw, ok bool) {
	keywords.RLock()
	kw, ok = keywords.m[word]
	keywords.RUnlock()
	if ok {
		return kw, true
	}
	res, err := pg_query.Scan(word)
	if err != nil || len(res.Tokens) != 1 || int(res.Tokens[0].End) != len(word) {
		return false, false
	}
	st := res.Tokens[0]
	switch {
	case st.Token == pg_query.Token_IDENT:
		kw = false
	case st.KeywordKind != pg_query.KeywordKind_NO_KEYWORD:
		kw = true
	default:
		return false, false
	}
	keywords.Lock()
	if keywords.m == nil {
		keywords.m = map[string]bool{}
	}
	if len(keywords.m) < maxKeywordCache {
		keywords.m[word] = kw
	}
	keywords.Unlock()
	return kw, true
}
