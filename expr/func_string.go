package expr

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"regexp"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/viewd/viewd/pgcode"
	"github.com/viewd/viewd/repr"
)

// String functions operate on text; varchar and char arguments reach them
// through implicit casts (char's trailing spaces are removed on the way, as
// in PostgreSQL). Lengths and positions count characters (UTF-8 code
// points); comparison and case mapping are those of the C collation with
// Unicode case tables.

func textFn(f func(s string) string) evalFn {
	return func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.TextDatum(f(a[0].Str())), nil
	}
}

func intOf(k repr.Kind, v int64) repr.Datum { return repr.IntDatum(k, v) }

// runeOffset returns the byte offset of the n-th character (0-based) of s,
// or len(s) when s is shorter.
func runeOffset(s string, n int64) int {
	if n <= 0 {
		return 0
	}
	i := 0
	for n > 0 && i < len(s) {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		n--
	}
	return i
}

// substring implements substr(s, start[, count]) with 1-based start;
// positions before 1 consume count, as in PostgreSQL.
func substring(s string, start int64, count int64, hasCount bool) (string, error) {
	if hasCount && count < 0 {
		return "", errorf("22011", "negative substring length not allowed")
	}
	end := int64(1) << 62
	if hasCount {
		end = start + count
		if count > 0 && end < start { // overflow
			end = int64(1) << 62
		}
	}
	if start < 1 {
		start = 1
	}
	if end <= start {
		return "", nil
	}
	b := runeOffset(s, start-1)
	e := b + runeOffset(s[b:], end-start)
	return s[b:e], nil
}

func initcap(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	inWord := false
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			if inWord {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToUpper(r))
			}
			inWord = true
		} else {
			b.WriteRune(r)
			inWord = false
		}
	}
	return b.String()
}

func reverseString(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

// pad implements lpad/rpad.
func pad(s string, n int64, fill string, left bool) string {
	if n <= 0 {
		return ""
	}
	count := int64(utf8.RuneCountInString(s))
	if count >= n || fill == "" {
		return s[:runeOffset(s, n)]
	}
	need := n - count
	fr := []rune(fill)
	var b strings.Builder
	if !left {
		b.WriteString(s)
	}
	for i := int64(0); i < need; i++ {
		b.WriteRune(fr[i%int64(len(fr))])
	}
	if left {
		b.WriteString(s)
	}
	return b.String()
}

// maxTextBytes is PostgreSQL's largest field (MaxAllocSize, 1 GB).
const maxTextBytes = 1<<30 - 1

// checkPadLength rejects lpad/rpad results over 1 GB, as PostgreSQL does
// (it reserves the maximum bytes per character of the fill).
func checkPadLength(n int64, fill string) error {
	width := int64(1)
	for _, r := range fill {
		width = max(width, int64(utf8.RuneLen(r)))
	}
	if n*width > maxTextBytes {
		return errorf(pgcode.ProgramLimitExceeded, "requested length too large")
	}
	return nil
}

// trimChars trims characters in set from the chosen ends of s.
func trimChars(s, set string, leading, trailing bool) string {
	in := func(r rune) bool { return strings.ContainsRune(set, r) }
	if leading {
		s = strings.TrimLeftFunc(s, in)
	}
	if trailing {
		s = strings.TrimRightFunc(s, in)
	}
	return s
}

func init() {
	defFunc("length", ts(tText), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intOf(repr.KindInt4, int64(utf8.RuneCountInString(a[0].Str()))), nil
	})
	defFunc("length", ts(tBytea), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intOf(repr.KindInt4, int64(len(a[0].Str()))), nil
	})
	for _, name := range []string{"char_length", "character_length"} {
		defFunc(name, ts(tText), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return intOf(repr.KindInt4, int64(utf8.RuneCountInString(a[0].Str()))), nil
		})
	}
	defFunc("octet_length", ts(tText), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intOf(repr.KindInt4, int64(len(a[0].Str()))), nil
	})
	defFunc("octet_length", ts(tChar), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intOf(repr.KindInt4, int64(len(a[0].Str()))), nil // padding included
	})
	defFunc("octet_length", ts(tBytea), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intOf(repr.KindInt4, int64(len(a[0].Str()))), nil
	})
	defFunc("bit_length", ts(tText), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return intOf(repr.KindInt4, 8*int64(len(a[0].Str()))), nil
	})
	defFunc("lower", ts(tText), tText, textFn(strings.ToLower))
	defFunc("upper", ts(tText), tText, textFn(strings.ToUpper))
	defFunc("initcap", ts(tText), tText, textFn(initcap))
	defFunc("reverse", ts(tText), tText, textFn(reverseString))
	defFunc("md5", ts(tText), tText, textFn(func(s string) string {
		h := md5.Sum([]byte(s))
		return hex.EncodeToString(h[:])
	}))
	defFunc("md5", ts(tBytea), tText, textFn(func(s string) string {
		h := md5.Sum([]byte(s))
		return hex.EncodeToString(h[:])
	}))
	// sha224, sha256, sha384, sha512 (bytea) -> bytea.
	for name, sum := range map[string]func([]byte) []byte{
		"sha224": func(b []byte) []byte { h := sha256.Sum224(b); return h[:] },
		"sha256": func(b []byte) []byte { h := sha256.Sum256(b); return h[:] },
		"sha384": func(b []byte) []byte { h := sha512.Sum384(b); return h[:] },
		"sha512": func(b []byte) []byte { h := sha512.Sum512(b); return h[:] },
	} {
		defFunc(name, ts(tBytea), tBytea, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.StringDatum(repr.KindBytea, string(sum([]byte(a[0].Str())))), nil
		})
	}
	for _, name := range []string{"substr", "substring"} {
		defFunc(name, ts(tText, tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			s, err := substring(a[0].Str(), a[1].Int(), 0, false)
			return repr.TextDatum(s), err
		})
		defFunc(name, ts(tText, tInt4, tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			s, err := substring(a[0].Str(), a[1].Int(), a[2].Int(), true)
			if err != nil {
				return repr.Null, err
			}
			return repr.TextDatum(s), nil
		})
	}
	// substring(s FROM pattern): the first match of a POSIX regex, or its
	// first capture group when it has one; NULL when there is no match.
	f := defFunc("substring", ts(tText, tText), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		re, err := compileRegex(a[1].Str(), "")
		if err != nil {
			return repr.Null, err
		}
		m := re.FindStringSubmatchIndex(a[0].Str())
		switch {
		case m == nil:
			return repr.Null, nil
		case len(m) > 2:
			if m[2] < 0 {
				return repr.Null, nil
			}
			return repr.TextDatum(a[0].Str()[m[2]:m[3]]), nil
		}
		return repr.TextDatum(a[0].Str()[m[0]:m[1]]), nil
	})
	f.Nullable = true
	// overlay(s PLACING r FROM start [FOR count]).
	overlay := func(s, r string, start, count int64) (repr.Datum, error) {
		if start < 1 {
			return repr.Null, errorf("22011", "negative substring length not allowed")
		}
		head, err := substring(s, 1, start-1, true)
		if err != nil {
			return repr.Null, err
		}
		tail, _ := substring(s, start+count, 0, false)
		return repr.TextDatum(head + r + tail), nil
	}
	defFunc("overlay", ts(tText, tText, tInt4, tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if a[3].Int() < 0 {
			return repr.Null, errorf("22011", "negative substring length not allowed")
		}
		return overlay(a[0].Str(), a[1].Str(), a[2].Int(), a[3].Int())
	})
	defFunc("overlay", ts(tText, tText, tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return overlay(a[0].Str(), a[1].Str(), a[2].Int(), int64(utf8.RuneCountInString(a[1].Str())))
	})
	strpos := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		s, sub := a[0].Str(), a[1].Str()
		i := strings.Index(s, sub)
		if i < 0 {
			return intOf(repr.KindInt4, 0), nil
		}
		return intOf(repr.KindInt4, int64(utf8.RuneCountInString(s[:i]))+1), nil
	}
	defFunc("strpos", ts(tText, tText), tInt4, strpos)
	// position(sub IN s) is position(s, sub) in the catalog, as in
	// PostgreSQL (the parser swaps the arguments).
	defFunc("position", ts(tText, tText), tInt4, strpos)
	defFunc("replace", ts(tText, tText, tText), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		if a[1].Str() == "" {
			return a[0].WithKind(repr.KindText), nil
		}
		return repr.TextDatum(strings.ReplaceAll(a[0].Str(), a[1].Str(), a[2].Str())), nil
	})
	for _, tr := range []struct {
		name      string
		lead, tra bool
	}{{"btrim", true, true}, {"trim", true, true}, {"ltrim", true, false}, {"rtrim", false, true}} {
		tr := tr
		defFunc(tr.name, ts(tText), tText, textFn(func(s string) string { return trimChars(s, " ", tr.lead, tr.tra) }))
		defFunc(tr.name, ts(tText, tText), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			return repr.TextDatum(trimChars(a[0].Str(), a[1].Str(), tr.lead, tr.tra)), nil
		})
	}
	for _, left := range []bool{true, false} {
		name := "rpad"
		if left {
			name = "lpad"
		}
		l := left
		defFunc(name, ts(tText, tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			if err := checkPadLength(a[1].Int(), " "); err != nil {
				return repr.Null, err
			}
			return repr.TextDatum(pad(a[0].Str(), a[1].Int(), " ", l)), nil
		})
		defFunc(name, ts(tText, tInt4, tText), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			if err := checkPadLength(a[1].Int(), a[2].Str()); err != nil {
				return repr.Null, err
			}
			return repr.TextDatum(pad(a[0].Str(), a[1].Int(), a[2].Str(), l)), nil
		})
	}
	defFunc("left", ts(tText, tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		s, n := a[0].Str(), a[1].Int()
		if n < 0 {
			n = int64(utf8.RuneCountInString(s)) + n
		}
		return repr.TextDatum(s[:runeOffset(s, n)]), nil
	})
	defFunc("right", ts(tText, tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		s, n := a[0].Str(), a[1].Int()
		count := int64(utf8.RuneCountInString(s))
		skip := count - n
		if n < 0 {
			skip = -n
		}
		if skip < 0 {
			skip = 0
		}
		return repr.TextDatum(s[runeOffset(s, skip):]), nil
	})
	defFunc("repeat", ts(tText, tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		n := a[1].Int()
		if n <= 0 {
			return repr.TextDatum(""), nil
		}
		if int64(len(a[0].Str()))*n > maxTextBytes {
			return repr.Null, errorf(pgcode.ProgramLimitExceeded, "requested length too large")
		}
		return repr.TextDatum(strings.Repeat(a[0].Str(), int(n))), nil
	})
	defFunc("split_part", ts(tText, tText, tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		s, sep, n := a[0].Str(), a[1].Str(), a[2].Int()
		if n == 0 {
			return repr.Null, errorf(pgcode.InvalidParameterValue, "field position must not be zero")
		}
		var parts []string
		if sep == "" {
			parts = []string{s}
		} else {
			parts = strings.Split(s, sep)
		}
		if n < 0 {
			n = int64(len(parts)) + n + 1
		}
		if n < 1 || n > int64(len(parts)) {
			return repr.TextDatum(""), nil
		}
		return repr.TextDatum(parts[n-1]), nil
	})
	defFunc("starts_with", ts(tText, tText), tBool, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.BoolDatum(strings.HasPrefix(a[0].Str(), a[1].Str())), nil
	})
	defFunc("ascii", ts(tText), tInt4, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		s := a[0].Str()
		if s == "" {
			return intOf(repr.KindInt4, 0), nil
		}
		r, _ := utf8.DecodeRuneInString(s)
		return intOf(repr.KindInt4, int64(r)), nil
	})
	defFunc("chr", ts(tInt4), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		v := a[0].Int()
		switch {
		case v == 0:
			return repr.Null, errorf(pgcode.ProgramLimitExceeded, "null character not permitted")
		case v < 0:
			return repr.Null, errorf(pgcode.ProgramLimitExceeded, "character number must be positive")
		case v > unicode.MaxRune || (v >= 0xD800 && v <= 0xDFFF):
			return repr.Null, errorf(pgcode.ProgramLimitExceeded, "requested character too large for encoding: %d", v)
		}
		return repr.TextDatum(string(rune(v))), nil
	})
	defFunc("translate", ts(tText, tText, tText), tText, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		from, to := []rune(a[1].Str()), []rune(a[2].Str())
		var b strings.Builder
		for _, r := range a[0].Str() {
			i := indexRune(from, r)
			switch {
			case i < 0:
				b.WriteRune(r)
			case i < len(to):
				b.WriteRune(to[i])
			}
		}
		return repr.TextDatum(b.String()), nil
	})
	// concat and concat_ws take "any" arguments and print each through its
	// output function, skipping NULLs.
	concatMake := func(withSep bool) func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
		name := "concat"
		if withSep {
			name = "concat_ws"
		}
		return func(_ []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			return &Func{Name: name, Ret: ret, NullableFn: func(args []repr.ColumnType) bool {
				return withSep && len(args) > 0 && args[0].Nullable
			}, Eval: func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				var buf []byte
				sep := ""
				if withSep {
					if len(a) == 0 || a[0].IsNull() {
						return repr.Null, nil
					}
					sep, a = a[0].Str(), a[1:]
				}
				first := true
				for _, d := range a {
					if d.IsNull() {
						continue
					}
					if !first {
						buf = append(buf, sep...)
					}
					first = false
					buf = repr.AppendText(buf, d)
				}
				return repr.TextDatum(string(buf)), nil
			}}, nil
		}
	}
	defPoly(funcCatalog, "concat", []ParamType{Any}, Exact(tText), true, concatMake(false))
	defPoly(funcCatalog, "concat_ws", []ParamType{Exact(tText), Any}, Exact(tText), true, concatMake(true))

	// || on text, and text || anynonarray via the output function.
	concat2 := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.TextDatum(a[0].Str() + a[1].Str()), nil
	}
	defBinOp("||", tText, tText, tText, concat2)
	// text || anynonarray and anynonarray || text: the other side through
	// its output function.
	// text || anynonarray and anynonarray || text: the other side goes
	// through its cast to text (textanycat is $1::text || $2), so a
	// boolean shows as "true".
	anyCat := func(textLeft bool) func(argTypes []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
		return func(argTypes []repr.ScalarType, ret repr.ScalarType) (*Func, error) {
			other := 1
			if !textLeft {
				other = 0
			}
			c, ok := LookupCast(argTypes[other], tText)
			if !ok {
				return nil, errorf(pgcode.UndefinedFunction, "operator does not exist: cannot convert %s to text", argTypes[other])
			}
			toText := c.FuncFor(Explicit)
			return &Func{Name: "||", Infix: true, Ret: ret, Strict: true, Eval: func(ctx *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				t, err := toText.Eval(ctx, a[other:other+1])
				if err != nil {
					return repr.Null, err
				}
				if textLeft {
					return repr.TextDatum(a[0].Str() + t.Str()), nil
				}
				return repr.TextDatum(t.Str() + a[1].Str()), nil
			}}, nil
		}
	}
	defPoly(binopCatalog, "||", []ParamType{Exact(tText), Any}, Exact(tText), false, anyCat(true))
	defPoly(binopCatalog, "||", []ParamType{Any, Exact(tText)}, Exact(tText), false, anyCat(false))
	defBinOp("||", tBytea, tBytea, tBytea, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		return repr.ByteaDatum([]byte(a[0].Str() + a[1].Str())), nil
	})

	// LIKE and ILIKE (~~, ~~*, !~~, !~~*), with backslash as the escape.
	for _, op := range []struct {
		name     string
		fold     bool
		negate   bool
		funcName string
	}{{"~~", false, false, "like"}, {"!~~", false, true, ""}, {"~~*", true, false, "ilike"}, {"!~~*", true, true, ""}} {
		op := op
		eval := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			m, err := likeMatch(a[0].Str(), a[1].Str(), '\\', op.fold)
			if err != nil {
				return repr.Null, err
			}
			return repr.BoolDatum(m != op.negate), nil
		}
		defBinOp(op.name, tText, tText, tBool, eval)
		defBinOp(op.name, tBytea, tBytea, tBool, eval)
		if op.funcName != "" {
			defFunc(op.funcName, ts(tText, tText), tBool, eval)
			// like_escape form: like(s, pattern, escape)
			defFunc(op.funcName, ts(tText, tText, tText), tBool, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
				esc := rune(-1)
				if e := a[2].Str(); e != "" {
					r, size := utf8.DecodeRuneInString(e)
					if size != len(e) {
						return repr.Null, errorf(pgcode.InvalidEscapeSequence, "invalid escape string").WithHint("Escape string must be empty or one character.")
					}
					esc = r
				}
				m, err := likeMatch(a[0].Str(), a[1].Str(), esc, op.fold)
				if err != nil {
					return repr.Null, err
				}
				return repr.BoolDatum(m), nil
			})
		}
	}

	// POSIX regular expressions: ~, ~*, !~, !~*.
	for _, op := range []struct {
		name   string
		flags  string
		negate bool
	}{{"~", "", false}, {"~*", "i", false}, {"!~", "", true}, {"!~*", "i", true}} {
		op := op
		defBinOp(op.name, tText, tText, tBool, func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
			re, err := compileRegex(a[1].Str(), op.flags)
			if err != nil {
				return repr.Null, err
			}
			return repr.BoolDatum(re.MatchString(a[0].Str()) != op.negate), nil
		})
	}
	regexpReplace := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		flags := ""
		if len(a) > 3 {
			flags = a[3].Str()
		}
		global := strings.Contains(flags, "g")
		re, err := compileRegex(a[1].Str(), strings.ReplaceAll(flags, "g", ""))
		if err != nil {
			return repr.Null, err
		}
		return repr.TextDatum(regexReplace(re, a[0].Str(), a[2].Str(), global)), nil
	}
	defFunc("regexp_replace", ts(tText, tText, tText), tText, regexpReplace)
	defFunc("regexp_replace", ts(tText, tText, tText, tText), tText, regexpReplace)
	regexpMatch := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		flags := ""
		if len(a) > 2 {
			flags = a[2].Str()
			if strings.Contains(flags, "g") {
				return repr.Null, errorf(pgcode.InvalidParameterValue, "regexp_match() does not support the \"global\" option").
					WithHint("Use the regexp_matches function instead.")
			}
		}
		re, err := compileRegex(a[1].Str(), flags)
		if err != nil {
			return repr.Null, err
		}
		m := re.FindStringSubmatchIndex(a[0].Str())
		if m == nil {
			return repr.Null, nil
		}
		return repr.ArrayDatum(matchGroups(a[0].Str(), m)), nil
	}
	f = defFunc("regexp_match", ts(tText, tText), tTextArray, regexpMatch)
	f.Nullable = true
	f = defFunc("regexp_match", ts(tText, tText, tText), tTextArray, regexpMatch)
	f.Nullable = true
	regexpLike := func(_ *EvalCtx, a []repr.Datum) (repr.Datum, error) {
		flags := ""
		if len(a) > 2 {
			flags = a[2].Str()
		}
		re, err := compileRegex(a[1].Str(), flags)
		if err != nil {
			return repr.Null, err
		}
		return repr.BoolDatum(re.MatchString(a[0].Str())), nil
	}
	defFunc("regexp_like", ts(tText, tText), tBool, regexpLike)
	defFunc("regexp_like", ts(tText, tText, tText), tBool, regexpLike)
	defFunc("quote_literal", ts(tText), tText, textFn(func(s string) string {
		if strings.Contains(s, `\`) {
			return "E" + repr.QuoteString(strings.ReplaceAll(s, `\`, `\\`))
		}
		return repr.QuoteString(s)
	}))
	defFunc("quote_ident", ts(tText), tText, textFn(quoteIdent))
}

func indexRune(rs []rune, r rune) int {
	for i, x := range rs {
		if x == r {
			return i
		}
	}
	return -1
}

// quoteKeywords are the keywords quote_ident quotes: PostgreSQL's
// reserved, type/function-name and column-name keywords.
var quoteKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`all analyse analyze and any array as asc asymmetric both case cast check
		collate column constraint create current_catalog current_date current_role current_time
		current_timestamp current_user default deferrable desc distinct do else end except false fetch for
		foreign from grant group having in initially intersect into lateral leading limit localtime
		localtimestamp not null offset on only or order placing primary references returning select
		session_user some symmetric table then to trailing true union unique user using variadic when where
		window with authorization binary collation concurrently cross current_schema freeze full ilike inner
		is isnull join left like natural notnull outer overlaps right similar tablesample verbose between
		bigint bit boolean char character coalesce dec decimal exists extract float greatest grouping inout
		int integer interval least national nchar none normalize nullif numeric out overlay position
		precision real row setof smallint substring time timestamp treat trim values varchar xmlattributes
		xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot xmlserialize xmltable`) {
		m[w] = true
	}
	return m
}()

func quoteIdent(s string) string {
	safe := s != "" && !quoteKeywords[s]
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && (r >= '0' && r <= '9' || r == '$')) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// matchGroups returns the capture groups of a match (or the whole match
// when the pattern has none) as text datums, NULL for groups that did not
// participate.
func matchGroups(s string, m []int) []repr.Datum {
	if len(m) == 2 {
		return []repr.Datum{repr.TextDatum(s[m[0]:m[1]])}
	}
	out := make([]repr.Datum, 0, len(m)/2-1)
	for i := 2; i < len(m); i += 2 {
		if m[i] < 0 {
			out = append(out, repr.Null)
			continue
		}
		out = append(out, repr.TextDatum(s[m[i]:m[i+1]]))
	}
	return out
}

// MatchGroups is matchGroups for the table functions (regexp_matches).
func MatchGroups(s string, m []int) []repr.Datum { return matchGroups(s, m) }

// likeMatch matches s against a LIKE pattern: % any sequence, _ any one
// character, esc escapes the next character (esc < 0: no escape).
func likeMatch(s, pattern string, esc rune, fold bool) (bool, error) {
	if fold {
		s, pattern = strings.ToLower(s), strings.ToLower(pattern)
	}
	p := []rune(pattern)
	// Validate the escape at the end.
	for i := 0; i < len(p); i++ {
		if esc >= 0 && p[i] == esc {
			if i == len(p)-1 {
				return false, errorf(pgcode.InvalidEscapeSequence, "LIKE pattern must not end with escape character")
			}
			i++
		}
	}
	return likeRec([]rune(s), p, esc), nil
}

func likeRec(s, p []rune, esc rune) bool {
	for len(p) > 0 {
		c := p[0]
		switch {
		case esc >= 0 && c == esc:
			if len(s) == 0 || s[0] != p[1] {
				return false
			}
			s, p = s[1:], p[2:]
		case c == '%':
			for len(p) > 0 && p[0] == '%' {
				p = p[1:]
			}
			if len(p) == 0 {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if likeRec(s[i:], p, esc) {
					return true
				}
			}
			return false
		case c == '_':
			if len(s) == 0 {
				return false
			}
			s, p = s[1:], p[1:]
		default:
			if len(s) == 0 || s[0] != c {
				return false
			}
			s, p = s[1:], p[1:]
		}
	}
	return len(s) == 0
}

type regexKey struct{ pattern, flags string }

var (
	regexMu    sync.Mutex
	regexCache = map[regexKey]*regexp.Regexp{}
)

const regexCacheMax = 1024

// compileRegex compiles a PostgreSQL (ARE) regular expression with flags
// (i: case-insensitive, c: case-sensitive, n/m: newline-sensitive, s:
// non-newline-sensitive, x: expanded) using Go's RE2 engine, caching
// compiled patterns. Back-references and lookaround, which RE2 lacks, are
// 2201B errors. By default '.' matches newlines, as in PostgreSQL.
func compileRegex(pattern, flags string) (*regexp.Regexp, error) {
	key := regexKey{pattern, flags}
	regexMu.Lock()
	re, ok := regexCache[key]
	regexMu.Unlock()
	if ok {
		return re, nil
	}
	ci, newline, expanded := false, false, false
	for _, f := range flags {
		switch f {
		case 'i':
			ci = true
		case 'c':
			ci = false
		case 'n', 'm':
			newline = true
		case 's', 'p', 'w':
			newline = false
		case 'x':
			expanded = true
		case 'g':
		default:
			return nil, errorf(pgcode.InvalidParameterValue, "invalid regular expression option: %q", string(f))
		}
	}
	src := pattern
	if expanded {
		src = stripExpanded(src)
	}
	prefix := ""
	if ci {
		prefix += "i"
	}
	if newline {
		prefix += "m"
	} else {
		prefix += "s"
	}
	re, err := regexp.Compile("(?" + prefix + ")" + src)
	if err != nil {
		msg := err.Error()
		var pe *syntax.Error
		if errors.As(err, &pe) {
			msg = pgRegexMessage(pe.Code)
		}
		return nil, errorf(pgcode.InvalidRegularExpression, "invalid regular expression: %s", msg)
	}
	regexMu.Lock()
	if len(regexCache) >= regexCacheMax {
		clear(regexCache)
	}
	regexCache[key] = re
	regexMu.Unlock()
	return re, nil
}

// pgRegexMessage maps RE2's syntax errors to the wording of PostgreSQL's
// regex library where one corresponds.
func pgRegexMessage(code syntax.ErrorCode) string {
	switch code {
	case syntax.ErrMissingBracket:
		return "brackets [] not balanced"
	case syntax.ErrMissingParen, syntax.ErrUnexpectedParen:
		return "parentheses () not balanced"
	case syntax.ErrMissingRepeatArgument, syntax.ErrInvalidRepeatOp:
		return "quantifier operand invalid"
	case syntax.ErrInvalidRepeatSize:
		return "invalid repetition count(s)"
	case syntax.ErrInvalidEscape, syntax.ErrTrailingBackslash:
		return `invalid escape \ sequence`
	case syntax.ErrInvalidCharRange:
		return "invalid character range"
	}
	return string(code)
}

// CompileRegex is compileRegex for other packages' table functions.
func CompileRegex(pattern, flags string) (*regexp.Regexp, error) { return compileRegex(pattern, flags) }

// stripExpanded removes whitespace and #-comments outside brackets.
func stripExpanded(p string) string {
	var b strings.Builder
	inClass, escaped := false, false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '[':
			inClass = true
		case c == ']':
			inClass = false
		case !inClass && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
			continue
		case !inClass && c == '#':
			for i < len(p) && p[i] != '\n' {
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// addAbuttingEmptyMatches adds the empty matches that Go's FindAll skips
// right after a non-empty match but PostgreSQL's regexp_replace(..., 'g')
// replaces (regexp_replace('aaa', 'a*', 'X', 'g') is 'XX'). Whether the
// pattern matches empty there is tested on the rest of the string, so
// anchors and word boundaries see no left context.
func addAbuttingEmptyMatches(re *regexp.Regexp, s string, matches [][]int) [][]int {
	var out [][]int
	for i, m := range matches {
		out = append(out, m)
		end := m[1]
		if m[1] == m[0] || (i+1 < len(matches) && matches[i+1][0] == end) {
			continue
		}
		e := re.FindStringSubmatchIndex(s[end:])
		if e != nil && e[0] == 0 && e[1] == 0 {
			for j := range e {
				if e[j] >= 0 {
					e[j] += end
				}
			}
			out = append(out, e)
		}
	}
	return out
}

// regexReplace replaces the first (or every, when global) match of re in s
// by repl, where \1..\9 stand for captures and \& for the whole match.
func regexReplace(re *regexp.Regexp, s, repl string, global bool) string {
	n := 1
	if global {
		n = -1
	}
	matches := re.FindAllStringSubmatchIndex(s, n)
	if global {
		matches = addAbuttingEmptyMatches(re, s, matches)
	}
	if len(matches) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m[0]])
		for i := 0; i < len(repl); i++ {
			c := repl[i]
			if c == '\\' && i+1 < len(repl) {
				n := repl[i+1]
				switch {
				case n >= '1' && n <= '9':
					g := int(n - '0')
					if 2*g+1 < len(m) && m[2*g] >= 0 {
						b.WriteString(s[m[2*g]:m[2*g+1]])
					}
					i++
					continue
				case n == '&':
					b.WriteString(s[m[0]:m[1]])
					i++
					continue
				case n == '\\':
					b.WriteByte('\\')
					i++
					continue
				}
			}
			b.WriteByte(c)
		}
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}
