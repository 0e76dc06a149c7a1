package parse

import (
	"strings"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v5"
	pgparser "github.com/pganalyze/pg_query_go/v5/parser"

	"github.com/viewd/viewd/pgcode"
)

// tokKind classifies a scanner token for the extension parser.
type tokKind uint8

const (
	tokEOF    tokKind = iota
	tokWord           // identifier or keyword; val is the case-folded name
	tokString         // string constant; val is its value
	tokNumber         // integer or decimal constant; val is its text
	tokParam          // $n
	tokPunct          // ( ) , . ; = and operators; val is the text
)

type token struct {
	kind   tokKind
	val    string
	quoted bool // a quoted identifier: never a keyword
	kw     bool // a keyword of PostgreSQL's grammar (reserved or not)
	start  int  // byte offsets into the statement text
	end    int
}

// is reports whether t is the unquoted word w (lower case).
func (t token) is(w string) bool { return t.kind == tokWord && !t.quoted && t.val == w }

// punct reports whether t is the punctuation p.
func (t token) punct(p string) bool { return t.kind == tokPunct && t.val == p }

// scan returns the tokens of text without comments.
func scan(text string) ([]token, error) {
	if toks, ok := scanSimple(text); ok {
		return toks, nil
	}
	return scanPG(text)
}

// scanPG is scan through PostgreSQL's scanner.
func scanPG(text string) ([]token, error) {
	res, err := pg_query.Scan(text)
	if err != nil {
		return nil, convertError(err, text, 0)
	}
	toks := make([]token, 0, len(res.Tokens))
	for _, st := range res.Tokens {
		s, e := int(st.Start), int(st.End)
		raw := text[s:e]
		t := token{start: s, end: e}
		switch st.Token {
		case pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT:
			continue
		case pg_query.Token_IDENT, pg_query.Token_UIDENT:
			t.kind = tokWord
			if strings.HasPrefix(raw, `"`) {
				t.quoted = true
				t.val = strings.ReplaceAll(raw[1:len(raw)-1], `""`, `"`)
			} else {
				t.val = strings.ToLower(raw)
			}
		case pg_query.Token_SCONST, pg_query.Token_USCONST:
			t.kind = tokString
			t.val = unquoteString(raw)
		case pg_query.Token_ICONST, pg_query.Token_FCONST:
			t.kind = tokNumber
			t.val = raw
		case pg_query.Token_PARAM:
			t.kind = tokParam
			t.val = raw
		default:
			if st.KeywordKind != pg_query.KeywordKind_NO_KEYWORD {
				t.kind = tokWord
				t.kw = true
				t.val = strings.ToLower(raw)
			} else {
				t.kind = tokPunct
				t.val = raw
			}
		}
		toks = append(toks, t)
	}
	return toks, nil
}

// unquoteString decodes a string constant's source text: '...' with ”
// escapes, E'...' with backslash escapes, and $tag$...$tag$.
func unquoteString(raw string) string {
	switch {
	case strings.HasPrefix(raw, "$"):
		i := strings.Index(raw[1:], "$") + 2
		return raw[i : len(raw)-i]
	case len(raw) > 0 && (raw[0] == 'E' || raw[0] == 'e'):
		body := raw[2 : len(raw)-1]
		var b strings.Builder
		for i := 0; i < len(body); i++ {
			c := body[i]
			if c == '\\' && i+1 < len(body) {
				i++
				switch body[i] {
				case 'n':
					b.WriteByte('\n')
				case 't':
					b.WriteByte('\t')
				case 'r':
					b.WriteByte('\r')
				case 'b':
					b.WriteByte('\b')
				case 'f':
					b.WriteByte('\f')
				default:
					b.WriteByte(body[i])
				}
				continue
			}
			if c == '\'' && i+1 < len(body) && body[i+1] == '\'' {
				i++
			}
			b.WriteByte(c)
		}
		return b.String()
	case strings.HasPrefix(raw, "'"):
		return strings.ReplaceAll(raw[1:len(raw)-1], "''", "'")
	}
	return raw
}

// charPos converts a byte offset in text to a 1-based character position.
func charPos(text string, off int) int {
	if off > len(text) {
		off = len(text)
	}
	return utf8.RuneCountInString(text[:off]) + 1
}

// convertError turns a pg_query error into a 42601 *pgcode.Error; its
// position is pg_query's (1-based characters) plus baseChars. A tree too
// deep for the protobuf decoder is 54001 instead.
func convertError(err error, _ string, baseChars int) error {
	if isRecursionLimit(err) {
		return ErrTooComplex()
	}
	if pe, ok := err.(*pgparser.Error); ok {
		e := pgcode.New(pgcode.SyntaxError, "%s", pe.Message)
		if pe.Cursorpos > 0 {
			e.Position = baseChars + pe.Cursorpos
		}
		return e
	}
	return pgcode.Wrap(err, pgcode.SyntaxError, err.Error())
}

// syntaxErrorAt is PostgreSQL's "syntax error at or near" for a token.
func syntaxErrorAt(text string, t token) *pgcode.Error {
	if t.kind == tokEOF {
		return pgcode.New(pgcode.SyntaxError, "syntax error at end of input").WithPosition(charPos(text, len(text)))
	}
	return pgcode.New(pgcode.SyntaxError, "syntax error at or near \"%s\"", text[t.start:t.end]).WithPosition(charPos(text, t.start))
}
