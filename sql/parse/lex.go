package parse

import (
	"strconv"
	"strings"
	"unicode/utf16"
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
		if st.Token == pg_query.Token_USCONST || st.Token == pg_query.Token_UIDENT {
			// pg_query reports U&'...' and U&"..." with no length; a
			// statement trimmed at its last token's end lost them
			// (SELECT 1, U&'ab' was a syntax error, U&'' no statement).
			e = unicodeQuotedEnd(text, s)
		}
		raw := text[s:e]
		t := token{start: s, end: e}
		switch st.Token {
		case pg_query.Token_SQL_COMMENT, pg_query.Token_C_COMMENT:
			continue
		case pg_query.Token_IDENT, pg_query.Token_UIDENT:
			t.kind = tokWord
			if st.Token == pg_query.Token_UIDENT {
				t.quoted = true
				t.val = decodeUnicodeEscapes(raw[3 : len(raw)-1])
			} else if strings.HasPrefix(raw, `"`) {
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

// unicodeQuotedEnd returns the end offset of the U&'...' or U&"..."
// starting at s: past the closing quote (a doubled quote is part of the
// text), or the end of text when unterminated.
func unicodeQuotedEnd(text string, s int) int {
	if s+3 > len(text) {
		return len(text)
	}
	q := text[s+2]
	for i := s + 3; i < len(text); i++ {
		if text[i] != q {
			continue
		}
		if i+1 < len(text) && text[i+1] == q {
			i++
			continue
		}
		return i + 1
	}
	return len(text)
}

// decodeUnicodeEscapes decodes the body of U&'...' or U&"..." with the
// default escape character: \XXXX and \+XXXXXX code points (a UTF-16
// surrogate pair combined), \\ a backslash, a doubled quote one quote. A
// malformed escape is left as written: such a token's value serves only
// viewd's own statements, and pg_query's parse reports the error.
func decodeUnicodeEscapes(body string) string {
	var b strings.Builder
	hex := func(s string) (rune, bool) {
		v, err := strconv.ParseUint(s, 16, 32)
		return rune(v), err == nil
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if (c == '\'' || c == '"') && i+1 < len(body) && body[i+1] == c {
			b.WriteByte(c)
			i++
			continue
		}
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		rest := body[i+1:]
		switch {
		case strings.HasPrefix(rest, `\`):
			b.WriteByte('\\')
			i++
		case len(rest) >= 7 && rest[0] == '+':
			r, ok := hex(rest[1:7])
			if !ok {
				b.WriteByte(c)
				continue
			}
			b.WriteRune(r)
			i += 7
		case len(rest) >= 4:
			r, ok := hex(rest[:4])
			if !ok {
				b.WriteByte(c)
				continue
			}
			i += 4
			if utf16.IsSurrogate(r) && len(rest) >= 9 && rest[4] == '\\' {
				if lo, ok := hex(rest[5:9]); ok {
					if pair := utf16.DecodeRune(r, lo); pair != utf8.RuneError {
						b.WriteRune(pair)
						i += 5
						continue
					}
				}
			}
			b.WriteRune(r)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unquoteString decodes a string constant's source text: '...' with ”
// escapes, E'...' with backslash escapes, U&'...' with Unicode escapes,
// and $tag$...$tag$.
func unquoteString(raw string) string {
	switch {
	case len(raw) >= 4 && (raw[0] == 'U' || raw[0] == 'u') && raw[1] == '&':
		return decodeUnicodeEscapes(raw[3 : len(raw)-1])
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
